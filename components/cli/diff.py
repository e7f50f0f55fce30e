"""``make diff``: what a change does to a stack's services, as Markdown for a pull request.

    qwen3-eas diff <stack | path/to/Pulumi.<name>.yaml> --base <git ref> [--out FILE] [--json FILE]
        [--capacity FILE]

Plans the stack twice, offline: at ``<ref>`` with that commit's own code (exported with ``git
archive`` into a temporary folder and planned there by ``qwen3-eas plan``, so the
base's code plans the base), and in the working tree (``components.cli.plan.make_plan``). Then, per
service key, it announces the step the engine will take for the EAS service
(``components.core.steps``: create, update in place, replace and in which order, delete, same,
held back; refused for a protected service) and compares the plan's model, placement
(``region``, ``instanceTypes``, ``placement``), sizing verdict, cost, resource options and tags,
and every field of the service JSON flattened to dotted paths; a start script is shown as a
diff of its lines.

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
import difflib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..core import report, steps
from ..core.cost import rate
from ..core.removals import removed_keys
from . import PROG, described, plan

NO_CHANGES = "no changes"
ABSENT = "—"
"""What a table cell shows for a field one side does not have."""

Fields = dict[str, tuple[str, str]]
"""Field key -> (label shown to the reader, value as text), in reading order."""

BOUND = "hourlyCostBound"
"""The field of the hourly cost bound; its table row also shows by how much the bound moved."""
_AMOUNT = re.compile(r"^(?P<kind>[^≤]*)≤ (?P<amount>\d+(?:\.\d+)?)(?: (?P<currency>[A-Z]{3}))?/h"
                     r"(?P<tail>.*?)\)?$")


class DiffError(Exception):
    """A diff that cannot be made at all (not a git repository, an unknown ref)."""


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
    verdict = (summary.get("sizing") or {}).get("verdict")
    if verdict is not None:
        fields["sizing.verdict"] = ("sizing.verdict", verdict)
    cost = summary.get("cost")
    if cost:  # what the service may cost, as plan.md states it (components.core.cost)
        fields["replicas"] = ("replicas", report.replicas_text(summary))
        if cost["instanceTypes"]:
            fields["billing"] = ("billing", report.billing_text(summary))
        fields["fallbackRegions"] = ("fallbackRegions", ", ".join(cost["fallbackRegions"]) or "none")
        fields[BOUND] = (BOUND, report.hourly_bound_text(summary))
    resource = summary.get("resource")
    if resource:  # what the engine is given besides the service JSON (components.core.steps)
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
    """One service's step (``components.core.steps``) and the fields that differ."""

    key: str
    step: steps.Step
    fields: tuple[FieldChange, ...]
    removed: tuple[str, ...] = ()
    """Service JSON keys the change drops from a service that stays (``removals``)."""
    regions: tuple[Optional[str], Optional[str]] = (None, None)
    """The service's region before and after (None where it does not exist)."""
    held_back: str = ""
    """Why the run holds it back (the regions tried), for a ``held-back`` step."""

    @property
    def shown(self) -> bool:
        """Whether the Markdown shows it: every step but ``same``, and ``same`` with changed options."""
        return self.step.step != steps.SAME or bool(self.fields)


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


def compare(base_files: Optional[Mapping[str, str]], head_files: Mapping[str, str],
            keep_same: bool = False, held_back: Optional[Mapping[str, str]] = None) -> list[ServiceChange]:
    """Per service key, sorted: its step and the fields that differ. ``base_files`` None: the base
    could not be planned, every service is a create. ``held_back``: service key -> why the working
    tree's run does not register it (``plan.preview_plan``). Services the engine leaves as they
    are (``same``, nothing changed) are left out unless ``keep_same``."""
    held_back = held_back or {}
    before = load_side(base_files) if base_files is not None else {}
    after = load_side(head_files)
    old_sides = load_steps_sides(base_files) if base_files is not None else {}
    new_sides = load_steps_sides(head_files)
    removed = removals(load_configs(base_files), load_configs(head_files)) if base_files is not None else {}
    changes: list[ServiceChange] = []
    for key in sorted(set(before) | set(after) | set(held_back)):
        old, new = old_sides.get(key), new_sides.get(key)
        if key in held_back:
            reason = held_back[key]
            step = steps.announce(old, None, held_back=reason.splitlines()[0].rstrip(":"))
            changes.append(ServiceChange(key, step, (), (), (old.region if old else None, None), reason))
            continue
        step = steps.announce(old, new)
        # A removed service is one entry: what it ran is gone, row by row it would only be noise.
        old_fields, new_fields = before.get(key, {}), after.get(key, {})
        if old is not None and new is not None and (old.tags is None) != (new.tags is None):
            # One side was planned by code that did not state the resource's options and tags:
            # "unknown" is not a change.
            old_fields, new_fields = _without_resource_rows(old_fields), _without_resource_rows(new_fields)
        fields = () if step.step == steps.DELETE else field_changes(old_fields, new_fields)
        change = ServiceChange(key, step, fields, removed.get(key, ()),
                               (old.region if old else None, new.region if new else None))
        if change.shown or keep_same:
            changes.append(change)
    return changes


