"""Whether one service fits an instance type, and which types fit it: the hardware verdict's test of fit.

``sizing`` holds the model arithmetic (the minimum-configuration table, the memory estimate);
this module applies it to a service's spec: the check placement uses to skip a type, the
automatic choice of types, and the verdict on the types finally chosen, with messages that
say what to change.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional

from ..errors import Findings
from ..models.catalog import Model
from ..stack.spec import QuotaResource, ResourceGroupResource, ServiceSpec, SpotResource
from . import capabilities, fixes, instance_types, sizing
from .facts import api_facts
from .instance_types import InstanceType

MAX_FALLBACK_TYPES = 3
"""Automatically chosen types kept per service (same GPU count), for EAS's in-region fallback."""


def sizing_error(spec: ServiceSpec, model: Model, t: InstanceType) -> Optional[str]:
    """Why sizing refuses ``t`` for this service (the estimate only when strict), or None."""
    verdict = sizing.check(model, t.gpus, t.gpu_memory_gb, spec.max_model_len, spec.engine,
                           kv_fp8=spec.kv_cache_dtype == "fp8")
    if not verdict.meets_table or not verdict.parallelism.ok:
        return verdict.errors[0] if not verdict.meets_table else verdict.errors[-1]
    if verdict.errors and spec.sizing.strict:
        return verdict.errors[-1]
    return None


def sized_out_everywhere(spec: ServiceSpec, model: Model, types: Sequence[InstanceType],
                         stocks: Sequence[Sequence[Mapping[str, Any]]]) -> bool:
    """Sizing refuses every type with every figure the stock data gives it (its own, where none does):
    no stock could ever run the service, so the stack file must change."""
    for t in types:
        seen = [f for metas in stocks if (f := api_facts(metas).get(t.name)) is not None] or [t]
        if any(sizing_error(spec, model, f) is None for f in seen):
            return False
    return True


def _no_price(name: str) -> Optional[float]:
    return None


def _lacks_bf16(t: InstanceType) -> bool:
    """Qwen3 computes in BF16: GPUs known to lack it (Volta, Turing) are never chosen automatically
    (listed, they plan with a note on what the engine does there, ``capabilities.notes``)."""
    gpu = capabilities.gpu(t.gpu_type)
    return gpu is not None and gpu.bf16 is False


def auto_candidates(spec: ServiceSpec, model: Model, pool: Sequence[InstanceType],
                    price: Callable[[str], Optional[float]] = _no_price) -> list[InstanceType]:
    """Types from ``pool`` sizing accepts, cheapest first, same GPU count as the first, at most three.

    Fewest GPUs first; among those the cheapest where ``price`` knows the on-demand price, then
    (prices unknown) least total GPU memory, types an Alibaba source shows on EAS before the
    others, fewest vCPUs and RAM, EAS-native ``ml.`` types before ECS names. GPUs without BF16
    are left out.
    """
    spot = isinstance(spec.resource, SpotResource)
    passing = [t for t in pool if sizing_error(spec, model, t) is None
               and not (instance_types.is_lingjun(t.name) and not spot) and not _lacks_bf16(t)]

    def order(t: InstanceType) -> tuple[object, ...]:
        known = price(t.name)
        return (t.gpus, known is None, known or 0.0, t.total_gpu_memory_gb, t.eas_confirmed is False, t.vcpus or 0,
                t.memory_gb or 0, not t.name.startswith("ml."), t.name)

    passing.sort(key=order)
    if not passing:
        return []
    return [t for t in passing if t.gpus == passing[0].gpus][:MAX_FALLBACK_TYPES]


