"""What an EAS service's ``Status`` means for a run: serving, on its way, or not coming back by waiting.

EAS reports one status per service (DescribeService's ``Status``; the EAS API 2021-07-01
documents its values). A run is green only when every service serves, so each status falls in
one of three groups:

- ``Running`` serves (once its rollout has converged: ``components.endpoint``);
- a status on the way to ``Running`` (``Creating``, ``Waiting`` for resources, ``Updating``,
  ``Scaling``, ``Starting``, ...) is waited through, up to the service's own timeout;
- a status from which waiting brings nothing (``Failed``, ``DeleteFailed``, ``Stopped``, being
  deleted) fails the run at once, with the cure.

Pure: no Pulumi, no network.
"""

from __future__ import annotations

RUNNING = "Running"
FAILED = frozenset({"Failed", "DeleteFailed"})
"""The service is broken, or EAS could not delete it: nothing changes by waiting."""
STOPPED = frozenset({"Stopped", "Stopping"})
"""Stopped outside Pulumi (the console, StopService): it serves again only once started."""
GOING = frozenset({"Deleting", "Deleted"})
"""Something outside the run is deleting it."""
NOT_COMING_BACK = FAILED | STOPPED | GOING
"""Every status a wait cannot turn into ``Running``."""


def will_not_serve(status: str) -> bool:
    """True when waiting cannot bring a service in ``status`` to serve."""
    return status in NOT_COMING_BACK
