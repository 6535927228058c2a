"""The user-facing transformations: jvp, linearize, vjp, grad, vmap, jacobians,
make_jaxpr, eval_shape, and device placement. Each is a thin wrapper that flattens
pytrees and runs one of the interpreters in ``engine/interpreters``."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from . import core, dispatch, dtypes, runtime, traceback_util, tree_util
from .array import Array
from .config import config
from .interpreters import batching, transpose
from .interpreters import jvp as jvp_mod
from .interpreters import partial_eval as pe
from .interpreters.tracing import trace_to_jaxpr
from .jit_arguments import _arg_aval
from .sharding import arrays as _sharded
from .sharding import in_types as _sharded_types
from .sharding.constraint import typed_seed
from .sharding.named import PartitionSpec as _PartitionSpec
from .sharding.named import Sharding as _Sharding
from .tree_util import tree_flatten, tree_map, tree_unflatten


def _flatten_fun(fun, in_tree, store, kwargs=None, traced_for="a transformation"):
    """``fun`` on pytrees -> a function on flat leaves; the output treedef goes into ``store``."""

    def flat_fun(*flat):
        args = tree_unflatten(in_tree, flat)
        out = fun(*args, **(kwargs or {}))
        leaves, out_tree = tree_flatten(out)
        store.append(out_tree)
        leaves = core.dims_as_values(leaves)
        core.check_traced_outputs(fun, leaves, traced_for)
        return leaves

    return flat_fun


def _name(fun):
    return getattr(fun, "__name__", type(fun).__name__)


# ---------------------------------------------------------------------------- forward mode


def _check_callable(fun: Any) -> None:
    if not callable(fun):
        raise TypeError(f"Expected a callable value, got {fun!r}")


def jvp(
    fun: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool = False
) -> tuple[Any, ...]:
    """Forward-mode: ``(fun(*primals), directional derivative along tangents)``."""
    _check_callable(fun)
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError(
            "primal and tangent arguments to jvp must be tuples or lists; found "
            f"{type(primals).__name__} and {type(tangents).__name__}."
        )
    flat_p, tree_p = tree_flatten(tuple(primals))
    flat_t, tree_t = tree_flatten(tuple(tangents))
    if tree_p != tree_t:
        raise TypeError(
            f"primal and tangent arguments to jvp must have the same tree structure; "
            f"primals have tree structure {tree_p} whereas tangents have tree "
            f"structure {tree_t}."
        )
    tans = []
    for p, t in zip(flat_p, flat_t):
        pa, ta = core.get_aval(p), core.get_aval(t)
        want = jvp_mod.tangent_aval(pa)
        if pa.shape != ta.shape:
            raise ValueError(
                f"jvp called with different primal and tangent shapes; Got primal "
                f"shape {pa.shape} and tangent shape as {ta.shape}"
            )
        if want.dtype != ta.dtype:  # as JAX: weakly typed values too
            raise TypeError(
                "primal and tangent arguments to jvp do not match; dtypes must be "
                f"equal, or in case of int/bool primal dtype the tangent dtype must be "
                f"float0. Got primal dtype {pa.dtype} and so expected tangent dtype "
                f"{want.dtype}, but got tangent dtype {ta.dtype} instead."
            )
        tans.append(jvp_mod.Zero(want) if want.dtype == dtypes.float0 else t)
    store: list[Any] = []
    flat_fun = _flatten_fun(fun, tree_p, store)
    out_p, out_t = jvp_mod.jvp_flat(flat_fun, flat_p, tans)
    out_t = [_weak_as_primal(p, t, flat_t) for p, t in zip(out_p, out_t)]
    out_tree = store[0]
    if has_aux:
        (p, aux), (t, _) = tree_unflatten(out_tree, out_p), tree_unflatten(out_tree, out_t)
        return p, t, aux
    return tree_unflatten(out_tree, out_p), tree_unflatten(out_tree, out_t)


def _weak_as_primal(primal, tangent, tangents_in):
    """The output tangent, weakly typed where its primal is. JAX's jnp functions are
    jitted, and a jitted function's tangents take their primals' weak types; a tangent
    passed through untouched stays the caller's value, as in JAX."""
    if any(tangent is t for t in tangents_in):
        return tangent
    pa, ta = core.get_aval(primal), core.get_aval(tangent)
    if pa.weak_type and not ta.weak_type and pa.dtype == ta.dtype:
        from . import lax

        return lax.convert_element_type(tangent, ta.dtype, True)
    return tangent


