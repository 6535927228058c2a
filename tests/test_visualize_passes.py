"""XLA's compile pass by pass (visualize.passes) and the executable report
(visualize.executable), on real programs: an MLP training step and the gradient of a
function with ``where`` and reductions. Oracles: XLA's own dump files read as plain text,
the executable's optimized HLO and memory statistics, binutils' objdump, and real JAX
compiling the same program."""

import json
import os
import platform
import re
import shutil
import subprocess
import tempfile

import numpy as np
import pytest
from helpers import real_jax

import engine
import engine.numpy as enp
from visualize.executable import executable_report
from visualize.hlo_model import parse_hlo_module
from visualize.passes import compile_with_passes, elf_symbols, read_dump


def mlp_loss(np_, params, x, y):
    w1, b1, w2, b2 = params
    h = np_.maximum(x @ w1 + b1, 0.0)
    out = h @ w2 + b2
    return np_.sum((out - y) ** 2) / x.shape[0]


def make_train_step(np_, grad):
    def train_step(params, x, y):
        g = grad(lambda p: mlp_loss(np_, p, x, y))(params)
        return [p - 0.1 * gp for p, gp in zip(params, g)]

    return train_step


def where_loss(np_):
    def f(x, y):
        z = np_.where(x > 0, np_.sin(x) * y, np_.exp(-x))
        return np_.sum(z**2) + np_.max(z, axis=0).mean()

    return f


def mlp_inputs():
    r = np.random.RandomState(0)
    params = [
        r.randn(8, 16).astype(np.float32),
        np.zeros(16, np.float32),
        r.randn(16, 4).astype(np.float32),
        np.zeros(4, np.float32),
    ]
    return params, r.randn(32, 8).astype(np.float32), r.randn(32, 4).astype(np.float32)


WHERE_X = np.random.RandomState(1).randn(16, 8).astype(np.float32)
WHERE_Y = np.float32(1.5)


@pytest.fixture(scope="module")
def mlp():
    # CPU's pipeline on purpose (the assertions name its passes), whatever the default device
    return compile_with_passes(
        engine.jit(make_train_step(enp, engine.grad), backend="cpu"), *mlp_inputs()
    )


@pytest.fixture(scope="module")
def where_grad():
    return compile_with_passes(
        engine.jit(engine.grad(where_loss(enp), argnums=(0, 1)), backend="cpu"), WHERE_X, WHERE_Y
    )


# XLA's main fusion pass: "fusion" in the CPU pipeline, "priority-fusion" on GPU.
FUSION_PASS_NAMES = ("fusion", "priority-fusion")


def _fusion_step(timeline):
    steps = [s for s in timeline.passes if s.pass_name in FUSION_PASS_NAMES]
    assert steps, f"no fusion pass among {timeline.pass_names}"
    return steps[0]


# ---------------------------------------------------------------------------- the pass list


@pytest.mark.parametrize("name", ["mlp", "where_grad"])
def test_pass_list_is_ordered_and_each_step_changed_the_module(name, request):
    t = request.getfixturevalue(name)
    assert len(t.passes) >= 3
    assert [s.index for s in t.passes] == list(range(len(t.passes)))
    seqs = [s.seq for s in t.passes if s.seq is not None]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    for s in t.passes:
        assert s.text != s.previous_text
        assert s.diff is not None, s.diff_error  # every dumped module parses
        assert s.text_diff.startswith("---") and "\n+" in s.text_diff
        if s.kind == "pass":
            # XLA's own file name carries the pipeline and the pass
            assert f".{s.pipeline}.after_{s.pass_name}.before_{s.next_pass}.txt" in s.file
    assert t.passes[0].previous_text == t.before_optimizations
    assert t.before_optimizations.startswith("HloModule")
    json.loads(json.dumps(t.to_dict()))  # JSON-able


