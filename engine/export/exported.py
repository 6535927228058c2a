"""``export(jit(f))(*args)`` -> ``Exported``: a function lowered to StableHLO, with what
it takes to call it again later or elsewhere (avals, pytrees, platforms), as
``jax.export``; and ``call_exported``, the primitive that calls one (eagerly, under
``jit`` or any transformation that traces)."""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from jaxlib.mlir import ir

from .. import core, dtypes, runtime, tree_util
from ..config import config
from ..core import ClosedJaxpr, Jaxpr, Primitive, ShapedArray
from ..interpreters.tracing import convert_constvars_to_invars
from ..sharding import spmd
from ..sharding.constraint import current_lowering_mesh, lowering_for_mesh
from ..sharding.jit_shardings import SpmdTarget
from ..sharding.named import NamedSharding, PartitionSpec
from ..stages import prune_unused
from . import locations, module_checks, poly_lowering, shape_assertions, shape_poly

# the versions JAX 0.10.2 can write (config ``jax_export_calling_convention_version``)
minimum_supported_calling_convention_version = 9
maximum_supported_calling_convention_version = 10

# The jax.numpy functions JAX defines as ``jit(inline=True)`` functions (its ufuncs
# module), which ``export`` therefore accepts as they are: ``export(jnp.cos)``.
_JAX_JITTED_NUMPY = frozenset(
    """abs absolute acos acosh arccos arccosh arcsin arcsinh arctan arctan2 arctanh asin
    asinh atan atan2 atanh bitwise_count bitwise_invert bitwise_left_shift bitwise_not
    bitwise_right_shift cbrt ceil conjugate copysign cos cosh deg2rad divmod equal exp
    exp2 expm1 fabs float_power floor floor_divide fmod frexp greater greater_equal
    heaviside hypot imag invert isfinite isinf isnan ldexp left_shift less less_equal log
    log10 log1p log2 logical_not modf nextafter not_equal positive rad2deg real reciprocal
    remainder right_shift rint sign signbit sin sinc sinh spacing sqrt square tan tanh
    true_divide""".split()
)
_numpy_jits: dict[str, Any] = {}


def _as_jit(fun: Any) -> Any:
    """``fun`` when it is a jit function; for one of the engine's ``jax.numpy`` functions
    that JAX jits (``_JAX_JITTED_NUMPY``), its jit; else None."""
    from .. import numpy as enp
    from ..jit import JitFunction, jit

    if isinstance(fun, JitFunction):
        return fun
    name = getattr(fun, "__name__", None)
    if name in _JAX_JITTED_NUMPY and getattr(enp, name, None) is fun:
        if name not in _numpy_jits:
            _numpy_jits[name] = jit(fun)
        return _numpy_jits[name]
    return None


class DisabledSafetyCheck:
    """A safety check not to run when the exported function is called (``platform()``
    or ``custom_call(target)``), as JAX's."""

    def __init__(self, impl: str) -> None:
        self._impl = impl

    @classmethod
    def platform(cls) -> DisabledSafetyCheck:
        return cls("platform")

    @classmethod
    def custom_call(cls, target_name: str) -> DisabledSafetyCheck:
        return cls(f"custom_call:{target_name}")

    @classmethod
    def shape_assertions(cls) -> DisabledSafetyCheck:
        return cls("shape_assertions")

    def is_custom_call(self) -> str | None:
        return self._impl[len("custom_call:") :] if self._impl.startswith("custom_call:") else None

    def __str__(self) -> str:
        return self._impl

    __repr__ = __str__

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, DisabledSafetyCheck) and self._impl == other._impl

    def __hash__(self) -> int:
        return hash(self._impl)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Exported:
    """A lowered function, serializable in JAX's format (``serialize()``) and callable
    (``call``). ``mlir_module_serialized`` is a StableHLO portable artifact."""

    fun_name: str
    in_tree: Any
    in_avals: tuple
    out_tree: Any
    out_avals: tuple
    # JAX's since 2026: NamedShardings over abstract meshes (None: unspecified), stored
    # in place of in/out_shardings_hlo, which new exports leave all None
    _has_named_shardings: bool = True
    _in_named_shardings: tuple | None = None
    _out_named_shardings: tuple | None = None
    in_shardings_hlo: tuple
    out_shardings_hlo: tuple
    nr_devices: int
    platforms: tuple
    ordered_effects: tuple
    unordered_effects: tuple
    disabled_safety_checks: tuple
    mlir_module_serialized: bytes
    calling_convention_version: int
    module_kept_var_idx: tuple
    uses_global_constants: bool
    _get_vjp: Callable[[Exported], Exported] | None = None

    def __post_init__(self) -> None:
        if self._in_named_shardings is None:
            object.__setattr__(self, "_in_named_shardings", (None,) * len(self.in_avals))
        if self._out_named_shardings is None:
            object.__setattr__(self, "_out_named_shardings", (None,) * len(self.out_avals))

    def mlir_module(self, serialized: bool = True) -> Any:
        """The StableHLO module as text, with its locations (``serialized=False``: the
        deserialized ``ir.Module`` itself), as JAX's."""
        ctx = runtime.make_mlir_context()
        module = poly_lowering.deserialize_module(self.mlir_module_serialized, ctx)
        if not serialized:
            return module
        with ctx:
            return module.operation.get_asm(enable_debug_info=True)

    def __str__(self) -> str:
        return f"Exported(fun_name={self.fun_name}, ...)"

    def in_shardings_jax(self, mesh: Any = None) -> tuple:
        """The inputs' NamedShardings moved onto ``mesh`` (a Mesh or AbstractMesh of
        the same axes as the one exported for; None: as exported), for ``jit`` or
        ``device_put``; None where unspecified."""
        return tuple(_on_mesh(s, mesh) for s in self._in_named_shardings)  # type: ignore[union-attr]

    def out_shardings_jax(self, mesh: Any = None) -> tuple:
        """As ``in_shardings_jax``, for the results."""
        return tuple(_on_mesh(s, mesh) for s in self._out_named_shardings)  # type: ignore[union-attr]

    def has_vjp(self) -> bool:
        return self._get_vjp is not None

    def vjp(self) -> Exported:
        """The exported VJP: arguments are the primal inputs then the output
        cotangents; results are the input cotangents."""
        if self._get_vjp is None:
            raise ValueError("No VJP is available")
        return self._get_vjp(self)

    def serialize(self, vjp_order: int = 0) -> bytearray:
        from .serialization import serialize

        return serialize(self, vjp_order=vjp_order)

    def call(self, *args: Any, **kwargs: Any) -> Any:
        return call_exported(self)(*args, **kwargs)


