"""``jax.experimental.checkify`` against real JAX 0.10.2: the same programs' error
messages (``err.get()``, ``err.throw()``'s class and text), output values and, where
stable, ``make_jaxpr`` text of the checkified function.

Error codes are global counters in both libraries (each check takes the next one), and
they appear in jaxprs as literals; before a jaxpr is compared both counters restart at
1, so the same program numbers its checks the same way."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import jax
import jax._src.checkify as jax_checkify_src
import jax.numpy as jjnp
import numpy as np
import pytest
from jax.experimental import checkify as jck

import engine
import engine.experimental.checkify_core as eng_checkify_src
import engine.numpy as ejnp
from engine.experimental import checkify as eck


class Lib:
    def __init__(self, jax_mod: Any, jnp: Any, ck: Any, src: Any) -> None:
        self.jax, self.jnp, self.ck, self.lax, self._src = jax_mod, jnp, ck, jax_mod.lax, src

    def reset_codes(self) -> None:
        self._src.next_code = itertools.count(1).__next__


ENG = Lib(engine, ejnp, eck, eng_checkify_src)
JAX = Lib(jax, jjnp, jck, jax_checkify_src)


def both(fn: Callable[[Lib], Any]) -> tuple[Any, Any]:
    return fn(ENG), fn(JAX)


def outcome(fn: Callable[[], Any]) -> Any:
    """fn's result, or (exception class name, message) if it raised."""
    try:
        return ("ok", fn())
    except Exception as e:  # noqa: BLE001 - the exception is what is compared
        return (type(e).__name__, str(e).strip())


def run_checked(L: Lib, f_of: Callable[[Lib], Callable], args_of: Callable[[Lib], tuple], **kw):
    """checkify(f)(*args): (err.get(), output leaves as NumPy, what err.throw() raises)."""
    err, out = L.ck.checkify(f_of(L), **kw)(*args_of(L))
    leaves = [np.asarray(x) for x in L.jax.tree_util.tree_leaves(out)]
    return err.get(), leaves, outcome(err.throw)


def assert_same(ours: Any, theirs: Any) -> None:
    msg_o, leaves_o, thrown_o = ours
    msg_t, leaves_t, thrown_t = theirs
    assert msg_o == msg_t
    assert thrown_o == thrown_t, (thrown_o, thrown_t)
    assert len(leaves_o) == len(leaves_t)
    for a, b in zip(leaves_o, leaves_t):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def jaxpr_text(L: Lib, f_of: Callable[[Lib], Callable], args_of: Callable[[Lib], tuple], **kw):
    L.reset_codes()
    return str(L.jax.make_jaxpr(L.ck.checkify(f_of(L), **kw))(*args_of(L)))


# ---------------------------------------------------------------------------- programs


def _index_user(L):
    def f(x, i):
        L.ck.check(i >= 0, "index needs to be non-negative, got {i}", i=i)
        return L.jnp.sin(x[i])

    return f


def _x5_i(i):
    return lambda L: (L.jnp.ones((5,)), L.jnp.int32(i))


def _nan_and_div(L):
    def f(x, y):
        return L.jnp.log(x) / y

    return f


def _fmt_positional(L):
    def f(x):
        L.ck.check(x > 0, "{} and {} must be positive!", x, 2 * x)
        return L.jnp.log(x)

    return f


def _gather(L):
    def f(x, idx):
        return x[idx]

    return f


def _scatter(L):
    def f(x, idx):
        return x.at[idx].set(7.0)

    return f


def _dus(L):
    def f(x, i):
        return L.lax.dynamic_update_slice(x, L.jnp.ones((2,)), (i,))

    return f


def _grad_mul(L):
    def f(x):
        return x / (1 + L.jnp.sqrt(x))

    return L.jax.grad(f)


def _cond(L):
    def f(p, x):
        def yes(x):
            L.ck.check(x < 10, "too big: {}", x)
            return L.jnp.sin(x)

        def no(x):
            return L.jnp.log(x)

        return L.lax.cond(p, yes, no, x)

    return f


