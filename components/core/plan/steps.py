"""The step the Pulumi engine takes for one EAS service when a stack changes: what ``make diff`` announces.

The engine decides per resource, here the ``alicloud:pai/service:Service`` named
``<key>-service``, from what the program registers on each side:

- **create**: the service is new; **delete**: the stack no longer has it.
- **take-back**: the service is new to the stack, but it runs already, this stack's (kept on
  delete and removed, or left by a killed run): the program registers it with Pulumi's ``import``
  option, the engine reads it into the state and brings it to the stack's JSON (an import, then
  an update where they differ); endpoint and token stay.
- **replace**: its replacement trigger (``components.service``: the region) differs; where a
  plan does not state the trigger, its region. The order is the one the program registers
  (``deleteBeforeReplace``): the new service created, and Running, before the old one is
  deleted (``create-first``), or, for a service known to run in the region it is planned in,
  deleted first (``delete-first``), with downtime until the new one runs. Nothing else replaces
  it: the provider marks no field ForceNew (shared/reference/real-pulumi-engine.md, "What the
  real alicloud:pai/service:Service does").
- **update**: an input differs (the service JSON, compared as JSON; its tags; its workspace).
- **same**: no input differs. Resource options (``protect``, ``retainOnDelete``) are not inputs:
  a change of them alone is a ``same`` step whose new options the engine writes to the state
  (pulumi/pulumi ``pkg/resource/deploy/snapshot.go`` ``mustWrite``: "If the protection attribute
  of this resource has changed, we must write the checkpoint").
- **held-back**: the program does not register it this run (no region can run it now); ``pulumi
  up`` then fails at its end and the engine deletes nothing (docs/day2.md).

The engine refuses some of these steps: a protected service cannot be deleted, nor replaced
while protected before and after (``new.Protect && old.Protect`` in ``step_generator.go``: the
engine allows unprotect-and-replace in one run). With ``retainOnDelete`` in the old state, a
delete or a replacement leaves the old EAS service running, and billed.

Pure: no Pulumi, no network. ``components.cli.diff`` reads both sides from ``plan.json`` and
the service JSON files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

CREATE, UPDATE, REPLACE, DELETE, SAME, HELD_BACK = "create", "update", "replace", "delete", "same", "held-back"
TAKE_BACK = "take-back"
STEPS = (CREATE, TAKE_BACK, UPDATE, REPLACE, DELETE, SAME, HELD_BACK)
"""Every step, in the order a summary lists them."""

CREATE_FIRST, DELETE_FIRST = "create-first", "delete-first"
"""The order of a replacement."""

SERVICE_TYPE = "alicloud:pai/service:Service"
"""The resource whose step is announced (the component and the endpoint reader follow it)."""


@dataclass(frozen=True)
class Side:
    """What the engine compares of one EAS service on one side of a change."""

    name: str
    """The EAS service name."""
    region: str
    """Where it is planned: its provider's region and its replacement trigger."""
    service_config: Mapping[str, Any]
    tags: Optional[Mapping[str, str]] = None
    """None when the plan does not say (a plan made by code older than the step announcement)."""
    workspace_id: Optional[str] = None
    protect: Optional[bool] = None
    retain_on_delete: Optional[bool] = None
    replacement_trigger: Optional[str] = None
    delete_before_replace: bool = False
    import_id: Optional[str] = None
    """The ID the program takes the running service back by (Pulumi's ``import`` option)."""

    @classmethod
    def from_plan(cls, summary: Mapping[str, Any], service_config: Mapping[str, Any]) -> Side:
        """One side from its ``plan.json`` entry and its service JSON."""
        resource = summary.get("resource") or {}
        options = resource.get("options") or {}
        return cls(
            name=str(summary.get("name", "")),
            region=str(summary.get("region", "")),
            service_config=service_config,
            tags=resource.get("tags"),
            workspace_id=resource.get("workspaceId"),
            protect=options.get("protect"),
            retain_on_delete=options.get("retainOnDelete"),
            replacement_trigger=options.get("replacementTrigger"),
            delete_before_replace=bool(options.get("deleteBeforeReplace")),
            import_id=options.get("import"),
        )


