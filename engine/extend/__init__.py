"""``jax.extend``: the engine's internals that JAX's extension API names (``core``:
jaxprs, their variables and equations, primitives). JAX's other ``jax.extend`` modules
are not built; naming one says so."""

from . import core  # noqa: F401

# jax.extend's other modules at jax 0.10.2, none of which the engine provides
_NOT_BUILT = frozenset(
    {
        "backend",
        "ifrt_programs",
        "linear_util",
        "lowering",
        "mlir",
        "pallas",
        "random",
        "sharding",
        "source_info_util",
        "xla",
    }
)


def __getattr__(name: str):
    if name in _NOT_BUILT:
        raise NotImplementedError(
            f"jax.extend.{name} is not built in this engine; jax.extend.core is"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