def _scan(L):
    def f(xs):
        def body(c, x):
            L.ck.check(x > 0, "x must be positive, got {}", x)
            return c + x, L.jnp.log(x)

        return L.lax.scan(body, 0.0, xs)

    return f


def _while(L):
    def f(n):
        def cond(c):
            L.ck.check(c[0] < 100, "runaway counter {}", c[0])
            return c[0] < n

        def body(c):
            i, acc = c
            return i + 1, acc + L.jnp.sqrt(acc - 2.0)

        return L.lax.while_loop(cond, body, (0, 3.0))

    return f


def _jit_inside(L):
    # (named so no variable of the printed jaxpr is named as it: the engine's printer
    # does not skip such names as JAX's does)
    @L.jax.jit
    def jitted_inner(x, i):
        L.ck.check(x[0] > 0, "first must be positive")
        return x[i]

    return lambda x, i: jitted_inner(x, i) * 2


def _remat(L):
    @L.jax.checkpoint
    def g(x):
        L.ck.check(L.jnp.all(x > 0), "all positive")
        return L.jnp.sin(x)

    return g


def _custom_jvp(L):
    @L.jax.custom_jvp
    def g(x):
        L.ck.check(x > 0, "custom_jvp input {} must be positive", x)
        return L.jnp.sin(x)

    @g.defjvp
    def g_jvp(p, t):
        return g(p[0]), 2.0 * t[0]

    return g


def _custom_vjp_grad(L):
    @L.jax.custom_vjp
    def g(x):
        return x

    def fwd(x):
        return g(x), None

    def bwd(_, ct):
        L.ck.check(ct < 0, "gradient needs to be negative!")
        return (ct,)

    g.defvjp(fwd, bwd)
    return L.jax.grad(g)


def _custom_vjp_primal(L):
    @L.jax.custom_vjp
    def g(x):
        L.ck.check(x > 0, "primal {} must be positive", x)
        return L.jnp.exp(x)

    g.defvjp(lambda x: (g(x), x), lambda x, ct: (ct * x,))
    return g


def _switch(L):
    def f(i, x):
        branches = [
            lambda x: L.jnp.log(x),
            lambda x: (L.ck.check(x < 0, "branch 1 needs a negative, got {}", x), x)[1],
            lambda x: x[None][L.jnp.int32(3)],  # an index check: constants in a branch
        ]
        return L.lax.switch(i, branches, x)

    return f


def _scan_index(L):
    def f(x, idx):
        def body(c, i):
            return c + x[i], x[i] * 2

        return L.lax.scan(body, 0.0, idx)

    return f


def _while_index(L):
    def f(x, n):
        def cond(c):
            return (c[0] < 4) & (x[c[0]] < n)

        def body(c):
            return c[0] + 1, c[1] + x[c[0] + 1]

        return L.lax.while_loop(cond, body, (0, 0.0))

    return f


_F32 = lambda *v: lambda L: tuple(L.jnp.float32(x) for x in v)  # noqa: E731

