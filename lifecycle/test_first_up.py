"""Scenario 1: the first ``pulumi up`` of a stack, then a preview that must show nothing."""

from __future__ import annotations

from tests.fake_eas import FakeEas

from .conftest import A10, A10_BIG, chat, stack_text
from .engine import COMPONENT_TYPE, PROVIDER_TYPE, READER_TYPE, SERVICE_TYPE, Workspace

MIXED = stack_text({
    "chat": chat(),
    "router": {"model": "Qwen3-4B", "engine": "sglang", "replicas": 1, "thinking": False,
               "resource": {"kind": "spot", "bidPrice": 1.2, "instanceTypes": [A10, A10_BIG]}},
    "batch": {"model": "Qwen3-8B", "engine": "vllm", "maxModelLen": 16384,
              "resource": {"kind": "resourceGroup", "resourceGroupId": "eas-r-lifecycle01", "gpus": 1,
                           "gpuType": "GU30", "cpu": 16, "memoryGiB": 60}},
})


def test_first_up_of_dev_creates_the_service_with_endpoint_and_secret_token(workspace: Workspace, eas: FakeEas):
    workspace.copy_stack("dev")
    run = workspace.up("dev")
    assert run.error is None, run.output
    # The engine's own steps: one provider for the region, the component, the EAS service, the reader.
    assert run.ops(PROVIDER_TYPE) == [("create", "alicloud-cn-hangzhou")]
    assert run.ops(COMPONENT_TYPE) == [("create", "chat")]
    assert run.ops(SERVICE_TYPE) == [("create", "chat-service")]
    assert run.ops(READER_TYPE) == [("create", "chat-endpoint")]
    # The provider created it in the stack's region, waited for Running, then the reader read it.
    assert eas.names() == ["cn-hangzhou/chat_dev"]
    assert eas.services["cn-hangzhou/chat_dev"]["Status"] == "Running"
    token = eas.services["cn-hangzhou/chat_dev"]["AccessToken"]
    service = run.outputs["services"]["chat"]
    # EAS answers with http://; the outputs say https://, the scheme tokens may travel over.
    assert service["internetEndpoint"] == eas.services["cn-hangzhou/chat_dev"]["InternetEndpoint"].replace(
        "http://", "https://", 1)
    assert service["openaiBaseUrl"].endswith(".cn-hangzhou.pai-eas.aliyuncs.com/api/predict/chat_dev/v1")
    assert run.outputs["tokens"] == {"chat": token}
    # The token is a secret in the state: encrypted, nowhere in plain text.
    assert token not in workspace.state_file("dev").read_text()
    # The labels (tags) the program sets reached EAS.
    assert eas.labels("cn-hangzhou/chat_dev")


def test_a_second_preview_after_up_shows_no_changes(workspace: Workspace, eas: FakeEas):
    workspace.copy_stack("dev")
    assert workspace.up("dev").error is None
    preview = workspace.preview("dev")
    assert preview.error is None, preview.output
    assert preview.changes() == {}, [s for s in preview.steps if s.op != "same"]
    # Nothing was sent to EAS by the preview.
    calls = list(eas.calls)
    assert workspace.preview("dev").changes() == {} and eas.calls == calls


def test_first_up_of_a_stack_with_public_spot_and_resource_group_services(workspace: Workspace, eas: FakeEas):
    workspace.write_stack("mixed", MIXED)
    run = workspace.up("mixed")
    assert run.error is None, run.output
    assert sorted(run.ops(SERVICE_TYPE)) == [("create", "batch-service"), ("create", "chat-service"),
                                             ("create", "router-service")]
    assert eas.names() == ["cn-hangzhou/batch_mixed", "cn-hangzhou/chat_mixed", "cn-hangzhou/router_mixed"]
    router = eas.config("cn-hangzhou/router_mixed")
    assert router["cloud"]["computing"]["instances"][0]["spot_price_limit"] == 1.2
    assert eas.config("cn-hangzhou/batch_mixed")["metadata"]["resource"] == "eas-r-lifecycle01"
    assert set(run.outputs["tokens"]) == {"batch", "chat", "router"}
    state = workspace.state_file("mixed").read_text()
    assert not [key for key, svc in eas.services.items() if svc["AccessToken"] in state]
    assert workspace.preview("mixed").changes() == {}
