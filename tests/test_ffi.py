"""engine.ffi against jax.ffi: a tiny C++ kernel built with the system compiler, called
eagerly, under jit and vmap (each vmap_method), its custom call in the lowered and
compiled text and linked in the explorer's models; lowering text and errors vs JAX."""

import ctypes
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

import engine
from engine import ffi
from tests.helpers import assert_close, real_jax

KERNELS = r"""
#include <cstdint>
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

// y = x * scale + shift, elementwise, any shape
static ffi::Error ScaleShiftImpl(float scale, float shift, ffi::Buffer<ffi::F32> x,
                                 ffi::ResultBuffer<ffi::F32> y) {
  for (size_t i = 0; i < x.element_count(); ++i)
    y->typed_data()[i] = x.typed_data()[i] * scale + shift;
  return ffi::Error::Success();
}

XLA_FFI_DEFINE_HANDLER_SYMBOL(ScaleShift, ScaleShiftImpl,
    ffi::Ffi::Bind().Attr<float>("scale").Attr<float>("shift")
        .Arg<ffi::Buffer<ffi::F32>>().Ret<ffi::Buffer<ffi::F32>>());

// out[r] = sum_j x[r, j] * w[j] over every leading index r; w: as long as x's last dim
static ffi::Error RowDotImpl(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> w,
                             ffi::ResultBuffer<ffi::F32> out) {
  auto dims = x.dimensions();
  if (dims.size() == 0) return ffi::Error::InvalidArgument("row_dot: x needs rank >= 1");
  int64_t n = dims.back();
  if (w.element_count() != static_cast<size_t>(n))
    return ffi::Error::InvalidArgument("row_dot: w must match the last dimension of x");
  int64_t rows = n == 0 ? 0 : x.element_count() / n;
  for (int64_t r = 0; r < rows; ++r) {
    float acc = 0.f;
    for (int64_t j = 0; j < n; ++j) acc += x.typed_data()[r * n + j] * w.typed_data()[j];
    out->typed_data()[r] = acc;
  }
  return ffi::Error::Success();
}

XLA_FFI_DEFINE_HANDLER_SYMBOL(RowDot, RowDotImpl,
    ffi::Ffi::Bind().Arg<ffi::Buffer<ffi::F32>>().Arg<ffi::Buffer<ffi::F32>>()
        .Ret<ffi::Buffer<ffi::F32>>());
"""

SCALE_SHIFT = "glassjax_test_scale_shift"
ROW_DOT = "glassjax_test_row_dot"


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    """Build the kernels into a shared library and register them (the registry is
    jaxlib's, one per process: real JAX finds the same targets)."""
    wanted = os.environ.get("CXX")
    cxx = shutil.which(wanted) if wanted else shutil.which("c++") or shutil.which("g++")
    if cxx is None:
        pytest.skip("no C++ compiler (c++/g++ or $CXX) to build the FFI test kernel")
    folder = tmp_path_factory.mktemp("ffi")
    src, lib = folder / "kernels.cc", folder / "libkernels.so"
    src.write_text(KERNELS)
    cmd = [cxx, "-std=c++17", "-O1", "-shared", "-fPIC", "-w", "-I", ffi.include_dir()]
    built = subprocess.run([*cmd, str(src), "-o", str(lib)], capture_output=True, text=True)
    if built.returncode != 0:
        pytest.skip(f"the C++ compiler could not build the FFI kernel: {built.stderr[-800:]}")
    so = ctypes.cdll.LoadLibrary(str(lib))
    ffi.register_ffi_target(SCALE_SHIFT, ffi.pycapsule(so.ScaleShift), platform="cpu")
    ffi.register_ffi_target(ROW_DOT, ffi.pycapsule(so.RowDot), platform="cpu")
    return so


def scale_shift(mod, x, **kw):
    """``mod``: engine or jax (both have .ffi and .ShapeDtypeStruct)."""
    call = mod.ffi.ffi_call(SCALE_SHIFT, mod.ShapeDtypeStruct(x.shape, x.dtype), **kw)
    return call(x, scale=np.float32(2.0), shift=np.float32(0.5))


