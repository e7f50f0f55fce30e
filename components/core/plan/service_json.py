"""The EAS service JSON (``service_config``), built as data and serialised once.

Field names follow Alibaba Cloud's "Parameters of model services" page. Keys EAS would fill
in by itself are left out, so that what we send is what a reviewer reads.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

from ..engines.launch import MODEL_DIR, PORT
from ..errors import Findings
from ..hardware import instance_types
from ..hardware.hardware_choice import RunsOn
from ..stack.spec import QuotaResource, ResourceGroupResource, ServiceSpec, SpotResource
from . import cost

RPC_KEEPALIVE_MS = 600_000
"""Per-request time limit: long generations (131072 tokens) outlast EAS's short default."""

SHM_GB_PER_GPU = 8
"""Shared memory for NCCL between tensor-parallel ranks (multi-GPU replicas only)."""


@dataclass(frozen=True)
class Placement:
    """Where replicas run: public or spot instance types, a resource group, or a quota."""

    kind: str
    instance_types: tuple[str, ...] = ()
    bid_price: Optional[float] = None
    spot_protection: bool = True
    on_demand_fallback: bool = False
    resource_group_id: Optional[str] = None
    quota_id: Optional[str] = None
    gpus: Optional[int] = None
    cpu: Optional[int] = None
    memory_gib: Optional[int] = None


def _computing(placement: Placement) -> dict[str, Any]:
    if placement.kind == "spot":
        bid = [{"type": t, "spot_price_limit": placement.bid_price} for t in placement.instance_types]
        fallback = [{"type": t} for t in placement.instance_types] if placement.on_demand_fallback else []
        return {
            "instances": bid + fallback,
            "disable_spot_protection_period": not placement.spot_protection,
        }
    return {"instances": [{"type": t} for t in placement.instance_types]}


@dataclass(frozen=True)
class Operations:
    """How the service scales, updates and joins a network."""

    max_surge: int | str = 1
    max_unavailable: int = 0
    autoscale_min: Optional[int] = None
    autoscale_max: Optional[int] = None
    autoscale_qps: Optional[float] = None
    autoscale_cpu: Optional[int] = None
    vpc_id: Optional[str] = None
    vswitch_id: Optional[str] = None
    security_group_id: Optional[str] = None


def _autoscaler(ops: Operations) -> Optional[dict[str, Any]]:
    if ops.autoscale_min is None:
        return None
    strategies: dict[str, Any] = {}
    if ops.autoscale_qps is not None:
        strategies["qps"] = ops.autoscale_qps
    if ops.autoscale_cpu is not None:
        strategies["cpu"] = ops.autoscale_cpu
    return {"min": ops.autoscale_min, "max": ops.autoscale_max, "strategies": strategies}


def build(
    *,
    name: str,
    replicas: int,
    image: str,
    script: str,
    model_path: str,
    placement: Placement,
    gpus_per_replica: int,
    workspace_id: Optional[str],
    operations: Operations = Operations(),
) -> dict[str, Any]:
    """The service JSON as a dict, ready for ``serialise``."""
    metadata: dict[str, Any] = {
        "name": name,
        "instance": replicas,
        "rpc": {"keepalive": RPC_KEEPALIVE_MS},
        "rolling_strategy": {"max_surge": operations.max_surge, "max_unavailable": operations.max_unavailable},
    }
    if workspace_id is not None:
        metadata["workspace_id"] = workspace_id
    if gpus_per_replica > 1:
        metadata["shm_size"] = SHM_GB_PER_GPU * gpus_per_replica
    config: dict[str, Any] = {
        "metadata": metadata,
        "containers": [{"image": image, "script": script, "port": PORT}],
        "storage": [
            {
                "mount_path": MODEL_DIR,
                "oss": {"path": model_path, "readOnly": True},
                "properties": {"resource_type": "model"},
            }
        ],
    }
    autoscaler = _autoscaler(operations)
    if autoscaler is not None:
        config["autoscaler"] = autoscaler
    cloud: dict[str, Any] = {}
    if operations.vpc_id is not None:
        cloud["networking"] = {"vpc_id": operations.vpc_id, "vswitch_id": operations.vswitch_id,
                               "security_group_id": operations.security_group_id}
    if placement.kind in ("public", "spot"):
        cloud["computing"] = _computing(placement)
    if cloud:
        config["cloud"] = cloud
    if placement.kind in ("resourceGroup", "quota"):
        if placement.kind == "resourceGroup":
            metadata["resource"] = placement.resource_group_id
        else:
            metadata["quota_id"] = placement.quota_id
        metadata["gpu"] = placement.gpus
        metadata["cpu"] = placement.cpu
        metadata["memory"] = (placement.memory_gib or 0) * 1024  # EAS takes MB
    return config


