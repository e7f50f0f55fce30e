"""Read a stack's config (``qwen3-eas:*`` keys) into a validated ``StackConfig``.

The input is the flat key -> value map Pulumi hands a program (object values arrive as JSON
text) or the ``config:`` block of a stack file. Every problem is collected with its location,
then raised once as a ``StackConfigError`` a person can act on.
"""

from __future__ import annotations

import difflib
import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from ..errors import Problem, StackConfigError
from ..models.catalog import LONGEST_CONTEXT, MAX_CONTEXT, suggest
from . import config_text, naming, regions, spec

NAMESPACE = spec.PROJECT
_KEYS = {"services": "services", "workspaceId": "workspace_id", "placements": "placements",
         "protect": "protect", "retainOnDelete": "retain_on_delete", "cost": "cost", "namePrefix": "name_prefix",
         "adopt": "adopt"}
_RESOURCE_KINDS = ("public", "spot", "resourceGroup", "quota")


@dataclass(frozen=True)
class LoadedStack:
    """A stack's validated config plus the provider settings it depends on."""

    name: str
    config: spec.StackConfig
    default_region: Optional[str]


def _aliases(model: type[BaseModel]) -> list[str]:
    """The keys a model takes, as the stack file spells them."""
    return [field.alias or name for name, field in model.model_fields.items()]


_ALL_KEYS = sorted(
    set().union(
        *(
            _aliases(m)
            for m in (
                spec.ServiceSpec, spec.PublicResource, spec.SpotResource,
                spec.ResourceGroupResource, spec.QuotaResource, spec.InstanceFacts, spec.CostOptions, spec.Drain,
            )
        )
    )
)


def _decode(key: str, value: Any) -> Any:
    """Pulumi passes object config as JSON text; a stack file gives the object itself. (Every
    other value arrives as text too, a stack file's ``true`` as "true": ``config_text.coerce``
    reads it as its field's type.)"""
    if isinstance(value, str) and key in ("services", "placements", "cost", "adopt"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _path_written_as_key(full_key: str, key: str, value: Any) -> Optional[Problem]:
    """A key such as ``qwen3-eas:services.chat.replicas``: what ``pulumi config set`` writes when
    ``--path`` is forgotten (the path becomes one key's name), with the command that sets it."""
    head = re.split(r"[.\[]", key, maxsplit=1)[0]
    if head == key or head not in _KEYS:
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (str, int, float)):
        text = shlex.quote(str(value))
    else:
        text = "<value>"
    inside = key[len(head):].lstrip(".")
    return Problem(full_key, f"is a single key named after a path, not {inside!r} inside {NAMESPACE}:{head}: "
                   "`pulumi config set` without --path writes the path as one key's name, and nothing reads that key",
                   f"set the value inside {NAMESPACE}:{head} with `pulumi config set --path '{full_key}' {text}`, "
                   f"then remove this key with `pulumi config rm '{full_key}'` (without --path)")


# ---------------------------------------------------------------------------------------------
# From a pydantic error to a Problem in the stack file's own terms: the field as it is written
# there, what is wrong with the value, and what to write instead. Pydantic's own wording
# ("dictionary", "after validation", union member labels) never reaches the user.


@dataclass(frozen=True)
class _Place:
    """Where an error points, read by walking the error's location through the spec models."""

    service: Optional[str]
    parts: tuple[str, ...]
    """The path inside the service (or the stack's namespace), as the stack file spells it."""
    field: Optional[Any]
    """The pydantic FieldInfo of the last part, when it is a model field."""
    container: Optional[type[BaseModel]]
    """The model whose mapping holds the last part."""
    key_error: bool = False
    """The last part is a mapping key that is itself invalid (pydantic's ``[key]``)."""

    @property
    def leaf(self) -> str:
        """The key the error is about; for a list entry, the list and its index (``regions[1]``)."""
        if not self.parts:
            return self.service if self.service is not None else "services"
        if self.parts[-1].startswith("[") and len(self.parts) > 1:
            return self.parts[-2] + self.parts[-1]
        return self.parts[-1]

    def below(self, field: str) -> _Place:
        """The place of ``field`` (dotted) inside this one."""
        return _Place(self.service, (*self.parts, *field.split(".")), None, None)

    def display(self) -> str:
        text = ""
        for part in self.parts:
            if part.startswith("["):
                text += part
            elif "." in part or not part:
                text += f"[{part!r}]"
            else:
                text += ("." if text else "") + part
        if self.service is None:
            return f"{NAMESPACE}:{text}"
        return text or f"{NAMESPACE}:services.{self.service}"


