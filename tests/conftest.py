"""Suite-wide fixtures.

Every compiled CPU executable keeps a few memory mappings (its JIT-compiled code) for as
long as a cache holds it. An xdist worker runs ~2,000 tests that compile for both the
engine and real JAX, and without a reset it crossed Linux's default ``vm.max_map_count``
(65,530) about two thirds of the way through; LLVM then crashed inside XLA's next
compile (a segfault in whichever test was compiling). Dropping both libraries' caches
after each test module keeps a worker's mappings at a few thousand.
"""

import gc
import sys

import pytest


@pytest.fixture(autouse=True, scope="module")
def _drop_compiled_programs_after_module():
    yield
    engine = sys.modules.get("engine")
    if engine is not None and hasattr(engine, "clear_caches"):
        engine.clear_caches()
    jax = sys.modules.get("jax")
    if jax is not None and hasattr(jax, "clear_caches"):
        jax.clear_caches()
    gc.collect()