@dataclass(frozen=True)
class Step:
    """The step announced for one service, and how the engine will carry it out."""

    step: str
    order: Optional[str] = None
    """``create-first`` or ``delete-first`` for a replacement, else None."""
    refused_by: Optional[str] = None
    """``protect`` when the engine will refuse the step (and ``pulumi up`` fails there)."""
    retained: bool = False
    """A delete or replacement leaves the old EAS service running (retainOnDelete)."""
    what: str = ""
    """What happens, in words for a reviewer."""
    notes: tuple[str, ...] = field(default=())
    later: tuple[Step, ...] = field(default=())
    """The steps of the runs after the next one, in order: a two-phase move (``drain``) records
    ``retainOnDelete`` in its first run and moves in the second."""

    def _one(self) -> dict[str, Any]:
        return {"step": self.step, "order": self.order, "refusedBy": self.refused_by, "retained": self.retained}

    def as_dict(self) -> dict[str, Any]:
        """The machine-readable announcement (``qwen3-eas diff --json``): the next run's step, and
        ``runs``: that step and those of the runs after it, one per ``pulumi up``."""
        return {**self._one(), "runs": [self._one(), *(s._one() for s in self.later)]}

    @property
    def mark(self) -> str:
        """Terraform's marks: ``+/-`` create before destroy, ``-/+`` destroy before create."""
        if self.step == REPLACE:
            return "+/-" if self.order == CREATE_FIRST else "-/+"
        return {CREATE: "+", TAKE_BACK: "<=", DELETE: "-", UPDATE: "~", SAME: "=", HELD_BACK: "!"}[self.step]

    @property
    def title(self) -> str:
        """The step in a few words: ``update in place``, ``replace, create first``."""
        words = {CREATE: "create", TAKE_BACK: "take back the running service", UPDATE: "update in place",
                 DELETE: "delete", SAME: "no change to the service", HELD_BACK: "held back"}.get(self.step)
        if words is None:
            words = "replace, " + ("create first" if self.order == CREATE_FIRST else "delete first")
        if self.refused_by:
            words += f" (refused: {self.refused_by})"
        if self.later:
            words += "".join(f", then {s.title}" for s in self.later) + f" ({len(self.later) + 1} runs)"
        return words


def _rolling(config: Mapping[str, Any]) -> str:
    roll = (config.get("metadata") or {}).get("rolling_strategy") or {}
    if not roll:
        return "a rolling update"
    return f"a rolling update (maxSurge {roll.get('max_surge')}, maxUnavailable {roll.get('max_unavailable')})"


def _inputs_differ(before: Side, after: Side) -> list[str]:
    """Which inputs of the resource differ: what makes the engine update it."""
    differ = []
    if dict(before.service_config) != dict(after.service_config):
        differ.append("serviceConfig")
    if before.tags is not None and after.tags is not None:  # both plans state the resource's inputs
        if dict(before.tags) != dict(after.tags):
            differ.append("tags")
        if before.workspace_id != after.workspace_id:
            differ.append("workspaceId")
    return differ


