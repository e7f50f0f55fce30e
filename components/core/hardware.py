"""What one replica runs on: instance types and their GPU figures, sizing them, choosing them.

Figures for a type come, most trusted first, from the stack file (``instanceTypeFacts``),
the EAS API (a capacity snapshot or the live probe), then our own reading of its name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional

from . import instance_types, service_json, sizing
from .catalog import Model
from .errors import Findings
from .instance_types import InstanceType
from .placement import facts_from_api
from .spec import QuotaResource, ResourceGroupResource, ServiceSpec, SpotResource

MAX_FALLBACK_TYPES = 3
"""Automatically chosen types kept per service (same GPU count), for EAS's in-region fallback."""


def resolve_listed(spec: ServiceSpec, api_facts: Mapping[str, InstanceType], out: Findings) -> list[InstanceType]:
    """The listed instance types with their GPU figures; unknown ones are problems, never guesses."""
    resource = spec.resource
    assert not isinstance(resource, (ResourceGroupResource, QuotaResource))
    resolved: list[InstanceType] = []
    for index, type_name in enumerate(resource.instance_types or []):
        stated = resource.instance_type_facts.get(type_name)
        known = api_facts.get(type_name) or instance_types.lookup(type_name)
        if stated is not None:
            try:
                known = instance_types.with_override(known, type_name, stated.gpus, stated.gpu_type,
                                                     stated.gpu_memory_gi_b)
            except ValueError as exc:
                out.problem(f"resource.instanceTypeFacts.{type_name}", str(exc), "add gpuMemoryGiB for this type")
                continue
        if known is None:
            out.problem(
                f"resource.instanceTypes[{index}]",
                f"the GPUs of {type_name!r} are unknown (its name does not follow "
                "ml.<family>.c<vCPU>m<GB>.<n>-<gpu code> and it is not in our table)",
                f"state them: resource.instanceTypeFacts: {{{type_name}: {{gpus: N, gpuType: GU60}}}}, "
                "or plan with --capacity so the EAS API supplies them",
            )
            continue
        resolved.append(known)
    counts = sorted({t.gpus for t in resolved})
    if len(counts) > 1:
        out.problem(
            "resource.instanceTypes",
            "the listed types have different GPU counts "
            + ", ".join(f"{t.name}={t.gpus}" for t in resolved)
            + "; the start command's tensor parallel size must fit every type EAS may pick",
            "list only types with the same number of GPUs",
        )
    return resolved


def group_facts(spec: ServiceSpec, out: Findings) -> Optional[InstanceType]:
    """What one replica gets in a resource group or quota."""
    resource = spec.resource
    assert isinstance(resource, (ResourceGroupResource, QuotaResource))
    label = resource.resource_group_id if isinstance(resource, ResourceGroupResource) else resource.quota_id
    try:
        return instance_types.with_override(None, label, resource.gpus, resource.gpu_type, resource.gpu_memory_gi_b)
    except ValueError:
        out.problem("resource.gpuType", f"per-GPU memory of {resource.gpu_type!r} is unknown",
                    "use a known GPU code (GU30, GU60, GU120) or add resource.gpuMemoryGiB")
        return None


def api_facts(metas: Sequence[Mapping[str, Any]]) -> dict[str, InstanceType]:
    """GPU figures of every type an API answer lists."""
    found: dict[str, InstanceType] = {}
    for meta in metas:
        facts = facts_from_api(meta)
        if facts is not None:
            found.setdefault(facts.name, facts)
    return found


def sizing_error(spec: ServiceSpec, model: Model, t: InstanceType) -> Optional[str]:
    """Why sizing refuses ``t`` for this service (the estimate only when strict), or None."""
    verdict = sizing.check(model, t.gpus, t.gpu_memory_gb, spec.max_model_len, spec.engine,
                           kv_fp8=spec.kv_cache_dtype == "fp8")
    if not verdict.meets_table or not verdict.parallelism.ok:
        return verdict.errors[0] if not verdict.meets_table else verdict.errors[-1]
    if verdict.errors and spec.sizing.strict:
        return verdict.errors[-1]
    return None


