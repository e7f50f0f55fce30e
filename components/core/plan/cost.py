"""What a service, and a whole stack, may cost per hour, as far as it can be known offline.

Per service: the replicas it may run (``replicas``, or autoscaling's ``min`` and ``max``), the
extra replicas a rolling update starts (``rollingStrategy.maxSurge``), the instance types EAS may
use in order with how each is billed (spot with its bid, on-demand), the regions a later plan may
fall back to, and an upper bound on the hourly cost where one is knowable.

The bound is ``price per instance-hour x instances per replica x (maximum replicas + surge)``,
with the highest price of any entry EAS may pick:

- a spot entry's price is at most its bid (``spot_price_limit``): EAS charges the market price,
  never more than the bid. The bid's currency depends on the site the account is on
  (``qwen3-eas:cost.site``): Alibaba's international documentation states it in US dollars per
  instance-hour (https://www.alibabacloud.com/help/en/pai/user-guide/parameters-of-model-services
  and https://www.alibabacloud.com/help/en/pai/use-cases/pai-eas-spot-best-practices, whose
  worked example bids "$ 0.516 per hour"); no China-site page we could read states it, so there
  the plan says "currency unconfirmed";
- an on-demand entry's price comes from the hardware table's ``data/prices.csv`` (a price of
  the stack's site, in its own currency, with its source and date) or is unknown, and one unknown
  price leaves the whole bound unknown (the spot part is still shown);
- dedicated capacity (a resource group or a quota) is billed with the group or quota, not per
  replica-hour of the service: no bound.

Every replica here is one instance (this project deploys no multi-machine services), so
``instances per replica`` is 1; it is kept in the formula so the figure reads as what it is.

The stack's bound is the sum of its services' bounds (``StackCost``); a bid above a known
on-demand price, and a stack bound above ``qwen3-eas:cost.warnAbovePerHour``, are warnings.
Amounts are written in plain decimals (``amount``), never in scientific notation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Optional, Union

from ..hardware import hardware_table

INSTANCES_PER_REPLICA = 1

INTERNATIONAL, CHINA = "international", "china"
DEFAULT_SITE = INTERNATIONAL

BID_CURRENCY: Mapping[str, Optional[str]] = {INTERNATIONAL: "USD", CHINA: None}
"""The currency of ``spot_price_limit`` per site; ``None``: no source we could read states it."""

BID_CURRENCY_SOURCE: Mapping[str, str] = {
    INTERNATIONAL: "Alibaba Cloud's international EAS docs state spot_price_limit in US dollars per instance-hour",
    CHINA: "no China-site (aliyun.com) page we could read states the currency of spot_price_limit",
}

UNCONFIRMED = "currency unconfirmed"

SPOT, ON_DEMAND = "spot", "on-demand"


def amount(value: float) -> str:
    """``value`` in plain decimals, as short as it round-trips: ``0.00001``, ``12000000``, never ``1e-05``."""
    text = format(Decimal(repr(float(value))), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def money(value: float, currency: Optional[str]) -> str:
    """``1.2 USD``, or ``1.2 (currency unconfirmed)``."""
    return f"{amount(value)} {currency}" if currency else f"{amount(value)} ({UNCONFIRMED})"


def rate(value: float, currency: Optional[str]) -> str:
    """``1.2 USD/h``, or ``1.2/h (currency unconfirmed)``."""
    return f"{amount(value)} {currency}/h" if currency else f"{amount(value)}/h ({UNCONFIRMED})"


def currency_label(site: str) -> str:
    """What the stack file's bids are in: ``USD``, or ``currency unconfirmed``."""
    return BID_CURRENCY[site] or UNCONFIRMED


