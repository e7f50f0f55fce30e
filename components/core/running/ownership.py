"""Whose an EAS service of a given name is, and what a run makes of the copies it finds.

EAS names are unique per region only (``metadata.name``, "Parameters of model services"), and
ours carry no account-wide part: ``<key>_<stack>`` (``components.core.stack.naming``). So the same
name can run in several regions, and a service of another project, of another tool or made by
hand can carry it. Before the program keeps a service where a copy was found, it checks the
labels it sets on create: ``managed-by``, ``project``, ``stack`` and ``service`` (the key). The
provider sends the component's ``tags`` as EAS labels when it creates a service (the ``Labels``
query parameter, aliyun/terraform-provider-alicloud ``alicloud/resource_alicloud_pai_service.go``
lines 86-88 at 81c43b6), sets changed ones with ``TagResources`` (``service_alicloud_pai_v2.go``
lines 216-247) and reads them back from DescribeService's ``Labels`` (resource file, lines
144-146), where the lookup reads them too.

Pure: no Pulumi, no network. ``settle`` turns what DescribeService said in each region into the
run's decisions; ``components.eas.running`` asks, ``components.core.plan.stack_plan`` applies them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional

from ..errors import Problem
from ..hardware.hardware_choice import RunsOn
from ..stack import spec as spec_model

MANAGED_BY = "qwen3-eas"
OWNER_KEYS = ("managed-by", "project", "stack", "service")
"""The labels that say whose a service is; all four must match for it to be this stack's."""
RETAIN_LABEL = "retain-on-delete"
"""Set (``"true"``) while the stack records Pulumi ``retainOnDelete`` on the service: a two-phase
move (``drain``) reads it to know that a run has already recorded the option."""
MOVED_FROM_LABEL = "moved-from"
"""The region a copy was moved from, set on the copy a region move creates (and kept by later
runs). When the old copy's delete failed, a later run finds this stack's service in two regions;
this label tells the current copy from the one being replaced, so the next run finishes the move
instead of holding the service back."""


@dataclass(frozen=True)
class Copy:
    """A service of the looked-up name in one region, as DescribeService describes it."""

    region: str
    labels: Mapping[str, str] = field(default_factory=dict)
    status: str = ""
    name: str = ""
    """The EAS name it was found under (the service's name, or its name before a prefix)."""
    config: str = ""
    """Its ``ServiceConfig`` as EAS holds it (JSON text)."""
    runs_on: Optional[RunsOn] = None
    """What its service JSON says its replicas run on (None: not read)."""


@dataclass(frozen=True)
class Owner:
    """The stack doing the lookup: what its services' labels say, and which keys it adopts."""

    project: str
    stack: str
    adopt: frozenset[str] = frozenset()
    """Service keys whose unlabelled service is taken as this stack's (``qwen3-eas:adopt``)."""
    renamed: Mapping[str, str] = field(default_factory=dict)
    """Service key -> the key it was deployed under (``renamedFrom``): its ``service`` label keeps that."""

    def labels(self, key: str) -> dict[str, str]:
        """The ownership labels of service ``key`` (the program adds them to the service's tags)."""
        return {"managed-by": MANAGED_BY, "project": self.project, "stack": self.stack,
                "service": self.renamed.get(key, key)}

    def stack_labels(self) -> dict[str, str]:
        """The ownership labels every service of this stack carries, whatever its key."""
        return {"managed-by": MANAGED_BY, "project": self.project, "stack": self.stack}

    def judge(self, key: str, labels: Mapping[str, str]) -> Optional[str]:
        """None when a copy with ``labels`` is this stack's service ``key``; otherwise why not.

        Any ownership label that says something else makes it another's, adopted or not. A copy
        without them (made by hand, or by a release of qwen3-eas before these labels) is another's
        too unless the stack file adopts the key.
        """
        expected = self.labels(key)
        clash = [f"{k}={labels[k]!r}" for k in OWNER_KEYS if k in labels and labels[k] != expected[k]]
        if clash:
            return f"it is labelled {', '.join(clash)}, not this stack's ({_describe(expected)})"
        missing = [k for k in OWNER_KEYS if k not in labels]
        if not missing or key in self.adopt:
            return None
        return (f"it has no {'/'.join(missing)} label{'s' if len(missing) > 1 else ''} (made by hand, or by "
                "qwen3-eas before ownership labels)")

    def adopting(self, key: str, labels: Mapping[str, str]) -> bool:
        """True when ``labels`` lack an ownership label and the stack adopts ``key`` all the same."""
        return key in self.adopt and any(k not in labels for k in OWNER_KEYS) and self.judge(key, labels) is None