def row_dot(mod, x, w, vmap_method):
    out = mod.ShapeDtypeStruct(x.shape[:-1], x.dtype)
    return mod.ffi.ffi_call(ROW_DOT, out, vmap_method=vmap_method)(x, w)


def custom_call_lines(text):
    """The module's custom_call lines with SSA names normalized."""
    lines = [ln.strip() for ln in text.splitlines() if "stablehlo.custom_call" in ln]
    return [re.sub(r"%[\w#]+", "%v", ln) for ln in lines]


X = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.0
W = np.array([1.0, 10.0, 100.0], np.float32)
XB = np.arange(24, dtype=np.float32).reshape(4, 2, 3) / 7.0


def test_include_dir_and_pycapsule():
    jax, _ = real_jax()
    assert ffi.include_dir() == jax.ffi.include_dir()
    assert os.path.isfile(os.path.join(ffi.include_dir(), "xla", "ffi", "api", "ffi.h"))
    libc = ctypes.CDLL(None)
    assert type(ffi.pycapsule(libc.malloc)).__name__ == "PyCapsule"
    with pytest.raises(ValueError, match="non-null"):
        ffi.pycapsule(ctypes.c_void_p(0))


def test_eager_and_jit_match_jax(kernels):
    jax, _ = real_jax()
    expected = jax.jit(lambda x: scale_shift(jax, x))(X)
    np.testing.assert_allclose(np.asarray(expected), X * 2 + 0.5)
    for got in (scale_shift(engine, X), engine.jit(lambda x: scale_shift(engine, x))(X)):
        assert_close(got, expected)
        assert got.weak_type == expected.weak_type
    # a tuple of results declared gives a tuple back, a list a list (as JAX)
    two = engine.ffi.ffi_call(SCALE_SHIFT, [engine.ShapeDtypeStruct(X.shape, X.dtype)])
    assert isinstance(two(X, scale=np.float32(1.0), shift=np.float32(0.0)), list)


def test_lowered_custom_call_matches_jax_and_compiled_keeps_it(kernels):
    jax, _ = real_jax()
    lowered = engine.jit(lambda x: scale_shift(engine, x)).lower(X)
    ours = custom_call_lines(lowered.as_text())
    assert ours == custom_call_lines(jax.jit(lambda x: scale_shift(jax, x)).lower(X).as_text())
    assert len(ours) == 1 and f"@{SCALE_SHIFT}(" in ours[0]
    assert f'custom_call_target="{SCALE_SHIFT}"' in lowered.compile().as_text()
    jaxpr = str(engine.make_jaxpr(lambda x: scale_shift(engine, x))(X))
    assert "ffi_call[" in jaxpr and f"target_name={SCALE_SHIFT}" in jaxpr


def test_attribute_types_lower_like_jax():
    """Every kind of keyword argument becomes the same MLIR attribute as in JAX
    (lowering only: the target need not exist)."""
    jax, _ = real_jax()
    kwargs = dict(
        i=3,
        f=1.5,
        b=True,
        s="hi",
        f32=np.float32(2.0),
        u8=np.uint8(7),
        arr=np.arange(3, dtype=np.int32),
        mat=np.ones((2, 2), np.float64),
        d={"a": 1, "b": "x"},
        ty=np.dtype(np.float32),
    )

    def f(mod):
        return lambda x: mod.ffi.ffi_call("no_such_target", mod.ShapeDtypeStruct((2,), x.dtype))(
            x, **kwargs
        )

    x = np.ones(3, np.float32)
    ours = custom_call_lines(engine.jit(f(engine)).lower(x).as_text())
    assert ours == custom_call_lines(jax.jit(f(jax)).lower(x).as_text())


