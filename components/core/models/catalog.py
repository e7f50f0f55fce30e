"""The Qwen3 models we deploy, with the architecture facts sizing needs and the rules of each line.

Two groups:

- the 22 models of the source document (April 2025: eight sizes, their Base and FP8
  checkpoints), which PAI Model Gallery deploys; figures from each model's ``config.json`` and
  the Qwen3 technical report (see ``shared/reference/eas-and-engines.md``);
- the later lines (``shared/reference/qwen3-family.md``): Qwen3-2507 Instruct and Thinking,
  Qwen3-Coder and Qwen3-Next, each with its FP8 checkpoint. Each fact below names where it was
  read (repository, file and line of a copy of the Hugging Face model card or ``config.json``).

Names are spelled exactly as Alibaba (and Hugging Face) write them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Optional

NATIVE_CONTEXT = 32768
"""Tokens (input + output) the April-2025 Qwen3 models handle without RoPE scaling."""

MAX_CONTEXT = 131072
"""Tokens the April-2025 models reach with YaRN (factor 4 over the native 32768)."""

HEAD_DIM = 128
VOCAB_SIZE = 151936

ModelType = Literal["qwen3", "qwen3_moe", "qwen3_next"]
Thinking = Literal["switchable", "none", "always"]
ToolFormat = Literal["hermes", "qwen3_coder"]


@dataclass(frozen=True)
class Architecture:
    """Shape of one Qwen3 network; shared by every checkpoint (chat, Base, FP8, 2507) built on it."""

    size: str
    layers: int
    hidden_size: int
    attention_heads: int
    kv_heads: int
    params_b: float
    """Total parameters, in billions."""
    active_params_b: float
    intermediate_size: int
    """Width of the dense MLP (for MoE models: of each expert, see expert_intermediate_size)."""
    experts: int = 0
    """Routed experts per MoE layer (0 for dense models)."""
    experts_per_token: int = 0
    expert_intermediate_size: int = 0
    tied_embeddings: bool = False
    head_dim: int = HEAD_DIM
    model_type: ModelType = "qwen3"
    """``model_type`` of the checkpoint's ``config.json``; engines support each from some release on."""
    shared_expert_intermediate_size: int = 0
    """Width of the shared expert every token passes (Qwen3-Next); engines split it by tensor
    parallelism even when the routed experts use expert parallelism."""
    full_attention_interval: int = 1
    """One layer in this many is a full-attention layer with a KV cache (Qwen3-Next: 4); the
    others are linear-attention (Gated DeltaNet) layers with a fixed state per sequence."""
    linear_key_heads: int = 0
    linear_value_heads: int = 0
    linear_key_head_dim: int = 0
    linear_value_head_dim: int = 0
    linear_conv_kernel: int = 0

    @property
    def is_moe(self) -> bool:
        return self.experts > 0

    @property
    def is_hybrid(self) -> bool:
        """True when only some layers keep a KV cache (the rest carry a linear-attention state)."""
        return self.full_attention_interval > 1

    @property
    def attention_layers(self) -> int:
        """Layers that keep a KV cache."""
        return self.layers // self.full_attention_interval

    @property
    def linear_layers(self) -> int:
        """Gated DeltaNet layers: a fixed state per sequence instead of a KV cache."""
        return self.layers - self.attention_layers


@dataclass(frozen=True)
class Line:
    """A release line of the family: what its checkpoints share beyond the architecture."""

    name: str
    thinking: Thinking
    """``switchable``: thinks unless asked not to (``enable_thinking``); ``none``: never emits a
    think block; ``always``: the chat template opens ``<think>`` itself, so output starts inside
    the reasoning and has only the closing tag."""
    tool_format: ToolFormat
    """How the model writes tool calls: JSON in ``<tool_call>`` (hermes style) or Qwen3-Coder's XML."""
    native_context: int
    """Tokens handled without RoPE scaling."""
    max_position_embeddings: int
    """The value in the chat checkpoints' ``config.json``."""
    yarn_max: int
    """The longest length the model card documents with YaRN flags we can pass (= native when none)."""
    beyond: str
    """Why no longer length is offered (for the error message)."""
    in_source_table: bool
    """Whether Alibaba's minimum-configuration table (the source document) has rows for it."""


