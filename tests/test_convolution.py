"""lax.conv_general_dilated and the helpers on it (conv, conv_with_general_padding,
conv_transpose, conv_general_dilated_patches), jnp.convolve/correlate and
engine.scipy.signal against real JAX (and SciPy): values, first and second derivatives,
vmap over either or both operands, float64 and complex, jaxpr text, and bad input."""

import numpy as np
import pytest
from helpers import assert_close, real_jax
from helpers import x64_both as x64
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
import engine.numpy as ejnp
import engine.scipy.signal as esig
from engine import lax

jax, jnp = real_jax()
jlax = jax.lax

TOL = dict(rtol=1e-4, atol=1e-4)
GRAD_TOL = dict(rtol=2e-4, atol=2e-4)


def rand(shape, dtype=np.float32, seed=0):
    r = np.random.RandomState(seed)
    x = r.uniform(-1, 1, size=shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * r.uniform(-1, 1, size=shape)
    return x.astype(dtype)


# (lhs shape, rhs shape, keyword arguments of conv_general_dilated)
CASES = {
    "nchw_same": ((2, 3, 7, 6), (4, 3, 3, 2), dict(window_strides=(1, 1), padding="SAME")),
    "nhwc_valid_strided": (
        (2, 9, 8, 4),
        (3, 2, 4, 5),
        dict(window_strides=(2, 1), padding="VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")),
    ),
    "groups_dilations": (
        (2, 7, 6, 6),
        (3, 2, 3, 4),
        dict(
            window_strides=(2, 1),
            padding=((1, 2), (0, 1)),
            lhs_dilation=(2, 1),
            rhs_dilation=(1, 2),
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
            feature_group_count=2,
        ),
    ),
    "batch_groups_1d": (
        (4, 6, 7),
        (6, 6, 2),
        dict(window_strides=(1,), padding="SAME_LOWER", batch_group_count=2),
    ),
    "mixed_layouts_3d": (
        (1, 5, 4, 3, 2),
        (2, 2, 2, 2, 3),
        dict(
            window_strides=(1, 2, 1),
            padding="SAME",
            dimension_numbers=("NDHWC", "DHWIO", "NCDHW"),
        ),
    ),
}


def _fns(kw):
    return (
        lambda x, w: lax.conv_general_dilated(x, w, **kw),
        lambda x, w: jlax.conv_general_dilated(x, w, **kw),
    )


@pytest.mark.parametrize("name", list(CASES))
def test_values_grads_and_vmap_match_jax(name):
    xs, ws, kw = CASES[name]
    x, w = rand(xs, seed=1), rand(ws, seed=2)
    fe, fj = _fns(kw)
    assert_close(fe(x, w), fj(x, w), **TOL)
    assert_close(engine.jit(fe)(x, w), fj(x, w), **TOL)

    def loss(f):
        return lambda x, w: (f(x, w) ** 2).sum()

    assert_close(engine.grad(loss(fe), (0, 1))(x, w), jax.grad(loss(fj), (0, 1))(x, w), **GRAD_TOL)
    xb, wb = np.stack([x, 2 * x]), np.stack([w, -w])
    assert_close(engine.vmap(fe)(xb, wb), jax.vmap(fj)(xb, wb), **TOL)
    assert_close(engine.vmap(fe, (0, None))(xb, w), jax.vmap(fj, (0, None))(xb, w), **TOL)
    assert_close(engine.vmap(fe, (None, 0))(x, wb), jax.vmap(fj, (None, 0))(x, wb), **TOL)
    x_last = np.moveaxis(xb, 0, -1)
    assert_close(engine.vmap(fe, (-1, None))(x_last, w), jax.vmap(fj, (-1, None))(x_last, w), **TOL)


