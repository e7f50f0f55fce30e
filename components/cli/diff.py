"""``make diff``: what a change does to a stack's services, as Markdown for a pull request.

    qwen3-eas diff <stack | path/to/Pulumi.<name>.yaml> --base <git ref> [--outputs FILE]
        [--capacity FILE] [--out FILE] [--json FILE]

Plans the stack twice, offline, against what runs (``components.cli.diff_sides``): at ``<ref>``
with that commit's own code (exported with ``git archive`` into a temporary folder and planned
there by ``qwen3-eas plan``, so the base's code plans the base) as deployed (``--outputs``, the
deployed stack's outputs, or where an offline plan puts each service), and the working tree as
``pulumi preview`` plans it over what runs, with the stock of ``--capacity``. Then, per service
key, it announces the step the engine will take for the EAS service, run by run
(``components.core.plan.steps``: create, update in place, replace and in which order, delete, same,
held back; refused for a protected service; a drain's two runs; a renamed key) and compares the
plan's model, placement (``region``, ``instanceTypes``, the list the deploy may use,
``placement``), sizing verdict, cost, resource options and tags, and every field of the service
JSON flattened to dotted paths; a start script is shown as a diff of its lines
(``components.cli.diff_markdown`` writes it).

Output: ``no changes`` alone when nothing differs; otherwise a heading for the stack and, per
service, a heading with the step's mark (``+``, ``~``, ``+/-`` or ``-/+``, ``-``, ``=``, ``!``),
what happens in words and a table of field, before and after; a removed service is one entry.
``--json`` writes the steps for tools (``announcement``). Keys of the service JSON that the
change drops are listed under the table as
``removed: <key>``: the provider's update merges and would keep them, so the endpoint reader
removes them from the running service with a replace-type update (``components.endpoint``). A
base that cannot be planned (the stack is new, or its file or code was
broken there) is reported with its error and every service is shown as added. A working tree
that cannot be planned is reported with its error and exits 2, like ``make plan``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..core.plan import report, steps
from ..core.plan.removals import removed_keys
from ..core.plan.service_json import runs_on
from ..core.running import deployed
from . import PROG, described, diff_sides, plan
from .diff_markdown import (
    BOUND,
    NO_CHANGES,
    context_lines,
    render,
    render_head_error,
    stack_cost_lines,
)
from .diff_sides import DiffError, plan_base, resolve_commit

# What callers use, wherever it lives now (the Markdown is diff_markdown's, the two sides diff_sides').
__all__ = ["NO_CHANGES", "DiffError", "announcement", "compare", "context_lines", "diff_stack", "plan_base", "render",
           "render_head_error", "resolve_commit", "stack_cost_lines"]

Fields = dict[str, tuple[str, str]]
"""Field key -> (label shown to the reader, value as text), in reading order."""


# -- flattening a plan into fields ------------------------------------------------------------


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _flatten(value: Any, path: str, fields: Fields) -> None:
    if isinstance(value, Mapping) and value:
        for key in sorted(value):
            _flatten(value[key], f"{path}.{key}" if path else str(key), fields)
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            _flatten(item, f"{path}[{index}]", fields)
    else:
        fields[path] = (path, _text(value))


def service_fields(summary: Mapping[str, Any], service_config: Mapping[str, Any]) -> Fields:
    """One service's comparable fields: model, placement and sizing verdict from ``plan.json``,
    then the service JSON."""
    fields: Fields = {}
    for name in ("model", "region"):
        if name in summary:
            fields[name] = (name, _text(summary[name]))
    # The digest on a row of its own: in containers[0].image it is the tail of a long reference,
    # and pinning, unpinning or moving it is what a reviewer of a prod change must not miss.
    if summary.get("imageDigest"):
        fields["imageDigest"] = ("imageDigest", _text(summary["imageDigest"]))
    if "instanceTypes" in summary:
        fields["instanceTypes"] = ("instanceTypes", ", ".join(summary["instanceTypes"]))
    if summary.get("placement"):
        _flatten(summary["placement"], "placement", fields)
    choice = summary.get("instanceTypeChoice")
    if choice and choice.get("how") != "dedicated":  # the list the deploy may use (why: plan.md says)
        fields["candidates"] = ("instanceTypeChoice.candidates", ", ".join(choice["candidates"]))
    verdict = (summary.get("sizing") or {}).get("verdict")
    if verdict is not None:
        fields["sizing.verdict"] = ("sizing.verdict", verdict)
    cost = summary.get("cost")
    if cost:  # what the service may cost, as plan.md states it (components.core.plan.cost)
        fields["replicas"] = ("replicas", report.replicas_text(summary))
        if cost["instanceTypes"]:
            fields["billing"] = ("billing", report.billing_text(summary))
        fields["fallbackRegions"] = ("fallbackRegions", ", ".join(cost["fallbackRegions"]) or "none")
        fields[BOUND] = (BOUND, report.hourly_bound_text(summary))
    resource = summary.get("resource")
    if resource:  # what the engine is given besides the service JSON (components.core.plan.steps)
        for name in ("protect", "retainOnDelete"):
            fields[name] = (name, _text(resource["options"][name]))
        for tag, value in sorted(resource["tags"].items()):
            if tag != "model":  # the model has its own row
                fields[f"tags.{tag}"] = (f"tags.{tag}", value)
    _flatten(service_config, "", fields)
    return fields


def load_side(files: Mapping[str, str]) -> dict[str, Fields]:
    """Service key -> fields, from a plan's files (``plan.json`` and ``<key>.json``)."""
    summaries = json.loads(files["plan.json"])
    return {key: service_fields(summary, json.loads(files.get(f"{key}.json", "{}")))
            for key, summary in summaries.items()}


