"""Your own JAX notebook, unchanged, on Glassjax: run one line first, ::

    import notebook_ext.as_jax          # or: %load_ext notebook_ext.as_jax

and from then on, in this kernel, ``import jax``, ``import jax.numpy as jnp``,
``from jax import lax, random`` and every other ``jax.*`` import give the engine's
modules (``engine``, ``engine.numpy``, ...), so every stage of the notebook's programs
can be explored. Touching a JAX name the engine lacks raises an error that names it and
lists the other names of that module the engine does not have yet
(``unsupported("jax.lax")`` lists them too). ``uninstall()`` undoes it for later imports.

The names JAX has are read from ``jax_public_names.json`` (JAX 0.10.2's public names per
module, a fact file checked against real JAX by the tests); real JAX is never imported.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import re
import sys
import types
import warnings
from functools import cache
from pathlib import Path

PREFIX = "jax"
ENGINE = "engine"
NAMES_FILE = Path(__file__).with_name("jax_public_names.json")
SHOWN_MISSING = 40  # names listed in an error message; unsupported() gives all


@cache
def jax_public_names() -> dict[str, list[str]]:
    """{"jax.lax": [public names of jax.lax in JAX 0.10.2], ...}."""
    return json.loads(NAMES_FILE.read_text())


def _engine_name(jax_name: str) -> str:
    return ENGINE + jax_name[len(PREFIX) :]


def _has_engine_module(jax_name: str) -> bool:
    try:
        return importlib.util.find_spec(_engine_name(jax_name)) is not None
    except ImportError:  # its parent is a plain module, not a package
        return False


def unsupported(module: str = PREFIX) -> list[str]:
    """The public names of JAX's ``module`` (e.g. "jax.numpy") the engine lacks."""
    names = jax_public_names().get(module)
    if names is None:
        raise ValueError(
            f"no list of JAX's names for {module!r}; known modules: "
            + ", ".join(sorted(jax_public_names()))
        )
    try:
        target = importlib.import_module(_engine_name(module))
    except ImportError:
        return list(names)
    missing = []
    for n in names:
        if hasattr(target, n):
            continue
        if _has_engine_module(f"{module}.{n}"):
            continue  # a submodule not imported yet
        missing.append(n)
    return missing


def _missing_message(module: str, name: str) -> str:
    head = (
        f"{module}.{name} is not supported by Glassjax's engine (in this kernel `import "
        f"jax` is Glassjax: notebook_ext.as_jax)"
    )
    if module not in jax_public_names():
        return head + f"; {module} is not one of JAX's public modules either."
    if name not in jax_public_names()[module]:
        return head + f"; JAX's {module} has no public name {name!r} either."
    missing = unsupported(module)
    shown = ", ".join(missing[:SHOWN_MISSING])
    more = (
        f", and {len(missing) - SHOWN_MISSING} more (notebook_ext.as_jax.unsupported("
        f"{module!r}) lists them all)"
        if len(missing) > SHOWN_MISSING
        else ""
    )
    return head + f". Not supported in {module} ({len(missing)} names): {shown}{more}."


class JaxAlias(types.ModuleType):
    """``jax.<sub>`` in this kernel: the engine's module of the same name, with JAX's
    submodules as aliases too and a clear error for the names the engine lacks."""

    def __init__(self, name: str, target: types.ModuleType):
        super().__init__(name, getattr(target, "__doc__", None))
        object.__setattr__(self, "_target", target)

    def __getattr__(self, name: str):
        target = object.__getattribute__(self, "_target")
        if name.startswith("__") and name.endswith("__"):
            return getattr(target, name)
        sub = f"{self.__name__}.{name}"
        try:
            value = getattr(target, name)
        except AttributeError:
            value = None
            if not _has_engine_module(sub):
                raise AttributeError(_missing_message(self.__name__, name)) from None
        if value is None or isinstance(value, types.ModuleType):
            try:
                return importlib.import_module(sub)  # jax.numpy, not engine.numpy
            except ImportError:
                if value is None:
                    raise
        return value

    def __dir__(self):
        return sorted(set(dir(object.__getattribute__(self, "_target"))))

    def __repr__(self):
        target = object.__getattribute__(self, "_target")
        return f"<module {self.__name__!r}: Glassjax's {target.__name__}>"


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target_name: str):
        self.target_name = target_name

    def create_module(self, spec):
        target = importlib.import_module(self.target_name)
        module = JaxAlias(spec.name, target)
        if hasattr(target, "__path__"):
            module.__path__ = []  # a package: ``import jax.numpy.linalg`` comes back here
        return module

    def exec_module(self, module):
        pass


class JaxFinder(importlib.abc.MetaPathFinder):
    """Answers every ``jax`` / ``jax.*`` import with the engine's module, and refuses
    (with the reason) the ones the engine does not have, so real JAX is never loaded."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != PREFIX and not fullname.startswith(PREFIX + "."):
            return None
        target_name = _engine_name(fullname)
        if importlib.util.find_spec(target_name) is None:
            parent, _, leaf = fullname.rpartition(".")
            raise ModuleNotFoundError(_missing_message(parent, leaf), name=fullname)
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(target_name), is_package=True)


_finder = JaxFinder()


def _jax_modules() -> list[str]:
    return [m for m in sys.modules if m == PREFIX or m.startswith(PREFIX + ".")]


_CANNOT_IMPORT = re.compile(r"cannot import name '(\w+)' from '(jax(?:\.\w+)*)'")


def _explain_import_error(shell, etype, value, tb, tb_offset=None):
    """IPython's handler for ImportError: ``from jax.lax import missing`` loses the
    alias's message (Python replaces it with "cannot import name"), so add it back."""
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    m = _CANNOT_IMPORT.search(str(value))
    if m and installed():
        print(_missing_message(m.group(2), m.group(1)), file=sys.stderr)


def _hook_ipython() -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is not None and not ip.custom_exceptions:  # never replace someone else's
        ip.set_custom_exc((ImportError,), _explain_import_error)


def install() -> None:
    """Makes ``jax`` mean the engine for the imports that follow (done on import)."""
    already = [m for m in _jax_modules() if not isinstance(sys.modules[m], JaxAlias)]
    if already:
        warnings.warn(
            "real JAX was already imported in this process: names bound before this line "
            "still refer to it. Restart the kernel and run `import notebook_ext.as_jax` "
            "first.",
            stacklevel=2,
        )
        for m in already:
            del sys.modules[m]
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
    _hook_ipython()


def uninstall() -> None:
    """Stops answering ``jax`` imports with the engine; modules already imported stay."""
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    for m in _jax_modules():
        if isinstance(sys.modules[m], JaxAlias):
            del sys.modules[m]


def installed() -> bool:
    return _finder in sys.meta_path


def load_ipython_extension(ip) -> None:
    """``%load_ext notebook_ext.as_jax``: the same as importing this module."""
    install()


def unload_ipython_extension(ip) -> None:
    uninstall()


install()
