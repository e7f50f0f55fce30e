"""The offline plan's files: ``plan.json`` (for machines) and ``plan.md`` (for a PR comment).

Pure functions from plan summaries to text; the same input always gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Optional

from .cost import BID_CURRENCY_SOURCE, amount, currency_label, rate


def plan_json(summaries: Mapping[str, Mapping[str, Any]]) -> str:
    """``plan.json``: the summaries keyed by service key, sorted, indented."""
    return json.dumps(dict(summaries), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def service_json_file(service_config: str) -> str:
    """``<key>.json``: the passed service_config, indented; parsing it gives the same value."""
    return json.dumps(json.loads(service_config), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _cell(value: object) -> str:
    text = ", ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)
    return text.replace("|", "\\|").replace("\n", " ") or "-"


def _region(entry: Mapping[str, Any]) -> str:
    place = entry.get("placement") or {}
    if place.get("stock") == "dedicated":
        return entry["region"]
    mark = "verified" if place.get("verified") else "unverified"
    return f"{entry['region']} ({mark})"


def _resources(entry: Mapping[str, Any]) -> str:
    kind = entry["resourceKind"]
    types = entry.get("instanceTypes") or []
    if kind in ("public", "spot"):
        return f"{kind}: " + " → ".join(f"`{t}`" for t in types)
    return kind


def replicas_text(entry: Mapping[str, Any]) -> str:
    """``2``, or ``2 (2–6)`` with autoscaling's minimum and maximum."""
    replicas = (entry.get("cost") or {}).get("replicas") or {}
    low, high = replicas.get("min", entry["replicas"]), replicas.get("max", entry["replicas"])
    return str(entry["replicas"]) if low == high else f"{entry['replicas']} ({low}–{high})"


# -- cost (components.core.plan.cost) ----------------------------------------------------------------


def hourly_bound_text(entry: Mapping[str, Any]) -> str:
    """The hourly cost bound as a short value: ``≤ 120 USD/h``, ``unknown (spot ≤ 7.2 USD/h)``, ``dedicated``."""
    cost = entry.get("cost")
    if not cost:
        return "-"
    currency = cost.get("currency", "USD")
    if cost["hourlyBound"] is not None:
        return f"≤ {rate(cost['hourlyBound'], currency)}"
    if not cost["instanceTypes"]:
        return "dedicated"
    spot = cost.get("spotHourlyBound")
    return "unknown" if spot is None else f"unknown (spot ≤ {rate(spot, currency)})"


def billing_text(entry: Mapping[str, Any], quote: str = "") -> str:
    """The instance types in the order EAS tries them, each with how it is billed (and, for spot,
    the discounts a capacity snapshot reported)."""
    cost = entry.get("cost") or {}
    words = []
    for e in cost.get("instanceTypes") or []:
        name = f"{quote}{e['type']}{quote}"
        currency = e.get("currency", cost.get("currency", "USD"))
        if e["billing"] == "spot":
            discounts = [f"{label} {amount(e[key])}" for key, label in
                         (("spotDiscount", "SpotDiscount"), ("nonProtectSpotDiscount", "NonProtectSpotDiscount"))
                         if e.get(key) is not None]
            extra = f"; snapshot: {', '.join(discounts)}" if discounts else ""
            words.append(f"{name} spot (bid {rate(e['bidPerHour'], currency)}{extra})")
        else:
            price = e.get("pricePerHour")
            words.append(f"{name} on-demand (" + ("price unknown" if price is None else rate(price, currency)) + ")")
    return " → ".join(words)


def _cost_lines(entry: Mapping[str, Any]) -> list[str]:
    cost = entry.get("cost")
    if not cost:
        return []
    low, high = cost["replicas"]["min"], cost["replicas"]["max"]
    lines = [f"replicas: {entry['replicas']}" + ("" if low == high else f", autoscaling between {low} and {high}")
             + (f"; up to {cost['surge']} more while a rolling update runs (rollingStrategy.maxSurge)"
                if cost.get("surge") else "")]
    if cost["instanceTypes"]:
        lines.append("instance types, in the order EAS tries them: " + billing_text(entry, "`"))
    lines.append("fallback regions: " + (", ".join(cost["fallbackRegions"]) or "none"))
    lines.append("hourly cost: " + cost["summary"])
    site = cost.get("site")
    if site is not None and any(e["billing"] == "spot" for e in cost["instanceTypes"]):
        lines.append(f"bid currency: {bid_currency_words(site)}")
    return lines


def bid_currency_words(site: str) -> str:
    """``USD on the international site (qwen3-eas:cost.site)``, or ``currency unconfirmed on the china site ...``
    (the source is listed with the plan's sources, ``sources_lines``)."""
    return f"{currency_label(site)} on the {site} site (qwen3-eas:cost.site)"


def _sources_of(entry: Mapping[str, Any]) -> list[str]:
    """Where one service's figures come from: the hardware table's rows, the bid's yardstick, the bid
    currency and the on-demand prices used."""
    cost = entry.get("cost") or {}
    found = list(entry.get("sources") or [])
    site = cost.get("site")
    if site is not None and any(e["billing"] == "spot" for e in cost.get("instanceTypes") or []):
        found.append(f"bid currency on the {site} site: {BID_CURRENCY_SOURCE[site]}")
    found += [f"`{e['type']}` on-demand price: {e['priceSource']}" for e in cost.get("instanceTypes") or []
              if e.get("priceSource")]
    return found


