"""``make bench``, under the real engine: ``pulumi preview`` and ``pulumi up`` of 100 and 1000 services.

The CLI ``make pulumi-cli`` builds runs each program through the Automation API (as ``make
lifecycle`` does: docs/lifecycle.md), with the stand-in ``alicloud`` provider and the fake EAS
answering at once (no rollout waits: what is measured is the engine, the plugins and the
program, not EAS). Ours is the project's ``__main__.py`` with N services of Qwen3-4B on vLLM
(the stack ``bench/plan_bench.py`` plans); the baseline is ``bench/baseline_program.py``, the
same resource graph with hand-built JSON, under the same engine. Each cell is a fresh workspace
(empty state) in a fresh Python process, as ``pulumi preview`` starts a fresh program: each
program pays its own imports (the fake EAS stays in this process and is emptied between cells).
The preview shows N creates, the up makes them.

Each cell runs twice over: once as users run it, and once with ``PULUMI_SKIP_CHECKPOINTS=true``.
With a file (DIY) backend the engine serialises and checks the whole state after every step, in
preview too (pulumi v3.276.0 ``pkg/backend/diy/backend.go`` installs a snapshot manager for every
operation, ``pkg/backend/snapshot.go`` ``saveSnapshot``), so preview and up of N services cost
O(N^2) in the CLI whatever the program. The second run writes the state once at the end, which
shows what is left: the program, the plugins and the SDK. It is a measurement, not advice
(docs/benchmarks.md says what skipping checkpoints risks).

Beside wall seconds, each verb's CPU seconds are split by process: the program's (our program or
the baseline, the Python SDK, the Automation API that stands in for the language host), the
engine's (the CLI), the dynamic-provider host's and the stand-in alicloud provider's. They move
less with a neighbour's load than wall seconds do.

Targets: ``pulumi preview`` within 1.2x of the baseline at 100 and at 1000 services (issue 32),
``pulumi up`` within 1.3x (issue 17); ours' growth from 100 to 1000 services at or below the
baseline's (issue 32). Runs are interleaved (ours, baseline, ...) so a neighbour's load falls on
both.

    python -m bench.engine_bench [--repeats N] [--sizes 100 1000] [--state per-step once] [--verbs preview up]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import runpy
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from lifecycle.engine import ROOT, EngineMissingError, Workspace, cli_path
from tests.fake_eas import FakeEas, fake_eas

from .plan_bench import A10, BASELINE, _load, machine, uniform_stack

PREVIEW_RATIO_TARGET = 1.2
"""Issue 32: ``pulumi preview`` at most 1.2x the baseline's, what every pull request waits for."""
UP_RATIO_TARGET = 1.3
"""Issue 17: ``pulumi up`` at most 1.3x the baseline's."""
RATIO_TARGETS = {"preview": PREVIEW_RATIO_TARGET, "up": UP_RATIO_TARGET}
VERBS = ("preview", "up")
# How the engine writes the state: after every step (the default), or once at the end.
STATE_MODES: dict[str, dict[str, str]] = {"per-step": {}, "once": {"PULUMI_SKIP_CHECKPOINTS": "true"}}
PROCESSES = ("program", "engine", "dynamic host", "alicloud")
"""Where a verb's CPU seconds go: the program's process (program, Python SDK, the Automation API as
its language host), the CLI, the dynamic-provider host, the stand-in alicloud provider."""

Sample = dict[str, float]
"""One run of one verb: ``wall`` and ``cpu`` seconds, and ``cpu`` split over ``PROCESSES``."""
Results = dict[str, dict[int, dict[str, dict[str, list[Sample]]]]]
"""state mode -> size -> program -> verb -> each repeat's sample."""


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


_TICKS = os.sysconf("SC_CLK_TCK")


def _plugin_kind(cmdline: str) -> str | None:
    if "pulumi.dynamic" in cmdline:
        return "dynamic host"
    if "lifecycle.standin_alicloud" in cmdline:
        return "alicloud"
    return None


