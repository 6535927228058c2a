"""The mutable-array primitives, each with its rules beside it: ``new_ref`` (allocate),
``get`` (read ``ref[idx]``), ``swap`` (write ``ref[idx] = v``, returning the old value),
``addupdate`` (``ref[idx] += v``) and ``freeze`` (the final value). Eagerly they act on
a ``Ref``'s buffer; in a jaxpr they print as JAX's (``b:f32[] <- a[1]``, ``a[...] <- c``,
``a[1] += d``); a compiled program takes them out first (``discharge.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import core, dtypes
from .. import lax as _lax
from .. import numpy as _jnp
from ..ad_util import Zero, instantiate, zeros_like_aval
from ..core import Primitive
from ..interpreters import batching
from ..interpreters.jvp import tangent_aval
from .types import AbstractRef, Indexer, Ref, make_indexer


def _ref_prim(name: str, multiple_results: bool = False) -> Primitive:
    p = Primitive(name, multiple_results)
    p.effectful = True  # kept by dead-code elimination: it acts on memory
    p.ref_primitive = True
    p.takes_refs = True  # (other primitives reject ref operands: engine/core.py)
    p.computes_memory_space = True  # a ref's operands and results keep their own
    p.computes_vma = True
    return p


new_ref_p = _ref_prim("new_ref")
get_p = _ref_prim("get")
swap_p = _ref_prim("swap")
addupdate_p = _ref_prim("addupdate", multiple_results=True)
freeze_p = _ref_prim("freeze")
empty_ref_p = _ref_prim("empty_ref")
free_ref_p = _ref_prim("free_ref", multiple_results=True)
empty_ref_p.pp_params = lambda p: {"memory_space": p["memory_space"], "ty": p["ty"].str_long()}
# as JAX's: differentiated and batched even when no operand carries a tangent or a
# batch axis (a new ref gets a tangent ref; a write to an unbatched ref under vmap fails)
new_ref_p.always_jvp = True
for _p in (new_ref_p, swap_p, addupdate_p, freeze_p):
    _p.always_batch = True


# ---------------------------------------------------------------------------- public API


def new_ref(init_val: Any, *, memory_space: Any = None, kind: Any = None) -> Ref:
    """A new mutable array reference holding a copy of ``init_val``."""
    return new_ref_p.bind(init_val, memory_space=memory_space, kind=kind)


def freeze(ref: Any) -> Any:
    """The final value of ``ref`` (which should not be used afterwards)."""
    return freeze_p.bind(ref)


def empty_ref(ty: Any, memory_space: Any = None) -> Ref:
    """A new mutable array reference of type ``ty`` (a ShapeDtypeStruct or aval) whose
    contents are undefined until written."""
    aval = core.ShapedArray(ty.shape, ty.dtype, getattr(ty, "weak_type", False))
    return empty_ref_p.bind(ty=aval, memory_space=memory_space)


def free_ref(ref: Any) -> tuple:
    """Invalidate ``ref``."""
    free_ref_p.bind(ref)
    return ()


def _ref_and_indexer(ref: Any, idx: Any, function_name: str):
    aval = core.get_aval(ref) if not isinstance(ref, Ref) else ref.aval
    if type(aval) is not AbstractRef:
        raise ValueError(f"Can only call `{function_name}` on a `Ref`: {ref}.")
    indexer, operands = make_indexer(idx, aval.shape)
    return aval, indexer, operands


def ref_get(ref: Any, idx: Any = None) -> Any:
    """``ref[idx]``: an Array (not a Ref) of the indexed elements."""
    _, indexer, operands = _ref_and_indexer(ref, idx, "ref_get")
    return get_p.bind(ref, *operands, tree=indexer)


def _maybe_implicit_cast(dtype, value):
    # as JAX's (operator precedence included): a weak float into a float ref, or any
    # integer into an integer ref, takes the ref's dtype
    if isinstance(value, Ref) or type(core.get_aval(value)) is not core.ShapedArray:
        return value
    aval = core.get_aval(value)
    if (aval.weak_type and dtypes.is_float(dtype) and dtypes.is_float(aval.dtype)) or (
        dtypes.is_int(dtype) and dtypes.is_int(aval.dtype)
    ):
        return _lax.convert_element_type(value, dtype)
    return value


def ref_swap(ref: Any, idx: Any, value: Any, _function_name: str = "ref_swap") -> Any:
    """Write ``value`` at ``ref[idx]`` and return the value that was there."""
    aval, indexer, operands = _ref_and_indexer(ref, idx, _function_name)
    value = _maybe_implicit_cast(aval.dtype, value)
    return swap_p.bind(ref, value, *operands, tree=indexer)


def ref_set(ref: Any, idx: Any, value: Any) -> None:
    """``ref[idx] = value``."""
    ref_swap(ref, idx, value, _function_name="ref_set")


def ref_addupdate(ref: Any, idx: Any, x: Any) -> None:
    """``ref[idx] += x`` as one primitive."""
    _, indexer, operands = _ref_and_indexer(ref, idx, "ref_addupdate")
    addupdate_p.bind(ref, x, *operands, tree=indexer)


# ---------------------------------------------------------------------------- shape rules


def _indexed_aval(ref_aval, idx_avals, tree):
    inner = ref_aval.inner_aval
    if tree is None:
        return inner
    return inner.update(shape=tree.result_shape([a.shape for a in idx_avals]))


@new_ref_p.def_abstract_eval
def _new_ref_abstract_eval(init_aval, *, memory_space, kind):
    if type(init_aval) is AbstractRef:
        raise ValueError("Cannot store a Ref into another Ref.")
    return AbstractRef(init_aval, memory_space, kind)


@get_p.def_abstract_eval
def _get_abstract_eval(ref_aval, *idx_avals, tree):
    if type(ref_aval) is not AbstractRef:
        raise ValueError(f"`get` must be called on `Ref` types: {ref_aval}.")
    return _indexed_aval(ref_aval, idx_avals, tree)


def _check_value(name, ref_aval, val_aval, idx_avals, tree):
    if type(ref_aval) is not AbstractRef:
        raise ValueError(f"`{name}` must be called on `Ref` types: {ref_aval}.")
    if type(val_aval) is AbstractRef:
        raise ValueError(
            "Cannot store a Ref into another Ref. Did you forget to load from it using `[...]`?"
        )
    expected = _indexed_aval(ref_aval, idx_avals, tree)
    if expected.shape != val_aval.shape:
        raise ValueError(
            f"Invalid shape for `{name}`. Ref shape: {ref_aval.shape}. Expected shape: "
            f"{expected.shape}. Value shape: {val_aval.shape}. Transforms: "
            f"{() if tree is None else (tree,)}. "
        )
    if expected.dtype != val_aval.dtype:
        raise ValueError(
            f"Invalid dtype for `{name}`. Ref dtype: {expected.dtype}. "
            f"Value dtype: {val_aval.dtype}. "
        )
    return expected


@swap_p.def_abstract_eval
def _swap_abstract_eval(ref_aval, val_aval, *idx_avals, tree):
    return _check_value("swap", ref_aval, val_aval, idx_avals, tree)


@addupdate_p.def_abstract_eval
def _addupdate_abstract_eval(ref_aval, val_aval, *idx_avals, tree):
    _check_value("addupdate", ref_aval, val_aval, idx_avals, tree)
    return []


@empty_ref_p.def_abstract_eval
def _empty_ref_abstract_eval(*, ty, memory_space):
    return AbstractRef(ty, memory_space)


@free_ref_p.def_abstract_eval
def _free_ref_abstract_eval(ref_aval):
    return []


@empty_ref_p.def_impl
def _empty_ref_impl(*, ty, memory_space):
    raise NotImplementedError("Evaluation rule for 'empty_ref' not implemented")


@free_ref_p.def_impl
def _free_ref_impl(ref):
    return []


@empty_ref_p.def_jvp
def _empty_ref_jvp(primals, tangents, *, ty, memory_space):
    out = empty_ref_p.bind(ty=ty, memory_space=memory_space)
    return out, empty_ref_p.bind(ty=tangent_aval(ty), memory_space=memory_space)


@free_ref_p.def_jvp
def _free_ref_jvp(primals, tangents):
    free_ref_p.bind(primals[0])
    if type(tangents[0]) is not Zero:
        free_ref_p.bind(tangents[0])
    return [], []


@free_ref_p.def_batch
def _free_ref_batch(size, vals, dims):
    return free_ref_p.bind(vals[0]), []


@freeze_p.def_abstract_eval
def _freeze_abstract_eval(ref_aval):
    if type(ref_aval) is not AbstractRef:
        raise ValueError(f"`freeze` must be called on `Ref` types: {ref_aval}.")
    return ref_aval.inner_aval


# ---------------------------------------------------------------------------- the pure
# meaning of each operation on the ref's value (used eagerly and by discharge.py)


def get_value(x: Any, idx: list[Any], tree: Indexer | None) -> Any:
    return x if tree is None else _jnp._getitem(x, tree.numpy_index(idx))


def swap_value(x: Any, v: Any, idx: list[Any], tree: Indexer | None) -> tuple[Any, Any]:
    """(the new value of the ref, the old value at the index)."""
    if tree is None:
        return v, x
    where = tree.numpy_index(idx)
    return _jnp._IndexUpdateHelper(x)[where].set(v), _jnp._getitem(x, where)


def addupdate_value(x: Any, v: Any, idx: list[Any], tree: Indexer | None) -> Any:
    if tree is None:
        return _lax.add(x, v)
    return _jnp._IndexUpdateHelper(x)[tree.numpy_index(idx)].add(v)


def _copy(x):
    return _lax.copy_p.bind(x)


@new_ref_p.def_impl
def _new_ref_impl(init_val, *, memory_space, kind):
    if memory_space is not None:
        raise NotImplementedError("array ref with memory space only works inside of a `jit`.")
    aval = core.get_aval(init_val)
    val = _typed(_copy(_jnp.asarray(init_val, dtype=aval.dtype)), aval)
    return Ref(AbstractRef(core.get_aval(val), kind=kind), val)


def _avals(xs):
    return [core.get_aval(x) for x in xs]


def _typed(x, aval):
    """A value read from a ref has the ref's type (a weakly typed ref reads weak
    values, as JAX's), whatever type the value last written had."""
    from ..array import Array

    if type(x) is Array and x.aval.weak_type != aval.weak_type and x.aval.shape == aval.shape:
        return Array(x._buf, x.aval.update(weak_type=aval.weak_type), x._device, x._committed)
    return x


