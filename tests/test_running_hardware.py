"""What a run learns of the services that run (their region, their instance types), from the EAS API
or from a deployed stack's outputs, and renaming a service key while its service keeps running
(issue 28, sections 1 and 2).

The program runs on Pulumi's mock runtime; lookups reach the local fake EAS (``tests/fake_eas.py``)
through the endpoint switch, or read a file (``QWEN3_EAS_RUNNING=<file>``).
"""

from __future__ import annotations

import json

import pytest

from components.cli.plan import run_program
from components.core.errors import StackConfigError
from components.core.stack import stack_config
from components.eas import api as eas_api
from components.eas import running

from .conftest import A10, raw_config, service
from .fake_eas import fake_eas

SERVICE_TYPE = "alicloud:pai/service:Service"
COMPONENT_TYPE = "qwen3-eas:eas:Qwen3EasService"
ONE_96 = "ecs.gn8v.4xlarge"
OURS = {"managed-by": "qwen3-eas", "project": "qwen3-eas", "stack": "dev"}


@pytest.fixture
def eas(monkeypatch, env_credentials):
    with fake_eas() as server:
        monkeypatch.setenv(eas_api.API_ENDPOINT_ENV, server.endpoint)
        monkeypatch.setenv(eas_api.API_PROTOCOL_ENV, "http")
        monkeypatch.delenv(running.ENV, raising=False)
        yield server


def run(services: dict, **kwargs):
    config = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in raw_config(services).items()}
    return run_program("dev", config, **kwargs)


def registered(recorded, type_: str) -> dict:
    return {r.name: r for r in recorded.requests if r.type == type_}


def test_a_running_service_found_by_describe_service_keeps_the_types_its_json_lists(eas):
    """Qwen3-14B without instanceTypes runs on one 96 GB GPU (an earlier choice); the automatic
    list today starts with a 48 GB L20. DescribeService's ServiceConfig says what it runs on: kept."""
    eas.create("cn-hangzhou", {"metadata": {"name": "chat_dev"}, "cloud": {"computing": {"instances": [
        {"type": ONE_96}]}}}, labels={**OURS, "service": "chat"})
    recorded = run({"chat": service(model="Qwen3-14B", resource={"kind": "public"})}, look_up_running=True)
    entry = recorded.summaries["chat"]
    assert entry["instanceTypes"] == [ONE_96] and entry["instanceTypeChoice"]["how"] == "kept"
    sent = json.loads(registered(recorded, SERVICE_TYPE)["chat-service"].object["serviceConfig"])
    assert [i["type"] for i in sent["cloud"]["computing"]["instances"]] == [ONE_96]


def test_the_lookup_is_answered_from_a_deployed_stacks_outputs(tmp_path, monkeypatch):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"services": {"chat": {"serviceName": "chat_dev", "region": "cn-beijing",
                                                         "instanceTypes": [ONE_96], "resourceKind": "public"}}}))
    monkeypatch.setenv(running.ENV, str(outputs))
    found = running.where_running({"chat": ("chat_dev", ("cn-hangzhou", "cn-beijing")),
                                   "other": ("other_dev", ("cn-hangzhou",))}, owner=running.Owner("qwen3-eas", "dev"))
    assert found.regions == {"chat": "cn-beijing"} and found.runs_on["chat"].instance_types == (ONE_96,)
    outputs.write_text("{}")
    with pytest.raises(running.ServiceLookupError, match="has no 'services' map"):
        running.where_running({"chat": ("chat_dev", ("cn-hangzhou",))}, owner=running.Owner("qwen3-eas", "dev"))


def test_renamed_from_keeps_the_eas_name_and_labels_and_aliases_the_old_keys_resources():
    recorded = run({"assistant": service(renamedFrom="chat")})
    service_request = registered(recorded, SERVICE_TYPE)["assistant-service"]
    config = json.loads(service_request.object["serviceConfig"])
    assert config["metadata"]["name"] == "chat_dev"
    assert dict(service_request.object["tags"])["service"] == "chat"
    component = registered(recorded, COMPONENT_TYPE)["assistant"]
    assert [a.spec.name for a in component.aliases] == ["chat"]
    assert recorded.summaries["assistant"]["renamedFrom"] == "chat"


def test_a_renamed_service_found_running_under_its_old_labels_is_this_stacks(eas):
    eas.create("cn-hangzhou", {"metadata": {"name": "chat_dev"}, "cloud": {"computing": {"instances": [
        {"type": A10}]}}}, labels={**OURS, "service": "chat"})
    recorded = run({"assistant": service(renamedFrom="chat")}, look_up_running=True)
    assert recorded.summaries["assistant"]["region"] == "cn-hangzhou" and not recorded.held_back
    # Kept in place: a replacement there would delete first (deleteBeforeReplace), as for any service found.
    assert registered(recorded, SERVICE_TYPE)["assistant-service"].deleteBeforeReplace is True


@pytest.mark.parametrize(("services", "message"), [
    ({"chat": service(), "assistant": service(renamedFrom="chat")}, "names 'chat', which is still a service"),
    ({"a": service(renamedFrom="chat"), "b": service(renamedFrom="chat")}, "as service 'a' does"),
    ({"chat": service(renamedFrom="chat")}, "names the service's own key"),
])
def test_a_rename_that_cannot_be_is_refused_on_its_field(services, message):
    with pytest.raises(StackConfigError) as err:
        stack_config.load("dev", raw_config(services))
    (problem,) = err.value.problems
    assert problem.field == "renamedFrom" and message in problem.message


def test_the_services_output_says_the_resource_kind_for_make_diff(tmp_path):
    recorded = run({"chat": service()})
    assert recorded.stack_outputs()["services"]["chat"]["resourceKind"] == "public"


def test_make_plan_outputs_keeps_running_services_where_and_on_what_they_run(write_stack, tmp_path):
    from components.cli import plan

    path = write_stack({"alicloud:region": "cn-hangzhou", "qwen3-eas:services": {
        "chat": service(model="Qwen3-14B", regions=["cn-hangzhou", "cn-beijing"], resource={"kind": "public"})}})
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"services": {"chat": {"serviceName": f"chat_{path.stem.split('.')[1]}",
                                                         "region": "cn-beijing", "instanceTypes": [ONE_96]}}}))
    entry = json.loads(plan.make_plan(str(path), outputs=outputs)[1]["plan.json"])["chat"]
    assert (entry["region"], entry["instanceTypes"]) == ("cn-beijing", [ONE_96])
    with pytest.raises(plan.PlanError, match=r"outputs file .* does not exist"):
        plan.make_plan(str(path), outputs=tmp_path / "missing.json")
