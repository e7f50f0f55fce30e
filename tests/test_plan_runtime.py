"""The offline plan's harness at scale: what one plan leaves behind in the process that ran it.

Tests, the bench and ``make diff`` run many plans in one process; each must start from the same
state, or the tenth plan is slower than the first (docs/benchmarks.md).
"""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest
from pulumi.runtime import settings

from components.cli.plan import PlanError, run_program

from .conftest import raw_config, service

ROOT = Path(__file__).resolve().parent.parent


def _config(**overrides) -> dict[str, str]:
    return {k: str(v) for k, v in raw_config({"chat": service(**overrides)}).items()}


def test_a_plan_leaves_no_stack_behind_in_the_callers_context():
    """Left there, an event loop made later captures it, and with it every resource of the plan."""
    run_program("ctx", _config())
    assert settings.ROOT.get() is None


@pytest.mark.parametrize("valid", [True, False], ids=["plan", "refused plan"])
def test_the_cycle_collector_is_left_as_it_was(valid):
    assert gc.isenabled()
    if valid:
        run_program("gc", _config())
    else:
        with pytest.raises(PlanError):
            run_program("gc", _config(model="Qwen9-1T"))
    assert gc.isenabled()


def test_the_runtime_threads_end_and_their_event_loops_close_without_a_walk_of_the_heap(monkeypatch):
    """Each worker thread of the mock runtime has an event loop; they are closed by name, not found
    among every object of the process (a walk that took a fifth of a second at 1000 services)."""
    import asyncio
    import threading

    from components.cli import plan

    run_program("loops", _config())
    loops = list(plan._worker_loops)
    assert loops and all(not loop.is_closed() for loop in loops)
    monkeypatch.setattr(gc, "get_objects", lambda *a, **k: pytest.fail("the heap was walked"))
    plan.release_runtime_threads()
    assert all(loop.is_closed() for loop in loops)
    assert not [t for t in threading.enumerate() if t.name.startswith("qwen3-eas-runtime")]
    assert not asyncio.get_event_loop().is_closed()  # a later plan gets a fresh loop


def test_qwen3_eas_plan_runs_no_full_collection(tmp_path):
    """The command ends once its files are written: what the program built is left to the operating
    system, not walked by the cycle collector (in-process callers keep the one collection)."""
    code = f"""
import gc, sys
from components.cli import main
from components.cli.plan import run_program
# The runtime's modules first: the collection an import may trigger is the interpreter's, not the plan's.
import pulumi.automation, pulumi.runtime.mocks, pulumi.runtime.stack, pulumi.runtime.sync_await
full = []
gc.callbacks.append(lambda phase, info: full.append(1) if phase == "start" and info["generation"] == 2 else None)
run_program("inprocess", {_config()!r})
print("in-process", len(full))
full.clear()
assert main(["plan", "dev", "--out", {str(tmp_path / "out")!r}]) == 0
print("command", len(full))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    counts = [line for line in done.stdout.splitlines() if line.startswith(("in-process", "command"))]
    assert counts == ["in-process 1", "command 0"]
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr
