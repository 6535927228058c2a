"""What a compiled program costs: XLA's estimate, its memory, and measured run time.

    r = executable_report(train_step, params, x, y, device="cpu", repeats=50)
    r.cost["flops"], r.cost["estimate"]      # XLA's static estimate, labelled as such
    r.memory["temp_size_in_bytes"]
    r.timing["median_s"], r.timing["min_s"]  # measured, warm-up runs excluded
    r.per_kernel                             # per fusion / library call, from XLA's profiler
    r.to_json()

Per-kernel times come from the trace events XLA's runtime records (jaxlib's own profiler
session, no ``jax`` needed): on CPU the thunk executor names each event after the HLO
instruction it runs (a fusion, a dot, a custom call). Where no event matches, or the
profiler cannot start, ``per_kernel`` is None and ``per_kernel_note`` says why.
"""

from __future__ import annotations

import json
import statistics
import time

from .hlo_model import parse_hlo_module

COST_SOURCE = (
    "XLA's HloCostAnalysis: a static estimate computed from the optimized HLO, not a measurement"
)


def executable_report(
    f, *args, device=None, repeats=30, warmup=3, profile=True, timeline=None, **kwargs
):
    """An ``ExecutableReport`` for ``f`` on these arguments.

    ``f``: a function or ``engine.jit`` of one (compiled here for ``device``), a ``Lowered``
    stage, or a ``Compiled`` stage (arguments optional: without them nothing is timed).
    ``device``: a device object or a platform name ('cpu', 'gpu', 'cuda', 'tpu');
    default: where the arguments live, else the default device.
    ``timeline``: a ``PassTimeline`` of the same compile, to add the generated code's size
    from its object files.
    """
    import engine

    dev = _resolve_device(device)
    compiled_on = getattr(getattr(f, "_exe", None), "device", None)
    if dev is not None and compiled_on is not None and compiled_on != dev:
        raise ValueError(
            f"this Compiled stage was compiled for {compiled_on}, not {dev}; "
            "pass the function (or its Lowered stage for that device) instead"
        )
    if dev is not None and args:
        args = engine.device_put(args, dev)  # committed: tracing picks this device
        kwargs = engine.device_put(kwargs, dev) if kwargs else kwargs
    compiled = _as_compiled(f, args, kwargs)
    report = ExecutableReport(compiled, timeline)
    if args or kwargs:
        report.measure(*args, repeats=repeats, warmup=warmup, **kwargs)
        if profile:
            report.profile_kernels(*args, repeats=min(repeats, 20), **kwargs)
    return report


def _resolve_device(device):
    """A device object as is; a platform name ('cpu', 'gpu', 'cuda', 'tpu') -> its first
    device (the engine's runtime says which platforms are available)."""
    if device is None or not isinstance(device, str):
        return device
    import engine

    return engine.devices(device)[0]


def _as_compiled(f, args, kwargs):
    if hasattr(f, "cost_analysis") and hasattr(f, "memory_analysis"):  # a Compiled stage
        return f
    if hasattr(f, "compile") and hasattr(f, "mlir_text"):  # a Lowered stage
        return f.compile()
    if not callable(f):
        raise TypeError(
            f"executable_report needs a function, a jit-wrapped function, a "
            f"Lowered or a Compiled stage; got {type(f).__name__}"
        )
    if not hasattr(f, "lower"):
        import engine

        f = engine.jit(f)
    return f.lower(*args, **kwargs).compile()


