"""``jit``: trace once per input signature, compile with XLA, call the executable.

A jitted function called inside another transformation binds the ``jit`` primitive,
whose parameter is the traced jaxpr; its rules transform that jaxpr (JVP, partial
evaluation, transposition, batching) and lower it as a called function."""

from __future__ import annotations

import functools
import inspect
import weakref

from . import core, dispatch, runtime, tree_util
from .array import Array
from .config import config
from .core import Primitive
from .interpreters import jaxpr_transforms as jt
from .interpreters import jvp as jvp_mod
from .interpreters import lowering, transpose
from .interpreters import partial_eval as pe
from .interpreters.tracing import convert_constvars_to_invars, trace_to_jaxpr

jit_p = Primitive("jit", multiple_results=True)
jit_p.pp_params = lambda p: {"name": p["name"], "jaxpr": p["jaxpr"]}
jit_p.subjaxprs_rule = lambda p: (p["jaxpr"],)
jit_p.pp_alias_subjaxpr = True


def bind_jit(args, jaxpr, name, donated=None):
    donated = donated or (False,) * len(args)
    return jit_p.bind(*args, jaxpr=jaxpr, name=name, donated_invars=tuple(donated))


@jit_p.def_abstract_eval
def _jit_abstract_eval(*avals, jaxpr, **_):
    return jaxpr.out_avals


_jaxpr_exe_cache = weakref.WeakKeyDictionary()  # ClosedJaxpr -> {device: executable}


@jit_p.def_impl
def _jit_impl(*args, jaxpr, name, donated_invars):
    device = dispatch._pick_device(args)
    per = _jaxpr_exe_cache.setdefault(jaxpr, {})
    exe = per.get(device)
    if exe is None:
        donated = tuple(i for i, d in enumerate(donated_invars) if d)
        exe = per[device] = dispatch.compile_closed_jaxpr(jaxpr, device, name, donated)
    return dispatch.run_executable(exe, jaxpr.out_avals, args, device)


def _jit_jvp(primals, tangents, jaxpr, name, donated_invars):
    nonzeros = tuple(type(t) is not jvp_mod.Zero for t in tangents)
    new, out_nz = jt.jvp_jaxpr(jaxpr, nonzeros, (False,) * len(jaxpr.out_avals))
    new, consts = convert_constvars_to_invars(new)
    tans = [t for t in tangents if type(t) is not jvp_mod.Zero]
    outs = bind_jit(consts + list(primals) + tans, new, name)
    n = len(jaxpr.out_avals)
    touts = iter(outs[n:])
    return outs[:n], [
        next(touts) if nz else jvp_mod.Zero(jvp_mod.tangent_aval(a))
        for nz, a in zip(out_nz, jaxpr.out_avals)
    ]


jit_p.def_jvp(_jit_jvp)


def _jit_partial_eval(trace, args, unknowns, params):
    jaxpr, name = params["jaxpr"], params["name"]
    known_j, unknown_j, out_unknowns, nres = pe.partial_eval_jaxpr(jaxpr, unknowns)
    known_j, kconsts = convert_constvars_to_invars(known_j)
    known_args = [x for x, u in zip(args, unknowns) if not u]
    with core.set_current_trace(trace.parent):
        known_outs = bind_jit(kconsts + known_args, known_j, name)
    n_known = len(known_outs) - nres
    known_vals, residuals = known_outs[:n_known], known_outs[n_known:]
    ins = [trace.instantiate_const(r) for r in residuals]
    ins += [trace.instantiate_const(x) for x, u in zip(args, unknowns) if u]
    unknown_outs = trace.record(
        jit_p, ins, dict(jaxpr=unknown_j, name=name, donated_invars=(False,) * len(ins))
    )
    it_k, it_u = iter(known_vals), iter(unknown_outs)
    return [next(it_u) if u else next(it_k) for u in out_unknowns]


jit_p.partial_eval = _jit_partial_eval


def _jit_transpose(cts, *args, jaxpr, name, donated_invars):
    linear = tuple(transpose.is_undefined_primal(x) for x in args)
    tj = jt.transpose_jaxpr(jaxpr, linear)
    tj, consts = convert_constvars_to_invars(tj)
    nonlin = [x for x in args if not transpose.is_undefined_primal(x)]
    cts = [jvp_mod.instantiate(c) for c in cts]
    outs = iter(bind_jit(consts + nonlin + cts, tj, f"transpose({name})"))
    return [next(outs) if lin else None for lin in linear]


jit_p.def_transpose(_jit_transpose)


