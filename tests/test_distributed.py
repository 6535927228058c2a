"""Multi-process runs (``engine.distributed``) on loopback, against the one-process run
and real JAX.

Two processes of 4 CPU devices each join one job through jaxlib's distributed runtime
(gloo TCP collectives) and train a data-parallel MLP step over an 8-device global mesh;
their parameters must equal the one-process 8-device run's, the engine's and real
JAX's. Every run is a subprocess (a process can join one job, before its backend
exists); all of them are killed in ``finally`` whatever happens."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import real_jax

import engine
from engine.experimental import multihost_utils as mhu

ROOT = Path(__file__).resolve().parent.parent
DEADLINE_S = 50

# Runs as: python worker.py LIB MODE OUT [PROCESS_ID PORT]; LIB is "engine" or "jax",
# MODE "single" (one process, 8 devices) or "dist" (one of 2 processes, 4 devices each).
WORKER = r"""
import importlib, json, sys
import numpy as np

lib, mode, out = sys.argv[1], sys.argv[2], sys.argv[3]
jax = importlib.import_module(lib)
jnp = importlib.import_module(lib + ".numpy")
mhu = importlib.import_module(lib + ".experimental.multihost_utils")
from_lib = importlib.import_module(lib + ".sharding")
Mesh, NamedSharding, P = from_lib.Mesh, from_lib.NamedSharding, from_lib.PartitionSpec

facts = {}
if mode == "dist":
    pid, port = int(sys.argv[4]), int(sys.argv[5])
    jax.config.update("jax_num_cpu_devices", 4)
    jax.distributed.initialize(f"127.0.0.1:{port}", num_processes=2, process_id=pid,
                               initialization_timeout=40)
else:
    jax.config.update("jax_num_cpu_devices", 8)

devices = jax.devices()
facts["process"] = [jax.process_index(), jax.process_count()]
facts["devices"] = [len(devices), jax.device_count(), jax.local_device_count()]
facts["local_ids"] = [d.id for d in jax.local_devices()]
facts["local_of_1"] = [d.process_index for d in jax.local_devices(process_index=jax.process_count() - 1)]

mesh = Mesh(np.array(devices).reshape(8), ("data",))
replicated = NamedSharding(mesh, P())
by_rows = NamedSharding(mesh, P("data"))

rng = np.random.default_rng(0)
x_all = rng.normal(size=(32, 6)).astype(np.float32)
y_all = rng.normal(size=(32, 2)).astype(np.float32)
params0 = {
    "w1": (rng.normal(size=(6, 16)) * 0.3).astype(np.float32),
    "b1": np.zeros(16, np.float32),
    "w2": (rng.normal(size=(16, 2)) * 0.3).astype(np.float32),
}

def loss(p, x, y):
    h = jnp.tanh(x @ p["w1"] + p["b1"])
    return jnp.mean((h @ p["w2"] - y) ** 2)

def step(p, x, y):
    value, g = jax.value_and_grad(loss)(p, x, y)  # the batch mean: XLA all-reduces it
    return jax.tree_util.tree_map(lambda a, b: a - 0.1 * b, p, g), value

train = jax.jit(step, in_shardings=(replicated, by_rows, by_rows),
                out_shardings=(replicated, replicated))

if mode == "dist":
    rows = slice(16 * pid, 16 * (pid + 1))  # this process's half of the global batch
    x = jax.make_array_from_process_local_data(by_rows, x_all[rows])
    y = jax.make_array_from_process_local_data(by_rows, y_all[rows], (32, 2))
    facts["x_global"] = [list(x.shape), x.is_fully_addressable]
    facts["x_local_rows"] = sorted(s.index[0].start for s in x.addressable_shards)
else:
    x, y = jax.device_put(x_all, by_rows), jax.device_put(y_all, by_rows)
params = jax.device_put(params0, replicated)

hlo = train.lower(params, x, y).compile().as_text()
facts["all_reduce"] = "all-reduce" in hlo
losses = []
for _ in range(3):
    params, value = train(params, x, y)
    losses.append(float(np.asarray(value.addressable_shards[0].data)))
facts["losses"] = losses
result = {k: np.asarray(v.addressable_shards[0].data).tolist() for k, v in params.items()}

