"""Glassjax's notebook face: IPython display hooks, the session inspector's kernel side
and the JupyterLab extension ``glassjax`` (shipped prebuilt in ``labextension/``).

In a notebook::

    %load_ext notebook_ext        # display hooks + the sidebar's inspector comm
    notebook_ext.show_stages(f, x)

Every widget also leaves a static copy that saved notebooks keep (``static_form``);
``import notebook_ext.as_jax`` makes a JAX notebook's ``import jax`` the engine
(``as_jax``); ``glassjax lab`` / ``python -m notebook_ext lab`` opens JupyterLab on the
user's copy of the tutorials (``lab``).
"""

import importlib
import sys
import types

from .display import MIME_TYPE, StagesView, show_stages, stages  # noqa: F401

# Widgets that share their submodule's name (``notebook_ext.launcher`` is the function
# ``launcher`` defined in ``notebook_ext/launcher.py``). Importing a submodule makes Python
# set the package attribute to the module, which would hide the function after first use;
# the package's module class refuses that, so the name always means the function.
_WIDGETS = {
    "explore": ("explorer", "explore"),
    "fusion_stepper": ("fusion_stepper", "fusion_stepper"),
    "launcher": ("launcher", "launcher"),
    "session": ("session", "session"),
    "trace_stepper": ("steppers", "trace_stepper"),
    "grad_stepper": ("steppers", "grad_stepper"),
    "vmap_stepper": ("steppers", "vmap_stepper"),
    "cross_backend": ("cross_backend", "cross_backend"),
}


class _Package(types.ModuleType):
    def __setattr__(self, name, value):
        if name in _WIDGETS and isinstance(value, types.ModuleType):
            return  # the submodule stays in sys.modules; the package name keeps the widget
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name):
    # The widgets import ipywidgets and visualize; load them when first asked for.
    if name not in _WIDGETS:
        raise AttributeError(f"module 'notebook_ext' has no attribute {name!r}")
    module, attr = _WIDGETS[name]
    fn = getattr(importlib.import_module(f".{module}", __name__), attr)
    globals()[name] = fn
    return fn


LABEXTENSION_NAME = "glassjax"

_state = {}


def _jupyter_labextension_paths():
    """Where Jupyter finds the prebuilt extension (used by `jupyter labextension develop`)."""
    return [{"src": "labextension", "dest": LABEXTENSION_NAME}]


def _jitted_view(f):
    from . import inspector

    sections = []
    for p in inspector.programs(f):
        sections.append((f"jaxpr {p['signature']}", p["jaxpr"]))
        if p["hlo"] is not None:
            sections.append((f"optimized HLO {p['signature']}", p["hlo"]))
    if not sections:
        return None
    return StagesView(f"jitted function {f.__name__}", sections)


def _jitted_bundle(f, include=None, exclude=None):
    view = _jitted_view(f)
    return view._repr_mimebundle_() if view is not None else None


def _jaxpr_bundle(closed, include=None, exclude=None):
    return StagesView("jaxpr", [("jaxpr", str(closed))])._repr_mimebundle_()


def load_ipython_extension(ip):
    """``%load_ext notebook_ext``: display hooks for jitted functions, jaxprs, arrays and
    stages, the widgets' magics, and the ``glassjax.inspector`` comm target that the
    JupyterLab sidebar talks to."""
    from engine.core import ClosedJaxpr
    from engine.jit import JitFunction

    from . import inspector, magics, rich_display

    if _state.get("ip") is ip:
        return
    fmt = ip.display_formatter.mimebundle_formatter
    fmt.for_type(JitFunction, _jitted_bundle)
    fmt.for_type(ClosedJaxpr, _jaxpr_bundle)
    rich_display.register(ip)  # Array, Traced, Lowered, Compiled
    magics.register(ip)  # %explore, %fusion_stepper, %launch, %jit_session

    insp = inspector.Inspector()
    kernel = getattr(ip, "kernel", None)
    if kernel is not None and getattr(kernel, "comm_manager", None) is not None:
        kernel.comm_manager.register_target(inspector.COMM_TARGET, insp.on_open)
    ip.events.register("post_run_cell", insp.push)
    _state.update(ip=ip, inspector=insp)


def unload_ipython_extension(ip):
    from engine.core import ClosedJaxpr
    from engine.jit import JitFunction

    from . import inspector, magics, rich_display

    if _state.get("ip") is not ip:
        return
    fmt = ip.display_formatter.mimebundle_formatter
    for t in (JitFunction, ClosedJaxpr):
        fmt.type_printers.pop(t, None)
    rich_display.unregister(ip)
    magics.unregister(ip)
    insp = _state.pop("inspector")
    kernel = getattr(ip, "kernel", None)
    if kernel is not None and getattr(kernel, "comm_manager", None) is not None:
        kernel.comm_manager.targets.pop(inspector.COMM_TARGET, None)
    ip.events.unregister("post_run_cell", insp.push)
    _state.clear()
