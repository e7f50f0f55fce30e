"""Leaving instanceTypes out without a capacity snapshot: every model of the source document plans
on a type from the hardware table, named with its figures and their origin; where the table has
nothing that fits, the error names the GPUs needed and the type names that have them."""

from __future__ import annotations

import pytest

from components.core.errors import StackConfigError
from components.core.hardware import instance_types, sizing
from components.core.hardware.instance_types import LINGJUN_TYPES
from components.core.models.catalog import get_model

from .conftest import A10, plan_one

# The source document's 22 models (shared/reference/qwen3-on-eas.md); the catalog may grow past them.
SOURCE_MODELS = [
    *(f"Qwen3-{size}" for size in ("0.6B", "1.7B", "4B", "8B", "14B", "32B", "30B-A3B", "235B-A22B")),
    *(f"Qwen3-{size}-Base" for size in ("0.6B", "1.7B", "4B", "8B", "14B", "30B-A3B")),
    *(f"Qwen3-{size}-FP8" for size in ("0.6B", "1.7B", "4B", "8B", "14B", "32B", "30B-A3B", "235B-A22B")),
]
TABLE = {t.name: t for t in instance_types.table_types()}


def refusal(**overrides) -> str:
    with pytest.raises(StackConfigError) as err:
        plan_one(**overrides)
    (problem,) = err.value.problems
    assert problem.field == "resource.instanceTypes"
    return problem.describe("test")


def test_the_source_document_has_22_models():
    assert len(set(SOURCE_MODELS)) == 22


@pytest.mark.parametrize("model", SOURCE_MODELS)
def test_every_model_plans_offline_on_a_table_type_that_meets_the_minimum_table(model):
    plan = plan_one(model=model, resource={"kind": "public"})
    minimum = sizing.table_minimum(get_model(model), plan.max_model_len)
    chosen = plan.json_placement.instance_types
    assert chosen and all(name in TABLE for name in chosen)
    assert all(sizing.meets_table(minimum, TABLE[n].gpus, TABLE[n].gpu_memory_gb) for n in chosen)
    # The fewest GPUs the table allows: nothing with fewer GPUs in the table would meet it.
    assert TABLE[chosen[0]].gpus == minimum.gpus
    # The plan names the figures it used and where they came from, inferred ones said so.
    for name in chosen:
        line = next(e for e in plan.explanation if e.startswith(f"`{name}`"))
        assert "from the hardware table" in line
        assert ("inferred, not stated by its source: " in line) == bool(TABLE[name].inferred)
        # The source itself, with the day it was read, is listed apart (plan.md's Sources).
        assert any(s.startswith(f"`{name}`: ") and "(read 2026-" in s for s in plan.sources)


def test_the_summary_lists_each_types_figures_and_their_origin():
    plan = plan_one(model="Qwen3-4B", resource={"kind": "public"})
    first = plan.summary()["hardware"][0]
    assert first == {"type": "ml.gu7i.c8m30.1-gu30", "gpus": 1, "gpuType": "GU30", "gpuMemoryGB": 24,
                     "architecture": "Ampere", "source": "table", "inferred": ["gpu_memory_gb"], "easConfirmed": True}


def test_small_models_prefer_types_shown_on_eas_with_the_fewest_vcpus():
    plan = plan_one(model="Qwen3-4B", resource={"kind": "public"})
    assert plan.json_placement.instance_types == ("ml.gu7i.c8m30.1-gu30", "ecs.gn7i-c8g1.2xlarge", A10)
    assert not any("no Alibaba source we have shows EAS offering" in w for w in plan.warnings)


def test_types_no_source_shows_on_eas_are_chosen_with_a_warning():
    plan = plan_one(model="Qwen3-32B", resource={"kind": "public"})
    assert plan.json_placement.instance_types[0] == "ecs.gn8v.4xlarge"
    (warning,) = [w for w in plan.warnings if "no Alibaba source we have shows EAS offering" in w]
    assert "`ecs.gn8v.4xlarge`" in warning and "make capacity" in warning


def test_the_cheapest_priced_type_comes_first_among_the_fewest_gpus(monkeypatch):
    from components.core.hardware import hardware_table

    row = hardware_table.PriceRow("ecs.gn7i-c32g1.8xlarge", 1.0, "USD", "international", "", "test", "2026-12-02")
    monkeypatch.setattr(hardware_table, "load_prices", lambda: (row,))
    plan = plan_one(model="Qwen3-4B", resource={"kind": "public"})
    assert plan.json_placement.instance_types[0] == "ecs.gn7i-c32g1.8xlarge"