def _place(loc: tuple[Any, ...]) -> _Place:
    """Walk ``loc`` from ``StackConfig`` down the types, keeping only what the stack file shows."""
    tp: Any = spec.StackConfig
    parts: list[str] = []
    field: Optional[Any] = None
    container: Optional[type[BaseModel]] = None
    service: Optional[str] = None
    key_error = False
    for index, raw in enumerate(loc):
        part = raw if isinstance(raw, int) else str(raw)
        tp = config_text.unwrap(tp)
        if part == "[key]":
            key_error = True
            break
        if config_text.is_model(tp):
            by_alias = {(f.alias or n): f for n, f in tp.model_fields.items()}
            container = tp
            if part in by_alias:
                field = by_alias[part]
                tp = field.annotation
            else:
                field, tp = None, None
            parts.append(str(part))
        elif get_origin(tp) is Union:
            models = [m for m in get_args(tp) if config_text.is_model(m) and "kind" in m.model_fields]
            chosen = [m for m in models if get_args(m.model_fields["kind"].annotation) == (part,)]
            # A discriminated union names the chosen kind; other unions name the member tried
            # (``int``, ``function-after[...]``): neither is anything the user wrote.
            tp = chosen[0] if chosen else None
        elif get_origin(tp) is dict:
            if index == 1 and tuple(loc[:1]) == ("services",):
                # A service's fields are named from the service, which the message names apart.
                service = str(part)
                parts.clear()
            else:
                parts.append(str(part))
            field = None
            tp = get_args(tp)[1]
        elif get_origin(tp) is list and isinstance(part, int):
            parts.append(f"[{part}]")
            field = None
            tp = get_args(tp)[0]
        elif isinstance(part, int):
            parts.append(f"[{part}]")
        elif tp is not None:
            parts.append(str(part))
            tp = None
    return _Place(service, tuple(parts), field, container, key_error)


_EXAMPLES = {
    "services": "chat: {model: Qwen3-8B, engine: vllm, resource: {kind: public, instanceTypes: [ml.gu7i.c16m60.1-gu30]}}",
    "resource": "{kind: public, instanceTypes: [ml.gu7i.c16m60.1-gu30]}",
    "instanceTypes": "[ml.gu7i.c16m60.1-gu30]",
    "instanceTypeFacts": "{<instance type>: {gpus: 8, gpuType: GU120}}",
    "regions": "[cn-hangzhou, cn-shanghai]",
    "placements": "{chat: cn-hangzhou}",
    "cost": "{site: international, warnAbovePerHour: 100}",
    "autoscaling": "{min: 1, max: 4, qps: 10}",
    "rollingStrategy": "{maxSurge: 1, maxUnavailable: 0}",
    "network": "{vpcId: vpc-..., vswitchId: vsw-..., securityGroupId: sg-...}",
    "sizing": "{strict: true}",
    "maxSurge": "1 (replicas) or '20%'",
    "workspaceId": "'123456'",
    "model": "Qwen3-8B",
    "engine": "vllm",
    "kind": "public",
    "bidPrice": "12.5",
    "min": "1",
    "max": "4",
    "qps": "10",
    "cpu": "8",
    "gpus": "1",
    "gpuType": "GU60",
    "gpuMemoryGiB": "48",
    "memoryGiB": "64",
    "replicas": "1",
    "maxModelLen": "32768",
    "maxUnavailable": "0",
    "vpcId": "vpc-...",
    "vswitchId": "vsw-...",
    "securityGroupId": "sg-...",
    "image": "<registry>/<namespace>/vllm:0.11.2",
    "engineVersion": "'0.11.2'",
    "modelPath": "oss://my-bucket/models/qwen3/",
    "servedModelName": "qwen3-8b",
    "resourceGroupId": "eas-r-...",
    "quotaId": "quota...",
}
"""A value to show in a fix, by the key it belongs to."""