_ALWAYS = ("metadata.name", "metadata.instance", "metadata.rpc.keepalive", "metadata.rolling_strategy.max_surge",
           "metadata.rolling_strategy.max_unavailable", "metadata.workspace_id", "metadata.shm_size",
           "containers[].image", "containers[].script", "containers[].port",
           "storage[].mount_path", "storage[].oss.path", "storage[].oss.readOnly", "storage[].properties.resource_type",
           "autoscaler.min", "autoscaler.max", "autoscaler.strategies.qps", "autoscaler.strategies.cpu",
           "cloud.networking.vpc_id", "cloud.networking.vswitch_id", "cloud.networking.security_group_id")
_BY_KIND = {
    "public": ("cloud.computing.instances[].type",),
    "spot": ("cloud.computing.instances[].type", "cloud.computing.instances[].spot_price_limit",
             "cloud.computing.disable_spot_protection_period"),
    "resourceGroup": ("metadata.resource", "metadata.gpu", "metadata.cpu", "metadata.memory"),
    "quota": ("metadata.quota_id", "metadata.gpu", "metadata.cpu", "metadata.memory"),
}


def managed_paths(kind: str) -> frozenset[str]:
    """Every leaf ``build`` may write for a service of placement ``kind``, list items as ``[]``.

    A key of these that EAS holds and the stack does not send is the stack's to remove (a console
    edit, a hand-made service imported); any other key is not the project's to decide
    (``components.core.plan.live_values``). ``tests/test_service_json.py`` holds ``build`` to this list.
    """
    return frozenset((*_ALWAYS, *_BY_KIND.get(kind, ())))


def kind_of(config: dict[str, Any]) -> str:
    """The placement kind a service JSON states (``managed_paths``'s argument)."""
    metadata = config.get("metadata") or {}
    if "resource" in metadata:
        return "resourceGroup"
    if "quota_id" in metadata:
        return "quota"
    instances = ((config.get("cloud") or {}).get("computing") or {}).get("instances") or []
    return "spot" if any("spot_price_limit" in i for i in instances if isinstance(i, dict)) else "public"


def runs_on(config: Any) -> RunsOn:
    """What a service JSON (``DescribeService``'s ``ServiceConfig``, parsed) runs its replicas on."""
    if not isinstance(config, dict):
        return RunsOn(None)
    metadata = config.get("metadata") if isinstance(config.get("metadata"), dict) else {}
    computing = (config.get("cloud") or {}).get("computing") if isinstance(config.get("cloud"), dict) else None
    instances = computing.get("instances") if isinstance(computing, dict) else None
    if not isinstance(instances, list):
        dedicated = isinstance(metadata, dict) and ("resource" in metadata or "quota_id" in metadata)
        return RunsOn("dedicated" if dedicated else None)
    found: list[str] = []
    spot = False
    for entry in instances:
        if not isinstance(entry, dict):
            continue
        spot = spot or entry.get("spot_price_limit") is not None
        name = entry.get("type")
        if isinstance(name, str) and name and name not in found:
            found.append(name)
    return RunsOn("spot" if spot else "public", tuple(found))


def serialise(config: dict[str, Any]) -> str:
    """The one serialisation of a service JSON: sorted keys, compact, stable bytes."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def placement_for(spec: ServiceSpec, types: Sequence[str], region: str, out: Findings,
                  bid_currency: Optional[str] = "USD") -> Placement:
    """Where the service's replicas run, as the JSON states it (``cloud.computing`` / ``metadata``), with its warnings.

    ``bid_currency`` is what the bid is in (``cost.BID_CURRENCY`` of the stack's site; ``None``: unconfirmed)."""
    resource = spec.resource
    if isinstance(resource, ResourceGroupResource):
        return Placement("resourceGroup", resource_group_id=resource.resource_group_id,
                                      gpus=resource.gpus, cpu=resource.cpu, memory_gib=resource.memory_gi_b)
    if isinstance(resource, QuotaResource):
        return Placement("quota", quota_id=resource.quota_id, gpus=resource.gpus,
                                      cpu=resource.cpu, memory_gib=resource.memory_gi_b)
    lingjun = [t for t in types if instance_types.is_lingjun(t)]
    if isinstance(resource, SpotResource):
        if lingjun and region != instance_types.LINGJUN_SPOT_REGION:
            out.warnings.append(
                f"Lingjun spot types ({', '.join(lingjun)}) are open without a whitelist only in "
                f"{instance_types.LINGJUN_SPOT_REGION}; in {region} your account may need to be allowed first"
            )
        out.warnings.append(
            f"spot instances can be preempted; bid {cost.money(resource.bid_price, bid_currency)} per instance-hour"
            + ("" if resource.spot_protection else ", without the one-hour protection")
        )
        return Placement("spot", tuple(types), bid_price=resource.bid_price,
                                      spot_protection=resource.spot_protection,
                                      on_demand_fallback=resource.on_demand_fallback)
    if lingjun:
        out.problem("resource.kind", f"{', '.join(lingjun)} are Lingjun spot types, not public resources",
                    "use resource.kind: spot with a bidPrice (in cn-wulanchabu)")
    return Placement("public", tuple(types))
