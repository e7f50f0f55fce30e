"""The gRPC ``ResourceProvider`` the engine talks to: the provider's own config, then the resource.

The provider-level behaviour copies pulumi-alicloud (commit 9d2b1e47cc, ``provider/resources.go``
360-382, and pulumi-terraform-bridge):

- ``CheckConfig`` returns the config as given (the engine needs ``version`` back unchanged);
- ``DiffConfig`` reports changed keys and never a replacement: ``region`` is not marked
  ``ForcesProviderReplace`` (378-382 give it only an env default, ``ALICLOUD_REGION``), so a
  provider whose region changes is updated in place with the same ID;
- ``Configure`` takes ``region`` and the access key from the config, or from the environment
  (``ALIBABA_CLOUD_ACCESS_KEY_ID``/``_SECRET``, as the real provider's credential chain reads).

A create or update that reached EAS but failed while waiting returns the state it left with the
error (``ErrorResourceInitFailedError``), as the bridge does for a Terraform resource whose ID is set:
the engine keeps the service in the state instead of forgetting it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Optional, TypeVar

import grpc
from google.protobuf import any_pb2, empty_pb2
from google.rpc import status_pb2
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

from .. import plugin_server
from . import VERSION, pai_service
from .eas import Eas, EasCallError, StandinConfigError
from .values import decode, encode

T = TypeVar("T")


def _abort(context: grpc.ServicerContext, message: str, *, code: grpc.StatusCode = grpc.StatusCode.UNKNOWN,
           detail: Optional[Any] = None) -> None:
    """End the call with ``message``, and ``detail`` as the status's detail (what the engine reads)."""
    if detail is not None:
        packed = any_pb2.Any()
        packed.Pack(detail)
        status = status_pb2.Status(code=code.value[0], message=message, details=[packed])
        context.set_trailing_metadata((("grpc-status-details-bin", status.SerializeToString()),))
    context.abort(code, message)


def _timeout(request: Any, kind: str) -> float:
    return float(request.timeout) if getattr(request, "timeout", 0) else pai_service.DEFAULT_TIMEOUT_S[kind]