CASES = {
    # name: (program, arguments, checkify kwargs)
    "user_ok": (_index_user, _x5_i(2), {}),
    "user_fails": (_index_user, _x5_i(-2), {}),
    "user_all_checks_oob": (_index_user, _x5_i(7), {"errors": jck.all_checks}),
    "fmt_positional": (_fmt_positional, _F32(-1.5), {}),
    "nan": (_nan_and_div, _F32(-1.0, 2.0), {"errors": jck.nan_checks}),
    "div": (_nan_and_div, _F32(1.0, 0.0), {"errors": jck.div_checks}),
    "float_checks_first_wins": (_nan_and_div, _F32(-1.0, 0.0), {"errors": jck.float_checks}),
    "float_ok": (_nan_and_div, _F32(2.0, 3.0), {"errors": jck.float_checks}),
    "gather_oob": (
        _gather,
        lambda L: (L.jnp.arange(6.0).reshape(2, 3), L.jnp.array([[0, 1], [1, 5]])),
        {"errors": jck.index_checks},
    ),
    "scatter_oob": (
        _scatter,
        lambda L: (L.jnp.zeros((4,)), L.jnp.array([1, 9, 2])),
        {"errors": jck.index_checks},
    ),
    "dus_oob": (
        _dus,
        lambda L: (L.jnp.zeros((4,)), L.jnp.int32(3)),
        {"errors": jck.index_checks},
    ),
    "grad_nan_mul": (_grad_mul, _F32(0.0), {"errors": jck.nan_checks}),
    "cond_true_fails": (_cond, lambda L: (True, L.jnp.float32(12.0)), {"errors": jck.all_checks}),
    "cond_false_nan": (_cond, lambda L: (False, L.jnp.float32(-1.0)), {"errors": jck.all_checks}),
    "switch_nan": (
        _switch,
        lambda L: (L.jnp.int32(0), L.jnp.float32(-1.0)),
        {"errors": jck.all_checks},
    ),
    "switch_user": (
        _switch,
        lambda L: (L.jnp.int32(1), L.jnp.float32(1.0)),
        {"errors": jck.all_checks},
    ),
    "switch_oob": (
        _switch,
        lambda L: (L.jnp.int32(2), L.jnp.float32(1.0)),
        {"errors": jck.all_checks},
    ),
    "scan_index_oob": (
        _scan_index,
        lambda L: (L.jnp.arange(4.0), L.jnp.array([0, 3, 5, 1])),
        {"errors": jck.all_checks},
    ),
    "while_index_oob": (
        _while_index,
        lambda L: (L.jnp.arange(4.0), L.jnp.float32(9.0)),
        {"errors": jck.all_checks},
    ),
    "while_index_ok": (
        _while_index,
        lambda L: (L.jnp.arange(4.0), L.jnp.float32(2.0)),
        {"errors": jck.all_checks},
    ),
    "cond_ok": (_cond, lambda L: (True, L.jnp.float32(1.0)), {"errors": jck.all_checks}),
    "scan_fails": (
        _scan,
        lambda L: (L.jnp.array([1.0, 2.0, -3.0, -4.0]),),
        {"errors": jck.all_checks},
    ),
    "scan_ok": (_scan, lambda L: (L.jnp.array([1.0, 2.0]),), {}),
    "while_nan": (_while, lambda L: (L.jnp.int32(4),), {"errors": jck.all_checks}),
    "while_user": (_while, lambda L: (L.jnp.int32(200),), {}),
    "jit_inside": (_jit_inside, _x5_i(9), {"errors": jck.all_checks}),
    "jit_inside_user": (
        _jit_inside,
        lambda L: (-L.jnp.ones((5,)), L.jnp.int32(1)),
        {"errors": jck.all_checks},
    ),
    "remat": (_remat, lambda L: (L.jnp.array([1.0, -1.0]),), {}),
    "custom_jvp": (_custom_jvp, _F32(-1.0), {"errors": jck.all_checks}),
    "custom_vjp_bwd": (_custom_vjp_grad, _F32(1.0), {}),
    "custom_vjp_bwd_ok": (_custom_vjp_grad, _F32(-1.0), {}),
    "custom_vjp_primal": (_custom_vjp_primal, _F32(-2.0), {"errors": jck.all_checks}),
}


def _kw(L: Lib, kw: dict) -> dict:
    """The checkify kwargs with the library's own error sets."""
    if "errors" not in kw:
        return {}
    names = {
        id(getattr(jck, n)): n
        for n in ("user_checks", "nan_checks", "index_checks", "div_checks")
        + ("float_checks", "automatic_checks", "all_checks")
    }
    return {"errors": getattr(L.ck, names[id(kw["errors"])])}


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_messages(name):
    prog, args, kw = CASES[name]
    ours, theirs = both(lambda L: run_checked(L, prog, args, **_kw(L, kw)))
    assert_same(ours, theirs)


@pytest.mark.parametrize("name", sorted(CASES))
def test_under_jit(name):
    prog, args, kw = CASES[name]

    def run(L):
        err, out = L.jax.jit(L.ck.checkify(prog(L), **_kw(L, kw)))(*args(L))
        return err.get(), [np.asarray(x) for x in L.jax.tree_util.tree_leaves(out)], None

    assert_same(*both(run))


