"""From a validated stack config to one ``ServicePlan`` per service: every decision, no Pulumi.

The component, the offline plan and the policy pack all start from here. Problems across all
services are collected and raised together, before anything is registered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

from . import engines, instance_types, naming, service_json, sizing
from .catalog import NATIVE_CONTEXT, Model, get_model
from .engines import Features, UnsupportedFeatureError
from .errors import Problem, StackConfigError
from .instance_types import InstanceType
from .rendering import render_script
from .spec import QuotaResource, ResourceGroupResource, ServiceSpec, SpotResource
from .stack_config import LoadedStack


def official_model_path(model: str, region: str) -> str:
    """The Model Gallery's copy of ``model``'s files in ``region`` (read over the internal endpoint)."""
    return (
        f"oss://pai-quickstart-{region}.oss-{region}-internal.aliyuncs.com/"
        f"modelscope/models/{model}/main/"
    )


_SOURCES = {
    "name": "its name",
    "table": "our table of types",
    "user": "the stack file",
    "api": "the EAS API",
}


@dataclass(frozen=True)
class ServicePlan:
    """Everything decided about one service; what the component deploys and the plan shows."""

    stack: str
    key: str
    name: str
    model: Model
    engine: str
    engine_version: engines.Version
    image: str
    region: str
    candidate_regions: tuple[str, ...]
    placement: service_json.Placement
    instance_facts: tuple[InstanceType, ...]
    gpus_per_replica: int
    gpu_memory_gb: int
    gpu_type: Optional[str]
    max_model_len: int
    served_model_name: str
    replicas: int
    script: str
    service_config: dict[str, Any]
    warnings: tuple[str, ...] = field(default=())
    explanation: tuple[str, ...] = field(default=())
    verdict: Optional[sizing.Verdict] = None

    @property
    def service_config_json(self) -> str:
        """Exactly the string passed to ``alicloud.pai.Service``."""
        return service_json.serialise(self.service_config)

    @property
    def tags(self) -> dict[str, str]:
        """Tags on the EAS service, so anyone (and the policy pack) can tell what it runs."""
        return {
            "model": self.model.name,
            "engine": self.engine,
            "stack": self.stack,
            "managed-by": "qwen3-eas",
        }

    def summary(self) -> dict[str, Any]:
        """This service's entry in ``plan.json``."""
        return {
            "name": self.name,
            "model": self.model.name,
            "engine": self.engine,
            "engineVersion": engines.format_version(self.engine_version),
            "image": self.image,
            "region": self.region,
            "resourceKind": self.placement.kind,
            "instanceTypes": list(self.placement.instance_types),
            "gpusPerReplica": self.gpus_per_replica,
            "gpuMemoryGiB": self.gpu_memory_gb,
            "replicas": self.replicas,
            "maxModelLen": self.max_model_len,
            "servedModelName": self.served_model_name,
            "warnings": list(self.warnings),
            "explanation": list(self.explanation),
            "sizing": self.verdict.as_dict() if self.verdict else None,
        }


