"""GPU sizing: Alibaba's minimum-configuration table (hard), then a memory estimate.

Two checks, both pure:

1. **The table rule.** The source document's minimum GPUs per replica for each model, as
   count x per-GPU memory. A configuration below it is refused whatever the estimate says.
2. **The estimate.** Per GPU: weights / TP + the KV cache of one full ``maxModelLen``
   sequence + runtime overhead, against the engine's share of the GPU's usable memory.
   The table's own minimum configurations must start with our defaults, so the engine
   settings are escalated (memory share, then eager mode, then an FP8 KV cache) until they
   fit, and the chosen settings go into the start script.

Figures are GiB (2**30 bytes) unless a name says GB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..models.catalog import NATIVE_CONTEXT, VOCAB_SIZE, Model

GIB = 2**30

# -- the table --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableMinimum:
    """One row of the minimum-configuration table, as it applies to a model and length."""

    gpus: int
    gpu_memory_gb: int
    row: str
    listed: bool = True
    """False for models the table has no row for: every configuration meets it, and the memory
    estimate is the only check (the plan says so, and the policy pack enforces the estimate)."""

    def describe(self) -> str:
        if not self.listed:
            return self.row
        return f"{self.gpus} x {self.gpu_memory_gb} GB ({self.row})"


_ROWS: dict[str, tuple[int, int, str]] = {
    "235B-A22B": (8, 96, "Qwen3-235B-A22B: 8 x 96 GB"),
    "30B-A3B": (1, 96, "Qwen3-30B-A3B, Qwen3-30B-A3B-Base, Qwen3-32B: 1 x 96 GB"),
    "32B": (1, 96, "Qwen3-30B-A3B, Qwen3-30B-A3B-Base, Qwen3-32B: 1 x 96 GB"),
    "14B": (1, 48, "Qwen3-14B, Qwen3-14B-Base: 1 x 48 GB"),
    "8B": (1, 24, "Qwen3-8B, -4B, -1.7B, -0.6B and Base: 1 x 24 GB"),
    "4B": (1, 24, "Qwen3-8B, -4B, -1.7B, -0.6B and Base: 1 x 24 GB"),
    "1.7B": (1, 24, "Qwen3-8B, -4B, -1.7B, -0.6B and Base: 1 x 24 GB"),
    "0.6B": (1, 24, "Qwen3-8B, -4B, -1.7B, -0.6B and Base: 1 x 24 GB"),
}


def table_minimum(model: Model, max_model_len: int) -> TableMinimum:
    """The table's minimum for ``model`` at ``max_model_len`` tokens.

    FP8 models need what their BF16 model needs, except Qwen3-235B-A22B-FP8 (4 x 96 GB);
    Qwen3-8B (and its Base and FP8) needs 48 GB once RoPE scaling is on. The later lines
    (2507, Coder, Next) have no row: Alibaba publishes no minimum configuration for them that
    we could find, so they are sized by the estimate alone.
    """
    if not model.line.in_source_table:
        return TableMinimum(0, 0, f"no row in Alibaba's minimum-configuration table for {model.line.name} "
                            "models: checked by the memory estimate only", listed=False)
    size = model.arch.size
    if size == "235B-A22B" and model.fp8:
        return TableMinimum(4, 96, "Qwen3-235B-A22B-FP8: 4 x 96 GB")
    gpus, memory, row = _ROWS[size]
    if size == "8B" and max_model_len > NATIVE_CONTEXT:
        return TableMinimum(1, 48, "Qwen3-8B with RoPE scaling: 1 x 48 GB")
    return TableMinimum(gpus, memory, row)


def meets_table(minimum: TableMinimum, gpus: int, gpu_memory_gb: int) -> bool:
    """At least the row's GPU count, each at least the row's memory."""
    return gpus >= minimum.gpus and gpu_memory_gb >= minimum.gpu_memory_gb


# -- the estimate -----------------------------------------------------------------------------

FP8_BLOCK = 128
"""FP8 checkpoints quantise in 128 x 128 blocks: a tensor-parallel shard must be whole blocks."""

PREFILL_TOKENS = 8192
"""Tokens per forward pass the engines budget activations for (chunked prefill)."""

MAX_SEQS = 256
"""Concurrent sequences the sampler holds logits for."""

CONTEXT_GIB = 0.6
"""CUDA context, cuBLAS/cuDNN workspaces: memory no engine can avoid."""

NCCL_GIB = 0.4
"""NCCL buffers when a replica spans GPUs."""

CUDA_GRAPH_GIB = 0.75
"""Captured CUDA graphs (gone in eager mode)."""

SGLANG_MAMBA_FULL_MEMORY_RATIO = 0.9
"""SGLang's default ``--mamba-full-memory-ratio`` (server_args.py of 0.5.5 through 0.5.23): for a
hybrid model it gives linear-attention states 0.9 / 1.9 of the memory left after weights, and the
full-attention KV cache the rest. (0.5.2 to 0.5.4 reserved 512 request states instead: not
modelled.)"""

SSM_STATE_BYTES = {"sglang": 4, "vllm": 2, "bladellm": 2}
"""Bytes per element of the Gated DeltaNet recurrent state: SGLang keeps it in float32 by default
(``--mamba-ssm-dtype float32``, server_args.py from 0.5.2), vLLM in the model's dtype
(``mamba_cache_dtype`` auto: mamba_utils.py, 0.10.2). The convolution state is BF16 in both."""

FRACTIONS = (0.90, 0.95)
"""Memory shares we try, in order; above 0.95 the driver and other processes run short."""


def usable_gib(gpu_memory_gb: int) -> float:
    """Memory a program can allocate on a GPU sold as ``gpu_memory_gb`` GB.

    Vendors round: an A10 "24 GB" shows 23028 MiB, an L20 "48 GB" 46068 MiB, an H20 "96 GB"
    97871 MiB. Decimal GB to GiB is the safe floor for all of them.
    """
    return gpu_memory_gb * 1e9 / GIB


def _embedding_params(model: Model) -> float:
    tables = 1 if model.arch.tied_embeddings else 2
    return VOCAB_SIZE * model.arch.hidden_size * tables


def weights_gib(model: Model) -> float:
    """Whole-model weight memory: BF16, or FP8 with embeddings and lm_head kept in BF16."""
    params = model.arch.params_b * 1e9
    if not model.fp8:
        return params * 2 / GIB
    kept = _embedding_params(model)
    return ((params - kept) * 1 + kept * 2) / GIB


def kv_bytes_per_token(model: Model, tensor_parallel: int, kv_bytes: int) -> float:
    """KV cache bytes one token costs on one GPU: heads split by TP, replicated past the KV heads.

    Only full-attention layers keep a KV cache: all of them in Qwen3, one in four in Qwen3-Next.
    """
    arch = model.arch
    heads_per_gpu = max(1, arch.kv_heads // tensor_parallel)
    return 2 * arch.attention_layers * heads_per_gpu * arch.head_dim * kv_bytes


def linear_state_bytes(model: Model, tensor_parallel: int, engine: str) -> float:
    """The fixed linear-attention state of one sequence on one GPU (0 for full-attention models).

    Per Gated DeltaNet layer: a convolution state of (2 x key dim + value dim) / TP channels by
    (kernel - 1) positions in BF16, and a recurrent state of value heads / TP x key head dim x
    value head dim (shapes: vLLM's ``gated_delta_net_state_shape``, mamba_utils.py of 0.10.2;
    SGLang's ``hybrid_gdn_params``, configs/qwen3_next.py of 0.5.2). It does not grow with the
    sequence, and an FP8 KV cache does not shrink it.
    """
    arch = model.arch
    if not arch.is_hybrid:
        return 0.0
    key_dim = arch.linear_key_heads * arch.linear_key_head_dim
    value_dim = arch.linear_value_heads * arch.linear_value_head_dim
    conv = (2 * key_dim + value_dim) / tensor_parallel * (arch.linear_conv_kernel - 1) * 2
    recurrent = (arch.linear_value_heads / tensor_parallel * arch.linear_key_head_dim * arch.linear_value_head_dim
                 * SSM_STATE_BYTES.get(engine, 4))
    return arch.linear_layers * (conv + recurrent)


def overhead_gib(model: Model, tensor_parallel: int, eager: bool) -> float:
    """Runtime memory beside weights and KV cache: context, activations, logits, graphs."""
    arch = model.arch
    mlp = (arch.experts_per_token * arch.expert_intermediate_size + arch.shared_expert_intermediate_size
           if arch.is_moe else arch.intermediate_size)
    activations = PREFILL_TOKENS * (2 * mlp / tensor_parallel + 4 * arch.hidden_size) * 2
    logits = MAX_SEQS * VOCAB_SIZE * 4
    total = CONTEXT_GIB + (activations + logits) / GIB
    if tensor_parallel > 1:
        total += NCCL_GIB
    if not eager:
        total += CUDA_GRAPH_GIB
    return total


@dataclass(frozen=True)
class EngineSettings:
    """What the estimate decided the start script must say."""

    memory_fraction: float
    enforce_eager: bool = False
    kv_cache_fp8: bool = False
    expert_parallel: bool = False


@dataclass(frozen=True)
class Estimate:
    """Per-GPU memory of one configuration, with the settings that produced it."""

    weights_gib: float
    kv_cache_gib: float
    overhead_gib: float
    budget_gib: float
    settings: EngineSettings
    max_len_that_fits: int
    state_gib: float = 0.0
    """Linear-attention states (hybrid models only): one sequence's on vLLM; on SGLang the pool it
    sets aside in proportion to the KV cache (``SGLANG_MAMBA_FULL_MEMORY_RATIO``), at least one."""

    @property
    def fits(self) -> bool:
        return self.weights_gib + self.kv_cache_gib + self.state_gib + self.overhead_gib <= self.budget_gib

    def as_dict(self) -> dict[str, float]:
        figures = {
            "weightsGiB": round(self.weights_gib, 2),
            "kvCacheGiB": round(self.kv_cache_gib, 2),
            "overheadGiB": round(self.overhead_gib, 2),
            "budgetGiB": round(self.budget_gib, 2),
        }
        if self.state_gib:
            figures["linearStateGiB"] = round(self.state_gib, 2)
        return figures


def estimate(model: Model, gpus: int, gpu_memory_gb: int, max_model_len: int, *, fraction: float,
             eager: bool, kv_fp8: bool, expert_parallel: bool = False, engine: str = "vllm") -> Estimate:
    """The per-GPU estimate for one set of engine settings."""
    kv_bytes = 1 if kv_fp8 else 2
    per_token = kv_bytes_per_token(model, gpus, kv_bytes)
    one_state = linear_state_bytes(model, gpus, engine)
    # SGLang's pool for linear-attention states grows with the KV cache it leaves room for.
    share = SGLANG_MAMBA_FULL_MEMORY_RATIO if one_state and engine == "sglang" else 0.0
    weights = weights_gib(model) / gpus
    overhead = overhead_gib(model, gpus, eager)
    budget = usable_gib(gpu_memory_gb) * fraction
    room = (budget - weights - overhead) * GIB
    kv = per_token * max_model_len
    # max(state, share x kv) + kv <= room  <=>  state + kv <= room and (1 + share) x kv <= room
    tokens = min((room - one_state) / per_token, room / ((1 + share) * per_token))
    fits_len = 0 if tokens <= 0 else min(model.max_context, int(tokens) // 1024 * 1024)
    return Estimate(
        weights_gib=weights,
        kv_cache_gib=kv / GIB,
        overhead_gib=overhead,
        budget_gib=budget,
        settings=EngineSettings(fraction, eager, kv_fp8, expert_parallel),
        max_len_that_fits=fits_len,
        state_gib=max(one_state, share * kv) / GIB,
    )


def fit(model: Model, gpus: int, gpu_memory_gb: int, max_model_len: int, *, kv_fp8: bool,
        allow_auto_fp8_kv: bool, expert_parallel: bool = False, engine: str = "vllm") -> Estimate:
    """The least aggressive settings that fit, or the most aggressive estimate when none does.

    Order: memory share 0.90, then 0.95, then eager mode, then (only where allowed) an FP8
    KV cache. Each step costs throughput or quality, so it is taken only when needed.
    """
    steps: list[tuple[float, bool, bool]] = [(f, False, kv_fp8) for f in FRACTIONS]
    steps.append((FRACTIONS[-1], True, kv_fp8))
    if allow_auto_fp8_kv and not kv_fp8:
        steps.append((FRACTIONS[-1], True, True))
    last: Optional[Estimate] = None
    for fraction, eager, fp8 in steps:
        last = estimate(model, gpus, gpu_memory_gb, max_model_len, fraction=fraction, eager=eager,
                        kv_fp8=fp8, expert_parallel=expert_parallel, engine=engine)
        if last.fits:
            return last
    assert last is not None
    return last


# -- parallelism ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parallelism:
    """Whether a model splits across ``gpus`` tensor-parallel ranks, and how."""

    ok: bool
    expert_parallel: bool = False
    reason: str = ""
    fix: str = ""


def _divisors_hint(heads: int) -> str:
    return ", ".join(str(n) for n in (1, 2, 4, 8, 16) if heads % n == 0)


def check_parallelism(model: Model, gpus: int, engine: str) -> Parallelism:
    """Tensor parallel size = GPUs per replica; it must divide the attention heads, and FP8
    shards must be whole 128-wide blocks (MoE experts can switch to expert parallelism)."""
    arch = model.arch
    if arch.attention_heads % gpus:
        return Parallelism(False, reason=f"tensor parallel size {gpus} does not divide {model.name}'s "
                           f"{arch.attention_heads} attention heads",
                           fix=f"use a GPU count per replica of {_divisors_hint(arch.attention_heads)}")
    if not model.fp8 or gpus == 1:
        return Parallelism(True)
    shared = arch.shared_expert_intermediate_size
    if shared % (gpus * FP8_BLOCK):
        # The engines split the shared expert by tensor parallelism even with expert parallelism
        # on (Qwen3-Next-80B-A3B-FP8 at TP 8: "output_size ... = 64 is not divisible by weight
        # quantization block_n = 128", sgl-project/sglang#10852; vLLM's Qwen3NextSparseMoeBlock
        # builds it as a tensor-parallel MLP, qwen3_next.py of 0.10.2).
        most = max(n for n in (1, 2, 4, 8) if shared % (n * FP8_BLOCK) == 0)
        return Parallelism(False, reason=f"{model.name} at TP {gpus} splits its shared expert into "
                           f"{shared / gpus:g}-wide shards, not whole {FP8_BLOCK} FP8 blocks (expert parallelism "
                           "does not cover the shared expert)",
                           fix=f"use at most {most} GPUs per replica, or the BF16 model")
    if arch.is_moe:
        if (arch.expert_intermediate_size // gpus) % FP8_BLOCK == 0:
            return Parallelism(True)
        if engine == "bladellm":
            return Parallelism(False, reason=f"{model.name} at TP {gpus} splits each expert into "
                               f"{arch.expert_intermediate_size // gpus}-wide shards, not whole {FP8_BLOCK} FP8 blocks, "
                               "and BladeLLM has no expert parallelism",
                               fix="use engine: vllm or sglang (expert parallelism), or fewer GPUs per replica")
        return Parallelism(True, expert_parallel=True)
    if (arch.intermediate_size // gpus) % FP8_BLOCK:
        return Parallelism(False, reason=f"{model.name} at TP {gpus} splits its MLP into "
                           f"{arch.intermediate_size / gpus:g}-wide shards, not whole {FP8_BLOCK} FP8 blocks",
                           fix="use fewer GPUs per replica, or the BF16 model")
    return Parallelism(True)


# -- the verdict ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """Everything sizing says about one configuration."""

    table: TableMinimum
    meets_table: bool
    parallelism: Parallelism
    estimate: Optional[Estimate]
    max_model_len: int
    errors: tuple[str, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    @property
    def verdict(self) -> str:
        if self.errors:
            return "error"
        return "warning" if self.notes else "ok"

    @property
    def settings(self) -> EngineSettings:
        if self.estimate is None:
            return EngineSettings(FRACTIONS[0])
        return self.estimate.settings

    def as_dict(self) -> dict[str, object]:
        return {
            "tableMinimum": self.table.describe(),
            "perGpu": self.estimate.as_dict() if self.estimate else None,
            "maxModelLenThatFits": self.estimate.max_len_that_fits if self.estimate else 0,
            "verdict": self.verdict,
        }


def check(model: Model, gpus: int, gpu_memory_gb: int, max_model_len: int, engine: str, *,
          kv_fp8: bool = False) -> Verdict:
    """Table rule, parallelism and estimate for one replica of ``gpus`` x ``gpu_memory_gb`` GB.

    Never raises for any input: every outcome is a verdict with its reasons.
    """
    table = table_minimum(model, max_model_len)
    meets = meets_table(table, gpus, gpu_memory_gb)
    errors: list[str] = []
    notes: list[str] = []
    if not meets:
        errors.append(f"{gpus} x {gpu_memory_gb} GB is below the minimum-configuration table for "
                      f"{model.name} at {max_model_len} tokens: {table.describe()}")
    parallel = check_parallelism(model, gpus, engine)
    if not parallel.ok:
        errors.append(f"{parallel.reason}; {parallel.fix}")
        return Verdict(table, meets, parallel, None, max_model_len, tuple(errors))
    at_table_minimum = table.listed and meets and max_model_len <= NATIVE_CONTEXT
    result = fit(model, gpus, gpu_memory_gb, max_model_len, kv_fp8=kv_fp8,
                 allow_auto_fp8_kv=at_table_minimum, expert_parallel=parallel.expert_parallel, engine=engine)
    if not result.fits:
        state = f" + {result.state_gib:.1f} GiB linear-attention state" if result.state_gib else ""
        errors.append(
            f"{max_model_len} tokens do not fit {gpus} x {gpu_memory_gb} GB: per GPU {result.weights_gib:.1f} GiB weights "
            f"+ {result.kv_cache_gib:.1f} GiB KV cache{state} + {result.overhead_gib:.1f} GiB overhead > "
            f"{result.budget_gib:.1f} GiB budget; at most {result.max_len_that_fits} tokens fit"
        )
    else:
        s = result.settings
        if s.kv_cache_fp8 and not kv_fp8:
            notes.append("the KV cache is stored as FP8 so that the table's minimum configuration fits "
                         f"{max_model_len} tokens (set more GPU memory to keep it BF16)")
        if s.enforce_eager:
            notes.append("CUDA graphs are off (eager mode) to leave their memory to the KV cache; "
                         "expect lower decode throughput")
    return Verdict(table, meets, parallel, result, max_model_len, tuple(errors), tuple(notes))


GPU_SIZES_GB = (24, 48, 96)
"""Per-GPU memory of the GPU classes the table names (GU30, GU60, GU120)."""

GPU_COUNTS = (1, 2, 4, 8)


def smallest_fitting(model: Model, max_model_len: int, engine: str, *, kv_fp8: bool = False) -> Optional[tuple[int, int]]:
    """The least total GPU memory (then fewest GPUs) that passes table, parallelism and estimate."""
    grid = sorted((n * gb, n, gb) for n in GPU_COUNTS for gb in GPU_SIZES_GB)
    for _, n, gb in grid:
        if not check(model, n, gb, max_model_len, engine, kv_fp8=kv_fp8).errors:
            return n, gb
    return None


def largest_fitting_len(model: Model, gpus: int, gpu_memory_gb: int, engine: str, *, kv_fp8: bool = False) -> int:
    """The longest maxModelLen (a multiple of 1024) this configuration passes at, or 0."""
    low, high = 0, model.max_context // 1024
    while low < high:
        mid = (low + high + 1) // 2
        if check(model, gpus, gpu_memory_gb, mid * 1024, engine, kv_fp8=kv_fp8).errors:
            high = mid - 1
        else:
            low = mid
    return low * 1024
