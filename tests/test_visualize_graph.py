"""visualize.graph: DOT dataflow graphs of jaxprs and HLO, collapsing, neighbourhoods,
escaping, and the bundled Graphviz (WASM) layout engine.

Oracles: real JAX's jaxpr (equations and def-use edges), XLA's own parse of the
optimized HLO (jaxlib's HloModule: instructions, operands, fused computations), a
small DOT parser written here that undoes DOT quoting and Graphviz's escString rules
independently of the code under test, and Graphviz itself (the bundled WASM build run
by node, where node exists) for parsing and laying out what we emit."""

import hashlib
import html
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from helpers import real_jax

import engine
import engine.numpy as jnp
import visualize
from engine import lax
from visualize import graph as G

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")


# ---------------------------------------------------------------------------- a DOT reader

_TOKEN = re.compile(
    r'\s*(?:(?P<s>"(?:[^"\\]|\\.)*")|(?P<arrow>->)|(?P<id>[A-Za-z0-9_.]+)'
    r"|(?P<p>[{}\[\];=,]))",
    re.S,
)


def _tokens(text):
    pos, out = 0, []
    while True:
        m = _TOKEN.match(text, pos)
        if m is None:
            rest = text[pos:].strip()
            assert not rest, f"DOT lexing stopped at {rest[:60]!r}"
            return out
        pos = m.end()
        if m.group("s") is not None:
            out.append(("s", m.group("s")[1:-1].replace('\\"', '"')))  # DOT's lexer
        elif m.group("arrow"):
            out.append(("p", "->"))
        elif m.group("id") is not None:
            out.append(("s", m.group("id")))
        else:
            out.append(("p", m.group("p")))


def esc_string(s):
    """What Graphviz shows for an escString attribute: ``\\\\`` -> ``\\``, ``\\n`` ->
    newline, then XML entities decoded. Any other escape would be a bug in what we
    emit (``\\N`` would expand to the node's name)."""
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            d = s[i + 1]
            assert d in "\\n", f"unexpected escape \\{d} in {s!r}"
            out.append("\\" if d == "\\" else "\n")
            i += 2
        else:
            out.append(c)
            i += 1
    return html.unescape("".join(out))


class Dot:
    """nodes {name: attrs}, clusters {name: attrs}, parent {node or cluster: cluster},
    edges [(a, b)] of the DOT text we emit (a subset of the language)."""

    def __init__(self, text):
        self.toks = _tokens(text)
        self.i = 0
        self.nodes, self.clusters, self.parent, self.edges = {}, {}, {}, []
        self.graph_attrs = {}
        assert self.next() == "digraph"
        self.next()
        self.block(None)
        assert self.i == len(self.toks)

    def next(self):
        kind, v = self.toks[self.i]
        self.i += 1
        return v

    def peek(self):
        return self.toks[self.i][1] if self.i < len(self.toks) else None

    def attrs(self):
        out = {}
        assert self.next() == "["
        while self.peek() != "]":
            k = self.next()
            assert self.next() == "="
            out[k] = self.next()
            if self.peek() in (",", ";"):
                self.next()
        self.next()
        return out

    def block(self, cluster):
        assert self.next() == "{"
        while self.peek() != "}":
            head = self.next()
            if head in ("graph", "node", "edge") and self.peek() == "[":
                a = self.attrs()
                if head == "graph" and cluster is None:
                    self.graph_attrs.update(a)
            elif head == "subgraph":
                name = self.next()
                assert name.startswith("cluster"), name
                self.clusters[name] = {}
                self.parent[name] = cluster
                self.block(name)
            elif self.peek() == "=":
                self.next()
                self.clusters[cluster][head] = self.next()
            elif self.peek() == "->":
                self.next()
                self.edges.append((head, self.next()))
            else:
                assert head not in self.nodes, f"node {head} declared twice"
                self.nodes[head] = self.attrs() if self.peek() == "[" else {}
                self.parent[head] = cluster
            if self.peek() == ";":
                self.next()
        self.next()

    def ids(self, cls):
        """DOM ids of nodes and clusters carrying the class ``cls``."""
        out = set()
        for attrs in list(self.nodes.values()) + list(self.clusters.values()):
            if cls in attrs.get("class", "").split():
                out.add(attrs["id"])
        return out

    def cluster_of(self, node_id):
        """The DOM id of the cluster holding node ``node_id``."""
        c = self.parent[node_id]
        return self.clusters[c]["id"] if c else None

    def inside(self, cluster_id):
        """Node names anywhere inside the cluster whose id is ``cluster_id``."""
        name = next(n for n, a in self.clusters.items() if a["id"] == cluster_id)
        out = set()
        for node in self.nodes:
            p = self.parent[node]
            while p is not None:
                if p == name:
                    out.add(node)
                    break
                p = self.parent[p]
        return out


