"""Engine knowledge: default images, version from image tag, and which flag spells each feature.

Every decision about the start command is made here, in Python, so the templates only lay
flags out. Flag spellings change across engine releases; each rule below names the release
where it changed (sources: ``shared/reference/eas-and-engines.md``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Literal, Optional

from ..models.catalog import NATIVE_CONTEXT, Model

EngineName = Literal["sglang", "vllm", "bladellm"]

PORT = 8000
"""The port every engine listens on; EAS reserves 8080 and 9090."""

MODEL_DIR = "/model_dir"
"""Where the weights are mounted read-only from OSS."""

NO_THINKING_TEMPLATE = "/tmp/qwen3-no-thinking.jinja"
"""The chat template written at start when ``thinking: false``."""

Version = tuple[int, ...]

# Every rule below names the releases it was verified against. "conformance" means the line
# we render was read by that release's own parser and GPU-free checks (``make conformance``,
# docs/engines-conformance.md); "source" means the release's published source was read.
CONFORMANCE_DATE = "2026-11-25"
"""When the rules below were last run through ``make conformance``."""

# -- vLLM ----------------------------------------------------------------------------------
# The qwen3 reasoning parser first ships in 0.9.0 (source: vllm/reasoning/qwen3_reasoning_parser.py
# is absent from 0.8.5, present in 0.9.0). Before it, deepseek_r1 parses Qwen3's <think> block.
# Conformance: 0.8.5 (deepseek_r1), 0.11.2 and 0.33.0 (qwen3).
VLLM_QWEN3_REASONING_PARSER: Version = (0, 9, 0)
# --enable-reasoning: deprecated in 0.9.0, rejected from 0.10.0. Conformance: 0.8.5 accepts it
# with deepseek_r1; 0.11.2 and 0.33.0 run without it.
VLLM_ENABLE_REASONING_REJECTED: Version = (0, 10, 0)
# 0.11.1 removed --rope-scaling in favour of --hf-overrides. Conformance: 0.8.5 (--rope-scaling),
# 0.11.2 and 0.33.0 (--hf-overrides).
VLLM_HF_OVERRIDES: Version = (0, 11, 1)

# -- SGLang --------------------------------------------------------------------------------
# SGLang renamed its Qwen tool parser from qwen25 to qwen in October 2025 (sgl-project/sglang
# #11223, first in 0.5.4 as far as we could tell); qwen25 stays accepted as an alias, so the
# old name is the safe one for anything older. Conformance: 0.4.6 (qwen25), 0.5.17, 0.5.23 (qwen).
SGLANG_QWEN_TOOL_PARSER_RENAMED: Version = (0, 5, 4)
# The qwen3 reasoning parser first ships in 0.4.7 (source: ReasoningParser.DetectorMap of 0.4.6
# has deepseek-r1 only, 0.4.7 adds qwen3). Conformance: 0.4.6 (deepseek-r1), 0.5.17 (qwen3).
SGLANG_QWEN3_REASONING_PARSER: Version = (0, 4, 7)
# Expert parallelism for Qwen3-MoE (source): 0.4.6's qwen3_moe.py has no EP path at all; from
# 0.4.7 to 0.4.10 ``--enable-ep-moe`` selects EPMoE (``--ep-size`` alone leaves FusedMoE with
# tensor-parallel experts); 0.4.10.post2 deprecates --enable-ep-moe and ``--ep-size`` alone
# selects it (get_moe_impl_class in ep_moe/layer.py). Tags read 0.4.10.postN as 0.4.10, so
# --ep-size alone from 0.5.0 (--enable-ep-moe still works, deprecated, on 0.4.10.post2).
# Conformance: 0.5.2 logged "--enable-ep-moe is deprecated" (2026-12-02), so 0.5.x now gets
# --ep-size; 0.4.10 (--enable-ep-moe), 0.5.2, 0.5.17, 0.5.23 (--ep-size); 0.4.6 refused by us.
SGLANG_EP_MOE_FLAG: Version = (0, 4, 7)
SGLANG_EP_SIZE_ALONE: Version = (0, 5, 0)
# CUDA graphs off: 0.5.14 deprecates --disable-cuda-graph for --cuda-graph-backend-decode and
# --cuda-graph-backend-prefill set to ``disabled`` (source: server_args.py of 0.5.13 and 0.5.14).
# Conformance: 0.4.6 (--disable-cuda-graph), 0.5.17 and 0.5.23 (the backend flags).
SGLANG_CUDA_GRAPH_BACKENDS: Version = (0, 5, 14)
# The KV cache dtype: SGLang's --kv-cache-dtype takes fp8_e4m3 or fp8_e5m2, never plain fp8
# (source: choices in 0.4.6 through 0.5.17). e4m3 is the format Qwen's FP8 checkpoints use.
# Conformance: 0.4.6, 0.5.17, 0.5.23.
SGLANG_FP8_KV = "fp8_e4m3"
# vLLM's --kv-cache-dtype fp8 (an alias of fp8_e4m3). Conformance: 0.8.5, 0.11.2, 0.33.0.
VLLM_FP8_KV = "fp8"
# BladeLLM documents --kv_cache_quant with fp8_e4m3 among its values (Alibaba's
# "service deployment parameter configuration" page, blade_llm_server usage; eas-json-truth.md
# section 6). Not run: no BladeLLM package is public.
BLADELLM_FP8_KV = "fp8_e4m3"


@dataclass(frozen=True)
class EngineProfile:
    """What we know of one engine as EAS ships it."""

    name: EngineName
    image_repo: str
    """Repository under ``pai-eas`` in the region's EAS registry."""
    default_tag: str
    min_version: Version
    """The first release that serves Qwen3."""


