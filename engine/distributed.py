"""``jax.distributed``: one program run by several processes (hosts), as JAX runs it.

``initialize`` starts jaxlib's own distributed runtime: process 0 also runs the
coordination service, every process connects a client to it, and the CPU client is then
made as one node of the job with gloo TCP collectives (``runtime.set_distributed``), so
``devices()`` lists every process's devices and XLA's collectives cross processes.
Nothing here is home-made: the service, client, topology exchange and collectives are
jaxlib's.

Not yet: GPU/TPU clients joined to the job (only the CPU client is; a GPU plugin's
client stays one-process), ``local_device_ids``, and cluster auto-detection (Slurm, MPI,
TPU); these raise NotImplementedError or act as one process.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from typing import Any

from . import runtime

logger = logging.getLogger(__name__)


class State:
    """This process's place in the distributed job (JAX's ``global_state``)."""

    process_id: int = 0
    num_processes: int = 1
    service: Any = None
    client: Any = None
    preemption_sync_manager: Any = None
    coordinator_address: str | None = None
    partition_index: int | None = None

    def initialize(
        self,
        coordinator_address: str | None,
        num_processes: int | None,
        process_id: int | None,
        local_device_ids: int | Sequence[int] | None = None,
        initialization_timeout: int = 300,
        coordinator_bind_address: str | None = None,
        heartbeat_timeout_seconds: int = 100,
        shutdown_timeout_seconds: int = 300,
    ) -> None:
        coordinator_address = coordinator_address or os.environ.get("JAX_COORDINATOR_ADDRESS")
        if coordinator_address is None:
            raise ValueError("coordinator_address should be defined.")
        if num_processes is None:
            raise ValueError("Number of processes must be defined.")
        if process_id is None:
            raise ValueError("The process id of the current process must be defined.")
        if not isinstance(process_id, int):
            raise TypeError(
                "process_id must be a nonnegative int. "
                f"Got process_id={process_id} of type {type(process_id)}."
            )
        if not isinstance(num_processes, int):
            raise TypeError(
                "num_processes must be a positive int. "
                f"Got num_processes={num_processes} of type {type(num_processes)}."
            )
        if not 0 <= process_id < num_processes:
            raise ValueError(
                "process_id and num_processes must be nonnegative, with process_id < "
                f"num_processes. Got process_id={process_id}, num_processes={num_processes}."
            )
        if local_device_ids is not None:
            # they pick GPUs (CUDA_VISIBLE_DEVICES-like); the CPU client has no such choice
            raise NotImplementedError(
                "distributed.initialize(local_device_ids=...): the engine has no per-process "
                "GPU visibility yet; CPU processes always use all their devices"
            )
        port = coordinator_address.rsplit(":", 1)[1]
        bind = coordinator_bind_address or os.environ.get(
            "JAX_COORDINATOR_BIND_ADDRESS", f"[::]:{port}"
        )
        if process_id == 0:
            if self.service is not None:
                raise RuntimeError("distributed.initialize should only be called once.")
            logger.info("Starting the distributed runtime service on %s", bind)
            self.service = runtime.distributed_runtime("get_distributed_runtime_service")(
                bind,
                num_processes,
                heartbeat_timeout=heartbeat_timeout_seconds,
                shutdown_timeout=shutdown_timeout_seconds,
            )
        if self.client is not None:
            raise RuntimeError("distributed.initialize should only be called once.")
        client = runtime.distributed_runtime("get_distributed_runtime_client")(
            coordinator_address,
            process_id,
            init_timeout=initialization_timeout,
            use_compression=True,
            heartbeat_timeout=heartbeat_timeout_seconds,
        )
        client.connect()
        self.client = client
        self.coordinator_address = coordinator_address
        self.process_id = process_id
        self.num_processes = num_processes
        self.preemption_sync_manager = runtime.distributed_runtime(
            "create_preemption_sync_manager"
        )()
        self.preemption_sync_manager.initialize(client)
        runtime.set_distributed((client, process_id, num_processes))

    def shutdown(self) -> None:
        if self.preemption_sync_manager is not None:
            self.preemption_sync_manager.shutdown()
            self.preemption_sync_manager = None
        if self.client is not None:
            self.client.shutdown()
            self.client = None
        if self.service is not None:
            self.service.shutdown()
            self.service = None


global_state = State()


def initialize(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    local_device_ids: int | Sequence[int] | None = None,
    cluster_detection_method: str | None = None,
    initialization_timeout: int = 300,
    heartbeat_timeout_seconds: int = 100,
    shutdown_timeout_seconds: int = 300,
    coordinator_bind_address: str | None = None,
    slice_index: int | None = None,
    partition_index: int | None = None,
) -> None:
    """Join this process to a job of ``num_processes`` processes whose process 0 serves
    at ``coordinator_address`` ("host:port"). Call it before anything that makes the
    backend (``devices()``, ``device_put``, any computation). Every process blocks until
    all have connected (up to ``initialization_timeout`` seconds)."""
    if runtime.backends_are_initialized():
        raise RuntimeError(
            "jax.distributed.initialize() must be called before any JAX calls that might "
            "initialise the XLA backend. This includes any computation, but also calls to "
            "jax.devices, jax.device_put, and others."
        )
    if cluster_detection_method not in (None, "deactivate"):
        raise NotImplementedError(
            f"distributed.initialize(cluster_detection_method={cluster_detection_method!r}): "
            "the engine detects no clusters (Slurm, MPI, TPU); pass coordinator_address, "
            "num_processes and process_id"
        )
    if partition_index is None:
        if slice_index is not None:
            warnings.warn(
                "`slice_index` has been deprecated. Please use `partition_index` instead.",
                DeprecationWarning,
                stacklevel=2,
            )
        partition_index = slice_index
    if partition_index is None and os.environ.get("JAX_PARTITION_INDEX") is not None:
        partition_index = int(os.environ["JAX_PARTITION_INDEX"])
    global_state.partition_index = partition_index  # kept for the program; CPU ignores it
    global_state.initialize(
        coordinator_address,
        num_processes,
        process_id,
        local_device_ids,
        initialization_timeout,
        coordinator_bind_address,
        heartbeat_timeout_seconds=heartbeat_timeout_seconds,
        shutdown_timeout_seconds=shutdown_timeout_seconds,
    )


def is_initialized() -> bool:
    """Whether ``initialize`` ran (and ``shutdown`` did not)."""
    return global_state.client is not None


def shutdown() -> None:
    """Leave the distributed job; nothing happens if it is not running."""
    global_state.shutdown()


def array_from_process_local_data(sharding: Any, local_data: Any, global_shape=None) -> Any:
    """``make_array_from_process_local_data`` when this process holds only part of the
    mesh: ``local_data`` is the block spanned by this process's devices (its place in
    the global array follows from those devices' places in the sharding); the global
    shape, unless given, scales each sharded dimension by how many of its shards this
    process holds."""
    import numpy as np

    from . import core, dtypes
    from .sharding.arrays import host_value, wrap
    from .sharding.mesh import Mesh
    from .sharding.named import NamedSharding

    if not isinstance(sharding, NamedSharding) or not isinstance(sharding.mesh, Mesh):
        raise TypeError(
            f"make_array_from_process_local_data across processes needs a NamedSharding "
            f"over a concrete Mesh, got {sharding!r}"
        )
    value = np.asarray(host_value(local_data))
    value = value.astype(dtypes.canonicalize_dtype(value.dtype), copy=False)
    group: Any = sharding.mesh._group
    hlo = sharding._hlo_sharding(value.ndim)
    local = runtime.addressable(group.devices)
    position = {d: p for p, d in enumerate(group.devices)}
    tiles = (
        list(hlo.tile_assignment_dimensions())[: value.ndim]
        if not hlo.is_replicated()
        else [1] * value.ndim
    )
    # with one element per tile, a device's index is its tile's coordinates
    tile_of = runtime.hlo_device_indices(hlo, tiles) or {}
    held = [
        {tile_of[position[d]][k].start or 0 for d in local} if tile_of else {0}
        for k in range(value.ndim)
    ]
    if global_shape is None:
        global_shape = tuple(n * tiles[k] // len(held[k]) for k, n in enumerate(value.shape))
    global_shape = tuple(global_shape)
    indices = sharding.devices_indices_map(global_shape)
    starts = [
        min(indices[d][k].indices(global_shape[k])[0] for d in local) for k in range(value.ndim)
    ]
    bufs = []
    for device in local:
        block_index = []
        for k, s in enumerate(indices[device]):
            lo, hi, _ = s.indices(global_shape[k])
            block_index.append(slice(lo - starts[k], hi - starts[k]))
        block = value[tuple(block_index)]
        want = tuple(
            s.indices(n)[1] - s.indices(n)[0] for s, n in zip(indices[device], global_shape)
        )
        if block.shape != want:
            raise ValueError(
                f"make_array_from_process_local_data: this process's data of shape "
                f"{value.shape} does not cover its devices' blocks of the global shape "
                f"{global_shape} under {sharding!r}"
            )
        bufs.append(runtime.device_put(np.ascontiguousarray(block), device))
    aval = core.ShapedArray(global_shape, value.dtype)
    buf = runtime.assemble(runtime._Aval(global_shape, value.dtype), group, hlo, bufs)
    return wrap(buf, aval, group, sharding)


# ---------------------------------------------------------------- pmap across processes
# JAX's pmap maps each process's leading axis over that process's devices and runs one
# program over all of them: collectives see every process's members; results are local.


def spans_processes(backend: str | None = None) -> bool:
    everywhere = runtime.devices(backend)
    return len(runtime.local_devices(backend)) != len(everywhere)


def pmap_devices(local_size: int, backend: str | None = None) -> tuple:
    """The devices of a pmap whose mapped axes have ``local_size`` members in each
    process: the first ``local_size`` devices of every process, process by process."""
    everywhere = runtime.devices(backend)
    count = max(d.process_index for d in everywhere) + 1
    out = []
    for p in range(count):
        mine = sorted((d for d in everywhere if d.process_index == p), key=lambda d: d.id)
        if local_size > len(mine):
            raise ValueError(
                f"pmap maps an axis of size {local_size} but process {p} has only "
                f"{len(mine)} devices"
            )
        out.extend(mine[:local_size])
    return tuple(out)


def to_global(x: Any, mesh: Any, spec: Any) -> Any:
    """This process's value ``x`` as its part of a global array over ``mesh`` laid out
    as ``spec`` (its mapped axis concatenated over processes; replicated if unmapped)."""
    from .sharding.arrays import host_value, put
    from .sharding.named import NamedSharding

    sharding = NamedSharding(mesh, spec)
    if all(axis is None for axis in spec):
        return put(host_value(x), sharding)
    return array_from_process_local_data(sharding, x)


def to_local(x: Any) -> Any:
    """The part of a global array (mapped along its pmap axis) this process holds, as
    one array over this process's devices."""
    from .sharding.arrays import make_array_from_single_device_arrays
    from .sharding.named import NamedSharding

    if x.is_fully_addressable:
        return x
    sharding = x.sharding
    shards = x.addressable_shards
    block = shards[0].data.shape
    # each dimension: this process's distinct blocks along it, side by side
    shape = tuple(
        block[k] * len({s.index[k].indices(n)[0] for s in shards}) for k, n in enumerate(x.shape)
    )
    return make_array_from_single_device_arrays(
        shape, NamedSharding(sharding.mesh.local_mesh, sharding.spec), [s.data for s in shards]
    )
