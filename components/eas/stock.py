"""Where a run learns GPU stock: a capacity snapshot, the live EAS API, or nowhere.

The program asks ``capacity_for(regions)`` once, before planning. The choice is made by the
environment, not the stack file, because it is about this run, not about what to deploy:

- ``QWEN3_EAS_CAPACITY=<file>``: read a snapshot (``make plan CAPACITY=<file>``);
- ``QWEN3_EAS_CAPACITY=offline``: no stock at all; first regions, marked unverified (the
  offline plan's default);
- unset (``pulumi preview`` / ``pulumi up``): probe DescribeMachineSpec live, all regions at
  once, with the credentials the provider uses.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Optional

from ..core.hardware.placement import Capacity, RegionFailure

ENV = "QWEN3_EAS_CAPACITY"
OFFLINE = "offline"


class CapacityError(RuntimeError):
    """Stock cannot be read in a way that would fail everywhere (bad snapshot, credentials)."""


def capacity_for(regions: Iterable[str]) -> Optional[Capacity]:
    """The stock of ``regions`` for this run, or ``None`` when this run reads none."""
    wanted = sorted(set(regions))
    source = os.environ.get(ENV, "")
    if source == OFFLINE or not wanted:
        return None
    if source:
        return from_snapshot(Path(source), wanted)
    return live(wanted)


def from_snapshot(path: Path, wanted: Iterable[str] = ()) -> Capacity:
    """A snapshot file: region ID -> DescribeMachineSpec's ``InstanceMetas`` list.

    A snapshot with no region at all, read for regions that need stock, is an error: every
    service would be held back as if each region were unreachable, which hides the real cause.
    """
    from . import probe as eas_probe  # the SDK is only needed when stock is read

    try:
        data = eas_probe.load_snapshot(path)
    except (OSError, ValueError) as exc:
        raise CapacityError(f"capacity snapshot {path}: {exc}") from None
    needed = sorted(set(wanted))
    if not data and needed:
        raise CapacityError(
            f"capacity snapshot {path} has no regions (it is an empty object), so it says nothing about "
            f"{', '.join(needed)}: write one for them with `make capacity REGIONS=\"{' '.join(needed)}\"` "
            "(or `make capacity STACK=<stack>`), or plan without a snapshot")
    return Capacity(data, source=f"snapshot {path.name}")


def live(regions: list[str]) -> Capacity:
    """Probe every region concurrently; failures become per-region reasons, auth stops the run."""
    from . import api as eas_api
    from . import credentials as eas_credentials
    from . import probe as eas_probe

    try:
        # Resolved once, before any request: missing credentials are one line, not a refusal.
        provider = eas_credentials.resolve_credentials()
        result = eas_probe.probe_regions(regions, client_factory=lambda r: eas_api.make_client(r, provider=provider))
    except (eas_credentials.NoCredentialsError, eas_api.ProbeAuthError, eas_api.EndpointConfigError) as exc:
        raise CapacityError(str(exc)) from None
    answers: dict[str, object] = {}
    for region in regions:
        outcome = result[region]
        answers[region] = outcome if isinstance(outcome, list) else RegionFailure(str(outcome))
    return Capacity(answers, source="live DescribeMachineSpec")  # type: ignore[arg-type]