def parse(view):
    d = Dot(view.source)
    names = set(d.nodes)
    for a, b in d.edges:
        assert a in names and b in names, (a, b)
    for name, attrs in d.nodes.items():
        assert attrs["id"] == name  # node names are their DOM ids (no prefix given)
    every = [a["id"] for a in d.nodes.values()] + [a["id"] for a in d.clusters.values()]
    assert len(every) == len(set(every)), "duplicate DOM ids"
    return d


# ---------------------------------------------------------------------------- programs


def mlp_loss_with(np_):
    def mlp_loss(params, x, y):
        w1, b1, w2, b2 = params
        h = np_.tanh(x @ w1 + b1)
        h = np_.maximum(h, 0.0)
        out = h @ w2 + b2
        return np_.mean(np_.sum((out - y) ** 2, axis=-1))

    return mlp_loss


def mlp_step(params, x, y):
    grads = engine.grad(mlp_loss_with(jnp))(params, x, y)
    return [p - 0.05 * g for p, g in zip(params, grads)]


@engine.jit
def inner(a):
    return jnp.cos(a) * 2.0


def control(x):
    y = inner(x) + inner(x + 1.0)
    c, ys = lax.scan(lambda c, r: (c * 2.0 + r, jnp.sin(c)), y[0], y)
    z = lax.cond(jnp.sum(c) > 0, lambda a: a + 1.0, lambda a: a, c)
    w = lax.while_loop(lambda v: jnp.sum(v) < 100.0, lambda v: v * 2.0 + 1.0, z)
    return w, ys


def _rand(*shape, seed=0):
    return np.random.RandomState(seed).normal(size=shape).astype(np.float32)


PARAMS = [_rand(4, 8, seed=1), _rand(8, seed=2), _rand(8, 3, seed=3), _rand(3, seed=4)]
XY = (_rand(5, 4, seed=5), _rand(5, 3, seed=6))
_cache = {}


def models(name):
    if name not in _cache:
        f, args = {
            "mlp_step": (mlp_step, (PARAMS,) + XY),
            "control": (control, (_rand(3, 4, seed=7),)),
        }[name]
        _cache[name] = visualize.stage_models(f, *args)
    return _cache[name]


def _printed_eqn_count(text):
    """Equations in a printed jaxpr, counted on the text: binders then '= prim'."""
    return len(re.findall(r"(?m)(?:^\s*|\blet )(?:[a-z_]+:[a-z0-9]+\[[\d,]*\] )+= [a-z_]+", text))


# ---------------------------------------------------------------------------- escaping