def announcement(stack: str, base: str, changes: Sequence[ServiceChange], base_error: Optional[str] = None,
                 commit: Optional[str] = None) -> dict[str, Any]:
    """The steps for machines (``qwen3-eas diff --json``): per service key, the step, the order of
    a replacement, whether the engine refuses it, the EAS service resource it is about, its
    region on each side and the labels of the fields that differ."""
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
                "fields": [f.label for f in c.fields],
                "removedKeys": list(c.removed),
                "heldBack": c.held_back or None,
            }
            for c in changes
        },
    }


# -- Markdown ---------------------------------------------------------------------------------


def _cell(value: Optional[str]) -> str:
    if value is None:
        return ABSENT
    text = value.replace("\n", " ").replace("|", "\\|")
    if not text:
        return '`""`'
    return f"`{text}`" if "`" not in text else text


def _moved(field: FieldChange) -> str:
    """`` (+3.6 USD/h)`` after the hourly bound when both sides have the same kind of bound (the
    whole bound, or the spot part of an unknown one) in the same currency."""
    if field.label != BOUND or field.before is None or field.after is None:
        return ""
    return _delta(field.before, field.after)


def _delta(before: str, after: str) -> str:
    """`` (+3.6 USD/h)`` between two bounds of the same kind and currency, in plain decimals; else ``""``."""
    old, new = _AMOUNT.match(before), _AMOUNT.match(after)
    if not old or not new or (old["kind"], old["currency"], old["tail"]) != (new["kind"], new["currency"], new["tail"]):
        return ""
    delta = round(float(new["amount"]) - float(old["amount"]), 3)
    return f" ({'+' if delta >= 0 else '-'}{rate(abs(delta), new['currency'])})"


# -- the stack's hourly cost (components.core.cost, plan.stack.json) ---------------------------


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


def stack_cost_lines(before: Optional[Mapping[str, Any]], after: Optional[Mapping[str, Any]],
                     services_changed: bool) -> list[str]:
    """Markdown on the stack's hourly bound: before, after and how far it moved, then the cost
    warnings of the change (a bid above on-demand, a bound above warnAbovePerHour). Nothing when
    the cost did not change and, services unchanged too, there is no change to review."""
    warnings = list((after or {}).get("warnings") or [])
    if (before == after and not services_changed) or (before == after and not warnings):
        return []
    lines = ["### Hourly cost of the stack", ""]
    old, new = report.stack_bound_text(before), report.stack_bound_text(after)
    if before != after:
        lines += ["| | before | after |", "|---|---|---|",
                  f"| `bound` | {_cell(old if before else None)} | {_cell(new)}{_delta(old, new)} |", ""]
        if after:
            lines += [f"{after['summary']}", ""]
    lines += [f"- ⚠️ {w}" for w in warnings]
    return [*lines, ""] if warnings else lines


def _error_block(text: str) -> list[str]:
    return ["```text", *text.strip().replace("```", "'''").splitlines(), "```"]


_COUNTED = {steps.CREATE: "to create", steps.UPDATE: "to update in place", steps.REPLACE: "to replace",
            steps.DELETE: "to delete", steps.SAME: "with no change to the service", steps.HELD_BACK: "held back"}
"""How the summary line counts each step."""


def _is_script(field: FieldChange) -> bool:
    return field.label.endswith(".script")


def _script_diff(field: FieldChange) -> list[str]:
    """A start script's change as a diff of its lines (a new script: every line added)."""
    old = (field.before or "").splitlines()
    new = (field.after or "").splitlines()
    body = list(difflib.unified_diff(old, new, lineterm="", n=2))[2:]
    return [f"`{field.label}`:", "", "```diff", *(line.replace("```", "'''") for line in body), "```", ""]


