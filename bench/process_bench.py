"""``make bench``, whole processes: a fresh ``qwen3-eas plan`` against a fresh baseline process.

What a reviewer waits for is the command, not the program inside it: the interpreter starting,
the imports, reading the stack file, planning, registering on the mock runtime, writing the plan's
files and exiting. Each run here is a new process:

- **ours**: ``python -m components plan <stack file> --out <dir>``, what ``make plan`` runs, on a
  stack file of N services (the issue's uniform stack, ``plan_bench.uniform_stack``);
- **the baseline**: a process that imports the harness and runs ``bench/baseline_program.py``
  (the same resource graph per service, hand-built JSON) through the same ``run_program`` with
  its defaults, on the same mock runtime, and writes nothing. The target is against this one;
- **the baseline, ending as ours does**: the same, but leaving the program's memory to the
  operating system the way ``qwen3-eas plan`` does (``run_program(collect=False)``, its worker
  loops closed). The ratio to it shows what our own layers cost, with exit costs taken out.

Runs take turns and each round starts with the next process, so a neighbour's load falls on all
three. Each cell is a median, with min and max; the paired ratio is the median of each round's
ratio; CPU is the process's user+system seconds (it moves less with the load), peak memory its
largest resident set. The one-minute load average is sampled before every run and reported: on a
shared machine it is part of the result. Bytecode caches are written by a warm-up run and used,
as a user's second plan finds them (``PYTHONDONTWRITEBYTECODE`` is dropped for the runs).
Target (issue 21): ours at most 1.2x the baseline at 100 and at 1000 services.

    python -m bench.process_bench [--repeats N] [--sizes 100 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bench.plan_bench import BASELINE, ROOT, _load, _pct, machine, uniform_stack

RATIO_TARGET = 1.2

BASELINE_CLI = (
    "import sys; from pathlib import Path; from components.cli.plan import run_program; "
    "run_program('bench', {'bench:count': sys.argv[1]}, program=Path(sys.argv[2]))"
)
"""The baseline as one process: the harness with its defaults, the baseline program, nothing written."""

BASELINE_ENDING_AS_OURS_CLI = (
    "import sys; from pathlib import Path; from components.cli.plan import release_runtime_threads, run_program; "
    "run_program('bench', {'bench:count': sys.argv[1]}, program=Path(sys.argv[2]), collect=False); "
    "release_runtime_threads(collect=False)"
)
"""The baseline with the harness calls ``qwen3-eas plan`` makes (``components.cli.plan.main``)."""

BASELINES = {"baseline": "the baseline", "ending as ours": "the baseline, ending as ours does"}


@dataclass
class Runs:
    """Wall seconds, CPU seconds and peak resident MB of one command's runs, in order."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(self.wall)

    def spread(self) -> float:
        return (max(self.wall) - min(self.wall)) / self.median()

    def cell(self) -> str:
        return f"{self.median():.2f} ({min(self.wall):.2f}-{max(self.wall):.2f})"


def stack_file(folder: Path, count: int) -> Path:
    """A ``Pulumi.bench<count>.yaml`` as a user would write it (services as a YAML mapping)."""
    config = uniform_stack(count)
    document = {"config": {**config, "qwen3-eas:services": json.loads(config["qwen3-eas:services"])}}
    path = folder / f"Pulumi.bench{count}.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def commands(folder: Path, count: int) -> dict[str, list[str]]:
    """The processes compared at ``count`` services."""
    path = stack_file(folder, count)
    return {
        "ours": [sys.executable, "-m", "components", "plan", str(path), "--out", str(folder / f"out{count}")],
        "baseline": [sys.executable, "-c", BASELINE_CLI, str(count), str(BASELINE)],
        "ending as ours": [sys.executable, "-c", BASELINE_ENDING_AS_OURS_CLI, str(count), str(BASELINE)],
    }


