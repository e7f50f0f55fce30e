"""From a validated stack config to one ``ServicePlan`` per service: every decision, no Pulumi.

The component, the offline plan and the policy pack all start from here. Problems across all
services are collected and raised together, before anything is registered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from . import engines, instance_types, naming, service_json
from .catalog import NATIVE_CONTEXT, Model, get_model
from .engines import Features, UnsupportedFeatureError
from .errors import Problem, StackConfigError
from .instance_types import InstanceType
from .rendering import render_script
from .spec import QuotaResource, ResourceGroupResource, ServiceSpec, SpotResource
from .stack_config import LoadedStack

# Share of each GPU's memory the engine may claim (weights + KV cache + graphs). Set
# explicitly: defaults move between releases (vLLM 0.9 -> 0.92; SGLang's is low on small cards).
MEMORY_FRACTION = {"vllm": 0.9, "sglang": 0.85, "bladellm": 0.9}


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
        }


class _Collector:
    """Problems and warnings of one service, in the order they are found."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.problems: list[Problem] = []
        self.warnings: list[str] = []

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


def _placement(spec: ServiceSpec, region: str, out: _Collector) -> service_json.Placement:
    resource = spec.resource
    if isinstance(resource, ResourceGroupResource):
        return service_json.Placement("resourceGroup", resource_group_id=resource.resource_group_id,
                                      gpus=resource.gpus, cpu=resource.cpu, memory_gib=resource.memory_gi_b)
    if isinstance(resource, QuotaResource):
        return service_json.Placement("quota", quota_id=resource.quota_id, gpus=resource.gpus,
                                      cpu=resource.cpu, memory_gib=resource.memory_gi_b)
    types = tuple(resource.instance_types or ())
    lingjun = [t for t in types if instance_types.is_lingjun(t)]
    if isinstance(resource, SpotResource):
        if lingjun and region != instance_types.LINGJUN_SPOT_REGION:
            out.warnings.append(
                f"Lingjun spot types ({', '.join(lingjun)}) are open without a whitelist only in "
                f"{instance_types.LINGJUN_SPOT_REGION}; in {region} your account may need to be allowed first"
            )
        out.warnings.append(
            f"spot instances can be preempted; bid {resource.bid_price} per instance-hour"
            + ("" if resource.spot_protection else ", without the one-hour protection")
        )
        return service_json.Placement("spot", types, bid_price=resource.bid_price,
                                      spot_protection=resource.spot_protection,
                                      on_demand_fallback=resource.on_demand_fallback)
    if lingjun:
        out.problem("resource.kind", f"{', '.join(lingjun)} are Lingjun spot types, not public resources",
                    "use resource.kind: spot with a bidPrice (in cn-wulanchabu)")
    return service_json.Placement("public", types)


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
    else:
        if not spec.resource.instance_types:
            out.problem("resource.instanceTypes", "no instance types are listed",
                        "list one or more instance types in order of preference, e.g. [ml.gu7i.c16m60.1-gu30]")
        facts = _resolve_types(spec, out)
    placement = _placement(spec, region, out)

    image = spec.image or engines.default_image(spec.engine, region)
    image_region = engines.image_region(image)
    if image_region is not None and image_region != region:
        out.problem("image", f"{image} is in {image_region}'s registry but the service runs in {region}",
                    f"use the {region} registry (eas-registry-vpc.{region}.cr.aliyuncs.com) or leave image out")
    version = engines.parse_version(spec.engine_version or engines.image_tag(image))
    if version is None:
        out.problem("engineVersion", f"cannot read the {spec.engine} version from image tag {engines.image_tag(image)!r}",
                    "set engineVersion (e.g. 0.11.2) to the engine release inside the image")

    _feature_warnings(spec, model, out)
    if out.problems or not facts or version is None:
        return None, out.problems

    gpus = facts[0].gpus
    gpu_memory = min(t.gpu_memory_gb for t in facts)
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
                memory_fraction=MEMORY_FRACTION[spec.engine],
            ),
        )
    except UnsupportedFeatureError as exc:
        out.problem(exc.field, str(exc), exc.fix)
        return None, out.problems

    name = naming.service_name(stack, key)
    script = render_script(launch)
    explanation = [
        f"region {region}: " + ("first of the service's regions" if spec.regions else "the stack's alicloud:region"),
        *(f"`{t.name}`: {t.gpus} × {t.gpu_type or 'GPU'} ({t.gpu_memory_gb} GB each), from {_SOURCES[t.source]}"
          for t in facts),
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
        explanation=tuple(explanation),
    )
    return plan, []


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
