"""engine.random against real JAX (threefry2x32, partitionable layout): bit-exact values
for keys, split/fold_in, bits and every sampler, eagerly, under jit and vmap, in x32
and x64; plus the Random123 known-answer vectors and sample statistics."""

import contextlib
import warnings

import numpy as np
import pytest
from helpers import real_jax

import engine
import engine.random as er
from engine.config import config as engine_config
from engine.lax.random_bits import iota_2x32_shape, threefry2x32

jax, jnp = real_jax()
jr = jax.random


def assert_bits_equal(actual, expected):
    """Same dtype, shape and bit pattern (NaN-safe, -0.0-sensitive)."""
    a, e = np.asarray(actual), np.asarray(expected)
    assert a.dtype == e.dtype, (a.dtype, e.dtype)
    assert a.shape == e.shape, (a.shape, e.shape)
    np.testing.assert_array_equal(a.reshape(-1).view(np.uint8), e.reshape(-1).view(np.uint8))


@contextlib.contextmanager
def x64_mode(enabled):
    old_jax, old_engine = jax.config.jax_enable_x64, engine_config.jax_enable_x64
    jax.config.update("jax_enable_x64", enabled)
    engine_config.update("jax_enable_x64", enabled)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # 64-bit dtypes named in x32
            yield
    finally:
        jax.config.update("jax_enable_x64", old_jax)
        engine_config.update("jax_enable_x64", old_engine)


@pytest.fixture(params=[False, True], ids=["x32", "x64"])
def x64(request):
    with x64_mode(request.param):
        yield request.param


def test_oracle_uses_partitionable_threefry():
    assert jax.config.jax_threefry_partitionable
    assert jax.config.jax_default_prng_impl == "threefry2x32"


# ---------------------------------------------------------------------------- the hash

# Known-answer vectors for Threefry-2x32 with 20 rounds, from Random123's kat_vectors.
KAT = [
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
]


@pytest.mark.parametrize("rolled", [True, False], ids=["loop", "unrolled"])
def test_threefry2x32_known_answers(rolled, monkeypatch):
    from engine.lax import random_bits

    monkeypatch.setattr(random_bits, "ROLLED_LOOP_PLATFORMS", ("cpu",) if rolled else ())
    keys, counts, expected = (np.array(v, np.uint32).T for v in zip(*KAT))
    # under jit of a fresh function, so that this lowering (not a cached one) runs
    f = engine.jit(lambda *args: threefry2x32(*args))
    assert ("while" in f.lower(keys[0], keys[1], counts[0], counts[1]).as_text()) == rolled
    out = f(keys[0], keys[1], counts[0], counts[1])
    assert_bits_equal(np.stack(out), expected)


def test_threefry2x32_broadcasts_and_batches():
    from jax._src.random.threefry2x32 import threefry2x32_p

    rs = np.random.RandomState(0)
    k = rs.randint(0, 2**32, size=(4, 2), dtype=np.uint64).astype(np.uint32)
    x = rs.randint(0, 2**32, size=(2, 5), dtype=np.uint64).astype(np.uint32)
    want = threefry2x32_p.bind(k[0, 0], k[0, 1], x[0], x[1])
    assert_bits_equal(threefry2x32(k[0, 0], k[0, 1], x[0], x[1])[0], want[0])
    got = engine.vmap(lambda kk: threefry2x32(kk[0], kk[1], x[0], x[1]))(k)
    want = jax.vmap(lambda kk: threefry2x32_p.bind(kk[0], kk[1], x[0], x[1]))(k)
    assert_bits_equal(got[0], want[0])
    assert_bits_equal(got[1], want[1])


def test_iota_2x32_shape():
    from jax._src.random.prng import iota_2x32_shape as jax_iota

    for shape in [(), (3,), (2, 3, 4)]:
        for a, e in zip(iota_2x32_shape(shape), jax_iota(shape)):
            assert_bits_equal(a, e)


# ---------------------------------------------------------------------------- keys

