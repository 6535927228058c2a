"""The steppers' plain data: what each step shows, as strings, ints and lists (no engine
objects), so a view, a test or ``json.dumps(asdict(step))`` can read it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class SourceLine:
    file: str
    line: int
    function: str
    text: str  # the line as written (may be "" when the source is not available)
    cell: str = ""  # "In [5]" when the file is an IPython cell (see visualize.cells.cell_label)

    def where(self):
        if self.cell:
            return f"{self.cell}, line {self.line}"
        return f"{self.file}:{self.line}"


@dataclass
class Handler:
    """An interpreter handling a bind: ``trace`` is a label unique in the recording
    (``"JVPTrace#1"``), ``kind`` its class, ``primitive`` what was bound on it."""

    trace: str
    kind: str
    primitive: str
    extra: str = ""

    def __str__(self):
        x = f" {self.extra}" if self.extra else ""
        return f"{self.trace}({self.primitive}{x})"


@dataclass
class ErrorInfo:
    type: str
    message: str
    source: SourceLine | None
    traceback: str = ""
    custom_rule: CustomRuleRun | None = None  # the user's rule running when it failed

    def summary(self):
        where = f" at {self.source.where()}" if self.source else ""
        rule = ""
        if self.custom_rule is not None:
            rule = f" (in custom rule {self.custom_rule.label()})"
        return f"{self.type}{where}{rule}: {self.message}"


@dataclass
class Value:
    """A value a rule saw or made: its name in the rendered jaxpr (or a literal), its
    type, and (batching) the batch axis or None."""

    name: str
    aval: str
    dim: int | None = None
    per_example: str = ""  # batching: the aval with the batch axis taken out

    def __str__(self):
        d = "" if self.dim is None and not self.per_example else f"@{self.dim}"
        return f"{self.name}:{self.aval}{d}"


@dataclass
class CustomRuleRun:
    """A user's custom differentiation rule (``custom_jvp`` / ``custom_vjp``) the engine
    ran: ``relation`` "ran" (inside this step's rule: its equations are this step's),
    "bound" (this step's primitive was bound by the user's rule) or "failed" (tracing
    failed while it ran: ``ErrorInfo.custom_rule``)."""

    rule_kind: str  # "jvp" (custom_jvp), "fwd" or "bwd" (custom_vjp)
    function: str  # the custom function's name
    rule: str  # the rule function's name
    source: SourceLine | None  # where the rule is defined (its first line)
    relation: str = "ran"
    eqns: list = field(default_factory=list)  # indices into the stage's jaxpr it emitted
    # what it emitted, in order: into the stage's jaxpr (``eqns``) when it emitted there,
    # else at every level (a rule run inside a scan body)
    primitives: list = field(default_factory=list)
    out_avals: list = field(default_factory=list)
    note: str = ""  # e.g. where a custom_vjp's bwd rule was left for the transpose stage

    def label(self):
        where = f" ({self.source.where()})" if self.source else ""
        return f"{self.rule}{where}"


@dataclass
class RematInfo:
    """A ``checkpoint`` split by its policy (partial-eval stage) or its recomputation in
    the backward pass (transpose stage)."""

    policy: str
    saved: (
        list  # ["f32[3] output of dot_general from file:line (f)", ...] kept from the forward pass
    )
    recomputed: list  # ["sin from file:line", ...] forward equations run again in the backward pass
    known: int = 0  # partial eval: known equations run now
    nested_in: str = ""  # the step's primitive when the checkpoint is inside it (a jit)


@dataclass
class EqnStep:
    """Tracing stepper: one equation emitted."""

    index: int
    primitive: str
    text: str  # the equation as the jaxpr prints it
    in_avals: list
    out_avals: list
    source: SourceLine | None
    source_key: str | None  # key into the stepper's source blocks
    handlers: list  # [Handler] outermost first: who handled the user's bind
    trace_chain: list  # [str] current trace and its .parent chain, innermost first
    trace: str  # the JaxprTrace that recorded the equation
    top: bool  # recorded by the top-level trace (part of the jaxpr)
    top_index: int | None  # its index in the top-level jaxpr
    top_count: int  # top-level equations recorded up to and including this step
    nested_in: str | None = None  # for a sub-jaxpr's equation: where it ended up ("3")


@dataclass
class JVPStep:
    """Autodiff stage 1: one primitive seen by the JVP interpreter."""

    index: int
    primitive: str
    source: SourceLine | None
    rule: bool  # False: all input tangents were zero, bound without a rule
    primal_in: list  # [aval]
    tangent_in_zero: list  # [bool] symbolic zero per input
    primal_out: list
    tangent_out_zero: list
    primal_eqns: list = field(default_factory=list)  # indices into the JVP jaxpr
    tangent_eqns: list = field(default_factory=list)
    custom_rules: list = field(default_factory=list)  # [CustomRuleRun]


@dataclass
class PEStep:
    """Autodiff stage 2: one primitive seen by partial evaluation."""

    index: int
    primitive: str
    source: SourceLine | None
    known: bool  # True: run now; False: recorded into the linear jaxpr
    via: list  # [Handler] the interpreters above (e.g. JVPTrace(sin))
    known_eqns: list = field(default_factory=list)  # indices into the known jaxpr
    linear_eqns: list = field(default_factory=list)  # indices into the linear jaxpr
    residuals: list = field(default_factory=list)  # residual indices its eqns produced
    link: str = ""  # "recorded": linear_eqns are those its rule span recorded; "" if none
    custom_rules: list = field(default_factory=list)  # [CustomRuleRun]
    remat: RematInfo | None = None  # a checkpoint's saved vs recomputed values


@dataclass
class Residual:
    index: int
    aval: str
    linear_name: str  # its constvar name in the linear jaxpr
    known_name: str  # the value's name in the known jaxpr (or a literal)
    produced_by: int | None  # known jaxpr equation index; None for an input or constant
    kind: str  # "eqn", "input" or "constant"


@dataclass
class TransposeStep:
    """Autodiff stage 3: one linear equation transposed."""

    index: int
    primitive: str
    forward_eqn: int  # index of the linear-jaxpr equation it came from
    forward_text: str
    source: SourceLine | None
    cts_in: list  # per output of the forward eqn: "name:aval" or None
    cts_out: list  # per input: "name:aval", "0" (symbolic zero) or None
    written_to: list  # per input: linear variable that accumulates it, or None
    emitted_eqns: list = field(default_factory=list)  # transpose-jaxpr indices
    accumulate_eqns: list = field(default_factory=list)  # add_any's summing cotangents
    nested_steps: int = 0  # equations transposed inside it (a scan's body)
    cotangents: dict = field(default_factory=dict)  # linear var -> [contributions]
    custom_rules: list = field(default_factory=list)  # [CustomRuleRun]
    remat: RematInfo | None = None  # a checkpoint's saved vs recomputed values


@dataclass
class BatchStep:
    """Batching stepper: one primitive seen by the batching interpreter."""

    index: int
    primitive: str
    source: SourceLine | None
    rule: bool  # False: no operand batched, bound as is
    trace: str
    ins: list  # [Value]
    outs: list  # [Value]
    eqns: list = field(default_factory=list)  # top-level indices of the equations it emitted
    nested_eqns: int = 0  # equations it emitted into sub-jaxprs


def to_dict(step):
    return asdict(step)
