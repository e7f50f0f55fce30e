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

from . import naming, ownership, placement
from .cost import StackCost
from .errors import Problem, StackConfigError
from .planning import ServicePlan, plan_service
from .spec import PROJECT
from .stack_config import LoadedStack


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
    """What the planned services may cost per hour together (``components.core.cost``)."""
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
        plan, found = plan_service(loaded.name, key, spec, loaded.default_region, loaded.config.workspace_id,
                                   capacity, pin, lookup.regions.get(key), loaded.config.cost.site,
                                   loaded.config.name_prefix, lookup.runs_on.get(key))
        held = lookup.hold_back(key, plan, key in pins) if plan is not None else None
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
        draining = lookup.draining.get(key)
        active = spec.drain is not None and ownership.drain_of(spec.drain).active(now)
        plans[key] = dataclasses.replace(
            plan, protect=loaded.config.protected(key), project=project,
            # While a drain lasts the service is kept on delete: its old copy must outlive the move.
            retain_on_delete=loaded.config.retained(key) or active,
            draining=draining.region if draining is not None else None,
            drain_until=spec.drain.until if spec.drain is not None else None,
            explanation=plan.explanation + ((
                f"two-phase move out of {spec.drain.region} (drain): the copy there keeps running until "
                f"{spec.drain.until}, then the first `pulumi up` deletes it",) if spec.drain is not None else ()))
    if problems:
        raise StackConfigError(loaded.name, problems)
    stack_cost = StackCost({k: p.cost for k, p in plans.items() if p.cost is not None}, loaded.config.cost.site,
                           loaded.config.cost.warn_above_per_hour, tuple(sorted(held_back)))
    deferred = {key: (f"moves out of {region} in two runs: this one keeps it there and records retainOnDelete on "
                      "it, so that the move leaves it running; run `pulumi up` again to move it")
                for key, region in lookup.deferred.items() if key in plans}
    return StackPlan(plans, held_back, stack_cost, frozenset(uncertain), deferred)


def plan_stack(loaded: LoadedStack, capacity: Optional[placement.Capacity] = None,
               running: Optional[Mapping[str, str]] = None) -> dict[str, ServicePlan]:
    """Plan every service of a stack; raise one ``StackConfigError`` with all problems.

    Stricter than ``plan_services``: a service no region can run now is an error here too.
    """
    result = plan_services(loaded, capacity, running)
    if result.held_back:
        raise StackConfigError(loaded.name, list(result.held_back.values()))
    return result.plans
