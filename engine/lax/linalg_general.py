"""``lax.linalg`` for general (non-Hermitian) matrices and tridiagonal systems: eig,
schur and hessenberg (CPU, LAPACK) and tridiagonal_solve, each with its rules."""

from __future__ import annotations

import enum

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import dtypes
from ..interpreters.jvp import Zero, instantiate
from ..interpreters.transpose import is_undefined_primal
from . import linalg_ffi as ffi
from .linalg_base import FLOAT_COMPLEX, aval, eye, linalg_primitive, mm, same_dtype, to_dtype
from .linalg_decompositions import _add, _complex_dtype

__all__ = [
    "eig",
    "schur",
    "hessenberg",
    "tridiagonal_solve",
    "EigImplementation",
    "eig_p",
    "schur_p",
    "hessenberg_p",
    "tridiagonal_solve_p",
]


class EigImplementation(enum.Enum):
    LAPACK = "lapack"
    MAGMA = "magma"
    CUSOLVER = "cusolver"


# ---------------------------------------------------------------------------- eig (CPU)


def eig(
    x,
    *,
    compute_left_eigenvectors=True,
    compute_right_eigenvectors=True,
    enable_eigvec_derivs=False,
    implementation=None,
    use_magma=None,
):
    """Eigenvalues w and left/right eigenvectors of a general square matrix (CPU)."""
    return list(
        eig_p.bind(
            x,
            compute_left_eigenvectors=bool(compute_left_eigenvectors),
            compute_right_eigenvectors=bool(compute_right_eigenvectors),
            enable_eigvec_derivs=bool(enable_eigvec_derivs),
            implementation=implementation,
        )
    )


def _eig_shape(shape, *, compute_left_eigenvectors, compute_right_eigenvectors, **_):
    if shape[0] != shape[1]:
        raise ValueError(f"The input to eig must be a square matrix. Got shape {shape}.")
    count = compute_left_eigenvectors + compute_right_eigenvectors
    return (shape[:-1],) + (shape,) * count


def _eig_dtype(dtype, *, compute_left_eigenvectors, compute_right_eigenvectors, **_):
    return (_complex_dtype(dtype),) * (1 + compute_left_eigenvectors + compute_right_eigenvectors)


eig_p = linalg_primitive("eig", [FLOAT_COMPLEX], (2,), _eig_shape, _eig_dtype, True)

_COMPUTE, _NO_COMPUTE = ord("V"), ord("N")  # jaxlib's eig.ComputationMode values


@eig_p.def_lowering
def _eig_lowering(
    ctx,
    x,
    *,
    compute_left_eigenvectors,
    compute_right_eigenvectors,
    enable_eigvec_derivs,
    implementation,
):
    if ctx.platform != "cpu":
        raise NotImplementedError("eig is only implemented on CPU in this engine")
    a_in = ctx.avals_in[0]
    batch = a_in.shape[:-2]
    real = not dtypes.is_complex(a_in.dtype)
    w_part = a_in.update(shape=a_in.shape[:-1])
    vec = a_in.update(dtype=_complex_dtype(a_in.dtype))
    avals_out = [w_part, vec, vec, ffi.info_aval(batch)]
    if real:
        avals_out = [w_part] + avals_out
    attrs = {
        "compute_left": ffi.u8_attr(_COMPUTE if compute_left_eigenvectors else _NO_COMPUTE),
        "compute_right": ffi.u8_attr(_COMPUTE if compute_right_eigenvectors else _NO_COMPUTE),
    }
    target = ffi.lapack_target("geev_ffi", a_in.dtype)
    *w, vl, vr, info = ffi.ffi_call(target, [x], [a_in], avals_out, attrs)
    w = hlo.complex(w[0], w[1]) if real else w[0]
    ok = ffi.ok_where(info, batch)
    out = [ffi.nan_where_not_ok(w, ctx.avals_out[0], ok, batch)]
    if compute_left_eigenvectors:
        out.append(ffi.nan_where_not_ok(vl, ctx.avals_out[len(out)], ok, batch))
    if compute_right_eigenvectors:
        out.append(ffi.nan_where_not_ok(vr, ctx.avals_out[len(out)], ok, batch))
    return out