@pytest.mark.parametrize(("overrides", "need", "suffix"), [
    ({"model": "Qwen3-14B"}, "1 x 48 GB", "'.1-gu60' (48 GB per GPU)"),
    ({"model": "Qwen3-8B", "maxModelLen": 131072}, "1 x 48 GB", "'.1-gu60'"),
    ({"model": "Qwen3-235B-A22B"}, "8 x 96 GB", "'.8-gu120' (96 GB per GPU)"),
])
def test_where_the_table_has_nothing_that_fits_the_refusal_names_what_is_needed(monkeypatch, overrides, need, suffix):
    a10s = [t for t in instance_types.table_types() if t.gpu_memory_gb == 24 and t.gpus == 1][:3]
    monkeypatch.setattr(instance_types, "table_types", lambda: a10s)
    msg = refusal(resource={"kind": "public"}, **overrides)
    assert f"it needs {need} GPUs per replica" in msg
    assert f"{a10s[0].name} (1 x 24 GB)" in msg  # the types it searched, by name
    assert f"ends in {suffix}" in msg
    assert "the hardware table has no such type" in msg
    # A snapshot shows what the regions offer; it no longer widens the choice (review and deploy agree).
    assert "make capacity REGIONS=" in msg and "hardware table alone" in msg


def test_spot_refusals_name_the_lingjun_types_whose_figures_must_be_stated(monkeypatch):
    monkeypatch.setattr(instance_types, "table_types", lambda: [])
    msg = refusal(model="Qwen3-235B-A22B", regions=["cn-wulanchabu"], resource={"kind": "spot", "bidPrice": 30})
    assert all(name in msg for name in LINGJUN_TYPES) and "instanceTypeFacts" in msg


@pytest.mark.parametrize(("model", "length", "type_name"), [
    ("Qwen3-14B", 32768, "ml.gu8is.c32m128.1-gu60"),
    ("Qwen3-8B", 131072, "ml.gu8is.c32m128.1-gu60"),
    ("Qwen3-235B-A22B", 32768, "ml.gu8v.c128m1024.8-gu120"),
])
def test_a_name_nobody_sourced_plans_with_a_warning_that_names_it(model, length, type_name):
    """A type named the way EAS names types (any family, any CPU and RAM) is read and accepted, and
    the plan says its figures were read from the name, not confirmed."""
    plan = plan_one(model=model, maxModelLen=length, resource={"kind": "public", "instanceTypes": [type_name]})
    assert plan.json_placement.instance_types == (type_name,)
    (warning,) = [w for w in plan.warnings if type_name in w]
    assert "read from its name and are not confirmed" in warning and "make capacity" in warning


def test_a_sourced_type_or_a_snapshot_type_gets_no_such_warning():
    plan = plan_one(model="Qwen3-4B", resource={"kind": "public", "instanceTypes": [A10]})
    assert not any("not confirmed" in w for w in plan.warnings)


@pytest.mark.parametrize(("model", "type_name", "gpus"), [
    ("Qwen3-8B", "ecs.gn7i-8x.32xlarge", 8),
    ("Qwen3-8B", "ecs.gn7i-c32g1.32xlarge", 4),
    ("Qwen3-235B-A22B", "ecs.gn8v-8x.48xlarge", 8),
    ("Qwen3-235B-A22B-FP8", "ecs.gn8v-4x.24xlarge", 4),
])
def test_multi_gpu_ecs_types_plan_with_their_gpu_count_as_tensor_parallel_size(model, type_name, gpus):
    plan = plan_one(model=model, resource={"kind": "public", "instanceTypes": [type_name]})
    assert plan.gpus_per_replica == gpus
    assert f"--tensor-parallel-size {gpus}" in plan.script


def test_a_capacity_snapshot_stays_the_authority_over_the_table():
    from components.core.hardware import placement
    from components.core.plan import stack_plan
    from components.core.stack import stack_config

    from .conftest import raw_config, service

    meta = {"InstanceType": "ecs.gn7i-c16g1.4xlarge", "GPU": "A10", "GPUAmount": 2, "GPUMemory": 24, "CPU": 16,
            "Memory": 60, "StockStatus": "WithStock"}
    capacity = placement.Capacity({"cn-hangzhou": [meta]}, "snapshot.json")
    spec = service(model="Qwen3-4B", resource={"kind": "public", "instanceTypes": ["ecs.gn7i-c16g1.4xlarge"]})
    plan = stack_plan.plan_stack(stack_config.load("t", raw_config({"svc": spec})), capacity)["svc"]
    assert plan.gpus_per_replica == 2 and plan.instance_facts[0].source == "api"
    assert any(line.startswith("`ecs.gn7i-c16g1.4xlarge`: 2 × A10") and "the EAS API" in line for line in plan.explanation)


def test_gpus_without_bf16_are_never_chosen_automatically():
    """Qwen3-4B at 131072 tokens does not fit 24 GB; the 32 GB V100 (Volta, no BF16) would, but the
    choice goes on to a GPU that computes BF16."""
    plan = plan_one(model="Qwen3-4B", maxModelLen=131072, resource={"kind": "public"})
    assert all(t.gpu_type != "V100" for t in plan.instance_facts)
    assert plan.json_placement.instance_types[0] == "ecs.gn7-c12g1.3xlarge"  # 1 x 40 GB, Ampere
