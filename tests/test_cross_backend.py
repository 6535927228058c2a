"""The cross-backend view (issue 13 item 6): one column per backend present, checked
against real JAX compiling the same function for the same backend (same jaxlib, same
XLA), and a plain note naming the backends not found."""

import re

import numpy as np
import pytest
from helpers import real_jax

import engine
import engine.numpy as jnp
from engine import runtime
from visualize.cross_backend import cross_backend_html, cross_backend_model


def fn_engine(x, y):
    return jnp.sum(jnp.tanh(x) * y + 1.0, axis=0)


def fn_jax(x, y):
    _, jjnp = real_jax()
    return jjnp.sum(jjnp.tanh(x) * y + 1.0, axis=0)


X = np.linspace(-2.0, 2.0, 64 * 32, dtype=np.float32).reshape(64, 32)
Y = np.cos(X)


def _present(backend):
    try:
        return bool(runtime.devices(backend))
    except RuntimeError:
        return False


def _jax_module(fn, backend, *args):
    from visualize import parse_hlo_module

    jax, _ = real_jax()
    device = jax.devices(backend)[0]  # JAX's way (its jit(backend=) is deprecated)
    compiled = jax.jit(fn).lower(*[jax.device_put(a, device) for a in args]).compile()
    return parse_hlo_module(compiled.as_text()), compiled.cost_analysis()


def _fusion_shapes(module):
    """Each fusion as (name, kind, opcodes computed inside), in printed order."""
    out = []
    for fusion in module.fusions():
        ops = [
            i.opcode
            for comp in module.called_closure(fusion)
            for i in module.computations[comp].instructions
            if i.opcode != "parameter"
        ]
        out.append((fusion.name, fusion.fusion_kind, ops))
    return out


def test_cpu_column_and_the_missing_backends_named():
    m = cross_backend_model(fn_engine, X, Y)
    present = [b for b in ("cpu", "gpu", "tpu") if _present(b)]
    assert m.backends == present
    assert list(m.missing) == [b for b in ("gpu", "tpu") if b not in present]
    if "gpu" in m.missing:  # this machine: CPU only
        message = m.missing_message()
        assert message.startswith("Not found: gpu (") and "tpu (" in message
        assert "not available" in m.missing["gpu"]

    col = m.column("cpu")
    assert col.platform == "cpu" and col.device_count == len(engine.devices("cpu"))
    module, cost = _jax_module(fn_jax, "cpu", X, Y)
    # the same XLA makes the same kernels from the same program
    assert [(f.name, f.kind, f.ops) for f in col.fusions] == _fusion_shapes(module)
    assert col.kernels == [
        i.name
        for i in module.entry
        if i.opcode not in ("parameter", "constant", "tuple", "get-tuple-element", "bitcast")
    ]
    for key in ("flops", "transcendentals", "bytes accessed"):
        assert col.cost[key] == pytest.approx(cost[key]), key
    assert col.cost["transcendentals"] == X.size  # one tanh per element

    # every jaxpr equation is placed in a kernel; the elementwise ones share one fusion
    rows = dict(m.equation_rows())
    assert list(rows) == ["tanh.eqn0", "mul.eqn1", "add.eqn2", "reduce_sum.eqn3"]
    elementwise = {rows[n]["cpu"][0] for n in ("tanh.eqn0", "mul.eqn1", "add.eqn2")}
    assert len(elementwise) == 1 and elementwise <= set(col.fusion_names)
    assert rows["reduce_sum.eqn3"]["cpu"] and not set(rows["reduce_sum.eqn3"]["cpu"]) & elementwise

    page = cross_backend_html(m)
    assert page.count('class="gjcb-col"') == len(present) and 'data-backend="cpu"' in page
    assert ("Not found: gpu" in page) == ("gpu" not in present)
    for name in col.fusion_names:
        assert name in page
    np.testing.assert_allclose(
        np.asarray(engine.jit(fn_engine)(X, Y)), np.sum(np.tanh(X) * Y + 1.0, axis=0), rtol=1e-5
    )


