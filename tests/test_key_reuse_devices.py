"""jax_debug_key_reuse across devices, against real JAX 0.10.2 on 8 CPU devices:
shard_map (eager, where JAX checks neither the body nor its operands, and traced inside
jit, where the body's consumption is the equation's) and pmap (a jit of a shard_map).
Each case runs the same program on both libraries with the flag on and compares the
outcome: the error class and message phrase, or none.

The cases run in one child process with 8 devices (tests/eight_devices.py)."""

from __future__ import annotations

import eight_devices
import numpy as np
import pytest

CASES, case = eight_devices.case_registry()


def _outcome(fn, lib):
    """None when ``fn(lib)`` runs, else (error class name, first line up to a detail)."""
    lib.config.update("jax_debug_key_reuse", True)
    try:
        fn(lib)
    except Exception as e:  # noqa: BLE001 - the class is what is compared
        first = str(e).splitlines()[0] if str(e) else ""
        return type(e).__name__, first.split(":")[0].rstrip(". ")
    finally:
        lib.config.update("jax_debug_key_reuse", False)
    return None


def _same_outcome(fn, expect_error: bool):
    ours, theirs = eight_devices.both(lambda lib: _outcome(fn, lib))
    assert ours == theirs, (ours, theirs)
    # guards against a vacuous comparison: what JAX does is part of the case
    assert (theirs is not None) == expect_error, theirs
    if expect_error:
        assert theirs[0] == "KeyReuseError", theirs


def _smap(m, body, **kw):
    mesh = m.make_mesh((8,), ("i",), axis_types=(m.sharding.AxisType.Auto,))
    P = m.sharding.PartitionSpec
    specs = dict(in_specs=P("i"), out_specs=P("i"))
    specs.update(kw)
    return m.shard_map(body, mesh=mesh, **specs)


def _keys(m, n=8):
    return m.random.split(m.random.key(0), n)


def _normal_of_block(m):
    return lambda k: m.random.normal(k[0])[None]


# ---------------------------------------------------------------------------- eager shard_map


@case
def eager_shard_map_body_uses_key_twice():
    _same_outcome(
        lambda m: _smap(m, lambda k: m.random.normal(k[0])[None] + m.random.normal(k[0])[None])(
            _keys(m)
        ),
        expect_error=False,
    )


@case
def eager_shard_map_then_use_operand():
    def run(m):
        ks = _keys(m)
        _smap(m, _normal_of_block(m))(ks)
        m.random.normal(ks[0])

    _same_outcome(run, expect_error=False)


@case
def eager_shard_map_closed_over_key_then_use():
    def run(m):
        k = m.random.key(0)
        _smap(m, lambda x: x + m.random.normal(k))(np.ones(8, np.float32))
        m.random.normal(k)

    _same_outcome(run, expect_error=False)


@case
def eager_shard_map_operand_consumed_before():
    # the body's keys start with the operand's consumed flags (row 3: some device's)
    def run(m):
        ks = _keys(m)
        m.random.normal(ks[3])
        _smap(m, _normal_of_block(m))(ks)

    _same_outcome(run, expect_error=True)


@case
def eager_shard_map_same_block_key_twice():
    def run(m):
        def body(k):
            k0 = k[0]
            return (m.random.normal(k0) + m.random.normal(k0))[None]

        _smap(m, body)(_keys(m))

    _same_outcome(run, expect_error=True)


@case
def eager_shard_map_closed_over_key_twice():
    def run(m):
        k = m.random.key(0)
        _smap(m, lambda x: x + m.random.normal(k) + m.random.normal(k))(np.ones(8, np.float32))

    _same_outcome(run, expect_error=False)


@case
def eager_shard_map_closed_over_consumed_key():
    def run(m):
        k = m.random.key(0)
        m.random.normal(k)
        _smap(m, lambda x: x + m.random.normal(k))(np.ones(8, np.float32))

    _same_outcome(run, expect_error=True)


@case
def eager_shard_map_replicated_consumed_key():
    def run(m):
        P = m.sharding.PartitionSpec
        k = m.random.key(0)
        m.random.normal(k)
        g = _smap(m, lambda x, k: x + m.random.normal(k), in_specs=(P("i"), P()))
        g(np.ones(8, np.float32), k)

    _same_outcome(run, expect_error=True)


@case
def eager_shard_map_replicated_key_twice():
    def run(m):
        P = m.sharding.PartitionSpec
        g = _smap(
            m,
            lambda x, k: x + m.random.normal(k) + m.random.normal(k),
            in_specs=(P("i"), P()),
        )
        g(np.ones(8, np.float32), m.random.key(0))

    _same_outcome(run, expect_error=True)


@case
def eager_shard_map_split_output_twice():
    def run(m):
        def body(k):
            a, _ = m.random.split(k[0])
            return (m.random.normal(a) + m.random.normal(a))[None]

        _smap(m, body)(_keys(m))

    _same_outcome(run, expect_error=True)


@case
def eager_shard_map_returned_keys_fresh():
    def run(m):
        P = m.sharding.PartitionSpec
        ks = _keys(m)
        g = _smap(m, lambda k: (m.random.normal(k[0])[None], k), out_specs=(P("i"), P("i")))
        _, out = g(ks)
        m.random.normal(out[0])
        m.random.normal(ks[0])

    _same_outcome(run, expect_error=False)


