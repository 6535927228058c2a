"""visualize.render_html: the stage panes as HTML, on real programs.

Oracles: real JAX's jaxpr of the same program (its printed text and its equations),
regex scans of XLA's optimized HLO text (instruction names, fusions, the computations
they call, op_name tags and source lines from XLA's metadata tables), and Python's own
HTML parser (what a browser would build from the output). A last test runs the page's
script in headless Chromium, where it is installed."""

import html
import inspect
import json
import linecache
import re
import shutil
import subprocess
import time
from html.parser import HTMLParser

import numpy as np
import pytest
from helpers import real_jax

import engine
import engine.numpy as enp
import visualize
from engine import lax as elax
from visualize import render_html as R

HERE = __file__
VOID = {"meta", "br", "hr", "img", "input", "link", "wbr"}


# ---------------------------------------------------------------------------- programs
# Each is written once over (jit, jnp, lax) so the same code runs in the engine and JAX.


def make_mlp_step(jit, jnp, lax, grad):
    def loss(params, x, y):
        w1, b1, w2, b2 = params
        h = jnp.tanh(x @ w1 + b1)
        out = h @ w2 + b2
        return jnp.mean(jnp.sum((out - y) ** 2, axis=-1))

    def step(params, x, y):
        grads = grad(loss)(params, x, y)
        return [p - 0.05 * g for p, g in zip(params, grads)]

    return step


def make_nested(jit, jnp, lax, grad):
    @jit
    def inner(a):
        return jnp.cos(a) + 1.0

    @jit
    def middle(a):
        return inner(a) * 3.0

    def nested(a):
        return jnp.sum(middle(middle(a) - 1.0))

    return nested


def make_control_flow(jit, jnp, lax, grad):
    def control_flow(x, n):
        y = lax.fori_loop(0, n, lambda i, c: c * 1.01 + jnp.sin(c), x)
        z = lax.cond(jnp.sum(y) > 0, lambda a: jnp.cos(a), lambda a: jnp.sin(a) * 2.0, y)
        c, ys = lax.scan(lambda c, r: (c + r, c * 2.0), jnp.zeros(x.shape[1]), z)
        return c, ys

    return control_flow


def _rand(*shape, seed=0):
    return np.random.RandomState(seed).normal(size=shape).astype(np.float32)


PROGRAMS = {
    "mlp_step": (
        make_mlp_step,
        lambda: (
            [_rand(4, 8, seed=1), _rand(8, seed=2), _rand(8, 3, seed=3), _rand(3, seed=4)],
            _rand(5, 4, seed=5),
            _rand(5, 3, seed=6),
        ),
    ),
    "nested": (make_nested, lambda: (_rand(3, 4, seed=7),)),
    "control_flow": (make_control_flow, lambda: (_rand(3, 4, seed=8), 3)),
}
_cache = {}


def built(name):
    """(stage models, link table, stages_html output, its parsed tree)."""
    if name not in _cache:
        make, args = PROGRAMS[name]
        s = visualize.stage_models(make(engine.jit, enp, elax, engine.grad), *args())
        out = R.stages_html(s, uid=f"gj-{name}")
        _cache[name] = (s, R.link_table(s.source_map), out, parse(out))
    return _cache[name]


def jax_jaxpr(name):
    jax, jjnp = real_jax()
    make, args = PROGRAMS[name]
    return jax.make_jaxpr(make(jax.jit, jjnp, jax.lax, jax.grad))(*args())


# ---------------------------------------------------------------------------- an HTML tree


