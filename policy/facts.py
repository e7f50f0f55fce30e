"""What a service's inputs say about its model, GPUs, length and engine: the facts the policy rules judge.

Pure functions over a resource's inputs as Pulumi hands them to a policy (``serviceConfig`` as a
JSON string, ``tags`` as a map); ``read_service`` gathers them into a ``ServiceFacts``.

A hand-written service JSON says less than our plan knows, so facts are read in this order
(docs/reviewing.md, "The policy pack", has the reasoning):

- **model**: our tag ``model``; else the longest catalog name in a container's start script
  (``--served-model-name``, a model path); else in a mounted ``storage[].oss.path``.
- **GPUs per replica**: each ``cloud.computing.instances[].type`` (or ``instance_type``), read
  by ``components.instance_types.lookup``; for a resource group or quota, ``metadata.gpu`` GPUs
  of a type named by the policy config ``gpuFacts`` or the tags ``gpu-type`` /
  ``gpu-memory-gb``; ``metadata.gpu_memory`` alone is a slice of one GPU of that many GB. A type
  whose name does not say (Lingjun) needs ``gpuFacts`` or the tags ``gpus`` and ``gpu-memory-gb``.
  Nothing is guessed: what cannot be read is reported as "cannot verify" (advisory).
- **length**: ``--max-model-len`` / ``--context-length`` in the script, else the model's native
  length (32768, or 262144 for the 2507, Coder and Next models).
- **engine**: our tag ``engine``, else the script (``vllm serve``, ``sglang.launch_server``,
  ``blade_llm_server``); it only matters for BladeLLM, which has no expert parallelism.
- **region**: the resource's provider's ``region``, else the policy config ``region``, else
  ``ALICLOUD_REGION`` (what the provider itself falls back to); see ``policy.rules.resource_region``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from components.core.hardware import instance_types
from components.core.models.catalog import MODELS, NATIVE_CONTEXT, Model, find_model

GpuFacts = Mapping[str, Mapping[str, Any]]
"""Policy config ``gpuFacts``: instance type, resource group ID or quota ID -> ``gpus``,
``gpuType`` or ``gpuMemoryGiB`` (the shape of the stack file's ``instanceTypeFacts``)."""


@dataclass(frozen=True)
class GpuOption:
    """What one replica may run on: one instance type, or the group's or quota's GPUs."""

    label: str
    gpus: int
    gpu_memory_gb: int
    source: str


@dataclass(frozen=True)
class ServiceFacts:
    """What a service's inputs say about the model, its GPUs and its engine."""

    config: Optional[dict[str, Any]]
    config_error: Optional[str] = None
    model: Optional[Model] = None
    model_source: str = ""
    model_conflicts: tuple[str, ...] = ()
    engine: str = "vllm"
    max_model_len: int = NATIVE_CONTEXT
    tensor_parallel: Optional[int] = None
    kv_fp8: bool = False
    options: tuple[GpuOption, ...] = ()
    unknown_gpus: tuple[str, ...] = ()
    """Why some GPUs could not be read (each a sentence)."""


def as_mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one: a malformed input reads as absent."""
    return value if isinstance(value, Mapping) else {}


def as_sequence(value: Any) -> Sequence[Any]:
    """``value`` if it is a JSON list, else an empty one (a string is not a list of its letters)."""
    return value if isinstance(value, Sequence) and not isinstance(value, str) else ()


def parse_config(props: Mapping[str, Any]) -> tuple[Optional[dict[str, Any]], Optional[str]]:
    """The service JSON from ``serviceConfig`` (a string, or already an object), or why not."""
    raw = props.get("serviceConfig")
    if isinstance(raw, Mapping):
        return json.loads(json.dumps(dict(raw), default=_plain)), None
    if not isinstance(raw, str) or not raw.strip():
        return None, "serviceConfig is missing or empty"
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, f"serviceConfig is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    if not isinstance(parsed, dict):
        return None, "serviceConfig is JSON but not an object"
    return parsed, None


def _plain(value: Any) -> Any:
    # The policy SDK wraps nested inputs in read-only Mapping/Sequence proxies.
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Sequence):
        return list(value)
    raise TypeError(type(value).__name__)


def _tags(props: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_mapping(props.get("tags"))


def _container_text(container: Mapping[str, Any]) -> str:
    """A container's start command: ``script``, or ``command`` (a string or a list)."""
    parts: list[str] = []
    for key in ("script", "command"):
        value = container.get(key)
        if isinstance(value, str):
            parts.append(value)
        else:
            parts.extend(str(v) for v in as_sequence(value))
    return "\n".join(parts)


def containers(config: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The service JSON's ``containers`` that are objects."""
    return [c for c in as_sequence(config.get("containers")) if isinstance(c, Mapping)]


def oss_paths(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(where, path) of each OSS mount of the service JSON: ``storage[i].oss.path``."""
    found = []
    for index, mount in enumerate(as_sequence(config.get("storage"))):
        path = as_mapping(as_mapping(mount).get("oss")).get("path")
        if isinstance(path, str):
            found.append((f"storage[{index}].oss.path", path))
    return found


def _model_sources(config: Mapping[str, Any], tags: Mapping[str, Any]) -> list[tuple[str, Model]]:
    """Every place that names a catalog model, most trusted first."""
    sources: list[tuple[str, Model]] = []
    tag = tags.get("model")
    if isinstance(tag, str):
        model = MODELS.get(tag) or find_model(tag)
        if model is not None:
            sources.append(("tag `model`", model))
    for index, container in enumerate(containers(config)):
        model = find_model(_container_text(container))
        if model is not None:
            sources.append((f"containers[{index}] start command", model))
    for where, path in oss_paths(config):
        model = find_model(path)
        if model is not None:
            sources.append((where, model))
    return sources


_ENGINE_MARKERS = (
    ("vllm", re.compile(r"\bvllm\s+serve\b|vllm\.entrypoints")),
    ("sglang", re.compile(r"sglang\.launch_server|\bsglang\s+serve\b")),
    ("bladellm", re.compile(r"\bblade_llm_server\b")),
)


def _engine(script: str, tags: Mapping[str, Any]) -> str:
    tag = tags.get("engine")
    if isinstance(tag, str) and tag in ("vllm", "sglang", "bladellm"):
        return tag
    for name, pattern in _ENGINE_MARKERS:
        if pattern.search(script):
            return name
    # Unknown engine: sizing treats vLLM and SGLang alike (only BladeLLM lacks expert parallelism).
    return "vllm"


_FLAG_VALUE = r"(?:=|\s+)['\"]?"
_MAX_LEN = re.compile(r"(?<![\w-])--(?:max-model-len|max_model_len|context-length|context_length)"
                      + _FLAG_VALUE + r"(\d+(?:\.\d+)?)([kKmM]?)\b")
_TENSOR_PARALLEL = re.compile(r"(?<![\w-])(?:--tensor-parallel-size|--tensor_parallel_size|--tp-size|--tp|-tp)"
                              + _FLAG_VALUE + r"(\d+)\b")
_KV_FP8 = re.compile(r"(?<![\w-])--kv-cache-dtype" + _FLAG_VALUE + r"fp8")


def _length(script: str, model: Optional[Model]) -> int:
    """``--max-model-len`` / ``--context-length``, with vLLM's suffixes (1k = 1000, 1K = 1024);
    without either, the model's native length (262144 for the 2507, Coder and Next models, whose
    configs let the engines serve that much by default)."""
    match = _MAX_LEN.search(script)
    if match is None:
        return model.native_context if model is not None else NATIVE_CONTEXT
    number, suffix = float(match[1]), match[2]
    scale = {"": 1, "k": 1000, "K": 1024, "m": 1000**2, "M": 1024**2}[suffix]
    return int(number * scale)


def _whole(value: Any) -> Optional[int]:
    """A positive whole number (policy config numbers arrive as floats), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0 or value != int(value):
        return None
    return int(value)


def _stated_memory(stated: Mapping[str, Any]) -> Optional[int]:
    memory = _whole(stated.get("gpuMemoryGiB"))
    code = stated.get("gpuType")
    if memory is None and isinstance(code, str):
        memory = instance_types.GPU_MEMORY_GB.get(code.upper())
    return memory


def _tag_memory(tags: Mapping[str, Any]) -> Optional[int]:
    text = tags.get("gpu-memory-gb")
    if isinstance(text, str) and text.isdigit() and int(text) > 0:
        return int(text)
    code = tags.get("gpu-type")
    return instance_types.GPU_MEMORY_GB.get(code.upper()) if isinstance(code, str) else None


def _type_option(name: str, gpu_facts: GpuFacts, tags: Mapping[str, Any]) -> Optional[GpuOption]:
    """One instance type's GPUs: the policy config, then the name, then our tags."""
    known = instance_types.lookup(name)
    stated = as_mapping(gpu_facts.get(name))
    if stated:
        gpus = _whole(stated.get("gpus")) or (known.gpus if known else None)
        memory = _stated_memory(stated) or (known.gpu_memory_gb if known else None)
        if gpus and memory:
            return GpuOption(name, gpus, memory, "the policy config gpuFacts")
    if known is not None:
        return GpuOption(name, known.gpus, known.gpu_memory_gb, "its name")
    tag_gpus = tags.get("gpus")
    memory = _tag_memory(tags)
    if isinstance(tag_gpus, str) and tag_gpus.isdigit() and int(tag_gpus) > 0 and memory:
        return GpuOption(name, int(tag_gpus), memory, "the tags gpus and gpu-memory-gb")
    return None


def _instance_types(config: Mapping[str, Any]) -> list[str]:
    computing = as_mapping(as_mapping(config.get("cloud")).get("computing"))
    names = [e.get("type") for e in as_sequence(computing.get("instances")) if isinstance(e, Mapping)]
    names.append(computing.get("instance_type"))
    unique: list[str] = []
    for name in names:
        # `dedicated_resource` entries borrow the resource group's machines (metadata.gpu).
        if isinstance(name, str) and name and name != "dedicated_resource" and name not in unique:
            unique.append(name)
    return unique


def _gpu_options(config: Mapping[str, Any], tags: Mapping[str, Any],
                 gpu_facts: GpuFacts) -> tuple[list[GpuOption], list[str]]:
    """Every configuration EAS may give one replica, and what could not be read."""
    options: list[GpuOption] = []
    unknown: list[str] = []
    types = _instance_types(config)
    for name in types:
        option = _type_option(name, gpu_facts, tags)
        if option is None:
            unknown.append(f"the GPUs of instance type {name} are unknown (its name does not say and our table does "
                           f"not list it); state them in the policy config gpuFacts: "
                           f'{{"{name}": {{"gpus": N, "gpuMemoryGiB": M}}}}')
        else:
            options.append(option)
    if types:
        return options, unknown

    metadata = as_mapping(config.get("metadata"))
    resource, quota = metadata.get("resource"), metadata.get("quota_id")
    group: Optional[str] = None
    where = "the service"
    if isinstance(resource, str) and resource:
        group, where = resource, f"resource group {resource}"
    elif isinstance(quota, str) and quota:
        group, where = quota, f"quota {quota}"
    gpus = _whole(metadata.get("gpu"))
    slice_gb = _whole(metadata.get("gpu_memory"))
    if gpus:
        stated = as_mapping(gpu_facts.get(group)) if group else {}
        memory = _stated_memory(stated) if stated else None
        source = "the policy config gpuFacts"
        if memory is None:
            memory, source = _tag_memory(tags), "the tags gpu-type / gpu-memory-gb"
        if memory is None:
            unknown.append(f"{where} gives each replica metadata.gpu = {gpus} GPU(s), but nothing says which GPU; "
                           f"state it in the policy config gpuFacts "
                           f'({{"{group or "<group or quota ID>"}": {{"gpuType": "GU120"}}}}) or tag the service gpu-type')
        else:
            options.append(GpuOption(f"{where} (metadata.gpu {gpus})", gpus, memory, source))
    elif slice_gb:
        # EAS GPU sharing: gpu_memory without gpu is a slice of one GPU, all the replica may use.
        options.append(GpuOption(f"{where} (metadata.gpu_memory {slice_gb} GB, a GPU slice)", 1, slice_gb,
                                 "metadata.gpu_memory"))
    else:
        unknown.append("the service names no GPUs: no instance types, no metadata.gpu and no metadata.gpu_memory")
    return options, unknown


def read_service(props: Mapping[str, Any], gpu_facts: Optional[GpuFacts] = None) -> ServiceFacts:
    """Everything the sizing rules need from one resource's inputs."""
    config, error = parse_config(props)
    if config is None:
        return ServiceFacts(config=None, config_error=error)
    tags = _tags(props)
    script = "\n".join(_container_text(c) for c in containers(config))
    sources = _model_sources(config, tags)
    model: Optional[Model] = None
    model_source = ""
    conflicts: tuple[str, ...] = ()
    if sources:
        model_source, model = sources[0]
        conflicts = tuple(f"{where} names {other.name}" for where, other in sources[1:] if other.name != model.name)
    tp = _TENSOR_PARALLEL.search(script)
    options, unknown = _gpu_options(config, tags, gpu_facts or {})
    return ServiceFacts(
        config=config,
        model=model,
        model_source=model_source,
        model_conflicts=conflicts,
        engine=_engine(script, tags),
        max_model_len=_length(script, model),
        tensor_parallel=int(tp[1]) if tp else None,
        kv_fp8=bool(_KV_FP8.search(script)),
        options=tuple(options),
        unknown_gpus=tuple(unknown),
    )