SEEDS = [
    0,
    1,
    42,
    -1,
    -7,
    2**31 - 1,
    2**31,
    2**32 - 1,
    2**32 + 5,
    -(2**40),
    2**63 - 1,
    -(2**63),
    np.int8(-3),
    np.int16(300),
    np.uint32(2**32 - 1),
    np.int64(-5),
    np.uint64(2**63 + 7),
    True,
]


@pytest.mark.parametrize("seed", SEEDS, ids=repr)
def test_prngkey_seeds(x64, seed):
    assert_bits_equal(er.PRNGKey(seed), jr.PRNGKey(seed))
    assert_bits_equal(er.key_data(er.key(seed)), jr.key_data(jr.key(seed)))


def test_traced_seeds(x64):
    dt = np.int64 if x64 else np.int32
    seeds = np.array([0, -1, 12345, np.iinfo(dt).min], dt)
    assert_bits_equal(engine.jit(er.PRNGKey)(seeds[1]), jax.jit(jr.PRNGKey)(seeds[1]))
    assert_bits_equal(engine.vmap(er.PRNGKey)(seeds), jax.vmap(jr.PRNGKey)(seeds))


def test_seed_overflow_raises_like_jax():
    with pytest.raises(OverflowError):
        jr.PRNGKey(2**64)
    with pytest.raises(OverflowError):
        er.PRNGKey(2**64)


@pytest.mark.parametrize("num", [2, 1, 5, (2, 3), (0,), (1, 1, 2)], ids=repr)
def test_split(num):
    for seed in [0, 123, -9]:
        assert_bits_equal(er.split(er.PRNGKey(seed), num), jr.split(jr.PRNGKey(seed), num))


def test_split_default_and_many_seeds():
    for seed in range(20):
        assert_bits_equal(er.split(er.PRNGKey(seed)), jr.split(jr.PRNGKey(seed)))


@pytest.mark.parametrize(
    "data", [0, 1, 7, 2**31, 2**32 - 1, np.int64(-7), np.uint8(200), 3.0], ids=repr
)
def test_fold_in(data):
    assert_bits_equal(er.fold_in(er.PRNGKey(5), data), jr.fold_in(jr.PRNGKey(5), data))


def test_fold_in_rejects_out_of_range_python_ints():
    for d in (-1, 2**32):
        with pytest.raises(OverflowError):
            jr.fold_in(jr.PRNGKey(0), d)
        with pytest.raises(OverflowError):
            er.fold_in(er.PRNGKey(0), d)


def test_split_fold_in_chain():
    def chain(random, key):
        outs = []
        for i in range(6):
            key, sub = random.split(key)
            sub = random.fold_in(sub, 3 * i + 1)
            outs.append(random.split(sub, 3)[i % 3])
        return key, outs

    ek, eo = chain(er, er.PRNGKey(2024))
    jk, jo = chain(jr, jr.PRNGKey(2024))
    assert_bits_equal(ek, jk)
    for a, b in zip(eo, jo):
        assert_bits_equal(a, b)


