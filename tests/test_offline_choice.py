"""Leaving instanceTypes out without a capacity snapshot: small models get a built-in type; for
the rest the error names the GPUs needed, the type names that have them, and never guesses."""

from __future__ import annotations

import pytest

from components.core.errors import StackConfigError
from components.core.instance_types import LINGJUN_TYPES

from .conftest import A10, plan_one


def refusal(**overrides) -> str:
    with pytest.raises(StackConfigError) as err:
        plan_one(**overrides)
    (problem,) = err.value.problems
    assert problem.field == "resource.instanceTypes"
    return problem.describe("test")


def test_small_models_still_choose_a_built_in_type_offline():
    plan = plan_one(model="Qwen3-4B", resource={"kind": "public"})
    assert plan.json_placement.instance_types[0] == A10


@pytest.mark.parametrize(("overrides", "need", "suffix"), [
    ({"model": "Qwen3-14B"}, "1 x 48 GB", "'.1-gu60' (48 GB per GPU) or '.1-gu120' (96 GB per GPU)"),
    ({"model": "Qwen3-8B", "maxModelLen": 131072}, "1 x 48 GB", "'.1-gu60'"),
    ({"model": "Qwen3-235B-A22B"}, "8 x 96 GB", "'.8-gu120' (96 GB per GPU)"),
])
def test_the_refusal_names_what_was_searched_what_is_needed_and_the_names_that_have_it(overrides, need, suffix):
    msg = refusal(resource={"kind": "public"}, **overrides)
    assert f"it needs {need} GPUs per replica" in msg
    assert "ml.gu7i.c16m60.1-gu30 (1 x 24 GB)" in msg  # the built-in types it searched, by name
    assert f"ends in {suffix}" in msg
    assert "no such type is built in" in msg  # why: nothing sourced, nothing guessed
    assert "CAPACITY=<file>" in msg and "--capacity <file>" in msg


def test_spot_refusals_name_the_lingjun_types_whose_figures_must_be_stated():
    msg = refusal(model="Qwen3-235B-A22B", regions=["cn-wulanchabu"], resource={"kind": "spot", "bidPrice": 30})
    assert all(name in msg for name in LINGJUN_TYPES) and "instanceTypeFacts" in msg


@pytest.mark.parametrize(("model", "length", "type_name"), [
    ("Qwen3-14B", 32768, "ml.gu8is.c32m128.1-gu60"),
    ("Qwen3-8B", 131072, "ml.gu8is.c32m128.1-gu60"),
    ("Qwen3-235B-A22B", 32768, "ml.gu8v.c128m1024.8-gu120"),
])
def test_following_the_fix_plans(model, length, type_name):
    """A type named the way the fix says (any family, any CPU and RAM) is read and accepted."""
    plan = plan_one(model=model, maxModelLen=length, resource={"kind": "public", "instanceTypes": [type_name]})
    assert plan.json_placement.instance_types == (type_name,)
