"""What ``make diff`` announces for a change, held against the step the engine then takes.

``make diff`` plans a stack file at a base and now, offline, and announces one step per EAS
service (``components.core.plan.steps``), for each ``pulumi up`` the change takes (a two-phase move
takes two). A scenario that changes a stack file asks here what the same change is announced as:
the two files planned the way ``make diff`` plans them (``components.cli.diff_sides``), against
what runs (the outputs of the scenario's last ``up``, as ``make diff OUTPUTS=`` takes them, or
the base as planned) and with the scenario's capacity snapshot when it has one (``CAPACITY=``).
It then runs ``pulumi up`` and checks with ``agrees`` that the engine took that step. The planning
runs in a subprocess: the offline plan's mock runtime and the Automation API's inline program must
not share a process.

    python -m lifecycle.announced BASE_FILE NEW_FILE [--capacity SNAPSHOT] [--outputs OUTPUTS]   # JSON
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

from .engine import ROOT, VENV


def announce(base: Path, new: Path, capacity: Optional[Path] = None,
             outputs: Optional[Mapping[str, Any]] = None) -> dict[str, dict[str, Any]]:
    """Service key -> what ``make diff`` announces for it (``qwen3-eas diff --json``'s entry: ``step``,
    ``order``, ``refusedBy``, ``retained``, ``runs``, ``rename``, ...). ``outputs``: the stack outputs
    of the last ``up`` (``Run.outputs``), what runs."""
    args = [str(VENV / "bin" / "python"), "-m", "lifecycle.announced", str(base), str(new)]
    if capacity is not None:
        args += ["--capacity", str(capacity)]
    env = {**os.environ, "QWEN3_EAS_RUNNING": "offline"}
    env.pop("QWEN3_EAS_CAPACITY", None)
    with tempfile.TemporaryDirectory(prefix="announced-") as tmp:
        if outputs is not None:
            record = Path(tmp) / "outputs.json"
            record.write_text(json.dumps(dict(outputs), sort_keys=True), encoding="utf-8")
            args += ["--outputs", str(record)]
        done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise AssertionError(f"planning the change failed: {done.stdout}{done.stderr}")
    return dict(json.loads(done.stdout))


def agrees(announced: dict[str, Any], ops: Sequence[tuple[str, str]], name: str, run: int = 0) -> bool:
    """Whether the engine's ops on the EAS service ``name`` carry out the step announced for ``run``
    (0: the next ``pulumi up``; 1: the one after it, for a change that takes two)."""
    mine = [op for op, who in ops if who == name]
    runs = announced.get("runs") or [announced]
    if run >= len(runs):
        return False
    step, order = runs[run]["step"], runs[run].get("order")
    if step == "create":
        return mine == ["create"]
    if step == "take-back":
        return mine in (["import"], ["import", "update"])
    if step == "update":
        return mine == ["update"]
    if step in ("same", "held-back"):
        return mine == []
    if step == "delete":
        return mine == ["delete"]
    if step == "replace" and "create-replacement" in mine and "delete-replaced" in mine:
        created, deleted = mine.index("create-replacement"), mine.index("delete-replaced")
        return created < deleted if order == "create-first" else deleted < created
    return False


def _steps(base: Path, new: Path, capacity: Optional[Path], outputs: Optional[Path]) -> dict[str, dict[str, Any]]:
    from components.cli import diff, diff_sides

    records = diff_sides.read_outputs(outputs) if outputs is not None else None
    base_files = diff_sides.plan_base_file(base, records, capacity)
    _, status, announcement, _ = diff.diff_planned(str(new), "base", None, base_files, None, capacity, records)
    if status != 0:
        raise SystemExit(f"the new stack file does not plan: {announcement.get('headError')}")
    return dict(announcement["services"])


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lifecycle.announced", description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path, help="the stack file before the change")
    parser.add_argument("new", type=Path, help="the stack file after it")
    parser.add_argument("--capacity", type=Path, help="a capacity snapshot, as make diff CAPACITY= takes")
    parser.add_argument("--outputs", type=Path, help="what runs: stack outputs, as make diff OUTPUTS= takes")
    args = parser.parse_args(argv)
    json.dump(_steps(args.base, args.new, args.capacity, args.outputs), sys.stdout, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