QWEN3 = Line(
    "Qwen3", "switchable", "hermes", NATIVE_CONTEXT, 40960, MAX_CONTEXT,
    "YaRN factor 4 (over the native 32768) is the longest the Qwen team documents", True,
)
# Qwen3-2507: 262144 tokens natively, no thinking switch (QwenLM/Qwen3 README.md:133, :187;
# awesome-akash Qwen3-235B-A22B-Instruct-2507/README.md:29-31 and -Thinking-2507/README.md:31-35,
# copies of the model cards; docs/source/getting_started/concepts.md:201). The 1M-token route of
# the 235B and 30B cards (QwenLM/Qwen3 README.md:67) swaps config.json for config_1m.json (Dual
# Chunk Attention and sparse attention), which a start flag over the Gallery's read-only model
# files cannot do.
_2507_BEYOND = ("the model card's 1M-token route replaces config.json with config_1m.json (Dual Chunk Attention), "
                "which no start flag can do over the mounted model files")
QWEN3_2507_INSTRUCT = Line("Qwen3-2507 Instruct", "none", "hermes", 262144, 262144, 262144, _2507_BEYOND, False)
QWEN3_2507_THINKING = Line("Qwen3-2507 Thinking", "always", "hermes", 262144, 262144, 262144, _2507_BEYOND, False)
# Qwen3-Coder: 262144 natively, no thinking, its own XML tool-call format (awesome-akash
# Qwen3-Coder-480B-A35B-Instruct/README.md:14, :29-31; QwenLM/Qwen3-Coder README.md:30). The
# card says YaRN reaches 1M but names no settings, so we offer none.
QWEN3_CODER = Line("Qwen3-Coder", "none", "qwen3_coder", 262144, 262144, 262144,
                   "the model card names YaRN to 1M tokens but gives no settings for it", False)
# Qwen3-Next: 262144 natively, YaRN factor 4 over 262144 to 1,010,000 tokens with the flags the
# card names (awesome-akash Qwen3-Next-80B-A3B-Instruct/README.md:54, :263-290; the Thinking
# card's "Processing Ultra-Long Texts" says the same).
_NEXT_BEYOND = "the model card documents YaRN to 1,010,000 tokens and no further"
QWEN3_NEXT_INSTRUCT = Line("Qwen3-Next Instruct", "none", "hermes", 262144, 262144, 1010000, _NEXT_BEYOND, False)
QWEN3_NEXT_THINKING = Line("Qwen3-Next Thinking", "always", "hermes", 262144, 262144, 1010000, _NEXT_BEYOND, False)


@dataclass(frozen=True)
class Model:
    """One deployable model: an architecture, its release line, and its checkpoint flavour."""

    name: str
    arch: Architecture
    fp8: bool
    base: bool
    line: Line = QWEN3

    @property
    def family(self) -> str:
        """The BF16 chat model this one derives from (``Qwen3-8B`` for ``Qwen3-8B-Base``)."""
        return self.name.removesuffix("-FP8").removesuffix("-Base")

    @property
    def chat(self) -> bool:
        """True for chat-tuned models (tool calling and thinking apply)."""
        return not self.base

    @property
    def max_position_embeddings(self) -> int:
        """``max_position_embeddings`` in the checkpoint's ``config.json``: 40960 in the April-2025
        chat configs (32768 of context plus room for output), the native 32768 in their Base
        configs, 262144 in the later lines.

        Engines derive their length limit from it, so a longer ``maxModelLen`` must override it.
        """
        return NATIVE_CONTEXT if self.base else self.line.max_position_embeddings

    @property
    def native_context(self) -> int:
        """Tokens served without RoPE scaling."""
        return self.line.native_context

    @property
    def max_context(self) -> int:
        """The longest ``maxModelLen`` we offer for this model (native, or YaRN where documented)."""
        return self.line.yarn_max

    @property
    def yarn_documented(self) -> bool:
        """The Qwen team documents YaRN to 131072 tokens for 4B and larger only (April 2025); the
        later lines document it where ``yarn_max`` goes beyond their native length."""
        if self.line is QWEN3:
            return self.arch.size not in ("0.6B", "1.7B")
        return self.line.yarn_max > self.line.native_context


