"""Every engine module imports on its own, first, in a fresh process: an import cycle
(module A needing B at import time while B needs A) fails here whichever module a user
happens to import first. The autodiff interpreters need only ``engine.ad_util``, never
``engine.lax`` (which imports them to register its rules)."""

import ast
import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
ENGINE = ROOT / "engine"

# Imported in a parent process that then forks once per module, so each child starts
# with the third-party libraries loaded but no engine module at all. The root package
# `engine` is a bare stand-in: its __init__ imports everything in one fixed order, which
# would hide a cycle; subpackages' __init__ files run as they would for a user.
_PROBE = r"""
import importlib, json, os, sys, traceback, types
import numpy, ml_dtypes  # noqa: F401
import jaxlib.mlir.ir  # noqa: F401
from jaxlib.mlir.dialects import chlo, func, stablehlo  # noqa: F401

root, modules = sys.argv[1], json.loads(sys.argv[2])
failures = {}
for name in modules:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        pkg = types.ModuleType("engine")
        pkg.__path__ = [os.path.join(root, "engine")]
        sys.modules["engine"] = pkg
        try:
            importlib.import_module(name)
            msg = ""
        except BaseException:
            msg = traceback.format_exc(limit=-6)
        os.write(w, msg.encode())
        os._exit(0)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    os.waitpid(pid, 0)
    if chunks:
        failures[name] = b"".join(chunks).decode()
print(json.dumps(failures))
"""


def _engine_modules():
    names = []
    for path in sorted(ENGINE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts == ["engine"] or parts[-1] == "__main__":
            continue
        names.append(".".join(parts))
    return names


# Known cycles, owned elsewhere: engine.random re-exports these modules at its end while
# they import helpers from engine.random, so importing one of them first fails. Remove an
# entry once its cycle is broken (helpers moved to a module both import).
KNOWN_CYCLES = {
    "engine.random_choice",
    "engine.random_discrete",
    "engine.random_distributions",
    "engine.random_gamma",
}


def test_each_engine_module_imports_alone():
    modules = _engine_modules()
    assert "engine.ad_util" in modules and "engine.interpreters.jvp" in modules
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(ROOT), json.dumps(modules)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    failures = json.loads(out.stdout.strip().splitlines()[-1])
    failures = {k: v for k, v in failures.items() if k not in KNOWN_CYCLES}
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())


def _imported_modules(path):
    """Every engine module named by an import anywhere in ``path`` (top level or not)."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_autodiff_interpreters_do_not_import_lax():
    for name in ["jvp", "partial_eval", "transpose", "tracing"]:
        mods = _imported_modules(ENGINE / "interpreters" / f"{name}.py")
        assert not any(m == "engine.lax" or m.startswith("engine.lax.") for m in mods), name
    assert "engine.ad_util" in _imported_modules(ENGINE / "interpreters" / "jvp.py")
    ad_util = _imported_modules(ENGINE / "ad_util.py")
    assert not any(m.startswith(("engine.lax", "engine.numpy")) for m in ad_util)


def test_add_any_is_the_ad_util_primitive():
    import engine
    from engine import ad_util, lax
    from engine.interpreters import jvp

    assert lax.add_any_p is ad_util.add_any_p
    assert jvp.Zero is ad_util.Zero
    jaxpr = engine.make_jaxpr(engine.grad(lambda x: x * x))(2.0)
    assert "add_any" in str(jaxpr)


# engine.numpy's modules, each importing only modules before it (at module level).
NUMPY_LAYERS = [
    "_util",
    "_jitted",
    "ufuncs_logic",
    "ufuncs_arith",
    "ufuncs_math",
    "ufuncs",
    "shape_ops",
    "reductions",
    "creation",
    "indexing",
    "linalg_ops",
    "sorting",
    "misc",
    "statistics",
    "scalar_types",
]


def test_engine_numpy_imports_follow_one_order():
    """No sibling imported inside a function to dodge a cycle: each layer imports, at
    module level, only the layers below it."""
    for i, name in enumerate(NUMPY_LAYERS):
        path = ENGINE / "numpy" / f"{name}.py"
        tree = ast.parse(path.read_text())
        top = set(tree.body)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.ImportFrom) and node.level == 1):
                continue
            sibling = node.module or ""
            assert node in top, f"engine/numpy/{name}.py imports .{sibling} inside a function"
            if sibling in NUMPY_LAYERS:
                assert NUMPY_LAYERS.index(sibling) < i, f"{name} imports {sibling}, a later layer"
