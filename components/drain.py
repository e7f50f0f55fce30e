"""The old copy of a two-phase region move, kept running until its drain ends, then deleted.

A region move replaces the EAS service: the engine creates the new copy, then deletes the old
one at the end of the same ``pulumi up`` (docs/day2.md). The new copy has another host and
token, so clients that need time to switch would lose the service mid-switch. With ``drain`` on
a service (``components.core.ownership``) the move takes two runs:

1. The run that sees the move first keeps the service where it is and records Pulumi
   ``retainOnDelete`` on it (with the ``retain-on-delete`` label, which later runs read): the
   engine reads that option from the *old* state when it deletes a replaced resource
   (pulumi/pulumi ``pkg/resource/deploy/step.go`` line 661 at 1b59498, ``s.old.RetainOnDelete``),
   so it must be recorded before the move.
2. The next run moves it: the engine creates the new copy and drops the old one from the state
   without deleting it. This resource, ``<key>-drained``, takes the old copy over: it owns
   nothing while the drain lasts but its deletion.
3. The first run after ``drain.until`` no longer registers it; the engine deletes it, and its
   delete deletes the old copy with DeleteService (checking first that it is this stack's).
"""

from __future__ import annotations

import time
from typing import Any, Optional

import pulumi
import pulumi.dynamic

from . import dynamic_pickle
from .core.ownership import OWNER_KEYS

dynamic_pickle.install()

RESOURCE_TYPE = "pulumi-python:dynamic/eas:DrainedCopy"
DELETE_WAIT_S = 30 * 60.0
"""How long the old copy's deletion is waited for: the service's own delete timeout."""


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
        return pulumi.dynamic.DiffResult(changes=bool(replaces) or olds.get("until") != news.get("until"),
                                         replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        return pulumi.dynamic.UpdateResult(outs=self._outs(news, self._find(self._client(news["region"]), news)))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """DeleteService of the old copy, once it is known to be this stack's; then wait until it is gone."""
        from components.eas import api as eas_api
        from components.endpoint import _runtime

        region, name = props["region"], props["serviceName"]
        client = self._client(region)
        if self._find(client, props) is None:
            return

        def once() -> None:
            try:
                client.delete_service_with_options(region, name, {}, _runtime())
            except Exception as exc:  # classified like every other call
                failure = eas_api.classify_error(exc)
                if failure.code not in eas_api.SERVICE_NOT_FOUND_CODES:
                    raise failure from None

        try:
            eas_api.with_retries(once, retries=4, backoff_s=1.0)
        except eas_api.ProbeFailure as failure:
            raise DrainError(f"DeleteService {region}/{name} failed: {failure}") from None
        deadline = time.monotonic() + self.delete_wait_s
        while self._find(client, props) is not None:
            if time.monotonic() >= deadline:
                raise DrainError(f"EAS service {region}/{name} is still there {self.delete_wait_s:g} s after "
                                 "DeleteService; run `pulumi up` again")
            time.sleep(self.poll_s)


class DrainedCopy(pulumi.dynamic.Resource, module="eas", name="DrainedCopy"):
    """The old copy of a two-phase move (``region``/``service_name``), deleted with this resource."""

    status: pulumi.Output[str]

    def __init__(self, name: str, *, region: str, service_name: str, until: str, owner: dict[str, str],
                 opts: Optional[pulumi.ResourceOptions] = None,
                 provider: Optional[DrainedCopyProvider] = None) -> None:
        props = {"region": region, "serviceName": service_name, "until": until, "owner": owner, "status": None}
        # Its deletion is the point: a protected stack (prod) must not refuse it when the drain ends.
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=False))
        super().__init__(provider or DrainedCopyProvider(), name, props, opts)