_ARCHITECTURES = (
    Architecture("0.6B", 28, 1024, 16, 8, 0.60, 0.60, 3072, tied_embeddings=True),
    Architecture("1.7B", 28, 2048, 16, 8, 1.72, 1.72, 6144, tied_embeddings=True),
    Architecture("4B", 36, 2560, 32, 8, 4.02, 4.02, 9728, tied_embeddings=True),
    Architecture("8B", 36, 4096, 32, 8, 8.19, 8.19, 12288),
    Architecture("14B", 40, 5120, 40, 8, 14.77, 14.77, 17408),
    Architecture("32B", 64, 5120, 64, 8, 32.76, 32.76, 25600),
    Architecture("30B-A3B", 48, 2048, 32, 4, 30.53, 3.34, 6144, experts=128,
                 experts_per_token=8, expert_intermediate_size=768, model_type="qwen3_moe"),
    Architecture("235B-A22B", 94, 4096, 64, 4, 235.09, 22.2, 12288, experts=128,
                 experts_per_token=8, expert_intermediate_size=1536, model_type="qwen3_moe"),
)
_BY_SIZE = {arch.size: arch for arch in _ARCHITECTURES}

# Qwen3-Coder-480B-A35B: 62 layers, hidden 6144, 96 query / 8 KV heads of 128, 160 experts (8
# active) of width 2560, untied embeddings, vocabulary 151936 (zyzshishui/miles
# scripts/models/qwen3-coder-480B-A35B.sh:21-44; awesome-akash
# Qwen3-Coder-480B-A35B-Instruct/README.md:24-28). 480.15B parameters follow from those
# figures (the card: "480B in total and 35B activated").
CODER_480B = Architecture("Coder-480B-A35B", 62, 6144, 96, 8, 480.15, 35.0, 8192, experts=160,
                          experts_per_token=8, expert_intermediate_size=2560, model_type="qwen3_moe")
# Qwen3-Next-80B-A3B: 48 layers in 12 groups of 3 Gated DeltaNet + 1 gated full attention
# (full_attention_interval 4); attention 16 query / 2 KV heads of 256; linear attention 16 key
# and 32 value heads of 128, conv kernel 4; 512 experts (10 active) of width 512 plus one shared
# expert of 512; untied embeddings (alibaba/InferSim hf_configs/qwen3-next-80B-A3B_config.json:9-42,
# awesome-akash Qwen3-Next-80B-A3B-Instruct/README.md:37-54). 79.67B parameters follow from
# those figures (the card: 80B total, 79B without embeddings, 3B activated).
NEXT_80B = Architecture("Next-80B-A3B", 48, 2048, 16, 2, 79.67, 3.0, 5120, experts=512,
                        experts_per_token=10, expert_intermediate_size=512, head_dim=256,
                        model_type="qwen3_next", shared_expert_intermediate_size=512,
                        full_attention_interval=4, linear_key_heads=16, linear_value_heads=32,
                        linear_key_head_dim=128, linear_value_head_dim=128, linear_conv_kernel=4)

# Base checkpoints exist in the gallery for these sizes only (no 32B or 235B Base).
_BASE_SIZES = ("0.6B", "1.7B", "4B", "8B", "14B", "30B-A3B")

