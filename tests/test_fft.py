"""lax.fft and all 18 functions of jnp.fft against real JAX and NumPy: values for n/s,
axis/axes and norm, first and second derivatives (the RFFT/IRFFT transposes), vmap,
float64/complex128 under x64, jaxpr text and bad input."""

import numpy as np
import pytest
from helpers import assert_close, real_jax
from helpers import x64_both as x64

import engine
import engine.numpy as ejnp
from engine import lax

jax, jnp = real_jax()
jlax = jax.lax

TOL = dict(rtol=2e-4, atol=2e-4)


def rand(shape, dtype=np.float32, seed=0):
    r = np.random.RandomState(seed)
    x = r.uniform(-1, 1, size=shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * r.uniform(-1, 1, size=shape)
    return x.astype(dtype)


REAL_IN = {"rfft", "ihfft", "rfft2", "rfftn"}
ONE_D = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"]
N_D = ["fft2", "ifft2", "rfft2", "irfft2", "fftn", "ifftn", "rfftn", "irfftn"]


def _input(name, seed=0, shape=(4, 6, 5)):
    return rand(shape, np.float32 if name in REAL_IN else np.complex64, seed)


@pytest.mark.parametrize("name", ONE_D)
def test_one_dimensional_transforms(name):
    x = _input(name)
    fe, fj = getattr(ejnp.fft, name), getattr(jnp.fft, name)
    for n in (None, 4, 8):
        for norm in (None, "backward", "ortho", "forward"):
            for axis in (-1, 0):
                assert_close(
                    fe(x, n=n, axis=axis, norm=norm), fj(x, n=n, axis=axis, norm=norm), **TOL
                )


@pytest.mark.parametrize("name", N_D)
def test_multi_dimensional_transforms(name):
    x = _input(name, 1)
    fe, fj = getattr(ejnp.fft, name), getattr(jnp.fft, name)
    axes_choices = [(-2, -1), (0, 2), (2, 0)] if "2" in name else [None, (0, 2), (2, 0, 1)]
    for axes in axes_choices:
        for s in (None, "crop_pad"):
            shape = None
            if s:
                k = 2 if "2" in name or (axes and len(axes) == 2) else (len(axes) if axes else 3)
                shape = (3, 8, 4)[:k]
            for norm in (None, "ortho", "forward"):
                assert_close(
                    fe(x, s=shape, axes=axes, norm=norm),
                    fj(x, s=shape, axes=axes, norm=norm),
                    **TOL,
                )


def test_more_than_three_axes_and_numpy_oracle():
    x = rand((2, 3, 2, 3, 4), seed=2)
    for name in ("fftn", "ifftn", "rfftn", "irfftn"):
        assert_close(getattr(ejnp.fft, name)(x), getattr(jnp.fft, name)(x), **TOL)
    np.testing.assert_allclose(ejnp.fft.fftn(x), np.fft.fftn(x), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        ejnp.fft.rfft(x, 6, axis=1), np.fft.rfft(x, 6, axis=1), rtol=1e-4, atol=1e-4
    )
    np.testing.assert_allclose(
        ejnp.fft.hfft(x[0, 0], 7), np.fft.hfft(x[0, 0], 7), rtol=1e-4, atol=1e-4
    )


def test_frequencies_and_shifts():
    for n, d in ((7, 0.3), (8, 1.0)):
        assert_close(ejnp.fft.fftfreq(n, d), jnp.fft.fftfreq(n, d), **TOL)
        assert_close(ejnp.fft.rfftfreq(n, d), jnp.fft.rfftfreq(n, d), **TOL)
    x = rand((4, 5, 6))
    for axes in (None, 1, (0, 2)):
        assert_close(ejnp.fft.fftshift(x, axes), jnp.fft.fftshift(x, axes))
        assert_close(ejnp.fft.ifftshift(x, axes), jnp.fft.ifftshift(x, axes))
    np.testing.assert_allclose(ejnp.fft.fftshift(x), np.fft.fftshift(x))


GRAD_CASES = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "rfft2", "irfft2", "fftn"]


def _loss(mod, name, **kw):
    def f(v):
        r = getattr(mod.fft, name)(v, **kw)
        if mod.iscomplexobj(r):
            return (mod.abs(r) ** 2).sum() + mod.real(r).sum()
        return (r**3).sum()

    return f


@pytest.mark.parametrize("name", GRAD_CASES)
def test_gradients_to_second_order_and_vmap(name):
    x = _input(name, 3)
    kw = dict(n=7) if name in ("rfft", "irfft") else {}
    le, lj = _loss(ejnp, name, **kw), _loss(jnp, name, **kw)
    assert_close(engine.grad(le)(x), jax.grad(lj)(x), rtol=1e-3, atol=1e-3)
    xr = rand((2, 5), seed=4)  # hessians on a real input (complex ones are converted)
    assert_close(engine.hessian(le)(xr), jax.hessian(lj)(xr), rtol=1e-3, atol=1e-3)
    fe, fj = getattr(ejnp.fft, name), getattr(jnp.fft, name)
    assert_close(engine.vmap(fe, 1)(x), jax.vmap(fj, 1)(x), **TOL)
    assert_close(engine.jit(fe)(x), fj(x), **TOL)


