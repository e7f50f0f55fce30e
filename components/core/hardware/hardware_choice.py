"""The one ordered list of instance types a service may use, and where it comes from.

Review and deploy must agree on hardware, so the list never depends on stock:

- **listed**: the stack file's ``instanceTypes``, in its order;
- **automatic**: no ``instanceTypes``; sizing's choice from the committed hardware table
  (``fitting.auto_candidates`` over ``facts.built_in_pool``), the same offline, with a capacity
  snapshot and under ``pulumi up`` with live stock;
- **kept**: the service already runs: the types its running copy lists (``DescribeService``'s
  service JSON, or a deployed stack's ``services`` output), whatever stock made of its list when it
  was created, as long as the stack file asks for the same (its ``instance-types`` label,
  ``REQUEST_LABEL``: the kind, and the automatic choice or the same listed types) and they still
  fit what it asks (model, length, KV cache). ``allowHardwareChange`` takes the list instead.

Stock then only filters the list, in order (``placement.choose``): a type out of stock is passed
over, a type not in the list is never used, and with none of them in stock the service is held
back with the reason. The tensor parallel size is the list's GPU count, so it changes only with
the list. Pure: no Pulumi, no network.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from ..errors import Findings
from ..models.catalog import Model
from ..stack.spec import PublicResource, ServiceSpec, SpotResource
from . import fitting, instance_types, placement
from .facts import api_facts, built_in_pool, resolve_listed
from .hardware_table import on_demand_price
from .instance_types import InstanceType

LISTED, AUTOMATIC, KEPT, DEDICATED = "listed", "automatic", "kept", "dedicated"

REQUEST_LABEL = "instance-types"
"""The label (a tag of the EAS service) that records what the stack file asked for: the kind and
``automatic``, or the kind and a digest of the listed types (``public-automatic``,
``spot-listed-9f86d081884c``). A later run compares it with what the file asks now: the same
request keeps the types the service runs on (whatever stock made of the list when it was created);
another one applies the new list."""


@dataclass(frozen=True)
class RunsOn:
    """What a running service's replicas run on, as its service JSON (or a deployed stack's outputs)
    says: the kind and the instance types. A service keeps them while they still fit (``pick``)."""

    kind: Optional[str]
    """``public``, ``spot`` (a bid on any entry), ``dedicated`` (a resource group or quota), or None: not said."""
    instance_types: tuple[str, ...] = ()
    """Each type once, in order (a spot service with an on-demand fallback lists its types twice)."""
    request: Optional[str] = None
    """What the stack file asked for when it was deployed (its ``instance-types`` label,
    ``request``); None where the service has no such label."""


def request(kind: str, listed: Optional[Sequence[str]]) -> str:
    """The ``instance-types`` label for a resource ``kind`` with ``listed`` types (None or empty: automatic)."""
    if not listed:
        return f"{kind}-automatic"
    digest = hashlib.sha256(json.dumps(list(listed)).encode()).hexdigest()[:12]
    return f"{kind}-listed-{digest}"


def request_of(spec: ServiceSpec) -> Optional[str]:
    """The ``instance-types`` label of a public or spot service (None for dedicated capacity)."""
    resource = spec.resource
    if not isinstance(resource, (PublicResource, SpotResource)):
        return None
    return request(resource.kind, resource.instance_types)


def _request_words(label: str) -> str:
    kind, _, how = label.partition("-")
    return f"{kind}, {'the automatic choice' if how == 'automatic' else 'listed instanceTypes'}"

_RULE = ("fewest GPUs that pass sizing, then the cheapest where the hardware table has a price, then least GPU "
         "memory, types shown on EAS first, fewest vCPUs")


@dataclass(frozen=True)
class Candidates:
    """The instance types a service may use, in order, and why these."""

    how: str
    """``listed``, ``automatic``, ``kept`` or ``dedicated``."""
    types: tuple[InstanceType, ...]
    explain: tuple[str, ...] = ()
    """Lines for the plan's explanation."""
    running: tuple[str, ...] = ()
    """The types the service runs on now, where that is known."""
    automatic: tuple[str, ...] = field(default=())
    """The automatic choice, where it is not what is used (a kept service): what allowHardwareChange would take."""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.types)

    def as_dict(self) -> dict[str, Any]:
        """``plan.json``'s ``instanceTypeChoice``."""
        return {"how": self.how, "candidates": list(self.names), "running": list(self.running) or None,
                "automatic": list(self.automatic) or None}

    def words(self) -> str:
        """The list as a reviewer reads it: ``automatic: `a` → `b```."""
        return f"{self.how}: " + " → ".join(f"`{n}`" for n in self.names)


