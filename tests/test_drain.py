"""Issue 22, item 4: a region move that clients survive (``drain``).

A plain move replaces the service in one ``pulumi up``: the engine creates the new copy and
deletes the old one at the end of the same run, and the new copy has another host and token.
With ``drain`` the old copy keeps serving until a stated time. What each run registers is
checked on the mock runtime against the fake EAS; the engine's part (retainOnDelete read from
the old state, step.go line 661; deletions after the program) is cited, and listed for
``make lifecycle`` in the closing report.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.cli.plan import PlanError
from components.core.errors import StackConfigError
from components.core.running import ownership
from components.core.stack import stack_config
from components.drain import DrainedCopyProvider, DrainError

from .conftest import raw_config, service
from .fake_eas import fake_eas
from .test_day2 import eas, labels, requests_of, run, running_service, snapshot

__all__ = ["eas"]

FUTURE, PAST = "2099-01-01T00:00:00Z", "2000-01-01T00:00:00Z"
DRAINED_TYPE = "pulumi-python:dynamic/eas:DrainedCopy"


def moving(until: str = FUTURE, **overrides: Any) -> dict[str, Any]:
    """chat runs in cn-hangzhou and moves to cn-beijing, keeping the old copy until ``until``."""
    return service(**{"regions": ["cn-beijing"], "drain": {"region": "cn-hangzhou", "until": until}, **overrides})


def retained(name: str = "chat_dev") -> dict[str, Any]:
    """The old copy after the first run of the move: retainOnDelete recorded, and labelled so."""
    return running_service(name, Labels=labels("chat", **{ownership.RETAIN_LABEL: "true"}))


@pytest.fixture
def cap(tmp_path):
    return snapshot(tmp_path, cn_hangzhou="WithStock", cn_beijing="WithStock")


def test_the_first_run_keeps_the_service_and_records_retain_on_delete_then_asks_for_another(eas, cap):
    eas.services["cn-hangzhou/chat_dev"] = running_service("chat_dev")
    with pytest.raises(PlanError, match=r"not moved this run: chat: moves out of cn-hangzhou in two runs"):
        run({"chat": moving()}, cap)
    # As `pulumi up` registers it before failing at the end: unchanged region, retained, labelled.
    recorded = run({"chat": moving()}, cap, preview=True)
    request = requests_of(recorded)["chat-service"]
    assert request.replacement_trigger.string_value == "cn-hangzhou"
    assert request.retainOnDelete is True
    tags = recorded.of_type("alicloud:pai/service:Service")[0]["inputs"]["tags"]
    assert tags[ownership.RETAIN_LABEL] == "true"
    assert not recorded.of_type(DRAINED_TYPE)


def test_the_second_run_moves_it_and_keeps_the_old_copy_under_a_drain_resource(eas, cap):
    eas.services["cn-hangzhou/chat_dev"] = retained()
    recorded = run({"chat": moving()}, cap)
    request = requests_of(recorded)["chat-service"]
    assert request.replacement_trigger.string_value == "cn-beijing"
    assert "::alicloud-cn-beijing::" in request.provider
    assert (request.deleteBeforeReplaceDefined, request.deleteBeforeReplace) == (True, False)  # create first
    [drained] = recorded.of_type(DRAINED_TYPE)
    assert (drained["inputs"]["region"], drained["inputs"]["serviceName"], drained["inputs"]["until"]) == \
        ("cn-hangzhou", "chat_dev", FUTURE)
    assert requests_of(recorded, DRAINED_TYPE)["chat-drained"].protect is False  # deletable on a protected stack


def test_while_it_drains_both_copies_run_and_neither_is_a_conflict(eas, cap):
    eas.services["cn-hangzhou/chat_dev"] = retained()
    eas.services["cn-beijing/chat_dev"] = running_service("chat_dev")
    recorded = run({"chat": moving()}, cap, protect="true")
    assert requests_of(recorded)["chat-service"].replacement_trigger.string_value == "cn-beijing"
    assert [r["name"] for r in recorded.of_type(DRAINED_TYPE)] == ["chat-drained"]


def test_once_the_drain_is_over_the_drain_resource_is_registered_as_ended_and_the_next_run_drops_it(
        eas, cap, monkeypatch):
    """The end is told to the resource itself (its update deletes the old copy): an ``until`` moved
    earlier reaches it, which a delete with the state's old ``until`` could not see."""
    eas.services["cn-hangzhou/chat_dev"] = retained()
    eas.services["cn-beijing/chat_dev"] = running_service("chat_dev")
    warned: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: warned.append(message))
    recorded = run({"chat": moving(until=PAST)}, cap)
    [drained] = recorded.of_type(DRAINED_TYPE)
    assert drained["inputs"]["ended"] is True and drained["inputs"]["until"] == PAST
    assert not requests_of(recorded)["chat-service"].HasField("retainOnDelete")  # back to the stack's setting
    assert any("the drain of cn-hangzhou ended" in w and "this run deletes" in w for w in warned)
    del eas.services["cn-hangzhou/chat_dev"]  # deleted by that update
    assert not run({"chat": moving(until=PAST)}, cap).of_type(DRAINED_TYPE)