def test_unchanged_passes_are_skipped(mlp):
    assert mlp.skipped, "XLA writes a file at every pipeline start; unchanged ones are skipped"
    texts = {d["seq"]: d["text"] for d in mlp.dumps}
    order = [d["seq"] for d in mlp.dumps]
    for d in mlp.skipped:
        i = order.index(d["seq"])
        previous = texts[order[i - 1]] if i else mlp.before_optimizations
        assert d["text"] == previous
    kept = {s.seq for s in mlp.passes}
    assert kept.isdisjoint(d["seq"] for d in mlp.skipped)
    assert len(kept - {None}) + len(mlp.skipped) == len(mlp.dumps)


def test_the_fusion_pass_shows_what_it_fused(mlp):
    step = _fusion_step(mlp)
    assert step.pipeline == "HLO_passes_after_layout_assignment"
    assert step.is_fusion_pass and step in mlp.fusion_passes()
    diff = step.diff
    assert len(diff.fused) >= 10 and len(diff.fusions_created) >= 3
    before_file = step.previous_text
    for f in diff.fused:
        # oracle: XLA's own text before the pass holds the instruction at top level ...
        assert re.search(rf"^  (ROOT )?%{re.escape(f['name'])} = ", before_file, re.M), f
        assert not step.previous_module.computations[f["computation"]].is_fusion
        # ... and after the pass a fusion of that kind exists and holds a clone of it
        for fusion_name, kind in zip(f["into"], f["fusion_kinds"]):
            assert re.search(
                rf"%{re.escape(fusion_name)} = \S+ fusion\(.*kind={kind}", step.text
            ), fusion_name
        assert any(step.module.fusions_of(clone) for clone in f["as"])
    # every instruction that left the entry went into a fusion; nothing else was added
    assert diff.removed == []
    assert [a for a in diff.added if a["opcode"] != "fusion"] == []
    assert {a["name"] for a in diff.added} == {f["name"] for f in diff.fusions_created}
    fused_ops = {f["opcode"] for f in diff.fused}
    assert {"maximum", "add", "multiply", "subtract"} <= fused_ops
    assert {f["kind"] for f in diff.fusions_created} == {"kLoop"}
    # the fusions it created are the ones the executable runs
    final = parse_hlo_module(mlp.compiled.as_text())
    for f in diff.fusions_created:
        assert final.instruction(f["name"]).opcode == "fusion"


def test_the_dot_library_rewrite_is_a_fusion_step_too(mlp):
    custom = [s for s in mlp.fusion_passes() if s.pass_name != "fusion"]
    assert custom, mlp.pass_names
    kinds = {f["kind"] for s in custom for f in s.diff.fusions_created}
    assert "kCustom" in kinds
    assert all(f["opcode"] == "dot" for s in custom for f in s.diff.fused)


def test_grad_of_where_fuses_select_and_reductions(where_grad):
    step = _fusion_step(where_grad)
    ops = {f["opcode"] for f in step.diff.fused}
    assert {"select", "sine", "exponential", "reduce"} <= ops, ops
    wrapper = where_grad.find("fusion-wrapper")
    assert wrapper and wrapper[0].diff.fusions_created


def test_pass_list_and_fusions_match_real_jax_compiling_the_same_program(where_grad, tmp_path):
    jax, jnp = real_jax()
    cpu = jax.devices("cpu")[0]
    x, y = jax.device_put(WHERE_X, cpu), jax.device_put(WHERE_Y, cpu)
    compiled = (
        jax.jit(jax.grad(where_loss(jnp), argnums=(0, 1)))
        .lower(x, y)
        .compile(
            compiler_options={
                "xla_dump_to": str(tmp_path),
                "xla_dump_hlo_pass_re": ".*",
                "xla_dump_hlo_as_text": True,
            }
        )
    )
    theirs = read_dump(str(tmp_path), compiled_text=compiled.as_text())
    assert theirs.final_matches_compiled()
    ours_steps = [(s.pipeline, s.pass_name) for s in where_grad.passes]
    assert ("HLO_passes_after_layout_assignment", "fusion") in ours_steps
    assert set(ours_steps) <= {(s.pipeline, s.pass_name) for s in theirs.passes}
    ours_f, theirs_f = _fusion_step(where_grad).diff, _fusion_step(theirs).diff
    assert sorted(f["kind"] for f in ours_f.fusions_created) == sorted(
        f["kind"] for f in theirs_f.fusions_created
    )
    assert len(where_grad.kernels) == len(theirs.kernels)


