"""A short tour of the engine, printed to the terminal: ``python -m engine.demo``."""

import engine as jax
import engine.numpy as jnp


def loss(w, x, y):
    pred = jnp.tanh(x @ w)
    return jnp.mean((pred - y) ** 2)


def main():
    key_x = jnp.linspace(-1.0, 1.0, 12).reshape(4, 3)
    w = jnp.ones((3, 2)) * 0.1
    y = jnp.zeros((4, 2))
    print("== the function, traced to a jaxpr")
    print(jax.make_jaxpr(loss)(w, key_x, y))
    print("\n== its gradient, as a jaxpr (JVP, partial evaluation, transpose)")
    print(jax.make_jaxpr(jax.grad(loss))(w, key_x, y))
    step = jax.jit(jax.value_and_grad(loss))
    lowered = step.lower(w, key_x, y)
    print("\n== StableHLO")
    print(lowered.as_text())
    compiled = lowered.compile()
    print("== XLA's optimized HLO")
    print(compiled.as_text())
    print(
        "== cost estimate:",
        {
            k: v
            for k, v in compiled.cost_analysis().items()
            if k in ("flops", "transcendentals", "bytes accessed")
        },
    )
    value, grad = step(w, key_x, y)
    print("\n== run on", jax.devices()[0], ": loss =", value, "\ngrad =\n", grad)


if __name__ == "__main__":
    main()
