"""Many devices (engine/sharding): a sharded array is one jaxlib ArrayImpl made of
per-device buffers with a GSPMDSharding; an SPMD program is compiled once for all the
devices of a mesh (num_partitions = number of devices) by XLA's SPMD partitioner.
Shardings here are HloShardings whose tile assignment holds *positions* in the group's
device tuple (XLA's logical device ids for the program's device assignment). Part of
engine.runtime's fence around jaxlib (its names are also importable from engine.runtime);
DeviceGroup itself lives in engine.runtime."""

import numpy as np
from jaxlib import xla_client as xc

from .runtime import (
    DeviceGroup,
    _Aval,
    _require,
    buffer_devices,
    device_put,
    to_numpy,
)
from .runtime_compile import (
    HOST_CALLBACKS_ATTR,
    Executable,
    _check_sizes,
    _compile_options,
    _result_handler,
    _set_donors,
    output_memory_kinds,
    run_interruptibly,
)


def group_sharding(group: DeviceGroup, hlo, memory_kind=None):
    """jaxlib's sharding object for an array of ``group`` laid out as ``hlo`` (in
    ``memory_kind``'s memory of each device, their default memory if None)."""
    if memory_kind is None:
        return xc.GSPMDSharding(group.devices, hlo)
    return xc.GSPMDSharding(group.devices, hlo, memory_kind=memory_kind)


def hlo_of_buffer(buf):
    """The HloSharding of a jaxlib array (replicated for a one-device array)."""
    sharding = buf._sharding
    hlo = getattr(sharding, "_hlo_sharding", None)
    if hlo is None:
        to_hlo = getattr(sharding, "_to_xla_hlo_sharding", None)
        hlo = to_hlo(len(buf.aval.shape)) if to_hlo is not None else xc.HloSharding.replicate()
    return hlo