def sources_lines(summaries: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """``plan.md``'s sources, each once with the services it backs: the bullets above stay short."""
    backs: dict[str, list[str]] = {}
    for key in sorted(summaries):
        for text in _sources_of(summaries[key]):
            if key not in backs.setdefault(text, []):
                backs[text].append(key)
    if not backs:
        return []
    return ["", "## Sources", "", *(f"- {text} ({', '.join(f'`{k}`' for k in keys)})" for text, keys in backs.items())]


def stack_bound_text(stack_cost: Optional[Mapping[str, Any]]) -> str:
    """The stack's hourly bound as a short value: ``≤ 180 USD/h``, ``unknown (≤ 188.4 USD/h while on spot)``,
    ``≤ 200000 USD/h + unknown (`other`)`` (the known part, and the services with no figure)."""
    if not stack_cost:
        return "-"
    currency = stack_cost.get("currency")
    if stack_cost.get("hourlyBound") is not None:
        return f"≤ {rate(stack_cost['hourlyBound'], currency)}"
    if stack_cost.get("whileOnSpot") is not None:
        return f"unknown (≤ {rate(stack_cost['whileOnSpot'], currency)} while on spot)"
    unknown = [k for k in stack_cost.get("unpriced") or stack_cost.get("unknown") or [] if isinstance(k, str)]
    named = f" ({', '.join(f'`{k}`' for k in unknown)})" if unknown else ""
    if stack_cost.get("knownPart") is not None:
        # What is known, and what is not, never a bare "unknown".
        return f"≤ {rate(stack_cost['knownPart'], currency)} + unknown{named}"
    return f"unknown{named}" if stack_cost.get("unknown") else "none billed per hour"


def stack_cost_lines(stack_cost: Optional[Mapping[str, Any]]) -> list[str]:
    """``plan.md``'s paragraph on what the whole stack may cost per hour, with its warnings."""
    if not stack_cost:
        return []
    lines = ["", f"**Hourly cost of the stack**: {stack_cost['summary']}"]
    if stack_cost.get("warnAbovePerHour") is not None:
        lines[-1] += (f" (qwen3-eas:cost.warnAbovePerHour: "
                      f"{rate(stack_cost['warnAbovePerHour'], stack_cost.get('currency'))})")
    lines += ["", *(f"- ⚠️ {w}" for w in stack_cost.get("warnings") or [])] if stack_cost.get("warnings") else []
    return lines


def option_lines(entry: Mapping[str, Any]) -> list[str]:
    """The EAS service's resource options in words, and what a replacement of it would do."""
    options = (entry.get("resource") or {}).get("options")
    if not options:
        return []
    protect = ("protect: it cannot be deleted or replaced (a region move included) until protect is false"
               if options["protect"] else "not protected")
    retain = ("retainOnDelete: removing or replacing it leaves the EAS service running, and billed"
              if options["retainOnDelete"] else "removing it from the stack deletes the EAS service")
    if options["deleteBeforeReplace"]:
        order = ("a replacement deletes it first (it runs in this region, where its name is taken): down until "
                 "the new one runs")
    else:
        order = ("a region change replaces it: the new service is created, and Running, before the old one is "
                 "deleted (a new endpoint and token)")
    if options["protect"]:
        order = "with protect: false in the same change, " + order
    return [f"resource options: {protect}; {retain}", order]


def _engine(entry: Mapping[str, Any]) -> str:
    """Engine and version; with the image's digest (shortened as registries show it) when pinned."""
    text = f"{entry['engine']} {entry['engineVersion']}"
    digest = entry.get("imageDigest")
    return f"{text} @{digest[:19]}…" if digest else text


def plan_markdown(stack: str, summaries: Mapping[str, Mapping[str, Any]],
                  stack_cost: Optional[Mapping[str, Any]] = None) -> str:
    """``plan.md``: one table row per service, the stack's hourly cost, then each service's choices in words."""
    lines = [
        f"## qwen3-eas plan: stack `{stack}`",
        "",
        "| service | EAS name | model | engine | region | resources | GPUs / replica | replicas | cost bound |"
        " max tokens | sizing | warnings |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key in sorted(summaries):
        e = summaries[key]
        gpus = f"{e['gpusPerReplica']} × {e['gpuMemoryGiB']} GB"
        lines.append(
            "| " + " | ".join(_cell(v) for v in (
                f"`{key}`", f"`{e['name']}`", e["model"], _engine(e),
                _region(e), _resources(e), gpus, replicas_text(e), hourly_bound_text(e), e["maxModelLen"],
                (e.get("sizing") or {}).get("verdict", "-"), len(e["warnings"]),
            )) + " |"
        )
    lines += stack_cost_lines(stack_cost)
    for key in sorted(summaries):
        e = summaries[key]
        lines += ["", f"### `{key}`", ""]
        lines += [f"- {line}" for line in _cost_lines(e)]
        lines += [f"- {line}" for line in option_lines(e)]
        lines += [f"- {line}" for line in e.get("explanation", [])]
        tried = (e.get("placement") or {}).get("tried") or []
        if tried:
            lines += ["", "Region fallback, in the order tried:", "", "| region | instance type | passed over because |",
                      "|---|---|---|"]
            lines += [f"| {_cell(t['region'])} | `{_cell(t['instanceType'])}` | {_cell(t['reason'])} |" for t in tried]
            lines.append("")
        for warning in e["warnings"]:
            lines.append(f"- ⚠️ {warning}")
    lines += sources_lines(summaries)
    return "\n".join(lines) + "\n"