class StandinProvider(provider_pb2_grpc.ResourceProviderServicer):
    """The ``alicloud`` provider, as far as this project uses it (see the package doc)."""

    def __init__(self) -> None:
        self.region = ""
        self.access_key: Optional[tuple[str, str]] = None

    # -- the plugin and its config ---------------------------------------------------------------

    def GetPluginInfo(self, request: Any, context: grpc.ServicerContext) -> Any:
        return plugin_pb2.PluginInfo(version=VERSION)

    def Handshake(self, request: Any, context: grpc.ServicerContext) -> Any:
        return provider_pb2.ProviderHandshakeResponse(accept_secrets=True, accept_resources=True)

    def GetSchema(self, request: Any, context: grpc.ServicerContext) -> Any:
        return provider_pb2.GetSchemaResponse(schema="{}")

    def CheckConfig(self, request: Any, context: grpc.ServicerContext) -> Any:
        return provider_pb2.CheckResponse(inputs=request.news)

    def DiffConfig(self, request: Any, context: grpc.ServicerContext) -> Any:
        olds, news = decode(request.olds).values, decode(request.news).values
        changed = sorted(key for key in set(olds) | set(news) if olds.get(key) != news.get(key))
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME if changed else provider_pb2.DiffResponse.DIFF_NONE,
            diffs=changed, replaces=[])

    def Configure(self, request: Any, context: grpc.ServicerContext) -> Any:
        args = decode(request.args).values if request.HasField("args") else {}
        variables = dict(request.variables)
        self.region = str(args.get("region") or variables.get("alicloud:config:region")
                          or os.environ.get("ALICLOUD_REGION") or "")
        key_id = args.get("accessKey") or os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID")
        secret = args.get("secretKey") or os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
        self.access_key = (str(key_id), str(secret)) if key_id and secret else None
        return provider_pb2.ConfigureResponse(acceptSecrets=True, supportsPreview=True, acceptResources=True)

    def Cancel(self, request: Any, context: grpc.ServicerContext) -> Any:
        return empty_pb2.Empty()

    # -- the resource ----------------------------------------------------------------------------

    def _eas(self, context: grpc.ServicerContext) -> Eas:
        if not self.region:
            _abort(context, "the alicloud provider has no region: set `region` on the provider "
                            "(the program's RegionalProviders does) or ALICLOUD_REGION")
        if self.access_key is None:
            _abort(context, "no Alibaba Cloud credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and "
                            "ALIBABA_CLOUD_ACCESS_KEY_SECRET (the lifecycle harness sets test ones)")
        try:
            return Eas(self.region, self.access_key)  # type: ignore[arg-type]
        except StandinConfigError as exc:
            _abort(context, str(exc))
            raise

    def _known(self, request: Any, context: grpc.ServicerContext) -> None:
        if request.type and request.type != pai_service.TYPE:
            _abort(context, f"the stand-in alicloud provider models only {pai_service.TYPE}, not {request.type}",
                   code=grpc.StatusCode.UNIMPLEMENTED)

    def Check(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._known(request, context)
        news = decode(request.news)
        try:
            inputs = pai_service.check(news)
        except pai_service.InvalidInputError as exc:
            return provider_pb2.CheckResponse(
                inputs=request.news, failures=[provider_pb2.CheckFailure(property=exc.prop, reason=exc.reason)])
        return provider_pb2.CheckResponse(inputs=encode(inputs, news.secret))

    def Diff(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._known(request, context)
        found = pai_service.diff(decode(request.olds), decode(request.news))
        kinds = provider_pb2.PropertyDiff
        detailed = {key: kinds(kind=kinds.ADD if key in found.added else kinds.DELETE if key in found.deleted
                               else kinds.UPDATE)
                    for key in found.changed}
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME if found.changed else provider_pb2.DiffResponse.DIFF_NONE,
            diffs=list(found.changed), replaces=[], deleteBeforeReplace=False,
            detailedDiff=detailed, hasDetailedDiff=True)

    def Create(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._known(request, context)
        props = decode(request.properties)
        inputs = pai_service.check(props)
        if request.preview:
            return provider_pb2.CreateResponse(id="", properties=encode(pai_service.preview_create(inputs), props.secret))
        eas = self._eas(context)
        service_id, state = self._changing(context, props.secret,
                                           lambda: pai_service.create(eas, inputs, _timeout(request, "create")))
        return provider_pb2.CreateResponse(id=service_id, properties=encode(state, props.secret))

    def Read(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._known(request, context)
        state, inputs = decode(request.properties), decode(request.inputs)
        try:
            found = pai_service.read(self._eas(context), request.id, develop=inputs.get("develop") or state.get("develop"))
        except EasCallError as exc:
            _abort(context, str(exc))
            raise
        if found is None:
            return provider_pb2.ReadResponse(id="")
        # An import reads with no inputs: they are taken from what EAS holds (the bridge extracts
        # them from the state), so that `pulumi import` and `import_` can work.
        new_inputs = {key: found.get(key) for key in pai_service.INPUTS if key != "status" and found.get(key)}
        if inputs.values:
            new_inputs = {**inputs.values, "serviceConfig": found.get("serviceConfig") or inputs.get("serviceConfig")}
        return provider_pb2.ReadResponse(id=request.id, properties=encode(found, state.secret),
                                         inputs=encode(new_inputs, inputs.secret))

    def Update(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._known(request, context)
        olds, news = decode(request.olds), decode(request.news)
        inputs = pai_service.check(news)
        if request.preview:
            return provider_pb2.UpdateResponse(properties=encode(pai_service.preview_update(olds, inputs), news.secret))
        eas = self._eas(context)
        state = self._changing(context, news.secret,
                               lambda: pai_service.update(eas, request.id, olds, inputs, _timeout(request, "update")))
        return provider_pb2.UpdateResponse(properties=encode(state, news.secret))

    def Delete(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._known(request, context)
        try:
            pai_service.delete(self._eas(context), request.id, _timeout(request, "delete"))
        except EasCallError as exc:
            _abort(context, str(exc))
        return empty_pb2.Empty()

    def _changing(self, context: grpc.ServicerContext, secret: frozenset[str], change: Callable[[], T]) -> T:
        """A create or update: a failure after EAS took it carries the state it left (see the module doc)."""
        try:
            return change()
        except pai_service.InitFailedError as failed:
            self._init_failed(context, failed, secret)
            raise
        except EasCallError as exc:
            _abort(context, str(exc))
            raise

    def _init_failed(self, context: grpc.ServicerContext, failed: pai_service.InitFailedError,
                     secret: frozenset[str]) -> None:
        # The bridge sets no inputs here (pkg/tfbridge/provider.go 2073-2081): the engine keeps the
        # inputs it sent (create) or the old ones (update).
        detail = provider_pb2.ErrorResourceInitFailed(id=failed.service_id, properties=encode(failed.state, secret),
                                                      reasons=[failed.reason])
        _abort(context, failed.reason, detail=detail)


def serve() -> None:
    """Serve the provider (``lifecycle.plugin_server``)."""
    plugin_server.serve(lambda server: provider_pb2_grpc.add_ResourceProviderServicer_to_server(StandinProvider(), server))