def _reported(regions: Sequence[str], capacity: Optional[placement.Capacity]) -> dict[str, InstanceType]:
    """GPU figures of every type the snapshot (or the live probe) reports in the service's regions."""
    found: dict[str, InstanceType] = {}
    if capacity is None:
        return found
    for region in regions:
        stock = capacity.stock(region)
        if not isinstance(stock, placement.RegionFailure):
            for name, facts in api_facts(stock).items():
                found.setdefault(name, facts)
    return found


def _price(site: str, region: str) -> Callable[[str], Optional[float]]:
    def price(name: str) -> Optional[float]:
        row = on_demand_price(name, site, region)
        return row.price_per_hour if row else None
    return price


def automatic(spec: ServiceSpec, model: Model, region: str, site: str) -> list[InstanceType]:
    """The automatic choice: from the hardware table, priced for the service's first region."""
    return fitting.auto_candidates(spec, model, built_in_pool(), _price(site, region))


def pick(spec: ServiceSpec, model: Model, regions: Sequence[str], capacity: Optional[placement.Capacity],
         out: Findings, site: str, runs_on: Optional[RunsOn] = None) -> Optional[Candidates]:
    """The list this service may use (public and spot), or None with the problem in ``out``."""
    assert isinstance(spec.resource, (PublicResource, SpotResource))
    reported = _reported(regions, capacity)
    running = runs_on.instance_types if runs_on is not None else ()
    listed = spec.resource.instance_types
    fresh: list[InstanceType]
    if listed:
        fresh = resolve_listed(spec, reported, out)
        if out.problems:
            return None
    else:
        fresh = automatic(spec, model, regions[0], site)
    names = [t.name for t in fresh]
    replaced: list[str] = []
    if runs_on is not None and running and not spec.allow_hardware_change:
        kept, why = _keep(spec, model, runs_on, {**reported, **{t.name: t for t in fresh}})
        if kept is not None:
            line = (f"instance types kept: the service runs on {_names(running)}, which still fit it, and keeps them "
                    "while the stack file asks for the same (" + ("these instanceTypes" if listed else
                                                                 "the automatic choice") + "), whatever the stock"
                    + ("" if listed else " or the hardware table") + " says")
            differs = names != list(running)
            if differs and names:
                line += (f"; {'the list' if listed else 'the automatic choice'} would now give {_names(names)} (set "
                         "allowHardwareChange: true to take it" + ("" if listed else ", or list instanceTypes") + ")")
            return Candidates(KEPT, kept, (line,), tuple(running), tuple(names) if differs else ())
        replaced.append(f"the service runs on {_names(running)}, which it leaves ({why}): "
                        + ("the listed types" if listed else "the automatic choice") + " replace them (a rolling update)")
    if listed:
        return Candidates(LISTED, tuple(fresh), tuple(replaced), tuple(running))
    auto = fresh
    if not auto:
        fitting.nothing_fits(spec, model, out, "the hardware table's types", built_in_pool())
        return None
    line = (f"instance types the deploy may use, in this order: {_names(auto)}: the automatic choice from the "
            f"hardware table ({_RULE}); stock only filters this list, and with none of them in stock the service is "
            "held back, never given other hardware")
    if runs_on is not None and running and spec.allow_hardware_change and list(running) != [t.name for t in auto]:
        line += f" (allowHardwareChange: it runs on {_names(running)} now)"
    return Candidates(AUTOMATIC, tuple(auto), (*replaced, line), tuple(running))


