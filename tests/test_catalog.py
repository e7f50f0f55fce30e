"""The catalog holds exactly Alibaba's 22 deployable Qwen3 models with the right shapes."""

import pytest

from components.core.catalog import MODELS, find_model, get_model


def test_twenty_two_models_spelled_as_alibaba_writes_them():
    sizes = ["0.6B", "1.7B", "4B", "8B", "14B", "32B", "30B-A3B", "235B-A22B"]
    chat = {f"Qwen3-{s}" for s in sizes}
    base = {f"Qwen3-{s}-Base" for s in ["0.6B", "1.7B", "4B", "8B", "14B", "30B-A3B"]}
    fp8 = {f"Qwen3-{s}-FP8" for s in sizes}
    assert set(MODELS) == chat | base | fp8
    assert len(MODELS) == 22


@pytest.mark.parametrize(
    ("name", "kv_kib_per_token"),
    [("Qwen3-0.6B", 112), ("Qwen3-4B", 144), ("Qwen3-8B", 144), ("Qwen3-14B", 160),
     ("Qwen3-32B", 256), ("Qwen3-30B-A3B", 96), ("Qwen3-235B-A22B", 188)],
)
def test_kv_cache_per_token_matches_the_architecture_table(name, kv_kib_per_token):
    arch = get_model(name).arch
    bf16_bytes = 2 * arch.layers * arch.kv_heads * arch.head_dim * 2
    assert bf16_bytes / 1024 == kv_kib_per_token


def test_variants_share_their_chat_models_architecture():
    assert get_model("Qwen3-30B-A3B-FP8").arch is get_model("Qwen3-30B-A3B").arch
    assert get_model("Qwen3-8B-Base").base and not get_model("Qwen3-8B-Base").fp8
    assert get_model("Qwen3-235B-A22B-FP8").fp8 and get_model("Qwen3-235B-A22B-FP8").arch.is_moe


def test_unknown_model_error_suggests_the_nearest_name():
    with pytest.raises(KeyError, match="Qwen3-8B"):
        get_model("Qwen3-8b")


def test_find_model_prefers_the_longest_name_in_a_text():
    assert find_model("oss://bucket/models/Qwen3-235B-A22B-FP8/main/").name == "Qwen3-235B-A22B-FP8"
    assert find_model("vllm serve /models/qwen3-8b-base").name == "Qwen3-8B-Base"
    assert find_model("llama-3") is None