def test_typed_keys():
    ek, jk = er.key(17), jr.key(17)
    assert isinstance(ek, er.PRNGKeyArray)
    assert ek.shape == jk.shape == ()
    assert str(ek.dtype) == str(jk.dtype) == "key<fry>"
    assert repr(ek) == repr(jk)
    eks, jks = er.split(ek, (2, 3)), jr.split(jk, (2, 3))
    assert isinstance(eks, er.PRNGKeyArray) and eks.shape == jks.shape == (2, 3)
    assert_bits_equal(er.key_data(eks), jr.key_data(jks))
    assert_bits_equal(er.key_data(eks[1, 2]), jr.key_data(jks[1, 2]))
    assert_bits_equal(er.key_data(eks[..., 0]), jr.key_data(jks[..., 0]))
    assert_bits_equal(er.key_data(eks.reshape(-1)), jr.key_data(jks.reshape(-1)))
    assert len(eks) == 2 and [k.shape for k in eks] == [(3,), (3,)]
    assert_bits_equal(er.key_data(er.fold_in(eks[0, 1], 4)), jr.key_data(jr.fold_in(jks[0, 1], 4)))
    assert_bits_equal(er.normal(eks[1, 0], (4,)), jr.normal(jks[1, 0], (4,)))
    wrapped = er.wrap_key_data(er.key_data(eks))
    assert isinstance(wrapped, er.PRNGKeyArray)
    assert_bits_equal(wrapped == eks, jr.wrap_key_data(jr.key_data(jks)) == jks)
    assert_bits_equal(er.split(ek)[0] != er.split(ek)[1], np.bool_(True))
    assert er.key_impl(ek) == jr.key_impl(jk) == "threefry2x32"
    # raw keys stay raw, typed keys stay typed
    assert not isinstance(er.split(er.PRNGKey(0)), er.PRNGKeyArray)
    assert isinstance(er.fold_in(ek, 1), er.PRNGKeyArray)


# ---------------------------------------------------------------------------- bits and samplers

SHAPES = [(), (0,), (7,), (3, 5)]


@pytest.mark.parametrize(
    "shape,dtype",
    [(s, "uint32") for s in SHAPES] + [((3, 5), "uint8"), ((7,), "uint16"), ((), "uint8")],
    ids=str,
)
def test_bits(shape, dtype):
    assert_bits_equal(er.bits(er.PRNGKey(1), shape, dtype), jr.bits(jr.PRNGKey(1), shape, dtype))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_uniform_and_normal_float32(shape):
    for seed in (0, 99):
        ek, jk = er.PRNGKey(seed), jr.PRNGKey(seed)
        assert_bits_equal(er.uniform(ek, shape), jr.uniform(jk, shape))
        assert_bits_equal(er.normal(ek, shape), jr.normal(jk, shape))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_uniform_and_normal_half(dtype):
    ek, jk = er.PRNGKey(3), jr.PRNGKey(3)
    assert_bits_equal(er.uniform(ek, (3, 5), dtype), jr.uniform(jk, (3, 5), dtype))
    assert_bits_equal(er.normal(ek, (3, 5), dtype), jr.normal(jk, (3, 5), dtype))
    assert_bits_equal(er.uniform(ek, (), dtype, -2, 3), jr.uniform(jk, (), dtype, -2, 3))


def test_uniform_bounds():
    ek, jk = er.PRNGKey(8), jr.PRNGKey(8)
    lo = np.array([-1.0, 0.0, 10.0], np.float32)
    assert_bits_equal(
        er.uniform(ek, (3, 5), minval=-4.0, maxval=0.5),
        jr.uniform(jk, (3, 5), minval=-4.0, maxval=0.5),
    )
    assert_bits_equal(
        er.uniform(ek, (2, 3), minval=lo, maxval=20), jr.uniform(jk, (2, 3), minval=lo, maxval=20)
    )


def test_normal_complex():
    assert_bits_equal(
        er.normal(er.PRNGKey(4), (3, 5), np.complex64),
        jr.normal(jr.PRNGKey(4), (3, 5), np.complex64),
    )


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "uint8", "uint32"])
def test_randint(dtype):
    ek, jk = er.PRNGKey(21), jr.PRNGKey(21)
    lo = 0 if dtype.startswith("u") else -50
    for shape in [(), (3, 5)]:
        assert_bits_equal(
            er.randint(ek, shape, lo, 100, dtype), jr.randint(jk, shape, lo, 100, dtype)
        )


@pytest.mark.parametrize(
    "lo,hi,dtype",
    [
        (0, 256, "uint8"),
        (-128, 128, "int8"),
        (5, 2, "int32"),
        (-(2**31), 2**31 - 1, "int32"),
        (0, 1, "int32"),
        (1000, 2000, "uint8"),
        (-5, 3, "uint32"),
    ],
    ids=repr,
)
def test_randint_edge_ranges(lo, hi, dtype):
    assert_bits_equal(
        er.randint(er.PRNGKey(6), (9,), lo, hi, dtype),
        jr.randint(jr.PRNGKey(6), (9,), lo, hi, dtype),
    )


