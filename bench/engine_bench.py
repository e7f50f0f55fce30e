"""``make bench``, under the real engine: ``pulumi preview`` and ``pulumi up`` of 100 and 1000 services.

The CLI ``make pulumi-cli`` builds runs each program through the Automation API (as ``make
lifecycle`` does: docs/lifecycle.md), with the stand-in ``alicloud`` provider and the fake EAS
answering at once (no rollout waits: what is measured is the engine, the plugins and the
program, not EAS). Ours is the project's ``__main__.py`` with N services of Qwen3-4B on vLLM
(the stack ``bench/plan_bench.py`` plans); the baseline is ``bench/baseline_program.py``, the
same resource graph with hand-built JSON, under the same engine. Each cell is a fresh workspace
(empty state): the preview shows N creates, the up makes them.

Each cell runs twice over: once as users run it, and once with ``PULUMI_SKIP_CHECKPOINTS=true``.
With a file (DIY) backend the engine serialises and checks the whole state after every step, in
preview too (pulumi v3.276.0 ``pkg/backend/diy/backend.go`` installs a snapshot manager for every
operation, ``pkg/backend/snapshot.go`` ``saveSnapshot``), so preview and up of N services cost
O(N^2) in the CLI whatever the program. The second run writes the state once at the end, which
shows what is left: the program, the plugins and the SDK. It is a measurement, not advice
(docs/benchmarks.md says what skipping checkpoints risks).

Targets (issue 17): ours within 1.3x of the baseline for preview and for up, at 100 and at 1000
services; ours at 1000 at most 11x ours at 100. Runs are interleaved (ours, baseline, ...) so a
neighbour's load falls on both.

    python -m bench.engine_bench [--repeats N] [--sizes 100 1000] [--state per-step once]
"""

from __future__ import annotations

import argparse
import json
import runpy
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from lifecycle.engine import ROOT, EngineMissingError, Workspace, cli_path
from tests.fake_eas import FakeEas, fake_eas

from .plan_bench import A10, BASELINE, _load, machine, uniform_stack

ENGINE_RATIO_TARGET = 1.3
GROWTH_TARGET = 11.0
VERBS = ("preview", "up")
# How the engine writes the state: after every step (the default), or once at the end.
STATE_MODES: dict[str, dict[str, str]] = {"per-step": {}, "once": {"PULUMI_SKIP_CHECKPOINTS": "true"}}
Results = dict[str, dict[int, dict[str, dict[str, list[float]]]]]
"""state mode -> size -> program -> verb -> seconds of each repeat."""


def _meta() -> dict[str, object]:
    return {"InstanceType": A10, "GPU": "GU30", "GPUAmount": 1, "GPUMemory": 24, "CPU": 16, "Memory": 60,
            "StockStatus": "WithStock", "IsAvailable": True, "Vendor": "ECS"}


def _ours_program() -> None:
    runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")


def _baseline_program() -> None:
    runpy.run_path(str(BASELINE), run_name="__main__")


def _ours_stack(count: int) -> str:
    config = uniform_stack(count)
    return yaml.safe_dump({"config": {
        "pulumi:disable-default-providers": ["alicloud"], "alicloud:region": config["alicloud:region"],
        "qwen3-eas:services": json.loads(config["qwen3-eas:services"])}}, sort_keys=False)


def one_cell(eas: FakeEas, program: str, count: int, state: str = "per-step") -> dict[str, float]:
    """Seconds of ``preview`` then ``up`` of ``count`` services, on a fresh state."""
    with tempfile.TemporaryDirectory(prefix="engine-bench-") as tmp:
        workspace = Workspace(Path(tmp), eas.endpoint, env={"STANDIN_EAS_TIME_SCALE": "0", **STATE_MODES[state]})
        run_program: Callable[[], None] = _ours_program
        if program == "ours":
            workspace.write_stack("bench", _ours_stack(count))
        else:
            workspace.write_stack("bench", yaml.safe_dump({"config": {"bench:count": str(count)}}))
            run_program = _baseline_program
        seconds = {}
        for verb in VERBS:
            started = time.perf_counter()
            run = workspace.run(verb, "bench", program=run_program)
            seconds[verb] = time.perf_counter() - started
            if run.error is not None:
                raise RuntimeError(f"{program} {verb} of {count} services failed: {run.error[-2000:]}")
        eas.services.clear()  # the next cell starts from an empty EAS too
        return seconds


