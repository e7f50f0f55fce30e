"""Scenario 8: adopting a service made outside Pulumi, the way docs/operating.md describes it."""

from __future__ import annotations

import json

from tests.fake_eas import FakeEas

from .conftest import A10, chat, stack_text
from .engine import READER_TYPE, SERVICE_TYPE, Workspace

KEY = "cn-hangzhou/chat_t"
PROVIDER_URN = "urn:pulumi:t::qwen3-eas::pulumi:providers:alicloud::alicloud-cn-hangzhou"


def test_an_existing_service_is_imported_then_brought_to_the_stacks_config(workspace: Workspace, eas: FakeEas):
    by_hand = {"metadata": {"name": "chat_t", "instance": 1},
               "cloud": {"computing": {"instances": [{"type": A10}]}},
               "containers": [{"image": "vllm/vllm-openai:v0.11.2", "port": 8000, "script": "vllm serve /model_dir"}]}
    eas.create("cn-hangzhou", by_hand)
    # Made by hand: none of the ownership labels, so the stack adopts it by name for these runs.
    workspace.write_stack("t", stack_text({"chat": chat()}, adopt=["chat"]))
    # 1. The region's provider alone.
    first = workspace.up("t", target=[PROVIDER_URN])
    assert first.error is None, first.output
    assert eas.services[KEY]["LatestVersion"] == 1, "the targeted up touched the service"
    # 2. The import file of docs/operating.md, with the CLI's own import.
    adopt = workspace.dir / "adopt.json"
    adopt.write_text(json.dumps({
        "nameTable": {"alicloud-cn-hangzhou": PROVIDER_URN},
        "resources": [
            {"type": "qwen3-eas:eas:Qwen3EasService", "name": "chat", "component": True},
            {"type": SERVICE_TYPE, "name": "chat-service", "id": "chat_t", "parent": "chat",
             "provider": "alicloud-cn-hangzhou"},
        ],
    }))
    imported = workspace.cli_run("t", "import", "--file", str(adopt), "--generate-code=false", "--yes")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    [service] = workspace.resources("t", SERVICE_TYPE)
    assert service["id"] == "chat_t" and json.loads(service["outputs"]["serviceConfig"]) == by_hand
    # 3. The preview shows the running JSON brought to the stack's; up applies it and adds the reader.
    preview = workspace.preview("t")
    assert preview.error is None, preview.output
    assert preview.ops(SERVICE_TYPE) == [("update", "chat-service")]
    run = workspace.up("t")
    assert run.error is None, run.output
    assert run.ops(SERVICE_TYPE) == [("update", "chat-service")]
    assert run.ops(READER_TYPE) == [("create", "chat-endpoint")]
    assert eas.names() == [KEY] and eas.config(KEY)["containers"][0]["image"] != "vllm/vllm-openai:v0.11.2"
    assert run.outputs["tokens"]["chat"] == eas.services[KEY]["AccessToken"]
    # Labelled now: without `adopt` the next run keeps it as this stack's and has nothing to do.
    assert {"project", "stack", "service"} <= set(eas.labels(KEY))
    workspace.write_stack("t", stack_text({"chat": chat()}))
    assert workspace.preview("t", refresh=True).changes() == {}
