"""Glassjax's renderers: every stage of a program as a model, and the links between them.

import visualize
s = visualize.stage_models(f, x)
s.jaxpr, s.mlir, s.hlo, s.hlo_opt        # parsed models of each stage
s.source_map.fusions_for_line(file, 12)  # which fused kernels hold line 12's work
"""

import os as _os

from engine import source_info as _source_info

from .hlo_model import (  # noqa: F401
    HloComputation,
    HloInstruction,
    HloModule,
    parse_hlo_module,
    parse_hlo_modules,
)
from .jaxpr_model import JaxprEqnModel, JaxprModel  # noqa: F401
from .mlir_model import MlirFunction, MlirModule, MlirOp, parse_mlir_module  # noqa: F401
from .source_map import SourceMap  # noqa: F401
from .stages import StageModels, stage_models  # noqa: F401

# Frames in this package are never the user's source line.
_source_info.register_internal_dir(_os.path.dirname(_os.path.abspath(__file__)))

from .executable import ExecutableReport, executable_report  # noqa: F401,E402
from .passes import (  # noqa: F401,E402
    PassStep,
    PassTimeline,
    StructuralDiff,
    compile_with_passes,
    read_dump,
    structural_diff,
)
from .render_html import (  # noqa: F401,E402
    hlo_html,
    html_document,
    jaxpr_html,
    link_table,
    source_html,
    stablehlo_html,
    stages_html,
)
from .report import Report, build_report, report  # noqa: F401,E402