def linearize(fun: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """``(fun(*primals), f_jvp)`` where ``f_jvp`` is the linear map, evaluated from a
    jaxpr of tangent work only (primal work was done once, now)."""
    _check_callable(fun)
    flat_p, in_tree = tree_flatten(primals)
    store: list[Any] = []
    flat_fun = _flatten_fun(fun, in_tree, store)
    out_p, lin = pe.linearize_flat(flat_fun, flat_p)
    out_tree = store[0]
    n_out = _n_main_outputs(out_tree, has_aux)

    def f_jvp(*tangents):
        flat_t, t_tree = tree_flatten(tangents)
        if t_tree != in_tree:
            raise ValueError(
                f"linearized function called on tangent values inconsistent with "
                f"the original primal values: expected {in_tree}, got {t_tree}"
            )
        for t, p in zip(flat_t, flat_p):
            ta, pa = core.get_aval(t), jvp_mod.tangent_aval(core.get_aval(p))
            if ta.shape != pa.shape or (ta.dtype != pa.dtype and not ta.weak_type):
                raise ValueError(
                    f"linearized function called on tangent of type {ta.str_short()} "
                    f"for a primal of type {core.get_aval(p).str_short()}; the "
                    f"tangent must have type {pa.str_short()}."
                )
        outs = core.eval_jaxpr(lin.jaxpr, lin.consts, *flat_t)
        return tree_unflatten(_main_tree(out_tree, has_aux), outs[:n_out])

    f_jvp.linear_jaxpr = lin  # type: ignore[attr-defined]
    if has_aux:
        out, aux = tree_unflatten(out_tree, out_p)
        return out, f_jvp, aux
    return tree_unflatten(out_tree, out_p), f_jvp


def _main_tree(out_tree, has_aux):
    if not has_aux:
        return out_tree
    children = out_tree.children()
    if len(children) != 2:
        raise TypeError(
            "expected function with aux output to return a two-element tuple "
            f"(output, aux), but got a pytree of structure {out_tree}"
        )
    return children[0]


def _n_main_outputs(out_tree, has_aux):
    return _main_tree(out_tree, has_aux).num_leaves


# ---------------------------------------------------------------------------- reverse mode


def _jax_type(aval):
    """An aval as JAX's errors print it: ``float32[3]``."""
    name = "float0" if aval.dtype == dtypes.float0 else aval.dtype.name
    return f"{name}[{','.join(map(str, aval.shape))}]"


def vjp(fun: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """Reverse-mode: ``(fun(*primals), vjp_fun)``; ``vjp_fun(cotangent)`` pulls an output
    cotangent back to a tuple of input cotangents. Built as linearize + transpose."""
    _check_callable(fun)
    flat_p, in_tree = tree_flatten(primals)
    store: list[Any] = []
    flat_fun = _flatten_fun(fun, in_tree, store)
    out_p, lin = pe.linearize_flat(flat_fun, flat_p)
    out_tree = store[0]
    main_tree = _main_tree(out_tree, has_aux)
    n_out = main_tree.num_leaves
    in_avals = [core.get_aval(p) for p in flat_p]
    out_avals = [core.get_aval(x) for x in out_p[:n_out]]
    aux_avals = [core.get_aval(x) for x in out_p[n_out:]]
    pullback = _Pullback(lin.jaxpr, in_tree, main_tree, in_avals, out_avals, aux_avals)
    # A pytree, as JAX's: the residuals are its leaves and the pullback its static part,
    # so it can be returned from (and passed into) jit, vmap, scan, ...
    vjp_fun = tree_util.Partial(pullback, list(lin.consts))
    vjp_fun.linear_jaxpr = lin  # type: ignore[attr-defined]
    if has_aux:
        out, aux = tree_unflatten(out_tree, out_p)
        return out, vjp_fun, aux
    return tree_unflatten(out_tree, out_p), vjp_fun


class _Pullback:
    """vjp's function less its residuals: ``pullback(residuals, cotangent)`` transposes
    the linear jaxpr (whose constvars the residuals fill) to the input cotangents."""

    __slots__ = ("jaxpr", "in_tree", "main_tree", "in_avals", "out_avals", "aux_avals")

    def __init__(self, jaxpr, in_tree, main_tree, in_avals, out_avals, aux_avals) -> None:
        self.jaxpr, self.in_tree, self.main_tree = jaxpr, in_tree, main_tree
        self.in_avals, self.out_avals, self.aux_avals = in_avals, out_avals, aux_avals

    def __repr__(self):
        return f"<vjp pullback of {self.jaxpr.debug_name or 'function'}>"

    def __call__(self, residuals: list[Any], cotangent: Any) -> Any:
        flat_ct, ct_tree = tree_flatten(cotangent)
        if ct_tree != self.main_tree:
            raise ValueError(
                f"unexpected tree structure of argument to vjp function: got "
                f"{ct_tree}, but expected to match {self.main_tree}"
            )
        for i, (ct, a) in enumerate(zip(flat_ct, self.out_avals)):
            ca = core.get_aval(ct)
            want = jvp_mod.tangent_aval(a)
            if want.dtype == dtypes.float0 and ca.shape == a.shape:
                # any cotangent of that shape stands for an integer output's (as JAX's
                # _temporary_dtype_exception); it has nothing to contribute
                flat_ct[i] = jvp_mod.Zero(want)
                continue
            if ca.shape != a.shape or (ca.dtype != want.dtype and not ca.weak_type):
                raise ValueError(
                    "unexpected JAX type (e.g. shape/dtype) for argument to VJP "
                    f"function: got {_jax_type(ca)}, but expected {_jax_type(want)} "
                    "because the corresponding output of the differentiated function "
                    f"had JAX type {_jax_type(a)}"
                )
        cts = list(flat_ct) + [jvp_mod.Zero(a) for a in self.aux_avals]
        lin_args = [transpose.UndefinedPrimal(v.aval) for v in self.jaxpr.invars]
        cts_in = transpose.backward_pass(self.jaxpr, residuals, lin_args, cts)
        cts_in = [_instantiate_ct(ct, a) for ct, a in zip(cts_in, self.in_avals)]
        return tree_unflatten(self.in_tree, cts_in)


def _instantiate_ct(ct, aval):
    """A cotangent as the user receives it: zeros for no cotangent, and an Array
    rather than a host value (a constant cotangent can pass straight through)."""
    t_aval = jvp_mod.tangent_aval(aval)
    # an integer input's cotangent is always fresh float0 zeros, as JAX's (its tangent
    # is a symbolic zero, never the float0 cotangent passed in)
    if ct is None or type(ct) is jvp_mod.Zero or t_aval.dtype == dtypes.float0:
        ct = jvp_mod.zeros_like_aval(t_aval)
    if type(ct) is core.WeakScalar or (
        isinstance(ct, (np.ndarray, np.generic)) and ct.dtype != dtypes.float0
    ):
        ct = dispatch.device_put_value(ct)
    return ct


def _check_argnums(argnums, nargs, fname):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums:
        raise ValueError(
            f"{fname}: argnums must be a non-empty int or tuple of ints, got {argnums}"
        )
    if len(set(i % nargs if nargs else i for i in nums)) != len(nums):
        raise ValueError(f"{fname}: argnums {argnums} names an argument more than once")
    for i in nums:
        if not -nargs <= i < nargs:
            raise TypeError(
                f"differentiating with respect to argnums={argnums} requires at least "
                f"{max(nums) + 1} positional arguments to be passed by the caller, but "
                f"got only {nargs} positional arguments."
            )
    return tuple(i % nargs for i in nums)


def _split_args(fun, args, kwargs, nums):
    dyn = tuple(args[i] for i in nums)

    def f_partial(*dyn_args):
        full = list(args)
        for i, a in zip(nums, dyn_args):
            full[i] = a
        return fun(*full, **kwargs)

    f_partial.__wrapped__ = fun  # type: ignore[attr-defined]  # errors name the user's fun
    return f_partial, dyn


def _diff_args(fun, args, kwargs, argnums, allow_int, holomorphic, name):
    """``fun`` of the ``argnums`` arguments alone and those arguments, checked (the
    argnums and the arguments' dtypes) as ``name`` does."""
    nums = _check_argnums(argnums, len(args), name)
    f_partial, dyn = _split_args(fun, args, kwargs, nums)
    for d in dyn:
        _check_input_dtype(d, allow_int, holomorphic, name)
    return f_partial, dyn


def _vjp_maybe_aux(f_partial, dyn, has_aux):
    """``vjp(f_partial, *dyn)`` as (out, vjp function, aux: None without ``has_aux``)."""
    if has_aux:
        return vjp(f_partial, *dyn, has_aux=True)
    return (*vjp(f_partial, *dyn), None)


def _check_input_dtype(x, allow_int, holomorphic, name):
    for leaf in tree_util.tree_leaves(x):
        dt = core.get_aval(leaf).dtype
        if holomorphic:
            if not dtypes.is_complex(dt):
                raise TypeError(
                    f"{name} with holomorphic=True requires inputs with complex "
                    f"dtype, but got {dt.name}."
                )
        elif name == "jacfwd" and not dtypes.is_float(dt):  # complex inputs too, as JAX
            raise TypeError(
                f"jacfwd requires real-valued inputs (input dtype that is a sub-dtype of "
                f"np.floating), but got {dt.name}. For holomorphic differentiation, pass "
                "holomorphic=True. For differentiation of non-holomorphic functions involving "
                "complex inputs or integer inputs, use jax.jvp directly."
            )
        elif not dtypes.is_inexact(dt) and not allow_int:
            raise TypeError(
                f"{name} requires real- or complex-valued inputs (input dtype that "
                f"is a sub-dtype of np.inexact), but got {dt.name}. If you want to "
                "use Boolean- or integer-valued inputs, use vjp or set allow_int to "
                "True."
            )


def value_and_grad(
    fun: Callable[..., Any],
    argnums: int | Sequence[int] = 0,
    has_aux: bool = False,
    holomorphic: bool = False,
    allow_int: bool = False,
) -> Callable[..., Any]:
    """``fun``'s value and its gradient with respect to ``argnums``."""
    _check_callable(fun)
    name = _name(fun)

    @functools.wraps(fun)
    def value_and_grad_f(*args, **kwargs):
        f_partial, dyn = _diff_args(fun, args, kwargs, argnums, allow_int, holomorphic, "grad")
        ans, vjp_fn, aux = _vjp_maybe_aux(f_partial, dyn, has_aux)
        _check_scalar_output(ans, name, holomorphic)
        aval = core.get_aval(ans)
        seed = core.WeakScalar(1, aval.dtype) if aval.weak_type else np.ones((), aval.dtype)
        g = vjp_fn(typed_seed(seed, aval))
        g = g[0] if isinstance(argnums, int) else g
        return ((ans, aux), g) if has_aux else (ans, g)

    return value_and_grad_f


def _check_scalar_output(ans, name, holomorphic):
    if not core.valid_array_value(ans) or isinstance(ans, (tuple, list, dict)):
        raise TypeError(f"Gradient only defined for scalar-output functions. Output was {ans!r}.")
    aval = core.get_aval(ans)
    if aval.shape != ():
        raise TypeError(
            f"Gradient only defined for scalar-output functions. Output had shape: "
            f"{aval.shape}. (function {name})"
        )
    if holomorphic:
        if not dtypes.is_complex(aval.dtype):
            raise TypeError(
                f"grad with holomorphic=True requires complex-valued outputs, but "
                f"got {aval.dtype.name}."
            )
    elif not dtypes.is_float(aval.dtype):
        hint = (
            "For holomorphic differentiation, pass holomorphic=True. For differentiation of "
            "non-holomorphic functions involving complex outputs, use jax.vjp directly."
            if dtypes.is_complex(aval.dtype)
            else "For differentiation of functions with integer outputs, use jax.vjp directly."
        )
        raise TypeError(
            f"grad requires real-valued outputs (output dtype that is a sub-dtype of "
            f"np.floating), but got {aval.dtype.name}. {hint}"
        )


def grad(
    fun: Callable[..., Any],
    argnums: int | Sequence[int] = 0,
    has_aux: bool = False,
    holomorphic: bool = False,
    allow_int: bool = False,
) -> Callable[..., Any]:
    """The gradient of scalar-valued ``fun`` with respect to ``argnums``."""
    vg = value_and_grad(fun, argnums, has_aux, holomorphic, allow_int)

    @functools.wraps(fun)
    def grad_f(*args, **kwargs):
        if has_aux:
            (_, aux), g = vg(*args, **kwargs)
            return g, aux
        return vg(*args, **kwargs)[1]

    return grad_f


# ---------------------------------------------------------------------------- vmap


def _broadcast_prefix(prefix, tree, what):
    """Leaves of ``prefix`` repeated over the leaves of ``tree`` they cover."""
    out = []

    def rec(p, t):
        if p is None or isinstance(p, int):
            out.extend([p] * len(tree_util.tree_leaves(t)))
            return
        pt = type(p)
        if isinstance(p, (tuple, list)) and isinstance(t, (tuple, list)) and len(p) == len(t):
            for a, b in zip(p, t):
                rec(a, b)
        elif isinstance(p, dict) and isinstance(t, dict) and set(p) == set(t):
            for k in sorted(t):
                rec(p[k], t[k])
        else:
            raise ValueError(
                f"vmap {what} specification must be a tree prefix of the "
                f"corresponding value, got specification {prefix} for value tree "
                f"{tree_util.tree_structure(tree)}. ({pt.__name__} vs "
                f"{type(t).__name__})"
            )

    rec(prefix, tree)
    return out


def vmap(
    fun: Callable[..., Any],
    in_axes: Any = 0,
    out_axes: Any = 0,
    axis_name: Any = None,
    axis_size: int | None = None,
    spmd_axis_name: Any = None,
) -> Callable[..., Any]:
    """Vectorize ``fun`` over an array axis."""
    _check_callable(fun)
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    if not (in_axes is None or isinstance(in_axes, (int, tuple))):  # JAX: no dict here
        raise TypeError(
            "vmap in_axes must be an int, None, or a tuple of entries corresponding "
            f"to the positional arguments passed to the function, but got {in_axes}."
        )

    @functools.wraps(fun)
    def vmapped(*args, **kwargs):
        if isinstance(in_axes, tuple) and len(in_axes) != len(args):
            raise ValueError(
                f"vmap in_axes must be an int, None, or a tuple of entries "
                f"corresponding to the positional arguments passed to the function, "
                f"but got len(in_axes)={len(in_axes)}, len(args)={len(args)}"
            )
        axes_spec = (in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args), 0)
        tree = (args, kwargs)
        flat, in_tree = tree_flatten(tree)
        dims = _broadcast_prefix(axes_spec, tree, "in_axes")
        sizes = {}
        norm = []
        for x, d in zip(flat, dims):
            if d is None:
                norm.append(None)
                continue
            aval = core.get_aval(x)
            if not -aval.ndim <= d < aval.ndim:
                raise ValueError(
                    f"vmap was requested to map its argument along axis {d}, which "
                    f"implies that its rank should be at least {d + 1 if d >= 0 else -d}"
                    f", but is only {aval.ndim} (its shape is {aval.shape})"
                )
            d %= aval.ndim
            norm.append(d)
            sizes.setdefault(aval.shape[d], []).append(aval.shape)
        if len(sizes) > 1:
            desc = "; ".join(f"axis size {s} for argument shapes {v}" for s, v in sizes.items())
            raise ValueError(f"vmap got inconsistent sizes for array axes to be mapped: {desc}")
        if sizes:
            size = next(iter(sizes))
            if axis_size is not None and axis_size != size:
                raise ValueError(f"vmap got axis_size={axis_size} but mapped axes have size {size}")
        elif axis_size is not None:
            size = axis_size
        else:
            raise ValueError("vmap must have at least one non-None value in in_axes")
        store = []

        def flat_fun(*leaves):
            a, kw = tree_unflatten(in_tree, leaves)
            out = fun(*a, **kw)
            out_leaves, out_tree = tree_flatten(out)
            store.append((out_tree, out))
            return core.dims_as_values(out_leaves)

        def out_dims():
            out_tree, out = store[0]
            ds = _broadcast_prefix(out_axes, out, "out_axes")
            return ds

        ema, spmd = batching.vmap_mesh_axes(flat, norm, spmd_axis_name)
        outs = batching.batch_flat(flat_fun, size, flat, norm, out_dims, axis_name, ema, spmd)
        return tree_unflatten(store[0][0], outs)

    return vmapped


# ---------------------------------------------------------------------------- jacobians


def _std_basis(flat):
    """Rows of the identity, shaped as the leaves (one row per element)."""
    from . import numpy as jnp

    sizes = [core.get_aval(x).size for x in flat]
    total = sum(sizes)
    dtype = dtypes.result_type(*[core.get_aval(x).dtype for x in flat]) if flat else np.float32
    eye = jnp.eye(total, dtype=dtype)
    out, off = [], 0
    for x, n in zip(flat, sizes):
        aval = core.get_aval(x)
        out.append(eye[:, off : off + n].reshape((total,) + aval.shape).astype(aval.dtype))
        off += n
    return out, total


def _float0_as_zeros(t, y):
    """A float0 tangent (of an integer output) as zeros of the output's dtype."""
    ta = core.get_aval(t)
    if ta.dtype != dtypes.float0:
        return t
    from . import lax

    return lax.full(ta.shape, 0, core.get_aval(y).dtype)


def _cast_like(x, example):
    """``x`` with ``example``'s dtype and weak type (complex to real drops the imaginary
    part), as JAX casts each Jacobian block."""
    from . import lax

    xa, ea = core.get_aval(x), core.get_aval(example)
    if xa.dtype == ea.dtype and xa.weak_type == ea.weak_type:
        return x
    if dtypes.is_complex(xa.dtype) and not dtypes.is_complex(ea.dtype):
        x = lax.real(x)
    return lax.convert_element_type(x, ea.dtype, ea.weak_type)


def _check_output_dtype(name, out, holomorphic, integer_ok):
    """jacfwd / jacrev's checks of the function's output dtypes, with JAX's messages."""
    for leaf in tree_util.tree_leaves(out):
        dt = core.get_aval(leaf).dtype
        if holomorphic:
            if not dtypes.is_complex(dt):
                raise TypeError(
                    f"{name} with holomorphic=True requires outputs with complex dtype, "
                    f"but got {dt.name}."
                )
        elif integer_ok:
            continue
        elif dtypes.is_complex(dt):
            raise TypeError(
                f"{name} requires real-valued outputs (output dtype that is a sub-dtype of "
                f"np.floating), but got {dt.name}. For holomorphic differentiation, pass "
                "holomorphic=True. For differentiation of non-holomorphic functions involving "
                "complex outputs, use jax.vjp directly."
            )
        elif not dtypes.is_float(dt):
            raise TypeError(
                f"{name} requires real-valued outputs (output dtype that is a sub-dtype of "
                f"np.floating), but got {dt.name}. For differentiation of functions with "
                "integer outputs, use jax.vjp directly."
            )


def jacfwd(
    fun: Callable[..., Any],
    argnums: int | Sequence[int] = 0,
    has_aux: bool = False,
    holomorphic: bool = False,
) -> Callable[..., Any]:
    """The Jacobian by forward mode: one JVP per input element, batched with vmap."""
    _check_callable(fun)

    def jacfun(*args, **kwargs):
        f_partial, dyn = _diff_args(fun, args, kwargs, argnums, False, holomorphic, "jacfwd")
        flat_dyn, dyn_tree = tree_flatten(dyn)
        basis, n = _std_basis(flat_dyn)

        def push(*tangent_leaves):
            tans = tree_unflatten(dyn_tree, tangent_leaves)
            if has_aux:
                y, t, aux = jvp(f_partial, dyn, tans, has_aux=True)
            else:
                (y, t), aux = jvp(f_partial, dyn, tans), None
            _check_output_dtype("jacfwd", y, holomorphic, integer_ok=True)
            t = tree_map(_float0_as_zeros, t, y)
            return (y, t, aux) if has_aux else (y, t)

        res = vmap(push, out_axes=-1 if not has_aux else (None, -1, None))(*basis)
        y, jac_flat = res[0], res[1]
        # As JAX: each Jacobian has its output's dtype and weak type.
        jac_flat = tree_map(_cast_like, jac_flat, y)

        # jac leaves: out_shape + (n,) -> split n into each input's shape
        def split(t):
            outs, off = [], 0
            for x in flat_dyn:
                aval = core.get_aval(x)
                piece = t[..., off : off + aval.size]
                outs.append(piece.reshape(t.shape[:-1] + aval.shape))
                off += aval.size
            return tree_unflatten(dyn_tree, outs)

        jac = tree_map(split, jac_flat)
        if isinstance(argnums, int):
            jac = tree_map(lambda j: j[0], jac, is_leaf=lambda x: isinstance(x, tuple))
        del y
        return (jac, res[2]) if has_aux else jac

    return jacfun


def jacrev(
    fun: Callable[..., Any],
    argnums: int | Sequence[int] = 0,
    has_aux: bool = False,
    holomorphic: bool = False,
    allow_int: bool = False,
) -> Callable[..., Any]:
    """The Jacobian by reverse mode: one VJP per output element, batched with vmap."""
    _check_callable(fun)

    def jacfun(*args, **kwargs):
        f_partial, dyn = _diff_args(fun, args, kwargs, argnums, allow_int, holomorphic, "jacrev")
        y, pullback, aux = _vjp_maybe_aux(f_partial, dyn, has_aux)
        _check_output_dtype("jacrev", y, holomorphic, integer_ok=False)
        flat_y, y_tree = tree_flatten(y)
        basis, n = _std_basis(flat_y)
        cts = vmap(lambda *b: pullback(tree_unflatten(y_tree, b)))(*basis)
        # cts: tuple over dyn args of leaves with leading n -> reshape n into each output
        flat_ct, ct_tree = tree_flatten(cts)
        # As JAX: each Jacobian has its input's dtype and weak type.
        flat_ct = [_cast_like(ct, x) for ct, x in zip(flat_ct, tree_util.tree_leaves(dyn))]

        def per_output(ct):
            outs, off = [], 0
            for yy in flat_y:
                ya = core.get_aval(yy)
                piece = ct[off : off + ya.size]
                outs.append(piece.reshape(ya.shape + ct.shape[1:]))
                off += ya.size
            return outs

        per = [per_output(ct) for ct in flat_ct]  # per input leaf, list over outputs
        by_out = [
            tree_unflatten(ct_tree, [per[i][j] for i in range(len(per))])
            for j in range(len(flat_y))
        ]
        if isinstance(argnums, int):
            by_out = [b[0] for b in by_out]
        jac = tree_unflatten(y_tree, by_out)
        return (jac, aux) if has_aux else jac

    return jacfun


jacobian = jacrev


def hessian(
    fun: Callable[..., Any],
    argnums: int | Sequence[int] = 0,
    has_aux: bool = False,
    holomorphic: bool = False,
) -> Callable[..., Any]:
    return jacfwd(jacrev(fun, argnums, has_aux, holomorphic), argnums, has_aux, holomorphic)


# ---------------------------------------------------------------------------- staging


class ShapeDtypeStruct:
    """A shape and dtype standing in for an array (for eval_shape / trace / lower)."""

    __slots__ = ("shape", "dtype", "weak_type", "sharding")

    def __init__(
        self, shape: Sequence[int], dtype: Any, weak_type: bool = False, sharding: Any = None
    ) -> None:
        self.shape = tuple(shape)
        self.dtype = dtypes.canonicalize_dtype(dtype)
        self.weak_type = weak_type
        self.sharding = sharding

    @classmethod
    def like(cls, x: Any) -> ShapeDtypeStruct:
        """The ShapeDtypeStruct of an array, scalar, tracer or ShapeDtypeStruct: its
        shape, dtype, weak type and (for arrays) sharding."""
        if isinstance(x, str):
            raise TypeError(f"Argument {x!r} of type {type(x)} is not a valid JAX type")
        if isinstance(x, (list, tuple, dict)) or not (
            core.valid_array_value(x) or isinstance(x, ShapeDtypeStruct)
        ):
            if not hasattr(x, "dtype"):
                raise TypeError(
                    f"Cannot interpret value of type {type(x)} as an abstract array; it "
                    "does not have a dtype attribute"
                )
        aval = x.aval if isinstance(x, ShapeDtypeStruct) else _arg_aval(x)
        sharding = getattr(x, "sharding", None) if not isinstance(x, core.Tracer) else None
        return cls(aval.shape, aval.dtype, aval.weak_type, sharding)

    @property
    def aval(self):
        aval = core.ShapedArray(self.shape, self.dtype, self.weak_type)
        if self.sharding is not None:  # over Explicit mesh axes the type carries it
            aval = _sharded_types.typed_aval(aval, self.sharding)
        return aval

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape, dtype=np.int64)))

    def __repr__(self):
        w = ", weak_type=True" if self.weak_type else ""
        return f"ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name}{w})"

    def __eq__(self, other):
        return (
            isinstance(other, ShapeDtypeStruct)
            and self.shape == other.shape
            and self.dtype == other.dtype
            and self.weak_type == other.weak_type
        )

    def __hash__(self):
        return hash((self.shape, self.dtype, self.weak_type))