@get_p.def_impl
def _get_impl(ref, *idx, tree):
    aval = _get_abstract_eval(ref.aval, *_avals(idx), tree=tree)
    out = get_value(ref._array, list(idx), tree)
    return _typed(_copy(out) if out is ref._array else out, aval)  # never the ref's buffer


@swap_p.def_impl
def _swap_impl(ref, val, *idx, tree):
    aval = _swap_abstract_eval(ref.aval, *_avals((val, *idx)), tree=tree)
    new, old = swap_value(ref._array, val, list(idx), tree)
    new = _jnp.asarray(new) if new is not val else _copy(_jnp.asarray(new))
    ref._array = new
    return _typed(old, aval)


@addupdate_p.def_impl
def _addupdate_impl(ref, val, *idx, tree):
    _addupdate_abstract_eval(ref.aval, *_avals((val, *idx)), tree=tree)
    ref._array = addupdate_value(ref._array, val, list(idx), tree)
    return []


@freeze_p.def_impl
def _freeze_impl(ref):
    return _typed(_copy(ref._array), ref.aval.inner_aval)


# ---------------------------------------------------------------------------- printing


def _idx_text(ref_var, idx_atoms, tree, names):
    from ..pretty import _atom

    def operand(a):
        if type(a) is core.Literal:
            return str(np.asarray(getattr(a.val, "value", a.val)).item())
        return names(a)

    text = "[...]" if tree is None else tree.text([operand(a) for a in idx_atoms])
    return _atom(ref_var, names) + text


