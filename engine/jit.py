"""``jit``: trace once per input signature, compile with XLA, call the executable.

A jitted function called inside another transformation binds the ``jit`` primitive,
whose parameter is the traced jaxpr; its rules transform that jaxpr (JVP, partial
evaluation, transposition, batching) and lower it as a called function."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from . import core, dispatch, runtime, traceback_util, tree_util
from .array import Array
from .config import config
from .core import Primitive
from .interpreters import batching, lowering, tracing, transpose
from .interpreters import jaxpr_transforms as jt
from .interpreters import jvp as jvp_mod
from .interpreters import partial_eval as pe
from .interpreters.tracing import convert_constvars_to_invars
from .jit_arguments import call_avals
from .jit_cache import (  # noqa: F401 (re-exported)
    CacheEntryInfo,
    CacheInfo,
    Signature,
    cache_for,
    entry_results,
    run_entry,
    serial,
)
from .jit_keyed import MISS, NO_CALL, cache_buffers, call_keyed
from .jit_options import (
    Options,
    resolve_statics,
    try_signature,
    validate_options,
)
from .sharding.constraint import constraint_mesh
from .sharding.jit_shardings import ConstrainedProgram, constrained_target, resolve_target
from .stages import Lowered, Traced

jit_p = Primitive("jit", multiple_results=True)
jit_p.pp_params = lambda p: {"name": p["name"], "jaxpr": p["jaxpr"]}
jit_p.subjaxprs_rule = lambda p: (p["jaxpr"],)
jit_p.pp_alias_subjaxpr = True


def _refs():
    from .state import discharge

    return discharge


def bind_jit(args, jaxpr, name, donated=None, inline=False):
    donated = donated or (False,) * len(args)
    if inline:  # (the param only where set: equations built elsewhere lack it)
        return jit_p.bind(*args, jaxpr=jaxpr, name=name, donated_invars=tuple(donated), inline=True)
    return jit_p.bind(*args, jaxpr=jaxpr, name=name, donated_invars=tuple(donated))


def _stage_inline(args, params):
    """``jit(f, inline=True)`` staged into a jaxpr: the body's equations in the caller's
    jaxpr, no ``jit`` equation (JAX's pjit staging rule). Runs in the tracing trace's
    process_primitive, whose trace is the current one."""
    if not params.get("inline"):
        return None
    jaxpr = params["jaxpr"]
    return core.eval_jaxpr(jaxpr.jaxpr, jaxpr.consts, *args)


tracing.const_fold_rules[jit_p] = _stage_inline


def _tracer_consts_to_args(closed):
    """As JAX's jit: a jaxpr's constants stay in it (printed as its constvars) unless one
    is a tracer of an enclosing trace; then all of them become leading arguments.
    Returns (the jaxpr, the values to pass before the arguments)."""
    if closed.consts and any(isinstance(c, core.Tracer) for c in closed.consts):
        return convert_constvars_to_invars(closed)
    return closed, []


@jit_p.def_abstract_eval
def _jit_abstract_eval(*avals, jaxpr, **_):
    return jaxpr.out_avals


_jaxpr_exe_cache: weakref.WeakKeyDictionary[Any, dict] = weakref.WeakKeyDictionary()
# ClosedJaxpr (bound by a transformation) -> {device: executable}


@jit_p.def_impl
def _jit_impl(*args, jaxpr, name, donated_invars, inline=False):
    if _refs().closed_has_refs(jaxpr):  # array refs (engine/state): discharged first
        return _refs().jit_impl(args, jaxpr, name, donated_invars, bind_jit)
    device = dispatch._pick_device(args)
    per = _jaxpr_exe_cache.setdefault(jaxpr, {})
    exe = per.get(device)
    if exe is None:
        donated = tuple(i for i, d in enumerate(donated_invars) if d)
        mesh = constraint_mesh(jaxpr)
        if mesh is not None:  # it constrains shardings: compiled over that mesh
            exe = per[device] = ConstrainedProgram(jaxpr, mesh, name, donated)
        else:
            exe = per[device] = dispatch.compile_closed_jaxpr(jaxpr, device, name, donated)
    if type(exe) is ConstrainedProgram:
        return exe(args)
    return dispatch.run_executable(exe, jaxpr.out_avals, args, device)


def _jit_jvp(primals, tangents, jaxpr, name, donated_invars, inline=False):
    nonzeros = tuple(type(t) is not jvp_mod.Zero for t in tangents)
    # under grad, as JAX's jit linearization: tangents made without inputs are zeros
    lin = jvp_mod.linearizing()
    new, out_nz = jt.jvp_jaxpr(jaxpr, nonzeros, (False,) * len(jaxpr.out_avals), lin)
    new, consts = _tracer_consts_to_args(new)
    tans = [t for t in tangents if type(t) is not jvp_mod.Zero]
    outs = bind_jit(consts + list(primals) + tans, new, name, inline=inline)
    n = len(jaxpr.out_avals)
    touts = iter(outs[n:])
    return outs[:n], [
        next(touts) if nz else jvp_mod.Zero(jvp_mod.tangent_aval(a))
        for nz, a in zip(out_nz, jaxpr.out_avals)
    ]


jit_p.def_jvp(_jit_jvp)


@jt.memo_on_jaxpr
def _split_for_partial_eval(jaxpr, unknowns):
    """The known and unknown jaxprs of a jit call with these unknown inputs, with the
    forwarding JAX's pjit partial evaluation does. Memoized per jaxpr (as JAX's
    partial_eval_jaxpr_nounits_fwd): two calls of one jit share their jaxprs."""
    known_j, unknown_j, out_unknowns, nres = pe.partial_eval_jaxpr(jaxpr, unknowns)
    # residuals that are known inputs are passed from outside, not returned (JAX's _fwd)
    # (or constants of the jaxpr: JAX's in_fwd_res indexes [*consts, *known inputs])
    known_j, res_in = pe.forward_input_residuals(known_j, nres, jaxpr.consts)
    # known outputs that are known inputs are not returned either (input-to-output)
    n_primal = len(out_unknowns) - sum(out_unknowns)
    known_j, out_in = pe.forward_input_outputs(known_j, n_primal)
    # and residuals that are known outputs are returned once (out-to-out forwarding)
    n_known = n_primal - sum(f is not None for f in out_in)
    known_j, res_out = pe.forward_output_residuals(known_j, n_known)
    known_j, kconsts = _tracer_consts_to_args(known_j)
    return known_j, kconsts, unknown_j, out_unknowns, n_known, out_in, res_in, res_out


def _jit_partial_eval(trace, args, unknowns, params):
    jaxpr, name, inline = params["jaxpr"], params["name"], params.get("inline", False)
    split = _split_for_partial_eval(jaxpr, tuple(unknowns))
    known_j, kconsts, unknown_j, out_unknowns, n_known, out_in, res_in, res_out = split
    known_args = [x for x, u in zip(args, unknowns) if not u]
    with core.set_current_trace(trace.parent):
        known_outs = bind_jit(kconsts + known_args, known_j, name, inline=inline)
    it_kept = iter(known_outs[:n_known])
    known_vals = [next(it_kept) if f is None else known_args[f] for f in out_in]
    sources = [*jaxpr.consts, *known_args] if jaxpr.consts else known_args
    kept_vals, it_res, it_out_fwd = known_outs[:n_known], iter(known_outs[n_known:]), iter(res_out)
    residuals = []
    for f in res_in:
        o = None if f is not None else next(it_out_fwd)
        residuals.append(
            sources[f] if f is not None else kept_vals[o] if o is not None else next(it_res)
        )
    ins = [trace.instantiate_const(r) for r in residuals]
    ins += [trace.instantiate_const(x) for x, u in zip(args, unknowns) if u]
    if inline:  # its equations recorded one by one, as staging an inline jit does
        with core.set_current_trace(trace):
            unknown_outs = core.eval_jaxpr(unknown_j.jaxpr, unknown_j.consts, *ins)
    else:
        unknown_outs = trace.record(
            jit_p, ins, dict(jaxpr=unknown_j, name=name, donated_invars=(False,) * len(ins))
        )
    it_k, it_u = iter(known_vals), iter(unknown_outs)
    return [next(it_u) if u else next(it_k) for u in out_unknowns]


jit_p.partial_eval = _jit_partial_eval


def _jit_dce(used_outputs, eqn):
    """Outputs nothing reads leave the called jaxpr, with the inputs only they needed (as
    JAX's pjit DCE rule): a linearized call's unused tangents never reach its transpose,
    where their zero cotangents would meet the residuals (0 * nan = nan)."""
    if not any(used_outputs) and not pe.has_effects(eqn):
        return [False] * len(eqn.invars), None
    jaxpr, donated = eqn.params["jaxpr"], eqn.params["donated_invars"]
    body, used_in = pe.dce_jaxpr(jaxpr.jaxpr, used_outputs)
    params = dict(
        eqn.params,
        jaxpr=core.ClosedJaxpr(body, jaxpr.consts),
        donated_invars=tuple(d for d, u in zip(donated, used_in) if u),
    )
    new = eqn.replace(
        invars=[v for v, u in zip(eqn.invars, used_in) if u],
        outvars=[v for v, u in zip(eqn.outvars, used_outputs) if u],
        params=params,
    )
    return used_in, new


pe.dce_rules[jit_p] = _jit_dce


def _jit_transpose(cts, *args, jaxpr, name, donated_invars, inline=False):
    linear = tuple(transpose.is_undefined_primal(x) for x in args)
    tj = jt.transpose_jaxpr(jaxpr, linear)
    tj, consts = _tracer_consts_to_args(tj)
    nonlin = [x for x in args if not transpose.is_undefined_primal(x)]
    cts = [jvp_mod.instantiate(c) for c in cts]
    outs = iter(bind_jit(consts + nonlin + cts, tj, name, inline=inline))
    return [next(outs) if lin else None for lin in linear]


jit_p.def_transpose(_jit_transpose)


def _jit_batch(size, vals, dims, jaxpr, name, donated_invars, inline=False):
    # outputs keep the batch axes the body gives them, as JAX's (batch_jaxpr2)
    new, out_dims = jt.batch_jaxpr_keep_axes(jaxpr, size, tuple(dims))
    new, consts = _tracer_consts_to_args(new)
    outs = bind_jit(consts + list(vals), new, name, inline=inline)
    return outs, list(out_dims)


jit_p.def_batch(_jit_batch)


@jit_p.def_lowering
def _jit_lowering(ctx, *args, jaxpr, name, donated_invars, inline=False):
    return lowering.call_function(ctx, jaxpr, name, args)


# ---------------------------------------------------------------------------- the user's jit
# A call, ``.trace``, ``.lower`` and ``.compile`` all go through one per-function cache
# (engine/jit_cache.py). Before its dict, each wrapper checks its inline cache
# (``_last1``/``_last``): the last all-Array signature it ran, compared by identity
# (avals, device) and valid while ``dispatch._gate`` holds the object it was filled
# under; config changes, evictions and clears replace that object. A hit counts in the
# entry's ``hits`` like any other. Calls with static, keyword or Python-scalar arguments,
# or containers of Arrays, have their own cache, a small LRU dict per wrapper under the
# same gate whose last record holds a matcher generated for its argument structure
# (engine/jit_keyed.py).

_all_jitted: weakref.WeakValueDictionary[int, JitFunction] = weakref.WeakValueDictionary()
_NO_ARG = object()  # JitFunction.__call__ without positional arguments


class JitFunction:
    """What ``jit(f)`` returns: call it, or step through ``.trace``, ``.lower``,
    ``.compile`` (the same cached stage objects a call uses). ``cache_info()`` says
    what is cached and how often it was used."""

    def __init__(
        self,
        fun: Callable,
        static_argnums: int | Sequence[int] = (),
        static_argnames: str | Iterable[str] = (),
        donate_argnums: int | Sequence[int] = (),
        device: Any = None,
        backend: str | None = None,
        compiler_options: dict[str, Any] | None = None,
        in_shardings: Any = None,
        out_shardings: Any = None,
        keep_unused: bool = False,
        inline: bool = False,
    ):
        functools.update_wrapper(self, fun)
        self.fun = fun
        if isinstance(static_argnums, int):
            static_argnums = (static_argnums,)
        if isinstance(static_argnames, str):
            static_argnames = (static_argnames,)
        if isinstance(donate_argnums, int):
            donate_argnums = (donate_argnums,)
        self._signature = try_signature(fun)
        static_argnums, static_argnames = resolve_statics(
            self._signature, static_argnums, static_argnames
        )
        self.__name__ = getattr(fun, "__name__", "fun")
        layouts = None
        if in_shardings is not None or out_shardings is not None:
            from .experimental.layout import split_formats

            in_shardings, out_shardings, layouts, one_device = split_formats(
                in_shardings, out_shardings
            )
            device = device if one_device is None else one_device
        opts = Options(
            self.__name__,
            static_argnums,
            static_argnames,
            donate_argnums,
            device,
            backend,
            compiler_options,
            (in_shardings, out_shardings),
            keep_unused,
            layouts,
        )
        self._opts = opts
        self.static_argnums = opts.static_argnums
        self.static_argnames = opts.static_argnames
        self.donate_argnums = opts.donate_argnums
        self.compiler_options = opts.compiler_options
        self._device = device
        self._backend = backend
        # inline=True: staged into a caller's jaxpr as its body's equations (as JAX's,
        # only without shardings); eager calls compile as any jit's
        self._inline = bool(inline) and in_shardings is None and out_shardings is None
        # Static arguments and shardings take the general path (never the fast one).
        self._has_static = bool(opts.static_argnums or opts.static_argnames) or (
            in_shardings is not None or out_shardings is not None or layouts is not None
        )
        self._pick_first = device is None and backend is None  # one Array: its device
        self._commit_out = not self._pick_first  # a named device commits the results
        self._last: Any = _NO_CALL  # the inline caches (see __call__)
        self._last1: Any = _NO_CALL
        self._keyed: dict = {}  # the keyed calls' cache (engine/jit_keyed.py)
        self._keyed_gate: Any = None
        self._keyed_last: Any = NO_CALL  # its most recently used record
        self._cache = cache_for(fun)
        self._fast = self._cache.fast_dict(opts.key)
        _all_jitted[next(serial)] = self
        if self._has_static:  # its calls skip the all-Array inline caches
            self.__class__ = _KeyedJitFunction
        if layouts is not None:
            self.__class__ = _FormatJitFunction

    _uses_refs = False  # set once a call traced to a program using array refs

    def __repr__(self):
        return f"<jitted function {self.__name__}>"

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        return functools.partial(self, obj)

    # -- what is cached
    def cache_info(self) -> CacheInfo:
        """The signatures cached for this function (by every ``jit`` of it), each with
        its Traced/Lowered/Compiled objects, and the trace/lower/compile/hit counts."""
        return self._cache.info(self.__name__)

    @property
    def trace_count(self) -> int:
        return self._cache.trace_count

    @property
    def lower_count(self) -> int:
        return self._cache.lower_count

    @property
    def compile_count(self) -> int:
        return self._cache.compile_count

    @property
    def cache_hits(self) -> int:
        c = self._cache
        return c.evicted_hits + sum(e.hits for e in list(c.entries.values()))

    @property
    def compile_seconds(self) -> float:
        return self._cache.compile_seconds

    def clear_cache(self) -> None:
        """Forget every trace and executable of this function (for all its wrappers)."""
        self._cache.clear()
        self._keyed, self._keyed_gate, self._keyed_last = {}, None, NO_CALL

    # -- calling
    def __call__(self, x: Any = _NO_ARG, /, *rest: Any, **kwargs: Any) -> Any:
        # The hot path, inlined (one Python frame; the first argument apart saves building
        # a tuple). First the inline caches: the last all-Array signature this wrapper ran,
        # valid while dispatch's gate object is the one it was filled under (any config
        # change, eviction or clear_caches replaces it).
        try:
            c = self._last1  # one Array in, one out, no constants: the commonest call
            if c[0] is _gate[0] and not rest and not kwargs:
                if (
                    type(x) is Array
                    and x.aval is c[1]
                    and x._device is c[2]
                    and _ctx.trace is _eval_trace
                    and not x._buf.is_deleted()  # (PJRT logs to stderr on a deleted one)
                ):
                    c[3].hits += 1
                    try:
                        outs = c[4]([x._buf]).consume_with_handlers(c[5])
                    except Exception:
                        dispatch.check_not_deleted((x,))
                        raise
                    # Array(outs[0], c[6], c[2], x._committed) without an __init__ frame
                    out = _new_array(Array)
                    out._buf, out.aval, out._device = outs[0], c[6], c[2]
                    out._committed, out._npy = x._committed, None
                    return out
            args = () if x is _NO_ARG else (x, *rest)
            c = self._last
            if (
                c[0] is _gate[0]
                and not kwargs
                and len(args) == len(c[1])
                and _ctx.trace is _eval_trace
            ):
                device, committed = c[2], False
                for x, a in zip(args, c[1]):
                    if (
                        type(x) is not Array
                        or x.aval is not a
                        or x._device is not device
                        or x._buf.is_deleted()
                    ):
                        break
                    committed = committed or x._committed
                else:
                    e = c[3]
                    e.hits += 1
                    bufs = e.const_args + [x._buf for x in args]
                    try:
                        outs = e.execute(bufs).consume_with_handlers(e.handlers)
                    except Exception:
                        dispatch.check_not_deleted(args)
                        raise
                    return entry_results(e, outs, device, committed)
            c = self._keyed_last  # the last keyed call's matcher (engine/jit_keyed.py)
            if c.gate is _gate[0] and _ctx.trace is _eval_trace:
                out = c.call(args, kwargs)
                if out is not MISS:
                    return out
            return self._call_fast(args, kwargs)
        except Exception as e:
            traceback_util.filter_exception(e)
            raise

    def _call_fast(self, args, kwargs):
        """A call the inline cache did not take: one dict lookup by signature, then run."""
        if _general_flags[0] or _ctx.trace is not _eval_trace:
            return self._call_general(args, kwargs)
        if kwargs or self._has_static:
            return call_keyed(self, args, kwargs)
        gate = _gate[0]  # read before the signature: a config change after it is not missed
        n = len(args)
        if n == 1 and type(args[0]) is Array:
            flat, x = args, args[0]
            in_tree, avals = 1, (x.aval,)
            device = x._device if self._pick_first else self._device or self._pick(flat)
        else:
            for x in args:
                if type(x) is not Array:  # a Python scalar, a pytree, None ...
                    return call_keyed(self, args, kwargs)
            flat = args  # all Arrays: the tree is n positional leaves
            in_tree = n  # an int stands for the tuple of n leaves (cheap to hash)
            avals = tuple([x.aval for x in args])
            device = self._device or self._pick(flat)
        key = (in_tree, avals, device, config.trace_context_id)
        entry = self._fast.get(key)
        if entry is None:
            return self._call_miss(args, flat, avals, device, key)
        entry.hits += 1
        outs = run_entry(entry, flat, device)
        if flat is args and self._pick_first and type(device) is not runtime.DeviceGroup:
            # every argument an Array on ``device``: fill the inline cache (see __call__)
            if n == 1 and entry.single_out and not entry.const_args:
                self._last1 = (
                    gate,
                    avals[0],
                    device,
                    entry,
                    entry.execute,
                    entry.handlers,
                    entry.out_avals[0],
                )
            else:
                self._last = (gate, avals, device, entry)
        return entry_results(entry, outs, device, self._commit_out or dispatch.any_committed(flat))

    def _call_miss(self, args, flat, avals, device, key):
        """A call whose signature the fast path has not seen: trace/compile, then run."""
        if type(device) is runtime.DeviceGroup:  # a sharded argument: over its mesh
            return self._call_general(args, {})
        in_tree = tree_util.tree_structure((args, {}))
        rec = self._cache.jaxpr(self.fun, self._opts, (), in_tree, avals, key[3])
        if _refs().closed_has_refs(rec.closed):  # array refs: never the fast path
            self._uses_refs = True
            return self._call_general(args, {})
        if constrained_target(rec.closed, len(flat), None) is not None:
            return self._call_general(args, {})  # over its constraints' mesh
        entry = self._cache.call_entry(
            self.fun, self._opts, (), in_tree, avals, device, key[3], (self._fast, key)
        )
        return entry_results(entry, run_entry(entry, flat, device), device, self._committed(flat))

    def _committed(self, flat):
        """Whether this call's results are committed: as in JAX, when an argument is, or
        when the wrapper names a device or backend."""
        return self._commit_out or dispatch.any_committed(flat)

    def _pick(self, flat):
        if self._backend is not None:
            return runtime.local_devices(self._backend)[0]
        for x in flat:
            if type(x) is Array:
                if x._committed or len(flat) == 1:
                    return x._device
                return dispatch._pick_device(flat)
        return runtime.default_device()

    def _call_general(self, args, kwargs):
        if config.jax_disable_jit:
            return self.fun(*args, **kwargs)
        opts = self._opts
        static, dyn_args, dyn_kwargs = opts.split(args, kwargs)
        flat, in_tree = tree_util.tree_flatten((dyn_args, dyn_kwargs))
        avals = call_avals(flat, self.fun, self._signature, opts, args, kwargs)
        if self._uses_refs or _refs().any_ref_avals(avals):
            return _refs().call_with_refs(self, args, kwargs, static, flat, in_tree, avals)
        ctx = config.trace_context_id
        if core._ctx.trace is not core.eval_trace:  # inside a transformation: bind
            # (named axes in scope change collectives' shapes: part of the trace key)
            named = batching.axis_env_key()
            key_ctx = (ctx, named) if named else ctx
            rec = self._cache.jaxpr(self.fun, opts, static, in_tree, avals, key_ctx)
            if _refs().closed_has_refs(rec.closed):
                return _refs().call_with_refs(self, args, kwargs, static, flat, in_tree, avals)
            closed, consts = _tracer_consts_to_args(rec.closed)
            outs = bind_jit(consts + list(flat), closed, self.__name__, inline=self._inline)
            return tree_util.tree_unflatten(rec.out_tree, outs)
        device = opts.resolve_device(flat)
        target = resolve_target(self.fun, opts, flat, in_tree, avals)
        if target is None:
            rec = self._cache.jaxpr(self.fun, opts, static, in_tree, avals, ctx)
            target = constrained_target(rec.closed, len(flat), opts.shardings[1])
        if target is not None:
            e = self._cache.call_entry(self.fun, opts, static, in_tree, avals, target, ctx)
            if not config.jax_debug_key_reuse:
                return e.compiled._run_partitioned(flat)
            from . import key_reuse  # as below: a partitioned call checks its keys too

            pending = key_reuse.check_jit_call(e.traced.jaxpr, flat)
            result = e.compiled._run_partitioned(flat)
            key_reuse.after_jit_call(pending, tree_util.tree_leaves(result))
            return result
        e = self._cache.call_entry(self.fun, opts, static, in_tree, avals, device, ctx)
        if config.jax_debug_key_reuse:  # engine/key_reuse.py: raises before running
            from . import key_reuse

            pending = key_reuse.check_jit_call(e.traced.jaxpr, flat)
        bufs = e.const_args + dispatch._buffers(flat, device)
        outs = dispatch.execute(e.compiled._run_bufs, flat, bufs, e.compiled._check_deleted)
        committed = self._committed(flat)
        outs = [Array(b, a, device, committed) for b, a in zip(outs, e.out_avals)]
        if config.jax_debug_key_reuse:
            key_reuse.after_jit_call(pending, outs)
        result = tree_util.tree_unflatten(e.out_tree, outs)
        if config.jax_debug_nans or config.jax_debug_infs:
            from .debugging import check_jit_outputs

            check_jit_outputs(self.__name__, self.fun, args, kwargs, result)
        return result

    # -- stages
    def trace(self, *args: Any, **kwargs: Any) -> Traced:
        """The traced jaxpr for these arguments (cached: the same object a call uses)."""
        opts = self._opts
        static, dyn_args, dyn_kwargs = opts.split(args, kwargs)
        flat, in_tree = tree_util.tree_flatten((dyn_args, dyn_kwargs))
        avals = call_avals(flat, self.fun, self._signature, opts, args, kwargs)
        device = opts.resolve_device([x for x in flat if isinstance(x, Array)])
        target = resolve_target(self.fun, opts, flat, in_tree, avals)
        if target is None:
            rec = self._cache.jaxpr(self.fun, opts, static, in_tree, avals, config.trace_context_id)
            target = constrained_target(rec.closed, len(flat), opts.shardings[1])
        if target is not None:
            device = target
        e = self._cache.entry(
            self.fun, opts, static, in_tree, avals, device, config.trace_context_id
        )
        if opts.layouts is not None:
            from .experimental.layout import arg_names, check_memory_kinds

            check_memory_kinds(opts, flat, in_tree)
            if getattr(e.traced, "_arg_names", None) is None:  # (for JAX's layout errors)
                e.traced._arg_names = arg_names(self.fun, opts, flat, in_tree)
        return e.traced

    def lower(self, *args: Any, **kwargs: Any) -> Lowered:
        """``trace(...).lower()``: the StableHLO module (cached)."""
        return self.trace(*args, **kwargs).lower()

    def eval_shape(self, *args: Any, **kwargs: Any) -> Any:
        """The output's ``ShapeDtypeStruct`` pytree (traces, never compiles)."""
        t = self.trace(*args, **kwargs)
        from .api import ShapeDtypeStruct

        return tree_util.tree_unflatten(
            t.out_tree,
            [ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type) for a in t.jaxpr.out_avals],
        )

    # Public entry points: exceptions leave them with the engine's frames filtered out
    # (engine/traceback_util.py, config ``jax_traceback_filtering``).
    trace = traceback_util.api_boundary(trace)
    lower = traceback_util.api_boundary(lower)
    eval_shape = traceback_util.api_boundary(eval_shape)


