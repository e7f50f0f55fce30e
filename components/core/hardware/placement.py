"""Region fallback: choose the first region (and instance type) that can run a service.

Pure: the stock comes in as data (a capacity snapshot, or what the live probe answered),
sizing comes in as a function, and the answer says what was tried and why each try failed.

- Regions are walked in order, and in each the service's instance types in order (one list,
  the same everywhere: stock filters it, never adds to it); the first type that passes sizing
  and has stock wins with that region (``WithStock``; ``ClosedWithStock``
  is taken too and reported as low stock; ``NoStock`` is not).
- Spot: a type without a spot discount does not support spot in that region.
- A service that already runs somewhere stays there (sticky placement) unless moving is
  explicitly allowed: a stock change must never recreate a running service elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from .instance_types import InstanceType, facts_from_api

WITH_STOCK = "WithStock"
LOW_STOCK = "ClosedWithStock"
NO_STOCK = "NoStock"

@dataclass(frozen=True)
class RegionFailure:
    """A region whose stock could not be read: why, in words."""

    reason: str


RegionStock = Union[Sequence[Mapping[str, Any]], RegionFailure]
"""What is known of one region: DescribeMachineSpec's ``InstanceMetas``, or why we have none."""


@dataclass(frozen=True)
class Capacity:
    """Stock of the regions a run asked about, keyed by region ID."""

    regions: Mapping[str, RegionStock]
    source: str
    """Where it came from, for the plan (a snapshot file name, or ``live DescribeMachineSpec``)."""

    def stock(self, region: str) -> RegionStock:
        return self.regions.get(region, RegionFailure(f"not in {self.source}: treated as unreachable"))


@dataclass(frozen=True)
class Attempt:
    """One (region, instance type) that was considered and passed over."""

    region: str
    instance_type: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"region": self.region, "instanceType": self.instance_type, "reason": self.reason}


@dataclass(frozen=True)
class Choice:
    """Where a service goes, and the history of how that was decided."""

    region: str
    instance_types: tuple[InstanceType, ...]
    stock: str
    """``WithStock``, ``ClosedWithStock``, ``unknown`` (nothing probed) or ``dedicated``."""
    verified: bool
    tried: tuple[Attempt, ...] = ()
    sticky: bool = False
    notes: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "instanceType": self.instance_types[0].name if self.instance_types else None,
            "stock": self.stock,
            "verified": self.verified,
            "tried": [a.as_dict() for a in self.tried],
        }


class NoPlacementError(Exception):
    """No region can run the service; ``tried`` says why for each region and type."""

    def __init__(self, tried: Sequence[Attempt]) -> None:
        self.tried = tuple(tried)
        super().__init__(failure_table(self.tried))


def failure_table(tried: Sequence[Attempt]) -> str:
    """The tries as a text table: region, instance type, reason."""
    rows = [("region", "instance type", "reason")] + [(a.region, a.instance_type, a.reason) for a in tried]
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    return "\n".join(f"  {r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]}" for r in rows)


SizingCheck = Callable[[InstanceType], Optional[str]]
"""Returns why a type cannot run the service (sizing), or None when it can."""


def has_spot_discount(meta: Mapping[str, Any]) -> bool:
    """True when the API reports a spot discount for the type: only then can it run as spot."""
    return any(meta.get(k) not in (None, "", 0) for k in ("SpotDiscount", "NonProtectSpotDiscount"))