def _on_mesh(named: Any, mesh: Any) -> Any:
    """JAX's ``_get_named_sharding``: an exported sharding on a caller's mesh."""
    if named is None or mesh is None:
        return named
    am, em = mesh.abstract_mesh, named.mesh
    if (am.axis_sizes, am.axis_names, am.axis_types) != (
        em.axis_sizes,
        em.axis_names,
        em.axis_types,
    ):
        raise ValueError(
            f"NamedSharding new mesh {mesh} does not match the mesh used for export {em}."
        )
    return NamedSharding(mesh, named.spec, memory_kind=getattr(named, "memory_kind", None))


def default_export_platform() -> str:
    """The platform of the default device, by JAX's name for it ('cpu', 'cuda', ...)."""
    from .. import dispatch

    p = dispatch._pick_device(()).platform
    return "cuda" if p == "gpu" else p


def _lowering_platform(platform: str) -> str:
    p = platform.lower()
    if p in ("cuda", "rocm", "gpu"):
        return "gpu"
    if p in ("cpu", "tpu"):
        return p
    raise ValueError(f"Unsupported platform '{platform}' (use 'cpu', 'cuda', 'rocm' or 'tpu')")


def export(
    fun_jit: Any,
    *,
    platforms: Sequence[str] | None = None,
    disabled_checks: Sequence[DisabledSafetyCheck] = (),
) -> Callable[..., Exported]:
    """``export(jit(f))(*args, **kwargs)``: the ``Exported`` of ``f`` for arguments of
    these shapes and dtypes (arrays or ``ShapeDtypeStruct`` s, whose shapes may be
    symbolic, from ``symbolic_shape``)."""
    jitted = _as_jit(fun_jit)
    if jitted is None:
        raise ValueError(f"Function to be exported must be the result of `jit` but is: {fun_jit!r}")
    fun_jit = jitted
    if isinstance(platforms, str):
        platforms = (platforms,)
    chosen = tuple(p.lower() for p in platforms) if platforms else (default_export_platform(),)
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"platforms must not repeat: {chosen}")
    lowering_platforms = tuple(_lowering_platform(p) for p in chosen)

    def do_export(*args: Any, **kwargs: Any) -> Exported:
        version = config.jax_export_calling_convention_version
        if not (
            minimum_supported_calling_convention_version
            <= version
            <= maximum_supported_calling_convention_version
        ):
            raise ValueError(
                f"The requested export calling convention version {version} is outside the "
                f"range of supported versions [{minimum_supported_calling_convention_version}"
                f"..{maximum_supported_calling_convention_version}]"
            )
        caller = locations.caller_frame()
        amesh = _only_abstract_mesh(fun_jit, args, kwargs)
        to_trace = fun_jit
        if amesh is not None:  # lowered over stand-in devices: only the mesh's shape counts
            to_trace, args, kwargs = _onto_mesh(fun_jit, args, kwargs, _lowering_mesh(amesh))
        with locations.TracebackRecorder(caller) as recorder:
            traced = to_trace.trace(*args, **kwargs)
        closed = traced.jaxpr
        target = traced.device
        mesh = target.mesh if type(target) is SpmdTarget else None
        _check_one_scope(traced.in_avals)
        check_solvable(traced.in_avals, _leaf_names(traced.in_tree))
        if getattr(closed.jaxpr, "effects", None):
            raise NotImplementedError(
                f"exporting a function with effects {closed.jaxpr.effects} is not supported"
            )
        lowered_jaxpr, kept = _prune_for_export(closed, fun_jit._opts.keep_unused)
        names = _leaf_names(traced.in_tree)
        debug_names = _debug_arg_names(fun_jit, args, kwargs, len(names))
        shardings = (
            None if mesh is None else _Shardings(traced, kept, lowered_jaxpr, abstract=amesh)
        )
        with lowering_for_mesh(mesh):
            module, _ctx, records = poly_lowering.lower_for_export(
                lowered_jaxpr,
                traced.fun_name,
                lowering_platforms,
                arg_names=[names[i] for i in kept],
                shape_assertions=DisabledSafetyCheck.shape_assertions() not in disabled_checks,
                loc_names=[debug_names[i] for i in kept],
                result_names=result_names(traced.out_tree),
                annotate=None if shardings is None else shardings.annotate,
            )
        locations.apply_jax_locations(
            module, records, traced.fun_name, recorder, locations.user_frames(caller)
        )
        module_checks.check_no_host_callbacks(module)
        module_checks.check_custom_calls(module, disabled_checks)
        in_avals = tuple(traced.in_avals)
        poly = not all(shape_poly.is_constant_shape(a.shape) for a in in_avals)
        poly = poly or len(chosen) > 1  # the platform index: a global constant too
        return Exported(
            fun_name=traced.fun_name,
            in_tree=traced.in_tree,
            in_avals=in_avals,
            out_tree=traced.out_tree,
            out_avals=tuple(closed.out_avals),
            _in_named_shardings=None if shardings is None else shardings.in_named,
            _out_named_shardings=None if shardings is None else shardings.out_named,
            in_shardings_hlo=(None,) * len(in_avals),
            out_shardings_hlo=(None,) * len(closed.out_avals),
            nr_devices=1 if mesh is None else mesh.size,
            platforms=chosen,
            ordered_effects=(),
            unordered_effects=(),
            disabled_safety_checks=tuple(disabled_checks),
            mlir_module_serialized=poly_lowering.serialize_module(module),
            calling_convention_version=version,
            module_kept_var_idx=kept,
            uses_global_constants=poly,
            _get_vjp=_memo_vjp(closed),
        )

    return do_export