def _eig_vec_jvp(w, v, da):
    """(dw, dv) by nondegenerate perturbation theory, with dv fixed by LAPACK's geev
    normalisation (unit 2-norm, real largest-magnitude component)."""
    from .. import numpy as jnp
    from .linalg_solve_helpers import solve

    n = w.shape[-1]
    eye_n = eye(w.dtype, n)
    fmat = 1 / (eye_n + w[..., None, :] - w[..., :, None]) - eye_n
    P = mm(solve(v, da), v)
    dw = jnp.diagonal(P, 0, -2, -1)
    U = mm(v, fmat * P)
    k = jnp.argmax(jnp.abs(v), axis=-2)
    rows = jnp.arange(n, dtype=k.dtype)
    mask = (rows[:, None] == k[..., None, :]).astype(v.dtype)
    c = jnp.real(-(jnp.conj(v) * U).sum(-2)) + 1j * (
        -jnp.imag((mask * U).sum(-2)) / jnp.real((mask * v).sum(-2))
    )
    return dw, U + v * c.astype(v.dtype)[..., None, :]


def _eig_jvp(primals, tangents, **params):
    from .. import numpy as jnp
    from .linalg_solve_helpers import solve

    left, right = params["compute_left_eigenvectors"], params["compute_right_eigenvectors"]
    if (left or right) and not params["enable_eigvec_derivs"]:
        raise NotImplementedError(
            "Derivatives of non-symmetric eigenvectors are only valid under assumptions on "
            "the input that JAX cannot check (see the enable_eigvec_derivs argument to "
            "jax.lax.linalg.eig). Pass enable_eigvec_derivs=True to jax.lax.linalg.eig to "
            "opt in. See https://github.com/jax-ml/jax/issues/2748 for discussion."
        )
    (a,), (da,) = primals, tangents
    outs = eig(
        a,
        compute_left_eigenvectors=left,
        compute_right_eigenvectors=True,
        enable_eigvec_derivs=params["enable_eigvec_derivs"],
        implementation=params["implementation"],
    )
    w, vr = outs[0], outs[-1]
    da = to_dtype(da, aval(vr).dtype)
    if not (left or right):
        return [w], [(solve(vr, da) * jnp.swapaxes(vr, -1, -2)).sum(-1)]
    dw, dvr = _eig_vec_jvp(w, vr, da)
    primal_out, tangent_out = [w], [dw]
    if left:
        vl = outs[1]
        _, dvl = _eig_vec_jvp(jnp.conj(w), vl, jnp.conj(jnp.swapaxes(da, -1, -2)))
        primal_out.append(vl)
        tangent_out.append(dvl)
    if right:
        primal_out.append(vr)
        tangent_out.append(dvr)
    return primal_out, tangent_out


eig_p.def_jvp(_eig_jvp)


# ---------------------------------------------------------------------------- schur, hessenberg


def schur(x, *, compute_schur_vectors=True, sort_eig_vals=False, select_callable=None):
    """Schur form T and vectors Z with x = Z T Z^H (CPU)."""
    return tuple(
        schur_p.bind(
            x,
            compute_schur_vectors=bool(compute_schur_vectors),
            sort_eig_vals=bool(sort_eig_vals),
            select_callable=select_callable,
        )
    )


def _schur_shape(shape, *, compute_schur_vectors, **_):
    if shape[0] != shape[1]:
        raise ValueError(f"The input to schur must be a square matrix. Got shape {shape}.")
    return (shape, shape) if compute_schur_vectors else (shape,)


schur_p = linalg_primitive(
    "schur",
    [FLOAT_COMPLEX],
    (2,),
    _schur_shape,
    lambda d, *, compute_schur_vectors, **_: (d, d) if compute_schur_vectors else (d,),
    True,
)