@dataclass(frozen=True)
class Entry:
    """One entry EAS may place a replica on, in the order it tries them."""

    instance_type: str
    billing: str
    """``spot`` or ``on-demand``."""
    price_per_hour: Optional[float]
    """The bid for spot (an upper bound), the table's price for on-demand, or ``None``: unknown."""
    currency: Optional[str] = "USD"
    """The currency of ``price_per_hour``; ``None`` when unconfirmed."""
    price_source: str = ""
    """For a priced on-demand entry: where the price was read, and when."""
    spot_discount: Optional[float] = None
    """``SpotDiscount`` of this type in the chosen region, as the capacity snapshot reports it."""
    non_protect_spot_discount: Optional[float] = None
    """``NonProtectSpotDiscount`` likewise (spot without the one-hour protection)."""

    def as_dict(self) -> dict[str, Any]:
        price = "bidPerHour" if self.billing == SPOT else "pricePerHour"
        found: dict[str, Any] = {"type": self.instance_type, "billing": self.billing, price: self.price_per_hour,
                                 "currency": self.currency}
        if self.price_source:
            found["priceSource"] = self.price_source
        if self.spot_discount is not None:
            found["spotDiscount"] = self.spot_discount
        if self.non_protect_spot_discount is not None:
            found["nonProtectSpotDiscount"] = self.non_protect_spot_discount
        return found


@dataclass(frozen=True)
class Cost:
    """A service's replicas, billing entries, fallback regions and hourly cost bound."""

    min_replicas: int
    max_replicas: int
    entries: tuple[Entry, ...]
    fallback_regions: tuple[str, ...]
    dedicated: Optional[str] = None
    """``resource group eas-r-...`` or ``quota quota...`` for dedicated capacity, else ``None``."""
    surge: int = 0
    """Extra replicas a rolling update starts before old ones stop (``rollingStrategy.maxSurge``)."""
    site: str = DEFAULT_SITE
    warnings: tuple[str, ...] = ()
    """Cost warnings of this service (a bid above a known on-demand price)."""

    @property
    def instances(self) -> int:
        """The most instances billed at once: the most replicas plus the update surge."""
        return INSTANCES_PER_REPLICA * (self.max_replicas + self.surge)

    @property
    def spot_bound(self) -> Optional[float]:
        """The bound while only spot entries run, or ``None`` without spot entries."""
        bids = [e.price_per_hour for e in self.entries if e.billing == SPOT and e.price_per_hour is not None]
        return _bound(max(bids), self.instances) if bids else None

    @property
    def bound_currency(self) -> Optional[str]:
        """The currency of the bound (the one currency of its entries)."""
        currencies = {e.currency for e in self.entries}
        return currencies.pop() if len(currencies) == 1 else None

    @property
    def hourly_bound(self) -> Optional[float]:
        """The most the service can cost per hour, or ``None`` when some price is unknown (or they
        are in different currencies)."""
        prices = [e.price_per_hour for e in self.entries]
        if not prices or any(p is None for p in prices) or len({e.currency for e in self.entries}) > 1:
            return None
        return _bound(max(p for p in prices if p is not None), self.instances)

    def parts(self) -> str:
        """``1 instance × (6 replicas at most + 1 surge during updates)``: what the price is multiplied by."""
        replicas = f"{self.max_replicas} replica{'s' if self.max_replicas != 1 else ''} at most"
        if self.surge:
            replicas = f"({replicas} + {self.surge} surge during updates)"
        return f"{INSTANCES_PER_REPLICA} instance × {replicas}"

    def bound_words(self) -> str:
        """The bound as one phrase, with how it was reached or why there is none."""
        if self.dedicated is not None:
            return f"no hourly figure: billed with {self.dedicated}, not per replica"
        bound, spot = self.hourly_bound, self.spot_bound
        if bound is not None:
            top = max(self.entries, key=lambda e: e.price_per_hour or 0.0)
            what = "bid" if all(e.billing == SPOT for e in self.entries) else f"highest price ({top.billing})"
            return f"at most {rate(bound, self.bound_currency)} ({what} {money(top.price_per_hour or 0.0, top.currency)} " \
                   f"× {self.parts()})"
        unknown = ", ".join(sorted({f"`{e.instance_type}`" for e in self.entries if e.price_per_hour is None}))
        bid_currency = BID_CURRENCY[self.site]
        if spot is not None:
            why = (f"no sourced price for {unknown}" if unknown else
                   "its on-demand price and the bid are in different currencies")
            return (f"price unknown once the on-demand fallback runs ({why}); at most "
                    f"{rate(spot, bid_currency)} while on spot (bid × {self.parts()})")
        return f"price unknown: no sourced on-demand price for {unknown}"

    def as_dict(self) -> dict[str, Any]:
        """This service's ``cost`` entry in ``plan.json``."""
        return {
            "replicas": {"min": self.min_replicas, "max": self.max_replicas},
            "surge": self.surge,
            "instancesPerReplica": INSTANCES_PER_REPLICA,
            "instanceTypes": [e.as_dict() for e in self.entries],
            "fallbackRegions": list(self.fallback_regions),
            "site": self.site,
            "currency": self.bound_currency if self.hourly_bound is not None else BID_CURRENCY[self.site],
            "hourlyBound": self.hourly_bound,
            "spotHourlyBound": self.spot_bound,
            "summary": self.bound_words(),
            "warnings": list(self.warnings),
        }


