"""engine.image differential against jax.image: every resize method (with and without
antialiasing, up and down, integer inputs), scale_and_translate with traced scales and
translations, gradients through both, and the errors."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.image as ji  # noqa: E402

import engine  # noqa: E402
import engine.image as ei  # noqa: E402

IMG = np.random.RandomState(0).rand(2, 7, 9, 3).astype(np.float32)
METHODS = [
    "nearest", "linear", "bilinear", "trilinear", "cubic", "bicubic", "lanczos3",
    "lanczos5", "area", "cubic-pytorch",
]  # fmt: skip
SHAPES = [(2, 14, 5, 3), (1, 3, 20, 2), (2, 1, 1, 3)]


def _close(a, b, tol=1e-6):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("method", METHODS)
def test_resize_matches_jax(method):
    for shape in SHAPES:
        for antialias in (True, False):
            _close(
                ei.resize(IMG, shape, method, antialias=antialias),
                ji.resize(IMG, shape, method, antialias=antialias),
            )


def test_resize_method_enum_ints_and_float64():
    _close(
        ei.resize(IMG, (2, 5, 5, 3), ei.ResizeMethod.LANCZOS3),
        ji.resize(IMG, (2, 5, 5, 3), ji.ResizeMethod.LANCZOS3),
    )
    ints = (np.random.RandomState(1).rand(5, 6) * 100).astype(np.int32)
    for method in ("nearest", "linear", "cubic"):
        _close(ei.resize(ints, (8, 3), method), ji.resize(ints, (8, 3), method), tol=1e-5)
    half = IMG.astype(np.float16)
    _close(ei.resize(half, (2, 4, 4, 3), "linear"), ji.resize(half, (2, 4, 4, 3), "linear"), 1e-3)
    assert {m.name for m in ei.ResizeMethod} == {m.name for m in ji.ResizeMethod}


@pytest.mark.parametrize(
    "method", ["linear", "cubic", "lanczos3", "lanczos5", "area", "cubic-pytorch"]
)
def test_scale_and_translate_matches_jax(method):
    scale = np.array([1.5, 0.7], np.float32)
    translation = np.array([0.3, -1.2], np.float32)
    for antialias in (True, False):
        args = (IMG, (2, 10, 6, 3), (1, 2), scale, translation, method)
        _close(
            ei.scale_and_translate(*args, antialias=antialias),
            ji.scale_and_translate(*args, antialias=antialias),
        )
    # scale and translation may be traced
    f_e = engine.jit(lambda s, t: ei.scale_and_translate(IMG, (2, 10, 6, 3), (1, 2), s, t, method))
    f_j = jax.jit(lambda s, t: ji.scale_and_translate(IMG, (2, 10, 6, 3), (1, 2), s, t, method))
    _close(f_e(scale, translation), f_j(scale, translation))


def test_gradients():
    def loss(lib):
        return lambda x: (lib.resize(x, (2, 10, 4, 3), "cubic") ** 2).sum()

    _close(engine.grad(loss(ei))(IMG), jax.grad(loss(ji))(IMG), 1e-5)

    def by_scale(lib):
        zeros = np.zeros(2, np.float32)
        return lambda s: lib.scale_and_translate(
            IMG, (2, 10, 6, 3), (1, 2), s, zeros, "linear"
        ).sum()

    s = np.array([1.5, 0.7], np.float32)
    _close(engine.grad(by_scale(ei))(s), jax.grad(by_scale(ji))(s), 1e-4)
    _close(
        engine.vmap(lambda x: ei.resize(x, (4, 4, 3), "linear"))(IMG),
        jax.vmap(lambda x: ji.resize(x, (4, 4, 3), "linear"))(IMG),
    )


def test_errors():
    with pytest.raises(ValueError, match="shape must have length"):
        ei.resize(IMG, (4, 4), "linear")
    with pytest.raises(ValueError, match="Unknown resize method"):
        ei.resize(IMG, (2, 4, 4, 3), "bogus")
    with pytest.raises(ValueError, match="Nearest neighbor"):
        ei.scale_and_translate(IMG, (2, 4, 4, 3), (1, 2), [1.0, 1.0], [0.0, 0.0], "nearest")


def test_float64_with_x64():
    from tests.test_nn_functions import x64

    with x64():
        img = IMG.astype(np.float64)
        for method in ("linear", "cubic", "lanczos5", "nearest"):
            _close(
                ei.resize(img, (2, 4, 12, 3), method), ji.resize(img, (2, 4, 12, 3), method), 1e-12
            )
        args = (img, (2, 10, 6, 3), (1, 2), np.array([1.5, 0.7]), np.array([0.3, -1.2]), "lanczos3")
        _close(ei.scale_and_translate(*args), ji.scale_and_translate(*args), 1e-12)
