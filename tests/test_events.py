"""The engine's event stream (engine.events): what each interpreter announces for jit,
grad, vmap and jvp and their compositions, the pairing of begin/end events by call id,
nested listeners, threads, nothing built when nobody listens, and that the notebook
steppers read the engine only through this public API (no frames, no private names).

Oracles: the jaxprs the engine itself returns for the same programs (the events must
describe exactly the equations that end up in them), real JAX for batch axes and
derivative values, and how the transformations are defined (which tangents are zero,
which operands are batched, which values are known)."""

import ast
import pathlib
import threading

import numpy as np
import pytest

import engine
import engine.numpy as enp
from engine import events
from tests.helpers import assert_close, real_jax

jax, jjnp = real_jax()

X = np.linspace(0.1, 1.0, 4).astype(np.float32)
M = np.arange(12, dtype=np.float32).reshape(3, 4) / 10


def _pairs_are_nested(rec):
    """Every End closes the innermost open span of its thread: the stream nests."""
    stacks = {}
    for ev in rec.events:
        st = stacks.setdefault(ev.thread, [])
        if isinstance(ev, events.Begin):
            assert ev.parent == (st[-1] if st else None)
            st.append(ev.call)
        elif isinstance(ev, events.End):
            assert st and st[-1] == ev.call, (ev, st)
            st.pop()
            assert ev.parent == (st[-1] if st else None)
        else:
            assert ev.parent == (st[-1] if st else None)
    assert all(not st for st in stacks.values())


_PAIRS = {
    events.TraceStarted: events.TraceFinished,
    events.RuleStarted: events.RuleApplied,
    events.TransposeRuleStarted: events.EqnTransposed,
    events.PhaseStarted: events.PhaseFinished,
}


def _check_pairs(rec):
    begins = {e.call: e for e in rec.events if isinstance(e, events.Begin)}
    ends = {e.call: e for e in rec.events if isinstance(e, events.End)}
    assert begins.keys() == ends.keys()
    for call, b in begins.items():
        e = ends[call]
        assert type(e) is _PAIRS[type(b)]
        assert rec.begin_of(call) is b and rec.end_of(call) is e
        assert rec.events.index(b) < rec.events.index(e)
    _pairs_are_nested(rec)


# ---------------------------------------------------------------------------- jit


def test_jit_tracing_emits_each_equation_in_order():
    def f(x):  # a fresh function: nothing cached
        return enp.sum(enp.sin(x) * 2.0)

    with events.listen() as rec:
        lowered = engine.jit(f).lower(X)
    assert lowered is not None
    _check_pairs(rec)
    starts = rec.of(events.TraceStarted)
    top = starts[0]
    assert top.interpreter == "jaxpr" and top.parent is None and top.parent_trace is None
    fin = rec.end_of(top.call)
    assert isinstance(fin, events.TraceFinished) and fin.completed
    ref = engine.make_jaxpr(f)(X)
    assert str(fin.jaxpr) == str(ref)
    eqns = [e for e in rec.of(events.EqnEmitted) if e.trace == top.trace]
    assert [e.primitive for e in eqns] == [e.primitive.name for e in ref.eqns]
    assert [e.eqn for e in eqns] == list(fin.jaxpr.eqns)  # the very equation objects
    for e in eqns:
        assert e.parent == top.call and e.origin == top.call and e.interpreter == "jaxpr"
        assert e.source_info.function == "f" and e.source_info.file == __file__


def test_kinds_filter_by_class_and_name():
    def f(x):
        return enp.cos(x) + 1.0

    with events.listen(kinds=("eqn_emitted",)) as by_name:
        with events.listen(kinds=(events.EqnEmitted,)) as by_cls:
            engine.make_jaxpr(f)(X)
    assert by_name.events == by_cls.events  # the same event objects
    assert [e.primitive for e in by_cls.events] == ["cos", "add"]
    assert all(type(e) is events.EqnEmitted for e in by_cls.events)
    with events.listen(kinds=(events.Begin,)) as begins:
        engine.make_jaxpr(engine.grad(lambda x: enp.sum(f(x))))(X)
    assert begins.events and all(isinstance(e, events.Begin) for e in begins.events)


