"""A whole stack's plan: every service planned together, and what a run holds back.

``planning.plan_service`` decides one service; this module runs it over every service of a
validated stack, with what the run learned of the world (stock, where services run now, two-phase
moves), and collects the problems of all of them into one ``StackConfigError``, raised before
anything is registered. It also says which regions and names the run must look up first
(``probed_regions``, ``lookup_targets``, ``drains``). The component's program, the offline plan,
the benches and the conformance matrix all start from here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional

from ..errors import Problem, StackConfigError
from ..hardware import placement
from ..running import ownership, service_status
from ..stack import naming
from ..stack.spec import PROJECT
from ..stack.stack_config import LoadedStack
from . import live_values
from .cost import StackCost
from .planning import ServicePlan, plan_service


def probed_regions(loaded: LoadedStack) -> set[str]:
    """Regions whose public stock matters: those of public and spot services."""
    regions: set[str] = set()
    for spec in loaded.config.services.values():
        if spec.resource.kind in ("public", "spot"):
            regions.update(spec.regions or ([loaded.default_region] if loaded.default_region else []))
    return regions


def drains(loaded: LoadedStack) -> dict[str, ownership.Drain]:
    """Service key -> its two-phase move's old copy (``drain``), for the lookup."""
    return {key: ownership.drain_of(spec.drain) for key, spec in loaded.config.services.items() if spec.drain}