def result_names(out_tree: Any) -> list[str]:
    """JAX's ``jax.result_info`` of each result: "result" and the leaf's key path."""
    tree = tree_util.tree_unflatten(out_tree, [_Leaf(i) for i in range(out_tree.num_leaves)])
    return ["result" + tree_util.keystr(p) for p, _ in tree_util.tree_flatten_with_path(tree)[0]]


def _debug_arg_names(fun_jit: Any, args: Any, kwargs: Any, n: int) -> list:
    """JAX's argument names for the module's ``loc("...")`` (None where they cannot be
    matched to the flat arguments)."""
    try:
        names = locations.jax_arg_names(fun_jit._signature, args, kwargs, fun_jit._opts)
    except Exception:  # an unusual signature: the arguments stay unnamed
        return [None] * n
    return names if len(names) == n else [None] * n


def _prune_for_export(closed: Any, keep_unused: bool) -> tuple[Any, tuple]:
    """As ``jit(f).lower`` (engine/stages.py): the jaxpr with dead code and unused
    arguments and consts removed (consts stay embedded), and the arguments it keeps
    (JAX's ``module_kept_var_idx``)."""
    n_args = len(closed.jaxpr.invars)
    flat, consts = convert_constvars_to_invars(closed)
    pruned, used, _ = prune_unused(flat, keep_unused)
    if pruned is flat:
        return closed, tuple(range(n_args))
    nc = len(consts)
    used = used if used is not None else [True] * (nc + n_args)
    kept_consts = [c for c, u in zip(consts, used[:nc]) if u]
    j, nk = pruned.jaxpr, len(kept_consts)
    jaxpr = Jaxpr(j.invars[:nk], j.invars[nk:], j.outvars, j.eqns, j.debug_name)
    return ClosedJaxpr(jaxpr, kept_consts), tuple(i for i, u in enumerate(used[nc:]) if u)


class _Shardings:
    """A partitioned program's shardings, as JAX's ``Exported`` keeps them: one
    NamedSharding over the mesh's abstract mesh per input and result (None where
    unspecified, and for inputs the module does not take)."""

    def __init__(self, traced: Any, kept: tuple, lowered: Any, abstract: Any = None) -> None:
        target = traced.device
        self.target, self.traced, self.lowered, self.kept = target, traced, lowered, kept
        # exported over the user's AbstractMesh: its shardings name that mesh and, when
        # it names no platform, no memory kind (as JAX's)
        amesh = target.mesh.abstract_mesh if abstract is None else abstract
        kind = None if amesh._platform is None else "device"

        def named(spec: Any) -> Any:
            return None if spec is None else NamedSharding(amesh, spec, memory_kind=kind)

        self.in_specs = [
            None if target.unspecified[i] else target.in_shardings[i].spec for i in kept
        ]
        self.out_specs = target.out_specs(traced.out_tree, lowered.out_avals)
        by_arg = dict(zip(kept, self.in_specs))
        self.in_named = tuple(named(by_arg.get(i)) for i in range(len(traced.in_avals)))
        self.out_named = tuple(named(s) for s in self.out_specs)

    def annotate(self, module: Any) -> None:
        ops = list(module.body.operations)
        if any((_sym(op) or "").startswith("_main_") for op in ops):
            raise NotImplementedError(
                f"export of '{self.traced.fun_name}' partitioned over a mesh for platforms "
                "whose lowerings differ is not supported yet"
            )
        main = next(op for op in ops if _sym(op) == "main")
        # (several platforms: @main takes the platform's index first)
        extra = len(main.regions[0].blocks[0].arguments) - len(self.in_specs)
        spmd.annotate_module(
            module,
            self.target.mesh,
            [None] * extra + list(self.in_specs),
            [0] * extra + [len(a.shape) for a in self.lowered.in_avals],
            self.out_specs,
            [len(a.shape) for a in self.lowered.out_avals],
        )
        with module.context:
            ops = list(module.body.operations)
            mesh_op = next(op for op in ops if op.operation.name == "sdy.mesh")
            mesh_op.operation.location = ir.Location.unknown()  # parsed from text
            wrapped = [op for op in ops if _sym(op) == locations.WRAPPED]
            if wrapped:  # symbolic shapes: JAX's wrapper @main, then the mesh, then the
                # wrapped function, its shardings after the dimension variables' values
                main = next(op for op in ops if _sym(op) == "main")
                mesh_op.operation.move_after(main)
                inner = wrapped[0]
                n_dims = len(inner.regions[0].blocks[0].arguments) - len(self.in_specs)
                spmd._set_attrs(
                    inner,
                    "sdy.sharding",
                    [None] * n_dims + list(self.in_specs),
                    [0] * n_dims + [len(a.shape) for a in self.lowered.in_avals],
                    "arg_attrs",
                )
                if any(s is not None for s in self.out_specs):
                    spmd._set_attrs(
                        inner,
                        "sdy.sharding",
                        self.out_specs,
                        [len(a.shape) for a in self.lowered.out_avals],
                        "res_attrs",
                    )


def _sym(op: Any) -> str | None:
    attrs = op.operation.attributes
    return ir.StringAttr(attrs["sym_name"]).value if "sym_name" in attrs else None


def _check_one_scope(avals: Sequence[ShapedArray]) -> None:
    scope = None
    for a in avals:
        for d in a.shape:
            if isinstance(d, shape_poly.DimExpr):
                if scope is not None and d.scope is not scope:
                    raise ValueError(
                        "Invalid mixing of symbolic scopes when exporting: all symbolic "
                        "dimensions must come from one SymbolicScope "
                        "(use symbolic_shape(..., scope=...))"
                    )
                scope = d.scope


def _memo_vjp(closed: Any) -> Callable[[Exported], Exported]:
    made: list = []

    def _get_exported_vjp(primal: Exported) -> Exported:
        if not made:
            made.append(_export_vjp(closed, primal))
        return made[0]

    # how JAX's repr names it (its getter is a closure of _export_lowered)
    _get_exported_vjp.__qualname__ = "_export_lowered.<locals>._get_exported_vjp"
    return _get_exported_vjp


def _export_vjp(closed: Any, primal: Exported) -> Exported:
    from .. import api
    from ..interpreters.jvp import tangent_aval
    from ..jit import jit

    n_in = len(primal.in_avals)

    # named as JAX's (its module is jit_fun_vjp_jax, its arguments located by these)
    def fun_vjp_jax(*args_and_out_cts_flat_jax: Any) -> Any:
        args = args_and_out_cts_flat_jax
        primals, cts = args[:n_in], args[n_in:]
        _, pullback = api.vjp(
            lambda *xs: core.eval_jaxpr(closed.jaxpr, closed.consts, *xs), *primals
        )
        return pullback(list(cts))

    # the outputs' cotangents as JAX types them (float0 for an integer output)
    # (JAX's tangent aval keeps the primal's weak type, float0 ones included)
    cts = [tangent_aval(a).update(weak_type=a.weak_type) for a in primal.out_avals]
    specs = [
        api.ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type)
        for a in primal.in_avals + tuple(cts)
    ]
    if primal.nr_devices == 1:
        return export(jit(fun_vjp_jax), platforms=primal.platforms)(*specs)
    # as JAX's: arguments laid out as the primal's inputs then its outputs, results as
    # its inputs, over the primal's (abstract) mesh
    ins = primal.in_shardings_jax() + primal.out_shardings_jax()
    vjp_jit = jit(fun_vjp_jax, in_shardings=ins, out_shardings=primal.in_shardings_jax())
    return export(vjp_jit, platforms=primal.platforms)(*specs)


