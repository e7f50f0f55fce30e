"""Region fallback over capacity snapshots: what wins, what is skipped and why, what stays put."""

from __future__ import annotations

import json

import pytest

from components.core.errors import StackConfigError
from components.core.hardware import placement
from components.core.hardware.instance_types import per_gpu_memory_gb
from components.core.hardware.placement import Capacity
from components.core.plan import stack_plan
from components.core.stack import stack_config

from .conftest import A10, raw_config, service

A10_BIG = "ml.gu7i.c32m188.1-gu30"
H20_1 = "ml.gu9x.c16m128.1-gu120"


def meta(instance_type: str, stock: str = "WithStock", *, gpu: str = "GU30", amount: int = 1, memory: float = 24,
         spot: bool = True, available: bool = True) -> dict:
    """One InstanceMetas entry as DescribeMachineSpec returns it."""
    entry = {"InstanceType": instance_type, "GPU": gpu, "GPUAmount": amount, "GPUMemory": memory, "CPU": 16,
             "Memory": 60, "StockStatus": stock, "IsAvailable": available, "Vendor": "ECS"}
    if spot:
        entry["SpotDiscount"] = 0.2
        entry["NonProtectSpotDiscount"] = 0.1
    return entry


def plan(capacity: dict | None, pins: dict | None = None, **overrides):
    spec = service(regions=["cn-hangzhou", "cn-shanghai", "cn-beijing"], **overrides)
    raw = raw_config({"chat": spec})
    if pins:
        raw["qwen3-eas:placements"] = json.dumps(pins)
    cap = Capacity(capacity, source="test snapshot") if capacity is not None else None
    return stack_plan.plan_stack(stack_config.load("t", raw), cap)["chat"]


def test_first_region_out_of_stock_second_chosen():
    p = plan({"cn-hangzhou": [meta(A10, "NoStock")], "cn-shanghai": [meta(A10)], "cn-beijing": [meta(A10)]})
    assert p.region == "cn-shanghai"
    assert p.choice.as_dict() == {"region": "cn-shanghai", "instanceType": A10, "stock": "WithStock", "verified": True,
                                  "tried": [{"region": "cn-hangzhou", "instanceType": A10, "reason": "no stock"}]}
    assert "cn-shanghai" in p.image  # the image follows the region's registry
    assert "pai-quickstart-cn-shanghai" in p.service_config["storage"][0]["oss"]["path"]


def test_types_are_walked_in_order_within_a_region():
    p = plan({"cn-hangzhou": [meta(A10, "NoStock"), meta(A10_BIG)]},
             resource={"kind": "public", "instanceTypes": [A10, A10_BIG]})
    assert p.region == "cn-hangzhou" and p.json_placement.instance_types == (A10_BIG, A10)


def test_low_stock_is_taken_and_said():
    p = plan({"cn-hangzhou": [meta(A10, "ClosedWithStock")]})
    assert p.choice.stock == "ClosedWithStock" and any("low stock" in w for w in p.warnings)


def test_spot_type_without_spot_discount_is_skipped():
    p = plan({"cn-hangzhou": [meta(A10, spot=False)], "cn-shanghai": [meta(A10)]},
             resource={"kind": "spot", "bidPrice": 1, "instanceTypes": [A10]})
    assert p.region == "cn-shanghai"
    assert "spot not supported" in p.choice.tried[0].reason


def test_sizing_failing_type_is_skipped_even_with_stock():
    # The API says this A10-named type has 16 GB GPUs: below the table for Qwen3-8B.
    p = plan({"cn-hangzhou": [meta(A10, memory=16)], "cn-shanghai": [meta(A10)]})
    assert p.region == "cn-shanghai"
    assert p.choice.tried[0].reason.startswith("sizing: ")


def test_all_regions_out_is_a_table_of_reasons():
    with pytest.raises(StackConfigError) as err:
        plan({"cn-hangzhou": [meta(A10, "NoStock")], "cn-shanghai": [meta(A10, available=False)]})
    (problem,) = err.value.problems
    assert problem.field == "regions"
    lines = problem.message.splitlines()
    assert lines[1].split() == ["region", "instance", "type", "reason"]
    assert any("cn-hangzhou" in line and "no stock" in line for line in lines)
    assert any("cn-shanghai" in line and "not available" in line for line in lines)
    assert any("cn-beijing" in line and "unreachable" in line for line in lines)


