"""From a validated stack config to one ``ServicePlan`` per service: every decision, no Pulumi.

The component, the offline plan and the policy pack all start from here. Problems across all
services are collected and raised together, before anything is registered.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Optional

from . import engines, hardware, naming, placement, service_json, sizing
from .catalog import NATIVE_CONTEXT, Model, get_model
from .engines import Features, UnsupportedFeatureError
from .errors import Findings, Problem, StackConfigError
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
    json_placement: service_json.Placement
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
    choice: Optional[placement.Choice] = None
    tool_calling: bool = False
    reasoning: bool = False
    thinking: bool = True

    @cached_property
    def service_config_json(self) -> str:
        """Exactly the string passed to ``alicloud.pai.Service`` (serialised once: the component needs it twice)."""
        return service_json.serialise(self.service_config)

    @property
    def features(self) -> dict[str, bool]:
        """What a client of the service can rely on (the smoke test checks exactly these)."""
        return {"toolCalling": self.tool_calling, "reasoning": self.reasoning, "thinking": self.thinking}

    @property
    def tags(self) -> dict[str, str]:
        """Tags on the EAS service, so anyone (and the policy pack) can tell what it runs and on what."""
        tags = {
            "model": self.model.name,
            "engine": self.engine,
            "stack": self.stack,
            "managed-by": "qwen3-eas",
            "gpus": str(self.gpus_per_replica),
            "gpu-memory-gb": str(self.gpu_memory_gb),
        }
        if self.gpu_type:
            tags["gpu-type"] = self.gpu_type
        return tags

    def summary(self) -> dict[str, Any]:
        """This service's entry in ``plan.json``."""
        return {
            "name": self.name,
            "model": self.model.name,
            "engine": self.engine,
            "engineVersion": engines.format_version(self.engine_version),
            "image": self.image,
            "region": self.region,
            "resourceKind": self.json_placement.kind,
            "instanceTypes": list(self.json_placement.instance_types),
            "gpusPerReplica": self.gpus_per_replica,
            "gpuMemoryGiB": self.gpu_memory_gb,
            "replicas": self.replicas,
            "maxModelLen": self.max_model_len,
            "servedModelName": self.served_model_name,
            "warnings": list(self.warnings),
            "explanation": list(self.explanation),
            "sizing": self.verdict.as_dict() if self.verdict else None,
            "placement": self.choice.as_dict() if self.choice else None,
        }


def _feature_warnings(spec: ServiceSpec, model: Model, out: Findings) -> None:
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


def _choose(spec: ServiceSpec, model: Model, regions: tuple[str, ...], capacity: Optional[placement.Capacity],
            pinned: Optional[str], out: Findings) -> Optional[placement.Choice]:
    """Region and instance types for one service (see ``components.core.placement``)."""
    if isinstance(spec.resource, (ResourceGroupResource, QuotaResource)):
        group = hardware.group_facts(spec, out)
        if group is None:
            return None
        region = pinned or regions[0]
        return placement.Choice(region, (group,), "dedicated", verified=False,
                                notes=("dedicated capacity: there is no public stock to probe",))

    spot = isinstance(spec.resource, SpotResource)
    listed = spec.resource.instance_types
    reported: dict[str, InstanceType] = {}
    if capacity is not None:
        for region in regions:
            stock = capacity.stock(region)
            if not isinstance(stock, placement.RegionFailure):
                for name, facts in hardware.api_facts(stock).items():
                    reported.setdefault(name, facts)
    if listed:
        types = hardware.resolve_listed(spec, reported, out)
        if out.problems:
            return None

        def candidates(region: str, metas: Sequence[Mapping[str, Any]]) -> Sequence[InstanceType]:
            return types
        unprobed = types
    else:
        def candidates(region: str, metas: Sequence[Mapping[str, Any]]) -> Sequence[InstanceType]:
            spot_capable = {str(m.get("InstanceType")) for m in metas if placement.has_spot_discount(m)}
            offered = [f for f in hardware.api_facts(metas).values() if not spot or f.name in spot_capable]
            return hardware.auto_candidates(spec, model, offered)
        unprobed = hardware.auto_candidates(spec, model, hardware.built_in_pool())
        if capacity is None and not unprobed:
            hardware.nothing_fits(spec, model, out, "the instance types we know without a capacity snapshot")
            return None

    try:
        choice = placement.choose(
            regions=regions,
            candidates=candidates,
            sizing_error=lambda t: hardware.sizing_error(spec, model, t),
            spot=spot,
            capacity=capacity,
            pinned_region=pinned,
            allow_move=spec.allow_region_move,
            unprobed=unprobed,
        )
    except placement.NoPlacementError as exc:
        out.problem("regions", "no region can run this service now:\n" + str(exc),
                    "add regions or instance types, raise the bid, or plan again when stock returns")
        return None
    if not choice.instance_types:
        hardware.nothing_fits(spec, model, out, f"the types {choice.region} offers")
        return None
    if not listed:
        out.explain.append("instance types chosen automatically (least GPU memory that passes sizing; no price list "
                           "is built in): " + ", ".join(t.name for t in choice.instance_types))
    return choice