def make_jaxpr(
    fun: Callable[..., Any], static_argnums: int | Sequence[int] = (), return_shape: bool = False
) -> Callable[..., Any]:
    """A function that traces ``fun`` on its arguments' shapes and returns the ClosedJaxpr."""
    if not callable(fun):
        raise TypeError(f"the first argument must be callable, got {fun!r}")  # JAX's words
    if isinstance(static_argnums, int):
        static_argnums = (static_argnums,)

    @functools.wraps(fun)
    def make(*args, **kwargs):
        dyn = [a for i, a in enumerate(args) if i not in static_argnums]

        def f_dyn(*dyn_args):
            it = iter(dyn_args)
            full = [a if i in static_argnums else next(it) for i, a in enumerate(args)]
            return fun(*full, **kwargs)

        f_dyn.__wrapped__ = fun  # type: ignore[attr-defined]

        flat, in_tree = tree_flatten(tuple(dyn))
        store = []
        closed = trace_to_jaxpr(
            _flatten_fun(f_dyn, in_tree, store, traced_for="jit"),
            [_arg_aval(x) for x in flat],
            debug_name=_name(fun),
        )
        if return_shape:
            shapes = tree_unflatten(
                store[0],
                [ShapeDtypeStruct(a.shape, a.dtype, a.weak_type) for a in closed.out_avals],
            )
            return closed, shapes
        return closed

    return make