def test_html_escapes_the_function_name_and_hlo():
    def angle(x):
        return x * 2.0

    angle.__name__ = "<b>f&g</b>"
    page = cross_backend_html(cross_backend_model(angle, np.ones(3, np.float32), backends=["cpu"]))
    assert "<b>f&g</b>" not in page and "&lt;b&gt;f&amp;g&lt;/b&gt;" in page
    assert not re.search(r"<pre[^>]*>[^<]*<(?!/pre)", page)  # HLO text has no raw tags


def test_static_arguments_and_only_the_backends_asked_for():
    def power(v, n):
        for _ in range(n):
            v = v * v
        return v

    m = cross_backend_model(power, np.float32(1.5), 3, backends=("cpu",), static_argnums=1)
    assert m.backends == ["cpu"] and m.missing == {}
    assert m.missing_message() == ""
    assert m.column("cpu").hlo_text.count(" multiply(") == 3
    with pytest.raises(KeyError, match="no column for backend 'gpu'"):
        m.column("gpu")


def test_a_jitted_function_keeps_its_statics_and_gets_no_extra_program():
    def power(v, n):
        for _ in range(n):
            v = v * v
        return v

    jitted = engine.jit(power, static_argnums=1)
    jitted(np.float32(1.5), 3)
    m = cross_backend_model(jitted, np.float32(1.5), 3, backends=("cpu",))
    assert m.signature == "(f32[])" and m.column("cpu").hlo_text.count(" multiply(") == 3
    # the default backend's column is the program the call compiled (the sidebar and the
    # session inspector show no second program for it)
    assert (jitted.trace_count, jitted.compile_count) == (1, 1)
    with pytest.raises(TypeError, match="static arguments from the function's own jit"):
        cross_backend_model(jitted, np.float32(1.5), 3, static_argnums=1)


def test_bad_backend_names_as_jax():
    jax, _ = real_jax()
    with pytest.raises(RuntimeError, match="Unknown backend") as want:
        jax.devices("quantum")
    with pytest.raises(type(want.value), match="Unknown backend 'quantum'"):
        cross_backend_model(fn_engine, X, Y, backends=("cpu", "quantum"))
    with pytest.raises(TypeError, match="backend is named by a string"):
        cross_backend_model(fn_engine, X, Y, backends=(0,))
    with pytest.raises(TypeError, match="expects a function"):
        cross_backend_model(3, X)


def test_widget_builds_and_leaves_a_static_copy():
    pytest.importorskip("ipywidgets")
    import notebook_ext

    v = notebook_ext.cross_backend(fn_engine, X, Y, lazy=False)
    assert v.error is None and v.model is not None
    assert v.model.backends == [b for b in ("cpu", "gpu", "tpu") if _present(b)]
    bundle = v.static_bundle()
    assert 'data-backend="cpu"' in bundle["text/html"]
    assert bundle["text/plain"].startswith("cross-backend view of fn_engine: cpu")
    if not _present("gpu"):
        assert "Not found: gpu" in bundle["text/html"]

    broken = notebook_ext.cross_backend(
        lambda x: x + jnp.ones(4), np.ones(3, np.float32), lazy=False
    )
    assert broken.model is None and broken.error is not None  # shown in the widget, not raised
    assert "add got incompatible shapes" in broken.static_bundle()["text/html"]


@pytest.mark.gpu
@pytest.mark.skipif(not _present("gpu"), reason="no GPU PJRT plugin installed/started")
def test_cpu_and_gpu_side_by_side():
    m = cross_backend_model(fn_engine, X, Y)
    assert m.backends[:2] == ["cpu", "gpu"] and "gpu" not in m.missing
    cpu, gpu = m.column("cpu"), m.column("gpu")
    assert gpu.platform in ("cuda", "rocm") and gpu.fusions
    assert set(cpu.fusion_names) != set(gpu.fusion_names)  # XLA:GPU names kernels its way
    module, cost = _jax_module(fn_jax, "gpu", X, Y)
    assert [(f.name, f.kind, f.ops) for f in gpu.fusions] == _fusion_shapes(module)
    rows = dict(m.equation_rows())
    assert all(rows[n]["gpu"] for n in ("tanh.eqn0", "mul.eqn1", "add.eqn2", "reduce_sum.eqn3"))
    page = cross_backend_html(m)
    assert page.count('class="gjcb-col"') == len(m.columns)
    assert 'data-backend="gpu"' in page