def _jit_batch(size, vals, dims, jaxpr, name, donated_invars):
    new, out_b = jt.batch_jaxpr(jaxpr, size, tuple(dims), (False,) * len(jaxpr.out_avals))
    new, consts = convert_constvars_to_invars(new)
    outs = bind_jit(consts + list(vals), new, name)
    return outs, [0 if b else None for b in out_b]


jit_p.def_batch(_jit_batch)


@jit_p.def_lowering
def _jit_lowering(ctx, *args, jaxpr, name, donated_invars):
    return lowering.call_function(ctx, jaxpr, name, args)


# ---------------------------------------------------------------------------- the user's jit

_all_jitted = weakref.WeakSet()


class _Entry:
    __slots__ = (
        "exe",
        "execute",
        "handlers",
        "out_avals",
        "out_tree",
        "const_args",
        "device",
        "closed",
    )


class JitFunction:
    """What ``jit(f)`` returns: call it, or step through ``.trace``, ``.lower``,
    ``.compile``. It keeps counts of traces, compiles and cache hits."""

    def __init__(
        self,
        fun,
        static_argnums=(),
        static_argnames=(),
        donate_argnums=(),
        device=None,
        backend=None,
        compiler_options=None,
    ):
        functools.update_wrapper(self, fun)
        self.fun = fun
        if isinstance(static_argnums, int):
            static_argnums = (static_argnums,)
        if isinstance(static_argnames, str):
            static_argnames = (static_argnames,)
        if isinstance(donate_argnums, int):
            donate_argnums = (donate_argnums,)
        self._signature = _try_signature(fun)
        static_argnums, static_argnames = _resolve_statics(
            self._signature, static_argnums, static_argnames
        )
        self.static_argnums = frozenset(static_argnums)
        self.static_argnames = frozenset(static_argnames)
        self.donate_argnums = tuple(donate_argnums)
        self._device = device
        self._backend = backend
        self.compiler_options = compiler_options
        self._trace_cache = {}
        self._exe_cache = {}
        self._fast_cache = {}
        self._has_static = bool(self.static_argnums or self.static_argnames)
        self.trace_count = 0
        self.compile_count = 0
        self.cache_hits = 0
        self.compile_seconds = 0.0
        self.__name__ = getattr(fun, "__name__", "fun")
        _all_jitted.add(self)

    def __repr__(self):
        return f"<jitted function {self.__name__}>"

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return functools.partial(self, obj)

    # -- argument handling
    def _split(self, args, kwargs):
        static, dyn_args = [], []
        for i, a in enumerate(args):
            if i in self.static_argnums:
                static.append((i, _hashable_static(a, i)))
            else:
                dyn_args.append(a)
        dyn_kwargs = {}
        for k, v in kwargs.items():
            if k in self.static_argnames:
                static.append((k, _hashable_static(v, k)))
            else:
                dyn_kwargs[k] = v
        return tuple(static), tuple(dyn_args), dyn_kwargs

    def _rebuild(self, static, dyn_args, dyn_kwargs):
        pos = {k: v.value for k, v in static if isinstance(k, int)}
        kw = {k: v.value for k, v in static if not isinstance(k, int)}
        it = iter(dyn_args)
        args = [pos[i] if i in pos else next(it) for i in range(len(dyn_args) + len(pos))]
        return args, {**kw, **dyn_kwargs}

    def _traced(self, static, in_tree, avals):
        key = (static, in_tree, avals)
        hit = self._trace_cache.get(key)
        if hit is not None:
            return hit

        def flat_fun(*flat):
            dyn_args, dyn_kwargs = tree_util.tree_unflatten(in_tree, flat)
            args, kwargs = self._rebuild(static, dyn_args, dyn_kwargs)
            out = self.fun(*args, **kwargs)
            leaves, out_tree = tree_util.tree_flatten(out)
            store.append(out_tree)
            for x in leaves:
                if not core.valid_array_value(x):
                    raise TypeError(
                        f"jit-compiled function {self.__name__} returned a value of type "
                        f"{type(x).__name__}, which is not an array type"
                    )
            return leaves

        store = []
        closed = trace_to_jaxpr(flat_fun, list(avals), debug_name=self.__name__)
        self.trace_count += 1
        hit = (closed, store[0])
        if len(self._trace_cache) > 256:
            self._trace_cache.clear()
        self._trace_cache[key] = hit
        return hit

    def _resolve_device(self, flat):
        if self._device is not None:
            return self._device
        if self._backend is not None:
            return runtime.devices(self._backend)[0]
        return dispatch._pick_device(flat)

    def _donated_flat(self, in_tree, dyn_args, n_leaves):
        if not self.donate_argnums:
            return ()
        # positions of donated positional args among the flat leaves
        dyn_positions = [
            i
            for i in range(len(dyn_args) + len(self.static_argnums))
            if i not in self.static_argnums
        ]
        out, offset = [], 0
        for pos, a in zip(dyn_positions, dyn_args):
            n = len(tree_util.tree_leaves(a))
            if pos in self.donate_argnums:
                out.extend(range(offset, offset + n))
            offset += n
        return tuple(out)

    # -- calling
    def __call__(self, *args, **kwargs):
        if kwargs or self._has_static or config.jax_disable_jit:
            return self._call_general(args, kwargs)
        flat, in_tree = tree_util.tree_flatten(args)
        avals = tuple([x.aval if type(x) is Array else _arg_aval(x) for x in flat])
        if core._ctx.trace is not core.eval_trace:
            return self._call_general(args, kwargs)
        device = self._device or self._pick(flat)
        entry = self._fast_cache.get((in_tree, avals, device))
        if entry is None:
            entry = self._compile_entry(
                (), tree_util.tree_structure((args, {})), avals, device, args, len(flat)
            )
            if len(self._fast_cache) > 256:
                self._fast_cache.clear()
            self._fast_cache[(in_tree, avals, device)] = entry
        else:
            self.cache_hits += 1
        bufs = entry.const_args + [
            x._buf if type(x) is Array and x._device is device else _put(x, device) for x in flat
        ]
        try:
            outs = entry.execute(bufs).consume_with_handlers(entry.handlers)
        except Exception:
            dispatch.check_not_deleted(flat)
            raise
        return tree_util.tree_unflatten(
            entry.out_tree, [Array(b, a, device) for b, a in zip(outs, entry.out_avals)]
        )

    def _pick(self, flat):
        if self._backend is not None:
            return runtime.devices(self._backend)[0]
        for x in flat:
            if type(x) is Array:
                if x._committed or len(flat) == 1:
                    return x._device
                return dispatch._pick_device(flat)
        return runtime.default_device()

    def _bind(self, key, flat):
        static, in_tree, avals = key
        closed, out_tree = self._traced(static, in_tree, avals)
        closed, consts = convert_constvars_to_invars(closed)
        outs = bind_jit(consts + list(flat), closed, self.__name__)
        return tree_util.tree_unflatten(out_tree, outs)

    def _call_general(self, args, kwargs):
        if config.jax_disable_jit:
            return self.fun(*args, **kwargs)
        static, dyn_args, dyn_kwargs = self._split(args, kwargs)
        flat, in_tree = tree_util.tree_flatten((dyn_args, dyn_kwargs))
        avals = tuple(x.aval if type(x) is Array else _arg_aval(x) for x in flat)
        if core._ctx.trace is not core.eval_trace:
            return self._bind((static, in_tree, avals), flat)
        device = self._resolve_device(flat)
        key = (static, in_tree, avals, device)
        entry = self._exe_cache.get(key)
        if entry is None:
            entry = self._compile_entry(static, in_tree, avals, device, dyn_args, len(flat))
        else:
            self.cache_hits += 1
        outs = dispatch.execute(entry.exe, flat, entry.const_args + dispatch._buffers(flat, device))
        return tree_util.tree_unflatten(
            entry.out_tree, [Array(b, a, device) for b, a in zip(outs, entry.out_avals)]
        )

    def _compile_entry(
        self, static, in_tree, avals, device, dyn_args, n_flat, options=None, dump_dir=None
    ):
        import time

        closed, out_tree = self._traced(static, in_tree, avals)
        closed, consts = convert_constvars_to_invars(closed)
        donated = tuple(i + len(consts) for i in self._donated_flat(in_tree, dyn_args, n_flat))
        t0 = time.perf_counter()
        exe = dispatch.compile_closed_jaxpr(
            closed,
            device,
            self.__name__,
            donated,
            options=options or self.compiler_options,
            dump_dir=dump_dir,
        )
        self.compile_seconds += time.perf_counter() - t0
        self.compile_count += 1
        entry = _Entry()
        entry.exe, entry.out_avals, entry.out_tree = exe, closed.out_avals, out_tree
        entry.execute, entry.handlers = exe.fast_call_parts()
        entry.const_args = [dispatch.device_put_value(c, device)._buf for c in consts]
        entry.device, entry.closed = device, closed
        if options is None and dump_dir is None:
            if len(self._exe_cache) > 256:
                self._exe_cache.clear()
            self._exe_cache[(static, in_tree, avals, device)] = entry
        return entry

    # -- stages
    def trace(self, *args, **kwargs):
        from .stages import Traced

        static, dyn_args, dyn_kwargs = self._split(args, kwargs)
        flat, in_tree = tree_util.tree_flatten((dyn_args, dyn_kwargs))
        avals = tuple(_arg_aval(x) for x in flat)
        closed, out_tree = self._traced(static, in_tree, avals)
        return Traced(
            self,
            closed,
            in_tree,
            out_tree,
            static,
            avals,
            dyn_args,
            self._resolve_device([x for x in flat if isinstance(x, Array)]),
        )

    def lower(self, *args, **kwargs):
        return self.trace(*args, **kwargs).lower()

    def eval_shape(self, *args, **kwargs):
        t = self.trace(*args, **kwargs)
        from .api import ShapeDtypeStruct

        return tree_util.tree_unflatten(
            t.out_tree,
            [ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type) for a in t.jaxpr.out_avals],
        )

    def clear_cache(self):
        self._trace_cache.clear()
        self._exe_cache.clear()
        self._fast_cache.clear()