if mode == "dist":
    try:
        np.asarray(x)
        facts["fetch_global"] = None
    except Exception as e:
        facts["fetch_global"] = [type(e).__name__, str(e)]
    facts["allgather"] = mhu.process_allgather(np.array([pid, 10 + pid])).tolist()
    facts["allgather_tiled"] = mhu.process_allgather(np.arange(2.0) + 2 * pid, tiled=True).tolist()
    facts["allgather_global"] = mhu.process_allgather(x, tiled=True).tolist()
    facts["broadcast"] = np.asarray(mhu.broadcast_one_to_all(np.float32(pid + 5))).tolist()
    facts["broadcast_from_1"] = np.asarray(
        mhu.broadcast_one_to_all(np.array([pid, pid]), is_source=pid == 1)).tolist()
    mhu.sync_global_devices("after training")
    # one 4-device array per process, assembled into one 8-device array
    locals_ = [jax.device_put(np.full((1, 3), d.id, np.float32), d) for d in jax.local_devices()]
    z = jax.make_array_from_single_device_arrays((8, 3), by_rows, locals_)
    total = jax.jit(lambda z: z.sum(), out_shardings=replicated)(z)
    facts["assembled_sum"] = float(np.asarray(total.addressable_shards[0].data))
    facts["repr"] = repr(x)
    halves = mhu.host_local_array_to_global_array({"x": x_all[rows]}, mesh, {"x": P("data")})
    back = mhu.global_array_to_host_local_array(halves, mesh, P("data"))["x"]
    facts["host_local"] = [list(halves["x"].shape), list(back.shape), back.is_fully_addressable,
                           bool(np.array_equal(np.asarray(back), x_all[rows]))]
    local = np.arange(4.0, dtype=np.float32) + 10 * pid
    summed = jax.pmap(lambda a: jax.lax.psum(a, "i"), axis_name="i")(local)
    facts["pmap_psum"] = [list(summed.shape), summed.is_fully_addressable, np.asarray(summed).tolist()]
    index = jax.pmap(lambda a: jax.lax.axis_index("i") + a, axis_name="i")(np.zeros(4, np.int32))
    facts["pmap_axis_index"] = np.asarray(index).tolist()
    grid = Mesh(np.array(devices).reshape(2, 4), ("p", "d"))
    facts["local_mesh"] = [list(grid.local_mesh.devices.shape), grid.is_multi_process]
    v = jax.device_put(np.arange(16.0, dtype=np.float32), NamedSharding(grid, P(("p", "d"))))
    facts["eager"] = [np.asarray(s.data).tolist() for s in (v * 2).addressable_shards]
    psum = jax.shard_map(lambda a: jax.lax.psum(a, ("p", "d")), mesh=grid,
                         in_specs=P(("p", "d")), out_specs=P())
    facts["shard_map_psum"] = np.asarray(jax.jit(psum)(v).addressable_shards[0].data).tolist()
    jax.distributed.shutdown()

with open(out, "w") as f:
    json.dump({"facts": facts, "params": result}, f)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_all(runs: dict[str, list[str]], logs: Path) -> None:
    """Start every run (``name: [script, *args]``) at once and wait for all of them, at
    most DEADLINE_S in all; whatever happens, none is left running."""
    # CPU only: on a GPU machine both processes would otherwise share its one GPU
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2", JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)
    env.pop("JAX_NUM_CPU_DEVICES", None)
    procs: dict[str, subprocess.Popen] = {}
    start = time.monotonic()
    try:
        for name, argv in runs.items():
            with open(logs / f"{name}.log", "w") as log:  # a file: no pipe to fill up
                procs[name] = subprocess.Popen(
                    [sys.executable, *argv], cwd=str(ROOT), env=env, stdout=log, stderr=log
                )
        for name, p in procs.items():
            left = max(1.0, DEADLINE_S - (time.monotonic() - start))
            try:
                p.wait(timeout=left)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{name} did not finish in {DEADLINE_S} s")
            text = (logs / f"{name}.log").read_text()
            assert p.returncode == 0, f"{name} failed:\n{text[-4000:]}"
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()