class PluginClock:
    """CPU seconds of the plugin processes below this one, by kind, read from ``/proc`` every 0.1 s.

    A plugin's last CPU before it exits (at most one period) is missed and counted as the engine's:
    the CLI's own seconds are the rest of what the children used (``RUSAGE_CHILDREN``), so nothing is
    counted twice. The clock's own CPU (``own_cpu``) is taken out of the program's by the caller."""

    PERIOD_S = 0.1

    def __init__(self) -> None:
        self.seen: dict[int, float] = {}
        self.kinds: dict[int, str | None] = {}
        self.own_cpu = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PluginClock:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        stats: dict[int, tuple[int, float]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as file:
                    stat = file.read()
            except OSError:
                continue
            fields = stat[stat.rindex(b")") + 2:].split()
            stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS)
        mine = {os.getpid()}
        grown = True
        while grown:  # every descendant of this process
            below = {pid for pid, (parent, _) in stats.items() if parent in mine} - mine
            grown = bool(below)
            mine |= below
        for pid in mine - {os.getpid()}:
            if pid not in self.kinds:
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as file:
                        self.kinds[pid] = _plugin_kind(file.read().replace(b"\0", b" ").decode(errors="replace"))
                except OSError:
                    continue
            if self.kinds[pid] is not None:
                self.seen[pid] = stats[pid][1]

    def _run(self) -> None:
        started = time.thread_time()
        while not self._stop.wait(self.PERIOD_S):
            self._sample()
        self._sample()
        self.own_cpu = time.thread_time() - started

    def by_kind(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for pid, seconds in self.seen.items():
            kind = self.kinds[pid]
            if kind is not None:
                totals[kind] = totals.get(kind, 0.0) + seconds
        return totals


def _cpu() -> tuple[float, float]:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def run_cell(eas_endpoint: str, program: str, count: int, state: str = "per-step",
             verbs: Sequence[str] = VERBS) -> dict[str, Sample]:
    """``verbs`` of ``count`` services in order, on a fresh state, in this process: each verb's sample."""
    with tempfile.TemporaryDirectory(prefix="engine-bench-") as tmp:
        workspace = Workspace(Path(tmp), eas_endpoint, env={"STANDIN_EAS_TIME_SCALE": "0", **STATE_MODES[state]})
        run_program: Callable[[], None] = _ours_program
        if program == "ours":
            workspace.write_stack("bench", _ours_stack(count))
        else:
            workspace.write_stack("bench", yaml.safe_dump({"config": {"bench:count": str(count)}}))
            run_program = _baseline_program
        samples = {}
        for verb in verbs:
            own, children = _cpu()
            started = time.perf_counter()
            with PluginClock() as plugins:
                run = workspace.run(verb, "bench", program=run_program)
            wall = time.perf_counter() - started
            own_after, children_after = _cpu()
            if run.error is not None:
                raise RuntimeError(f"{program} {verb} of {count} services failed: {run.error[-2000:]}")
            split = plugins.by_kind()
            used_by_children = children_after - children
            sample = {"wall": wall, "program": own_after - own - plugins.own_cpu,
                      "dynamic host": split.get("dynamic host", 0.0), "alicloud": split.get("alicloud", 0.0)}
            sample["engine"] = max(0.0, used_by_children - sample["dynamic host"] - sample["alicloud"])
            sample["cpu"] = sample["program"] + used_by_children
            samples[verb] = sample
        return samples


def one_cell(eas: FakeEas, program: str, count: int, state: str = "per-step",
             verbs: Sequence[str] = VERBS) -> dict[str, Sample]:
    """``run_cell`` in a fresh Python process, as ``pulumi`` starts a fresh program (its own imports)."""
    args = [sys.executable, "-m", "bench.engine_bench", "--cell", program, str(count), state,
            "--eas-endpoint", eas.endpoint, "--verbs", *verbs]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # a user's second run
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    eas.services.clear()  # the next cell starts from an empty EAS too
    if done.returncode != 0:
        raise RuntimeError(f"{program} {state} cell of {count} services failed:\n{done.stderr[-3000:]}")
    samples: dict[str, Sample] = json.loads(done.stdout.strip().splitlines()[-1])
    return samples


def measure(sizes: tuple[int, ...], repeats: int, states: tuple[str, ...] = tuple(STATE_MODES),
            verbs: Sequence[str] = VERBS) -> Results:
    """Every cell ``repeats`` times, ours and the baseline taking turns (each round starts with the other)."""
    results: Results = {state: {size: {p: {v: [] for v in verbs} for p in ("ours", "baseline")} for size in sizes}
                        for state in states}
    with fake_eas(metas=[_meta()]) as eas:
        one_cell(eas, "ours", 2, states[0], verbs[:1])  # warm-up: bytecode caches, the page cache
        one_cell(eas, "baseline", 2, states[0], verbs[:1])
        for round_ in range(repeats):
            for state in states:
                for size in sizes:
                    for program in ("ours", "baseline")[::1 if round_ % 2 == 0 else -1]:
                        for verb, sample in one_cell(eas, program, size, state, verbs).items():
                            results[state][size][program][verb].append(sample)
    return results


def _median(samples: list[Sample], key: str = "wall") -> float:
    return statistics.median(s[key] for s in samples)


def _spread(samples: list[Sample]) -> str:
    walls = [s["wall"] for s in samples]
    median = statistics.median(walls)
    return f"{(max(walls) - min(walls)) / median * 100:.0f}%"


def report(results: Results, repeats: int) -> list[str]:
    """The Markdown tables (times, then where the CPU went) and one verdict line per target."""
    lines = [f"### Under the real engine (fresh state, a fresh program process per cell; median of {repeats})", "",
             "| state written | services | verb | ours (s) | baseline (s) | ratio | CPU ours (s) | CPU baseline (s) "
             "| CPU ratio | spread ours / baseline |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    split = ["", "Where the CPU seconds went (median of each process's seconds; ours / baseline):", "",
             "| state written | services | verb | " + " | ".join(PROCESSES) + " |",
             "|---|---:|---|" + "---:|" * len(PROCESSES)]
    verdicts = []
    for state, by_size in results.items():
        for size, programs in sorted(by_size.items()):
            for verb in programs["ours"]:
                ours, base = programs["ours"][verb], programs["baseline"][verb]
                ratio = _median(ours) / _median(base)
                cpu_ratio = _median(ours, "cpu") / _median(base, "cpu")
                lines.append(f"| {state} | {size} | {verb} | {_median(ours):.1f} | {_median(base):.1f} | "
                             f"**{ratio:.2f}x** | {_median(ours, 'cpu'):.1f} | {_median(base, 'cpu'):.1f} | "
                             f"{cpu_ratio:.2f}x | {_spread(ours)} / {_spread(base)} |")
                split.append(f"| {state} | {size} | {verb} | " + " | ".join(
                    f"{_median(ours, p):.1f} / {_median(base, p):.1f}" for p in PROCESSES) + " |")
                target = RATIO_TARGETS[verb]
                verdicts.append(f"- {state}, {verb} of {size}: ours/baseline {ratio:.2f}x (CPU {cpu_ratio:.2f}x) "
                                f"(target <= {target}x): {_verdict(ratio <= target)}")
        if 100 in by_size and 1000 in by_size:
            for verb in by_size[100]["ours"]:
                grown = {p: _median(by_size[1000][p][verb]) / _median(by_size[100][p][verb])
                         for p in ("ours", "baseline")}
                verdicts.append(f"- {state}, {verb} growth 100 -> 1000: ours {grown['ours']:.1f}x, baseline "
                                f"{grown['baseline']:.1f}x (target: at most the baseline's): "
                                f"{_verdict(grown['ours'] <= grown['baseline'])}")
    return [*lines, *split, "", *verdicts]


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def run(sizes: tuple[int, ...] = (100, 1000), repeats: int = 1,
        states: tuple[str, ...] = tuple(STATE_MODES), verbs: Sequence[str] = VERBS) -> list[str]:
    start, before = time.perf_counter(), _load()
    results = measure(sizes, repeats, states, verbs)
    return [f"Machine: {machine()}; Pulumi CLI {cli_version()}", "", *report(results, repeats), "",
            f"Load average before {before}, after {_load()}; took {time.perf_counter() - start:.0f} s."]


def cli_version() -> str:
    return subprocess.run([str(cli_path()), "version"], capture_output=True, text=True, check=False).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs per cell (median reported; default 1: the 1000-service cells take minutes each)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000], help="service counts (default 100 1000)")
    parser.add_argument("--state", nargs="+", choices=list(STATE_MODES), default=list(STATE_MODES),
                        help="how the engine writes the state: after every step, once at the end, or both (default)")
    parser.add_argument("--verbs", nargs="+", choices=list(VERBS), default=list(VERBS),
                        help="what each cell runs, in order on one fresh state (default: preview, then up)")
    parser.add_argument("--cell", nargs=3, metavar=("PROGRAM", "COUNT", "STATE"), help=argparse.SUPPRESS)
    parser.add_argument("--eas-endpoint", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.cell:  # one cell, in its own process (see one_cell): its samples as one JSON line
            program, count, state = args.cell
            print(json.dumps(run_cell(args.eas_endpoint, program, int(count), state, args.verbs)))
            return 0
        print("\n".join(run(tuple(args.sizes), args.repeats, tuple(args.state), args.verbs)))
    except EngineMissingError as exc:
        print(f"engine bench: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
