"""What a deployed stack runs, as its ``services`` output records it: for ``make diff`` and offline plans.

``pulumi up`` learns where each service runs, and on what, from the EAS API (``DescribeService``,
``components.eas.running``). A review has no credentials, so it learns the same from what the last
deploy left: the stack's ``services`` output (``pulumi stack output --json``, or the record the
deploy workflow keeps), one entry per service key with its EAS name, region, instance types and
resource kind. ``QWEN3_EAS_RUNNING=<file>`` makes a run answer its lookups from such a file
instead of the API, so that an offline plan keeps services where they run, on what they run on,
exactly as the deploy will (``make plan OUTPUTS=``, ``make diff OUTPUTS=``).

An entry may carry ``labels``: what DescribeService would report as the service's labels (the
tags the state recorded). Without them the service is taken as this stack's, labelled for the
key it is listed under. ``make diff`` uses them to follow a two-phase move (``drain``) through its
runs.

The outputs' ``outsideTheStack`` lists this stack's services that run under no key of its stack
file (kept on delete, then removed): they run, but the stack does not hold them, so a plan of the
base leaves them out, and a lookup of the working tree finds them, as ``pulumi up`` would, and
takes them back.

Pure: no Pulumi, no network; reading the file is the caller's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from ..hardware.hardware_choice import REQUEST_LABEL, RunsOn
from . import ownership

KINDS = {"public": "public", "spot": "spot", "resourceGroup": "dedicated", "quota": "dedicated"}
"""``resourceKind`` as the outputs and ``plan.json`` say it -> what a running service's JSON shows."""


class DeployedError(ValueError):
    """A file that is not a stack's outputs (or the record of them): where, and what is wrong."""


@dataclass(frozen=True)
class Deployed:
    """One service as the last deploy left it."""

    key: str
    name: str
    region: str
    runs_on: RunsOn
    labels: Optional[Mapping[str, str]] = None
    """What DescribeService reports as its labels; None: this stack's, for ``key``."""
    outside: bool = False
    """It runs, but the stack does not hold it (``outsideTheStack``)."""

    def as_output(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"serviceName": self.name, "region": self.region,
                                 "instanceTypes": list(self.runs_on.instance_types)}
        kind = next((k for k, v in KINDS.items() if v == self.runs_on.kind), None)
        if kind is not None:
            entry["resourceKind"] = kind
        if self.labels is not None:
            entry["labels"] = dict(sorted(self.labels.items()))
        return entry


def read(data: Any, source: str) -> dict[str, Deployed]:
    """Service key -> what runs, from the JSON of ``pulumi stack output --json`` (or its ``services``
    part alone, under that key)."""
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, dict):
        raise DeployedError(f"{source} has no 'services' map: pass the JSON of `pulumi stack output --json` of a "
                            "stack deployed with qwen3-eas (or the record the deploy workflow keeps)")
    found: dict[str, Deployed] = {}
    for key, entry in sorted(services.items()):
        if not isinstance(entry, dict):
            raise DeployedError(f"{source}: services.{key} is not a mapping")
        name, region = entry.get("serviceName"), entry.get("region")
        if not isinstance(name, str) or not isinstance(region, str) or not name or not region:
            raise DeployedError(f"{source}: services.{key} lacks its serviceName or region")
        types = entry.get("instanceTypes") or []
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            raise DeployedError(f"{source}: services.{key}.instanceTypes is not a list of instance type names")
        labels = entry.get("labels")
        if labels is not None and not (isinstance(labels, dict) and all(isinstance(v, str) for v in labels.values())):
            raise DeployedError(f"{source}: services.{key}.labels is not a mapping of text")
        kind = KINDS.get(str(entry.get("resourceKind"))) if entry.get("resourceKind") is not None else None
        found[str(key)] = Deployed(str(key), name, region, RunsOn(kind, tuple(dict.fromkeys(types))), labels)
    outside = data.get("outsideTheStack") or {}
    if not isinstance(outside, dict):
        raise DeployedError(f"{source}: outsideTheStack is not a mapping")
    for key, entry in sorted(outside.items()):
        name, region = (entry.get("serviceName"), entry.get("region")) if isinstance(entry, dict) else (None, None)
        if not isinstance(name, str) or not isinstance(region, str) or not name or not region:
            raise DeployedError(f"{source}: outsideTheStack.{key} lacks its serviceName or region")
        found.setdefault(str(key), Deployed(str(key), name, region, RunsOn(None), outside=True))
    return found


def write(records: Mapping[str, Deployed]) -> dict[str, Any]:
    """``records`` as a file ``read`` takes back (the ``services`` map of stack outputs, and
    ``outsideTheStack``)."""
    return {"services": {key: records[key].as_output() for key in sorted(records) if not records[key].outside},
            "outsideTheStack": {key: {"serviceName": r.name, "region": r.region}
                                for key, r in sorted(records.items()) if r.outside}}


