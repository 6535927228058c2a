"""Primitives defined outside the engine, as JAX's "How JAX primitives work" page defines
them (``jax.extend.core.Primitive``, ``def_impl``, ``def_abstract_eval``,
``mlir.register_lowering`` with ``hlo`` ops, ``ad.primitive_jvps``,
``ad.primitive_transposes``, ``batching.primitive_batchers``), run through the engine's
own jit, jvp, grad and vmap and compared with real JAX: values, jaxpr text, the rules'
calls and arguments, and the errors for missing rules."""

from __future__ import annotations

import importlib

import jax
import numpy as np
import pytest

import engine

# ---------------------------------------------------------------------------- the page's primitive


def _pp(v):
    """A value as the page's ``trace`` helper prints it: tracers of partial evaluation,
    batching and JVP as ``Traced<aval>``, anything else by ``str``."""
    vtype = str(type(v))
    if any(
        k in vtype for k in ("partial_eval.JaxprTracer", "batching.BatchTracer", "ad.JVPTracer")
    ):
        return f"Traced<{v.aval}>"
    return str(v)


def _define(
    api,
    log: list | None = None,
    *,
    impl=True,
    abstract=True,
    lowering=True,
    jvp=True,
    transpose=True,
    batch=True,
):
    """multiply_add as the page defines it, with JAX's or the engine's modules (``api`` is
    ``jax`` or ``engine``); ``log`` records each rule call with str() of its arguments."""
    name = api.__name__
    ext_core = importlib.import_module(f"{name}.extend.core")
    core = importlib.import_module(f"{name}.core")
    lax = importlib.import_module(f"{name}._src.lax.lax")
    hlo = importlib.import_module(f"{name}._src.lib.mlir.dialects").hlo
    mlir = importlib.import_module(f"{name}.interpreters.mlir")
    ad = importlib.import_module(f"{name}.interpreters.ad")
    batching = importlib.import_module(f"{name}.interpreters.batching")
    log = [] if log is None else log

    def note(rule, *args):
        log.append(f"{rule}({', '.join(map(_pp, args))})")

    p = ext_core.Primitive("multiply_add")

    def prim(x, y, z):
        return p.bind(x, y, z)

    if impl:

        @p.def_impl
        def _impl(x, y, z):
            note("impl", x, y, z)
            return np.add(np.multiply(x, y), z)

    if abstract:

        @p.def_abstract_eval
        def _abstract(xs, ys, zs):
            note("abstract_eval", xs, ys, zs)
            assert xs.shape == ys.shape == zs.shape
            return core.ShapedArray(xs.shape, xs.dtype)

    if lowering:

        def _lowering(ctx, xc, yc, zc):
            note("lowering", *ctx.avals_in, "->", *ctx.avals_out)
            return [hlo.AddOp(hlo.MulOp(xc, yc), zc).result]

        mlir.register_lowering(p, _lowering, platform="cpu")

    if jvp:

        def _jvp(arg_values, arg_tangents):
            x, y, z = arg_values
            xt, yt, zt = arg_tangents
            note("jvp", *arg_tangents)
            primal_out = prim(x, y, z)

            def make_zero(tan):
                return lax.full_like(x, 0) if type(tan) is ad.Zero else tan

            out_t = prim(make_zero(xt), y, prim(x, make_zero(yt), make_zero(zt)))
            return primal_out, out_t

        ad.primitive_jvps[p] = _jvp

    if transpose:

        def _transpose(ct, x, y, z):
            note("transpose", ct, x, y, z)
            if not ad.is_undefined_primal(x):
                assert ad.is_undefined_primal(y)
                ct_y = ad.Zero(y.aval) if type(ct) is ad.Zero else prim(x, ct, lax.full_like(x, 0))
                return None, ct_y, ct
            ct_x = ad.Zero(x.aval) if type(ct) is ad.Zero else prim(ct, y, lax.full_like(y, 0))
            return ct_x, None, ct

        ad.primitive_transposes[p] = _transpose

    if batch:

        def _batch(vals, dims):
            note("batch", *dims)
            assert dims[0] == dims[1] == dims[2]
            return prim(*vals), dims[0]

        batching.primitive_batchers[p] = _batch

    def square_add(a, b):
        return prim(a, a, b)

    return p, square_add