def _bound(price: float, instances: int) -> float:
    # Rounded to a thousandth of the currency: the bid's own precision, and stable bytes.
    return round(price * instances, 3)


def surge_replicas(max_surge: Union[int, str], max_replicas: int) -> int:
    """Replicas a rolling update adds: ``maxSurge`` as a count, or its percentage of the most
    replicas rounded up (so the bound never undercounts)."""
    if isinstance(max_surge, int):
        return max_surge
    return math.ceil(max_replicas * int(max_surge.rstrip("%")) / 100)


def on_demand(types: Sequence[str], site: str = DEFAULT_SITE, region: str = "") -> tuple[Entry, ...]:
    """On-demand entries, priced from the hardware table where it has the type."""
    entries = []
    for t in types:
        row = hardware_table.on_demand_price(t, site, region)
        entries.append(Entry(t, ON_DEMAND, row.price_per_hour if row else None, row.currency if row else None,
                             f"{row.source} (read {row.seen})" if row else ""))
    return tuple(entries)


Discounts = Mapping[str, tuple[Optional[float], Optional[float]]]
"""Instance type -> (``SpotDiscount``, ``NonProtectSpotDiscount``) from a capacity snapshot."""


def spot_discounts(metas: Sequence[Mapping[str, Any]], types: Sequence[str]) -> dict[str, tuple[Optional[float],
                                                                                                 Optional[float]]]:
    """The spot discounts a DescribeMachineSpec answer reports for ``types``."""
    def number(value: Any) -> Optional[float]:
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    found: dict[str, tuple[Optional[float], Optional[float]]] = {}
    for meta in metas:
        name = str(meta.get("InstanceType"))
        if name in types and name not in found:
            found[name] = (number(meta.get("SpotDiscount")), number(meta.get("NonProtectSpotDiscount")))
    return found


def _bid_warnings(entries: Sequence[Entry], bid: Optional[float], site: str) -> tuple[str, ...]:
    """A bid above what the same type costs on demand, where that price is known in the bid's currency."""
    currency = BID_CURRENCY[site]
    found = []
    for e in entries:
        if e.billing == ON_DEMAND and bid is not None and e.price_per_hour is not None and currency \
                and e.currency == currency and bid > e.price_per_hour:
            found.append(f"the bid {rate(bid, currency)} for `{e.instance_type}` is above its on-demand price "
                         f"{rate(e.price_per_hour, e.currency)} ({e.price_source}): spot saves nothing at this bid; "
                         f"bid below {money(e.price_per_hour, e.currency)}")
    return tuple(found)