def size(spec: ServiceSpec, model: Model, facts: Sequence[InstanceType], out: Findings,
         where: str, offers: Optional[fixes.Offers] = None) -> Optional[sizing.Verdict]:
    """Check every type EAS may pick; return the verdict of the weakest (its settings go in the script).

    ``offers`` are the types a fix may name (``fixes.stocked_offers`` under a capacity snapshot);
    the hardware table's by default."""
    offers = fixes.table_offers() if offers is None else offers
    kv_fp8 = spec.kv_cache_dtype == "fp8"
    verdicts = [(t, sizing.check(model, t.gpus, t.gpu_memory_gb, spec.max_model_len, spec.engine, kv_fp8=kv_fp8))
                for t in facts]
    notes: dict[str, list[str]] = {}
    for index, (t, verdict) in enumerate(verdicts):
        field_name = f"{where}[{index}]" if where == "resource.instanceTypes" and len(facts) > 1 else where
        if not verdict.meets_table:
            # The table can hang on the length (Qwen3-8B past its native length): the shorter length first.
            found = [fixes.shorter(spec, model, t.gpus, t.gpu_memory_gb, t.name), _larger(spec, model, verdict.table,
                                                                                           offers)]
            out.problem(field_name, f"{t.name} ({t.gpus} x {t.gpu_memory_gb} GB) is below the minimum-configuration "
                        f"table for {model.name} at {spec.max_model_len} tokens: {verdict.table.describe()}",
                        fixes.join(found), changes=fixes.changes(found))
            continue
        if not verdict.parallelism.ok:
            out.problem(field_name, verdict.parallelism.reason, verdict.parallelism.fix)
            continue
        if verdict.errors:
            found = _estimate_fixes(spec, model, t, offers)
            fix = fixes.join(found) or "no length fits this configuration: use GPUs with more memory per replica"
            if spec.sizing.strict:
                out.problem("maxModelLen", f"{t.name}: {verdict.errors[-1]}", fix, changes=fixes.changes(found))
            else:
                out.warnings.append(f"{t.name}: {verdict.errors[-1]} (sizing.strict is false; {fix})")
        for note in verdict.notes:
            notes.setdefault(note, []).append(t.name)
    out.warnings.extend(f"{', '.join(types)}: {note}" for note, types in notes.items())
    if not verdicts:
        return None
    weakest = min(verdicts, key=lambda pair: (pair[0].gpu_memory_gb, pair[0].name))
    if not out.problems:
        _warn_if_oversized(spec, model, weakest[0], out, offers)
    return weakest[1]


OVERSIZED_FACTOR = 4
"""A replica with this many times the GPUs the model needs gets a warning (tensor parallel far
beyond need costs GPUs and adds all-reduce traffic for nothing)."""


def _warn_if_oversized(spec: ServiceSpec, model: Model, t: InstanceType, out: Findings,
                       offers: Sequence[fixes.Offer]) -> None:
    """Warn, naming the cheaper choice, when far fewer GPUs of the same kind would serve this length."""
    kv_fp8 = spec.kv_cache_dtype == "fp8"
    fewer = next((n for n in sizing.GPU_COUNTS if n * OVERSIZED_FACTOR <= t.gpus and not sizing.check(
        model, n, t.gpu_memory_gb, spec.max_model_len, spec.engine, kv_fp8=kv_fp8).errors), None)
    if fewer is None:
        return
    gpus = f"{fewer} GPU{'s' if fewer > 1 else ''} of {t.gpu_memory_gb} GB"
    if isinstance(spec.resource, (ResourceGroupResource, QuotaResource)):
        cheaper = f"set resource.gpus: {fewer} (the rest of the group stays free for other services)"
    else:
        named = fixes.example(spec, model, offers, lambda c: c.gpus == fewer and c.gpu_memory_gb >= t.gpu_memory_gb)
        ending = f", a name ending in '.{fewer}-{t.gpu_type.lower()}'" if t.gpu_type and t.gpu_type.startswith("GU") else ""
        cheaper = f"an instance type with {gpus}" + (f" (e.g. {named.type.name}, {named.where})" if named else ending)
    out.warnings.append(
        f"tensor parallel {t.gpus} ({t.gpus} GPUs per replica) is {t.gpus // fewer} times what {model.name} needs: "
        f"{gpus} {'fits' if fewer == 1 else 'fit'} {spec.max_model_len} tokens. Cheaper: {cheaper}; add replicas for "
        "throughput")


def _larger(spec: ServiceSpec, model: Model, minimum: sizing.TableMinimum, offers: fixes.Offers) -> fixes.Fix:
    """More GPU memory per replica, with a type the plan could use that has it (and that the service
    plans on), or why none is named."""
    lead = f"use at least {minimum.gpus} GPU(s) of {minimum.gpu_memory_gb} GB or more per replica"
    found = fixes.example(spec, model, offers, lambda t: sizing.meets_table(minimum, t.gpus, t.gpu_memory_gb))
    if found is not None:
        return fixes.use_type(found, lead)
    return fixes.Fix(lead + _none_offered(offers, minimum.gpus, minimum.gpu_memory_gb))


def _none_offered(offers: fixes.Offers, gpus: int, gpu_memory_gb: int) -> str:
    """Why no type is named: none with stock where the service runs, or none in the hardware table."""
    if offers.scope.startswith("with stock"):
        return (f" (no type {offers.scope} has that and fits: plan again when stock returns, or add a region "
                "whose stock shows one)")
    return f": an EAS type whose name ends in {_suffixes(gpus, gpu_memory_gb)}"


