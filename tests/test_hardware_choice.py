"""Hardware is reviewed once, then kept (issue 28, section 1).

The automatic choice is one ordered list from the stack file and the hardware table: the same
offline, with a snapshot and live; stock only filters it. A running service keeps the instance
types it runs on while they fit it, whatever the stock or the table says; ``allowHardwareChange``
or listed ``instanceTypes`` ask for other hardware on purpose.
"""

from __future__ import annotations

import json
from typing import Any, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.core.errors import StackConfigError
from components.core.hardware import hardware_choice, placement
from components.core.hardware.hardware_choice import RunsOn
from components.core.plan import service_json, stack_plan
from components.core.running import ownership
from components.core.stack import stack_config

from .conftest import raw_config, service

# Qwen3-14B at 32768 tokens: the hardware table's automatic list (1 x 48 GB L20 first), and a
# 96 GB type of the table that also fits it.
AUTO_14B = ("ecs.gn8is.2xlarge", "ecs.gn8is.4xlarge", "ecs.gn7e-c16g1.4xlarge")
ONE_96 = "ecs.gn8v.4xlarge"
# What live stock once offered the same service: eight H20 in one machine, in no reviewed list.
EIGHT_H20 = "ecs.ebmgn8v.48xlarge"
TWO = ["cn-hangzhou", "cn-beijing"]


def meta(name: str, stock: str = "WithStock", gpus: int = 1, memory: int = 48, gpu: str = "L20") -> dict[str, Any]:
    return {"InstanceType": name, "GPU": gpu, "GPUAmount": gpus, "GPUMemory": memory, "CPU": 32, "Memory": 128,
            "StockStatus": stock, "IsAvailable": True, "SpotDiscount": 0.3, "NonProtectSpotDiscount": 0.2}


def auto_14b(**overrides: Any) -> dict[str, Any]:
    return service(**{"model": "Qwen3-14B", "regions": TWO, "resource": {"kind": "public"}, **overrides})


def planned(spec: dict[str, Any], snapshot: Optional[dict[str, Any]] = None,
            lookup: Optional[ownership.Lookup] = None) -> stack_plan.StackPlan:
    loaded = stack_config.load("t", raw_config({"chat": spec}))
    capacity = placement.Capacity(snapshot, "test snapshot") if snapshot is not None else None
    return stack_plan.plan_services(loaded, capacity, lookup=lookup)


def running(region: str, *types: str, kind: str = "public", request: Optional[str] = None) -> ownership.Lookup:
    return ownership.Lookup(regions={"chat": region}, runs_on={"chat": RunsOn(kind, types, request)})


def test_the_automatic_list_is_the_same_offline_and_with_stock_which_only_filters_it():
    offline = planned(auto_14b()).plans["chat"]
    assert offline.json_placement.instance_types == AUTO_14B
    assert offline.summary()["instanceTypeChoice"] == {"how": "automatic", "candidates": list(AUTO_14B),
                                                      "running": None, "automatic": None}
    assert any("the deploy may use, in this order" in line and "held back, never given other hardware" in line
               for line in offline.explanation)
    # Live stock offers eight H20 (which fit, and which the old choice over the offer took) and has
    # none of the first L20: the deploy takes the next type of the same list, never the H20.
    stock = {"cn-hangzhou": [meta(AUTO_14B[0], "NoStock"), meta(AUTO_14B[1]), meta(AUTO_14B[2], memory=80, gpu="A800"),
                             meta(EIGHT_H20, gpus=8, memory=96, gpu="H20")]}
    live = planned(auto_14b(), stock).plans["chat"]
    assert set(live.json_placement.instance_types) <= set(AUTO_14B) and EIGHT_H20 not in live.json_placement.instance_types
    assert live.json_placement.instance_types[0] == AUTO_14B[1]
    assert live.gpus_per_replica == offline.gpus_per_replica == 1 and "--tensor-parallel-size 1" in live.script
    assert live.summary()["instanceTypeChoice"]["candidates"] == list(AUTO_14B)


def test_with_none_of_the_list_in_stock_the_service_is_held_back_with_what_would_fit():
    stock = {region: [meta(name, "NoStock") for name in AUTO_14B] + [meta(EIGHT_H20, gpus=8, memory=96, gpu="H20")]
             for region in TWO}
    result = planned(auto_14b(), stock)
    assert not result.plans
    problem = result.held_back["chat"]
    assert all(name in problem.message for name in AUTO_14B) and "no stock" in problem.message
    assert "never picks hardware outside the reviewed list" in problem.fix
    assert f"{EIGHT_H20} (8 x 96 GB, in cn-hangzhou)" in problem.fix and "list instanceTypes" in problem.fix


