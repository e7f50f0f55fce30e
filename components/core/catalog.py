"""The 22 Qwen3 models that PAI Model Gallery deploys, with the architecture facts sizing needs.

Figures come from each model's ``config.json`` and the Qwen3 technical report (see
``shared/reference/eas-and-engines.md``). Names are spelled exactly as Alibaba writes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

NATIVE_CONTEXT = 32768
"""Tokens (input + output) every Qwen3 model handles without RoPE scaling."""

MAX_CONTEXT = 131072
"""Tokens reachable with YaRN (factor 4 over the native 32768)."""

HEAD_DIM = 128
VOCAB_SIZE = 151936


@dataclass(frozen=True)
class Architecture:
    """Shape of one Qwen3 size; shared by its chat, Base and FP8 checkpoints."""

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

    @property
    def is_moe(self) -> bool:
        return self.experts > 0


@dataclass(frozen=True)
class Model:
    """One deployable model: an architecture plus its checkpoint flavour."""

    name: str
    arch: Architecture
    fp8: bool
    base: bool

    @property
    def family(self) -> str:
        """The chat model this one derives from (``Qwen3-8B`` for ``Qwen3-8B-Base``)."""
        return f"Qwen3-{self.arch.size}"

    @property
    def chat(self) -> bool:
        """True for chat-tuned models (tool calling and thinking apply)."""
        return not self.base

    @property
    def max_position_embeddings(self) -> int:
        """``max_position_embeddings`` in the checkpoint's ``config.json``: 40960 in the chat
        configs (32768 of context plus room for output), the native 32768 in the Base configs.

        Engines derive their length limit from it, so a longer ``maxModelLen`` must override it.
        """
        return NATIVE_CONTEXT if self.base else 40960

    @property
    def yarn_documented(self) -> bool:
        """The Qwen team documents YaRN to 131072 tokens for 4B and larger only."""
        return self.arch.size not in ("0.6B", "1.7B")


_ARCHITECTURES = (
    Architecture("0.6B", 28, 1024, 16, 8, 0.60, 0.60, 3072, tied_embeddings=True),
    Architecture("1.7B", 28, 2048, 16, 8, 1.72, 1.72, 6144, tied_embeddings=True),
    Architecture("4B", 36, 2560, 32, 8, 4.02, 4.02, 9728, tied_embeddings=True),
    Architecture("8B", 36, 4096, 32, 8, 8.19, 8.19, 12288),
    Architecture("14B", 40, 5120, 40, 8, 14.77, 14.77, 17408),
    Architecture("32B", 64, 5120, 64, 8, 32.76, 32.76, 25600),
    Architecture("30B-A3B", 48, 2048, 32, 4, 30.53, 3.34, 6144, experts=128,
                 experts_per_token=8, expert_intermediate_size=768),
    Architecture("235B-A22B", 94, 4096, 64, 4, 235.09, 22.2, 12288, experts=128,
                 experts_per_token=8, expert_intermediate_size=1536),
)

# Base checkpoints exist in the gallery for these sizes only (no 32B or 235B Base).
_BASE_SIZES = ("0.6B", "1.7B", "4B", "8B", "14B", "30B-A3B")


def _build() -> dict[str, Model]:
    models: dict[str, Model] = {}
    for arch in _ARCHITECTURES:
        chat = f"Qwen3-{arch.size}"
        models[chat] = Model(chat, arch, fp8=False, base=False)
        if arch.size in _BASE_SIZES:
            models[f"{chat}-Base"] = Model(f"{chat}-Base", arch, fp8=False, base=True)
        models[f"{chat}-FP8"] = Model(f"{chat}-FP8", arch, fp8=True, base=False)
    return dict(sorted(models.items()))


MODELS: dict[str, Model] = _build()
"""Every deployable model by its exact name."""

MODEL_NAMES: tuple[str, ...] = tuple(MODELS)


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