def eval_shape(fun: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The output shapes and dtypes of ``fun``, without running it."""
    flat, in_tree = tree_flatten(args)
    store: list[Any] = []
    closed = trace_to_jaxpr(
        _flatten_fun(fun, in_tree, store, kwargs, traced_for="jit"),
        [_arg_aval(x) for x in flat],
        debug_name=_name(fun),
    )
    return tree_unflatten(
        store[0], [ShapeDtypeStruct(a.shape, a.dtype, a.weak_type) for a in closed.out_avals]
    )


# ---------------------------------------------------------------------------- devices


def devices(backend: str | None = None) -> list[Any]:
    return runtime.devices(backend)


def local_devices(
    process_index: int | None = None, backend: str | None = None, host_id: int | None = None
) -> list[Any]:
    """The devices of process ``process_index`` (this process by default)."""
    if host_id is not None:
        process_index = host_id
    if process_index is None:
        return runtime.local_devices(backend)
    everywhere = runtime.devices(backend)
    count = max(d.process_index for d in everywhere) + 1
    if not 0 <= process_index < count:
        raise ValueError(f"Unknown process_index {process_index}")
    return [d for d in everywhere if d.process_index == process_index]


def device_count(backend: str | None = None) -> int:
    """The number of devices of every process."""
    return len(runtime.devices(backend))


def local_device_count(backend: str | None = None) -> int:
    """The number of this process's devices."""
    return len(runtime.local_devices(backend))


def default_backend() -> str:
    return runtime.default_backend()


def device_put(x: Any, device: Any = None) -> Any:
    """Put (a pytree of) values on ``device`` (committing them there), or on the default
    device. An explicit transfer for ``transfer_guard``."""
    if isinstance(device, (tuple, list, dict)):  # one per leaf or subtree of x, as JAX
        return _device_put_each(x, device)
    leaves, treedef = tree_flatten(x)
    if any(isinstance(v, core.Tracer) for v in leaves):
        from .sharding.placement import device_put_traced

        return treedef.unflatten(device_put_traced(leaves, [device] * len(leaves)))
    if isinstance(device, (_Sharding, _PartitionSpec)):
        return tree_map(lambda v: _sharded.put(v, device), x)
    if isinstance(device, core.MemorySpace):
        from .sharding.placement import put_in_memory

        return tree_map(lambda v: put_in_memory(v, device), x)
    if type(device).__name__ == "Format":
        from .experimental.layout import put_with_format

        return tree_map(lambda v: put_with_format(v, device), x)
    if isinstance(device, (str, int, float)):
        raise ValueError(
            "`jax.device_put` only accepts `None`, `jax.sharding.Sharding`, `jax.Device`, "
            f"or a pytree of these values. Received invalid value: {device}"
        )
    committed = device is not None
    return tree_map(
        lambda v: dispatch.device_put_value(v, device, committed=committed, explicit=True), x
    )


def _device_put_each(x: Any, devices: Any) -> Any:
    """device_put with a pytree of devices/shardings that is a prefix of ``x``'s."""
    from .tree_util import tree_structure

    def is_target(d):
        return d is None or not isinstance(d, (tuple, list, dict))

    targets, target_tree = tree_flatten(devices, is_leaf=is_target)
    try:
        subtrees = target_tree.flatten_up_to(x)
    except ValueError as e:
        raise ValueError(
            f"device_put device specification must be a tree prefix of the corresponding value; {e}"
        ) from None
    parts = [device_put(sub, target) for sub, target in zip(subtrees, targets)]
    return tree_structure(devices, is_leaf=is_target).unflatten(parts)


def device_get(x: Any) -> Any:
    """(A pytree of) arrays as NumPy arrays: an explicit transfer for ``transfer_guard``."""

    def get(v):
        if isinstance(v, Array):
            return v._value(explicit=True)
        return v

    return tree_map(get, x)


def block_until_ready(x: Any) -> Any:
    """Wait until every array in the pytree ``x`` is computed; returns ``x``."""
    for leaf in tree_util.tree_leaves(x):
        if isinstance(leaf, Array):
            leaf.block_until_ready()
    return x


def live_arrays(platform: str | None = None) -> list[Array]:
    """The arrays alive on ``platform``'s devices (default: the default backend), as
    JAX's: deleted and garbage-collected ones are gone."""
    held = _engine_held_buffers()
    out = []
    for buf in runtime.live_buffers(platform or runtime.default_backend()):
        if id(buf) in held:
            continue
        a = buf.aval
        aval = core.ShapedArray(tuple(a.shape), np.dtype(a.dtype), bool(a.weak_type))
        out.append(Array(buf, aval, runtime.buffer_device(buf)))
    return out


@contextlib.contextmanager
def disable_jit(disable: bool = True) -> Iterator[None]:
    old = config.jax_disable_jit
    config.update("jax_disable_jit", disable)
    try:
        yield
    finally:
        config.update("jax_disable_jit", old)


def _engine_held_buffers() -> set[int]:
    """ids of the buffers the engine's own caches hold (cached scalars, jitted programs'
    constants): not the user's arrays, so ``live_arrays`` leaves them out (JAX has no
    such caches) and deleting every live array cannot break a later call."""
    import importlib

    from . import jit_cache
    from .numpy import _util as jnp_util

    held = {id(a._buf) for a in dispatch._scalar_cache.values()}
    held.update(id(a._buf) for a in jnp_util._strong_scalars.values())
    for cache in list(jit_cache._caches.values()):
        for entry in list(cache.entries.values()):
            held.update(id(b) for b in getattr(entry, "const_args", ()) or ())
    held.update(id(b) for b in importlib.import_module(".jit", __package__).keyed_cache_buffers())
    return held


def clear_caches() -> None:
    """Forget every compiled program and cached value: each jitted function's traces and
    executables, the eager one-primitive executables and the cached scalar arrays."""
    import importlib

    from . import jit_cache
    from .numpy import _util as jnp_util

    jit_module = importlib.import_module(".jit", __package__)  # the module, not engine.jit

    dispatch.clear_caches()
    for cache in list(jit_cache._caches.values()):
        cache.clear()
    for f in jit_module.all_jitted():
        f.clear_cache()
    jit_module._jaxpr_exe_cache.clear()
    jnp_util._strong_scalars.clear()


# ------------------------------------------------------------- traceback filtering
# Exceptions leave the transformations with the engine's frames filtered out (see
# engine/traceback_util.py): the direct entry points are wrapped, and the functions the
# transformation factories return are wrapped too.


def _boundary_factory(factory):
    @functools.wraps(factory)
    def make(*args, **kwargs):
        return traceback_util.api_boundary(factory(*args, **kwargs))

    return make


jvp = traceback_util.api_boundary(jvp)
linearize = traceback_util.api_boundary(linearize)
vjp = traceback_util.api_boundary(vjp)
eval_shape = traceback_util.api_boundary(eval_shape)
grad = _boundary_factory(grad)
value_and_grad = _boundary_factory(value_and_grad)
vmap = _boundary_factory(vmap)
jacfwd = _boundary_factory(jacfwd)
jacrev = _boundary_factory(jacrev)
hessian = _boundary_factory(hessian)
make_jaxpr = _boundary_factory(make_jaxpr)