def lookup_targets(loaded: LoadedStack) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Service key -> (EAS name, regions to look for it in): its regions and its pin, in order."""
    targets: dict[str, tuple[str, tuple[str, ...]]] = {}
    for key, spec in sorted(loaded.config.services.items()):
        regions = list(spec.regions or ([loaded.default_region] if loaded.default_region else []))
        pin = loaded.config.placements.get(key)
        extra = [pin] if pin is not None else []
        if spec.drain is not None:
            extra.append(spec.drain.region)  # where the old copy of a two-phase move runs
        regions += [r for r in extra if r not in regions]
        if regions:
            targets[key] = (naming.service_name(loaded.name, loaded.config.identity(key), loaded.config.name_prefix),
                            tuple(regions))
    return targets


def former_names(loaded: LoadedStack) -> dict[str, str]:
    """Service key -> its name without ``qwen3-eas:namePrefix``, where a prefix is set: adding one
    renames every service, and the lookup must find them under the names they run as."""
    prefix = loaded.config.name_prefix
    if not prefix:
        return {}
    return {key: naming.service_name(loaded.name, loaded.config.identity(key)) for key in sorted(loaded.config.services)}


def renames(loaded: LoadedStack) -> dict[str, str]:
    """Service key -> the key it was deployed under (``renamedFrom``), for those renamed."""
    return {key: spec.renamed_from for key, spec in loaded.config.services.items() if spec.renamed_from}


@dataclass(frozen=True)
class StackPlan:
    """What can be deployed now, and the services held back because no region can run them now."""

    plans: dict[str, ServicePlan]
    held_back: dict[str, Problem]
    """Service key -> why it is not deployed this run (the region table), by name."""
    cost: StackCost = field(default_factory=lambda: StackCost({}))
    """What the planned services may cost per hour together (``components.core.plan.cost``)."""
    uncertain: frozenset[str] = frozenset()
    """Held-back keys whose service may run and be in the stack's state (held back over what the
    lookup found, not for stock)."""
    deferred: dict[str, str] = field(default_factory=dict)
    """Key -> why it stays where it is this run (the first run of a two-phase move)."""

    def held_back_message(self, stack: str) -> str:
        """One paragraph per held-back service, for the end of the run."""
        return str(StackConfigError(stack, list(self.held_back.values())))


def plan_services(loaded: LoadedStack, capacity: Optional[placement.Capacity] = None,
                  running: Optional[Mapping[str, str]] = None,
                  unknown: Optional[Mapping[str, str]] = None, *,
                  lookup: Optional[ownership.Lookup] = None, project: str = PROJECT,
                  now: Optional[datetime] = None) -> StackPlan:
    """Plan every service; a mistake in the stack file raises ``StackConfigError`` for all of them.

    ``running``: service key -> the region it runs in now (kept there like a pin). ``unknown``:
    service key -> why where it runs could not be told; such a service is held back, never
    guessed at. A service no region can run now is held back too: the others still deploy.
    ``lookup`` (what ``components.eas.running`` decided) gives both, and more: services held back
    pinned or not (this stack's service in two regions), regions whose service of the same name
    is another's, and two-phase moves (``drain``).
    """
    plans: dict[str, ServicePlan] = {}
    problems: list[Problem] = []
    held_back: dict[str, Problem] = {}
    uncertain: set[str] = set()
    names: dict[str, str] = {}
    pins = loaded.config.placements
    lookup = lookup or ownership.Lookup(regions=dict(running or {}), unknown=dict(unknown or {}))
    for key in sorted(set(pins) - set(loaded.config.services)):
        problems.append(Problem(f"qwen3-eas:placements.{key}",
                                f"pins a region for {key!r}, which is not a configured service",
                                "remove the pin (the service is gone) or restore the service"))
    for key, spec in sorted(loaded.config.services.items()):
        pin = lookup.deferred.get(key, pins.get(key))
        spec, drained = ownership.drained_spec(key, spec, loaded.default_region, pin, key in lookup.deferred)
        if drained is not None:
            problems.append(drained)
            continue
        spec = ownership.without_old_copy(spec, lookup.replaced.get(key), loaded.default_region)
        renamed = lookup.renamed.get(key)
        running_region = lookup.regions.get(key) or (renamed.region if renamed is not None else None)
        plan, found = plan_service(loaded.name, key, spec, loaded.default_region, loaded.config.workspace_id,
                                   capacity, pin, running_region, loaded.config.cost.site,
                                   loaded.config.name_prefix, lookup.runs_on.get(key))
        held = lookup.hold_back(key, plan.region, plan.name, key in pins) if plan is not None else None
        if held is not None:
            # Held back over what runs (a doubt, or a service of this name in its region): it may
            # be in the stack's state, so a preview must not show it as deleted.
            held_back[key] = held
            uncertain.add(key)
            continue
        if found and all(p.stock for p in found):
            held_back[key] = found[0]
            if key in lookup.regions:
                # It runs (allowRegionMove let the stock decide, and no region has any): a preview
                # must not show it deleted.
                uncertain.add(key)
            continue
        problems.extend(found)
        if plan is None:
            continue
        clash = names.get(plan.name)
        if clash is not None:
            problems.append(Problem("(service key)", f"services {clash!r} and {key!r} map to the same EAS name {plan.name!r}",
                                    "rename one of the service keys", key))
        names[plan.name] = key
        active = spec.drain is not None and ownership.drain_of(spec.drain).active(now)
        plan = dataclasses.replace(
            plan, protect=loaded.config.protected(key), project=project,
            # While a drain lasts and the move has not happened, the service is kept on delete: the
            # old copy must outlive the move. Once it moved (the drain holds the old copy), the new
            # copy is deleted like any other, so that nothing billed is left outside the state.
            retain_on_delete=loaded.config.retained(key) or (active and key not in lookup.draining),
            draining=lookup.draining[key].region if key in lookup.draining else None,
            drain_ended=key in lookup.drain_ended,
            drain_until=spec.drain.until if spec.drain is not None else None,
            explanation=plan.explanation + ((
                f"two-phase move out of {spec.drain.region} (drain): the copy there keeps running until "
                f"{spec.drain.until}, then the first `pulumi up` deletes it",) if spec.drain is not None else ()))
        plans[key] = _as_found(plan, key, lookup)
    if problems:
        raise StackConfigError(loaded.name, problems)
    stack_cost = StackCost({k: p.cost for k, p in plans.items() if p.cost is not None}, loaded.config.cost.site,
                           loaded.config.cost.warn_above_per_hour, tuple(sorted(held_back)))
    deferred = {key: (f"moves out of {region} in two runs: this one keeps it there and records retainOnDelete on "
                      "it, so that the move leaves it running; run `pulumi up` again to move it")
                for key, region in lookup.deferred.items() if key in plans}
    return StackPlan(plans, held_back, stack_cost, frozenset(uncertain), deferred)


def _as_found(plan: ServicePlan, key: str, lookup: ownership.Lookup) -> ServicePlan:
    """The plan with what the lookup found where it runs: how it is replaced, what it keeps as EAS
    holds it, whether it is taken back by ID, and whether it serves."""
    renamed = key in lookup.renamed
    # Two copies of ours, told apart by the moved-from label: the state may hold either (a delete
    # that failed, or a create a killed run left behind), so nothing is deleted first.
    ambiguous = key in lookup.replaced
    copy = lookup.found.get(key)
    here = copy is not None and copy.region == plan.region and copy.name in ("", plan.name) and not ambiguous
    plan = dataclasses.replace(
        plan,
        # Renamed in place: the old name is not where the new one runs, so nothing is deleted first.
        running_in=None if renamed or ambiguous else plan.running_in,
        moved_from=lookup.moved_from.get(key),
        import_id=plan.name if here else None,
    )
    if not here or copy is None:
        return plan
    sent = live_values.send(plan.service_config, plan.tags, live_values.Live(copy.config, copy.labels))
    warnings = list(plan.warnings)
    if sent.kept:
        warnings.append(f"EAS holds {', '.join(sent.kept)}, which the project does not write (set by hand, or added "
                        "by EAS): sent back as EAS holds them, so that no run rolls the service out for them "
                        "(docs/operating.md, keys the stack does not send)")
    if sent.to_remove:
        warnings.append(f"EAS holds {', '.join(sent.to_remove)}, which the stack does not send: this run removes "
                        "them (a replace-type update by the endpoint reader)")
    seen = copy.status if service_status.will_not_serve(copy.status) else ""
    if seen:
        warnings.append(f"EAS reports {plan.region}/{plan.name} {seen}: it does not serve, and this run fails unless "
                        "it serves again after the run's changes (the endpoint reader checks it)"
                        + ("; a stopped service is started again by `pulumi up --refresh`"
                           if seen in service_status.STOPPED else ""))
    return dataclasses.replace(plan, sent=sent, status_seen=seen, warnings=tuple(warnings),
                               explanation=(*plan.explanation, *sent.notes))


def plan_stack(loaded: LoadedStack, capacity: Optional[placement.Capacity] = None,
               running: Optional[Mapping[str, str]] = None) -> dict[str, ServicePlan]:
    """Plan every service of a stack; raise one ``StackConfigError`` with all problems.

    Stricter than ``plan_services``: a service no region can run now is an error here too.
    """
    result = plan_services(loaded, capacity, running)
    if result.held_back:
        raise StackConfigError(loaded.name, list(result.held_back.values()))
    return result.plans