class ExecutableReport:
    """A compiled stage's cost (XLA's estimate), memory statistics, and, once measured,
    run time and per-kernel time. Every field is JSON-able (``to_dict`` / ``to_json``)."""

    def __init__(self, compiled, timeline=None):
        self.compiled = compiled
        self.name = getattr(compiled, "fun_name", None)
        exe = getattr(compiled, "_exe", None)
        device = getattr(exe, "device", None)
        self.device = str(device) if device is not None else None
        self.platform = getattr(device, "platform", None)
        # True when the engine read this executable from its persistent compilation cache
        self.loaded_from_cache = bool(getattr(compiled, "loaded_from_cache", False))
        self.cost = self._cost(compiled.cost_analysis())
        self.memory = self._memory(dict(compiled.memory_analysis()), timeline)
        self.timing = None
        self.timing_note = "not measured: no example arguments were given"
        self.per_kernel = None
        self.per_kernel_note = "not measured: no example arguments were given"
        self._hlo = None

    # -- static parts
    @staticmethod
    def _cost(raw):
        raw = {k: float(v) for k, v in dict(raw).items()}
        missing = [k for k in ("flops", "transcendentals", "bytes accessed") if k not in raw]
        cost = {
            "flops": raw.get("flops", 0.0),
            "transcendentals": raw.get("transcendentals", 0.0),
            "bytes_accessed": raw.get("bytes accessed", 0.0),
            "optimal_seconds": raw.get("optimal_seconds"),
            "estimate": True,
            "source": COST_SOURCE,
            "missing_keys_read_as_zero": missing,
            "raw": raw,
        }
        if cost["bytes_accessed"]:
            cost["flops_per_byte"] = cost["flops"] / cost["bytes_accessed"]
        return cost

    @staticmethod
    def _memory(stats, timeline):
        memory = {k: int(v) for k, v in stats.items()}
        notes = []
        if timeline is not None and timeline.kernels:
            memory["object_code_bytes"] = sum(k.code_size for k in timeline.kernels)
            notes.append(
                "object_code_bytes: machine code of the kernels XLA generated, "
                "from the object files of the pass dump"
            )
        if memory.get("generated_code_size_in_bytes") == 0:
            notes.append("generated_code_size_in_bytes is 0: this backend does not report it")
        memory["notes"] = notes
        return memory

    @property
    def hlo(self):
        if self._hlo is None:
            self._hlo = parse_hlo_module(self.compiled.as_text())
        return self._hlo

    # -- measured parts
    def measure(self, *args, repeats=30, warmup=3, **kwargs):
        """Run the executable ``warmup`` times (not counted), then ``repeats`` times, each
        call waited on with ``block_until_ready``."""
        import engine

        if repeats < 1:
            raise ValueError("repeats must be at least 1")
        for _ in range(warmup):
            engine.block_until_ready(self.compiled(*args, **kwargs))
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            engine.block_until_ready(self.compiled(*args, **kwargs))
            times.append(time.perf_counter() - start)
        self.timing = {
            "median_s": statistics.median(times),
            "min_s": min(times),
            "mean_s": statistics.fmean(times),
            "max_s": max(times),
            "stdev_s": statistics.stdev(times) if len(times) > 1 else 0.0,
            "count": len(times),
            "warmup_runs_excluded": warmup,
            "device": self.device,
            "includes": "the Python call of the Compiled stage (argument checks, buffer "
            "lookup) and waiting for the results; arguments already on device",
        }
        self.timing_note = None
        if self.cost["flops"] and self.timing["median_s"] > 0:
            self.timing["flops_per_s_from_estimate"] = self.cost["flops"] / self.timing["median_s"]
        return self.timing

    def profile_kernels(self, *args, repeats=10, **kwargs):
        """Per-kernel times from XLA's runtime trace (top-level HLO instructions: fusions,
        library calls), over ``repeats`` runs. Leaves ``per_kernel`` None and says why in
        ``per_kernel_note`` where the profiler cannot give them."""
        import engine

        names = {i.name: i for i in self.hlo.top_level_instructions()}

        def run():
            for _ in range(repeats):
                engine.block_until_ready(self.compiled(*args, **kwargs))

        engine.block_until_ready(self.compiled(*args, **kwargs))
        events, problem = trace_events(run)
        if problem:
            self.per_kernel, self.per_kernel_note = None, problem
            return None
        device_events = [e for e in events if e["plane"].startswith("/device:")]
        chosen = [e for e in (device_events or events) if e["name"] in names]
        if not chosen:
            self.per_kernel = None
            self.per_kernel_note = (
                "the profiler ran but recorded no event named after an HLO "
                "instruction of this executable on this platform"
            )
            return None
        by_name = {}
        for e in chosen:
            by_name.setdefault(e["name"], []).append(e["duration_ns"] * 1e-9)
        total = sum(sum(v) for v in by_name.values())
        rows = []
        for name, durations in by_name.items():
            ins = names[name]
            rows.append(
                {
                    "name": name,
                    "opcode": ins.opcode,
                    "fusion_kind": ins.fusion_kind,
                    "calls_per_run": len(durations) / repeats,
                    "median_s": statistics.median(durations),
                    "min_s": min(durations),
                    "total_s": sum(durations),
                    "share": sum(durations) / total if total else None,
                }
            )
        rows.sort(key=lambda r: -r["total_s"])
        self.per_kernel = rows
        self.per_kernel_note = (
            f"from XLA's runtime trace over {repeats} runs ("
            f"{'device' if device_events else 'host'} events); profiling adds overhead, so "
            "compare kernels with each other rather than with the timing above"
        )
        return rows

    # -- export
    def to_dict(self):
        return {
            "name": self.name,
            "device": self.device,
            "platform": self.platform,
            "loaded_from_cache": self.loaded_from_cache,
            "cost": self.cost,
            "memory": self.memory,
            "timing": self.timing,
            "timing_note": self.timing_note,
            "per_kernel": self.per_kernel,
            "per_kernel_note": self.per_kernel_note,
        }

    def to_json(self, **kwargs):
        return json.dumps(self.to_dict(), **kwargs)

    def __repr__(self):
        t = f", median {self.timing['median_s'] * 1e6:.1f} us" if self.timing else ""
        return (
            f"<ExecutableReport {self.name} on {self.device}: ~{self.cost['flops']:.0f} "
            f"flops (estimate), {self.cost['bytes_accessed']:.0f} bytes accessed{t}>"
        )


def trace_events(fn):
    """Run ``fn`` under XLA's profiler (through the engine's runtime)."""
    from engine import runtime

    return runtime.trace_events(fn)