def _lowering_mesh(amesh: Any) -> Any:
    """A Mesh of ``amesh``'s axes to trace and lower over: the mesh in context if it has
    them, else one over the first devices, else (fewer devices than the mesh needs) one
    over stand-ins: lowering reads only a mesh's shape, names and types, as JAX's export
    over an AbstractMesh needs no devices."""
    from ..sharding.mesh import Mesh, get_mesh

    key = (amesh.axis_sizes, amesh.axis_names, amesh.axis_types)
    m = get_mesh()
    if m is not None and (m.axis_sizes, m.axis_names, m.axis_types) == key:
        return m
    devices = runtime.devices()
    if len(devices) < amesh.size:
        mesh = _standin_meshes.get(key)
        if mesh is None:
            first = devices[0]
            standins = [_StandInDevice(i, first) for i in range(amesh.size)]
            mesh = Mesh(np.array(standins, dtype=object).reshape(amesh.axis_sizes), *key[1:])
            _standin_meshes[key] = mesh
        return mesh
    flat = np.array(devices[: amesh.size], dtype=object)
    return Mesh(flat.reshape(amesh.axis_sizes), amesh.axis_names, amesh.axis_types)


class _StandInDevice:
    """A logical device ``i`` of a mesh exported for more devices than this process has
    (never given data or programs: only traced and lowered over)."""

    def __init__(self, i: int, like: Any) -> None:
        self.id = i
        self.process_index = 0
        self.platform, self.client, self.device_kind = like.platform, like.client, like.device_kind

    def __repr__(self) -> str:
        return f"StandInDevice(id={self.id})"


_standin_meshes: dict = {}


def _only_abstract_mesh(fun_jit: Any, args: Any, kwargs: Any) -> Any:
    """The AbstractMesh of the shardings given to ``jit`` or to the arguments'
    ShapeDtypeStructs, when no concrete Mesh is among them (else None)."""
    from ..api import ShapeDtypeStruct
    from ..sharding.mesh import AbstractMesh

    def is_leaf(x: Any) -> bool:
        return isinstance(x, (NamedSharding, ShapeDtypeStruct))

    given = tree_util.tree_leaves((fun_jit._opts.shardings, args, kwargs), is_leaf=is_leaf)
    meshes = [
        s.mesh
        for s in (
            getattr(x, "sharding", None) if isinstance(x, ShapeDtypeStruct) else x for x in given
        )
        if isinstance(s, NamedSharding)
    ]
    if not meshes or not all(isinstance(m, AbstractMesh) for m in meshes):
        return None
    return meshes[0]


def _onto_mesh(fun_jit: Any, args: Any, kwargs: Any, mesh: Any) -> tuple:
    """``fun_jit`` and the argument specs with their AbstractMesh shardings on ``mesh``."""
    from ..api import ShapeDtypeStruct
    from ..jit import jit
    from ..sharding.mesh import AbstractMesh

    def move(x: Any) -> Any:
        if isinstance(x, NamedSharding) and isinstance(x.mesh, AbstractMesh):
            return NamedSharding(mesh, x.spec, memory_kind=x.memory_kind)
        if isinstance(x, ShapeDtypeStruct) and x.sharding is not None:
            return ShapeDtypeStruct(x.shape, x.dtype, x.weak_type, move(x.sharding))
        return x

    def is_leaf(x: Any) -> bool:
        return isinstance(x, (NamedSharding, ShapeDtypeStruct))

    opts = fun_jit._opts
    in_s, out_s = tree_util.tree_map(move, opts.shardings, is_leaf=is_leaf)
    moved = jit(
        fun_jit.fun,
        static_argnums=tuple(opts.static_argnums),
        static_argnames=tuple(opts.static_argnames),
        donate_argnums=opts.donate_argnums,
        keep_unused=opts.keep_unused,
        in_shardings=in_s,
        out_shardings=out_s,
    )
    args, kwargs = tree_util.tree_map(move, (args, kwargs), is_leaf=is_leaf)
    return moved, args, kwargs


# ---------------------------------------------------------------------------- calling


def _describe(exported: Exported, arg_idx: int, dim: int | None = None) -> str:
    """How JAX names a flat argument (``args[1]['a']``, ``kwargs['y']``) and a
    dimension of it (``.shape[0]``)."""
    names = _leaf_names(exported.in_tree)
    where = names[arg_idx] if arg_idx < len(names) else f"args[{arg_idx}]"
    return where if dim is None else f"{where}.shape[{dim}]"


