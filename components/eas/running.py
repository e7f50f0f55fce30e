"""Where each deployed service runs now, so that a run keeps it there without ``make pin``.

A service's EAS name is deterministic (``components.core.stack.naming``), so DescribeService of that
name in each of its candidate regions tells where a service of that name runs, whatever the
stack's state or pins say, and its labels tell whose it is (``components.core.running.ownership``, which
also decides what the run makes of it). The program asks once per run, before planning.

- ``QWEN3_EAS_RUNNING=offline``: no lookup at all (the offline plan sets it: it never calls
  the EAS API); unset: look up live, through the same client and endpoint switch
  (``QWEN3_EAS_API_ENDPOINT``) as every other EAS call; ``QWEN3_EAS_RUNNING=<file>``: answer from
  a deployed stack's outputs instead (``components.core.running.deployed``: ``make plan OUTPUTS=``, ``make
  diff OUTPUTS=``), with no call at all.
- What the running copy runs on (its service JSON's instance types and kind) comes with it: a
  service left to the automatic choice keeps those types (``components.core.hardware.hardware_choice``).
- "No such service" in a region is an answer; an authentication error stops the run
  (``ServiceLookupError``); any other failure, after a retry, leaves that service's place
  unknown: the program then holds the service back rather than guess (a guess could create a
  second copy, or move it).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime
from pathlib import Path
from typing import Any, Optional, Union

from ..core.hardware.hardware_choice import REQUEST_LABEL, RunsOn
from ..core.plan.service_json import runs_on
from ..core.running import deployed
from ..core.running.ownership import Copy, Drain, Lookup, Owner, settle

ENV = "QWEN3_EAS_RUNNING"
OFFLINE = "offline"


class ServiceLookupError(RuntimeError):
    """Every lookup would fail (credentials refused, endpoint misconfigured): the run stops."""


Running = Lookup
"""What the lookup decided, by service key (``components.core.running.ownership.Lookup``)."""


Targets = Mapping[str, tuple[str, Sequence[str]]]
"""Service key -> (EAS name, candidate regions in order)."""


def where_running(targets: Targets, *, owner: Owner, drains: Optional[Mapping[str, Drain]] = None,
                  former: Optional[Mapping[str, str]] = None,
                  now: Optional[datetime] = None, client_factory: Optional[Callable[[str], Any]] = None,
                  timeout_s: float = 5.0, retries: int = 1, backoff_s: float = 0.5,
                  deadline_s: float = 120.0) -> Lookup:
    """Look every service up in its candidate regions (eight calls at a time); see the module doc.

    A retryable failure is tried again after the stock probe's backoff (``api.with_retries``); no
    lookup outlives ``deadline_s``: what has no answer by then is unknown, and that service is
    held back like any other whose place cannot be told. ``owner`` says which copies are this
    stack's; ``drains`` name the old copies of two-phase moves; ``former``: key -> the service's
    name before ``namePrefix`` was set or changed, looked up in the same regions, so that a rename
    keeps a running service where it runs (``ownership.settle``).
    """
    source = os.environ.get(ENV, "")
    if source == OFFLINE or not targets:
        return Lookup()
    if source:
        return _from_file(Path(source), targets, owner, drains, now)
    former = {key: name for key, name in (former or {}).items() if key in targets and name != targets[key][0]}
    from . import api as eas_api  # the SDK is only needed when something is looked up
    from . import credentials as eas_credentials

    pairs = [(key, name, region) for key, (name, regions) in sorted(targets.items()) for region in regions]
    pairs += [(key, former[key], region) for key, (_, regions) in sorted(targets.items()) if key in former
              for region in regions]
    clients: dict[str, Any] = {}
    try:
        for _, _, region in pairs:
            eas_api.endpoint_override(region)  # a misspelt endpoint switch is said before anything else
        factory = client_factory
        if factory is None:
            # Resolved once, before any request: a missing credential is said as that, never as a
            # refusal from EAS, and every region's client shares it.
            provider = eas_credentials.resolve_credentials()
            factory = lambda region: eas_api.make_client(region, provider=provider)  # noqa: E731
        for _, _, region in pairs:
            if region not in clients:
                clients[region] = factory(region)
    except eas_api.EndpointConfigError as exc:
        raise ServiceLookupError(str(exc)) from None
    except eas_credentials.NoCredentialsError as exc:
        raise ServiceLookupError(f"cannot look up where services run: {exc}") from None

    give_up = time.monotonic() + deadline_s

    def ask(pair: tuple[str, str, str]) -> Union[Optional[Copy], BaseException]:
        _, name, region = pair
        try:
            body = eas_api.with_retries(
                lambda: eas_api.describe_service(clients[region], region, name, timeout_s=timeout_s),
                retries=retries, backoff_s=backoff_s, give_up_at=give_up)
        except eas_api.ProbeFailure as failure:
            return failure
        if body is None:
            return None
        labels = eas_api.labels_of(body)
        return Copy(region, labels, str(getattr(body, "status", None) or "unknown"), name=name,
                    config=str(getattr(body, "service_config", None) or ""), runs_on=_runs_on(body, labels))

    def listed(region: str) -> Union[list[Copy], BaseException]:
        """This stack's services in ``region``, by their ownership labels (ListServices)."""
        try:
            bodies = eas_api.with_retries(
                lambda: eas_api.list_services(clients[region], region, owner.stack_labels(), timeout_s=timeout_s),
                retries=retries, backoff_s=backoff_s, give_up_at=give_up)
        except eas_api.ProbeFailure as failure:
            return failure
        return [Copy(region, eas_api.labels_of(b), str(getattr(b, "status", None) or "unknown"),
                     name=str(getattr(b, "service_name", None) or "")) for b in bodies]

    pool = ThreadPoolExecutor(max_workers=min(8, len(pairs) + len(clients)), thread_name_prefix="eas-lookup")
    futures = {pool.submit(ask, pair): pair for pair in pairs}
    lists = {pool.submit(listed, region): region for region in sorted(clients)}
    everything: list[Future[Any]] = [*futures, *lists]
    done, _ = wait(everything, timeout=deadline_s)
    # Calls still waiting are dropped; one in flight ends within its own timeout.
    pool.shutdown(wait=False, cancel_futures=True)
    late = eas_api.ProbeFailure(eas_api.FailureKind.TIMEOUT, f"no answer within the {deadline_s:g} s deadline")
    answers = {pair: (future.result() if future in done else late) for future, pair in futures.items()}
    listings = {region: (future.result() if future in done else late) for future, region in lists.items()}

    copies: dict[str, dict[str, Copy]] = {}
    renamed: dict[str, dict[str, Copy]] = {}
    failed: dict[str, dict[str, str]] = {}
    for (key, name, region), answer in sorted(answers.items()):
        if isinstance(answer, eas_api.ProbeFailure):
            if answer.kind is eas_api.FailureKind.AUTH:
                raise ServiceLookupError(f"EAS refused DescribeService {region}/{name}: {answer.detail}; "
                                         "the RAM user needs eas:DescribeService")
            failed.setdefault(key, {})[f"{region}/{name}"] = str(answer)
        elif isinstance(answer, Copy):
            (renamed if name == former.get(key) else copies).setdefault(key, {})[region] = answer
    lookup = _with_hardware(settle(targets, copies, failed, owner, drains, now, former=renamed), copies)
    return _outside(lookup, targets, former, owner, listings)


