"""Scenarios 2 and 3: a changed setting is one in-place update; a dropped setting leaves EAS."""

from __future__ import annotations

from tests.fake_eas import FakeEas

from .announced import agrees, announce
from .conftest import A10, A10_BIG, chat, stack_text
from .engine import READER_TYPE, SERVICE_TYPE, Workspace

KEY = "cn-hangzhou/chat_t"


def spot_chat(bid: float, **overrides: object) -> dict:
    return chat(resource={"kind": "spot", "bidPrice": bid, "instanceTypes": [A10, A10_BIG]}, **overrides)


def deployed(workspace: Workspace, eas: FakeEas, service: dict) -> None:
    workspace.write_stack("t", stack_text({"chat": service}))
    first = workspace.up("t")
    assert first.error is None, first.output
    assert eas.services[KEY]["CurrentVersion"] == 1


def test_a_changed_bid_is_one_in_place_update_and_one_rolling_update(workspace: Workspace, eas: FakeEas):
    deployed(workspace, eas, spot_chat(1.2))
    announced = announce(*workspace.change_stack("t", stack_text({"chat": spot_chat(1.5)})))
    calls = len(eas.calls)
    run = workspace.up("t")
    assert run.error is None, run.output
    assert run.ops(SERVICE_TYPE) == [("update", "chat-service")]
    # What `make diff` announced for the same change is what the engine did.
    assert announced["chat"]["step"] == "update" and agrees(announced["chat"], run.ops(SERVICE_TYPE), "chat-service")
    assert ("update", "chat-endpoint") in run.ops(READER_TYPE)
    # One UpdateService, a merge (no UpdateType), carrying the new bid; nothing else was sent.
    assert eas.calls[calls:] == [("UpdateService", KEY)]
    assert eas.updates[-1][1] == "merge"
    instances = eas.config(KEY)["cloud"]["computing"]["instances"]
    assert {i.get("spot_price_limit") for i in instances} == {1.5}
    assert eas.services[KEY]["CurrentVersion"] == eas.services[KEY]["LatestVersion"] == 2
    assert workspace.preview("t").changes() == {}


def test_a_changed_engine_flag_is_one_in_place_update(workspace: Workspace, eas: FakeEas):
    deployed(workspace, eas, chat())
    old_script = eas.config(KEY)["containers"][0]["script"]
    announced = announce(*workspace.change_stack("t", stack_text({"chat": chat(toolCalling=False)})))
    calls = len(eas.calls)
    run = workspace.up("t")
    assert run.error is None, run.output
    assert run.ops(SERVICE_TYPE) == [("update", "chat-service")]
    assert agrees(announced["chat"], run.ops(SERVICE_TYPE), "chat-service")
    assert eas.calls[calls:] == [("UpdateService", KEY)]
    new_script = eas.config(KEY)["containers"][0]["script"]
    assert "--tool-call-parser" in old_script and "--tool-call-parser" not in new_script
    assert workspace.preview("t").changes() == {}


def test_a_dropped_setting_is_gone_from_eas_and_the_next_preview_is_clean(workspace: Workspace, eas: FakeEas):
    deployed(workspace, eas, chat(replicas=2, autoscaling={"min": 2, "max": 4, "qps": 20}))
    assert "autoscaler" in eas.config(KEY)
    announced = announce(*workspace.change_stack("t", stack_text({"chat": chat(replicas=2)})))
    run = workspace.up("t")
    assert run.error is None, run.output
    assert run.ops(SERVICE_TYPE) == [("update", "chat-service")]
    assert agrees(announced["chat"], run.ops(SERVICE_TYPE), "chat-service")
    # The provider merged (the autoscaler stayed), then the reader replaced the whole JSON.
    assert [kind for key, kind, _ in eas.updates if key == KEY] == ["merge", "replace"]
    assert "autoscaler" not in eas.config(KEY)
    # The deploy workflow refreshes before every up; so does this preview.
    preview = workspace.preview("t", refresh=True)
    assert preview.error is None, preview.output
    assert preview.changes() == {}, [s for s in preview.steps if s.op not in ("same", "refresh")]