def _put(x, device):
    if type(x) is Array and x._committed:
        raise ValueError(
            f"Received incompatible devices for jitted computation: an argument "
            f"is committed to {x._device}, the computation runs on {device}."
        )
    return dispatch.device_put_value(x, device)._buf


def _arg_aval(x):
    if isinstance(x, Array) or isinstance(x, core.Tracer):
        return x.aval
    aval = getattr(x, "aval", None)
    if aval is not None:
        return aval
    if hasattr(x, "shape") and hasattr(x, "dtype") and not hasattr(x, "__array__"):
        from . import dtypes

        return core.ShapedArray(
            x.shape, dtypes.canonicalize_dtype(x.dtype), getattr(x, "weak_type", False)
        )
    try:
        return core.get_aval(x)
    except TypeError:
        raise TypeError(
            f"Argument {x!r} of type {type(x).__name__} is not a valid JAX type; "
            "pass arrays, or mark it static with static_argnums/static_argnames"
        ) from None


class _Static:
    __slots__ = ("value", "key")

    def __init__(self, value, key):
        self.value, self.key = value, key

    def __eq__(self, other):
        return type(other) is _Static and self.key == other.key

    def __hash__(self):
        return hash(self.key)


def _hashable_static(v, where):
    try:
        hash(v)
    except TypeError:
        raise ValueError(
            f"Non-hashable static argument {where!r} of type {type(v).__name__}: "
            "static arguments must be hashable (use a tuple instead of a list)"
        ) from None
    return _Static(v, (type(v), v))


