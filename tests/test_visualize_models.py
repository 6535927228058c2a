"""visualize's stage models and source map, on real programs.

Oracles: XLA's own parse of the same HLO (jaxlib's HloModule objects: computations,
instruction names, opcodes, operands, printed lines), MLIR's own parse of the StableHLO
(the Python bindings' op walk), independent regex scans of the raw texts, the engine's
printed jaxpr text and real JAX's."""

import json
import re

import numpy as np
import pytest
from helpers import real_jax

import engine
import engine.numpy as jnp
import visualize
from engine import lax

HERE = __file__


# ---------------------------------------------------------------------------- the programs


def mlp_loss(params, x, y):
    w1, b1, w2, b2 = params
    h = jnp.tanh(x @ w1 + b1)
    h = jnp.maximum(h, 0.0)
    out = h @ w2 + b2
    return jnp.mean(jnp.sum((out - y) ** 2, axis=-1))


def mlp_step(params, x, y):
    grads = engine.grad(mlp_loss)(params, x, y)
    return [p - 0.05 * g for p, g in zip(params, grads)]


def layer_norm(x, eps=1e-5):
    mu = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.var(x, axis=-1, keepdims=True)
    return (x - mu) / jnp.sqrt(var + eps)


def transformer_block(x, wq, wk, wv, wo, w1, w2):
    h = layer_norm(x)
    q, k, v = h @ wq, h @ wk, h @ wv
    scores = (q @ k.T) / np.float32(np.sqrt(q.shape[-1]))
    e = jnp.exp(scores - jnp.max(scores, axis=-1, keepdims=True))
    attn = e / jnp.sum(e, axis=-1, keepdims=True)
    x = x + (attn @ v) @ wo
    h = layer_norm(x)
    return x + jnp.tanh(h @ w1) @ w2


@engine.jit
def innermost(a):
    return jnp.cos(a) + 1.0


@engine.jit
def middle(a):
    return innermost(a) * 3.0


@engine.jit
def shared(a):
    return jnp.sin(a) * 2.0


def nested(a):
    b = shared(a)
    c = shared(b + 1.0)
    d = middle(c)
    e = middle(d - 1.0)
    return jnp.sum(e)


def where_loss(x, w):
    y = x @ w
    z = jnp.where(y > 0, y * y, -0.5 * y)
    return jnp.sum(z) + jnp.max(y) - jnp.mean(jnp.abs(x))


def control_flow(x, n):
    y = lax.fori_loop(0, n, lambda i, c: c * 1.01 + jnp.sin(c), x)
    z = lax.cond(jnp.sum(y) > 0, lambda a: jnp.cos(a), lambda a: jnp.sin(a) * 2.0, y)
    c, ys = lax.scan(lambda c, r: (c + r, c * 2.0), jnp.zeros(x.shape[1]), z)
    return c, ys


def _rand(*shape, seed=0):
    return np.random.RandomState(seed).normal(size=shape).astype(np.float32)


def _programs():
    params = [_rand(4, 8, seed=1), _rand(8, seed=2), _rand(8, 3, seed=3), _rand(3, seed=4)]
    d = 8
    block = (
        [_rand(6, d, seed=5)]
        + [_rand(d, d, seed=s) for s in range(6, 10)]
        + [_rand(d, 16, seed=10), _rand(16, d, seed=11)]
    )
    return {
        "mlp_step": (mlp_step, (params, _rand(5, 4, seed=12), _rand(5, 3, seed=13))),
        "transformer_block": (transformer_block, tuple(block)),
        "nested": (nested, (_rand(3, 4, seed=14),)),
        "grad_where": (
            engine.grad(where_loss, argnums=(0, 1)),
            (_rand(5, 4, seed=15), _rand(4, 3, seed=16)),
        ),
        "control_flow": (control_flow, (_rand(3, 4, seed=17), 3)),
    }


PROGRAMS = _programs()
_cache = {}


def models(name):
    if name not in _cache:
        f, args = PROGRAMS[name]
        _cache[name] = visualize.stage_models(f, *args)
    return _cache[name]


# ---------------------------------------------------------------------------- oracles

# HLO text opcodes whose HloOpcode enum name differs beyond dashes and case
_OPCODE_ALIASES = {
    "sine": "sin",
    "cosine": "cos",
    "exponential": "exp",
    "exponentialminusone": "expm1",
    "logplusone": "log1p",
    "countleadingzeros": "clz",
    "popcnt": "populationcount",
    "optbarrier": "optimizationbarrier",
}