def _suffixes(gpus: int, gpu_memory_gb: int) -> str:
    """The name endings of EAS types with ``gpus`` GPUs of at least ``gpu_memory_gb`` GB each.

    EAS names carry GPU count and code (``ml.<family>.c<vCPU>m<GB>.<n>-<code>``); the codes and
    their memory are the sourced ones in ``instance_types.GPU_MEMORY_GB`` (codes that name endings
    carry: ``GU`` and digits).
    """
    codes = sorted((gb, code) for code, gb in instance_types.GPU_MEMORY_GB.items()
                   if re.fullmatch(r"GU\d+", code) and gb >= gpu_memory_gb)
    return " or ".join(f"'.{gpus}-{code.lower()}' ({gb} GB per GPU)" for gb, code in codes)


def _estimate_fixes(spec: ServiceSpec, model: Model, t: InstanceType,
                    offers: Sequence[fixes.Offer]) -> list[Optional[fixes.Fix]]:
    kv_fp8 = spec.kv_cache_dtype == "fp8"
    found: list[Optional[fixes.Fix]] = [fixes.shorter(spec, model, t.gpus, t.gpu_memory_gb, t.name),
                                        fixes.fp8_kv_cache(spec, model, t.gpus, t.gpu_memory_gb)]
    smallest = sizing.smallest_fitting(model, spec.max_model_len, spec.engine, kv_fp8=kv_fp8)
    if smallest is not None:
        lead = (f"use {smallest[0]} x {smallest[1]} GB GPUs per replica, the smallest configuration that fits "
                f"{spec.max_model_len} tokens")
        offer = fixes.example(spec, model, offers)
        found.append(fixes.use_type(offer, lead) if offer is not None else fixes.Fix(lead))
    return found


def nothing_fits(spec: ServiceSpec, model: Model, out: Findings, searched: str,
                 pool: Sequence[InstanceType] = ()) -> None:
    """The problem for an automatic choice that found no type: what was searched, what would fit.

    ``pool`` is what was searched, named in the message when it is the short built-in list.
    """
    kv_fp8 = spec.kv_cache_dtype == "fp8"
    smallest = sizing.smallest_fitting(model, spec.max_model_len, spec.engine, kv_fp8=kv_fp8)
    listed = ""
    if pool and len(pool) <= 5:
        listed = ": " + ", ".join(f"{t.name} ({t.gpus} x {t.gpu_memory_gb} GB)" for t in pool)
    offers = fixes.table_offers(pool)
    if smallest is None:
        # Only what then plans: another checkpoint, an FP8 cache or a shorter length, each checked.
        fp8_cache = spec.model_copy(update={"kv_cache_dtype": "fp8"})
        alternatives = [fixes.fp8_model(spec, model, offers),
                        None if kv_fp8 or (offers and fixes.example(fp8_cache, model, offers) is None)
                        or sizing.smallest_fitting(model, spec.max_model_len, spec.engine, kv_fp8=True) is None
                        else fixes.Fix("set kvCacheDtype: fp8 (halves the KV cache)", {"kvCacheDtype": "fp8"}),
                        fixes.longest_anywhere(spec, model, offers)]
        out.problem("resource.instanceTypes",
                    f"instanceTypes is left out and none of {searched}{listed} fits {model.name} at "
                    f"{spec.max_model_len} tokens; no configuration up to 8 x 96 GB does",
                    fixes.join(alternatives) or "list instance types with more GPU memory per replica, with their GPU "
                    "figures in resource.instanceTypeFacts", changes=fixes.changes(alternatives))
        return
    gpus, gpu_gb = smallest
    fix = (f"list instanceTypes with {gpus} GPU(s) of {gpu_gb} GB or more per replica: an EAS type whose name "
           f"ends in {_suffixes(gpus, gpu_gb)}, as the PAI console lists it for your region (its GPUs are "
           "read from the name)")
    if isinstance(spec.resource, SpotResource) and gpus > 1:
        fix += (", or a Lingjun spot type from Alibaba's Qwen3 guide (" + ", ".join(sorted(instance_types.LINGJUN_TYPES))
                + ") with its GPUs stated in resource.instanceTypeFacts (their figures are not published)")
    fix += ("; `make capacity REGIONS=\"<region> ...\"` (qwen3-eas capacity --regions ...) lists the types your "
            "regions offer, with their GPUs (the automatic choice draws on the hardware table alone, so that review and "
            "deploy choose alike)")
    shorter = fixes.longest_anywhere(spec, model, offers) if offers else None
    if shorter is not None:
        fix += f"; or {shorter.words}"
    unsourced = "; the hardware table has no such type" if pool else ""
    out.problem("resource.instanceTypes",
                f"instanceTypes is left out and none of {searched}{listed} fits {model.name} at "
                f"{spec.max_model_len} tokens: it needs {gpus} x {gpu_gb} GB GPUs per replica{unsourced}",
                fix, changes=fixes.changes([shorter]))
