"""The program waits for its own registrations (issue 32), so the SDK's outputs loop has little left.

What the wait saves is measured by ``make bench`` (docs/benchmarks.md); these tests hold what it
must not change: it covers every resource the program registers, it adds nothing to the stack's
outputs, and a failure is still the program's to report.
"""

from __future__ import annotations

import asyncio

import pulumi
import pytest

from components import program
from components.cli.plan import PlanError
from components.core.running import ownership

from .conftest import service
from .test_day2 import eas, labels, running_service, snapshot
from .test_drain import FUTURE, moving

__all__ = ["eas"]


@pytest.fixture
def handed(monkeypatch):
    """What the program hands ``pulumi.run`` (the mock runtime refuses it; the engine's takes it)."""
    entry_points: list[program.RegistrationWait] = []
    monkeypatch.setattr(pulumi, "run", entry_points.append)
    return entry_points


def test_the_wait_covers_every_resource_the_program_registers(eas, tmp_path, handed):
    """A stack in two regions (two providers), one service draining its old copy: each registered
    resource is waited for, so none is left to the SDK's loop."""
    from .test_day2 import run

    cap = snapshot(tmp_path, cn_hangzhou="WithStock", cn_beijing="WithStock")
    # chat's second run of a two-phase move (test_drain): the old copy is retained, so it drains.
    eas.services["cn-hangzhou/chat_dev"] = running_service(
        "chat_dev", Labels=labels("chat", **{ownership.RETAIN_LABEL: "true"}))
    recorded = run({"chat": moving(FUTURE), "other": service(regions=["cn-hangzhou"])}, cap)
    [wait] = handed
    waited = sorted(str(resource._name) for resource in wait.resources)
    registered = sorted(r["name"] for r in recorded.resources if r["type"] != "pulumi:pulumi:Stack")
    assert waited == registered
    assert {"chat-drained", "alicloud-cn-beijing", "alicloud-cn-hangzhou"} <= set(waited)


def test_the_wait_returns_nothing_to_export_and_swallows_no_failure_of_the_program(eas, tmp_path, handed):
    """``pulumi.run`` exports what its entry point returns: it returns nothing. A run that fails at
    its end (a held-back service) still fails, with its own words."""
    from .test_day2 import run

    cap = snapshot(tmp_path, cn_hangzhou="NoStock")
    with pytest.raises(PlanError, match="not deployed this run: chat"):
        run({"chat": service(regions=["cn-hangzhou"])}, cap)
    assert len(handed) == 1
    # Its own loop, not asyncio.run: that would leave this thread without a current loop, which the
    # mock runtime of the tests that follow needs.
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(program.RegistrationWait([])()) is None
    finally:
        loop.close()
