"""Sharding rules: how the shardings in operands' types (Explicit mesh axes) give the
sharding of a primitive's result, as JAX 0.10.2's rules do, and the errors where no
result sharding follows (sharded contracting dimensions, a mesh axis used twice).

``core.Primitive.abstract_eval`` calls ``propagate`` when an operand's type carries a
sharding. Elementwise primitives (every operand of rank 0 or of the result's rank, with
equal or size-1 dimensions) broadcast; the structural ones below have their own rule.
A primitive with neither leaves its result without a type sharding (XLA's partitioner
chooses the layout): JAX would name the missing rule instead.

Results of the primitives with a rule here are lowered with a Shardy sharding
constraint naming their type's layout (as JAX's ``lower_with_sharding_in_types``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .. import core
from ..core import ShardingTypeError
from ..sharding.in_types import type_sharding
from ..sharding.named import DuplicateSpecError, NamedSharding, PartitionSpec
from ..sharding.unreduced import carries_any, unreduced_and_reduced

Rule = Callable[..., Sequence[Any]]  # (avals, mesh, **params) -> one entry list per dim
RULES: dict[str, Rule] = {}
# a rule's answer for a result left without a sharding in its type
UNTYPED = object()
# primitives whose shape rule sets the result's type sharding itself
TYPED_BY_THEMSELVES = {"mesh_cast", "sharding_constraint", "reshard"}


def voting(avals) -> list:
    """The operands whose types carry a sharding, or all if none does. A value the
    engine made without one (a zeros in a transpose rule, an update broadcast by
    jnp's ``.at[]``) is one JAX gives the layout its rule needs: it does not vote."""
    typed = [a for a in avals if getattr(a, "sharding", None) is not None]
    return typed or list(avals)


def _entries(aval) -> tuple:
    s = aval.sharding
    return tuple(s.spec._normalized(len(aval.shape))) if s is not None else (None,) * aval.ndim


def _mesh_of(avals) -> Any:
    mesh = None
    for a in avals:
        s = getattr(a, "sharding", None)
        if s is None or s.mesh.empty:
            continue
        if mesh is not None and mesh != s.mesh:
            raise ValueError(
                f"Mesh for all inputs should be equal. Got one mesh: {mesh} and another "
                f"mesh: {s.mesh}"
            )
        mesh = s.mesh
    return mesh


def propagate(
    prim: core.Primitive, avals: tuple, out: Any, params: dict, ambient: Any = None
) -> Any:
    """``out`` (the primitive's result aval(s)) with the shardings its rule gives; with
    ``ambient`` (an Explicit mesh, for untyped operands), replicated over it as JAX's."""
    if prim.name in TYPED_BY_THEMSELVES:
        return out
    outs = list(out) if prim.multiple_results else [out]
    if any(getattr(o, "sharding", None) is not None for o in outs):
        if not prim.multiple_results and out is avals[0] and carries_any(avals):
            # a shape rule handing back its operand's type (rev): that type's unreduced
            # and reduced axes still need the primitive's rule, as JAX's
            unreduced_and_reduced(prim.name, avals, params, False)
        return out  # typed by the primitive itself (jit, ...)
    mesh = _mesh_of(avals)
    if mesh is None:  # untyped operands: a result sharding given as a parameter
        given = params.get("sharding") or params.get("out_sharding")
        if isinstance(given, NamedSharding):
            mesh = given.mesh.abstract_mesh
        elif ambient is not None and prim.name in RULES:
            mesh = ambient
        else:
            return out
    rule = RULES.get(prim.name)
    elementwise = False
    if rule is None:
        if prim.multiple_results or not _elementwise(avals, outs[0], params):
            return out
        rule, elementwise = _broadcasting, True
    ur = None
    one_type = not prim.multiple_results or prim.name == "split"  # (split: all alike)
    if one_type and (carries_any(avals) or _asks_unreduced(prim, params)):
        ur = unreduced_and_reduced(prim.name, avals, params, elementwise)
    entries = rule(prim.name, avals, outs, mesh, **params)
    if not prim.multiple_results:
        entries = [entries]
    if ur is not None and ur != (frozenset(), frozenset()):
        entries = [
            NamedSharding(mesh, PartitionSpec(*e, unreduced=ur[0], reduced=ur[1]))
            if not isinstance(e, NamedSharding) and e is not UNTYPED
            else e
            for e in entries
        ]
    typed = []
    for o, e in zip(outs, entries):
        if e is UNTYPED:
            typed.append(o)
            continue
        if isinstance(e, NamedSharding):  # an out_sharding given by the caller
            t = type_sharding(e, len(o.shape))
            if t is None and (e.spec.unreduced or e.spec.reduced):
                t = e  # (in a shard_map body: unreduced/reduced over its Manual axes)
            typed.append(o.update(sharding=t))
            continue
        try:
            sharding = NamedSharding(mesh, PartitionSpec(*e))
        except DuplicateSpecError:
            raise _illegal(prim, avals, o, e, mesh) from None
        typed.append(o.update(sharding=sharding))
    return typed if prim.multiple_results else typed[0]


def _asks_unreduced(prim: core.Primitive, params: dict) -> bool:
    given = params.get("out_sharding") if prim.name == "dot_general" else None
    return given is not None and bool(given.spec.unreduced)


def _illegal(prim, avals, out, entries, mesh) -> ShardingTypeError:
    class _Spec:  # the duplicated spec, for printing only (no NamedSharding allows it)
        spec = PartitionSpec(*entries)

    setattr(_Spec, "mesh", mesh)  # noqa: B010
    ins = ", ".join(a.str_short() for a in avals)
    result = f"{core.dtypes.short_name(out.dtype)}[{core.sharded_dims_text(out.shape, _Spec)}]"
    return ShardingTypeError(
        f"{prim.name} operation with inputs: {ins} produces an illegally sharded result: {result}"
    )


def _has_subjaxpr(params: dict) -> bool:
    return any(hasattr(v, "eqns") or hasattr(v, "jaxpr") for v in params.values())


def _elementwise(avals, out, params) -> bool:
    if not avals or _has_subjaxpr(params):
        return False
    shape = out.shape
    for a in avals:
        if not a.shape:
            continue
        if len(a.shape) != len(shape):
            return False
        if any(n != m and n != 1 for n, m in zip(a.shape, shape)):
            return False
    return True


def _broadcasting(name, avals, outs, type_mesh, **_):
    """JAX's broadcasting rule: a dimension takes the sharding its operands agree on;
    size-1 unsharded dimensions do not vote; disagreeing shardings are an error."""
    shaped = [a for a in avals if a.shape]
    if not shaped:
        return []
    specs = [_entries(a) for a in shaped]
    result = []
    for i in range(len(shaped[0].shape)):
        ss = [s[i] for s in specs]
        if all(s == ss[0] for s in ss[1:]):
            result.append(ss[0])
            continue
        voting = [s for s, a in zip(ss, shaped) if not (a.shape[i] == 1 and s is None)]
        if not voting:
            result.append(None)
        elif all(s == voting[0] for s in voting[1:]):
            result.append(voting[0])
        else:
            chosen = None
            for s in ss:
                if chosen is None and s is not None:
                    chosen = s
                elif chosen is not None and s is not None and s != chosen:
                    raise ShardingTypeError(
                        f"{name} got incompatible shardings for broadcasting: "
                        f"{', '.join(str(tuple(s)) for s in specs)}."
                    )
            result.append(chosen)
    return result


def rule(*names: str) -> Callable[[Rule], Rule]:
    def register(f: Rule) -> Rule:
        for n in names:
            RULES[n] = f
        return f

    return register


@rule("broadcast_in_dim")
def _broadcast_in_dim(name, avals, outs, type_mesh, *, shape, broadcast_dimensions, sharding=None):
    if sharding is not None:
        return sharding
    operand = iter(_entries(avals[0]))
    dims = set(broadcast_dimensions)
    return [next(operand) if i in dims else None for i in range(len(shape))]


@rule("iota")
def _iota(name, avals, outs, type_mesh, *, shape, sharding=None, **_):
    return sharding if sharding is not None else [None] * len(shape)


@rule("transpose")
def _transpose(name, avals, outs, type_mesh, *, permutation):
    e = _entries(avals[0])
    return [e[i] for i in permutation]


@rule("squeeze")
def _squeeze(name, avals, outs, type_mesh, *, dimensions):
    drop = set(dimensions)
    return [s for i, s in enumerate(_entries(avals[0])) if i not in drop]


@rule("reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "reduce_and", "reduce_or")
def _reduce(name, avals, outs, type_mesh, *, axes, out_sharding=None, **_):
    if out_sharding is not None:
        return out_sharding
    drop = set(axes)
    return [s for i, s in enumerate(_entries(avals[0])) if i not in drop]


@rule("reduce_xor", "argmax", "argmin")
def _reduce_index(name, avals, outs, type_mesh, *, axes, **_):
    drop = set(axes)
    return [s for i, s in enumerate(_entries(avals[0])) if i not in drop]


@rule("reshape")
def _reshape(name, avals, outs, type_mesh, *, new_sizes, dimensions=None, sharding=None):
    """JAX's rule: a sharded operand may only drop or add size-1 dimensions, or split one
    dimension into several (or merge several into one); anything else needs out_sharding."""
    if sharding is not None:
        return sharding
    operand = avals[0]
    entries = _entries(operand)
    if all(s is None for s in entries):
        return [None] * len(new_sizes)
    shape, new_sizes = tuple(operand.shape), tuple(new_sizes)
    if [n for n in shape if n != 1] == [n for n in new_sizes if n != 1]:
        kept = iter(s for n, s in zip(shape, entries) if n != 1)
        return [None if n == 1 else next(kept) for n in new_sizes]
    mesh = operand.sharding.mesh
    try:
        split = _one_group(shape, new_sizes)
        merge = _one_group(new_sizes, shape) if split is None else None
    except _TwoGroups:
        _reshape_error(operand, new_sizes)
    if split is not None:
        out: list = []
        for sizes, entry in zip(split, entries):
            if not isinstance(sizes, list):
                out.append(entry)
            elif entry is None:
                out.extend([None] * len(sizes))
            elif dimensions is not None:
                _reshape_error(operand, new_sizes)
            else:
                out.extend(_split_axes(mesh, _axes(entry), sizes, operand, new_sizes))
        return out
    if merge is None:
        _reshape_error(operand, new_sizes)
    out, it = [], iter(entries)
    for size, sizes in zip(new_sizes, merge):
        if not isinstance(sizes, list):
            out.append(next(it))
            continue
        merged = [next(it) for _ in sizes]
        if all(e is None for e in merged):
            out.append(None)
            continue
        if dimensions is not None:
            _reshape_error(operand, new_sizes)
        axes = [a for e in merged for a in (_axes(e) if e is not None else [None])]
        while axes[-1] is None:  # merged dims after the sharded ones may be unsharded
            axes.pop()
        if None in axes:
            _reshape_error(operand, new_sizes)
        out.extend(_split_axes(mesh, axes, [size], operand, new_sizes))
    return out


def _axes(entry) -> tuple:
    return () if entry is None else entry if isinstance(entry, tuple) else (entry,)


class _TwoGroups(Exception):
    pass


def _one_group(shape, new_sizes) -> list | None:
    """Per dimension of ``shape``: its size, or the list of ``new_sizes`` it splits
    into, when exactly one dimension splits (trailing 1s of ``new_sizes`` join a group);
    None when ``new_sizes`` is not such a split of ``shape``. Two split dimensions are
    ``_TwoGroups`` (JAX's rule sees only one group per reshape)."""
    if len(new_sizes) <= len(shape):
        return None
    ones = 0
    while shape[len(shape) - 1 - ones] == 1 and new_sizes[len(new_sizes) - 1 - ones] == 1:
        ones += 1
    shape, new_sizes = shape[: len(shape) - ones], new_sizes[: len(new_sizes) - ones]
    groups: list = []
    i = j = 0
    while j < len(new_sizes):
        if i >= len(shape):
            return None  # (JAX 0.10.2 fails here with an IndexError)
        if shape[i] == new_sizes[j]:
            groups.append(shape[i])
        elif any(isinstance(g, list) for g in groups):
            raise _TwoGroups
        else:
            part = [new_sizes[j]]
            while _prod(part) != shape[i] or (j + 1 < len(new_sizes) and new_sizes[j + 1] == 1):
                if _prod(part) > shape[i]:
                    return None
                if (
                    _prod(part) == shape[i]
                    and i + 1 < len(shape)
                    and new_sizes[j + 1] == shape[i + 1]
                ):
                    break  # the 1 that follows is the next dimension's, not this group's
                j += 1
                if j >= len(new_sizes):
                    return None
                part.append(new_sizes[j])
            groups.append(part)
        i += 1
        j += 1
    return groups + [1] * ones


def _prod(sizes) -> int:
    n = 1
    for s in sizes:
        n *= s
    return n


def _split_axes(mesh, axes, sizes, operand, new_sizes) -> list:
    """The mesh axes ``axes`` (major first) dealt out to dimensions of ``sizes``: each
    takes axes while its size still divides, the reshape error where one does not."""
    it = iter(axes)
    out = []
    for n in sizes:
        mine = []
        while n > 1:
            a = next(it, None)
            if a is None:
                break
            n, rem = divmod(n, mesh.shape[a])
            if rem:
                _reshape_error(operand, new_sizes)
            mine.append(a)
        out.append(None if not mine else mine[0] if len(mine) == 1 else tuple(mine))
    if next(it, None) is not None:
        _reshape_error(operand, new_sizes)
    return out


def _reshape_error(operand, new_sizes):
    raise ShardingTypeError(
        "This reshape is not supported. Please specify the sharding of the output via the "
        f"`out_sharding` argument of jax.lax.reshape. Got operand type: "
        f"{_long(operand)}, new sizes: {tuple(new_sizes)}"
    )


def _long(aval) -> str:
    return f"{aval.dtype.name}[{core.sharded_dims_text(aval.shape, aval.sharding)}]"


@rule("dot_general")
def _dot_general(name, avals, outs, type_mesh, *, dimension_numbers, out_sharding=None, **_):
    lhs, rhs = avals
    ls, rs = lhs.sharding, rhs.sharding
    if ls is not None and rs is not None and not ls.mesh.empty and ls.mesh != rs.mesh:
        raise ShardingTypeError(
            f"Mesh of both lhs and rhs should match. Got lhs: {ls.mesh} and rhs: {rs.mesh}"
        )
    if out_sharding is not None:
        return out_sharding
    (lc, rc), (lb, rb) = dimension_numbers
    le, re = _entries(lhs), _entries(rhs)
    lhs_contracting_spec = tuple(le[i] for i in lc)
    rhs_contracting_spec = tuple(re[i] for i in rc)
    lhs_batch_spec = tuple(le[i] for i in lb)
    rhs_batch_spec = tuple(re[i] for i in rb)
    _match(
        lhs_batch_spec,
        rhs_batch_spec,
        "dot_general requires lhs batch dimensions and rhs batch dimensions to have the "
        f"consistent sharding, got {lhs_batch_spec} and {rhs_batch_spec}.",
    )
    _match(
        lhs_contracting_spec,
        rhs_contracting_spec,
        "dot_general requires contracting dimensions to have consistent sharding, got "
        f"{lhs_contracting_spec} and {rhs_contracting_spec}.",
    )
    for a, b in zip(lhs_contracting_spec, rhs_contracting_spec):
        if a is not None and b is not None:
            raise ShardingTypeError(
                "Contracting dimensions are sharded and it is ambiguous how the output "
                "should be sharded. Please specify the output sharding via the "
                "`out_sharding` parameter. Got "
                f"lhs_contracting_spec={lhs_contracting_spec} and "
                f"rhs_contracting_spec={rhs_contracting_spec}"
            )
    lhs_free = [s for i, s in enumerate(le) if i not in lc and i not in lb]
    rhs_free = [s for i, s in enumerate(re) if i not in rc and i not in rb]
    return list(lhs_batch_spec) + lhs_free + rhs_free


def placed_as_typed(x: Any, sharding: NamedSharding) -> Any:
    """An eager result typed ``sharding`` but computed on one device (its operands were
    there) moved onto the mesh its type names, as JAX's eager op would have put it."""
    from .. import runtime
    from ..array import Array

    if type(x) is not Array or type(x._device) is runtime.DeviceGroup:
        return x
    from ..sharding.arrays import put
    from ..sharding.in_types import concrete_mesh_for

    try:
        mesh = concrete_mesh_for(sharding.mesh.abstract_mesh)
    except ValueError:
        return x
    return put(x, NamedSharding(mesh, PartitionSpec(*sharding.spec)))


def permuted_sharding(sharding: NamedSharding, where: dict) -> NamedSharding:
    """``sharding`` of an array whose dimension d sits at ``where[d]`` in another."""
    entries = [None] * len(where)
    for d, p in where.items():
        entries[p] = sharding.spec[d] if d < len(sharding.spec) else None
    return NamedSharding(sharding.mesh, PartitionSpec(*entries))


def same_layout(a, b) -> bool:
    """Whether two types' shardings agree dimension for dimension: loop carries and
    cond branches must agree, as in JAX. A type without a sharding (a value the engine
    made untyped where JAX's would carry the layout needed) agrees with any."""
    if getattr(a, "sharding", None) is None or getattr(b, "sharding", None) is None:
        return True
    return _entries(a) == _entries(b)


def first_typed(alternatives) -> list:
    """Per position, the first of the alternatives' types (cond branches' results) that
    carries a sharding: a branch returning a value the engine made untyped (zeros_like)
    beside one typed as JAX types both gives the typed result, as JAX's cond."""
    return [
        next((a for a in column if getattr(a, "sharding", None) is not None), column[0])
        for column in zip(*alternatives)
    ]


def scanned_slice_types(avals) -> list:
    """The types of the slices ``xs[i]`` that a scan body sees: the dimensions after the
    leading one keep their shardings; leading ones must be replicated (JAX's error)."""
    if any(a.sharding is not None and _entries(a)[0] is not None for a in avals):
        specs = ", ".join(str(a.sharding.spec if a.sharding else PartitionSpec()) for a in avals)
        raise ValueError(f"0th dimension of all xs should be replicated. Got {specs}")
    out = []
    for a in avals:
        if a.sharding is None:
            out.append(a.update(shape=a.shape[1:]))
        else:
            sliced = NamedSharding(a.sharding.mesh, PartitionSpec(*_entries(a)[1:]))
            out.append(a.update(shape=a.shape[1:], sharding=sliced))
    return out


def stacked_type(length, aval):
    """The type of a scan's stacked outputs: a new replicated leading dimension."""
    if aval.sharding is None:
        return aval.update(shape=(length, *aval.shape))
    stacked = NamedSharding(aval.sharding.mesh, PartitionSpec(None, *_entries(aval)))
    return aval.update(shape=(length, *aval.shape), sharding=stacked)


def _match(lhs, rhs, message):
    for a, b in zip(lhs, rhs):
        if a is not None and b is not None and a != b:
            raise ShardingTypeError(message)


def _keep_for_new_shape(name, operand, out):
    """JAX's rule for slicing and padding: the operand's sharding, if each resized
    sharded dimension still splits evenly."""
    entries = _entries(operand)
    for n, m, e in zip(operand.shape, out.shape, entries):
        if n != m and e is not None:
            parts = 1
            for a in _axes(e):
                parts *= operand.sharding.mesh.shape[a]
            if m % parts:
                raise ShardingTypeError(
                    f"{name} on sharded dims where out dim ({m}) is not divisible by mesh "
                    f"axes ({parts}) with spec ({e}) is not implemented. Got input "
                    f"type={operand.str_short()} and output shape={tuple(out.shape)}"
                )
    return list(entries)


@rule("slice")
def _slice(name, avals, outs, type_mesh, **_):
    return _keep_for_new_shape("slicing", avals[0], outs[0])


@rule("dynamic_slice")
def _dynamic_slice(name, avals, outs, type_mesh, **_):
    return _keep_for_new_shape("dynamic_slice", avals[0], outs[0])


@rule("pad")
def _pad(name, avals, outs, type_mesh, **_):
    return _keep_for_new_shape("padding", avals[0], outs[0])


@rule("dynamic_update_slice")
def _dynamic_update_slice(name, avals, outs, type_mesh, **_):
    operand, update = avals[:2]
    if not same_layout(operand, update):
        raise ShardingTypeError(
            "dynamic_update_slice operand sharding must be equal to update sharding, got "
            f"operand sharding {_with_axis_types(operand, type_mesh)} and update sharding "
            f"{_with_axis_types(update, type_mesh)}."
        )
    return list(_entries(voting([operand, update])[0]))


def _with_axis_types(aval, mesh) -> str:
    """``float32[8@X,4]({Explicit: ('X', 'Y')})``: a type and its mesh's axis types."""
    by_type: dict = {}
    for a, t in zip(mesh.axis_names, mesh.axis_types):
        by_type.setdefault(t.name, []).append(a)
    types = ", ".join(f"{t}: {tuple(names)}" for t, names in by_type.items())
    dims = (
        core.sharded_dims_text(aval.shape, aval.sharding)
        if aval.sharding
        else ",".join(map(str, aval.shape))
    )
    return f"{aval.dtype.name}[{dims}]({{{types}}})"


@rule("concatenate")
def _concatenate(name, avals, outs, type_mesh, **_):
    specs = [_entries(a) for a in voting(avals)]
    if any(s != specs[0] for s in specs[1:]):
        shown = ", ".join(
            str(a.sharding or NamedSharding(type_mesh, PartitionSpec(*[None] * a.ndim)))
            for a in avals
        )
        raise ShardingTypeError(
            f"All operands should have the same sharding. Got shardings {shown}"
        )
    return list(specs[0])


@rule("cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp")
def _cumulative(name, avals, outs, type_mesh, *, axis, **_):
    entries = _entries(avals[0])
    if entries[axis] is not None:
        raise ShardingTypeError(
            "Input should be unsharded over the axis being reduced. Got input type="
            f"{_long(avals[0])} and axis={axis}"
        )
    return list(entries)


@rule("sort")
def _sort(name, avals, outs, type_mesh, *, dimension, **_):
    shardings = [a.sharding for a in avals if a.sharding is not None]
    for s in shardings:
        if dimension < len(s.spec) and s.spec[dimension] is not None:
            raise ShardingTypeError(
                "Arguments to sort must be unsharded over the sorting dimension. Got arg "
                f"sharding={s} and sorting dimension={dimension}"
            )
        if s != shardings[0]:
            raise ShardingTypeError(
                "Arguments to sort must have equal shardings, got: "
                + " ".join(str(t) for t in shardings)
            )
    return [list(_entries(avals[0])) for _ in outs]


@rule("shard_map")
def _shard_map(name, avals, outs, type_mesh, *, out_specs, **_):
    """A shard_map's results are laid out as its out_specs say (their Explicit axes)."""
    explicit = {
        a for a, t in zip(type_mesh.axis_names, type_mesh.axis_types) if t.name == "Explicit"
    }
    result = []
    for o, spec in zip(outs, out_specs):
        entries = []
        for d in range(len(o.shape)):
            axes = tuple(a for a in spec._axes_of(d) if a in explicit)
            entries.append(None if not axes else axes[0] if len(axes) == 1 else axes)
        result.append(entries)
    return result


# ---------------------------------------------------------------------------- lowering


def _constrained(lowering: Callable) -> Callable:
    """``lowering`` followed by a Shardy sharding constraint on each result whose type
    carries a sharding, inside a program partitioned over a mesh."""

    def lower(ctx, *args, **params):
        out = lowering(ctx, *args, **params)
        from ..sharding.constraint import current_lowering_mesh

        mesh = current_lowering_mesh()
        if mesh is None:
            return out
        many = isinstance(out, (list, tuple))
        results = list(out) if many else [out]
        results = [_constrain(r, a, mesh) for r, a in zip(results, ctx.avals_out)]
        return results if many else results[0]

    lower.__wrapped__ = lowering  # type: ignore[attr-defined]
    return lower


def _constrain(value, aval, mesh):
    from ..sharding.constraint import constrain_to_type

    return constrain_to_type(value, getattr(aval, "sharding", None), len(aval.shape))


def _integer_pow_as_jax(lowering: Callable) -> Callable:
    """integer_pow lowered as JAX lowers it over an Explicit mesh: powers other than
    1, 2, 3 and -1 are JAX's square-and-multiply traced as lax ops, so each product, the
    broadcast one and the reciprocal carry the result type's constraint too."""

    def lower(ctx, x, *, y):
        from jaxlib.mlir.dialects import stablehlo as hlo

        from ..interpreters import lowering as lo
        from ..sharding.constraint import constrain_to_type, current_lowering_mesh

        out = ctx.avals_out[0]
        typed = getattr(out, "sharding", None)
        if y in (1, 2, 3, -1) or typed is None or current_lowering_mesh() is None:
            return lowering(ctx, x, y=y)
        ndim = len(out.shape)

        def pinned(v):
            return constrain_to_type(v, typed, ndim)

        def ones():
            scalar = out.update(shape=(), sharding=None)
            return pinned(lo.broadcast_to(lo.full_like_aval(1, scalar), scalar, out.shape))

        n, acc = abs(y), None
        while n:
            if n & 1:
                acc = x if acc is None else pinned(hlo.multiply(acc, x))
            n >>= 1
            if n:
                x = pinned(hlo.multiply(x, x))
        result = ones() if acc is None else acc
        if y < 0:
            result = pinned(hlo.divide(ones(), result))
        return pinned(result)

    lower.__wrapped__ = lowering  # type: ignore[attr-defined]
    return lower


def _install() -> None:
    import importlib

    from . import (
        convolution,
        cumulative,
        gather_scatter,
        generic_reductions,
        reductions,
        shape_extra,
        sharding_rules_indexing,  # noqa: F401  (register their rules)
        sharding_rules_linalg,  # noqa: F401
        sharding_rules_shapes,  # noqa: F401
        sharding_rules_windows,  # noqa: F401
        slicing,
        sorting,
        structural,
        windowed_reductions,
    )

    # ``from . import dot`` would give lax.dot the function (the package re-exports it)
    dot_module = importlib.import_module(f"{__package__}.dot")
    modules = (dot_module, reductions, cumulative, sorting, slicing, structural, shape_extra)
    for module in modules + (gather_scatter, convolution, windowed_reductions, generic_reductions):
        for value in vars(module).values():
            if isinstance(value, core.Primitive) and value.name in RULES:
                if value.lowering is not None and not hasattr(value.lowering, "__wrapped__"):
                    value.lowering = _constrained(value.lowering)
    # elementwise results JAX also constrains (its lowering rules end in
    # lower_with_sharding_in_types) whose lowering here is not ``broadcasting_lowering``
    from .. import ad_util
    from . import convert, elementwise, logic

    for p in (
        ad_util.add_any_p,
        convert.convert_element_type_p,
        convert.bitcast_convert_type_p,
        convert.reduce_precision_p,
        logic.select_n_p,
        structural.iota_p,
    ):
        if p.lowering is not None and not hasattr(p.lowering, "__wrapped__"):
            p.lowering = _constrained(p.lowering)
    pow_lowering = elementwise.integer_pow_p.lowering
    if pow_lowering is not None and not hasattr(pow_lowering, "__wrapped__"):
        elementwise.integer_pow_p.lowering = _integer_pow_as_jax(_constrained(pow_lowering))
    core.sharding_rule_hook = propagate
    core.ambient_mesh_hook = explicit_ambient_mesh
    core.AMBIENT_TYPED.update(AMBIENT_TYPED)


# primitives whose result JAX types over the ambient mesh when no operand is typed
# (replicated, unless given an out_sharding): iota, and a broadcast of an untyped value
AMBIENT_TYPED = {"iota", "broadcast_in_dim"}


def explicit_ambient_mesh() -> Any:
    """The abstract mesh tracing sees, when it has an Explicit axis; else None."""
    from ..sharding.mesh import get_abstract_mesh

    mesh = get_abstract_mesh()
    if mesh.empty or not any(t.name == "Explicit" for t in mesh.axis_types):
        return None
    return mesh


_install()