def _keep(spec: ServiceSpec, model: Model, runs_on: RunsOn,
          known: Mapping[str, InstanceType]) -> tuple[Optional[tuple[InstanceType, ...]], str]:
    """The running types, when the stack file asks for the same and they can still serve it; else why
    not. ``known``: the figures of types the snapshot reports or the stack file lists."""
    assert isinstance(spec.resource, (PublicResource, SpotResource))
    kind = spec.resource.kind
    if runs_on.kind is not None and runs_on.kind != kind:
        return None, f"it runs as {runs_on.kind}, the stack file asks for {kind}"
    asked = request_of(spec)
    if runs_on.request is not None and asked is not None and runs_on.request != asked:
        if _request_words(runs_on.request) == _request_words(asked):
            return None, "its instanceTypes changed"
        return None, f"it was deployed for {_request_words(runs_on.request)}, the stack file asks for {_request_words(asked)}"
    listed = spec.resource.instance_types or []
    if runs_on.request is None and listed and not set(runs_on.instance_types) <= set(listed):
        return None, "it runs on types instanceTypes does not list"
    types: list[InstanceType] = []
    for name in runs_on.instance_types:
        facts = known.get(name) or instance_types.lookup(name)
        if facts is None:
            return None, f"the GPUs of {name} are unknown: {instance_types.unknown_reason(name)}"
        if instance_types.is_lingjun(name) and not isinstance(spec.resource, SpotResource):
            return None, f"{name} is a Lingjun spot type"
        why = fitting.sizing_error(spec, model, facts)
        if why:
            return None, f"{name}: {why}"
        types.append(facts)
    if len({t.gpus for t in types}) > 1:
        return None, "its types have different GPU counts"
    return tuple(types), ""


def no_stock_fix(spec: ServiceSpec, model: Model, picked: Candidates, regions: Sequence[str],
                 capacity: Optional[placement.Capacity]) -> str:
    """The fix for a service none of whose types has stock in any region: what else would fit and has stock."""
    if picked.how == LISTED:
        return "add regions or instance types, raise the bid, or plan again when stock returns"
    offered: list[InstanceType] = []
    where: dict[str, str] = {}
    spot = isinstance(spec.resource, SpotResource)
    for region in regions:
        stock = capacity.stock(region) if capacity is not None else placement.RegionFailure("")
        if isinstance(stock, placement.RegionFailure):
            continue
        for meta in stock:
            if meta.get("StockStatus") not in (placement.WITH_STOCK, placement.LOW_STOCK) or meta.get("IsAvailable") is False:
                continue
            if spot and not placement.has_spot_discount(meta):
                continue
            facts = instance_types.facts_from_api(meta)
            if facts is not None and facts.name not in picked.names and facts.name not in where:
                offered.append(facts)
                where[facts.name] = region
    fitting_offered = fitting.auto_candidates(spec, model, offered)
    what = "the types it runs on" if picked.how == KEPT else "the automatic choice (from the hardware table)"
    fix = (f"{what} has no stock in any of its regions; the deploy never picks hardware outside the reviewed list: "
           "list instanceTypes")
    if fitting_offered:
        fix += " with types that fit and have stock, e.g. " + ", ".join(
            f"{t.name} ({t.gpus} x {t.gpu_memory_gb} GB, in {where[t.name]})" for t in fitting_offered)
    else:
        fix += " (make capacity shows what your regions offer)"
    return fix + ", add regions, or run again when stock returns"


def _names(types: Sequence[Any]) -> str:
    return ", ".join(f"`{t if isinstance(t, str) else t.name}`" for t in types)