def auto_candidates(spec: ServiceSpec, model: Model, pool: Sequence[InstanceType]) -> list[InstanceType]:
    """Types from ``pool`` sizing accepts, cheapest first, same GPU count as the first, at most three.

    No public price list could be sourced, so "cheapest" is least total GPU memory, then fewest
    GPUs, then fewest vCPUs, EAS-native ``ml.`` types before ECS names.
    """
    spot = isinstance(spec.resource, SpotResource)
    passing = [t for t in pool if sizing_error(spec, model, t) is None
               and not (instance_types.is_lingjun(t.name) and not spot)]
    passing.sort(key=lambda t: (t.total_gpu_memory_gb, t.gpus, t.vcpus or 0, not t.name.startswith("ml."), t.name))
    if not passing:
        return []
    return [t for t in passing if t.gpus == passing[0].gpus][:MAX_FALLBACK_TYPES]


def built_in_pool() -> list[InstanceType]:
    """The types we can name without an account (see ``instance_types.BUILT_IN_CANDIDATES``)."""
    return [t for t in (instance_types.lookup(n) for n in instance_types.BUILT_IN_CANDIDATES) if t is not None]


def size(spec: ServiceSpec, model: Model, facts: Sequence[InstanceType], out: Findings,
         where: str) -> Optional[sizing.Verdict]:
    """Check every type EAS may pick; return the verdict of the weakest (its settings go in the script)."""
    kv_fp8 = spec.kv_cache_dtype == "fp8"
    verdicts = [(t, sizing.check(model, t.gpus, t.gpu_memory_gb, spec.max_model_len, spec.engine, kv_fp8=kv_fp8))
                for t in facts]
    notes: dict[str, list[str]] = {}
    for index, (t, verdict) in enumerate(verdicts):
        field_name = f"{where}[{index}]" if where == "resource.instanceTypes" and len(facts) > 1 else where
        if not verdict.meets_table:
            out.problem(field_name, f"{t.name} ({t.gpus} x {t.gpu_memory_gb} GB) is below the minimum-configuration "
                        f"table for {model.name}: {verdict.table.describe()}",
                        f"use at least {verdict.table.gpus} GPU(s) of {verdict.table.gpu_memory_gb} GB or more per replica"
                        + _example_type(verdict.table))
            continue
        if not verdict.parallelism.ok:
            out.problem(field_name, verdict.parallelism.reason, verdict.parallelism.fix)
            continue
        if verdict.errors:
            fix = _estimate_fix(spec, model, t)
            if spec.sizing.strict:
                out.problem("maxModelLen", f"{t.name}: {verdict.errors[-1]}", fix)
            else:
                out.warnings.append(f"{t.name}: {verdict.errors[-1]} (sizing.strict is false; {fix})")
        for note in verdict.notes:
            notes.setdefault(note, []).append(t.name)
    out.warnings.extend(f"{', '.join(types)}: {note}" for note, types in notes.items())
    if not verdicts:
        return None
    return min(verdicts, key=lambda pair: (pair[0].gpu_memory_gb, pair[0].name))[1]


def _example_type(minimum: sizing.TableMinimum) -> str:
    for t in built_in_pool():
        if sizing.meets_table(minimum, t.gpus, t.gpu_memory_gb):
            return f" (e.g. {t.name})"
    return f": an EAS type whose name ends in {_suffixes(minimum.gpus, minimum.gpu_memory_gb)}"


def _suffixes(gpus: int, gpu_memory_gb: int) -> str:
    """The name endings of EAS types with ``gpus`` GPUs of at least ``gpu_memory_gb`` GB each.

    EAS names carry GPU count and code (``ml.<family>.c<vCPU>m<GB>.<n>-<code>``); the codes and
    their memory are the sourced ones in ``instance_types.GPU_MEMORY_GB``.
    """
    codes = sorted((gb, code) for code, gb in instance_types.GPU_MEMORY_GB.items()
                   if code.startswith("GU") and gb >= gpu_memory_gb)
    return " or ".join(f"'.{gpus}-{code.lower()}' ({gb} GB per GPU)" for gb, code in codes)


