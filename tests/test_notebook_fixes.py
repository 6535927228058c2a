"""Notebook-face regressions: widget names that survive their submodule's import, and
the pass stepper's unchanged passes."""

import subprocess
import sys


def test_widget_names_survive_submodule_import():
    code = """
import notebook_ext
first = notebook_ext.launcher
import notebook_ext.launcher, notebook_ext.session, notebook_ext.fusion_stepper
from notebook_ext.launcher import launcher
for name in ("launcher", "session", "fusion_stepper", "explore"):
    assert callable(getattr(notebook_ext, name)), name
assert notebook_ext.launcher is launcher is first
assert notebook_ext.session.__module__ == "notebook_ext.session"
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stderr


def test_unknown_attribute_names_the_package():
    import notebook_ext

    try:
        notebook_ext.no_such_widget  # noqa: B018
    except AttributeError as e:
        assert "notebook_ext" in str(e) and "no_such_widget" in str(e)
    else:
        raise AssertionError("expected AttributeError")


def test_pass_stepper_shows_unchanged_passes_before_the_first_change():
    import numpy as np

    import engine as jax
    import engine.numpy as jnp
    from notebook_ext.fusion_stepper import fusion_stepper

    f = jax.jit(lambda x: jnp.sin(x) * 2 + jnp.cos(x))
    s = fusion_stepper(f, np.ones(8, np.float32), lazy=False)
    s.show_unchanged = True
    s.go(0)
    first = s.visible_steps[0]
    assert not first.changed and first.module is not None
    assert s.state()["position"] == 0
    assert "HloModule" in first.text
