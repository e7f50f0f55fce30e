"""Issue 28: the pull request shows what deploys, and a running service changes only when a pull
request changes it.

Each scenario deploys a stack, then asks what ``make diff`` announces for a change (``announce``:
both sides planned as ``make diff`` plans them, against the outputs of the last ``up`` as
``OUTPUTS=`` and the snapshot the next ``up`` reads as ``CAPACITY=``), runs ``pulumi up`` and holds
the announcement against the engine's steps (``agrees``) and against what EAS then runs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.fake_eas import FakeEas

from .announced import agrees, announce
from .conftest import A10, A10_BIG, chat, meta, stack_text
from .engine import SERVICE_TYPE, Workspace

HANGZHOU, BEIJING = "cn-hangzhou/chat_t", "cn-beijing/chat_t"
TWO = ["cn-hangzhou", "cn-beijing"]
# Qwen3-8B at 16384 tokens without instanceTypes: the hardware table's automatic list, in order.
AUTO = ("ml.gu7i.c8m30.1-gu30", "ecs.gn7i-c8g1.2xlarge", "ml.gu7i.c16m60.1-gu30")
# A type that fits just as well and that no reviewed list names: the old choice over what a region
# offered would have taken it first (fewest vCPUs).
UNREVIEWED = "ml.gu7i.c4m15.1-gu30"


def snapshot(path: Path, **regions: dict[str, str]) -> Path:
    """A capacity snapshot: region -> {instance type: stock status}."""
    path.write_text(json.dumps({region.replace("_", "-"): [meta(name, status) for name, status in types.items()]
                                for region, types in regions.items()}, sort_keys=True))
    return path


def small(**overrides: Any) -> dict[str, Any]:
    """A service left to the automatic choice."""
    return chat(**{"resource": {"kind": "public"}, **overrides})


def types_of(eas: FakeEas, key: str) -> list[str]:
    return [i["type"] for i in eas.config(key)["cloud"]["computing"]["instances"]]


def up(workspace: Workspace, stock: Path | None = None):
    run = workspace.up("t", env={"QWEN3_EAS_CAPACITY": str(stock)} if stock else None)
    assert run.error is None, run.output
    return run


def test_a_new_service_without_instance_types_gets_the_reviewed_list_and_no_other_type(
        workspace: Workspace, eas: FakeEas, tmp_path: Path):
    workspace.write_stack("t", stack_text({"chat": chat()}))
    first = up(workspace)
    stock = snapshot(tmp_path / "stock.json", cn_hangzhou={AUTO[0]: "NoStock", AUTO[1]: "WithStock",
                                                           AUTO[2]: "WithStock", UNREVIEWED: "WithStock"})
    change = workspace.change_stack("t", stack_text({"chat": chat(), "small": small()}))
    announced = announce(*change, capacity=stock, outputs=first.outputs)
    assert announced["small"]["step"] == "create" and announced["chat"]["step"] == "same"
    run = up(workspace, stock)
    assert agrees(announced["small"], run.ops(SERVICE_TYPE), "small-service")
    assert agrees(announced["chat"], run.ops(SERVICE_TYPE), "chat-service")
    # EAS got exactly the announced types: the reviewed list, the one out of stock passed over.
    deployed = types_of(eas, "cn-hangzhou/small_t")
    assert deployed == announced["small"]["instanceTypes"]["after"] and UNREVIEWED not in deployed
    assert set(deployed) <= set(AUTO) and deployed[0] == AUTO[1]
    assert run.outputs["services"]["small"]["instanceTypes"] == deployed


def test_a_different_stock_snapshot_changes_no_running_services_hardware_or_region(
        workspace: Workspace, eas: FakeEas, tmp_path: Path):
    """Done when: the same file replanned with another stock snapshot changes nothing that runs."""
    workspace.write_stack("t", stack_text({"chat": chat(regions=TWO), "small": small(regions=TWO)}))
    before = snapshot(tmp_path / "before.json", cn_hangzhou={A10: "WithStock", A10_BIG: "WithStock",
                                                             AUTO[0]: "WithStock", AUTO[1]: "WithStock"},
                      cn_beijing={A10: "WithStock", AUTO[0]: "WithStock"})
    first = up(workspace, before)
    configs = {key: eas.config(key) for key in eas.names()}
    # Everything the first region had is gone, a type nobody reviewed appeared, the second region has all.
    after = snapshot(tmp_path / "after.json", cn_hangzhou={A10: "NoStock", A10_BIG: "NoStock", AUTO[0]: "NoStock",
                                                           UNREVIEWED: "WithStock"},
                     cn_beijing={A10: "WithStock", A10_BIG: "WithStock", **dict.fromkeys(AUTO, "WithStock")})
    same = workspace.stack_file("t")
    announced = announce(same, same, capacity=after, outputs=first.outputs)
    assert {key: a["step"] for key, a in announced.items()} == {"chat": "same", "small": "same"}
    calls = len(eas.calls)
    preview = workspace.preview("t", env={"QWEN3_EAS_CAPACITY": str(after)})
    assert preview.error is None and preview.changes() == {}, preview.output
    run = up(workspace, after)
    assert run.changes() == {} and agrees(announced["small"], run.ops(SERVICE_TYPE), "small-service")
    assert {key: eas.config(key) for key in eas.names()} == configs and eas.calls[calls:] == []


def test_reordered_regions_leave_the_service_where_it_runs(workspace: Workspace, eas: FakeEas, tmp_path: Path):
    stock = snapshot(tmp_path / "stock.json", cn_hangzhou={A10: "WithStock"}, cn_beijing={A10: "WithStock"})
    workspace.write_stack("t", stack_text({"chat": chat(regions=TWO)}))
    first = up(workspace, stock)
    change = workspace.change_stack("t", stack_text({"chat": chat(regions=list(reversed(TWO)))}))
    announced = announce(*change, capacity=stock, outputs=first.outputs)
    assert announced["chat"]["step"] == "same" and announced["chat"]["region"]["after"] == "cn-hangzhou"
    run = up(workspace, stock)
    assert agrees(announced["chat"], run.ops(SERVICE_TYPE), "chat-service") and eas.names() == [HANGZHOU]


def test_a_drain_is_announced_as_the_two_runs_it_takes(workspace: Workspace, eas: FakeEas, tmp_path: Path):
    stock = snapshot(tmp_path / "stock.json", cn_hangzhou={A10: "WithStock"}, cn_beijing={A10: "WithStock"})
    workspace.write_stack("t", stack_text({"chat": chat()}))
    first = up(workspace, stock)
    until = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    change = workspace.change_stack("t", stack_text({"chat": chat(regions=["cn-beijing"],
                                                                  drain={"region": "cn-hangzhou", "until": until})}))
    announced = announce(*change, capacity=stock, outputs=first.outputs)
    assert [(r["step"], r["order"], r["retained"]) for r in announced["chat"]["runs"]] == [
        ("update", None, False), ("replace", "create-first", True)]
    # Run 1: retainOnDelete and the label recorded (a tags update), then the run fails at its end.
    one = workspace.up("t", env={"QWEN3_EAS_CAPACITY": str(stock)})
    assert one.error is not None and "not moved this run" in one.error, one.output
    assert agrees(announced["chat"], one.ops(SERVICE_TYPE), "chat-service", run=0), one.ops(SERVICE_TYPE)
    # Run 2: the move, create first, the old copy kept.
    two = up(workspace, stock)
    assert agrees(announced["chat"], two.ops(SERVICE_TYPE), "chat-service", run=1), two.ops(SERVICE_TYPE)
    assert eas.names() == [BEIJING, HANGZHOU] and eas.deletes == []


def test_a_renamed_key_is_a_new_service_as_announced(workspace: Workspace, eas: FakeEas):
    workspace.write_stack("t", stack_text({"chat": chat()}))
    first = up(workspace)
    change = workspace.change_stack("t", stack_text({"assistant": chat()}))
    announced = announce(*change, outputs=first.outputs)
    assert announced["assistant"]["rename"] == {"from": "chat", "to": "assistant", "kept": False}
    run = up(workspace)
    assert agrees(announced["assistant"], run.ops(SERVICE_TYPE), "assistant-service")
    assert agrees(announced["chat"], run.ops(SERVICE_TYPE), "chat-service")
    assert eas.names() == ["cn-hangzhou/assistant_t"]
    assert run.outputs["tokens"]["assistant"] != first.outputs["tokens"]["chat"]


def test_renamed_from_keeps_the_running_service_under_its_new_key(workspace: Workspace, eas: FakeEas):
    workspace.write_stack("t", stack_text({"chat": chat()}))
    first = up(workspace)
    change = workspace.change_stack("t", stack_text({"assistant": chat(renamedFrom="chat")}))
    announced = announce(*change, outputs=first.outputs)
    assert set(announced) == {"assistant"} and announced["assistant"]["step"] == "same"
    assert announced["assistant"]["rename"] == {"from": "chat", "to": "assistant", "kept": True}
    calls = len(eas.calls)
    run = up(workspace)
    # The engine takes the old key's resources for the new one (the alias): nothing created or deleted.
    assert agrees(announced["assistant"], run.ops(SERVICE_TYPE), "assistant-service"), run.ops(SERVICE_TYPE)
    assert run.ops(SERVICE_TYPE) == [] and eas.names() == [HANGZHOU]
    assert eas.calls[calls:] == []
    assert run.outputs["tokens"]["assistant"] == first.outputs["tokens"]["chat"]
    assert [r["urn"].rsplit("::", 1)[-1] for r in workspace.resources("t")] == ["assistant-service"]
    assert workspace.preview("t").changes() == {}


def test_adding_a_name_prefix_is_announced_as_the_engine_replaces(workspace: Workspace, eas: FakeEas):
    """As this branch looks services up (by their new name only), a prefix makes each service a new
    one, created first; where the lookup also finds the old name, update the announcement with it."""
    workspace.write_stack("t", stack_text({"chat": chat()}))
    first = up(workspace)
    change = workspace.change_stack("t", stack_text({"chat": chat()}, namePrefix="teama"))
    announced = announce(*change, outputs=first.outputs)
    assert (announced["chat"]["step"], announced["chat"]["order"]) == ("replace", "create-first")
    run = up(workspace)
    assert agrees(announced["chat"], run.ops(SERVICE_TYPE), "chat-service"), run.ops(SERVICE_TYPE)
    assert eas.names() == ["cn-hangzhou/teama_chat_t"]
