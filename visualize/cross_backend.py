"""One function's optimized HLO and fusions on every backend present, side by side.

    m = cross_backend_model(f, x)       # compiles f for cpu, and gpu / tpu where present
    [c.backend for c in m.columns]      # ['cpu'] here; ['cpu', 'gpu'] on a GPU machine
    m.missing                           # {'gpu': "Backend 'gpu' is not available; ...", ...}
    m.columns[0].fusions                # each fusion: name, kind, ops, jaxpr equations
    m.equation_rows()                   # which kernel holds each jaxpr equation, per backend
    html = cross_backend_html(m)        # the columns, the equation table, the HLO texts

Everything comes from public stage objects: ``engine.devices(backend)`` says whether a
backend is there; ``engine.jit(f).lower(*args).compile()``, with the arguments put on
that backend's first device (``engine.device_put``, as JAX advises in place of its
deprecated ``jit(backend=)``), compiles for it; ``Compiled.as_text()`` and
``cost_analysis()`` are XLA's own outputs (parsed with ``visualize.hlo_model``). On the
default backend that is the very program a call of ``f`` compiled (no second one). Equations are matched across backends by the ``op_name`` that
lowering writes into every instruction's metadata (``tanh.eqn0``).
"""

from __future__ import annotations

import dataclasses
import html
import itertools
from typing import Any

import engine
from engine.jit import JitFunction

from .hlo_model import HloInstruction, HloModule, parse_hlo_module

# The backends JAX names (jax.devices(backend)); a GPU plugin is 'cuda' or 'rocm'.
KNOWN_BACKENDS = ("cpu", "gpu", "tpu")
_ALIASES = {"cuda": "gpu", "rocm": "gpu"}
# Control flow calls computations that hold kernels of their own: a kernel inside a
# loop body is named for itself, not for the loop.
_OWN_KERNELS = {"while", "conditional", "call", "async-start", "custom-call"}
_NOT_WORK = {"parameter", "constant", "tuple", "get-tuple-element", "bitcast"}
_uids = itertools.count()


@dataclasses.dataclass
class FusionSummary:
    name: str
    kind: str | None  # kLoop, kInput, kOutput, kCustom
    ops: list[str]  # opcodes computed inside, in printed order (parameters left out)
    equations: list[str]  # jaxpr equations (op_name) whose work it holds


@dataclasses.dataclass
class BackendColumn:
    backend: str  # 'cpu', 'gpu' or 'tpu'
    platform: str  # the device's platform ('cpu', 'cuda', 'rocm', 'tpu')
    device_kind: str
    device_count: int
    hlo_text: str
    module: HloModule
    fusions: list[FusionSummary]
    kernels: list[str]  # the entry computation's instructions that do work
    placement: dict[str, list[str]]  # op_name -> kernels holding its work
    cost: dict[str, float]

    @property
    def fusion_names(self) -> list[str]:
        return [f.name for f in self.fusions]


@dataclasses.dataclass
class CrossBackendModel:
    name: str
    signature: str
    columns: list[BackendColumn]
    missing: dict[str, str]  # backend -> why it is not here

    @property
    def backends(self) -> list[str]:
        return [c.backend for c in self.columns]

    def column(self, backend: str) -> BackendColumn:
        for c in self.columns:
            if c.backend == backend:
                return c
        raise KeyError(f"no column for backend {backend!r}; the columns are {self.backends}")

    def missing_message(self) -> str:
        """One line naming the backends that were not found (empty if none)."""
        if not self.missing:
            return ""
        return "Not found: " + "; ".join(f"{b} ({why})" for b, why in self.missing.items())

    def equation_rows(self) -> list[tuple[str, dict[str, list[str]]]]:
        """(op_name, {backend: kernels}) for every jaxpr equation any column places, in
        the order of the equations' numbers, then first appearance."""
        names: list[str] = []
        for col in self.columns:
            names.extend(n for n in col.placement if n not in names)
        order = {n: i for i, n in enumerate(names)}
        names.sort(key=lambda n: (_eqn_number(n), order[n]))
        return [(n, {c.backend: c.placement.get(n, []) for c in self.columns}) for n in names]

    def _repr_html_(self) -> str:
        return cross_backend_html(self)


def _eqn_number(op_name: str) -> float:
    tail = op_name.split("/")[0].rpartition(".eqn")[2]
    digits = tail.split("_")[0]
    return int(digits) if digits.isdigit() else float("inf")


def _canonical_backend(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"a backend is named by a string such as 'cpu' or 'gpu', not {name!r}")
    b = _ALIASES.get(name.lower(), name.lower())
    if b not in KNOWN_BACKENDS:
        # JAX's class and phrase for a backend name it does not know (jax.devices('x'))
        raise RuntimeError(
            f"Unknown backend {name!r}; the cross-backend view compares "
            f"{', '.join(KNOWN_BACKENDS)} (cuda and rocm mean gpu)"
        )
    return b


