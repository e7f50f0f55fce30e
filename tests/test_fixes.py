"""Fixes that work: every change a sizing message offers plans when applied (issue 28, section 4).

Each case below is a stack a user wrote that does not plan. The message's fixes are read back
from the problem (``Problem.changes``: what each writes in the stack file), applied one at a
time, and the stack is planned again, with the same capacity snapshot where there was one.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.core.errors import Problem, StackConfigError
from components.core.hardware import placement
from components.core.plan import stack_plan
from components.core.stack import stack_config

from .conftest import A10, raw_config, service

CODER = "Qwen3-Coder-480B-A35B-Instruct"


def meta(name: str, gpu: str, memory: int, gpus: int = 1, stock: str = "WithStock") -> dict[str, Any]:
    return {"InstanceType": name, "GPU": gpu, "GPUAmount": gpus, "GPUMemory": memory, "CPU": 16, "Memory": 60,
            "StockStatus": stock, "IsAvailable": True, "Vendor": "ECS", "SpotDiscount": 0.2,
            "NonProtectSpotDiscount": 0.1}


L20_NO_STOCK = meta("ecs.gn8is.2xlarge", "L20", 48, stock="NoStock")
GU60 = meta("ml.gu8is.c16m64.1-gu60", "GU60", 48)
SNAPSHOT = {"cn-hangzhou": [meta(A10, "GU30", 24), L20_NO_STOCK, GU60],
            "cn-shanghai": [meta(A10, "GU30", 24), meta("ecs.gn7e-c16g1.4xlarge", "A100", 80)]}


def plan(chat: dict[str, Any], snapshot: dict | None = None) -> dict:
    loaded = stack_config.load("t", raw_config({"chat": chat}))
    capacity = placement.Capacity(snapshot, "snapshot test.json") if snapshot is not None else None
    return stack_plan.plan_stack(loaded, capacity=capacity) if capacity else stack_plan.plan_stack(loaded)


def refused(chat: dict[str, Any], snapshot: dict | None = None) -> Problem:
    with pytest.raises(StackConfigError) as err:
        plan(chat, snapshot)
    (problem,) = err.value.problems
    return problem


def applied(chat: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(chat)
    for path, value in change.items():
        *parents, leaf = path.split(".")
        node = changed
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return changed


CASES = {
    # The message said "lower maxModelLen, or set kvCacheDtype: fp8", already set and no help.
    "coder-bf16-fp8-cache": (service(model=CODER, maxModelLen=2048, kvCacheDtype="fp8", resource={"kind": "public"}),
                             None),
    "coder-bf16": (service(model=CODER, resource={"kind": "public"}), None),
    # A length past the native one blamed on the type: the table's RoPE row.
    "8b-long-on-a10": (service(maxModelLen=131072), None),
    "8b-long-on-a10-snapshot": (service(maxModelLen=131072), SNAPSHOT),
    # The estimate: 32B at 131072 on one 96 GB GPU.
    "32b-long-on-one-96": (service(model="Qwen3-32B", maxModelLen=131072,
                                   resource={"kind": "public", "instanceTypes": ["ecs.gn8v.4xlarge"]}), None),
    "14b-on-a10": (service(model="Qwen3-14B"), None),
    "14b-on-a10-snapshot": (service(model="Qwen3-14B"), SNAPSHOT),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_fix_offered_plans_when_applied(case):
    chat, snapshot = CASES[case]
    problem = refused(chat, snapshot)
    assert problem.changes, problem.describe("t")
    for change in problem.changes:
        plans = plan(applied(chat, dict(change)), snapshot)  # raises if the fix does not plan
        assert plans["chat"].name == "chat_t"


def test_coder_480b_in_bf16_is_offered_its_fp8_checkpoint_and_nothing_that_fails():
    chat, _ = CASES["coder-bf16-fp8-cache"]
    problem = refused(chat)
    assert "no configuration up to 8 x 96 GB does" in problem.message
    assert problem.fix.startswith(f"use model: {CODER}-FP8, its FP8 checkpoint, which fits 8 x ")
    assert "kvCacheDtype" not in problem.fix and "maxModelLen" not in problem.fix
    assert problem.changes == ({"model": f"{CODER}-FP8"},)


def test_a_length_past_the_native_one_names_the_longest_that_fits_and_the_native_length():
    problem = refused(CASES["8b-long-on-a10"][0])
    assert "is below the minimum-configuration table for Qwen3-8B at 131072 tokens" in problem.message
    assert problem.fix.startswith(f"set maxModelLen to 32768 or less, the longest {A10} fits (up to 32768 tokens, "
                                  "Qwen3-8B's native length, no RoPE scaling (YaRN) is needed), or use at least 1 GPU(s) "
                                  "of 48 GB")
    estimate = refused(CASES["32b-long-on-one-96"][0])
    assert "set maxModelLen to " in estimate.fix and "Qwen3-32B's native length" in estimate.fix


def test_under_a_snapshot_a_named_type_has_stock_where_the_service_runs():
    """The hardware table's ecs.gn8is.2xlarge has no stock in cn-hangzhou: the type with stock there is named."""
    problem = refused(CASES["14b-on-a10-snapshot"][0], SNAPSHOT)
    assert problem.field == "resource.instanceTypes" and not problem.stock  # the file's mistake, not stock's
    assert "(e.g. ml.gu8is.c16m64.1-gu60, with stock in cn-hangzhou per snapshot test.json)" in problem.fix
    assert "ecs.gn8is.2xlarge" not in problem.fix and "ecs.gn7e" not in problem.fix  # no stock / not its region
    without = {"cn-hangzhou": [meta(A10, "GU30", 24), L20_NO_STOCK]}
    problem = refused(CASES["14b-on-a10-snapshot"][0], without)
    assert "e.g." not in problem.fix and "no type with stock in cn-hangzhou per snapshot test.json has that" in problem.fix
    # Offline, the hardware table's type is named, and said to be from the table.
    assert "(e.g. ecs.gn8is.2xlarge, from the hardware table)" in refused(CASES["14b-on-a10"][0]).fix


def test_the_oversize_warning_names_a_type_with_stock_under_a_snapshot():
    eight = meta("ml.gu7i.c128m752.8-gu30", "GU30", 24, gpus=8)
    snapshot = {"cn-hangzhou": [eight, meta("ml.gu7i.c32m188.1-gu30", "GU30", 24)]}
    plans = plan(service(resource={"kind": "public", "instanceTypes": ["ml.gu7i.c128m752.8-gu30"]}), snapshot)
    (warning,) = [w for w in plans["chat"].warnings if "times what" in w]
    assert "e.g. ml.gu7i.c32m188.1-gu30, with stock in cn-hangzhou per snapshot test.json" in warning
