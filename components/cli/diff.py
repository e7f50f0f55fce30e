"""``make diff``: what a change does to a stack's services, as Markdown for a pull request.

    qwen3-eas diff <stack | path/to/Pulumi.<name>.yaml> --base <git ref> [--out FILE]

Plans the stack twice, offline: at ``<ref>`` with that commit's own code (exported with ``git
archive`` into a temporary folder and planned there by ``qwen3-eas plan``, so the
base's code plans the base), and in the working tree (``components.cli.plan.make_plan``). Then, per
service key, compares the plan's model, placement (``region``, ``instanceTypes``, ``placement``)
and sizing verdict, and every field of the service JSON flattened to dotted paths; the start
script is compared command by command and flag by flag, not as one string.

Output: ``no changes`` alone when nothing differs; otherwise a heading for the stack and, per
service, a heading marked ``+`` added, ``-`` removed or ``~`` changed with a table of field,
before and after. Keys of the service JSON that the change drops are listed under the table as
``removed: <key>``: the provider's update merges and would keep them, so the endpoint reader
removes them from the running service with a replace-type update (``components.endpoint``). A
base that cannot be planned (the stack is new, or its file or code was
broken there) is reported with its error and every service is shown as added. A working tree
that cannot be planned is reported with its error and exits 2, like ``make plan``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shlex
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..core import report
from ..core.cost import rate
from ..core.removals import removed_keys
from ..core.rendering import command_words
from . import PROG, plan

NO_CHANGES = "no changes"
ABSENT = "—"
"""What a table cell shows for a field one side does not have."""

Fields = dict[str, tuple[str, str]]
"""Field key -> (label shown to the reader, value as text), in reading order."""

_MARKS = {"added": "+", "removed": "-", "changed": "~"}

BOUND = "hourlyCostBound"
"""The field of the hourly cost bound; its table row also shows by how much the bound moved."""
_AMOUNT = re.compile(r"^(?P<kind>[^≤]*)≤ (?P<amount>\d+(?:\.\d+)?)(?: (?P<currency>[A-Z]{3}))?/h"
                     r"(?P<tail>.*?)\)?$")


class DiffError(Exception):
    """A diff that cannot be made at all (not a git repository, an unknown ref)."""


# -- flattening a plan into fields ------------------------------------------------------------


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _put(fields: Fields, key: str, label: str, value: str) -> None:
    """Add a field; a key seen before (a repeated flag or line) gets a running number."""
    unique, n = key, 1
    while unique in fields:
        n += 1
        unique = f"{key} #{n}"
    fields[unique] = (label, value)


def _is_flag(word: str) -> bool:
    return len(word) > 1 and word.startswith("-") and not re.match(r"-\d", word)


def script_fields(path: str, script: str) -> Fields:
    """A start script as fields: per command its words before the first flag, then each flag's
    value (``on`` for a flag without one); lines without flags are fields of their own."""
    fields: Fields = {}
    try:
        commands = [(shlex.join(words), words) for words in command_words(script)]
    except ValueError:  # unbalanced quotes: compare the lines as they are
        commands = [(line.strip(), []) for line in script.replace("\\\n", " ").splitlines() if line.strip()]
    for line, words in commands:
        first = next((i for i, w in enumerate(words) if _is_flag(w)), None)
        if not first:  # no flag, or nothing before it to name the command
            _put(fields, f"{path} line {line}", f"{path} (line)", line)
            continue
        # A command is known by its words before the first flag; its flags by command and name.
        program = " ".join(words[:first])
        _put(fields, f"{path} {program}", f"{path} command", program)
        flag = ""
        values: list[str] = []
        for word in [*words[first:], "--"]:
            if _is_flag(word):
                if flag:
                    _put(fields, f"{path} {program} {flag}", f"{path} {flag}", " ".join(values) or "on")
                flag, _, given = word.partition("=")
                values = [given] if given else []
            else:
                values.append(word)
    return fields


def _flatten(value: Any, path: str, fields: Fields) -> None:
    if isinstance(value, Mapping) and value:
        for key in sorted(value):
            _flatten(value[key], f"{path}.{key}" if path else str(key), fields)
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            _flatten(item, f"{path}[{index}]", fields)
    elif isinstance(value, str) and path.endswith(".script"):
        fields.update(script_fields(path, value))
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
    """One service that was added, removed or changed, with the fields that differ."""

    key: str
    status: str
    fields: tuple[FieldChange, ...]
    removed: tuple[str, ...] = ()
    """Service JSON keys the change drops from a service that stays (``removals``)."""


def _reading_order(before: Fields, after: Fields) -> list[str]:
    """The after side's order, with fields only the before side has kept near their neighbours."""
    order = list(after)
    earlier: Optional[str] = None
    for key in before:
        if key not in after:
            order.insert(order.index(earlier) + 1 if earlier is not None else 0, key)
        earlier = key
    return order