def _kernel_of(module: HloModule, ins: HloInstruction) -> HloInstruction:
    """The instruction of a non-fused computation whose kernel runs ``ins``'s work."""
    seen = set()
    while True:
        comp = module.computations.get(ins.computation)
        if comp is None or comp.is_entry or not comp.callers or comp.name in seen:
            return ins
        seen.add(comp.name)
        caller = module.instruction(comp.callers[0])
        if not comp.is_fusion and caller.opcode in _OWN_KERNELS:
            return ins
        ins = caller


def _summaries(module: HloModule) -> list[FusionSummary]:
    out = []
    for fusion in module.fusions():
        ops, eqns = [], []
        for comp_name in module.called_closure(fusion):
            for ins in module.computations[comp_name].instructions:
                if ins.opcode != "parameter":
                    ops.append(ins.opcode)
                op_name = ins.metadata.op_name
                if op_name and op_name not in eqns:
                    eqns.append(op_name)
        out.append(FusionSummary(fusion.name, fusion.fusion_kind, ops, eqns))
    return out


def _placement(module: HloModule) -> dict[str, list[str]]:
    placed: dict[str, list[str]] = {}
    for ins in module.instructions():
        op_name = ins.metadata.op_name
        if not op_name or ins.opcode == "parameter":
            continue
        kernel = _kernel_of(module, ins).name
        kernels = placed.setdefault(op_name, [])
        if kernel not in kernels:
            kernels.append(kernel)
    return placed


def _on_device(jitted: Any, args: tuple, kwargs: dict, device: Any) -> tuple[tuple, dict]:
    """The arguments committed to ``device`` (static ones as they are): the program is
    compiled for the device its arguments are on, as a call would be, so the default
    backend's column reuses the program a call already compiled."""
    nums = {i % len(args) for i in jitted.static_argnums} if args else set()
    names = set(jitted.static_argnames)
    placed = tuple(a if i in nums else engine.device_put(a, device) for i, a in enumerate(args))
    placed_kw = {k: v if k in names else engine.device_put(v, device) for k, v in kwargs.items()}
    return placed, placed_kw


def _column(backend: str, jitted: Any, args: tuple, kwargs: dict) -> BackendColumn:
    devices = engine.devices(backend)
    args, kwargs = _on_device(jitted, args, kwargs, devices[0])
    compiled = jitted.lower(*args, **kwargs).compile()
    text = compiled.as_text()
    module = parse_hlo_module(text)
    try:
        cost = {k: float(v) for k, v in (compiled.cost_analysis() or {}).items()}
    except Exception:  # some plugins do not implement cost analysis
        cost = {}
    kernels = [i.name for i in (module.entry or []) if i.opcode not in _NOT_WORK]
    return BackendColumn(
        backend=backend,
        platform=devices[0].platform,
        device_kind=getattr(devices[0], "device_kind", "") or "",
        device_count=len(devices),
        hlo_text=text,
        module=module,
        fusions=_summaries(module),
        kernels=kernels,
        placement=_placement(module),
        cost=cost,
    )


def cross_backend_model(
    f: Any,
    *args: Any,
    backends: tuple[str, ...] | list[str] = KNOWN_BACKENDS,
    static_argnums: int | tuple[int, ...] = (),
    static_argnames: str | tuple[str, ...] = (),
    **kwargs: Any,
) -> CrossBackendModel:
    """Compile ``f`` at ``args`` for each of ``backends`` that is present (CPU always is)
    and collect each one's optimized HLO, fusions and cost analysis. A backend that is
    not present gets no column; ``missing`` says why (the engine's own message)."""
    if not callable(f):
        raise TypeError(f"cross_backend_model expects a function, got {type(f).__name__}")
    wanted: list[str] = []
    for b in backends:
        c = _canonical_backend(b)
        if c not in wanted:
            wanted.append(c)
    if not wanted:
        raise ValueError("cross_backend_model needs at least one backend")
    if isinstance(f, JitFunction):  # its own static arguments and options
        if static_argnums or static_argnames:
            raise TypeError(
                "cross_backend_model of a jitted function takes its static arguments from "
                "the function's own jit; pass static_argnums/static_argnames to jit instead"
            )
        jitted = f
    else:
        jitted = engine.jit(f, static_argnums=static_argnums, static_argnames=static_argnames)
    columns, missing = [], {}
    for b in wanted:
        try:
            engine.devices(b)
        except RuntimeError as err:
            missing[b] = str(err)
            continue
        columns.append(_column(b, jitted, args, kwargs))
    name = getattr(f, "__name__", None) or type(f).__name__
    nums = {i % len(args) for i in jitted.static_argnums} if args else set()
    dynamic = [a for i, a in enumerate(args) if i not in nums]
    avals = [engine.core.get_aval(a) for a in engine.tree_util.tree_leaves(dynamic)]
    signature = "(" + ", ".join(a.str_short() for a in avals) + ")"
    return CrossBackendModel(name, signature, columns, missing)


# ---------------------------------------------------------------------------- HTML