_EXPECTED = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping of keys to values",
    "model_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values",
}
"""What a pydantic type error asked for, in words."""

_FIXES = {
    "maxModelLen": f"no Qwen3 model reaches more than {LONGEST_CONTEXT} tokens (Qwen3-Next with YaRN; the April-2025 "
    f"models {MAX_CONTEXT}); set maxModelLen between 1024 and the model's own limit",
    "replicas": "set replicas to 1 or more",
    "bidPrice": "set bidPrice to the most you will pay per instance-hour, above 0 "
    "(EAS suggests about 20% of the on-demand price)",
    "resourceGroupId": "set resourceGroupId to your EAS dedicated resource group's ID (eas-r-...)",
    "quotaId": "set quotaId to your Lingjun resource quota's ID",
    "engine": "use one of sglang, vllm, bladellm",
}


def _value_words(value: Any) -> str:
    """A value as the user wrote it, in words."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    return repr(value)


_ENTRY_EXAMPLES = {"instanceTypes": "ml.gu7i.c16m60.1-gu30", "regions": "cn-hangzhou"}
"""One entry of a list, by the list's key."""


def _example(place: _Place) -> str:
    """``key: value`` showing what to write at ``place`` ("" when there is no good example)."""
    if place.service is not None and not place.parts:
        return f"{place.service}: {_EXAMPLES['services'].split(': ', 1)[1]}"
    if place.service is None and len(place.parts) == 2 and place.parts[0] == "placements":
        return f"{place.leaf}: cn-hangzhou"
    if "[" in place.leaf:
        entry = _ENTRY_EXAMPLES.get(place.leaf.split("[")[0])
        return entry or ""
    example = _EXAMPLES.get(place.leaf)
    return f"{place.leaf}: {example}" if example else ""


def _described(place: _Place) -> str:
    """The field's own description from the spec, for a fix with no better words."""
    description = getattr(place.field, "description", None)
    if not description:
        return ""
    return f" ({description[:-1] if description.endswith('.') and not description.endswith('...') else description})"


def _problem(error: Mapping[str, Any]) -> Problem:
    place = _place(tuple(error["loc"]))
    field, leaf, service = place.display(), place.leaf, place.service
    kind = str(error["type"])
    value = error.get("input")
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, spec.SpecError):
        if place.key_error:
            return Problem(field, f"key {cause.message}", cause.fix, service)
        target = place.below(cause.field).display() if cause.field else field
        return Problem(target, cause.message, cause.fix, service)
    if kind == "extra_forbidden":
        allowed = _aliases(place.container) if place.container is not None else _ALL_KEYS
        near = difflib.get_close_matches(leaf, allowed, n=1)
        hint = f"did you mean {near[0]!r}?" if near else "the keys allowed here are " + ", ".join(allowed)
        return Problem(field, "unknown key", f"remove it or correct its spelling ({hint})", service)
    if kind == "missing":
        example = _example(place)
        fix = _FIXES.get(leaf) or (f"add {example}" if example else f"add {leaf}{_described(place)}")
        return Problem(field, "is required but missing", fix, service)
    if leaf == "model" and kind == "literal_error":
        if isinstance(value, str):
            return Problem(field, f"{value!r} is not a Qwen3 model we can deploy", suggest(value), service)
        return Problem(field, f"is {_value_words(value)}, not a model name", suggest(str(value)), service)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return Problem(f"{field}.kind" if not field.endswith("kind") else field,
                       f"resource kind {ctx.get('tag', value)!r} is not known" if kind == "union_tag_invalid"
                       else "resource kind is missing",
                       "set kind to one of " + ", ".join(_RESOURCE_KINDS), service)
    if isinstance(value, dict) and set(value) == {"secure"}:
        return Problem(field, f"is encrypted (secure:), but {leaf} is not a secret, and the offline plan cannot "
                       "decrypt it", f"write {leaf} in the clear" + (f", e.g. {_example(place)}" if _example(place) else ""),
                       service)
    if kind == "bool_type" and isinstance(value, str) and value.strip().lower() in ("true", "false"):
        word = value.strip().lower()
        return Problem(field, f"is the text {value!r} in quotes, not the boolean {word}",
                       f"write {leaf}: {word} without quotes", service)
    if kind in _EXPECTED:
        expected = _EXPECTED[kind]
        if leaf == "maxSurge":
            expected = "a whole number or a percentage"
        example = _example(place)
        fix = f"write {leaf} as {expected}" + (f", e.g. {example}" if example else "")
        return Problem(field, f"is {_value_words(value)}, not {expected}", fix, service)
    if kind == "too_short":
        return Problem(field, f"is {_value_words(value)}", _too_short_fix(place), service)
    bound = _bound(kind, ctx)
    if bound is not None:
        what, fix = bound
        return Problem(field, f"is {_value_words(value)}, {what}", _FIXES.get(leaf) or f"set {leaf} {fix}", service)
    if kind == "literal_error":
        return Problem(field, f"is {_value_words(value)}, not an allowed value",
                       _FIXES.get(leaf) or f"use {ctx.get('expected', 'an allowed value')}", service)
    # Anything else pydantic may say: its words, without its jargon, and the field's own description.
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Input should be ")
    return Problem(field, f"is {_value_words(value)}: {message[0].lower() + message[1:]}",
                   _FIXES.get(leaf) or f"write {leaf} as the stack reference describes it{_described(place)}", service)


