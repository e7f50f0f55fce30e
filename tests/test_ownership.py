"""Issue 22, item 1: a same-name service elsewhere is never taken for this stack's.

EAS names are unique per region only and ours are ``<key>_<stack>``, so another project's
``chat_dev`` can run in one of our candidate regions. The program runs on Pulumi's mock runtime
against the fake EAS (real SDK client), as in ``test_day2.py``; what it registers is what the
engine would act on: with the copy in cn-hangzhou taken for ours, the service would be planned
there with delete-before-replace, and the engine would delete the stack's own copy in cn-beijing
(``DeleteStep`` through the old provider) and then fail to create in the taken region.
"""

from __future__ import annotations

import json

import pulumi
import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.cli.plan import PlanError
from components.core.plan import stack_plan
from components.core.running import ownership
from components.core.stack import stack_config
from components.eas import running

from .conftest import raw_config, service
from .fake_eas import SERVER_ERROR, fake_eas
from .test_day2 import OWNER, TWO_REGIONS, eas, labels, requests_of, run, running_service, snapshot

__all__ = ["eas"]  # the fixture, used by name below

COMPONENT = "qwen3-eas:eas:Qwen3EasService"


def foreign(name: str, **label_values: str) -> dict:
    """A running service of the same name that is not this stack's."""
    return running_service(name, Labels=[{"LabelKey": k, "LabelValue": v} for k, v in label_values.items()])


def test_another_projects_copy_in_an_earlier_region_is_not_taken_for_ours(eas, tmp_path, monkeypatch):
    """The reproduction: copies in cn-hangzhou (another project's) and cn-beijing (ours)."""
    eas.services["cn-hangzhou/chat_dev"] = foreign("chat_dev", **{"managed-by": "qwen3-eas", "project": "search",
                                                                   "stack": "dev", "service": "chat"})
    eas.services["cn-beijing/chat_dev"] = running_service("chat_dev")
    warned: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: warned.append(message))
    recorded = run({"chat": service(regions=TWO_REGIONS)}, snapshot(tmp_path, cn_hangzhou="WithStock",
                                                                    cn_beijing="WithStock"))
    request = requests_of(recorded)["chat-service"]
    # Kept where the stack's own copy runs: same trigger as its state, no replacement at all.
    assert request.replacement_trigger.string_value == "cn-beijing"
    assert "::alicloud-cn-beijing::" in request.provider
    assert any("cn-hangzhou/chat_dev is not this stack's" in w and "project='search'" in w for w in warned)


def test_this_stacks_service_in_two_regions_is_held_back_even_when_pinned(eas, tmp_path):
    eas.services["cn-hangzhou/chat_dev"] = running_service("chat_dev")
    eas.services["cn-beijing/chat_dev"] = running_service("chat_dev")
    cap = snapshot(tmp_path, cn_hangzhou="WithStock", cn_beijing="WithStock")
    for extra in ({}, {"placements": json.dumps({"chat": "cn-beijing"})}):
        with pytest.raises(PlanError) as failure:
            run({"chat": service(regions=TWO_REGIONS), "other": service()}, cap, **extra)
        message = str(failure.value)
        assert message.startswith("not deployed this run: chat\n")
        assert "runs in cn-hangzhou and cn-beijing" in message and "a pin does not help" in message


def test_a_region_that_did_not_answer_holds_the_service_back_even_when_found_in_another(eas):
    """cn-hangzhou refuses connections (another endpoint), cn-beijing has ours: a second copy could
    be in cn-hangzhou, so where the stack's copy is cannot be told."""
    from components.eas import api as eas_api

    def client(region: str):
        where = "127.0.0.1:1" if region == "cn-hangzhou" else eas.endpoint
        return eas_api.make_client(region, endpoint=where, protocol="http", credentials=("ak", "sk"))

    eas.services["cn-beijing/chat_dev"] = running_service("chat_dev")
    found = running.where_running({"chat": ("chat_dev", TWO_REGIONS)}, owner=OWNER, client_factory=client,
                                  backoff_s=0.01)
    assert found.regions == {}
    assert "DescribeService cn-hangzhou/chat_dev: unreachable" in found.unknown["chat"]
    loaded = stack_config.load("dev", raw_config({"chat": service(regions=TWO_REGIONS)}))
    result = stack_plan.plan_services(loaded, lookup=found)
    assert set(result.held_back) == {"chat"} and result.uncertain == {"chat"}