def _pp_get(eqn, names):
    from ..pretty import _binder

    ref, *idx = eqn.invars
    return f"{_binder(eqn.outvars[0], names)} <- {_idx_text(ref, idx, eqn.params['tree'], names)}"


def _pp_swap(eqn, names):
    from ..pretty import _atom, _binder

    ref, val, *idx = eqn.invars
    place = _idx_text(ref, idx, eqn.params["tree"], names)
    out = eqn.outvars[0]
    if names.dropped(out):  # a set: the old value unread
        return f"{place} <- {_atom(val, names)}"
    return f"{_binder(out, names)}, {place} <- {place}, {_atom(val, names)}"


def _pp_addupdate(eqn, names):
    from ..pretty import _atom

    ref, val, *idx = eqn.invars
    return f"{_idx_text(ref, idx, eqn.params['tree'], names)} += {_atom(val, names)}"


get_p.pp_eqn = _pp_get
swap_p.pp_eqn = _pp_swap
addupdate_p.pp_eqn = _pp_addupdate


# ---------------------------------------------------------------------------- JVP


class _RecordInto(core.Trace):
    """Records each primitive bound on it as an unknown equation of partial-evaluation
    trace ``pe`` (so its work belongs to the linear program, as JAX's)."""

    interpreter = "partial_eval"

    def __init__(self, pe):  # (no events of its own: it only forwards to ``pe``)
        self.pe, self.parent, self.valid = pe, pe, True

    def process_primitive(self, primitive, args, params):
        return self.pe.record(primitive, [self.pe.instantiate_const(x) for x in args], params)