def _estimate_fix(spec: ServiceSpec, model: Model, t: InstanceType) -> str:
    kv_fp8 = spec.kv_cache_dtype == "fp8"
    fits = sizing.largest_fitting_len(model, t.gpus, t.gpu_memory_gb, spec.engine, kv_fp8=kv_fp8)
    parts = [f"set maxModelLen to {fits} or less" if fits else "no length fits this configuration"]
    if not kv_fp8 and not sizing.check(model, t.gpus, t.gpu_memory_gb, spec.max_model_len, spec.engine,
                                       kv_fp8=True).errors:
        parts.append("or set kvCacheDtype: fp8 (halves the KV cache)")
    smallest = sizing.smallest_fitting(model, spec.max_model_len, spec.engine, kv_fp8=kv_fp8)
    if smallest is not None:
        parts.append(f"or use {smallest[0]} x {smallest[1]} GB GPUs per replica, the smallest configuration that fits "
                     f"{spec.max_model_len} tokens")
    return ", ".join(parts)


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
    if smallest is None:
        out.problem("resource.instanceTypes",
                    f"instanceTypes is left out and none of {searched}{listed} fits {model.name} at "
                    f"{spec.max_model_len} tokens; no configuration up to 8 x 96 GB does",
                    "lower maxModelLen, or set kvCacheDtype: fp8")
        return
    gpus, gpu_gb = smallest
    fix = (f"list instanceTypes with {gpus} GPU(s) of {gpu_gb} GB or more per replica: an EAS type whose name "
           f"ends in {_suffixes(gpus, gpu_gb)}, as the PAI console lists it for your region (its GPUs are "
           "read from the name)")
    if isinstance(spec.resource, SpotResource) and gpus > 1:
        fix += (", or a Lingjun spot type from Alibaba's Qwen3 guide (" + ", ".join(sorted(instance_types.LINGJUN_TYPES))
                + ") with its GPUs stated in resource.instanceTypeFacts (their figures are not published)")
    fix += ("; or plan with a capacity snapshot (make plan CAPACITY=<file>, or qwen3-eas plan --capacity <file>) "
            "to choose from the types your regions offer")
    unsourced = ("; no such type is built in, because no Alibaba page we could check gives one's name with its "
                 "GPU figures") if pool else ""
    out.problem("resource.instanceTypes",
                f"instanceTypes is left out and none of {searched}{listed} fits {model.name} at "
                f"{spec.max_model_len} tokens: it needs {gpus} x {gpu_gb} GB GPUs per replica{unsourced}",
                fix)


def json_placement(spec: ServiceSpec, types: Sequence[str], region: str, out: Findings) -> service_json.Placement:
    """The ``cloud.computing`` / ``metadata`` placement of the service JSON, with its warnings."""
    resource = spec.resource
    if isinstance(resource, ResourceGroupResource):
        return service_json.Placement("resourceGroup", resource_group_id=resource.resource_group_id,
                                      gpus=resource.gpus, cpu=resource.cpu, memory_gib=resource.memory_gi_b)
    if isinstance(resource, QuotaResource):
        return service_json.Placement("quota", quota_id=resource.quota_id, gpus=resource.gpus,
                                      cpu=resource.cpu, memory_gib=resource.memory_gi_b)
    lingjun = [t for t in types if instance_types.is_lingjun(t)]
    if isinstance(resource, SpotResource):
        if lingjun and region != instance_types.LINGJUN_SPOT_REGION:
            out.warnings.append(
                f"Lingjun spot types ({', '.join(lingjun)}) are open without a whitelist only in "
                f"{instance_types.LINGJUN_SPOT_REGION}; in {region} your account may need to be allowed first"
            )
        out.warnings.append(
            f"spot instances can be preempted; bid {resource.bid_price:g} per instance-hour"
            + ("" if resource.spot_protection else ", without the one-hour protection")
        )
        return service_json.Placement("spot", tuple(types), bid_price=resource.bid_price,
                                      spot_protection=resource.spot_protection,
                                      on_demand_fallback=resource.on_demand_fallback)
    if lingjun:
        out.problem("resource.kind", f"{', '.join(lingjun)} are Lingjun spot types, not public resources",
                    "use resource.kind: spot with a bidPrice (in cn-wulanchabu)")
    return service_json.Placement("public", tuple(types))
