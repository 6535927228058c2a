"""Ahead-of-time stages, as in JAX: ``jit(f).trace(x)`` -> ``Traced``, ``.lower()`` ->
``Lowered``, ``.compile()`` -> ``Compiled``. Each stage keeps its provenance (which
function, which input avals, which stage it came from) so it can be inspected.

These are the very objects a jit call caches and runs (``engine/jit.py``): the
``Traced`` of ``jit(f).trace(x)`` is the one ``jit(f)(x)`` traced, ``.lower()`` and
``.compile()`` fill the same cache entry, so donation, compiler options and static
arguments mean the same whichever way a program is compiled."""

from __future__ import annotations

import collections
import math
import os
import shutil
import tempfile
import warnings
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import dispatch, runtime, tree_util
from .array import Array
from .core import ClosedJaxpr, Jaxpr
from .interpreters import lowering
from .interpreters.partial_eval import dce_eqns, nested_eqn_indices
from .interpreters.tracing import convert_constvars_to_invars
from .sharding import spmd
from .sharding.arrays import wrap
from .sharding.constraint import lowering_for_mesh
from .sharding.jit_shardings import (
    SpmdTarget,
    check_compiled_shardings,
    input_shardings,
    output_shardings,
    place,
    single_device_shardings,
)


class Traced:
    """A function traced for one signature: ``jaxpr`` (a ClosedJaxpr), ``in_avals``,
    ``in_tree``/``out_tree``, the ``static`` arguments and the ``device`` it will run
    on. ``lower()`` gives (and caches) its ``Lowered``."""

    def __init__(
        self,
        fun_name: str,
        closed: Any,
        in_tree: Any,
        out_tree: Any,
        static: tuple,
        avals: tuple,
        device: Any,
        options: Any,
    ) -> None:
        self.fun_name = fun_name
        self.jaxpr = closed
        self.in_tree, self.out_tree = in_tree, out_tree
        self.static, self.in_avals = static, avals
        self.device = device
        self._options = options  # the jit wrapper's options (no reference to the function)
        self._owner = None  # the jit cache that made it, and its entry there
        self._entry = None

    @property
    def out_avals(self) -> list:
        return self.jaxpr.out_avals

    @property
    def donate_argnums(self) -> tuple:
        return self._options.donate_argnums

    def __repr__(self):
        return f"Traced({self.fun_name}, in_avals={[a.str_short() for a in self.in_avals]})"

    def lower(self) -> Lowered:
        """The StableHLO module of this jaxpr (made once per cache entry)."""
        if self._owner is not None:
            return self._owner.lower(self._entry)
        return Lowered(self, self._options.donated_leaves(self.static, self.in_tree))


