"""The component on Pulumi's mock runtime: types, names, parents, providers, outputs."""

from __future__ import annotations

import json

import pulumi
import pytest

from components.cli.plan import run_program
from components.core.hardware import hardware_choice

from .conftest import A10, raw_config, service

STACK_SERVICES = {
    "chat": service(),
    "big": service(model="Qwen3-32B", engine="sglang", regions=["cn-shanghai"],
                   resource={"kind": "public", "instanceTypes": ["ml.gu8v.c16m128.1-gu120"]}),
    "small": service(model="Qwen3-0.6B"),
}


@pytest.fixture(scope="module")
def recorded():
    config = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in raw_config(STACK_SERVICES).items()}
    return run_program("dev", config)


def test_one_component_and_one_eas_service_per_configured_service(recorded):
    components = {r["name"] for r in recorded.of_type("qwen3-eas:eas:Qwen3EasService")}
    services = {r["name"] for r in recorded.of_type("alicloud:pai/service:Service")}
    assert components == {"chat", "big", "small"}
    assert services == {"chat-service", "big-service", "small-service"}


def test_eas_services_are_children_of_their_component(recorded):
    by_name = {urn.rsplit("::", 1)[1]: parent for urn, parent in recorded.parents.items()}
    for key in ("chat", "big", "small"):
        assert by_name[f"{key}-service"].endswith(f"qwen3-eas:eas:Qwen3EasService::{key}")
        assert by_name[key].endswith("pulumi:pulumi:Stack::qwen3-eas-dev")


def test_one_explicit_provider_per_region_shared_by_services(recorded):
    providers = {r["name"]: r["inputs"]["region"] for r in recorded.of_type("pulumi:providers:alicloud")}
    assert providers == {"alicloud-cn-hangzhou": "cn-hangzhou", "alicloud-cn-shanghai": "cn-shanghai"}
    by_service = {r["name"]: r["provider"] for r in recorded.of_type("alicloud:pai/service:Service")}
    assert "alicloud-cn-shanghai::" in by_service["big-service"]
    assert by_service["chat-service"] == by_service["small-service"]
    assert "alicloud-cn-hangzhou::" in by_service["chat-service"]


def test_service_config_is_the_planned_json_with_tags(recorded):
    (chat,) = [r for r in recorded.of_type("alicloud:pai/service:Service") if r["name"] == "chat-service"]
    parsed = json.loads(chat["inputs"]["serviceConfig"])
    assert parsed["metadata"]["name"] == "chat_dev"
    assert chat["inputs"]["tags"] == {"model": "Qwen3-8B", "engine": "vllm", "stack": "dev", "managed-by": "qwen3-eas",
                                      "gpus": "1", "gpu-memory-gb": "24", "gpu-type": "GU30",
                                      # whose it is (issue 22): a later run checks these before keeping it
                                      "project": "qwen3-eas", "service": "chat",
                                      # what the stack file asked for (issue 28): the same request keeps what runs
                                      "instance-types": hardware_choice.request("public", [A10])}


def test_component_registers_its_outputs(recorded):
    outputs = {u.rsplit("::", 1)[1]: o for u, o in recorded.component_outputs.items() if "Qwen3EasService" in u}
    assert outputs["big"]["region"] == "cn-shanghai"
    assert outputs["big"]["servedModelName"] == "Qwen3-32B"
    assert outputs["chat"]["serviceName"] == "chat_dev"
    assert outputs["chat"]["status"] == "Running"


def test_stack_exports_every_service(recorded):
    stack_outputs = recorded.stack_outputs()
    assert set(stack_outputs["services"]) == {"chat", "big", "small"}
    assert stack_outputs["services"]["big"]["region"] == "cn-shanghai"


@pulumi.runtime.test
def test_component_attributes_resolve_under_the_test_decorator():
    """The component built directly (not via the program), with outputs awaited by the decorator."""
    from components.core.plan import stack_plan
    from components.core.stack import stack_config
    from components.providers import RegionalProviders
    from components.service import Qwen3EasService, Qwen3EasServiceArgs

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args):
            state = {**args.inputs, "status": "Running"}
            if args.typ == "pulumi-python:dynamic/eas:ServiceEndpoint":  # what DescribeService would have said
                state.update(internetEndpoint="http://1.cn-hangzhou.pai-eas.aliyuncs.com/api/predict/chat_unit",
                             openaiBaseUrl="http://1.cn-hangzhou.pai-eas.aliyuncs.com/api/predict/chat_unit/v1",
                             token="tok-123")
            return f"{args.name}-id", state

        def call(self, args):
            return {}, None

    pulumi.runtime.set_mocks(Mocks(), project="qwen3-eas", stack="unit", preview=False)
    plan = stack_plan.plan_stack(stack_config.load("unit", raw_config({"chat": service()})))["chat"]
    svc = Qwen3EasService("chat", Qwen3EasServiceArgs(plan=plan),
                          opts=pulumi.ResourceOptions(providers=[RegionalProviders().for_region("cn-hangzhou")]))

    def check(values):
        name, region, status, config, base_url, token = values
        assert (name, region, status) == ("chat_unit", "cn-hangzhou", "Running")
        assert json.loads(config)["metadata"]["name"] == "chat_unit"
        assert base_url.endswith("/api/predict/chat_unit/v1") and token == "tok-123"

    secret = svc.token.is_secret() if hasattr(svc.token, "is_secret") else None
    assert secret is not None
    checked = pulumi.Output.all(svc.name_output, svc.region, svc.service.status, svc.service.service_config,
                                svc.openai_base_url, svc.token).apply(check)
    return pulumi.Output.all(checked, pulumi.Output.from_input(secret)).apply(
        lambda values: _assert_secret(values[1]))


def _assert_secret(is_secret: bool) -> None:
    assert is_secret, "the token must be a Pulumi secret"


def test_tokens_are_exported_as_a_secret_apart_from_the_readable_services(recorded):
    outputs = recorded.stack_outputs()
    secret_sig = "4dabf18193072939515e22adb298388d"  # Pulumi's marker for a secret value on the wire
    assert secret_sig in outputs["tokens"]
    assert secret_sig not in outputs["services"]
    # Endpoints are unknown until DescribeService runs after creation: the offline plan has none.
    assert set(outputs["services"]["chat"]) >= {"servedModelName", "region", "instanceTypes", "features"}
    # The smoke test judges a service by what its engine offers (BladeLLM: no /v1/models).
    assert outputs["services"]["chat"]["engine"] in ("vllm", "sglang", "bladellm")


def test_endpoint_reader_depends_on_its_service(recorded):
    by_name = {urn.rsplit("::", 1)[1]: (urn, parent) for urn, parent in recorded.parents.items()}
    urn, parent = by_name["chat-endpoint"]
    assert "qwen3-eas:eas:Qwen3EasService::chat" in parent
    assert "$pulumi-python:dynamic/eas:ServiceEndpoint::chat-endpoint" in urn


def test_registering_a_component_resolves_no_type_hints():
    """The SDK resolves a resource class's annotations for every resource it registers (to read
    outputs back into them); a component's outputs are never read back, so ours gives it nothing
    to resolve (its attributes are typed where __init__ sets them, for mypy and readers)."""
    from pulumi import _types

    from components.service import Qwen3EasService

    assert _types.resource_types(Qwen3EasService) == {}