def test_region_absent_from_the_snapshot_counts_as_unreachable():
    p = plan({"cn-shanghai": [meta(A10)]})
    assert p.region == "cn-shanghai"
    assert p.choice.tried[0].region == "cn-hangzhou" and "unreachable" in p.choice.tried[0].reason


def test_without_a_snapshot_the_first_region_is_taken_unverified():
    p = plan(None)
    assert p.region == "cn-hangzhou" and p.choice.as_dict()["verified"] is False and p.choice.stock == "unknown"
    assert any("stock unverified" in line for line in p.explanation)


def test_sticky_placement_is_kept_when_stock_vanishes():
    p = plan({"cn-hangzhou": [meta(A10)], "cn-shanghai": [meta(A10, "NoStock")]}, pins={"chat": "cn-shanghai"})
    assert p.region == "cn-shanghai" and p.choice.sticky
    assert any("not moved" in w for w in p.warnings)


def test_moving_a_pinned_service_needs_the_opt_in():
    p = plan({"cn-hangzhou": [meta(A10)], "cn-shanghai": [meta(A10, "NoStock")]}, pins={"chat": "cn-shanghai"},
             allowRegionMove=True)
    assert p.region == "cn-hangzhou" and not p.choice.sticky


def test_a_pin_for_an_unknown_service_is_an_error():
    with pytest.raises(StackConfigError, match="not a configured service"):
        plan(None, pins={"gone": "cn-hangzhou"})


def test_api_figures_win_over_our_reading_of_the_name():
    p = plan({"cn-hangzhou": [meta("ml.custom.big", gpu="GU120", amount=1, memory=96)]}, model="Qwen3-32B",
             resource={"kind": "public", "instanceTypes": ["ml.custom.big"]})
    assert p.instance_facts[0].source == "api" and p.gpu_memory_gb == 96


def test_automatic_choice_never_takes_a_type_outside_its_reviewed_list():
    """The region offers a 96 GB type that would fit, but the automatic list comes from the hardware
    table: with none of its types offered, the service is held back, and the fix names the offered one."""
    with pytest.raises(StackConfigError) as err:
        plan({"cn-hangzhou": [meta(A10), meta(H20_1, gpu="GU120", memory=96)]}, model="Qwen3-32B",
             resource={"kind": "public"})
    (problem,) = err.value.problems
    assert "ecs.gn8v.4xlarge" in problem.message and "not offered in this region" in problem.message
    assert "never picks hardware outside the reviewed list" in problem.fix and H20_1 in problem.fix


@pytest.mark.parametrize(("code", "amount", "reported", "per_gpu"), [
    ("GU30", 1, 24, 24),      # single GPU: per GPU
    ("GU120", 8, 96, 96),     # known code, per-GPU reading
    ("GU120", 8, 768, 96),    # known code, per-instance reading
    ("GU999", 8, 640, 80),    # unknown code, above any single GPU: instance total
    ("GU999", 2, 80, 80),     # unknown code, plausible single GPU: per GPU
])
def test_gpu_memory_of_multi_gpu_types_is_read_as_documented(code, amount, reported, per_gpu):
    assert per_gpu_memory_gb(code, amount, reported) == per_gpu


def test_failure_table_lines_up():
    text = placement.failure_table([placement.Attempt("cn-hangzhou", A10, "no stock"),
                                    placement.Attempt("cn-wulanchabu", "*", "throttled")])
    assert text.splitlines()[2].index("*") == text.splitlines()[1].index(A10)


def test_each_region_is_probed_once_per_run_however_many_services_share_it(monkeypatch):
    from components.eas import probe as eas_probe
    from components.eas import stock

    asked: list[list[str]] = []
    monkeypatch.delenv(stock.ENV, raising=False)
    # The live probe resolves credentials before it asks anything; the stubbed probe needs some.
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "ak")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "sk")
    monkeypatch.setattr(eas_probe, "probe_regions", lambda regions, **kw: asked.append(list(regions)) or {
        r: [meta(A10)] for r in regions})
    services = {f"s{i}": service(regions=["cn-hangzhou", "cn-shanghai"]) for i in range(5)}
    services["group"] = service(resource={"kind": "resourceGroup", "resourceGroupId": "eas-r-x1", "gpus": 1,
                                          "gpuType": "GU30", "cpu": 8, "memoryGiB": 30})
    loaded = stack_config.load("t", raw_config(services))
    capacity = stock.capacity_for(stack_plan.probed_regions(loaded))
    assert asked == [["cn-hangzhou", "cn-shanghai"]]  # one probe, each region once; groups need none
    assert set(stack_plan.plan_stack(loaded, capacity)) == set(services)
