"""JAX's "Autobatching for Bayesian inference" tutorial (docs/notebooks/vmapped_log_probs)
run through the engine and through real JAX, comparing every output.

The tutorial builds a logistic-regression log-joint with ``jax.scipy.stats.norm``,
batches it by hand and by ``vmap``, then fits a mean-field Gaussian posterior by SGD on
a reparameterized ELBO whose noise comes from ``random.split``/``random.normal`` on a
typed key. Both runs start from the same NumPy data, so the random draws (threefry,
bit-exact) and hence the whole optimization trace should agree to float rounding.

    python benchmarks/tutorial_vmapped_log_probs.py [--steps 1000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def make_data():
    """The tutorial's fake binary classification dataset (NumPy, seeded)."""
    rs = np.random.RandomState(10009)
    num_features, num_points = 10, 100
    true_beta = rs.randn(num_features).astype(np.float32)
    all_x = rs.randn(num_points, num_features).astype(np.float32)
    y = (rs.rand(num_points) < _expit(all_x.dot(true_beta))).astype(np.int32)
    test_beta = rs.randn(num_features)
    batched_test_beta = rs.randn(10, num_features)
    return SimpleNamespace(
        num_features=num_features,
        true_beta=true_beta,
        all_x=all_x,
        y=y,
        test_beta=test_beta,
        batched_test_beta=batched_test_beta,
    )


def run_tutorial(M, jnp, jsp, random, data, steps):
    """Every computation of the tutorial, with ``M`` standing for ``jax``. Returns a dict
    of NumPy outputs, plus the wall time of the SGD loop."""
    all_x, y = data.all_x, data.y
    out = {}

    def log_joint(beta):
        result = 0.0
        result = result + jnp.sum(jsp.stats.norm.logpdf(beta, loc=0.0, scale=1.0))
        result = result + jnp.sum(-jnp.log(1 + jnp.exp(-(2 * y - 1) * jnp.dot(all_x, beta))))
        return result

    out["log_joint"] = log_joint(data.test_beta)
    try:
        log_joint(data.batched_test_beta)
        out["unbatched_error"] = "none"
    except (ValueError, TypeError) as e:
        out["unbatched_error"] = type(e).__name__

    def batched_log_joint(beta):
        result = 0.0
        result = result + jnp.sum(jsp.stats.norm.logpdf(beta, loc=0.0, scale=1.0), axis=-1)
        logits = jnp.dot(all_x, beta.T).T
        result = result + jnp.sum(-jnp.log(1 + jnp.exp(-(2 * y - 1) * logits)), axis=-1)
        return result

    out["manually_batched"] = batched_log_joint(data.batched_test_beta)
    out["vmap_batched"] = M.vmap(log_joint)(data.batched_test_beta)

    @M.jit
    def log_joint_vi(beta):
        result = 0.0
        result = result + jnp.sum(jsp.stats.norm.logpdf(beta, loc=0.0, scale=10.0))
        result = result + jnp.sum(-jnp.log(1 + jnp.exp(-(2 * y - 1) * jnp.dot(all_x, beta))))
        return result

    batched_vi = M.jit(M.vmap(log_joint_vi))

    def elbo(beta_loc, beta_log_scale, epsilon):
        beta_sample = beta_loc + jnp.exp(beta_log_scale) * epsilon
        return jnp.mean(batched_vi(beta_sample), 0) + jnp.sum(
            beta_log_scale - 0.5 * np.log(2 * np.pi)
        )

    elbo_val_and_grad = M.jit(M.value_and_grad(M.jit(elbo), argnums=(0, 1)))

    def normal_sample(key, shape):
        new_key, sub_key = random.split(key)
        return new_key, random.normal(sub_key, shape)

    normal_sample = M.jit(normal_sample, static_argnums=(1,))

    key = random.key(10003)
    beta_loc = jnp.zeros(data.num_features, jnp.float32)
    beta_log_scale = jnp.zeros(data.num_features, jnp.float32)
    step_size, epsilon_shape = 0.01, (128, data.num_features)
    trace, eps0 = [], None
    start = time.perf_counter()
    for i in range(steps):
        key, epsilon = normal_sample(key, epsilon_shape)
        if eps0 is None:
            eps0 = epsilon
        elbo_val, (g_loc, g_log_scale) = elbo_val_and_grad(beta_loc, beta_log_scale, epsilon)
        beta_loc += step_size * g_loc
        beta_log_scale += step_size * g_log_scale
        if i % 10 == 0:
            trace.append(elbo_val)
    M.block_until_ready(beta_loc)
    seconds = time.perf_counter() - start
    out["first_epsilon"] = eps0
    out["elbo_trace"] = np.stack([np.asarray(v) for v in trace])
    out["beta_loc"] = beta_loc
    out["beta_log_scale"] = beta_log_scale
    out["coverage"] = np.mean(
        np.abs(np.asarray(beta_loc) - data.true_beta) < 2 * np.exp(np.asarray(beta_log_scale))
    )
    return {k: (v if isinstance(v, str) else np.asarray(v)) for k, v in out.items()}, seconds


def _modules(which):
    if which == "engine":
        import engine
        import engine.numpy as jnp
        import engine.random as random
        import engine.scipy as jsp

        return engine, jnp, jsp, random
    import jax
    import jax.numpy as jnp
    import jax.random as random
    import jax.scipy as jsp

    return jax, jnp, jsp, random


def compare(steps=1000, verbose=True):
    """Run both; return {output name: (max abs difference, equal bits?)}."""
    data = make_data()
    ours, t_ours = run_tutorial(*_modules("engine"), data, steps)
    theirs, t_theirs = run_tutorial(*_modules("jax"), data, steps)
    report = {}
    for name, want in theirs.items():
        got = ours[name]
        if isinstance(want, str):
            report[name] = (0.0 if got == want else np.inf, got == want)
            continue
        assert got.shape == want.shape and got.dtype == want.dtype, (name, got, want)
        diff = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)), initial=0))
        report[name] = (diff, np.array_equal(got, want))
    if verbose:
        for name, (diff, same) in report.items():
            print(f"{name:18s} max |engine - jax| = {diff:.3g}{'  (bit-exact)' if same else ''}")
        print(
            f"elbo at step 0 / {10 * (len(theirs['elbo_trace']) - 1)}: {theirs['elbo_trace'][0]:.4f}"
            f" / {theirs['elbo_trace'][-1]:.4f} (jax), {ours['elbo_trace'][-1]:.4f} (engine)"
        )
        print(f"SGD loop: engine {t_ours:.2f}s, jax {t_theirs:.2f}s, ratio {t_ours / t_theirs:.2f}")
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args(argv)
    report = compare(args.steps)
    worst = max(d for d, _ in report.values())
    ok = worst < 1e-3 and report["first_epsilon"][1] and report["unbatched_error"][1]
    print("MATCH" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