def choose(
    *,
    regions: Sequence[str],
    types: Sequence[InstanceType],
    sizing_error: SizingCheck,
    spot: bool,
    capacity: Optional[Capacity],
    pinned_region: Optional[str] = None,
    allow_move: bool = False,
) -> Choice:
    """Walk regions and ``types`` in order; the first that can run the service wins.

    ``types`` is the one ordered list the service may use, the same in every region and with or
    without stock (the listed types, the automatic choice from the hardware table, or the types
    a running service keeps): stock only filters it, in order. Without stock the first region
    is taken, unverified, with all of them.
    """
    if pinned_region is not None and not allow_move:
        return _stay(pinned_region, types, sizing_error, capacity)
    if capacity is None:
        return Choice(regions[0], tuple(types), "unknown", verified=False,
                      notes=("no capacity snapshot and no live probe: first region taken, stock unverified",))
    tried: list[Attempt] = []
    for region in regions:
        stock = capacity.stock(region)
        if isinstance(stock, RegionFailure):
            tried.append(Attempt(region, "*", stock.reason))
            continue
        by_type = {str(m.get("InstanceType")): m for m in stock}
        viable: list[tuple[InstanceType, str]] = []
        for t in types:
            reason, status = _judge(t, by_type.get(t.name), sizing_error, spot)
            if reason is not None:
                tried.append(Attempt(region, t.name, reason))
            if reason is None or status == NO_STOCK:
                # Out-of-stock types that could run the service stay as EAS's later fallbacks.
                viable.append((_with_api_facts(t, by_type[t.name]), status))
        with_stock = [pair for pair in viable if pair[1] in (WITH_STOCK, LOW_STOCK)]
        if with_stock:
            winner, status = with_stock[0]
            # Keep the other types that can run it here as EAS's own in-region fallbacks.
            rest = tuple(t for t, _ in viable if t.name != winner.name and t.gpus == winner.gpus)
            return Choice(region, (winner, *rest), status, verified=True, tried=tuple(tried))
    raise NoPlacementError(tried)


def _judge(t: InstanceType, meta: Optional[Mapping[str, Any]], sizing_error: SizingCheck,
           spot: bool) -> tuple[Optional[str], str]:
    """(why this type is passed over, or None; its stock status)."""
    if meta is None:
        return "not offered in this region", ""
    if meta.get("IsAvailable") is False:
        return "not available for sale", ""
    facts = _with_api_facts(t, meta)
    why = sizing_error(facts)
    if why:
        return f"sizing: {why}", ""
    if spot and not has_spot_discount(meta):
        return "no spot discount reported: spot not supported for this type here", ""
    status = str(meta.get("StockStatus") or "")
    if status == NO_STOCK:
        return "no stock", status
    if status not in (WITH_STOCK, LOW_STOCK):
        return f"stock status {status or 'missing'} not understood", status
    return None, status


def _with_api_facts(t: InstanceType, meta: Mapping[str, Any]) -> InstanceType:
    api = facts_from_api(meta)
    return api if api is not None else t


def _stay(region: str, types: Sequence[InstanceType], sizing_error: SizingCheck,
          capacity: Optional[Capacity]) -> Choice:
    """A running service keeps its region; stock there is reported, never acted on."""
    note = (f"already placed in {region}: kept there even if stock changed "
            "(set allowRegionMove: true on the service to let it move)")
    if capacity is None:
        return Choice(region, tuple(types), "unknown", verified=False, sticky=True, notes=(note,))
    stock = capacity.stock(region)
    if isinstance(stock, RegionFailure):
        return Choice(region, tuple(types), "unknown", verified=False, sticky=True,
                      notes=(note, f"stock in {region} unknown: {stock.reason}"))
    by_type = {str(m.get("InstanceType")): m for m in stock}
    found = [_with_api_facts(t, by_type[t.name]) if t.name in by_type else t for t in types]
    statuses = [str(by_type.get(t.name, {}).get("StockStatus") or "") for t in found]
    status = next((s for s in statuses if s in (WITH_STOCK, LOW_STOCK)), NO_STOCK)
    notes = [note]
    if status == NO_STOCK:
        notes.append(f"{region} reports no stock for these types now: EAS keeps retrying; the service is not moved")
    usable = [t for t in found if not sizing_error(t)] or found
    return Choice(region, tuple(usable), status, verified=True, sticky=True, notes=tuple(notes))
