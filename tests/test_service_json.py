"""The EAS service JSON for every resource kind, as EAS's parameter page spells it."""

from __future__ import annotations

import json

from components.core.plan.planning import official_model_path

from .conftest import A10, plan_one


def config(**overrides):
    plan = plan_one(stack="dev", **overrides)
    parsed = json.loads(plan.service_config_json)
    assert parsed == plan.service_config
    return parsed


def test_public_lists_types_in_order_and_no_spot_fields():
    c = config(resource={"kind": "public", "instanceTypes": [A10, "ml.gu7i.c32m188.1-gu30"]})
    assert c["cloud"]["computing"] == {"instances": [{"type": A10}, {"type": "ml.gu7i.c32m188.1-gu30"}]}
    assert "resource" not in c["metadata"] and "quota_id" not in c["metadata"]


def test_spot_bids_on_every_type_and_keeps_protection_by_default():
    c = config(resource={"kind": "spot", "bidPrice": 2.5, "instanceTypes": [A10, "ml.gu7i.c32m188.1-gu30"]})
    assert c["cloud"]["computing"] == {
        "instances": [{"type": A10, "spot_price_limit": 2.5}, {"type": "ml.gu7i.c32m188.1-gu30", "spot_price_limit": 2.5}],
        "disable_spot_protection_period": False,
    }


def test_spot_without_protection_and_with_on_demand_fallback():
    c = config(resource={"kind": "spot", "bidPrice": 1, "spotProtection": False, "onDemandFallback": True,
                         "instanceTypes": [A10]})
    assert c["cloud"]["computing"] == {
        "instances": [{"type": A10, "spot_price_limit": 1}, {"type": A10}],
        "disable_spot_protection_period": True,
    }


def test_resource_group_binds_the_group_and_sizes_each_replica():
    c = config(resource={"kind": "resourceGroup", "resourceGroupId": "eas-r-abc123", "gpus": 1, "gpuType": "GU30",
                         "cpu": 8, "memoryGiB": 30})
    assert "cloud" not in c
    assert {k: c["metadata"][k] for k in ("resource", "gpu", "cpu", "memory")} == {
        "resource": "eas-r-abc123", "gpu": 1, "cpu": 8, "memory": 30 * 1024}


def test_quota_sets_quota_id_and_per_replica_resources():
    c = config(model="Qwen3-32B", resource={"kind": "quota", "quotaId": "quota12ab", "gpus": 1, "gpuType": "GU120",
                                            "cpu": 16, "memoryGiB": 128})
    assert c["metadata"]["quota_id"] == "quota12ab" and "resource" not in c["metadata"]
    assert (c["metadata"]["gpu"], c["metadata"]["cpu"], c["metadata"]["memory"]) == (1, 16, 128 * 1024)


def test_metadata_container_and_model_mount():
    c = config(replicas=3)
    assert c["metadata"]["name"] == "svc_dev" and c["metadata"]["instance"] == 3
    (container,) = c["containers"]
    assert container["port"] == 8000
    assert container["image"] == "eas-registry-vpc.cn-hangzhou.cr.aliyuncs.com/pai-eas/vllm:0.11.2-mows0.5.1"
    assert container["script"].startswith("set -eu\n")
    (mount,) = c["storage"]
    assert mount["mount_path"] == "/model_dir" and mount["oss"] == {
        "path": official_model_path("Qwen3-8B", "cn-hangzhou"), "readOnly": True}


def test_model_path_overrides_the_official_files():
    c = config(modelPath="oss://my-bucket/ft/qwen3-8b-sft/")
    assert c["storage"][0]["oss"]["path"] == "oss://my-bucket/ft/qwen3-8b-sft/"


def test_workspace_id_lands_in_metadata():
    from components.core.plan import stack_plan
    from components.core.stack import stack_config

    from .conftest import raw_config, service
    loaded = stack_config.load("dev", raw_config({"chat": service()}, workspaceId="4242"))
    assert stack_plan.plan_stack(loaded)["chat"].service_config["metadata"]["workspace_id"] == "4242"