def _norm_opcode(text_opcode):
    o = text_opcode.replace("-", "").lower()
    return _OPCODE_ALIASES.get(o, o)


def _xla_view(hlo_module):
    """{computation: {name: (opcode, operands, printed line)}} from jaxlib's HloModule."""
    out = {}
    for comp in hlo_module.computations():
        out[comp.name] = {
            i.name: (
                str(i.opcode).split(".k")[-1].lower(),
                [o.name for o in i.operands()],
                i.to_string(),
            )
            for i in comp.instructions()
        }
    return out


def _pre_opt_oracle(lowered):
    from jaxlib import _jax

    comp = _jax.mlir.mlir_module_to_xla_computation(
        lowered.mlir_text, use_tuple_args=False, return_tuple=False
    )
    return comp.get_hlo_module()


def _post_opt_oracle(compiled):
    return compiled._exe._loaded.hlo_modules()[0]


def _json_or_text(s):
    try:
        return json.loads(s)
    except ValueError:
        return s


def _check_against_xla(model, oracle_module, lines=True):
    xla = _xla_view(oracle_module)
    assert set(xla) == set(model.computations)
    n_fusions = 0
    for cname, insts in xla.items():
        comp = model.computations[cname]
        assert [i.name for i in comp.instructions] and set(insts) == {i.name for i in comp}
        for ins in comp:
            opcode, operands, printed = insts[ins.name]
            assert _norm_opcode(ins.opcode) == opcode, (ins.name, ins.opcode, opcode)
            assert ins.operands == operands, (ins.name, ins.operands, operands)
            # the line XLA prints for the instruction is the one the model kept (a JSON
            # backend_config may come out with its keys in another order)
            ours, _, our_cfg = re.sub(r"^ROOT ", "", ins.text).partition(", backend_config=")
            theirs, _, their_cfg = printed.partition(", backend_config=")
            if lines:
                assert ours == theirs, (ours, theirs)
                assert _json_or_text(our_cfg) == _json_or_text(their_cfg)
            n_fusions += opcode == "fusion"
    counts = model.counts()
    assert counts["instructions"] == sum(len(v) for v in xla.values())
    assert counts["fusions"] == n_fusions
    return counts


def _regex_counts(text):
    """Counts read off the raw text with no parser: instruction lines and fusion ops."""
    inst = re.findall(r"^\s*(?:ROOT )?%?[\w.\-]+ = ", text, flags=re.M)
    fusions = re.findall(r"^\s*(?:ROOT )?%?[\w.\-]+ = .*? fusion\(", text, flags=re.M)
    return len(inst), len(fusions)


# ---------------------------------------------------------------------------- HLO models


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_hlo_models_match_xla(name):
    s = models(name)
    post = _check_against_xla(s.hlo_opt, _post_opt_oracle(s.compiled))
    pre = _check_against_xla(s.hlo, _pre_opt_oracle(s.lowered))
    assert (post["instructions"], post["fusions"]) == _regex_counts(s.compiled.as_text())
    assert (pre["instructions"], pre["fusions"]) == _regex_counts(s.lowered.as_text("hlo"))
    assert pre["fusions"] == 0 and post["fusions"] > 0
    for m in (s.hlo, s.hlo_opt):
        assert m.entry is not None and m.entry.root.is_root and not m.duplicate_names
        # every instruction's metadata is what the line says, and the shapes parse back
        for ins in m.instructions():
            found = re.search(r'op_name="([^"]*)"', ins.text)
            assert ins.metadata.op_name == (found.group(1) if found else None)
            assert str(ins.shape) in ins.text
            for leaf in ins.shape.leaves():
                assert leaf.dtype and all(isinstance(d, int) for d in leaf.dims)
    # fused computations are exactly those named by a fusion's calls=
    called = {i.attributes["calls"].lstrip("%") for i in s.hlo_opt.fusions()}
    assert called == {c.name for c in s.hlo_opt.fused_computations()}
    for f in s.hlo_opt.fusions():
        assert f.fusion_kind in ("kLoop", "kInput", "kOutput", "kCustom")