class _Collector:
    """Problems and warnings of one service, in the order they are found."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.problems: list[Problem] = []
        self.warnings: list[str] = []
        self.explain: list[str] = []

    def problem(self, field_name: str, message: str, fix: str) -> None:
        self.problems.append(Problem(field_name, message, fix, self.key))


def _resolve_types(spec: ServiceSpec, out: _Collector) -> list[InstanceType]:
    resource = spec.resource
    assert not isinstance(resource, (ResourceGroupResource, QuotaResource))
    resolved: list[InstanceType] = []
    for index, type_name in enumerate(resource.instance_types or []):
        facts = resource.instance_type_facts.get(type_name)
        known = instance_types.lookup(type_name)
        if facts is not None:
            try:
                known = instance_types.with_override(known, type_name, facts.gpus, facts.gpu_type, facts.gpu_memory_gi_b)
            except ValueError as exc:
                out.problem(f"resource.instanceTypeFacts.{type_name}", str(exc), "add gpuMemoryGiB for this type")
                continue
        if known is None:
            out.problem(
                f"resource.instanceTypes[{index}]",
                f"the GPUs of {type_name!r} are unknown (its name does not follow "
                "ml.<family>.c<vCPU>m<GB>.<n>-<gpu code> and it is not in our table)",
                f"state them: resource.instanceTypeFacts: {{{type_name}: {{gpus: N, gpuType: GU60}}}}",
            )
            continue
        resolved.append(known)
    counts = sorted({t.gpus for t in resolved})
    if len(counts) > 1:
        out.problem(
            "resource.instanceTypes",
            "the listed types have different GPU counts "
            + ", ".join(f"{t.name}={t.gpus}" for t in resolved)
            + "; the start command's tensor parallel size must fit every type EAS may pick",
            "list only types with the same number of GPUs",
        )
    return resolved


def _group_facts(spec: ServiceSpec, out: _Collector) -> Optional[InstanceType]:
    resource = spec.resource
    assert isinstance(resource, (ResourceGroupResource, QuotaResource))
    try:
        label = resource.resource_group_id if isinstance(resource, ResourceGroupResource) else resource.quota_id
        return instance_types.with_override(None, label, resource.gpus, resource.gpu_type,
                                            resource.gpu_memory_gi_b)
    except ValueError:
        out.problem("resource.gpuType", f"per-GPU memory of {resource.gpu_type!r} is unknown",
                    "use a known GPU code (GU30, GU60, GU120, ...) or add resource.gpuMemoryGiB")
        return None


def _placement(spec: ServiceSpec, types: list[str], region: str, out: _Collector) -> service_json.Placement:
    resource = spec.resource
    if isinstance(resource, ResourceGroupResource):
        return service_json.Placement("resourceGroup", resource_group_id=resource.resource_group_id,
                                      gpus=resource.gpus, cpu=resource.cpu, memory_gib=resource.memory_gi_b)
    if isinstance(resource, QuotaResource):
        return service_json.Placement("quota", quota_id=resource.quota_id, gpus=resource.gpus,
                                      cpu=resource.cpu, memory_gib=resource.memory_gi_b)
    lingjun = [t for t in types if instance_types.is_lingjun(t)]
    if isinstance(resource, SpotResource):
        if lingjun and region != instance_types.LINGJUN_SPOT_REGION:
            out.warnings.append(
                f"Lingjun spot types ({', '.join(lingjun)}) are open without a whitelist only in "
                f"{instance_types.LINGJUN_SPOT_REGION}; in {region} your account may need to be allowed first"
            )
        out.warnings.append(
            f"spot instances can be preempted; bid {resource.bid_price:g} per instance-hour"
            + ("" if resource.spot_protection else ", without the one-hour protection")
        )
        return service_json.Placement("spot", tuple(types), bid_price=resource.bid_price,
                                      spot_protection=resource.spot_protection,
                                      on_demand_fallback=resource.on_demand_fallback)
    if lingjun:
        out.problem("resource.kind", f"{', '.join(lingjun)} are Lingjun spot types, not public resources",
                    "use resource.kind: spot with a bidPrice (in cn-wulanchabu)")
    return service_json.Placement("public", tuple(types))


def _feature_warnings(spec: ServiceSpec, model: Model, out: _Collector) -> None:
    if spec.max_model_len > NATIVE_CONTEXT:
        factor = spec.max_model_len / NATIVE_CONTEXT
        out.warnings.append(
            f"maxModelLen {spec.max_model_len} turns on YaRN (factor {factor:g}); "
            "static YaRN can lower quality on short prompts"
        )
        if not model.yarn_documented:
            out.warnings.append(f"the Qwen team documents YaRN for 4B and larger only; {model.name} is tested at 32768")
    if model.base:
        asked = [n for n, v in (("toolCalling", spec.tool_calling), ("reasoning", spec.reasoning),
                               ("thinking: false", not spec.thinking)) if v]
        if asked:
            out.warnings.append(f"{model.name} is a Base model (not chat-tuned): {', '.join(asked)} may not behave")


def _size(spec: ServiceSpec, model: Model, facts: list[InstanceType], out: _Collector,
          where: str) -> Optional[sizing.Verdict]:
    """Check every type EAS may pick; return the verdict of the weakest (its settings go in the script)."""
    kv_fp8 = spec.kv_cache_dtype == "fp8"
    verdicts = [(t, sizing.check(model, t.gpus, t.gpu_memory_gb, spec.max_model_len, spec.engine, kv_fp8=kv_fp8))
                for t in facts]
    notes: dict[str, list[str]] = {}
    for index, (t, verdict) in enumerate(verdicts):
        field_name = where if len(facts) == 1 or where != "resource.instanceTypes" else f"{where}[{index}]"
        if not verdict.meets_table:
            out.problem(field_name, f"{t.name} ({t.gpus} x {t.gpu_memory_gb} GB) is below the minimum-configuration "
                        f"table for {model.name}: {verdict.table.describe()}",
                        f"use at least {verdict.table.gpus} GPU(s) of {verdict.table.gpu_memory_gb} GB or more per replica"
                        + _example_type(verdict.table))
            continue
        if not verdict.parallelism.ok:
            out.problem(field_name, verdict.parallelism.reason, verdict.parallelism.fix)
            continue
        if verdict.errors:
            fix = _estimate_fix(spec, model, t)
            if spec.sizing.strict:
                out.problem("maxModelLen", f"{t.name}: {verdict.errors[-1]}", fix)
            else:
                out.warnings.append(f"{t.name}: {verdict.errors[-1]} (sizing.strict is false; {fix})")
        for note in verdict.notes:
            notes.setdefault(note, []).append(t.name)
    out.warnings.extend(f"{', '.join(types)}: {note}" for note, types in notes.items())
    if not verdicts:
        return None
    return min(verdicts, key=lambda pair: (pair[0].gpu_memory_gb, pair[0].name))[1]


def _example_type(minimum: sizing.TableMinimum) -> str:
    for name in instance_types.BUILT_IN_CANDIDATES:
        t = instance_types.lookup(name)
        if t and sizing.meets_table(minimum, t.gpus, t.gpu_memory_gb):
            return f" (e.g. {name})"
    return ""


def _estimate_fix(spec: ServiceSpec, model: Model, t: InstanceType) -> str:
    kv_fp8 = spec.kv_cache_dtype == "fp8"
    fits = sizing.largest_fitting_len(model, t.gpus, t.gpu_memory_gb, spec.engine, kv_fp8=kv_fp8)
    parts = [f"set maxModelLen to {fits} or less" if fits else "no length fits this configuration"]
    if not kv_fp8 and not sizing.check(model, t.gpus, t.gpu_memory_gb, spec.max_model_len, spec.engine,
                                       kv_fp8=True).errors:
        parts.append("or set kvCacheDtype: fp8 (halves the KV cache)")
    smallest = sizing.smallest_fitting(model, spec.max_model_len, spec.engine, kv_fp8=kv_fp8)
    if smallest is not None:
        parts.append(f"or use {smallest[0]} x {smallest[1]} GB GPUs per replica, the smallest configuration that fits "
                     f"{spec.max_model_len} tokens")
    return ", ".join(parts)


def _auto_choose(spec: ServiceSpec, model: Model, out: _Collector) -> list[InstanceType]:
    """Instance types sizing accepts, cheapest first, when the stack lists none.

    No public price list could be sourced, so "cheapest" is least total GPU memory, then
    fewest GPUs, then fewest vCPUs. Up to three types with the same GPU count are kept, so
    EAS can fall back between them when one is out of stock.
    """
    kv_fp8 = spec.kv_cache_dtype == "fp8"
    passing: list[InstanceType] = []
    for name in instance_types.BUILT_IN_CANDIDATES:
        t = instance_types.lookup(name)
        if t and not sizing.check(model, t.gpus, t.gpu_memory_gb, spec.max_model_len, spec.engine, kv_fp8=kv_fp8).errors:
            passing.append(t)
    passing.sort(key=lambda t: (t.total_gpu_memory_gb, t.gpus, t.vcpus or 0, not t.name.startswith("ml."), t.name))
    if not passing:
        smallest = sizing.smallest_fitting(model, spec.max_model_len, spec.engine, kv_fp8=kv_fp8)
        need = f"{smallest[0]} x {smallest[1]} GB GPUs" if smallest else "more GPU memory than any known configuration"
        out.problem("resource.instanceTypes",
                    f"none of the instance types we know without a capacity snapshot fits {model.name} at "
                    f"{spec.max_model_len} tokens (it needs {need} per replica)",
                    "list instanceTypes that have them, or plan with --capacity to choose from your region's types")
        return []
    chosen = [t for t in passing if t.gpus == passing[0].gpus][:3]
    out.explain.append("instance types chosen automatically (least GPU memory that passes sizing; no price list "
                       "is built in): " + ", ".join(t.name for t in chosen))
    return chosen


def plan_service(stack: str, key: str, spec: ServiceSpec, default_region: Optional[str],
                 workspace_id: Optional[str]) -> tuple[Optional[ServicePlan], list[Problem]]:
    """Plan one service, or return the problems that stop it."""
    out = _Collector(key)
    model = get_model(spec.model)
    regions = tuple(spec.regions or ([default_region] if default_region else []))
    if not regions:
        out.problem("regions", "no region to deploy to",
                    "set alicloud:region in the stack file, or list regions on the service")
        return None, out.problems
    region = regions[0]
    if len(regions) > 1:
        out.warnings.append(
            f"fallback regions {', '.join(regions[1:])} are not probed yet; deploying to {region}"
        )

    if isinstance(spec.resource, (ResourceGroupResource, QuotaResource)):
        group = _group_facts(spec, out)
        facts: list[InstanceType] = [group] if group else []
        where = "resource.gpus"
    elif spec.resource.instance_types:
        facts = _resolve_types(spec, out)
        where = "resource.instanceTypes"
    else:
        facts = _auto_choose(spec, model, out)
        where = "resource.instanceTypes"
    placement = _placement(spec, [t.name for t in facts], region, out)

    image = spec.image or engines.default_image(spec.engine, region)
    if image is None:
        out.problem("image", f"no {spec.engine} image is built in (its EAS image name is not published)",
                    f"set image to the {spec.engine} image Model Gallery shows for your region")
    version = None
    if image is not None:
        image_region = engines.image_region(image)
        if image_region is not None and image_region != region:
            out.problem("image", f"{image} is in {image_region}'s registry but the service runs in {region}",
                        f"use the {region} registry (eas-registry-vpc.{region}.cr.aliyuncs.com) or leave image out")
        version = engines.parse_version(spec.engine_version or engines.image_tag(image))
        if version is None:
            out.problem("engineVersion",
                        f"cannot read the {spec.engine} version from image tag {engines.image_tag(image)!r}",
                        "set engineVersion (e.g. 0.11.2) to the engine release inside the image")

    _feature_warnings(spec, model, out)
    verdict = _size(spec, model, facts, out, where) if facts and not out.problems else None
    if out.problems or verdict is None or version is None or image is None:
        return None, out.problems

    gpus = facts[0].gpus
    gpu_memory = min(t.gpu_memory_gb for t in facts)
    settings = verdict.settings
    served = spec.served_model_name or model.name
    try:
        launch = engines.decide_launch(
            spec.engine,
            version,
            Features(
                max_model_len=spec.max_model_len,
                tool_calling=spec.tool_calling,
                reasoning=spec.reasoning,
                thinking=spec.thinking,
                served_model_name=served,
                tensor_parallel=gpus,
                memory_fraction=_engine_memory_flag(spec.engine, verdict, gpu_memory),
                enforce_eager=settings.enforce_eager,
                kv_cache_fp8=settings.kv_cache_fp8,
                expert_parallel=settings.expert_parallel,
                explicit_served_name=spec.served_model_name is not None,
            ),
        )
    except UnsupportedFeatureError as exc:
        out.problem(exc.field, str(exc), exc.fix)
        return None, out.problems

    name = naming.service_name(stack, key)
    script = render_script(launch)
    explanation = [
        f"region {region}: " + ("first of the service's regions" if spec.regions else "the stack's alicloud:region"),
        *out.explain,
        *(f"`{t.name}`: {t.gpus} × {t.gpu_type or 'GPU'} ({t.gpu_memory_gb} GB each), from {_SOURCES[t.source]}"
          for t in facts),
        _sizing_words(verdict),
        f"image {image} ({spec.engine} {engines.format_version(version)}"
        + (", version set by engineVersion)" if spec.engine_version else ", version read from the tag)"),
        *engines.explain(launch, version),
    ]
    config = service_json.build(
        name=name,
        replicas=spec.replicas,
        image=image,
        script=script,
        model_path=spec.model_path or official_model_path(model.name, region),
        placement=placement,
        gpus_per_replica=gpus,
        workspace_id=workspace_id,
    )
    plan = ServicePlan(
        stack=stack, key=key, name=name, model=model, engine=spec.engine, engine_version=version,
        image=image, region=region, candidate_regions=regions, placement=placement,
        instance_facts=tuple(facts), gpus_per_replica=gpus, gpu_memory_gb=gpu_memory,
        gpu_type=facts[0].gpu_type, max_model_len=spec.max_model_len, served_model_name=served,
        replicas=spec.replicas, script=script, service_config=config, warnings=tuple(out.warnings),
        explanation=tuple(explanation), verdict=verdict,
    )
    return plan, []


def _engine_memory_flag(engine: str, verdict: sizing.Verdict, gpu_memory_gb: int) -> float:
    """The engine's memory flag for the share sizing chose.

    vLLM and BladeLLM take the share of the whole GPU; SGLang's --mem-fraction-static covers
    weights and KV cache only, so the runtime overhead is taken out of it.
    """
    fraction = verdict.settings.memory_fraction
    e = verdict.estimate
    if engine != "sglang" or e is None:
        return fraction
    usable = sizing.usable_gib(gpu_memory_gb)
    room_for_overhead = math.floor((fraction - e.overhead_gib / usable) * 100) / 100
    needed_for_weights_and_kv = math.ceil((e.weights_gib + e.kv_cache_gib) / usable * 100) / 100
    # Rounding to the flag's two decimals must never cut the KV cache below one full sequence.
    return max(room_for_overhead, needed_for_weights_and_kv)


def _sizing_words(verdict: sizing.Verdict) -> str:
    e = verdict.estimate
    assert e is not None
    return (f"sizing: table minimum {verdict.table.describe()}; per GPU {e.weights_gib:.1f} GiB weights + "
            f"{e.kv_cache_gib:.1f} GiB KV cache ({verdict.max_model_len} tokens) + {e.overhead_gib:.1f} GiB overhead "
            f"within {e.budget_gib:.1f} GiB ({e.settings.memory_fraction:g} of the GPU); up to "
            f"{e.max_len_that_fits} tokens fit")


def plan_stack(loaded: LoadedStack) -> dict[str, ServicePlan]:
    """Plan every service of a stack; raise one ``StackConfigError`` with all problems."""
    plans: dict[str, ServicePlan] = {}
    problems: list[Problem] = []
    names: dict[str, str] = {}
    for key, spec in sorted(loaded.config.services.items()):
        plan, found = plan_service(loaded.name, key, spec, loaded.default_region, loaded.config.workspace_id)
        problems.extend(found)
        if plan is None:
            continue
        clash = names.get(plan.name)
        if clash is not None:
            problems.append(Problem("(service key)", f"services {clash!r} and {key!r} map to the same EAS name {plan.name!r}",
                                    "rename one of the service keys", key))
        names[plan.name] = key
        plans[key] = plan
    if problems:
        raise StackConfigError(loaded.name, problems)
    return plans