def test_x64_dtypes():
    with x64():
        x = rand((4, 6), np.float64, 5)
        out = ejnp.fft.rfft(x)
        assert out.dtype == np.complex128
        assert_close(out, jnp.fft.rfft(x), rtol=1e-12, atol=1e-12)
        assert_close(
            ejnp.fft.irfft(out, 6), jnp.fft.irfft(jnp.fft.rfft(x), 6), rtol=1e-12, atol=1e-12
        )
        xc = rand((4, 6), np.complex128, 6)
        assert_close(ejnp.fft.fft2(xc), jnp.fft.fft2(xc), rtol=1e-12, atol=1e-12)
        le, lj = _loss(ejnp, "rfft"), _loss(jnp, "rfft")
        assert_close(engine.grad(le)(x), jax.grad(lj)(x), rtol=1e-10, atol=1e-10)
    xi = np.arange(6)
    assert_close(ejnp.fft.fft(xi), jnp.fft.fft(xi), **TOL)
    assert_close(ejnp.fft.rfft(xi), jnp.fft.rfft(xi), **TOL)


def test_lax_fft_primitive_jaxpr_and_types():
    x = rand((3, 8))
    for typ in ("rfft", lax.FftType.RFFT):
        out = lax.fft(x, typ, (8,))
        assert out.shape == (3, 5) and out.dtype == np.complex64
    assert_close(lax.fft(x, "rfft", (8,)), jlax.fft(x, "rfft", (8,)), **TOL)
    inner_e = str(engine.make_jaxpr(lambda v: lax.fft(v, "fft", (8,)))(x.astype(np.complex64)))
    assert "fft[fft_lengths=(8,) fft_type=0]" in inner_e
    text_j = str(jax.make_jaxpr(lambda v: jlax.fft(v, "fft", (8,)))(x.astype(np.complex64)))
    assert "fft[fft_lengths=(8,) fft_type=0]" in text_j
    assert int(lax.FftType.IRFFT) == int(jlax.FftType.IRFFT) == 3


def _raises_like_jax(fe, fj, phrase):
    with pytest.raises(Exception) as ej:
        fj()
    with pytest.raises(type(ej.value)) as ee:
        fe()
    assert phrase in str(ee.value) and phrase in str(ej.value), (str(ee.value), str(ej.value))


def test_bad_input():
    x, xc = rand((4, 6)), rand((4, 6), np.complex64)
    _raises_like_jax(
        lambda: ejnp.fft.fft(x, axis=(0, 1)),
        lambda: jnp.fft.fft(x, axis=(0, 1)),
        "does not support multiple axes",
    )
    _raises_like_jax(
        lambda: ejnp.fft.fftn(x, axes=(0, 0)),
        lambda: jnp.fft.fftn(x, axes=(0, 0)),
        "does not support repeated axes",
    )
    _raises_like_jax(
        lambda: ejnp.fft.fftn(x, s=(2, 2), axes=(0,)),
        lambda: jnp.fft.fftn(x, s=(2, 2), axes=(0,)),
        "Shape and axes have different lengths",
    )
    _raises_like_jax(
        lambda: ejnp.fft.fft(x, norm="sideways"),
        lambda: jnp.fft.fft(x, norm="sideways"),
        "Invalid norm value",
    )
    _raises_like_jax(
        lambda: ejnp.fft.fft2(x, axes=(0,)),
        lambda: jnp.fft.fft2(x, axes=(0,)),
        "only supports 2 axes",
    )
    _raises_like_jax(
        lambda: ejnp.fft.rfft(xc),
        lambda: jnp.fft.rfft(xc),
        "only real valued inputs supported for rfft",
    )
    _raises_like_jax(
        lambda: lax.fft(xc, "fft", (5,)),
        lambda: jlax.fft(xc, "fft", (5,)),
        "minor dimensions must be equal to fft_lengths",
    )
    _raises_like_jax(
        lambda: lax.fft(xc, "dft", (6,)), lambda: jlax.fft(xc, "dft", (6,)), "Unknown FFT type"
    )


def test_argument_errors_name_the_users_line():
    x = rand((4, 6))
    with pytest.raises(ValueError) as e:
        ejnp.fft.fft(x, axis=(0, 1))
    assert "does not support multiple axes" in str(e.value) and "test_fft.py" in str(e.value)
    with pytest.raises(ValueError) as e:
        lax.fft(x, "dft", (6,))
    assert "Unknown FFT type" in str(e.value) and "test_fft.py" in str(e.value)