def of_service(kind: str, types: Sequence[str], bid: Optional[float], on_demand_fallback: bool,
               replicas: int, autoscaling: Optional[tuple[int, int]], fallback_regions: Sequence[str],
               dedicated: Optional[str] = None, *, surge: Union[int, str] = 0, site: str = DEFAULT_SITE,
               region: str = "", discounts: Optional[Discounts] = None) -> Cost:
    """The ``Cost`` of one service from what the plan decided.

    ``kind`` is the resource kind (``public``, ``spot``, ``resourceGroup``, ``quota``); ``types``
    the instance types in order; ``autoscaling`` its ``(min, max)`` or ``None``; ``surge`` the
    rolling strategy's ``maxSurge``; ``discounts`` what a capacity snapshot reports for the types.
    """
    low, high = autoscaling if autoscaling is not None else (replicas, replicas)
    warnings: tuple[str, ...] = ()
    if kind == "spot":
        discounts = discounts or {}
        spot = tuple(Entry(t, SPOT, bid, BID_CURRENCY[site], spot_discount=discounts.get(t, (None, None))[0],
                           non_protect_spot_discount=discounts.get(t, (None, None))[1]) for t in types)
        # Without a fallback the on-demand prices still tell whether the bid makes sense.
        priced = on_demand(types, site, region)
        warnings = _bid_warnings(priced, bid, site)
        entries = spot + (priced if on_demand_fallback else ())
    elif kind == "public":
        entries = on_demand(types, site, region)
    else:
        entries = ()
    return Cost(low, high, entries, tuple(fallback_regions), dedicated,
                surge=surge_replicas(surge, high) if entries else 0, site=site, warnings=warnings)