def _describe(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in labels.items())


@dataclass(frozen=True)
class Drain:
    """A two-phase move's old copy: kept running in ``region`` until ``until``."""

    region: str
    until: datetime

    def active(self, now: Optional[datetime] = None) -> bool:
        return (now or datetime.now(self.until.tzinfo)) < self.until


def drain_of(drain: spec_model.Drain) -> Drain:
    """The stack file's ``drain`` as the lookup uses it."""
    return Drain(drain.region, drain.until_time)


@dataclass
class Lookup:
    """What the program makes of the copies found, by service key."""

    regions: dict[str, str] = field(default_factory=dict)
    """Where this stack's service runs: it stays there (like a pin)."""
    unknown: dict[str, str] = field(default_factory=dict)
    """Why where it runs cannot be told (a region did not answer): held back unless pinned."""
    conflicts: dict[str, str] = field(default_factory=dict)
    """Why it cannot be deployed safely (this stack's service found in two regions): held back,
    pinned or not."""
    taken: dict[str, dict[str, str]] = field(default_factory=dict)
    """Region -> why the service of this name there is not this stack's: it cannot be placed there."""
    draining: dict[str, Copy] = field(default_factory=dict)
    """The old copy of a two-phase move, kept running until its drain ends (and, in ``drain_ended``,
    deleted by this run)."""
    drain_ended: set[str] = field(default_factory=set)
    """Keys whose drain has ended while the old copy still runs: this run deletes it."""
    deferred: dict[str, str] = field(default_factory=dict)
    """Region a service stays in this run because its two-phase move first records retainOnDelete."""
    found: dict[str, Copy] = field(default_factory=dict)
    """This stack's copy where it runs (``regions``), as DescribeService described it."""
    moved_from: dict[str, str] = field(default_factory=dict)
    """The ``moved-from`` label of this stack's copy where it runs: later runs send it again."""
    replaced: dict[str, Copy] = field(default_factory=dict)
    """The old copy of a region move whose delete did not happen: the engine deletes it when the
    state still records it; this run places nothing in its region."""
    renamed: dict[str, Copy] = field(default_factory=dict)
    """This stack's copy under the service's former name (before ``namePrefix``), where no copy
    under the new name is this stack's: the renamed service is created beside it, in its region."""
    notes: dict[str, list[str]] = field(default_factory=dict)
    """Warnings to print, by key."""
    outside: dict[str, list[Copy]] = field(default_factory=dict)
    """This stack's services that run under no key of the stack file (their ``service`` label ->
    where): kept on delete and removed from the stack, billed, outside the state. Adding the key
    back takes the service back by ID."""
    runs_on: dict[str, RunsOn] = field(default_factory=dict)
    """What this stack's service runs on where it stays (``regions``): a service left to the
    automatic choice keeps those instance types (``components.core.hardware.hardware_choice``)."""

    def note(self, key: str, text: str) -> None:
        self.notes.setdefault(key, []).append(text)

    def hold_back(self, key: str, region: str, name: str, pinned: bool) -> Optional[Problem]:
        """Why service ``key``, planned as EAS service ``name`` in ``region``, must not be registered
        this run, or None (a hold-back, not a config error)."""
        if key in self.conflicts:
            return Problem("regions", self.conflicts[key],
                           "delete the copy that should not run (the console, or DeleteService), then run again; "
                           "a pin does not help: the stack may hold either copy", key, stock=True)
        if key in self.unknown and not pinned:
            return Problem("regions", f"cannot tell whether it already runs somewhere: {self.unknown[key]}",
                           "run again when the EAS API answers, or pin its region in qwen3-eas:placements",
                           key, stock=True)
        taken = self.taken.get(key, {})
        # A copy of this exact name that the program cannot claim may still be the one the stack's
        # state holds (deployed before ownership labels, labels cleared, a project or stack
        # renamed): placed elsewhere, the engine would replace it, and delete it.
        blocking = region if region in taken else \
            (sorted(taken)[0] if taken and key not in self.regions and key not in self.renamed else None)
        if blocking is not None:
            elsewhere = "" if blocking == region else (
                f"; placed in {region} instead, the engine would replace, and so delete, that copy if the "
                "stack's state holds it")
            return Problem("regions", f"the EAS service {name} in {blocking} carries this stack's name, and the "
                           f"program cannot claim it: {taken[blocking]}{elsewhere}",
                           f"if it is this stack's service, adopt it (qwen3-eas:adopt: [{key}]); if it is another's, "
                           "set qwen3-eas:namePrefix so that this stack's names differ", key, stock=True)
        return None