# Every program's checkified jaxpr text is JAX's (the error codes restarted at 1).
JAXPR_CASES = sorted(CASES)


@pytest.mark.parametrize("name", JAXPR_CASES)
def test_jaxpr_text(name):
    prog, args, kw = CASES[name]
    ours, theirs = both(lambda L: jaxpr_text(L, prog, args, **_kw(L, kw)))
    assert ours == theirs


# ---------------------------------------------------------------------------- API behaviour


def test_vmap_of_checkify_batched_error():
    def run(L):
        def f(x, i):
            L.ck.check(i >= 0, "index needs to be non-negative!")
            return x[i]

        checked = L.ck.checkify(f, errors=L.ck.all_checks)
        errs, out = L.jax.vmap(checked)(L.jnp.ones((3, 5)), L.jnp.array([-1, 2, 100]))
        return errs.get(), [np.asarray(out)], outcome(errs.throw)

    assert_same(*both(run))


def test_checkify_of_vmap_single_error():
    def run(L):
        @L.jax.vmap
        def f(x, i):
            L.ck.check(i >= 0, "index needs to be non-negative!")
            return x[i]

        err, out = L.ck.checkify(f, errors=L.ck.all_checks)(
            L.jnp.ones((3, 5)), L.jnp.array([-1, 2, 100])
        )
        return err.get(), [np.asarray(out)], outcome(err.throw)

    assert_same(*both(run))


def test_vmap_of_checkify_jaxpr():
    def run(L):
        def f(x):
            L.ck.check(L.jnp.all(x > 0), "positive, got {}", x)
            return L.jnp.log(x)

        L.reset_codes()
        return str(L.jax.make_jaxpr(L.jax.vmap(L.ck.checkify(f)))(L.jnp.ones((3, 2))))

    ours, theirs = both(run)
    assert ours == theirs


def test_check_eager_raises_and_jit_needs_checkify():
    def run(L):
        def f(x):
            L.ck.check(x > 0, "{x} must be positive", x=x)
            return x

        eager = outcome(lambda: f(L.jnp.float32(-3.0)))
        staged = outcome(lambda: L.jax.jit(f)(L.jnp.float32(-3.0)))
        fine = outcome(lambda: np.asarray(f(L.jnp.float32(3.0))))
        return eager, staged, fine

    (e1, s1, f1), (e2, s2, f2) = both(run)
    assert e1 == e2 and e1[0] == "JaxRuntimeError"
    assert s1[0] == s2[0] == "ValueError"
    assert s1[1].splitlines()[0] == s2[1].splitlines()[0]
    assert f1[0] == f2[0] == "ok"


def test_argument_errors():
    def run(L):
        return [
            outcome(lambda: L.ck.check(L.jnp.array([True, False]), "x")),
            outcome(lambda: L.ck.debug_check(L.jnp.array([True]), "x")),
            outcome(lambda: L.ck.check(True, "{}", 3)),
            outcome(lambda: L.ck.check_error("not an error")),
        ]

    ours, theirs = both(run)
    for a, b in zip(ours, theirs):
        assert a[0] == b[0] == "TypeError"
        assert a[1].split(",")[0] == b[1].split(",")[0]
    assert ours[2] == theirs[2] and ours[3] == theirs[3]


def test_debug_check():
    def run(L):
        def f(x):
            L.ck.debug_check(x != 0, "cannot be zero!")
            return x

        plain = np.asarray(f(L.jnp.int32(0)))
        jitted = np.asarray(L.jax.jit(f)(L.jnp.int32(0)))
        err, _ = L.jax.jit(L.ck.checkify(f))(L.jnp.int32(0))
        return plain, jitted, err.get()

    ours, theirs = both(run)
    assert ours[2] == theirs[2] == "cannot be zero! (`check` failed)"
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_array_equal(ours[1], theirs[1])


