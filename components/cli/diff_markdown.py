"""``make diff``'s Markdown: a heading per stack, what the steps were worked out against, the
stack's hourly cost, then per service its step in words, a table of the fields that differ and
a diff of its start script. ``components.cli.diff`` compares; this module only writes."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from ..core.plan import report, steps
from ..core.plan.cost import rate
from . import make_words

if TYPE_CHECKING:  # the diff imports this module
    from .diff import FieldChange, ServiceChange

NO_CHANGES = "no changes"
ABSENT = "—"
"""What a table cell shows for a field one side does not have."""


BOUND = "hourlyCostBound"
"""The field of the hourly cost bound; its table row also shows by how much the bound moved."""
_AMOUNT = re.compile(r"^(?P<kind>[^≤]*)≤ (?P<amount>\d+(?:\.\d+)?)(?: (?P<currency>[A-Z]{3}))?/h"
                     r"(?P<tail>.*?)\)?$")


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


_COUNTED = {steps.CREATE: "to create", steps.TAKE_BACK: "to take back", steps.UPDATE: "to update in place",
            steps.REPLACE: "to replace",
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


def _rename_words(change: ServiceChange) -> tuple[str, list[str]]:
    """The heading's suffix and the lines that say a key was renamed, and what that costs clients."""
    rename = change.rename
    if rename is None:
        return "", []
    if rename.kept:
        return (f" (renamed from `{rename.old}`)", [
            f"Renamed from `{rename.old}` with renamedFrom: the engine takes `{rename.old}`'s resources for this key "
            "(a Pulumi alias), and the EAS service keeps its name, endpoint and token; the stack outputs list it "
            f"under `{rename.new}` now.", ""])
    if change.key == rename.new:
        return (f" (renamed from `{rename.old}`: a new service)", [
            f"Renamed from `{rename.old}` without renamedFrom: a new EAS service, with a new endpoint and a new token "
            f"and a cold start (image pull and weight load); `{rename.old}`'s service is deleted at the end of the "
            f"same `pulumi up`, so its clients must switch. To rename the key and keep the running service, add "
            f"`renamedFrom: {rename.old}` to `{rename.new}` ([renaming a service](docs/day2.md#renaming-a-service)).",
            ""])
    return f" (renamed to `{rename.new}`)", []


def _service_lines(change: ServiceChange) -> list[str]:
    step = change.step
    suffix, renamed = _rename_words(change)
    lines = [f"### {step.mark} `{change.key}`: {step.title}{suffix}", ""]
    notes = [f"- {note}" for note in step.notes] + ([""] if step.notes else [])
    if step.step == steps.DELETE:
        return [*lines, f"removed: `{change.key}`, {step.what}.", "", *notes]
    if step.step == steps.HELD_BACK:
        return [*lines, step.what[0].upper() + step.what[1:] + ".", "", *_error_block(change.held_back), ""]
    lines += renamed
    lines += [step.what[0].upper() + step.what[1:] + ".", ""]
    lines += notes
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
           commit: Optional[str] = None, cost_lines: Sequence[str] = (), context: Sequence[str] = ()) -> str:
    """The diff as Markdown; exactly ``no changes`` (and a newline) when there is nothing to show.

    ``context`` (what the steps were worked out against, ``context_lines``) and ``cost_lines``
    (``stack_cost_lines``) come after the heading, before the services."""
    shown = [c for c in changes if c.shown]
    if not shown and base_error is None and not cost_lines:
        return NO_CHANGES + "\n"
    counts = {step: sum(1 for c in shown if c.step.step == step) for step in steps.STEPS}
    summary = ", ".join(f"{n} {_COUNTED[step]}" for step, n in counts.items() if n) or (
        "the stack's cost changed" if cost_lines else "no services")
    named = f"`{base}`"
    if commit:  # a ref with the commit it names; a commit ID, shortened
        named = f"`{commit[:10]}`" if commit.startswith(base) else f"`{base}` at {commit[:10]}"
    lines = [f"## `{stack}`: {summary} (base {named})", "", *context]
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


def context_lines(outputs: Optional[Path], capacity: Optional[Path]) -> list[str]:
    """What the steps were worked out against: what runs, and the stock."""
    runs = (f"what runs per `{outputs}` (the deployed stack's outputs: each service where it runs, on what it runs on)"
            if outputs is not None else
            "the base as if deployed as planned (give the deployed stack's outputs, `pulumi stack output --json`, "
            f"as {make_words('OUTPUTS=', '--outputs')} to diff against what runs)")
    stock = (f"the stock in `{capacity}`" if capacity is not None else
             f"no stock (a new service goes to its first region, unverified: give {make_words('CAPACITY=', '--capacity')} "
             "the snapshot the deploy reads)")
    return [f"Steps worked out against {runs}, with {stock}.", ""]
