"""What one replica could run on, with each type's GPU figures (stage 1 of the hardware verdict).

Figures for a type come, most trusted first, from the stack file (``instanceTypeFacts``),
the EAS API (a capacity snapshot or the live probe), the hardware table (``hardware_table``),
then our own reading of its name, which is planned with a warning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional

from ..errors import Findings
from ..stack.spec import QuotaResource, ResourceGroupResource, ServiceSpec
from . import capabilities, instance_types
from .instance_types import InstanceType, facts_from_api


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
                f"the GPUs of {type_name!r} are unknown: {instance_types.unknown_reason(type_name)}",
                f"state them: resource.instanceTypeFacts: {{{type_name}: {{gpus: N, gpuMemoryGiB: <GB of one GPU>}}}}, "
                "or plan with --capacity so the EAS API supplies them",
            )
            continue
        if known.source == "name":
            out.warnings.append(unconfirmed_name(known))
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


def unconfirmed_name(t: InstanceType) -> str:
    """The warning for a type whose figures were read from its name alone."""
    return (f"`{t.name}` is neither in the hardware table nor in a capacity snapshot: its {t.gpus} x "
            f"{t.gpu_memory_gb} GB ({t.gpu_type}) were read from its name and are not confirmed; check that EAS "
            "offers it with `make capacity` and plan with that snapshot, or state its figures in "
            "resource.instanceTypeFacts")


def built_in_pool() -> list[InstanceType]:
    """The types the automatic choice may pick without a capacity snapshot: the hardware table's."""
    return instance_types.table_types()


_WHERE = {"name": "read from its name", "user": "stated in the stack file (instanceTypeFacts)", "api": "the EAS API"}


def describe(t: InstanceType) -> str:
    """The plan's line for one type: its GPUs and where they came from, inferred figures named
    (the table's sources themselves are ``source``, listed apart so that the line stays short)."""
    gpu = capabilities.gpu(t.gpu_type)
    words = f"`{t.name}`: {t.gpus} × {t.gpu_type or 'GPU'} ({t.gpu_memory_gb} GB each" \
            + (f"; {gpu.traits()})" if gpu else ")")
    if t.source == "table":
        words += ", from the hardware table"
        if t.inferred:
            words += f"; inferred, not stated by its source: {', '.join(t.inferred)}"
        words += "; EAS use " + ("shown by an Alibaba source" if t.eas_confirmed else "not confirmed")
        if t.notes:
            words += f"; {t.notes}"
        return words
    words += f", {_WHERE[t.source]}"
    if t.source == "user":
        words += ": the stack's own figures, not checked against any source; confirm them with `make capacity`"
    return words


def source(t: InstanceType) -> Optional[str]:
    """Where a hardware-table type's figures (and its EAS use) come from, for the plan's sources."""
    if t.source != "table":
        return None
    return f"`{t.name}`: {t.citation}" + (f"; EAS use: {t.eas_citation}" if t.eas_citation else "")


def unconfirmed_on_eas(types: Sequence[InstanceType]) -> str:
    """The warning for automatically chosen types no Alibaba source shows on EAS."""
    names = ", ".join(f"`{t.name}`" for t in types)
    return (f"{names}: chosen from the hardware table, whose figures for them come from the ECS docs, but no "
            "Alibaba source we have shows EAS offering them: check with `make capacity` before deploying, or list "
            "instanceTypes yourself")


def as_dict(t: InstanceType) -> dict[str, Any]:
    """One type's figures and their origin, for ``plan.json``."""
    gpu = capabilities.gpu(t.gpu_type)
    return {
        "type": t.name,
        "gpus": t.gpus,
        "gpuType": t.gpu_type,
        "gpuMemoryGB": t.gpu_memory_gb,
        "architecture": gpu.architecture if gpu else None,
        "source": t.source,
        "inferred": list(t.inferred),
        "easConfirmed": t.eas_confirmed,
    }