def _too_short_fix(place: _Place) -> str:
    leaf = place.leaf
    if leaf == "services":
        return f"list at least one service under {NAMESPACE}:services, e.g. {_EXAMPLES['services']}"
    if leaf == "instanceTypes":
        return "list at least one instance type, e.g. instanceTypes: [ml.gu7i.c16m60.1-gu30], " \
               "or leave instanceTypes out to let sizing choose"
    if leaf == "regions":
        return "list at least one region, e.g. regions: [cn-hangzhou], or leave regions out to use alicloud:region"
    example = _example(place)
    return f"give {leaf} at least one entry" + (f", e.g. {example}" if example else "")


def _bound(kind: str, ctx: Mapping[str, Any]) -> Optional[tuple[str, str]]:
    """(what is wrong, how to set it) for a number outside its range."""
    if kind == "greater_than_equal":
        return f"below the smallest allowed, {ctx.get('ge')}", f"to {ctx.get('ge')} or more"
    if kind == "greater_than":
        return f"not above {ctx.get('gt')}", f"above {ctx.get('gt')}"
    if kind == "less_than_equal":
        return f"above the largest allowed, {ctx.get('le')}", f"to {ctx.get('le')} or less"
    if kind == "less_than":
        return f"not below {ctx.get('lt')}", f"below {ctx.get('lt')}"
    return None


def load(stack: str, raw: Mapping[str, Any]) -> LoadedStack:
    """Validate a stack's flat config map; raise ``StackConfigError`` listing every problem."""
    problems: list[Problem] = []
    ours: dict[str, Any] = {}
    near_misses: list[str] = []
    for full_key, value in sorted(raw.items()):
        namespace, _, key = full_key.partition(":")
        if namespace != NAMESPACE:
            if _near_namespace(namespace):
                near_misses.append(key)
                problems.append(Problem(full_key, f"namespace {namespace!r} is not the project's {NAMESPACE!r}, so "
                                        "nothing reads this key", f"rename it to '{NAMESPACE}:{key}'"))
            continue
        if key not in _KEYS:
            written_as_key = _path_written_as_key(full_key, key, value)
            if written_as_key is not None:
                problems.append(written_as_key)
                continue
            near = difflib.get_close_matches(key, list(_KEYS), n=1)
            known = ", ".join(f"{NAMESPACE}:{k}" for k in _KEYS)
            hint = f"did you mean '{NAMESPACE}:{near[0]}'?" if near else f"known keys: {known}"
            problems.append(Problem(full_key, "unknown config key", f"remove it or correct its spelling ({hint})"))
            continue
        ours[key] = _decode(key, value)
    if "services" not in ours and "services" not in near_misses:
        problems.append(Problem(f"{NAMESPACE}:services", "no services are configured",
                                f"add a '{NAMESPACE}:services' mapping of service key to spec, "
                                f"e.g. {_EXAMPLES['services']} (see docs/configuration.md)"))
    config: Optional[spec.StackConfig] = None
    if not problems:
        try:
            config = spec.StackConfig.model_validate(config_text.coerce(spec.StackConfig, ours))
        except ValidationError as exc:
            # A union reports each member it tried; the user wrote one value: one problem per field.
            seen: set[tuple[Optional[str], str]] = set()
            for error in exc.errors():
                problem = _problem(error)
                if (problem.service, problem.field) not in seen:
                    seen.add((problem.service, problem.field))
                    problems.append(problem)
    region = raw.get("alicloud:region")
    problems.extend(_region_problems(region if isinstance(region, str) else None, config))
    problems.extend(_name_problems(stack, config))
    problems.extend(_rename_problems(config))
    if problems or config is None:
        raise StackConfigError(stack, problems)
    return LoadedStack(stack, config, region if isinstance(region, str) else None)