traceback_util.register_boundary(JitFunction.__call__)


class _KeyedJitFunction(JitFunction):
    """A ``JitFunction`` with static arguments or shardings: no call of it can take the
    all-Array inline caches, so its calls go straight to the keyed path."""

    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        try:
            c = self._keyed_last  # the last keyed call's matcher (engine/jit_keyed.py)
            if c.gate is _gate[0] and _ctx.trace is _eval_trace:
                out = c.call(args, kwargs)
                if out is not MISS:
                    return out
            if _general_flags[0] or _ctx.trace is not _eval_trace:
                return self._call_general(args, kwargs)
            return call_keyed(self, args, kwargs)
        except Exception as e:
            traceback_util.filter_exception(e)
            raise


traceback_util.register_boundary(_KeyedJitFunction.__call__)


class _FormatJitFunction(_KeyedJitFunction):
    """A jit given Formats: each call's committed arguments are checked against the
    layouts it was given first (JAX's error; engine/experimental/layout.py)."""

    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        try:
            from .experimental.layout import check_call_layouts

            check_call_layouts(self._opts, args, kwargs)
        except Exception as e:
            traceback_util.filter_exception(e)
            raise
        return _KeyedJitFunction.__call__(self, *args, **kwargs)


traceback_util.register_boundary(_FormatJitFunction.__call__)

