"""GPU capabilities from the hardware table, and the plan notes on what each engine does where a
GPU lacks what the model asks: the table's configuration is followed, never refused."""

from __future__ import annotations

import pytest

from components.core.hardware import capabilities

from .conftest import A10, plan_one

GN7I = "ecs.gn7i-c16g1.4xlarge"  # 1 x A10 (Ampere)
GN8IS = "ecs.gn8is.2xlarge"  # 1 x L20 (Ada, FP8)
GN6E = "ecs.gn6e-c12g1.3xlarge"  # 1 x V100 32 GB (Volta)


@pytest.mark.parametrize(("gpu", "architecture", "bf16", "fp8"), [
    ("A10", "Ampere", True, False), ("GU30", "Ampere", True, False), ("L20", "Ada", True, True),
    ("gn8v-GPU", "Hopper", True, True), ("V100", "Volta", False, False), ("T4", "Turing", False, False),
    ("GU120", None, None, None),
])
def test_each_gpu_has_its_architecture_and_what_that_computes(gpu, architecture, bf16, fp8):
    g = capabilities.gpu(gpu)
    assert g is not None and (g.architecture, g.bf16, g.fp8) == (architecture, bf16, fp8)


def fp8_notes(plan) -> list[str]:
    return [w for w in plan.warnings if "FP8 checkpoint" in w]


@pytest.mark.parametrize(("engine", "says", "evidence"), [
    ("vllm", "vLLM runs it weight-only (W8A16, FP8 Marlin kernels)", "docs.vllm.ai features/quantization/fp8"),
    ("sglang", "SGLang switches to its weight-only FP8 Marlin path", "python/sglang/srt/layers/quantization/fp8_utils.py"),
])
def test_an_fp8_checkpoint_on_a10_follows_the_table_with_the_engines_behaviour_and_evidence(engine, says, evidence):
    plan = plan_one(model="Qwen3-8B-FP8", engine=engine, resource={"kind": "public", "instanceTypes": [GN7I]})
    (note,) = fp8_notes(plan)
    assert "Qwen3-8B-FP8 is an FP8 checkpoint and A10 (Ampere) has no FP8 tensor cores" in note
    assert says in note and evidence in note and "prefill is no faster than the BF16 model" in note


def test_bladellm_says_its_behaviour_is_not_documented():
    plan = plan_one(model="Qwen3-8B-FP8", engine="bladellm", image="eas-registry-vpc.cn-hangzhou.cr.aliyuncs.com/pai-eas/"
                    "bladellm:0.9.0", resource={"kind": "public", "instanceTypes": [GN7I]})
    (note,) = fp8_notes(plan)
    assert "BladeLLM's docs list FP8 among its quantization types but say nothing we could find" in note


def test_an_fp8_checkpoint_on_fp8_tensor_cores_gets_no_note():
    assert fp8_notes(plan_one(model="Qwen3-14B-FP8", resource={"kind": "public", "instanceTypes": [GN8IS]})) == []


def test_gpus_of_one_architecture_share_one_note():
    plan = plan_one(model="Qwen3-4B-FP8", resource={"kind": "public", "instanceTypes": [A10, GN7I]})
    (note,) = fp8_notes(plan)
    assert "GU30 and A10 (Ampere, inferred)" in note


def test_an_fp8_kv_cache_on_a_gpu_without_fp8_says_it_saves_memory_not_time():
    plan = plan_one(kvCacheDtype="fp8", resource={"kind": "public", "instanceTypes": [GN7I]})
    (note,) = [w for w in plan.warnings if "the KV cache is FP8" in w]
    assert "saves memory, not attention time" in note and "quantized_kvcache" in note
    plan = plan_one(kvCacheDtype="fp8", engine="sglang", resource={"kind": "public", "instanceTypes": [GN7I]})
    assert any("FlashInfer" in w and "attention_backend" in w for w in plan.warnings)


def test_volta_has_no_bf16_and_vllm_falls_back_to_fp16():
    plan = plan_one(model="Qwen3-4B", resource={"kind": "public", "instanceTypes": [GN6E]})
    (note,) = [w for w in plan.warnings if "has no BF16" in w]
    assert "V100 (Volta)" in note and "vLLM falls back to FP16" in note and "_resolve_auto_dtype" in note


def test_an_fp8_checkpoint_below_turing_is_planned_with_the_expected_refusal_named():
    plan = plan_one(model="Qwen3-4B-FP8", resource={"kind": "public", "instanceTypes": [GN6E]})
    (note,) = fp8_notes(plan)
    assert "expect vLLM to refuse the checkpoint: use the BF16 model" in note
