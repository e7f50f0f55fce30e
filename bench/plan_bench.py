"""``make bench``: offline-plan time for stacks of 1, 10 and 100 services against a baseline.

The baseline runs ``bench/baseline_program.py`` (bare resources, hand-built JSON) on the same
mock runtime, so the ratio is what our validation, rendering and components cost on top.
Target: at 100 services, ours within 1.3x of the baseline.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from components.cli.plan import plan_files, run_program

HERE = Path(__file__).resolve().parent
SIZES = (1, 10, 100)
REPEATS = 5
ENGINES = ("vllm", "sglang")


def stack_config(count: int) -> dict[str, str]:
    """A stack of ``count`` services spread over models, engines and features."""
    models = ("Qwen3-8B", "Qwen3-4B", "Qwen3-0.6B-FP8", "Qwen3-1.7B")
    services = {
        f"svc{i}": {
            "model": models[i % len(models)],
            "engine": ENGINES[i % len(ENGINES)],
            "toolCalling": i % 2 == 0,
            "reasoning": i % 3 == 0,
            "thinking": i % 5 != 0,
            "resource": {"kind": "public", "instanceTypes": ["ml.gu7i.c16m60.1-gu30"]},
        }
        for i in range(count)
    }
    return {"alicloud:region": "cn-hangzhou", "qwen3-eas:services": json.dumps(services)}


def _median_seconds(fn) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


BASELINE_CLI = (
    "import sys; from pathlib import Path; from components.cli.plan import run_program; "
    "run_program('bench', {'bench:count': sys.argv[1]}, program=Path(sys.argv[2]))"
)


def _row(count: int, ours: float, base: float) -> str:
    return f"{count:>8}  {ours:>9.3f}  {base:>12.3f}  {ours / base:>5.2f}x"


def in_process() -> list[str]:
    """The program on the mock runtime alone (imports done): what registration costs."""
    lines = ["in-process: program on the mock runtime, imports excluded",
             f"{'services':>8}  {'ours (s)':>9}  {'baseline (s)':>12}  {'ratio':>6}"]
    for count in SIZES:
        config = stack_config(count)
        ours = _median_seconds(lambda config=config: plan_files("bench", run_program("bench", config)))
        base = _median_seconds(lambda count=count: run_program(
            "bench", {"bench:count": str(count)}, program=HERE / "baseline_program.py"))
        lines.append(_row(count, ours, base))
    return lines


def end_to_end() -> list[str]:
    """What a user waits for: `qwen3-eas plan` (files written) vs the baseline process."""
    lines = ["end to end: a fresh process each run (interpreter, imports, program, files)",
             f"{'services':>8}  {'ours (s)':>9}  {'baseline (s)':>12}  {'ratio':>6}"]
    root = HERE.parent
    with tempfile.TemporaryDirectory() as tmp:
        for count in SIZES:
            config = stack_config(count)
            document = {"config": {**config, "qwen3-eas:services": json.loads(config["qwen3-eas:services"])}}
            stack_file = Path(tmp) / f"Pulumi.bench{count}.yaml"
            stack_file.write_text(yaml.safe_dump(document))
            ours = _median_seconds(lambda f=stack_file: subprocess.run(
                [sys.executable, "-m", "components.cli.plan", str(f), "--out", str(Path(tmp) / "out")],
                cwd=root, check=True, capture_output=True))
            base = _median_seconds(lambda count=count: subprocess.run(
                [sys.executable, "-c", BASELINE_CLI, str(count), str(HERE / "baseline_program.py")],
                cwd=root, check=True, capture_output=True))
            lines.append(_row(count, ours, base))
    return lines


def pure_layers() -> list[str]:
    """Our own code alone (validation, sizing, rendering, JSON): what we add to Pulumi's cost."""
    from components.core import planning
    from components.core import stack_config as loader

    lines = ["pure layers alone (load, size, render, build JSON; no Pulumi)", f"{'services':>8}  {'time (s)':>9}"]
    for count in SIZES:
        config = stack_config(count)
        seconds = _median_seconds(lambda config=config: planning.plan_stack(loader.load("bench", config)))
        lines.append(f"{count:>8}  {seconds:>9.3f}")
    return lines


def run() -> list[str]:
    """All tables, as report lines."""
    from bench import probe_bench

    return [f"offline plan vs bare-resource baseline (median of {REPEATS} runs, same mock runtime)", "",
            *in_process(), "", *end_to_end(), "", *pure_layers(), "", *probe_bench.run()]


if __name__ == "__main__":
    import logging

    logging.getLogger("qwen3-eas.plan").disabled = True  # the bench stacks' warnings are not news
    print("\n".join(run()))