def test_a_service_without_ownership_labels_is_named_foreign_not_adopted(eas, tmp_path):
    eas.services["cn-hangzhou/chat_dev"] = running_service("chat_dev", Labels=[])
    with pytest.raises(PlanError) as failure:
        run({"chat": service()}, snapshot(tmp_path, cn_hangzhou="WithStock"))
    message = str(failure.value)
    assert "the EAS service chat_dev in cn-hangzhou carries this stack's name, and the program cannot claim it" \
        in message
    assert "no managed-by/project/stack/service labels" in message and "qwen3-eas:adopt" in message


def test_a_service_made_by_an_earlier_release_is_adopted_when_the_stack_says_so_and_gets_labelled(eas, tmp_path,
                                                                                                monkeypatch):
    """Before issue 22 the tags had managed-by and stack, not project and service."""
    eas.services["cn-hangzhou/chat_dev"] = foreign("chat_dev", **{"managed-by": "qwen3-eas", "stack": "dev",
                                                                   "model": "Qwen3-8B"})
    warned: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: warned.append(message))
    recorded = run({"chat": service()}, snapshot(tmp_path, cn_hangzhou="WithStock"), adopt=json.dumps(["chat"]))
    request = requests_of(recorded)["chat-service"]
    assert (request.deleteBeforeReplaceDefined, request.deleteBeforeReplace) == (True, True)  # found running there
    tags = recorded.of_type("alicloud:pai/service:Service")[0]["inputs"]["tags"]
    assert {k: tags[k] for k in ownership.OWNER_KEYS} == {"managed-by": "qwen3-eas", "project": "qwen3-eas",
                                                          "stack": "dev", "service": "chat"}
    assert any("adopted (qwen3-eas:adopt)" in w and "remove 'chat' from qwen3-eas:adopt" in w for w in warned)


def test_adopt_never_takes_another_stacks_service(eas, tmp_path):
    eas.services["cn-hangzhou/chat_dev"] = foreign("chat_dev", **{"managed-by": "qwen3-eas", "stack": "prod"})
    with pytest.raises(PlanError, match=r"labelled stack='prod', not this stack's"):
        run({"chat": service()}, snapshot(tmp_path, cn_hangzhou="WithStock"), adopt=json.dumps(["chat"]))


def test_adopt_names_only_configured_services():
    from components.core.errors import StackConfigError

    with pytest.raises(StackConfigError, match=r"field 'qwen3-eas:adopt': adopts 'chta', not a configured service"):
        stack_config.load("dev", raw_config({"chat": service()}, adopt=json.dumps(["chta"])))


@pytest.mark.parametrize("labels", [{}, {"managed-by": "qwen3-eas", "project": "other"}],
                         ids=["unlabelled", "labelled for another project"])
