"""Sizing: the minimum-configuration table for all 22 models, the estimate, parallelism, choice."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.core.engines.rendering import command_words
from components.core.errors import StackConfigError
from components.core.hardware import sizing
from components.core.models.catalog import MODEL_NAMES, get_model

from .conftest import H96, plan_one

SMALLER_GPU = {96: 48, 48: 24, 24: 16}
EXPECTED_TABLE = {
    "Qwen3-235B-A22B": (8, 96), "Qwen3-235B-A22B-FP8": (4, 96),
    "Qwen3-30B-A3B": (1, 96), "Qwen3-30B-A3B-Base": (1, 96), "Qwen3-30B-A3B-FP8": (1, 96),
    "Qwen3-32B": (1, 96), "Qwen3-32B-FP8": (1, 96),
    "Qwen3-14B": (1, 48), "Qwen3-14B-Base": (1, 48), "Qwen3-14B-FP8": (1, 48),
    **{f"Qwen3-{s}{v}": (1, 24) for s in ("8B", "4B", "1.7B", "0.6B") for v in ("", "-Base", "-FP8")},
}


TABLE_MODELS = tuple(name for name in MODEL_NAMES if get_model(name).line.in_source_table)


def test_the_table_covers_all_22_models_as_the_source_document_says():
    assert set(EXPECTED_TABLE) == set(TABLE_MODELS)
    for name, (gpus, gb) in EXPECTED_TABLE.items():
        minimum = sizing.table_minimum(get_model(name), 32768)
        assert (minimum.gpus, minimum.gpu_memory_gb) == (gpus, gb), name


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
@pytest.mark.parametrize("name", TABLE_MODELS)
def test_table_minimum_starts_at_32768_tokens_with_our_defaults(name, engine):
    model = get_model(name)
    gpus, gb = EXPECTED_TABLE[name]
    verdict = sizing.check(model, gpus, gb, 32768, engine)
    assert verdict.meets_table and not verdict.errors, verdict.errors


@pytest.mark.parametrize("name", TABLE_MODELS)
def test_table_minimum_passes_the_table_at_131072_and_fits_with_an_fp8_kv_cache(name):
    model = get_model(name)
    minimum = sizing.table_minimum(model, 131072)
    verdict = sizing.check(model, minimum.gpus, minimum.gpu_memory_gb, 131072, "vllm", kv_fp8=True)
    assert verdict.meets_table and not verdict.errors, verdict.errors


@pytest.mark.parametrize("length", [32768, 131072])
@pytest.mark.parametrize("name", TABLE_MODELS)
def test_one_step_below_the_table_is_rejected(name, length):
    model = get_model(name)
    minimum = sizing.table_minimum(model, length)
    smaller = sizing.check(model, minimum.gpus, SMALLER_GPU[minimum.gpu_memory_gb], length, "vllm")
    assert not smaller.meets_table and smaller.verdict == "error"
    assert minimum.row in smaller.errors[0]
    if minimum.gpus > 1:
        fewer = sizing.check(model, minimum.gpus - 1, minimum.gpu_memory_gb, length, "vllm")
        assert not fewer.meets_table and fewer.verdict == "error"


@pytest.mark.parametrize("name", ["Qwen3-8B", "Qwen3-8B-Base", "Qwen3-8B-FP8"])
def test_qwen3_8b_needs_48_gb_once_rope_scaling_is_on(name):
    model = get_model(name)
    assert sizing.check(model, 1, 24, 32768, "vllm").meets_table
    assert not sizing.check(model, 1, 24, 32769, "vllm").meets_table
    assert not sizing.check(model, 1, 24, 131072, "vllm").meets_table
    assert sizing.check(model, 1, 48, 131072, "vllm").meets_table
    assert not sizing.check(model, 1, 48, 131072, "vllm").errors


def test_the_table_rule_holds_for_resource_groups_and_quotas():
    with pytest.raises(StackConfigError) as err:
        plan_one(model="Qwen3-235B-A22B", resource={"kind": "quota", "quotaId": "quotaabc", "gpus": 4,
                                                      "gpuType": "GU120", "cpu": 64, "memoryGiB": 512})
    (problem,) = err.value.problems
    assert problem.field == "resource.gpus" and "8 x 96 GB" in problem.message


# -- the estimate ---------------------------------------------------------------------------------

def test_qwen3_8b_on_one_a10_fits_with_eager_mode_and_a_095_share():
    plan = plan_one()  # Qwen3-8B, vLLM, ml.gu7i.c16m60.1-gu30
    argv = command_words(plan.script)[-1]
    assert "--enforce-eager" in argv
    assert argv[argv.index("--gpu-memory-utilization") + 1] == "0.95"
    assert plan.verdict.verdict == "warning" and any("eager" in w for w in plan.warnings)


def test_sglang_static_fraction_leaves_room_for_the_overhead():
    plan = plan_one(engine="sglang")
    argv = command_words(plan.script)[-1]
    static = float(argv[argv.index("--mem-fraction-static") + 1])
    e = plan.verdict.estimate
    assert static * sizing.usable_gib(24) >= e.weights_gib + e.kv_cache_gib
    assert (1 - static) * sizing.usable_gib(24) >= e.overhead_gib - 0.01 * sizing.usable_gib(24)


def test_qwen3_32b_at_131072_on_one_96_gb_gpu_is_refused_with_the_lengths_and_instance_that_fit():
    with pytest.raises(StackConfigError) as err:
        plan_one(model="Qwen3-32B", maxModelLen=131072, resource={"kind": "public", "instanceTypes": [H96]})
    (problem,) = err.value.problems
    assert problem.field == "maxModelLen"
    assert "at most 90112 tokens fit" in problem.message
    assert "set maxModelLen to 90112 or less" in problem.fix
    assert "kvCacheDtype: fp8" in problem.fix
    assert "2 x 96 GB GPUs per replica" in problem.fix


def test_kv_cache_fp8_makes_it_fit_and_says_so_in_the_script():
    plan = plan_one(model="Qwen3-32B", maxModelLen=131072, kvCacheDtype="fp8",
                    resource={"kind": "public", "instanceTypes": [H96]})
    argv = command_words(plan.script)[-1]
    assert argv[argv.index("--kv-cache-dtype") + 1] == "fp8"


def test_non_strict_sizing_turns_estimate_errors_into_warnings_but_never_the_table():
    plan = plan_one(model="Qwen3-32B", maxModelLen=131072, sizing={"strict": False},
                    resource={"kind": "public", "instanceTypes": [H96]})
    assert any("sizing.strict is false" in w for w in plan.warnings)
    with pytest.raises(StackConfigError, match="minimum-configuration table"):
        plan_one(model="Qwen3-32B", sizing={"strict": False})


# The three worked examples in docs/sizing.md ("The estimate, worked"): keep both in step.
WORKED_CASES = {
    ("Qwen3-8B", 1, 24, 32768): (15.26, 4.5, 1.37, 21.23, 32768),
    ("Qwen3-32B", 1, 96, 131072): (61.02, 32.0, 1.84, 84.94, 90112),
    ("Qwen3-235B-A22B-FP8", 4, 96, 32768): (55.03, 1.47, 2.24, 80.47, 131072),
}


@pytest.mark.parametrize(("case", "figures"), WORKED_CASES.items())
def test_the_worked_examples_in_the_docs(case, figures):
    name, gpus, gb, length = case
    verdict = sizing.check(get_model(name), gpus, gb, length, "vllm")
    e = verdict.estimate
    assert (round(e.weights_gib, 2), round(e.kv_cache_gib, 2), round(e.overhead_gib, 2), round(e.budget_gib, 2),
            e.max_len_that_fits) == figures


def test_the_sizing_page_states_the_same_figures():
    from pathlib import Path

    page = (Path(__file__).resolve().parent.parent / "docs" / "sizing.md").read_text()
    worked = page[page.index("## The estimate, worked"):]
    for figures in WORKED_CASES.values():
        for value in figures[:4]:
            assert f"{value:.2f}" in worked, value


def test_fp8_checkpoints_keep_embeddings_in_bf16():
    assert 219 < sizing.weights_gib(get_model("Qwen3-235B-A22B-FP8")) < 221  # "about 220 GiB"
    assert sizing.weights_gib(get_model("Qwen3-8B")) == pytest.approx(15.26, abs=0.01)


def test_kv_heads_are_replicated_when_tp_exceeds_them():
    model = get_model("Qwen3-235B-A22B")  # 4 KV heads
    assert sizing.kv_bytes_per_token(model, 8, 2) == sizing.kv_bytes_per_token(model, 4, 2)
    assert sizing.kv_bytes_per_token(model, 2, 2) == 2 * sizing.kv_bytes_per_token(model, 4, 2)


# -- parallelism ----------------------------------------------------------------------------------

def test_tp_must_divide_the_attention_heads():
    verdict = sizing.check(get_model("Qwen3-14B"), 16, 48, 32768, "vllm")  # 40 heads
    assert verdict.verdict == "error" and "does not divide" in verdict.errors[-1] and "1, 2, 4, 8" in verdict.errors[-1]


def test_235b_fp8_at_tp8_gets_expert_parallelism_in_the_script():
    plan = plan_one(model="Qwen3-235B-A22B-FP8", regions=["cn-wulanchabu"], resource={
        "kind": "spot", "bidPrice": 40, "instanceTypes": ["ml.gu8xf.8xlarge-gu108"],
        "instanceTypeFacts": {"ml.gu8xf.8xlarge-gu108": {"gpus": 8, "gpuType": "GU120"}}})
    assert "--enable-expert-parallel" in command_words(plan.script)[-1]
    four = plan_one(model="Qwen3-235B-A22B-FP8", resource={"kind": "quota", "quotaId": "quotax", "gpus": 4,
                                                           "gpuType": "GU120", "cpu": 64, "memoryGiB": 512})
    assert "--enable-expert-parallel" not in command_words(four.script)[-1]  # 1536 / 4 = 384 = 3 blocks


def test_engines_without_expert_parallelism_refuse_fp8_moe_shards_that_split_blocks():
    parallel = sizing.check_parallelism(get_model("Qwen3-30B-A3B-FP8"), 4, "bladellm")
    assert not parallel.ok and "expert" in parallel.reason
    assert sizing.check_parallelism(get_model("Qwen3-30B-A3B-FP8"), 2, "bladellm").ok


def test_dense_fp8_shards_must_be_whole_blocks():
    assert not sizing.check_parallelism(get_model("Qwen3-4B-FP8"), 8, "vllm").ok  # 9728 / 8 = 1216
    assert sizing.check_parallelism(get_model("Qwen3-4B-FP8"), 4, "vllm").ok


# -- automatic choice -----------------------------------------------------------------------------

def test_without_instance_types_the_smallest_passing_type_is_chosen_and_explained():
    plan = plan_one(model="Qwen3-4B", resource={"kind": "public"})
    assert plan.json_placement.instance_types[0] == "ml.gu7i.c8m30.1-gu30"
    assert all(t.gpus == 1 and t.gpu_memory_gb == 24 for t in plan.instance_facts)
    assert any("the automatic choice from the hardware table" in line for line in plan.explanation)


def test_automatic_choice_says_what_is_needed_when_nothing_known_fits(monkeypatch):
    from components.core.hardware import instance_types

    smaller = [t for t in instance_types.table_types() if t.gpu_memory_gb < 96]
    monkeypatch.setattr(instance_types, "table_types", lambda: smaller)
    with pytest.raises(StackConfigError) as err:
        plan_one(model="Qwen3-32B", resource={"kind": "spot", "bidPrice": 3})
    (problem,) = err.value.problems
    assert problem.field == "resource.instanceTypes" and "1 x 96 GB" in problem.message
    assert "capacity --regions" in problem.fix


# -- properties -----------------------------------------------------------------------------------

configs = st.tuples(st.sampled_from(MODEL_NAMES), st.integers(1, 16), st.sampled_from([8, 16, 24, 32, 40, 48, 80, 96,
                                                                                       141]),
                    st.integers(1, 1010000), st.sampled_from(["vllm", "sglang", "bladellm"]), st.booleans())


@settings(max_examples=400, deadline=None)
@given(configs)
def test_any_configuration_gets_a_verdict_never_an_exception(config):
    name, gpus, gb, length, engine, fp8 = config
    verdict = sizing.check(get_model(name), gpus, gb, length, engine, kv_fp8=fp8)
    assert verdict.verdict in ("ok", "warning", "error")
    assert bool(verdict.errors) == (verdict.verdict == "error")
    assert verdict.as_dict()["tableMinimum"]


@settings(max_examples=300, deadline=None)
@given(configs, st.sampled_from([8, 16, 24, 48, 80, 96]))
def test_more_memory_per_gpu_never_rejects_an_accepted_configuration(config, extra):
    name, gpus, gb, length, engine, fp8 = config
    model = get_model(name)
    if sizing.check(model, gpus, gb, length, engine, kv_fp8=fp8).errors:
        return
    assert not sizing.check(model, gpus, gb + extra, length, engine, kv_fp8=fp8).errors


@settings(max_examples=200, deadline=None)
@given(configs)
def test_doubling_gpus_never_rejects_an_accepted_configuration_where_heads_still_divide(config):
    name, gpus, gb, length, engine, fp8 = config
    model = get_model(name)
    if engine == "bladellm" or model.arch.attention_heads % (2 * gpus):
        return
    if sizing.check(model, gpus, gb, length, engine, kv_fp8=fp8).errors:
        return
    doubled = sizing.check(model, 2 * gpus, gb, length, engine, kv_fp8=fp8)
    # FP8 blocks a dense MLP or a shared expert splits into may stop being whole at twice the TP.
    split_blocks = model.fp8 and (not model.arch.is_moe or model.arch.shared_expert_intermediate_size)
    assert not doubled.errors or split_blocks, doubled.errors


# -- the later lines: no table row, hybrid attention, shared experts -------------------------------

LATER_MODELS = tuple(name for name in MODEL_NAMES if not get_model(name).line.in_source_table)


@pytest.mark.parametrize("name", LATER_MODELS)
def test_models_after_the_source_document_have_no_table_row_and_are_sized_by_the_estimate(name):
    model = get_model(name)
    minimum = sizing.table_minimum(model, 32768)
    assert not minimum.listed and "estimate only" in minimum.describe()
    tiny = sizing.check(model, 1, 24, 32768, "vllm")
    assert tiny.meets_table and tiny.as_dict()["tableMinimum"] == minimum.describe()
    if tiny.errors:  # what refuses it is the estimate, with its figures
        assert "do not fit" in tiny.errors[-1] or "divide" in tiny.errors[-1]


def test_an_fp8_kv_cache_is_never_chosen_silently_for_a_model_without_a_table_row():
    verdict = sizing.check(get_model("Qwen3-4B-Instruct-2507"), 1, 24, 32768, "vllm")
    assert not verdict.settings.kv_cache_fp8


NEXT = get_model("Qwen3-Next-80B-A3B-Instruct")


def test_qwen3_next_kv_cache_counts_its_twelve_attention_layers_only():
    # 2 (K and V) x 12 layers x 2 KV heads x 256 x 2 bytes = 24 KiB per token on one GPU.
    assert sizing.kv_bytes_per_token(NEXT, 1, 2) == 24 * 1024
    # At TP 4 the two KV heads are replicated (one per GPU): 12 KiB, 3 GiB for 262144 tokens.
    verdict = sizing.check(NEXT, 4, 96, 262144, "vllm")
    assert verdict.estimate.kv_cache_gib == pytest.approx(3.0)
    dense = dataclasses.replace(NEXT, arch=dataclasses.replace(NEXT.arch, full_attention_interval=1))
    assert sizing.kv_bytes_per_token(dense, 1, 2) == 4 * sizing.kv_bytes_per_token(NEXT, 1, 2)


def test_qwen3_next_carries_a_fixed_linear_attention_state_per_sequence():
    # 36 Gated DeltaNet layers x (conv 8192 channels x 3 positions x 2 B + 32 heads x 128 x 128 state).
    assert sizing.linear_state_bytes(NEXT, 1, "vllm") == 36 * (8192 * 3 * 2 + 32 * 128 * 128 * 2)  # BF16
    assert sizing.linear_state_bytes(NEXT, 1, "sglang") == 36 * (8192 * 3 * 2 + 32 * 128 * 128 * 4)  # float32
    assert sizing.linear_state_bytes(NEXT, 4, "vllm") == sizing.linear_state_bytes(NEXT, 1, "vllm") / 4
    assert sizing.linear_state_bytes(get_model("Qwen3-32B"), 1, "vllm") == 0
    short, long = (sizing.check(NEXT, 4, 96, n, "vllm").estimate for n in (1024, 262144))
    assert short.state_gib == long.state_gib == pytest.approx(sizing.linear_state_bytes(NEXT, 4, "vllm") / 2**30)
    assert "linearStateGiB" in long.as_dict() and "linearStateGiB" not in sizing.check(
        get_model("Qwen3-8B"), 1, 48, 32768, "vllm").estimate.as_dict()


def test_sglang_sets_aside_state_memory_in_proportion_to_the_kv_cache():
    vllm, sglang = (sizing.check(NEXT, 4, 96, 262144, engine).estimate for engine in ("vllm", "sglang"))
    assert sglang.state_gib == pytest.approx(sizing.SGLANG_MAMBA_FULL_MEMORY_RATIO * sglang.kv_cache_gib)
    assert sglang.state_gib > 100 * vllm.state_gib
    # The longest length that fits leaves the share for states: on SGLang 1/1.9 of what vLLM gets.
    vllm_len, sglang_len = (sizing.largest_fitting_len(NEXT, 2, 96, engine) for engine in ("vllm", "sglang"))
    assert sglang_len < vllm_len


def test_qwen3_next_reaches_yarn_lengths_past_131072_in_the_estimate():
    assert sizing.largest_fitting_len(NEXT, 4, 96, "vllm") == 1010000 // 1024 * 1024
    assert sizing.check(NEXT, 4, 96, 1010000, "vllm").estimate.max_len_that_fits == 1010000


def test_qwen3_next_fp8_stops_at_tp4_because_its_shared_expert_splits_blocks():
    fp8 = get_model("Qwen3-Next-80B-A3B-Thinking-FP8")
    eight = sizing.check_parallelism(fp8, 8, "vllm")  # 512 / 8 = 64: half a block, expert parallelism or not
    assert not eight.ok and "shared expert" in eight.reason and "at most 4 GPUs" in eight.fix
    assert sizing.check_parallelism(fp8, 4, "sglang").ok
    assert sizing.check_parallelism(NEXT, 8, "vllm").ok  # BF16 has no blocks


def test_coder_480b_fp8_on_eight_gpus_uses_expert_parallelism_as_the_recipes_do():
    parallel = sizing.check_parallelism(get_model("Qwen3-Coder-480B-A35B-Instruct-FP8"), 8, "vllm")
    assert parallel.ok and parallel.expert_parallel  # 2560 / 8 = 320 per expert shard
    assert not sizing.check_parallelism(get_model("Qwen3-Coder-480B-A35B-Instruct-FP8"), 4, "vllm").expert_parallel


def test_coder_480b_in_bf16_fits_no_single_machine_we_know():
    assert sizing.smallest_fitting(get_model("Qwen3-Coder-480B-A35B-Instruct"), 32768, "vllm") is None
    assert sizing.smallest_fitting(get_model("Qwen3-Coder-480B-A35B-Instruct-FP8"), 32768, "vllm") == (8, 96)


def test_the_qwen3_next_worked_example_in_the_docs():
    from pathlib import Path

    page = (Path(__file__).resolve().parent.parent / "docs" / "sizing.md").read_text()
    worked = page[page.index("## Models without a table row"):page.index("## Parallelism")]
    vllm, sglang = (sizing.check(NEXT, 2, 96, 262144, engine) for engine in ("vllm", "sglang"))
    assert not vllm.errors and not sglang.errors
    assert vllm.settings.memory_fraction == 0.90 and sglang.settings.memory_fraction == 0.95
    for verdict in (vllm, sglang):
        e = verdict.estimate
        total = e.weights_gib + e.kv_cache_gib + e.state_gib + e.overhead_gib
        for figure in (e.weights_gib, e.kv_cache_gib, e.state_gib, e.overhead_gib, e.budget_gib, total):
            assert f"{figure:.2f}" in worked, figure
    at_090 = sizing.estimate(NEXT, 2, 96, 262144, fraction=0.90, eager=False, kv_fp8=False, engine="sglang")
    assert not at_090.fits and f"{at_090.budget_gib:.2f}" in worked