def settle(targets: Mapping[str, tuple[str, Sequence[str]]], copies: Mapping[str, Mapping[str, Copy]],
           failures: Mapping[str, Mapping[str, str]], owner: Owner,
           drains: Optional[Mapping[str, Drain]] = None, now: Optional[datetime] = None,
           former: Optional[Mapping[str, Mapping[str, Copy]]] = None) -> Lookup:
    """Decide, for every looked-up service, where it stays or why it is held back.

    ``failures``: key -> ``region/name`` -> why that lookup failed. ``former``: key -> region ->
    the copy found under the service's former name (before ``namePrefix``).

    - A lookup that did not answer: unknown (a copy of ours, a second one perhaps, could be there;
      the program never guesses).
    - Ours in one region: it stays there.
    - Ours in two regions, one labelled ``moved-from`` the other's region: a move whose old copy
      was not deleted. The labelled one is current; the engine deletes the other (it is pending
      deletion in the state).
    - Ours in more regions otherwise: a conflict. Kept in either, a replacement could delete the
      one the stack manages and then fail to create in the taken region.
    - Another's copy: that region is taken for this name (``Lookup.hold_back``).
    - A drain's region: its copy of ours is the old copy of a two-phase move, not where it runs.
    - Ours only under the former name: the service stays in that region, renamed there.
    """
    drains = drains or {}
    former = former or {}
    result = Lookup()
    for key, (name, regions) in sorted(targets.items()):
        failed = failures.get(key, {})
        found = copies.get(key, {})
        drain = drains.get(key)
        if failed:
            result.unknown[key] = "; ".join(f"DescribeService {where}: {why}" for where, why in sorted(failed.items()))
            continue
        ours: list[Copy] = []
        for region in regions:
            copy = found.get(region)
            if copy is None:
                continue
            why = owner.judge(key, copy.labels)
            if why is not None:
                result.taken.setdefault(key, {})[region] = why
                if drain is None or region != drain.region:
                    result.note(key, f"EAS service {region}/{name} is not this stack's: {why}; it is left alone")
                continue
            if owner.adopting(key, copy.labels):
                result.note(key, f"EAS service {region}/{name} has no ownership labels and is adopted "
                                 f"(qwen3-eas:adopt); this run labels it: then remove {key!r} from qwen3-eas:adopt")
            elif key in owner.adopt:
                result.note(key, f"qwen3-eas:adopt lists {key!r}, whose service is labelled already: remove it")
            ours.append(copy)
        old = next((c for c in ours if drain is not None and c.region == drain.region), None)
        ours = [c for c in ours if c is not old]
        ours = _finish_move(key, name, ours, result)
        if len(ours) > 1:
            where = " and ".join(c.region for c in ours)
            result.conflicts[key] = (f"this stack's EAS service {name} runs in {where} (a copy made by hand, or a "
                                     "move from before the moved-from label); the program cannot tell which one the "
                                     "stack manages")
            continue
        if ours:
            result.regions[key] = ours[0].region
            result.found[key] = ours[0]
            if ours[0].labels.get(MOVED_FROM_LABEL):
                result.moved_from[key] = ours[0].labels[MOVED_FROM_LABEL]
        else:
            _renamed(key, name, former.get(key, {}), owner, result)
        if old is None or drain is None:
            continue
        _drain(key, old, drain, bool(ours), now, result)
    return result