def _leaf_names(in_tree: Any) -> list[str]:
    n = in_tree.num_leaves
    tree = tree_util.tree_unflatten(in_tree, [_Leaf(i) for i in range(n)])
    names = [""] * n

    def walk(x: Any, prefix: str) -> None:
        if isinstance(x, _Leaf):
            names[x.i] = prefix
        elif isinstance(x, (tuple, list)):
            for k, c in enumerate(x):
                walk(c, f"{prefix}[{k}]")
        elif isinstance(x, dict):
            for k, c in x.items():
                walk(c, f"{prefix}[{k!r}]")
        else:  # a custom node: its children in flattening order
            for k, c in enumerate(tree_util.tree_leaves(x, is_leaf=lambda y: y is not x)):
                walk(c, f"{prefix}[{k}]")

    if isinstance(tree, tuple) and len(tree) == 2:
        walk(tree[0], "args")
        walk(tree[1], "kwargs")
    else:
        walk(tree, "args")
    return names


class _Leaf:
    __slots__ = ("i",)

    def __init__(self, i: int) -> None:
        self.i = i


def solve_dim_vars(exported: Exported, avals: Sequence[ShapedArray]) -> dict:
    """The value of each dimension variable of ``exported.in_avals`` given the actual
    argument avals; checks dtypes, ranks and constant dimensions (JAX's messages)."""
    if len(avals) != len(exported.in_avals):
        raise ValueError(
            f"Function {exported.fun_name} was exported for {len(exported.in_avals)} "
            f"arguments and is called with {len(avals)}"
        )
    env: dict = {}
    for i, (exp_aval, aval) in enumerate(zip(exported.in_avals, avals)):
        if len(exp_aval.shape) != len(aval.shape):
            raise ValueError(
                f"Rank mismatch for {_describe(exported, i)}: expected {exp_aval.shape} "
                f"and called with {aval.shape}"
            )
        if exp_aval.dtype != aval.dtype:
            raise ValueError(
                f"Dtype mismatch for {_describe(exported, i)}: expected {exp_aval.dtype} "
                f"and called with {aval.dtype}"
            )
        for j, (e, d) in enumerate(zip(exp_aval.shape, aval.shape)):
            if isinstance(e, int):
                if not isinstance(d, int) or e != d:
                    raise ValueError(
                        f"Shape mismatch for {_describe(exported, i, j)} (expected same "
                        f"constant): expected {exp_aval.shape} and called with {aval.shape}"
                    )
    _check_constraints(exported, avals)  # JAX's checks, in its order and words
    env = shape_poly.solve_dim_vars(
        [(e, d) for a, x in zip(exported.in_avals, avals) for e, d in zip(a.shape, x.shape)]
    )
    for i, (exp_aval, aval) in enumerate(zip(exported.in_avals, avals)):
        for j, (e, d) in enumerate(zip(exp_aval.shape, aval.shape)):
            if isinstance(e, int):
                continue
            missing = e._vars() - set(env)
            if missing:
                raise ValueError(
                    f"Cannot solve for the dimension variables {sorted(missing)} of "
                    f"{_describe(exported, i, j)} = '{e}': no input dimension is linear "
                    "in one of them alone"
                )
            got = shape_poly.evaluate(e, env)
            if not got == d:
                raise ValueError(
                    "Input shapes do not match the polymorphic shapes specification. "
                    "Found inconsistency between dimension size "
                    f"{_describe(exported, i, j)} (= {d}) and the specification '{e}' "
                    f"(= {got})."
                )
    for var, value in env.items():
        if isinstance(value, int) and value < 1:
            raise ValueError(
                "Input shapes do not match the polymorphic shapes specification. "
                f"Expected value >= 1 for dimension variable '{var}'. Found {value}."
            )
    return env


def check_solvable(avals: Sequence[ShapedArray], names: Sequence[str]) -> None:
    """JAX's ValueError when some dimension variable of the argument shapes cannot be
    solved from the actual sizes (each step needs an expression linear in its one
    unknown variable), checked symbolically at export."""
    scope = shape_poly.SymbolicScope()
    pairs, specs = [], []
    for i, a in enumerate(avals):
        if shape_poly.is_constant_shape(a.shape):
            continue
        specs.append(f"{names[i]}.shape = {a.shape}")
        for j, e in enumerate(a.shape):
            if isinstance(e, shape_poly.DimExpr):
                size = shape_poly.DimExpr._factor(f"{names[i]}.shape[{j}]", scope)
                pairs.append((e, size, f"{names[i]}.shape[{j}]"))
    env = shape_poly.solve_dim_vars([(e, size) for e, size, _ in pairs])
    unsolved = [(e, name) for e, _, name in pairs if e._vars() - env.keys()]
    if not unsolved:
        return
    missing = set().union(*(e._vars() for e, _ in unsolved)) - env.keys()
    raise ValueError(
        f"Cannot solve for values of dimension variables {missing}. "
        "We can only solve linear uni-variate constraints. "
        f"Using the following polymorphic shapes specifications: {','.join(specs)}. "
        "Unprocessed specifications: "
        + ", ".join(f"'{e}' for dimension size {name}" for e, name in unsolved)
        + ". Please see https://docs.jax.dev/en/latest/export/shape_poly.html"
        "#dimension-variables-must-be-solvable-from-the-input-shapes for more details."
    )


