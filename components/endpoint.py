"""Endpoint and token of a deployed EAS service, read with DescribeService; removed settings pruned.

``alicloud.pai.Service`` exports neither endpoint nor token, so a small dynamic resource that
depends on the service reads them. During ``pulumi preview`` it has not run: its outputs are
unknown, never made up. The token is a secret from the moment it is read.

The same resource makes settings removed from the stack leave the running service: the
provider's update is a merge that keeps keys we no longer send (``components.core.removals``),
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
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi.dynamic

from . import dynamic_pickle
from .core.removals import removed_from_json

dynamic_pickle.install()  # the SDK leaks a pickle patch per dynamic resource: see dynamic_pickle

RESOURCE_TYPE = "pulumi-python:dynamic/eas:ServiceEndpoint"
"""The engine's type token: the SDK prefixes a dynamic resource's module and name."""

LEGACY_RESOURCE_TYPE = "pulumi-python:dynamic:Resource"
"""The type before the resource had a name of its own; an alias keeps existing stacks' URNs."""


ROLLOUT_WAIT_S = 90 * 60.0
"""How long the reader waits for a rollout: the service's own update timeout (``components.service``)."""


@dataclass(frozen=True)
class EndpointInfo:
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

    def outputs(self) -> dict[str, str]:
        return {
            "internetEndpoint": https_url(self.internet_endpoint),
            "intranetEndpoint": self.intranet_endpoint,
            "openaiBaseUrl": openai_base_url(https_url(self.internet_endpoint)),
            "token": self.token,
            "status": self.status,
        }

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
        return self.status == "Running" and versions and instances

    def progress(self) -> str:
        """The rollout as words, for a message."""
        parts = [f"status {self.status or 'unknown'}"]
        if self.current_version is not None and self.latest_version is not None:
            parts.append(f"version {self.current_version} of {self.latest_version}")
        if self.running_instance is not None and self.total_instance is not None:
            parts.append(f"{self.running_instance} of {self.total_instance} instances running")
        return ", ".join(parts) + (f": {self.message}" if self.message else "")


def https_url(endpoint: str) -> str:
    """The endpoint over https: EAS returns ``http://`` public endpoints, and documents that the
    same endpoint serves https ("You can replace http with https for more secure encrypted
    transmission", Alibaba Cloud, "Call a service over a common public endpoint",
    https://www.alibabacloud.com/help/doc-detail/111114.html). Tokens go only over https."""
    return "https://" + endpoint[len("http://"):] if endpoint.startswith("http://") else endpoint


def openai_base_url(endpoint: str) -> str:
    """OpenAI clients call ``<endpoint>/v1``."""
    return endpoint.rstrip("/") + "/v1" if endpoint else ""


class EndpointLookupError(RuntimeError):
    """DescribeService or UpdateService failed; the message names the service and the cause."""


class ServiceGoneError(EndpointLookupError):
    """DescribeService says the service does not exist."""


def _api_error(action: str, where: str, exc: Exception) -> EndpointLookupError:
    # One set of "no such service" codes with the service lookup's. Imported here, where EAS was
    # called: the program registers this resource without loading the EAS SDK.
    from .eas.api import SERVICE_NOT_FOUND_CODES

    code = getattr(exc, "code", None) or type(exc).__name__
    message = getattr(exc, "message", None) or exc
    kind = ServiceGoneError if code in SERVICE_NOT_FOUND_CODES else EndpointLookupError
    return kind(f"{action} {where} failed: {code}: {message}")


RETRIES = 4
BACKOFF_S = 1.0
"""Transient failures (throttling, server errors, timeouts) of each call: tried again after 1, 2,
4 and 8 s (or what EAS asks for), then the call fails."""


