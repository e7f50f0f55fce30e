"""Read a stack's config (``qwen3-eas:*`` keys) into a validated ``StackConfig``.

The input is the flat key -> value map Pulumi hands a program (object values arrive as JSON
text) or the ``config:`` block of a stack file. Every problem is collected with its location,
then raised once as a ``StackConfigError`` a person can act on.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from pydantic import BaseModel, ValidationError

from . import regions, spec
from .catalog import MAX_CONTEXT, suggest
from .errors import Problem, StackConfigError

NAMESPACE = spec.PROJECT
_KEYS = {"services": "services", "workspaceId": "workspace_id", "placements": "placements"}
_RESOURCE_KINDS = ("public", "spot", "resourceGroup", "quota")


@dataclass(frozen=True)
class LoadedStack:
    """A stack's validated config plus the provider settings it depends on."""

    name: str
    config: spec.StackConfig
    default_region: Optional[str]


def _aliases(model: type[BaseModel]) -> set[str]:
    names: set[str] = set()
    for field in model.model_fields.values():
        if field.alias:
            names.add(field.alias)
    return names


_ALL_KEYS = sorted(
    set().union(
        *(
            _aliases(m)
            for m in (
                spec.ServiceSpec, spec.PublicResource, spec.SpotResource,
                spec.ResourceGroupResource, spec.QuotaResource, spec.InstanceFacts,
            )
        )
    )
)


def _decode(key: str, value: Any) -> Any:
    """Pulumi passes object config as JSON text; a stack file gives the object itself."""
    if isinstance(value, str) and key in ("services", "placements"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _where(loc: tuple[Any, ...]) -> tuple[Optional[str], str]:
    """(service key, dotted field) from a pydantic error location."""
    parts = [str(p) for p in loc]
    service = None
    if parts[:1] == ["services"] and len(parts) >= 2:
        service, parts = parts[1], parts[2:]
    # Discriminated unions put the chosen tag in the location; readers never wrote it.
    cleaned: list[str] = []
    for i, part in enumerate(parts):
        if i > 0 and parts[i - 1] == "resource" and part in _RESOURCE_KINDS:
            continue
        cleaned.append(part)
    return service, ".".join(cleaned) or "services"


_FIXES = {
    "maxModelLen": f"Qwen3 reaches at most {MAX_CONTEXT} tokens (YaRN factor 4); set maxModelLen between 1024 and {MAX_CONTEXT}",
    "replicas": "set replicas to 1 or more",
    "bidPrice": "set bidPrice to the most you will pay per instance-hour, above 0 "
    "(EAS suggests about 20% of the on-demand price)",
    "resourceGroupId": "set resourceGroupId to your EAS dedicated resource group's ID (eas-r-...)",
    "quotaId": "set quotaId to your Lingjun resource quota's ID",
    "engine": "use one of sglang, vllm, bladellm",
}


def _problem(error: Mapping[str, Any]) -> Problem:
    service, field = _where(tuple(error["loc"]))
    leaf = field.rsplit(".", 1)[-1]
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        near = difflib.get_close_matches(leaf, _ALL_KEYS, n=1)
        hint = f"did you mean {near[0]!r}?" if near else "see `make schema` for the allowed keys"
        return Problem(field, "unknown key", f"remove it or correct its spelling ({hint})", service)
    if kind == "missing":
        return Problem(field, "is required but missing", _FIXES.get(leaf, f"add {leaf}"), service)
    if leaf == "model" and kind == "literal_error":
        return Problem(field, f"{value!r} is not a Qwen3 model we can deploy", suggest(str(value)), service)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return Problem(f"{field}.kind" if not field.endswith("kind") else field,
                       f"resource kind {error.get('ctx', {}).get('tag', value)!r} is not known" if kind == "union_tag_invalid"
                       else "resource kind is missing",
                       "set kind to one of " + ", ".join(_RESOURCE_KINDS), service)
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    message = message[0].lower() + message[1:]
    if kind not in ("value_error",) and value is not None and not isinstance(value, (dict, list)):
        message += f" (got {value!r})"
    fix = _FIXES.get(leaf)
    if fix is None:
        if kind.endswith("_type"):
            fix = f"give {leaf} a value of the right type (see `make schema`)"
        elif kind == "literal_error":
            fix = f"use {error.get('ctx', {}).get('expected', 'an allowed value')}"
        else:
            fix = f"correct {leaf}"
    return Problem(field, message, fix, service)


def load(stack: str, raw: Mapping[str, Any]) -> LoadedStack:
    """Validate a stack's flat config map; raise ``StackConfigError`` listing every problem."""
    problems: list[Problem] = []
    ours: dict[str, Any] = {}
    for full_key, value in sorted(raw.items()):
        namespace, _, key = full_key.partition(":")
        if namespace != NAMESPACE:
            continue
        if key not in _KEYS:
            near = difflib.get_close_matches(key, list(_KEYS), n=1)
            known = ", ".join(f"{NAMESPACE}:{k}" for k in _KEYS)
            hint = f"did you mean '{NAMESPACE}:{near[0]}'?" if near else f"known keys: {known}"
            problems.append(Problem(full_key, "unknown config key", f"remove it or correct its spelling ({hint})"))
            continue
        ours[key] = _decode(key, value)
    if "services" not in ours:
        problems.append(Problem(f"{NAMESPACE}:services", "no services are configured",
                                f"add a '{NAMESPACE}:services' mapping of service key to spec (see README)"))
    config: Optional[spec.StackConfig] = None
    if not problems:
        try:
            config = spec.StackConfig.model_validate(ours)
        except ValidationError as exc:
            problems.extend(_problem(e) for e in exc.errors())
    region = raw.get("alicloud:region")
    problems.extend(_region_problems(region if isinstance(region, str) else None, config))
    if problems or config is None:
        raise StackConfigError(stack, problems)
    return LoadedStack(stack, config, region if isinstance(region, str) else None)


def _region_problems(default_region: Optional[str], config: Optional[spec.StackConfig]) -> list[Problem]:
    """Every region the stack names that EAS does not run in (``components.core.regions``)."""
    found: list[Problem] = []
    if default_region is not None and not regions.is_eas_region(default_region):
        found.append(Problem("alicloud:region", str(regions.unknown_region(default_region)),
                             f"set alicloud:region to a region ID where EAS runs ({regions.region_hint(default_region)})"))
    if config is None:
        return found
    for key, service in sorted(config.services.items()):
        for index, region in enumerate(service.regions or []):
            if not regions.is_eas_region(region):
                found.append(Problem(f"regions[{index}]", str(regions.unknown_region(region)),
                                     f"write a region ID where EAS runs ({regions.region_hint(region)})", key))
    for key, region in sorted(config.placements.items()):
        if not regions.is_eas_region(region):
            found.append(Problem(f"{NAMESPACE}:placements.{key}", str(regions.unknown_region(region)),
                                 f"pin {key!r} to the region it runs in ({regions.region_hint(region)})"))
    return found
