"""Issue 27, section 2: what a run sends back as EAS holds it, and what it asks the reader to remove.

The provider compares the whole JSON (exact equality), so a key EAS holds and the stack does not
send means an UpdateService, a rolling update of every GPU, on every run. Keys the project writes
are the stack's to remove; any other key is sent back; so are the autoscaler's count and labels the
provider never removes.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from components.core.plan import live_values, service_json
from components.core.plan.live_values import Live, send
from components.core.plan.removals import removed_keys

CONFIG: dict[str, Any] = {
    "metadata": {"name": "chat_dev", "instance": 1, "rpc": {"keepalive": 600000},
                 "rolling_strategy": {"max_surge": 1, "max_unavailable": 0}},
    "containers": [{"image": "vllm:0.11.2", "script": "vllm serve /model_dir", "port": 8000}],
    "storage": [{"mount_path": "/model_dir", "oss": {"path": "oss://b/m/", "readOnly": True},
                 "properties": {"resource_type": "model"}}],
    "cloud": {"computing": {"instances": [{"type": "ml.gu7i.c16m60.1-gu30"}]}},
}
TAGS = {"managed-by": "qwen3-eas", "stack": "dev"}


def live(config: dict[str, Any], **labels: str) -> Live:
    return Live(json.dumps(config), labels)


def test_a_service_as_the_stack_sent_it_sends_the_same():
    sent = send(CONFIG, TAGS, live(CONFIG, **TAGS))
    assert (sent.config, sent.tags, sent.kept, sent.to_remove) == (CONFIG, TAGS, (), ())


def test_keys_the_project_does_not_write_are_sent_back_as_eas_holds_them():
    held = {**CONFIG, "metadata": {**CONFIG["metadata"], "cpu": 16, "memory": 61440}, "warm_up": {"count": 2}}
    sent = send(CONFIG, TAGS, live(held))
    assert sent.config == held  # the provider sees no change: no rollout for them
    assert sent.kept == ("metadata.cpu", "metadata.memory", "warm_up") and sent.to_remove == ()


def test_keys_the_project_writes_are_left_for_the_reader_to_remove():
    """A hand-made service imported with shm_size on one GPU, an autoscaler set in the console."""
    held = {**CONFIG, "metadata": {**CONFIG["metadata"], "shm_size": 64}, "autoscaler": {"min": 1, "max": 2}}
    sent = send(CONFIG, TAGS, live(held))
    assert sent.config == CONFIG
    assert sent.to_remove == ("autoscaler", "metadata.shm_size") and sent.kept == ()


def test_the_autoscalers_count_is_sent_back_within_the_stacks_bounds():
    scaled = {**CONFIG, "autoscaler": {"min": 1, "max": 4, "strategies": {"qps": 20}}}
    for reported, expected in ((3, 3), (9, 4), (1, None)):
        held = {**scaled, "metadata": {**scaled["metadata"], "instance": reported}}
        sent = send(scaled, TAGS, live(held))
        assert sent.config["metadata"]["instance"] == (expected or 1)
        assert bool(sent.notes) == (expected is not None)
    # Without autoscaling the stack's replicas are what runs.
    held = {**CONFIG, "metadata": {**CONFIG["metadata"], "instance": 3}}
    assert send(CONFIG, TAGS, live(held)).config["metadata"]["instance"] == 1


def test_labels_the_provider_never_removes_are_sent_back_and_no_others():
    sent = send(CONFIG, TAGS, live(CONFIG, **{"acs:tag:creator": "console", "aliyun-x": "1", "team": "search"}))
    assert sent.tags == {**TAGS, "acs:tag:creator": "console", "aliyun-x": "1"}


def test_nothing_looked_up_sends_the_stacks_own():
    sent = send(CONFIG, TAGS, None)
    assert (sent.config, sent.tags) == (CONFIG, TAGS)


UNMANAGED = st.sampled_from(["warm_up", "metadata.cpu", "metadata.enable_grpc", "health_check",
                             "containers.0.env", "metadata.rpc.batching"])
VALUES = st.one_of(st.integers(0, 9), st.booleans(), st.dictionaries(st.sampled_from("ab"), st.integers(0, 3),
                                                                     max_size=2))


def _with(config: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(config))
    node: Any = out
    *parents, leaf = dotted.split(".")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    node[leaf] = value
    return out


@settings(max_examples=80, deadline=None)
@given(st.dictionaries(UNMANAGED, VALUES, min_size=1, max_size=4))
def test_property_whatever_eas_adds_that_the_project_does_not_write_the_provider_sees_unchanged(added):
    held = CONFIG
    for dotted, value in added.items():
        held = _with(held, dotted, value)
    sent = send(CONFIG, TAGS, live(held))
    assert sent.config == held
    assert sent.to_remove == ()


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(sorted(service_json.managed_paths("public"))))
def test_property_every_managed_leaf_the_stack_drops_is_left_to_remove_never_sent_back(leaf):
    held = _with(CONFIG, leaf.replace("[]", ".0"), 7) if "[]" in leaf else _with(CONFIG, leaf, 7)
    extra = removed_keys(held, CONFIG)
    sent = send(CONFIG, TAGS, live(held))
    assert set(sent.to_remove) == set(extra) and sent.kept == ()


def test_a_managed_path_is_one_the_project_writes_or_an_object_that_holds_one():
    managed = service_json.managed_paths("spot")
    assert live_values.is_managed("cloud.computing.instances[1]", managed)
    assert live_values.is_managed("cloud.computing.instances[0].spot_price_limit", managed)
    assert live_values.is_managed("autoscaler", managed)
    assert not live_values.is_managed("metadata.cpu", service_json.managed_paths("public"))
    assert live_values.is_managed("metadata.cpu", service_json.managed_paths("resourceGroup"))
    assert not live_values.is_managed("metadata.rpc.batching", managed)
