"""What a service may cost per hour, as far as it can be known offline: the reviewer's figure.

Per service: the replicas it may run (``replicas``, or autoscaling's ``min`` and ``max``), the
instance types EAS may use in order with how each is billed (spot with its bid, on-demand), the
regions a later plan may fall back to, and an upper bound on the hourly cost where one is
knowable.

The bound is ``price per instance-hour x instances per replica x maximum replicas``, with the
highest price of any entry EAS may pick:

- a spot entry's price is at most its bid (``spot_price_limit``): EAS charges the market price,
  never more than the bid. Alibaba's international documentation states the bid in US dollars
  per instance-hour (https://www.alibabacloud.com/help/en/pai/user-guide/parameters-of-model-services
  and https://www.alibabacloud.com/help/en/pai/use-cases/pai-eas-spot-best-practices, whose
  worked example bids "$ 0.516 per hour"); the China site's currency is not confirmed;
- an on-demand entry's price comes from ``ON_DEMAND_USD_PER_HOUR`` or is unknown, and one
  unknown price leaves the whole bound unknown (the spot part is still shown);
- dedicated capacity (a resource group or a quota) is billed with the group or quota, not per
  replica-hour of the service: no bound.

Every replica here is one instance (this project deploys no multi-machine services), so
``instances per replica`` is 1; it is kept in the formula so the figure reads as what it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

BID_CURRENCY = "USD"
"""The currency EAS documents for ``spot_price_limit`` (see the module docstring)."""

INSTANCES_PER_REPLICA = 1

ON_DEMAND_USD_PER_HOUR: Mapping[str, tuple[float, str]] = {}
"""Instance type -> (US dollars per instance-hour, "source, date seen") of on-demand EAS prices.

Empty on purpose. As of 2026-11-25 no public list of EAS pay-as-you-go prices per instance
type could be sourced: Alibaba's EAS billing pages send readers to the console's price
calculator, and the spot best-practice page's "$ 2.58 per hour" names no instance type.
A price added here must name its page and the date it was read; until then on-demand types
show "price unknown".
"""

SPOT, ON_DEMAND = "spot", "on-demand"


@dataclass(frozen=True)
class Entry:
    """One entry EAS may place a replica on, in the order it tries them."""

    instance_type: str
    billing: str
    """``spot`` or ``on-demand``."""
    price_per_hour: Optional[float]
    """The bid for spot (an upper bound), the table's price for on-demand, or ``None``: unknown."""

    def as_dict(self) -> dict[str, Any]:
        price = "bidPerHour" if self.billing == SPOT else "pricePerHour"
        return {"type": self.instance_type, "billing": self.billing, price: self.price_per_hour}


@dataclass(frozen=True)
class Cost:
    """A service's replicas, billing entries, fallback regions and hourly cost bound."""

    min_replicas: int
    max_replicas: int
    entries: tuple[Entry, ...]
    fallback_regions: tuple[str, ...]
    dedicated: Optional[str] = None
    """``resource group eas-r-...`` or ``quota quota...`` for dedicated capacity, else ``None``."""

    @property
    def spot_bound(self) -> Optional[float]:
        """The bound while only spot entries run, or ``None`` without spot entries."""
        bids = [e.price_per_hour for e in self.entries if e.billing == SPOT and e.price_per_hour is not None]
        return _bound(max(bids), self.max_replicas) if bids else None

    @property
    def hourly_bound(self) -> Optional[float]:
        """The most the service can cost per hour, or ``None`` when some price is unknown."""
        prices = [e.price_per_hour for e in self.entries]
        if not prices or any(p is None for p in prices):
            return None
        return _bound(max(p for p in prices if p is not None), self.max_replicas)

    def bound_words(self) -> str:
        """The bound as one phrase, with how it was reached or why there is none."""
        if self.dedicated is not None:
            return f"no hourly figure: billed with {self.dedicated}, not per replica"
        bound, spot = self.hourly_bound, self.spot_bound
        if bound is not None:
            top = max(e.price_per_hour for e in self.entries if e.price_per_hour is not None)
            what = "bid" if all(e.billing == SPOT for e in self.entries) else "highest price"
            return f"at most {_money(bound)}/h ({what} {_money(top)} × {INSTANCES_PER_REPLICA} instance × " \
                   f"{self.max_replicas} replicas at most)"
        unknown = ", ".join(sorted({f"`{e.instance_type}`" for e in self.entries if e.price_per_hour is None}))
        if spot is not None:
            return (f"price unknown once the on-demand fallback runs (no sourced price for {unknown}); at most "
                    f"{_money(spot)}/h while on spot (bid × {INSTANCES_PER_REPLICA} instance × "
                    f"{self.max_replicas} replicas at most)")
        return f"price unknown: no sourced on-demand price for {unknown}"

    def as_dict(self) -> dict[str, Any]:
        """This service's ``cost`` entry in ``plan.json``."""
        return {
            "replicas": {"min": self.min_replicas, "max": self.max_replicas},
            "instancesPerReplica": INSTANCES_PER_REPLICA,
            "instanceTypes": [e.as_dict() for e in self.entries],
            "fallbackRegions": list(self.fallback_regions),
            "currency": BID_CURRENCY,
            "hourlyBound": self.hourly_bound,
            "spotHourlyBound": self.spot_bound,
            "summary": self.bound_words(),
        }


def _bound(price: float, max_replicas: int) -> float:
    # Rounded to a thousandth of the currency: the bid's own precision, and stable bytes.
    return round(price * INSTANCES_PER_REPLICA * max_replicas, 3)


def _money(value: Optional[float]) -> str:
    return f"{value:g} {BID_CURRENCY}" if value is not None else "unknown"


def on_demand(types: Sequence[str]) -> tuple[Entry, ...]:
    """On-demand entries, priced from the table where it has the type."""
    return tuple(Entry(t, ON_DEMAND, ON_DEMAND_USD_PER_HOUR[t][0] if t in ON_DEMAND_USD_PER_HOUR else None)
                 for t in types)


def of_service(kind: str, types: Sequence[str], bid: Optional[float], on_demand_fallback: bool,
               replicas: int, autoscaling: Optional[tuple[int, int]], fallback_regions: Sequence[str],
               dedicated: Optional[str] = None) -> Cost:
    """The ``Cost`` of one service from what the plan decided.

    ``kind`` is the resource kind (``public``, ``spot``, ``resourceGroup``, ``quota``); ``types``
    the instance types in order; ``autoscaling`` its ``(min, max)`` or ``None``.
    """
    low, high = autoscaling if autoscaling is not None else (replicas, replicas)
    if kind == "spot":
        entries = tuple(Entry(t, SPOT, bid) for t in types) + (on_demand(types) if on_demand_fallback else ())
    elif kind == "public":
        entries = on_demand(types)
    else:
        entries = ()
    return Cost(low, high, entries, tuple(fallback_regions), dedicated)
