"""Ahead-of-time stages, as in JAX: ``jit(f).trace(x)`` -> ``Traced``, ``.lower()`` ->
``Lowered``, ``.compile()`` -> ``Compiled``. Each stage keeps its provenance (which
function, which input avals, which stage it came from) so it can be inspected."""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref

from . import dispatch, runtime, tree_util
from .array import Array
from .interpreters import lowering
from .interpreters.tracing import convert_constvars_to_invars


class Traced:
    def __init__(self, jitted, closed, in_tree, out_tree, static, avals, dyn_args, device):
        self.jitted = jitted
        self.jaxpr = closed
        self.in_tree, self.out_tree = in_tree, out_tree
        self.static, self.in_avals = static, avals
        self._dyn_args = dyn_args
        self.device = device
        self.fun_name = jitted.__name__

    def __repr__(self):
        return f"Traced({self.fun_name}, in_avals={[a.str_short() for a in self.in_avals]})"

    def lower(self):
        return Lowered(self)


class Lowered:
    def __init__(self, traced):
        self.traced = traced
        self.fun_name = traced.fun_name
        closed, consts = convert_constvars_to_invars(traced.jaxpr)
        self._closed, self._consts = closed, consts
        module, ctx = lowering.lower_jaxpr_to_module(
            closed, traced.fun_name, runtime.platform_of(traced.device)
        )
        self._module, self._ctx = module, ctx
        self._mlir_text = None

    @property
    def mlir_text(self):
        """The StableHLO module with source locations (what is compiled)."""
        if self._mlir_text is None:
            self._mlir_text = lowering.module_to_text(self._module, debug_info=True)
        return self._mlir_text

    def as_text(self, dialect="stablehlo", debug_info=False):
        """The StableHLO module (``debug_info=True`` keeps source locations), or the
        pre-optimization XLA HLO with ``dialect="hlo"``."""
        if dialect == "stablehlo":
            return lowering.module_to_text(self._module, debug_info=debug_info)
        if dialect == "hlo":
            return runtime.mlir_to_hlo_text(self.mlir_text)
        raise ValueError(f"unknown dialect {dialect!r}; use 'stablehlo' or 'hlo'")

    def compiler_ir(self, dialect="stablehlo"):
        return self._module if dialect == "stablehlo" else self.as_text("hlo")

    def compile(self, compiler_options=None, dump_passes=False, dump_dir=None):
        """Compile with XLA. ``compiler_options``: XLA debug options by name.
        ``dump_passes=True`` keeps XLA's module after every optimization pass in
        ``Compiled.dump_dir`` (read by the fusion stepper)."""
        owned = dump_passes and dump_dir is None
        if owned:
            dump_dir = tempfile.mkdtemp(prefix=f"glassjax_{self.fun_name}_")
        exe = dispatch.compile_text(
            self.mlir_text,
            self.traced.device,
            self._closed.out_avals,
            options=compiler_options,
            dump_dir=dump_dir,
        )
        compiled = Compiled(self, exe, dump_dir)
        if owned:  # a dump folder we made goes away with the Compiled object
            weakref.finalize(compiled, shutil.rmtree, dump_dir, True)
        return compiled


class Compiled:
    def __init__(self, lowered, exe, dump_dir=None):
        self.lowered = lowered
        self.fun_name = lowered.fun_name
        self._exe = exe
        self.dump_dir = dump_dir
        t = lowered.traced
        self._const_bufs = [dispatch.device_put_value(c, t.device)._buf for c in lowered._consts]
        self.out_avals = lowered._closed.out_avals

    def as_text(self):
        """XLA's optimized HLO, with its fusions."""
        return self._exe.hlo_text()

    def cost_analysis(self):
        """XLA's estimate of flops, transcendentals and bytes accessed."""
        return self._exe.cost_analysis()

    def memory_analysis(self):
        return self._exe.memory_analysis()

    def dump_files(self):
        if not self.dump_dir:
            return []
        return sorted(os.listdir(self.dump_dir))

    def __call__(self, *args, **kwargs):
        t = self.lowered.traced
        static, dyn_args, dyn_kwargs = t.jitted._split(args, kwargs)
        flat, in_tree = tree_util.tree_flatten((dyn_args, dyn_kwargs))
        if in_tree != t.in_tree:
            raise TypeError(
                f"Compiled {self.fun_name} was compiled for argument structure "
                f"{t.in_tree}, got {in_tree}"
            )
        avals = tuple(getattr(x, "aval", None) or dispatch.core.get_aval(x) for x in flat)
        if [(a.shape, a.dtype) for a in avals] != [(a.shape, a.dtype) for a in t.in_avals]:
            raise TypeError(
                f"Compiled {self.fun_name} was compiled for argument types "
                f"{[a.str_short() for a in t.in_avals]}, got "
                f"{[a.str_short() for a in avals]}"
            )
        device = t.device
        outs = self._exe(self._const_bufs + dispatch._buffers(flat, device))
        return tree_util.tree_unflatten(
            t.out_tree, [Array(b, a, device) for b, a in zip(outs, self.out_avals)]
        )