class Lowered:
    """The StableHLO module of a ``Traced``, with donated arguments marked as buffer
    donors. ``compile()`` gives (and caches) its ``Compiled``.

    As JAX's (``keep_unused=False``), the module computes the jaxpr with its dead code
    removed and takes only the closed-over consts and arguments left in use:
    ``kept_var_idx`` lists the dynamic leaves it takes (``None``: all of them)."""

    def __init__(self, traced: Traced, donated: tuple = ()) -> None:
        self.traced = traced
        self.fun_name = traced.fun_name
        # As JAX (``jax_use_simplified_jaxpr_constants=False``), closed-over consts are
        # embedded in @main as stablehlo.constant, not passed as arguments; dead-code
        # elimination drops those nothing reads, and the arguments likewise.
        closed, used, where = _prune_keeping_consts(traced.jaxpr, traced._options.keep_unused)
        eqn_indices = None if where is None else where.top
        self.kept_var_idx: tuple | None = None
        if used is not None:
            self.kept_var_idx = tuple(i for i, u in enumerate(used) if u)
            new_pos = {i: k for k, i in enumerate(self.kept_var_idx)}
            # an unused donated argument is not in the module, and not donated
            self.donated = tuple(new_pos[i] for i in donated if i in new_pos)
        else:
            self.donated = tuple(donated)
        self._closed = closed
        # the traced jaxpr's top-level equations removed as dead code (they have no ops)
        self.dead_eqn_indices: frozenset[int] = (
            frozenset()
            if eqn_indices is None
            else frozenset(range(len(traced.jaxpr.jaxpr.eqns))) - set(eqn_indices)
        )
        target = traced.device
        donors, aliases = self.donated, None
        if type(target) is not SpmdTarget and donors:
            donors, aliases = _plan_donations(closed.in_avals, donors, closed.out_avals)
        with lowering_for_mesh(target.mesh if type(target) is SpmdTarget else None):
            module, ctx, info = lowering.lower_jaxpr_with_info(
                closed,
                traced.fun_name,
                runtime.platform_of(target),
                donated=donors,
                result_names=_result_names(traced.out_tree),
                eqn_indices=eqn_indices,
                sub_eqn_indices=None if where is None else where.nested,
                aliases=aliases,
            )
        if type(target) is not SpmdTarget:
            lowering.mark_single_device(module)
        if type(target) is SpmdTarget:  # partitioned: the mesh and shardings, as Shardy's
            in_specs = [
                None if target.unspecified[i] else target.in_shardings[i].spec
                for i in (
                    range(len(target.in_shardings))
                    if self.kept_var_idx is None
                    else self.kept_var_idx
                )
            ]
            out_specs = target.out_specs(traced.out_tree, closed.out_avals)
            spmd.annotate_module(
                module,
                target.mesh,
                in_specs,
                [len(a.shape) for a in closed.in_avals],
                out_specs,
                [len(a.shape) for a in closed.out_avals],
            )
        _lower_memory_kinds(module, closed, traced, self.kept_var_idx)
        layouts = traced._options.layouts
        self.layouts: tuple | None = None  # (per dynamic leaf, per result) from Formats
        if layouts is not None:
            from .experimental.layout import jit_layouts, layout_modes, set_layout_modes

            ins, outs = jit_layouts(layouts, traced.in_tree, len(traced.in_avals), traced.out_tree)
            self.layouts = (ins, outs)
            kept = range(len(ins)) if self.kept_var_idx is None else self.kept_var_idx
            in_modes, out_modes = layout_modes(
                [ins[i] for i in kept], closed.in_avals, outs, closed.out_avals
            )
            set_layout_modes(module, in_modes, out_modes)
        self._module, self._ctx = module, ctx
        # eqn path -> the StableHLO ops it produced, and its source info (data for views)
        self.lowering_info: lowering.LoweringInfo = info
        self._mlir_text: str | None = None

    @property
    def mlir_text(self) -> str:
        """The StableHLO module with source locations (what is compiled)."""
        text = self._mlir_text
        if text is None:
            text = self._mlir_text = lowering.module_to_text(self._module, debug_info=True)
        return text

    def as_text(self, dialect: str = "stablehlo", debug_info: bool = False) -> str:
        """The StableHLO module (``debug_info=True`` keeps source locations), or the
        pre-optimization XLA HLO with ``dialect="hlo"``."""
        if dialect == "stablehlo":
            return lowering.module_to_text(self._module, debug_info=debug_info)
        if dialect == "hlo":
            return runtime.mlir_to_hlo_text(self.mlir_text)
        raise ValueError(f"unknown dialect {dialect!r}; use 'stablehlo' or 'hlo'")

    def compiler_ir(self, dialect: str = "stablehlo") -> Any:
        return self._module if dialect == "stablehlo" else self.as_text("hlo")

    def compile(
        self,
        compiler_options: dict[str, Any] | None = None,
        dump_passes: bool = False,
        dump_dir: str | None = None,
    ) -> Compiled:
        """Compile with XLA, with the jit's ``compiler_options`` updated by these (XLA
        debug options by name); cached per options, and shared with the jit's calls.
        ``dump_passes=True`` keeps XLA's module after every optimization pass in
        ``Compiled.dump_dir`` (read by the fusion stepper); such compiles are not cached."""
        owner = self.traced._owner
        if owner is not None:
            return owner.compile(self.traced._entry, compiler_options, dump_passes, dump_dir)
        return compile_lowered(self, compiler_options, dump_passes, dump_dir)


