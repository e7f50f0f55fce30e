"""One service's hardware verdict: the one way through the hardware decision.

``decide`` takes a service (its spec and model, its regions, the stock the run knows, where and
on what it runs now) and walks this package once, in this order:

1. ``hardware_choice`` (over ``facts`` and ``hardware_table``): the one ordered list of instance
   types a replica may use (listed, chosen from the hardware table by ``fitting``, or kept from
   what runs), with their GPU figures; for dedicated capacity, the group's or quota's GPUs;
2. ``fitting`` (over ``sizing``): under a capacity snapshot, a listed list that sizing refuses
   whatever the stock is the stack file's mistake, refused with its fixes (``fixes``);
3. ``placement``: the first region whose stock has a type of the list (or where the service runs
   now), and the types of the list there;
4. ``fitting.size``: the verdict on the types chosen (the weakest's engine settings go into the
   start script), with fixes that work;
5. ``capabilities``: what the engine does on GPUs that lack what the model asks.

Nothing else in the core calls those modules to decide a service's hardware: the plan
(``components.core.plan.planning``) takes this verdict as it is. Its findings are kept per
stage, because the plan lists a service's lines in the order a reviewer reads them: where and
on what first (``placed``), then the image and the bid, then whether the model fits (``sized``),
reported only when nothing before it stopped the service. Pure: no Pulumi, no network.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from ..errors import Findings
from ..models.catalog import Model
from ..stack.spec import QuotaResource, ResourceGroupResource, ServiceSpec, SpotResource
from . import capabilities, facts, fitting, fixes, hardware_choice, placement, sizing
from .hardware_choice import Candidates, RunsOn
from .instance_types import InstanceType
from .placement import Capacity, Choice


@dataclass(frozen=True)
class HardwareVerdict:
    """What one service runs on, where, and whether the model fits it; with every reason."""

    placed: Findings
    """Stages 1 to 3 (the list and the region): problems that stop the service, warnings, and the
    explanation lines of the list."""
    sized: Findings
    """Stage 4 (the fit of the chosen types): its problems and warnings."""
    candidates: Optional[Candidates] = None
    """The ordered instance types the deploy may use, and why those (``hardware_choice``)."""
    choice: Optional[Choice] = None
    """The region and the types of the list there (``placement``); None when the service cannot be placed."""
    fit: Optional[sizing.Verdict] = None
    """Sizing's verdict on the weakest chosen type: its settings go into the start script."""
    notes: tuple[str, ...] = ()
    """What the engine does on GPUs without what the model asks (``capabilities``); empty unless it fits."""
    region_line: str = ""
    """The explanation's line on the region: why this one."""
    request: Optional[str] = None
    """What the stack file asks for (``hardware_choice.request``), recorded as a label; None for dedicated capacity."""
    region_stock: Optional[Sequence[Mapping[str, Any]]] = None
    """What the stock data reports in the chosen region (None: no data, or none readable there)."""

    @property
    def instance_types(self) -> tuple[InstanceType, ...]:
        """The chosen types, in the order EAS tries them (empty when the service cannot be placed)."""
        return self.choice.instance_types if self.choice is not None else ()

    @property
    def gpus_per_replica(self) -> int:
        """The GPUs of one replica: every chosen type has as many (the tensor parallel size)."""
        return self.instance_types[0].gpus

    @property
    def gpu_memory_gb(self) -> int:
        """The per-GPU memory the start script is sized for: the smallest of the chosen types."""
        return min(t.gpu_memory_gb for t in self.instance_types)

    @property
    def gpu_type(self) -> Optional[str]:
        return self.instance_types[0].gpu_type

    def type_lines(self) -> list[str]:
        """The explanation's line for each chosen type: its GPUs and where their figures come from."""
        return [facts.describe(t) for t in self.instance_types]

    def sources(self) -> list[str]:
        """Where the hardware table's figures of the chosen types come from, for the plan's sources."""
        return [s for s in map(facts.source, self.instance_types) if s is not None]

    def sizing_line(self) -> str:
        """The explanation's line on the fit: the table minimum and the memory per GPU."""
        verdict = self.fit
        assert verdict is not None and verdict.estimate is not None
        e = verdict.estimate
        table = f"table minimum {verdict.table.describe()}" if verdict.table.listed else verdict.table.describe()
        state = f" + {e.state_gib:.1f} GiB linear-attention state" if e.state_gib else ""
        return (f"sizing: {table}; per GPU {e.weights_gib:.1f} GiB weights + "
                f"{e.kv_cache_gib:.1f} GiB KV cache ({verdict.max_model_len} tokens){state} + {e.overhead_gib:.1f} GiB "
                f"overhead within {e.budget_gib:.1f} GiB ({e.settings.memory_fraction:g} of the GPU); up to "
                f"{e.max_len_that_fits} tokens fit")

    def memory_flag(self, engine: str) -> float:
        """The engine's memory flag for the share sizing chose.

        vLLM and BladeLLM take the share of the whole GPU; SGLang's --mem-fraction-static covers
        weights and KV cache only, so the runtime overhead is taken out of it.
        """
        assert self.fit is not None
        fraction = self.fit.settings.memory_fraction
        e = self.fit.estimate
        if engine != "sglang" or e is None:
            return fraction
        usable = sizing.usable_gib(self.gpu_memory_gb)
        room_for_overhead = math.floor((fraction - e.overhead_gib / usable) * 100) / 100
        needed_for_weights_and_kv = math.ceil((e.weights_gib + e.kv_cache_gib) / usable * 100) / 100
        # Rounding to the flag's two decimals must never cut the KV cache below one full sequence.
        return max(room_for_overhead, needed_for_weights_and_kv)