def test_check_error_and_recheckify():
    def run(L):
        def f(x):
            L.ck.check(x > 0, "must be positive!")
            return x

        def with_inner_jit(x):
            error, out = L.jax.jit(L.ck.checkify(f))(x)
            L.ck.check_error(error)
            return out

        ok = np.asarray(with_inner_jit(L.jnp.int32(1)))
        raised = outcome(lambda: with_inner_jit(L.jnp.int32(-1)))
        err, _ = L.ck.checkify(with_inner_jit)(L.jnp.int32(-1))
        return ok, raised, err.get(), str(err), str(L.ck.checkify(f)(L.jnp.int32(1))[0])

    ours, theirs = both(run)
    np.testing.assert_array_equal(ours[0], theirs[0])
    assert ours[1:] == theirs[1:]


def test_error_sets():
    for name in (
        "user_checks",
        "nan_checks",
        "index_checks",
        "div_checks",
        "float_checks",
        "automatic_checks",
        "all_checks",
    ):
        ours = sorted(c.__name__ for c in getattr(eck, name))
        theirs = sorted(c.__name__ for c in getattr(jck, name))
        assert ours == theirs, name


def test_error_is_a_pytree_of_the_same_leaves():
    def run(L):
        def f(x, i):
            L.ck.check(i >= 0, "neg {}", i)
            return L.jnp.sin(x[i])

        err, _ = L.ck.checkify(f, errors=L.ck.all_checks)(L.jnp.ones((5,)), L.jnp.int32(1))
        leaves = L.jax.tree_util.tree_leaves(err)
        return [(np.asarray(x).dtype, np.shape(x)) for x in leaves]

    ours, theirs = both(run)
    assert ours == theirs


def test_pmap_of_checkify_one_device():
    def run(L):
        def f(x):
            L.ck.check(L.jnp.all(x > 0), "positive!")
            return x * 2

        err, out = L.jax.pmap(L.ck.checkify(f))(-L.jnp.ones((1, 3)))
        return err.get(), [np.asarray(out)], outcome(err.throw)

    assert_same(*both(run))


@pytest.mark.parametrize("prog", [_custom_jvp, _custom_vjp_primal])
@pytest.mark.parametrize("x", [-1.0, 0.5])
def test_grad_of_checkified_custom_rules(prog, x):
    """Differentiated, a custom rule's own jvp/fwd runs and the error flows through it;
    the rule's call of the function itself runs its check eagerly (JAX raises there)."""

    def run(L):
        def loss(x):
            err, out = L.ck.checkify(prog(L), errors=L.ck.all_checks)(x)
            return out, err

        def go():
            g, err = L.jax.grad(loss, has_aux=True)(L.jnp.float32(x))
            return err.get(), float(g)

        return outcome(go)

    ours, theirs = both(run)
    assert ours == theirs


def test_vmap_of_checkified_scan_and_cond():
    def run(L):
        def f(p, xs):
            ys = _scan(L)(xs)[1]
            return _cond(L)(p, ys.sum())

        checked = L.ck.checkify(f, errors=L.ck.all_checks)
        xs = L.jnp.array([[1.0, 2.0], [1.0, -2.0], [20.0, 30.0], [-1.0, 0.5]])
        p = L.jnp.array([True, False, True, False])
        errs, out = L.jax.vmap(checked)(p, xs)
        return errs.get(), [np.asarray(out)], outcome(errs.throw)

    assert_same(*both(run))


def test_vmap_of_checkified_switch_batched_index():
    """A batched index runs every branch (constants of a branch included) and selects."""

    def run(L):
        checked = L.ck.checkify(_switch(L), errors=L.ck.all_checks)
        i = L.jnp.array([0, 1, 2, 1, 0])
        x = L.jnp.array([-1.0, 1.0, 1.0, -1.0, 2.0])
        errs, out = L.jax.vmap(checked)(i, x)
        g = L.jax.grad(lambda x: L.jnp.sum(L.jax.vmap(checked)(i, x)[1]))(x + 3.0)
        return errs.get(), [np.asarray(out), np.asarray(g)], outcome(errs.throw)

    assert_same(*both(run))


