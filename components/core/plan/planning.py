"""From a validated stack config to one ``ServicePlan`` per service: every decision, no Pulumi.

One service flows one way through the core, each stage a module that never calls back up:

1. ``hardware`` and ``hardware_choice``: the one ordered list of types a replica may run on
   (listed, chosen from the hardware table, or kept from what runs), with their GPU figures;
2. ``fitting`` (over ``sizing``): which of them fit the model and length, and how;
3. ``placement``: the first region (and types) with stock; ``service_json.placement_for``
   states it as the JSON will;
4. ``engines`` then ``rendering``: the image's engine release, the flags, the start script;
5. ``service_json``: the service JSON, built as data.

The component, the offline plan and the policy pack all start from here; ``stack_plan`` runs it
over every service of a stack.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Optional

from ..engines import image_checks
from ..engines import launch as engines
from ..engines.launch import Features, UnsupportedFeatureError
from ..engines.rendering import render_script
from ..errors import Findings, Problem
from ..hardware import capabilities, fitting, fixes, hardware_choice, placement, sizing
from ..hardware import facts as hardware
from ..hardware.hardware_choice import RunsOn
from ..hardware.instance_types import InstanceType
from ..models import model_rules
from ..models.catalog import Model, get_model
from ..running import ownership
from ..stack import naming
from ..stack.spec import PROJECT, QuotaResource, ResourceGroupResource, ServiceSpec, SpotResource
from . import bids, live_values, service_json
from .cost import BID_CURRENCY, DEFAULT_SITE, Cost, of_service, spot_discounts


def official_model_path(model: str, region: str) -> str:
    """The Model Gallery's copy of ``model``'s files in ``region`` (read over the internal endpoint)."""
    return (
        f"oss://pai-quickstart-{region}.oss-{region}-internal.aliyuncs.com/"
        f"modelscope/models/{model}/main/"
    )


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
    sources: tuple[str, ...] = field(default=())
    """Where the figures of the explanation and warnings come from: ``plan.md`` lists them apart."""
    verdict: Optional[sizing.Verdict] = None
    choice: Optional[placement.Choice] = None
    tool_calling: bool = False
    reasoning: bool = False
    thinking: bool = True
    cost: Optional[Cost] = None
    running_in: Optional[str] = None
    """The region the EAS API found this service running in before this run (None: not found,
    or not looked up). It decides how a replacement is done (``components.service``)."""
    protect: bool = False
    retain_on_delete: bool = False
    project: str = PROJECT
    """The Pulumi project: one of the ownership labels (``components.core.ownership``)."""
    name_prefix: Optional[str] = None
    draining: Optional[str] = None
    """The region of this service's old copy, kept running by a two-phase move (``drain``)."""
    drain_until: Optional[str] = None
    drain_ended: bool = False
    """The drain is over: this run deletes the old copy (``components.drain``)."""
    moved_from: Optional[str] = None
    """The region this service's current copy was moved from (the ``moved-from`` label): set by
    the run that moves it, and sent again by every later run so that no run changes the label."""
    status_seen: str = ""
    """The status the EAS API reported for this service where it runs, when that status will not
    serve by waiting (``Failed``, ``Stopped``, ...); empty otherwise. The endpoint reader then
    checks the service again and fails the run while it does not serve."""
    sent: Optional[live_values.Sent] = None
    """What is sent where it differs from what the stack builds: values kept as EAS holds them
    (``components.core.live_values``); None when nothing was looked up."""
    import_id: Optional[str] = None
    """The EAS name to take the running service back by (Pulumi's ``import`` option), when this
    stack's copy runs where the service is planned: a no-op while the state holds it, and how a
    service left outside the state (a killed run, a lost answer, ``retainOnDelete``) comes back."""
    candidates: Optional[hardware_choice.Candidates] = None
    """The ordered instance types the deploy may use, and why those (``hardware_choice``)."""
    hardware_request: Optional[str] = None
    """What the stack file asks for (``hardware_choice.request``), recorded as a label; None for dedicated capacity."""
    renamed_from: Optional[str] = None
    """The key this service was deployed under (``renamedFrom``): its EAS name and ``service`` label
    come from it, and the program aliases that key's resources to this one."""

    @property
    def identity(self) -> str:
        """The key its EAS name and ownership label are derived from."""
        return self.renamed_from or self.key

    @property
    def replacement_trigger(self) -> str:
        """What replaces the EAS service when it changes: its region, and its name once prefixed.

        Unprefixed names are the ones every earlier release registered with the region alone, so
        their trigger stays the same; setting or changing ``qwen3-eas:namePrefix`` then changes
        the name, which an in-place update could not do (EAS cannot rename a service)."""
        return f"{self.region}/{self.name}" if self.name_prefix else self.region

    @property
    def moving(self) -> bool:
        """True when the service runs in another region than the one planned: a region move."""
        return self.running_in is not None and self.running_in != self.region

    @cached_property
    def service_config_json(self) -> str:
        """The service JSON the stack builds, serialised once (what ``make plan`` shows and the
        endpoint reader compares)."""
        return service_json.serialise(self.service_config)

    @cached_property
    def sent_config_json(self) -> str:
        """Exactly the string passed to ``alicloud.pai.Service``: the stack's JSON, with what the run
        keeps as EAS holds it (``sent``)."""
        return service_json.serialise(self.sent.config) if self.sent is not None else self.service_config_json

    @property
    def sent_tags(self) -> dict[str, str]:
        """The tags passed to ``alicloud.pai.Service`` (``tags``, and labels kept as EAS holds them)."""
        return dict(self.sent.tags) if self.sent is not None else self.tags

    @property
    def features(self) -> dict[str, bool]:
        """What a client of the service can rely on (the smoke test checks exactly these)."""
        features = {"toolCalling": self.tool_calling, "reasoning": self.reasoning, "thinking": self.thinking}
        if self.model.line.thinking == "always":
            features["alwaysThinks"] = True  # no request can turn its thinking off (Thinking-2507, Next-Thinking)
        return features

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
            # Whose it is: a later run checks these before keeping a service where it is found.
            **ownership.Owner(self.project, self.stack).labels(self.identity),
        }
        if self.gpu_type:
            tags["gpu-type"] = self.gpu_type
        if self.retain_on_delete:
            tags[ownership.RETAIN_LABEL] = "true"
        moved_from = self.running_in if self.moving else self.moved_from
        if moved_from:
            tags[ownership.MOVED_FROM_LABEL] = moved_from
        if self.hardware_request is not None:
            # What the stack file asked for: a later run keeps what runs while it asks the same.
            tags[hardware_choice.REQUEST_LABEL] = self.hardware_request
        return tags

    def summary(self) -> dict[str, Any]:
        """This service's entry in ``plan.json``."""
        return {
            "name": self.name,
            "model": self.model.name,
            "engine": self.engine,
            "engineVersion": engines.format_version(self.engine_version),
            "image": self.image,
            "imageDigest": engines.image_digest(self.image),
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
            "sources": list(self.sources),
            "sizing": self.verdict.as_dict() if self.verdict else None,
            "placement": self.choice.as_dict() if self.choice else None,
            "cost": self.cost.as_dict() if self.cost else None,
            "hardware": [hardware.as_dict(t) for t in self.instance_facts],
            "instanceTypeChoice": self.candidates.as_dict() if self.candidates else None,
            "renamedFrom": self.renamed_from,
            "drainUntil": self.drain_until,
        }