def from_plan(entries: Mapping[str, Mapping[str, Any]]) -> dict[str, Deployed]:
    """What runs if a plan (its ``plan.json``) was deployed as planned: labels from its tags."""
    found: dict[str, Deployed] = {}
    for key, entry in sorted(entries.items()):
        tags = (entry.get("resource") or {}).get("tags")
        labels = dict(tags) if isinstance(tags, dict) and all(k in tags for k in ownership.OWNER_KEYS) else None
        found[key] = Deployed(key, str(entry["name"]), str(entry["region"]),
                              RunsOn(KINDS.get(str(entry.get("resourceKind"))), tuple(entry.get("instanceTypes") or ())),
                              labels)
    return found


def first_places(config: Mapping[str, Any]) -> dict[str, Deployed]:
    """Where an offline plan of a stack file's ``config`` puts each service: its pin, else its first
    region (or ``alicloud:region``). ``make diff`` without ``OUTPUTS=`` takes the base as deployed
    there, so that both sides keep running services in place alike."""
    def value(name: str) -> Any:
        return config.get(f"qwen3-eas:{name}", config.get(name))

    services, pins = value("services"), value("placements") or {}
    found: dict[str, Deployed] = {}
    for key, spec in (services.items() if isinstance(services, dict) else ()):
        if not isinstance(spec, dict):
            continue
        regions = spec.get("regions") or [config.get("alicloud:region")]
        region = pins.get(key) if isinstance(pins, dict) and pins.get(key) else regions[0] if regions else None
        if isinstance(region, str):
            found[str(key)] = Deployed(str(key), "", region, RunsOn(None))
    return found


def copies(targets: Mapping[str, tuple[str, Sequence[str]]], records: Mapping[str, Deployed],
           owner: ownership.Owner) -> dict[str, dict[str, ownership.Copy]]:
    """What DescribeService would answer for each target, had it asked: a service of the looked-up
    name in a looked-up region is found, with its labels (this stack's, by default) and what it
    runs on."""
    by_place = {(r.name, r.region): r for r in records.values()}
    found: dict[str, dict[str, ownership.Copy]] = {}
    for key, (name, regions) in sorted(targets.items()):
        for region in regions:
            record = by_place.get((name, region))
            if record is None:
                continue
            labels = record.labels if record.labels is not None else {**owner.labels(record.key), "service": record.key}
            runs_on = dataclasses.replace(record.runs_on, request=labels.get(REQUEST_LABEL))
            found.setdefault(key, {})[region] = ownership.Copy(region, labels, "Running", name=name, runs_on=runs_on)
    return found


def as_deployed(config: Mapping[str, Any], records: Mapping[str, Deployed],
                known: Callable[[str], bool] = lambda name: True) -> dict[str, Any]:
    """A stack file's ``config`` mapping rewritten to plan what runs: only the deployed services,
    each pinned to its region and on the instance types it runs on (``make diff`` plans its base
    so, with the base's own code, to stand for the state the engine compares with).

    A service keeps the file's types where what it runs on is not recorded, or where ``known`` does
    not know a type's GPUs (its plan would fail); one that still runs where its ``drain`` leaves is
    planned there, without the drain (the move has not happened).
    """
    # Pulumi reads a key without a namespace as the project's: both spellings are the same key.
    def spelt(name: str) -> str:
        full = f"qwen3-eas:{name}"
        return name if name in config and full not in config else full

    services_key, pins_key, adopt_key = spelt("services"), spelt("placements"), spelt("adopt")
    services = config.get(services_key)
    if not isinstance(services, dict):
        return dict(config)
    pins = {k: v for k, v in dict(config.get(pins_key) or {}).items() if k in records}
    rewritten: dict[str, Any] = {}
    for key, spec in services.items():
        record = records.get(key)
        if record is None or record.outside:
            continue  # never deployed, or no longer held: nothing the engine compares with
        if not isinstance(spec, dict):
            rewritten[key] = spec
            continue
        spec = dict(spec)
        drain = spec.get("drain")
        if isinstance(drain, dict) and drain.get("region") == record.region:
            # A two-phase move that has not moved yet: it runs where the drain leaves, with
            # retainOnDelete if its first run recorded it (the label says so).
            del spec["drain"]
            if (record.labels or {}).get(ownership.RETAIN_LABEL) == "true":
                spec["retainOnDelete"] = True
        pins[key] = record.region
        spec.pop("allowRegionMove", None)
        resource = spec.get("resource")
        types = record.runs_on.instance_types
        if isinstance(resource, dict) and resource.get("kind") in ("public", "spot") and types \
                and all(known(t) for t in types):
            spec["resource"] = {**resource, "instanceTypes": list(types)}
        rewritten[key] = spec
    result = {**config, services_key: rewritten}
    result.pop(pins_key, None)
    if pins:
        result[pins_key] = pins
    adopt = config.get(adopt_key)
    if isinstance(adopt, list):
        result[adopt_key] = [k for k in adopt if k in rewritten]
    return result