# Default tags and minimum versions are conformance-checked too (make conformance runs the default,
# the minimum and the newest release on PyPI of each engine; 2026-11-25: vLLM 0.8.5, 0.11.2,
# 0.33.0 and SGLang 0.4.6, 0.5.17, 0.5.23, every matrix line accepted).
PROFILES: dict[str, EngineProfile] = {
    "vllm": EngineProfile("vllm", "vllm", "0.11.2-mows0.5.1", (0, 8, 5)),
    "sglang": EngineProfile("sglang", "sglang", "v0.5.17", (0, 4, 6)),
}
# BladeLLM is offered by Model Gallery, but its EAS image name is not published where we
# could check it: a BladeLLM service must name its image.

# Models that always think (Thinking-2507, Qwen3-Next-Thinking) have a chat template that opens
# <think> in the prompt, so their output carries only </think>. Their cards name deepseek_r1 /
# deepseek-r1 (QwenLM/Qwen3 README.md:319, :344), which reads text before </think> as reasoning;
# vLLM's qwen3 parser needs both tags (qwen3_reasoning_parser.py of 0.11.0) and would leave the
# reasoning in the content. Both parsers exist in every release we support.

# -- per-model minimums (engine -> first release) ----------------------------------------------
# Some models need a later release than PROFILES' min_version: their architecture arrived later,
# or the parser their tool calls need. Below it a service is refused with the reason.
ARCHITECTURE_MINIMUMS: dict[str, dict[str, Version]] = {
    # Qwen3-Next: vLLM's models/qwen3_next.py first ships in 0.10.2 (absent from the 0.10.1.1
    # wheel); SGLang's in 0.5.2 (absent from 0.5.1.post3). The model card: "vllm>=0.10.2",
    # "sglang>=0.5.2". Conformance: vLLM 0.11.2, 0.33.0; SGLang 0.5.17, 0.5.23.
    "qwen3_next": {"vllm": (0, 10, 2), "sglang": (0, 5, 2)},
}
FP8_ARCHITECTURE_MINIMUMS: dict[str, dict[str, Version]] = {
    # Qwen3-Next's FP8 checkpoints quantise the linear-attention input projection but not its
    # small ``ba`` part: vLLM 0.10.2 merges both into one FP8 layer and fails to load them
    # (vllm-project/vllm#25378), 0.11.0 splits them (#25079; source: qwen3_next.py of 0.10.2 and
    # 0.11.0); SGLang 0.5.2 builds the projection unquantised, 0.5.3 quantises ``in_proj_qkvz``.
    "qwen3_next": {"vllm": (0, 11, 0), "sglang": (0, 5, 3)},
}
TOOL_PARSER_MINIMUMS: dict[str, dict[str, Version]] = {
    # qwen3_coder: vLLM's qwen3coder_tool_parser.py first ships in 0.10.0 (absent from 0.9.2;
    # vllm-project/recipes Qwen/Qwen3-Coder-480B-A35B.md:3); SGLang's qwen3_coder_detector.py in
    # 0.4.9.post4 (absent from 0.4.9.post3). Image tags read every 0.4.9.postN as 0.4.9, so 0.4.10
    # is the first SGLang release we can tell has it. Conformance: vLLM 0.11.2, 0.33.0; SGLang
    # 0.5.17, 0.5.23.
    "qwen3_coder": {"vllm": (0, 10, 0), "sglang": (0, 4, 10)},
}
# What BladeLLM is known to serve: its quick start names Qwen and Llama text models
# (eas-json-truth.md section 6); nothing public says it runs Qwen3-Next's hybrid attention.
BLADELLM_ARCHITECTURES = ("qwen3", "qwen3_moe")