@schur_p.def_lowering
def _schur_lowering(ctx, x, *, compute_schur_vectors, sort_eig_vals, select_callable):
    if ctx.platform != "cpu":
        raise NotImplementedError("schur is only implemented on CPU")
    if sort_eig_vals:
        raise NotImplementedError("The sort feature of LAPACK's gees routine is not implemented.")
    a_in = ctx.avals_in[0]
    batch = a_in.shape[:-2]
    info = ffi.info_aval(batch)
    ev = a_in.update(shape=a_in.shape[:-1])
    if dtypes.is_complex(a_in.dtype):
        avals_out = [a_in, a_in, ev, info, info]
    else:
        avals_out = [a_in, a_in, ev, ev, info, info]
    attrs = {
        "mode": ffi.u8_attr(_COMPUTE if compute_schur_vectors else _NO_COMPUTE),
        "sort": ffi.u8_attr(ord("N")),
    }
    target = ffi.lapack_target("gees_ffi", a_in.dtype)
    form, vecs, *_, st = ffi.ffi_call(target, [x], [a_in], avals_out, attrs, aliases={0: 0})
    ok = ffi.ok_where(st, batch)
    out = [ffi.nan_where_not_ok(form, ctx.avals_out[0], ok, batch)]
    if compute_schur_vectors:
        out.append(ffi.nan_where_not_ok(vecs, ctx.avals_out[1], ok, batch))
    return out


def hessenberg(a):
    """Upper Hessenberg reduction in LAPACK's packed form: (a, taus) (CPU)."""
    return tuple(hessenberg_p.bind(a))


def _hessenberg_shape(shape):
    if shape[0] != shape[1]:
        raise ValueError(f"The input to hessenberg must be a square matrix. Got shape {shape}.")
    return shape, (shape[0] - 1,)


hessenberg_p = linalg_primitive(
    "hessenberg", [FLOAT_COMPLEX], (2,), _hessenberg_shape, lambda d: (d, d), True
)


@hessenberg_p.def_lowering
def _hessenberg_lowering(ctx, a):
    if ctx.platform != "cpu":
        raise NotImplementedError("hessenberg is only implemented on CPU")
    a_in = ctx.avals_in[0]
    batch = a_in.shape[:-2]
    avals_out = [*ctx.avals_out, ffi.info_aval(batch)]
    target = ffi.lapack_target("gehrd_ffi", a_in.dtype)
    n = a_in.shape[-1]
    i32 = ir.IntegerType.get_signless(32)
    attrs = {"low": ir.IntegerAttr.get(i32, 1), "high": ir.IntegerAttr.get(i32, n)}
    out, taus, st = ffi.ffi_call(target, [a], [a_in], avals_out, attrs, aliases={0: 0})
    ok = ffi.ok_where(st, batch)
    return [
        ffi.nan_where_not_ok(out, ctx.avals_out[0], ok, batch),
        ffi.nan_where_not_ok(taus, ctx.avals_out[1], ok, batch),
    ]


# ---------------------------------------------------------------------------- tridiagonal_solve


def tridiagonal_solve(dl, d, du, b, *, perturb_singular=False):
    """Solve the tridiagonal system with sub-, main and super-diagonals dl, d, du
    (dl[0] and du[-1] unused) for the columns of b."""
    return tridiagonal_solve_p.bind(dl, d, du, b, perturb_singular=bool(perturb_singular))


def _tridiagonal_shape(dl, d, du, b, **_):
    if dl != d or dl != du:
        raise TypeError(
            "tridiagonal_solve requires that all diagonal arguments have the same shape."
        )
    if dl != b[:-1]:
        raise TypeError(
            "tridiagonal_solve requires that the leading ndim-1 dimensions of b equal the "
            "dimensions of the diagonal arguments."
        )
    return b


tridiagonal_solve_p = linalg_primitive(
    "tridiagonal_solve", [FLOAT_COMPLEX] * 4, (1, 1, 1, 2), _tridiagonal_shape, same_dtype
)


@tridiagonal_solve_p.def_lowering
def _tridiagonal_lowering(ctx, dl, d, du, b, *, perturb_singular):
    b_in = ctx.avals_in[-1]
    batch = b_in.shape[:-2]
    if ctx.platform != "cpu":
        if perturb_singular:
            raise NotImplementedError(f"perturb_singular=True is not supported on {ctx.platform}.")
        return ffi.lower_fun(ctx, _thomas_batched, [dl, d, du, b], ctx.avals_in, None, False)
    if perturb_singular:
        (out,) = ffi.ffi_call(
            "tridiagonal_solve_perturbed_ffi", [dl, d, du, b], ctx.avals_in, [b_in]
        )
        return out
    target = ffi.lapack_target("gtsv_ffi", b_in.dtype)
    avals_out = [*ctx.avals_in, ffi.info_aval(batch)]
    *_, out, st = ffi.ffi_call(
        target, [dl, d, du, b], ctx.avals_in, avals_out, aliases={0: 0, 1: 1, 2: 2, 3: 3}
    )
    return ffi.nan_where_not_ok(out, b_in, ffi.ok_where(st, batch), batch)


