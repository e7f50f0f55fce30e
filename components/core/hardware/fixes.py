"""What to change so that a service plans: each suggestion with the change it makes, and only
suggestions that work.

A message that says "lower maxModelLen, or set kvCacheDtype: fp8" when neither helps sends the
reader in a circle. Every ``Fix`` here is checked before it is offered: a shorter length is the
longest the GPUs pass at, an FP8 KV cache or the FP8 checkpoint is offered only when sizing
then passes, and a type named as an example passes sizing for the service and is one the plan
could use (from the hardware table, or, under a capacity snapshot, one with stock in the
service's regions). ``Fix.changes`` says what the fix writes in the stack file, so a test can
apply each one and plan again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from ..models.catalog import MODELS, Model
from ..stack.spec import ServiceSpec
from . import placement, sizing
from .facts import api_facts, built_in_pool
from .instance_types import InstanceType

MIN_LENGTH = 1024
"""The shortest maxModelLen the stack file takes."""


@dataclass(frozen=True)
class Fix:
    """One way out: the words, and the stack-file values it sets (service-relative paths)."""

    words: str
    changes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Offer:
    """An instance type a fix may name, and why the plan could use it."""

    type: InstanceType
    where: str
    """``from the hardware table``, or ``with stock in cn-hangzhou per <snapshot>``."""


class Offers(tuple[Offer, ...]):
    """The types a fix may name, and where they were looked for (for a message that names none)."""

    scope: str
    """``in the hardware table``, or ``with stock in cn-hangzhou per <snapshot>``."""

    def __new__(cls, items: Sequence[Offer], scope: str) -> Offers:
        made = super().__new__(cls, items)
        made.scope = scope
        return made


def table_offers(types: Optional[Sequence[InstanceType]] = None) -> Offers:
    """Without stock data: the hardware table's types (or ``types``, when they are what was searched)."""
    return Offers([Offer(t, "from the hardware table") for t in (built_in_pool() if types is None else types)],
                  "in the hardware table")


def stocked_offers(capacity: placement.Capacity, regions: Sequence[str], spot: bool) -> Offers:
    """Under a capacity snapshot (or the live probe): the types with stock in the service's regions,
    available, and spot-capable for a spot service; each once, in the first region that has it."""
    found: dict[str, Offer] = {}
    for region in regions:
        stock = capacity.stock(region)
        if isinstance(stock, placement.RegionFailure):
            continue
        usable = {str(m.get("InstanceType")) for m in stock
                  if m.get("StockStatus") in (placement.WITH_STOCK, placement.LOW_STOCK)
                  and m.get("IsAvailable") is not False and (not spot or placement.has_spot_discount(m))}
        for name, facts in api_facts(stock).items():
            if name in usable:
                found.setdefault(name, Offer(facts, f"with stock in {region} per {capacity.source}"))
    return Offers(list(found.values()), f"with stock{' for spot' if spot else ''} in {', '.join(regions)} per "
                  f"{capacity.source}")


def _passes(spec: ServiceSpec, model: Model, gpus: int, gpu_memory_gb: int, *, max_model_len: Optional[int] = None,
            kv_fp8: Optional[bool] = None) -> bool:
    """Sizing passes (table, split, and the estimate where it is enforced) for this configuration."""
    verdict = sizing.check(model, gpus, gpu_memory_gb, max_model_len or spec.max_model_len, spec.engine,
                           kv_fp8=spec.kv_cache_dtype == "fp8" if kv_fp8 is None else kv_fp8)
    if not verdict.meets_table or not verdict.parallelism.ok:
        return False
    return not (verdict.errors and spec.sizing.strict)


def example(spec: ServiceSpec, model: Model, offers: Sequence[Offer],
            meets: Callable[[InstanceType], bool] = lambda t: True) -> Optional[Offer]:
    """The smallest offered type the service plans on (and that ``meets`` accepts), or None."""
    fitting = [o for o in offers if meets(o.type) and _passes(spec, model, o.type.gpus, o.type.gpu_memory_gb)]
    fitting.sort(key=lambda o: (o.type.gpus, o.type.total_gpu_memory_gb, o.type.eas_confirmed is False,
                                o.type.vcpus or 0, o.type.name))
    return fitting[0] if fitting else None