# Flags that send every call down the general path, folded into one read per call.
_general_flags = [False]


def _update_general_flags(name=None, value=None):
    _general_flags[0] = bool(
        config.jax_disable_jit
        or config.jax_debug_nans
        or config.jax_debug_infs
        or getattr(config, "jax_debug_key_reuse", False)  # defined by engine/key_reuse.py
    )


_update_general_flags()
config.on_change(_update_general_flags)

_NO_CALL = (None, (), None, None)  # an empty inline cache (its gate is never current)
_gate = dispatch._gate
_ctx, _eval_trace = core._ctx, core.eval_trace
_new_array = object.__new__


def keyed_cache_buffers():
    """The device buffers the keyed caches hold (Python scalars' and constants'): the
    engine's, not the user's arrays."""
    for f in list(_all_jitted.values()):
        yield from cache_buffers(f)


def jit(
    fun: Callable | None = None,
    *,
    static_argnums: int | Sequence[int] = (),
    static_argnames: str | Iterable[str] = (),
    donate_argnums: int | Sequence[int] = (),
    device: Any = None,
    backend: str | None = None,
    compiler_options: dict[str, Any] | None = None,
    **unused: Any,
) -> JitFunction | Callable[[Callable], JitFunction]:
    """Compile ``fun`` with XLA. Usable as ``@jit`` or ``@jit(static_argnums=...)``.

    ``in_shardings``/``out_shardings`` (NamedShardings, or PartitionSpecs under
    ``set_mesh``) partition the program over their mesh with XLA's SPMD partitioner, as
    do arguments already sharded (engine/sharding/jit_shardings.py). As JAX's, the
    module takes only the arguments the program uses unless ``keep_unused=True``
    (engine/stages.py). ``inline=True`` puts the body's equations in the jaxpr of a
    caller being traced instead of a ``jit`` equation. JAX's other options are accepted
    and have no effect."""
    unknown = set(unused) - _ACCEPTED_JAX_OPTIONS
    if unknown:
        raise TypeError(f"jit() got unexpected keyword argument(s): {sorted(unknown)}")
    passed_on = {
        k: unused[k]
        for k in ("in_shardings", "out_shardings", "keep_unused", "inline")
        if k in unused
    }

    def make(f: Callable) -> JitFunction:
        if not callable(f):
            raise TypeError(f"Expected a callable value, got {f!r}")
        validate_options(f, static_argnums, static_argnames, donate_argnums)
        return JitFunction(
            f,
            static_argnums,
            static_argnames,
            donate_argnums,
            device,
            backend,
            compiler_options,
            **passed_on,
        )

    return make if fun is None else make(fun)


_ACCEPTED_JAX_OPTIONS = frozenset(
    {"in_shardings", "out_shardings", "keep_unused", "inline", "abstracted_axes"}
)


def all_jitted() -> list[JitFunction]:
    """Every jitted function alive in this session, oldest first (for the session
    inspector)."""
    return list(_all_jitted.values())
