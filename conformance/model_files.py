"""A model directory an engine's parser can read: ``config.json`` written from our catalog.

No weights and no hub download: the engines' GPU-free checks read only the model config (and,
for the chat-template preamble, a tokenizer config carrying the chat template).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from components.core.models.catalog import VOCAB_SIZE, Model

# Token ids Qwen3's checkpoints declare (<|endoftext|> and <|im_end|>).
BOS_TOKEN_ID = 151643
EOS_TOKEN_ID = 151645

# The fine-grained FP8 format of Qwen's -FP8 checkpoints (e4m3, 128 x 128 blocks).
FP8_QUANTIZATION = {
    "quant_method": "fp8",
    "fmt": "e4m3",
    "activation_scheme": "dynamic",
    "weight_block_size": [128, 128],
}

# A minimal Qwen3-style template that honours enable_thinking; enough for the preamble that
# copies the model's template with thinking pinned off.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + (message['content'] or '') + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}"
    "{%- endif %}"
)


ARCHITECTURE_CLASSES = {"qwen3": "Qwen3ForCausalLM", "qwen3_moe": "Qwen3MoeForCausalLM",
                         "qwen3_next": "Qwen3NextForCausalLM"}
"""``architectures`` of each ``model_type``, as the checkpoints' configs name them."""


def hf_config(model: Model) -> dict[str, Any]:
    """The ``config.json`` of ``model``'s checkpoint, from the catalog's architecture facts."""
    arch = model.arch
    config: dict[str, Any] = {
        "architectures": [ARCHITECTURE_CLASSES[arch.model_type]],
        "model_type": arch.model_type,
        "hidden_size": arch.hidden_size,
        "intermediate_size": arch.intermediate_size,
        "num_hidden_layers": arch.layers,
        "num_attention_heads": arch.attention_heads,
        "num_key_value_heads": arch.kv_heads,
        "head_dim": arch.head_dim,
        "max_position_embeddings": model.max_position_embeddings,
        "rope_theta": 1000000,
        "rope_scaling": None,
        "rms_norm_eps": 1e-06,
        "vocab_size": VOCAB_SIZE,
        "tie_word_embeddings": arch.tied_embeddings,
        "hidden_act": "silu",
        "attention_bias": False,
        "attention_dropout": 0.0,
        "sliding_window": None,
        "use_sliding_window": False,
        "max_window_layers": arch.layers,
        "bos_token_id": BOS_TOKEN_ID,
        "eos_token_id": EOS_TOKEN_ID,
        "torch_dtype": "bfloat16",
        "use_cache": True,
    }
    if arch.is_moe:
        config.update(
            num_experts=arch.experts,
            num_experts_per_tok=arch.experts_per_token,
            moe_intermediate_size=arch.expert_intermediate_size,
            decoder_sparse_step=1,
            norm_topk_prob=True,
            mlp_only_layers=[],
            output_router_logits=False,
            router_aux_loss_coef=0.001,
        )
    if arch.is_hybrid:
        # Qwen3-Next's hybrid layout (alibaba/InferSim hf_configs/qwen3-next-80B-A3B_config.json).
        for key in ("sliding_window", "use_sliding_window", "max_window_layers", "attention_bias"):
            config.pop(key)
        config.update(
            full_attention_interval=arch.full_attention_interval,
            linear_conv_kernel_dim=arch.linear_conv_kernel,
            linear_key_head_dim=arch.linear_key_head_dim,
            linear_value_head_dim=arch.linear_value_head_dim,
            linear_num_key_heads=arch.linear_key_heads,
            linear_num_value_heads=arch.linear_value_heads,
            shared_expert_intermediate_size=arch.shared_expert_intermediate_size,
            partial_rotary_factor=0.25,
        )
    if model.fp8:
        config["quantization_config"] = dict(FP8_QUANTIZATION)
    return config


def write_model_dir(model: Model, directory: Path) -> Path:
    """Write ``config.json`` and a tokenizer config with a chat template into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(hf_config(model), indent=1), encoding="utf-8")
    tokenizer = {"chat_template": CHAT_TEMPLATE, "eos_token": "<|im_end|>",
                 "model_max_length": max(131072, model.max_position_embeddings)}
    (directory / "tokenizer_config.json").write_text(json.dumps(tokenizer, indent=1), encoding="utf-8")
    return directory
