"""The offline plan's files: ``plan.json`` (for machines) and ``plan.md`` (for a PR comment).

Pure functions from plan summaries to text; the same input always gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


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


def plan_markdown(stack: str, summaries: Mapping[str, Mapping[str, Any]]) -> str:
    """``plan.md``: one table row per service, then each service's choices in words."""
    lines = [
        f"## qwen3-eas plan: stack `{stack}`",
        "",
        "| service | EAS name | model | engine | region | resources | GPUs / replica | replicas | max tokens | sizing |"
        " warnings |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key in sorted(summaries):
        e = summaries[key]
        gpus = f"{e['gpusPerReplica']} × {e['gpuMemoryGiB']} GB"
        lines.append(
            "| " + " | ".join(_cell(v) for v in (
                f"`{key}`", f"`{e['name']}`", e["model"], f"{e['engine']} {e['engineVersion']}",
                _region(e), _resources(e), gpus, e["replicas"], e["maxModelLen"],
                (e.get("sizing") or {}).get("verdict", "-"), len(e["warnings"]),
            )) + " |"
        )
    for key in sorted(summaries):
        e = summaries[key]
        lines += ["", f"### `{key}`", ""]
        lines += [f"- {line}" for line in e.get("explanation", [])]
        tried = (e.get("placement") or {}).get("tried") or []
        if tried:
            lines += ["", "Region fallback, in the order tried:", "", "| region | instance type | passed over because |",
                      "|---|---|---|"]
            lines += [f"| {_cell(t['region'])} | `{_cell(t['instanceType'])}` | {_cell(t['reason'])} |" for t in tried]
            lines.append("")
        for warning in e["warnings"]:
            lines.append(f"- ⚠️ {warning}")
    return "\n".join(lines) + "\n"