def _lower_memory_kinds(module: Any, closed: Any, traced: Traced, kept: Any) -> None:
    """JAX's ``mhlo.memory_kind`` attributes, where some input, output or transfer in
    the program is in a memory other than the device's (engine/sharding/placement.py)."""
    from .sharding.placement import module_memory_kinds

    target, out_tree = traced.device, traced.out_tree
    if type(target) is SpmdTarget:
        in_kinds, out_given = target.memory_kinds(out_tree, kept)
    else:
        in_kinds, out_given = [None] * len(closed.in_avals), [None] * len(closed.out_avals)
        layouts = traced._options.layouts
        if layouts is not None and (layouts.out_kinds or layouts.in_kinds) is not None:
            from .experimental.layout import jit_in_kinds, jit_out_kinds

            out_given = jit_out_kinds(layouts, out_tree)
            ins = jit_in_kinds(layouts, traced.in_tree, len(traced.in_avals))
            in_kinds = ins if kept is None else [ins[i] for i in kept]
            spmd.annotate_empty_mesh(  # (JAX's annotations of the given one-device shardings)
                module,
                [k is not None for k in in_kinds],
                [len(a.shape) for a in closed.in_avals],
                [k is not None for k in out_given],
                [len(a.shape) for a in closed.out_avals],
            )
    kinds = module_memory_kinds(closed, in_kinds, out_given)
    if kinds is not None:
        spmd.set_memory_kinds(module, *kinds)


def prune_unused(closed: ClosedJaxpr, keep_unused: bool) -> tuple[ClosedJaxpr, Any, Any]:
    """JAX's dead-code elimination before lowering (``pe.dce_jaxpr``; equations with
    effects stay; nested jit/cond/scan/remat/custom calls pruned by their DCE rules, so
    an argument only dead code inside them reads goes too): (the jaxpr left, which
    inputs it reads, ``EqnIndices``), or (``closed``, None, None) when nothing goes.
    ``closed`` has no constvars (they are its first inputs). Nothing is pruned under
    ``keep_unused``, nor from a program with symbolic shapes (as JAX)."""
    jaxpr = closed.jaxpr
    if keep_unused or not all(
        isinstance(d, (int, np.integer)) for a in closed.in_avals for d in a.shape
    ):
        return closed, None, None
    eqns = jaxpr.eqns
    kept, live, indices = dce_eqns(eqns, jaxpr.outvars)
    used_inputs = [v in live for v in jaxpr.invars]
    if len(kept) == len(eqns) and all(used_inputs) and all(e is o for e, o in zip(kept, eqns)):
        return closed, None, None
    pruned = Jaxpr(
        [],
        [v for v, u in zip(jaxpr.invars, used_inputs) if u],
        jaxpr.outvars,
        kept,
        jaxpr.debug_name,
    )
    nested: dict = {}
    for i, e in zip(indices, kept):
        if e is not eqns[i]:
            nested.update(nested_eqn_indices(eqns[i], e))
    where = EqnIndices(None if len(kept) == len(eqns) else tuple(indices), nested)
    return ClosedJaxpr(pruned, []), (None if all(used_inputs) else used_inputs), where


def _prune_keeping_consts(closed: ClosedJaxpr, keep_unused: bool) -> tuple[ClosedJaxpr, Any, Any]:
    """``prune_unused`` for a jaxpr that keeps its consts (JAX's ``_dce_jaxpr``, which
    drops the consts and arguments nothing reads): (the jaxpr left, with the consts it
    still reads, which arguments it reads (None: all), ``EqnIndices``)."""
    flat, consts = convert_constvars_to_invars(closed)
    pruned, used, where = prune_unused(flat, keep_unused)
    if pruned is flat:
        return closed, None, None
    nc = len(consts)
    if used is None:
        kept_consts, used_args = consts, None
    else:
        kept_consts = [c for c, u in zip(consts, used[:nc]) if u]
        used_args = used[nc:]
        if all(used_args):
            used_args = None
    j, nk = pruned.jaxpr, len(kept_consts)
    jaxpr = Jaxpr(j.invars[:nk], j.invars[nk:], j.outvars, j.eqns, j.debug_name)
    return ClosedJaxpr(jaxpr, kept_consts), used_args, where


