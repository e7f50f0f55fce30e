"""Stage 1 of planning: what one replica could run on, with each type's GPU figures.

Figures for a type come, most trusted first, from the stack file (``instanceTypeFacts``),
the EAS API (a capacity snapshot or the live probe), then our own reading of its name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional

from . import instance_types
from .errors import Findings
from .instance_types import InstanceType, facts_from_api
from .spec import QuotaResource, ResourceGroupResource, ServiceSpec


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


def built_in_pool() -> list[InstanceType]:
    """The types we can name without an account (see ``instance_types.BUILT_IN_CANDIDATES``)."""
    return [t for t in (instance_types.lookup(n) for n in instance_types.BUILT_IN_CANDIDATES) if t is not None]
