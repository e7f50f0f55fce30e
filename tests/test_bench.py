"""``make bench`` compares like with like: the baseline registers our resource graph, per service."""

from __future__ import annotations

from collections import Counter

from bench.plan_bench import BASELINE, uniform_stack
from components.cli.plan import run_program


def _graph(recorded) -> Counter:
    """Resource kinds below the stack; components and endpoint readers named by role, not type token."""
    kinds: Counter = Counter()
    for res in recorded.resources:
        if res["type"] == "pulumi:pulumi:Stack":
            continue
        if res["type"] in ("qwen3-eas:eas:Qwen3EasService", "bench:eas:Service"):
            kinds["component"] += 1
        elif "__provider" in res["inputs"]:
            kinds["endpoint reader"] += 1
        else:
            kinds[res["type"]] += 1
    return kinds


def test_the_baseline_registers_the_same_graph_as_ours():
    ours = run_program("bench", uniform_stack(3))
    baseline = run_program("bench", {"bench:count": "3"}, program=BASELINE)
    assert _graph(ours) == _graph(baseline) == Counter({
        "component": 3, "alicloud:pai/service:Service": 3, "endpoint reader": 3,
        "pulumi:providers:alicloud": 1})
    # Each component is the parent of its service and its reader, in both.
    for recorded in (ours, baseline):
        parents = Counter(parent.split("::")[-1] for parent in recorded.parents.values() if "::svc" in parent)
        assert parents == {"svc0": 2, "svc1": 2, "svc2": 2}


def test_the_whole_process_bench_runs_its_three_processes(tmp_path):
    """`make bench`'s whole-process part: each process runs to the end (ours writes its plan)."""
    from bench import process_bench

    cmds = process_bench.commands(tmp_path, 2)
    assert list(cmds) == ["ours", *process_bench.BASELINES]
    for args in cmds.values():
        wall, cpu, peak_mb = process_bench.run_once(args, tmp_path)
        assert wall > 0 and cpu > 0 and peak_mb > 10
    written = sorted(p.name for p in (tmp_path / "out2").iterdir())
    assert written == ["plan.json", "plan.md", "plan.stack.json", "svc0.json", "svc1.json"]


def test_the_engine_bench_judges_each_way_of_writing_the_state_against_the_targets():
    from bench.engine_bench import report

    def sample(wall: float) -> dict[str, float]:
        # CPU split over the processes, half the wall time in all, the engine taking most of it.
        return {"wall": wall, "cpu": wall / 2, "program": wall / 8, "engine": wall / 4, "dynamic host": wall / 16,
                "alicloud": wall / 16}

    def cell(ours: float, base: float) -> dict[str, dict[str, list[dict[str, float]]]]:
        return {"ours": {"preview": [sample(ours)], "up": [sample(ours)]},
                "baseline": {"preview": [sample(base)], "up": [sample(base)]}}

    results = {"per-step": {100: cell(10, 5), 1000: cell(300, 150)},  # 2x the baseline, both grow 30x
               "once": {100: cell(6, 5), 1000: cell(66, 50)}}  # 1.2x, then 1.32x: grows 11x against 10x
    lines = report(results, 1)
    verdicts = [line for line in lines if line.startswith("- ")]
    assert "- per-step, up of 1000: ours/baseline 2.00x (CPU 2.00x) (target <= 1.3x): MISSED" in verdicts
    # A preview is held to issue 32's 1.2x, an up to issue 17's 1.3x.
    assert "- once, preview of 100: ours/baseline 1.20x (CPU 1.20x) (target <= 1.2x): met" in verdicts
    assert "- once, up of 1000: ours/baseline 1.32x (CPU 1.32x) (target <= 1.3x): MISSED" in verdicts
    # Growth is judged against the baseline's own, in the same run.
    assert ("- per-step, up growth 100 -> 1000: ours 30.0x, baseline 30.0x (target: at most the baseline's): met"
            in verdicts)
    assert ("- once, preview growth 100 -> 1000: ours 11.0x, baseline 10.0x (target: at most the baseline's): "
            "MISSED" in verdicts)
    assert sum("| once | 1000 | up | 66.0 | 50.0 | **1.32x** | 33.0 | 25.0 | 1.32x |" in line for line in lines) == 1
    # Where the CPU went, process by process, ours / baseline.
    assert "| per-step | 100 | preview | 1.2 / 0.6 | 2.5 / 1.2 | 0.6 / 0.3 | 0.6 / 0.3 |" in lines


def test_the_engine_bench_splits_a_cells_cpu_by_process():
    """The plugin processes are told apart by their command lines; everything else a verb's children
    used is the engine's."""
    from bench.engine_bench import _plugin_kind

    assert _plugin_kind("/work/.venv/bin/python -u -m pulumi.dynamic 127.0.0.1:4567") == "dynamic host"
    assert _plugin_kind("/work/.venv/bin/python -u -m lifecycle.standin_alicloud 127.0.0.1:1") == "alicloud"
    assert _plugin_kind("/work/.cache/pulumi/bin/pulumi preview --client 127.0.0.1:1") is None
