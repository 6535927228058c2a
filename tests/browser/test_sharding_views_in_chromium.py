"""The sharding view and the partitioning view in Debian's headless Chromium (file://):
hovering and clicking a block shows its device, shard index and shard shape (oracle:
JAX's ``addressable_shards`` of the same array, computed in the subprocess that writes
the pages), and a collective's link jumps to its line in the partitioned module.

Skips when Playwright or Chromium is missing (as tests/browser does); the pages are
written by this file run as a script, in a process with 8 CPU devices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _write_pages(folder: str) -> dict:
    os.environ["JAX_PLATFORMS"] = "cpu"
    import jax

    jax.config.update("jax_num_cpu_devices", 8)
    import numpy as np

    import engine

    engine.config.update("jax_num_cpu_devices", 8)
    from visualize.partitioning import partitioning
    from visualize.partitioning_html import partitioning_html
    from visualize.render_html import html_document
    from visualize.sharding_view import sharding_html

    # Auto axes: XLA's partitioner picks the matmul's layout and inserts the all-reduce
    # (over Explicit axes, the default, a sharded contraction needs an out_sharding)
    auto = (engine.sharding.AxisType.Auto,) * 2
    me = engine.make_mesh((4, 2), ("x", "y"), axis_types=auto)
    mj = jax.make_mesh((4, 2), ("x", "y"), axis_types=(jax.sharding.AxisType.Auto,) * 2)
    x = np.ones((8, 16), np.float32)
    xe = engine.device_put(x, engine.sharding.NamedSharding(me, engine.sharding.P("x", "y")))
    xj = jax.device_put(x, jax.sharding.NamedSharding(mj, jax.sharding.PartitionSpec("x", "y")))
    b = engine.device_put(
        np.ones((16, 4), np.float32), engine.sharding.NamedSharding(me, engine.sharding.P("y"))
    )
    view = partitioning(engine.jit(lambda a, b: a @ b), xe, b)
    page = sharding_html(xe, uid="arr") + partitioning_html(view, uid="part")
    path = os.path.join(folder, "sharding.html")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(html_document(page, title="sharding"))
    red = [c for c in view.collectives if c.kind == "all-reduce"][0]
    from visualize.report import report

    def matmul_then_tanh(a, b):
        c = a @ b
        return engine.numpy.tanh(c)

    r = report(matmul_then_tanh, xe, b, path=os.path.join(folder, "report.html"), repeats=1)
    rep_red = [c for c in r.partitioning.collectives if c.kind == "all-reduce"][0]
    shards = {
        s.device.id: [[sl.indices(n)[0] for sl, n in zip(s.index, x.shape)], list(s.data.shape)]
        for s in xj.addressable_shards
    }
    return {
        "path": path,
        "line": red.line,
        "shards": shards,
        "report": r.path,
        "report_collective": rep_red.name,
        "report_source": f"{rep_red.source[0]}:{rep_red.source[1]}",
    }


@pytest.fixture(scope="module")
def pages(browser_requirements, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sharding_pages")
    proc = subprocess.run(
        [sys.executable, __file__, str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"the pages were not written:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(lines[-1])


def test_sharding_and_partitioning_views_in_chromium(pages, browser):
    errors = []
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    try:
        pg = context.new_page()
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(Path(pages["path"]).as_uri())
        tiles = pg.locator("#arr .gjs-tile")
        assert tiles.count() == 8
        detail = pg.locator("#arr .gjs-detail")
        for i in range(8):
            tiles.nth(i).hover()
            text = detail.text_content()
            device = int(text.split("device ")[1].split(",")[0])
            start, shape = pages["shards"][str(device)]
            assert f"block [{start[0]}:{start[0] + shape[0]}, {start[1]}:" in text, text
            assert f"shard shape float32[{shape[0]},{shape[1]}]" in text, text
            assert f"device {device}, shard " in text
        tiles.nth(3).click()
        assert "gjs-sel" in (tiles.nth(3).get_attribute("class") or "")
        pg.mouse.move(0, 0)
        # a collective's link goes to its line of the partitioned module
        link = pg.locator(f'#part a[href="#part-after-{pages["line"]}"]')
        link.click()
        target = pg.locator(f"#part-after-{pages['line']}")
        assert "all-reduce(" in target.text_content()
        assert pg.evaluate("location.hash") == f"#part-after-{pages['line']}"
        assert "gjp-coll" in (target.get_attribute("class") or "")

        # in the report, clicking a collective's row lights up its user source line
        pg.goto(Path(pages["report"]).as_uri())
        row = pg.locator(f'#gjr-partitioning tr[data-hlo-opt="{pages["report_collective"]}"]')
        row.scroll_into_view_if_needed()
        row.click()
        lit = pg.evaluate(
            "() => Array.from(document.querySelectorAll("
            "'.gj-panes > .gj-pane[data-kind=source] .gj-hl'), e => e.dataset.line)"
        )
        assert lit == [pages["report_source"]], lit
        opt = pg.locator(
            f'.gj-panes > .gj-pane[data-kind=hlo_opt] [data-hlo-opt="{pages["report_collective"]}"]'
        )
        assert "gj-hl" in (opt.first.get_attribute("class") or "")
    finally:
        context.close()
    assert not errors, errors


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    print(json.dumps(_write_pages(sys.argv[1])))