def _check_constraints(exported: Exported, avals: Sequence[ShapedArray]) -> None:
    """The shape checks JAX makes on concrete call shapes, with its messages."""
    if not all(type(d) is int for a in avals for d in a.shape):
        return
    if DisabledSafetyCheck.shape_assertions() in exported.disabled_safety_checks:
        return
    names = [_describe(exported, i) for i in range(len(avals))]
    checks = shape_assertions.shape_checks(exported.in_avals, names)
    sizes = {
        f"{names[i]}.shape[{j}]": d for i, a in enumerate(avals) for j, d in enumerate(a.shape)
    }
    shape_assertions.check_call_shapes(checks, sizes)


call_exported_p = Primitive("call_exported", multiple_results=True)


@call_exported_p.def_abstract_eval
def _call_exported_abstract_eval(*avals: ShapedArray, exported: Exported) -> list:
    env = solve_dim_vars(exported, avals)
    outs = [
        ShapedArray(
            tuple(shape_poly.evaluate(d, env) for d in a.shape), a.dtype, weak_type=a.weak_type
        )
        for a in exported.out_avals
    ]
    if exported.nr_devices == 1:
        return outs
    from ..sharding.in_types import typed_aval

    # as JAX's: a result carries its exported sharding in its type (Explicit axes)
    return [
        a if s is None else typed_aval(a, s)
        for a, s in zip(outs, exported._out_named_shardings)  # type: ignore[arg-type]
    ]


def _call_exported_lowering(ctx: Any, *args: Any, exported: Exported) -> list:
    if exported.ordered_effects:
        raise NotImplementedError("calling an exported function with ordered effects")
    mesh = current_lowering_mesh()
    if exported.nr_devices > 1:
        _check_device_count(exported, 1 if mesh is None else mesh.size)
    here = ctx.platform
    names = [_lowering_platform(p) for p in exported.platforms]
    if here in names:
        index = names.index(here)
    elif DisabledSafetyCheck.platform() in exported.disabled_safety_checks:
        index = 0
    else:
        raise ValueError(
            f"Function '{exported.fun_name}' was exported for platforms "
            f"'{exported.platforms}' but it is used on '{(here,)}'."
        )
    platform_index = index if len(exported.platforms) > 1 else None
    return poly_lowering.merge_and_call(ctx, exported, args, platform_index, mesh)


def _check_device_count(exported: Exported, n: int) -> None:
    if n != exported.nr_devices:
        raise ValueError(
            f"Function {exported.fun_name} was exported for {exported.nr_devices} devices "
            f"and is called in a context with {n} devices, which is not allowed."
        )


call_exported_p.lowering = _call_exported_lowering


@call_exported_p.def_impl
def _call_exported_impl(*args: Any, exported: Exported) -> Any:
    if exported.nr_devices > 1:
        return _call_partitioned(exported, list(args))
    from .. import dispatch

    return dispatch.apply_primitive(call_exported_p, args, {"exported": exported})


def _call_exported_jvp(primals: Sequence[Any], tangents: Sequence[Any], *, exported: Exported):
    raise NotImplementedError(
        "forward-mode differentiation of an exported function is not supported "
        "(JAX differentiates it in reverse mode through its exported VJP)"
    )


call_exported_p.def_jvp(_call_exported_jvp)


def call_exported(exported: Exported) -> Callable[..., Any]:
    """A function of the same pytrees as the exported one that runs its module; as JAX's,
    a ``custom_vjp`` whose backward pass calls ``exported.vjp()`` (itself differentiable
    the same way, as deep as the VJPs go: then JAX's "No VJP is available")."""
    if not isinstance(exported, Exported):
        raise ValueError(f"The exported argument must be an export.Exported. Found {exported}.")
    f_flat = _flat_calls.get(exported)
    if f_flat is None:
        f_flat = _flat_calls[exported] = _differentiable_call(exported)

    def f_imported(*args: Any, **kwargs: Any) -> Any:
        flat, tree = tree_util.tree_flatten((args, kwargs))
        if tree != exported.in_tree:
            ours = tree_util.tree_unflatten(tree, [0] * tree.num_leaves)
            theirs = tree_util.tree_unflatten(exported.in_tree, [0] * exported.in_tree.num_leaves)
            raise ValueError(
                "The invocation args and kwargs must have the same pytree structure "
                f"as when the function '{exported.fun_name}' was exported, but they "
                "have the following structural differences:\n"
                + "\n".join(
                    f"   - {_args_kwargs_path(path)} is a {thing1} in the invocation and "
                    f"a {thing2} when exported, so {why}.\n"
                    for path, thing1, thing2, why in _structure_differences((), ours, theirs)
                )
            )
        flat = [x if hasattr(x, "aval") else np.asarray(x) for x in flat]
        return tree_util.tree_unflatten(exported.out_tree, list(f_flat(*flat)))

    return f_imported