# ------------------------------------------------------------- initialize's errors

ERRORS = r"""
import importlib, json, sys
lib, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
jax = importlib.import_module(lib)
seen = []

def attempt(**kw):
    try:
        jax.distributed.initialize(**kw)
        seen.append(None)
    except Exception as e:
        seen.append([type(e).__name__, str(e)])

address = f"127.0.0.1:{port}"
attempt(coordinator_address=address, num_processes=2, process_id=2)
attempt(coordinator_address=address, num_processes=2, process_id="0")
attempt(coordinator_address=address, num_processes=1, process_id=0, initialization_timeout=20)
attempt(coordinator_address=address, num_processes=1, process_id=0)
seen.append(jax.distributed.is_initialized())
seen.append([jax.process_index(), jax.process_count(), jax.device_count()])
jax.distributed.shutdown()
seen.append(jax.distributed.is_initialized())
jax.distributed.shutdown()  # a second shutdown does nothing
attempt(coordinator_address=address, num_processes=1, process_id=0)
with open(out, "w") as f:
    json.dump(seen, f)
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("distributed")
    script = tmp / "worker.py"
    script.write_text(WORKER)
    port = str(_free_port())
    errors = tmp / "errors.py"
    errors.write_text(ERRORS)
    names = ("p0", "p1", "single", "jax", "errors_engine", "errors_jax")
    out = {name: tmp / f"{name}.json" for name in names}
    # all at once: the whole file stays well under a minute
    _run_all(
        {
            "p0": [str(script), "engine", "dist", str(out["p0"]), "0", port],
            "p1": [str(script), "engine", "dist", str(out["p1"]), "1", port],
            "single": [str(script), "engine", "single", str(out["single"])],
            "jax": [str(script), "jax", "single", str(out["jax"])],
            "errors_engine": [str(errors), "engine", str(_free_port()), str(out["errors_engine"])],
            "errors_jax": [str(errors), "jax", str(_free_port()), str(out["errors_jax"])],
        },
        tmp,
    )
    return {name: json.loads(path.read_text()) for name, path in out.items()}


def test_two_processes_train_like_one_process_of_8_devices(runs):
    single, oracle = runs["single"]["params"], runs["jax"]["params"]
    for proc in ("p0", "p1"):
        for name, value in runs[proc]["params"].items():
            np.testing.assert_allclose(value, single[name], rtol=2e-6, atol=1e-7)
            np.testing.assert_allclose(value, oracle[name], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            runs[proc]["facts"]["losses"], runs["jax"]["facts"]["losses"], rtol=1e-5
        )
    # the loss went down, so the step is a real step and not a no-op
    losses = runs["p0"]["facts"]["losses"]
    assert losses[2] < losses[0]


def test_gradients_are_averaged_by_xla_collectives(runs):
    for name in ("p0", "p1", "single", "jax"):
        assert runs[name]["facts"]["all_reduce"], name


def test_process_and_device_counts(runs):
    p0, p1 = runs["p0"]["facts"], runs["p1"]["facts"]
    assert p0["process"] == [0, 2] and p1["process"] == [1, 2]
    assert p0["devices"] == p1["devices"] == [8, 8, 4]
    assert len(set(p0["local_ids"]) | set(p1["local_ids"])) == 8
    assert p0["local_of_1"] == p1["local_of_1"] == [1, 1, 1, 1]
    assert runs["single"]["facts"]["process"] == runs["jax"]["facts"]["process"] == [0, 1]
    assert runs["single"]["facts"]["devices"] == runs["jax"]["facts"]["devices"] == [8, 8, 8]


def test_process_local_data_makes_one_global_array(runs):
    for proc, first in (("p0", 0), ("p1", 16)):
        facts = runs[proc]["facts"]
        assert facts["x_global"] == [[32, 6], False]
        assert facts["x_local_rows"] == [first + 4 * k for k in range(4)]
    # 4 arrays of each process, one row each holding its device id, summed over 8 devices
    ids = runs["p0"]["facts"]["local_ids"] + runs["p1"]["facts"]["local_ids"]
    for proc in ("p0", "p1"):
        assert runs[proc]["facts"]["assembled_sum"] == 3 * sum(ids)


def test_global_arrays_compute_eagerly_and_in_shard_map(runs):
    for proc in ("p0", "p1"):
        facts, pid = runs[proc]["facts"], int(proc[1])
        assert facts["local_mesh"] == [[1, 4], True]
        start = 8 * pid
        assert facts["eager"] == [
            [2.0 * (start + 2 * k), 2.0 * (start + 2 * k + 1)] for k in range(4)
        ]
        assert facts["shard_map_psum"] == [56.0, 64.0]  # sums of the even and odd elements
        assert facts["repr"] == "Array(shape=(32, 6), dtype=float32)"


def test_pmap_maps_each_process_members_over_all_devices(runs):
    # as JAX: each process passes its 4 members; psum sees all 8; the result is local
    for proc in ("p0", "p1"):
        facts, pid = runs[proc]["facts"], int(proc[1])
        assert facts["pmap_psum"] == [[4], True, [52.0] * 4]  # 0+1+2+3 + 10+11+12+13
        assert facts["pmap_axis_index"] == [4 * pid + k for k in range(4)]


def test_host_local_arrays_round_trip_through_a_global_one(runs):
    for proc in ("p0", "p1"):
        assert runs[proc]["facts"]["host_local"] == [[32, 6], [16, 6], True, True]


def test_fetching_a_global_array_is_jaxs_error(runs):
    kind, message = runs["p0"]["facts"]["fetch_global"]
    assert kind == "RuntimeError"
    assert "spans non-addressable (non process local) devices" in message


def test_multihost_utils_across_processes(runs):
    x_all = np.random.default_rng(0).normal(size=(32, 6)).astype(np.float32)
    for proc in ("p0", "p1"):
        facts = runs[proc]["facts"]
        assert facts["allgather"] == [[0, 10], [1, 11]]
        assert facts["allgather_tiled"] == [0.0, 1.0, 2.0, 3.0]
        np.testing.assert_array_equal(np.asarray(facts["allgather_global"], np.float32), x_all)
        assert facts["broadcast"] == 5.0
        assert facts["broadcast_from_1"] == [1, 1]


def test_initialize_errors_match_jax(runs):
    engine_seen, jax_seen = runs["errors_engine"], runs["errors_jax"]
    phrases = [
        "process_id < num_processes",
        "process_id must be a nonnegative int",
        None,
        "distributed.initialize should only be called once",
        True,
        [0, 1, 1],
        False,
        "must be called before any JAX calls that might initialise the XLA backend",
    ]
    for got, want, phrase in zip(engine_seen, jax_seen, phrases):
        if isinstance(phrase, str):
            assert got[0] == want[0], (got, want)
            assert phrase in got[1] and phrase in want[1], (got, want)
        else:
            assert got == want == phrase
    assert len(engine_seen) == len(jax_seen) == len(phrases)


# ------------------------------------------------------------- one process (in here)


def test_one_process_answers_as_jax():
    jax, _ = real_jax()
    from jax.experimental import multihost_utils as jax_mhu

    assert engine.process_index() == jax.process_index() == 0
    assert engine.process_count() == jax.process_count() == 1
    assert engine.process_indices() == jax.process_indices() == [0]
    assert engine.local_devices(process_index=0) == engine.devices()
    assert not engine.distributed.is_initialized()
    with pytest.raises(ValueError, match="Unknown process_index 3"):
        engine.local_devices(process_index=3)
    with pytest.raises(ValueError, match="Unknown process_index 3"):
        jax.local_devices(process_index=3)
    value = np.arange(6.0).reshape(2, 3)
    for tiled in (False, True):
        got = mhu.process_allgather({"a": value, "s": 2.5}, tiled=tiled)
        want = jax_mhu.process_allgather({"a": value, "s": 2.5}, tiled=tiled)
        for key in ("a", "s"):
            assert np.shape(got[key]) == np.shape(want[key])
            np.testing.assert_array_equal(got[key], want[key])
    got = mhu.broadcast_one_to_all({"a": value})
    np.testing.assert_array_equal(got["a"], jax_mhu.broadcast_one_to_all({"a": value})["a"])
    mhu.sync_global_devices("one process")
    mhu.assert_equal(value)