def _jax_programs():
    """Programs compiled by real JAX: its HLO uses features the engine's may not yet
    (custom calls with backend configs, sorts, RNG, FFT, linalg, big constants)."""
    jax, jjnp = real_jax()
    lax_ = jax.lax
    img = _rand(1, 3, 8, 8)
    ker = _rand(4, 3, 3, 3, seed=1)
    return {
        "sort": lambda a: jjnp.sort(a, axis=0) + jjnp.argsort(a[0]),
        "cumsum_fft": lambda a: jjnp.cumsum(a, axis=1) + jjnp.fft.fft(a).real,
        "conv_big_constant": lambda a: lax_.conv(img, ker, (1, 1), "SAME") * a[0, 0],
        "solve_eigh": lambda a: (
            jjnp.linalg.solve(a + 8 * jjnp.eye(8), a) + jjnp.linalg.eigh(a + a.T)[0]
        ),
        "gather_scatter": lambda a: (
            a[jjnp.array([1, 3, 5])].sum() + a.at[jjnp.array([1, 3])].add(1.0)
        ),
        "rng": lambda a: jax.random.normal(jax.random.key(0), (4,)) + a[0, :4],
        "loops": lambda a: (
            lax_.while_loop(lambda c: c[0] < 5, lambda c: (c[0] + 1, c[1] * 1.1), (0, a))[1]
            + lax_.scan(lambda c, r: (c + r, c), jjnp.zeros(8), a)[1]
        ),
        "cond_topk": lambda a: (
            lax_.cond(a[0, 0] > 0, jjnp.sin, jjnp.cos, a)[:, :3] + lax_.top_k(a, 3)[0]
        ),
        "dtypes": lambda a: (
            (a.astype(jjnp.bfloat16) @ a.astype(jjnp.bfloat16)).astype(jjnp.float32)
            + jjnp.abs(jjnp.exp(1j * a))
            + ((a * 10).astype(jjnp.int32) // 3 % 5)
        ),
        "tuple_out": lambda a: (
            a,
            a.sum(),
            jjnp.argmax(a),
            lax_.reduce_window(a, -jjnp.inf, lax_.max, (2, 2), (2, 2), "VALID"),
        ),
        "grad_remat": jax.grad(
            lambda a: (
                jjnp.sum(jax.checkpoint(lambda b: jjnp.sin(b) @ b)(a)) + jjnp.sum(jax.nn.gelu(a))
            )
        ),
    }


@pytest.mark.parametrize(
    "name",
    [
        "sort",
        "cumsum_fft",
        "conv_big_constant",
        "solve_eigh",
        "gather_scatter",
        "rng",
        "loops",
        "cond_topk",
        "dtypes",
        "tuple_out",
        "grad_remat",
    ],
)
def test_models_parse_real_jax_programs(name):
    jax, _ = real_jax()
    import jaxlib._hlo as xla_hlo

    lowered = jax.jit(_jax_programs()[name]).lower(_rand(8, 8))
    compiled = lowered.compile()
    post = visualize.parse_hlo_module(compiled.as_text())
    _check_against_xla(post, compiled.runtime_executable().hlo_modules()[0])
    # JAX prints pre-optimization HLO without '%' sigils; XLA's parser is the oracle
    pre_text = lowered.as_text("hlo")
    pre = visualize.parse_hlo_module(pre_text)
    _check_against_xla(pre, xla_hlo.hlo_module_from_text(pre_text), lines=False)
    for m, text in ((post, compiled.as_text()), (pre, pre_text)):
        c = m.counts()
        assert (c["instructions"], c["fusions"]) == _regex_counts(text)
    # JAX's StableHLO (call-site and name locations) parses to MLIR's own op walk
    mlir_text = lowered.as_text(debug_info=True)
    mm = visualize.parse_mlir_module(mlir_text)
    assert mm.display_text()[0] == lowered.as_text()
    oracle = _mlir_oracle_ops(mlir_text)
    assert list(oracle) == list(mm.functions)
    for fname, ops in oracle.items():
        mine = mm.functions[fname].ops
        assert [_generic_name(o) for o in mine] == [o[0] for o in ops]
        for op, (_, n_results, loc) in zip(mine, ops):
            assert len(op.results) == n_results
            assert (op.location.kind == "unknown") == (loc == "loc(unknown)")
            fl = op.location.file_location()
            if fl:
                assert f'"{fl[0]}":{fl[1]}:{fl[2]}' in loc
            for n in op.location.names():
                assert f'"{n}"' in loc


def test_hlo_parser_odd_syntax():
    text = """HloModule m, entry_computation_layout={(f32[2]{0}, /*index=1*/s32[])->(f32[2]{0}, s32[])}

FileNames
1 "a \\"quoted\\" file.py"

FunctionNames
1 "<lambda>"

FileLocations
1 {file_name_id=1 function_name_id=1 line=7 end_line=7 column=1 end_column=1}

StackFrames
1 {file_location_id=1 parent_frame_id=1}

%region (a: f32[], b: f32[]) -> f32[] {
  %a = f32[] parameter(0)
  %b = f32[] parameter(1)
  ROOT %add = f32[] add(%a, %b), metadata={op_name="add.eqn0" stack_frame_id=1}
}

ENTRY %main (p0: f32[2], p1: s32[]) -> (f32[2], s32[]) {
  %p0 = f32[2]{0} parameter(0)
  %p1 = s32[] parameter(1)
  %c = f32[2,2]{1,0} constant({ { 1, 2 }, { 3, 4 } })
  %cc = f32[2]{0} custom-call(%p0, %c), custom_call_target="my, target", backend_config="{\\"k\\": [1, 2]}"
  %r = f32[] reduce(%cc, %p0), dimensions={0}, to_apply=%region
  ROOT %t = (f32[2]{0}, s32[]) tuple(%cc, /*index=1*/%p1)
}
"""
    m = visualize.parse_hlo_module(text)
    assert m.name == "m" and m.entry.name == "main"
    assert m.file_names[1] == 'a "quoted" file.py'
    c = m.instruction("c")
    assert c.opcode == "constant" and c.literal == "{ { 1, 2 }, { 3, 4 } }" and c.operands == []
    assert c.shape.dims == (2, 2) and c.shape.layout == (1, 0)
    cc = m.instruction("cc")
    assert cc.custom_call_target == "my, target" and cc.backend_config == '{"k": [1, 2]}'
    assert cc.operands == ["p0", "c"]
    t = m.instruction("t")
    assert t.is_root and t.operands == ["cc", "p1"] and t.shape.is_tuple
    assert [x.dtype for x in t.shape.leaves()] == ["f32", "s32"]
    assert m.instruction("r").called == ["region"]
    add = m.instruction("add")
    assert add.metadata.source == ('a "quoted" file.py', 7)
    assert add.metadata.stack[0].function == "<lambda>"
    assert m.kernels_of("add") == ["r"] and m.is_embedded("region")
    assert m.instruction("p1").parameter_number == 1


# ---------------------------------------------------------------------------- StableHLO model


def _mlir_oracle_ops(text):
    """Per function, the op names in pre-order, from MLIR's own parser."""
    from jaxlib.mlir import ir

    from engine import runtime

    with runtime.make_mlir_context():
        module = ir.Module.parse(text)
        out = {}
        for fn in module.body.operations:
            name = ir.StringAttr(fn.attributes["sym_name"]).value
            ops = []

            def walk(op):
                for region in op.regions:
                    for block in region.blocks:
                        for inner in block.operations:
                            ops.append(
                                (inner.operation.name, len(inner.results), str(inner.location))
                            )
                            # "reduce(...) applies stablehlo.add" prints its body inline
                            if " applies " not in str(inner.operation).split("\n")[0]:
                                walk(inner.operation)

            walk(fn.operation)
            out[name] = ops
        return out


def _generic_name(op):
    return {"return": "func.return", "call": "func.call"}.get(op.name, op.name)


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_mlir_model_matches_mlir(name):
    s = models(name)
    oracle = _mlir_oracle_ops(s.lowered.mlir_text)
    assert list(oracle) == list(s.mlir.functions)
    for fname, ops in oracle.items():
        mine = s.mlir.functions[fname].ops
        assert [_generic_name(o) for o in mine] == [o[0] for o in ops]
        assert [len(o.results) for o in mine] == [o[1] for o in ops]
        for op, (_, _, loc) in zip(mine, ops):
            # MLIR prints the resolved location; its names and file:line are ours
            if op.location.tag:
                assert f'"{op.location.tag}"' in loc
                file, line, _ = op.location.file_location()
                assert f'"{file}":{line}:' in loc
            for r, t in zip(op.results, op.result_types):
                assert t.startswith("tensor<") or t.startswith("!")
    text, lines = s.mlir.display_text()
    assert text == s.lowered.as_text()  # the debug-info text minus locations round-trips
    shown = text.split("\n")
    for op in s.mlir.ops():
        assert op.name.strip('"').split(".")[-1] in shown[lines[op.id]]


def test_mlir_locations_and_functions():
    s = models("nested")
    fns = s.mlir.functions
    assert set(fns) == {"main", "shared", "middle", "innermost"}
    calls = [op for op in s.mlir.ops() if op.callee]
    assert sorted(op.callee for op in calls) == [
        "innermost",
        "middle",
        "middle",
        "shared",
        "shared",
    ]
    sine = [op for op in fns["shared"].ops if op.name == "stablehlo.sine"]
    assert len(sine) == 1
    loc = sine[0].location
    assert loc.tag == "sin.eqn0_0" and loc.function == "shared"
    src_line = open(HERE).read().split("\n").index("    return jnp.sin(a) * 2.0") + 1
    assert loc.file_location()[:2] == (HERE, src_line)


# ---------------------------------------------------------------------------- jaxpr model

_BINDERS = re.compile(r"^\s*((?:[a-z_]+:[a-z0-9]+\[[0-9,]*\] ?)+)= ([\w\-]+)", re.M)


def _printed_eqns(text):
    """(outvar names, primitive) of every equation of a printed jaxpr, in order."""
    out = []
    text = text.replace(" let ", "\n").replace("; ", "\n")
    for binders, prim in _BINDERS.findall(text):
        names = [b.split(":")[0] for b in binders.split()]
        out.append((names, prim))
    return out


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_jaxpr_model_names_as_printed(name):
    s = models(name)
    jm = s.jaxpr
    # nested jaxprs written where used (JAX's printer hoists shared/long ones)
    assert jm.text == engine.pretty.pp_jaxpr(s.traced.jaxpr.jaxpr, hoist=False)
    ours = [(e.outvars, e.primitive) for e in jm.all_eqns]
    assert ours == _printed_eqns(jm.text)
    ids = [e.id for e in jm.all_eqns]
    assert len(set(ids)) == len(ids)
    for e in jm.all_eqns:
        assert e.tag == f"{e.primitive}.eqn{'_'.join(map(str, e.tag_path))}"
        for sub in e.subjaxprs:
            for c in sub.eqns:
                assert jm.eqn(c).parent == e.id


def test_jaxpr_model_names_match_real_jax():
    jax, jjnp = real_jax()

    @jax.jit
    def j_inner(a):
        return jjnp.sin(a) * 2.0

    def j_f(x, y):
        return jjnp.sum(j_inner(x * y) + x)

    @engine.jit
    def e_inner(a):
        return jnp.sin(a) * 2.0

    def e_f(x, y):
        return jnp.sum(e_inner(x * y) + x)

    x, y = _rand(3), _rand(3, seed=1)
    theirs = _printed_eqns(str(jax.make_jaxpr(j_f)(x, y)))
    jm = visualize.JaxprModel(engine.make_jaxpr(e_f)(x, y))
    assert [(e.outvars, e.primitive) for e in jm.all_eqns] == theirs


def test_jaxpr_model_paths_for_control_flow():
    jm = models("control_flow").jaxpr
    by_prim = {}
    for e in jm.all_eqns:
        by_prim.setdefault(e.primitive, []).append(e)
    w = by_prim["while"][0]
    assert [s.param for s in w.subjaxprs] == ["body_jaxpr", "cond_jaxpr"]
    c = by_prim["cond"][0]
    assert [s.param for s in c.subjaxprs] == ["branches", "branches"]
    branch_ids = [jm.eqn(i) for s in c.subjaxprs for i in s.eqns]
    assert [e.id for e in branch_ids] == [f"{c.id}_s0_0", f"{c.id}_s0_1", f"{c.id}_s1_0"]
    # lowering numbers each branch, so tag paths are unique like the ids
    assert branch_ids[0].tag_path == (int(c.id), "s0", 0)
    assert branch_ids[2].tag_path == (int(c.id), "s1", 0)
    scan = by_prim["scan"][0]
    assert [jm.eqn(i).id for i in scan.subjaxprs[0].eqns] == [f"{scan.id}_0", f"{scan.id}_1"]


# ---------------------------------------------------------------------------- source map


def _live_lines(s):
    lines = {}
    for e in s.jaxpr.all_eqns:
        if e.source is not None and e.source[0] == HERE:
            lines.setdefault(e.source[1], []).append(e)
    return {ln: es for ln, es in lines.items() if any(e.live for e in es)}


_SOURCE_MAP_XFAIL = {
    "grad_where": "jnp.where is now a jit (_where, as JAX's) called by the forward and the "
    "backward pass: the lowering emits one private function for both calls, tagged with "
    "the first call's equation paths, so its ops link to that call's equations only",
}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=_SOURCE_MAP_XFAIL[n]))
        if n in _SOURCE_MAP_XFAIL
        else n
        for n in PROGRAMS
    ],
)
def test_source_map_links(name):
    s = models(name)
    sm = s.source_map
    jm = s.jaxpr
    # jaxpr -> StableHLO is exact: each tagged op names exactly its equations, and an
    # equation without ops is one whose lowering is an identity
    # how many times each function's body is printed in the jaxpr = calls that run it
    # (a scan's body, emitted as JAX's @closed_call, is run by that one scan)
    fn_calls = {
        f: 1 if f.startswith("closed_call") else jm.text.count(f"name={f}\n")
        for f in s.mlir.functions
    }
    for op in s.mlir.ops():
        eqns = sm.eqns_for_mlir_op(op.id)
        if op.tag is None:
            assert not eqns
            continue
        assert eqns and all(jm.eqn(e).tag == op.tag for e in eqns)
        if op.function == "main":
            assert len(eqns) == 1
        elif op.is_terminator:  # tagged as the call(s) that emitted the function
            assert 1 <= len(eqns) <= fn_calls[op.function]
        else:  # a private function's body: one equation per call that runs it
            assert len(eqns) == fn_calls[op.function] >= 1
    for eid in sm.unlinked()["eqns_without_mlir"]:
        e = jm.eqn(eid)
        if e.tag_path[0] in s.lowered.dead_eqn_indices:  # dead code, removed as JAX does
            continue
        assert e.out_avals[0] in e.in_avals, e
    # every user line that did live work reaches at least one optimized instruction
    for line, eqns in _live_lines(s).items():
        assert any(sm.hlo_for_eqn(e.id, nested=True) for e in eqns if e.live), (name, line)
        assert sm.hlo_for_line(HERE, line, optimized=False) or any(
            sm.hlo_for_eqn(e.id, optimized=False, nested=True) for e in eqns
        )
        assert sm.kernels_for_line(HERE, line) or any(
            sm.kernels_for_eqn(e.id, nested=True) for e in eqns
        )
    # no op_name names an equation the jaxpr lacks
    un = sm.unlinked()
    assert un["unresolved_op_names_hlo"] == [] and un["unresolved_op_names_hlo_opt"] == []
    # what stays unlinked in the optimized module has no metadata or is a parameter
    for n in un["hlo_opt_without_eqn"]:
        ins = s.hlo_opt.instruction(n)
        assert ins.metadata.op_name is None
    for eid, why in un["eqns_without_hlo_opt"].items():
        assert why in ("dead", "no_ops", "no_metadata")
        assert (why == "dead") == (not jm.eqn(eid).live)
    json.loads(json.dumps(sm.to_dict()))


