"""Endpoint and token of a deployed EAS service, read with DescribeService after creation.

``alicloud.pai.Service`` exports neither, so a small dynamic resource that depends on the
service reads them. During ``pulumi preview`` it has not run: its outputs are unknown, never
made up. The token is a secret from the moment it is read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi.dynamic

from . import dynamic_pickle

dynamic_pickle.install()  # the SDK leaks a pickle patch per dynamic resource: see dynamic_pickle

RESOURCE_TYPE = "qwen3-eas:eas:ServiceEndpoint"


@dataclass(frozen=True)
class EndpointInfo:
    """What DescribeService says about how to call a service."""

    internet_endpoint: str
    intranet_endpoint: str
    token: str
    status: str

    def outputs(self) -> dict[str, str]:
        return {
            "internetEndpoint": self.internet_endpoint,
            "intranetEndpoint": self.intranet_endpoint,
            "openaiBaseUrl": openai_base_url(self.internet_endpoint),
            "token": self.token,
            "status": self.status,
        }


def openai_base_url(endpoint: str) -> str:
    """OpenAI clients call ``<endpoint>/v1``."""
    return endpoint.rstrip("/") + "/v1" if endpoint else ""


class EndpointLookupError(RuntimeError):
    """DescribeService failed; the message names the service and the cause."""


def describe(client: Any, region: str, name: str) -> EndpointInfo:
    """DescribeService through the official SDK client."""
    try:
        body = client.describe_service(region, name).body
    except Exception as exc:  # the SDK raises its own Tea exceptions with a code and message
        code = getattr(exc, "code", None) or type(exc).__name__
        raise EndpointLookupError(f"DescribeService {region}/{name} failed: {code}: "
                                  f"{getattr(exc, 'message', None) or exc}") from None
    if body is None or not (body.internet_endpoint or body.intranet_endpoint):
        raise EndpointLookupError(f"DescribeService {region}/{name} returned no endpoint")
    return EndpointInfo(
        internet_endpoint=body.internet_endpoint or "",
        intranet_endpoint=body.intranet_endpoint or "",
        token=body.access_token or "",
        status=body.status or "",
    )


class EndpointProvider(pulumi.dynamic.ResourceProvider):
    """Reads the endpoint and token; nothing is created or deleted on the EAS side.

    ``api_endpoint``, ``protocol`` and ``credentials`` exist for tests against a local
    server; left empty, the client uses the region's EAS API and the standard credentials.
    """

    # The serialised provider holds no secret in real use (credentials come from the
    # environment of the process that runs it), so it need not be stored as one.
    serialize_as_secret_always = False

    def __init__(self, api_endpoint: Optional[str] = None, protocol: str = "https",
                 credentials: Optional[tuple[str, str]] = None) -> None:
        self.api_endpoint = api_endpoint
        self.protocol = protocol
        self.credentials = credentials

    def _read(self, props: dict[str, Any]) -> dict[str, Any]:
        from components.eas import api as eas_api  # imported in the provider's own process

        client = eas_api.make_client(props["region"], endpoint=self.api_endpoint, protocol=self.protocol,
                                     credentials=self.credentials)
        return {**props, **describe(client, props["region"], props["serviceName"]).outputs()}

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        return pulumi.dynamic.CreateResult(id_=f"{props['region']}/{props['serviceName']}", outs=self._read(props))

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        return pulumi.dynamic.ReadResult(id_=id_, outs=self._read(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        changed = [k for k in ("region", "serviceName", "configHash") if olds.get(k) != news.get(k)]
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=[k for k in changed if k != "configHash"],
                                         delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        return pulumi.dynamic.UpdateResult(outs=self._read(news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """The service itself is deleted by its own resource; there is nothing to undo here."""


class ServiceEndpoint(pulumi.dynamic.Resource):
    """Endpoint and token of one EAS service (outputs unknown until it exists)."""

    internetEndpoint: pulumi.Output[str]  # noqa: N815 (output names are the stack's camelCase)
    intranetEndpoint: pulumi.Output[str]  # noqa: N815
    openaiBaseUrl: pulumi.Output[str]  # noqa: N815
    token: pulumi.Output[str]
    status: pulumi.Output[str]

    def __init__(self, name: str, *, region: str, service_name: str, service_config: str,
                 opts: Optional[pulumi.ResourceOptions] = None, provider: Optional[EndpointProvider] = None) -> None:
        props = {
            "region": region,
            "serviceName": service_name,
            # A changed service config re-reads the endpoint after the update.
            "configHash": hashlib.sha256(service_config.encode()).hexdigest(),
            "internetEndpoint": None,
            "intranetEndpoint": None,
            "openaiBaseUrl": None,
            "token": None,
            "status": None,
        }
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["token"]))
        super().__init__(provider or EndpointProvider(), name, props, opts)
