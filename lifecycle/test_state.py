"""Scenarios 6, 7 and 13: drift repaired by refresh, protect and retainOnDelete, destroy."""

from __future__ import annotations

from tests.fake_eas import FakeEas

from .announced import agrees, announce
from .conftest import chat, stack_text
from .engine import READER_TYPE, SERVICE_TYPE, Workspace

KEY = "cn-hangzhou/chat_t"


def test_a_service_deleted_outside_pulumi_is_read_as_gone_then_created_again(workspace: Workspace, eas: FakeEas):
    workspace.write_stack("t", stack_text({"chat": chat()}))
    assert workspace.up("t").error is None
    del eas.services[KEY]  # deleted in the console
    refresh = workspace.refresh("t")
    assert refresh.error is None, refresh.output
    # Refresh drops both the service and its reader from the state (each read says "gone").
    assert not workspace.resources("t", SERVICE_TYPE) and not workspace.resources("t", READER_TYPE)
    run = workspace.up("t")
    assert run.error is None, run.output
    assert run.ops(SERVICE_TYPE) == [("create", "chat-service")]
    assert run.ops(READER_TYPE) == [("create", "chat-endpoint")]
    assert eas.names() == [KEY] and run.outputs["tokens"]["chat"] == eas.services[KEY]["AccessToken"]


def test_destroy_of_a_protected_stack_is_refused_by_the_engine(workspace: Workspace, eas: FakeEas):
    workspace.write_stack("t", stack_text({"chat": chat()}, protect=True))
    assert workspace.up("t").error is None
    run = workspace.destroy("t")
    assert run.error is not None
    assert "protected" in run.error
    assert eas.names() == [KEY] and workspace.resources("t", SERVICE_TYPE)


def test_retain_on_delete_leaves_the_service_on_eas_when_removed_from_the_stack(workspace: Workspace, eas: FakeEas):
    workspace.write_stack("t", stack_text({"chat": chat(retainOnDelete=True), "other": chat()}))
    assert workspace.up("t").error is None
    announced = announce(*workspace.change_stack("t", stack_text({"other": chat()})))
    run = workspace.up("t")
    assert run.error is None, run.output
    assert ("delete", "chat-service") in run.ops(SERVICE_TYPE)
    assert announced["chat"]["retained"] and agrees(announced["chat"], run.ops(SERVICE_TYPE), "chat-service")
    # Gone from the stack, still running (and billed) on EAS.
    assert [r for r in workspace.resources("t") if r["urn"].endswith("chat-service")] == []
    assert eas.names() == [KEY, "cn-hangzhou/other_t"]
    assert ("DeleteService", KEY) not in eas.calls


def test_destroy_of_dev_leaves_eas_empty(workspace: Workspace, eas: FakeEas):
    workspace.copy_stack("dev")
    assert workspace.up("dev").error is None
    run = workspace.destroy("dev")
    assert run.error is None, run.output
    assert ("delete", "chat-service") in run.ops(SERVICE_TYPE)
    assert eas.names() == []
    assert workspace.resources("dev", SERVICE_TYPE) == []