def _tangent_ref(init_tangent, aval, memory_space, kind):
    if type(init_tangent) is Zero:
        trace = core.current_trace()
        if trace.interpreter == "partial_eval" and hasattr(trace, "record"):
            # under linearization the tangent ref (and its zeros) belong to the linear
            # program, as JAX's
            with core.set_current_trace(_RecordInto(trace)):
                init_tangent = zeros_like_aval(tangent_aval(aval))
            if not trace.is_unknown(init_tangent):  # (a scalar zero: a literal)
                init_tangent = trace.instantiate_const(init_tangent)
        else:
            init_tangent = zeros_like_aval(tangent_aval(aval))
    return new_ref_p.bind(init_tangent, memory_space=memory_space, kind=kind)


@new_ref_p.def_jvp
def _new_ref_jvp(primals, tangents, *, memory_space, kind):
    (x,), (t,) = primals, tangents
    out = new_ref_p.bind(x, memory_space=memory_space, kind=kind)
    return out, _tangent_ref(t, core.get_aval(x), memory_space, kind)


@get_p.def_jvp
def _get_jvp(primals, tangents, *, tree):
    ref, *idx = primals
    out = get_p.bind(ref, *idx, tree=tree)
    if type(tangents[0]) is Zero:
        return out, Zero(tangent_aval(core.get_aval(out)))
    return out, get_p.bind(tangents[0], *idx, tree=tree)


def _ref_tangent_missing(what, ref):
    return Exception(
        f"performing a {what} operation with a differentiated value on a non-differentiated "
        f"array reference of type {core.get_aval(ref).str_long()}. Move the array reference "
        "to be an argument of the differentiated function?"
    )


def _no_grad(ref):
    return core.get_aval(ref).kind == "no_grad_no_remat"