def _script_cells(field: FieldChange) -> str:
    """The before and after cells of a start script's row: its length, and that its diff follows."""
    old, new = (field.before or "").splitlines(), (field.after or "").splitlines()
    before = ABSENT if field.before is None else f"{len(old)} lines"
    after = ABSENT if field.after is None else f"{len(new)} lines"
    if field.before is not None and field.after is not None:
        after += f"; {sum(1 for line in difflib.ndiff(old, new) if line[:1] in '+-')} differ, below"
    elif field.after is not None:
        after += ", below"
    return f"{before} | {after}"


def _service_lines(change: ServiceChange) -> list[str]:
    step = change.step
    lines = [f"### {step.mark} `{change.key}`: {step.title}", ""]
    if step.step == steps.DELETE:
        return [*lines, f"removed: `{change.key}`, {step.what}.", ""]
    if step.step == steps.HELD_BACK:
        return [*lines, step.what[0].upper() + step.what[1:] + ".", "", *_error_block(change.held_back), ""]
    lines += [step.what[0].upper() + step.what[1:] + ".", ""]
    lines += [f"- {note}" for note in step.notes] + ([""] if step.notes else [])
    if change.fields:
        lines += ["| field | before | after |", "|---|---|---|"]
        for f in change.fields:
            if _is_script(f):
                lines.append(f"| `{f.label}` | {_script_cells(f)} |")
            else:
                lines.append(f"| `{f.label}` | {_cell(f.before)} | {_cell(f.after)}{_moved(f)} |")
        lines.append("")
        for f in change.fields:
            if _is_script(f):
                lines += _script_diff(f)
    if change.removed:
        lines += [f"- removed: `{key}` — will be removed from the running service" for key in change.removed]
        lines += ["", "The provider's update merges and would keep removed keys; a second, replace-type "
                  "update right after it removes them (one more rolling update).", ""]
    return lines


def render(stack: str, base: str, changes: Sequence[ServiceChange], base_error: Optional[str] = None,
           commit: Optional[str] = None, cost_lines: Sequence[str] = ()) -> str:
    """The diff as Markdown; exactly ``no changes`` (and a newline) when there is nothing to show.

    ``cost_lines`` (``stack_cost_lines``) come after the heading, before the services."""
    shown = [c for c in changes if c.shown]
    if not shown and base_error is None and not cost_lines:
        return NO_CHANGES + "\n"
    counts = {step: sum(1 for c in shown if c.step.step == step) for step in steps.STEPS}
    summary = ", ".join(f"{n} {_COUNTED[step]}" for step, n in counts.items() if n) or (
        "the stack's cost changed" if cost_lines else "no services")
    named = f"`{base}`"
    if commit:  # a ref with the commit it names; a commit ID, shortened
        named = f"`{commit[:10]}`" if commit.startswith(base) else f"`{base}` at {commit[:10]}"
    lines = [f"## `{stack}`: {summary} (base {named})", ""]
    if base_error is not None:
        lines += [f"⚠️ The base `{base}` could not be planned, so every service is shown as created:", "",
                  *_error_block(base_error), ""]
    lines += cost_lines
    for change in shown:
        lines += _service_lines(change)
    return "\n".join(lines)


def render_head_error(stack: str, error: str) -> str:
    """What the diff says when the working tree itself cannot be planned."""
    return "\n".join([f"## `{stack}`: the working tree does not plan", "", *_error_block(error), ""])


# -- the two plans ----------------------------------------------------------------------------


def _git(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(plan.ROOT), *args], capture_output=True, check=False)


def resolve_commit(ref: str) -> str:
    """The commit ``ref`` names in this checkout; ``DiffError`` if it names none."""
    found = _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if found.returncode != 0:
        raise DiffError(f"{ref!r} is not a commit of the repository at {plan.ROOT} (fetch it first?)")
    return found.stdout.decode().strip()


def _base_stack_arg(stack_arg: str) -> str:
    """The stack argument for the base tree: a name stays a name; a path inside the repository
    becomes the same path in the base; a path outside it stays as it is (the same file, so the
    diff shows only what the code change does to it)."""
    path = Path(stack_arg)
    if path.suffix not in (".yaml", ".yml") and not path.exists():
        return stack_arg
    try:
        return str(path.resolve().relative_to(plan.ROOT))
    except ValueError:
        return str(path.resolve())