def _finish_move(key: str, name: str, ours: list[Copy], result: Lookup) -> list[Copy]:
    """Of two copies of ours, the one a move created (``moved-from`` the other's region) is current;
    the other is recorded as the old copy to be deleted. Anything else is returned unchanged."""
    if len(ours) != 2:
        return ours
    for current, old in (ours, ours[::-1]):
        if current.labels.get(MOVED_FROM_LABEL) == old.region:
            result.replaced[key] = old
            result.note(key, f"this stack's EAS service {name} in {old.region} is the old copy of its move to "
                             f"{current.region}, whose delete did not happen: the engine deletes it in this run when "
                             "the stack's state still records it (pending deletion). If a later run still finds it "
                             f"there, delete it: `aliyun eas DeleteService --ClusterId {old.region} "
                             f"--ServiceName {name}`. If this run instead fails on \"already exists\" in "
                             f"{current.region}, the move was killed before the state recorded the new copy: delete "
                             f"that one (`aliyun eas DeleteService --ClusterId {current.region} --ServiceName {name}`) "
                             "and run again")
            return [current]
    return ours


def _renamed(key: str, name: str, found: Mapping[str, Copy], owner: Owner, result: Lookup) -> None:
    """Where the service runs under its former name, if nowhere under its new one: it stays there."""
    mine = [c for c in found.values() if owner.judge(key, c.labels) is None]
    if len(mine) == 1:
        copy = mine[0]
        result.renamed[key] = copy
        result.note(key, f"runs as {copy.name} in {copy.region}: renamed to {name} there (the new name is created "
                         f"first, then {copy.name} is deleted), not moved")
    elif len(mine) > 1:
        where = " and ".join(sorted(c.region for c in mine))
        result.conflicts[key] = (f"this stack's EAS service runs under its former name {mine[0].name} in {where}; "
                                 "the program cannot tell which one the stack manages")


def _drain(key: str, old: Copy, drain: Drain, moved: bool, now: Optional[datetime], result: Lookup) -> None:
    """What a two-phase move's old copy means this run (see ``components.drain``)."""
    active = drain.active(now or datetime.now(drain.until.tzinfo))
    if moved:
        # Moved already: the old copy is kept while the drain lasts; after it, the run no longer
        # registers the drain resource, and the engine deletes it (and with it the old copy).
        result.draining[key] = old
        if not active:
            result.drain_ended.add(key)
            result.note(key, f"the drain of {old.region} ended {drain.until.isoformat()}: this run deletes the old "
                             "copy there")
    elif old.labels.get(RETAIN_LABEL) != "true":
        if active:
            # Phase 1: the engine reads retainOnDelete from the old state when it deletes a
            # replaced resource (pulumi/pulumi pkg/resource/deploy/step.go line 661 at 1b59498,
            # `s.old.RetainOnDelete`), so a run before the move must record it.
            result.deferred[key] = drain.region
            result.regions[key] = drain.region
            result.found[key] = old
        else:
            result.note(key, f"the drain of {old.region} ended {drain.until.isoformat()} before the move "
                             "began: the service moves and the old copy is deleted at the end of this run")
    else:
        # Phase 2: retainOnDelete is recorded on the old copy, so the move leaves it running;
        # the drain resource takes it over (and deletes it once the drain is over).
        result.draining[key] = old


def drained_spec(key: str, spec: spec_model.ServiceSpec, default_region: Optional[str], pin: Optional[str],
                 staying: bool) -> tuple[spec_model.ServiceSpec, Optional[Problem]]:
    """The spec this run plans with: a drained region is not a place to go (unless the first run
    of the move keeps the service there), or the problem that leaves no region."""
    if spec.drain is None:
        return spec, None
    gone = spec.drain.region
    if staying:
        return spec.model_copy(update={"allow_region_move": False}), None
    if pin == gone:
        return spec, Problem(f"qwen3-eas:placements.{key}", f"pins {key!r} to {gone}, the region its drain leaves",
                             "pin the region it moves to, or remove the pin")
    regions = [r for r in (spec.regions or ([default_region] if default_region else [])) if r != gone]
    if not regions:
        return spec, Problem("drain.region", f"{gone} is the only region the service may run in",
                             "list the region the service moves to in regions", key)
    return spec.model_copy(update={"regions": regions}), None


def without_old_copy(spec: spec_model.ServiceSpec, old: Optional[Copy],
                     default_region: Optional[str]) -> spec_model.ServiceSpec:
    """The spec without the region of a move's old copy, while that copy is still there: its name
    is taken in that region until the engine has deleted it."""
    if old is None or not spec.allow_region_move:
        return spec
    regions = [r for r in (spec.regions or ([default_region] if default_region else [])) if r != old.region]
    return spec.model_copy(update={"regions": regions}) if regions else spec