def _thomas(dl, d, du, b):
    """The Thomas algorithm (no pivoting) for one system: a forward and a backward scan."""
    from .. import numpy as jnp
    from .control_flow import scan

    def fwd(carry, args):
        cp, dp = carry
        a, bb, c, dd = args
        denom = bb - a * cp
        return (c / denom, (dd - a * dp) / denom), (cp, dp)

    (_, final), (cp, dp) = scan(fwd, (du[0] / d[0], b[0] / d[0]), (dl[1:], d[1:], du[1:], b[1:, :]))

    def bwd(xn, args):
        cp_, dp_ = args
        x = dp_ - cp_ * xn
        return x, xn

    end, ans = scan(bwd, final, (cp, dp), reverse=True)
    return jnp.concatenate((end[None], ans), 0)


def _thomas_batched(dl, d, du, b):
    from ..api import vmap

    fn = _thomas
    for _ in range(dl.ndim - 1):
        fn = vmap(fn)
    return fn(dl, d, du, b)


def _tridiagonal_product(dl, d, du, b):
    from .elementwise import add, mul
    from .slicing import slice
    from .structural import broadcast_in_dim, pad

    s = aval(b).shape
    nd = len(s)

    def col(v):
        return broadcast_in_dim(v, s, tuple(range(nd - 1)))

    y = mul(col(d), b)
    zero = np.zeros((), aval(b).dtype)
    m = s[-2]
    if m > 1:
        lo = (0,) * nd
        below = slice(
            mul(col(dl), pad(b, zero, [(0, 0, 0)] * (nd - 2) + [(1, -1, 0), (0, 0, 0)])), lo, s
        )
        above = mul(col(du), pad(b, zero, [(0, 0, 0)] * (nd - 2) + [(-1, 1, 0), (0, 0, 0)]))
        y = add(add(y, below), above)
    return y


def _tridiagonal_jvp(primals, tangents, *, perturb_singular):
    from .elementwise import neg

    *diags, _ = primals
    *diags_dot, b_dot = tangents
    ans = tridiagonal_solve_p.bind(*primals, perturb_singular=perturb_singular)
    if all(type(t) is Zero for t in diags_dot):
        rhs = b_dot
    else:
        matvec = _tridiagonal_product(*[instantiate(t) for t in diags_dot], ans)
        rhs = neg(matvec) if type(b_dot) is Zero else _add(b_dot, neg(matvec))
    return ans, tridiagonal_solve_p.bind(
        *diags, instantiate(rhs), perturb_singular=perturb_singular
    )


tridiagonal_solve_p.def_jvp(_tridiagonal_jvp)


def _tridiagonal_transpose(ct, dl, d, du, b, *, perturb_singular):
    from .slicing import slice
    from .structural import concatenate, full_like

    if any(is_undefined_primal(x) for x in (dl, d, du)):
        raise ValueError("tridiagonal_solve is linear only in b")
    if type(ct) is Zero:
        return [None] * 4
    s = aval(du).shape
    nd = len(s)
    lo = (0,) * nd
    last = s[:-1] + (1,)
    dl_t = concatenate(
        (full_like(slice(du, lo, last), 0), slice(du, lo, s[:-1] + (s[-1] - 1,))), nd - 1
    )
    start1 = (0,) * (nd - 1) + (1,)
    du_t = concatenate((slice(dl, start1, s), full_like(slice(dl, lo, last), 0)), nd - 1)
    return [
        None,
        None,
        None,
        tridiagonal_solve(dl_t, d, du_t, ct, perturb_singular=perturb_singular),
    ]


tridiagonal_solve_p.def_transpose(_tridiagonal_transpose)