# ---------------------------------------------------------------------------- shard_map in jit


@case
def shard_map_in_jit_then_use_operand():
    def run(m):
        g = _smap(m, _normal_of_block(m))
        m.jit(lambda ks: g(ks) + m.vmap(m.random.normal)(ks))(_keys(m))

    _same_outcome(run, expect_error=True)


@case
def shard_map_in_jit_body_uses_key_twice():
    def run(m):
        g = _smap(m, lambda k: m.random.normal(k[0])[None] + m.random.normal(k[0])[None])
        m.jit(g)(_keys(m))

    _same_outcome(run, expect_error=True)


@case
def shard_map_in_jit_once_ok():
    _same_outcome(lambda m: m.jit(_smap(m, _normal_of_block(m)))(_keys(m)), expect_error=False)


@case
def shard_map_in_jit_forwards_its_key():
    def run(m):
        g = _smap(m, lambda k: k)
        m.jit(lambda ks: m.vmap(m.random.normal)(g(ks)) + m.vmap(m.random.normal)(ks))(_keys(m))

    _same_outcome(run, expect_error=True)


@case
def shard_map_in_jit_splits_then_use_operand():
    def run(m):
        g = _smap(m, lambda k: m.random.split(k[0]))
        m.jit(lambda ks: m.vmap(m.random.normal)(g(ks)).sum() + m.vmap(m.random.normal)(ks))(
            _keys(m)
        )

    _same_outcome(run, expect_error=True)


@case
def shard_map_in_jit_split_outputs_fresh():
    def run(m):
        g = _smap(m, lambda k: m.random.split(k[0]))
        m.jit(lambda ks: m.vmap(m.random.normal)(g(ks)))(_keys(m))

    _same_outcome(run, expect_error=False)


@case
def shard_map_in_jit_closed_over_key_then_use():
    def run(m):
        def f(k):
            g = _smap(m, lambda x: x + m.random.normal(k))
            return g(np.ones(8, np.float32)) + m.random.normal(k)

        m.jit(f)(m.random.key(0))

    _same_outcome(run, expect_error=True)


@case
def shard_map_in_jit_replicated_key_then_use():
    def run(m):
        P = m.sharding.PartitionSpec

        def f(x, k):
            g = _smap(m, lambda x, k: x + m.random.normal(k), in_specs=(P("i"), P()))
            return g(x, k) + m.random.normal(k)

        m.jit(f)(np.ones(8, np.float32), m.random.key(0))

    _same_outcome(run, expect_error=True)


@case
def shard_map_in_jit_vmapped_body_twice():
    def run(m):
        g = _smap(m, lambda k: m.vmap(m.random.normal)(k) + m.vmap(m.random.uniform)(k))
        m.jit(g)(_keys(m, 16))

    _same_outcome(run, expect_error=True)


@case
def shard_map_in_jit_then_use_operand_eagerly():
    def run(m):
        ks = _keys(m)
        m.jit(_smap(m, _normal_of_block(m)))(ks)
        m.random.normal(ks[0])

    _same_outcome(run, expect_error=True)


# ---------------------------------------------------------------------------- pmap


@case
def pmap_body_uses_key_twice():
    _same_outcome(
        lambda m: m.pmap(lambda k: m.random.normal(k) + m.random.normal(k))(_keys(m)),
        expect_error=True,
    )


@case
def pmap_once_ok():
    _same_outcome(lambda m: m.pmap(m.random.normal)(_keys(m)), expect_error=False)


@case
def pmap_split_outputs_fresh_then_reused():
    def run(m):
        out = m.pmap(lambda k: m.random.split(k))(_keys(m))
        m.random.normal(out[0, 0])
        m.random.normal(out[0, 1])
        m.random.normal(out[0, 0])

    _same_outcome(run, expect_error=True)


@case
def pmap_forwarded_keys_fresh():
    def run(m):
        ks = _keys(m)
        out = m.pmap(lambda k: k)(ks)
        m.vmap(m.random.normal)(ks)
        m.vmap(m.random.normal)(out)

    _same_outcome(run, expect_error=False)


@case
def pmap_in_jit_then_use_operand():
    def run(m):
        g = m.pmap(m.random.normal)
        m.jit(lambda ks: g(ks) + m.vmap(m.random.normal)(ks))(_keys(m))

    _same_outcome(run, expect_error=True)


@case
def pmap_then_use_operand():
    def run(m):
        ks = _keys(m)
        m.pmap(m.random.normal)(ks)
        m.random.normal(ks[0])

    _same_outcome(run, expect_error=True)


@case
def pmap_called_twice_on_same_keys():
    def run(m):
        ks = _keys(m)
        g = m.pmap(m.random.normal)
        g(ks)
        g(ks)

    _same_outcome(run, expect_error=True)


@case
def pmap_closed_over_key_then_use():
    def run(m):
        k = m.random.key(0)
        m.pmap(lambda x: x + m.random.normal(k))(np.ones(8, np.float32))
        m.random.normal(k)

    _same_outcome(run, expect_error=True)


@pytest.mark.parametrize("name", sorted(CASES))
def test_key_reuse_across_devices_matches_jax(name):
    result = eight_devices.outcome(__file__, name)
    assert result == "ok", result


if __name__ == "__main__":
    eight_devices.main(CASES)