HOSTILE = [
    '<script>alert("x")</script>',
    'a"b',
    "a\\b",
    "\\N\\G\\l\\n",
    "&amp; & <b>",
    "x > y < z",
    "tab\there",
    "two\nlines",
    'quote\\"',
    "\u00e9\u4e2d\U0001f600",
    "&#45;",
    "]; node [label=x",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_dot_escape_round_trips(text):
    quoted = '"' + G.dot_escape(text) + '"'
    ((kind, body),) = _tokens(quoted)
    assert esc_string(body) == text
    assert not re.search(r"[<>]", G.dot_escape(text))


def test_hostile_names_are_escaped_in_dot_and_svg():
    evil = '<script>"&amp;\\N'

    def f(x):
        return jnp.sin(x) * 2.0

    f.__name__ = evil
    src = "def g(x):\n    return jnp.cos(x) + 1.0\n"
    ns = {"jnp": jnp}
    exec(compile(src, 'we"ird<&>\\path.py', "exec"), ns)
    g = ns["g"]

    def prog(x):
        return engine.jit(f)(x) + g(x)

    s = visualize.stage_models(prog, _rand(3))
    view = G.jaxpr_graph(s.jaxpr, title=f"jaxpr of {evil}")
    d = parse(view)
    assert esc_string(d.graph_attrs["label"]) == f"jaxpr of {evil}"
    jit_eqn = next(e for e in s.jaxpr.all_eqns if e.primitive == "jit")
    label = esc_string(d.clusters["cluster_eqn-" + jit_eqn.id]["label"])
    assert label.split("\n")[0] == f"jit {evil}"
    tips = [esc_string(a.get("tooltip", "")) for a in d.nodes.values()]
    assert any('we"ird<&>\\path.py' in t for t in tips)
    if NODE is None:
        return
    svg = G.render_svg(view.source, engine="node")
    root = ET.fromstring(svg)  # well-formed: nothing leaked out of its attribute
    assert not list(root.iter("{http://www.w3.org/2000/svg}script"))
    texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert f"jit {evil}" in texts
    titles = [
        a.get("{http://www.w3.org/1999/xlink}title")
        for a in root.iter("{http://www.w3.org/2000/svg}a")
    ]
    assert any(t and 'we"ird<&>\\path.py' in t for t in titles)


# ---------------------------------------------------------------------------- jaxpr graphs


def test_jaxpr_graph_matches_jax_dataflow():
    jax, jjnp = real_jax()
    args = (PARAMS,) + XY
    ours = engine.make_jaxpr(mlp_loss_with(jnp))(*args)
    theirs = jax.make_jaxpr(mlp_loss_with(jjnp))(*args)
    assert str(ours) == str(theirs)  # same program, so JAX's def-use is the oracle
    d = parse(G.jaxpr_graph(visualize.JaxprModel(ours)))
    jp = theirs.jaxpr
    producer = {v: f"jaxpr:in-{k}" for k, v in enumerate(jp.invars)}
    want = set()
    for i, eqn in enumerate(jp.eqns):
        for v in eqn.invars:
            if type(v).__name__ != "Literal":
                want.add((producer[v], f"eqn-{i}"))
        for v in eqn.outvars:
            producer[v] = f"eqn-{i}"
    for k, v in enumerate(jp.outvars):
        want.add((producer[v], f"jaxpr:out-{k}"))
    assert set(d.edges) == want
    assert d.ids("gj-eqn") == {f"eqn-{i}" for i in range(len(jp.eqns))}
    assert d.ids("gj-input") == {f"jaxpr:in-{k}" for k in range(len(jp.invars))}
    labels = {n: esc_string(a["label"]).split("\n") for n, a in d.nodes.items()}
    for i, eqn in enumerate(jp.eqns):
        aval = eqn.outvars[0].aval.str_short(short_dtypes=True)
        assert labels[f"eqn-{i}"] == [eqn.primitive.name, aval]


@pytest.mark.parametrize("name", ["mlp_step", "control"])
def test_every_equation_has_its_id(name):
    s = models(name)
    d = parse(G.jaxpr_graph(s.jaxpr))
    ids = d.ids("gj-eqn")
    assert len(ids) == _printed_eqn_count(s.jaxpr.text)
    assert ids == {"eqn-" + e.id for e in s.jaxpr.all_eqns}


def test_sub_jaxprs_are_clusters():
    s = models("control")
    d = parse(G.jaxpr_graph(s.jaxpr))
    groups = {e.id: e for e in s.jaxpr.all_eqns if e.subjaxprs}
    assert sorted(e.primitive for e in groups.values()) == ["cond", "jit", "jit", "scan", "while"]
    cluster_ids = {a["id"] for a in d.clusters.values()}
    for eid, e in groups.items():
        assert "eqn-" + eid in cluster_ids
        inside = d.inside("eqn-" + eid)
        for sub in s.jaxpr.descendants(eid):
            assert "eqn-" + sub in inside
    cond = next(e for e in groups.values() if e.primitive == "cond")
    assert {f"eqn-{cond.id}:branches0", f"eqn-{cond.id}:branches1"} <= cluster_ids
    loop = next(e for e in groups.values() if e.primitive == "while")
    body = d.inside(f"eqn-{loop.id}:body_jaxpr")
    assert body == {"eqn-" + x for x in s.jaxpr.descendants(loop.id) if "_s0_" in x}
    # the branch that returns its operand unchanged still has a node for its result
    assert any(n.startswith(f"eqn-{cond.id}:branches") and ":out-" in n for n in d.nodes)
    # the cond's branch index comes from the comparison
    ctrl = f"eqn-{cond.id}:control"
    assert [a for a, b in d.edges if b == ctrl] == ["eqn-" + str(int(cond.id) - 1)]


def test_collapsing_and_expanding():
    def long(x):
        for _ in range(12):
            x = inner(jnp.sin(x) * 1.5)
        return x

    m = visualize.JaxprModel(engine.jit(long).trace(_rand(3)).jaxpr)
    assert len(m.eqns) == 36
    full = G.jaxpr_graph(m, max_nodes=1000, max_edges=1000)
    assert not full.collapsed and len(full.nodes) == full.full_size == 12 * 4 + 2
    small = G.jaxpr_graph(m, max_nodes=20)
    assert small.collapsed and small.clusters == []
    d = parse(small)
    blocks = d.ids("gj-block")
    assert 2 <= len(blocks) <= 10 and len(d.nodes) == len(blocks) + 2
    assert d.ids("gj-eqn") == set()
    # blocks run in order: each feeds the next
    chain = [f"jaxpr:block-{k}" for k in range(len(blocks))]
    assert set(d.edges) == {("jaxpr:in-0", chain[0]), (chain[-1], "jaxpr:out-0")} | set(
        zip(chain, chain[1:])
    )
    # open the first block: its equations appear, its jit calls closed
    first = small.expand("jaxpr:block-0")
    d1 = parse(first)
    members = small.members["jaxpr:block-0"]
    tops = [e for e in members if "_" not in e]
    assert d1.ids("gj-eqn") == {"eqn-" + e for e in tops}
    jit_id = next(e for e in tops if m.eqn(e).primitive == "jit")
    assert "gj-collapsed" in d1.nodes["eqn-" + jit_id]["class"].split()
    # opening a nested equation opens what holds it
    deeper = small.expand(jit_id + "_0")
    assert {"jaxpr:block-0", "eqn-" + jit_id} <= deeper.expanded
    assert "eqn-" + jit_id + "_0" in parse(deeper).nodes
    assert deeper.node_for(jit_id + "_1") == "eqn-" + jit_id + "_1"
    assert small.node_for(jit_id + "_1") == "jaxpr:block-0"
    back = deeper.collapse("jaxpr:block-0")
    assert back.source == small.source
    every = G.jaxpr_graph(m, expand="all", max_nodes=20)
    d_all = parse(every)
    assert d_all.ids("gj-eqn") == {"eqn-" + e.id for e in m.all_eqns}
    assert len([a for a in d_all.clusters.values() if "gj-eqn" in a["class"]]) == 12
    assert not every.collapsed


def test_neighbourhood_matches_jax_dataflow():
    jax, jjnp = real_jax()
    args = (PARAMS,) + XY
    jp = jax.make_jaxpr(mlp_loss_with(jjnp))(*args).jaxpr
    m = visualize.JaxprModel(engine.make_jaxpr(mlp_loss_with(jnp))(*args))
    producer, users = {}, {}
    for i, eqn in enumerate(jp.eqns):
        for v in eqn.invars:
            if type(v).__name__ != "Literal" and v in producer:
                users.setdefault(producer[v], set()).add(i)
        for v in eqn.outvars:
            producer[v] = i
    target = 5
    near = (
        {target}
        | users.get(target, set())
        | {
            producer[v]
            for v in jp.eqns[target].invars
            if type(v).__name__ != "Literal" and v in producer
        }
    )
    view = G.jaxpr_graph(m, focus=str(target), hops=1)
    d = parse(view)
    assert d.ids("gj-eqn") == {f"eqn-{i}" for i in near}
    assert "gj-focus" in d.nodes[f"eqn-{target}"]["class"].split()
    two = parse(view.neighbourhood(str(target), hops=2)).ids("gj-eqn")
    assert {f"eqn-{i}" for i in near} < two
    capped = G.jaxpr_graph(m, focus=str(target), hops=50, max_nodes=4)
    assert capped.truncated and len(capped.nodes) == 4


def test_neighbourhood_inside_a_closed_group():
    s = models("control")
    loop = next(e for e in s.jaxpr.all_eqns if e.primitive == "while")
    inner_id = loop.id + "_s0_0"
    view = G.jaxpr_graph(s.jaxpr, focus=inner_id, hops=1)
    d = parse(view)
    assert "eqn-" + loop.id in view.expanded
    assert d.cluster_of("eqn-" + inner_id) == f"eqn-{loop.id}:body_jaxpr"
    assert "eqn-" + loop.id + "_s0_1" in d.nodes


# ---------------------------------------------------------------------------- HLO graphs


def _xla_module(s):
    return s.compiled._exe._loaded.hlo_modules()[0]


def _xla_computations(module):
    return {c.name: list(c.instructions()) for c in module.computations()}


def _calls(ins):
    m = re.search(r"calls=%?([\w.\-]+)", ins.to_string())
    return m.group(1) if m else None


def test_hlo_graph_matches_xla():
    s = models("mlp_step")
    xla = _xla_module(s)
    comps = _xla_computations(xla)
    entry = comps[next(n for n in comps if n.startswith("main"))]
    fusions = [i for i in entry if str(i.opcode).endswith("Fusion")]
    assert fusions
    opened = parse(G.hlo_graph(s.hlo_opt))
    cluster_ids = {a["id"] for a in opened.clusters.values()}
    node_ids = set(opened.nodes)
    for ins in entry:
        key = "hloopt-" + ins.name
        assert key in (cluster_ids if ins in fusions else node_ids), key
    for f in fusions:
        body = comps[_calls(f)]
        want = {"hloopt-" + i.name for i in body if not str(i.opcode).endswith("Parameter")}
        assert opened.inside("hloopt-" + f.name) == want
        # a fused instruction reading parameter k is fed by the fusion's operand k
        params = {
            i.name: int(re.search(r"parameter\((\d+)\)", i.to_string()).group(1))
            for i in body
            if str(i.opcode).endswith("Parameter")
        }
        for i in body:
            for op in i.operands():
                if op.name in params:
                    outer = f.operands()[params[op.name]]
                    if not str(outer.opcode).endswith("Fusion"):
                        assert ("hloopt-" + outer.name, "hloopt-" + i.name) in opened.edges
    assert opened.ids("gj-hlo-opt") >= {"hloopt-" + i.name for i in entry}
    # all fusions closed: one node per entry instruction, edges = XLA's operands
    closed = parse(G.hlo_graph(s.hlo_opt, expand=()))
    assert set(closed.nodes) == {"hloopt-" + i.name for i in entry}
    want = {("hloopt-" + o.name, "hloopt-" + i.name) for i in entry for o in i.operands()}
    assert set(closed.edges) == want
    for f in fusions:
        assert "gj-collapsed" in closed.nodes["hloopt-" + f.name]["class"].split()
    one = G.hlo_graph(s.hlo_opt, expand=()).expand(fusions[0].name)
    assert parse(one).clusters and one.expanded == {"hloopt-" + fusions[0].name}


def test_hlo_loops_and_branches_are_clusters():
    s = models("control")
    view = G.hlo_graph(s.hlo_opt)
    d = parse(view)
    kinds = {i.name: i.opcode for i in s.hlo_opt.instructions()}
    loops = [n for n, op in kinds.items() if op in ("while", "conditional")]
    assert loops
    cluster_ids = {a["id"] for a in d.clusters.values()}
    for name in loops:
        assert "hloopt-" + name in cluster_ids
    w = next(i for i in s.hlo_opt.instructions() if i.opcode == "while")
    body = w.attributes["body"].lstrip("%")
    inside = d.inside(f"hloopt-{w.name}:{body}")

    def runs(comp):  # what executes in a computation, fusions opened
        out = set()
        for i in s.hlo_opt.computations[comp].instructions:
            if i.opcode == "fusion":
                out |= runs(i.called[0])
            elif i.opcode != "parameter":
                out.add("hloopt-" + i.name)
        return out

    assert {n for n in inside if ":" not in n} == runs(body)
    # every instruction of a computation that runs (not a reducer) is drawn once
    drawn = {a["id"] for a in d.nodes.values()} | cluster_ids
    for comp in s.hlo_opt.computations.values():
        if comp.is_entry or not s.hlo_opt.is_embedded(comp) or comp.is_fusion:
            for ins in comp.instructions:
                if ins.opcode != "parameter" or comp.is_entry:
                    assert "hloopt-" + ins.name in drawn, ins.name
    pre = parse(G.hlo_graph(s.hlo, stage="hlo"))
    assert pre.ids("gj-hlo") and all(i.startswith("hlo-") for i in pre.ids("gj-hlo"))


def test_hlo_neighbourhood_opens_the_fusion():
    s = models("mlp_step")
    f = s.hlo_opt.fusions()[0]
    fused = s.hlo_opt.computations[f.called[0]].root
    view = G.hlo_graph(s.hlo_opt, expand=(), focus=fused.name, hops=1)
    d = parse(view)
    assert d.cluster_of("hloopt-" + fused.name) == "hloopt-" + f.name
    assert "gj-focus" in d.nodes["hloopt-" + fused.name]["class"].split()
    assert all(n.startswith("hloopt-") for n in d.nodes)


# ---------------------------------------------------------------------------- layout engine


def test_bundled_graphviz_is_there():
    js = G.graphviz_js()
    version = G.graphviz_version()
    raw = open(G.graphviz_module_path(), "rb").read()
    assert hashlib.sha256(raw).hexdigest() == version["sha256"]
    assert len(raw) > 500_000 and version["package"] == "@hpcc-js/wasm-graphviz"
    assert "sourceMappingURL" not in js and re.search(r"export\s*\{[^}]*\bGraphviz\b", js)
    # safe to inline in an HTML page as is: ASCII, nothing that ends a <script> early
    assert js.isascii() and "</script" not in js.lower() and "<!--" not in js
    classic = G.graphviz_js(classic=True)
    assert classic.startswith("var GlassjaxGraphviz = (function ()")
    assert "export{" not in classic.replace(" ", "") and "Graphviz: " in classic
    notice = G.graphviz_notice()
    assert "Eclipse Public License" in notice and "Apache License" in notice
    folder = G.graphviz_module_path().rsplit("/", 1)[0]
    epl = open(folder + "/LICENSE-graphviz-EPL-1.0.txt").read()
    assert epl.startswith("Eclipse Public License - v 1.0") and len(epl) > 10_000
    assert "Apache License" in open(folder + "/LICENSE-hpcc-js-wasm.txt").read()
    glue = G.graph_layout_js()
    for word in (
        "new Worker",
        "terminate",
        "createObjectURL",
        "GlassjaxGraphLayout",
        "data-hlo-opt",
        "data-eqn",
    ):
        assert word in glue
    assert not re.search(r"https?://", glue)


def test_render_svg_without_engines(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert G.render_svg("digraph { a -> b }") is None


@needs_node
def test_wasm_layout_keeps_ids_and_classes():
    s = models("mlp_step")
    view = G.hlo_graph(s.hlo_opt)
    svg = G.render_svg(view.source, engine="node")
    root = ET.fromstring(svg)
    groups = {g.get("id"): g.get("class") for g in root.iter("{http://www.w3.org/2000/svg}g")}
    for f in s.hlo_opt.fusions():
        assert groups["hloopt-" + f.name].split() == [
            "cluster",
            "gj-hlo-opt",
            "gj-fusion",
            "gj-group",
        ]
    for ins in s.hlo_opt.entry.instructions:
        if ins.opcode != "fusion":
            assert "gj-hlo-opt" in groups["hloopt-" + ins.name].split()
    jv = G.jaxpr_graph(s.jaxpr)
    root = ET.fromstring(G.render_svg(jv.source, engine="node"))
    ids = {
        g.get("id")
        for g in root.iter("{http://www.w3.org/2000/svg}g")
        if "gj-eqn" in (g.get("class") or "").split()
    }
    assert ids == {"eqn-" + e.id for e in s.jaxpr.all_eqns}
    with pytest.raises(RuntimeError, match="syntax error"):
        G.render_svg("digraph { a -> ", engine="node")


@needs_node
def test_layout_glue_runs_the_classic_bundle(tmp_path):
    """graph_layout.js with the classic bundle, in node (no Web Worker there, so its
    main-thread path): lays a graph out and refuses one over its size limit."""
    (tmp_path / "gv.js").write_text(G.graphviz_js(classic=True))
    (tmp_path / "glue.js").write_text(G.graph_layout_js())
    dot = G.jaxpr_graph(models("control").jaxpr).source
    (tmp_path / "g.dot").write_text(dot)
    script = """
const fs = require("fs");
const api = require(process.argv[1] + "/glue.js");
const source = fs.readFileSync(process.argv[1] + "/gv.js", "utf8");
const layout = api.create(source, {mainThreadMaxChars: 20000});
const dot = fs.readFileSync(process.argv[1] + "/g.dot", "utf8");
layout.render(dot).then(svg => {
  const big = "digraph {" + "a -> b; ".repeat(5000) + "}";
  return layout.render(big).then(() => console.log(JSON.stringify({svg, big: "laid out"})),
                                 e => console.log(JSON.stringify({svg, big: e.message})));
}).catch(e => { console.log(JSON.stringify({error: e.message})); });
"""
    done = subprocess.run(
        [NODE, "-e", script, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    out = json.loads(done.stdout)
    assert "error" not in out, out
    root = ET.fromstring(out["svg"])
    assert any(g.get("id") == "eqn-0" for g in root.iter("{http://www.w3.org/2000/svg}g"))
    assert "too large to lay out without a Web Worker" in out["big"]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

_CDP = r"""
// Open a page in headless Chromium and poll an expression until it is not "pending".
const { spawn } = require("node:child_process");
const [url, expr, port, profile] = process.argv.slice(1);
const chrome = spawn(process.env.CHROMIUM, ["--headless", "--no-sandbox", "--disable-gpu",
  `--remote-debugging-port=${port}`, `--user-data-dir=${profile}`, "about:blank"],
  {stdio: "ignore"});
const sleep = ms => new Promise(r => setTimeout(r, ms));
(async () => {
  let targets;
  for (let i = 0; i < 100 && !targets; i++) {
    try { targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json(); }
    catch (e) { await sleep(200); }
  }
  const ws = new WebSocket(targets.find(t => t.type === "page").webSocketDebuggerUrl);
  await new Promise(r => { ws.onopen = r; });
  let n = 0; const waiting = new Map();
  ws.onmessage = ev => {
    const m = JSON.parse(ev.data);
    if (waiting.has(m.id)) waiting.get(m.id)(m);
  };
  const send = (method, params) => new Promise(r => {
    waiting.set(++n, r); ws.send(JSON.stringify({id: n, method, params: params || {}})); });
  await send("Page.navigate", {url});
  let value = "pending";
  for (let t0 = Date.now(); value === "pending" && Date.now() - t0 < 30000;) {
    await sleep(200);
    const r = await send("Runtime.evaluate", {expression: expr, returnByValue: true});
    value = (r.result && r.result.result && r.result.result.value) || "pending";
  }
  console.log(value);
})().finally(() => { chrome.kill(); process.exit(0); });
"""

_PAGE = """<!doctype html><html><body><div id="g"></div><pre id="out">pending</pre>
<script type="text/plain" id="gv">@GV@</script>
<script>@GLUE@</script>
<script>
var layout = GlassjaxGraphLayout.create(document.getElementById("gv").textContent);
var result = {};
layout.renderInto(document.getElementById("g"), @DOT@, {members: @MEMBERS@})
  .then(function (svg) {
    result.eqn = [].map.call(svg.querySelectorAll("[data-eqn]"),
                             function (e) { return e.getAttribute("data-eqn"); });
    result.members = [].map.call(svg.querySelectorAll("[data-members]"),
                                 function (e) { return e.getAttribute("data-members"); });
    return layout.render(@BIG@, {timeoutMs: 300});
  })
  .then(function () { result.big = "laid out"; },
        function (e) { result.big = e.message; })
  .then(function () { return layout.render("digraph { a -> b }"); })
  .then(function (svg) { result.after = svg.indexOf("<svg") >= 0; },
        function (e) { result.after = e.message; })
  .then(function () { document.getElementById("out").textContent = JSON.stringify(result); });
</script></body></html>"""


def _node_has_websocket():
    if NODE is None:
        return False
    for flags in ([], ["--experimental-websocket"]):
        check = "process.exit(typeof WebSocket === 'function' ? 0 : 1)"
        r = subprocess.run([NODE, *flags, "-e", check], capture_output=True)
        if r.returncode == 0:
            return flags
    return False


@pytest.mark.skipif(CHROMIUM is None or NODE is None, reason="needs chromium and node")
def test_layout_in_a_browser_worker(tmp_path):
    """graph_layout.js in headless Chromium from a file:// page: the Blob-URL worker
    lays out a graph, annotate() adds the linker's data attributes, a layout over its
    budget is given up with a message, and the next layout still works."""
    import os
    import socket

    flags = _node_has_websocket()
    if flags is False:
        pytest.skip("this node has no WebSocket client")
    view = G.jaxpr_graph(models("control").jaxpr, expand=())
    big = (
        "digraph {"
        + "".join(f"n{i} -> n{i + 1}; n{i} -> n{i * 7919 % 3000};" for i in range(3000))
        + "}"
    )
    page = _PAGE
    for key, value in (
        ("@GV@", G.graphviz_js(classic=True)),
        ("@GLUE@", G.graph_layout_js()),
        ("@DOT@", json.dumps(view.source)),
        ("@MEMBERS@", json.dumps(view.members)),
        ("@BIG@", json.dumps(big)),
    ):
        page = page.replace(key, value.replace("</script", "<\\/script"))
    (tmp_path / "page.html").write_text(page)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    expr = 'document.getElementById("out").textContent'
    done = subprocess.run(
        [
            NODE,
            *flags,
            "-e",
            _CDP,
            (tmp_path / "page.html").as_uri(),
            expr,
            str(port),
            str(tmp_path / "profile"),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        env=dict(os.environ, CHROMIUM=CHROMIUM),
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    s = models("control")
    assert sorted(result["eqn"]) == sorted(e.id for e in s.jaxpr.all_eqns if "_" not in e.id)
    assert sorted(result["members"]) == sorted(" ".join(v) for v in view.members.values())
    assert result["big"].startswith("Gave up laying out this graph after 0.3 s")
    assert result["after"] is True


def test_id_prefix_keeps_several_graphs_apart():
    s = models("mlp_step")
    d = Dot(G.jaxpr_graph(s.jaxpr, id_prefix="g1-").source)
    assert d.ids("gj-eqn") == {"g1-eqn-" + e.id for e in s.jaxpr.all_eqns}
    assert d.graph_attrs["id"] == "g1-gj-jaxpr-graph"
    view = G.hlo_graph(s.hlo_opt, id_prefix="g2-")
    assert {a["id"] for a in Dot(view.source).clusters.values()} == {
        "g2-hloopt-" + f.name for f in s.hlo_opt.fusions()
    }
    assert view.to_dict()["id_prefix"] == "g2-"
