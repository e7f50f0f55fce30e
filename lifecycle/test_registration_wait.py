"""Issue 32: the program waits for its own registrations (``components.program.RegistrationWait``).

The wait ends because the engine answers every registration: when one step fails it cancels its
resource monitor, and each registration still waiting gets an error. A run with a failed create
among others therefore ends, failed, with the same output as before the wait (checked against the
program without it); previews and ups that succeed are every other scenario's.
"""

from __future__ import annotations

from tests.fake_eas import FakeEas

from .conftest import chat, stack_text
from .engine import Workspace


def test_a_failed_create_among_several_ends_the_up_failed(workspace: Workspace, eas: FakeEas):
    eas.fail_next_create = True  # the first service EAS creates ends Failed
    workspace.write_stack("t", stack_text({"a": chat(), "b": chat(), "c": chat()}))
    run = workspace.up("t")
    assert run.error is not None, run.output
    [failed] = [key for key, found in eas.services.items() if found["Status"] == "Failed"]
    # The run ended (rather than waiting on registrations the engine no longer serves), failed in
    # the provider's words for the service that failed.
    assert f"EAS service {failed} is Failed" in run.output, run.output