def _place(spec: ServiceSpec, model: Model, regions: tuple[str, ...], capacity: Optional[placement.Capacity],
            pinned: Optional[str], out: Findings, site: str = DEFAULT_SITE,
            runs_on: Optional[RunsOn] = None) -> Optional[tuple[placement.Choice, hardware_choice.Candidates]]:
    """Stages 1 to 3: the one ordered list of types the service may use, and the region with stock.

    ``pinned`` is a pin from qwen3-eas:placements or, failing one, where the service runs now;
    ``runs_on`` what it runs on there (``hardware_choice``: a service left to the automatic choice
    keeps it).
    """
    if isinstance(spec.resource, (ResourceGroupResource, QuotaResource)):
        group = hardware.group_facts(spec, out)
        if group is None:
            return None
        region = pinned or regions[0]
        return (placement.Choice(region, (group,), "dedicated", verified=False,
                                 notes=("dedicated capacity: there is no public stock to probe",)),
                hardware_choice.Candidates(hardware_choice.DEDICATED, ()))

    picked = hardware_choice.pick(spec, model, regions, capacity, out, site, runs_on)
    if picked is None:
        return None
    spot = isinstance(spec.resource, SpotResource)
    if picked.how == hardware_choice.LISTED and capacity is not None:
        stocks = [s for s in map(capacity.stock, regions) if not isinstance(s, placement.RegionFailure)]
        if fitting.sized_out_everywhere(spec, model, list(picked.types), stocks):
            # Sizing refuses every listed type whatever the stock: the file's mistake, with its fixes.
            fitting.size(spec, model, list(picked.types), out, "resource.instanceTypes",
                         fixes.stocked_offers(capacity, regions, spot))
            return None
    try:
        choice = placement.choose(
            regions=regions,
            types=picked.types,
            sizing_error=lambda t: fitting.sizing_error(spec, model, t),
            spot=spot,
            capacity=capacity,
            pinned_region=pinned,
            allow_move=spec.allow_region_move,
        )
    except placement.NoPlacementError as exc:
        out.problem("regions", "no region can run this service now:\n" + str(exc),
                    hardware_choice.no_stock_fix(spec, model, picked, regions, capacity), stock=True)
        return None
    if not choice.instance_types:
        fitting.nothing_fits(spec, model, out, f"the types {choice.region} offers")
        return None
    out.explain.extend(picked.explain)
    if picked.how == hardware_choice.AUTOMATIC:
        unconfirmed = [t for t in choice.instance_types if t.eas_confirmed is False]
        if unconfirmed:
            out.warnings.append(hardware.unconfirmed_on_eas(unconfirmed))
    return choice, picked


