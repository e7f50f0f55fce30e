"""Bad stack files fail with one message naming stack, service, field and fix."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.core.errors import StackConfigError
from components.core.plan import report, stack_plan
from components.core.stack import stack_config

from .conftest import plan_one, raw_config, service


def problems(services=None, **extra) -> list[str]:
    raw = raw_config(services if services is not None else {"chat": service()}, **extra)
    with pytest.raises(StackConfigError) as err:
        stack_plan.plan_stack(stack_config.load("dev", raw))
    assert err.value.stack == "dev"
    return [p.describe("dev") for p in err.value.problems]


def only(services=None, **extra) -> str:
    found = problems(services, **extra)
    assert len(found) == 1, found
    return found[0]


def test_unknown_model_names_the_field_and_suggests_the_spelling():
    msg = only({"chat": service(model="Qwen3-8b")})
    assert "stack 'dev', service 'chat', field 'model'" in msg
    assert "'Qwen3-8b' is not a Qwen3 model" in msg and "did you mean Qwen3-8B" in msg


def test_unknown_key_in_a_service_is_an_error_with_a_spelling_hint():
    msg = only({"chat": service(maxModelLength=65536)})
    assert "field 'maxModelLength': unknown key" in msg and "'maxModelLen'" in msg


def test_unknown_key_in_the_namespace_is_an_error():
    msg = only(workspaceID="1")
    assert "field 'qwen3-eas:workspaceID': unknown config key" in msg and "qwen3-eas:workspaceId" in msg


def test_replicas_zero():
    msg = only({"chat": service(replicas=0)})
    assert "field 'replicas': is 0, below the smallest allowed, 1" in msg and "Fix: set replicas to 1 or more" in msg


@pytest.mark.parametrize("bid", [0, -1, -0.5])
def test_bid_price_must_be_positive(bid):
    msg = only({"chat": service(resource={"kind": "spot", "bidPrice": bid, "instanceTypes": ["ml.gu7i.c16m60.1-gu30"]})})
    assert "field 'resource.bidPrice'" in msg and "not above 0" in msg and "per instance-hour" in msg


def test_max_model_len_above_131072():
    msg = only({"chat": service(maxModelLen=262144)})
    assert "field 'maxModelLen'" in msg and "131072" in msg and "YaRN" in msg


def test_resource_group_without_an_id():
    msg = only({"chat": service(resource={"kind": "resourceGroup", "gpus": 1, "gpuType": "GU30", "cpu": 8,
                                          "memoryGiB": 30})})
    assert "field 'resource.resourceGroupId': is required but missing" in msg and "eas-r-" in msg


@pytest.mark.parametrize("name", ["qwen;rm -rf /", "a b", "$(id)", "`x`", "q'uote", "a|b", "a&&b"])
def test_shell_metacharacters_in_served_model_name_are_refused(name):
    msg = only({"chat": service(servedModelName=name)})
    assert "field 'servedModelName'" in msg and "not a valid served model name" in msg


def test_wrong_types_are_not_coerced():
    msg = only({"chat": service(toolCalling="yes")})
    assert "field 'toolCalling': is 'yes', not true or false" in msg and "Fix: write toolCalling as true or false" in msg


def test_unknown_resource_kind_lists_the_kinds():
    msg = only({"chat": service(resource={"kind": "cheap"})})
    assert "field 'resource.kind'" in msg and "public, spot, resourceGroup, quota" in msg


def test_every_problem_of_every_service_is_reported_at_once():
    found = problems({"a": service(replicas=0), "b": service(model="Qwen4")})
    assert len(found) == 2
    assert any("service 'a'" in p for p in found) and any("service 'b'" in p for p in found)


def test_no_region_anywhere_is_an_error():
    msg = only(region=None)
    assert "field 'regions': no region" in msg and "alicloud:region" in msg


def test_missing_services():
    with pytest.raises(StackConfigError, match="no services are configured"):
        stack_config.load("dev", {"alicloud:region": "cn-hangzhou"})


def test_unknown_instance_type_asks_for_its_figures():
    msg = only({"chat": service(resource={"kind": "public", "instanceTypes": ["ml.mystery.big"]})})
    assert "resource.instanceTypes[0]" in msg and "instanceTypeFacts" in msg


def test_instance_type_facts_make_an_unknown_type_usable():
    raw = raw_config({"chat": service(resource={
        "kind": "public", "instanceTypes": ["ml.mystery.big"],
        "instanceTypeFacts": {"ml.mystery.big": {"gpus": 2, "gpuType": "GU60"}}})})
    plan = stack_plan.plan_stack(stack_config.load("dev", raw))["chat"]
    assert (plan.gpus_per_replica, plan.gpu_memory_gb) == (2, 48)


def test_types_with_different_gpu_counts_cannot_share_one_start_command():
    msg = only({"chat": service(resource={"kind": "public",
                                          "instanceTypes": ["ml.gu7i.c16m60.1-gu30", "ml.gu7i.c64m256.2-gu30"]})})
    assert "different GPU counts" in msg


def test_lingjun_types_are_spot_only():
    found = problems({"chat": service(model="Qwen3-235B-A22B-FP8", resource={
        "kind": "public", "instanceTypes": ["ml.gu7xf.8xlarge-gu108"],
        "instanceTypeFacts": {"ml.gu7xf.8xlarge-gu108": {"gpus": 8, "gpuMemoryGiB": 96}}})})
    assert any("field 'resource.kind'" in p and "kind: spot" in p for p in found)


def test_lingjun_gpu_figures_are_never_guessed():
    msg = only({"chat": service(model="Qwen3-235B-A22B-FP8", regions=["cn-wulanchabu"], resource={
        "kind": "spot", "bidPrice": 30, "instanceTypes": ["ml.gu7xf.8xlarge-gu108"]})})
    assert "the GPUs of 'ml.gu7xf.8xlarge-gu108' are unknown" in msg and "instanceTypeFacts" in msg


def test_image_from_another_regions_registry_is_refused():
    msg = only({"chat": service(image="eas-registry-vpc.cn-shanghai.cr.aliyuncs.com/pai-eas/vllm:0.11.2")})
    assert "field 'image'" in msg and "cn-shanghai" in msg and "cn-hangzhou" in msg


def test_unreadable_image_tag_asks_for_engine_version():
    msg = only({"chat": service(image="eas-registry-vpc.cn-hangzhou.cr.aliyuncs.com/me/vllm:latest")})
    assert "field 'engineVersion'" in msg


def test_duplicate_eas_names_are_caught():
    msg = only({"chat-a": service(), "chat_a": service()})
    assert "same EAS name" in msg


def test_json_text_and_objects_are_read_alike():
    as_text = stack_config.load("dev", raw_config({"chat": service()}))
    as_object = stack_config.load("dev", {"qwen3-eas:services": {"chat": service()}, "alicloud:region": "cn-hangzhou"})
    assert as_text == as_object


def test_the_cost_options_are_read_from_json_text_and_objects_alike():
    options = {"site": "china", "warnAbovePerHour": 250}
    as_text = stack_config.load("dev", raw_config({"chat": service()}, cost=json.dumps(options)))
    as_object = stack_config.load("dev", raw_config({"chat": service()}, cost=options))
    assert as_text == as_object and as_object.config.cost.site == "china"
    assert as_object.config.cost.warn_above_per_hour == 250


@pytest.mark.parametrize(("options", "words"), [
    ({"site": "europe"}, "field 'qwen3-eas:cost.site'"),
    ({"warnAbovePerHour": 0}, "field 'qwen3-eas:cost.warnAbovePerHour'"),
    ({"currency": "USD"}, "unknown key"),
])
def test_wrong_cost_options_name_their_field(options, words):
    assert words in only(cost=options)


# -- property: the loader answers every input with a config or a StackConfigError -------------

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10, 300000), st.floats(allow_nan=False, width=32),
                     st.sampled_from(["Qwen3-8B", "vllm", "spot", "public", "ml.gu7i.c16m60.1-gu30", "eas-r-abc", ""]),
                     st.text(max_size=8))
_keys = st.sampled_from(["model", "engine", "replicas", "maxModelLen", "toolCalling", "reasoning", "thinking",
                         "servedModelName", "image", "engineVersion", "modelPath", "resource", "regions", "kind",
                         "instanceTypes", "bidPrice", "gpus", "gpuType", "cpu", "memoryGiB", "resourceGroupId", "x"])
_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(_keys, inner, max_size=6)), max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=st.dictionaries(_keys, _values, max_size=8), key=st.text(min_size=0, max_size=6))
def test_any_input_gives_a_plan_or_a_clear_error(spec, key):
    raw = {"qwen3-eas:services": json.dumps({key: spec}), "alicloud:region": "cn-hangzhou"}
    try:
        plans = stack_plan.plan_stack(stack_config.load("prop", raw))
    except StackConfigError as err:
        assert err.problems and all(p.describe("prop").startswith("stack 'prop'") for p in err.problems)
    else:
        assert set(plans) == {key}


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["Qwen3-0.6B", "Qwen3-4B", "Qwen3-8B-FP8", "Qwen3-1.7B-Base"]),
       st.sampled_from(["vllm", "sglang"]), st.booleans(), st.booleans(), st.booleans(), st.integers(1024, 131072))
def test_valid_specs_plan_or_fail_only_on_length(model, engine, tools, reasoning, thinking, length):
    raw = raw_config({"chat": service(model=model, engine=engine, toolCalling=tools, reasoning=reasoning,
                                      thinking=thinking, maxModelLen=length)})
    try:
        plan = stack_plan.plan_stack(stack_config.load("prop", raw))["chat"]
    except StackConfigError as err:
        # Only sizing may refuse a well-formed spec: the 8B YaRN table row, or the estimate.
        assert {p.field for p in err.problems} <= {"maxModelLen", "resource.instanceTypes"}, err
        assert length > 32768  # one A10 always passes at the native context for these models
    else:
        assert plan.max_model_len == length


@pytest.mark.parametrize(("autoscaling", "replicas", "fragment"), [
    ({"min": 2, "max": 4, "qps": 5}, 1, "must lie within autoscaling min..max (2..4)"),
    ({"min": 1, "max": 2, "qps": 5}, 3, "must lie within autoscaling min..max (1..2)"),
    ({"min": 3, "max": 2, "qps": 5}, 2, "min (3) is above max (2)"),
    ({"min": 0, "max": 2, "qps": 5}, 1, "is 0, below the smallest allowed, 1. Fix: set min to 1 or more"),
    ({"min": 1, "max": 2}, 1, "has no scaling metric (qps or cpu). Fix: add qps"),
])
def test_autoscaling_bounds(autoscaling, replicas, fragment):
    found = problems({"chat": service(autoscaling=autoscaling, replicas=replicas)})
    assert any(fragment in p for p in found), found


def test_a_rolling_strategy_that_cannot_progress_is_refused():
    msg = only({"chat": service(rollingStrategy={"maxSurge": 0, "maxUnavailable": 0})})
    assert "could never progress" in msg


# -- images pinned by digest ------------------------------------------------------------------

REGISTRY = "eas-registry-vpc.cn-hangzhou.cr.aliyuncs.com/pai-eas/vllm"
DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(("image", "words"), [
    (f"{REGISTRY}:0.11.2@sha256:abc", "is not sha256: followed by 64 lowercase hex"),
    (f"{REGISTRY}:0.11.2@{DIGEST.upper()}", "is not sha256: followed by 64 lowercase hex"),
    (f"{REGISTRY}@sha256:{'0' * 63}", "is not sha256: followed by 64 lowercase hex"),
    (f"{REGISTRY}:0.11.2@md5:{'0' * 32}", "is not sha256: followed by 64 lowercase hex"),
    (REGISTRY, "neither a tag nor a digest"),
    (f"Bad/Name@{DIGEST}", "before the @ is not a valid image name"),
])
def test_a_malformed_image_reference_says_which_part_is_wrong(image, words):
    msg = only({"chat": service(image=image)})
    assert "stack 'dev', service 'chat', field 'image'" in msg and words in msg, msg


def test_an_image_pinned_by_digest_only_needs_engine_version():
    msg = only({"chat": service(image=f"{REGISTRY}@{DIGEST}")})
    assert "field 'engineVersion'" in msg and "pinned by digest only" in msg and "set engineVersion" in msg


def test_a_digest_pinned_image_plans_with_its_digest_shown():
    by_digest = plan_one(image=f"{REGISTRY}@{DIGEST}", engineVersion="0.11.2")
    assert by_digest.service_config["containers"][0]["image"] == f"{REGISTRY}@{DIGEST}"
    assert by_digest.summary()["imageDigest"] == DIGEST and by_digest.summary()["engineVersion"] == "0.11.2"
    assert any(f"pinned by digest {DIGEST}" in line for line in by_digest.explanation)
    # tag and digest: the version is still read from the tag
    both = plan_one(image=f"{REGISTRY}:0.10.1@{DIGEST}")
    assert both.summary()["engineVersion"] == "0.10.1" and both.summary()["imageDigest"] == DIGEST
    tagged = plan_one(image=f"{REGISTRY}:0.11.2")
    assert tagged.summary()["imageDigest"] is None
    assert any("not pinned by digest" in line for line in tagged.explanation)
    table = report.plan_markdown("dev", {"pinned": by_digest.summary(), "tagged": tagged.summary()})
    row = next(line for line in table.splitlines() if line.startswith("| `pinned`"))
    assert f"vllm 0.11.2 @{DIGEST[:19]}…" in row
    assert "@sha256" not in next(line for line in table.splitlines() if line.startswith("| `tagged`"))
