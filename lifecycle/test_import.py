"""Scenario 8: adopting a service made outside Pulumi, the way docs/operating.md describes it."""

from __future__ import annotations

from tests.fake_eas import FakeEas

from .conftest import A10, chat, stack_text
from .engine import READER_TYPE, SERVICE_TYPE, Workspace

KEY = "cn-hangzhou/chat_t"


def test_an_existing_service_is_taken_back_by_id_then_brought_to_the_stacks_config(workspace: Workspace,
                                                                                    eas: FakeEas):
    """docs/operating.md: a service made by hand is adopted by listing its key and running `up`. The
    program finds it where the service is planned and registers it with Pulumi's `import` option,
    so the engine reads it into the state and updates it in the same run. Its hand-made
    `metadata.shm_size` (a key the project writes, for multi-GPU replicas only) is removed once,
    then no run sends anything (issue 27, section 2: before, every `up` sent UpdateService while
    the key stayed)."""
    by_hand = {"metadata": {"name": "chat_t", "instance": 1, "shm_size": 64},
               "cloud": {"computing": {"instances": [{"type": A10}]}},
               "containers": [{"image": "vllm/vllm-openai:v0.11.2", "port": 8000, "script": "vllm serve /model_dir"}]}
    eas.create("cn-hangzhou", by_hand)
    # Made by hand: none of the ownership labels, so the stack adopts it by name for these runs.
    workspace.write_stack("t", stack_text({"chat": chat()}, adopt=["chat"]))
    preview = workspace.preview("t")
    assert preview.error is None, preview.output
    assert ("import", "chat-service") in preview.ops(SERVICE_TYPE)
    assert eas.services[KEY]["LatestVersion"] == 1, "the preview touched the service"
    run = workspace.up("t")
    assert run.error is None, run.output
    assert run.ops(SERVICE_TYPE) == [("import", "chat-service"), ("update", "chat-service")]
    assert run.ops(READER_TYPE) == [("create", "chat-endpoint")]
    [service] = workspace.resources("t", SERVICE_TYPE)
    assert service["id"] == "chat_t"
    assert eas.names() == [KEY] and eas.config(KEY)["containers"][0]["image"] != "vllm/vllm-openai:v0.11.2"
    assert "shm_size" not in eas.config(KEY)["metadata"]
    assert run.outputs["tokens"]["chat"] == eas.services[KEY]["AccessToken"]
    # Labelled now: without `adopt` the next runs keep it as this stack's and have nothing to do.
    assert {"project", "stack", "service"} <= set(eas.labels(KEY))
    workspace.write_stack("t", stack_text({"chat": chat()}))
    sent = len(eas.updates)
    assert workspace.up("t", refresh=True).error is None
    assert workspace.preview("t", refresh=True).changes() == {}
    assert eas.updates[sent:] == []
