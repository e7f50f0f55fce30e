"""GPU stock of many regions at once (DescribeMachineSpec in each), and the snapshot file that keeps it.

``probe_regions`` asks every region at once, one call per region through
``components.eas.api.describe_machine_spec``, each call bounded by the SDK's connect/read
timeouts and the whole probe by a deadline it returns by, even if a connection hangs. Failures
are classified by ``api`` (``FailureKind``): an authentication error stops the whole probe at once
(``ProbeAuthError``), since it would fail in every region; retryable ones are tried again with
backoff, never past the deadline; a region that still fails is reported with the reason.

A capacity snapshot is a JSON object mapping region ID to the ``InstanceMetas`` list exactly as
DescribeMachineSpec returned it (``load_snapshot`` / ``write_snapshot``): ``make capacity``
writes one, ``make plan CAPACITY=`` and the deploy jobs read it.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import Any, Union

from ..core.stack import regions
from .api import (
    Client,
    FailureKind,
    Metas,
    ProbeAuthError,
    ProbeFailure,
    describe_machine_spec,
    json_type,
    retry_delay,
    validate_metas,
)

_MIN_ATTEMPT_S = 0.01
"""Below this much time left before the deadline, another attempt is not started."""


RegionOutcome = Union[Metas, ProbeFailure]
"""What the probe learned of one region: its ``InstanceMetas``, or why there are none."""


class ProbeResult(Mapping[str, RegionOutcome]):
    """Region ID -> ``InstanceMetas`` list or ``ProbeFailure``, in the order regions were asked."""

    def __init__(self, outcomes: Mapping[str, RegionOutcome], elapsed_s: float = 0.0) -> None:
        self._outcomes = dict(outcomes)
        self.elapsed_s = elapsed_s
        """Wall time of the probe."""

    def __getitem__(self, region: str) -> RegionOutcome:
        return self._outcomes[region]

    def __iter__(self) -> Iterator[str]:
        return iter(self._outcomes)

    def __len__(self) -> int:
        return len(self._outcomes)

    def __repr__(self) -> str:
        return f"ProbeResult({self._outcomes!r})"

    @property
    def stock(self) -> dict[str, Metas]:
        """The regions that answered."""
        return {region: o for region, o in self._outcomes.items() if not isinstance(o, ProbeFailure)}

    @property
    def failures(self) -> dict[str, ProbeFailure]:
        """The regions that did not, with why."""
        return {region: o for region, o in self._outcomes.items() if isinstance(o, ProbeFailure)}


def _deadline_failure(deadline_s: float, attempts: int) -> ProbeFailure:
    return ProbeFailure(FailureKind.TIMEOUT, f"no answer within the probe's {deadline_s:g} s deadline",
                        attempts=attempts, by_deadline=True)


def _probe_one(region: str, client_factory: Callable[[str], Client], per_call_timeout_s: float,
               deadline_s: float, deadline_at: float, retries: int, backoff_s: float,
               sleep: Callable[[float], None]) -> RegionOutcome:
    """One region, retried while the failure is retryable, attempts remain and the deadline allows."""
    client = client_factory(region)
    attempt = 0
    while True:
        left = deadline_at - time.monotonic()
        if left < _MIN_ATTEMPT_S:
            return _deadline_failure(deadline_s, attempt)
        try:
            return describe_machine_spec(client, timeout_s=min(per_call_timeout_s, left))
        except ProbeFailure as failure:
            if failure.kind is FailureKind.TIMEOUT and left < per_call_timeout_s:
                # Cut short by the deadline: say so, in the same words whatever time was left.
                return _deadline_failure(deadline_s, attempt + 1)
            if not failure.kind.retryable or attempt >= retries:
                return failure.again(attempt + 1)
            delay = retry_delay(failure, attempt, backoff_s)
            if time.monotonic() + delay + _MIN_ATTEMPT_S >= deadline_at:
                if failure.kind is FailureKind.TIMEOUT:
                    # A hang that leaves no time for another try ends at the deadline: the same
                    # words as above, whether the machine was quick or slow to get here.
                    return _deadline_failure(deadline_s, attempt + 1)
                return failure.again(attempt + 1, "; no time left to retry before the deadline")
            sleep(delay)
            attempt += 1


def probe_regions(regions: Sequence[str], *, client_factory: Callable[[str], Client],
                  per_call_timeout_s: float = 5.0, deadline_s: float = 20.0, retries: int = 2,
                  backoff_s: float = 0.2, sleep: Callable[[float], None] = time.sleep) -> ProbeResult:
    """DescribeMachineSpec in every region at once; returns by ``deadline_s`` whatever happens.

    One call per distinct region (duplicates are asked once), each in its own daemon thread,
    each attempt bounded by the SDK's connect and read timeouts (``per_call_timeout_s``, cut to
    the time left before the deadline). Retryable failures are tried again up to ``retries``
    times, after ``backoff_s``, then twice that, and so on (or the wait the API asked for),
    never past the deadline. A region with no outcome by the deadline is a ``TIMEOUT``.

    Threads rather than a ThreadPoolExecutor: executor workers are joined at interpreter exit,
    so a connection stuck past its read timeout would hold the process; daemon threads do not.

    Raises ``ProbeAuthError`` as soon as any region gives an authentication error.
    """
    started = time.monotonic()
    deadline_at = started + deadline_s
    wanted = list(dict.fromkeys(regions))
    futures: dict[str, Future[RegionOutcome]] = {}
    for region in wanted:
        future: Future[RegionOutcome] = Future()
        futures[region] = future
        thread = threading.Thread(target=_run_into, name=f"eas-probe-{region}", daemon=True,
                                  args=(future, _probe_one, region, client_factory, per_call_timeout_s,
                                        deadline_s, deadline_at, retries, backoff_s, sleep))
        thread.start()
    pending = set(futures.values())
    while pending:
        left = deadline_at - time.monotonic()
        if left <= 0:
            break
        _done, pending = wait(pending, timeout=left, return_when=FIRST_COMPLETED)
        # Raise on the first auth failure, the first in region order if several came in together.
        for region, future in futures.items():
            if future.done() and future.exception() is None:
                outcome = future.result()
                if isinstance(outcome, ProbeFailure) and outcome.kind is FailureKind.AUTH:
                    raise ProbeAuthError(region, outcome)
    outcomes: dict[str, RegionOutcome] = {}
    for region, future in futures.items():
        if future.done():
            outcomes[region] = future.result()  # re-raises a bug from the worker thread
        else:
            outcomes[region] = _deadline_failure(deadline_s, 1)
    return ProbeResult(outcomes, elapsed_s=time.monotonic() - started)


def _run_into(future: Future[RegionOutcome], fn: Callable[..., RegionOutcome], *args: Any) -> None:
    """Run ``fn(*args)`` in this thread and settle ``future`` with what it gave."""
    try:
        future.set_result(fn(*args))
    except BaseException as exc:  # handed to the waiting thread, which re-raises it
        future.set_exception(exc)


# --------------------------------------------------------------------------- snapshots


def validate_snapshot(data: Any) -> dict[str, Metas]:
    """``data`` if it is a valid capacity snapshot; ``ValueError`` saying what is wrong if not."""
    if not isinstance(data, dict):
        raise ValueError(f"a snapshot must be a JSON object mapping region ID to InstanceMetas, not {json_type(data)}")
    for region, metas in data.items():
        if not isinstance(region, str) or not regions.is_eas_region(region):
            why = regions.unknown_region(region) if isinstance(region, str) else f"{region!r} is not a region ID"
            raise ValueError(f"{why} (the regions stack files may name: components/core/stack/regions.py)")
        validate_metas(metas, where=f"{region}")
    return data


def load_snapshot(path: Union[str, Path]) -> dict[str, Metas]:
    """A capacity snapshot: region ID -> ``InstanceMetas`` as DescribeMachineSpec returned it.

    ``OSError`` if it cannot be read, ``ValueError`` if it is not a valid snapshot.
    """
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    return validate_snapshot(data)


def write_snapshot(path: Union[str, Path], data: Mapping[str, Metas]) -> None:
    """Write a capacity snapshot, validated first; the same data always gives the same bytes."""
    snapshot = validate_snapshot(dict(data))
    text = json.dumps(snapshot, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    target = Path(path)
    # Written beside the target and renamed: a failed run never leaves half a snapshot.
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or Path("."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
