"""Scenario 11: the policy pack under the engine's own analyzer.

The pack runs as the engine starts an analyzer plugin from an executable (``policy_pack``: the
shim runs ``policy/__main__.py`` with the project's virtualenv); with the released CLI a user
names the folder, ``--policy-pack policy``, and the Python language host starts the same file.
"""

from __future__ import annotations

import json

from tests.fake_eas import FakeEas

from .conftest import A10, chat, meta, stack_text
from .engine import SERVICE_TYPE, Workspace

HANGZHOU_VLLM = "eas-registry-vpc.cn-hangzhou.cr.aliyuncs.com/pai-eas/vllm:0.11.2-mows0.5.1"
PROD_TYPES = {"ml.gu8xf.8xlarge-gu108": ("GU108", 8, 96)}


def undersized_by_hand() -> None:
    """A program someone wrote without our component: Qwen3-235B on one 24 GB A10."""
    import pulumi
    import pulumi_alicloud as alicloud

    provider = alicloud.Provider("alicloud-cn-hangzhou", region="cn-hangzhou")
    config = {
        "metadata": {"name": "by_hand", "instance": 1},
        "cloud": {"computing": {"instances": [{"type": A10}]}},
        "containers": [{"image": HANGZHOU_VLLM, "port": 8000,
                        "script": "vllm serve /model_dir --served-model-name Qwen3-235B-A22B"}],
        "storage": [{"mount_path": "/model_dir", "oss": {"path": "oss://my-bucket/weights/Qwen3-235B-A22B/"}}],
    }
    alicloud.pai.Service("by-hand", service_config=json.dumps(config), opts=pulumi.ResourceOptions(provider=provider))


def test_the_pack_refuses_an_undersized_hand_written_service(workspace: Workspace, eas: FakeEas):
    workspace.write_stack("byhand", "config:\n  alicloud:region: cn-hangzhou\n")
    run = workspace.preview("byhand", program=undersized_by_hand, policy_packs=[str(workspace.policy_pack())])
    assert run.error is not None
    mandatory = [v for v in run.policy_violations if v["level"] == "mandatory"]
    assert any("Qwen3-235B-A22B" in v["message"] for v in mandatory), run.policy_violations
    # Nothing was created: a preview, and refused.
    assert eas.calls == []
    assert not workspace.has_state("byhand") or workspace.resources("byhand", SERVICE_TYPE) == []


def test_the_pack_passes_the_example_stacks(workspace: Workspace, eas: FakeEas):
    for instance_type, (gpu, count, memory) in PROD_TYPES.items():
        eas.metas.append({**meta(instance_type, gpu=gpu, memory=memory), "GPUAmount": count})
    for stack in ("dev", "staging", "prod"):
        workspace.copy_stack(stack)
        run = workspace.preview(stack, policy_packs=[str(workspace.policy_pack())])
        assert run.error is None, f"{stack}: {run.output}"
        assert not [v for v in run.policy_violations if v["level"] == "mandatory"], (stack, run.policy_violations)
        assert run.ops(SERVICE_TYPE), f"{stack}: no EAS service in the preview"


def overbid_by_hand() -> None:
    """A hand-written spot service bidding 100000 USD per instance-hour for one A10."""
    import pulumi
    import pulumi_alicloud as alicloud

    provider = alicloud.Provider("alicloud-cn-hangzhou", region="cn-hangzhou")
    config = {
        "metadata": {"name": "by_hand", "instance": 1},
        "cloud": {"computing": {"instances": [{"type": A10, "spot_price_limit": 100000}]}},
        "containers": [{"image": HANGZHOU_VLLM, "port": 8000, "script": "vllm serve /model_dir --served-model-name Qwen3-8B"}],
    }
    alicloud.pai.Service("by-hand", service_config=json.dumps(config), opts=pulumi.ResourceOptions(provider=provider))


def test_a_bid_of_100000_usd_is_refused_by_the_preview_and_by_the_pack(workspace: Workspace, eas: FakeEas):
    """Issue 28: the bid passed `make plan`, `pulumi preview` and the pack; now each refuses it."""
    spot = {"kind": "spot", "bidPrice": 100000, "instanceTypes": [A10]}
    workspace.write_stack("t", stack_text({"chat": chat(resource=spot)}))
    run = workspace.preview("t", policy_packs=[str(workspace.policy_pack())])
    assert run.error is not None and "field 'resource.bidPrice': the bid 100000 USD/h is beyond any plausible " \
        "price" in run.error, run.error
    assert run.ops(SERVICE_TYPE) == [] and "Traceback" not in run.error

    workspace.write_stack("byhand", "config:\n  alicloud:region: cn-hangzhou\n")
    run = workspace.preview("byhand", program=overbid_by_hand, policy_packs=[str(workspace.policy_pack())])
    assert run.error is not None
    refused = [v for v in run.policy_violations if v["policy"] == "eas-spot-bid-limit"]
    assert refused and refused[0]["level"] == "mandatory" and "the limit is 30.6 USD/h" in refused[0]["message"]
    assert eas.calls == []
