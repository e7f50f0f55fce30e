"""Endpoint and token of a deployed EAS service, read with DescribeService; removed settings pruned.

``alicloud.pai.Service`` exports neither endpoint nor token, so a small dynamic resource that
depends on the service reads them. During ``pulumi preview`` it has not run: its outputs are
unknown, never made up. The token is a secret from the moment it is read.

The same resource makes settings removed from the stack leave the running service: the
provider's update is a merge that keeps keys we no longer send (``components.core.plan.removals``),
so when the new service JSON drops keys the previous one had and the live service still has
them, this resource sends the whole new JSON once more as a replace-type ``UpdateService`` (the
SDK's ``UpdateType=replace``) after the provider's update, and waits for the rollout.

Waiting means convergence, not the first ``Running``: the provider's update waits for
``Running`` with no pending states, 5 s after its PUT (aliyun/terraform-provider-alicloud at
81c43b6, ``alicloud/resource_alicloud_pai_service.go`` line 272, ``BuildStateConf([]string{},
[]string{"Running"}, ..., 5*time.Second, ...)``; ``alicloud/common.go`` lines 1030-1038), which
EAS may still report from before the update. A service has converged when the SDK's ``Service``
model says ``CurrentVersion == LatestVersion`` and ``RunningInstance == TotalInstance``
(``alibabacloud_eas20210701`` 7.0.0 ``models.Service``) with ``Status`` ``Running``. Every
DescribeService goes through the service lookup's call (``components.eas.api.describe_service``,
``with_retries``): the same failure classes and backoff.

The reader's input ``serviceCreated`` is the service's ``create_time``, so a replacement in place
(``pulumi up --replace``: same name, same region, new service and token) changes it and the reader
reads the new token; depending on the service alone (``depends_on``) would not re-run it.

How the engine drives it (the SDK's host, ``pulumi/dynamic/__main__.py`` in pulumi 3.272.0):

- ``pulumi refresh``: ``read`` reports a service deleted outside Pulumi as gone (a ``ReadResult``
  without ID, which the engine treats as deleted: pulumi/pulumi ``pkg/resource/deploy/step.go``
  line 1616 at 1b59498), so the refresh drops it instead of failing.
- ``pulumi import`` of this resource cannot work: the engine's import reads with neither inputs
  nor state (``step.go`` line 2037, ``ImportStep.Apply``), so the host
  finds no ``__provider`` to unpickle and fails with ``KeyError`` before any code of ours runs.
  The ``import_`` option is therefore refused here with a message that says what to do instead
  (import the ``alicloud:pai/service:Service``; docs/operating.md).
- The host unpickles the provider, whose class lives in this module: the project must be
  importable by the venv's python from any directory (``make venv`` installs it editable).
"""

from __future__ import annotations

import hashlib
import ipaddress
import time
from collections.abc import Callable
from typing import Any, Optional
from urllib.parse import urlsplit

import pulumi
import pulumi.dynamic

from . import dynamic_pickle
from .core.plan.removals import removed_from_json
from .core.running import service_status
from .eas.service_calls import (
    BACKOFF_S,
    RETRIES,
    EndpointLookupError,
    ServiceGoneError,
    ServiceInfo,
    delete_service,
    describe,
    holds,
    merge_update,
    not_serving,
    replace_update,
    serving,
    still_to_remove,
)

dynamic_pickle.install()  # the SDK leaks a pickle patch per dynamic resource: see dynamic_pickle

RESOURCE_TYPE = "pulumi-python:dynamic/eas:ServiceEndpoint"
"""The engine's type token: the SDK prefixes a dynamic resource's module and name."""

LEGACY_RESOURCE_TYPE = "pulumi-python:dynamic:Resource"
"""The type before the resource had a name of its own; an alias keeps existing stacks' URNs."""


ROLLOUT_WAIT_S = 90 * 60.0
"""How long the reader waits for a rollout: the service's own update timeout (``components.service``)."""
DELETE_WAIT_S = 30 * 60.0
"""How long the reader waits for a deletion: the service's own delete timeout."""