_TAG = re.compile(r"([A-Za-z_][\w\-]*)\.eqn(\d+(?:_s?\d+)*)")


def _raw_fusion_tags(text):
    """fusion name -> tags read with regexes from the raw optimized text: the last
    segment of each op_name inside its fused computation (and what that calls)."""
    comps, cur = {}, None
    for line in text.split("\n"):
        head = re.match(r"^(?:ENTRY )?%([\w.\-]+) \(.*\{$", line)
        if head:
            cur = comps.setdefault(head.group(1), [])
        elif line.startswith("}"):
            cur = None
        elif cur is not None:
            cur.append(line)

    def tags_of_line(line):
        m = re.search(r'op_name="([^"]*)"', line)
        if not m:
            return set()
        return {
            alt.split("/")[-1]
            for alt in m.group(1).split(";")
            if _TAG.fullmatch(alt.split("/")[-1])
        }

    def closure(cname, seen):
        if cname in seen:
            return set()
        seen.add(cname)
        tags = set()
        for line in comps.get(cname, ()):
            tags |= tags_of_line(line)
            for callee in re.findall(r"(?:calls|to_apply)=%([\w.\-]+)", line):
                tags |= closure(callee, seen)
        return tags

    out = {}
    for lines in comps.values():
        for line in lines:
            m = re.match(r"^\s*(?:ROOT )?%([\w.\-]+) = .*? fusion\(.*calls=%([\w.\-]+)", line)
            if m:
                out[m.group(1)] = tags_of_line(line) | closure(m.group(2), set())
    return out


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_fusion_links_follow_metadata(name):
    s = models(name)
    sm = s.source_map
    raw = _raw_fusion_tags(s.compiled.as_text())
    assert set(raw) == {f.name for f in s.hlo_opt.fusions()}
    for f in s.hlo_opt.fusions():
        if not s.hlo_opt.is_embedded(s.hlo_opt.computation_of(f.name)):
            mine = {s.jaxpr.eqn(e).tag for e in sm.eqns_for_kernel(f.name)}
            assert mine == raw[f.name], f.name
        for line in sm.lines_for_instruction(f.name):
            assert line in sm.lines()


