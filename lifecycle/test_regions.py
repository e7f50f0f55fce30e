"""Scenarios 4 and 5: a region move is a create-first replacement; stock moving alone moves nothing."""

from __future__ import annotations

from pathlib import Path

from tests.fake_eas import FakeEas

from .announced import agrees, announce
from .conftest import capacity, chat, stack_text
from .engine import PROVIDER_TYPE, READER_TYPE, SERVICE_TYPE, Workspace

TWO = ["cn-hangzhou", "cn-beijing"]
OLD, NEW = "cn-hangzhou/chat_t", "cn-beijing/chat_t"


def up_in_hangzhou(workspace: Workspace, eas: FakeEas, tmp_path: Path, **overrides: object) -> dict:
    workspace.write_stack("t", stack_text({"chat": chat(regions=TWO, **overrides)}))
    stock = capacity(tmp_path / "both.json", cn_hangzhou="WithStock", cn_beijing="WithStock")
    first = workspace.up("t", env={"QWEN3_EAS_CAPACITY": str(stock)})
    assert first.error is None, first.output
    assert eas.names() == [OLD]
    return first.outputs


def test_stock_gone_with_allow_region_move_replaces_create_first_through_the_old_provider(
        workspace: Workspace, eas: FakeEas, tmp_path: Path):
    before = up_in_hangzhou(workspace, eas, tmp_path, allowRegionMove=True)
    gone = capacity(tmp_path / "gone.json", cn_hangzhou="NoStock", cn_beijing="WithStock")
    same_file = workspace.stack_file("t")
    announced = announce(same_file, same_file, capacity=gone)  # `make diff CAPACITY=`: the file did not change
    run = workspace.up("t", env={"QWEN3_EAS_CAPACITY": str(gone)})
    assert run.error is None, run.output
    assert {k: announced["chat"][k] for k in ("step", "order", "refusedBy", "retained")} == {
        "step": "replace", "order": "create-first", "refusedBy": None, "retained": False}
    assert agrees(announced["chat"], run.ops(SERVICE_TYPE), "chat-service")
    # The engine's replacement: the new service first, the old one deleted at the end.
    ops = run.ops(SERVICE_TYPE)
    assert ops[0] == ("create-replacement", "chat-service") and ops[-1] == ("delete-replaced", "chat-service"), ops
    # On EAS: created in cn-beijing (and Running) before the cn-hangzhou copy was deleted.
    order = [call for call in eas.calls if call[0] in ("CreateService", "DeleteService")]
    assert order[-2:] == [("CreateService", NEW), ("DeleteService", OLD)]
    assert eas.names() == [NEW] and eas.services[NEW]["Status"] == "Running"
    # The old region's provider went with its last service; the new one came first.
    assert ("create", "alicloud-cn-beijing") in run.ops(PROVIDER_TYPE)
    assert ("delete", "alicloud-cn-hangzhou") in run.ops(PROVIDER_TYPE)
    assert ("replace", "chat-endpoint") in run.ops(READER_TYPE) or ("create-replacement", "chat-endpoint") in run.ops(READER_TYPE)
    after = run.outputs
    assert after["services"]["chat"]["region"] == "cn-beijing"
    assert after["services"]["chat"]["internetEndpoint"] != before["services"]["chat"]["internetEndpoint"]
    assert after["tokens"]["chat"] != before["tokens"]["chat"]
    assert after["tokens"]["chat"] == eas.services[NEW]["AccessToken"]


def test_an_edited_region_replaces_the_service_in_the_new_region(workspace: Workspace, eas: FakeEas, tmp_path: Path):
    up_in_hangzhou(workspace, eas, tmp_path)
    announced = announce(*workspace.change_stack("t", stack_text({"chat": chat(regions=["cn-beijing"])})))
    stock = capacity(tmp_path / "both.json", cn_hangzhou="WithStock", cn_beijing="WithStock")
    run = workspace.up("t", env={"QWEN3_EAS_CAPACITY": str(stock)})
    assert run.error is None, run.output
    assert agrees(announced["chat"], run.ops(SERVICE_TYPE), "chat-service"), (announced, run.ops(SERVICE_TYPE))
    ops = run.ops(SERVICE_TYPE)
    assert ops[0] == ("create-replacement", "chat-service") and ops[-1] == ("delete-replaced", "chat-service"), ops
    assert eas.names() == [NEW]


def test_stock_moving_without_allow_region_move_changes_nothing(workspace: Workspace, eas: FakeEas, tmp_path: Path):
    up_in_hangzhou(workspace, eas, tmp_path)
    gone = capacity(tmp_path / "gone.json", cn_hangzhou="NoStock", cn_beijing="WithStock")
    announced = announce(workspace.stack_file("t"), workspace.stack_file("t"), capacity=gone)
    assert announced["chat"]["step"] == "same"
    calls = list(eas.calls)
    preview = workspace.preview("t", env={"QWEN3_EAS_CAPACITY": str(gone)})
    assert preview.error is None, preview.output
    assert preview.changes() == {}
    run = workspace.up("t", env={"QWEN3_EAS_CAPACITY": str(gone)})
    assert run.error is None, run.output
    assert run.changes() == {} and eas.calls == calls and eas.names() == [OLD]