def _both(**kw):
    """(engine's square_add, its log), (JAX's square_add, its log)."""
    elog: list = []
    jlog: list = []
    _, ef = _define(engine, elog, **kw)
    _, jf = _define(jax, jlog, **kw)
    return (ef, elog), (jf, jlog)


def _no_abstract(log):
    """The log without shape-rule calls: JAX's first linearize of a primitive also re-runs
    its shape rule on the linear jaxpr's equations (an internal pass, cached afterwards),
    which the engine does not."""
    return [e for e in log if not e.startswith("abstract_eval(")]


def _same(a, b):
    a_leaves, b_leaves = engine.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    assert len(a_leaves) == len(b_leaves)
    for x, y in zip(a_leaves, b_leaves):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-6)
        assert np.asarray(x).dtype == np.asarray(y).dtype


# ---------------------------------------------------------------------------- values


def test_eager_value_and_impl_calls():
    (ef, elog), (jf, jlog) = _both()
    _same(ef(2.0, 10.0), jf(2.0, 10.0))
    assert elog == jlog == ["impl(2.0, 2.0, 10.0)"]


@pytest.mark.parametrize("static", [False, True])
def test_jit_value_and_rule_calls(static):
    (ef, elog), (jf, jlog) = _both()
    kw = {"static_argnums": 1} if static else {}
    _same(engine.jit(ef, **kw)(2.0, 10.0), jax.jit(jf, **kw)(2.0, 10.0))
    assert elog == jlog


def test_jvp_eager_and_jitted():
    (ef, elog), (jf, jlog) = _both()
    _same(engine.jvp(ef, (2.0, 10.0), (1.0, 1.0)), jax.jvp(jf, (2.0, 10.0), (1.0, 1.0)))
    assert elog == jlog

    def ej(p, t):
        return engine.jvp(ef, p, t)

    def jj(p, t):
        return jax.jvp(jf, p, t)

    _same(engine.jit(ej)((2.0, 10.0), (1.0, 1.0)), jax.jit(jj)((2.0, 10.0), (1.0, 1.0)))


def test_grad_eager_runs_the_transpose_rule():
    (ef, elog), (jf, jlog) = _both()
    _same(engine.grad(ef)(2.0, 10.0), jax.grad(jf)(2.0, 10.0))
    assert _no_abstract(elog) == _no_abstract(jlog)
    assert sum(e.startswith("transpose(") for e in elog) == 2


def test_grad_under_jit_and_both_argnums():
    (ef, _), (jf, _) = _both()
    _same(engine.jit(engine.grad(ef))(2.0, 10.0), jax.jit(jax.grad(jf))(2.0, 10.0))
    _same(engine.grad(ef, argnums=(0, 1))(3.0, -1.0), jax.grad(jf, argnums=(0, 1))(3.0, -1.0))
    x = np.arange(3.0, dtype=np.float32)
    _same(engine.grad(lambda a: ef(a, a).sum())(x), jax.grad(lambda a: jf(a, a).sum())(x))


def test_vmap_eager_and_jitted():
    (ef, elog), (jf, jlog) = _both()
    a, b = np.array([2.0, 3.0], np.float32), np.array([10.0, 20.0], np.float32)
    _same(engine.vmap(ef)(a, b), jax.vmap(jf)(a, b))
    assert elog == jlog
    _same(engine.jit(engine.vmap(ef))(a, b), jax.jit(jax.vmap(jf))(a, b))


# ---------------------------------------------------------------------------- jaxprs