def default_image(engine: str, region: str) -> Optional[str]:
    """The engine's EAS image in ``region``'s registry (the VPC endpoint EAS pulls from)."""
    profile = PROFILES.get(engine)
    if profile is None:
        return None
    return f"eas-registry-vpc.{region}.cr.aliyuncs.com/pai-eas/{profile.image_repo}:{profile.default_tag}"


_TAG_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(text: str) -> Optional[Version]:
    """``(0, 11, 2)`` from ``0.11.2``, ``v0.11.2`` or an image tag like ``0.11.2-mows0.5.1``."""
    match = _TAG_VERSION.match(text)
    if not match:
        return None
    return tuple(int(part) for part in match.groups(default="0"))


DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
"""An image digest as registries print it: ``sha256:`` and 64 lowercase hex characters."""


def image_tag(image: str) -> str:
    """The tag of an image reference (what follows the last ``:`` after the last ``/``, before
    any ``@digest``); empty when the reference has none (``repo@sha256:...``)."""
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else ""


def image_digest(image: str) -> Optional[str]:
    """The ``sha256:...`` an image reference is pinned to (after ``@``), else None.

    A digest names the image's content, so what EAS pulls cannot change while the reference
    stays the same; a tag can be moved to other content at any time.
    """
    return image.split("@", 1)[1] if "@" in image else None


def image_region(image: str) -> Optional[str]:
    """The region of an EAS/ACR registry host (``...registry-vpc.<region>.cr.aliyuncs.com``)."""
    match = re.match(r"^[a-z0-9\-]*registry(?:-vpc)?\.([a-z0-9\-]+)\.cr\.aliyuncs\.com/", image)
    return match.group(1) if match else None


def format_version(version: Version) -> str:
    return ".".join(str(part) for part in version)


@dataclass(frozen=True)
class Features:
    """What the user asked the engine to do."""

    max_model_len: int
    tool_calling: bool
    reasoning: bool
    thinking: bool
    served_model_name: str
    tensor_parallel: int
    memory_fraction: float
    enforce_eager: bool = False
    kv_cache_fp8: bool = False
    expert_parallel: bool = False
    explicit_served_name: bool = False
    """The stack set servedModelName (an engine without that flag must refuse it)."""
    model: Optional[Model] = None
    """The model served (its line decides parsers, YaRN's base length and minimum releases);
    None means an April-2025 Qwen3 chat model."""


@dataclass(frozen=True)
class Launch:
    """Every value a start-command template lays out, already decided.

    ``None`` means "leave the flag out"; templates never choose a value.
    """

    engine: EngineName
    model_dir: str
    port: int
    served_model_name: str
    tensor_parallel: int
    max_model_len: int
    memory_fraction: float
    rope_scaling_json: Optional[str] = None
    rope_flag: Optional[str] = None
    tool_parser: Optional[str] = None
    reasoning_parser: Optional[str] = None
    enable_reasoning_flag: bool = False
    chat_template: Optional[str] = None
    enforce_eager: bool = False
    """CUDA graphs off; the templates spell it with the ``*_cuda_graph*`` flags below."""
    legacy_disable_cuda_graph: bool = False
    """SGLang before 0.5.14: ``--disable-cuda-graph``."""
    cuda_graph_backends_disabled: bool = False
    """SGLang from 0.5.14: ``--cuda-graph-backend-{decode,prefill} disabled``."""
    kv_cache_dtype: Optional[str] = None
    expert_parallel: bool = False
    ep_size: Optional[int] = None
    """SGLang from 0.5.3: ``--ep-size`` (equal to the tensor-parallel size)."""
    enable_ep_moe: bool = False
    """SGLang 0.4.7 to 0.5.2: ``--enable-ep-moe``."""
    notes: tuple[str, ...] = field(default=())


