"""The offline plan's harness at scale: what one plan leaves behind in the process that ran it.

Tests, the bench and ``make diff`` run many plans in one process; each must start from the same
state, or the tenth plan is slower than the first (docs/benchmarks.md).
"""

from __future__ import annotations

import gc

import pytest
from pulumi.runtime import settings

from components.cli.plan import PlanError, run_program

from .conftest import raw_config, service


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
