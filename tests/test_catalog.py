"""The catalog holds Alibaba's 22 deployable Qwen3 models and the later 2507, Coder and Next
models, with the right shapes and the rules of their lines."""

import pytest

from components.core.models.catalog import MODELS, QWEN3, find_model, get_model


def test_twenty_two_models_spelled_as_alibaba_writes_them():
    sizes = ["0.6B", "1.7B", "4B", "8B", "14B", "32B", "30B-A3B", "235B-A22B"]
    chat = {f"Qwen3-{s}" for s in sizes}
    base = {f"Qwen3-{s}-Base" for s in ["0.6B", "1.7B", "4B", "8B", "14B", "30B-A3B"]}
    fp8 = {f"Qwen3-{s}-FP8" for s in sizes}
    assert {name for name, model in MODELS.items() if model.line is QWEN3} == chat | base | fp8
    assert len(chat | base | fp8) == 22


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


LATER = {
    *(f"Qwen3-{size}-{kind}-2507" for size in ("235B-A22B", "30B-A3B", "4B") for kind in ("Instruct", "Thinking")),
    "Qwen3-Coder-480B-A35B-Instruct", "Qwen3-Coder-30B-A3B-Instruct",
    "Qwen3-Next-80B-A3B-Instruct", "Qwen3-Next-80B-A3B-Thinking",
}


def test_the_later_models_are_the_hugging_face_names_each_with_its_fp8_checkpoint():
    later = {name for name, model in MODELS.items() if model.line is not QWEN3}
    assert later == LATER | {f"{name}-FP8" for name in LATER}
    assert len(MODELS) == 22 + 20
    for name in LATER:
        assert get_model(f"{name}-FP8").fp8 and get_model(f"{name}-FP8").arch is get_model(name).arch


def test_2507_and_coder_30b_keep_the_april_architectures_with_a_262144_token_config():
    assert get_model("Qwen3-235B-A22B-Instruct-2507").arch is get_model("Qwen3-235B-A22B").arch
    assert get_model("Qwen3-30B-A3B-Thinking-2507").arch is get_model("Qwen3-30B-A3B").arch
    assert get_model("Qwen3-4B-Instruct-2507").arch is get_model("Qwen3-4B").arch
    assert get_model("Qwen3-Coder-30B-A3B-Instruct").arch is get_model("Qwen3-30B-A3B").arch
    for name in LATER:
        model = get_model(name)
        assert (model.native_context, model.max_position_embeddings) == (262144, 262144), name
    assert get_model("Qwen3-8B").max_position_embeddings == 40960  # the April chat configs stay


def _params_from_shapes(arch) -> float:
    """Parameters implied by the architecture's figures (embeddings, attention, experts, norms)."""
    h, vocab = arch.hidden_size, 151936
    total = vocab * h * (1 if arch.tied_embeddings else 2) + h
    moe = arch.experts * (3 * h * arch.expert_intermediate_size + h) + 3 * h * arch.shared_expert_intermediate_size
    if arch.shared_expert_intermediate_size:
        moe += h  # the shared expert's gate
    full = (h * arch.attention_heads * arch.head_dim * (2 if arch.is_hybrid else 1)  # Qwen3-Next gates its query
            + 2 * h * arch.kv_heads * arch.head_dim + arch.attention_heads * arch.head_dim * h + 2 * arch.head_dim)
    key, value = arch.linear_key_heads * arch.linear_key_head_dim, arch.linear_value_heads * arch.linear_value_head_dim
    linear = (h * (2 * key + 2 * value) + h * 2 * arch.linear_value_heads + (2 * key + value) * arch.linear_conv_kernel
              + value * h + 2 * arch.linear_value_heads + arch.linear_value_head_dim)
    total += arch.attention_layers * full + arch.linear_layers * linear + arch.layers * (moe + 2 * h)
    return total / 1e9


@pytest.mark.parametrize("name", ["Qwen3-Coder-480B-A35B-Instruct", "Qwen3-Next-80B-A3B-Instruct"])
def test_parameter_counts_follow_from_the_config_figures(name):
    arch = get_model(name).arch
    assert _params_from_shapes(arch) == pytest.approx(arch.params_b, abs=0.01)


def test_coder_480b_shapes_as_its_config_says():
    arch = get_model("Qwen3-Coder-480B-A35B-Instruct").arch
    assert (arch.layers, arch.hidden_size, arch.attention_heads, arch.kv_heads) == (62, 6144, 96, 8)
    assert (arch.experts, arch.experts_per_token, arch.expert_intermediate_size) == (160, 8, 2560)
    assert 2 * arch.attention_layers * arch.kv_heads * arch.head_dim * 2 / 1024 == 248  # KiB of KV per token


def test_qwen3_next_keeps_a_kv_cache_in_one_layer_of_four():
    arch = get_model("Qwen3-Next-80B-A3B-Thinking").arch
    assert arch.is_hybrid and arch.model_type == "qwen3_next"
    assert (arch.layers, arch.attention_layers, arch.linear_layers) == (48, 12, 36)
    assert (arch.attention_heads, arch.kv_heads, arch.head_dim) == (16, 2, 256)
    assert (arch.linear_key_heads, arch.linear_value_heads, arch.linear_key_head_dim, arch.linear_conv_kernel) == (
        16, 32, 128, 4)
    assert (arch.experts, arch.experts_per_token, arch.expert_intermediate_size,
            arch.shared_expert_intermediate_size) == (512, 10, 512, 512)
    assert not get_model("Qwen3-235B-A22B").arch.is_hybrid


@pytest.mark.parametrize(("name", "thinking", "tools"), [
    ("Qwen3-8B", "switchable", "hermes"),
    ("Qwen3-235B-A22B-Instruct-2507", "none", "hermes"),
    ("Qwen3-4B-Thinking-2507-FP8", "always", "hermes"),
    ("Qwen3-Coder-30B-A3B-Instruct", "none", "qwen3_coder"),
    ("Qwen3-Next-80B-A3B-Instruct", "none", "hermes"),
    ("Qwen3-Next-80B-A3B-Thinking", "always", "hermes"),
])
def test_each_line_says_how_it_thinks_and_writes_tool_calls(name, thinking, tools):
    line = get_model(name).line
    assert (line.thinking, line.tool_format) == (thinking, tools)


@pytest.mark.parametrize(("name", "reach"), [
    ("Qwen3-8B", 131072), ("Qwen3-30B-A3B-Instruct-2507", 262144), ("Qwen3-Coder-480B-A35B-Instruct-FP8", 262144),
    ("Qwen3-Next-80B-A3B-Instruct", 1010000),
])
def test_each_model_reaches_what_its_card_documents(name, reach):
    assert get_model(name).max_context == reach


def test_find_model_tells_the_later_models_from_the_april_ones():
    assert find_model("oss://b/models/Qwen3-4B-Thinking-2507/main/").name == "Qwen3-4B-Thinking-2507"
    assert find_model("--served-model-name qwen3-235b-a22b-instruct-2507-fp8").name == "Qwen3-235B-A22B-Instruct-2507-FP8"
    assert find_model("/models/Qwen3-Coder-30B-A3B-Instruct").name == "Qwen3-Coder-30B-A3B-Instruct"