@pytest.mark.parametrize("name", ["nchw_same", "groups_dilations", "batch_groups_1d"])
def test_second_derivatives_match_jax(name):
    xs, ws, kw = CASES[name]
    x, w = rand(xs, seed=3), rand(ws, seed=4)
    fe, fj = _fns(kw)

    def mixed(f, grad):
        # d/dw of sum(d/dx sum(tanh(conv)))
        return grad(lambda w: grad(lambda x: np.float32(0.5) * (f(x, w) ** 3).sum())(x).sum())

    assert_close(mixed(fe, engine.grad)(w), mixed(fj, jax.grad)(w), **GRAD_TOL)
    he = engine.hessian(lambda x: (fe(x, w) ** 3).sum())(x)
    hj = jax.hessian(lambda x: (fj(x, w) ** 3).sum())(x)
    assert_close(he, hj, rtol=1e-3, atol=1e-3)


def test_float64_under_x64():
    xs, ws, kw = CASES["groups_dilations"]
    with x64():
        x, w = rand(xs, np.float64), rand(ws, np.float64)
        fe, fj = _fns(kw)
        out = fe(x, w)
        assert out.dtype == np.float64
        assert_close(out, fj(x, w), rtol=1e-12, atol=1e-12)
        loss = lambda f: lambda x, w: (f(x, w) ** 2).sum()  # noqa: E731
        assert_close(
            engine.grad(loss(fe), 1)(x, w), jax.grad(loss(fj), 1)(x, w), rtol=1e-11, atol=1e-11
        )


def test_complex_values_and_grads():
    xs, ws, kw = CASES["nchw_same"]
    x, w = rand(xs, np.complex64, 5), rand(ws, np.complex64, 6)
    fe, fj = _fns(kw)
    assert_close(fe(x, w), fj(x, w), **TOL)
    loss = lambda f: lambda x, w: (jnp.abs(f(x, w)) ** 2).sum()  # noqa: E731
    loss_e = lambda x, w: (ejnp.abs(fe(x, w)) ** 2).sum()  # noqa: E731
    assert_close(engine.grad(loss_e, (0, 1))(x, w), jax.grad(loss(fj), (0, 1))(x, w), **GRAD_TOL)


def test_preferred_element_type_and_precision():
    x, w = rand((1, 2, 5, 5)), rand((3, 2, 3, 3))
    xi, wi = (x * 10).astype(np.int8), (w * 10).astype(np.int8)
    kw = dict(window_strides=(1, 1), padding="VALID", preferred_element_type=np.int32)
    assert_close(lax.conv_general_dilated(xi, wi, **kw), jlax.conv_general_dilated(xi, wi, **kw))
    kw = dict(window_strides=(1, 1), padding="SAME", precision=lax.Precision.HIGHEST)
    assert_close(
        lax.conv_general_dilated(x, w, **kw),
        jlax.conv_general_dilated(x, w, **dict(kw, precision=jlax.Precision.HIGHEST)),
        **TOL,
    )


def test_jaxpr_text_equals_jax_for_conv_and_its_gradient():
    x, w = rand((1, 2, 5, 5)), rand((3, 2, 3, 3))
    fe = lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "SAME")  # noqa: E731
    fj = lambda x, w: jlax.conv_general_dilated(x, w, (1, 1), "SAME")  # noqa: E731
    assert str(engine.make_jaxpr(fe)(x, w)) == str(jax.make_jaxpr(fj)(x, w))
    ge = engine.grad(lambda x, w: fe(x, w).sum(), (0, 1))
    gj = jax.grad(lambda x, w: fj(x, w).sum(), (0, 1))
    assert str(engine.make_jaxpr(ge)(x, w)) == str(jax.make_jaxpr(gj)(x, w))