def _outside(lookup: Lookup, targets: Targets, former: Mapping[str, str], owner: Owner,
             listings: Mapping[str, Union[list[Copy], BaseException]]) -> Lookup:
    """``lookup`` with this stack's services that run under no configured key: kept on delete
    (``retainOnDelete``) and removed from the stack, or left by a stack file's older version. A
    region that could not list its services is noted, never fatal: the lookup by name decided the rest."""
    ours = {owner.labels(key)["service"] for key in targets}
    names = {name for name, _ in targets.values()} | set(former.values())
    for region, listing in sorted(listings.items()):
        if isinstance(listing, BaseException):
            lookup.note("ListServices", f"cannot list this stack's services in {region} (ListServices): {listing}; services "
                             "of this stack that run outside it there are not named this run")
            continue
        for copy in listing:
            label = copy.labels.get("service", "")
            if label and label not in ours and copy.name not in names:
                lookup.outside.setdefault(label, []).append(copy)
    return lookup


def _runs_on(body: Any, labels: Mapping[str, str]) -> RunsOn:
    """What DescribeService's ``ServiceConfig`` says the service runs on (nothing, if it is unreadable),
    and what the stack file asked for when it was deployed (its label)."""
    try:
        found = runs_on(json.loads(str(getattr(body, "service_config", None) or "{}")))
    except ValueError:
        found = RunsOn(None)
    return dataclasses.replace(found, request=labels.get(REQUEST_LABEL))


def _with_hardware(lookup: Lookup, copies: Mapping[str, Mapping[str, Copy]]) -> Lookup:
    """``lookup`` with what each service runs on where it stays (under its former name too)."""
    for key, region in lookup.regions.items():
        copy = copies.get(key, {}).get(region)
        if copy is not None and copy.runs_on is not None:
            lookup.runs_on[key] = copy.runs_on
    for key, former in lookup.renamed.items():
        if key not in lookup.runs_on and former.runs_on is not None:
            lookup.runs_on[key] = former.runs_on
    return lookup


class RunningFileError(ServiceLookupError):
    """``QWEN3_EAS_RUNNING`` names a file that is not a deployed stack's outputs."""


def _from_file(path: Path, targets: Targets, owner: Owner, drains: Optional[Mapping[str, Drain]],
               now: Optional[datetime]) -> Lookup:
    """The lookup answered from a deployed stack's outputs (``components.core.running.deployed``), no call made."""
    try:
        records = deployed.read(json.loads(path.read_text(encoding="utf-8")), str(path))
    except (OSError, ValueError) as exc:
        raise RunningFileError(f"{ENV}={path}: {exc}") from None
    found = deployed.copies(targets, records, owner)
    return _with_hardware(settle(targets, found, {}, owner, drains, now), found)