@dataclass(frozen=True)
class StackCost:
    """The stack's hourly bound: the sum of its services' bounds, with what is left out and why."""

    services: Mapping[str, Cost]
    site: str = DEFAULT_SITE
    warn_above: Optional[float] = None
    """``qwen3-eas:cost.warnAbovePerHour``: a bound above it is a warning."""
    held_back: tuple[str, ...] = field(default=())

    @property
    def _billed(self) -> dict[str, Cost]:
        return {k: c for k, c in sorted(self.services.items()) if c.dedicated is None and c.entries}

    @property
    def currency(self) -> Optional[str]:
        currencies = {c.bound_currency for c in self._billed.values() if c.hourly_bound is not None}
        currencies |= {BID_CURRENCY[self.site] for c in self._billed.values() if c.hourly_bound is None}
        return currencies.pop() if len(currencies) == 1 else BID_CURRENCY[self.site]

    @property
    def mixed_currencies(self) -> bool:
        return len({c.bound_currency for c in self._billed.values() if c.hourly_bound is not None}
                   | ({BID_CURRENCY[self.site]} if any(c.hourly_bound is None for c in self._billed.values()) else set())) > 1

    @property
    def total(self) -> Optional[float]:
        """The most the whole stack can cost per hour, or ``None`` when a service's bound is unknown."""
        bounds = [c.hourly_bound for c in self._billed.values()]
        if not bounds or any(b is None for b in bounds) or self.mixed_currencies:
            return None
        return round(sum(b for b in bounds if b is not None), 3)

    @property
    def while_on_spot(self) -> Optional[float]:
        """The stack's bound while every service whose full bound is unknown runs on spot."""
        parts = [c.hourly_bound if c.hourly_bound is not None else c.spot_bound for c in self._billed.values()]
        if not parts or any(p is None for p in parts) or self.mixed_currencies:
            return None
        return round(sum(p for p in parts if p is not None), 3)

    @property
    def unknown(self) -> tuple[str, ...]:
        """Services whose bound is unknown."""
        return tuple(k for k, c in self._billed.items() if c.hourly_bound is None)

    @property
    def unpriced(self) -> tuple[str, ...]:
        """Services with no figure at all: no bound, and no spot part either."""
        return tuple(k for k, c in self._billed.items() if c.hourly_bound is None and c.spot_bound is None)

    @property
    def _known_parts(self) -> dict[str, float]:
        """Each service's known figure: its bound, else its bound while on spot."""
        parts = {k: c.hourly_bound if c.hourly_bound is not None else c.spot_bound for k, c in self._billed.items()}
        return {k: v for k, v in parts.items() if v is not None}

    @property
    def known_part(self) -> Optional[float]:
        """The sum of what is known when the whole is not: the services with a figure (a spot part
        counting while that service runs on spot); ``None`` when nothing is known or currencies mix."""
        parts = self._known_parts
        if self.total is not None or not parts or self.mixed_currencies:
            return None
        return round(sum(parts.values()), 3)

    @property
    def dedicated(self) -> tuple[str, ...]:
        return tuple(k for k, c in sorted(self.services.items()) if c.dedicated is not None)

    def words(self) -> str:
        """The stack's bound as one phrase: the figure and its parts, or why there is none."""
        total, spot, currency = self.total, self.while_on_spot, self.currency
        if not self._billed:
            head = "no hourly figure: no service is billed per instance-hour"
        elif total is not None:
            head = f"at most {rate(total, currency)} (" + " + ".join(
                f"`{k}` {amount(c.hourly_bound or 0.0)}" for k, c in self._billed.items()) + ")"
        elif self.mixed_currencies:
            head = "unknown: the services' bounds are in different currencies"
        else:
            head = "unknown: no sourced price for the on-demand types of " + ", ".join(f"`{k}`" for k in self.unknown)
            parts = " + ".join(f"`{k}` {amount(v)}" for k, v in self._known_parts.items())
            on_spot = [k for k in self.unknown if k not in self.unpriced]
            if spot is not None:
                head += f"; at most {rate(spot, currency)} while they run on spot ({parts})"
            elif self.known_part is not None:
                # Some services have no figure at all: the rest is still known, and said.
                while_spot = f" while {', '.join(f'`{k}`' for k in on_spot)} run{'s' if len(on_spot) == 1 else ''} " \
                    "on spot" if on_spot else ""
                head += f"; the rest at most {rate(self.known_part, currency)}{while_spot} ({parts})"
        extra = []
        if self.dedicated:
            extra.append("billed with their resource group or quota: " + ", ".join(f"`{k}`" for k in self.dedicated))
        if self.held_back:
            extra.append("not deployed this run, so not counted: " + ", ".join(f"`{k}`" for k in self.held_back))
        return head + "".join(f"; {e}" for e in extra)

    def over_limit(self) -> Optional[str]:
        """The warning for a stack bound above ``warnAbovePerHour`` (the known part, when the bound is unknown)."""
        figure, how = (self.total, "at most") if self.total is not None else (
            self.while_on_spot if self.while_on_spot is not None else self.known_part, "at least")
        if self.warn_above is None or figure is None or figure <= self.warn_above:
            return None
        return (f"the stack may cost {how} {rate(figure, self.currency)} counting the surge during updates, above "
                f"qwen3-eas:cost.warnAbovePerHour {rate(self.warn_above, self.currency)}")

    @property
    def warnings(self) -> tuple[str, ...]:
        """The services' cost warnings, then the stack's bound against ``warnAbovePerHour``."""
        found = [f"`{k}`: {w}" for k, c in sorted(self.services.items()) for w in c.warnings]
        limit = self.over_limit()
        return (*found, limit) if limit else tuple(found)

    def as_dict(self) -> dict[str, Any]:
        """The stack's cost, as the program exports it (``cost``) and ``plan.stack.json`` holds it."""
        return {
            "site": self.site,
            "currency": self.currency,
            "hourlyBound": self.total,
            "whileOnSpot": self.while_on_spot,
            "unknown": list(self.unknown),
            "knownPart": self.known_part,
            "unpriced": list(self.unpriced),
            "dedicated": list(self.dedicated),
            "heldBack": list(self.held_back),
            "services": {k: c.hourly_bound for k, c in self._billed.items()},
            "warnAbovePerHour": self.warn_above,
            "summary": self.words(),
            "warnings": list(self.warnings),
        }