# ---------------------------------------------------------------------------- grad


def _loss(x):
    y = enp.sin(x)
    return enp.sum(y * x)  # x read twice: its cotangent accumulates


def test_grad_events_jvp_partial_eval_transpose():
    with events.listen() as rec:
        g = engine.make_jaxpr(engine.grad(_loss))(X)
    _check_pairs(rec)
    interps = [e.interpreter for e in rec.of(events.TraceStarted)]
    assert interps[:3] == ["jaxpr", "partial_eval", "jvp"] and "transpose" in interps

    jvp_rules = [e for e in rec.of(events.RuleStarted) if e.interpreter == "jvp"]
    assert [(e.primitive, e.rule, e.zeros) for e in jvp_rules] == [
        ("sin", "jvp", (False,)),
        ("mul", "jvp", (False, False)),
        ("reduce_sum", "jvp", (False,)),
    ]
    for b in jvp_rules:
        end = rec.end_of(b.call)
        assert isinstance(end, events.RuleApplied) and end.zeros == (False,)
        assert [a.str_short() for a in b.in_avals] == ["f32[4]"] * len(b.inputs)

    # partial evaluation: primal work known, tangent work recorded; decisions inside
    # the rule spans, residuals made of known operands
    decisions = rec.of(events.PartialEvalDecision)
    assert {d.primitive for d in decisions if d.known} >= {"sin", "cos"}
    unknown = [d for d in decisions if not d.known]
    assert {d.primitive for d in unknown} >= {"mul", "reduce_sum"}
    for d in decisions:
        b = rec.begin_of(d.parent)
        assert isinstance(b, events.RuleStarted) and b.interpreter == "partial_eval"
        assert b.known == d.in_known and (b.rule is None) == d.known
        assert all(d.in_known[i] for i in d.residual_inputs)
    (res,) = rec.of(events.ResidualsCreated)
    assert len(res.values) == len(res.avals) >= 2
    # every equation of the linear jaxpr was emitted by partial eval, from a rule span
    lin_eqns = [e for e in rec.of(events.EqnEmitted) if e.interpreter == "partial_eval"]
    assert lin_eqns
    for e in lin_eqns:
        origin = rec.begin_of(e.origin)
        assert isinstance(origin, events.RuleStarted) and origin.interpreter == "partial_eval"
        assert origin.rule == "record"

    # transposition: every linear equation transposed once, backwards, in one pass
    (bpass,) = [t for t in rec.of(events.TraceStarted) if t.interpreter == "transpose"]
    transposed = rec.of(events.EqnTransposed)
    assert [t.index for t in transposed] == sorted(range(len(bpass.jaxpr.eqns)), reverse=True)
    assert [t.eqn for t in transposed] == list(reversed(bpass.jaxpr.eqns))
    for t in transposed:
        assert rec.begin_of(t.parent) is bpass
        assert len(t.cts_out) == len(t.eqn.invars)
    writes = rec.of(events.CotangentWritten)
    assert writes[0].eqn is None and writes[0].var is bpass.jaxpr.outvars[0]  # the seed
    acc = [w for w in writes if w.accumulated]
    assert acc, "x is read twice: its cotangent is a sum"
    for w in acc:
        phase = [p for p in rec.of(events.PhaseStarted) if p.phase == "accumulate"]
        assert any(p.info["var"] is w.var for p in phase)
    # the accumulating add_any is emitted inside the accumulate phase
    adds = [
        e
        for e in rec.of(events.EqnEmitted)
        if e.primitive == "add_any" and e.trace == rec.of(events.TraceStarted)[0].trace
    ]
    assert adds and all(
        any(
            isinstance(b, events.PhaseStarted) and b.phase == "accumulate" for b in rec.ancestors(e)
        )
        for e in adds
    )
    # the events describe the jaxpr grad returns
    top = rec.of(events.TraceStarted)[0]
    assert str(rec.end_of(top.call).jaxpr) == str(g)
    assert_close(engine.grad(_loss)(X), jax.grad(lambda x: jjnp.sum(jjnp.sin(x) * x))(X))