def decide(key: str, spec: ServiceSpec, model: Model, regions: Sequence[str], *, site: str,
           capacity: Optional[Capacity] = None, pinned_region: Optional[str] = None,
           running_region: Optional[str] = None, runs_on: Optional[RunsOn] = None) -> HardwareVerdict:
    """The hardware verdict of service ``key``: its list of types, its region, its fit, and why.

    ``regions`` are the service's, in order (at least one); ``site`` (``qwen3-eas:cost.site``)
    prices the automatic choice. ``capacity`` is the stock a run knows (a snapshot, the live
    probe, or None: unverified). ``pinned_region`` (``qwen3-eas:placements``) wins; otherwise
    ``running_region``, where the EAS API found the service, keeps it there unless
    ``allowRegionMove`` is set; ``runs_on`` is what it runs on there (a service left to the
    automatic choice keeps those types).
    """
    placed, sized = Findings(key), Findings(key)
    request = hardware_choice.request_of(spec)
    where = _place(spec, model, tuple(regions), capacity, pinned_region or running_region, placed, site, runs_on)
    if where is None:
        return HardwareVerdict(placed, sized, request=request)
    choice, candidates = where
    chosen = list(choice.instance_types)
    # Stock news worth a reviewer's attention; the rest is in the explanation.
    placed.warnings.extend(n for n in choice.notes if "no stock" in n or "unknown:" in n)
    if choice.stock == placement.LOW_STOCK:
        placed.warnings.append(f"{chosen[0].name} in {choice.region} reports low stock (ClosedWithStock)")
    dedicated = isinstance(spec.resource, (ResourceGroupResource, QuotaResource))
    offers = fixes.stocked_offers(capacity, regions, isinstance(spec.resource, SpotResource)) if capacity else None
    fit = fitting.size(spec, model, chosen, sized, "resource.gpus" if dedicated else "resource.instanceTypes", offers)
    notes = tuple(capabilities.notes(model, spec.engine, [t.gpu_type for t in chosen], fit.settings.kv_cache_fp8)) \
        if fit is not None and not sized.problems else ()
    stock = capacity.stock(choice.region) if capacity is not None else None
    return HardwareVerdict(
        placed, sized, candidates, choice, fit, notes,
        region_line=_region_line(spec, choice, capacity, pinned=pinned_region is not None),
        request=request,
        region_stock=None if isinstance(stock, placement.RegionFailure) else stock,
    )


def _place(spec: ServiceSpec, model: Model, regions: tuple[str, ...], capacity: Optional[Capacity],
           pinned: Optional[str], out: Findings, site: str,
           runs_on: Optional[RunsOn]) -> Optional[tuple[Choice, Candidates]]:
    """Stages 1 to 3: the one ordered list of types the service may use, and the region with stock.

    ``pinned`` is a pin from qwen3-eas:placements or, failing one, where the service runs now.
    """
    if isinstance(spec.resource, (ResourceGroupResource, QuotaResource)):
        group = facts.group_facts(spec, out)
        if group is None:
            return None
        region = pinned or regions[0]
        return (Choice(region, (group,), "dedicated", verified=False,
                       notes=("dedicated capacity: there is no public stock to probe",)),
                Candidates(hardware_choice.DEDICATED, ()))

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
            out.warnings.append(facts.unconfirmed_on_eas(unconfirmed))
    return choice, picked


def _region_line(spec: ServiceSpec, choice: Choice, capacity: Optional[Capacity], pinned: bool) -> str:
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