@pytest.mark.parametrize("method", ["sequential", "sequential_unrolled", "expand_dims"])
def test_vmap_methods_match_jax(kernels, method):
    jax, _ = real_jax()
    expected = jax.jit(jax.vmap(lambda x: row_dot(jax, x, W, method)))(XB)
    np.testing.assert_allclose(np.asarray(expected), XB @ W, rtol=1e-6)
    fn = engine.jit(engine.vmap(lambda x: row_dot(engine, x, W, method)))
    assert_close(fn(XB), expected)
    assert_close(engine.vmap(lambda x: row_dot(engine, x, W, method))(XB), expected)  # eager
    ours = fn.lower(XB).as_text()
    theirs = jax.jit(jax.vmap(lambda x: row_dot(jax, x, W, method))).lower(XB).as_text()
    assert custom_call_lines(ours) == custom_call_lines(theirs)
    if method == "sequential":
        assert "stablehlo.while" in ours  # one kernel call per batch element
    if method == "expand_dims":  # one call on the whole batch, w given a unit dimension
        assert "(tensor<4x2x3xf32>, tensor<1x3xf32>) -> tensor<4x2xf32>" in ours


def test_vmap_broadcast_all_and_batched_second_argument(kernels):
    jax, _ = real_jax()
    # broadcast_all hands the kernel w as (4, 3): row_dot rejects it, in both engines
    with pytest.raises(Exception, match="w must match the last dimension") as ours:
        engine.jit(engine.vmap(lambda x: row_dot(engine, x, W, "broadcast_all")))(XB)
    with pytest.raises(Exception, match="w must match the last dimension") as theirs:
        jax.jit(jax.vmap(lambda x: row_dot(jax, x, W, "broadcast_all")))(XB)
    assert type(ours.value).__name__ == type(theirs.value).__name__
    # elementwise kernel: broadcast_all is fine; vmap over axis 1 moves it to the front
    got = engine.vmap(lambda x: scale_shift(engine, x, vmap_method="broadcast_all"), 1, 1)(XB)
    expected = jax.vmap(lambda x: scale_shift(jax, x, vmap_method="broadcast_all"), 1, 1)(XB)
    assert_close(got, expected)
    # both arguments batched, sequentially
    ws = np.stack([W, W * 2, W * 3, W * 4])
    got = engine.vmap(lambda x, w: row_dot(engine, x, w, "sequential"))(XB, ws)
    assert_close(got, jax.vmap(lambda x, w: row_dot(jax, x, w, "sequential"))(XB, ws))


def test_vmap_without_method_and_grad_raise_like_jax(kernels):
    jax, _ = real_jax()
    for mod in (engine, jax):
        with pytest.raises(NotImplementedError, match="vmap is only supported for the ffi_call"):
            mod.vmap(lambda x: scale_shift(mod, x))(XB)
        with pytest.raises(ValueError, match=f"The FFI call to `{SCALE_SHIFT}` cannot be diff"):
            mod.grad(lambda x: scale_shift(mod, x).sum())(X)


def test_side_effect_keeps_an_unused_call(kernels):
    jax, _ = real_jax()
    for effect in (False, True):

        def f(mod, effect=effect):
            return lambda x: (scale_shift(mod, x, has_side_effect=effect), x + 1)[1]

        ours = engine.jit(f(engine)).lower(X)
        theirs = jax.jit(f(jax)).lower(X)
        if effect:  # (JAX drops an unused pure call from the jaxpr already; XLA does here)
            assert custom_call_lines(ours.as_text()) == custom_call_lines(theirs.as_text())
            assert "has_side_effect = true" in ours.as_text()
        kept = f'custom_call_target="{SCALE_SHIFT}"' in ours.compile().as_text()
        assert kept == effect == (f'"{SCALE_SHIFT}"' in theirs.compile().as_text())
        assert_close(ours.compile()(X), X + 1)