def test_vmap_and_grad_of_checkified_scan_with_index_checks():
    def run(L):
        checked = L.ck.checkify(_scan_index(L), errors=L.ck.all_checks)
        x = L.jnp.arange(12.0).reshape(3, 4)
        idx = L.jnp.array([[0, 1], [3, 4], [2, 2]])
        errs, out = L.jax.vmap(checked)(x, idx)
        g = L.jax.grad(lambda x: checked(x, idx[0])[1][0])(x[0])
        return errs.get(), [np.asarray(o) for o in out] + [np.asarray(g)], outcome(errs.throw)

    assert_same(*both(run))


def test_checkify_of_vmap_of_while_batched_predicate():
    def run(L):
        def f(n):
            return L.lax.while_loop(lambda c: c < n, lambda c: c + 1, 0)

        return outcome(lambda: L.ck.checkify(L.jax.vmap(f))(L.jnp.array([1, 5, 3])))

    ours, theirs = both(run)
    assert ours == theirs and ours[0] == "ValueError"


def test_check_staged_in_control_flow_needs_checkify():
    """A check in a scan body inside a cond is staged even eagerly: JAX's error."""

    def run(L):
        def f(x):
            def body(c, x):
                L.ck.check(x > 0, "neg")
                return c, x

            return L.lax.cond(x[0] > 0, lambda x: L.lax.scan(body, 0.0, x)[1], lambda x: x, x)

        return [
            outcome(lambda: L.jax.jit(f)(L.jnp.ones(3))),
            outcome(lambda: f(-L.jnp.ones(3))),
            L.ck.checkify(f)(-L.jnp.ones(3))[0].get(),
            L.ck.checkify(f)(L.jnp.array([1.0, -1.0]))[0].get(),
        ]

    ours, theirs = both(run)
    assert ours == theirs and ours[0][0] == "ValueError"


def test_unsafe_xla_runtime_errors_flag():
    """With JAX's flag a staged check is a host callback that raises when it fails (the
    flag is not part of jit's cache key: a function compiled with it keeps it)."""
    flag = "jax_experimental_unsafe_xla_runtime_errors"

    def run(L):
        def f(x):
            L.ck.check(x > 0, "{} must be positive", x)
            return x * 2

        L.jax.config.update(flag, True)
        try:
            ok = float(L.jax.jit(f)(L.jnp.float32(1.0)))
            bad = outcome(lambda: L.jax.block_until_ready(L.jax.jit(f)(L.jnp.float32(-1.0))))
        finally:
            L.jax.config.update(flag, False)
        off = outcome(lambda: L.jax.jit(lambda x: f(x))(L.jnp.float32(-2.0)))
        cached = outcome(lambda: L.jax.block_until_ready(L.jax.jit(f)(L.jnp.float32(-2.0))))
        return ok, bad, off, cached[0]

    (ok_o, bad_o, off_o, cached_o), (ok_t, bad_t, off_t, cached_t) = both(run)
    assert ok_o == ok_t == 2.0
    assert bad_o[0] == bad_t[0] == "JaxRuntimeError"
    assert bad_o[1].splitlines()[0] == bad_t[1].splitlines()[0]
    assert "-1.0 must be positive (`check` failed)" in bad_o[1]
    assert "-1.0 must be positive (`check` failed)" in bad_t[1]
    assert off_o[0] == off_t[0] == "ValueError"
    assert cached_o == cached_t == "JaxRuntimeError"


def test_first_error_wins_across_categories():
    """Two errors of different kinds: err.get() reports the one checked first."""

    def run(L):
        def f(x, i):
            y = L.jnp.log(x)  # nan for x < 0
            L.ck.check(i < 3, "i too big: {}", i)
            return y[i]

        checked = L.ck.checkify(f, errors=L.ck.all_checks)
        return [
            checked(L.jnp.array([-1.0, 1.0, 2.0]), L.jnp.int32(5))[0].get(),
            checked(L.jnp.array([1.0, 1.0, 2.0]), L.jnp.int32(5))[0].get(),
            checked(L.jnp.array([1.0, 1.0, 2.0]), L.jnp.int32(4))[0].get(),
        ]

    ours, theirs = both(run)
    assert ours == theirs


