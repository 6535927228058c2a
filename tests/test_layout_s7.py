"""``jax.experimental.layout`` against real JAX 0.10.2 on CPU: Layout and Format
(reprs, equality, their errors), jit with Formats (``Layout.AUTO`` and concrete
layouts: the module's ``mhlo.layout_mode``, compiled ``input_formats`` and
``output_formats``), arrays' ``.format``, ``device_put`` with a Format, the layout check
of a compiled call (committed arrays: JAX's ValueError; uncommitted: laid out anew),
and ``with_layout_constraint`` (jaxpr, StableHLO, values, grad and vmap)."""

from __future__ import annotations

import importlib

import jax
import numpy as np

import engine

LIBS = [engine, jax]
SHAPE = (8, 16)


def _layout(lib):
    return importlib.import_module(f"{lib.__name__}.experimental.layout")


def _both(fn):
    outs = []
    for lib in LIBS:
        try:
            outs.append(fn(lib))
        except Exception as e:  # compared: class and message
            outs.append((type(e).__name__, str(e)))
    return outs


def _single(lib):
    return lib.sharding.SingleDeviceSharding(lib.devices()[0])


def test_layout_and_format_reprs():
    def run(lib):
        L = _layout(lib)
        lay = L.Layout(major_to_minor=(1, 0))
        return [
            repr(L.Layout.AUTO),
            repr(lay),
            repr(L.Format(L.Layout.AUTO)),
            repr(L.Format()),
            repr(L.Format(lay, _single(lib))),
            lay == L.Layout((1, 0)),
            lay == L.Layout((0, 1)),
            L.Format(lay, _single(lib)) == L.Format(L.Layout((1, 0)), _single(lib)),
        ]

    e, j = _both(run)
    assert e == j


def test_format_errors():
    def concrete_without_sharding(lib):
        L = _layout(lib)
        return L.Format(L.Layout((1, 0)))

    def bad_layout(lib):
        return _layout(lib).Format("rows")

    for fn in (concrete_without_sharding, bad_layout):
        e, j = _both(fn)
        assert e[0] == j[0]
        # (the class named is each library's own)
        assert e[1].replace("engine.experimental.layout", "jax._src.layout") == j[1]


def _apply(x, y):
    return x[0, :], y[:, 0]


def _init(x, y):
    return x * 2, y * 3


def test_auto_layouts_and_compiled_formats():
    def run(lib):
        L = _layout(lib)
        duck = lib.ShapeDtypeStruct(SHAPE, lib.numpy.float32)
        lowered = (
            lib.jit(
                _apply, in_shardings=L.Format(L.Layout.AUTO), out_shardings=L.Format(L.Layout.AUTO)
            )
            .trace(duck, duck)
            .lower()
        )
        exe = lowered.compile()
        arg_formats, kwarg_formats = exe.input_formats
        init = lib.jit(_init, out_shardings=arg_formats).trace(duck, duck).lower().compile()
        return [
            [ln for ln in lowered.as_text().splitlines() if "func.func" in ln],
            repr(exe.input_formats),
            repr(exe.output_formats),
            kwarg_formats,
            init.output_formats == arg_formats,
        ]

    e, j = _both(run)
    assert e == j


def test_array_formats_and_the_compiled_check():
    def run(lib):
        L = _layout(lib)
        duck = lib.ShapeDtypeStruct(SHAPE, lib.numpy.float32)
        exe = lib.jit(_apply, in_shardings=L.Format(L.Layout.AUTO)).trace(duck, duck)
        exe = exe.lower().compile()
        x = lib.numpy.arange(float(np.prod(SHAPE))).reshape(SHAPE)
        col = lib.device_put(np.asarray(x), L.Format(L.Layout((1, 0)), _single(lib)))
        row = lib.device_put(np.asarray(x), L.Format(L.Layout((0, 1)), _single(lib)))
        out = [repr(x.format), repr(col.format), col.committed, repr(row.format)]
        out.append(np.asarray(col).tolist() == np.asarray(x).tolist())
        out.append([np.asarray(v).tolist() for v in exe(x, row)])
        try:
            exe(x, col)
        except ValueError as err:
            out.append(str(err))
        return out

    e, j = _both(run)
    assert e == j