def test_zero_tangents_pass_through():
    def f(x, c):
        return enp.sum(enp.sin(x) * enp.cos(c))  # c is not differentiated

    with events.listen(kinds=(events.RuleStarted, events.RuleApplied)) as rec:
        engine.make_jaxpr(lambda x, t: engine.jvp(lambda x: f(x, M[0]), (x,), (t,)))(
            X, np.ones_like(X)
        )
    assert len(rec.of(events.RuleStarted)) == len(rec.of(events.RuleApplied))
    by_prim = {e.primitive: e for e in rec.of(events.RuleStarted) if e.interpreter == "jvp"}
    assert by_prim["cos"].rule is None and by_prim["cos"].zeros == (True,)
    assert rec.end_of(by_prim["cos"].call).zeros == (True,)
    assert by_prim["sin"].rule == "jvp" and by_prim["mul"].zeros == (False, True)
    assert by_prim["cos"].rule_impl is None and ":" in by_prim["sin"].rule_impl


# ---------------------------------------------------------------------------- vmap


def test_vmap_events_batch_dims_against_jax():
    seen = {}

    def g(x, w):
        a = enp.sin(x)
        seen["a"] = a.batch_dim
        return a @ w

    w = M.T.copy()  # (4, 3)
    xs = np.stack([X, X * 2, X * 3])  # (3, 4)
    with events.listen() as rec:
        out = engine.vmap(g, in_axes=(1, None))(xs.T.copy(), w)
    _check_pairs(rec)
    (bt,) = [t for t in rec.of(events.TraceStarted) if t.interpreter == "batching"]
    assert bt.info == {"axis_size": 3, "axis_name": None}
    rules = [e for e in rec.of(events.RuleStarted) if e.interpreter == "batching"]
    assert [(r.primitive, r.rule, r.dims) for r in rules] == [
        ("sin", "batch", (1,)),
        ("dot_general", "batch", (seen["a"], None)),
    ]
    sin_end = rec.end_of(rules[0].call)
    assert sin_end.dims == (seen["a"],)
    assert [a.shape for a in rules[1].in_avals] == [(4, 3), (4, 3)]
    ref = jax.vmap(lambda x, w: jjnp.sin(x) @ w, in_axes=(1, None))(xs.T.copy(), w)
    assert_close(out, ref, rtol=1e-5)
    assert not rec.of(events.EqnEmitted)  # eager: nothing traced


def test_grad_of_vmap_handlers_chain():
    def inner(x):
        return enp.sin(x)

    def f(x):
        return enp.sum(engine.vmap(inner)(x))

    with events.listen() as rec:
        engine.make_jaxpr(engine.grad(f))(X)
    cos = next(e for e in rec.of(events.EqnEmitted) if e.primitive == "cos")
    chain = [(b.interpreter, b.primitive) for b in rec.ancestors(cos, events.RuleStarted)]
    # innermost first: cos bound on the partial-eval trace by sin's JVP rule, which
    # ran for the batching rule's bind of sin
    assert chain == [("partial_eval", "cos"), ("jvp", "sin"), ("batching", "sin")]
    assert cos.source_info.function == "inner"
    bt = next(t for t in rec.of(events.TraceStarted) if t.interpreter == "batching")
    jt = next(t for t in rec.of(events.TraceStarted) if t.interpreter == "jvp")
    assert [t.interpreter for t in rec.trace_chain(bt.trace)][:2] == ["batching", "jvp"]
    assert bt.parent_trace == jt.trace


