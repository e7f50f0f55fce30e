"""The policy pack: every rule on resource-shaped inputs (ours and hand-written), and the pack itself."""

from __future__ import annotations

import json
import os
import runpy
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from policy import facts, rules
from policy.rules import (
    credentials,
    digest_required,
    image_digest,
    image_region,
    resource_region,
    secret_name,
    sizing_estimate,
    sizing_table,
    spot_bid,
    unverifiable,
    urn_stack,
)

from .conftest import A10, H96, plan_one
from .golden_update import GOLDEN

ROOT = Path(__file__).resolve().parent.parent
PACK = ROOT / "policy"
MANDATORY = [r for r in rules.RULES if r.level == rules.MANDATORY]
FOUR_H96 = "ml.gu8v.c64m512.4-gu120"
EIGHT_H96 = "ml.gu8v.c128m1024.8-gu120"
LINGJUN = "ml.gu8xf.8xlarge-gu108"
HANGZHOU_VLLM = "eas-registry-vpc.cn-hangzhou.cr.aliyuncs.com/pai-eas/vllm:0.11.2-mows0.5.1"


def props(config: dict[str, Any], tags: dict[str, str] | None = None) -> dict[str, Any]:
    """A resource's inputs as the policy SDK hands them over: serviceConfig is a JSON string."""
    return {"serviceConfig": json.dumps(config), "tags": tags or {}}


def hand_written(model: str = "Qwen3-235B-A22B", flags: str = "", *, instances: list | None = None,
                 metadata: dict | None = None, image: str = HANGZHOU_VLLM, **blocks: Any) -> dict[str, Any]:
    """A service JSON as someone would write it in the console: no tags, our component not involved."""
    config: dict[str, Any] = {
        "metadata": {"name": "by_hand", "instance": 1, **(metadata or {})},
        "containers": [{"image": image, "port": 8000,
                        "script": f"vllm serve /model_dir --served-model-name {model} {flags}".strip()}],
        "storage": [{"mount_path": "/model_dir", "oss": {"path": f"oss://my-bucket/weights/{model}/"}}],
        **blocks,
    }
    if instances is not None:
        config["cloud"] = {"computing": {"instances": instances}}
    return config


def ours(**overrides: Any) -> tuple[dict[str, Any], str]:
    """What our component passes to alicloud.pai.Service for a one-service stack, and its region."""
    plan = plan_one(**overrides)
    return {"serviceConfig": plan.service_config_json, "tags": plan.tags}, plan.region


def run_all(resource: dict[str, Any], region: str | None, gpu_facts: dict | None = None) -> dict[str, list[str]]:
    return {r.name: r.check(resource, region=region, gpu_facts=gpu_facts) for r in rules.RULES}


# -- our own services pass --------------------------------------------------------------------