class Node:
    __slots__ = ("tag", "attrs", "children", "parent")

    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.children, self.parent = tag, dict(attrs), [], parent

    def classes(self):
        return (self.attrs.get("class") or "").split()

    def iter(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.iter()

    def text(self, skip_class=("gj-hint",)):
        out = []
        for c in self.children:
            if isinstance(c, str):
                out.append(c)
            elif not set(c.classes()) & set(skip_class):
                out.append(c.text(skip_class))
        return "".join(out)

    def find(self, pred):
        return [n for n in self.iter() if pred(n)]


class TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.cur = self.root
        self.script_texts = []
        self.errors = []

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if self.cur.tag != tag:
            self.errors.append(f"</{tag}> closes <{self.cur.tag}>")
            n = self.cur
            while n is not None and n.tag != tag:
                n = n.parent
            if n is None:
                return
            self.cur = n
        if tag == "script":
            self.script_texts.append(self.cur.text(()))
        self.cur = self.cur.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse(text):
    p = TreeBuilder()
    p.feed(text)
    p.close()
    assert not p.errors, p.errors[:5]
    assert p.cur is p.root, f"unclosed <{p.cur.tag}>"
    return p.root


def pane(tree, kind):
    found = tree.find(lambda n: n.tag == "section" and n.attrs.get("data-kind") == kind)
    assert len(found) == 1, kind
    return found[0]


def attr_values(node, attr):
    return [n.attrs[attr] for n in node.iter() if attr in n.attrs]


def embedded_table(tree):
    scripts = tree.find(lambda n: n.tag == "script" and "gj-links" in n.classes())
    assert len(scripts) == 1
    return json.loads(scripts[0].text(()))


# ---------------------------------------------------------------------------- oracles


def eqn_ids(closed):
    """Equation ids over a jaxpr (the engine's or real JAX's: any object with ``.eqns``
    and params), by the documented scheme: top-level index, nested indices joined by
    "_", "s<k>" first where an equation holds several sub-jaxprs. Also the number of
    sub-jaxprs."""

    def as_jaxpr(x):
        inner = getattr(x, "jaxpr", None)
        if inner is not None and hasattr(inner, "eqns"):
            return inner
        return x if hasattr(x, "eqns") and hasattr(x, "outvars") else None

    def subs(eqn):
        keys = ["jaxpr"] if eqn.primitive.name in ("jit", "pjit") else sorted(eqn.params)
        out = []
        for k in keys:
            v = eqn.params[k]
            for x in v if isinstance(v, tuple) else (v,):
                j = as_jaxpr(x)
                if j is not None:
                    out.append(j)
        return out

    count = [0]

    def walk(jaxpr, prefix):
        ids = []
        for i, eqn in enumerate(jaxpr.eqns):
            eid = prefix + (str(i),)
            ids.append("_".join(eid))
            ss = subs(eqn)
            count[0] += len(ss)
            for k, sj in enumerate(ss):
                ids.extend(walk(sj, eid if len(ss) == 1 else eid + (f"s{k}",)))
        return ids

    ids = walk(as_jaxpr(closed), ())
    return ids, count[0]


_HLO_INS = re.compile(r"^\s*(?:ROOT\s+)?%([\w.\-]+) = .*?\s([a-z][\w\-]*)\(", re.M)
_COMP_HEAD = re.compile(r"^(?:ENTRY\s+)?%([\w.\-]+) \(.*\{\s*$", re.M)


def hlo_text_oracle(text):
    """{computation: [(instruction, opcode, line)]} by a plain scan of XLA's text."""
    comps, cur = {}, None
    for line in text.split("\n"):
        m = _COMP_HEAD.match(line)
        if m:
            cur = comps.setdefault(m.group(1), [])
            continue
        if line.strip() == "}":
            cur = None
            continue
        if cur is not None:
            mi = _HLO_INS.match(line)
            if mi:
                cur.append((mi.group(1), mi.group(2), line))
    return comps


def xla_metadata_lines(text, file):
    """Source lines of ``file`` that XLA's optimized module attributes instructions to
    (through its FileNames/FileLocations/StackFrames tables)."""

    def table(title):
        m = re.search(rf"^{title}\n((?:\d+ .*\n)+)", text, re.M)
        return (
            {}
            if m is None
            else {
                int(r.split(" ", 1)[0]): r.split(" ", 1)[1] for r in m.group(1).strip().split("\n")
            }
        )

    files = {k: json.loads(v) for k, v in table("FileNames").items()}
    locs = {k: dict(re.findall(r"(\w+)=(\d+)", v)) for k, v in table("FileLocations").items()}
    frames = {k: dict(re.findall(r"(\w+)=(\d+)", v)) for k, v in table("StackFrames").items()}
    used = {int(x) for x in re.findall(r"stack_frame_id=(\d+)", text)}
    out = set()
    for fid in used:
        loc = locs[int(frames[fid]["file_location_id"])]
        if files[int(loc["file_name_id"])] == file:
            out.add(int(loc["line"]))
    return out


# ---------------------------------------------------------------------------- tests


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_every_equation_has_an_element_and_the_text_is_the_jaxprs(name):
    s, table, out, tree = built(name)
    closed = s.traced.jaxpr
    ids, n_subjaxprs = eqn_ids(closed)
    jp = pane(tree, "jaxpr")
    rendered = attr_values(jp, "data-eqn")
    assert sorted(rendered) == sorted(ids)  # one element per equation, no extra
    assert len(set(rendered)) == len(rendered)

    # the pane reads as the jaxpr prints (line breaks aside; the collapse hints are not
    # part of the text), and where the engine's jaxpr is JAX's, as JAX prints it
    def norm(t):
        return re.sub(r"[\s;]", "", t)

    shown = norm(jp.find(lambda n: "gj-code" in n.classes())[0].text())
    # the pane writes each nested jaxpr where it is used (JAX's printer names shared or
    # long ones first, "let name = {...} in"), so that its equations link in place
    assert shown == norm(engine.pretty.pp_jaxpr(closed.jaxpr, hoist=False))
    if name in ("nested", "control_flow"):
        theirs = jax_jaxpr(name)
        assert eqn_ids(theirs) == (ids, n_subjaxprs)

    # collapsible sub-jaxprs: one <details> per sub-jaxpr JAX's jaxpr holds
    subs = jp.find(lambda n: n.tag == "details" and "gj-subjaxpr" in n.classes())
    assert len(subs) == n_subjaxprs
    if name in ("nested", "control_flow"):
        assert n_subjaxprs > 0
    for d in subs:
        assert d.children[0].tag == "summary"
        assert any(x.attrs.get("data-eqn") for x in d.iter())  # equations inside


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_every_optimized_instruction_and_fusion_has_an_element(name):
    s, table, out, tree = built(name)
    text = s.compiled.as_text()
    comps = hlo_text_oracle(text)
    opt = pane(tree, "hlo_opt")
    names = attr_values(opt, "data-hlo-opt")
    expected = [i for c in comps.values() for i, _, _ in c]
    assert sorted(names) == sorted(expected)
    fusions = [(i, line) for c in comps.values() for i, op, line in c if op == "fusion"]
    assert fusions, "XLA fused nothing?"
    blocks = {
        n.attrs["data-comp"]: n
        for n in opt.find(lambda n: n.tag == "details" and "data-comp" in n.attrs)
    }
    assert set(blocks) == set(comps)
    big = sum(len(c) for c in comps.values()) > 80
    for fusion, line in fusions:
        assert fusion in names
        called = re.search(r"calls=%([\w.\-]+)", line).group(1)
        # the fusion links to its fused computation, a collapsible block
        refs = opt.find(lambda n: n.tag == "a" and n.attrs.get("data-comp") == called)
        assert refs and refs[0].attrs["href"] == "#" + blocks[called].attrs["id"]
        assert ("open" not in blocks[called].attrs) == big
    entry = [b for b in blocks.values() if "gj-entry" in b.classes()]
    assert len(entry) == 1 and "open" in entry[0].attrs
    # the pre-optimization pane carries data-hlo, never data-hlo-opt
    pre = pane(tree, "hlo")
    assert attr_values(pre, "data-hlo") and not attr_values(pre, "data-hlo-opt")
    pre_names = [
        i for c in hlo_text_oracle(s.lowered.as_text(dialect="hlo")).values() for i, _, _ in c
    ]
    assert sorted(attr_values(pre, "data-hlo")) == sorted(pre_names)


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_link_table_links_each_line_with_work_to_optimized_elements(name):
    s, table, out, tree = built(name)
    assert embedded_table(tree) == json.loads(json.dumps(table))
    opt_names = set(attr_values(pane(tree, "hlo_opt"), "data-hlo-opt"))
    src_keys = set(attr_values(pane(tree, "source"), "data-line"))
    eqn_ids = set(attr_values(pane(tree, "jaxpr"), "data-eqn"))
    mlir_ids = set(attr_values(pane(tree, "mlir"), "data-mlir"))

    def optimized(line_key):
        return {
            x
            for e in table["lines"].get(line_key, ())
            for x in table["eqns"][e].get("o", []) + table["eqns"][e].get("ok", [])
        }

    # every line XLA's own metadata attributes optimized work to
    xla_lines = xla_metadata_lines(s.compiled.as_text(), HERE)
    assert xla_lines
    for ln in xla_lines:
        key = f"{HERE}:{ln}"
        assert key in src_keys
        linked = optimized(key)
        assert linked and linked <= opt_names, (ln, linked)
    # every line holding a live equation
    for e in s.jaxpr.all_eqns:
        if e.live and e.source is not None:
            assert optimized(f"{e.source[0]}:{e.source[1]}"), e
    # every id in the table names an element on the page
    for key, eqns in table["lines"].items():
        assert key in src_keys and set(eqns) <= eqn_ids
    for eid, d in table["eqns"].items():
        assert eid in eqn_ids
        assert set(d.get("m", [])) <= mlir_ids
        assert set(d.get("o", []) + d.get("ok", [])) <= opt_names


def test_fusion_links_are_many_to_one_as_xla_metadata_says():
    """Each fusion stands for every equation XLA's metadata names inside its fused
    computation, and each such equation lists the fusion among its kernels."""
    s, table, out, tree = built("mlp_step")
    comps = hlo_text_oracle(s.compiled.as_text())
    many = 0
    for cname, instrs in comps.items():
        for fusion, op, line in instrs:
            if op != "fusion":
                continue
            body = comps[re.search(r"calls=%([\w.\-]+)", line).group(1)]
            tags = {t for _, _, ln in body for t in re.findall(r"\w\.eqn(\d+)", ln)}
            linked = set(table["hlo_opt"][fusion]["e"])
            assert tags <= linked, (fusion, tags, linked)
            many += len(tags) > 1
            for eid in tags:
                assert fusion in table["eqns"][eid]["ok"]
    assert many > 0  # fusion really merged several equations somewhere


def test_standalone_panes():
    s, table, out, tree = built("control_flow")
    pre_text = s.lowered.as_text(dialect="hlo")
    for out, kind, attr in (
        (R.jaxpr_html(s.jaxpr), "jaxpr", "data-eqn"),
        (R.jaxpr_html(s.traced.jaxpr), "jaxpr", "data-eqn"),
        (R.stablehlo_html(s.mlir, links=s.source_map), "mlir", "data-mlir"),
        (R.hlo_html(s.hlo_opt, links=table), "hlo_opt", "data-hlo-opt"),
        (R.hlo_html(pre_text), "hlo", "data-hlo"),
        (R.source_html(make_control_flow), "source", "data-line"),
    ):
        t = parse(out)
        p = pane(t, kind)
        assert attr_values(p, attr)
        assert len(t.find(lambda n: n.tag == "style")) == 1
        assert len(t.find(lambda n: n.tag == "script")) >= 1
    # StableHLO: one element per printed op (MLIR's own parse and op walk as the oracle)
    from jaxlib.mlir import ir

    from engine import runtime

    count = 0
    with runtime.make_mlir_context():
        module = ir.Module.parse(s.lowered.mlir_text)

        def walk(op):
            n = 0
            for region in op.regions:
                for block in region.blocks:
                    for inner in block.operations:
                        n += 1
                        # "reduce(...) applies stablehlo.add" prints its body inline
                        if " applies " not in str(inner.operation).split("\n")[0]:
                            n += walk(inner.operation)
            return n

        for fn in module.body.operations:
            count += walk(fn.operation)
    p = pane(parse(R.stablehlo_html(s.mlir)), "mlir")
    assert len(attr_values(p, "data-mlir")) == count
    regions = p.find(lambda n: "gj-region" in n.classes())
    assert len(regions) >= 3  # two while loops (scan, fori_loop) and the case
    # source of a function: its own lines, numbered from its first line
    src = pane(parse(R.source_html(make_control_flow)), "source")
    keys = attr_values(src, "data-line")
    first = make_control_flow.__code__.co_firstlineno
    n_lines = len(inspect.getsourcelines(make_control_flow)[0])
    assert keys[0] == f"{HERE}:{first}" and len(keys) == n_lines


def test_themes_and_self_contained():
    s, table, out, tree = built("nested")
    css = tree.find(lambda n: n.tag == "style")[0].text(())
    assert "prefers-color-scheme: dark" in css
    assert '[data-theme="dark"]' in css and '[data-theme="light"]' in css
    for var in (
        "--jp-layout-color0",
        "--jp-content-font-color1",
        "--jp-code-font-family",
        "--jp-border-color2",
    ):
        assert var in css
    assert 'data-jp-theme-light="false"' in css
    root = tree.find(lambda n: "gj-root" in n.classes())[0]
    assert "data-theme" not in root.attrs  # follows the page by default
    dark = parse(R.stages_html(s, theme="dark"))
    assert dark.find(lambda n: "gj-root" in n.classes())[0].attrs["data-theme"] == "dark"
    with pytest.raises(ValueError):
        R.stages_html(s, theme="blue")
    # no network: nothing is loaded from anywhere
    assert not tree.find(lambda n: n.tag in ("link", "img", "iframe") or "src" in n.attrs)
    assert not re.search(r"https?://", out)
    # side by side with a tab per pane for narrow widths
    tabs = tree.find(lambda n: "gj-tab" in n.classes())
    assert [t.text() for t in tabs] == ["Source", "jaxpr", "StableHLO", "HLO", "optimized HLO"]
    assert "@container" in css


# ---------------------------------------------------------------------------- escaping

EVIL = "<script>alert(1)</script>\"&'"
EVIL_FILE = '/tmp/<script>alert(3)</script>&"q".py'
EVIL_SRC = """def evil(params, x):
    # </script><script>alert(2)</script> & "quotes" <b>bold</b>
    y = inner(params[EVIL] * x)
    return y + params['a"b&c']
"""


def _hostile_program():
    def inner(a):
        return enp.sin(a) * 2.0

    inner.__code__ = inner.__code__.replace(co_name=EVIL, co_qualname=EVIL)
    inner.__name__ = inner.__qualname__ = EVIL
    ns = {"enp": enp, "EVIL": EVIL, "inner": engine.jit(inner)}
    exec(compile(EVIL_SRC, EVIL_FILE, "exec"), ns)
    f = ns["evil"]
    f.__code__ = f.__code__.replace(co_name=EVIL, co_qualname=EVIL)
    f.__name__ = f.__qualname__ = EVIL
    linecache.cache[EVIL_FILE] = (len(EVIL_SRC), None, EVIL_SRC.splitlines(True), EVIL_FILE)
    params = {EVIL: np.ones(3, np.float32), 'a"b&c': np.ones(3, np.float32)}
    return f, (params, np.ones(3, np.float32))


def test_hostile_names_are_escaped():
    f, args = _hostile_program()
    s = visualize.stage_models(f, *args)
    outputs = [
        R.stages_html(s),
        R.jaxpr_html(s.jaxpr, links=s.source_map),
        R.stablehlo_html(s.mlir),
        R.hlo_html(s.hlo_opt),
        R.hlo_html(s.hlo),
        R.source_html(EVIL_SRC, file=EVIL_FILE),
        R.source_html(None, file=EVIL_FILE),
    ]
    for out in outputs:
        assert "<script>alert" not in out
        p = TreeBuilder()
        p.feed(out)
        p.close()
        assert not p.errors
        tree = p.root
        # script elements: ours only (the linker, and the link table where there is one)
        scripts = tree.find(lambda n: n.tag == "script")
        assert out.count("<script") == out.count("</script") == len(scripts)
        assert [sc.classes() for sc in scripts][-1] == []
        assert "GlassjaxLinker.init(" in scripts[-1].text(())
        for sc in scripts[:-1]:
            assert sc.classes() == ["gj-links"] and sc.attrs["type"] == "application/json"
            json.loads(sc.text(()))  # the JSON still parses
        assert len(scripts) <= 2
        tags = {n.tag for n in tree.iter()}
        assert tags <= {
            "#root",
            "div",
            "span",
            "style",
            "script",
            "details",
            "summary",
            "section",
            "button",
            "a",
        }, tags
        for n in tree.iter():
            assert "b" != n.tag
            for k in n.attrs:
                assert not k.startswith("on"), k
        texts = [c for n in tree.iter() for c in n.children if isinstance(c, str)]
        attrs = [v for n in tree.iter() for v in n.attrs.values() if v]
        # the hostile names are shown, as text or attribute values
        assert any(EVIL in t or EVIL_FILE in t for t in texts + attrs)
    whole = parse(outputs[0])
    texts = " ".join(c for n in whole.iter() for c in n.children if isinstance(c, str))
    # the function name (in the heading and in XLA's FunctionNames table), the file
    # path and the source comment, all as text
    assert f"jit({EVIL})" in texts
    assert '# </script><script>alert(2)</script> & "quotes" <b>bold</b>' in texts
    assert EVIL_FILE in texts
    src_keys = attr_values(pane(whole, "source"), "data-line")
    assert f"{EVIL_FILE}:3" in src_keys and f"{EVIL_FILE}:4" in src_keys
    table = embedded_table(whole)
    assert f"{EVIL_FILE}:3" in table["lines"]
    # the nested jit's name param (the function's name) is in the jaxpr pane as text
    jp = pane(whole, "jaxpr")
    assert f"name={EVIL}" in jp.text()
    # titles carry the function name, escaped in the attribute and intact when read
    titles = attr_values(jp, "title")
    assert any(f"in {EVIL}" in t for t in titles)
    assert html.escape(EVIL) in outputs[0]


# ---------------------------------------------------------------------------- scale


def test_scale_5000_equation_jaxpr_prints_time():
    def f(x):
        for _ in range(1000):
            x = enp.sin(x) * 1.01 + x * x - 0.5
        return x

    closed = engine.make_jaxpr(f)(np.ones((4,), np.float32))
    t0 = time.perf_counter()
    model = visualize.JaxprModel(closed)
    t1 = time.perf_counter()
    out = R.jaxpr_html(model)
    t2 = time.perf_counter()
    print(
        f"\n5,000-equation jaxpr: model {t1 - t0:.3f} s, HTML {t2 - t1:.3f} s "
        f"({len(out) / 1e6:.1f} MB)"
    )
    s, table, _, _ = built("mlp_step")
    t3 = time.perf_counter()
    R.hlo_html(s.hlo_opt, links=table)
    t4 = time.perf_counter()
    print(f"MLP step optimized HLO: HTML {t4 - t3:.4f} s")
    assert out.count('data-eqn="') == len(model.all_eqns) == 5000


# ---------------------------------------------------------------------------- in a browser

_PROBE = r"""<pre id="probe"></pre><script>
(function () {
  var root = document.querySelector(".gj-root"), res = {};
  function counts() { var o = {}; root.querySelectorAll(".gj-pane").forEach(function (p) {
    o[p.dataset.kind] = p.querySelectorAll(".gj-hl").length; }); return o; }
  function click(el) {
    el.dispatchEvent(new MouseEvent("click", {bubbles: true, cancelable: true})); }
  var line = root.querySelector('.gj-source .gj-work');
  click(line);
  res.line = [line.getAttribute("data-line"), counts(), line.classList.contains("gj-sel")];
  var fusion = root.querySelector('.gj-hlo_opt .gj-entry [data-hlo-opt*="fusion"]');
  click(fusion);
  res.fusion = [fusion.getAttribute("data-hlo-opt"), counts(),
    Array.prototype.map.call(root.querySelectorAll(".gj-jaxpr .gj-hl"),
                             function (e) { return e.dataset.eqn; })];
  click(fusion);
  res.cleared = root.querySelectorAll(".gj-hl,.gj-sel").length;
  var code = root.querySelector(".gj-jaxpr .gj-code");
  code.focus();
  ["ArrowDown", "ArrowDown", "Enter"].forEach(function (k) {
    code.dispatchEvent(new KeyboardEvent("keydown", {key: k, bubbles: true})); });
  var sel = root.querySelector(".gj-sel");
  res.keyboard = [sel && sel.dataset.eqn, counts()];
  document.getElementById("probe").textContent = JSON.stringify(res);
})();
</script>"""


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs headless chromium")
def test_clicks_highlight_partners_in_a_browser(tmp_path):
    s, table, out, tree = built("mlp_step")
    page = tmp_path / "page.html"
    page.write_text(R.html_document(out + _PROBE))
    run = subprocess.run(
        [
            "chromium",
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1800,1000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    m = re.search(r'<pre id="probe">(.*?)</pre>', run.stdout, re.S)
    assert m and m.group(1), run.stderr[-2000:]
    res = json.loads(html.unescape(m.group(1)))
    key, counts, selected = res["line"]
    assert selected
    eqns = table["lines"][key]
    assert counts["jaxpr"] == len(eqns)
    for kind in ("mlir", "hlo", "hlo_opt"):
        assert counts[kind] > 0, (kind, counts)
    fusion, counts, hl_eqns = res["fusion"]
    assert sorted(hl_eqns) == sorted(table["hlo_opt"][fusion]["e"])
    assert counts["source"] >= 1 and counts["mlir"] >= 1
    assert res["cleared"] == 0
    eid, counts = res["keyboard"]
    assert eid == s.jaxpr.all_eqns[1].id
    d = table["eqns"][eid]
    assert counts["hlo_opt"] == len(set(d.get("o", []) + d.get("ok", [])))
    assert counts["mlir"] == len(set(d.get("m", []))) > 0
    assert counts["source"] == 1