def test_a_running_service_keeps_the_types_it_runs_on_whatever_the_stock_or_the_table_says():
    # Deployed on a 96 GB type (an earlier table, or an earlier choice): still fits, so it stays.
    stock = {"cn-hangzhou": [meta(AUTO_14B[0]), meta(ONE_96, "NoStock", memory=96, gpu="GU120")]}
    plan = planned(auto_14b(), stock, running("cn-hangzhou", ONE_96)).plans["chat"]
    assert plan.region == "cn-hangzhou" and plan.json_placement.instance_types == (ONE_96,)
    choice = plan.summary()["instanceTypeChoice"]
    assert choice["how"] == "kept" and choice["running"] == [ONE_96] and choice["automatic"] == list(AUTO_14B)
    assert any("instance types kept" in line and "allowHardwareChange" in line for line in plan.explanation)


def test_allow_hardware_change_takes_the_automatic_choice_on_purpose():
    plan = planned(auto_14b(allowHardwareChange=True), None, running("cn-hangzhou", ONE_96)).plans["chat"]
    assert plan.json_placement.instance_types == AUTO_14B
    assert plan.summary()["instanceTypeChoice"]["how"] == "automatic"
    assert plan.region == "cn-hangzhou"  # the region is kept all the same


@pytest.mark.parametrize(("spec", "runs_on", "why"), [
    # The model grew: one 24 GB A10 cannot hold Qwen3-14B.
    (auto_14b(), RunsOn("public", ("ml.gu7i.c16m60.1-gu30",)), "below the minimum-configuration table"),
    # The stack file asks for spot now; it ran on demand.
    (auto_14b(resource={"kind": "spot", "bidPrice": 2}), RunsOn("public", (ONE_96,)), "runs as public"),
    # A type whose GPUs nobody knows is never kept on faith.
    (auto_14b(), RunsOn("public", ("ml.mystery.big",)), "GPUs of ml.mystery.big are unknown"),
])
def test_types_that_cannot_serve_the_stack_file_any_more_give_way_to_the_automatic_list(spec, runs_on, why):
    lookup = ownership.Lookup(regions={"chat": "cn-hangzhou"}, runs_on={"chat": runs_on})
    plan = planned(spec, None, lookup).plans["chat"]
    assert plan.json_placement.instance_types[0] in AUTO_14B
    (line,) = [e for e in plan.explanation if "which it leaves" in e]
    assert why in line


def test_listed_types_are_the_stack_files_word_over_what_runs():
    spec = service(model="Qwen3-14B", resource={"kind": "public", "instanceTypes": [ONE_96]})
    plan = planned(spec, None, running("cn-hangzhou", AUTO_14B[0])).plans["chat"]
    assert plan.json_placement.instance_types == (ONE_96,)
    assert plan.summary()["instanceTypeChoice"]["how"] == "listed"
    assert any("runs on `ecs.gn8is.2xlarge`, which it leaves (it runs on types instanceTypes does not list)" in line
               for line in plan.explanation)


STATUSES = st.sampled_from(["WithStock", "ClosedWithStock", "NoStock", None])
OFFERED = (*AUTO_14B, ONE_96, EIGHT_H20, "ml.gu7i.c16m60.1-gu30")
FACTS = {AUTO_14B[0]: (1, 48, "L20"), AUTO_14B[1]: (1, 48, "L20"), AUTO_14B[2]: (1, 80, "A800"),
         ONE_96: (1, 96, "GU120"), EIGHT_H20: (8, 96, "H20"), "ml.gu7i.c16m60.1-gu30": (1, 24, "GU30")}


@st.composite
def snapshots(draw: Any) -> dict[str, Any]:
    """Any stock of the two regions: each type offered or not, in any state; a region may be missing."""
    found: dict[str, Any] = {}
    for region in TWO:
        if draw(st.booleans()):
            entries = []
            for name in OFFERED:
                status = draw(STATUSES)
                if status is not None:
                    gpus, memory, gpu = FACTS[name]
                    entries.append(meta(name, status, gpus, memory, gpu))
            found[region] = entries
    return found


@settings(max_examples=60, deadline=None)
@given(snapshots(), st.sampled_from(TWO), st.sampled_from([(AUTO_14B[0],), (ONE_96,), AUTO_14B[1:]]))
def test_property_no_stock_snapshot_changes_a_running_services_hardware_or_region(snapshot, region, types):
    result = planned(auto_14b(), snapshot, running(region, *types))
    plan = result.plans["chat"]
    assert plan.region == region
    assert plan.json_placement.instance_types == types
    assert plan.gpus_per_replica == 1 and "--tensor-parallel-size 1" in plan.script