def test_nested_jit_links_each_call():
    s = models("nested")
    sm, jm = s.source_map, s.jaxpr
    calls = [e for e in jm.eqns if jm.eqn(e).primitive == "jit"]
    assert len(calls) == 4
    first, second, mid1, mid2 = calls
    # the shared function's ops are emitted once and belong to both calls
    sine_op = next(o for o in s.mlir.ops() if o.name == "stablehlo.sine")
    assert sorted(sm.eqns_for_mlir_op(sine_op.id)) == [f"{first}_0", f"{second}_0"]
    # after inlining XLA prefixes the call's tag, so each copy links to its own call
    for ins in s.hlo_opt.instructions():
        op_name = ins.metadata.op_name or ""
        m = re.match(r"^jit\.eqn(\d+)/", op_name)
        if m and ";" not in op_name:
            eqns = sm.eqns_for_instruction(ins.name)
            assert eqns and all(jm.is_within(e, m.group(1)) for e in eqns), (ins.name, eqns)
    sines = [i for i in s.hlo_opt.instructions() if i.opcode == "sine"]
    assert sorted(e for i in sines for e in sm.eqns_for_instruction(i.name)) == [
        f"{first}_0",
        f"{second}_0",
    ]
    # two levels down XLA's op_name keeps only the innermost call ("jit.eqn3_0/cos...")
    # for both copies; its stack frames (innermost first: the equation's line, then the
    # calls' lines) tell them apart
    cosines = [i for i in s.hlo_opt.instructions() if i.opcode == "cosine"]
    assert len(cosines) == 2
    linked = []
    for cosine in cosines:
        (eid,) = sm.eqns_for_instruction(cosine.name)
        linked.append(eid)
        expected = [jm.eqn(eid).line] + [jm.eqn(a).line for a in jm.ancestors(eid)]
        assert [f.line for f in cosine.metadata.stack] == expected
        assert [f.function for f in cosine.metadata.stack] == ["innermost", "middle", "nested"]
    assert sorted(linked) == [f"{mid1}_0_0", f"{mid2}_0_0"]