def run_once(args: Sequence[str], folder: Path) -> tuple[float, float, float]:
    """(wall s, CPU s, peak resident MB) of one fresh process; a failure stops the bench."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with open(folder / "output.txt", "w+b") as output:
        start = time.perf_counter()
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            output.seek(0)
            raise SystemExit(f"{' '.join(args[:4])} ... exited {process.returncode}:\n"
                             f"{output.read().decode(errors='replace')[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def compare(cmds: dict[str, list[str]], folder: Path, repeats: int, loads: list[float]) -> dict[str, Runs]:
    """Each command ``repeats`` times, taking turns; each round starts with the next command."""
    for args in cmds.values():
        run_once(args, folder)  # warm-up: bytecode caches, the page cache
    runs = {name: Runs() for name in cmds}
    names = list(cmds)
    for round_ in range(repeats):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            loads.append(os.getloadavg()[0])
            wall, cpu, peak = run_once(cmds[name], folder)
            runs[name].wall.append(wall)
            runs[name].cpu.append(cpu)
            runs[name].peak_mb.append(peak)
    return runs


def rows(count: int, runs: dict[str, Runs]) -> list[str]:
    """One table row per baseline, ours against it."""
    ours = runs["ours"]
    lines = []
    for key, label in BASELINES.items():
        other = runs[key]
        paired = statistics.median(x / y for x, y in zip(ours.wall, other.wall, strict=True))
        cpu = statistics.median(ours.cpu) / statistics.median(other.cpu)
        lines.append(f"| {count} | {label} | {ours.cell()} | {other.cell()} | **{ours.median() / other.median():.2f}x** | "
                     f"{paired:.2f}x | {cpu:.2f}x | {max(ours.peak_mb):.0f} / {max(other.peak_mb):.0f} | "
                     f"{_pct(ours.spread())} / {_pct(other.spread())} |")
    return lines


def parse_times(folder: Path, sizes: Sequence[int], repeats: int) -> list[str]:
    """Reading the stack file: our one parse (libyaml, duplicate check included) against PyYAML's
    pure-Python loader reading it once, for scale."""
    from components.core.stack import stack_file as reader

    lines = ["| services | qwen3-eas reads it (s) | PyYAML pure-Python `safe_load`, once (s) |", "|---|---:|---:|"]
    for count in sizes:
        text = stack_file(folder, count).read_text(encoding="utf-8")
        ours, pure = [], []
        for _ in range(repeats):
            reader._checked.clear()  # no reuse between runs: each is a first read
            start = time.perf_counter()
            reader.load(text, "bench")
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            yaml.load(text, Loader=yaml.SafeLoader)
            pure.append(time.perf_counter() - start)
        lines.append(f"| {count} | {statistics.median(ours):.3f} | {statistics.median(pure):.3f} |")
    return lines


def run(repeats: int = 5, sizes: Sequence[int] = (100, 1000)) -> list[str]:
    """The whole-process tables, as Markdown lines."""
    start, load_before = time.perf_counter(), _load()
    loads: list[float] = []
    table, verdicts = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for count in sizes:
            runs = compare(commands(folder, count), folder, repeats, loads)
            table += rows(count, runs)
            ratio = runs["ours"].median() / runs["baseline"].median()
            verdicts.append(f"- {count} services, whole process: ours/baseline {ratio:.2f}x "
                            f"(target <= {RATIO_TARGET}x): {'met' if ratio <= RATIO_TARGET else 'MISSED'}")
        parse = parse_times(folder, sizes, repeats)
    under = (f"one-minute load average {min(loads):.1f} to {max(loads):.1f} (median {statistics.median(loads):.1f}) "
             f"on {os.cpu_count()} vCPU")
    return [f"Machine: {machine()}", "",
            f"### Whole process: fresh `qwen3-eas plan` against fresh baseline processes (median of {repeats})", "",
            "| services | compared with | ours wall (s), min-max | theirs wall (s), min-max | ratio | paired ratio "
            "| CPU ratio | peak MB ours / theirs | spread ours / theirs |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|", *table, "",
            f"Measured under {under}.", "",
            "### Reading the stack file (in-process, median)", "", *parse, "",
            "### Targets (whole process)", "", *verdicts, "",
            f"Load average before {load_before}, after {_load()}; whole-process bench took "
            f"{time.perf_counter() - start:.0f} s."]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each process per size (default 5)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000], help="services per stack (default 100 1000)")
    args = parser.parse_args()
    print("\n".join(run(args.repeats, args.sizes)))