def test_jvp_of_vmap_and_vmap_of_grad_pair_up():
    def f(x):
        return enp.sum(enp.tanh(x) ** 2)

    with events.listen() as rec:
        engine.make_jaxpr(lambda x: engine.jvp(engine.vmap(f), (x,), (x,)))(M)
        engine.make_jaxpr(engine.vmap(engine.grad(f)))(M)
    _check_pairs(rec)
    interps = {t.interpreter for t in rec.of(events.TraceStarted)}
    assert interps == {"jaxpr", "jvp", "batching", "partial_eval", "transpose"}


def test_scan_rules_nest():
    def body(c, x):
        return c * enp.sin(x), c

    def f(xs):
        c, ys = engine.lax.scan(body, 1.0, xs)
        return c + enp.sum(ys)

    with events.listen() as rec:
        engine.make_jaxpr(engine.grad(f))(X)
    _check_pairs(rec)
    scan_t = [e for e in rec.of(events.EqnTransposed) if e.primitive == "scan"]
    assert len(scan_t) == 1
    inner = [
        e
        for e in rec.of(events.EqnTransposed)
        if any(b is rec.begin_of(scan_t[0].call) for b in rec.ancestors(e))
    ]
    assert inner, "the scan body is transposed inside the scan's transpose rule"


# ---------------------------------------------------------------------------- listeners


def test_nested_listeners_and_errors():
    def f(x):
        return enp.sum(enp.exp(x))

    with events.listen() as outer:
        engine.make_jaxpr(f)(X)
        n = len(outer.events)
        with events.listen(kinds=(events.EqnEmitted,)) as inner:
            engine.make_jaxpr(engine.grad(f))(X)
        engine.make_jaxpr(f)(X)
    assert inner.events and all(type(e) is events.EqnEmitted for e in inner.events)
    middle = [e for e in outer.events[n:] if type(e) is events.EqnEmitted]
    assert inner.events == middle[: len(inner.events)]  # same objects, same order
    assert len(outer.of(events.EqnEmitted)) == len(inner.events) + 2 * 2
    _check_pairs(outer)
    assert events.active == []

    # a rule that raises leaves its span open; the next events nest correctly again
    def bad(x):
        return enp.sin(x) @ enp.ones((7,))

    with events.listen() as rec:
        with pytest.raises((TypeError, ValueError)):
            engine.make_jaxpr(engine.grad(lambda x: enp.sum(bad(x))))(X)
        engine.make_jaxpr(f)(X)
    after = rec.of(events.TraceStarted)[-1]
    assert after.parent is None
    fin = [e for e in rec.of(events.TraceFinished) if e.interpreter == "jaxpr"]
    assert not fin[0].completed and [e.primitive.name for e in fin[0].jaxpr.eqns][:1] == ["sin"]
    assert fin[-1].completed


def test_a_recording_cannot_be_entered_twice():
    rec = events.listen()
    with rec:
        with pytest.raises(RuntimeError):
            rec.__enter__()
    assert events.active == []
    # entered here, exited on another thread: this thread stops delivering to it
    rec = events.listen().__enter__()
    t = threading.Thread(target=rec.__exit__, args=(None, None, None))
    t.start()
    t.join()
    engine.make_jaxpr(lambda x: x + 1.0)(X)
    assert not rec.events and events.active == []


def test_threads_see_only_their_own_events():
    barrier = threading.Barrier(2, timeout=60)
    results, errors = {}, []

    def work(name, fn):
        try:
            with events.listen() as rec:
                barrier.wait()
                for _ in range(5):
                    engine.make_jaxpr(engine.grad(fn))(X)
                barrier.wait()
            results[name] = (threading.get_ident(), rec)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    fns = {
        "sin": lambda x: enp.sum(enp.sin(x)),
        "tanh": lambda x: enp.sum(enp.tanh(x)),
    }
    with events.listen(all_threads=True) as everyone:
        with events.listen() as main_only:
            threads = [threading.Thread(target=work, args=kv) for kv in fns.items()]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    assert not errors, errors
    assert not main_only.events
    for name, (tid, rec) in results.items():
        other = "tanh" if name == "sin" else "sin"
        assert rec.events and all(e.thread == tid for e in rec.events)
        prims = {e.primitive for e in rec.of(events.EqnEmitted)}
        assert name in prims and other not in prims
        _check_pairs(rec)
    threads_seen = {e.thread for e in everyone.events}
    assert threads_seen == {tid for tid, _ in results.values()}
    assert len(everyone.events) == sum(len(r.events) for _, r in results.values())
    assert events.active == []