def plan_service(stack: str, key: str, spec: ServiceSpec, default_region: Optional[str],
                 workspace_id: Optional[str], capacity: Optional[placement.Capacity] = None,
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

    placed = _place(spec, model, regions, capacity, pinned_region or running_region, out, site, runs_on)
    if placed is None:
        return None, out.problems
    choice, picked = placed
    region = choice.region
    facts = list(choice.instance_types)
    # Stock news worth a reviewer's attention; the rest is in the explanation.
    out.warnings.extend(n for n in choice.notes if "no stock" in n or "unknown:" in n)
    if choice.stock == placement.LOW_STOCK:
        out.warnings.append(f"{facts[0].name} in {region} reports low stock (ClosedWithStock)")
    json_place = service_json.placement_for(spec, [t.name for t in facts], region, out, BID_CURRENCY[site])
    where = "resource.gpus" if isinstance(spec.resource, (ResourceGroupResource, QuotaResource)) \
        else "resource.instanceTypes"

    image, version = _engine_release(spec, region, out)

    bid = bids.judge(spec.resource.bid_price, [(t.name, t.gpus, t.gpu_memory_gb) for t in facts], site) \
        if isinstance(spec.resource, SpotResource) else bids.BidVerdict()
    if bid.refusal is not None:
        out.problem("resource.bidPrice", *bid.refusal)
    elif bid.words:
        out.explain.append(bid.words)
    model_rules.warn(spec, model, out)
    offers = fixes.stocked_offers(capacity, regions, isinstance(spec.resource, SpotResource)) if capacity else None
    verdict = fitting.size(spec, model, facts, out, where, offers) if not out.problems else None
    if out.problems or verdict is None or version is None or image is None:
        return None, out.problems

    out.warnings.extend(capabilities.notes(model, spec.engine, [t.gpu_type for t in facts], verdict.settings.kv_cache_fp8))
    cost = _cost(spec, json_place, regions, choice, site, capacity)
    cost = replace(cost, warnings=cost.warnings + bid.warnings)  # loud: the stack's cost lines list them
    out.warnings.extend(cost.warnings)

    gpus = facts[0].gpus
    gpu_memory = min(t.gpu_memory_gb for t in facts)
    served = spec.served_model_name or model.name
    launch = _launch(spec, version, served, gpus, gpu_memory, verdict, out)
    if launch is None:
        return None, out.problems

    name = naming.service_name(stack, spec.renamed_from or key, name_prefix)
    script = render_script(launch)
    explanation = [
        _region_words(spec, choice, capacity, pinned=pinned_region is not None),
        *out.explain,
        *(hardware.describe(t) for t in facts),
        _sizing_words(verdict),
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
        instance_facts=tuple(facts), gpus_per_replica=gpus, gpu_memory_gb=gpu_memory,
        gpu_type=facts[0].gpu_type, max_model_len=spec.max_model_len, served_model_name=served,
        replicas=spec.replicas, script=script, service_config=config, warnings=tuple(out.warnings),
        explanation=tuple(explanation), verdict=verdict, choice=choice,
        sources=(*(c for c in map(hardware.source, facts) if c is not None), *bid.sources),
        tool_calling=spec.tool_calling, reasoning=spec.reasoning, thinking=spec.thinking,
        running_in=running_region, name_prefix=name_prefix, candidates=picked,
        renamed_from=spec.renamed_from, hardware_request=hardware_choice.request_of(spec),
    )
    return plan, []


def _engine_release(spec: ServiceSpec, region: str,
                    out: Findings) -> tuple[Optional[str], Optional[engines.Version]]:
    """Stage 4a: the image and the engine release inside it (the flags depend on the release)."""
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


def _launch(spec: ServiceSpec, version: engines.Version, served: str, gpus: int, gpu_memory: int,
            verdict: sizing.Verdict, out: Findings) -> Optional[engines.Launch]:
    """Stage 4b: every engine flag, from the features asked for and the settings sizing chose."""
    settings = verdict.settings
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
                memory_fraction=_engine_memory_flag(spec.engine, verdict, gpu_memory),
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


def _cost(spec: ServiceSpec, place: service_json.Placement, regions: tuple[str, ...], choice: placement.Choice,
          site: str = DEFAULT_SITE, capacity: Optional[placement.Capacity] = None) -> Cost:
    """Replicas, surge, billing entries, fallback regions and the hourly bound (``components.core.cost``);
    for spot, the discounts a capacity snapshot reports in the chosen region."""
    scale = spec.autoscaling
    dedicated = (f"resource group {place.resource_group_id}" if place.kind == "resourceGroup"
                 else f"quota {place.quota_id}" if place.kind == "quota" else None)
    # A pinned service stays where it runs, and dedicated capacity has one region: no fallback.
    moves = dedicated is None and not choice.sticky
    stock = capacity.stock(choice.region) if capacity is not None and place.kind == "spot" else None
    discounts = spot_discounts(stock, place.instance_types) if stock is not None \
        and not isinstance(stock, placement.RegionFailure) else None
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


def _region_words(spec: ServiceSpec, choice: placement.Choice, capacity: Optional[placement.Capacity],
                  pinned: bool = True) -> str:
    region = choice.region
    if choice.sticky:
        how = "placements pin" if pinned else "found there by DescribeService"
        return f"region {region}: the service already runs there ({how}); it is not moved"
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
    table = f"table minimum {verdict.table.describe()}" if verdict.table.listed else verdict.table.describe()
    state = f" + {e.state_gib:.1f} GiB linear-attention state" if e.state_gib else ""
    return (f"sizing: {table}; per GPU {e.weights_gib:.1f} GiB weights + "
            f"{e.kv_cache_gib:.1f} GiB KV cache ({verdict.max_model_len} tokens){state} + {e.overhead_gib:.1f} GiB overhead "
            f"within {e.budget_gib:.1f} GiB ({e.settings.memory_fraction:g} of the GPU); up to "
            f"{e.max_len_that_fits} tokens fit")
