"""Runs inside the e2e engine environment: write a tiny, randomly initialised Qwen3 to a folder.

Usage: ``python tiny_model.py OUT_DIR [qwen3|qwen3_next]``.

The real architecture class (transformers' ``Qwen3ForCausalLM``, or ``Qwen3NextForCausalLM`` with
its hybrid layout: three Gated DeltaNet layers, then one gated full-attention layer, and sparse
experts with a shared one) at a toy size, saved as safetensors, with a tokenizer built here (no
download) that carries Qwen3's special tokens and a Qwen3-style chat template honouring
``enable_thinking`` and ``tools``; for Qwen3-Next the template is a Thinking model's, which opens
``<think>`` in the generation prompt itself. Random weights produce nonsense: the end-to-end test
judges the server's structure, never the text.

``head_dim`` is 64 because vLLM's CPU attention supports only some head sizes (32, 64, 80, 96,
112, 128, ...); with 16 the server starts and the first request fails. This file imports
nothing from the project: it runs with the engine's interpreter.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<tool_call>", "</tool_call>"]

# Qwen3's template, cut to what the test exercises: system/user/assistant/tool turns, tools in a
# system block with <tool_call> instructions, and the empty think block when thinking is off.
CHAT_TEMPLATE = (
    "{%- if tools %}"
    "{{- '<|im_start|>system\\n' }}"
    "{%- if messages[0].role == 'system' %}{{- messages[0].content + '\\n\\n' }}{%- endif %}"
    "{{- '# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n"
    "You are provided with function signatures within <tools></tools> XML tags:\\n<tools>' }}"
    "{%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}{%- endfor %}"
    "{{- '\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\"name\": <function-name>, "
    "\"arguments\": <args-json-object>}\\n</tool_call><|im_end|>\\n' }}"
    "{%- elif messages[0].role == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message.role == 'user' or (message.role == 'system' and not loop.first) %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- elif message.role == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' + (message.content or '') }}"
    "{%- if message.tool_calls %}{%- for call in message.tool_calls %}"
    "{%- set fn = call.function if call.function else call %}"
    "{{- '\\n<tool_call>\\n{\"name\": \"' + fn.name + '\", \"arguments\": ' }}"
    "{{- fn.arguments if fn.arguments is string else fn.arguments | tojson }}{{- '}\\n</tool_call>' }}"
    "{%- endfor %}{%- endif %}{{- '<|im_end|>\\n' }}"
    "{%- elif message.role == 'tool' %}"
    "{{- '<|im_start|>user\\n<tool_response>\\n' + message.content + '\\n</tool_response><|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}"
    "{%- endif %}"
)
# A Thinking model's ending (Qwen3-*-Thinking-2507, Qwen3-Next-*-Thinking): no switch, the prompt
# opens the think block, so the model's output carries only the closing tag.
ALWAYS_THINKING_TEMPLATE = CHAT_TEMPLATE[:CHAT_TEMPLATE.rindex("{%- if add_generation_prompt %}")] + (
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n<think>\\n' }}{%- endif %}"
)

CORPUS = [
    "The capital of France is Paris. What is the weather in Paris right now?",
    "My name is Ada. What is my name? Reply with the name only. Reply OK.",
    "What is 17 + 25? Reply with the number only. Answer in one sentence.",
    "get_weather city arguments name function json tools user assistant system",
]


def build_tokenizer(out: Path, template: str = CHAT_TEMPLATE) -> int:
    """A byte-level BPE tokenizer with Qwen3's special tokens; returns its vocabulary size."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=512, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(CORPUS, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   additional_special_tokens=SPECIAL_TOKENS[1:])
    fast.chat_template = template
    fast.save_pretrained(str(out))
    return len(fast)


def build_model(out: Path, vocab_size: int) -> None:
    """The real Qwen3 architecture at a toy size, random weights, safetensors."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)
    config = Qwen3Config(
        vocab_size=vocab_size, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, head_dim=64, max_position_embeddings=40960,
        rope_theta=1000000.0, tie_word_embeddings=True,
        bos_token_id=0, eos_token_id=2, pad_token_id=0,  # <|endoftext|>, <|im_end|> (trained first)
    )
    model = Qwen3ForCausalLM(config)
    model.save_pretrained(str(out), safe_serialization=True)


def build_next_model(out: Path, vocab_size: int) -> None:
    """Qwen3-Next's architecture at a toy size: 4 layers (3 Gated DeltaNet + 1 gated full
    attention, ``full_attention_interval`` 4 as in the real model), 4 routed experts of which 2
    are active plus a shared expert. Head sizes are ones vLLM's CPU kernels support (64)."""
    import torch
    from transformers import Qwen3NextConfig, Qwen3NextForCausalLM

    torch.manual_seed(0)
    config = Qwen3NextConfig(
        vocab_size=vocab_size, hidden_size=128, intermediate_size=256, num_hidden_layers=4,
        num_attention_heads=2, num_key_value_heads=1, head_dim=64, partial_rotary_factor=0.25,
        full_attention_interval=4, linear_conv_kernel_dim=4, linear_key_head_dim=64, linear_value_head_dim=64,
        linear_num_key_heads=2, linear_num_value_heads=4, num_experts=4, num_experts_per_tok=2,
        moe_intermediate_size=64, shared_expert_intermediate_size=64, max_position_embeddings=262144,
        rope_theta=10000000.0, tie_word_embeddings=False, bos_token_id=0, eos_token_id=2, pad_token_id=0,
    )
    model = Qwen3NextForCausalLM(config)
    model.save_pretrained(str(out), safe_serialization=True)


def main(out_dir: str, architecture: str = "qwen3") -> int:
    """Write tokenizer, config and weights into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if architecture == "qwen3_next":
        vocab = build_tokenizer(out, ALWAYS_THINKING_TEMPLATE)
        build_next_model(out, vocab)
    else:
        vocab = build_tokenizer(out)
        build_model(out, vocab)
    print(json.dumps({"dir": str(out), "vocab_size": vocab, "files": sorted(p.name for p in out.iterdir())}))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
