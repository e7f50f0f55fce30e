"""What a GPU can do, and what each engine does on a GPU that cannot do what a model asks.

A GPU's architecture comes from the hardware table (``data/gpus.csv``); what an architecture can
do comes from NVIDIA's Transformer Engine support matrix
(https://nvidia.github.io/TransformerEngine/support_matrix.html: BF16 needs compute capability 8.0
or higher, FP8 8.9 or higher; Ampere is 8.0 and 8.6, Ada 8.9, Hopper 9.0, Blackwell 10.x and 12.0).

Alibaba's minimum-configuration table allows FP8 checkpoints on GPUs without FP8 tensor cores
(Qwen3-8B-FP8 on one 24 GB A10, GU30). The plan follows the table and says, per engine and with
the engine's own docs or source as evidence, what the engine does there and what it costs:
``notes`` returns those sentences; nothing here refuses a configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

from ..models.catalog import Model
from . import hardware_table

_BF16_FROM = "Ampere"
_FP8_FROM = "Ada"
_ORDER = hardware_table.ARCHITECTURES

MATRIX = "NVIDIA Transformer Engine support matrix: BF16 needs compute capability 8.0+, FP8 8.9+"


@dataclass(frozen=True)
class Gpu:
    """One GPU's architecture and what it can compute natively."""

    name: str
    architecture: Optional[str]
    architecture_inferred: bool

    @property
    def fp8(self) -> Optional[bool]:
        """FP8 tensor cores (Ada, Hopper, Blackwell); ``None`` when the architecture is unknown."""
        return None if self.architecture is None else _ORDER.index(self.architecture) >= _ORDER.index(_FP8_FROM)

    @property
    def bf16(self) -> Optional[bool]:
        """BF16 arithmetic (Ampere and later); ``None`` when the architecture is unknown."""
        return None if self.architecture is None else _ORDER.index(self.architecture) >= _ORDER.index(_BF16_FROM)

    def architecture_words(self) -> str:
        """``Ampere``, ``Hopper, inferred`` or ``architecture not sourced``."""
        if self.architecture is None:
            return "architecture not sourced"
        return self.architecture + (", inferred" if self.architecture_inferred else "")

    def traits(self) -> str:
        """``Ampere, no FP8 tensor cores``: what the plan says of the GPU."""
        if self.architecture is None:
            return self.architecture_words()
        return f"{self.architecture_words()}, {'FP8 tensor cores' if self.fp8 else 'no FP8 tensor cores'}"


def gpu(gpu_type: Optional[str]) -> Optional[Gpu]:
    """The hardware table's facts about a GPU model or EAS GPU code, or ``None`` when it has none."""
    if not gpu_type:
        return None
    row = hardware_table.load_gpus().get(gpu_type.upper())
    if row is None:
        return None
    return Gpu(row.gpu, row.architecture, "architecture" in row.inferred)


# -- what each engine does --------------------------------------------------------------------

VLLM_FP8_DOCS = ("vLLM docs, docs.vllm.ai features/quantization/fp8: FP8 computation needs compute capability 8.9+; "
                 "FP8 models run on 7.5+ (Turing) as weight-only W8A16 with FP8 Marlin")
SGLANG_FP8_SOURCE = ("SGLang source, python/sglang/srt/layers/quantization/fp8_utils.py: can_auto_enable_marlin_fp8 "
                     "is true on SM80 to SM88, and fp8.py's Fp8LinearMethod then uses Marlin")
BLADELLM_QUANT_DOCS = ("PAI docs, BladeLLM model quantization "
                       "(alibabacloud.com/help/en/pai/user-guide/bladellm-model-quantization)")
VLLM_KV_DOCS = ("vLLM docs, docs.vllm.ai features/quantization/quantized_kvcache: with the FlashAttention 3 backend "
                "attention itself runs in FP8")
SGLANG_ATTENTION_DOCS = ("SGLang docs, docs.sglang.io advanced_features/attention_backend: FlashInfer is the default on "
                         "Ampere and Ada, FA3 on Hopper, both support an FP8 KV cache; advanced_features/quantized_kv_cache "
                         "warns that dequantizing outside the attention kernel can be very slow")
VLLM_DTYPE_SOURCE = ("vLLM source, vllm/config/model.py _resolve_auto_dtype: a device without BF16 falls back to the "
                     "first dtype it supports, FP16, with a warning")


