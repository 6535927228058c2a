"""How long visualize takes on large programs: the models and the collapsed graph.

    python benchmarks/visualize_scale.py [--no-layout]

Two workloads, each timed (best of 3) stage by stage, with a 2 s target for building
the models and for producing the collapsed graph's DOT:

- a 5,000-equation jaxpr (a 1,000-step chain of sin/mul/add/sub);
- the optimized HLO of an MLP training step (784-512-512-10, batch 128; the same
  program as workloads.py).

Where ``node`` exists, the DOT of each default view is also laid out with the bundled
Graphviz WASM module (what the browser runs) and that time printed; where the ``dot``
binary exists, its time too. The engine only: no JAX is imported.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import workloads  # noqa: E402

import engine  # noqa: E402
import engine.numpy as jnp  # noqa: E402
import visualize  # noqa: E402
from visualize import graph  # noqa: E402

TARGET_S = 2.0


def best_of(fn, repeat=3):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def chain(x):
    for _ in range(1000):
        x = jnp.sin(x) * 1.01 + x * x - 0.5  # 5 equations per step
    return x


def report(rows):
    width = max(len(r[0]) for r in rows)
    for name, seconds, note in rows:
        flag = "" if seconds is None else ("  ok" if seconds <= TARGET_S else "  OVER 2 s")
        t = "      -" if seconds is None else f"{seconds:7.3f} s"
        print(f"  {name:<{width}}  {t}{flag}  {note}")


_NODE_TIMER = r"""
import fs from "node:fs";
import { pathToFileURL } from "node:url";
const [mod, file] = process.argv.slice(1);
let t0 = performance.now();
const { Graphviz } = await import(pathToFileURL(mod).href);
const gv = await Graphviz.load();
const load = performance.now() - t0;
const dot = fs.readFileSync(file, "utf8");
const times = [];
for (let i = 0; i < 4; i++) {
  t0 = performance.now();
  gv.dot(dot);
  times.push(performance.now() - t0);
}
console.log(JSON.stringify({load, cold: times[0], warm: Math.min(...times.slice(1))}));
"""


def layout_times(views):
    """{name: (WASM in node: {"load", "cold", "warm"} ms or None, dot binary s or None)}.
    Each view in a fresh node process: its first layout ("cold") pays WebAssembly's
    tier-up, as a page's first layout does; "warm" is the best of three more."""
    out = {name: [None, None] for name in views}
    node, dot = shutil.which("node"), shutil.which("dot")
    with tempfile.TemporaryDirectory() as tmp:
        for name, view in views.items():
            path = os.path.join(tmp, name + ".dot")
            with open(path, "w") as fh:
                fh.write(view.source)
            if node:
                done = subprocess.run(
                    [
                        node,
                        "--input-type=module",
                        "-e",
                        _NODE_TIMER,
                        graph.graphviz_module_path(),
                        path,
                    ],
                    capture_output=True,
                    text=True,
                    timeout=600,
                )
                if done.returncode == 0:
                    out[name][0] = json.loads(done.stdout)
            if dot:
                out[name][1], _ = best_of(
                    lambda: subprocess.run([dot, "-Tsvg", path], capture_output=True, timeout=600)
                )
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-layout", action="store_true", help="time only the Python side")
    args = ap.parse_args()
    views = {}

    print("5,000-equation jaxpr")
    x = np.ones((4,), np.float32)
    t_trace, traced = best_of(lambda: engine.jit(chain).trace(x))
    t_model, model = best_of(lambda: visualize.JaxprModel(traced.jaxpr))
    t_graph, view = best_of(lambda: graph.jaxpr_graph(model))
    t_block, opened = best_of(lambda: view.expand("jaxpr:block-0"))
    mid = model.eqns[len(model.eqns) // 2]
    t_focus, focus = best_of(lambda: graph.jaxpr_graph(model, focus=mid, hops=3))
    t_html, html_text = best_of(lambda: visualize.jaxpr_html(model))
    views.update(jaxpr_collapsed=view, jaxpr_block_open=opened, jaxpr_neighbourhood=focus)
    report(
        [
            ("trace (engine, for reference)", t_trace, f"{len(model)} equations"),
            ("JaxprModel", t_model, ""),
            ("jaxpr HTML pane", t_html, f"{len(html_text) / 1e6:.1f} MB"),
            ("collapsed graph DOT", t_graph, f"{view!r}, {len(view.source) // 1024} KiB"),
            ("  open one block", t_block, repr(opened)),
            ("  neighbourhood, 3 hops", t_focus, repr(focus)),
        ]
    )

    print("MLP training step (784-512-512-10, batch 128), optimized HLO")
    step, params, xb, yb = workloads._mlp_step(engine, jnp)
    t_stage, s = best_of(lambda: visualize.stage_models(step, params, xb, yb), repeat=1)
    t_parse, hlo = best_of(lambda: visualize.parse_hlo_module(s.compiled.as_text()))
    t_hgraph, hview = best_of(lambda: graph.hlo_graph(hlo))
    t_jgraph, jview = best_of(lambda: graph.jaxpr_graph(s.jaxpr))
    t_hhtml, hhtml = best_of(lambda: visualize.hlo_html(hlo, links=s.source_map))
    views.update(mlp_hlo=hview, mlp_jaxpr=jview)
    report(
        [
            ("stage_models (trace, lower, XLA compile, all models)", t_stage, repr(hlo)),
            ("  parse optimized HLO alone", t_parse, ""),
            ("optimized HLO HTML pane (linked)", t_hhtml, f"{len(hhtml) / 1e3:.0f} kB"),
            ("optimized HLO graph DOT", t_hgraph, repr(hview)),
            ("jaxpr graph DOT", t_jgraph, repr(jview)),
        ]
    )

    if args.no_layout:
        return
    times = layout_times(views)
    if all(v == [None, None] for v in times.values()):
        print("layout: neither node nor dot is installed; not timed")
        return
    print(
        "layout of each view (the browser's WASM build, run by node; first layout of a "
        "fresh page, then warm)"
    )
    rows = []
    for name, (wasm, dot) in times.items():
        note = (
            ""
            if wasm is None
            else (f"warm {wasm['warm'] / 1000:.3f} s, module load {wasm['load'] / 1000:.3f} s")
        )
        if dot is not None:
            note += f"; dot binary {dot:.3f} s"
        rows.append((name, None if wasm is None else wasm["cold"] / 1000, note))
    report(rows)


if __name__ == "__main__":
    main()