def test_a_copy_the_program_cannot_claim_holds_the_service_back_instead_of_placing_it_elsewhere(eas, tmp_path,
                                                                                               labels):
    """Issue 27, item 8: a copy of this stack's exact name that it cannot claim may still be the one
    its state holds (deployed before the labels, labels cleared, the project renamed). Placed in
    another region, the engine would replace it, and delete it: the service is held back instead,
    with the ways out, and a preview fails rather than list the running copy as deleted."""
    eas.services["cn-beijing/chat_dev"] = foreign("chat_dev", **labels)
    cap = snapshot(tmp_path, cn_hangzhou="WithStock", cn_beijing="WithStock")
    for preview in (False, True):
        with pytest.raises(PlanError) as failure:
            run({"chat": service(regions=TWO_REGIONS)}, cap, preview=preview)
        message = str(failure.value)
        assert message.startswith("not deployed this run: chat\n")
        assert "chat_dev in cn-beijing carries this stack's name, and the program cannot claim it" in message
        assert "placed in cn-hangzhou instead" in message
        assert "qwen3-eas:adopt: [chat]" in message and "qwen3-eas:namePrefix" in message
    # Adopted, it is this stack's and stays where it runs.
    if not labels:
        request = requests_of(run({"chat": service(regions=TWO_REGIONS)}, cap, adopt=json.dumps(["chat"])))
        assert request["chat-service"].replacement_trigger.string_value == "cn-beijing"


def test_a_name_prefix_separates_projects_and_leaves_unprefixed_stacks_as_they_were(eas, tmp_path):
    cap = snapshot(tmp_path, cn_hangzhou="WithStock")
    plain = requests_of(run({"chat": service()}, cap))["chat-service"]
    assert plain.replacement_trigger.string_value == "cn-hangzhou"  # what every earlier release registered
    eas.requests.clear()
    recorded = run({"chat": service()}, cap, namePrefix="teama")
    prefixed = requests_of(recorded)["chat-service"]
    config = json.loads(recorded.of_type("alicloud:pai/service:Service")[0]["inputs"]["serviceConfig"])
    assert config["metadata"]["name"] == "teama_chat_dev"
    # The new name, and the name it runs as before the prefix (issue 27, item 6).
    assert sorted(eas.requests) == ["/api/v2/services", "/api/v2/services/cn-hangzhou/chat_dev",
                                    "/api/v2/services/cn-hangzhou/teama_chat_dev"]
    # Setting the prefix on a deployed stack changes the trigger: a replacement (the new name is
    # free, so create first), never an in-place update that would address the old name.
    assert prefixed.replacement_trigger.string_value == "cn-hangzhou/teama_chat_dev"
    assert (prefixed.deleteBeforeReplaceDefined, prefixed.deleteBeforeReplace) == (True, False)


def test_a_preview_fails_when_a_held_back_service_may_run(eas, tmp_path, monkeypatch):
    """Item 5: unregistered in a preview, a service that may run would be listed as deleted (and
    prod's protected one would fail on protect): the preview fails with the reason instead."""
    eas.faults = [SERVER_ERROR]
    with pytest.raises(PlanError, match=r"(?s)not deployed this run: chat\n.*cannot tell whether it already runs"):
        run({"chat": service()}, snapshot(tmp_path, cn_hangzhou="WithStock"), preview=True)


def test_a_preview_fails_when_this_stacks_service_runs_in_two_regions(eas, tmp_path):
    eas.services["cn-hangzhou/chat_dev"] = running_service("chat_dev")
    eas.services["cn-beijing/chat_dev"] = running_service("chat_dev")
    with pytest.raises(PlanError, match="runs in cn-hangzhou and cn-beijing"):
        run({"chat": service(regions=TWO_REGIONS)}, snapshot(tmp_path, cn_hangzhou="WithStock",
                                                              cn_beijing="WithStock"), preview=True)


def test_the_ownership_labels_reach_every_service_registration():
    recorded = run({"chat": service(), "code": service()}, look_up=False, protect="true")
    for res in recorded.of_type("alicloud:pai/service:Service"):
        key = res["name"].removesuffix("-service")
        assert {k: res["inputs"]["tags"][k] for k in ownership.OWNER_KEYS} == OWNER.labels(key)


LABEL_VALUES = st.sampled_from(["qwen3-eas", "dev", "prod", "chat", "other"])


