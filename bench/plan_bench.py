"""``make bench``: offline-plan time against a baseline, at 100 and 1000 services, and its growth.

The baseline (``bench/baseline_program.py``) registers the same resource graph per service
(component, ``alicloud.pai.Service``, endpoint reader) with hand-built JSON, on the same mock runtime
through the same harness. The ratio ours/baseline is then what our validation, sizing, templates
and plan files cost. Targets (issue 11): ours within 1.3x of the baseline at 100 and at 1000
services; the plan of 1000 at most 11x the plan of 100. Start-up (imports) is measured apart: it
is paid once per process, whatever the stack's size. Whole processes (``qwen3-eas plan`` as a
user runs it, against a baseline process) are ``bench/process_bench.py``'s.

Runs are interleaved (ours, baseline, ours, ...) so that a neighbour's load on a shared machine
falls on both; each cell is a median, and the spread column ((max - min) / median) says how
noisy the machine was; the paired ratio is the median of each turn's ours/baseline, which a
load that changes slowly cancels out of. CPU seconds (this process's, all threads) are printed beside wall seconds:
they move less with the machine's load. About three minutes on 2 busy vCPUs.

    python -m bench.plan_bench [--repeats N] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from components.cli.plan import plan_files, release_runtime_threads, run_program

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BASELINE = HERE / "baseline_program.py"
A10 = "ml.gu7i.c16m60.1-gu30"
RATIO_TARGET = 1.3
GROWTH_TARGET = 11.0


def uniform_stack(count: int) -> dict[str, str]:
    """The issue's stack: ``count`` services of Qwen3-4B on vLLM, one public A10 type each."""
    services = {f"svc{i}": {"model": "Qwen3-4B", "engine": "vllm",
                            "resource": {"kind": "public", "instanceTypes": [A10]}} for i in range(count)}
    return {"alicloud:region": "cn-hangzhou", "qwen3-eas:services": json.dumps(services)}


def mixed_stack(count: int) -> dict[str, str]:
    """Services spread over models, engines and features: fewer identical plans to share work."""
    models = ("Qwen3-8B", "Qwen3-4B", "Qwen3-0.6B-FP8", "Qwen3-1.7B")
    engines = ("vllm", "sglang")
    services = {
        f"svc{i}": {
            "model": models[i % len(models)],
            "engine": engines[i % len(engines)],
            "toolCalling": i % 2 == 0,
            "reasoning": i % 3 == 0,
            "thinking": i % 5 != 0,
            "resource": {"kind": "public", "instanceTypes": [A10]},
        }
        for i in range(count)
    }
    return {"alicloud:region": "cn-hangzhou", "qwen3-eas:services": json.dumps(services)}


@dataclass
class Timing:
    wall: list[float]
    cpu: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.wall)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    @property
    def spread(self) -> float:
        return (max(self.wall) - min(self.wall)) / self.median