def test_after_the_move_the_new_copy_is_not_kept_on_delete(eas, cap):
    """Issue 27, item 3: while the old copy drains, removing the service or destroying the stack
    deletes the new copy like any other; only the first run of the move records retainOnDelete."""
    eas.services["cn-hangzhou/chat_dev"] = retained()
    eas.services["cn-beijing/chat_dev"] = running_service("chat_dev")
    request = requests_of(run({"chat": moving()}, cap))["chat-service"]
    assert not request.HasField("retainOnDelete")


def test_a_drain_without_a_region_to_move_to_is_refused():
    with pytest.raises(StackConfigError, match=r"field 'drain.region': the only region listed, cn-hangzhou"):
        stack_config.load("dev", raw_config({"chat": moving(regions=["cn-hangzhou"])}))
    with pytest.raises(PlanError, match=r"field 'drain.region': cn-hangzhou is the only region the service may run"):
        run({"chat": moving(regions=None)}, look_up=False)


# -- the drain resource itself, against the fake EAS ------------------------------------------------

OWNER = ownership.Owner("qwen3-eas", "dev").labels("chat")
PROPS = {"region": "cn-hangzhou", "serviceName": "chat_dev", "until": FUTURE, "owner": OWNER}


@pytest.fixture
def provider_for(env_credentials):
    def make(server: Any) -> DrainedCopyProvider:
        return DrainedCopyProvider(api_endpoint=server.endpoint, protocol="http", poll_s=0.01, delete_wait_s=2)
    return make


def test_the_drain_resource_deletes_the_old_copy_when_its_drain_is_over(provider_for):
    ended = {**PROPS, "until": PAST}
    with fake_eas(services={"cn-hangzhou/chat_dev": retained(), "cn-beijing/chat_dev": running_service("chat_dev")}) \
            as server:
        provider = provider_for(server)
        created = provider.create(PROPS)
        assert created.outs["status"] == "Running"
        provider.delete(created.id, ended)
        assert server.deletes == ["cn-hangzhou/chat_dev"]
        assert "cn-beijing/chat_dev" in server.services
        provider.delete(created.id, ended)  # gone already: nothing to do
        assert server.deletes == ["cn-hangzhou/chat_dev"]


def test_its_update_at_the_drains_end_deletes_the_old_copy(provider_for):
    with fake_eas(services={"cn-hangzhou/chat_dev": retained()}) as server:
        updated = provider_for(server).update("cn-hangzhou/chat_dev", PROPS, {**PROPS, "until": PAST, "ended": True})
        assert server.deletes == ["cn-hangzhou/chat_dev"] and updated.outs["status"] == "gone"


def test_while_the_drain_lasts_a_delete_is_refused_and_the_old_copy_kept(provider_for, monkeypatch):
    """Issue 27, item 3: `pulumi destroy`, or the service removed, while the drain lasts."""
    with fake_eas(services={"cn-hangzhou/chat_dev": retained()}) as server:
        with pytest.raises(DrainError, match=r"keeps the old copy cn-hangzhou/chat_dev running until 2099-01-01"
                                             r".*QWEN3_EAS_END_DRAINS=1"):
            provider_for(server).delete("cn-hangzhou/chat_dev", PROPS)
        assert server.deletes == []
        monkeypatch.setenv("QWEN3_EAS_END_DRAINS", "1")
        provider_for(server).delete("cn-hangzhou/chat_dev", PROPS)
        assert server.deletes == ["cn-hangzhou/chat_dev"]


def test_a_delete_that_ends_delete_failed_fails_at_once_with_the_way_out(provider_for):
    with fake_eas(services={"cn-hangzhou/chat_dev": retained()}, delete_outcome="DeleteFailed", settle_polls=1) \
            as server, pytest.raises(DrainError, match=r"could not delete the old copy cn-hangzhou/chat_dev \(DeleteFailed"
                                         r".*aliyun eas DeleteService --ClusterId cn-hangzhou --ServiceName chat_dev"):
        provider_for(server).delete("cn-hangzhou/chat_dev", {**PROPS, "until": PAST})


def test_the_drain_resource_never_deletes_a_service_that_is_not_this_stacks(provider_for):
    other = running_service("chat_dev", Labels=labels("chat", project="search"))
    with fake_eas(services={"cn-hangzhou/chat_dev": other}) as server:
        with pytest.raises(DrainError, match=r"not this stack's old copy \(labels project='search'\)"):
            provider_for(server).delete("cn-hangzhou/chat_dev", PROPS)
        assert server.deletes == []


def test_a_refresh_of_a_drained_copy_deleted_by_hand_drops_it(provider_for):
    with fake_eas() as server:
        assert provider_for(server).read("cn-hangzhou/chat_dev", PROPS).id is None