def _try_signature(fun):
    try:
        return inspect.signature(fun)
    except (TypeError, ValueError):
        return None


def _resolve_statics(sig, argnums, argnames):
    argnums, argnames = set(argnums), set(argnames)
    if sig is None:
        return argnums, argnames
    params = list(sig.parameters.values())
    n = len(params)
    argnums = {i % n if i < 0 and n else i for i in argnums}
    for i in list(argnums):
        if i < n and params[i].kind in (params[i].POSITIONAL_OR_KEYWORD,):
            argnames.add(params[i].name)
    for name in list(argnames):
        for i, p in enumerate(params):
            if p.name == name and p.kind == p.POSITIONAL_OR_KEYWORD:
                argnums.add(i)
    return argnums, argnames


def jit(
    fun=None,
    *,
    static_argnums=(),
    static_argnames=(),
    donate_argnums=(),
    device=None,
    backend=None,
    compiler_options=None,
    **unused,
):
    """Compile ``fun`` with XLA. Usable as ``@jit`` or ``@jit(static_argnums=...)``.

    JAX's sharding and layout options (``in_shardings``, ``keep_unused``, ...) are
    accepted for compatibility and have no effect on one device."""
    unknown = set(unused) - _ACCEPTED_JAX_OPTIONS
    if unknown:
        raise TypeError(f"jit() got unexpected keyword argument(s): {sorted(unknown)}")
    if fun is None:
        return functools.partial(
            jit,
            static_argnums=static_argnums,
            static_argnames=static_argnames,
            donate_argnums=donate_argnums,
            device=device,
            backend=backend,
            compiler_options=compiler_options,
        )
    return JitFunction(
        fun, static_argnums, static_argnames, donate_argnums, device, backend, compiler_options
    )


_ACCEPTED_JAX_OPTIONS = frozenset(
    {"in_shardings", "out_shardings", "keep_unused", "inline", "abstracted_axes"}
)


def all_jitted():
    """Every jitted function alive in this session (for the session inspector)."""
    return list(_all_jitted)
