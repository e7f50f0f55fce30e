"""Whether a spot bid is a price at all: a hard limit per GPU class, and a plausible line below it.

A spot bid (``bidPrice``, sent as ``spot_price_limit``) is the most EAS may charge per
instance-hour; the plan's cost bound is the bid times the instances. A bid of 100000 USD is no
price anybody pays for one instance: a typo (zeros), a monthly figure, another currency. Nothing
in EAS refuses it, so the plan and the policy pack do, with this module.

No Alibaba on-demand price per instance type could be confirmed (``data/prices.csv`` is empty),
so the yardstick is what the same class of GPU lists at on demand on other public clouds
(``data/gpu_list_prices.csv``, each row with its offer, source and date). A GPU's class is its
memory: the yardstick of a GPU of ``M`` GB is the dearest list price per GPU-hour of any GPU in
the file with at most ``M`` GB (a GPU smaller than all of them gets the smallest's), so that a
larger GPU is never held to a cheaper figure than a smaller one. For an instance of ``n`` GPUs:

- **plausible**: ``n`` x the yardstick. Spot never costs more than the type's own on-demand
  price (PAI's spot page for DSW instances: the price "does not exceed the pay-as-you-go price for
  the same instance type"), and no list price we read is above this, so a bid above it caps
  nothing: a loud warning;
- **hard limit**: ``CEILING_MULTIPLE`` x plausible. Above it the bid is refused.

On the China site the bid's currency is unconfirmed (``cost.BID_CURRENCY``): should it be yuan,
at about 7 to the US dollar, both lines are ``YUAN_FACTOR`` times higher there.

A service's bid applies to every type it lists, so a bid is judged against the dearest of them:
refused only above the highest hard limit, warned about for each type it outbids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

from ..hardware import hardware_table
from .cost import BID_CURRENCY, CHINA, amount, rate

CEILING_MULTIPLE = 10
"""The hard limit is this many times the plausible line: no list price we read comes near it."""

YUAN_FACTOR = 8
"""On the China site both lines are this many times higher, in case bids there are in yuan."""

LIST_PRICES_FILE = "components/core/data/gpu_list_prices.csv"


@dataclass(frozen=True)
class Yardstick:
    """What one instance type's GPUs are measured against."""

    instance_type: str
    gpus: int
    gpu_memory_gb: int
    reference: hardware_table.GpuListPrice
    site: str

    @property
    def _factor(self) -> int:
        return YUAN_FACTOR if self.site == CHINA else 1

    @property
    def plausible(self) -> float:
        """The most a bid for one instance of this type plausibly is."""
        return round(self.reference.usd_per_gpu_hour * self.gpus * self._factor, 3)

    @property
    def ceiling(self) -> float:
        """Above this a bid for one instance of this type is refused."""
        return round(self.plausible * CEILING_MULTIPLE, 3)

    def what(self) -> str:
        return f"`{self.instance_type}` ({self.gpus} × {self.gpu_memory_gb} GB)"

    def basis(self, offer: bool = True) -> str:
        """How the plausible line is reached, and (``offer``) the offer its figure comes from."""
        r = self.reference
        yuan = f" × {YUAN_FACTOR} in case the bid is in yuan (its currency on the China site is unconfirmed)" \
            if self._factor != 1 else ""
        where = f"{r.gpu} {r.memory_gb} GB, {r.offer}; {LIST_PRICES_FILE}" if offer else f"{r.gpu} {r.memory_gb} GB"
        return (f"{self.gpus} GPU{'s' if self.gpus != 1 else ''} × {amount(r.usd_per_gpu_hour)} USD per GPU-hour"
                f"{yuan}, the dearest on-demand list price we have for a GPU of up to {self.gpu_memory_gb} GB "
                f"({where})")

    def source(self) -> str:
        """The reference's source in full, for a plan's sources section."""
        r = self.reference
        return f"bid limits, {r.gpu} {r.memory_gb} GB list price: {r.offer}; {r.source}, read {r.seen} ({LIST_PRICES_FILE})"


def reference(gpu_memory_gb: int) -> hardware_table.GpuListPrice:
    """The yardstick row of a GPU with ``gpu_memory_gb`` GB (see the module's docstring)."""
    rows = hardware_table.load_gpu_list_prices()
    within = [r for r in rows if r.memory_gb <= gpu_memory_gb] or [rows[0]]
    return max(within, key=lambda r: (r.usd_per_gpu_hour, r.memory_gb))


def yardstick(instance_type: str, gpus: int, gpu_memory_gb: int, site: str) -> Yardstick:
    return Yardstick(instance_type, gpus, gpu_memory_gb, reference(gpu_memory_gb), site)


@dataclass(frozen=True)
class BidVerdict:
    """A bid judged: refused (what and how to fix it), or passed with warnings."""

    refusal: Optional[tuple[str, str]] = None
    """(what is wrong, the fix) when the bid is above every type's hard limit."""
    warnings: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    """Where the figures used come from, for a plan's sources section."""
    words: str = ""
    """The lines the bid was held to, for the plan's explanation."""


def judge(bid: float, types: Sequence[tuple[str, int, int]], site: str) -> BidVerdict:
    """``bid`` (per instance-hour, in the site's bid currency) against ``types``, each
    ``(instance type, GPUs, GB per GPU)``; nothing to judge without types."""
    if not types:
        return BidVerdict()
    sticks = [yardstick(name, gpus, memory, site) for name, gpus, memory in types]
    currency = BID_CURRENCY[site]
    top = max(sticks, key=lambda s: (s.ceiling, s.instance_type))
    sources = tuple(sorted({s.source() for s in sticks}))
    if bid > top.ceiling:
        dearest = "" if len(sticks) == 1 else " (the dearest of its types)"
        message = (f"the bid {rate(bid, currency)} is beyond any plausible price for {top.what()}{dearest}: the "
                   f"limit is {rate(top.ceiling, currency)}, {CEILING_MULTIPLE} × {top.basis()}")
        fix = (f"bid at most what the type costs on demand (EAS suggests bidding about 20% of it); "
               f"above {rate(top.plausible, currency)} a bid already outbids every list price we have for "
               f"{top.what()}")
        return BidVerdict((message, fix), sources=sources)
    words = (f"bid {rate(bid, currency)} against {top.what()}: plausible up to {rate(top.plausible, currency)}, "
             f"refused above {rate(top.ceiling, currency)} ({top.reference.gpu} {top.reference.memory_gb} GB list price, "
             "sources below)")
    warnings = tuple(
        f"the bid {rate(bid, currency)} is above {rate(s.plausible, currency)}, what {s.what()} plausibly costs: "
        f"{s.basis(offer=False)}. Spot never charges more than the type's own on-demand price, so a bid this high caps "
        f"nothing: check the figure (a bid above {rate(s.ceiling, currency)} is refused)"
        for s in sticks if bid > s.plausible)
    return BidVerdict(warnings=warnings, sources=sources, words=words)