@pytest.mark.parametrize("service_file", sorted(p for p in GOLDEN.glob("*/*.json")
                                                if p.name not in ("plan.json", "plan.stack.json")),
                         ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_example_service_passes_every_mandatory_rule(service_file):
    entry = json.loads((service_file.parent / "plan.json").read_text())[service_file.stem]
    tags = {"model": entry["model"], "engine": entry["engine"], "stack": service_file.parent.name,
            "managed-by": "qwen3-eas"}
    facts = {LINGJUN: {"gpus": 8, "gpuMemoryGiB": 96}}  # what the prod stack file states
    found = run_all({"serviceConfig": service_file.read_text(), "tags": tags}, entry["region"], facts)
    assert all(not found[r.name] for r in MANDATORY), found
    assert not found["eas-gpu-estimate"]


def test_a_planned_service_passes_every_rule():
    resource, region = ours()
    assert run_all(resource, region) == {r.name: [] for r in rules.RULES}


# -- the table --------------------------------------------------------------------------------


def test_hand_written_235b_on_a_quota_of_4_x_96_gb_fails_the_table():
    config = hand_written("Qwen3-235B-A22B", "--tensor-parallel-size 4",
                          metadata={"quota_id": "quotamine", "gpu": 4, "cpu": 64, "memory": 512000})
    resource = props(config)
    (message,) = sizing_table(resource, gpu_facts={"quotamine": {"gpuType": "GU120"}})
    assert "quota quotamine" in message and "4 x 96 GB" in message
    assert "Qwen3-235B-A22B: 8 x 96 GB" in message and "at least 8 GPU(s) of 96 GB" in message
    # Without the GPU type the pack cannot judge, and says so (advisory) instead of guessing.
    assert sizing_table(resource) == []
    assert "nothing says which GPU" in unverifiable(resource, region="cn-hangzhou")[0]


def test_hand_written_235b_on_a_4_gpu_instance_type_fails_the_table():
    resource = props(hand_written("Qwen3-235B-A22B", instances=[{"type": FOUR_H96}]))
    (message,) = sizing_table(resource)
    assert FOUR_H96 in message and "below the minimum-configuration table" in message
    assert "GPUs from its name" in message and "from containers[0] start command" in message


def test_the_gpu_type_tag_says_what_a_resource_group_runs():
    config = hand_written("Qwen3-235B-A22B", metadata={"resource": "eas-r-mine", "gpu": 4})
    assert "resource group eas-r-mine" in sizing_table(props(config, {"gpu-type": "GU120"}))[0]
    assert sizing_table(props(hand_written("Qwen3-235B-A22B-FP8", metadata={"resource": "eas-r-mine", "gpu": 4}),
                              {"gpu-type": "GU120"})) == []


def test_fp8_235b_on_4_x_96_gb_meets_its_own_row():
    assert sizing_table(props(hand_written("Qwen3-235B-A22B-FP8", instances=[{"type": FOUR_H96}]))) == []


def test_a_gpu_slice_is_one_gpu_of_that_much_memory():
    config = hand_written("Qwen3-8B", metadata={"resource": "eas-r-mine", "gpu_memory": 16})
    (message,) = sizing_table(props(config))
    assert "1 x 16 GB" in message and "1 x 24 GB" in message


def test_a_split_the_model_cannot_take_is_refused_with_the_table():
    (message,) = sizing_table(props(hand_written("Qwen3-4B-FP8", instances=[{"type": EIGHT_H96}])))
    assert "FP8 blocks" in message and "Fix:" in message


def test_the_start_commands_tensor_parallel_size_decides_the_gpus_used():
    uses_two = props(hand_written("Qwen3-235B-A22B-FP8", "--tensor-parallel-size 2", instances=[{"type": EIGHT_H96}]))
    assert "of which the start command uses 2" in sizing_table(uses_two)[0]
    too_many = props(hand_written("Qwen3-235B-A22B-FP8", "--tensor-parallel-size 8", instances=[{"type": FOUR_H96}]))
    assert "cannot start" in sizing_table(too_many)[0]


def test_our_tags_name_the_model_before_the_script_and_a_disagreement_is_reported():
    config = hand_written("Qwen3-8B", instances=[{"type": A10}])
    assert sizing_table(props(config)) == []
    tagged = props(config, {"model": "Qwen3-32B"})
    assert "from tag `model`" in sizing_table(tagged)[0]
    assert any("ambiguous" in m and "Qwen3-8B" in m for m in unverifiable(tagged, region="cn-hangzhou"))


def test_the_model_can_come_from_the_oss_path_alone():
    config = hand_written("x", instances=[{"type": A10}])
    config["storage"][0]["oss"]["path"] = "oss://bucket/models/Qwen3-32B/"
    assert "Qwen3-32B (from storage[0].oss.path)" in sizing_table(props(config))[0]


# -- the estimate -----------------------------------------------------------------------------


def test_a_length_that_does_not_fit_is_an_estimate_violation_with_the_length_that_does():
    long = props(hand_written("Qwen3-32B", "--max-model-len 131072", instances=[{"type": H96}]))
    assert sizing_table(long) == []  # 1 x 96 GB is the 32B row
    (message,) = sizing_estimate(long)
    assert "131072 tokens do not fit 1 x 96 GB" in message and "--max-model-len 90112 or less" in message
    assert sizing_estimate(props(hand_written("Qwen3-32B", "--max-model-len=128K --kv-cache-dtype fp8",
                                              instances=[{"type": H96}]))) == []


def test_for_models_without_a_table_row_the_estimate_is_mandatory():
    # Qwen3-Next at 262144 tokens on 1 x 96 GB: 149 GiB of weights; no table row to fail, so the
    # mandatory rule carries the estimate (and the advisory one does not repeat it).
    resource = props(hand_written("Qwen3-Next-80B-A3B-Instruct", "--max-model-len 262144", instances=[{"type": H96}]))
    (message,) = sizing_table(resource)
    assert "no row in Alibaba's minimum-configuration table" in message and "do not fit 1 x 96 GB" in message
    assert sizing_estimate(resource) == []
    fits = props(hand_written("Qwen3-Next-80B-A3B-Instruct", "--max-model-len 262144 --tensor-parallel-size 4",
                              instances=[{"type": FOUR_H96}]))
    assert sizing_table(fits) == [] and sizing_estimate(fits) == []


def test_without_a_length_flag_a_later_model_is_checked_at_its_native_262144():
    read = facts.read_service(props(hand_written("Qwen3-4B-Instruct-2507", instances=[{"type": A10}])))
    assert read.max_model_len == 262144
    assert facts.read_service(props(hand_written("Qwen3-4B", instances=[{"type": A10}]))).max_model_len == 32768
    (message,) = sizing_table(props(hand_written("Qwen3-4B-Instruct-2507", instances=[{"type": A10}])))
    assert "262144 tokens do not fit 1 x 24 GB" in message


def test_sglang_context_length_and_the_default_length():
    sglang = hand_written("Qwen3-32B", instances=[{"type": H96}])
    sglang["containers"][0]["script"] = ("python3 -m sglang.launch_server --model-path /model_dir "
                                         "--context-length 131072 --tp 1")
    read = facts.read_service(props(sglang))
    assert (read.engine, read.max_model_len, read.tensor_parallel) == ("sglang", 131072, 1)
    assert sizing_estimate(props(sglang))
    assert facts.read_service(props(hand_written("Qwen3-32B"))).max_model_len == 32768
    assert sizing_estimate(props(hand_written("Qwen3-32B", instances=[{"type": H96}]))) == []


# -- what cannot be verified ------------------------------------------------------------------


def test_unknown_instance_types_are_advisory_until_their_gpus_are_stated():
    resource = props(hand_written("Qwen3-235B-A22B", instances=[{"type": LINGJUN, "spot_price_limit": 50}]))
    assert sizing_table(resource) == []
    assert any(LINGJUN in m and "gpuFacts" in m for m in unverifiable(resource, region="cn-wulanchabu"))
    stated = {LINGJUN: {"gpus": 4.0, "gpuMemoryGiB": 96.0}}  # config numbers arrive as floats
    assert unverifiable(resource, region="cn-wulanchabu", gpu_facts=stated) == []
    assert "the policy config gpuFacts" in sizing_table(resource, gpu_facts=stated)[0]


@pytest.mark.parametrize(("resource", "expected"), [
    ({"serviceConfig": "{not json", "tags": {}}, "not valid JSON"),
    ({"tags": {}}, "missing"),
    (props({"metadata": {"name": "other"}, "containers": [{"image": "nginx", "script": "nginx"}]}), "no Qwen3 model"),
    (props(hand_written("Qwen3-8B")), "names no GPUs"),
])
def test_what_cannot_be_read_is_reported_not_guessed(resource, expected):
    assert any(expected in m for m in unverifiable(resource, region="cn-hangzhou"))
    assert sizing_table(resource) == [] and sizing_estimate(resource) == []


# -- spot bids --------------------------------------------------------------------------------


def test_planned_spot_services_carry_their_bid():
    resource, _ = ours(resource={"kind": "spot", "bidPrice": 1.2, "onDemandFallback": True,
                                 "spotProtection": False, "instanceTypes": [A10]})
    assert spot_bid(resource) == []


@pytest.mark.parametrize(("computing", "expected"), [
    ({"instances": [{"type": A10}], "disable_spot_protection_period": True}, "no instance entry has a spot_price_limit"),
    ({"instances": [{"type": LINGJUN}]}, "Lingjun spot type"),
    ({"instance_type": LINGJUN}, "cannot carry a bid"),
    ({"instances": [{"type": A10, "spot_price_limit": 0}]}, "positive price"),
    ({"instances": [{"type": A10, "spot_price_limit": "60"}]}, "positive price"),
])
def test_spot_without_a_bid_fails(computing, expected):
    config = hand_written("Qwen3-8B", cloud={"computing": computing})
    assert any(expected in m for m in spot_bid(props(config)))


def test_on_demand_entries_need_no_bid():
    assert spot_bid(props(hand_written("Qwen3-8B", instances=[{"type": A10}]))) == []
    with_fallback = [{"type": LINGJUN, "spot_price_limit": 60}, {"type": A10}]
    config = hand_written("Qwen3-8B", cloud={"computing": {"instances": with_fallback,
                                                           "disable_spot_protection_period": False}})
    assert spot_bid(props(config)) == []


# -- credentials ------------------------------------------------------------------------------

SECRET = "s3cr3t-value-9f8e7d"


@pytest.mark.parametrize(("change", "where"), [
    (lambda c: c.update(token=SECRET), "token is a credential"),
    (lambda c: c.update(dockerAuth=SECRET), "dockerAuth is a credential"),
    (lambda c: c["containers"][0].update(env=[{"name": "HF_TOKEN", "value": SECRET}]), "sets HF_TOKEN"),
    (lambda c: c["containers"][0].update(env=[{"name": "AK", "value": "LTAI5tAbCdEfGhIjKlMnOpQr"}]), "AccessKey ID"),
    (lambda c: c["containers"][0].update(script=f"export DASHSCOPE_API_KEY={SECRET}\nvllm serve /m"), "DASHSCOPE_API_KEY"),
    (lambda c: c["containers"][0].update(script=f"vllm serve /m --api-key {SECRET}"), "--api-key"),
    (lambda c: c["containers"][0].update(script=f"curl -H 'Authorization: {SECRET}' x"), "Authorization header"),
    (lambda c: c["metadata"].update(oss_password=SECRET), "oss_password"),
])
def test_a_credential_in_the_config_fails_without_showing_it(change, where):
    config = hand_written("Qwen3-8B", instances=[{"type": A10}])
    change(config)
    found = credentials(props(config))
    assert any(where in m for m in found), found
    assert not any(SECRET in m or "LTAI5t" in m for m in found)


def test_references_and_harmless_names_are_not_credentials():
    config = hand_written("Qwen3-8B", "--max-num-batched-tokens 8192 --api-key $VLLM_API_KEY", instances=[{"type": A10}])
    config["containers"][0]["env"] = [{"name": "HF_TOKEN", "value": "${HF_TOKEN}"}, {"name": "MAX_TOKENS", "value": "9"}]
    config["metadata"]["rpc"] = {"keepalive": 600000, "max_queue_size": 64}
    assert credentials(props(config)) == []
    assert all(secret_name(n) for n in ("token", "HF_TOKEN", "accessKeySecret", "access_key_id", "--api-key", "dockerAuth"))
    assert not any(secret_name(n) for n in ("max_tokens", "--max-num-batched-tokens", "tokenizer", "keepalive"))


def test_an_unparsable_config_is_still_searched_for_access_keys():
    assert credentials({"serviceConfig": '{"token": "LTAI5tAbCdEfGhIjKlMnOpQr"'})


# -- regions ----------------------------------------------------------------------------------


def test_an_image_or_internal_model_files_from_another_region_fail():
    resource, region = ours()
    assert image_region(resource, region=region) == []
    beijing = hand_written("Qwen3-8B", image=HANGZHOU_VLLM.replace("cn-hangzhou", "cn-beijing"))
    (message,) = image_region(props(beijing), region="cn-hangzhou")
    assert "cn-beijing's registry" in message and "eas-registry-vpc.cn-hangzhou.cr.aliyuncs.com" in message
    files = hand_written("Qwen3-8B")
    files["storage"][0]["oss"]["path"] = "oss://b.oss-cn-shanghai-internal.aliyuncs.com/m/Qwen3-8B/"
    assert "internal OSS endpoint" in image_region(props(files), region="cn-hangzhou")[0]
    assert image_region(props(files), region=None) == []
    assert any("provider has no region" in m for m in unverifiable(props(files), region=None))


def test_the_region_comes_from_the_provider_then_the_config_then_the_environment():
    env = {"ALICLOUD_REGION": "cn-shenzhen"}
    assert resource_region({"region": "cn-beijing"}, "cn-hangzhou", env) == "cn-beijing"
    assert resource_region({}, "cn-hangzhou", env) == "cn-hangzhou"
    assert resource_region(None, None, env) == "cn-shenzhen"
    assert resource_region(None, "", {}) is None


# -- images by digest -------------------------------------------------------------------------

DIGEST = "sha256:" + "c" * 64


def test_a_missing_digest_is_a_violation_only_where_the_config_requires_it():
    tagged = props(hand_written("Qwen3-8B"))
    assert image_digest(tagged, region="cn-hangzhou") == []  # off by default
    (message,) = image_digest(tagged, region="cn-hangzhou", digest_required=True, stack="prod")
    assert "containers[0].image" in message and "not pinned by digest" in message and "stack prod" in message
    assert "Fix:" in message and "@sha256:" in message
    pinned = props(hand_written("Qwen3-8B", image=f"{HANGZHOU_VLLM}@{DIGEST}"))
    assert image_digest(pinned, digest_required=True, stack="prod") == []
    short = props(hand_written("Qwen3-8B", image=f"{HANGZHOU_VLLM}@sha256:abc"))
    assert "is not a sha256 digest" in image_digest(short, digest_required=True)[0]
    resource, region = ours(image=f"{HANGZHOU_VLLM}@{DIGEST}")
    assert image_digest(resource, region=region, digest_required=True) == []


def test_require_image_digest_is_true_or_a_list_of_stacks():
    assert urn_stack("urn:pulumi:prod::qwen3-eas::alicloud:pai/service:Service::x") == "prod"
    assert urn_stack("urn:s") is None and urn_stack(None) is None
    assert digest_required(True, "dev") and not digest_required(False, "prod")
    assert digest_required(["prod"], "prod") and not digest_required(["prod"], "dev")
    assert digest_required(["prod"], None), "a stack it cannot read is held to the list"
    assert not digest_required(None, "prod") and not digest_required("prod", "prod")


def test_the_pack_reads_require_image_digest_and_the_stack_from_the_urn():
    from pulumi_policy import ResourceValidationArgs
    from pulumi_policy.proxy import unknown_checking_proxy

    policy = {p.name: p for p in _pack()["build_policies"]()}["eas-image-digest"]
    tagged = props(hand_written("Qwen3-8B"))

    def violations(stack: str, config: dict[str, Any]) -> list[str]:
        found: list[str] = []
        urn = f"urn:pulumi:{stack}::qwen3-eas::{rules.SERVICE_TYPE}::by_hand"
        args = ResourceValidationArgs(rules.SERVICE_TYPE, unknown_checking_proxy(tagged), urn, "by_hand", None, None,
                                      config)
        policy.validate(args, lambda message, urn=None: found.append(message))
        return found

    assert violations("prod", {}) == []
    assert violations("dev", {"requireImageDigest": ["prod"]}) == []
    assert "stack prod" in violations("prod", {"requireImageDigest": ["prod"]})[0]
    assert violations("dev", {"requireImageDigest": True})


# -- the pack ---------------------------------------------------------------------------------


def _pack() -> dict[str, Any]:
    return runpy.run_path(str(PACK / "__main__.py"), run_name="qwen3_eas_policy_pack")  # not __main__: no server


def test_the_pack_builds_one_policy_per_rule_at_the_default_levels():
    policies = {p.name: p for p in _pack()["build_policies"]()}
    levels = {name: p.enforcement_level.value for name, p in policies.items()}
    assert levels == {"eas-gpu-table": "mandatory", "eas-gpu-estimate": "advisory", "eas-gpu-unverified": "advisory",
                      "eas-spot-bid": "mandatory", "eas-spot-bid-limit": "mandatory",
                      "eas-spot-bid-plausible": "advisory", "eas-no-credentials": "mandatory",
                      "eas-image-region": "mandatory", "eas-image-digest": "mandatory"}
    assert set(policies["eas-spot-bid-limit"].config_schema.properties) == {"gpuFacts", "site"}
    assert set(policies["eas-image-region"].config_schema.properties) == {"region"}
    assert set(policies["eas-image-digest"].config_schema.properties) == {"requireImageDigest"}


def test_the_pack_validates_proxied_inputs_and_reads_region_from_the_provider():
    from pulumi_policy import PolicyProviderResource, ResourceValidationArgs
    from pulumi_policy.proxy import unknown_checking_proxy

    policies = {p.name: p for p in _pack()["build_policies"]()}
    beijing = hand_written("Qwen3-235B-A22B", instances=[{"type": FOUR_H96}],
                           image=HANGZHOU_VLLM.replace("cn-hangzhou", "cn-beijing"))
    provider = PolicyProviderResource("pulumi:providers:alicloud", unknown_checking_proxy({"region": "cn-hangzhou"}),
                                      "urn:p", "alicloud-cn-hangzhou")

    def violations(name: str, resource_type: str = rules.SERVICE_TYPE) -> list[str]:
        found: list[str] = []
        args = ResourceValidationArgs(resource_type, unknown_checking_proxy(props(beijing)), "urn:s", "s", None, provider)
        policies[name].validate(args, lambda message, urn=None: found.append(message))
        return found

    assert "cn-beijing's registry" in violations("eas-image-region")[0]
    assert "below the minimum-configuration table" in violations("eas-gpu-table")[0]
    assert violations("eas-gpu-table", "alicloud:oss/bucket:Bucket") == []


def test_policy_rules_import_nothing_from_pulumi():
    code = "import sys, policy.rules; print(sorted(m for m in sys.modules if m.startswith('pulumi')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_the_pack_serves_the_cli_protocol_over_loopback(tmp_path):
    """Run the pack as the Pulumi CLI does (python -m pulumi.policy, from elsewhere) and talk to it."""
    import grpc
    from google.protobuf import empty_pb2, struct_pb2
    from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    server = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(PACK)], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert server.stdout is not None
        ready, _, _ = select.select([server.stdout], [], [], 60)
        assert ready, "the pack printed no port within 60 s"
        port = int(server.stdout.readline().strip() or 0)
        assert port, server.stderr.read() if server.stderr else "no port"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = analyzer_pb2_grpc.AnalyzerStub(channel)
            info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=10)
            assert info.name == "qwen3-eas" and len(info.policies) == len(rules.RULES)
            quota = struct_pb2.Struct()
            quota.update({"gpuFacts": {"quotamine": {"gpuType": "GU120"}}})
            stub.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={
                "eas-gpu-table": analyzer_pb2.PolicyConfig(enforcementLevel=analyzer_pb2.MANDATORY, properties=quota),
            }), timeout=10)
            inputs = struct_pb2.Struct()
            inputs.update(props(hand_written("Qwen3-235B-A22B", metadata={"quota_id": "quotamine", "gpu": 4})))
            region = struct_pb2.Struct()
            region.update({"region": "cn-hangzhou"})
            request = analyzer_pb2.AnalyzeRequest(
                type=rules.SERVICE_TYPE, properties=inputs, urn="urn:pulumi:dev::p::alicloud:pai/service:Service::s",
                name="s", provider=analyzer_pb2.AnalyzerProviderResource(type="pulumi:providers:alicloud",
                                                                         properties=region, urn="urn:p", name="p"))
            diagnostics = stub.Analyze(request, timeout=10).diagnostics
        table = [d for d in diagnostics if d.policyName == "eas-gpu-table"]
        assert len(table) == 1 and table[0].enforcementLevel == analyzer_pb2.MANDATORY
        assert "8 x 96 GB" in table[0].message
    finally:
        server.kill()
        server.communicate(timeout=10)