class EqnIndices:
    """Where the equations of a pruned jaxpr were in the traced one, so that lowering
    tags their ops with the traced jaxpr's paths: ``top``, each top-level equation's
    index (None: none went); ``nested``, per sub-jaxpr that lost equations, its
    equations' indices in the original sub-jaxpr."""

    __slots__ = ("top", "nested")

    def __init__(self, top: tuple[int, ...] | None, nested: dict) -> None:
        self.top, self.nested = top, nested


def _plan_donations(in_avals, donated, out_avals) -> tuple[tuple, dict]:
    """JAX's donation plan for a program on one device: each result, in order, is
    aliased to the first donated argument of its shape and dtype left (``aliases``:
    argument -> result); the other donated arguments stay donors where a result not
    aliased has their element count. Returns (the donors, ``aliases``); warns (JAX's
    warning, once per lowering) for the donated arguments no result can reuse."""
    key = lambda a: (tuple(a.shape), np.dtype(a.dtype))  # noqa: E731
    waiting: dict = collections.defaultdict(collections.deque)
    for i in donated:
        waiting[key(in_avals[i])].append(i)
    aliases: dict[int, int] = {}
    free_size: collections.Counter[int] = collections.Counter()
    for r, a in enumerate(out_avals):
        if waiting[key(a)]:
            aliases[waiting[key(a)].popleft()] = r
        else:
            free_size[math.prod(a.shape)] += 1
    donors, unusable = [], []
    for i in donated:
        shape, dtype = key(in_avals[i])
        if i in aliases:
            donors.append(i)
        elif free_size[math.prod(shape)]:
            free_size[math.prod(shape)] -= 1
            donors.append(i)
        else:
            unusable.append(f"{dtype.name}[{','.join(map(str, shape))}]")
    if unusable:
        warnings.warn(
            f"Some donated buffers were not usable: {', '.join(unusable)}.\n"
            "See an explanation at https://docs.jax.dev/en/latest/faq.html#buffer-donation.",
            stacklevel=2,
        )
    return tuple(donors), aliases


def _result_names(out_tree: Any) -> list[str]:
    """JAX's ``jax.result_info`` of each result: "result" and the leaf's key path."""
    marks = [object() for _ in range(out_tree.num_leaves)]
    tree = tree_util.tree_unflatten(out_tree, marks)
    return ["result" + tree_util.keystr(p) for p, _ in tree_util.tree_flatten_with_path(tree)[0]]


def compile_lowered(
    lowered: Lowered,
    compiler_options: dict[str, Any] | None = None,
    dump_passes: bool = False,
    dump_dir: str | None = None,
) -> Compiled:
    """XLA-compile a ``Lowered`` (uncached; the jit cache calls this on a miss)."""
    made_dir = None
    if dump_passes and dump_dir is None:
        dump_dir = made_dir = tempfile.mkdtemp(prefix=f"glassjax_{lowered.fun_name}_")
    device = lowered.traced.device
    exe = dispatch.compile_text(
        lowered.mlir_text,
        device.group if type(device) is SpmdTarget else device,
        lowered._closed.out_avals,
        options=compiler_options,
        dump_dir=dump_dir,
    )
    compiled = Compiled(lowered, exe, dump_dir)
    if made_dir is not None:  # a dump folder we made goes away with the Compiled object
        weakref.finalize(compiled, shutil.rmtree, made_dir, True)
    return compiled


def _tree_mismatch(fun_name: str, want: Any, got: Any) -> str:
    return (
        f"Function compiled with input pytree does not match the input pytree it was "
        f"called with: Compiled {fun_name} was compiled for argument structure {want}, got "
        f"{got}"
    )