def use_type(offer: Offer, lead: str) -> Fix:
    """``lead`` (what is needed), with the offered type that has it as the change."""
    return Fix(f"{lead} (e.g. {offer.type.name}, {offer.where})", {"resource.instanceTypes": [offer.type.name]})


def shorter(spec: ServiceSpec, model: Model, gpus: int, gpu_memory_gb: int, what: str) -> Optional[Fix]:
    """The longest length ``gpus`` x ``gpu_memory_gb`` GB passes at, with the model's native length
    when the asked length is beyond it (up to there no RoPE scaling is needed)."""
    kv_fp8 = spec.kv_cache_dtype == "fp8"
    fits = sizing.largest_fitting_len(model, gpus, gpu_memory_gb, spec.engine, kv_fp8=kv_fp8)
    if fits < MIN_LENGTH or fits >= spec.max_model_len or not _passes(spec, model, gpus, gpu_memory_gb,
                                                                        max_model_len=fits):
        return None
    words = f"set maxModelLen to {fits} or less, the longest {what} fits"
    if spec.max_model_len > model.native_context:
        words += (f" (up to {model.native_context} tokens, {model.name}'s native length, no RoPE scaling (YaRN) "
                  "is needed)")
    return Fix(words, {"maxModelLen": fits})


def fp8_kv_cache(spec: ServiceSpec, model: Model, gpus: int, gpu_memory_gb: int) -> Optional[Fix]:
    """An FP8 KV cache, when it alone makes the length fit."""
    if spec.kv_cache_dtype == "fp8" or not _passes(spec, model, gpus, gpu_memory_gb, kv_fp8=True):
        return None
    return Fix("set kvCacheDtype: fp8 (halves the KV cache)", {"kvCacheDtype": "fp8"})


def fp8_model(spec: ServiceSpec, model: Model, offers: Sequence[Offer]) -> Optional[Fix]:
    """The model's FP8 checkpoint, when it plans on an offered type (or, offers unknown, on the
    configurations sizing knows) where this one does not."""
    other = MODELS.get(f"{model.name}-FP8")
    if model.fp8 or other is None:
        return None
    if offers:
        found = example(spec, other, offers)
        if found is None:
            return None
        return Fix(f"use model: {other.name}, its FP8 checkpoint, which fits {found.type.gpus} x "
                   f"{found.type.gpu_memory_gb} GB per replica (e.g. {found.type.name}, {found.where})",
                   {"model": other.name})
    smallest = sizing.smallest_fitting(other, spec.max_model_len, spec.engine, kv_fp8=spec.kv_cache_dtype == "fp8")
    if smallest is None:
        return None
    return Fix(f"use model: {other.name}, its FP8 checkpoint, which fits {smallest[0]} x {smallest[1]} GB per "
               "replica", {"model": other.name})


def longest_anywhere(spec: ServiceSpec, model: Model, offers: Sequence[Offer]) -> Optional[Fix]:
    """The longest length any offered type (or, offers unknown, 8 x 96 GB) passes at."""
    configs = {(o.type.gpus, o.type.gpu_memory_gb) for o in offers} or {(8, max(sizing.GPU_SIZES_GB))}
    best = max(configs, key=lambda c: (sizing.largest_fitting_len(model, c[0], c[1], spec.engine,
                                                                  kv_fp8=spec.kv_cache_dtype == "fp8"), -c[0] * c[1]))
    return shorter(spec, model, best[0], best[1], f"{best[0]} x {best[1]} GB per replica")


def join(fixes: Sequence[Optional[Fix]]) -> str:
    """The fixes as one sentence: ``a, or b, or c``."""
    return ", or ".join(f.words for f in fixes if f is not None)


def changes(fixes: Sequence[Optional[Fix]]) -> tuple[Mapping[str, Any], ...]:
    """What each fix that sets values sets, for ``Problem.changes``."""
    return tuple(f.changes for f in fixes if f is not None and f.changes)
