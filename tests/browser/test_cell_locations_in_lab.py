"""In a real JupyterLab kernel, functions live in ipykernel's temporary files
(``/tmp/ipykernel_NNNN/987618802.py``); the views name the cell instead ("In [2]",
issue 13 item 9): the pass stepper's fusions and Source panes, the checkpoint deck's
"saved (residuals)" lines, and the partitioning view's "source line" column (a
shard_map on 8 CPU devices, when the kernel can have them)."""

import pytest

PRELUDE = """\
import engine
engine.config.update("jax_num_cpu_devices", 8)
%load_ext notebook_ext
import notebook_ext
"""

# the second cell: its prompt reads [2], so its functions are "In [2]"
SETUP = """\
import engine as jax
import engine.numpy as jnp
from engine.ad_checkpoint import checkpoint_name

def f(x):
    y = jnp.sin(x) * x
    return jnp.sum(jnp.tanh(y) + 1.0)

def layers(W1, W2, v):
    h = checkpoint_name(jnp.sin(W1 @ v), "h1")
    return jnp.sum(jnp.cos(W2 @ h))

def body(b):
    return jax.lax.psum(b, "model")

x = jnp.arange(8.0)
"""

PASS_STEPPER = """\
s = notebook_ext.fusion_stepper(f, x, lazy=False)
s.go(s.find("fusion")[0])
s"""

CHECKPOINT = """\
layered = jax.checkpoint(layers, policy=jax.checkpoint_policies.dots_saveable)
c = notebook_ext.grad_stepper(layered, jnp.ones((4, 3)), jnp.ones((2, 4)), jnp.ones(3),
                              argnums=(0, 1, 2))
k = next(i for i, st in enumerate(c.model.stage_steps["partial_eval"]) if st.remat is not None)
c.select("partial_eval").go(k)
c"""

PARTITIONING = """\
from engine.sharding import AxisType, NamedSharding, PartitionSpec as P
from visualize.partitioning import partitioning
if len(jax.devices()) < 8:
    print(f"SKIP: the kernel has {len(jax.devices())} devices, not 8")
else:
    mesh = jax.make_mesh((4, 2), ("data", "model"), axis_types=(AxisType.Auto,) * 2)
    xs = jax.device_put(jnp.arange(32.0).reshape(8, 4), NamedSharding(mesh, P("data", "model")))
    g = jax.shard_map(body, mesh=mesh, in_specs=P("data", "model"), out_specs=P("data"))
    display(partitioning(jax.jit(g), xs))
"""


def _names_the_cell(text, what):
    assert "In [2]" in text, f"{what}: no 'In [2]' in {text[:2000]!r}"
    assert "ipykernel_" not in text, f"{what}: {text[text.index('ipykernel_') - 300 :][:600]!r}"


def test_views_name_the_cell_not_the_temporary_file(lab_server, page, artifacts, jupyter_ui):
    jupyter_ui.write_notebook(
        lab_server.root,
        "cell_locations.ipynb",
        [PRELUDE, SETUP, PASS_STEPPER, CHECKPOINT, PARTITIONING],
    )
    jupyter_ui.open_notebook(page, lab_server, "cell_locations.ipynb")
    page.set_viewport_size({"width": 1400, "height": 2400})
    jupyter_ui.run_all_cells(page, 5, timeout=240_000)
    jupyter_ui.wait_kernel_idle(page, timeout=240_000)  # widgets built after their cells
    cells = page.locator(".jp-NotebookPanel:visible .jp-CodeCell")

    # (a) the pass stepper: fusions and Source panes
    stepper = cells.nth(2).locator(".jp-Cell-outputArea")
    fusions = stepper.locator("section[aria-label='fusions'] tr[data-hlo-opt]")
    fusions.first.wait_for(state="visible", timeout=120_000)
    _names_the_cell(" ".join(fusions.all_inner_texts()), "pass stepper fusions")
    source = stepper.locator("section[aria-label='Source']")
    _names_the_cell(source.first.inner_text(), "pass stepper Source")
    _names_the_cell(stepper.inner_text(), "pass stepper")
    artifacts(cells.nth(2), "pass-stepper")

    # (c) the checkpoint deck's saved (residuals) lines
    deck = cells.nth(3).locator(".jp-Cell-outputArea")
    saved = deck.locator(".glassjax-stepper .gj-st-saved")
    saved.first.wait_for(state="visible", timeout=120_000)
    lines = saved.all_inner_texts()
    assert any("output of dot_general from In [2], line " in t for t in lines), lines
    _names_the_cell(deck.inner_text(), "checkpoint deck")
    artifacts(cells.nth(3), "checkpoint-deck")

    # (b) the partitioning view's tables (the module texts are StableHLO's and XLA's own)
    out = cells.nth(4).locator(".jp-Cell-outputArea")
    out.locator(".jp-OutputArea-output").first.wait_for(state="visible", timeout=60_000)
    text = out.inner_text()
    if "SKIP:" in text:
        pytest.skip(f"partitioning part skipped: {text.strip()}")
    tables = out.locator(".gjp-root table")
    tables.first.wait_for(state="visible", timeout=60_000)
    shown = " ".join(tables.all_inner_texts())
    assert "In [2], line 14 (body)" in shown, shown
    _names_the_cell(shown, "partitioning view")
    artifacts(cells.nth(4), "partitioning-view")