def load_configs(files: Mapping[str, str]) -> dict[str, Any]:
    """Service key -> service JSON, from a plan's files."""
    return {key: json.loads(files.get(f"{key}.json", "{}")) for key in json.loads(files["plan.json"])}


def removals(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Per service kept on both sides, the service JSON keys the change drops (``removed_keys``)."""
    return {key: tuple(found) for key in sorted(set(before) & set(after))
            if (found := removed_keys(before[key], after[key]))}


# -- comparing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldChange:
    """One field that differs; ``None`` where a side does not have it."""

    label: str
    before: Optional[str]
    after: Optional[str]


@dataclass(frozen=True)
class ServiceChange:
    """One service's step (``components.core.plan.steps``) and the fields that differ."""

    key: str
    step: steps.Step
    fields: tuple[FieldChange, ...]
    removed: tuple[str, ...] = ()
    """Service JSON keys the change drops from a service that stays (``removals``)."""
    regions: tuple[Optional[str], Optional[str]] = (None, None)
    """The service's region before and after (None where it does not exist)."""
    held_back: str = ""
    """Why the run holds it back (the regions tried), for a ``held-back`` step."""
    rename: Optional[Rename] = None
    """The key it was renamed from or to, where the change renames a service key."""
    instance_types: tuple[Optional[tuple[str, ...]], Optional[tuple[str, ...]]] = (None, None)
    """The instance types its service JSON lists before and after (None where it does not exist)."""

    @property
    def shown(self) -> bool:
        """Whether the Markdown shows it: every step but ``same``, and ``same`` with changed options
        or a new key."""
        return self.step.step != steps.SAME or bool(self.fields) or self.rename is not None


@dataclass(frozen=True)
class Rename:
    """A service key renamed by the change: kept (``renamedFrom``: the EAS service stays) or not (a new one)."""

    old: str
    new: str
    kept: bool

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.old, "to": self.new, "kept": self.kept}


def _reading_order(before: Fields, after: Fields) -> list[str]:
    """The after side's order, with fields only the before side has kept near their neighbours."""
    order = list(after)
    earlier: Optional[str] = None
    for key in before:
        if key not in after:
            order.insert(order.index(earlier) + 1 if earlier is not None else 0, key)
        earlier = key
    return order


def field_changes(old: Fields, new: Fields) -> tuple[FieldChange, ...]:
    """The fields whose values differ, in reading order."""
    return tuple(
        FieldChange((new.get(name) or old[name])[0],
                    old[name][1] if name in old else None,
                    new[name][1] if name in new else None)
        for name in _reading_order(old, new)
        if (old.get(name) or (None, None))[1] != (new.get(name) or (None, None))[1]
    )


RESOURCE_ROWS = ("protect", "retainOnDelete")
"""Rows from ``plan.json``'s ``resource`` (with every ``tags.*`` row)."""