@swap_p.def_jvp
def _swap_jvp(primals, tangents, *, tree):
    ref, x, *idx = primals
    ref_t, x_t = tangents[0], tangents[1]
    out = swap_p.bind(ref, x, *idx, tree=tree)
    if (type(ref_t) is Zero and type(x_t) is Zero) or _no_grad(ref):
        return out, Zero(tangent_aval(core.get_aval(out)))
    if type(ref_t) is Zero:
        raise _ref_tangent_missing("set/swap", ref)
    return out, swap_p.bind(ref_t, instantiate(x_t), *idx, tree=tree)


@addupdate_p.def_jvp
def _addupdate_jvp(primals, tangents, *, tree):
    ref, x, *idx = primals
    ref_t, x_t = tangents[0], tangents[1]
    addupdate_p.bind(ref, x, *idx, tree=tree)
    if _no_grad(ref):  # (its writes carry no tangent, as JAX's)
        return [], []
    if type(ref_t) is Zero:
        if type(x_t) is not Zero:
            raise _ref_tangent_missing("addupdate", ref)
        return [], []
    addupdate_p.bind(ref_t, instantiate(x_t), *idx, tree=tree)
    return [], []


@freeze_p.def_jvp
def _freeze_jvp(primals, tangents):
    out = freeze_p.bind(primals[0])
    if type(tangents[0]) is Zero:
        return out, Zero(tangent_aval(core.get_aval(out)))
    return out, freeze_p.bind(tangents[0])


# ---------------------------------------------------------------------------- batching


def _bcast(size, x, d, to):
    """``x`` (batched at ``d``, or unbatched when ``d`` is None) batched at ``to``."""
    if d is None:
        x = _jnp.asarray(x)
        shape = list(x.shape)
        shape.insert(to, size)
        dims = tuple(i for i in range(len(shape)) if i != to)
        return _lax.broadcast_in_dim(x, tuple(shape), dims)
    return x if d == to else _jnp.moveaxis(x, d, to)


@new_ref_p.def_batch
def _new_ref_batch(size, vals, dims, *, memory_space, kind):
    (x,), (d,) = vals, dims
    if d is None:  # batched defensively: a batched value may be written to it later
        x, d = _bcast(size, x, None, 0), 0
    return new_ref_p.bind(x, memory_space=memory_space, kind=kind), d


@freeze_p.def_batch
def _freeze_batch(size, vals, dims):
    return freeze_p.bind(vals[0]), dims[0]


def _layout(labels, is_int, int_labels):
    """The result's axes (as labels) of indexing with entries ``labels``/``is_int``: as
    NumPy, the integer indices' block replaces them where they are adjacent, else
    goes first."""
    where = [i for i, f in enumerate(is_int) if f]
    slices = [lab for lab, f in zip(labels, is_int) if not f]
    if not where:
        return slices
    if where != list(range(where[0], where[-1] + 1)):
        return list(int_labels) + slices
    pos = sum(1 for f in is_int[: where[0]] if not f)
    return slices[:pos] + list(int_labels) + slices[pos:]


def _batched_index(size, tree, ref_dim, idx, idx_dims):
    """(indexer over the batched ref, its operands, the result's axes as labels, the
    per-example result's axes) for indexing a ref batched at ``ref_dim`` (None:
    unbatched) with index operands batched at ``idx_dims``."""
    assert tree is not None
    entries = list(tree.entries)
    is_int = [e[0] == "i" for e in entries]
    labels: list[Any] = [("s", k) for k in range(len(entries))]
    per_shapes = [
        core.get_aval(x).shape if d is None else tuple(np.delete(core.get_aval(x).shape, d))
        for x, d in zip(idx, idx_dims)
    ]
    int_shape = tuple(np.broadcast_shapes(*per_shapes)) if per_shapes else ()
    int_labels = [("i", j) for j in range(len(int_shape))]
    orig = _layout(labels, is_int, int_labels)
    shape = list(tree.shape)
    idx_batched = any(d is not None for d in idx_dims)
    ops = []
    for x, d, sh in zip(idx, idx_dims, per_shapes):
        if d is not None:  # batch axis first, then aligned with the per-example block
            x = _bcast(size, x, d, 0)
            x = _lax.reshape(x, (size,) + (1,) * (len(int_shape) - len(sh)) + tuple(sh))
        ops.append(x)
    if ref_dim is not None:
        shape.insert(ref_dim, size)
        if not idx_batched and not int_shape:  # the batch axis as a plain slice
            entries.insert(ref_dim, ("s", 0, size, 1))
            is_int.insert(ref_dim, False)
            labels.insert(ref_dim, "b")
        else:
            iota = _lax.broadcasted_iota(np.int32, (size,) + (1,) * len(int_shape), 0)
            ops.insert(sum(is_int[:ref_dim]), iota)
            entries.insert(ref_dim, ("i",))
            is_int.insert(ref_dim, True)
            labels.insert(ref_dim, "int")
    if idx_batched or (ref_dim is not None and int_shape):
        int_labels = ["b", *int_labels]
    new = _layout(labels, is_int, int_labels)
    return Indexer(tuple(entries), tuple(shape)), ops, new, orig