def test_serialisation_is_sorted_and_stable():
    a, b = plan_one().service_config_json, plan_one().service_config_json
    assert a == b
    assert a == json.dumps(json.loads(a), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def test_rolling_updates_default_to_one_extra_replica_and_none_down():
    assert config()["metadata"]["rolling_strategy"] == {"max_surge": 1, "max_unavailable": 0}
    custom = config(rollingStrategy={"maxSurge": "50%", "maxUnavailable": 1})
    assert custom["metadata"]["rolling_strategy"] == {"max_surge": "50%", "max_unavailable": 1}


def test_autoscaling_becomes_the_eas_autoscaler():
    c = config(replicas=2, autoscaling={"min": 1, "max": 4, "qps": 10})
    assert c["autoscaler"] == {"min": 1, "max": 4, "strategies": {"qps": 10}}
    c = config(autoscaling={"min": 1, "max": 3, "cpu": 80})
    assert c["autoscaler"]["strategies"] == {"cpu": 80}


def test_network_becomes_cloud_networking_beside_computing():
    c = config(network={"vpcId": "vpc-bp1abc", "vswitchId": "vsw-bp1def", "securityGroupId": "sg-bp1ghi"})
    assert c["cloud"]["networking"] == {"vpc_id": "vpc-bp1abc", "vswitch_id": "vsw-bp1def",
                                        "security_group_id": "sg-bp1ghi"}
    assert c["cloud"]["computing"]["instances"] == [{"type": A10}]


def test_a_resource_group_in_a_vpc_keeps_its_group_and_gpus():
    c = config(network={"vpcId": "vpc-bp1abc", "vswitchId": "vsw-bp1def", "securityGroupId": "sg-bp1ghi"},
               resource={"kind": "resourceGroup", "resourceGroupId": "eas-r-abc123", "gpus": 1, "gpuType": "GU30",
                         "cpu": 8, "memoryGiB": 30})
    assert c["metadata"]["resource"] == "eas-r-abc123" and c["metadata"]["gpu"] == 1
    assert "computing" not in c["cloud"] and c["cloud"]["networking"]["vpc_id"] == "vpc-bp1abc"


def _leaves(value, path: str = "") -> list[str]:
    """Every leaf path of a JSON value, list items as ``[]``."""
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _leaves(item, f"{path}.{key}" if path else key)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item, f"{path}[]")]
    return [path]


def test_every_key_the_json_carries_is_one_the_project_says_it_writes():
    """Issue 27: a key EAS holds that the stack does not send is the stack's to remove only when the
    project writes it (``managed_paths``); any other is kept. So the list must hold every key the
    builder writes, for every kind of resource."""
    from components.core.plan import service_json

    cases = [
        {"resource": {"kind": "spot", "bidPrice": 1, "spotProtection": False, "onDemandFallback": True,
                      "instanceTypes": [A10]},
         "autoscaling": {"min": 1, "max": 3, "qps": 10, "cpu": 70},
         "network": {"vpcId": "vpc-a1", "vswitchId": "vsw-a1", "securityGroupId": "sg-a1"}},
        {"model": "Qwen3-8B", "resource": {"kind": "public", "instanceTypes": ["ecs.gn7i-c32g1.32xlarge"]}},
        {"resource": {"kind": "resourceGroup", "resourceGroupId": "eas-r-abc123", "gpus": 1, "gpuType": "GU30",
                      "cpu": 8, "memoryGiB": 30}},
        {"model": "Qwen3-32B", "resource": {"kind": "quota", "quotaId": "quota12ab", "gpus": 1, "gpuType": "GU120",
                                            "cpu": 16, "memoryGiB": 128}},
    ]
    kinds = set()
    for overrides in cases:
        c = config(**overrides)
        kind = service_json.kind_of(c)
        kinds.add(kind)
        assert kind == overrides["resource"]["kind"]
        assert set(_leaves(c)) <= service_json.managed_paths(kind), set(_leaves(c)) - service_json.managed_paths(kind)
    assert kinds == {"spot", "public", "resourceGroup", "quota"}