def plan_base(stack_arg: str, commit: str) -> tuple[Optional[dict[str, str]], Optional[str]]:
    """(files, None) of the stack planned by ``commit``'s own code, or (None, why not)."""
    prefix = _git("rev-parse", "--show-prefix").stdout.decode().strip()
    archive = _git("archive", "--format=tar", f"{commit}:{prefix}" if prefix else commit)
    if archive.returncode != 0:
        return None, f"git archive {commit} failed: {archive.stderr.decode().strip()}"
    with tempfile.TemporaryDirectory(prefix="qwen3-eas-base-") as tmp:
        tree, out = Path(tmp) / "tree", Path(tmp) / "plan"
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tree, filter="data")
        # The base's own `components` must be imported, never the working tree's.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        # Bases from before the package layout (issue 9) have the planner at components/plan.py.
        planner = "components.cli.plan" if (tree / "components" / "cli" / "plan.py").exists() else "components.plan"
        result = subprocess.run([sys.executable, "-m", planner, _base_stack_arg(stack_arg), "--out", str(out)],
                                cwd=tree, env=env, capture_output=True, text=True, timeout=600, check=False)
        if result.returncode != 0:
            return None, (result.stderr.strip() or result.stdout.strip() or f"exit status {result.returncode}")
        return {p.name: p.read_text(encoding="utf-8") for p in sorted(out.iterdir())}, None


def _stack_name(stack_arg: str) -> str:
    try:
        return plan.resolve_stack(stack_arg)[0]
    except plan.PlanError:
        return stack_arg


def plan_working_tree(stack_arg: str) -> tuple[str, Optional[dict[str, str]], Optional[str]]:
    """(stack name, files, None) of the stack planned by the working tree, or (name, None, why not)."""
    try:
        stack, files = plan.make_plan(stack_arg)
        return stack, files, None
    except plan.PlanError as exc:
        return _stack_name(stack_arg), None, f"error: {exc}"
    finally:
        plan.release_runtime_threads()


def plan_working_tree_with_stock(stack_arg: str, capacity: Path, running: Mapping[str, str]) -> tuple[
        str, Optional[dict[str, str]], Optional[str], dict[str, str]]:
    """``plan_working_tree`` as a preview with a capacity snapshot, and the services it holds back."""
    try:
        stack, files, held_back = plan.preview_plan(stack_arg, capacity, running)
        return stack, files, None, held_back
    except plan.PlanError as exc:
        return _stack_name(stack_arg), None, f"error: {exc}", {}
    finally:
        plan.release_runtime_threads()


def diff_stack(stack_arg: str, base: str, capacity: Optional[Path] = None) -> tuple[str, int, dict[str, Any]]:
    """(Markdown, exit status, ``announcement``) for one stack against ``base``.

    With a ``capacity`` snapshot the working tree is planned as ``pulumi preview`` would plan it
    with that stock: services the base has stay in the base's region (as a service found running
    does), and a service no region can run is announced as held back. The base is planned as
    always, without stock: where the base put a service is where it is taken to run.
    """
    commit = resolve_commit(base)
    base_files: Optional[dict[str, str]] = None
    base_error: Optional[str] = None
    held_back: dict[str, str] = {}
    if capacity is None:
        stack, head_files, head_error = plan_working_tree(stack_arg)
    else:
        base_files, base_error = plan_base(stack_arg, commit)
        running = {k: e["region"] for k, e in json.loads(base_files["plan.json"]).items()} if base_files else {}
        stack, head_files, head_error, held_back = plan_working_tree_with_stock(stack_arg, capacity, running)
    if head_files is None:
        error = head_error or "unknown error"
        return render_head_error(stack, error), 2, {**announcement(stack, base, [], commit=commit), "headError": error}
    if capacity is None:
        base_files, base_error = plan_base(stack_arg, commit)
    changes = compare(base_files, head_files, keep_same=True, held_back=held_back)
    cost = stack_cost_lines(load_stack_cost(base_files) if base_files is not None else None,
                            load_stack_cost(head_files), any(c.shown for c in changes) or base_error is not None)
    return (render(stack, base, changes, base_error, commit, cost), 0,
            {**announcement(stack, base, changes, base_error, commit), "headError": None})


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog=f"{PROG} diff", description=described(__doc__.splitlines()[0]))
    parser.add_argument("stack", help="stack name (stacks/Pulumi.<name>.yaml) or path to a stack file")
    parser.add_argument("--base", required=True, help="git ref to compare with (a branch, tag or commit)")
    parser.add_argument("--out", type=Path, help="also write the Markdown to this file")
    parser.add_argument("--capacity", type=Path, metavar="FILE",
                        help="plan the working tree with this capacity snapshot, as pulumi preview would: a service "
                        "no region can run is announced as held back")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="also write each service's step as JSON (for tools: step, order, refusedBy, retained)")
    args = parser.parse_args(argv)
    try:
        text, status, steps_json = diff_stack(args.stack, args.base, args.capacity)
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