def test_check_without_checkify_under_vmap_and_grad():
    """Eager vmap reduces the mapped error to one; grad checks the primal only."""

    def run(L):
        def f(x):
            L.ck.check(x > 0, "{} must be positive", x)
            return L.jnp.log(x)

        return [
            outcome(lambda: np.asarray(L.jax.vmap(f)(L.jnp.array([1.0, -2.0, -3.0])))),
            outcome(lambda: np.asarray(L.jax.vmap(f)(L.jnp.array([1.0, 2.0])))),
            outcome(lambda: float(L.jax.grad(f)(L.jnp.float32(-1.0)))),
            outcome(lambda: float(L.jax.grad(f)(L.jnp.float32(2.0)))),
        ]

    ours, theirs = both(run)
    for a, b in zip(ours, theirs):
        assert a[0] == b[0]
        if a[0] == "ok":
            np.testing.assert_allclose(a[1], b[1])
        else:
            assert a == b


def test_failed_check_chains_the_checks_location():
    """The raised JaxRuntimeError's cause is the check's exception, with a traceback
    ending at the user's line of the check (where a printed traceback points)."""
    import traceback

    def run(L):
        def f(x):
            L.ck.check(x > 0, "{} must be positive!", x)
            return L.jnp.log(x)

        def g(x):
            return L.jnp.sin(x) / x

        out = []
        for fn, kw, args in (
            (f, {}, (L.jnp.float32(-1.0),)),
            (g, {"errors": L.ck.div_checks}, (L.jnp.float32(0.0),)),
        ):
            err, _ = L.jax.jit(L.ck.checkify(fn, **kw))(*args)
            try:
                err.throw()
            except L.ck.JaxRuntimeError as e:
                cause = e.__cause__
                last = traceback.extract_tb(cause.__traceback__)[-1]
                out.append((type(cause).__name__, last.name, last.lineno, last.line, str(e)))
        return out

    ours, theirs = both(run)
    assert len(ours) == len(theirs) == 2
    # a user check: the same frame (function, source line) and message
    assert ours[0][:2] + ours[0][3:] == theirs[0][:2] + theirs[0][3:]
    assert ours[0][3] == 'L.ck.check(x > 0, "{} must be positive!", x)'
    # an automatic check: the user's line of the division (JAX's last frame is one of
    # its jnp operator wrappers, _operator_truediv)
    assert ours[1][0] == theirs[1][0] == "DivisionByZeroError"
    assert ours[1][4] == theirs[1][4]
    assert (ours[1][1], ours[1][3]) == ("g", "return L.jnp.sin(x) / x")


def test_rule_events_for_steppers():
    """With a listener, each equation's checkify rule is a span (CheckifyRuleStarted /
    CheckifyRuleApplied) naming the rule and the checks it added; the equations it
    records while tracing lie inside it."""
    from engine import events

    def f(x, i):
        eck.check(i >= 0, "neg")
        return ejnp.sin(x[i]) / x[0]

    with events.listen() as rec:
        engine.make_jaxpr(eck.checkify(f, errors=eck.all_checks))(ejnp.ones(3), 1)
    started = rec.of(eng_checkify_src.CheckifyRuleStarted)
    applied = {e.call: e for e in rec.of(eng_checkify_src.CheckifyRuleApplied)}
    by_prim = {(s.primitive, s.rule): applied[s.call].new_checks for s in started}
    assert by_prim[("check", "check_discharge_rule")] == ("FailedCheckError",)
    assert by_prim[("dynamic_slice", "dynamic_slice_error_check")] == ("OOBError",)
    assert by_prim[("sin", "nan_error_check")] == ("NaNError",)
    assert by_prim[("div", "div_error_check")] == ("DivisionByZeroError", "NaNError")
    assert by_prim[("squeeze", "default")] == ()
    sin = next(s for s in started if s.primitive == "sin")
    assert sin.enabled == ("DivisionByZeroError", "FailedCheckError", "NaNError", "OOBError")
    assert sin.source_info.function == "f"
    inside = [e for e in rec.of(events.EqnEmitted) if e.parent == sin.call]
    assert [e.eqn.primitive.name for e in inside] == ["sin", "ne", "reduce_or", "or", "select_n"]