@given(st.dictionaries(st.sampled_from(ownership.OWNER_KEYS), LABEL_VALUES), st.booleans())
def test_a_copy_is_ours_exactly_when_no_label_says_otherwise_and_all_are_there_or_adopted(found, adopt):
    """Property: every ownership label that is there matches, and either all are there or the key
    is adopted."""
    owner = ownership.Owner("qwen3-eas", "dev", frozenset({"chat"} if adopt else ()))
    expected = owner.labels("chat")
    matches = all(found[k] == expected[k] for k in found)
    assert (owner.judge("chat", found) is None) == (matches and (len(found) == 4 or adopt))


def test_labels_from_describe_service_reach_the_lookup():
    """The SDK's ``Service.labels`` (``LabelKey``/``LabelValue``) as the ownership check reads them."""
    with fake_eas(services={"cn-hangzhou/chat_dev": running_service("chat_dev")}) as server:
        from components.eas import api as eas_api

        client = eas_api.make_client("cn-hangzhou", endpoint=server.endpoint, protocol="http", credentials=("a", "b"))
        body = eas_api.describe_service(client, "cn-hangzhou", "chat_dev")
    assert eas_api.labels_of(body) == {entry["LabelKey"]: entry["LabelValue"] for entry in labels("chat")}


def test_a_preview_fails_when_the_service_where_it_would_go_is_unlabelled(eas, tmp_path):
    """The first preview after upgrading: the stack's own service, made by an earlier release, has
    no project/service labels and may well be in the stack's state; warned about only, it would
    be listed as deleted."""
    eas.services["cn-hangzhou/chat_dev"] = foreign("chat_dev", **{"managed-by": "qwen3-eas", "stack": "dev"})
    with pytest.raises(PlanError, match=r"(?s)not deployed this run: chat\n.*qwen3-eas:adopt"):
        run({"chat": service()}, snapshot(tmp_path, cn_hangzhou="WithStock"), preview=True)


# -- issue 27: a move whose old copy was not deleted, a rename, taking a service back -------------

MOVED = {**OWNER.labels("chat"), ownership.MOVED_FROM_LABEL: "cn-hangzhou"}


def test_the_copy_a_move_created_is_current_and_the_other_is_the_old_one_to_delete():
    copies = {"chat": {"cn-hangzhou": ownership.Copy("cn-hangzhou", OWNER.labels("chat")),
                       "cn-beijing": ownership.Copy("cn-beijing", MOVED)}}
    found = ownership.settle({"chat": ("chat_dev", TWO_REGIONS)}, copies, {}, OWNER)
    assert found.conflicts == {}
    assert found.regions == {"chat": "cn-beijing"} and found.replaced["chat"].region == "cn-hangzhou"
    assert found.moved_from == {"chat": "cn-hangzhou"}
    assert any("DeleteService --ClusterId cn-hangzhou --ServiceName chat_dev" in n for n in found.notes["chat"])
    # Without the label (a copy made by hand, or a move from before it) the program cannot tell.
    plain = {"chat": {r: ownership.Copy(r, OWNER.labels("chat")) for r in TWO_REGIONS}}
    assert "chat" in ownership.settle({"chat": ("chat_dev", TWO_REGIONS)}, plain, {}, OWNER).conflicts


def test_a_move_registers_the_moved_from_label_and_later_runs_send_it_again(eas, tmp_path):
    cap = snapshot(tmp_path, cn_hangzhou="NoStock", cn_beijing="WithStock")
    eas.services["cn-hangzhou/chat_dev"] = running_service("chat_dev")
    recorded = run({"chat": service(regions=TWO_REGIONS, allowRegionMove=True)}, cap)
    tags = recorded.of_type("alicloud:pai/service:Service")[0]["inputs"]["tags"]
    assert tags[ownership.MOVED_FROM_LABEL] == "cn-hangzhou"
    del eas.services["cn-hangzhou/chat_dev"]
    eas.services["cn-beijing/chat_dev"] = running_service("chat_dev", Labels=[
        {"LabelKey": k, "LabelValue": v} for k, v in MOVED.items()])
    again = run({"chat": service(regions=TWO_REGIONS, allowRegionMove=True)}, cap)
    assert again.of_type("alicloud:pai/service:Service")[0]["inputs"]["tags"][ownership.MOVED_FROM_LABEL] == \
        "cn-hangzhou"


