"""Every stage of a function, as models, plus the source map linking them."""

from __future__ import annotations

import engine
from engine.jit import JitFunction

from .hlo_model import parse_hlo_module
from .jaxpr_model import JaxprModel
from .mlir_model import parse_mlir_module
from .source_map import SourceMap


class StageModels:
    """The stage objects (``traced``, ``lowered``, ``compiled``), their models
    (``jaxpr``, ``mlir``, ``hlo``, ``hlo_opt``) and the ``source_map``."""

    def __init__(self, traced, lowered, compiled):
        self.traced, self.lowered, self.compiled = traced, lowered, compiled
        self.jaxpr = JaxprModel(traced.jaxpr)
        self.mlir = parse_mlir_module(lowered.mlir_text, lowered.lowering_info)
        self.hlo = parse_hlo_module(lowered.as_text(dialect="hlo"))
        self.hlo_opt = parse_hlo_module(compiled.as_text()) if compiled is not None else None
        self.source_map = SourceMap(self.jaxpr, self.mlir, self.hlo, self.hlo_opt)

    def __repr__(self):
        return (
            f"<StageModels {self.traced.fun_name}: {self.jaxpr!r}, {self.mlir!r}, "
            f"{self.hlo!r}, {self.hlo_opt!r}>"
        )


def stage_models(f, *args, compiled=True, compiler_options=None, **kwargs):
    """Trace, lower and (``compiled=True``) compile ``f`` -- a function or an
    ``engine.jit`` of one -- on these arguments; return a StageModels."""
    jitted = f if isinstance(f, JitFunction) else engine.jit(f)
    traced = jitted.trace(*args, **kwargs)
    lowered = traced.lower()
    exe = lowered.compile(compiler_options=compiler_options) if compiled else None
    return StageModels(traced, lowered, exe)