@settings(max_examples=60, deadline=None)
@given(snapshots())
def test_property_a_new_service_gets_only_types_of_its_reviewed_list(snapshot):
    result = planned(auto_14b(), snapshot)
    if "chat" in result.held_back:
        return
    plan = result.plans["chat"]
    assert set(plan.json_placement.instance_types) <= set(AUTO_14B)
    assert plan.gpus_per_replica == 1


@pytest.mark.parametrize(("config", "expected"), [
    ({"cloud": {"computing": {"instances": [{"type": "a", "spot_price_limit": 1.2}, {"type": "b", "spot_price_limit": 1.2},
                                            {"type": "a"}, {"type": "b"}]}}}, RunsOn("spot", ("a", "b"))),
    ({"cloud": {"computing": {"instances": [{"type": "a"}]}}}, RunsOn("public", ("a",))),
    ({"metadata": {"resource": "eas-r-x", "gpu": 1}}, RunsOn("dedicated")),
    ({"metadata": {"quota_id": "quotax"}}, RunsOn("dedicated")),
    ({"cloud": {"computing": {"instances": "nonsense"}}}, RunsOn(None)),
    ("not a mapping", RunsOn(None)),
])
def test_what_a_running_service_runs_on_is_read_from_its_json(config, expected):
    assert service_json.runs_on(config) == expected


def test_the_service_json_we_send_reads_back_as_what_we_planned():
    plan = planned(auto_14b(resource={"kind": "spot", "bidPrice": 2, "onDemandFallback": True})).plans["chat"]
    assert service_json.runs_on(json.loads(plan.service_config_json)) == RunsOn("spot", plan.json_placement.instance_types)


def test_a_held_back_service_that_runs_is_never_previewed_as_deleted():
    """allowRegionMove lets the stock decide; with none anywhere, a service that runs is held back as
    one that may run (a preview then fails rather than list it deleted)."""
    stock = {region: [meta(name, "NoStock") for name in AUTO_14B] for region in TWO}
    with pytest.raises(StackConfigError):
        stack_plan.plan_stack(stack_config.load("t", raw_config({"chat": auto_14b(allowRegionMove=True)})),
                              placement.Capacity(stock, "s"), {"chat": "cn-hangzhou"})
    result = planned(auto_14b(allowRegionMove=True), stock, running("cn-hangzhou", AUTO_14B[0]))
    assert "chat" in result.held_back and "chat" in result.uncertain


def listed_14b(*types: str) -> dict[str, Any]:
    return auto_14b(resource={"kind": "public", "instanceTypes": list(types)})


def test_what_the_stack_file_asked_is_a_label_and_the_same_request_keeps_what_stock_made_of_it():
    """Created when its first listed type had no stock, a service runs on the second alone; later
    runs with the same list keep exactly that, whatever the stock says then."""
    plan = planned(listed_14b(*AUTO_14B[:2])).plans["chat"]
    label = plan.tags[hardware_choice.REQUEST_LABEL]
    assert label == hardware_choice.request("public", list(AUTO_14B[:2])) and label.startswith("public-listed-")
    assert planned(auto_14b()).plans["chat"].tags[hardware_choice.REQUEST_LABEL] == "public-automatic"
    stock = {"cn-hangzhou": [meta(AUTO_14B[0]), meta(AUTO_14B[1])]}
    kept = planned(listed_14b(*AUTO_14B[:2]), stock, running("cn-hangzhou", AUTO_14B[1], request=label)).plans["chat"]
    assert kept.json_placement.instance_types == (AUTO_14B[1],)
    assert kept.summary()["instanceTypeChoice"]["how"] == "kept"


@pytest.mark.parametrize(("now", "deployed_as", "why"), [
    (listed_14b(ONE_96, AUTO_14B[1]), hardware_choice.request("public", list(AUTO_14B[:2])), "its instanceTypes changed"),
    (auto_14b(), hardware_choice.request("public", list(AUTO_14B[:2])),
     "deployed for public, listed instanceTypes, the stack file asks for public, the automatic choice"),
    (listed_14b(*AUTO_14B[:2]), "public-automatic",
     "deployed for public, the automatic choice, the stack file asks for public, listed instanceTypes"),
])
def test_a_changed_request_applies_the_stack_files_list(now, deployed_as, why):
    plan = planned(now, None, running("cn-hangzhou", AUTO_14B[1], request=deployed_as)).plans["chat"]
    assert plan.summary()["instanceTypeChoice"]["how"] in ("listed", "automatic")
    assert any(why in line for line in plan.explanation), plan.explanation
