"""What ``make diff`` announces for a change, held against the step the engine then takes.

``make diff`` plans a stack file at a base and now, offline, and announces one step per EAS
service (``components.core.steps``). A scenario that changes a stack file asks here what the
same change is announced as (the two files planned the way ``make diff`` plans them, with the
scenario's capacity snapshot when it has one, as ``make diff CAPACITY=`` does), runs ``pulumi up``,
and checks with ``agrees`` that the engine took that step. The planning runs in a subprocess: the
offline plan's mock runtime and the Automation API's inline program must not share a process.

    python -m lifecycle.announced BASE_FILE NEW_FILE [--capacity SNAPSHOT]   # JSON on stdout
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from .engine import ROOT, VENV


def announce(base: Path, new: Path, capacity: Optional[Path] = None) -> dict[str, dict[str, Any]]:
    """Service key -> the step ``make diff`` announces (``step``, ``order``, ``refusedBy``, ``retained``)."""
    args = [str(VENV / "bin" / "python"), "-m", "lifecycle.announced", str(base), str(new)]
    if capacity is not None:
        args += ["--capacity", str(capacity)]
    env = {**os.environ, "QWEN3_EAS_RUNNING": "offline"}
    env.pop("QWEN3_EAS_CAPACITY", None)
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise AssertionError(f"planning the change failed: {done.stdout}{done.stderr}")
    return dict(json.loads(done.stdout))


def agrees(announced: dict[str, Any], ops: Sequence[tuple[str, str]], name: str) -> bool:
    """Whether the engine's ops on the EAS service ``name`` carry out the ``announced`` step."""
    mine = [op for op, who in ops if who == name]
    step, order = announced["step"], announced.get("order")
    if step == "create":
        return mine == ["create"]
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


def _steps(base: Path, new: Path, capacity: Optional[Path]) -> dict[str, dict[str, Any]]:
    from components.cli import diff, plan

    _, base_files = plan.make_plan(str(base))
    held_back: dict[str, str] = {}
    if capacity is None:
        _, head_files = plan.make_plan(str(new))
    else:
        running = {key: entry["region"] for key, entry in json.loads(base_files["plan.json"]).items()}
        _, head_files, held_back = plan.preview_plan(str(new), capacity, running)
    changes = diff.compare(base_files, head_files, keep_same=True, held_back=held_back)
    return {change.key: change.step.as_dict() for change in changes}


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lifecycle.announced", description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path, help="the stack file before the change")
    parser.add_argument("new", type=Path, help="the stack file after it")
    parser.add_argument("--capacity", type=Path, help="a capacity snapshot, as make diff CAPACITY= takes")
    args = parser.parse_args(argv)
    json.dump(_steps(args.base, args.new, args.capacity), sys.stdout, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
