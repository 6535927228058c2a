"""Every view names a notebook cell "In [N], line L", never ipykernel's temporary file
(``/tmp/ipykernel_NNNN/987618802.py``), through ``visualize.cells`` (issue 13 item 9):
the pass stepper's fusions and Source panes, the partitioning view's collectives
"source line" column, the checkpoint deck's "saved (residuals)" lines (JAX's
``print_saved_residuals`` wording, only the location mapped), tooltips and error
locations. Outside IPython, and for files that are not cells, the path stays.

The cells run in an IPython shell whose compiler is ipykernel's own
(``XCachingCompiler``), so the functions' files are the temporary files a kernel
makes. The partitioning case needs 8 CPU devices and runs in a child process."""

from __future__ import annotations

import contextlib
import html
import io
import re

import eight_devices
import numpy as np
import pytest

import engine
import engine.numpy as enp
from visualize import cells

CASES: dict = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def kernel_shell():
    """IPython's shell, compiling cells as ipykernel does (temporary ``.py`` files)."""
    from ipykernel.compiler import XCachingCompiler
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    if not isinstance(ip.compile, XCachingCompiler):
        ip.compile = XCachingCompiler()
    return ip


def run_cell(source: str, **names) -> tuple[int, dict]:
    """Run ``source`` as the next cell: (its execution count, the shell's namespace)."""
    ip = kernel_shell()
    ip.user_ns.update(names)
    n = ip.execution_count
    result = ip.run_cell(source, store_history=True)
    assert result.success, result.error_in_exec or result.error_before_exec
    return n, ip.user_ns


