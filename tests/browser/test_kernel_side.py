"""The kernel side of the lab extension, without a browser: the inspector's comm
protocol, `%load_ext notebook_ext`'s display hooks and the stages bundle."""

import html
import json

import pytest

import engine
import engine.numpy as enp
import notebook_ext
from notebook_ext import inspector
from tests.helpers import real_jax


def square_sum(x):
    return enp.sum(x * x)


def oracle_jaxpr(x):
    jax, jnp = real_jax()
    return str(jax.make_jaxpr(lambda x: jnp.sum(x * x))(jnp.asarray(x)))


@pytest.fixture
def jitted():
    def square_sum(x):  # a new function per test: jit caches per function, as JAX does
        return enp.sum(x * x)

    f = engine.jit(square_sum)
    x = enp.arange(3.0)
    f(x)
    f(x)
    return f, x


class FakeComm:
    def __init__(self):
        self.sent, self.msg_cb, self.close_cb = [], None, None

    def on_msg(self, cb):
        self.msg_cb = cb

    def on_close(self, cb):
        self.close_cb = cb

    def send(self, data):
        self.sent.append(json.loads(json.dumps(data)))  # what crosses the wire is JSON


def test_list_and_detail_through_the_comm(jitted):
    f, x = jitted
    comm, insp = FakeComm(), inspector.Inspector()
    insp.on_open(comm, {"content": {"data": {"request": "list", "rid": "1"}}})
    (reply,) = comm.sent
    assert reply["kind"] == "list" and reply["rid"] == "1"
    (info,) = [e for e in reply["functions"] if e["key"] == inspector._key(f)]
    assert info["name"] == "square_sum"
    assert (info["trace_count"], info["compile_count"], info["cache_hits"]) == (1, 1, 1)
    assert info["compile_seconds"] > 0 and info["programs"] == 1
    # the engine's own jitted helpers (engine.random) are not listed
    engine.random.normal(engine.random.PRNGKey(0), (2,))
    names = [e["name"] for e in inspector.list_functions()]
    assert not [n for n in names if n.startswith("_")], names

    comm.msg_cb({"content": {"data": {"request": "detail", "key": info["key"], "rid": "2"}}})
    detail = comm.sent[-1]
    assert detail["kind"] == "detail" and detail["rid"] == "2" and detail["name"] == "square_sum"
    (prog,) = detail["programs"]
    assert prog["signature"] == "(f32[3])"
    assert prog["jaxpr"] == oracle_jaxpr(x)
    assert prog["hlo"].startswith("HloModule jit_square_sum")
    assert prog["device"]


def test_bad_requests_answer_errors():
    comm = FakeComm()
    inspector.Inspector().on_open(comm, {"content": {"data": {"request": "nope", "rid": "7"}}})
    assert comm.sent == [{"kind": "error", "error": "unknown request 'nope'", "rid": "7"}]
    assert inspector.answer({"request": "detail", "key": "f-none"})["programs"] == []


def test_push_sends_only_changes(jitted):
    f, x = jitted
    comm, insp = FakeComm(), inspector.Inspector()
    insp.on_open(comm, {"content": {"data": {"request": "list", "rid": "1"}}})
    insp.push()
    assert len(comm.sent) == 1  # nothing changed since the reply
    f(x)
    insp.push()
    assert comm.sent[-1]["kind"] == "list" and "rid" not in comm.sent[-1]
    hits = [e["cache_hits"] for e in comm.sent[-1]["functions"] if e["key"] == inspector._key(f)]
    assert hits == [2]
    comm.close_cb({})
    f(x)
    insp.push()
    assert len(comm.sent) == 2  # a closed comm hears nothing


def test_wrapped_functions_are_the_users():
    g = engine.jit(engine.grad(square_sum))
    g(enp.arange(2.0))
    assert inspector._key(g) in [e["key"] for e in inspector.list_functions()]


def test_stages_bundle_escapes_and_falls_back():
    view = notebook_ext.StagesView("f<x>", [("jaxpr", "a < b & c")])
    bundle = view._repr_mimebundle_()
    assert set(bundle) == {notebook_ext.MIME_TYPE, "text/html", "text/plain"}
    payload = bundle[notebook_ext.MIME_TYPE]
    assert payload["version"] == 1 and payload["stages"] == ["jaxpr"]
    assert payload["html"] == bundle["text/html"]
    assert "a &lt; b &amp; c" in payload["html"] and "f&lt;x&gt;" in payload["html"]
    assert "a < b & c" in bundle["text/plain"]
    json.dumps(bundle)


def test_stages_of_a_function():
    x = enp.arange(3.0)
    view = notebook_ext.stages(square_sum, x)
    names = [n for n, _ in view.sections]
    assert names == ["jaxpr", "StableHLO", "optimized HLO"]
    texts = dict(view.sections)
    assert texts["jaxpr"] == oracle_jaxpr(x)
    assert "stablehlo.multiply" in texts["StableHLO"]
    assert html.escape(texts["jaxpr"]) in view.html


def test_load_ext_display_hooks(jitted):
    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell

    f, x = jitted
    ip = InteractiveShell.instance()
    try:
        notebook_ext.load_ipython_extension(ip)
        data, _ = ip.display_formatter.format(f)
        assert notebook_ext.MIME_TYPE in data and "text/html" in data
        assert html.escape(oracle_jaxpr(x)) in data["text/html"]
        data, _ = ip.display_formatter.format(engine.make_jaxpr(square_sum)(x))
        assert notebook_ext.MIME_TYPE in data
        assert data["text/plain"].endswith(oracle_jaxpr(x))
        notebook_ext.unload_ipython_extension(ip)
        data, _ = ip.display_formatter.format(f)
        assert notebook_ext.MIME_TYPE not in data
    finally:
        notebook_ext.unload_ipython_extension(ip)
        InteractiveShell.clear_instance()