def _fp8_checkpoint(model: Model, engine: str, g: Gpu) -> str:
    where = f"{model.name} is an FP8 checkpoint and {g.name} ({g.architecture_words()}) has no FP8 tensor cores"
    arch = g.architecture or ""
    if engine == "vllm":
        if _ORDER.index(arch) >= _ORDER.index("Turing"):
            return (f"{where}: vLLM runs it weight-only (W8A16, FP8 Marlin kernels): the weights stay FP8 in memory, "
                    "the matrix multiplies run in 16-bit, so prefill is no faster than the BF16 model and decode gains "
                    f"only from the smaller weight reads ({VLLM_FP8_DOCS})")
        return (f"{where}: vLLM's docs give FP8 models a weight-only path from compute capability 7.5 (Turing) up; "
                f"{arch} is below it, so expect vLLM to refuse the checkpoint: use the BF16 model ({VLLM_FP8_DOCS})")
    if engine == "sglang":
        if arch == "Ampere":
            return (f"{where}: SGLang switches to its weight-only FP8 Marlin path on SM80 to SM88 (Ampere): the "
                    "weights stay FP8 in memory, the matrix multiplies run in 16-bit, so prefill is no faster than the "
                    f"BF16 model ({SGLANG_FP8_SOURCE})")
        return (f"{where}: SGLang turns on its weight-only FP8 path only on SM80 to SM88 (Ampere); on {arch} expect "
                f"the checkpoint to fail: use the BF16 model ({SGLANG_FP8_SOURCE})")
    return (f"{where}: BladeLLM's docs list FP8 among its quantization types but say nothing we could find about GPUs "
            f"without FP8 tensor cores; try it on one replica before relying on it ({BLADELLM_QUANT_DOCS})")


def _fp8_kv_cache(engine: str, g: Gpu) -> str:
    where = f"the KV cache is FP8 and {g.name} ({g.architecture_words()}) has no FP8 tensor cores"
    if engine == "vllm":
        return (f"{where}: vLLM computes attention in FP8 only with its FlashAttention 3 backend, a Hopper backend; "
                f"here the FP8 cache saves memory, not attention time ({VLLM_KV_DOCS})")
    if engine == "sglang":
        if g.architecture == "Ampere":
            return (f"{where}: SGLang's default attention backend on Ampere is FlashInfer, which reads an FP8 KV cache "
                    f"inside its kernel: memory is saved, attention still runs in 16-bit ({SGLANG_ATTENTION_DOCS})")
        return (f"{where}: SGLang's docs name no default attention backend for {g.architecture} with FP8 KV cache "
                f"support; check the backend it picks before relying on the FP8 cache ({SGLANG_ATTENTION_DOCS})")
    return (f"{where}: BladeLLM's docs say nothing we could find about --kv_cache_quant on GPUs without FP8 tensor "
            f"cores; try it on one replica before relying on it ({BLADELLM_QUANT_DOCS})")


def _no_bf16(model: Model, engine: str, g: Gpu) -> str:
    where = f"{model.name} computes in BF16 and {g.name} ({g.architecture_words()}) has no BF16 ({MATRIX})"
    if engine == "vllm":
        return (f"{where}: vLLM falls back to FP16, whose narrower range can overflow where BF16 does not; the "
                f"engine logs it at start ({VLLM_DTYPE_SOURCE})")
    return (f"{where}: what {engine} does there is not documented where we could read; expect a refusal or an FP16 "
            "fallback, and try it on one replica first")


def notes(model: Model, engine: str, gpu_types: Sequence[Optional[str]], kv_cache_fp8: bool) -> list[str]:
    """What ``engine`` does with ``model`` on the GPUs of the types EAS may pick, where a GPU lacks
    what the model asks (FP8 weights, an FP8 KV cache, BF16), with the engine's docs or source as
    evidence. GPUs of one architecture share a note."""
    by_architecture: dict[str, list[Gpu]] = {}
    for g in (gpu(t) for t in dict.fromkeys(gpu_types)):
        if g is not None and g.architecture is not None:
            by_architecture.setdefault(g.architecture, []).append(g)
    found = []
    for architecture, gpus in by_architecture.items():
        g = Gpu(" and ".join(x.name for x in gpus), architecture, any(x.architecture_inferred for x in gpus))
        if model.fp8 and not g.fp8:
            found.append(_fp8_checkpoint(model, engine, g))
        if kv_cache_fp8 and not g.fp8:
            found.append(_fp8_kv_cache(engine, g))
        if not g.bf16:
            found.append(_no_bf16(model, engine, g))
    return found