def outputs(info: ServiceInfo) -> dict[str, str]:
    """The reader's outputs from what DescribeService said: endpoints over https, token, status."""
    return {
        "internetEndpoint": https_url(info.internet_endpoint),
        "intranetEndpoint": info.intranet_endpoint,
        "openaiBaseUrl": openai_base_url(https_url(info.internet_endpoint)),
        "token": info.token,
        "status": info.status,
    }


def https_url(endpoint: str) -> str:
    """The endpoint over https: EAS returns ``http://`` public endpoints, and documents that the
    same endpoint serves https ("You can replace http with https for more secure encrypted
    transmission", Alibaba Cloud, "Call a service over a common public endpoint",
    https://www.alibabacloud.com/help/doc-detail/111114.html). Tokens go only over https, except
    to a loopback address (a local test server: the smoke test's rule too)."""
    if not endpoint.startswith("http://") or _loopback(endpoint):
        return endpoint
    return "https://" + endpoint[len("http://"):]


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def openai_base_url(endpoint: str) -> str:
    """OpenAI clients call ``<endpoint>/v1``."""
    return endpoint.rstrip("/") + "/v1" if endpoint else ""


class EndpointProvider(pulumi.dynamic.ResourceProvider):
    """Reads the endpoint and token; removes settings the stack dropped; never creates or deletes
    anything on the EAS side.

    ``api_endpoint`` and ``protocol`` exist for tests against a local server; left empty, the
    client uses the region's EAS API. Credentials are never held here: this object is pickled
    into the stack's state, so they come from the environment of the process that runs it
    (the standard Alibaba Cloud chain). The waits are seconds: ``rollout_wait_s`` for a new
    service to serve, or a rollout to finish (the service's own create and update timeout),
    ``poll_s`` between DescribeService calls.
    """

    # The serialised provider holds no secret (see above), so it need not be stored as one.
    serialize_as_secret_always = False

    def __init__(self, api_endpoint: Optional[str] = None, protocol: str = "https", *,
                 rollout_wait_s: float = ROLLOUT_WAIT_S, poll_s: float = 5.0, delete_wait_s: float = DELETE_WAIT_S,
                 retries: int = RETRIES, backoff_s: float = BACKOFF_S) -> None:
        self.api_endpoint = api_endpoint
        self.protocol = protocol
        self.rollout_wait_s = rollout_wait_s
        self.poll_s = poll_s
        self.delete_wait_s = delete_wait_s
        self.retries = retries
        self.backoff_s = backoff_s

    def _client(self, region: str) -> Any:
        from components.eas import api as eas_api  # imported in the provider's own process

        return eas_api.make_client(region, endpoint=self.api_endpoint, protocol=self.protocol)

    def _describe(self, client: Any, props: dict[str, Any]) -> ServiceInfo:
        # getattr: a provider pickled into a state before these settings existed lacks them.
        return describe(client, props["region"], props["serviceName"], require_endpoint=False,
                        retries=getattr(self, "retries", RETRIES), backoff_s=getattr(self, "backoff_s", BACKOFF_S))

    def _wait_for(self, props: dict[str, Any], ready: Callable[[ServiceInfo], bool], wait_s: float,
                  what: str, client: Any = None) -> ServiceInfo:
        """DescribeService until ``ready`` or ``wait_s`` has passed; then fail naming the service.

        A status from which the service will not serve by waiting (``Failed``, ``Stopped``, being
        deleted) fails at once, with the cure. An API failure that may pass (throttling, a server
        error, a timeout) is polled through until the wait's own deadline, not only for one call's
        few retries: a 25-second blip must not fail a 90-minute wait. Polls start at a tenth of
        ``poll_s`` and double up to it: a change that is already done returns at once.
        """
        region, name = props["region"], props["serviceName"]
        client = client or self._client(region)
        deadline = time.monotonic() + wait_s
        pause = self.poll_s / 10
        last_error: Optional[EndpointLookupError] = None
        while True:
            info: Optional[ServiceInfo] = None
            try:
                # One attempt per poll: this loop is the retry, bounded by the wait's deadline.
                info = describe(client, region, name, require_endpoint=False, retries=0)
            except ServiceGoneError:
                raise
            except EndpointLookupError as exc:
                if not exc.retryable:
                    raise
                last_error = exc
            if info is not None:
                if ready(info):
                    return info
                refusal = not_serving(info, region, name, props.get("serviceUrn"), while_=what)
                if refusal is not None:
                    raise EndpointLookupError(refusal)
            left = deadline - time.monotonic()
            if left <= 0:
                if info is None:
                    raise EndpointLookupError(
                        f"the EAS API kept failing for {wait_s:g} s while the run waited for {region}/{name} to be "
                        f"{what}: {last_error}; EAS goes on with the service: run `pulumi up` again")
                raise EndpointLookupError(
                    f"EAS service {region}/{name} is still not {what} after {wait_s:g} s "
                    f"({info.progress()}); EAS goes on with it: run `pulumi up` again once it is Running")
            time.sleep(min(pause, left))
            pause = min(pause * 2, self.poll_s)

    def _outs(self, props: dict[str, Any], info: ServiceInfo) -> dict[str, Any]:
        return {**props, **outputs(info)}

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        """Wait until the service serves: Running, its version rolled out to every instance, an
        endpoint to call (the provider returns at EAS's first ``Running``; the endpoint and the
        instances can lag behind a little). A service that will not serve (``Failed``,
        ``Stopped``) fails the run: its endpoint and token are never handed out. A service taken
        back by ID (a killed run's, a retained one, a hand-made one) is brought to what the stack
        sends, as after an update."""
        info = self._converge(props, None, "serving")
        return pulumi.dynamic.CreateResult(id_=f"{props['region']}/{props['serviceName']}",
                                           outs=self._outs(props, info))

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        region = props["region"]
        try:
            info = self._describe(self._client(region), props)
        except ServiceGoneError:
            # Deleted outside Pulumi: no ID tells the engine the resource is gone.
            return pulumi.dynamic.ReadResult(id_=None, outs={})
        return pulumi.dynamic.ReadResult(id_=id_, outs=self._outs(props, info))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        # retainOnDelete too: the engine hands a delete the recorded outputs, so the reader must
        # record the service's current option before it is deleted with it.
        changed = [k for k in ("region", "serviceName", "configHash", "serviceCreated") if olds.get(k) != news.get(k)]
        if bool(olds.get("retainOnDelete")) != bool(news.get("retainOnDelete")):
            changed.append("retainOnDelete")
        # A state from before the config was kept: one update that only re-reads stores it, so
        # that the next removal is seen.
        catch_up = "serviceConfig" in news and "serviceConfig" not in olds
        # The run's lookup saw the service not serving (``statusSeen``), or holding keys to remove
        # (``extraKeys``): the update removes them, and waits for it to serve (after the provider's
        # own update, if any) or fails saying why. Only what this run saw counts: the values an
        # earlier run recorded are never compared.
        unwell = bool(news.get("statusSeen")) or bool(news.get("extraKeys"))
        return pulumi.dynamic.DiffResult(changes=bool(changed) or catch_up or unwell,
                                         replaces=[k for k in changed if k in ("region", "serviceName")],
                                         delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        """After the provider's update: wait for its rollout, remove dropped settings EAS still has
        (once), wait for that rollout too; return only once the service serves. Idempotent: a run
        after a failure resends nothing EAS already holds (see ``still_to_remove``); a failure
        leaves the previous state, so the next ``up`` compares again (pulumi/pulumi
        pkg/resource/deploy/step.go line 1086 at 1b59498: a failed update keeps no new outputs)."""
        info = self._converge(news, olds.get("serviceConfig"), "serving its new version")
        return pulumi.dynamic.UpdateResult(outs=self._outs(news, info))

    def _converge(self, news: dict[str, Any], old_config: Optional[str], what: str) -> ServiceInfo:
        """Wait until the service serves; send what EAS never took; remove what the stack dropped
        (against ``old_config``, the JSON the reader recorded last) and the keys the run's lookup
        found to remove (``extraKeys``); each change once, each waited for."""
        region, name = news["region"], news["serviceName"]
        client = self._client(region)
        wait_s = self.rollout_wait_s
        settled = self._wait_for(news, serving, wait_s, what, client)
        new_config: str = news.get("serviceConfig") or ""
        # What the provider was given: the stack's JSON with what the run keeps as EAS holds it
        # (a reader from before sentConfig existed has the stack's JSON only).
        sent: str = news.get("sentConfig") or new_config
        retries, backoff_s = getattr(self, "retries", RETRIES), getattr(self, "backoff_s", BACKOFF_S)
        if sent and not holds(settled.service_config, sent):
            # The provider recorded a change EAS never took (a refused update: the bridge keeps the
            # planned values, and its next update finds nothing to send). Send it, once.
            merge_update(client, region, name, sent, retries=retries, backoff_s=backoff_s)
            settled = self._wait_after_change(news, settled, "serving the change sent again", client)
        dropped = removed_from_json(old_config, new_config) if new_config else []
        dropped += [key for key in news.get("extraKeys") or [] if key not in dropped]
        if dropped and still_to_remove(dropped, settled.service_config, sent):
            # The replace sends what the provider was given: kept keys and the autoscaler's count stay.
            replace_update(client, region, name, sent, done=lambda live: not still_to_remove(dropped, live, sent),
                           retries=retries, backoff_s=backoff_s)
            settled = self._wait_after_change(news, settled, "serving without the removed settings", client)
        return settled

    def _wait_after_change(self, props: dict[str, Any], before: ServiceInfo, what: str, client: Any) -> ServiceInfo:
        """Wait for the rollout of an update just sent: EAS may still say Running, on the old
        version, for a moment. A service that reports versions is done once its version moved on;
        one that does not, once it serves ``poll_s`` after the update."""
        sent_at = time.monotonic()

        def done(info: ServiceInfo) -> bool:
            moved = before.latest_version is not None and info.latest_version is not None and \
                info.latest_version > before.latest_version
            return serving(info) and (moved or time.monotonic() - sent_at >= self.poll_s)

        return self._wait_for(props, done, self.rollout_wait_s, what, client)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Delete the service, unless it is kept on delete, and wait until EAS no longer has it.

        The engine deletes the reader just before the service (the reader depends on it), and only
        when the service goes too: removed from the stack, destroyed, or replaced. The provider's own
        delete then finds nothing left. Deleting here is for what the provider's wait cannot do: it
        watches only whether the service still exists, with no fail state
        (resource_alicloud_pai_service.go line 324 at v1.285.0), so a delete EAS gives up on
        (``DeleteFailed``) would hold the run in silence for the whole delete timeout. Here it fails
        at once, with EAS's message.
        """
        if props.get("retainOnDelete"):
            return
        region, name = props["region"], props["serviceName"]
        client = self._client(region)
        try:
            info = self._describe(client, props)
        except ServiceGoneError:
            return
        if info.status not in service_status.GOING:
            delete_service(client, region, name, retries=getattr(self, "retries", RETRIES),
                           backoff_s=getattr(self, "backoff_s", BACKOFF_S))
        self._wait_gone(client, props)

    def _wait_gone(self, client: Any, props: dict[str, Any]) -> None:
        """Poll until EAS no longer has the service; ``DeleteFailed`` fails at once, with the way out."""
        region, name = props["region"], props["serviceName"]
        wait_s = getattr(self, "delete_wait_s", DELETE_WAIT_S)
        deadline = time.monotonic() + wait_s
        pause = self.poll_s / 10
        while True:
            time.sleep(pause)
            pause = min(pause * 2, self.poll_s)
            try:
                info = describe(client, region, name, require_endpoint=False, retries=0)
            except ServiceGoneError:
                return
            except EndpointLookupError as exc:
                if not exc.retryable or time.monotonic() >= deadline:
                    raise
                continue
            if info.status in service_status.FAILED:
                raise EndpointLookupError(
                    f"EAS could not delete {region}/{name}: it is {info.status}"
                    + (f" ({info.message})" if info.message else "")
                    + f". It still runs, and bills. Delete it in the PAI console, or with `aliyun eas DeleteService "
                    f"--ClusterId {region} --ServiceName {name}`, then run the same command again")
            if time.monotonic() >= deadline:
                raise EndpointLookupError(f"EAS service {region}/{name} is still there {wait_s:g} s after "
                                          f"DeleteService ({info.progress()}); run the same command again")


class ImportRefusedError(ValueError):
    """The ``import_`` option was set on the endpoint reader."""


class ServiceEndpoint(pulumi.dynamic.Resource, module="eas", name="ServiceEndpoint"):
    """Endpoint and token of one EAS service (outputs unknown until it exists)."""

    internetEndpoint: pulumi.Output[str]  # noqa: N815 (output names are the stack's camelCase)
    intranetEndpoint: pulumi.Output[str]  # noqa: N815
    openaiBaseUrl: pulumi.Output[str]  # noqa: N815
    token: pulumi.Output[str]
    status: pulumi.Output[str]

    def __init__(self, name: str, *, region: str, service_name: str, service_config: str,
                 service_created: Optional[pulumi.Input[str]] = None, service_urn: Optional[pulumi.Input[str]] = None,
                 status_seen: str = "", sent_config: Optional[str] = None, extra_keys: Optional[list[str]] = None,
                 retain_on_delete: bool = False,
                 opts: Optional[pulumi.ResourceOptions] = None,
                 provider: Optional[EndpointProvider] = None) -> None:
        if opts is not None and opts.import_:
            raise ImportRefusedError(
                f"{name}: the endpoint reader of EAS service {region}/{service_name} cannot be imported "
                "(it owns nothing on the EAS side); import the alicloud:pai/service:Service with ID "
                f"{service_name!r} instead and let `pulumi up` create the reader (docs/operating.md)")
        props = {
            "region": region,
            "serviceName": service_name,
            # A changed service config re-reads the endpoint after the update.
            "configHash": hashlib.sha256(service_config.encode()).hexdigest(),
            # Kept so that the next update knows which keys the stack dropped.
            "serviceConfig": service_config,
            # The service's create_time: a new service under the same name (a replacement in its
            # region) changes it, and the reader reads the new token.
            "serviceCreated": service_created,
            # Named in the cure of a service that failed (`pulumi up --replace '<urn>'`).
            "serviceUrn": service_urn,
            # What the run's lookup saw when the service did not serve (empty when it did, or was
            # not looked up): the reader then checks it again, and fails the run while it does not.
            "statusSeen": status_seen,
            # What the provider is given (the stack's JSON with what the run keeps as EAS holds it):
            # the reader checks that EAS holds it, and sends it when a refused update left it out.
            "sentConfig": sent_config if sent_config is not None else service_config,
            # Keys the project writes that EAS holds and the stack does not send (the run's lookup
            # found them): the reader removes them, as it removes keys the stack dropped.
            "extraKeys": extra_keys or [],
            # The service is kept on delete (retainOnDelete): the reader's delete leaves it alone.
            "retainOnDelete": retain_on_delete,
            "internetEndpoint": None,
            "intranetEndpoint": None,
            "openaiBaseUrl": None,
            "token": None,
            "status": None,
        }
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            additional_secret_outputs=["token"],
            aliases=[pulumi.Alias(type_=LEGACY_RESOURCE_TYPE)],
        ))
        super().__init__(provider or EndpointProvider(), name, props, opts)