def test_nothing_is_built_when_nobody_listens(monkeypatch):
    built = []
    orig = events._deliver

    def spy(*a, **k):
        built.append(a)
        return orig(*a, **k)

    monkeypatch.setattr(events, "_deliver", spy)
    per_row = engine.vmap(lambda x: enp.sum(enp.sin(x)))
    engine.make_jaxpr(engine.grad(lambda m: enp.sum(per_row(m))))(M)
    engine.jit(lambda x: x * 2)(X)
    assert built == [] and events.active == []
    # a listener on another thread does not make this one build events
    ready, done = threading.Event(), threading.Event()

    def listener():
        with events.listen():
            ready.set()
            done.wait(60)

    t = threading.Thread(target=listener)
    t.start()
    ready.wait(60)
    try:
        engine.make_jaxpr(engine.grad(lambda x: enp.sum(enp.sin(x))))(X)
    finally:
        done.set()
        t.join()
    assert built == []


def test_event_types_are_documented_dataclasses():
    import dataclasses

    for kind, cls in events.event_types().items():
        assert cls.kind == kind
        assert dataclasses.is_dataclass(cls) and cls.__doc__
    assert {"eqn_lowered", "rule_started", "cotangent_written"} <= set(events.event_types())


# ---------------------------------------------------------------------------- steppers


STEPPERS = pathlib.Path(__file__).resolve().parent.parent / "notebook_ext" / "steppers"
_FRAME_NAMES = {"f_locals", "f_back", "f_code", "f_globals", "_getframe", "currentframe"}


def test_steppers_use_only_the_public_events_api():
    """Renaming an interpreter's local variables (or any private name) cannot break a
    stepper: they never look at frames, never use an underscore name of the engine."""
    files = sorted(STEPPERS.glob("*.py"))
    assert files
    uses_events = False
    for path in files:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            where = f"{path.name}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Attribute):
                assert node.attr not in _FRAME_NAMES, where
                private = node.attr.startswith("_") and not node.attr.endswith("__")
                if private:  # only a stepper's own attributes may be private
                    v = node.value
                    own = isinstance(v, ast.Name) and v.id in ("self", "cls")
                    sup = (
                        isinstance(v, ast.Call)
                        and isinstance(v.func, ast.Name)
                        and v.func.id == "super"
                    )
                    assert own or sup, where
            elif isinstance(node, ast.Name):
                assert node.id not in _FRAME_NAMES, where
            elif isinstance(node, ast.ImportFrom):
                mod = node.module or ""
                if node.level == 0:
                    assert mod.split(".")[0] != "jax", where
                    if mod.startswith("engine"):
                        assert not any(p.startswith("_") for p in mod.split(".")), where
                        assert all(not a.name.startswith("_") for a in node.names), where
                        uses_events |= mod == "engine" and any(
                            a.name == "events" for a in node.names
                        )
                    assert mod not in ("inspect", "sys") or all(
                        a.name not in _FRAME_NAMES and a.name != "stack" for a in node.names
                    ), where
            elif isinstance(node, ast.Import):
                for a in node.names:
                    assert a.name.split(".")[0] not in ("jax", "sys"), where
                    assert not any(p.startswith("_") for p in a.name.split(".")), where
    assert uses_events
    # no linking of events by id(params), no class-level listener lists
    for path in files:
        text = path.read_text()
        assert "id(params" not in text and ".listeners" not in text, path.name