def plan_service(stack: str, key: str, spec: ServiceSpec, default_region: Optional[str],
                 workspace_id: Optional[str], capacity: Optional[placement.Capacity] = None,
                 pinned_region: Optional[str] = None) -> tuple[Optional[ServicePlan], list[Problem]]:
    """Plan one service, or return the problems that stop it."""
    out = Findings(key)
    model = get_model(spec.model)
    regions = tuple(spec.regions or ([default_region] if default_region else []))
    if not regions:
        out.problem("regions", "no region to deploy to",
                    "set alicloud:region in the stack file, or list regions on the service")
        return None, out.problems

    choice = _choose(spec, model, regions, capacity, pinned_region, out)
    if choice is None:
        return None, out.problems
    region = choice.region
    facts = list(choice.instance_types)
    # Stock news worth a reviewer's attention; the rest is in the explanation.
    out.warnings.extend(n for n in choice.notes if "no stock" in n or "unknown:" in n)
    if choice.stock == placement.LOW_STOCK:
        out.warnings.append(f"{facts[0].name} in {region} reports low stock (ClosedWithStock)")
    json_place = hardware.json_placement(spec, [t.name for t in facts], region, out)
    where = "resource.gpus" if isinstance(spec.resource, (ResourceGroupResource, QuotaResource)) \
        else "resource.instanceTypes"

    image = spec.image or engines.default_image(spec.engine, region)
    version = None
    if image is None:
        out.problem("image", f"no {spec.engine} image is built in (its EAS image name is not published)",
                    f"set image to the {spec.engine} image Model Gallery shows for your region")
    else:
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
    verdict = hardware.size(spec, model, facts, out, where) if not out.problems else None
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
        _region_words(spec, choice, capacity),
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
        placement=json_place,
        gpus_per_replica=gpus,
        workspace_id=workspace_id,
        operations=_operations(spec),
    )
    plan = ServicePlan(
        stack=stack, key=key, name=name, model=model, engine=spec.engine, engine_version=version,
        image=image, region=region, json_placement=json_place,
        instance_facts=tuple(facts), gpus_per_replica=gpus, gpu_memory_gb=gpu_memory,
        gpu_type=facts[0].gpu_type, max_model_len=spec.max_model_len, served_model_name=served,
        replicas=spec.replicas, script=script, service_config=config, warnings=tuple(out.warnings),
        explanation=tuple(explanation), verdict=verdict, choice=choice,
        tool_calling=spec.tool_calling, reasoning=spec.reasoning, thinking=spec.thinking,
    )
    return plan, []


def _operations(spec: ServiceSpec) -> service_json.Operations:
    scale, net, roll = spec.autoscaling, spec.network, spec.rolling_strategy
    return service_json.Operations(
        max_surge=roll.max_surge,
        max_unavailable=roll.max_unavailable,
        autoscale_min=scale.min if scale else None,
        autoscale_max=scale.max if scale else None,
        autoscale_qps=scale.qps if scale else None,
        autoscale_cpu=scale.cpu if scale else None,
        vpc_id=net.vpc_id if net else None,
        vswitch_id=net.vswitch_id if net else None,
        security_group_id=net.security_group_id if net else None,
    )


def _region_words(spec: ServiceSpec, choice: placement.Choice, capacity: Optional[placement.Capacity]) -> str:
    region = choice.region
    if choice.sticky:
        return f"region {region}: the service already runs there (placements pin); it is not moved"
    if choice.stock == "dedicated":
        return f"region {region}: " + ("first of the service's regions" if spec.regions else "the stack's alicloud:region")
    if not choice.verified:
        return f"region {region}: first candidate, stock unverified (no capacity snapshot or probe)"
    skipped = len({a.region for a in choice.tried if a.region != region})
    return (f"region {region}: first with stock ({choice.stock}) per {capacity.source if capacity else 'probe'}"
            + (f", after {skipped} region(s) that could not run it" if skipped else ""))


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


def plan_stack(loaded: LoadedStack, capacity: Optional[placement.Capacity] = None) -> dict[str, ServicePlan]:
    """Plan every service of a stack; raise one ``StackConfigError`` with all problems."""
    plans: dict[str, ServicePlan] = {}
    problems: list[Problem] = []
    names: dict[str, str] = {}
    pins = loaded.config.placements
    for key in sorted(set(pins) - set(loaded.config.services)):
        problems.append(Problem(f"qwen3-eas:placements.{key}",
                                f"pins a region for {key!r}, which is not a configured service",
                                "remove the pin (the service is gone) or restore the service"))
    for key, spec in sorted(loaded.config.services.items()):
        plan, found = plan_service(loaded.name, key, spec, loaded.default_region, loaded.config.workspace_id,
                                   capacity, pins.get(key))
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
