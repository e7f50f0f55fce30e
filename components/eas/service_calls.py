"""One EAS service's calls, as the endpoint reader and the drain make them: read, update, delete.

``describe`` reads a service (``ServiceInfo``: its endpoints, token, status, config and rollout),
``merge_update`` and ``replace_update`` change its config, ``delete_service`` deletes it; each is
retried when the failure may pass, and fails in words naming the service
(``ServiceCallError``). ``serving`` and ``not_serving`` say whether a service serves, and, when
it never will by waiting, why and what to do. Every call goes through the project's client and
failure classes (``components.eas.api``: ``describe_service``, ``classify_error``,
``with_retries``), which this module imports only when it calls EAS: the program registers the
reader without loading the EAS SDK.

Pure of Pulumi.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from ..core.plan.removals import removed_from_json
from ..core.running import service_status


class EndpointLookupError(RuntimeError):
    """DescribeService or UpdateService failed; the message names the service and the cause.

    ``retryable``: the failure is of a kind that may pass (throttling, a server error, a timeout,
    an unreachable endpoint), so a wait with time left polls again instead of failing."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class ServiceGoneError(EndpointLookupError):
    """DescribeService says the service does not exist."""


@dataclass(frozen=True)
class ServiceInfo:
    """What DescribeService says about how to call a service, its config and its rollout."""

    internet_endpoint: str
    intranet_endpoint: str
    token: str
    status: str
    service_config: str = ""
    current_version: Optional[int] = None
    latest_version: Optional[int] = None
    running_instance: Optional[int] = None
    total_instance: Optional[int] = None
    message: str = ""

    @property
    def has_endpoint(self) -> bool:
        return bool(self.internet_endpoint or self.intranet_endpoint)

    @property
    def converged(self) -> bool:
        """Running, on its latest version, every instance up (a field EAS leaves out is not waited for)."""
        versions = self.current_version is None or self.latest_version is None or \
            self.current_version == self.latest_version
        instances = self.running_instance is None or self.total_instance is None or \
            self.running_instance == self.total_instance
        return self.status == service_status.RUNNING and versions and instances

    def progress(self) -> str:
        """The rollout as words, for a message."""
        parts = [f"status {self.status or 'unknown'}"]
        if self.current_version is not None and self.latest_version is not None:
            parts.append(f"version {self.current_version} of {self.latest_version}")
        if self.running_instance is not None and self.total_instance is not None:
            parts.append(f"{self.running_instance} of {self.total_instance} instances running")
        return ", ".join(parts) + (f": {self.message}" if self.message else "")


RETRIES = 4
BACKOFF_S = 1.0
"""Transient failures (throttling, server errors, timeouts) of each call: tried again after 1, 2,
4 and 8 s (or what EAS asks for), then the call fails."""


def describe(client: Any, region: str, name: str, *, require_endpoint: bool = True,
             retries: int = RETRIES, backoff_s: float = BACKOFF_S) -> ServiceInfo:
    """DescribeService through the lookup's call (retried); ``ServiceGoneError`` if there is no such
    service, ``EndpointLookupError`` for any other failure or (``require_endpoint``) no endpoint."""
    from . import api as eas_api

    try:
        body = eas_api.with_retries(lambda: eas_api.describe_service(client, region, name),
                                    retries=retries, backoff_s=backoff_s)
    except eas_api.ProbeFailure as failure:
        raise EndpointLookupError(f"DescribeService {region}/{name} failed: {failure}",
                                  retryable=failure.kind.retryable) from None
    if body is None:
        raise ServiceGoneError(f"DescribeService {region}/{name} failed: InvalidService.NotFound: "
                               f"EAS has no service {name} in {region}")

    def number(value: Any) -> Optional[int]:
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    info = ServiceInfo(
        internet_endpoint=body.internet_endpoint or "",
        intranet_endpoint=body.intranet_endpoint or "",
        token=body.access_token or "",
        status=body.status or "",
        service_config=body.service_config or "",
        current_version=number(body.current_version),
        latest_version=number(body.latest_version),
        running_instance=number(body.running_instance),
        total_instance=number(body.total_instance),
        message=str(body.message or body.reason or ""),
    )
    if require_endpoint and not info.has_endpoint:
        raise EndpointLookupError(f"DescribeService {region}/{name} returned no endpoint")
    return info


def still_to_remove(dropped: list[str], live_config: str, new_config: str) -> list[str]:
    """Of the settings the stack dropped, those the live service still has (a replace removes them).

    Compared with what EAS holds now, not with what the reader recorded: after a replace that
    went through but whose ``up`` failed later (a timeout, a Failed rollout), the next ``up``
    finds them gone and sends no second GPU rollout. Keys EAS adds itself are not ours to remove.
    """
    return [key for key in removed_from_json(live_config, new_config) if key in dropped] if live_config else dropped