def hlo_device_indices(hlo, shape) -> dict:
    """{position in the device tuple: index (tuple of slices)} of the block each device
    holds under ``hlo`` (XLA's tiles: ceil(n / parts) long, the last ones shorter)."""
    shape = tuple(shape)
    if hlo.is_replicated():
        return None
    if hlo.subgroup_types() and not hlo.replicate_on_last_tile_dim():
        raise NotImplementedError(f"sharding {hlo} has subgroups the engine cannot read")
    dims = list(hlo.tile_assignment_dimensions())
    positions = np.asarray(hlo.tile_assignment_devices()).reshape(dims)
    out = {}
    for tile in np.ndindex(*dims):
        index = []
        for d, n in enumerate(shape):
            parts = dims[d]
            if parts == 1:
                index.append(slice(None))
            else:
                block = -(-n // parts)
                start = min(tile[d] * block, n)
                index.append(slice(start, min(start + block, n)))
        out[int(positions[tile])] = tuple(index)
    return out


def put_sharded(
    x, group: DeviceGroup, hlo=None, aval=None, weak_type: bool = False, memory_kind=None
):
    """Host value ``x`` onto ``group``'s devices, each holding its block under ``hlo``
    (replicated if None) in their ``memory_kind`` memory; returns one jaxlib array."""
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if aval is None:
        aval = _Aval(x.shape, x.dtype, weak_type)
    indices = None if hlo is None else hlo_device_indices(hlo, x.shape)
    shards = []
    for pos, device in enumerate(group.devices):
        if device.process_index != device.client.process_index():
            continue  # another process of a distributed job holds that block
        block = x if indices is None else np.ascontiguousarray(x[indices[pos]])
        shard_aval = _Aval(block.shape, x.dtype, aval.weak_type)
        shards.append(device_put(block, device, aval=shard_aval, memory_kind=memory_kind))
    if memory_kind is not None:
        hlo = xc.HloSharding.replicate() if hlo is None else hlo
        sharding = group_sharding(group, hlo, memory_kind)
    else:
        sharding = group.replicated if hlo is None else group_sharding(group, hlo)
    return xc.ArrayImpl(aval, sharding, shards, True, True)


def assemble(aval, group: DeviceGroup, hlo, shard_bufs):
    """One jaxlib array from per-device buffers (in ``group``'s device order)."""
    return xc.ArrayImpl(aval, group_sharding(group, hlo), list(shard_bufs), True, True)


_spmd_specializer = None


def set_spmd_specializer(fn):
    """``fn(mlir_text, group, out_avals, options, dump_dir, donated)`` makes what an
    un-annotated module over a DeviceGroup compiles to (engine.sharding registers an
    executable compiled per layout of its inputs, for eager ops on sharded arrays)."""
    global _spmd_specializer
    _spmd_specializer = fn


def _gather_shards(buf, shards):
    """The host value of a sharded array, put together from its devices' blocks."""
    aval = buf.aval
    if len(shards) != len(buffer_devices(buf)):
        raise RuntimeError(
            "Fetching value for `jax.Array` that spans non-addressable (non process local) "
            "devices is not possible. You can use "
            "`jax.experimental.multihost_utils.process_allgather` to print the global "
            "array or use `.addressable_shards` method of jax.Array to inspect the "
            "addressable (process local) shards."
        )
    indices = hlo_device_indices(hlo_of_buffer(buf), aval.shape)
    if indices is None:
        return to_numpy(shards[0])
    out = None
    for pos, shard in enumerate(shards):
        block = to_numpy(shard)
        if out is None:
            out = np.empty(tuple(aval.shape), dtype=block.dtype)
        out[indices[pos]] = block
    out.flags.writeable = False
    return out


class SpmdExecutable(Executable):
    """A program XLA partitioned over ``group``'s devices; called with jaxlib arrays laid
    out as ``input_hlo_shardings``, it returns arrays laid out as ``output_hlo_shardings``."""

    def __init__(self, loaded, group, out_avals, mlir_text, dump_dir=None):
        self._loaded = loaded
        self._execute = loaded.execute_sharded
        self.device = group
        self.group = group
        self.out_avals = list(out_avals)
        self.mlir_text = mlir_text
        self.dump_dir = dump_dir
        self.input_hlo_shardings = [
            xc.HloSharding.from_proto(s) for s in loaded.get_parameter_shardings() or ()
        ]
        outs = [xc.HloSharding.from_proto(s) for s in loaded.get_output_shardings() or ()]
        if len(outs) != len(self.out_avals):  # one tuple sharding, or none reported
            outs = [xc.HloSharding.replicate()] * len(self.out_avals)
        self.output_hlo_shardings = outs
        self.output_memory_kinds = output_memory_kinds(loaded, len(self.out_avals))
        self._handlers = [
            _result_handler(a, group_sharding(group, h, None if k == "device" else k))
            for a, h, k in zip(self.out_avals, outs, self.output_memory_kinds)
        ]

    def __repr__(self):
        return f"<SpmdExecutable on {self.group} -> {len(self.out_avals)} outputs>"


def compile_spmd(
    mlir_text: str, group: DeviceGroup, out_avals, *, options=None, dump_dir=None, donated=()
) -> SpmdExecutable:
    """Compile StableHLO text annotated with shardings (Shardy ``sdy`` attributes, or
    GSPMD ``mhlo.sharding`` strings) for all of ``group``'s devices."""
    if "sdy.mesh" not in mlir_text and "mhlo.sharding" not in mlir_text:
        if _spmd_specializer is None:
            raise RuntimeError("engine.sharding is not loaded: cannot lay out this program")
        return _spmd_specializer(mlir_text, group, out_avals, options, dump_dir, donated)
    if HOST_CALLBACKS_ATTR in mlir_text:
        raise NotImplementedError(
            "host callbacks in a program partitioned over several devices are not supported"
        )
    _check_sizes(mlir_text)
    if donated:
        mlir_text = _set_donors(mlir_text, set(donated))
    opts = _compile_options(group.devices[0], options, dump_dir)
    n = len(group.devices)
    opts.num_replicas = 1
    opts.num_partitions = n
    opts.device_assignment = xc.DeviceAssignment.create(
        np.array([[d.id for d in group.devices]], dtype=np.int32)
    )
    build = opts.executable_build_options
    build.use_spmd_partitioning = True
    build.use_shardy_partitioner = "sdy.mesh" in mlir_text
    # Results without an annotation take the sharding XLA's propagation gives them.
    build.allow_spmd_sharding_propagation_to_output = [True]
    # Arguments without an annotation get what XLA's propagation chooses (as JAX's
    # unspecified in_shardings); callers read it from input_hlo_shardings.
    build.allow_spmd_sharding_propagation_to_parameters = [True]
    compile_fn = getattr(group.client, "compile_and_load", None) or _require(
        group.client, "compile", "compile"
    )
    work = lambda: compile_fn(mlir_text, xc.DeviceList(group.devices), opts)  # noqa: E731
    try:
        loaded = run_interruptibly(work, "XLA compile")
    except Exception as e:
        message = str(e)
        if "No such compile option" in message:
            raise ValueError(f"Unknown XLA option: {message}") from None
        raise
    return SpmdExecutable(loaded, group, out_avals, mlir_text, dump_dir)