def test_unchanged_dump_files_are_not_steps_when_every_pass_is_dumped(mlp, tmp_path):
    # Rebuild a dump where every pass wrote a file: copies of the unchanged state appear.
    lines = mlp.before_optimizations
    prefix = "module_0000.m."
    files = {
        prefix + "before_optimizations.txt": lines,
        prefix + "0000.p.after_pipeline-start.before_a.txt": lines,
        prefix + "0001.p.after_a.before_b.txt": lines,
        prefix + "0002.p.after_b.before_pipeline-end.txt": mlp.passes[0].text,
        prefix + "cpu_after_optimizations.txt": mlp.passes[0].text,
        prefix + "debug_options": 'xla_dump_hlo_pass_re: ".+"\n',
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    t = read_dump(str(tmp_path))
    assert t.every_pass_dumped is True
    assert [s.pass_name for s in t.passes] == ["b"]
    assert [d["pass_name"] for d in t.skipped] == ["pipeline-start", "a"]


# ---------------------------------------------------------------------------- final artifacts


@pytest.mark.parametrize("name", ["mlp", "where_grad"])
def test_final_module_is_the_executables(name, request):
    t = request.getfixturevalue(name)
    assert t.final_matches_compiled() is True
    dumped = t.after_optimizations.strip().splitlines()
    executable = t.compiled.as_text().strip().splitlines()
    assert len(dumped) == len(executable)
    # the two printers differ at most in the key order of backend_config JSON
    for a, b in zip(dumped, executable):
        if a != b:
            assert "backend_config=" in a and sorted(a) == sorted(b)
    last = t.passes[-1]
    assert last.text == t.after_optimizations or last.kind == "final"


def test_memory_reports_are_parsed_and_agree_with_xla_statistics(mlp):
    stats = mlp.compiled.memory_analysis()
    ba, usage, live = mlp.buffer_assignment, mlp.memory_usage, mlp.live_range
    assert ba.allocations and usage.spaces and live.schedule
    by_kind = ba.bytes_by_kind()
    assert (
        by_kind["parameter"]
        == stats["argument_size_in_bytes"]
        == sum(a.nbytes for a in [*mlp_inputs()[0], *mlp_inputs()[1:]])
    )
    assert by_kind["temp"] == stats["temp_size_in_bytes"]
    assert by_kind.get("output", 0) + by_kind.get("live-out", 0) == stats["output_size_in_bytes"]
    assert usage.total_bytes == ba.total_bytes
    assert sum(r["size"] for s in usage.spaces for r in s["allocations"]) == usage.total_bytes
    final = parse_hlo_module(mlp.after_optimizations)
    assert set(live.schedule) <= {i.name for i in final.entry.instructions}
    assert live.peak_bytes == sum(b["bytes"] for b in live.peak_buffers) > 0
    assert ba.allocation_of("broadcast_maximum_fusion")["kind"] == "temp"


def test_kernels_have_symbols_and_disassembly(mlp):
    final = parse_hlo_module(mlp.after_optimizations)
    loop_fusions = {i.name for i in final.fusions() if i.fusion_kind == "kLoop"}
    assert {k.name for k in mlp.kernels} == loop_fusions
    for k in mlp.kernels:
        assert k.symbols_by_name[k.name]["type"] == "function" and k.code_size > 0
        assert k.llvm_ir.startswith("; ModuleID") and k.llvm_ir_optimized
        assert "ELF" in k.platform
    tool = shutil.which("objdump")
    if tool is None:
        pytest.skip("objdump (binutils) is not installed: disassembly is not produced")
    k = mlp.kernel("broadcast_maximum_fusion")
    text = k.disassembly()
    assert f"<{k.name}>:" in text and re.search(r"\bret\b", text)
    assert k.disassembly_note is None
    # our ELF reader agrees with objdump's symbol table
    with tempfile.NamedTemporaryFile(suffix=".o") as fh:
        fh.write(k.object_bytes)
        fh.flush()
        table = subprocess.run([tool, "-t", fh.name], capture_output=True, text=True).stdout
    row = next(ln for ln in table.splitlines() if ln.endswith(" " + k.name))
    assert int(row.split()[-2], 16) == k.symbols_by_name[k.name]["size"]
    machine, _ = elf_symbols(k.object_bytes)
    expected = {"x86_64": "x86-64", "aarch64": "AArch64", "arm64": "AArch64"}
    assert machine == expected.get(platform.machine(), machine)


def test_dump_folder_is_removed_or_kept_on_request(tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    f = where_loss(enp)
    t = compile_with_passes(f, WHERE_X, WHERE_Y)
    assert t.passes and list(scratch.iterdir()) == [] and t.compiled.dump_dir is None
    kept = tmp_path / "kept"
    lowered = engine.jit(f).lower(WHERE_X, WHERE_Y)
    t2 = compile_with_passes(lowered, dump_dir=str(kept))
    assert any(n.endswith("before_optimizations.txt") for n in os.listdir(kept))
    assert [s.pass_name for s in t2.passes] == [s.pass_name for s in t.passes]
    with pytest.raises(ValueError, match="not empty"):
        compile_with_passes(lowered, dump_dir=str(kept))


# ---------------------------------------------------------------------------- executable report


def test_executable_report_matches_jax_cost_and_measures_time():
    jax, jnp = real_jax()
    theirs = jax.jit(jax.grad(where_loss(jnp), argnums=(0, 1))).lower(WHERE_X, WHERE_Y).compile()
    r = executable_report(
        engine.grad(where_loss(enp), argnums=(0, 1)),
        WHERE_X,
        WHERE_Y,
        device="cpu",
        repeats=7,
        warmup=2,
    )
    cost = theirs.cost_analysis()
    assert r.cost["estimate"] is True and "estimate" in r.cost["source"]
    assert r.cost["flops"] == cost["flops"] > 0
    assert r.cost["transcendentals"] == cost["transcendentals"] > 0
    assert r.cost["bytes_accessed"] == cost["bytes accessed"] > 0
    mem = theirs.memory_analysis()
    assert r.memory["argument_size_in_bytes"] == mem.argument_size_in_bytes == WHERE_X.nbytes + 4
    assert r.memory["temp_size_in_bytes"] == mem.temp_size_in_bytes
    t = r.timing
    assert t["count"] == 7 and t["warmup_runs_excluded"] == 2
    assert 0 < t["min_s"] <= t["median_s"] <= t["max_s"]
    assert t["device"] == r.device == "cpu:0"
    back = json.loads(r.to_json())
    assert back["cost"]["estimate"] is True and back["timing"]["count"] == 7


def test_executable_report_per_kernel_times_or_says_why(mlp):
    r = executable_report(mlp.compiled, *mlp_inputs(), repeats=5, timeline=mlp)
    assert r.memory["object_code_bytes"] == sum(k.code_size for k in mlp.kernels) > 0
    if r.per_kernel is None:
        assert r.per_kernel_note
        return
    final = parse_hlo_module(mlp.compiled.as_text())
    names = {i.name for i in final.top_level_instructions()}
    rows = {row["name"]: row for row in r.per_kernel}
    assert set(rows) <= names
    assert {k.name for k in mlp.kernels} <= set(rows)  # every generated kernel was timed
    assert all(row["median_s"] > 0 and row["calls_per_run"] == 1 for row in rows.values())
    assert abs(sum(row["share"] for row in rows.values()) - 1) < 1e-9


def test_executable_report_without_arguments_is_static_only(mlp):
    r = executable_report(mlp.compiled)
    assert r.timing is None and "no example arguments" in r.timing_note
    assert r.per_kernel is None and r.per_kernel_note
    assert r.cost["flops"] > 0 and r.memory["temp_size_in_bytes"] > 0


def test_executable_report_refuses_a_stage_compiled_for_another_device(mlp):
    devices = engine.devices()
    if len(devices) < 2:
        pytest.skip("needs a second device (e.g. JAX_NUM_CPU_DEVICES=2)")
    with pytest.raises(ValueError, match="compiled for"):
        executable_report(mlp.compiled, *mlp_inputs(), device=devices[1])
