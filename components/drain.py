"""The old copy of a two-phase region move, kept running until its drain ends, then deleted.

A region move replaces the EAS service: the engine creates the new copy, then deletes the old
one at the end of the same ``pulumi up`` (docs/day2.md). The new copy has another host and
token, so clients that need time to switch would lose the service mid-switch. With ``drain`` on
a service (``components.core.running.ownership``) the move takes two runs:

1. The run that sees the move first keeps the service where it is and records Pulumi
   ``retainOnDelete`` on it (with the ``retain-on-delete`` label, which later runs read): the
   engine reads that option from the *old* state when it deletes a replaced resource
   (pulumi/pulumi ``pkg/resource/deploy/step.go`` line 661 at 1b59498, ``s.old.RetainOnDelete``),
   so it must be recorded before the move.
2. The next run moves it: the engine creates the new copy and drops the old one from the state
   without deleting it. This resource, ``<key>-drained``, takes the old copy over: it owns
   nothing while the drain lasts but its deletion.
3. The first run after ``drain.until`` registers it as ended: its update deletes the old copy with
   DeleteService (checking first that it is this stack's). The next run finds no old copy and no
   longer registers it; the engine drops it from the state.

While the drain lasts, a delete of this resource for any other reason (``pulumi destroy``, the
service removed from the stack, ``drain`` taken out early) is refused with the reason: the old
copy stays in the state, running, until ``until`` (its clients may still use it), and nothing
billed is left outside the state. ``QWEN3_EAS_END_DRAINS=1`` on the command ends drains at once.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any, Optional

import pulumi
import pulumi.dynamic

from . import dynamic_pickle
from .core.running.ownership import OWNER_KEYS

dynamic_pickle.install()

RESOURCE_TYPE = "pulumi-python:dynamic/eas:DrainedCopy"
DELETE_WAIT_S = 30 * 60.0
"""How long the old copy's deletion is waited for: the service's own delete timeout."""
END_DRAINS_ENV = "QWEN3_EAS_END_DRAINS"
"""Set to ``1`` on a command to delete old copies whose drain has not ended yet."""


class DrainError(RuntimeError):
    """The old copy cannot be kept or deleted safely; the message says why and what to do."""


class DrainedCopyProvider(pulumi.dynamic.ResourceProvider):
    """Watches the old copy while it drains; deletes it (and only it) when the drain is over."""

    serialize_as_secret_always = False

    def __init__(self, api_endpoint: Optional[str] = None, protocol: str = "https", *,
                 poll_s: float = 5.0, delete_wait_s: float = DELETE_WAIT_S) -> None:
        self.api_endpoint = api_endpoint
        self.protocol = protocol
        self.poll_s = poll_s
        self.delete_wait_s = delete_wait_s

    def _client(self, region: str) -> Any:
        from components.eas import api as eas_api

        return eas_api.make_client(region, endpoint=self.api_endpoint, protocol=self.protocol)

    def _find(self, client: Any, props: dict[str, Any]) -> Any:
        """The old copy's ``Service`` model, None if it is gone; ``DrainError`` if it is not ours."""
        from components.eas import api as eas_api

        region, name = props["region"], props["serviceName"]
        try:
            body = eas_api.with_retries(lambda: eas_api.describe_service(client, region, name),
                                        retries=4, backoff_s=1.0)
        except eas_api.ProbeFailure as failure:
            raise DrainError(f"DescribeService {region}/{name} failed: {failure}") from None
        if body is None:
            return None
        labels = eas_api.labels_of(body)
        owner = props.get("owner") or {}
        wrong = [k for k in OWNER_KEYS if labels.get(k) != owner.get(k)]
        if wrong:
            raise DrainError(f"EAS service {region}/{name} is not this stack's old copy (labels "
                             f"{', '.join(f'{k}={labels.get(k)!r}' for k in wrong)}): it is left alone; if the stack "
                             "no longer needs it, remove this resource with `pulumi state delete <urn>`")
        return body

    def _outs(self, props: dict[str, Any], body: Any) -> dict[str, Any]:
        return {**props, "status": str(getattr(body, "status", None) or "gone") if body is not None else "gone"}

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        body = self._find(self._client(props["region"]), props)
        return pulumi.dynamic.CreateResult(id_=f"{props['region']}/{props['serviceName']}",
                                           outs=self._outs(props, body))

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        body = self._find(self._client(props["region"]), props)
        if body is None:
            return pulumi.dynamic.ReadResult(id_=None, outs={})  # gone: the refresh drops it
        return pulumi.dynamic.ReadResult(id_=id_, outs=self._outs(props, body))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        replaces = [k for k in ("region", "serviceName") if olds.get(k) != news.get(k)]
        changed = any(olds.get(k) != news.get(k) for k in ("until", "ended"))
        return pulumi.dynamic.DiffResult(changes=bool(replaces) or changed, replaces=replaces,
                                         delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        """A changed ``until``; or the drain's end (``ended``): the old copy is deleted now."""
        client = self._client(news["region"])
        body = self._find(client, news)
        if news.get("ended") and body is not None:
            self._delete_old_copy(client, news)
            body = None
        return pulumi.dynamic.UpdateResult(outs=self._outs(news, body))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """The resource leaves the stack: its old copy goes too, unless its drain still lasts (then the
        delete is refused, see the module doc)."""
        region, name = props["region"], props["serviceName"]
        until = props.get("until") or ""
        client = self._client(region)
        if self._find(client, props) is None:
            return
        if _lasts(until) and not props.get("ended") and os.environ.get(END_DRAINS_ENV) != "1":
            raise DrainError(
                f"the drain keeps the old copy {region}/{name} running until {until} (its clients may still use "
                "it), so it is not deleted now: it stays in the stack's state, and the first `pulumi up` or "
                f"`pulumi destroy` after {until} deletes it. To delete it now, run the same command with "
                f"{END_DRAINS_ENV}=1")
        self._delete_old_copy(client, props)

    def _delete_old_copy(self, client: Any, props: dict[str, Any]) -> None:
        """DeleteService of the old copy (known to be this stack's), then wait until it is gone; a
        ``DeleteFailed`` fails at once."""
        from components.eas import service_calls

        region, name = props["region"], props["serviceName"]
        try:
            service_calls.delete_service(client, region, name)
        except service_calls.EndpointLookupError as exc:
            raise DrainError(str(exc)) from None
        deadline = time.monotonic() + self.delete_wait_s
        while (body := self._find(client, props)) is not None:
            status = str(getattr(body, "status", "") or "")
            if status == "DeleteFailed":
                raise DrainError(f"EAS could not delete the old copy {region}/{name} (DeleteFailed"
                                 + (f": {body.message}" if getattr(body, "message", None) else "")
                                 + f"); it still runs and bills: delete it in the PAI console, or with `aliyun eas "
                                 f"DeleteService --ClusterId {region} --ServiceName {name}`, then run the same command "
                                 "again")
            if time.monotonic() >= deadline:
                raise DrainError(f"EAS service {region}/{name} is still there {self.delete_wait_s:g} s after "
                                 "DeleteService; run `pulumi up` again")
            time.sleep(self.poll_s)


def _lasts(until: str) -> bool:
    """Whether a drain that ends at ``until`` (RFC 3339) has not ended yet; an unreadable time has."""
    try:
        end = datetime.fromisoformat(until.replace("Z", "+00:00"))
    except ValueError:
        return False
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    return datetime.now(UTC) < end


class DrainedCopy(pulumi.dynamic.Resource, module="eas", name="DrainedCopy"):
    """The old copy of a two-phase move (``region``/``service_name``), deleted with this resource."""

    status: pulumi.Output[str]

    def __init__(self, name: str, *, region: str, service_name: str, until: str, owner: dict[str, str],
                 ended: bool = False, opts: Optional[pulumi.ResourceOptions] = None,
                 provider: Optional[DrainedCopyProvider] = None) -> None:
        props = {"region": region, "serviceName": service_name, "until": until, "owner": owner, "ended": ended,
                 "status": None}
        # Its deletion is the point: a protected stack (prod) must not refuse it when the drain ends.
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=False))
        super().__init__(provider or DrainedCopyProvider(), name, props, opts)