def describe(client: Any, region: str, name: str, *, require_endpoint: bool = True,
             retries: int = RETRIES, backoff_s: float = BACKOFF_S) -> EndpointInfo:
    """DescribeService through the lookup's call (retried); ``ServiceGoneError`` if there is no such
    service, ``EndpointLookupError`` for any other failure or (``require_endpoint``) no endpoint."""
    from .eas import api as eas_api

    try:
        body = eas_api.with_retries(lambda: eas_api.describe_service(client, region, name),
                                    retries=retries, backoff_s=backoff_s)
    except eas_api.ProbeFailure as failure:
        raise EndpointLookupError(f"DescribeService {region}/{name} failed: {failure}") from None
    if body is None:
        raise ServiceGoneError(f"DescribeService {region}/{name} failed: InvalidService.NotFound: "
                               f"EAS has no service {name} in {region}")

    def number(value: Any) -> Optional[int]:
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    info = EndpointInfo(
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


def replace_config(client: Any, region: str, name: str, service_config: str, *,
                   done: Optional[Callable[[str], bool]] = None, retries: int = RETRIES,
                   backoff_s: float = BACKOFF_S) -> None:
    """UpdateService with ``UpdateType=replace``: the service's config becomes exactly ``service_config``.

    A transient failure is retried, but first DescribeService asks whether EAS took the update
    before its answer was lost (``done(live_config)``; by default: the live config is the one
    sent): a replace is a rolling update of every GPU instance, sent once.
    """
    from alibabacloud_eas20210701 import models as eas_models

    from .eas import api as eas_api

    def applied(live: str) -> bool:
        if done is not None:
            return done(live)
        try:
            return bool(live) and json.loads(live) == json.loads(service_config)
        except ValueError:
            return False

    request = eas_models.UpdateServiceRequest(update_type="replace", body=service_config)

    def once() -> None:
        try:
            client.update_service_with_options(region, name, request, {}, _runtime())
        except Exception as exc:  # classified like every other call; what is not the SDK's re-raises
            failure = eas_api.classify_error(exc)
            if failure.code in eas_api.SERVICE_NOT_FOUND_CODES:
                raise ServiceGoneError(f"UpdateService (replace) {region}/{name} failed: {failure.code}: "
                                       f"{failure.detail}") from None
            # A timeout or a lost answer may come after EAS took the update: look before sending again.
            if failure.kind.retryable and applied(describe(client, region, name, require_endpoint=False,
                                                           retries=retries, backoff_s=backoff_s).service_config):
                return
            raise failure from None

    try:
        eas_api.with_retries(once, retries=retries, backoff_s=backoff_s)
    except eas_api.ProbeFailure as failure:
        raise EndpointLookupError(f"UpdateService (replace) {region}/{name} failed: {failure}") from None


def _runtime() -> Any:
    from alibabacloud_tea_util import models as util_models

    return util_models.RuntimeOptions(autoretry=False)


class EndpointProvider(pulumi.dynamic.ResourceProvider):
    """Reads the endpoint and token; removes settings the stack dropped; never creates or deletes
    anything on the EAS side.

    ``api_endpoint`` and ``protocol`` exist for tests against a local server; left empty, the
    client uses the region's EAS API. Credentials are never held here: this object is pickled
    into the stack's state, so they come from the environment of the process that runs it
    (the standard Alibaba Cloud chain). The waits are seconds: ``endpoint_wait_s`` for a new
    service's endpoint to appear, ``rollout_wait_s`` for a replace update to run again,
    ``poll_s`` between DescribeService calls.
    """

    # The serialised provider holds no secret (see above), so it need not be stored as one.
    serialize_as_secret_always = False

    def __init__(self, api_endpoint: Optional[str] = None, protocol: str = "https", *,
                 endpoint_wait_s: float = 120.0, rollout_wait_s: float = ROLLOUT_WAIT_S, poll_s: float = 5.0,
                 retries: int = RETRIES, backoff_s: float = BACKOFF_S) -> None:
        self.api_endpoint = api_endpoint
        self.protocol = protocol
        self.endpoint_wait_s = endpoint_wait_s
        self.rollout_wait_s = rollout_wait_s
        self.poll_s = poll_s
        self.retries = retries
        self.backoff_s = backoff_s

    def _client(self, region: str) -> Any:
        from components.eas import api as eas_api  # imported in the provider's own process

        return eas_api.make_client(region, endpoint=self.api_endpoint, protocol=self.protocol)

    def _describe(self, client: Any, props: dict[str, Any]) -> EndpointInfo:
        # getattr: a provider pickled into a state before these settings existed lacks them.
        return describe(client, props["region"], props["serviceName"], require_endpoint=False,
                        retries=getattr(self, "retries", RETRIES), backoff_s=getattr(self, "backoff_s", BACKOFF_S))

    def _wait_for(self, props: dict[str, Any], ready: Callable[[EndpointInfo], bool], wait_s: float,
                  what: str, client: Any = None) -> EndpointInfo:
        """DescribeService until ``ready`` or ``wait_s`` has passed; then fail naming the service."""
        region, name = props["region"], props["serviceName"]
        client = client or self._client(region)
        deadline = time.monotonic() + wait_s
        while True:
            info = self._describe(client, props)
            if ready(info):
                return info
            if info.status == "Failed":
                raise EndpointLookupError(f"EAS service {region}/{name} is Failed while waiting for {what} "
                                          f"({info.progress()}); see its events in the PAI console, fix the stack "
                                          "file and run `pulumi up` again")
            left = deadline - time.monotonic()
            if left <= 0:
                raise EndpointLookupError(
                    f"EAS service {region}/{name} still has no {what} after {wait_s:g} s "
                    f"({info.progress()}); EAS goes on with it: run `pulumi up` again once it is Running")
            time.sleep(min(self.poll_s, left))

    def _outs(self, props: dict[str, Any], info: EndpointInfo) -> dict[str, Any]:
        return {**props, **info.outputs()}

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        # The provider returns once EAS says Running; the endpoint can lag behind a little.
        info = self._wait_for(props, lambda i: i.has_endpoint, self.endpoint_wait_s, "endpoint")
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
        changed = [k for k in ("region", "serviceName", "configHash", "serviceCreated") if olds.get(k) != news.get(k)]
        # A state from before the config was kept: one update that only re-reads stores it, so
        # that the next removal is seen.
        catch_up = "serviceConfig" in news and "serviceConfig" not in olds
        return pulumi.dynamic.DiffResult(changes=bool(changed) or catch_up,
                                         replaces=[k for k in changed if k in ("region", "serviceName")],
                                         delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        """After the provider's update: wait for its rollout, remove dropped settings EAS still has
        (once), wait for that rollout too. Idempotent: a run after a failure resends nothing EAS
        already holds (see ``still_to_remove``); a failure leaves the previous state, so the next
        ``up`` compares again (pulumi/pulumi pkg/resource/deploy/step.go line 1086 at 1b59498:
        a failed update keeps no new outputs)."""
        region, name = news["region"], news["serviceName"]
        client = self._client(region)
        wait_s = self.rollout_wait_s
        settled = self._wait_for(news, _settled, wait_s, "finished rollout", client)
        new_config: str = news.get("serviceConfig") or ""
        dropped = removed_from_json(olds.get("serviceConfig"), new_config) if new_config else []
        if dropped and still_to_remove(dropped, settled.service_config, new_config):
            replace_config(client, region, name, new_config,
                           done=lambda live: not still_to_remove(dropped, live, new_config),
                           retries=getattr(self, "retries", RETRIES), backoff_s=getattr(self, "backoff_s", BACKOFF_S))
            # EAS may still say Running from before the update for a moment.
            time.sleep(self.poll_s)
            settled = self._wait_for(news, _settled, wait_s, "finished rollout after removing settings", client)
        info = settled if settled.has_endpoint else \
            self._wait_for(news, lambda i: i.has_endpoint, self.endpoint_wait_s, "endpoint", client)
        return pulumi.dynamic.UpdateResult(outs=self._outs(news, info))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """The service itself is deleted by its own resource; there is nothing to undo here."""


def _settled(info: EndpointInfo) -> bool:
    """Nothing rolling out: converged, or stopped (a stopped service rolls nothing out)."""
    return info.converged or info.status == "Stopped"


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
                 service_created: Optional[pulumi.Input[str]] = None,
                 opts: Optional[pulumi.ResourceOptions] = None, provider: Optional[EndpointProvider] = None) -> None:
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