class Compiled:
    """An XLA executable for one signature; call it with arguments of that signature."""

    def __init__(self, lowered: Lowered, exe: Any, dump_dir: str | None = None) -> None:
        self.lowered = lowered
        self.fun_name = lowered.fun_name
        self._exe = exe
        self.dump_dir = dump_dir
        self.compile_seconds = 0.0
        # read from the persistent compilation cache (engine/compilation_cache.py)
        self.loaded_from_cache: bool = bool(getattr(exe, "loaded_from_cache", False))
        t = lowered.traced
        self._in_shardings: list | None = None
        kept = lowered.kept_var_idx
        if type(t.device) is SpmdTarget:  # what XLA chose where inputs were unspecified
            self._in_shardings = input_shardings(t.device, exe, lowered._closed.in_avals)
            if kept is not None:  # an argument not in the module has none (JAX's None)
                leaves: list = [None] * len(t.in_avals)
                for i, s in zip(kept, self._in_shardings):
                    leaves[i] = s
                self._in_shardings = leaves
        # the consts are in the module: the call paths (engine/jit*.py) pass none
        self._const_bufs: list = []
        self.out_avals = lowered._closed.out_avals
        self._execute, self._handlers = exe.fast_call_parts()
        # the call paths' check for deleted (e.g. donated) inputs, before PJRT sees them:
        # only the arguments in the module count (JAX runs with a deleted unused one)
        self._check_deleted: Callable[[Any], None] = dispatch.check_not_deleted
        if kept is not None:
            check_kept = dispatch.check_not_deleted

            def check_deleted_kept(args: Any) -> None:
                check_kept([args[i] for i in kept])

            self._check_deleted = check_deleted_kept
            # Every call path hands every dynamic leaf's buffer to ``_execute``; the
            # module's are picked by one index tuple made here, once.
            picks = tuple(kept)
            run = self._execute

            def execute_kept(bufs: list) -> Any:
                return run([bufs[i] for i in picks])

            self._execute = execute_kept
        self._out_shardings: list | None = None

    # -- shardings
    def _output_sharding_leaves(self) -> list:
        leaves = self._out_shardings
        if leaves is None:
            t = self.lowered.traced
            if type(t.device) is SpmdTarget:
                leaves = output_shardings(t.device, self._exe, self.out_avals)
            else:
                leaves = single_device_shardings(t.device, len(self.out_avals))
            self._out_shardings = leaves
        return leaves

    @property
    def input_shardings(self) -> Any:
        """The sharding of each argument, as ``(args, kwargs)`` like JAX's."""
        t = self.lowered.traced
        if type(t.device) is SpmdTarget:
            leaves = list(self._in_shardings or ())
        else:
            leaves = single_device_shardings(t.device, len(t.in_avals))
            kept = self.lowered.kept_var_idx
            if kept is not None:  # an argument not in the module has none, as in JAX
                leaves = [s if i in kept else None for i, s in enumerate(leaves)]
        return tree_util.tree_unflatten(t.in_tree, leaves)

    @property
    def input_formats(self) -> Any:
        """The Format (layout and sharding) of each argument, as ``(args, kwargs)``."""
        from .experimental.layout import compiled_formats

        t = self.lowered.traced
        shardings = tree_util.tree_leaves(self.input_shardings, is_leaf=lambda s: s is None)
        idx = self.lowered.kept_var_idx
        kept: Sequence[int] = range(len(t.in_avals)) if idx is None else idx
        formats = compiled_formats(self._exe, [shardings[i] for i in kept], inputs=True)
        leaves: list = [None] * len(t.in_avals)
        for i, f in zip(kept, formats):
            leaves[i] = f
        return tree_util.tree_unflatten(t.in_tree, leaves)

    @property
    def output_formats(self) -> Any:
        """The Format (layout and sharding) of each output."""
        from .experimental.layout import compiled_formats

        t = self.lowered.traced
        leaves = compiled_formats(self._exe, self._output_sharding_leaves(), inputs=False)
        return tree_util.tree_unflatten(t.out_tree, leaves)

    @property
    def output_shardings(self) -> Any:
        """The sharding of each output (what XLA's partitioner chose where not given)."""
        t = self.lowered.traced
        return tree_util.tree_unflatten(t.out_tree, self._output_sharding_leaves())

    def _run_bufs(self, bufs: list) -> list:
        """Run on every dynamic leaf's buffer."""
        return self._execute(bufs).consume_with_handlers(self._handlers)

    def _run_partitioned(self, flat: list) -> Any:
        """Run over the mesh: inputs moved to their layouts where they are not in it."""
        t = self.lowered.traced
        target = t.device
        bufs = [
            None if s is None else place(x, s, target.group)  # None: not in the module
            for x, s in zip(flat, self._in_shardings or ())
        ]
        outs = dispatch.execute(self._run_bufs, flat, bufs, self._check_deleted)
        return tree_util.tree_unflatten(
            t.out_tree,
            [
                wrap(b, a, target.group, s)
                for b, a, s in zip(outs, self.out_avals, self._output_sharding_leaves())
            ],
        )

    def as_text(self) -> str:
        """XLA's optimized HLO, with its fusions."""
        return self._exe.hlo_text()

    def cost_analysis(self) -> dict:
        """XLA's estimate of flops, transcendentals and bytes accessed."""
        return self._exe.cost_analysis()

    def memory_analysis(self) -> Any:
        return self._exe.memory_analysis()

    def dump_files(self) -> list[str]:
        if not self.dump_dir:
            return []
        return sorted(os.listdir(self.dump_dir))

    def _dynamic_leaves(self, t: Traced, args: tuple, kwargs: dict) -> tuple[list, Any]:
        """The call's array leaves. As JAX, a Compiled takes the dynamic arguments only
        (static ones were fixed when tracing); the full argument list with the same static
        values is accepted too."""
        flat, in_tree = tree_util.tree_flatten((args, kwargs))
        if in_tree == t.in_tree or not t.static:
            if in_tree != t.in_tree:
                raise TypeError(_tree_mismatch(self.fun_name, t.in_tree, in_tree))
            return flat, in_tree
        static, dyn_args, dyn_kwargs = t._options.split(args, kwargs)
        flat, in_tree = tree_util.tree_flatten((dyn_args, dyn_kwargs))
        if in_tree != t.in_tree:
            raise TypeError(_tree_mismatch(self.fun_name, t.in_tree, in_tree))
        if static != t.static:
            raise TypeError(
                f"Compiled {self.fun_name} was compiled for static arguments "
                f"{[(k, v.value) for k, v in t.static]}, got {[(k, v.value) for k, v in static]}; "
                "call it with the dynamic arguments only, or trace again"
            )
        return flat, in_tree

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        t = self.lowered.traced
        flat, in_tree = self._dynamic_leaves(t, args, kwargs)
        avals = tuple(getattr(x, "aval", None) or dispatch.core.get_aval(x) for x in flat)
        if [(a.shape, a.dtype) for a in avals] != [(a.shape, a.dtype) for a in t.in_avals]:
            raise TypeError(
                "Argument types differ from the types for which this computation was "
                f"compiled: {self.fun_name} was compiled for argument types "
                f"{[a.str_short() for a in t.in_avals]}, got {[a.str_short() for a in avals]}"
            )
        device = t.device
        if self.lowered.layouts is not None:  # (jit was given Formats) as JAX checks
            from .experimental.layout import check_layouts

            formats = tree_util.tree_leaves(self.input_formats, is_leaf=lambda f: f is None)
            # (only the arguments jit was given a layout for: the others PJRT lays out)
            formats = [
                f if lay is not None else None for f, lay in zip(formats, self.lowered.layouts[0])
            ]
            names = getattr(t, "_arg_names", None)
            flat = check_layouts(flat, avals, formats, names)
        if type(device) is SpmdTarget:
            required = [  # an argument not in the module may come in any layout
                getattr(x, "sharding", None) if s is None else s
                for x, s in zip(flat, self._in_shardings or ())
            ]
            check_compiled_shardings(self.fun_name, flat, avals, required)
            return self._run_partitioned(flat)
        outs = dispatch.execute(
            self._run_bufs,
            flat,
            dispatch._buffers(flat, device),
            self._check_deleted,
        )
        return tree_util.tree_unflatten(
            t.out_tree, [Array(b, a, device) for b, a in zip(outs, self.out_avals)]
        )