# The later checkpoints, each with an -FP8 sibling (128 x 128 block quantisation like the April
# ones: awesome-akash Qwen3-235B-A22B-Instruct-2507-FP8/README.md:137-139).
# - 2507: the 235B-A22B, 30B-A3B and 4B architectures unchanged (QwenLM/Qwen3 README.md:30;
#   235B: InferSim hf_configs/qwen3-235B-A22B_config.json, the 2507 config with
#   max_position_embeddings 262144 at line 15; 30B: peterhan91/mimic_skills docs/qwen3-a3b.md, a
#   copy of the 30B-A3B-Instruct-2507 card, 48 layers, 32/4 heads, 128 experts of which 8 active;
#   4B: akougkas/warpio-cli warpio-docs/ai-docs/model_cards/qwen3:4b.md, the 4B-Thinking-2507
#   config.json, 36 layers, hidden 2560, 32/8 heads, max_position_embeddings 262144).
# - Qwen3-Coder-30B-A3B: the 30B-A3B shapes (ztxz16/fastllm Qwen3-Coder-30B-A3B-Instruct/config.json:
#   hidden 2048, 48 layers, 32/4 heads, 128 experts of 768, 8 active, max_position_embeddings 262144).
_LATER: tuple[tuple[str, Architecture, Line], ...] = (
    ("Qwen3-235B-A22B-Instruct-2507", _BY_SIZE["235B-A22B"], QWEN3_2507_INSTRUCT),
    ("Qwen3-235B-A22B-Thinking-2507", _BY_SIZE["235B-A22B"], QWEN3_2507_THINKING),
    ("Qwen3-30B-A3B-Instruct-2507", _BY_SIZE["30B-A3B"], QWEN3_2507_INSTRUCT),
    ("Qwen3-30B-A3B-Thinking-2507", _BY_SIZE["30B-A3B"], QWEN3_2507_THINKING),
    ("Qwen3-4B-Instruct-2507", _BY_SIZE["4B"], QWEN3_2507_INSTRUCT),
    ("Qwen3-4B-Thinking-2507", _BY_SIZE["4B"], QWEN3_2507_THINKING),
    ("Qwen3-Coder-480B-A35B-Instruct", CODER_480B, QWEN3_CODER),
    ("Qwen3-Coder-30B-A3B-Instruct", _BY_SIZE["30B-A3B"], QWEN3_CODER),
    ("Qwen3-Next-80B-A3B-Instruct", NEXT_80B, QWEN3_NEXT_INSTRUCT),
    ("Qwen3-Next-80B-A3B-Thinking", NEXT_80B, QWEN3_NEXT_THINKING),
)


def _build() -> dict[str, Model]:
    models: dict[str, Model] = {}
    for arch in _ARCHITECTURES:
        chat = f"Qwen3-{arch.size}"
        models[chat] = Model(chat, arch, fp8=False, base=False)
        if arch.size in _BASE_SIZES:
            models[f"{chat}-Base"] = Model(f"{chat}-Base", arch, fp8=False, base=True)
        models[f"{chat}-FP8"] = Model(f"{chat}-FP8", arch, fp8=True, base=False)
    for name, arch, line in _LATER:
        models[name] = Model(name, arch, fp8=False, base=False, line=line)
        models[f"{name}-FP8"] = Model(f"{name}-FP8", arch, fp8=True, base=False, line=line)
    return dict(sorted(models.items()))


MODELS: dict[str, Model] = _build()
"""Every deployable model by its exact name."""

MODEL_NAMES: tuple[str, ...] = tuple(MODELS)

LONGEST_CONTEXT: int = max(model.max_context for model in MODELS.values())
"""The longest ``maxModelLen`` any model reaches (each model's own limit is ``max_context``)."""


def get_model(name: str) -> Model:
    """The model called ``name``; ``KeyError`` names the closest spellings."""
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; {suggest(name)}") from None


def suggest(name: str) -> str:
    """A hint listing the catalog names nearest to a mistyped one: the same size first.

    A name in another vendor's convention (``Qwen3-8B-Instruct``, ``qwen3-32b-chat``) is closest in
    spelling to a different checkpoint of its size (``Qwen3-8B-Base``); the size it names is what
    the user meant, and the plain chat model of it unless the name says Base or FP8.
    """
    import difflib

    lowered = name.lower()
    size = re.search(r"(\d+(?:\.\d+)?b)(?:-a\d+b)?", lowered)
    near: list[str] = []
    if size:
        same = [n for n, m in MODELS.items() if m.arch.size.lower().split("-")[0] == size.group(1)]
        near = sorted(same, key=lambda n: (MODELS[n].base != ("base" in lowered), MODELS[n].fp8 != ("fp8" in lowered),
                                           -difflib.SequenceMatcher(None, lowered, n.lower()).ratio(), n))[:3]
    near = near or difflib.get_close_matches(name, MODEL_NAMES, n=3, cutoff=0.6)
    if near:
        return "did you mean " + " or ".join(near) + "?"
    return "known models: " + ", ".join(MODEL_NAMES)


def find_model(text: str) -> Optional[Model]:
    """The longest catalog name that occurs in ``text`` (case-insensitive), if any."""
    lowered = text.lower()
    hits = [m for n, m in MODELS.items() if n.lower() in lowered]
    return max(hits, key=lambda m: len(m.name)) if hits else None