def visible_text(page: str) -> str:
    """What a reader sees: no scripts, styles, tags or attributes (tooltips included)."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]*>", " ", page))


@pytest.fixture(scope="module")
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    before = InteractiveShell.instance().compile
    ip = kernel_shell()
    yield ip
    ip.compile = before  # later modules use the shell as plain IPython again


def test_location_wording(shell):
    n, ns = run_cell("def where_fn(x):\n    return x\n")
    tmp = ns["where_fn"].__code__.co_filename
    assert "ipykernel_" in tmp
    assert cells.cell_label(tmp) == f"In [{n}]"
    assert cells.location(tmp, 2) == f"In [{n}], line 2"
    assert cells.location(tmp, 2, 11) == f"In [{n}], line 2, column 11"
    assert cells.short_location(tmp, 2) == f"In [{n}], line 2"
    assert cells.short_name(tmp) == f"In [{n}]"
    # any other file keeps its path (a table shows its base name)
    assert cells.location(__file__, 7) == f"{__file__}:7"
    assert cells.location(__file__, 7, 3) == f"{__file__}:7:3"
    assert cells.short_location(__file__, 7) == "test_cell_locations.py:7"


def test_outside_ipython_the_path_stays(shell, monkeypatch):
    import IPython

    n, ns = run_cell("def plain_fn(x):\n    return x\n")
    tmp = ns["plain_fn"].__code__.co_filename
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    assert cells.cell_label(tmp) == ""
    assert cells.location(tmp, 2) == f"{tmp}:2"
    assert cells.short_location(tmp, 2) == tmp.rsplit("/", 1)[-1] + ":2"


def test_pass_stepper_panes_name_the_cell(shell):
    pytest.importorskip("ipywidgets")
    from notebook_ext.fusion_stepper import FusionStepper

    src = "def fused_fn(x):\n    y = enp.sin(x) * x\n    return enp.sum(y)\n"
    n, ns = run_cell(src, enp=enp)
    s = FusionStepper(ns["fused_fn"], enp.arange(4.0), lazy=False)
    s.go(s.find("fusion")[0])
    shown = visible_text(s.page_html + s.info.value)
    assert f"In [{n}]" in shown
    assert "ipykernel_" not in shown, shown[shown.index("ipykernel_") - 200 :][:400]
    # the graph's node tooltips name the cell's lines too
    dot = s.state()["graph"].source
    assert re.search(rf"In \[{n}\], line [23]\b", dot) and "ipykernel_" not in dot


def test_explorer_tooltips_graph_and_errors_name_the_cell(shell):
    import visualize
    from notebook_ext.rich_display import ErrorInfo
    from visualize.graph import jaxpr_graph
    from visualize.render_html import stages_html

    src = "def tip_fn(x):\n    y = enp.cos(x)\n    return y * 2\n"
    n, ns = run_cell(src, enp=enp)
    fn = ns["tip_fn"]
    page = stages_html(visualize.stage_models(fn, enp.ones(3)))
    titles = " ".join(html.unescape(t) for t in re.findall(r'title="([^"]*)"', page))
    assert f"In [{n}], line 2 in tip_fn" in titles  # an equation's tooltip
    assert re.search(rf"In \[{n}\], line [23] in tip_fn", titles)  # an HLO instruction's
    graph = jaxpr_graph(visualize.JaxprModel(engine.make_jaxpr(fn)(enp.ones(3))))
    assert f"In [{n}], line 2 (tip_fn)" in graph.source
    assert "ipykernel_" not in graph.source
    m, ns = run_cell("def bad_fn(x):\n    return x.shape[7]\n")
    try:
        ns["bad_fn"](np.ones(3))
    except IndexError as e:
        err = ErrorInfo(e)
    assert err.where == f"In [{m}], line 2 in bad_fn"
    assert "ipykernel_" not in visible_text(err.html())


def _checkpoint_cell(lib: str) -> str:
    return (
        "def layers(W1, W2, x):\n"
        f"    h = {lib}.sin(W1 @ x)\n"
        "    h = checkpoint_name(h, 'h1')\n"
        f"    y = {lib}.cos(W2 @ h)\n"
        f"    return {lib}.sum(y)\n"
    )


ARGS = (
    np.random.RandomState(0).randn(4, 3).astype(np.float32),
    np.random.RandomState(1).randn(2, 4).astype(np.float32),
    np.random.RandomState(2).randn(3).astype(np.float32),
)


def test_checkpoint_deck_saved_lines_name_the_cell(shell):
    """JAX's print_saved_residuals for the same cell file, with its locations written
    as the cell's, is what the stepper's saved lines say."""
    from helpers import real_jax

    from engine.ad_checkpoint import checkpoint_name
    from notebook_ext.steppers import GradStepper, render

    jax, jnp = real_jax()
    from jax.ad_checkpoint import checkpoint_name as jax_checkpoint_name
    from jax.ad_checkpoint import print_saved_residuals

    src = _checkpoint_cell("lib")
    n, ns = run_cell(src, lib=enp, checkpoint_name=checkpoint_name)
    layers = ns["layers"]
    tmp = layers.__code__.co_filename
    policy = engine.checkpoint_policies.save_only_these_names("h1")
    st = GradStepper(engine.checkpoint(layers, policy=policy), *ARGS, argnums=(0, 1, 2))

    # the same source in the same (temporary) file, run by JAX
    jax_ns = {"lib": jnp, "checkpoint_name": jax_checkpoint_name}
    exec(compile(src, tmp, "exec"), jax_ns)
    jpolicy = jax.checkpoint_policies.save_only_these_names("h1")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print_saved_residuals(jax.checkpoint(jax_ns["layers"], policy=jpolicy), *ARGS)
    theirs = out.getvalue().strip().splitlines()
    assert any(tmp in line for line in theirs), theirs
    mapped = [
        re.sub(re.escape(tmp) + r":(\d+):(\d+)", rf"In [{n}], line \1, column \2", line)
        for line in theirs
    ]
    assert sorted(st.saved_residuals) == sorted(mapped)
    assert any(f"named 'h1' from In [{n}], line 3" in s for s in st.saved_residuals)

    # the checkpoint deck's "saved (residuals)" and "recomputed" lines, in every stage
    (pe,) = [s for s in st.stage_steps["partial_eval"] if s.remat is not None]
    assert any(f"In [{n}], line 3" in s for s in pe.remat.saved), pe.remat.saved
    assert all(f"In [{n}], line " in s for s in pe.remat.recomputed), pe.remat.recomputed
    for stage, steps in st.stage_steps.items():
        for k in range(len(steps)):
            shown = visible_text(render.grad_view(st, stage, k))
            assert "ipykernel_" not in shown, (stage, k)
    k = next(i for i, s in enumerate(st.stage_steps["partial_eval"]) if s.remat is not None)
    assert "saved (residuals)" in visible_text(render.grad_view(st, "partial_eval", k))


def test_partitioning_source_line_names_the_cell():
    result = eight_devices.outcome(__file__, "partitioning_collectives_name_the_cell")
    assert result == "ok", result


def test_partitioning_source_outside_a_cell_keeps_the_file():
    from visualize.partitioning_html import _source

    shown = _source((__file__, 12, "f"))
    assert ">test_cell_locations.py:12 (f)</code>" in shown
    assert f'title="{html.escape(__file__)}"' in shown


# ---------------------------------------------------------------- 8 devices (child)


@case
def partitioning_collectives_name_the_cell():
    from visualize.partitioning import partitioning
    from visualize.partitioning_html import partitioning_html

    ip = kernel_shell()
    mesh = engine.make_mesh((4, 2), ("x", "y"), axis_types=(engine.sharding.AxisType.Auto,) * 2)
    src = (
        "P = engine.sharding.PartitionSpec\n"
        "def body(b):\n"
        "    s = engine.lax.psum(b, 'y')\n"
        "    return engine.lax.ppermute(s, 'x', [(i, (i + 1) % 4) for i in range(4)])\n"
        "f = engine.shard_map(body, mesh=mesh, in_specs=P('x', 'y'), out_specs=P('x', None))\n"
    )
    n = ip.execution_count
    ip.user_ns.update(engine=engine, mesh=mesh)
    assert ip.run_cell(src, store_history=True).success
    tmp = ip.user_ns["body"].__code__.co_filename
    sharding = engine.sharding.NamedSharding(mesh, engine.sharding.PartitionSpec("x", "y"))
    x = engine.device_put(np.arange(64, dtype=np.float32).reshape(8, 8), sharding)
    view = partitioning(engine.jit(ip.user_ns["f"]), x)
    kinds = {c.kind: c for c in view.collectives}
    assert kinds["all-reduce"].source[:2] == (tmp, 3), kinds["all-reduce"].source  # data: path
    page = partitioning_html(view)
    # the annotations' and collectives' tables (the module texts below them are
    # StableHLO's and XLA's own, shown as they are)
    tables = page[page.index("<h3>Sharding annotations") : page.index("<h3>Before and after")]
    shown = visible_text(tables)
    assert f"In [{n}], line 3 (body)" in shown, shown
    assert f"In [{n}], line 4 (body)" in shown, shown
    assert "ipykernel_" not in shown
    assert f'title="{html.escape(tmp)}"' in page  # the real path, on hover


if __name__ == "__main__":
    eight_devices.main(CASES)
