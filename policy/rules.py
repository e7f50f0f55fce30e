"""The policy pack's rules for every ``alicloud:pai/service:Service``, including hand-written ones.

Pure functions over a resource's inputs as Pulumi hands them to a policy (``serviceConfig`` as a
JSON string, ``tags`` as a map). Each rule returns its violation messages; an empty list passes.
The sizing rules call ``components.core.hardware.sizing`` itself, so a service someone wrote by hand is held
to exactly the table and estimate the component applies. ``policy/__main__.py`` only wires the
rules into a pack; the default enforcement levels live here with the rules.

What a rule knows of a hand-written service comes from ``policy.facts`` (``read_service``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Optional

from components.core.engines import launch as engines
from components.core.hardware import instance_types, sizing
from components.core.plan import bids

from .facts import (
    GpuFacts,
    GpuOption,
    ServiceFacts,
    as_mapping,
    as_sequence,
    containers,
    oss_paths,
    parse_config,
    read_service,
)

SERVICE_TYPE = "alicloud:pai/service:Service"
"""The resource type every rule applies to."""

MANDATORY = "mandatory"
ADVISORY = "advisory"

def _verdicts(facts: ServiceFacts) -> Iterator[tuple[GpuOption, int, sizing.Verdict]]:
    """Each GPU option with the GPUs the engine uses and the sizing verdict for them."""
    if facts.model is None:
        return
    for option in facts.options:
        # A start command with a smaller tensor-parallel size uses only that many GPUs.
        used = min(option.gpus, facts.tensor_parallel or option.gpus)
        yield option, used, sizing.check(facts.model, used, option.gpu_memory_gb, facts.max_model_len, facts.engine,
                                         kv_fp8=facts.kv_fp8)


def _what(facts: ServiceFacts, option: GpuOption, used: int) -> str:
    assert facts.model is not None
    uses = f" of which the start command uses {used}" if used != option.gpus else ""
    return (f"{option.label} gives each replica {option.gpus} x {option.gpu_memory_gb} GB{uses} "
            f"(GPUs from {option.source}); {facts.model.name} (from {facts.model_source}) at {facts.max_model_len} tokens")


# -- the rules --------------------------------------------------------------------------------


def sizing_table(props: Mapping[str, Any], *, region: Optional[str] = None,
                 gpu_facts: Optional[GpuFacts] = None) -> list[str]:
    """Alibaba's minimum-configuration table, and whether the model splits across the GPUs.

    What the component always refuses (``sizing.strict`` does not soften it).
    """
    facts = read_service(props, gpu_facts)
    messages: list[str] = []
    for option, used, verdict in _verdicts(facts):
        if facts.tensor_parallel and facts.tensor_parallel > option.gpus:
            messages.append(f"{option.label} has {option.gpus} GPU(s) per replica but the start command asks for "
                            f"tensor parallel size {facts.tensor_parallel}; it cannot start")
            continue
        if not verdict.meets_table:
            table = verdict.table
            messages.append(f"{_what(facts, option, used)}: below the minimum-configuration table, "
                            f"{table.describe()}. Fix: at least {table.gpus} GPU(s) of {table.gpu_memory_gb} GB or more "
                            "per replica")
        elif not verdict.parallelism.ok:
            messages.append(f"{_what(facts, option, used)}: {verdict.parallelism.reason}. Fix: {verdict.parallelism.fix}")
        elif not verdict.table.listed and verdict.errors:
            # No table row (the 2507, Coder and Next models): the estimate is the only check, so
            # it is enforced here rather than left advisory.
            messages.append(f"{_what(facts, option, used)}: {verdict.table.describe()}, and it fails: "
                            f"{verdict.errors[-1]}. Fix: {_estimate_fix(facts, used, option)}")
    return messages


def _estimate_fix(facts: ServiceFacts, used: int, option: GpuOption) -> str:
    assert facts.model is not None
    fits = sizing.largest_fitting_len(facts.model, used, option.gpu_memory_gb, facts.engine, kv_fp8=facts.kv_fp8)
    return f"--max-model-len {fits} or less" if fits else "more GPU memory per replica"


def sizing_estimate(props: Mapping[str, Any], *, region: Optional[str] = None,
                    gpu_facts: Optional[GpuFacts] = None) -> list[str]:
    """The per-GPU memory estimate (weights + one full sequence's KV cache + overhead) fits."""
    facts = read_service(props, gpu_facts)
    messages: list[str] = []
    for option, used, verdict in _verdicts(facts):
        if not verdict.meets_table or not verdict.parallelism.ok or not verdict.errors or not verdict.table.listed:
            continue  # the table rule speaks for those (and enforces the estimate where there is no row)
        messages.append(f"{option.label} (GPUs from {option.source}): {verdict.errors[-1]}. "
                        f"Fix: {_estimate_fix(facts, used, option)}")
    return messages


def unverifiable(props: Mapping[str, Any], *, region: Optional[str] = None,
                 gpu_facts: Optional[GpuFacts] = None) -> list[str]:
    """What the other rules could not check, and why: advisory, never a guess."""
    facts = read_service(props, gpu_facts)
    if facts.config is None:
        return [f"cannot verify this service: {facts.config_error}"]
    messages: list[str] = []
    if facts.model is None:
        messages.append("cannot verify GPU sizing: no Qwen3 model found in the tag `model`, the start command or "
                        "storage[].oss.path")
    else:
        messages += [f"cannot verify GPU sizing: {reason}" for reason in facts.unknown_gpus]
        if facts.model_conflicts:
            messages.append(f"the model is ambiguous: {facts.model_source} names {facts.model.name} (checked) but "
                            + "; ".join(facts.model_conflicts))
    if region is None and _regional_names(facts.config):
        messages.append("cannot verify the image and model-file regions: the resource's provider has no region; set "
                        "the policy config region (or ALICLOUD_REGION)")
    return messages


def _positive_price(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and value > 0


def spot_bid(props: Mapping[str, Any], *, region: Optional[str] = None,
             gpu_facts: Optional[GpuFacts] = None) -> list[str]:
    """Spot capacity always carries a bid: ``spot_price_limit``, a positive price per instance-hour.

    An entry is spot when it has ``spot_price_limit``. Spot is meant without one when the JSON
    sets ``disable_spot_protection_period`` (a spot-only setting) or lists a Lingjun type (which
    EAS sells as spot); without a bid nothing caps what those instances may cost.
    """
    config, _ = parse_config(props)
    if config is None:
        return []
    computing = as_mapping(as_mapping(config.get("cloud")).get("computing"))
    entries = [e for e in as_sequence(computing.get("instances")) if isinstance(e, Mapping)]
    messages: list[str] = []
    bids = 0
    for index, entry in enumerate(entries):
        name = entry.get("type")
        if "spot_price_limit" in entry:
            if _positive_price(entry["spot_price_limit"]):
                bids += 1
            else:
                messages.append(f"cloud.computing.instances[{index}] ({name}) has spot_price_limit "
                                f"{entry['spot_price_limit']!r}: a bid must be a positive price per instance-hour")
        elif isinstance(name, str) and instance_types.is_lingjun(name):
            messages.append(f"cloud.computing.instances[{index}] is the Lingjun spot type {name} without a "
                            "spot_price_limit. Fix: add spot_price_limit (the most you pay per instance-hour)")
    single = computing.get("instance_type")
    if isinstance(single, str) and instance_types.is_lingjun(single):
        messages.append(f"cloud.computing.instance_type is the Lingjun spot type {single}, which cannot carry a bid. "
                        "Fix: list it in cloud.computing.instances with a spot_price_limit")
    if "disable_spot_protection_period" in computing and bids == 0:
        messages.append("cloud.computing.disable_spot_protection_period is set (a spot-only setting) but no instance "
                        "entry has a spot_price_limit. Fix: bid on the spot entries, or drop the setting if the "
                        "service is not meant to run on spot")
    return messages


def _bid_verdicts(props: Mapping[str, Any], gpu_facts: Optional[GpuFacts],
                  site: str) -> list[tuple[str, bids.BidVerdict]]:
    """Each distinct positive bid of the service's spot entries, judged against the GPUs of all of them
    (``components.core.plan.bids``, as the plan judges ``bidPrice``); entries whose GPUs are unknown are
    left to eas-gpu-unverified."""
    config, _ = parse_config(props)
    if config is None:
        return []
    computing = as_mapping(as_mapping(config.get("cloud")).get("computing"))
    entries = [(i, e) for i, e in enumerate(as_sequence(computing.get("instances"))) if isinstance(e, Mapping)
               and _positive_price(e.get("spot_price_limit")) and isinstance(e.get("type"), str)]
    options = {o.label: o for o in read_service(props, gpu_facts).options}
    types = [(o.label, o.gpus, o.gpu_memory_gb) for o in options.values() if o.label in {e["type"] for _, e in entries}]
    found = []
    for bid in sorted({float(e["spot_price_limit"]) for _, e in entries}):
        where = ", ".join(f"cloud.computing.instances[{i}] ({e['type']})" for i, e in entries
                          if float(e["spot_price_limit"]) == bid)
        found.append((where, bids.judge(bid, types, site)))
    return found


def _site(site: Any) -> str:
    return site if site in ("international", "china") else "international"


def spot_bid_limit(props: Mapping[str, Any], *, region: Optional[str] = None, gpu_facts: Optional[GpuFacts] = None,
                   site: Any = None) -> list[str]:
    """A bid beyond any plausible price for its GPUs: the hard limit ``make plan`` refuses."""
    return [f"{where}: {verdict.refusal[0]}. Fix: {verdict.refusal[1]}"
            for where, verdict in _bid_verdicts(props, gpu_facts, _site(site)) if verdict.refusal is not None]


def spot_bid_plausible(props: Mapping[str, Any], *, region: Optional[str] = None,
                       gpu_facts: Optional[GpuFacts] = None, site: Any = None) -> list[str]:
    """A bid above what its GPUs plausibly cost, below the hard limit: the plan's loud warning."""
    return [f"{where}: {warning}" for where, verdict in _bid_verdicts(props, gpu_facts, _site(site))
            for warning in verdict.warnings]


# Names of keys, env vars and flags that hold secrets, split into words (camelCase, _ and -).
_SECRET_WORDS = frozenset({"token", "secret", "password", "passwd", "credential", "credentials", "authorization"})
_SECRET_PAIRS = frozenset({("access", "key"), ("api", "key"), ("docker", "auth"), ("private", "key")})
_ACCESS_KEY_ID = re.compile(r"\bLTAI[0-9A-Za-z]{12,30}\b")
_AUTH_HEADER = re.compile(r"Authorization\s*:\s*(?:Bearer\s+)?['\"]?([^\s'\"$]\S*)", re.IGNORECASE)
_ASSIGNMENT = re.compile(r"(?<![\w$])([A-Za-z_][A-Za-z0-9_]*)=(['\"]?)([^\s'\"]*)")
_FLAG = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)(?:=|\s+)(['\"]?)([^\s'\"]+)")


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def secret_name(name: str) -> bool:
    """True for names like ``token``, ``HF_TOKEN``, ``accessKeySecret``, ``--api-key``, ``dockerAuth``."""
    words = _words(name)
    return bool(_SECRET_WORDS.intersection(words)) or any(pair in _SECRET_PAIRS for pair in pairwise(words))


def _literal(value: str) -> bool:
    """A value written out, not a reference to one (``$VAR``, ``${VAR}``) and not empty."""
    return bool(value.strip()) and not value.lstrip().startswith("$")


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """(path, key, value) of every entry of a JSON value, depth first."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            yield child, str(key), item
            yield from _walk(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            child = f"{path}[{index}]"
            yield child, "", item
            yield from _walk(item, child)


def _text_findings(path: str, text: str) -> list[str]:
    found: list[str] = []
    if _ACCESS_KEY_ID.search(text):
        found.append(f"{path} contains an Alibaba Cloud AccessKey ID (LTAI...)")
    if _AUTH_HEADER.search(text):
        found.append(f"{path} writes an Authorization header with a literal value")
    for name, _, value in _ASSIGNMENT.findall(text):
        if secret_name(name) and _literal(value):
            found.append(f"{path} sets {name} to a literal value")
    for flag, _, value in _FLAG.findall(text):
        if secret_name(flag) and _literal(value) and not value.startswith("-"):
            found.append(f"{path} passes {flag} a literal value")
    return found


def credentials(props: Mapping[str, Any], *, region: Optional[str] = None,
                gpu_facts: Optional[GpuFacts] = None) -> list[str]:
    """No token, password, key or other credential written into the service JSON.

    Everything in ``serviceConfig`` lands in Pulumi's state, in plans and in EAS's copy of the
    service; EAS generates the service token itself. Messages name where, never the value.
    """
    config, _ = parse_config(props)
    if config is None:
        raw = props.get("serviceConfig")
        if isinstance(raw, str) and _ACCESS_KEY_ID.search(raw):
            return ["serviceConfig contains an Alibaba Cloud AccessKey ID (LTAI...) (value not shown)"]
        return []
    found: list[str] = []
    for index, container in enumerate(containers(config)):
        for number, env in enumerate(as_sequence(container.get("env"))):
            env = as_mapping(env)
            name, value = env.get("name"), env.get("value")
            if isinstance(name, str) and secret_name(name) and isinstance(value, str) and _literal(value):
                found.append(f"containers[{index}].env[{number}] sets {name} to a literal value")
    for path, key, value in _walk(config):
        if not isinstance(value, str):
            continue
        if key and secret_name(key) and _literal(value):
            found.append(f"{path} is a credential written into the config")
        found.extend(_text_findings(path, value))
    unique = list(dict.fromkeys(found))
    fix = ("Fix: leave `token` out (EAS generates it) and have the container read other secrets at start from "
           "somewhere it is granted access to, never from the service JSON")
    return [f"{message} (value not shown). {fix}" for message in unique]


def _regional_names(config: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(where, name, its region) of every image and internal OSS endpoint that names a region."""
    found: list[tuple[str, str, str]] = []
    for index, container in enumerate(containers(config)):
        image = container.get("image")
        if isinstance(image, str):
            image_region = engines.image_region(image)
            if image_region is not None:
                found.append((f"containers[{index}].image", image, image_region))
    for where, path in oss_paths(config):
        match = _OSS_INTERNAL.search(path)
        if match is not None:
            found.append((where, path, match[1]))
    return found


# An OSS internal endpoint answers only inside its own region.
_OSS_INTERNAL = re.compile(r"\boss-([a-z0-9-]+?)-internal\.aliyuncs\.com\b")


def image_region(props: Mapping[str, Any], *, region: Optional[str] = None,
                 gpu_facts: Optional[GpuFacts] = None) -> list[str]:
    """Images come from the service's own region's registry (and model files from its internal OSS).

    EAS pulls over the region's VPC endpoint; another region's registry or internal OSS
    endpoint is not reachable from there. Without a region the rule cannot judge (see
    ``unverifiable``).
    """
    config, _ = parse_config(props)
    if config is None or region is None:
        return []
    messages = []
    for where, name, named_region in _regional_names(config):
        if named_region != region:
            what = "registry" if where.endswith(".image") else "internal OSS endpoint"
            messages.append(f"{where} {name} is in {named_region}'s {what} but the service runs in {region}. "
                            f"Fix: use the {region} one"
                            + (f" (eas-registry-vpc.{region}.cr.aliyuncs.com)" if what == "registry" else ""))
    return messages


def urn_stack(urn: Any) -> Optional[str]:
    """The stack a resource belongs to, from its URN (``urn:pulumi:<stack>::<project>::...``)."""
    if not isinstance(urn, str) or not urn.startswith("urn:pulumi:"):
        return None
    stack = urn[len("urn:pulumi:"):].split("::", 1)[0]
    return stack or None


def digest_required(setting: Any, stack: Optional[str]) -> bool:
    """Whether the policy config ``requireImageDigest`` asks for digests in ``stack``.

    ``true`` means every stack; a list names the stacks (``["prod"]``), so one config file can
    serve the whole pipeline. A resource whose stack cannot be read is held to a list too: a
    rule that silently passes when it cannot tell is no guard.
    """
    if isinstance(setting, bool):
        return setting
    if isinstance(setting, (list, tuple)):
        return stack is None or stack in setting
    return False


def image_digest(props: Mapping[str, Any], *, region: Optional[str] = None,
                 gpu_facts: Optional[GpuFacts] = None, digest_required: bool = False,
                 stack: Optional[str] = None) -> list[str]:
    """Every container image is pinned by digest (``...@sha256:<64 hex>``), where required.

    A tag can be moved to other content after review; a digest names the content, so what was
    reviewed is what EAS pulls. Off unless the policy config ``requireImageDigest`` covers the
    resource's stack (see ``digest_required``).
    """
    if not digest_required:
        return []
    config, _ = parse_config(props)
    if config is None:
        return []  # eas-gpu-unverified reports an unreadable config
    where_stack = f" in stack {stack}" if stack else ""
    messages = []
    for index, container in enumerate(containers(config)):
        image = container.get("image")
        if not isinstance(image, str):
            continue
        digest = engines.image_digest(image)
        if digest is None:
            messages.append(f"containers[{index}].image {image} is not pinned by digest, which the policy config "
                            f"requireImageDigest requires{where_stack}. Fix: append the digest of that tag "
                            "(image: <repo>:<tag>@sha256:<64 hex>; docs/security.md says how to read it)")
        elif not engines.DIGEST.fullmatch(digest):
            messages.append(f"containers[{index}].image {image}: {digest!r} is not a sha256 digest. Fix: "
                            "@sha256: followed by the 64 lowercase hex characters the registry shows")
    return messages


def resource_region(provider_props: Optional[Mapping[str, Any]], configured: Any,
                    environ: Mapping[str, str]) -> Optional[str]:
    """The region a service is created in: its provider's ``region`` input, else the policy
    config ``region``, else ``ALICLOUD_REGION`` (the provider's own fallback)."""
    for candidate in ((provider_props or {}).get("region"), configured, environ.get("ALICLOUD_REGION")):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return None


# -- the registry the pack is built from ------------------------------------------------------

Check = Callable[..., list[str]]


@dataclass(frozen=True)
class Rule:
    """One policy of the pack: its name, what it checks, its default level and its function."""

    name: str
    description: str
    level: str
    check: Check
    config: tuple[str, ...] = ()
    """Policy config properties it reads: ``region``, ``gpuFacts``, ``requireImageDigest``, ``site``."""


RULES: tuple[Rule, ...] = (
    Rule("eas-gpu-table", "Qwen3 services meet Alibaba's minimum GPU table (or, for models it has no row for, the "
         "memory estimate) and split across their GPUs",
         MANDATORY, sizing_table, ("gpuFacts",)),
    Rule("eas-gpu-estimate", "Qwen3 services fit their GPUs by the per-GPU memory estimate",
         ADVISORY, sizing_estimate, ("gpuFacts",)),
    Rule("eas-gpu-unverified", "EAS services whose model, GPUs or region the pack could not read",
         ADVISORY, unverifiable, ("gpuFacts", "region")),
    Rule("eas-spot-bid", "Spot capacity on EAS always carries a bid price (spot_price_limit)",
         MANDATORY, spot_bid),
    Rule("eas-spot-bid-limit", "A spot bid is a price: not beyond any plausible price for its GPUs (10 times the "
         "dearest on-demand list price of their class)", MANDATORY, spot_bid_limit, ("gpuFacts", "site")),
    Rule("eas-spot-bid-plausible", "A spot bid is not above the dearest on-demand list price of its GPUs' class",
         ADVISORY, spot_bid_plausible, ("gpuFacts", "site")),
    Rule("eas-no-credentials", "No token, password or key is written into an EAS service config",
         MANDATORY, credentials),
    Rule("eas-image-region", "EAS images and internal model files come from the service's own region",
         MANDATORY, image_region, ("region",)),
    Rule("eas-image-digest", "EAS images are pinned by digest in the stacks the config names (requireImageDigest)",
         MANDATORY, image_digest, ("requireImageDigest",)),
)
"""Every rule, with its default enforcement level (the pack's config can change any)."""

CONFIG_SCHEMA: dict[str, dict[str, Any]] = {
    "region": {"type": "string", "description": "region of services whose provider states none"},
    "requireImageDigest": {
        "description": "require images pinned by digest: true for every stack, or the stack names",
        "oneOf": [{"type": "boolean"}, {"type": "array", "items": {"type": "string"}, "uniqueItems": True}],
    },
    "site": {
        "type": "string",
        "enum": ["international", "china"],
        "description": "the Alibaba Cloud site, as qwen3-eas:cost.site: on china, where the bid currency is "
        "unconfirmed, the bid limits are 8 times higher in case bids are in yuan",
    },
    "gpuFacts": {
        "type": "object",
        "description": "GPU figures by instance type, resource group ID or quota ID",
        "additionalProperties": {
            "type": "object",
            "properties": {
                "gpus": {"type": "integer", "minimum": 1},
                "gpuType": {"type": "string"},
                "gpuMemoryGiB": {"type": "integer", "minimum": 1},
            },
            "additionalProperties": False,
        },
    },
}
"""JSON Schema of each config property a rule may read (validated by the Pulumi CLI)."""