def measure(sizes: tuple[int, ...], repeats: int, states: tuple[str, ...] = tuple(STATE_MODES)) -> Results:
    """Every cell ``repeats`` times, ours and the baseline taking turns."""
    results: Results = {state: {size: {p: {v: [] for v in VERBS} for p in ("ours", "baseline")} for size in sizes}
                        for state in states}
    with fake_eas(metas=[_meta()]) as eas:
        for _ in range(repeats):
            for state in states:
                for size in sizes:
                    for program in ("ours", "baseline"):
                        for verb, seconds in one_cell(eas, program, size, state).items():
                            results[state][size][program][verb].append(seconds)
    return results


def _spread(values: list[float]) -> str:
    median = statistics.median(values)
    return f"{(max(values) - min(values)) / median * 100:.0f}%"


def report(results: Results, repeats: int) -> list[str]:
    """The Markdown table and one verdict line per target, for each way of writing the state."""
    lines = [f"### Under the real engine (preview and up, fresh state; median of {repeats})", "",
             "| state written | services | verb | ours (s) | baseline (s) | ratio | spread ours / baseline |",
             "|---|---:|---|---:|---:|---:|---:|"]
    verdicts = []
    for state, by_size in results.items():
        for size, programs in sorted(by_size.items()):
            for verb in VERBS:
                ours, base = programs["ours"][verb], programs["baseline"][verb]
                ratio = statistics.median(ours) / statistics.median(base)
                lines.append(f"| {state} | {size} | {verb} | {statistics.median(ours):.1f} | "
                             f"{statistics.median(base):.1f} | **{ratio:.2f}x** | {_spread(ours)} / {_spread(base)} |")
                verdicts.append(f"- {state}, {verb} of {size}: ours/baseline {ratio:.2f}x "
                                f"(target <= {ENGINE_RATIO_TARGET}x): {_verdict(ratio <= ENGINE_RATIO_TARGET)}")
        if 100 in by_size and 1000 in by_size:
            for verb in VERBS:
                grown = {p: statistics.median(by_size[1000][p][verb]) / statistics.median(by_size[100][p][verb])
                         for p in ("ours", "baseline")}
                verdicts.append(f"- {state}, {verb} growth 100 -> 1000: ours {grown['ours']:.1f}x, baseline "
                                f"{grown['baseline']:.1f}x (target <= {GROWTH_TARGET:.0f}x): "
                                f"{_verdict(grown['ours'] <= GROWTH_TARGET)}")
    return [*lines, "", *verdicts]


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def run(sizes: tuple[int, ...] = (100, 1000), repeats: int = 1,
        states: tuple[str, ...] = tuple(STATE_MODES)) -> list[str]:
    start, before = time.perf_counter(), _load()
    results = measure(sizes, repeats, states)
    return [f"Machine: {machine()}; Pulumi CLI {cli_version()}", "", *report(results, repeats), "",
            f"Load average before {before}, after {_load()}; took {time.perf_counter() - start:.0f} s."]


def cli_version() -> str:
    import subprocess

    return subprocess.run([str(cli_path()), "version"], capture_output=True, text=True, check=False).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs per cell (median reported; default 1: the 1000-service cells take minutes each)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000], help="service counts (default 100 1000)")
    parser.add_argument("--state", nargs="+", choices=list(STATE_MODES), default=list(STATE_MODES),
                        help="how the engine writes the state: after every step, once at the end, or both (default)")
    args = parser.parse_args(argv)
    try:
        print("\n".join(run(tuple(args.sizes), args.repeats, tuple(args.state))))
    except EngineMissingError as exc:
        print(f"engine bench: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
