"""``engine.example_libraries``: JAX's ``stax`` (neural-network layers) and
``optimizers``, written against the engine."""
