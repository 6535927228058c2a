"""Persistent compilation cache (engine/compilation_cache.py): hits across processes,
damaged entries, what the key depends on, size bound, thresholds, JAX's option names."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import engine
import engine.numpy as jnp
from engine import compilation_cache as cc
from tests.helpers import assert_close, real_jax

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

OPTION_NAMES = [
    "jax_compilation_cache_dir",
    "jax_enable_compilation_cache",
    "jax_persistent_cache_min_compile_time_secs",
    "jax_persistent_cache_min_entry_size_bytes",
    "jax_persistent_cache_enable_xla_caches",
    "jax_compilation_cache_max_size",
    "jax_compilation_cache_include_metadata_in_key",
    "jax_raise_persistent_cache_errors",
]


@pytest.fixture
def cache(tmp_path):
    """The cache on in a fresh folder, every compile written; options restored after."""
    saved = {n: getattr(engine.config, n) for n in OPTION_NAMES + ["jax_enable_x64"]}
    engine.config.update("jax_compilation_cache_dir", str(tmp_path))
    engine.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    yield tmp_path
    for name, value in saved.items():
        engine.config.update(name, value)


def _compile(fn, *args, **options):
    """A fresh compile: the in-memory jit cache keys by function, so wrap ``fn`` anew."""

    def program(*a):
        return fn(*a)

    return engine.jit(program).lower(*args).compile(compiler_options=options or None)


def _affine(x):
    return jnp.sin(x) * 2.0 + 1.0


def test_options_exist_with_jax_defaults():
    jax, _ = real_jax()
    for name in OPTION_NAMES:
        if name == "jax_compilation_cache_dir" and os.environ.get("JAX_COMPILATION_CACHE_DIR"):
            continue
        assert getattr(engine.config, name) == getattr(jax.config, name), name


_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import engine
    import engine.numpy as jnp
    from engine import compilation_cache as cc

    if sys.argv[1] != "env":  # else JAX_COMPILATION_CACHE_DIR names the folder
        engine.config.update("jax_compilation_cache_dir", sys.argv[1])
    engine.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)

    def mlp(w, x):
        return jnp.tanh(x @ w).sum()

    compiled = engine.jit(engine.grad(mlp)).lower(
        np.ones((8, 4), np.float32), np.ones((2, 8), np.float32)).compile()
    w = np.linspace(-1, 1, 32, dtype=np.float32).reshape(8, 4)
    x = np.linspace(0, 2, 16, dtype=np.float32).reshape(2, 8)
    np.save(sys.argv[2], np.asarray(compiled(w, x)))
    print("LOADED", compiled.loaded_from_cache, cc.stats["hits"], cc.stats["errors"])
    """
)


def _run_script(folder, out, concurrent=1, through_env=False):
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    if through_env:
        env["JAX_COMPILATION_CACHE_DIR"] = str(folder)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _SCRIPT, "env" if through_env else str(folder), f"{out}{i}.npy"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for i in range(concurrent)
    ]
    lines = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, stderr
        lines.append(stdout.strip().splitlines()[-1])
    return lines


def test_hit_across_processes_and_concurrent_writers(tmp_path):
    folder = tmp_path / "cache"
    # two processes start on an empty folder at once: both compile (or one reads the
    # other's entry); neither may read a half-written file.
    first = _run_script(folder, tmp_path / "a", concurrent=2)
    for line in first:
        assert line.split()[3] == "0", line  # no damaged entries seen
    assert not [n for n in os.listdir(folder) if n.startswith(".tmp-")]
    assert len(cc.entries(str(folder))) == 1
    (line,) = _run_script(folder, tmp_path / "b", through_env=True)
    assert line == "LOADED True 1 0"

    jax, jjnp = real_jax()
    w = np.linspace(-1, 1, 32, dtype=np.float32).reshape(8, 4)
    x = np.linspace(0, 2, 16, dtype=np.float32).reshape(2, 8)
    expected = jax.grad(lambda w, x: jjnp.tanh(x @ w).sum())(w, x)
    for name in ("a0", "a1", "b0"):
        assert_close(np.load(tmp_path / f"{name}.npy"), expected)