def _from_layout(x, new, orig):
    """``x`` (axes ``new``) with its batch axis where ``orig`` leaves it, as (x, dim)."""
    rest = [lab for lab in new if lab != "b"]
    if rest == orig:
        return x, new.index("b")
    return _lax.transpose(x, [new.index(lab) for lab in ["b", *orig]]), 0


def _to_layout(size, val, d, new, orig):
    """``val`` (per-example axes ``orig``, batched at ``d``) with axes ``new``."""
    val = _bcast(size, val, d, 0)
    src = ["b", *orig]
    perm = [src.index(lab) for lab in new]
    return val if perm == list(range(len(perm))) else _lax.transpose(val, perm)


@get_p.def_batch
def _get_batch(size, vals, dims, *, tree):
    ref, *idx = vals
    ref_dim, *idx_dims = dims
    if tree is None:
        return get_p.bind(ref, tree=None), ref_dim
    new_tree, ops, new, orig = _batched_index(size, tree, ref_dim, idx, idx_dims)
    return _from_layout(get_p.bind(ref, *ops, tree=new_tree), new, orig)


def _unbatched_ref_error(what, ref):
    return Exception(
        f"performing a {what} operation with vmapped value on an unbatched array reference "
        f"of type {core.get_aval(ref).str_long()}. Move the array reference to be an "
        "argument to the vmapped function?"
    )


def _write_batch_rule(prim, what, swaps):
    """The batching rule of a write (swap returns the old values, batched like the ref;
    addupdate returns nothing)."""

    def rule(size, vals, dims, *, tree):
        ref, val, *idx = vals
        ref_dim, val_dim, *idx_dims = dims
        if ref_dim is None:
            raise _unbatched_ref_error(what, ref)
        if tree is None:
            out = prim.bind(ref, _bcast(size, val, val_dim, ref_dim), tree=None)
            return (out, ref_dim) if swaps else (out, [])
        new_tree, ops, new, orig = _batched_index(size, tree, ref_dim, idx, idx_dims)
        out = prim.bind(ref, _to_layout(size, val, val_dim, new, orig), *ops, tree=new_tree)
        return _from_layout(out, new, orig) if swaps else (out, [])

    prim.def_batch(rule)


_write_batch_rule(swap_p, "set/swap", swaps=True)
_write_batch_rule(addupdate_p, "addupdate", swaps=False)


_ = batching  # (the trace that calls these rules)


# ---------------------------------------------------------------------------- lowering


def _not_discharged(ctx, *args, **params):
    raise NotImplementedError(
        "an array ref operation reached the compiler: jit discharges refs when the jitted "
        "function is called, but lowering a program that uses refs through "
        "jit(...).lower()/.trace() is not supported yet"
    )


for _p in (new_ref_p, get_p, swap_p, addupdate_p, freeze_p, empty_ref_p, free_ref_p):
    _p.def_lowering(_not_discharged)