def announce(before: Optional[Side], after: Optional[Side], held_back: Optional[str] = None) -> Step:
    """The step the engine takes for a service that is ``before`` in the base and ``after`` now.

    ``held_back``: why this run does not register it (then ``after`` is None).
    """
    if held_back is not None:
        kept = (f"`{before.name}` in {before.region} stays as it runs; " if before is not None else "")
        return Step(HELD_BACK, what=f"not deployed this run ({held_back}); {kept}`pulumi up` fails at its end, "
                    "so the engine deletes nothing")
    if before is None and after is None:
        raise ValueError("a service must exist on at least one side")
    if before is None:
        assert after is not None
        if after.import_id:
            return Step(TAKE_BACK, what=(
                f"`{after.name}` already runs in {after.region}, this stack's (kept on delete when it was removed): it "
                "is taken back by its name (Pulumi's import) and brought to the stack's JSON; its endpoint and token "
                "stay, and nothing is created"))
        return Step(CREATE, what=f"a new EAS service `{after.name}` in {after.region}, with its own endpoint and token")
    if after is None:
        return _delete(before)
    if before.replacement_trigger is not None and after.replacement_trigger is not None:
        replaced = before.replacement_trigger != after.replacement_trigger
    else:
        replaced = before.region != after.region
    if replaced:
        return _replace(before, after, DELETE_FIRST if after.delete_before_replace else CREATE_FIRST)
    differ = _inputs_differ(before, after)
    if differ:
        if "serviceConfig" not in differ:
            what = f"`{after.name}` updated in place ({' and '.join(differ)} only: the running instances stay)"
        else:
            what = f"`{after.name}` updated in place by {_rolling(after.service_config)}; endpoint and token stay"
        notes: tuple[str, ...] = ()
        if before.name != after.name:
            notes = (f"its EAS name changes from `{before.name}` to `{after.name}`, but the update is sent to the "
                     f"service created as `{before.name}` (the provider addresses it by that name); what EAS does "
                     "with a new name in its JSON is not verified: to rename a service, give it a new key",)
        return Step(UPDATE, what=what, notes=notes)
    changed = [name for name, old, new in (("protect", before.protect, after.protect),
                                           ("retainOnDelete", before.retain_on_delete, after.retain_on_delete))
               if old is not None and new is not None and old != new]
    what = f"`{after.name}` is not touched" + (f"; only its {' and '.join(changed)} change in the state"
                                               if changed else "")
    return Step(SAME, what=what)


def _delete(before: Side) -> Step:
    """A service the stack no longer has; ``what`` continues "removed: `<key>`, "."""
    where = f"EAS service `{before.name}` in {before.region}"
    if before.protect:
        return Step(DELETE, refused_by="protect", what=(
            f"but {where} is protected: `pulumi up` fails at this step (\"cannot be deleted because it is "
            "protected\"). Set protect: false on it and run `pulumi up` first, then remove it"))
    if before.retain_on_delete:
        return Step(DELETE, retained=True, what=(
            f"but retainOnDelete leaves {where} running, and billed: its endpoint still answers; delete it by "
            "hand once it is idle"))
    return Step(DELETE, what=f"its endpoint stops ({where} is deleted)")


def _replace(before: Side, after: Side, order: str) -> Step:
    retained = bool(before.retain_on_delete)
    if order == CREATE_FIRST and retained:
        what = (f"a new `{after.name}` is created in {after.region} and Running; the old `{before.name}` in "
                f"{before.region} is not deleted (retainOnDelete) and keeps serving: a new endpoint and a new token, "
                "clients switch while both run")
    elif order == CREATE_FIRST:
        what = (f"a new `{after.name}` is created in {after.region} and Running before the old "
                f"`{before.name}` in {before.region} is deleted: a new endpoint and a new token, clients must switch")
    else:
        what = (f"`{before.name}` is deleted first, then created again in {after.region}: down from the delete "
                "until the new one runs (image pull and weight load)")
    notes = []
    if before.name != after.name:
        notes.append(f"its EAS name changes from `{before.name}` to `{after.name}`: EAS cannot rename a service, so "
                     "this is a new service (a cold start: image pull and weight load)")
    if retained:
        notes.append(f"retainOnDelete: the old service in {before.region} is not deleted; both run and bill until "
                     "it is deleted (by a drain's end, or by hand)")
    if before.protect and after.protect:
        return Step(REPLACE, order, refused_by="protect", retained=retained, notes=tuple(notes), what=(
            f"{what}. It is protected, so `pulumi up` fails at this step (\"unable to replace resource ... marked "
            "for protection\"): set protect: false on it in this same change"))
    return Step(REPLACE, order, retained=retained, what=what, notes=tuple(notes))
