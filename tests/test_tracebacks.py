"""Traceback filtering as JAX does it (issue 12, item 9): errors leaving jit, grad, vmap
and the other entry points show the user's frames, not the engine's; 'off' shows all;
'remove_frames' keeps the complete traceback as the ``__cause__``."""

import os
import traceback

import pytest

import engine
import engine.numpy as jnp
from engine import traceback_util

ENGINE_DIR = os.path.dirname(os.path.abspath(engine.__file__))


@pytest.fixture(autouse=True)
def _restore_mode(monkeypatch):
    # These tests describe a plain Python process: another test in the same worker may
    # have started an IPython shell, under which "auto" means tracebackhide.
    monkeypatch.setattr(traceback_util, "_running_under_ipython", lambda: False)
    old = engine.config.jax_traceback_filtering
    yield
    engine.config.update("jax_traceback_filtering", old)


def _bad(x):
    return jnp.dot(x, jnp.ones(5))  # a shape error found inside the engine


BAD_LINE = _bad.__code__.co_firstlineno + 1

TRANSFORMS = {
    "jit": lambda: engine.jit(_bad)(jnp.ones((3, 4))),
    "grad": lambda: engine.grad(lambda x: _bad(x).sum())(jnp.ones((3, 4))),
    "vmap": lambda: engine.vmap(_bad)(jnp.ones((2, 3, 4))),
    "jit_of_grad": lambda: engine.jit(engine.grad(lambda x: _bad(x).sum()))(jnp.ones((3, 4))),
    "vmap_of_jit": lambda: engine.vmap(engine.jit(_bad))(jnp.ones((2, 3, 4))),
    "make_jaxpr": lambda: engine.make_jaxpr(_bad)(jnp.ones((3, 4))),
    "jvp": lambda: engine.jvp(_bad, (jnp.ones((3, 4)),), (jnp.ones((3, 4)),)),
    "lower": lambda: engine.jit(_bad).lower(jnp.ones((3, 4))),
}


def _catch(fn):
    with pytest.raises(TypeError) as info:
        fn()
    return info.value


def _engine_frames(tb):
    return [f for f in traceback.extract_tb(tb) if f.filename.startswith(ENGINE_DIR + os.sep)]


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_default_hides_engine_frames(name):
    e = _catch(TRANSFORMS[name])
    frames = traceback.extract_tb(e.__traceback__)
    assert len(_engine_frames(e.__traceback__)) <= 2, traceback.format_tb(e.__traceback__)
    # the innermost frame shown is the user's line that went wrong
    assert frames[-1].filename == __file__ and frames[-1].lineno == BAD_LINE, frames
    notes = getattr(e, "__notes__", [])
    assert sum("JAX_TRACEBACK_FILTERING=off" in n for n in notes) == 1, notes
    # the message names the user's line
    assert f"{__file__}:{BAD_LINE}" in str(e) + "".join(notes)


@pytest.mark.parametrize("name", ["jit", "grad", "vmap"])
def test_off_keeps_every_frame(name):
    engine.config.update("jax_traceback_filtering", "off")
    e = _catch(TRANSFORMS[name])
    assert len(_engine_frames(e.__traceback__)) >= 5
    assert not any("JAX_TRACEBACK_FILTERING" in n for n in getattr(e, "__notes__", []))
    assert e.__cause__ is None


@pytest.mark.parametrize("name", ["jit", "grad", "vmap"])
def test_remove_frames_keeps_the_unfiltered_trace_as_cause(name):
    engine.config.update("jax_traceback_filtering", "remove_frames")
    e = _catch(TRANSFORMS[name])
    assert len(_engine_frames(e.__traceback__)) <= 2
    cause = e.__cause__
    assert type(cause).__name__ == "UnfilteredStackTrace"
    assert len(_engine_frames(cause.__traceback__)) >= 5
    assert "original exception, unmodified" in str(cause)
    assert str(e).splitlines()[0] in str(cause)
    printed = "".join(traceback.format_exception(e))
    assert "The above exception was the direct cause" in printed


def test_tracebackhide_marks_engine_frames():
    engine.config.update("jax_traceback_filtering", "tracebackhide")
    e = _catch(TRANSFORMS["jit"])
    tb = e.__traceback__
    marked = []
    while tb is not None:
        in_engine = tb.tb_frame.f_code.co_filename.startswith(ENGINE_DIR + os.sep)
        if in_engine:
            marked.append(tb.tb_frame.f_locals.get("__tracebackhide__", False))
        else:
            assert not tb.tb_frame.f_locals.get("__tracebackhide__", False)
        tb = tb.tb_next
    assert len(marked) >= 5 and all(marked), marked


def test_user_exception_keeps_its_own_line():
    def f(x):
        raise ValueError("mine")

    with pytest.raises(ValueError, match="mine") as info:
        engine.jit(f)(jnp.ones(2))
    frames = traceback.extract_tb(info.value.__traceback__)
    assert frames[-1].name == "f"
    assert len(_engine_frames(info.value.__traceback__)) == 0
    assert not any("raised while running" in n for n in getattr(info.value, "__notes__", []))


def test_engine_error_without_a_line_gets_one():
    def g(x):
        return "not an array"

    with pytest.raises(TypeError, match="which is not a valid JAX type") as info:
        engine.jit(g)(jnp.ones(2))
    notes = "".join(getattr(info.value, "__notes__", []))
    assert f"{__file__}:" in notes, notes


def test_invalid_mode_is_refused():
    with pytest.raises(ValueError, match="jax_traceback_filtering"):
        engine.config.update("jax_traceback_filtering", "sometimes")
    assert engine.config.jax_traceback_filtering in traceback_util._MODES


def test_mode_auto_picks_quiet_outside_ipython(monkeypatch):
    engine.config.update("jax_traceback_filtering", "auto")
    assert traceback_util.mode() == "quiet_remove_frames"
    monkeypatch.setattr(traceback_util, "_running_under_ipython", lambda: True)
    assert traceback_util.mode() == "tracebackhide"


def test_successful_calls_are_unchanged():
    f = engine.jit(lambda x: x * 2)
    assert f(jnp.ones(2)).tolist() == [2.0, 2.0]
    assert engine.grad(lambda x: x * x)(3.0) == 6.0
    assert engine.vmap(lambda x: x + 1)(jnp.arange(3.0)).tolist() == [1.0, 2.0, 3.0]


def test_eager_op_error_hides_the_dispatch_frames():
    e = _catch(lambda: jnp.dot(jnp.ones((3, 4)), jnp.ones(5)))
    assert len(_engine_frames(e.__traceback__)) <= 3, traceback.format_tb(e.__traceback__)
    engine.config.update("jax_traceback_filtering", "off")
    e = _catch(lambda: jnp.dot(jnp.ones((3, 4)), jnp.ones(5)))
    assert len(_engine_frames(e.__traceback__)) >= 6