class UnsupportedFeatureError(ValueError):
    """A feature the chosen engine (or engine version) cannot provide; the message says why."""

    def __init__(self, field_name: str, message: str, fix: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.fix = fix


def yarn_overrides(max_model_len: int, native: int = NATIVE_CONTEXT) -> Optional[dict[str, object]]:
    """The model-config override that turns on YaRN for ``max_model_len``; ``None`` within the
    model's ``native`` length (32768, or 262144 for the later lines).

    ``max_position_embeddings`` is raised to the length asked for as well: from SGLang 0.5.x
    and vLLM 0.32 the engines no longer scale the length they derive from the config by the
    YaRN factor, so a longer ``--context-length``/``--max-model-len`` is refused unless the
    config's own length says so (conformance: SGLang 0.5.17 refused 65536 and 131072 over a
    derived 40960; vLLM 0.33.0 likewise). With ``original_max_position_embeddings`` set, YaRN's
    scaling reads the factor and the original length only, so the raised value changes no
    weights or frequencies; it is exactly ``factor x original``.
    """
    rope = yarn_rope_scaling(max_model_len, native)
    if rope is None:
        return None
    return {"rope_scaling": rope, "max_position_embeddings": max_model_len}


def yarn_rope_scaling(max_model_len: int, native: int = NATIVE_CONTEXT) -> Optional[dict[str, object]]:
    """YaRN settings for ``max_model_len``; ``None`` within the model's ``native`` length.

    YaRN is static in these engines and costs quality on short prompts, so it is only turned
    on when needed, with the smallest factor that reaches the requested length (the Qwen3-Next
    card suggests the same: factor 2 for 524288 tokens rather than its example's 4).
    """
    if max_model_len <= native:
        return None
    return {
        "rope_type": "yarn",
        "factor": max_model_len / native,
        "original_max_position_embeddings": native,
    }


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def decide_launch(engine: str, version: Version, features: Features) -> Launch:
    """Turn features into the flags ``engine`` at ``version`` accepts.

    Raises ``UnsupportedFeatureError`` for a feature that engine cannot serve.
    """
    profile = PROFILES.get(engine)
    if profile is not None and version < profile.min_version:
        raise UnsupportedFeatureError(
            "engineVersion",
            f"{engine} {format_version(version)} predates Qwen3 support "
            f"(needs {format_version(profile.min_version)} or later)",
            f"use an image of {engine} {format_version(profile.min_version)} or later",
        )
    model = features.model
    _check_model_minimums(engine, version, features)
    native = model.native_context if model is not None else NATIVE_CONTEXT
    rope = yarn_rope_scaling(features.max_model_len, native)
    overrides = yarn_overrides(features.max_model_len, native)
    thinks_always = model is not None and model.line.thinking == "always"
    coder_tools = model is not None and model.line.tool_format == "qwen3_coder"
    base = Launch(
        engine=engine,  # type: ignore[arg-type]
        model_dir=MODEL_DIR,
        port=PORT,
        served_model_name=features.served_model_name,
        tensor_parallel=features.tensor_parallel,
        max_model_len=features.max_model_len,
        memory_fraction=features.memory_fraction,
        chat_template=None if features.thinking else NO_THINKING_TEMPLATE,
        enforce_eager=features.enforce_eager,
        expert_parallel=features.expert_parallel,
        notes=_model_notes(features),
    )
    if engine == "vllm":
        new_rope = version >= VLLM_HF_OVERRIDES
        return replace(
            base,
            rope_flag=None if rope is None else ("--hf-overrides" if new_rope else "--rope-scaling"),
            # --rope-scaling takes the rope_scaling dict alone; --hf-overrides any config keys.
            rope_scaling_json=None if rope is None else _json(overrides if new_rope else rope),
            tool_parser=None if not features.tool_calling else ("qwen3_coder" if coder_tools else "hermes"),
            reasoning_parser=None if not features.reasoning else (
                "qwen3" if version >= VLLM_QWEN3_REASONING_PARSER and not thinks_always else "deepseek_r1"
            ),
            enable_reasoning_flag=features.reasoning and version < VLLM_ENABLE_REASONING_REJECTED,
            kv_cache_dtype=VLLM_FP8_KV if features.kv_cache_fp8 else None,
        )
    if engine == "sglang":
        if features.expert_parallel and version < SGLANG_EP_MOE_FLAG:
            raise UnsupportedFeatureError(
                "engine",
                f"SGLang {format_version(version)} has no expert parallelism for Qwen3-MoE (it arrived in "
                f"{format_version(SGLANG_EP_MOE_FLAG)}), and this model's FP8 expert shards at tensor parallel "
                f"{features.tensor_parallel} are not whole 128-wide blocks without it",
                f"use an SGLang image of {format_version(SGLANG_EP_MOE_FLAG)} or later, or engine: vllm",
            )
        ep_alone = version >= SGLANG_EP_SIZE_ALONE
        graph_backends = version >= SGLANG_CUDA_GRAPH_BACKENDS
        return replace(
            base,
            rope_flag=None if rope is None else "--json-model-override-args",
            rope_scaling_json=None if overrides is None else _json(overrides),
            tool_parser=None if not features.tool_calling else (
                "qwen3_coder" if coder_tools else "qwen" if version >= SGLANG_QWEN_TOOL_PARSER_RENAMED else "qwen25"
            ),
            reasoning_parser=None if not features.reasoning else (
                "qwen3" if version >= SGLANG_QWEN3_REASONING_PARSER and not thinks_always else "deepseek-r1"
            ),
            kv_cache_dtype=SGLANG_FP8_KV if features.kv_cache_fp8 else None,
            ep_size=features.tensor_parallel if features.expert_parallel and ep_alone else None,
            enable_ep_moe=features.expert_parallel and not ep_alone,
            legacy_disable_cuda_graph=features.enforce_eager and not graph_backends,
            cuda_graph_backends_disabled=features.enforce_eager and graph_backends,
        )
    # BladeLLM: its documented flags (blade_llm_server usage, eas-json-truth.md section 6) cover
    # parallelism, memory share, chat template, CUDA graphs and KV cache quantization; nothing
    # public for tool or reasoning parsing, RoPE scaling, a served name or a length limit, and
    # it has no expert parallelism, so those features are refused rather than guessed.
    if model is not None and model.native_context > NATIVE_CONTEXT \
            and features.max_model_len != model.max_position_embeddings:
        raise UnsupportedFeatureError(
            "maxModelLen",
            f"BladeLLM has no documented length flag, so it serves {model.name} at the "
            f"{model.max_position_embeddings} tokens of its config.json, not {features.max_model_len}",
            f"set maxModelLen: {model.max_position_embeddings} (sizing then checks that length), "
            "or use engine: vllm or engine: sglang",
        )
    for wanted, name, what in (
        (features.tool_calling, "toolCalling", "tool-call parsing"),
        (features.reasoning, "reasoning", "reasoning parsing"),
        (rope is not None, "maxModelLen", "YaRN long context"),
        (features.expert_parallel, "engine", "expert parallelism"),
        (features.explicit_served_name, "servedModelName", "a served model name"),
    ):
        if wanted:
            raise UnsupportedFeatureError(
                name,
                f"BladeLLM has no documented flag for {what}",
                "use engine: vllm or engine: sglang" + (", or maxModelLen <= 32768" if name == "maxModelLen" else ""),
            )
    return replace(base, kv_cache_dtype=BLADELLM_FP8_KV if features.kv_cache_fp8 else None)


def _check_model_minimums(engine: str, version: Version, features: Features) -> None:
    """Refuse a release older than the model's architecture, its FP8 checkpoint, or the tool
    parser its tool calls need."""
    model = features.model
    if model is None:
        return
    kind = model.arch.model_type
    if engine == "bladellm" and kind not in BLADELLM_ARCHITECTURES:
        raise UnsupportedFeatureError(
            "engine", f"BladeLLM is not known to serve {model.name}: its quick start names Qwen and Llama text "
            "models, and nothing public says it runs Qwen3-Next's hybrid attention",
            "use engine: vllm or engine: sglang")
    needs: list[tuple[Optional[Version], str, str]] = [
        (ARCHITECTURE_MINIMUMS.get(kind, {}).get(engine), f"{model.name}'s architecture ({kind})", ""),
    ]
    if model.fp8:
        needs.append((FP8_ARCHITECTURE_MINIMUMS.get(kind, {}).get(engine), f"{model.name}'s FP8 checkpoint", ""))
    parser = model.line.tool_format
    if features.tool_calling:
        needs.append((TOOL_PARSER_MINIMUMS.get(parser, {}).get(engine),
                      f"the {parser} tool-call parser that {model.name}'s tool calls need",
                      f", or remove toolCalling ({model.name} does not write hermes-style JSON tool calls)"))
    for minimum, what, other_fix in needs:
        if minimum is not None and version < minimum:
            raise UnsupportedFeatureError(
                "toolCalling" if other_fix else "engineVersion",
                f"{engine} {format_version(version)} predates {what} (first in {format_version(minimum)})",
                f"use an image of {engine} {format_version(minimum)} or later{other_fix}",
            )


def _model_notes(features: Features) -> tuple[str, ...]:
    """Why the model's line changed a flag, in words for the plan."""
    model = features.model
    if model is None:
        return ()
    notes = []
    if features.reasoning and model.line.thinking == "always":
        notes.append(f"{model.name} always thinks and its chat template opens <think> itself, so the output "
                     "has only the closing </think>: the DeepSeek-R1 reasoning parser reads that, as the model card says")
    if features.tool_calling and model.line.tool_format == "qwen3_coder":
        notes.append(f"{model.name} writes tool calls in Qwen3-Coder's XML format: the qwen3_coder parser reads them "
                     "(hermes would fail on them)")
    if NATIVE_CONTEXT < features.max_model_len <= model.native_context:
        notes.append(f"no YaRN: {model.name} handles {model.native_context} tokens natively")
    return tuple(notes)


def explain(launch: Launch, version: Version) -> list[str]:
    """Why each non-obvious flag is in the start command, in words for the plan."""
    ver = f"{launch.engine} {format_version(version)}"
    memory = (
        f"--mem-fraction-static {launch.memory_fraction:g}: share of each GPU for weights and KV cache, "
        "the rest left to activations and graphs"
        if launch.engine == "sglang"
        else f"memory share {launch.memory_fraction:g} of each GPU for weights, KV cache and runtime"
    )
    notes = [
        f"tensor parallel size {launch.tensor_parallel}: one rank per GPU of a replica",
        f"max length {launch.max_model_len} tokens (input + output)",
        memory,
    ]
    if launch.rope_flag is not None:
        notes.append(f"`{launch.rope_flag}` carries YaRN ({launch.rope_scaling_json}) as {ver} expects it")
    if launch.tool_parser is not None:
        notes.append(f"tool calls parsed by the `{launch.tool_parser}` parser ({ver} spelling)")
    if launch.reasoning_parser is not None:
        how = " with --enable-reasoning (needed before vLLM 0.10)" if launch.enable_reasoning_flag else ""
        notes.append(f"reasoning returned apart from the answer by the `{launch.reasoning_parser}` parser{how}")
    if launch.chat_template is not None:
        notes.append(
            "thinking off for every request: at start the model's own chat template is copied to "
            f"{launch.chat_template} with enable_thinking pinned to false"
        )
    if launch.kv_cache_dtype is not None:
        notes.append(f"KV cache stored as {launch.kv_cache_dtype} (half the memory of BF16)")
    if launch.expert_parallel:
        how = " (--enable-ep-moe, needed before SGLang 0.5)" if launch.enable_ep_moe else ""
        notes.append(f"expert parallelism on{how}: FP8 expert shards must divide into 128-wide blocks")
    if launch.enforce_eager:
        how = (" (--cuda-graph-backend-{decode,prefill} disabled: SGLang 0.5.14 deprecated --disable-cuda-graph)"
               if launch.cuda_graph_backends_disabled else "")
        notes.append(f"CUDA graphs off (eager mode) to leave their memory to the KV cache{how}")
    return notes + list(launch.notes)