def test_randint_array_bounds():
    lo, hi = np.array([0, -5, 7]), np.array([[10], [100]])
    assert_bits_equal(
        er.randint(er.PRNGKey(2), (2, 3), lo, hi), jr.randint(jr.PRNGKey(2), (2, 3), lo, hi)
    )


def test_bernoulli():
    ek, jk = er.PRNGKey(12), jr.PRNGKey(12)
    p = np.array([0.0, 0.1, 0.5, 0.9, 1.0], np.float32)
    assert_bits_equal(er.bernoulli(ek), jr.bernoulli(jk))
    assert_bits_equal(er.bernoulli(ek, 0.3, (3, 5)), jr.bernoulli(jk, 0.3, (3, 5)))
    assert_bits_equal(er.bernoulli(ek, p), jr.bernoulli(jk, p))
    assert_bits_equal(er.bernoulli(ek, p, (4, 5)), jr.bernoulli(jk, p, (4, 5)))
    assert_bits_equal(er.bernoulli(ek, p, mode="high"), jr.bernoulli(jk, p, mode="high"))


def test_gumbel_and_truncated_normal():
    ek, jk = er.PRNGKey(13), jr.PRNGKey(13)
    assert_bits_equal(er.gumbel(ek, (3, 5)), jr.gumbel(jk, (3, 5)))
    assert_bits_equal(er.gumbel(ek, (7,), mode="high"), jr.gumbel(jk, (7,), mode="high"))
    assert_bits_equal(
        er.truncated_normal(ek, -1.5, 0.7, (3, 5)), jr.truncated_normal(jk, -1.5, 0.7, (3, 5))
    )
    lo, hi = np.array([-2.0, 0.0, 1.0], np.float32), np.float32(3.0)
    assert_bits_equal(er.truncated_normal(ek, lo, hi), jr.truncated_normal(jk, lo, hi))


def test_categorical():
    ek, jk = er.PRNGKey(14), jr.PRNGKey(14)
    logits = np.random.RandomState(0).randn(4, 6).astype(np.float32)
    for axis in (0, 1, -1):
        assert_bits_equal(er.categorical(ek, logits, axis), jr.categorical(jk, logits, axis))
    assert_bits_equal(
        er.categorical(ek, logits, shape=(5, 4)), jr.categorical(jk, logits, shape=(5, 4))
    )
    assert_bits_equal(er.categorical(ek, logits[0]), jr.categorical(jk, logits[0]))
    assert_bits_equal(
        er.categorical(ek, logits, shape=(3, 4), replace=False),
        jr.categorical(jk, logits, shape=(3, 4), replace=False),
    )


def test_permutation():
    ek, jk = er.PRNGKey(15), jr.PRNGKey(15)
    x2 = np.arange(12.0).reshape(3, 4)
    assert_bits_equal(er.permutation(ek, 10), jr.permutation(jk, 10))
    assert_bits_equal(er.permutation(ek, np.arange(7)), jr.permutation(jk, np.arange(7)))
    assert_bits_equal(er.permutation(ek, x2, axis=1), jr.permutation(jk, x2, axis=1))
    assert_bits_equal(er.permutation(ek, x2, 0, True), jr.permutation(jk, x2, 0, True))
    # over 1625 elements the shuffle sorts twice (two rounds of 32-bit sort keys)
    perm = er.permutation(ek, 2000)
    assert_bits_equal(perm, jr.permutation(jk, 2000))
    np.testing.assert_array_equal(np.sort(np.asarray(perm)), np.arange(2000))