def _constrained(lib):
    L = _layout(lib)

    def f(x):
        y = L.with_layout_constraint(x.T, L.Layout(major_to_minor=(0, 1)))
        return y * 2

    return f


def test_with_layout_constraint():
    def run(lib):
        f = _constrained(lib)
        x = lib.numpy.arange(6.0).reshape(2, 3)
        xs = lib.numpy.arange(24.0).reshape(4, 2, 3)
        text = lib.jit(f).lower(x).as_text()
        return [
            str(lib.make_jaxpr(f)(x)),
            [ln.strip() for ln in text.splitlines() if "LayoutConstraint" in ln],
            np.asarray(lib.jit(f)(x)).tolist(),
            np.asarray(lib.grad(lambda v: f(v).sum())(x)).tolist(),
            str(lib.make_jaxpr(lib.vmap(f))(xs)),
            np.asarray(lib.jit(lib.vmap(f))(xs)).tolist(),
        ]

    e, j = _both(run)
    assert e == j


def test_with_layout_constraint_rank_error():
    def run(lib):
        L = _layout(lib)
        return L.with_layout_constraint(lib.numpy.ones((2, 3)), L.Layout((0,)))

    e, j = _both(run)
    assert e[0] == j[0] == "ValueError"
    assert e[1] == j[1]


def test_jit_calls_with_formats():
    def run(lib):
        L = _layout(lib)
        s = _single(lib)
        x = lib.numpy.ones((4, 8))
        col = lib.device_put(np.ones((4, 8)), L.Format(L.Layout((1, 0)), s))
        out = []
        auto = lib.jit(lambda a, b: (a[0], b[:, 0]), in_shardings=L.Format(L.Layout.AUTO))
        for args in ((x, col), (x, x), (x, lib.device_put(x, s))):
            try:
                out.append([np.asarray(v).tolist() for v in auto(*args)])
            except ValueError as e:
                out.append(str(e))
        placed = lib.jit(lambda a: a * 2, out_shardings=L.Format(L.Layout((1, 0)), s))(x)
        out += [repr(placed.format), placed.committed, np.asarray(placed + 1).tolist()]
        given = lib.jit(lambda a: a, in_shardings=L.Format(L.Layout((1, 0)), s))
        out += [repr(given(x).format), repr(given(col).format)]
        out.append(repr(L.with_layout_constraint(col, L.Layout((0, 1))).format))
        return out

    e, j = _both(run)
    assert e == j


def test_formats_over_a_mesh():
    def run(lib):
        L = _layout(lib)
        mesh = lib.sharding.Mesh(np.array(lib.devices()[0]).reshape(1, 1), ("x", "y"))
        s = lib.sharding.NamedSharding(mesh, lib.sharding.PartitionSpec("x"))
        a = lib.device_put(lib.numpy.ones((2, 4)), s)
        b = lib.device_put(np.ones((2, 4)), L.Format(L.Layout((1, 0)), s))
        f = lib.jit(lambda x: x * 2, in_shardings=L.Format(L.Layout.AUTO, s))
        c = f.trace(lib.ShapeDtypeStruct((2, 4), lib.numpy.float32)).lower().compile()
        return [repr(a.format), repr(b.format), b.committed, repr(c.input_formats)]

    e, j = _both(run)
    assert e == j


def test_single_device_shardings_annotate_the_empty_mesh():
    def run(lib):
        s = _single(lib)
        x = lib.numpy.ones((2, 3))
        f = lib.jit(lambda a, b: (a * 2, b * 3), out_shardings=(s, s))
        g = lib.jit(lambda a, b: (a * 2, b * 3), in_shardings=(s, None))
        out = []
        for fn in (f, g):
            text = fn.lower(x, x).as_text()
            out.append([ln.strip() for ln in text.splitlines() if "sdy" in ln or "func.func" in ln])
            r = fn(x, x)
            out.append([(repr(v.sharding), v.committed, np.asarray(v).tolist()) for v in r])
        return out

    e, j = _both(run)
    assert e == j