def _args_kwargs_path(path: tuple) -> str:
    from ..tree_util_keys import keystr

    head = "args" if path[0].idx == 0 else "kwargs"
    return head + keystr(path[1:])


def _structure_differences(path: tuple, t1: Any, t2: Any) -> Any:
    """(key path, what t1 is, what t2 is, why they differ) for each place two pytrees of
    different structure disagree, as JAX's ``tree_util.equality_errors``."""
    leaf1 = tree_util.treedef_is_strict_leaf(tree_util.tree_structure(t1))
    if leaf1 and tree_util.treedef_is_strict_leaf(tree_util.tree_structure(t2)):
        return
    if type(t1) is not type(t2):
        yield path, str(type(t1)), str(type(t2)), "their Python types differ"
        return
    if isinstance(t1, (list, tuple)) and len(t1) != len(t2):
        n1, n2 = type(t1).__name__, type(t2).__name__
        yield (
            path,
            f"{n1} of length {len(t1)}",
            f"{n2} of length {len(t2)}",
            ("the lengths do not match"),
        )
        return
    pairs1, meta1 = tree_util.flatten_one_level_with_keys(t1)
    pairs2, meta2 = tree_util.flatten_one_level_with_keys(t2)
    keys1, keys2 = [k for k, _ in pairs1], [k for k, _ in pairs2]
    if len(pairs1) != len(pairs2):
        try:
            diff = " ".join(repr(k.key) for k in set(keys1) ^ set(keys2))
        except Exception:  # keys without .key (sequence indices): no key-set difference
            diff = ""

        def kids(n: int) -> str:
            return f"{n} child{'ren' if n > 1 else ''}"

        yield (
            path,
            f"{type(t1)} with {kids(len(pairs1))}",
            f"{type(t2)} with {kids(len(pairs2))}",
            "the numbers of children do not match"
            + (diff and f", with the symmetric difference of key sets: {{{diff}}}"),
        )
        return
    _, meta1 = tree_util.flatten_one_level(t1)
    _, meta2 = tree_util.flatten_one_level(t2)
    if meta1 != meta2:
        yield (
            path,
            f"{type(t1)} with pytree metadata {meta1}",
            f"{type(t2)} with pytree metadata {meta2}",
            "the pytree node metadata does not match",
        )
        return
    for k, (_, c1), (_, c2) in zip(keys1, pairs1, pairs2):
        yield from _structure_differences((*path, k), c1, c2)


def _differentiable_call(exported: Exported) -> Callable[..., Any]:
    from ..custom_derivatives import custom_vjp

    # named as JAX's (they show in jaxprs: custom_vjp_call[name=f_flat ...])
    def f_flat(*args_flat: Any) -> Any:
        return tuple(call_exported_p.bind(*args_flat, exported=exported))

    f = custom_vjp(f_flat)

    def f_flat_vjp_fwd(*args_flat: Any) -> Any:
        return f(*args_flat), args_flat

    def f_flat_vjp_bwd(residual: Any, ct_res_flat: Any) -> Any:
        exp_vjp = exported.vjp()
        n = len(residual)
        cts = [
            ct if a.dtype != dtypes.float0 else np.zeros(np.shape(ct), dtypes.float0)
            for ct, a in zip(ct_res_flat, exp_vjp.in_avals[n:])
        ]
        return tuple(call_exported(exp_vjp)(*residual, *cts))

    f.defvjp(f_flat_vjp_fwd, f_flat_vjp_bwd)
    return f


_flat_calls: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _call_partitioned(exported: Exported, flat: list) -> Any:
    """An eager call of a function exported for several devices: a jit over the mesh in
    context (else the mesh of a sharded argument), as JAX runs it under ``set_mesh``;
    a sharded input as it is, the others replicated."""
    from ..jit import jit
    from ..sharding.mesh import Mesh, get_mesh

    mesh = get_mesh()
    if mesh is None:
        for x in flat:
            s = getattr(x, "sharding", None)
            if isinstance(s, NamedSharding) and isinstance(s.mesh, Mesh) and s.mesh.size > 1:
                mesh = s.mesh
                break
    _check_device_count(exported, 1 if mesh is None else mesh.size)
    in_shardings = []
    for x in flat:
        own = getattr(x, "sharding", None)
        if isinstance(own, NamedSharding) and getattr(own.mesh, "size", 1) > 1:
            in_shardings.append(own)
        else:  # replicated, then laid out as exported by the call's constraints
            in_shardings.append(NamedSharding(mesh, PartitionSpec()))
    call = _partitioned_calls.get(exported)
    if call is None:

        def call_exported_fn(*xs: Any) -> Any:
            return call_exported_p.bind(*xs, exported=exported)

        call = _partitioned_calls[exported] = call_exported_fn
    return jit(call, in_shardings=tuple(in_shardings))(*flat)


_partitioned_calls: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