def interleaved(repeats: int, **fns: Callable[[], object]) -> dict[str, Timing]:
    """Run each function ``repeats`` times, taking turns; wall and CPU seconds per run."""
    timings = {name: Timing([], []) for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            gc.collect()  # the previous run's garbage is not this run's cost
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            timings[name].wall.append(time.perf_counter() - wall)
            timings[name].cpu.append(time.process_time() - cpu)
    return timings


def ours(config: dict[str, str]) -> Callable[[], object]:
    """The offline plan as ``qwen3-eas plan`` runs it, less the imports and writing the files."""
    return lambda: plan_files("bench", run_program("bench", config))


def baseline(count: int) -> Callable[[], object]:
    return lambda: run_program("bench", {"bench:count": str(count)}, program=BASELINE)


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def in_process(sizes: tuple[int, ...], repeats: int) -> tuple[list[str], dict[int, dict[str, Timing]]]:
    """The program on the mock runtime, imports done: what registering the stack costs."""
    ours(uniform_stack(1))()  # first-run imports (the program's own modules) and caches
    baseline(1)()
    rows, results = [], {}
    cases = [(count, "uniform", uniform_stack(count)) for count in sizes] + [(100, "mixed", mixed_stack(100))]
    for count, label, config in cases:
        timed = interleaved(repeats, ours=ours(config), baseline=baseline(count))
        if label == "uniform":
            results[count] = timed
        o, b = timed["ours"], timed["baseline"]
        paired = statistics.median(x / y for x, y in zip(o.wall, b.wall, strict=True))
        rows.append(f"| {count} {label} | {o.median:.3f} | {b.median:.3f} | **{o.median / b.median:.2f}x** | "
                    f"{paired:.2f}x | {o.cpu_median:.3f} | {b.cpu_median:.3f} | {o.cpu_median / b.cpu_median:.2f}x | "
                    f"{_pct(o.spread)} / {_pct(b.spread)} |")
    release_runtime_threads()
    header = ["| services | ours wall (s) | baseline wall (s) | ratio | paired ratio | ours CPU (s) | baseline CPU (s) "
              "| CPU ratio | spread ours / baseline |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    return header + rows, results


def growth(results: dict[int, dict[str, Timing]]) -> list[str]:
    if not (100 in results and 1000 in results):
        return []
    lines = ["| 100 -> 1000 services | wall | CPU |", "|---|---:|---:|"]
    for name in ("ours", "baseline"):
        small, large = results[100][name], results[1000][name]
        lines.append(f"| {name} | {large.median / small.median:.1f}x | {large.cpu_median / small.cpu_median:.1f}x |")
    return lines


def _fresh(args: list[str]) -> Callable[[], object]:
    return lambda: subprocess.run(args, cwd=ROOT, check=True, capture_output=True)


# What each process imports before it can plan: ours through the `qwen3-eas plan` path, the
# baseline only what its program needs (the harness itself is shared, so it is imported by both).
IMPORTS = {
    "interpreter alone": "pass",
    "baseline: harness, pulumi, pulumi_alicloud.pai, endpoint reader":
        "import components.cli.plan, pulumi, pulumi_alicloud.pai, components.endpoint",
    "ours: the same, and the program (config models, catalog, sizing, templates)":
        "import components.cli.plan, pulumi, pulumi_alicloud.pai, components.program, components.core.plan.report",
}


def start_up(repeats: int) -> list[str]:
    """Fresh interpreters that only import: the fixed cost of every plan, whatever its size."""
    fns = {label: _fresh([sys.executable, "-c", code]) for label, code in IMPORTS.items()}
    timed = interleaved(repeats, **fns)
    lines = ["| fresh process that imports | wall (s) | spread |", "|---|---:|---:|"]
    lines += [f"| {label} | {t.median:.3f} | {_pct(t.spread)} |" for label, t in timed.items()]
    return lines


def pure_layers(sizes: tuple[int, ...], repeats: int) -> list[str]:
    """Our own code alone (load, validate, size, render, build JSON, plan files): no Pulumi."""
    from components.core.plan import report, stack_plan
    from components.core.stack import stack_config as loader

    def layers(config: dict[str, str]) -> None:
        plans = stack_plan.plan_stack(loader.load("bench", config))
        summaries = {key: plan.summary() for key, plan in plans.items()}
        for plan in plans.values():
            report.service_json_file(plan.service_config_json)
        report.plan_json(summaries)
        report.plan_markdown("bench", summaries)

    lines = ["| services | time (s) |", "|---|---:|"]
    for count in sizes:
        config = uniform_stack(count)
        timed = interleaved(repeats, layers=lambda config=config: layers(config))  # type: ignore[misc]
        lines.append(f"| {count} | {timed['layers'].median:.3f} |")
    return lines


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    memory = ""
    with contextlib.suppress(OSError, StopIteration, ValueError):
        kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:"))
        memory = f", {kib / 2**20:.0f} GiB"
    return (f"{cpu}, {os.cpu_count()} vCPU{memory}, {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}, pulumi {metadata.version('pulumi')}, "
            f"pulumi-alicloud {metadata.version('pulumi-alicloud')}")


def _load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def verdict(results: dict[int, dict[str, Timing]]) -> list[str]:
    lines = []
    for count in (100, 1000):
        if count in results:
            ratio = results[count]["ours"].median / results[count]["baseline"].median
            lines.append(f"- {count} services: ours/baseline {ratio:.2f}x (target <= {RATIO_TARGET}x): "
                         f"{'met' if ratio <= RATIO_TARGET else 'MISSED'}")
    if 100 in results and 1000 in results:
        grown = results[1000]["ours"].median / results[100]["ours"].median
        lines.append(f"- growth 100 -> 1000: {grown:.1f}x (target <= {GROWTH_TARGET:.0f}x): "
                     f"{'met' if grown <= GROWTH_TARGET else 'MISSED'}")
    return lines


def run(repeats: int = 5, quick: bool = False) -> list[str]:
    """Every table, as Markdown lines."""
    from bench import probe_bench

    sizes = (1, 10, 100) if quick else (1, 10, 100, 1000)
    start, load_before = time.perf_counter(), _load()
    rows, results = in_process(sizes, repeats)
    out = [f"Machine: {machine()}", "",
           f"### Offline plan against the baseline (in-process, imports done; median of {repeats} runs)", "", *rows, "",
           "### Growth", "", *growth(results), "",
           "### Start-up (fixed cost per process)", "", *start_up(repeats), "",
           "### Our layers alone (no Pulumi)", "", *pure_layers(sizes[-2:], repeats), "",
           "### Stock probe", "", *[f"    {line}" for line in probe_bench.run()], "",
           "### Targets", "", *verdict(results), "",
           f"Load average before {load_before}, after {_load()}; bench took {time.perf_counter() - start:.0f} s."]
    return out


if __name__ == "__main__":
    import logging

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per cell (median reported; default 5)")
    parser.add_argument("--quick", action="store_true", help="skip the 1000-service rows")
    args = parser.parse_args()
    logging.getLogger("qwen3-eas.plan").disabled = True  # the bench stacks' warnings are not news
    print("\n".join(run(args.repeats, args.quick)))