CROSS_BACKEND_CSS = """
.gjcb { font-family: var(--jp-ui-font-family, system-ui, sans-serif); font-size: 13px;
  color: var(--jp-content-font-color1, #1f2328); }
.gjcb code, .gjcb pre { font-family: var(--jp-code-font-family, monospace);
  font-size: var(--jp-code-font-size, 12px); }
.gjcb-title { font-weight: 600; margin-bottom: 4px; }
.gjcb-missing { border-left: 4px solid var(--jp-warn-color1, #bf8700); padding: 4px 8px;
  margin: 4px 0; background: var(--jp-layout-color2, #f6f8fa); }
.gjcb-cols { display: grid; gap: 8px; grid-template-columns: repeat(var(--gjcb-n, 1),
  minmax(0, 1fr)); }
.gjcb-col { border: 1px solid var(--jp-border-color2, #d1d9e0); border-radius: 4px;
  padding: 6px; min-width: 0; }
.gjcb-head { font-weight: 600; }
.gjcb-muted { color: var(--jp-content-font-color2, #59636e); }
.gjcb-fusion { margin: 4px 0; }
.gjcb-fusion code { font-weight: 600; }
.gjcb-chip { display: inline-block; padding: 0 5px; margin: 1px 2px; border-radius: 8px;
  border: 1px solid var(--jp-border-color2, #d1d9e0); font-size: 11px; }
.gjcb-hlo { max-height: 320px; overflow: auto; margin: 4px 0 0; padding: 4px 6px;
  white-space: pre; background: var(--jp-cell-editor-background, #f6f8fa);
  color: var(--jp-content-font-color1, #1f2328);
  border: 1px solid var(--jp-border-color2, #d1d9e0); }
.gjcb-table { border-collapse: collapse; margin: 6px 0; }
.gjcb-table th, .gjcb-table td { padding: 2px 8px; text-align: left; vertical-align: top;
  border-bottom: 1px solid var(--jp-border-color2, #d1d9e0); }
.gjcb-table th { color: var(--jp-content-font-color2, #59636e); }
"""


def _e(s: Any) -> str:
    return html.escape(str(s), quote=True)


def _column_html(col: BackendColumn) -> str:
    shown_kind = col.device_kind.lower() not in ("", col.platform.lower())
    kind = f" \u2014 {_e(col.device_kind)}" if shown_kind else ""
    count = f"{col.device_count} device{'' if col.device_count == 1 else 's'}"
    cost = ", ".join(
        f"{k} {v:g}"
        for k, v in col.cost.items()
        if k in ("flops", "transcendentals", "bytes accessed")
    )
    fusions = "".join(
        f'<div class="gjcb-fusion"><code>{_e(fu.name)}</code> '
        f'<span class="gjcb-muted">{_e(fu.kind or "")}</span><br>'
        + "".join(f'<span class="gjcb-chip">{_e(e)}</span>' for e in fu.equations)
        + "</div>"
        for fu in col.fusions
    )
    if not col.fusions:
        fusions = '<div class="gjcb-muted">no fusions</div>'
    return (
        f'<div class="gjcb-col" data-backend="{_e(col.backend)}">'
        f'<div class="gjcb-head">{_e(col.backend)} <span class="gjcb-muted">'
        f"({_e(col.platform)}{kind}, {count})</span></div>"
        f'<div class="gjcb-muted">{len(col.kernels)} kernel{"" if len(col.kernels) == 1 else "s"} '
        "in the entry computation, "
        f"{len(col.fusions)} fusion{'' if len(col.fusions) == 1 else 's'}"
        f"{'; ' + _e(cost) if cost else ''}</div>"
        f"{fusions}"
        f"<details open><summary>optimized HLO</summary>"
        f'<pre class="gjcb-hlo">{_e(col.hlo_text)}</pre></details></div>'
    )


def cross_backend_html(model: CrossBackendModel, *, styles: bool = True) -> str:
    """The model as self-contained HTML: one column per backend present (header, fusions
    with the jaxpr equations they hold, optimized HLO), a note naming the backends not
    found, and a table of which kernel holds each equation on each backend."""
    uid = f"gjcb-{next(_uids)}"
    missing = model.missing_message()
    note = f'<div class="gjcb-missing">{_e(missing)}</div>' if missing else ""
    head = "".join(f"<th>{_e(b)}</th>" for b in model.backends)
    rows = "".join(
        f"<tr><td><code>{_e(name)}</code></td>"
        + "".join(f"<td><code>{_e(', '.join(where[b]) or '-')}</code></td>" for b in where)
        + "</tr>"
        for name, where in model.equation_rows()
    )
    table = (
        f'<table class="gjcb-table"><tr><th>jaxpr equation</th>{head}</tr>{rows}</table>'
        if rows
        else ""
    )
    cols = "".join(_column_html(c) for c in model.columns)
    style = f"<style>{CROSS_BACKEND_CSS}</style>" if styles else ""
    return (
        f'{style}<div class="gjcb" id="{uid}">'
        f'<div class="gjcb-title">{_e(model.name)}{_e(model.signature)} on '
        f"{_e(', '.join(model.backends))}</div>{note}"
        f'<div class="gjcb-cols" style="--gjcb-n:{max(1, len(model.columns))}">{cols}</div>'
        f"{table}</div>"
    )