def test_jaxpr_text_of_the_page_functions():
    (ef, _), (jf, _) = _both()
    vecs = (np.array([2.0, 3.0], np.float32), np.array([1.0, 1.0], np.float32))
    for transform, args in [
        (lambda api, f: f, (2.0, 10.0)),
        (lambda api, f: api.grad(f), (2.0, 10.0)),
        (lambda api, f: api.vmap(f), vecs),
        (lambda api, f: lambda x, y: api.jvp(f, (x, y), (1.0, 1.0)), (2.0, 10.0)),
        (lambda api, f: api.jit(api.grad(f)), (2.0, 10.0)),
    ]:
        e = str(engine.make_jaxpr(transform(engine, ef))(*args))
        j = str(jax.make_jaxpr(transform(jax, jf))(*args))
        assert e == j


# ---------------------------------------------------------------------------- tables


def test_rule_tables_are_the_engine_rules():
    ad = importlib.import_module("engine.interpreters.ad")
    batching = importlib.import_module("engine.interpreters.batching")
    p, _ = _define(engine)
    assert p in ad.primitive_jvps and p in ad.primitive_transposes
    assert p in batching.primitive_batchers
    # reading gives back the rule as it was given (JAX's convention)
    rule = batching.primitive_batchers[p]
    assert rule.__name__ == "_batch"
    # the engine's own primitives are there too, callable JAX's way
    sin_p = engine.lax.sin_p
    assert sin_p in ad.primitive_jvps and sin_p in batching.primitive_batchers
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    out, d = batching.primitive_batchers[sin_p]((x,), (1,), accuracy=None)
    np.testing.assert_allclose(np.asarray(out), np.sin(x), rtol=1e-6)
    del ad.primitive_jvps[p]
    assert p not in ad.primitive_jvps


# ---------------------------------------------------------------------------- errors