def test_queries_agree_with_each_other():
    s = models("mlp_step")
    sm = s.source_map
    line = mlp_loss.__code__.co_firstlineno + 2  # h = jnp.tanh(x @ w1 + b1)
    eqns = sm.eqns_for_line(HERE, line)
    prims = {s.jaxpr.eqn(e).primitive for e in eqns}
    assert {"tanh", "dot_general", "add"} <= prims
    fusions = sm.fusions_for_line(HERE, line)
    assert fusions
    for f in fusions:
        assert (HERE, line) in sm.lines_for_instruction(f)
    tanh_eqn = next(e for e in eqns if s.jaxpr.eqn(e).primitive == "tanh")
    tanh_insts = sm.hlo_for_eqn(tanh_eqn)
    assert any(s.hlo_opt.instruction(i).opcode == "tanh" for i in tanh_insts)
    assert sm.fusions_for_eqn(tanh_eqn)
    assert (
        sm.mlir_ops_for_eqn(tanh_eqn)
        and s.mlir.op(sm.mlir_ops_for_eqn(tanh_eqn)[0]).name == "stablehlo.tanh"
    )
    d = sm.to_dict()
    assert d["lines"][f"{HERE}:{line}"]["hlo_opt_kernels"] == sm.kernels_for_line(HERE, line)