def update_service(client: Any, region: str, name: str, service_config: str, *, replace: bool,
                   done: Callable[[str], bool], retries: int = RETRIES, backoff_s: float = BACKOFF_S) -> None:
    """UpdateService with the whole JSON: a merge (no ``UpdateType``, as the provider sends it) or,
    with ``replace``, ``UpdateType=replace`` (the service's config becomes exactly ``service_config``).

    Either is a rolling update of every GPU instance, sent once: a transient failure is retried,
    but first DescribeService asks whether EAS took the update before its answer was lost
    (``done(live_config)``).
    """
    from alibabacloud_eas20210701 import models as eas_models

    from . import api as eas_api

    what = f"UpdateService{' (replace)' if replace else ''} {region}/{name}"
    request = eas_models.UpdateServiceRequest(update_type="replace" if replace else None, body=service_config)

    def once() -> None:
        try:
            client.update_service_with_options(region, name, request, {}, _runtime())
        except Exception as exc:  # classified like every other call; what is not the SDK's re-raises
            failure = eas_api.classify_error(exc)
            if failure.code in eas_api.SERVICE_NOT_FOUND_CODES:
                raise ServiceGoneError(f"{what} failed: {failure.code}: {failure.detail}") from None
            # A timeout or a lost answer may come after EAS took the update: look before sending again.
            if failure.kind.retryable and done(describe(client, region, name, require_endpoint=False,
                                                        retries=retries, backoff_s=backoff_s).service_config):
                return
            raise failure from None

    _retried(what, once, retries, backoff_s)


def replace_update(client: Any, region: str, name: str, service_config: str, *,
                   done: Optional[Callable[[str], bool]] = None, retries: int = RETRIES,
                   backoff_s: float = BACKOFF_S) -> None:
    """A replace-type update; by default it is done once the live config is the one sent."""
    def exactly(live: str) -> bool:
        try:
            return bool(live) and json.loads(live) == json.loads(service_config)
        except ValueError:
            return False

    update_service(client, region, name, service_config, replace=True, done=done or exactly, retries=retries,
                   backoff_s=backoff_s)


def merge_update(client: Any, region: str, name: str, service_config: str, *, retries: int = RETRIES,
                 backoff_s: float = BACKOFF_S) -> None:
    """A merge update, as the provider sends it; done once EAS holds every value sent (``holds``)."""
    update_service(client, region, name, service_config, replace=False,
                   done=lambda live: holds(live, service_config), retries=retries, backoff_s=backoff_s)


def delete_service(client: Any, region: str, name: str, *, retries: int = RETRIES, backoff_s: float = BACKOFF_S) -> None:
    """DeleteService, retried when transient; a service already gone is fine."""
    from . import api as eas_api

    def once() -> None:
        try:
            client.delete_service_with_options(region, name, {}, _runtime())
        except Exception as exc:  # classified like every other call
            failure = eas_api.classify_error(exc)
            if failure.code not in eas_api.SERVICE_NOT_FOUND_CODES:
                raise failure from None

    _retried(f"DeleteService {region}/{name}", once, retries, backoff_s)


def _retried(what: str, once: Callable[[], None], retries: int, backoff_s: float) -> None:
    """``once()``, retried by the lookup's rules; a failure said as ``<what> failed: <why>``."""
    from . import api as eas_api

    try:
        eas_api.with_retries(once, retries=retries, backoff_s=backoff_s)
    except eas_api.ProbeFailure as failure:
        raise EndpointLookupError(f"{what} failed: {failure}", retryable=failure.kind.retryable) from None


def holds(live_config: str, sent_config: str) -> bool:
    """Whether EAS's config holds every value ``sent_config`` sets (a merge of it would change nothing);
    True when EAS reported no config (nothing to compare)."""
    if not live_config:
        return True
    try:
        live, sent = json.loads(live_config or "{}"), json.loads(sent_config)
    except ValueError:
        return False
    return bool(merged(live, sent) == live)


def merged(old: Any, new: Any) -> Any:
    """EAS's merge update (``UpdateService`` without ``UpdateType``): objects merge key by key,
    anything else is replaced (the EAS SDK's ``UpdateServiceRequest``: ``{"a": "b"}`` + ``{"c": "d"}``)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return {**old, **{k: merged(old.get(k), v) for k, v in new.items()}}
    return new


def _runtime() -> Any:
    from alibabacloud_tea_util import models as util_models

    return util_models.RuntimeOptions(autoretry=False)


def serving(info: ServiceInfo) -> bool:
    """The service serves: Running, converged (nothing rolling out), with an endpoint to call."""
    return info.converged and info.has_endpoint


def not_serving(info: ServiceInfo, region: str, name: str, urn: Optional[str] = None, *,
                while_: str = "serving") -> Optional[str]:
    """Why a service in ``info``'s status will not serve by waiting, with the cure; None while it may.

    ``Creating``, ``Waiting``, ``Updating``, ``Scaling``, ``Starting`` and a ``Running`` service
    still rolling out are waited through; these are not."""
    where = f"EAS service {region}/{name}"
    status = info.status
    if status in service_status.FAILED:
        target = f"'{urn}'" if urn else "<the service's URN>"
        return (f"{where} is {status} while the run waited for it to be {while_} ({info.progress()}): it does "
                "not serve, so this run fails and hands out no endpoint. If the cause is in the stack file (an "
                "image that does not pull, a setting EAS refuses), fix it and run `pulumi up`: the change is sent "
                "and rolled out. If it was outside the stack file (stock, a quota, an image pushed since), EAS does "
                f"not retry by itself: re-create the service with `pulumi destroy --target {target} "
                "--target-dependents --yes`, then `pulumi up` (a new endpoint and token; docs/operating.md, when a "
                "run fails)")
    if status in service_status.STOPPED:
        return (f"{where} is {status} ({info.progress()}): the stack says it serves. `pulumi up --refresh` starts "
                "it (the refresh shows the provider that it stopped); CI's deploy runs with --refresh")
    if status in service_status.GOING:
        return (f"{where} is {status} ({info.progress()}): something outside this run is deleting it; "
                "run `pulumi up --refresh` once it is gone to create it again")
    return None