def _without_resource_rows(fields: Fields) -> Fields:
    return {k: v for k, v in fields.items() if k not in RESOURCE_ROWS and not k.startswith("tags.")}


def load_steps_sides(files: Mapping[str, str]) -> dict[str, steps.Side]:
    """Service key -> what the engine compares of its EAS service, from a plan's files."""
    configs = load_configs(files)
    return {key: steps.Side.from_plan(summary, configs[key]) for key, summary in json.loads(files["plan.json"]).items()}


def _same_but_name(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether two service JSONs differ in their EAS name alone (a key renamed, nothing else)."""
    def unnamed(config: Mapping[str, Any]) -> dict[str, Any]:
        return {**config, "metadata": {**(config.get("metadata") or {}), "name": None}}
    return bool(old) and unnamed(old) == unnamed(new)


def _renames(base_entries: Mapping[str, Any], head_entries: Mapping[str, Any], base_configs: Mapping[str, Any],
             head_configs: Mapping[str, Any], held_back: Mapping[str, str]) -> dict[str, Rename]:
    """Key -> its rename, for both keys of each: those the head declares (``renamedFrom``, the service
    is kept) and those that only look like one (a key gone and a key new, with the same service JSON
    but the name: the service is replaced)."""
    found: dict[str, Rename] = {}
    for key, entry in sorted(head_entries.items()):
        old = entry.get("renamedFrom")
        if old and old in base_entries and old not in head_entries and key not in base_entries:
            found[key] = found[old] = Rename(old, key, True)
    gone = [k for k in base_entries if k not in head_entries and k not in found]
    new = [k for k in head_entries if k not in base_entries and k not in found and k not in held_back]
    for key in new:
        matches = [old for old in gone if _same_but_name(base_configs[old], head_configs[key])]
        if len(matches) == 1 and matches[0] not in found:
            found[key] = found[matches[0]] = Rename(matches[0], key, False)
    return found


def compare(base_files: Optional[Mapping[str, str]], head_files: Mapping[str, str],
            keep_same: bool = False, held_back: Optional[Mapping[str, str]] = None,
            deferred: Optional[Mapping[str, str]] = None,
            second: Optional[Mapping[str, str]] = None) -> list[ServiceChange]:
    """Per service key, sorted: its step and the fields that differ. ``base_files`` None: the base
    could not be planned, every service is a create. ``held_back``: service key -> why the working
    tree's run does not register it (``plan.preview_plan``). ``deferred``: keys whose next run only
    prepares a two-phase move, and ``second`` the plan of the run after it: their step has the
    later run's step too. A service renamed with ``renamedFrom`` is compared with the service of
    its old key. Services the engine leaves as they are (``same``, nothing changed) are left out
    unless ``keep_same``."""
    held_back = held_back or {}
    deferred = deferred or {}
    before = load_side(base_files) if base_files is not None else {}
    after = load_side(head_files)
    old_sides = load_steps_sides(base_files) if base_files is not None else {}
    new_sides = load_steps_sides(head_files)
    later_sides = load_steps_sides(second) if second is not None else {}
    base_configs = load_configs(base_files) if base_files is not None else {}
    head_configs = load_configs(head_files)
    head_entries = json.loads(head_files["plan.json"])
    renames = _renames(json.loads(base_files["plan.json"]) if base_files is not None else {}, head_entries,
                       base_configs, head_configs, held_back)
    kept_old = {r.old for r in renames.values() if r.kept}
    removed = removals(base_configs, {r.old if (r := renames.get(k)) and r.kept else k: v
                                      for k, v in head_configs.items()}) if base_files is not None else {}
    changes: list[ServiceChange] = []
    for key in sorted((set(before) | set(after) | set(held_back)) - kept_old):
        rename = renames.get(key)
        old_key = rename.old if rename is not None and rename.kept else key
        old, new = old_sides.get(old_key), new_sides.get(key)
        if key in held_back:
            reason = held_back[key]
            step = steps.announce(old, None, held_back=reason.splitlines()[0].rstrip(":"))
            changes.append(ServiceChange(key, step, (), (), (old.region if old else None, None), reason))
            continue
        step = steps.announce(old, new)
        if key in deferred and key in later_sides and new is not None:
            step = _in_two_runs(key, step, new, later_sides[key], deferred[key], head_entries[key])
        elif new is not None and head_entries.get(key, {}).get("drainUntil") and step.retained:
            step = dataclasses.replace(step, notes=(*step.notes, _drain_ends(key, old, head_entries[key])))
        if step.step == steps.DELETE and (held_back or deferred):
            step = dataclasses.replace(step, notes=(*step.notes, _no_deletes_yet(held_back, deferred)))
        # A removed service is one entry: what it ran is gone, row by row it would only be noise.
        old_fields, new_fields = before.get(old_key, {}), after.get(key, {})
        if old is not None and new is not None and (old.tags is None) != (new.tags is None):
            # One side was planned by code that did not state the resource's options and tags:
            # "unknown" is not a change.
            old_fields, new_fields = _without_resource_rows(old_fields), _without_resource_rows(new_fields)
        fields = () if step.step == steps.DELETE else field_changes(old_fields, new_fields)
        change = ServiceChange(key, step, fields, removed.get(old_key, ()),
                               (old.region if old else None, new.region if new else None), rename=rename,
                               instance_types=(runs_on(old.service_config).instance_types if old else None,
                                               runs_on(new.service_config).instance_types if new else None))
        if change.shown or keep_same:
            changes.append(change)
    return changes


def _in_two_runs(key: str, first: steps.Step, run1: steps.Side, run2: steps.Side, why: str,
                 entry: Mapping[str, Any]) -> steps.Step:
    """The step of a two-phase move whose next run only records ``retainOnDelete``: that run's step,
    then the move's."""
    then = steps.announce(run1, run2)
    notes = (f"run 1, the next `pulumi up`: {first.what}: it {why.split(': ', 1)[-1]}; that run fails at its end "
             "(`not moved this run`, a preview only warns), so it deletes nothing",
             f"run 2, the `pulumi up` after it: {then.what}; the resource `{key}-drained` takes the old copy over",
             _drain_ends(key, run1, entry))
    return dataclasses.replace(first, notes=(*first.notes, *notes), later=(then,))


def _drain_ends(key: str, old: Optional[steps.Side], entry: Mapping[str, Any]) -> str:
    where = f" in {old.region}" if old is not None else ""
    return (f"after {entry.get('drainUntil')}, the first `pulumi up` deletes the old copy{where} (`{key}-drained`); "
            "then take drain out of the stack file")


def _no_deletes_yet(held_back: Mapping[str, str], deferred: Mapping[str, str]) -> str:
    why = ", ".join(f"`{k}` held back" for k in sorted(held_back)) or ", ".join(
        f"`{k}` moves in two runs" for k in sorted(deferred))
    return (f"not in the next run: that run fails at its end ({why}), and the engine deletes nothing after a failed "
            "program; the first run that succeeds deletes it")


def _listed(types: Optional[tuple[str, ...]]) -> Optional[list[str]]:
    return list(types) if types is not None else None


def announcement(stack: str, base: str, changes: Sequence[ServiceChange], base_error: Optional[str] = None,
                 commit: Optional[str] = None) -> dict[str, Any]:
    """The steps for machines (``qwen3-eas diff --json``): per service key, the step (and ``runs``:
    the step of each ``pulumi up`` it takes), the order of a replacement, whether the engine refuses
    it, the EAS service resource it is about, its region and instance types on each side, the labels
    of the fields that differ and a rename."""
    return {
        "stack": stack,
        "base": base,
        "commit": commit,
        "baseError": base_error,
        "services": {
            c.key: {
                **c.step.as_dict(),
                "resource": {"type": steps.SERVICE_TYPE, "name": f"{c.key}-service"},
                "region": {"before": c.regions[0], "after": c.regions[1]},
                "instanceTypes": {"before": _listed(c.instance_types[0]), "after": _listed(c.instance_types[1])},
                "fields": [f.label for f in c.fields],
                "removedKeys": list(c.removed),
                "heldBack": c.held_back or None,
                "rename": c.rename.as_dict() if c.rename is not None else None,
            }
            for c in changes
        },
    }


# -- the stack's hourly cost (components.core.plan.cost, plan.stack.json) ---------------------------


def load_stack_cost(files: Mapping[str, str]) -> Optional[dict[str, Any]]:
    """The stack's cost from a plan's files; for a plan from before ``plan.stack.json``, the sum of
    its services' bounds (without surge, which those plans did not count)."""
    text = files.get(plan.STACK_FILE)
    if text:
        return (json.loads(text) or {}).get("cost")
    costs = [s["cost"] for s in json.loads(files["plan.json"]).values() if (s.get("cost") or {}).get("instanceTypes")]
    if not costs:
        return None
    bounds = [c.get("hourlyBound") for c in costs]
    spot = [c.get("hourlyBound") if c.get("hourlyBound") is not None else c.get("spotHourlyBound") for c in costs]
    return {
        "currency": costs[0].get("currency"),
        "hourlyBound": round(sum(bounds), 3) if None not in bounds else None,
        "whileOnSpot": round(sum(spot), 3) if None not in spot else None,
        "unknown": [True] if None in bounds else [],
        "summary": "the sum of the services' bounds (this plan predates plan.stack.json)",
    }


# -- the diff ---------------------------------------------------------------------------------


def diff_planned(stack_arg: str, base: str, commit: Optional[str], base_files: Optional[dict[str, str]],
                 base_error: Optional[str], capacity: Optional[Path] = None,
                 records: Optional[Mapping[str, deployed.Deployed]] = None,
                 context: Sequence[str] = ()) -> tuple[str, int, dict[str, Any], list[ServiceChange]]:
    """(Markdown, exit status, ``announcement``, changes) for a planned base and the working tree
    planned against what runs (``diff_sides``)."""
    head = diff_sides.plan_head(stack_arg, capacity, diff_sides.what_runs(base_files, records))
    if head.files is None:
        error = head.error or "unknown error"
        return (render_head_error(head.stack, error), 2,
                {**announcement(head.stack, base, [], commit=commit), "headError": error}, [])
    changes = compare(base_files, head.files, keep_same=True, held_back=head.held_back, deferred=head.deferred,
                      second=head.second)
    cost = stack_cost_lines(load_stack_cost(base_files) if base_files is not None else None,
                            load_stack_cost(head.files), any(c.shown for c in changes) or base_error is not None)
    return (render(head.stack, base, changes, base_error, commit, cost, context), 0,
            {**announcement(head.stack, base, changes, base_error, commit), "headError": None}, changes)


def diff_stack(stack_arg: str, base: str, capacity: Optional[Path] = None,
               outputs: Optional[Path] = None) -> tuple[str, int, dict[str, Any]]:
    """(Markdown, exit status, ``announcement``) for one stack against ``base``: the step the engine
    takes per service when the working tree is deployed over what runs (``diff_sides``).

    ``outputs``: the deployed stack's outputs (what runs); without them the base plan is taken as
    deployed. ``capacity``: the stock snapshot the deploy reads; without it, none.
    """
    commit = resolve_commit(base)
    records = diff_sides.read_outputs(outputs) if outputs is not None else None
    base_files, base_error = plan_base(stack_arg, commit, records, capacity)
    text, status, steps_json, _ = diff_planned(stack_arg, base, commit, base_files, base_error, capacity, records,
                                               context_lines(outputs, capacity))
    return text, status, steps_json


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog=f"{PROG} diff", description=described(__doc__.splitlines()[0]))
    parser.add_argument("stack", help="stack name (stacks/Pulumi.<name>.yaml) or path to a stack file")
    parser.add_argument("--base", required=True, help="git ref to compare with (a branch, tag or commit)")
    parser.add_argument("--out", type=Path, help="also write the Markdown to this file")
    parser.add_argument("--capacity", type=Path, metavar="FILE",
                        help="the stock snapshot the deploy reads: the working tree is planned with it, as pulumi "
                        "preview would; a service no region can run is announced as held back")
    parser.add_argument("--outputs", type=Path, metavar="FILE",
                        help="what runs: the deployed stack's outputs (`pulumi stack output --json`, or the deploy "
                        "workflow's record); services stay where, and on what, they run, as pulumi up keeps them")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="also write each service's step as JSON (for tools: step, order, refusedBy, retained)")
    args = parser.parse_args(argv)
    try:
        text, status, steps_json = diff_stack(args.stack, args.base, args.capacity, args.outputs)
    except DiffError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.out is not None:
        _write(args.out, text)
    if args.json is not None:
        _write(args.json, json.dumps(steps_json, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    sys.stdout.write(text)
    return status


if __name__ == "__main__":
    status = main()
    plan.close_idle_loops()
    sys.exit(status)
