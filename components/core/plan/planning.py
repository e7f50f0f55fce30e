"""One service's plan: its stages in order, from a validated spec to a ``ServicePlan``; no Pulumi.

One service flows one way through the core, each stage a package that never calls back up:

1. ``models.model_rules``: what the model cannot do (a length past its reach, a thinking mode it
   lacks) stops the service before anything is sized;
2. ``hardware.verdict.decide``: the hardware verdict, the one way through the hardware package:
   the ordered list of types a replica may use, the region with stock, the fit of the model and
   its length, with every reason; ``service_json.placement_for`` states the placement as the
   JSON will;
3. ``engines``: the image's engine release (``launch``, ``image_checks``), then the bid
   (``bids``) and the model's costs (``model_rules.warn``), then the flags and the start script
   (``launch``, ``rendering``) from the settings sizing chose;
4. ``cost``: what the service may cost per hour;
5. ``service_json``: the service JSON, built as data, in a ``ServicePlan`` (``service_plan``).

The component, the offline plan and the policy pack all start from here; ``stack_plan`` runs it
over every service of a stack.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

from ..engines import image_checks
from ..engines import launch as engines
from ..engines.launch import Features, UnsupportedFeatureError
from ..engines.rendering import render_script
from ..errors import Findings, Problem
from ..hardware import verdict as hardware
from ..hardware.hardware_choice import RunsOn
from ..hardware.placement import Capacity
from ..hardware.sizing import EngineSettings
from ..models import model_rules
from ..models.catalog import get_model
from ..stack import naming
from ..stack.spec import ServiceSpec, SpotResource
from . import bids, service_json
from .cost import BID_CURRENCY, DEFAULT_SITE, Cost, of_service, spot_discounts
from .service_plan import ServicePlan


def official_model_path(model: str, region: str) -> str:
    """The Model Gallery's copy of ``model``'s files in ``region`` (read over the internal endpoint)."""
    return (
        f"oss://pai-quickstart-{region}.oss-{region}-internal.aliyuncs.com/"
        f"modelscope/models/{model}/main/"
    )


def plan_service(stack: str, key: str, spec: ServiceSpec, default_region: Optional[str],
                 workspace_id: Optional[str], capacity: Optional[Capacity] = None,
                 pinned_region: Optional[str] = None,
                 running_region: Optional[str] = None,
                 site: str = DEFAULT_SITE,
                 name_prefix: Optional[str] = None,
                 runs_on: Optional[RunsOn] = None) -> tuple[Optional[ServicePlan], list[Problem]]:
    """Plan one service, or return the problems that stop it.

    ``pinned_region`` (qwen3-eas:placements) wins; otherwise ``running_region``, where the EAS
    API found the service running, keeps it there exactly as a pin would, unless
    ``allowRegionMove`` is set; ``runs_on`` is what it runs on there (a service without
    ``instanceTypes`` keeps those types, ``hardware_choice``). ``site`` (qwen3-eas:cost.site)
    decides the currency and prices of the cost lines. A service with ``renamedFrom`` keeps the
    EAS name and labels of the key it was deployed under.
    """
    out = Findings(key)
    model = get_model(spec.model)
    regions = tuple(spec.regions or ([default_region] if default_region else []))
    if not regions:
        out.problem("regions", "no region to deploy to",
                    "set alicloud:region in the stack file, or list regions on the service")
        return None, out.problems
    # What the model itself cannot do (a length past its reach, a thinking mode it lacks) comes
    # first: sizing a length the model cannot serve would only bury the reason.
    model_rules.refuse(spec, model, out)
    if out.problems:
        return None, out.problems

    hw = hardware.decide(key, spec, model, regions, site=site, capacity=capacity, pinned_region=pinned_region,
                         running_region=running_region, runs_on=runs_on)
    out.extend(hw.placed)
    choice = hw.choice
    if choice is None:
        return None, out.problems
    region = choice.region
    facts = hw.instance_types
    json_place = service_json.placement_for(spec, [t.name for t in facts], region, out, BID_CURRENCY[site])

    image, version = _engine_release(spec, region, out)

    bid = bids.judge(spec.resource.bid_price, [(t.name, t.gpus, t.gpu_memory_gb) for t in facts], site) \
        if isinstance(spec.resource, SpotResource) else bids.BidVerdict()
    if bid.refusal is not None:
        out.problem("resource.bidPrice", *bid.refusal)
    elif bid.words:
        out.explain.append(bid.words)
    model_rules.warn(spec, model, out)
    # Whether the model fits comes after the image and the bid: a mistake there is named alone.
    if not out.problems:
        out.extend(hw.sized)
    verdict = hw.fit
    if out.problems or verdict is None or version is None or image is None:
        return None, out.problems

    out.warnings.extend(hw.notes)
    cost = _cost(spec, json_place, regions, hw, site)
    cost = replace(cost, warnings=cost.warnings + bid.warnings)  # loud: the stack's cost lines list them
    out.warnings.extend(cost.warnings)

    gpus = hw.gpus_per_replica
    served = spec.served_model_name or model.name
    launch = _launch(spec, version, served, gpus, hw.memory_flag(spec.engine), verdict.settings, out)
    if launch is None:
        return None, out.problems

    name = naming.service_name(stack, spec.renamed_from or key, name_prefix)
    script = render_script(launch)
    explanation = [
        hw.region_line,
        *out.explain,
        *hw.type_lines(),
        hw.sizing_line(),
        f"image {image} ({spec.engine} {engines.format_version(version)}"
        + (", version set by engineVersion)" if spec.engine_version else ", version read from the tag)"),
        (f"image pinned by digest {digest}: EAS pulls exactly this content, whatever the tag points to later"
         if (digest := engines.image_digest(image)) else
         "image not pinned by digest: EAS pulls what the tag points to when an instance starts"),
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
        cost=cost,
        stack=stack, key=key, name=name, model=model, engine=spec.engine, engine_version=version,
        image=image, region=region, json_placement=json_place,
        instance_facts=facts, gpus_per_replica=gpus, gpu_memory_gb=hw.gpu_memory_gb,
        gpu_type=hw.gpu_type, max_model_len=spec.max_model_len, served_model_name=served,
        replicas=spec.replicas, script=script, service_config=config, warnings=tuple(out.warnings),
        explanation=tuple(explanation), verdict=verdict, choice=choice,
        sources=(*hw.sources(), *bid.sources),
        tool_calling=spec.tool_calling, reasoning=spec.reasoning, thinking=spec.thinking,
        running_in=running_region, name_prefix=name_prefix, candidates=hw.candidates,
        renamed_from=spec.renamed_from, hardware_request=hw.request,
    )
    return plan, []


def _engine_release(spec: ServiceSpec, region: str,
                    out: Findings) -> tuple[Optional[str], Optional[engines.Version]]:
    """Stage 3a: the image and the engine release inside it (the flags depend on the release)."""
    image = spec.image or engines.default_image(spec.engine, region)
    if image is None:
        out.problem("image", f"no {spec.engine} image is built in (its EAS image name is not published)",
                    f"set image to the {spec.engine} image Model Gallery shows for your region")
        return None, None
    image_region = engines.image_region(image)
    if image_region is not None and image_region != region:
        out.problem("image", f"{image} is in {image_region}'s registry but the service runs in {region}",
                    f"use the {region} registry (eas-registry-vpc.{region}.cr.aliyuncs.com) or leave image out")
    version = engines.parse_version(spec.engine_version or engines.image_tag(image))
    if version is None and not engines.image_tag(image):
        # Pinned by digest alone: the digest names content, not a release, so the start
        # command's flags (which depend on the version) need the version stated.
        out.problem("engineVersion",
                    f"image {image} is pinned by digest only, so it has no tag to read the {spec.engine} "
                    "version from",
                    "set engineVersion (e.g. 0.11.2) to the engine release inside the image, or keep the tag "
                    "before the digest (repo:0.11.2@sha256:...)")
    elif version is None:
        out.problem("engineVersion",
                    f"cannot read the {spec.engine} version from image tag {engines.image_tag(image)!r}",
                    "set engineVersion (e.g. 0.11.2) to the engine release inside the image")
    image_checks.check(spec.engine, image, spec.engine_version, region, version, out)
    return image, version


def _launch(spec: ServiceSpec, version: engines.Version, served: str, gpus: int, memory_fraction: float,
            settings: EngineSettings, out: Findings) -> Optional[engines.Launch]:
    """Stage 3b: every engine flag, from the features asked for and the settings sizing chose."""
    try:
        return engines.decide_launch(
            spec.engine,
            version,
            Features(
                max_model_len=spec.max_model_len,
                tool_calling=spec.tool_calling,
                reasoning=spec.reasoning,
                thinking=spec.thinking,
                served_model_name=served,
                tensor_parallel=gpus,
                memory_fraction=memory_fraction,
                enforce_eager=settings.enforce_eager,
                kv_cache_fp8=settings.kv_cache_fp8,
                expert_parallel=settings.expert_parallel,
                explicit_served_name=spec.served_model_name is not None,
                model=get_model(spec.model),
            ),
        )
    except UnsupportedFeatureError as exc:
        out.problem(exc.field, str(exc), exc.fix)
        return None


def _cost(spec: ServiceSpec, place: service_json.Placement, regions: tuple[str, ...], hw: hardware.HardwareVerdict,
          site: str = DEFAULT_SITE) -> Cost:
    """Replicas, surge, billing entries, fallback regions and the hourly bound (``cost``); for spot,
    the discounts the stock data reports in the chosen region."""
    choice = hw.choice
    assert choice is not None
    scale = spec.autoscaling
    dedicated = (f"resource group {place.resource_group_id}" if place.kind == "resourceGroup"
                 else f"quota {place.quota_id}" if place.kind == "quota" else None)
    # A pinned service stays where it runs, and dedicated capacity has one region: no fallback.
    moves = dedicated is None and not choice.sticky
    stock = hw.region_stock if place.kind == "spot" else None
    discounts = spot_discounts(stock, place.instance_types) if stock is not None else None
    return of_service(
        kind=place.kind,
        types=place.instance_types,
        bid=place.bid_price,
        on_demand_fallback=place.on_demand_fallback,
        replicas=spec.replicas,
        autoscaling=(scale.min, scale.max) if scale else None,
        fallback_regions=[r for r in regions if r != choice.region] if moves else [],
        dedicated=dedicated,
        surge=spec.rolling_strategy.max_surge,
        site=site,
        region=choice.region,
        discounts=discounts,
    )


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
