"""Endpoint and token of a deployed EAS service, read with DescribeService; removed settings pruned.

``alicloud.pai.Service`` exports neither endpoint nor token, so a small dynamic resource that
depends on the service reads them. During ``pulumi preview`` it has not run: its outputs are
unknown, never made up. The token is a secret from the moment it is read.

The same resource makes settings removed from the stack leave the running service: the
provider's update is a merge that keeps keys we no longer send (``components.core.removals``),
so when the new service JSON drops keys the previous one had, this resource sends the whole new
JSON once more as a replace-type ``UpdateService`` (the SDK's ``UpdateType=replace``) right after
the provider's update, and waits for the service to run again.

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


@dataclass(frozen=True)
class EndpointInfo:
    """What DescribeService says about how to call a service, and its current config."""

    internet_endpoint: str
    intranet_endpoint: str
    token: str
    status: str
    service_config: str = ""

    def outputs(self) -> dict[str, str]:
        return {
            "internetEndpoint": self.internet_endpoint,
            "intranetEndpoint": self.intranet_endpoint,
            "openaiBaseUrl": openai_base_url(self.internet_endpoint),
            "token": self.token,
            "status": self.status,
        }

    @property
    def has_endpoint(self) -> bool:
        return bool(self.internet_endpoint or self.intranet_endpoint)


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


def describe(client: Any, region: str, name: str, *, require_endpoint: bool = True) -> EndpointInfo:
    """DescribeService through the official SDK client; ``ServiceGoneError`` if there is no such
    service, ``EndpointLookupError`` for any other failure or (``require_endpoint``) no endpoint."""
    try:
        body = client.describe_service(region, name).body
    except Exception as exc:  # the SDK raises its own Tea exceptions with a code and message
        raise _api_error("DescribeService", f"{region}/{name}", exc) from None
    if body is None:
        raise EndpointLookupError(f"DescribeService {region}/{name} returned no service")
    info = EndpointInfo(
        internet_endpoint=body.internet_endpoint or "",
        intranet_endpoint=body.intranet_endpoint or "",
        token=body.access_token or "",
        status=body.status or "",
        service_config=body.service_config or "",
    )
    if require_endpoint and not info.has_endpoint:
        raise EndpointLookupError(f"DescribeService {region}/{name} returned no endpoint")
    return info


def replace_config(client: Any, region: str, name: str, service_config: str) -> None:
    """UpdateService with ``UpdateType=replace``: the service's config becomes exactly ``service_config``."""
    from alibabacloud_eas20210701 import models as eas_models

    request = eas_models.UpdateServiceRequest(update_type="replace", body=service_config)
    try:
        client.update_service(region, name, request)
    except Exception as exc:
        raise _api_error("UpdateService (replace)", f"{region}/{name}", exc) from None


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
                 endpoint_wait_s: float = 120.0, rollout_wait_s: float = 3600.0, poll_s: float = 5.0) -> None:
        self.api_endpoint = api_endpoint
        self.protocol = protocol
        self.endpoint_wait_s = endpoint_wait_s
        self.rollout_wait_s = rollout_wait_s
        self.poll_s = poll_s

    def _client(self, region: str) -> Any:
        from components.eas import api as eas_api  # imported in the provider's own process

        return eas_api.make_client(region, endpoint=self.api_endpoint, protocol=self.protocol)

    def _wait_for(self, props: dict[str, Any], ready: Callable[[EndpointInfo], bool], wait_s: float,
                  what: str) -> EndpointInfo:
        """DescribeService until ``ready`` or ``wait_s`` has passed; then fail naming the service."""
        region, name = props["region"], props["serviceName"]
        client = self._client(region)
        deadline = time.monotonic() + wait_s
        while True:
            info = describe(client, region, name, require_endpoint=False)
            if ready(info):
                return info
            if info.status == "Failed":
                raise EndpointLookupError(f"EAS service {region}/{name} is Failed while waiting for {what}; "
                                          "see its events in the PAI console")
            left = deadline - time.monotonic()
            if left <= 0:
                raise EndpointLookupError(
                    f"EAS service {region}/{name} still has no {what} after {wait_s:g} s "
                    f"(status {info.status or 'unknown'}); run `pulumi up` again once it is Running")
            time.sleep(min(self.poll_s, left))

    def _outs(self, props: dict[str, Any], info: EndpointInfo) -> dict[str, Any]:
        return {**props, **info.outputs()}

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        # The provider returns once EAS says Running; the endpoint can lag behind a little.
        info = self._wait_for(props, lambda i: i.has_endpoint, self.endpoint_wait_s, "endpoint")
        return pulumi.dynamic.CreateResult(id_=f"{props['region']}/{props['serviceName']}",
                                           outs=self._outs(props, info))

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        region, name = props["region"], props["serviceName"]
        try:
            info = describe(self._client(region), region, name, require_endpoint=False)
        except ServiceGoneError:
            # Deleted outside Pulumi: no ID tells the engine the resource is gone.
            return pulumi.dynamic.ReadResult(id_=None, outs={})
        return pulumi.dynamic.ReadResult(id_=id_, outs=self._outs(props, info))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        changed = [k for k in ("region", "serviceName", "configHash") if olds.get(k) != news.get(k)]
        # A state from before the config was kept: one update that only re-reads stores it, so
        # that the next removal is seen.
        catch_up = "serviceConfig" in news and "serviceConfig" not in olds
        return pulumi.dynamic.DiffResult(changes=bool(changed) or catch_up,
                                         replaces=[k for k in changed if k != "configHash"],
                                         delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        new_config = news.get("serviceConfig")
        if new_config and removed_from_json(olds.get("serviceConfig"), new_config):
            region, name = news["region"], news["serviceName"]
            replace_config(self._client(region), region, name, new_config)
            # EAS may still say Running from before the update for a moment.
            time.sleep(self.poll_s)
            info = self._wait_for(news, lambda i: i.status == "Running" and i.has_endpoint,
                                  self.rollout_wait_s, "Running status after removing settings")
        else:
            info = self._wait_for(news, lambda i: i.has_endpoint, self.endpoint_wait_s, "endpoint")
        return pulumi.dynamic.UpdateResult(outs=self._outs(news, info))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """The service itself is deleted by its own resource; there is nothing to undo here."""


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

