"""A spot bid must be a price: refused beyond any plausible price for its GPUs, warned about above a
plausible one, in ``make plan`` (and so ``pulumi preview``) and in the policy pack alike."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.core.errors import StackConfigError
from components.core.hardware import hardware_table
from components.core.plan import bids, stack_plan
from components.core.stack import stack_config
from policy import rules

from .conftest import A10, plan_one, raw_config, service

SPOT = {"kind": "spot", "instanceTypes": [A10]}
LINGJUN = "ml.gu8xf.8xlarge-gu108"
LINGJUN_SPOT = {"kind": "spot", "instanceTypes": [LINGJUN],
                "instanceTypeFacts": {LINGJUN: {"gpus": 8, "gpuMemoryGiB": 96}}}


def refusal(**resource) -> str:
    with pytest.raises(StackConfigError) as err:
        plan_one(resource={**SPOT, **resource})
    (problem,) = err.value.problems
    return problem.describe("test")


def test_a_bid_of_100000_usd_an_hour_is_refused_with_the_limit_and_its_source():
    message = refusal(bidPrice=100000)
    assert "field 'resource.bidPrice': the bid 100000 USD/h is beyond any plausible price for " \
           f"`{A10}` (1 × 24 GB): the limit is 30.6 USD/h, 10 × 1 GPU × 3.06 USD per GPU-hour" in message
    assert "Azure NC6s v3" in message and "components/core/data/gpu_list_prices.csv" in message
    assert "Fix: bid at most what the type costs on demand" in message


def test_eight_large_gpus_have_a_limit_eight_times_one_of_their_class():
    with pytest.raises(StackConfigError) as err:
        plan_one(resource={**LINGJUN_SPOT, "bidPrice": 100000}, model="Qwen3-235B-A22B-FP8")
    assert "the limit is 983.2 USD/h, 10 × 8 GPUs × 12.29 USD per GPU-hour" in str(err.value)
    assert "H100 80 GB" in str(err.value)
    flagship = plan_one(resource={**LINGJUN_SPOT, "bidPrice": 60}, model="Qwen3-235B-A22B-FP8")
    assert not [w for w in flagship.warnings if "plausibly" in w]


def test_a_bid_between_plausible_and_the_limit_is_a_loud_warning_in_the_stack_cost_too():
    loaded = stack_config.load("t", raw_config({"chat": service(resource={**SPOT, "bidPrice": 20})}))
    plans = stack_plan.plan_stack(loaded)
    (warning,) = [w for w in plans["chat"].warnings if "plausibly" in w]
    assert warning.startswith("the bid 20 USD/h is above 3.06 USD/h, what `ml.gu7i.c16m60.1-gu30` (1 × 24 GB) "
                              "plausibly costs")
    assert "check the figure (a bid above 30.6 USD/h is refused)" in warning
    # The stack's cost warnings are what plan.md, the program's log and `make diff` list.
    assert warning in plans["chat"].cost.warnings


def test_a_bid_well_below_the_line_says_nothing():
    assert not [w for w in plan_one(resource={**SPOT, "bidPrice": 1.2}).warnings if "plausibly" in w]


def test_on_the_china_site_the_lines_allow_for_a_bid_in_yuan():
    china = {"site": "china"}
    loaded = stack_config.load("t", raw_config({"chat": service(resource={**SPOT, "bidPrice": 20})},
                                               cost=json.dumps(china)))
    assert not [w for w in stack_plan.plan_stack(loaded)["chat"].warnings if "plausibly" in w]
    with pytest.raises(StackConfigError) as err:
        stack_plan.plan_stack(stack_config.load("t", raw_config({"chat": service(resource={**SPOT, "bidPrice": 300})},
                                                                cost=json.dumps(china))))
    assert "the limit is 244.8/h (currency unconfirmed)" in str(err.value) and "in case the bid is in yuan" in str(err.value)


def test_one_bid_for_several_types_is_judged_against_the_dearest():
    verdict = bids.judge(10, [("small", 1, 24), ("big", 1, 96)], "international")
    assert verdict.refusal is None
    (warning,) = verdict.warnings
    assert "`small` (1 × 24 GB)" in warning
    assert bids.judge(200, [("small", 1, 24), ("big", 1, 96)], "international").refusal is not None


def test_every_list_price_row_names_its_offer_source_and_date():
    rows = hardware_table.load_gpu_list_prices()
    assert [r.memory_gb for r in rows] == sorted(r.memory_gb for r in rows)
    assert all(r.offer and r.source and r.seen and r.usd_per_gpu_hour > 0 for r in rows)


@given(st.integers(1, 16), st.integers(1, 400), st.integers(1, 400),
       st.floats(0.001, 10**6, allow_nan=False), st.sampled_from(["international", "china"]))
def test_the_limits_grow_with_the_gpus_and_a_bid_is_refused_exactly_above_the_limit(gpus, memory, more, bid, site):
    small, large = bids.yardstick("t", gpus, memory, site), bids.yardstick("t", gpus, memory + more, site)
    assert small.plausible <= large.plausible and small.ceiling <= large.ceiling
    assert small.ceiling == pytest.approx(small.plausible * bids.CEILING_MULTIPLE)
    assert bids.yardstick("t", gpus + 1, memory, site).ceiling > small.ceiling
    verdict = bids.judge(bid, [("t", gpus, memory)], site)
    assert (verdict.refusal is not None) == (bid > small.ceiling)
    assert bool(verdict.warnings) == (small.plausible < bid <= small.ceiling)


# -- the policy pack: the same rule for services written by hand ------------------------------


def hand_written_spot(bid: float, instance_type: str = A10) -> dict:
    config = {
        "metadata": {"name": "by_hand", "instance": 1},
        "cloud": {"computing": {"instances": [{"type": instance_type, "spot_price_limit": bid}]}},
        "containers": [{"image": "eas-registry-vpc.cn-hangzhou.cr.aliyuncs.com/pai-eas/vllm:0.11.2-mows0.5.1",
                        "port": 8000, "script": "vllm serve /model_dir --served-model-name Qwen3-8B"}],
    }
    return {"serviceConfig": json.dumps(config), "tags": {}}


def test_the_policy_pack_refuses_a_hand_written_bid_beyond_the_limit_with_the_plans_words():
    (violation,) = rules.spot_bid_limit(hand_written_spot(100000))
    assert violation.startswith(f"cloud.computing.instances[0] ({A10}): the bid 100000 USD/h is beyond any "
                                "plausible price")
    assert "the limit is 30.6 USD/h" in violation and "gpu_list_prices.csv" in violation
    assert rules.spot_bid_plausible(hand_written_spot(100000)) == []
    (warning,) = rules.spot_bid_plausible(hand_written_spot(20))
    assert "is above 3.06 USD/h" in warning and rules.spot_bid_limit(hand_written_spot(20)) == []
    assert rules.spot_bid_limit(hand_written_spot(200), site="china") == []
    levels = {r.name: r.level for r in rules.RULES}
    assert levels["eas-spot-bid-limit"] == rules.MANDATORY and levels["eas-spot-bid-plausible"] == rules.ADVISORY


def test_the_pack_and_the_plan_agree_on_a_planned_service():
    plan = plan_one(resource={**SPOT, "bidPrice": 20})
    resource = {"serviceConfig": plan.service_config_json, "tags": plan.tags}
    assert rules.spot_bid_limit(resource) == []
    (warning,) = rules.spot_bid_plausible(resource)
    assert warning.split(": ", 1)[1] in [w for w in plan.warnings if "plausibly" in w]


def test_a_lingjun_type_is_judged_by_the_gpus_the_config_or_tags_state():
    resource = hand_written_spot(5000, LINGJUN)
    assert rules.spot_bid_limit(resource) == []  # GPUs unknown: eas-gpu-unverified says so
    (violation,) = rules.spot_bid_limit(resource, gpu_facts={LINGJUN: {"gpus": 8, "gpuMemoryGiB": 96}})
    assert "the limit is 983.2 USD/h" in violation