def test_with_two_copies_the_service_is_never_deleted_first_nor_taken_back(eas, tmp_path):
    """The state may hold either copy (a delete that failed, or a create a killed run left): a
    replacement creates first, so the copy the state holds is never deleted before its successor."""
    cap = snapshot(tmp_path, cn_hangzhou="WithStock", cn_beijing="WithStock")
    eas.services["cn-hangzhou/chat_dev"] = running_service("chat_dev")
    eas.services["cn-beijing/chat_dev"] = running_service("chat_dev", Labels=[
        {"LabelKey": k, "LabelValue": v} for k, v in MOVED.items()])
    request = requests_of(run({"chat": service(regions=TWO_REGIONS)}, cap))["chat-service"]
    assert request.replacement_trigger.string_value == "cn-beijing"
    assert (request.deleteBeforeReplaceDefined, request.deleteBeforeReplace) == (True, False)
    assert request.importId == ""


def test_a_service_found_where_it_is_planned_is_taken_back_by_its_name(eas, tmp_path):
    eas.services["cn-hangzhou/chat_dev"] = running_service("chat_dev")
    request = requests_of(run({"chat": service()}, snapshot(tmp_path, cn_hangzhou="WithStock")))["chat-service"]
    assert request.importId == "chat_dev"
    assert requests_of(run({"chat": service()}, look_up=False))["chat-service"].importId == ""


def test_adding_a_prefix_keeps_the_service_where_it_runs_under_its_old_name_and_creates_first(eas, tmp_path):
    """Issue 27, item 6: the lookup searches the old name too."""
    eas.services["cn-hangzhou/chat_dev"] = running_service("chat_dev")
    cap = snapshot(tmp_path, cn_hangzhou="NoStock", cn_beijing="WithStock")
    recorded = run({"chat": service(regions=TWO_REGIONS)}, cap, namePrefix="team")
    request = requests_of(recorded)["chat-service"]
    assert request.replacement_trigger.string_value == "cn-hangzhou/team_chat_dev"
    assert (request.deleteBeforeReplaceDefined, request.deleteBeforeReplace) == (True, False)
    assert request.importId == ""


def test_this_stacks_services_under_no_key_are_found_outside_the_stack(eas):
    """Issue 27, item 5: kept on delete, then removed: ListServices by the stack's labels names them."""
    eas.services["cn-hangzhou/chat_dev"] = running_service("chat_dev")
    eas.services["cn-hangzhou/old_dev"] = running_service("old_dev", Labels=labels("old"))
    eas.services["cn-hangzhou/else_prod"] = running_service("else_prod", Labels=labels("else", stack="prod"))
    found = running.where_running({"chat": ("chat_dev", ["cn-hangzhou"])}, owner=OWNER)
    assert {label: [(c.region, c.name) for c in copies] for label, copies in found.outside.items()} == \
        {"old": [("cn-hangzhou", "old_dev")]}
    assert found.regions == {"chat": "cn-hangzhou"}


def test_a_refused_listservices_is_a_warning_not_a_failure(eas, monkeypatch):
    """eas:ListServices is optional (docs/security.md): without it the run goes on."""
    from components.eas import api as eas_api

    def refused(*args, **kwargs):
        raise eas_api.ProbeFailure(eas_api.FailureKind.AUTH, "HTTP 403 Forbidden.RAM")

    eas.services["cn-hangzhou/chat_dev"] = running_service("chat_dev")
    monkeypatch.setattr(eas_api, "list_services", refused)
    found = running.where_running({"chat": ("chat_dev", ["cn-hangzhou"])}, owner=OWNER)
    assert found.regions == {"chat": "cn-hangzhou"} and found.outside == {}
    assert any("cannot list this stack's services in cn-hangzhou" in n for n in found.notes["ListServices"])