def _error(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - compared below
        return type(e), str(e).splitlines()[0]
    raise AssertionError("no error")


@pytest.mark.parametrize(
    "missing, call",
    [
        ("impl", lambda api, f: f(2.0, 10.0)),
        ("abstract", lambda api, f: api.jit(f)(2.0, 10.0)),
        ("lowering", lambda api, f: api.jit(f)(2.0, 10.0)),
        ("jvp", lambda api, f: api.jvp(f, (2.0, 10.0), (1.0, 1.0))),
        ("transpose", lambda api, f: api.grad(f)(2.0, 10.0)),
        ("batch", lambda api, f: api.vmap(f)(np.ones(2, np.float32), np.ones(2, np.float32))),
    ],
)
def test_missing_rule_errors(missing, call):
    _, ef = _define(engine, **{missing: False})
    _, jf = _define(jax, **{missing: False})
    assert _error(lambda: call(engine, ef)) == _error(lambda: call(jax, jf))


def test_lowering_for_another_platform_only():
    for api in (engine, jax):
        p, f = _define(api, lowering=False)
        hlo = importlib.import_module(f"{api.__name__}._src.lib.mlir.dialects").hlo
        mlir = importlib.import_module(f"{api.__name__}.interpreters.mlir")
        mlir.register_lowering(p, lambda ctx, x, y, z: [hlo.AddOp(x, z).result], platform="tpu")
        with pytest.raises(NotImplementedError, match="not found for platform cpu"):
            api.jit(f)(2.0, 10.0)
        with pytest.raises(NotImplementedError, match="for an unknown platform nonesuch"):
            mlir.register_lowering(p, lambda ctx, *a: list(a), platform="nonesuch")


# ---------------------------------------------------------------------------- export.md


def test_custom_call_lowering_text_and_export_check():
    out = {}
    for api in (engine, jax):
        core = importlib.import_module(f"{api.__name__}._src.core")
        mlir = importlib.import_module(f"{api.__name__}._src.interpreters.mlir")
        export = importlib.import_module(f"{api.__name__}.export")
        new_prim = core.Primitive("new_prim")
        new_prim.def_abstract_eval(lambda x: x)
        assert (
            mlir.register_lowering(
                new_prim,
                lambda ctx, o: (
                    mlir.custom_call("my_new_prim", operands=[o], result_types=[o.type]).results
                ),
            )
            is None
        )
        text = str(api.jit(new_prim.bind).lower(1.0).compiler_ir())
        err = _error(lambda: export.export(api.jit(new_prim.bind))(1.0))
        exp = export.export(
            api.jit(new_prim.bind),
            disabled_checks=[export.DisabledSafetyCheck.custom_call("my_new_prim")],
        )(1.0)
        out[api.__name__] = (text, err, str(exp.out_avals))
    assert out["engine"] == out["jax"]


# ---------------------------------------------------------------------------- reprs


def test_reprs_seen_by_rules():
    """What the page's rules print of their arguments: avals as ``~float32[]``, symbolic
    zeros, undefined primals."""
    (ef, elog), (jf, jlog) = _both()
    engine.grad(ef)(2.0, 10.0)
    jax.grad(jf)(2.0, 10.0)
    assert _no_abstract(elog) == _no_abstract(jlog)
    assert any("Zero(~float32[])" in e for e in elog)
    assert any("UndefinedPrimal(~float32[])" in e for e in elog)
    assert str(engine.core.ShapedArray((2,), np.float32, weak_type=True)) == str(
        jax.core.ShapedArray((2,), np.float32, weak_type=True)
    )


# ---------------------------------------------------------------------------- lowering cache


def _counted(api, **register_kw):
    """A primitive whose lowering counts its calls; ``f`` binds it twice on the same types
    and once on those of its third argument."""
    core = importlib.import_module(f"{api.__name__}._src.core")
    mlir = importlib.import_module(f"{api.__name__}.interpreters.mlir")
    hlo = importlib.import_module(f"{api.__name__}._src.lib.mlir.dialects").hlo
    p = core.Primitive("twice_plus")
    p.def_abstract_eval(lambda x, y: core.ShapedArray(x.shape, x.dtype))
    calls = []

    def rule(ctx, x, y):
        calls.append(tuple(str(a) for a in ctx.avals_in))
        return [hlo.AddOp(hlo.AddOp(x, x), y).result]

    mlir.register_lowering(p, rule, **register_kw)

    def f(a, b, c):
        return p.bind(a, b), p.bind(b, a), p.bind(c, c)

    return f, calls


@pytest.mark.parametrize("inline", [True, False])
def test_lowering_rule_runs_once_per_signature(inline):
    args = (np.float32(1.0), np.float32(2.0), np.ones(3, np.float32))
    out = {}
    for api in (engine, jax):
        f, calls = _counted(api, inline=inline)
        text = str(api.jit(f).lower(*args).compiler_ir())
        out[api.__name__] = (calls, text)
    assert out["engine"] == out["jax"]
    assert len(out["engine"][0]) == 2


def test_lowering_info_maps_each_inlined_equation():
    from engine.interpreters import lowering

    f, calls = _counted(engine)
    closed = engine.make_jaxpr(f)(np.float32(1.0), np.float32(2.0), np.float32(3.0))
    _, _, info = lowering.lower_jaxpr_with_info(closed)
    assert len(calls) == 1
    for i in range(3):
        assert [op.name for op in info.ops_of((i,))] == ["stablehlo.add", "stablehlo.add"]


# ---------------------------------------------------------------------------- inside other transforms


def _program_outputs(api):
    """What a program using the page's primitive inside scan, cond, checkpoint,
    linearize and vjp prints (values, jaxprs, StableHLO)."""
    p, f = _define(api)
    lax = api.lax
    x = np.float32(2.0)
    xs = np.arange(3.0, dtype=np.float32)

    def body(c, a):
        return f(c, a), p.bind(a, c, c)

    def scan(c, xs):
        return lax.scan(body, c, xs)

    def g(c):
        return f(c, c)

    return [
        str(api.make_jaxpr(scan)(x, xs)),
        str(api.jit(scan)(x, xs)),
        str(api.grad(lambda c, xs: scan(c, xs)[0])(x, xs)),
        str(api.jit(lambda b, c: lax.cond(b, lambda: g(c), lambda: c))(True, x)),
        str(api.grad(api.checkpoint(g))(x)),
        str(api.make_jaxpr(api.grad(api.checkpoint(g)))(x)),
        str(api.linearize(g, x)[1](np.float32(1.0))),
        str(api.vjp(g, x)[1](np.float32(1.0))),
        str(api.make_jaxpr(lambda c: api.jvp(g, (c,), (c,)))(x)),
        api.jit(api.vmap(g)).lower(xs).as_text(),
    ]


def test_inside_scan_cond_checkpoint_linearize_vjp():
    assert _program_outputs(engine) == _program_outputs(jax)


def _with_params(api):
    core = importlib.import_module(f"{api.__name__}._src.core")
    mlir = importlib.import_module(f"{api.__name__}.interpreters.mlir")
    hlo = importlib.import_module(f"{api.__name__}._src.lib.mlir.dialects").hlo
    ad = importlib.import_module(f"{api.__name__}.interpreters.ad")
    p = core.Primitive("scaled_sin")
    p.def_impl(lambda x, *, scale: np.sin(x) * scale)
    p.def_abstract_eval(lambda x, *, scale: core.ShapedArray(x.shape, x.dtype))

    def lowering(ctx, x, *, scale):
        (aval,) = ctx.avals_out
        c = mlir.ir_constant(np.full(aval.shape, scale, aval.dtype))
        return [hlo.MulOp(hlo.SineOp(x), c).result]

    mlir.register_lowering(p, lowering)
    ad.primitive_jvps[p] = lambda primals, tangents, *, scale: (
        p.bind(primals[0], scale=scale),
        tangents[0] * api.numpy.cos(primals[0]) * scale,
    )

    def f(x):
        return p.bind(x, scale=3.0)

    x = np.linspace(0.0, 1.0, 4, dtype=np.float32)
    return [
        str(api.make_jaxpr(f)(x)),
        np.asarray(f(x)),
        np.asarray(api.jit(f)(x)),
        str(api.make_jaxpr(api.grad(lambda x: f(x).sum()))(x)),
        np.asarray(api.grad(lambda x: f(x).sum())(x)),
        api.jit(f).lower(x).as_text(),
    ]


def test_primitive_with_params():
    ours, theirs = _with_params(engine), _with_params(jax)
    for a, b in zip(ours, theirs):
        if isinstance(a, str):
            assert a == b
        else:
            np.testing.assert_allclose(a, b, rtol=1e-6)


def test_events_name_the_users_rules():
    """The engine's step events (what the notebook steppers replay) name the rules the
    user registered, JAX's convention adapters aside."""
    from engine import events

    _, f = _define(engine)
    with events.listen([events.RuleStarted]) as rec:
        engine.vmap(f)(np.ones(2, np.float32), np.ones(2, np.float32))
        engine.jvp(f, (2.0, 1.0), (1.0, 1.0))
    impls = {(e.rule, e.rule_impl) for e in rec.of(events.RuleStarted) if e.rule is not None}
    assert (
        "batch",
        f"{__name__}:_define.<locals>._batch",
    ) in impls
    assert ("jvp", f"{__name__}:_define.<locals>._jvp") in impls


def test_lower_fun_rule():
    """``mlir.lower_fun``: a lowering written with the library's own ops."""
    out = {}
    x = np.linspace(-1, 1, 3, dtype=np.float32)
    for api in (engine, jax):
        core = importlib.import_module(f"{api.__name__}._src.core")
        mlir = importlib.import_module(f"{api.__name__}.interpreters.mlir")
        p = core.Primitive("softplus_like")
        p.def_abstract_eval(lambda x: core.ShapedArray(x.shape, x.dtype))
        softplus = lambda x, api=api: api.numpy.log1p(api.numpy.exp(x))  # noqa: E731
        mlir.register_lowering(p, mlir.lower_fun(softplus, multiple_results=False))

        def f(x, p=p):
            return p.bind(x) * 2

        out[api.__name__] = (np.asarray(api.jit(f)(x)), api.jit(f).lower(x).as_text())
    np.testing.assert_allclose(out["engine"][0], out["jax"][0], rtol=1e-6)
    assert out["engine"][1] == out["jax"][1]