def diff_services(before: Mapping[str, Fields], after: Mapping[str, Fields],
                  removed: Optional[Mapping[str, Sequence[str]]] = None) -> list[ServiceChange]:
    """Per service key, sorted: what was added, removed or changed; ``removed`` (from
    ``removals``) names the service JSON keys each changed service drops."""
    changes: list[ServiceChange] = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        status = "added" if old is None else "removed" if new is None else "changed"
        old, new = old or {}, new or {}
        fields = tuple(
            FieldChange((new.get(name) or old[name])[0],
                        old[name][1] if name in old else None,
                        new[name][1] if name in new else None)
            for name in _reading_order(old, new)
            if (old.get(name) or (None, None))[1] != (new.get(name) or (None, None))[1]
        )
        if fields:
            changes.append(ServiceChange(key, status, fields, tuple((removed or {}).get(key, ()))))
    return changes


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


def render(stack: str, base: str, changes: Sequence[ServiceChange], base_error: Optional[str] = None,
           commit: Optional[str] = None, cost_lines: Sequence[str] = ()) -> str:
    """The diff as Markdown; exactly ``no changes`` (and a newline) when there is nothing to show.

    ``cost_lines`` (``stack_cost_lines``) come after the heading, before the services."""
    if not changes and base_error is None and not cost_lines:
        return NO_CHANGES + "\n"
    counts = {status: sum(1 for c in changes if c.status == status) for status in ("changed", "added", "removed")}
    summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n) or (
        "the stack's cost changed" if cost_lines else "no services")
    named = f"`{base}`"
    if commit:  # a ref with the commit it names; a commit ID, shortened
        named = f"`{commit[:10]}`" if commit.startswith(base) else f"`{base}` at {commit[:10]}"
    lines = [f"## `{stack}`: {summary} (base {named})", ""]
    if base_error is not None:
        lines += [f"⚠️ The base `{base}` could not be planned, so every service is shown as added:", "",
                  *_error_block(base_error), ""]
    lines += cost_lines
    for change in changes:
        lines += [f"### {_MARKS[change.status]} `{change.key}` {change.status}", "",
                  "| field | before | after |", "|---|---|---|"]
        lines += [f"| `{f.label}` | {_cell(f.before)} | {_cell(f.after)}{_moved(f)} |" for f in change.fields]
        lines.append("")
        if change.removed:
            lines += [f"- removed: `{key}` — will be removed from the running service" for key in change.removed]
            lines += ["", "The provider's update merges and would keep removed keys; a second, replace-type "
                      "update right after it removes them (one more rolling update).", ""]
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


def plan_working_tree(stack_arg: str) -> tuple[str, Optional[dict[str, str]], Optional[str]]:
    """(stack name, files, None) of the stack planned by the working tree, or (name, None, why not)."""
    try:
        stack, files = plan.make_plan(stack_arg)
        return stack, files, None
    except plan.PlanError as exc:
        try:
            stack = plan.resolve_stack(stack_arg)[0]
        except plan.PlanError:
            stack = stack_arg
        return stack, None, f"error: {exc}"
    finally:
        plan.release_runtime_threads()


def diff_stack(stack_arg: str, base: str) -> tuple[str, int]:
    """(Markdown, exit status) for one stack against ``base``."""
    commit = resolve_commit(base)
    stack, head_files, head_error = plan_working_tree(stack_arg)
    if head_files is None:
        return render_head_error(stack, head_error or "unknown error"), 2
    base_files, base_error = plan_base(stack_arg, commit)
    before = load_side(base_files) if base_files is not None else {}
    removed = removals(load_configs(base_files), load_configs(head_files)) if base_files is not None else {}
    changes = diff_services(before, load_side(head_files), removed)
    cost = stack_cost_lines(load_stack_cost(base_files) if base_files is not None else None,
                            load_stack_cost(head_files), bool(changes) or base_error is not None)
    return render(stack, base, changes, base_error, commit, cost), 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog=f"{PROG} diff", description=__doc__.splitlines()[0])
    parser.add_argument("stack", help="stack name (stacks/Pulumi.<name>.yaml) or path to a stack file")
    parser.add_argument("--base", required=True, help="git ref to compare with (a branch, tag or commit)")
    parser.add_argument("--out", type=Path, help="also write the Markdown to this file")
    args = parser.parse_args(argv)
    try:
        text, status = diff_stack(args.stack, args.base)
    except DiffError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    return status


if __name__ == "__main__":
    status = main()
    plan.close_idle_loops()
    sys.exit(status)
