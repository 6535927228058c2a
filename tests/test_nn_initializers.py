"""engine.nn.initializers bit-exact against jax.nn.initializers on the same keys: every
initializer, every variance_scaling mode and distribution (real and complex dtypes,
custom in/out/batch axes), orthogonal and delta_orthogonal, under jit, and the errors."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

import engine  # noqa: E402
import engine.numpy as enp  # noqa: E402
from engine.nn import initializers as ei  # noqa: E402

ji = jax.nn.initializers
SEEDS = (0, 7)


def _same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    assert np.array_equal(a, b, equal_nan=True), np.abs(a - b).max()


def _keys(seed):
    return engine.random.PRNGKey(seed), jax.random.PRNGKey(seed)


def _edt(dt):
    return None if dt is None else getattr(enp, np.dtype(dt).name)


PRESETS = [
    "glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "kaiming_normal",
    "kaiming_uniform", "lecun_normal", "lecun_uniform", "xavier_normal", "xavier_uniform",
]  # fmt: skip


@pytest.mark.parametrize("name", PRESETS)
def test_presets(name):
    for seed in SEEDS:
        ke, kj = _keys(seed)
        for shape in [(3, 4), (3, 3, 2, 5)]:
            _same_bits(getattr(ei, name)()(ke, shape), getattr(ji, name)()(kj, shape))
        typed = engine.random.key(seed), jax.random.key(seed)  # new-style keys too
        _same_bits(getattr(ei, name)()(typed[0], (3, 4)), getattr(ji, name)()(typed[1], (3, 4)))
        kw = {"in_axis": 0, "out_axis": (1, 2), "batch_axis": 3, "dtype": jnp.float16}
        ekw = dict(kw, dtype=enp.float16)
        _same_bits(
            getattr(ei, name)(**ekw)(ke, (4, 2, 3, 2)), getattr(ji, name)(**kw)(kj, (4, 2, 3, 2))
        )


def test_simple_initializers():
    for seed in SEEDS:
        ke, kj = _keys(seed)
        _same_bits(ei.zeros(ke, (2, 3)), ji.zeros(kj, (2, 3)))
        _same_bits(ei.ones(ke, (2,), enp.int32), ji.ones(kj, (2,), jnp.int32))
        _same_bits(ei.constant(-7)(ke, (2, 3)), ji.constant(-7)(kj, (2, 3)))
        _same_bits(
            ei.constant(1.5, enp.bfloat16)(ke, (2,)), ji.constant(1.5, jnp.bfloat16)(kj, (2,))
        )
        for make in (
            lambda m: m.normal(0.5),
            lambda m: m.uniform(2.0),
            lambda m: m.truncated_normal(0.3),
            lambda m: m.truncated_normal(0.3, lower=-1.0, upper=3.0),
        ):
            _same_bits(make(ei)(ke, (5, 7)), make(ji)(kj, (5, 7)))
            _same_bits(
                make(ei)(ke, (4,), enp.float64 if False else enp.float16),
                make(ji)(kj, (4,), jnp.float16),
            )


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg", "fan_geo_avg"])
@pytest.mark.parametrize("distribution", ["truncated_normal", "normal", "uniform"])
def test_variance_scaling(mode, distribution):
    """Real and complex dtypes, custom axes, two keys: one compiled program per library
    (and one eager call)."""
    kw = {"in_axis": (0, 1), "out_axis": -1, "batch_axis": 2}
    dts = (np.float32, np.complex64, np.float16)

    def all_of(mod, dtype_of):
        init = mod.variance_scaling(1.5, mode, distribution, **kw)
        return lambda keys: [init(k, (2, 3, 4, 5), dtype_of(dt)) for k in keys for dt in dts]

    keys_e = [engine.random.PRNGKey(s) for s in SEEDS]
    keys_j = [jax.random.PRNGKey(s) for s in SEEDS]
    for a, b in zip(engine.jit(all_of(ei, _edt))(keys_e), jax.jit(all_of(ji, np.dtype))(keys_j)):
        _same_bits(a, b)
    ke, kj = _keys(3)
    _same_bits(
        ei.variance_scaling(2.0, mode, distribution)(ke, (6, 3)),
        ji.variance_scaling(2.0, mode, distribution)(kj, (6, 3)),
    )


def test_orthogonal_and_delta_orthogonal():
    for seed in SEEDS:
        ke, kj = _keys(seed)
        for shape, axis in [((3, 4), -1), ((5, 3), -1), ((4, 2, 3), 0), ((4, 4), 1)]:
            a = ei.orthogonal(scale=2.0, column_axis=axis)(ke, shape)
            b = ji.orthogonal(scale=2.0, column_axis=axis)(kj, shape)
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
        _same_bits(ei.orthogonal()(ke, (0, 3)), ji.orthogonal()(kj, (0, 3)))
        for shape in [(3, 2, 4), (3, 3, 2, 2), (1, 3, 2, 2, 3)]:
            a = ei.delta_orthogonal()(ke, shape)
            b = ji.delta_orthogonal()(kj, shape)
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    q = np.asarray(ei.orthogonal()(_keys(0)[0], (6, 4)))
    np.testing.assert_allclose(q.T @ q, np.eye(4), atol=1e-5)


def test_errors():
    ke = engine.random.PRNGKey(0)
    with pytest.raises(ValueError, match="Can't compute input and output sizes"):
        ei.glorot_normal()(ke, (5,))
    with pytest.raises(ValueError, match="invalid mode"):
        ei.variance_scaling(1.0, "fan_bogus", "normal")(ke, (2, 2))
    with pytest.raises(ValueError, match="invalid distribution"):
        ei.variance_scaling(1.0, "fan_in", "cauchy")(ke, (2, 2))
    with pytest.raises(ValueError, match="at least a 2D shape"):
        ei.orthogonal()(ke, (3,))
    with pytest.raises(ValueError, match="3D, 4D or 5D"):
        ei.delta_orthogonal()(ke, (3, 3))
    with pytest.raises(ValueError, match="fan_in"):
        ei.delta_orthogonal()(ke, (3, 4, 2))
    assert isinstance(ei.glorot_normal(), ei.Initializer)


def test_float64_and_complex128_with_x64():
    from tests.test_nn_functions import x64

    with x64():
        for seed in SEEDS:
            ke, kj = _keys(seed)
            for dist in ("truncated_normal", "normal", "uniform"):
                for dt in (np.float64, np.complex128):
                    a = ei.variance_scaling(0.7, "fan_avg", dist)(ke, (4, 6), _edt(dt))
                    b = ji.variance_scaling(0.7, "fan_avg", dist)(kj, (4, 6), dt)
                    _same_bits(a, b)
            _same_bits(
                ei.he_uniform(dtype=enp.float64)(ke, (3, 5)),
                ji.he_uniform(dtype=jnp.float64)(kj, (3, 5)),
            )
            _same_bits(
                ei.normal(dtype=enp.float64)(ke, (7,)), ji.normal(dtype=jnp.float64)(kj, (7,))
            )
            _same_bits(ei.zeros(ke, (2,)), ji.zeros(kj, (2,)))  # the default float is float64 here
