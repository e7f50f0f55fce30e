"""Where each deployed service runs now, so that a run keeps it there without ``make pin``.

A service's EAS name is deterministic (``components.core.naming``), so DescribeService of that
name in each of its candidate regions tells where it runs, whatever the stack's state or pins
say. The program asks once per run, before planning; a region it is found in acts as a pin.

- ``QWEN3_EAS_RUNNING=offline``: no lookup at all (the offline plan sets it: it never calls
  the EAS API); unset: look up live, through the same client and endpoint switch
  (``QWEN3_EAS_API_ENDPOINT``) as every other EAS call.
- "No such service" in a region is an answer; an authentication error stops the run
  (``ServiceLookupError``); any other failure, after a retry, leaves that service's place
  unknown: the program then holds the service back rather than guess (a guess could create a
  second copy, or move it).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Optional, Union

ENV = "QWEN3_EAS_RUNNING"
OFFLINE = "offline"


class ServiceLookupError(RuntimeError):
    """Every lookup would fail (credentials refused, endpoint misconfigured): the run stops."""


@dataclass(frozen=True)
class Running:
    """What the lookup learned, by service key."""

    regions: dict[str, str] = field(default_factory=dict)
    """Service key -> the region it runs in (the first of its candidate regions that has it)."""
    unknown: dict[str, str] = field(default_factory=dict)
    """Service key -> why where it runs could not be told."""
    also: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Service key -> further regions it was found in too (a move that did not finish)."""


Targets = Mapping[str, tuple[str, Sequence[str]]]
"""Service key -> (EAS name, candidate regions in order)."""


def where_running(targets: Targets, *, client_factory: Optional[Callable[[str], Any]] = None,
                  timeout_s: float = 5.0, retries: int = 1, backoff_s: float = 0.5,
                  deadline_s: float = 120.0) -> Running:
    """Look every service up in its candidate regions (eight calls at a time); see the module doc.

    A retryable failure is tried again after the stock probe's backoff (``api._backoff``); no
    lookup outlives ``deadline_s``: what has no answer by then is unknown, and that service is
    held back like any other whose place cannot be told.
    """
    if os.environ.get(ENV, "") == OFFLINE or not targets:
        return Running()
    from . import api as eas_api  # the SDK is only needed when something is looked up

    pairs = [(key, name, region) for key, (name, regions) in sorted(targets.items()) for region in regions]
    clients: dict[str, Any] = {}
    try:
        for _, _, region in pairs:
            eas_api.endpoint_override(region)  # a misspelt endpoint switch is said before anything else
        factory = client_factory
        if factory is None:
            # Resolved once, before any request: a missing credential is said as that, never as a
            # refusal from EAS, and every region's client shares it.
            provider = eas_api.resolve_credentials()
            factory = lambda region: eas_api.make_client(region, provider=provider)  # noqa: E731
        for _, _, region in pairs:
            if region not in clients:
                clients[region] = factory(region)
    except eas_api.EndpointConfigError as exc:
        raise ServiceLookupError(str(exc)) from None
    except eas_api.NoCredentialsError as exc:
        raise ServiceLookupError(f"cannot look up where services run: {exc}") from None

    give_up = time.monotonic() + deadline_s

    def ask(pair: tuple[str, str, str]) -> Union[Optional[str], BaseException]:
        _, name, region = pair
        for attempt in range(retries + 1):
            try:
                return eas_api.find_service(clients[region], region, name, timeout_s=timeout_s)
            except eas_api.ProbeFailure as failure:
                pause = eas_api.retry_delay(failure, attempt, backoff_s)
                if not failure.kind.retryable or attempt == retries or time.monotonic() + pause >= give_up:
                    return failure
                time.sleep(pause)
        raise AssertionError("unreachable")

    pool = ThreadPoolExecutor(max_workers=min(8, len(pairs)), thread_name_prefix="eas-lookup")
    futures = {pool.submit(ask, pair): pair for pair in pairs}
    done, _ = wait(futures, timeout=deadline_s)
    # Calls still waiting are dropped; one in flight ends within its own timeout.
    pool.shutdown(wait=False, cancel_futures=True)
    late = eas_api.ProbeFailure(eas_api.FailureKind.TIMEOUT, f"no answer within the {deadline_s:g} s deadline")
    answers = {pair: (future.result() if future in done else late) for future, pair in futures.items()}

    found: dict[str, list[str]] = {}
    failed: dict[str, list[str]] = {}
    for (key, name, region), answer in answers.items():
        if isinstance(answer, eas_api.ProbeFailure):
            if answer.kind is eas_api.FailureKind.AUTH:
                raise ServiceLookupError(f"EAS refused DescribeService {region}/{name}: {answer.detail}; "
                                         "the RAM user needs eas:DescribeService")
            failed.setdefault(key, []).append(f"DescribeService {region}/{name}: {answer}")
        elif answer is not None:
            found.setdefault(key, []).append(region)
    result = Running()
    for key, (_, regions) in sorted(targets.items()):
        where = [r for r in regions if r in found.get(key, [])]
        if where:
            # Found is an answer even if another region failed: names are unique per region,
            # and the first candidate holding it is where it stays.
            result.regions[key] = where[0]
            if len(where) > 1:
                result.also[key] = tuple(where[1:])
        elif key in failed:
            result.unknown[key] = "; ".join(failed[key])
    return result