def test_choice():
    ek, jk = er.PRNGKey(16), jr.PRNGKey(16)
    a = np.arange(10.0) * 2
    p = np.linspace(0.1, 1.0, 10).astype(np.float32)
    assert_bits_equal(er.choice(ek, 10, (4,)), jr.choice(jk, 10, (4,)))
    assert_bits_equal(er.choice(ek, a, (2, 3)), jr.choice(jk, a, (2, 3)))
    assert_bits_equal(
        er.choice(ek, 10, (4,), replace=False), jr.choice(jk, 10, (4,), replace=False)
    )
    assert_bits_equal(er.choice(ek, a, (2, 3), p=p), jr.choice(jk, a, (2, 3), p=p))
    assert_bits_equal(
        er.choice(ek, 10, (3,), replace=False, p=p), jr.choice(jk, 10, (3,), replace=False, p=p)
    )


# ---------------------------------------------------------------------------- x64


def test_64_bit_samplers():
    with x64_mode(True):
        ek, jk = er.PRNGKey(-12345678901), jr.PRNGKey(-12345678901)
        assert_bits_equal(ek, jk)
        for shape in [(), (3, 5)]:
            assert_bits_equal(er.uniform(ek, shape), jr.uniform(jk, shape))  # float64
            assert_bits_equal(er.normal(ek, shape), jr.normal(jk, shape))
            assert_bits_equal(er.bits(ek, shape), jr.bits(jk, shape))  # uint64
            assert_bits_equal(
                er.randint(ek, shape, -(2**40), 2**50), jr.randint(jk, shape, -(2**40), 2**50)
            )
        assert_bits_equal(er.uniform(ek, (5,), np.float32), jr.uniform(jk, (5,), np.float32))
        assert_bits_equal(
            er.randint(ek, (5,), 0, 9, np.uint64), jr.randint(jk, (5,), 0, 9, np.uint64)
        )
        assert_bits_equal(
            er.truncated_normal(ek, -1.0, 2.0, (5,)), jr.truncated_normal(jk, -1.0, 2.0, (5,))
        )
        assert_bits_equal(er.normal(ek, (3,), np.complex128), jr.normal(jk, (3,), np.complex128))
        assert_bits_equal(er.fold_in(ek, 2**32 - 1), jr.fold_in(jk, 2**32 - 1))


# ---------------------------------------------------------------------------- transformations


def _draws(random, key):
    k1, k2, k3 = random.split(key, 3)
    return (
        random.normal(k1, (4,)),
        random.uniform(random.fold_in(k2, 7), (2, 3)),
        random.randint(k3, (5,), 0, 10),
    )


def test_jit():
    keys = np.asarray(jr.split(jr.PRNGKey(0), 3))
    f = engine.jit(lambda k: _draws(er, k))
    for k in keys:
        for a, b in zip(f(k), _draws(jr, jnp.asarray(k))):
            assert_bits_equal(a, b)
    # typed keys pass through jit as pytrees and come back typed
    split = engine.jit(lambda k: er.split(k, 4))(er.key(1))
    assert isinstance(split, er.PRNGKeyArray)
    assert_bits_equal(er.key_data(split), jr.key_data(jr.split(jr.key(1), 4)))


def test_jaxpr_uses_random_primitives():
    # as JAX's: the raw key is wrapped (random_wrap) and uniform draws with random_bits
    raw = np.zeros(2, np.uint32)
    text = str(engine.make_jaxpr(lambda k: er.uniform(k, (3,)))(raw))
    assert text == str(jax.make_jaxpr(lambda k: jr.uniform(k, (3,)))(raw))
    assert "random_wrap[impl=fry]" in text and "random_bits[bit_width=32 shape=(3,)]" in text