def test_hit_in_process_is_marked_and_shown(cache):
    x = np.linspace(-1, 1, 5, dtype=np.float32)
    first = _compile(_affine, x)
    second = _compile(_affine, x)
    assert not first.loaded_from_cache and second.loaded_from_cache
    jax, jjnp = real_jax()
    assert_close(second(x), jax.jit(lambda x: jjnp.sin(x) * 2.0 + 1.0)(x))

    from notebook_ext.explorer import executable_pane
    from visualize import executable_report
    from visualize.hlo_model import parse_hlo_module

    report = executable_report(second)
    assert report.to_dict()["loaded_from_cache"] is True
    html = executable_pane(report, parse_hlo_module(second.as_text()))
    assert "loaded from cache" in html
    assert "loaded from cache" not in executable_pane(
        executable_report(first), parse_hlo_module(first.as_text())
    )


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[: len(b) // 2],  # truncated mid-payload
        lambda b: b[:5],  # truncated inside the header
        lambda b: b[:-40] + bytes(40),  # same length, corrupted tail
        lambda b: b"",
    ],
    ids=["half", "header", "corrupt", "empty"],
)
def test_damaged_entry_warns_recompiles_and_is_rewritten(cache, damage):
    x = np.arange(4, dtype=np.float32)
    _compile(_affine, x)
    ((key, _, _),) = cc.entries()
    path = cache / key
    path.write_bytes(damage(path.read_bytes()))
    with pytest.warns(UserWarning, match="Error reading persistent compilation cache entry"):
        again = _compile(_affine, x)
    assert not again.loaded_from_cache
    np.testing.assert_allclose(np.asarray(again(x)), np.sin(x) * 2 + 1, rtol=1e-6)
    assert _compile(_affine, x).loaded_from_cache  # the recompile wrote a good entry


def test_raise_persistent_cache_errors(cache):
    engine.config.update("jax_raise_persistent_cache_errors", True)
    x = np.arange(3, dtype=np.float32)
    _compile(_affine, x)
    ((key, _, _),) = cc.entries()
    (cache / key).write_bytes(b"GJXPCC1\n" + bytes(50))
    with pytest.raises(ValueError, match="checksum mismatch"):
        _compile(_affine, x)


def test_key_changes_with_options_x64_and_version_not_locations(cache):
    x = np.arange(6, dtype=np.float64)
    _compile(_affine, x)
    _compile(_affine, x, xla_cpu_enable_fast_math=True)
    with engine.enable_x64():
        _compile(_affine, x)  # float64 in, not float32: another module
    keys = {k for k, _, _ in cc.entries()}
    assert len(keys) == 3, keys

    # the same program written on another line of another function: same key
    def elsewhere(x):
        return jnp.sin(x) * 2.0 + 1.0

    assert _compile(elsewhere, x).loaded_from_cache

    text = engine.jit(_affine).lower(x).mlir_text  # with source locations
    device = engine.devices()[0]
    from engine import runtime

    opts = runtime._compile_options(device, None, None)
    key = cc.cache_key(text, "m", device, opts, runtime.jaxlib_version())
    assert key != cc.cache_key(text, "m", device, opts, (0, 0, 1))
    engine.config.update("jax_compilation_cache_include_metadata_in_key", True)
    assert key != cc.cache_key(text, "m", device, opts, runtime.jaxlib_version())


def test_thresholds_and_size_bound(cache):
    x = np.arange(3, dtype=np.float32)
    engine.config.update("jax_persistent_cache_min_compile_time_secs", 1e6)
    _compile(_affine, x)
    assert cc.entries() == []
    engine.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    engine.config.update("jax_persistent_cache_min_entry_size_bytes", 1 << 30)
    _compile(_affine, x)
    assert cc.entries() == []
    engine.config.update("jax_persistent_cache_min_entry_size_bytes", 0)

    fns = [lambda v, k=k: v * float(k + 2) for k in range(3)]
    _compile(fns[0], x)
    ((_, size, _),) = cc.entries()
    engine.config.update("jax_compilation_cache_max_size", int(size * 2.5))
    _compile(fns[1], x)
    older = {k for k, _, _ in cc.entries()}
    os.utime(cache / sorted(older)[0], (1, 1))  # make one entry clearly the oldest used
    oldest = sorted(older)[0]
    _compile(fns[2], x)
    left = {k for k, _, _ in cc.entries()}
    assert len(left) == 2 and oldest not in left
    assert sum(s for _, s, _ in cc.entries()) <= size * 2.5

    cc.set_cache_dir(None)
    assert cc.cache_dir() is None and not cc.is_persistent_cache_enabled()
    cc.set_cache_dir(cache)
    assert cc.cache_dir() == str(cache)
    engine.config.update("jax_compilation_cache_max_size", 0)  # 0: cache off
    assert cc.cache_dir() is None
    assert not _compile(fns[1], x).loaded_from_cache
