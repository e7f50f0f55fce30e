"""Scenarios 6, 7 and 13: drift repaired by refresh, protect and retainOnDelete, destroy and stack rm."""

from __future__ import annotations

from pathlib import Path

from tests.fake_eas import FakeEas
from tests.golden_update import mismatches

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


def test_stack_rm_deletes_the_stack_file_unless_told_to_preserve_it(workspace: Workspace, eas: FakeEas, tmp_path: Path):
    """docs/running.md's teardown: `pulumi stack rm` takes stacks/Pulumi.<stack>.yaml with the state,
    and the golden check then names the leftover folder and the way out; --preserve-config keeps it."""
    workspace.copy_stack("dev")
    assert workspace.up("dev").error is None
    assert workspace.destroy("dev").error is None
    removed = workspace.cli_run("dev", "stack", "rm", "--yes")
    assert removed.returncode == 0, removed.stderr
    assert not workspace.stack_file("dev").exists() and not workspace.has_state("dev")
    stacks = [p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in workspace.stack_file("dev").parent.iterdir()]
    (tmp_path / "golden" / "dev").mkdir(parents=True)
    (left_over,) = mismatches(stacks, tmp_path / "golden")
    assert left_over.startswith("tests/golden/dev/ is left over") and "run `make golden`" in left_over

    workspace.write_stack("t", stack_text({"chat": chat()}))
    kept = workspace.cli_run("t", "stack", "rm", "--yes", "--preserve-config")
    assert kept.returncode == 0, kept.stderr
    assert workspace.stack_file("t").exists() and not workspace.has_state("t")