def test_vmap_over_raw_keys():
    keys = jr.split(jr.PRNGKey(1), 5)
    got = engine.vmap(lambda k: _draws(er, k))(np.asarray(keys))
    want = jax.vmap(lambda k: _draws(jr, k))(keys)
    for a, b in zip(got, want):
        assert_bits_equal(a, b)
    # keys along axis 1, and fold_in over batched data
    keys_t = np.asarray(keys).T
    assert_bits_equal(
        engine.vmap(lambda k: er.normal(k, (3,)), in_axes=1)(keys_t),
        jax.vmap(lambda k: jr.normal(k, (3,)), in_axes=1)(keys_t),
    )
    data = np.arange(5, dtype=np.uint32)
    assert_bits_equal(
        engine.vmap(er.fold_in)(np.asarray(keys), data), jax.vmap(jr.fold_in)(keys, data)
    )
    assert_bits_equal(
        engine.vmap(er.fold_in, in_axes=(None, 0))(np.asarray(keys[0]), data),
        jax.vmap(jr.fold_in, in_axes=(None, 0))(keys[0], data),
    )


def test_vmap_over_typed_keys():
    ek, jk = er.split(er.key(2), 4), jr.split(jr.key(2), 4)
    assert_bits_equal(
        engine.vmap(lambda k: er.uniform(k, (3,)))(ek), jax.vmap(lambda k: jr.uniform(k, (3,)))(jk)
    )
    out = engine.vmap(lambda k: er.split(k, 3))(ek)
    assert isinstance(out, er.PRNGKeyArray) and out.shape == (4, 3)
    assert_bits_equal(er.key_data(out), jr.key_data(jax.vmap(lambda k: jr.split(k, 3))(jk)))


def test_jit_of_vmap():
    keys = jr.split(jr.PRNGKey(3), 3)
    f = engine.jit(engine.vmap(lambda k: er.bernoulli(k, 0.5, (4,))))
    assert_bits_equal(f(np.asarray(keys)), jax.vmap(lambda k: jr.bernoulli(k, 0.5, (4,)))(keys))


def test_derivatives_through_bounds():
    ek, jk = er.PRNGKey(4), jr.PRNGKey(4)
    got = engine.jvp(lambda m: er.uniform(ek, (3,), minval=m, maxval=2.0), (0.5,), (1.0,))
    want = jax.jvp(lambda m: jr.uniform(jk, (3,), minval=m, maxval=2.0), (0.5,), (1.0,))
    for a, b in zip(got, want):
        assert_bits_equal(a, b)
    g = engine.grad(lambda m: er.uniform(ek, (4,), maxval=m).sum())(2.0)
    np.testing.assert_allclose(
        g, jax.grad(lambda m: jr.uniform(jk, (4,), maxval=m).sum())(2.0), rtol=1e-6
    )


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call",
    [
        lambda r, k: r.uniform(r.split(k, 2)),
        lambda r, k: r.uniform(np.zeros(3, np.uint32)),
        lambda r, k: r.uniform(np.zeros(2, np.int32)),
        lambda r, k: r.PRNGKey(np.arange(2)),
        lambda r, k: r.randint(k, (2,), 0, 5, np.float32),
        lambda r, k: r.uniform(k, (2,), np.int32),
        lambda r, k: r.bits(k, (2,), np.int32),
        lambda r, k: r.fold_in(k, np.arange(2)),
    ],
)
def test_errors_match_jax(call):
    with pytest.raises(Exception) as want:
        call(jr, jr.PRNGKey(0))
    with pytest.raises(type(want.value)) as got:
        call(er, er.PRNGKey(0))
    assert str(got.value).split(" for impl=")[0] == str(want.value).split(" for impl=")[0]


# ---------------------------------------------------------------------------- statistics


def test_sample_statistics():
    key = er.PRNGKey(0)
    x = np.asarray(er.normal(key, (100_000,)), np.float64)
    assert abs(x.mean()) < 0.01 and abs(x.var() - 1) < 0.015  # ~3 standard errors
    u = np.asarray(er.uniform(key, (100_000,)))
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.003
    assert abs(u.var() - 1 / 12) < 0.001
    b = np.asarray(er.bernoulli(key, 0.25, (100_000,)))
    assert abs(b.mean() - 0.25) < 0.005
    r = np.asarray(er.randint(key, (100_000,), 0, 10))
    np.testing.assert_allclose(np.bincount(r, minlength=10) / r.size, 0.1, atol=0.004)