def test_layouts_and_aliases_lower_like_jax(kernels):
    jax, _ = real_jax()

    def f(mod):
        def g(x):
            call = mod.ffi.ffi_call(
                SCALE_SHIFT,
                mod.ShapeDtypeStruct(x.shape, x.dtype),
                input_layouts=[(1, 0)],
                output_layouts=(1, 0),
                input_output_aliases={0: 0},
            )
            return call(x, scale=np.float32(3.0), shift=np.float32(1.0))

        return g

    ours = engine.jit(f(engine))
    theirs = jax.jit(f(jax))
    assert custom_call_lines(ours.lower(X).as_text()) == custom_call_lines(
        theirs.lower(X).as_text()
    )
    assert_close(ours(X), theirs(X))
    col_major = engine.jit(
        lambda x: engine.ffi.ffi_call(
            "t", engine.ShapeDtypeStruct(x.shape, x.dtype), input_layouts=[(0, 1)]
        )(x)
    )
    jax_col = jax.jit(
        lambda x: jax.ffi.ffi_call(
            "t", jax.ShapeDtypeStruct(x.shape, x.dtype), input_layouts=[(0, 1)]
        )(x)
    )
    assert custom_call_lines(col_major.lower(X).as_text()) == custom_call_lines(
        jax_col.lower(X).as_text()
    )


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda m: m.ffi.ffi_call("t", m.ShapeDtypeStruct((2, 3), np.float32), vmap_method="x"),
         "vmap_method must be on of the allowed methods"),
        (lambda m: m.ffi.ffi_call("t", [object()]),
         "must have 'shape' and 'dtype' attributes"),
        (lambda m: m.ffi.ffi_call("t", m.ShapeDtypeStruct((2, 3), np.float32),
                                  legacy_backend_config="x"),
         "legacy_backend_config parameter requires"),
        (lambda m: m.ffi.ffi_call("t", m.ShapeDtypeStruct((2, 3), np.float32),
                                  input_layouts=[None, None]),
         "must equal the number of input layouts"),
        (lambda m: m.ffi.ffi_call("t", m.ShapeDtypeStruct((3,), np.float32),
                                  input_output_aliases={0: 0}),
         "different abstract value"),
        (lambda m: m.ffi.ffi_call("t", m.ShapeDtypeStruct((2, 3), np.float32),
                                  input_output_aliases={1: 0}),
         "outside the range"),
    ],
)  # fmt: skip
def test_bad_arguments_raise_like_jax(make, phrase):
    jax, _ = real_jax()
    for mod in (engine, jax):
        with pytest.raises(ValueError, match=phrase):
            make(mod)(X)
    for mod in (engine, jax):
        with pytest.raises(TypeError, match="Non-hashable keyword argument to ffi_call"):
            mod.ffi.ffi_call("t", mod.ShapeDtypeStruct((2, 3), np.float32))(X, bad=[1, 2])


def test_explorer_links_the_custom_call(kernels):
    from visualize.stages import stage_models

    s = stage_models(lambda x: engine.numpy.sin(scale_shift(engine, x)), X)
    (eqn,) = [e for e in s.jaxpr.all_eqns if e.primitive == "ffi_call"]
    (op_id,) = s.source_map.mlir_ops_for_eqn(eqn.id)
    assert s.lowered.lowering_info.ops[op_id].name == "stablehlo.custom_call"
    names = s.source_map.hlo_for_eqn(eqn.id, optimized=True)
    kernels_ = {i.name: i for i in s.hlo_opt.top_level_instructions()}
    linked = [kernels_[n] for n in names if n in kernels_]
    assert [(i.opcode, i.custom_call_target) for i in linked] == [("custom-call", SCALE_SHIFT)]


def test_legacy_api_lowers_like_jax():
    jax, _ = real_jax()

    def f(mod):
        out = mod.ShapeDtypeStruct((2, 3), np.float32)
        call = mod.ffi.ffi_call(
            "legacy_target", out, custom_call_api_version=2, legacy_backend_config="opaque"
        )
        return lambda x: call(x)

    ours = custom_call_lines(engine.jit(f(engine)).lower(X).as_text())
    assert ours == custom_call_lines(jax.jit(f(jax)).lower(X).as_text())
    assert 'backend_config = "opaque"' in ours[0] and "api_version = 2" in ours[0]
    for mod in (engine, jax):
        call = mod.ffi.ffi_call(
            "legacy_target", mod.ShapeDtypeStruct((2, 3), np.float32), custom_call_api_version=2
        )
        with pytest.raises(ValueError, match="requires a custom call API version of at least 4"):
            mod.jit(lambda x, call=call: call(x, attr=1)).lower(X)