def test_helpers_match_jax():
    x, w = rand((2, 3, 8, 7)), rand((4, 3, 3, 2))
    assert_close(lax.conv(x, w, (2, 1), "SAME"), jlax.conv(x, w, (2, 1), "SAME"), **TOL)
    args = ((1, 1), ((1, 0), (2, 1)), (2, 1), (1, 2))
    assert_close(
        lax.conv_with_general_padding(x, w, *args),
        jlax.conv_with_general_padding(x, w, *args),
        **TOL,
    )
    assert_close(
        lax.conv_general_dilated_patches(x, (2, 3), (1, 2), "SAME"),
        jlax.conv_general_dilated_patches(x, (2, 3), (1, 2), "SAME"),
        **TOL,
    )
    xt, wt = rand((2, 5, 6, 3)), rand((3, 3, 3, 3))
    for padding in ("SAME", "VALID", ((1, 2), (0, 1))):
        for tk in (False, True):
            assert_close(
                lax.conv_transpose(xt, wt, (2, 2), padding, transpose_kernel=tk),
                jlax.conv_transpose(xt, wt, (2, 2), padding, transpose_kernel=tk),
                **TOL,
            )
    dn = lax.conv_dimension_numbers((1, 5, 6, 3), (3, 3, 3, 4), ("NHWC", "HWIO", "NCHW"))
    assert tuple(map(tuple, dn)) == tuple(
        map(
            tuple, jlax.conv_dimension_numbers((1, 5, 6, 3), (3, 3, 3, 4), ("NHWC", "HWIO", "NCHW"))
        )
    )
    for pad in ("SAME", "SAME_LOWER", "VALID"):
        assert lax.padtype_to_pads((7, 8), (3, 4), (2, 3), pad) == jlax.padtype_to_pads(
            (7, 8), (3, 4), (2, 3), pad
        )


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_jnp_convolve_and_correlate(mode):
    a, v = rand((9,), seed=7), rand((4,), seed=8)
    ac = rand((9,), np.complex64, 9)
    for f in ("convolve", "correlate"):
        fe, fj = getattr(ejnp, f), getattr(jnp, f)
        assert_close(fe(a, v, mode), fj(a, v, mode), **TOL)
        assert_close(fe(v, a, mode), fj(v, a, mode), **TOL)
        assert_close(fe(ac, v, mode), fj(ac, v, mode), **TOL)
        assert_close(fe(np.arange(5), np.arange(3), mode), fj(np.arange(5), np.arange(3), mode))
        assert_close(
            engine.grad(lambda a: (fe(a, v, mode) ** 2).sum())(a),
            jax.grad(lambda a: (fj(a, v, mode) ** 2).sum())(a),
            **GRAD_TOL,
        )
    np.testing.assert_allclose(
        ejnp.convolve(a, v, mode), np.convolve(a, v, mode), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_scipy_signal(mode):
    import jax.scipy.signal as jsig
    import scipy.signal as ss

    x, w = rand((7, 8), seed=10), rand((3, 4), seed=11)
    for f in ("convolve2d", "correlate2d"):
        assert_close(getattr(esig, f)(x, w, mode), getattr(jsig, f)(x, w, mode), **TOL)
        assert_close(getattr(esig, f)(w, x, mode), getattr(jsig, f)(w, x, mode), **TOL)
        np.testing.assert_allclose(
            getattr(esig, f)(x, w, mode), getattr(ss, f)(x, w, mode), rtol=1e-4, atol=1e-4
        )
    x3, w3 = rand((5, 6, 4), seed=12), rand((2, 3, 2), seed=13)
    for f in ("convolve", "correlate"):
        for method in ("direct", "fft"):
            assert_close(
                getattr(esig, f)(x3, w3, mode, method),
                getattr(jsig, f)(x3, w3, mode, method),
                **TOL,
            )
    assert_close(
        esig.fftconvolve(x3, x3[:, :3], mode, axes=(1,)),
        jsig.fftconvolve(x3, x3[:, :3], mode, axes=(1,)),
        **TOL,
    )


def _raises_like_jax(fe, fj, phrase):
    with pytest.raises(Exception) as ej:
        fj()
    with pytest.raises(type(ej.value)) as ee:
        fe()
    assert phrase in str(ee.value), str(ee.value)
    assert phrase in str(ej.value), str(ej.value)


@pytest.mark.parametrize(
    "kw, phrase",
    [
        (dict(dimension_numbers=("NCHW", "OIHW", "NHCWX")), "must have len equal to the ndim"),
        (
            dict(dimension_numbers=("NCHW", "OIHW", "NHWQ")),
            "must contain the characters 'N' and 'C'",
        ),
        (dict(dimension_numbers=("NCHW", "OIHW", "NCHQ")), "same set of spatial characters"),
        (dict(dimension_numbers=("NCHW", "OIHW")), "must be length 3"),
        (dict(padding="FULL"), "Unrecognized padding type"),
        (dict(padding=((1, 1, 1), (0, 0))), "sequence of (low, high) pairs"),
        (dict(feature_group_count=2), "feature_group_count must divide lhs feature"),
        (dict(window_strides=(1,)), "window_strides must have the same number of dimensions"),
    ],
)
def test_bad_input_gives_jax_error_class_and_phrase(kw, phrase):
    x, w = rand((1, 3, 5, 5)), rand((2, 3, 3, 3))
    args = dict(window_strides=(1, 1), padding="SAME")
    args.update(kw)
    _raises_like_jax(
        lambda: lax.conv_general_dilated(x, w, **args),
        lambda: jlax.conv_general_dilated(x, w, **args),
        phrase,
    )


def test_rank_mismatch_and_error_names_the_users_line():
    x, w = rand((1, 3, 5, 5)), rand((2, 3, 3))
    _raises_like_jax(
        lambda: lax.conv_general_dilated(x, w, (1, 1), "SAME"),
        lambda: jlax.conv_general_dilated(x, w, (1, 1), "SAME"),
        "convolution requires lhs and rhs ndim to be equal",
    )
    w4 = rand((2, 4, 3, 3))

    def user_fn(x):
        return lax.conv_general_dilated(x, w4, (1, 1), "VALID")

    with pytest.raises(ValueError) as e:
        engine.jit(user_fn)(x)
    assert "rhs input feature dimension" in str(e.value)
    assert "test_convolution.py" in str(e.value)


def test_convolutions_tutorial_runs_cell_by_cell_and_matches_jax():
    import pathlib
    import sys

    bench = pathlib.Path(__file__).resolve().parent.parent / "benchmarks"
    sys.path.insert(0, str(bench))
    try:
        import tutorial_convolutions
    finally:
        sys.path.remove(str(bench))
    n, problems = tutorial_convolutions.compare()
    assert n >= 30 and not problems, problems


def test_grouped_bfloat16_gradient_with_preferred_type_matches_jax():
    x = rand((2, 4, 6, 6), seed=20).astype(jnp.bfloat16)
    w = rand((8, 2, 3, 3), seed=21).astype(jnp.bfloat16)
    kw = dict(
        window_strides=(1, 1),
        padding="SAME",
        feature_group_count=2,
        preferred_element_type=np.float32,
    )
    fe = lambda x, w: (lax.conv_general_dilated(x, w, **kw) ** 2).sum()  # noqa: E731
    fj = lambda x, w: (jlax.conv_general_dilated(x, w, **kw) ** 2).sum()  # noqa: E731
    assert_close(engine.grad(fe, (0, 1))(x, w), jax.grad(fj, (0, 1))(x, w), rtol=2e-2, atol=2e-2)
    assert str(engine.make_jaxpr(engine.grad(fe, (0, 1)))(x, w)) == str(
        jax.make_jaxpr(jax.grad(fj, (0, 1)))(x, w)
    )


@pytest.mark.parametrize("dn", [None, ("NHWC", "HWIO", "NCHW")])
def test_conv_general_dilated_local_matches_jax(dn):
    x = rand((2, 3, 6, 5) if dn is None else (2, 6, 5, 3), seed=30)
    spec = jlax.conv_dimension_numbers(x.shape, (1, 1, 2, 3), dn)
    patches = jlax.conv_general_dilated_patches(x, (2, 3), (1, 2), "SAME", dimension_numbers=dn)
    shape = [0] * 4
    shape[spec.rhs_spec[0]], shape[spec.rhs_spec[1]] = 4, 3 * 6
    for i, o in zip(spec.rhs_spec[2:], spec.out_spec[2:]):
        shape[i] = patches.shape[o]
    w = rand(tuple(shape), seed=31)
    args = ((1, 2), "SAME", (2, 3))
    fe = lambda w: lax.conv_general_dilated_local(x, w, *args, dimension_numbers=dn)  # noqa: E731
    fj = lambda w: jlax.conv_general_dilated_local(x, w, *args, dimension_numbers=dn)  # noqa: E731
    assert_close(fe(w), fj(w), **TOL)
    assert_close(
        engine.grad(lambda w: (fe(w) ** 2).sum())(w),
        jax.grad(lambda w: (fj(w) ** 2).sum())(w),
        **GRAD_TOL,
    )


@pytest.mark.parametrize("in_axes", [(0, 0), (0, None), (None, 0)])
@pytest.mark.parametrize("groups", [1, 3])
def test_vmap_jaxpr_equals_jax(in_axes, groups):
    x = rand((2, 1, 3, 5, 5))
    w = rand((2, 4, 3, 3, 3)) if groups == 1 else rand((2, 6, 1, 3, 3))
    x = x if in_axes[0] == 0 else x[0]
    w = w if in_axes[1] == 0 else w[0]
    kw = dict(window_strides=(1, 1), padding="SAME", feature_group_count=groups)
    fe = lambda x, w: lax.conv_general_dilated(x, w, **kw)  # noqa: E731
    fj = lambda x, w: jlax.conv_general_dilated(x, w, **kw)  # noqa: E731
    assert str(engine.make_jaxpr(engine.vmap(fe, in_axes))(x, w)) == str(
        jax.make_jaxpr(jax.vmap(fj, in_axes))(x, w)
    )


@settings(max_examples=12, deadline=None)
@given(
    nsp=st.integers(1, 2),
    size=st.integers(3, 7),
    k=st.integers(1, 3),
    stride=st.integers(1, 2),
    lhs_dil=st.integers(1, 2),
    rhs_dil=st.integers(1, 2),
    pad=st.sampled_from(["SAME", "VALID", "SAME_LOWER", "explicit"]),
    groups=st.sampled_from([(1, 1), (2, 1), (1, 2)]),
)
def test_random_configurations_match_jax(nsp, size, k, stride, lhs_dil, rhs_dil, pad, groups):
    fgc, bgc = groups
    x = rand((2 * bgc, 2 * fgc) + (size,) * nsp, seed=size)
    w = rand((2 * fgc * bgc, 2) + (k,) * nsp, seed=k)
    padding = ((1, 0),) * nsp if pad == "explicit" else pad
    kw = dict(
        window_strides=(stride,) * nsp,
        padding=padding,
        lhs_dilation=(lhs_dil,) * nsp if pad == "explicit" else None,
        rhs_dilation=(rhs_dil,) * nsp,
        feature_group_count=fgc,
        batch_group_count=bgc,
    )
    fe, fj = _fns(kw)
    assert_close(fe(x, w), fj(x, w), **TOL)
    loss = lambda f: lambda x, w: (f(x, w) ** 2).sum()  # noqa: E731
    assert_close(engine.grad(loss(fe), (0, 1))(x, w), jax.grad(loss(fj), (0, 1))(x, w), **GRAD_TOL)


def test_argument_errors_name_the_users_line():
    x, w = rand((1, 3, 5, 5)), rand((2, 3, 3, 3))
    with pytest.raises(TypeError) as e:
        lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NCHW", "OIHW", "NHWQ"))
    assert "must contain the characters 'N' and 'C'" in str(e.value)
    assert "conv_general_dilated" in str(e.value) and "test_convolution.py" in str(e.value)
    with pytest.raises(RuntimeError) as e:
        lax.conv(x, w, (1, 1), "FULL")
    assert "Unrecognized padding type" in str(e.value) and "test_convolution.py" in str(e.value)
