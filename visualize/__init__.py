"""Glassjax's renderers: every stage of a program as a model, and the links between them.

    import visualize
    s = visualize.stage_models(f, x)
    s.jaxpr, s.mlir, s.hlo, s.hlo_opt        # parsed models of each stage
    s.source_map.fusions_for_line(file, 12)  # which fused kernels hold line 12's work
"""
import os as _os

from engine import source_info as _source_info

from .hlo_model import (HloModule, HloComputation, HloInstruction,  # noqa: F401
                        parse_hlo_module, parse_hlo_modules)
from .jaxpr_model import JaxprModel, JaxprEqnModel  # noqa: F401
from .mlir_model import MlirModule, MlirFunction, MlirOp, parse_mlir_module  # noqa: F401
from .source_map import SourceMap  # noqa: F401
from .stages import StageModels, stage_models  # noqa: F401

# Frames in this package are never the user's source line.
_source_info.register_internal_dir(_os.path.dirname(_os.path.abspath(__file__)))

from .render_html import (stages_html, jaxpr_html, stablehlo_html, hlo_html,  # noqa: F401,E402
                          source_html, link_table, html_document)
from .passes import (compile_with_passes, read_dump, PassTimeline, PassStep,  # noqa: F401,E402
                     StructuralDiff, structural_diff)
from .executable import executable_report, ExecutableReport  # noqa: F401,E402
from .report import report, build_report, Report  # noqa: F401,E402