def _near_namespace(namespace: str) -> bool:
    """A namespace that is the project's misspelt (``qwen3eas``, ``qwen3_eas``, ``Qwen3-EAS``)."""
    squashed = namespace.lower().replace("-", "").replace("_", "").replace(".", "")
    return squashed == NAMESPACE.replace("-", "") or (
        difflib.SequenceMatcher(None, namespace.lower(), NAMESPACE).ratio() >= 0.8)


def _name_problems(stack: str, config: Optional[spec.StackConfig]) -> list[Problem]:
    """Service keys whose EAS name (``[<namePrefix>_]<service key>_<stack>``, ``components.core.stack.naming``)
    would be longer than EAS allows: refused rather than cut short into a name nobody wrote."""
    if config is None:
        return []
    prefix = f"{config.name_prefix}_" if config.name_prefix else ""
    shape = "<namePrefix>_<service key>_<stack>" if prefix else "<service key>_<stack>"
    room = naming.MAX_LENGTH - len(prefix) - len(stack) - 1
    found = []
    for key in sorted(config.services):
        eas = f"{prefix}{config.identity(key)}_{stack}"
        if len(eas) > naming.MAX_LENGTH:
            fix = (f"shorten the service key to at most {room} characters (the EAS name is {shape})"
                   if room > 0 else f"use a shorter stack name{' or namePrefix' if prefix else ''}: "
                   f"'{prefix}{stack}' alone leaves no room for a service key")
            found.append(Problem("(service key)", f"its EAS name {eas!r} would be {len(eas)} characters; EAS names "
                                 f"are at most {naming.MAX_LENGTH} characters", fix, key))
    return found


def _rename_problems(config: Optional[spec.StackConfig]) -> list[Problem]:
    """``renamedFrom`` must name a key the stack no longer has, and only one service may take it over."""
    if config is None:
        return []
    found: list[Problem] = []
    taken: dict[str, str] = {}
    for key, service in sorted(config.services.items()):
        old = service.renamed_from
        if old is None:
            continue
        if old == key:
            found.append(Problem("renamedFrom", f"names the service's own key {key!r}", "remove renamedFrom", key))
        elif old in config.services:
            found.append(Problem("renamedFrom", f"names {old!r}, which is still a service of this stack",
                                 f"remove the service {old!r} (this one takes over its EAS service), or remove "
                                 "renamedFrom", key))
        elif old in taken:
            found.append(Problem("renamedFrom", f"names {old!r}, as service {taken[old]!r} does: one running service "
                                 "cannot become two", f"keep renamedFrom: {old} on one of them only", key))
        else:
            taken[old] = key
    return found


def _region_problems(default_region: Optional[str], config: Optional[spec.StackConfig]) -> list[Problem]:
    """Every region the stack names that EAS does not run in (``components.core.stack.regions``)."""
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
        if service.drain is not None and not regions.is_eas_region(service.drain.region):
            found.append(Problem("drain.region", str(regions.unknown_region(service.drain.region)),
                                 f"write the region the service runs in now ({regions.region_hint(service.drain.region)})",
                                 key))
    for key, region in sorted(config.placements.items()):
        if not regions.is_eas_region(region):
            found.append(Problem(f"{NAMESPACE}:placements.{key}", str(regions.unknown_region(region)),
                                 f"pin {key!r} to the region it runs in ({regions.region_hint(region)})"))
    return found
