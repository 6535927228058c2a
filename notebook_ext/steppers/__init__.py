"""Steppers: watch the engine trace, differentiate and batch a function, one step at a time.

    from notebook_ext.steppers import trace_stepper, grad_stepper, vmap_stepper
    trace_stepper(f, x)              # each equation as it is emitted, the jaxpr growing
    grad_stepper(f, x)               # JVP -> partial evaluation -> transpose -> final
    vmap_stepper(f, (0, None), x, w) # each batching rule, batch axes on every value

Each returns a ``StepperWidget`` (ipywidgets); its ``.model`` is the pure stepper
(``TraceStepper``, ``GradStepper``, ``VmapStepper``): plain-data steps a test or script
can read without a front end. A function that fails shows the error and the user's line
instead of raising.
"""

from __future__ import annotations

from .autodiff_stepper import STAGES, GradStepper
from .batching_stepper import VmapStepper
from .events import (
    BatchStep,
    EqnStep,
    ErrorInfo,
    Handler,
    JVPStep,
    PEStep,
    Residual,
    SourceLine,
    TransposeStep,
    Value,
)
from .tracing_stepper import TraceStepper

__all__ = [
    "trace_stepper",
    "grad_stepper",
    "vmap_stepper",
    "TraceStepper",
    "GradStepper",
    "VmapStepper",
    "STAGES",
    "BatchStep",
    "EqnStep",
    "ErrorInfo",
    "Handler",
    "JVPStep",
    "PEStep",
    "Residual",
    "SourceLine",
    "TransposeStep",
    "Value",
]


def _with_progress(title, progress, build):
    reporter = None
    if progress is True:
        from .widgets import ProgressReporter

        reporter = ProgressReporter(title).show()
        progress = reporter
    try:
        return build(progress or None)
    finally:
        if reporter is not None:
            reporter.close()


def trace_stepper(f, *args, progress=True, theme=None, **kwargs):
    """A widget stepping through the tracing of ``f(*args, **kwargs)``."""
    from . import render
    from .widgets import StepperWidget

    model = _with_progress(
        "tracing", progress, lambda p: TraceStepper(f, *args, progress=p, **kwargs)
    )

    def view(i):
        model.go(i)
        return render.trace_view(model, i, theme)

    w = StepperWidget(model, [("tracing", len(model.steps), view)])
    if model.error is not None:  # open where it failed
        w.go(len(model.steps) - 1)
    return w


def grad_stepper(f, *args, mode="grad", argnums=0, progress=True, theme=None):
    """A widget stepping through ``grad`` (or ``mode="vjp"`` / ``"jvp"``) of ``f``."""
    from . import render
    from .widgets import StepperWidget

    model = _with_progress(
        mode, progress, lambda p: GradStepper(f, *args, mode=mode, argnums=argnums, progress=p)
    )

    def viewer(stage):
        def view(i):
            if model.stage_steps.get(stage):
                model.go(model.stage_start(stage) + i)
            return render.grad_view(model, stage, i, theme)

        return view

    tracks = [
        (stage, len(model.stage_steps.get(stage, [])), viewer(stage))
        for stage in model.stages or ["jvp"]
    ]
    return StepperWidget(model, tracks)


def vmap_stepper(f, in_axes, *args, out_axes=0, progress=True, theme=None):
    """A widget stepping through the batching rules ``vmap(f, in_axes)`` applies."""
    from . import render
    from .widgets import StepperWidget

    model = _with_progress(
        "vmap", progress, lambda p: VmapStepper(f, in_axes, *args, out_axes=out_axes, progress=p)
    )

    def view(i):
        model.go(i)
        return render.vmap_view(model, i, theme)

    return StepperWidget(model, [("batching", len(model.steps), view)])
