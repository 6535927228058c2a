"""The lowering hands its readers data: eqn path -> the StableHLO ops it produced (and
the equation's source info), on ``Lowered.lowering_info`` and as ``EqnLowered`` events;
the visualizer links equations to ops from that data, not from location strings."""

import inspect

import numpy as np

import engine
import engine.numpy as jnp
import visualize
from engine import events, lax
from visualize import render_html as R
from visualize.jaxpr_model import JaxprModel
from visualize.mlir_model import parse_mlir_module
from visualize.source_map import SourceMap


def _body(c):
    return c[0] + 1, c[1] * 2.0


def f(x):
    y = jnp.sin(x) * 2.0
    _, z = lax.while_loop(lambda c: c[0] < 3, _body, (0, y))
    return engine.jit(lambda a: a + 1.0)(z).sum()


LINE_SIN = inspect.getsourcelines(f)[1] + 1


def _lowered():
    def fresh(x):  # a new function each time: jit caches lowerings per function
        return f(x)

    return engine.jit(fresh).lower(jnp.ones(3, np.float32))


def test_lowering_info_maps_equations_to_ops():
    info = _lowered().lowering_info
    eqns = info.eqns
    names = {p: [info.ops[i].name for i in e.op_ids] for p, e in eqns.items()}
    assert names[(0,)] == ["stablehlo.sine"]
    assert eqns[(0,)].primitive == "sin" and eqns[(0,)].tag == "sin.eqn0"
    assert eqns[(0,)].source_info.line == LINE_SIN
    assert eqns[(0,)].function == "main"
    assert "stablehlo.multiply" in names[(1,)]
    # the while loop's ops, and those of its body and condition (sub-jaxprs s0, s1)
    assert "stablehlo.while" in names[(2,)]
    assert "stablehlo.compare" in names[(2, "s1", 0)]
    assert "stablehlo.add" in names[(2, "s0", 0)]
    # the nested jit: a call in main, its body in a private function
    assert names[(3,)][0] == "func.call"
    inner = eqns[(3, 0)]
    assert inner.function != "main" and names[(3, 0)][-1] == "stablehlo.add"
    assert "stablehlo.reduce" in names[(4,)]
    # every op id belongs to at most one equation; ops hold their equation's path
    seen = [i for e in eqns.values() for i in e.op_ids]
    assert len(seen) == len(set(seen))
    for p, e in eqns.items():
        for i in e.op_ids:
            assert info.ops[i].eqn_path == p
            assert info.eqn_of(i) is e
    assert info.ops_of((0,))[0].name == "stablehlo.sine"
    assert info.functions[0] == "main"


def test_eqn_lowered_events_carry_the_same_data():
    with events.listen(kinds=(events.EqnLowered,)) as rec:
        lowered = _lowered()
    evs = {ev.eqn_path: ev for ev in rec.of(events.EqnLowered)}
    info = lowered.lowering_info
    assert set(evs) == set(info.eqns)
    for p, e in info.eqns.items():
        ev = evs[p]
        assert ev.op_ids == e.op_ids and ev.tag == e.tag and ev.primitive == e.primitive
        assert ev.ops == tuple(info.ops[i].name for i in e.op_ids)
        assert ev.source_info == e.source_info and ev.eqn is e.eqn


def test_parsed_ops_get_their_equation_from_the_data():
    lowered = _lowered()
    info = lowered.lowering_info
    mm = parse_mlir_module(lowered.mlir_text, info)
    keyed = [op for op in mm.ops() if op.eqn_key is not None]
    assert keyed
    for op in keyed:
        prim, path, tag = op.eqn_key
        assert op.id in info.eqns[path].op_ids
        assert info.ops[op.id].name.removeprefix("func.") == op.name.removeprefix("func.")
        assert op.tag == tag
    # a reduction's body is elided by the printer: its ops have no parsed partner, and
    # the ops after it still line up
    reduce_op = next(op for op in mm.ops() if op.name == "stablehlo.reduce")
    assert reduce_op.eqn_key[1] == (4,)


def test_source_map_does_not_read_equation_tags_from_locations():
    """Rename every tag in the text: the links come from the lowering's data anyway."""
    lowered = _lowered()
    text = lowered.mlir_text.replace(".eqn", ".renamed")
    jm = JaxprModel(lowered.traced.jaxpr)
    with_data = SourceMap(jm, parse_mlir_module(text, lowered.lowering_info))
    reference = SourceMap(jm, parse_mlir_module(lowered.mlir_text, lowered.lowering_info))
    assert with_data.eqn_mlir_ops and with_data.eqn_mlir_ops == reference.eqn_mlir_ops
    sin_eqn = next(e.id for e in jm.all_eqns if e.primitive == "sin")
    assert [with_data.mlir.op(o).name for o in with_data.eqn_mlir_ops[sin_eqn]] == [
        "stablehlo.sine"
    ]
    # without the data, nothing is guessed from the (renamed) text
    assert not SourceMap(jm, parse_mlir_module(text)).eqn_mlir_ops


def test_stage_models_use_the_lowering_data():
    s = visualize.stage_models(f, jnp.ones(3, np.float32), compiled=False)
    assert s.mlir.has_lowering_data
    assert s.source_map.eqn_mlir_ops


def test_stages_html_composes_extra_panes_head_and_tail():
    s = visualize.stage_models(f, jnp.ones(3, np.float32), compiled=False)
    page = R.stages_html(
        s,
        uid="gj-t",
        extra_panes=[("extra <pane>", '<section class="gj-pane" id="mine"></section>')],
        head='<div id="head-bit"></div>',
        tail='<div id="tail-bit"></div>',
    )
    tabs = page[page.index('class="gj-tabs"') : page.index('class="gj-panes"')]
    assert "extra &lt;pane&gt;" in tabs  # its tab, escaped, in the one tab bar
    n_tabs = tabs.count('class="gj-tab"')
    assert f'data-tab="{n_tabs - 1}"' in tabs
    panes = page[page.index('class="gj-panes"') : page.index('class="gj-legend"')]
    assert 'id="mine"' in panes
    assert page.index("</style>") < page.index('id="head-bit"') < page.index('class="gj-stages"')
    assert page.index('class="gj-legend"') < page.index('id="tail-bit"')
    assert page.index('id="tail-bit"') < page.index('class="gj-links"')
