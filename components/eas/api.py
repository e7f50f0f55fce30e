"""The one module that talks to the EAS API: GPU stock (DescribeMachineSpec) and capacity snapshots.

Pure of Pulumi. Calls go through the official SDK client (``alibabacloud_eas20210701``) with its
own retries off, so the only retry policy is the one here:

- every failure is classified (``FailureKind``), the way SkyPilot's failover handler sorts
  cloud errors: an authentication or permission error would fail in every region, so it stops
  the whole probe at once (``ProbeAuthError``); throttling, server errors, timeouts, malformed
  answers and unreachable endpoints are retried with exponential backoff, then that region is
  reported as failed with the reason; any other refusal (``REJECTED``) is not retried;
- ``probe_regions`` asks all regions at once, one call per region, each call bounded by the
  SDK's connect/read timeouts and the whole probe by a deadline it returns by, even if a
  connection hangs;
- a capacity snapshot is a JSON object mapping region ID to the ``InstanceMetas`` list exactly
  as DescribeMachineSpec returns it (``load_snapshot`` / ``write_snapshot``);
- ``describe_service`` is the one DescribeService call (where a deployed service runs, whose it
  is, and the endpoint reader's reads), retried by ``with_retries`` with the same classification.

Every client made here without an explicit endpoint honours ``QWEN3_EAS_API_ENDPOINT`` (and
``QWEN3_EAS_API_PROTOCOL``): one switch sends every EAS API call of a run, stock probe, service
lookups and the endpoint reader's DescribeService alike, to a VPC endpoint or a local fake.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import Any, Optional, TypeVar, Union

import requests
from alibabacloud_credentials.client import Client as CredentialClient
from alibabacloud_credentials.exceptions import CredentialException
from alibabacloud_credentials.provider import (
    CLIProfileCredentialsProvider,
    EcsRamRoleCredentialsProvider,
    OIDCRoleArnCredentialsProvider,
    ProfileCredentialsProvider,
    StaticAKCredentialsProvider,
    StaticSTSCredentialsProvider,
    URLCredentialsProvider,
)
from alibabacloud_credentials_api import ICredentialsProvider
from alibabacloud_eas20210701.client import Client
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_util import models as util_models
from darabonba.policy.retry import RetryOptions
from Tea.exceptions import TeaException

from ..core import regions

__all__ = [
    "API_ENDPOINT_ENV",
    "API_PROTOCOL_ENV",
    "AUTH_HINT",
    "Client",
    "EndpointConfigError",
    "FailureKind",
    "NoCredentialsError",
    "ProbeAuthError",
    "ProbeFailure",
    "ProbeResult",
    "RegionOutcome",
    "classify_error",
    "default_endpoint",
    "describe_machine_spec",
    "describe_service",
    "endpoint_override",
    "labels_of",
    "load_snapshot",
    "make_client",
    "probe_regions",
    "resolve_credentials",
    "validate_metas",
    "validate_snapshot",
    "with_retries",
    "write_snapshot",
]

Metas = list[dict[str, Any]]
"""DescribeMachineSpec's ``InstanceMetas``: one JSON object per instance type, EAS's keys."""

AUTH_HINT = ("check ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET or your profile; "
             "the RAM user needs eas:DescribeMachineSpec")

INSTANCE_CREDENTIALS_ENV = "ALIBABA_CLOUD_ECS_METADATA"
"""Names the ECS instance's RAM role: only then is the ECS metadata service asked for credentials."""

NO_CREDENTIALS_HINT = (
    "set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or configure a profile "
    "(`aliyun configure`, ~/.aliyun/config.json, or ~/.alibabacloud/credentials.ini with "
    "ALIBABA_CLOUD_PROFILE to pick one); on an ECS instance with a RAM role, set "
    f"{INSTANCE_CREDENTIALS_ENV}=<role name>"
)


# What the SDK's describe_machine_spec_with_options sends (alibabacloud_eas20210701 7.0.0).
# We call the generic ``call_api`` with the same parameters instead of the typed method because
# the typed response model drops keys it does not know, turns a missing InstanceMetas into []
# and crashes with AttributeError on a non-object body: a snapshot must hold the answer exactly
# as sent, and a wrong answer must be told apart from an empty one.
_DESCRIBE_MACHINE_SPEC = dict(
    action="DescribeMachineSpec",
    version="2021-07-01",
    protocol="HTTPS",
    pathname="/api/v2/public/instance_types",
    method="GET",
    auth_type="AK",
    style="ROA",
    req_body_type="json",
    body_type="json",
)

# Types of the InstanceMetas keys placement and sizing read; other keys are kept as sent.
_NUMBER = (int, float)
_META_TYPES: dict[str, tuple[type, ...]] = {
    "GPU": (str,),
    "GPUAmount": _NUMBER,
    "GPUMemory": _NUMBER,
    "CPU": _NUMBER,
    "Memory": _NUMBER,
    "StockStatus": (str,),
    "SpotDiscount": _NUMBER,
    "NonProtectSpotDiscount": _NUMBER,
    "IsAvailable": (bool,),
    "Vendor": (str,),
}

_MIN_ATTEMPT_S = 0.01
"""Below this much time left before the deadline, another attempt is not started."""


# --------------------------------------------------------------------------- credentials


class NoCredentialsError(RuntimeError):
    """No credentials in the environment, the profiles, or (where asked for) the instance's role."""

    def __init__(self, tried: Sequence[str]) -> None:
        self.tried = tuple(tried)
        super().__init__(f"no Alibaba Cloud credentials found ({', '.join(self.tried)}); {NO_CREDENTIALS_HINT}")


def _quiet_credentials_logger() -> None:
    """Silence the credentials library's logger.

    Its modules attach their own stderr handler to the ``credentials`` logger at import and log
    every failed refresh with a traceback (dozens for one missing credential); the one-line
    error this module raises says what matters.
    """
    logging.getLogger("credentials").disabled = True


def credentials_chain() -> list[tuple[str, Callable[[], ICredentialsProvider]]]:
    """Where credentials are looked for, in order: (what to call it, how to build its provider).

    The library's own default chain ends with the ECS metadata service (100.100.100.200), which
    off ECS only answers after a timeout and leaves a refresh thread behind. Here it is asked only
    when the user named an instance role (``ALIBABA_CLOUD_ECS_METADATA``); a profile of type
    ``ecs_ram_role`` asks for it explicitly too. Environment variables are read when called.
    """
    chain: list[tuple[str, Callable[[], ICredentialsProvider]]] = [("environment variables", _from_environment)]
    if all(os.environ.get(k) for k in ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", "ALIBABA_CLOUD_ROLE_ARN",
                                       "ALIBABA_CLOUD_OIDC_PROVIDER_ARN")):
        chain.append(("OIDC role", OIDCRoleArnCredentialsProvider))
    chain.append(("aliyun CLI profile", CLIProfileCredentialsProvider))
    chain.append(("credentials file", ProfileCredentialsProvider))
    role = os.environ.get(INSTANCE_CREDENTIALS_ENV)
    if role:
        chain.append((f"ECS instance role {role}",
                      lambda: EcsRamRoleCredentialsProvider(role_name=role, async_update_enabled=False)))
    if os.environ.get("ALIBABA_CLOUD_CREDENTIALS_URI"):
        chain.append(("credentials URI", URLCredentialsProvider))
    return chain


def _from_environment() -> ICredentialsProvider:
    """``ALIBABA_CLOUD_ACCESS_KEY_ID`` / ``_SECRET`` (/ ``_SECURITY_TOKEN``), read now.

    The library's own environment provider reads them once, when it is imported.
    """
    key_id = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID")
    secret = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    token = os.environ.get("ALIBABA_CLOUD_SECURITY_TOKEN")
    if not key_id or not secret:
        raise CredentialException("ALIBABA_CLOUD_ACCESS_KEY_ID or ALIBABA_CLOUD_ACCESS_KEY_SECRET is not set")
    if token:
        return StaticSTSCredentialsProvider(access_key_id=key_id, access_key_secret=secret, security_token=token)
    return StaticAKCredentialsProvider(access_key_id=key_id, access_key_secret=secret)


def resolve_credentials() -> ICredentialsProvider:
    """The first provider in ``credentials_chain()`` that yields credentials; ``NoCredentialsError`` if none.

    Resolved once, before any request, so a missing credential is reported as that and never as
    a refusal from EAS.
    """
    _quiet_credentials_logger()
    tried: list[str] = []
    for label, build in credentials_chain():
        try:
            provider = build()
            if provider.get_credentials() is not None:
                return provider
        except Exception:  # each provider says "not here" by raising; the chain goes on
            pass
        tried.append(label)
    raise NoCredentialsError(tried)


# --------------------------------------------------------------------------- client


API_ENDPOINT_ENV = "QWEN3_EAS_API_ENDPOINT"
"""Host[:port] of the EAS API for every call; ``{region}`` in it becomes the region ID
(``pai-eas-vpc.{region}.aliyuncs.com`` for the VPC endpoints). Unset: the public endpoint."""
API_PROTOCOL_ENV = "QWEN3_EAS_API_PROTOCOL"
"""``https`` (default) or ``http`` (a local fake EAS); applies with ``QWEN3_EAS_API_ENDPOINT``."""


def default_endpoint(region: str) -> str:
    """The public EAS API endpoint of ``region``."""
    return f"pai-eas.{region}.aliyuncs.com"


class EndpointConfigError(ValueError):
    """``QWEN3_EAS_API_PROTOCOL`` is neither http nor https."""


def endpoint_override(region: str) -> Optional[tuple[str, str]]:
    """(endpoint, protocol) from ``QWEN3_EAS_API_ENDPOINT``/``QWEN3_EAS_API_PROTOCOL``, or None.

    ``EndpointConfigError`` for a protocol other than http or https: a typo must not quietly
    fall back to the public endpoint (or to plain http).
    """
    endpoint = os.environ.get(API_ENDPOINT_ENV, "").strip()
    if not endpoint:
        return None
    protocol = os.environ.get(API_PROTOCOL_ENV, "").strip().lower() or "https"
    if protocol not in ("http", "https"):
        raise EndpointConfigError(f"{API_PROTOCOL_ENV}={protocol!r}: use https, or http for a local test server")
    return endpoint.replace("{region}", region), protocol


def make_client(region: str, endpoint: Optional[str] = None, protocol: str = "https", *,
                read_timeout_s: float = 10.0, connect_timeout_s: float = 5.0,
                credentials: Optional[tuple[str, str]] = None,
                provider: Optional[ICredentialsProvider] = None) -> Client:
    """The official EAS SDK client for ``region``, with the SDK's own retries off.

    Credentials come from ``provider`` (see ``resolve_credentials``) or, without one, from
    ``credentials_chain()`` (``ALIBABA_CLOUD_ACCESS_KEY_ID`` / ``ALIBABA_CLOUD_ACCESS_KEY_SECRET``,
    the CLI profile, ``~/.alibabacloud/credentials``, the ECS RAM role only when
    ``ALIBABA_CLOUD_ECS_METADATA`` names it), resolved at the first call, not here.
    ``credentials=(access_key_id, access_key_secret)`` replaces both (tests, with
    ``endpoint="127.0.0.1:<port>"`` and ``protocol="http"``). The timeouts (seconds, like every
    duration in this module) are the defaults of calls that do not set their own;
    ``describe_machine_spec`` sets its own.

    Without ``endpoint``, ``QWEN3_EAS_API_ENDPOINT`` decides, with its own protocol
    (``QWEN3_EAS_API_PROTOCOL``): ``protocol`` goes with an explicit ``endpoint`` only.
    """
    if endpoint is None:
        override = endpoint_override(region)
        if override is not None:
            endpoint, protocol = override
    config = open_api_models.Config(
        region_id=region,
        endpoint=endpoint or default_endpoint(region),
        protocol=protocol,
        read_timeout=_millis(read_timeout_s),
        connect_timeout=_millis(connect_timeout_s),
        # One retry policy, ours: the SDK would otherwise retry by its own rules, unbounded
        # by our deadline.
        retry_options=RetryOptions({"retryable": False}),
    )
    if credentials is not None:
        config.access_key_id, config.access_key_secret = credentials
    else:
        # tea-openapi 0.4 no longer falls back to the default chain on its own; ours leaves the
        # ECS metadata service alone unless asked (see credentials_chain).
        config.credential = CredentialClient(provider=provider or _LazyChain())
    return Client(config)


class _LazyChain(ICredentialsProvider):
    """``credentials_chain()`` resolved at the first request (the client may never send one)."""

    def __init__(self) -> None:
        self._provider: Optional[ICredentialsProvider] = None

    def _resolved(self) -> ICredentialsProvider:
        if self._provider is None:
            try:
                self._provider = resolve_credentials()
            except NoCredentialsError as exc:
                raise CredentialException(str(exc)) from None
        return self._provider

    def get_credentials(self) -> Any:
        return self._resolved().get_credentials()

    async def get_credentials_async(self) -> Any:
        return await self._resolved().get_credentials_async()

    def get_provider_name(self) -> str:
        return "qwen3-eas"


def _millis(seconds: float) -> int:
    """The SDK's timeouts are whole milliseconds, and 0 means "the default" to it: at least 1."""
    return max(1, int(seconds * 1000))


# --------------------------------------------------------------------------- failures


class FailureKind(enum.Enum):
    """Why a call failed, and what that means for the run."""

    AUTH = "auth"
    """Credentials missing, wrong or without permission: would fail in every region. Fatal."""
    THROTTLED = "throttled"
    """``Throttling*`` codes, HTTP 429. Retried."""
    SERVER = "server"
    """HTTP 5xx with an API error body. Retried."""
    TIMEOUT = "timeout"
    """No connection or no answer within the call's timeout, or the probe's deadline. Retried."""
    MALFORMED = "malformed"
    """Not JSON, or JSON without a valid ``InstanceMetas`` list. Retried: the SDK cannot tell
    a bad 200 from a gateway's HTML 502/504 page (both are a JSON parse error to it)."""
    UNREACHABLE = "unreachable"
    """Connection refused or reset, DNS failure, TLS failure. Retried."""
    REJECTED = "rejected"
    """Any other 4xx (a bad parameter, an unknown API): the same request fails the same way.
    Not retried, and not fatal: only that region is skipped."""

    @property
    def retryable(self) -> bool:
        """Whether trying again (after a backoff) may give another answer."""
        return self not in (FailureKind.AUTH, FailureKind.REJECTED)

    @property
    def label(self) -> str:
        """How the kind reads in a reason."""
        return _LABELS[self]


_LABELS = {
    FailureKind.AUTH: "authentication failed",
    FailureKind.THROTTLED: "throttled",
    FailureKind.SERVER: "server error",
    FailureKind.TIMEOUT: "timed out",
    FailureKind.MALFORMED: "malformed answer",
    FailureKind.UNREACHABLE: "unreachable",
    FailureKind.REJECTED: "request rejected",
}

# Error codes that mean "these credentials will not work anywhere" (Alibaba Cloud's common
# client error codes, plus the SDK's own InvalidCredentials when nothing is configured).
_AUTH_CODES = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "IncompleteSignature", "InvalidSecurityToken",
               "Forbidden", "NoPermission", "AccessDenied", "ActionUnauthorized", "Unauthorized",
               "InvalidCredentials", "InvalidTimeStamp")


class ProbeFailure(Exception):  # noqa: N818 (a region's outcome as much as an error)
    """One failed DescribeMachineSpec: its kind and a reason a person can act on.

    Raised by ``describe_machine_spec``; ``probe_regions`` reports it as a region's outcome.
    ``str()`` is the reason as plans show it; request IDs stay out of it so plans built from the
    same answers are the same bytes (``request_id`` keeps it).
    """

    def __init__(self, kind: FailureKind, detail: str, *, code: Optional[str] = None,
                 status: Optional[int] = None, request_id: Optional[str] = None,
                 retry_after_s: Optional[float] = None, attempts: int = 1, by_deadline: bool = False) -> None:
        self.kind = kind
        self.detail = detail
        self.code = code
        self.status = status
        self.request_id = request_id
        self.retry_after_s = retry_after_s
        """The wait the API asked for (``x-acs-retry-after``), if any."""
        self.attempts = attempts
        self.by_deadline = by_deadline
        """The probe's deadline ended it; how many attempts fit before depends on timing, so the
        count stays out of the reason."""
        super().__init__(self.reason)

    @property
    def reason(self) -> str:
        tries = f" (after {self.attempts} attempts)" if self.attempts > 1 and not self.by_deadline else ""
        return f"{self.kind.label}: {self.detail}{tries}"

    def __str__(self) -> str:
        return self.reason

    def __repr__(self) -> str:
        return f"ProbeFailure({self.kind.name}, {self.reason!r})"

    def again(self, attempts: int, note: str = "") -> ProbeFailure:
        """The same failure, counting ``attempts`` in all, with ``note`` added to the detail."""
        return ProbeFailure(self.kind, self.detail + note, code=self.code, status=self.status,
                            request_id=self.request_id, retry_after_s=self.retry_after_s, attempts=attempts)


class ProbeAuthError(RuntimeError):
    """A region answered with an authentication or permission error: the whole probe stops."""

    def __init__(self, region: str, failure: ProbeFailure) -> None:
        self.region = region
        self.failure = failure
        request = f" (request id {failure.request_id})" if failure.request_id else ""
        if failure.code in ("NoCredentials", "InvalidCredentials"):
            # Raised before any request left this machine: EAS refused nothing.
            super().__init__(f"no request sent to {region}: {failure.detail}")
        else:
            super().__init__(f"EAS refused DescribeMachineSpec in {region}: {failure.detail}{request}; {AUTH_HINT}")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: the SDK's ``inner_exception``, then ``__cause__``/``__context__``."""
    seen: set[int] = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        inner = getattr(current, "inner_exception", None)
        current = inner if isinstance(inner, BaseException) else (current.__cause__ or current.__context__)


def _is_auth_code(code: str) -> bool:
    return any(code == prefix or code.startswith(prefix + ".") for prefix in _AUTH_CODES)


def _response_failure(exc: TeaException, status: int) -> ProbeFailure:
    """An HTTP error answer with a JSON body (the SDK's Client/Server/ThrottlingException)."""
    data = exc.data if isinstance(exc.data, dict) else {}
    code = str(data.get("Code") or data.get("code") or exc.code or "")
    code = "" if code == "None" else code  # the SDK formats a missing code as the text "None"
    message = data.get("Message") or data.get("message") or ""
    request_id = data.get("RequestId") or data.get("requestId") or None
    detail = f"HTTP {status}" + (f" {code}" if code else "") + (f": {message}" if message else "")
    retry_after = getattr(exc, "retry_after", None)
    retry_after_s = retry_after / 1000 if isinstance(retry_after, (int, float)) and retry_after > 0 else None
    if code.startswith("Throttling") or status == 429:
        kind = FailureKind.THROTTLED
    elif _is_auth_code(code) or status in (401, 403):
        kind = FailureKind.AUTH
    elif status >= 500:
        kind = FailureKind.SERVER
    else:
        kind = FailureKind.REJECTED
    return ProbeFailure(kind, detail, code=code or None, status=status, request_id=request_id,
                        retry_after_s=retry_after_s)


def _transport_failure(exc: BaseException, timeout_s: Optional[float], endpoint: str) -> Optional[ProbeFailure]:
    """A failure below HTTP (timeouts, refused connections, DNS), or None if ``exc`` is not one."""
    chain = list(_chain(exc))
    within = f" within {timeout_s:g} s" if timeout_s is not None else ""
    for link in chain:
        if isinstance(link, requests.exceptions.ConnectTimeout):
            return ProbeFailure(FailureKind.TIMEOUT, f"no connection to {endpoint}{within}")
        if isinstance(link, requests.exceptions.Timeout):
            return ProbeFailure(FailureKind.TIMEOUT, f"no answer from {endpoint}{within}")
    for link in chain:
        if isinstance(link, requests.exceptions.RequestException):
            # The innermost OS error says it best: "[Errno 111] Connection refused".
            root = next((e for e in reversed(chain) if isinstance(e, OSError) and str(e)), link)
            return ProbeFailure(FailureKind.UNREACHABLE, f"cannot reach {endpoint}: {root}")
    if any("timed out" in str(link).lower() for link in chain):  # a transport error we do not know by type
        return ProbeFailure(FailureKind.TIMEOUT, f"no answer from {endpoint}{within}")
    if any(type(link).__name__ == "RetryError" for link in chain):  # the SDK's wrapper of IOError
        return ProbeFailure(FailureKind.UNREACHABLE, f"cannot reach {endpoint}: {chain[-1]}")
    return None


def classify_error(exc: BaseException, *, timeout_s: Optional[float] = None, endpoint: str = "the EAS API") -> ProbeFailure:
    """The ``ProbeFailure`` an exception from an SDK call stands for.

    HTTP error answers come as the SDK's ``ClientException``/``ServerException``/
    ``ThrottlingException`` (``status_code``, ``code``, ``data``); everything else that goes
    wrong inside the call comes wrapped in ``UnretryableException`` (``inner_exception``), a
    transport error as the SDK's ``RetryError`` chained to the ``requests`` exception.
    Exceptions from outside the SDK's call (bugs) are re-raised.
    """
    if isinstance(exc, ProbeFailure):
        return exc
    for link in _chain(exc):
        if isinstance(link, CredentialException):
            detail = str(link) if str(link).startswith("no Alibaba Cloud credentials") else f"no credentials found: {link}"
            return ProbeFailure(FailureKind.AUTH, detail, code="NoCredentials")
    status = getattr(exc, "status_code", None) or getattr(exc, "statusCode", None)
    if isinstance(exc, TeaException) and isinstance(status, int):
        return _response_failure(exc, status)
    transport = _transport_failure(exc, timeout_s, endpoint)
    if transport is not None:
        return transport
    if isinstance(exc, TeaException):
        if exc.code == "InvalidCredentials":  # raised before any request when no credential is set
            return ProbeFailure(FailureKind.AUTH, str(exc.message or exc.code), code=exc.code)
        inner = getattr(exc, "inner_exception", None)
        if isinstance(inner, (ValueError, RuntimeError)) and "json" in str(inner).lower():
            return ProbeFailure(FailureKind.MALFORMED, f"answer is not JSON: {_clip(str(inner))}")
        return ProbeFailure(FailureKind.UNREACHABLE, f"unexpected SDK error: {type(inner or exc).__name__}: "
                                                     f"{_clip(str(inner or exc))}")
    raise exc


def _clip(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------- one call


def validate_metas(value: Any, where: str = "InstanceMetas") -> Metas:
    """``value`` if it is a valid ``InstanceMetas`` list; ``ValueError`` naming ``where`` if not.

    Each entry must be an object with a non-empty string ``InstanceType``; the keys placement
    reads must have JSON's types for them when present (null is allowed); other keys pass.
    """
    if not isinstance(value, list):
        raise ValueError(f"{where} is not a list of instance types (it is {_json_type(value)})")
    for index, meta in enumerate(value):
        at = f"{where}[{index}]"
        if not isinstance(meta, dict):
            raise ValueError(f"{at} is not an object (it is {_json_type(meta)})")
        instance_type = meta.get("InstanceType")
        if not isinstance(instance_type, str) or not instance_type:
            raise ValueError(f"{at} has no InstanceType string")
        for key, types in _META_TYPES.items():
            field = meta.get(key)
            # bool is an int to Python, never a number to EAS.
            if field is not None and (not isinstance(field, types) or (isinstance(field, bool) and bool not in types)):
                raise ValueError(f"{at} ({instance_type}): {key} is not {_type_words(types)}: {json.dumps(field)}")
    return value


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
             float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _type_words(types: tuple[type, ...]) -> str:
    return "a number" if types == _NUMBER else _json_type(types[0]())


def describe_machine_spec(client: Client, *, timeout_s: Optional[float] = None) -> Metas:
    """One DescribeMachineSpec call (``GET /api/v2/public/instance_types``): the ``InstanceMetas``.

    The list comes back as EAS sent it (``InstanceType``, ``GPU``, ``GPUAmount``, ``GPUMemory``,
    ``CPU``, ``Memory``, ``StockStatus``, ``SpotDiscount``, ``NonProtectSpotDiscount``,
    ``IsAvailable``, ``Vendor``, and any key EAS adds). ``timeout_s`` sets both the connect and
    the read timeout of this call (the client's own otherwise). One attempt, no retry; any
    failure raises ``ProbeFailure``. The request takes no parameter: the SDK's only one,
    ``InstanceTypes``, is marked deprecated, and the answer covers every type of the region.
    """
    runtime = util_models.RuntimeOptions(autoretry=False)
    if timeout_s is not None:
        runtime.read_timeout = runtime.connect_timeout = _millis(timeout_s)
    endpoint = str(getattr(client, "_endpoint", None) or "the EAS API")
    try:
        answer = client.call_api(open_api_models.Params(**_DESCRIBE_MACHINE_SPEC),
                                 open_api_models.OpenApiRequest(headers={}, query={}), runtime)
    except Exception as exc:  # classify_error re-raises what is not the SDK's
        raise classify_error(exc, timeout_s=timeout_s, endpoint=endpoint) from None
    body = answer.get("body") if isinstance(answer, dict) else None
    if not isinstance(body, dict):
        raise ProbeFailure(FailureKind.MALFORMED, f"answer must be a JSON object, not {_json_type(body)}")
    if "InstanceMetas" not in body:
        raise ProbeFailure(FailureKind.MALFORMED, "answer has no InstanceMetas", request_id=body.get("RequestId"))
    try:
        return validate_metas(body["InstanceMetas"])
    except ValueError as exc:
        raise ProbeFailure(FailureKind.MALFORMED, str(exc), request_id=body.get("RequestId")) from None


SERVICE_NOT_FOUND_CODES = frozenset({"InvalidService.NotFound"})
"""DescribeService's code for a name the region does not have (terraform-provider-alicloud
``alicloud/service_alicloud_pai_v2.go`` line 49 treats it as "gone"). Only this code means
"not here": ``InvalidAccessKeyId.NotFound`` is a 404 too, and it is an authentication failure."""


def describe_service(client: Client, region: str, name: str, *, timeout_s: Optional[float] = None) -> Optional[Any]:
    """DescribeService ``region``/``name``: the SDK's ``Service`` model, or None if EAS has no such service.

    The one DescribeService call of the project: the service lookup and the endpoint reader both
    go through it (and ``with_retries``). One attempt; any failure other than "no such service"
    raises ``ProbeFailure``, classified like the stock probe's (an authentication error stops a
    run, throttling and server errors are worth another try).
    """
    runtime = util_models.RuntimeOptions(autoretry=False)
    if timeout_s is not None:
        runtime.read_timeout = runtime.connect_timeout = _millis(timeout_s)
    endpoint = str(getattr(client, "_endpoint", None) or "the EAS API")
    try:
        body = client.describe_service_with_options(region, name, {}, runtime).body
    except Exception as exc:  # classify_error re-raises what is not the SDK's
        failure = classify_error(exc, timeout_s=timeout_s, endpoint=endpoint)
        if failure.kind is not FailureKind.AUTH and failure.code in SERVICE_NOT_FOUND_CODES:
            return None  # EAS answers InvalidService.NotFound (HTTP 404) for a name it does not have
        raise failure from None
    if body is None:
        raise ProbeFailure(FailureKind.MALFORMED, f"DescribeService {region}/{name} returned no service")
    return body


def labels_of(service: Any) -> dict[str, str]:
    """A ``Service`` model's labels (``Labels``: ``LabelKey``/``LabelValue`` pairs) as a mapping."""
    pairs = getattr(service, "labels", None) or []
    return {str(p.label_key): str(p.label_value or "") for p in pairs if p is not None and p.label_key}


T = TypeVar("T")


def with_retries(call: Callable[[], T], *, retries: int, backoff_s: float, give_up_at: Optional[float] = None,
                 sleep: Callable[[float], None] = time.sleep) -> T:
    """``call()``, again after a retryable ``ProbeFailure`` (``retry_delay``: exponential, or what the
    API asked for), at most ``retries`` more times and never past ``give_up_at`` (``time.monotonic``).
    The last failure is raised, counting its attempts."""
    attempt = 0
    while True:
        try:
            return call()
        except ProbeFailure as failure:
            pause = retry_delay(failure, attempt, backoff_s)
            late = give_up_at is not None and time.monotonic() + pause >= give_up_at
            if not failure.kind.retryable or attempt >= retries or late:
                raise (failure.again(attempt + 1) if attempt else failure) from None
            sleep(pause)
            attempt += 1


# --------------------------------------------------------------------------- many regions


RegionOutcome = Union[Metas, ProbeFailure]
"""What the probe learned of one region: its ``InstanceMetas``, or why there are none."""


class ProbeResult(Mapping[str, RegionOutcome]):
    """Region ID -> ``InstanceMetas`` list or ``ProbeFailure``, in the order regions were asked."""

    def __init__(self, outcomes: Mapping[str, RegionOutcome], elapsed_s: float = 0.0) -> None:
        self._outcomes = dict(outcomes)
        self.elapsed_s = elapsed_s
        """Wall time of the probe."""

    def __getitem__(self, region: str) -> RegionOutcome:
        return self._outcomes[region]

    def __iter__(self) -> Iterator[str]:
        return iter(self._outcomes)

    def __len__(self) -> int:
        return len(self._outcomes)

    def __repr__(self) -> str:
        return f"ProbeResult({self._outcomes!r})"

    @property
    def stock(self) -> dict[str, Metas]:
        """The regions that answered."""
        return {region: o for region, o in self._outcomes.items() if not isinstance(o, ProbeFailure)}

    @property
    def failures(self) -> dict[str, ProbeFailure]:
        """The regions that did not, with why."""
        return {region: o for region, o in self._outcomes.items() if isinstance(o, ProbeFailure)}


def retry_delay(failure: ProbeFailure, attempt: int, backoff_s: float) -> float:
    """Seconds to wait before retry number ``attempt + 1``: exponential, or what the API asked."""
    delay = backoff_s * (2 ** attempt)
    return max(delay, failure.retry_after_s or 0.0)


def _deadline_failure(deadline_s: float, attempts: int) -> ProbeFailure:
    return ProbeFailure(FailureKind.TIMEOUT, f"no answer within the probe's {deadline_s:g} s deadline",
                        attempts=attempts, by_deadline=True)


def _probe_one(region: str, client_factory: Callable[[str], Client], per_call_timeout_s: float,
               deadline_s: float, deadline_at: float, retries: int, backoff_s: float,
               sleep: Callable[[float], None]) -> RegionOutcome:
    """One region, retried while the failure is retryable, attempts remain and the deadline allows."""
    client = client_factory(region)
    attempt = 0
    while True:
        left = deadline_at - time.monotonic()
        if left < _MIN_ATTEMPT_S:
            return _deadline_failure(deadline_s, attempt)
        try:
            return describe_machine_spec(client, timeout_s=min(per_call_timeout_s, left))
        except ProbeFailure as failure:
            if failure.kind is FailureKind.TIMEOUT and left < per_call_timeout_s:
                # Cut short by the deadline: say so, in the same words whatever time was left.
                return _deadline_failure(deadline_s, attempt + 1)
            if not failure.kind.retryable or attempt >= retries:
                return failure.again(attempt + 1)
            delay = retry_delay(failure, attempt, backoff_s)
            if time.monotonic() + delay + _MIN_ATTEMPT_S >= deadline_at:
                if failure.kind is FailureKind.TIMEOUT:
                    # A hang that leaves no time for another try ends at the deadline: the same
                    # words as above, whether the machine was quick or slow to get here.
                    return _deadline_failure(deadline_s, attempt + 1)
                return failure.again(attempt + 1, "; no time left to retry before the deadline")
            sleep(delay)
            attempt += 1


def probe_regions(regions: Sequence[str], *, client_factory: Callable[[str], Client],
                  per_call_timeout_s: float = 5.0, deadline_s: float = 20.0, retries: int = 2,
                  backoff_s: float = 0.2, sleep: Callable[[float], None] = time.sleep) -> ProbeResult:
    """DescribeMachineSpec in every region at once; returns by ``deadline_s`` whatever happens.

    One call per distinct region (duplicates are asked once), each in its own daemon thread,
    each attempt bounded by the SDK's connect and read timeouts (``per_call_timeout_s``, cut to
    the time left before the deadline). Retryable failures are tried again up to ``retries``
    times, after ``backoff_s``, then twice that, and so on (or the wait the API asked for),
    never past the deadline. A region with no outcome by the deadline is a ``TIMEOUT``.

    Threads rather than a ThreadPoolExecutor: executor workers are joined at interpreter exit,
    so a connection stuck past its read timeout would hold the process; daemon threads do not.

    Raises ``ProbeAuthError`` as soon as any region gives an authentication error.
    """
    started = time.monotonic()
    deadline_at = started + deadline_s
    wanted = list(dict.fromkeys(regions))
    futures: dict[str, Future[RegionOutcome]] = {}
    for region in wanted:
        future: Future[RegionOutcome] = Future()
        futures[region] = future
        thread = threading.Thread(target=_run_into, name=f"eas-probe-{region}", daemon=True,
                                  args=(future, _probe_one, region, client_factory, per_call_timeout_s,
                                        deadline_s, deadline_at, retries, backoff_s, sleep))
        thread.start()
    pending = set(futures.values())
    while pending:
        left = deadline_at - time.monotonic()
        if left <= 0:
            break
        _done, pending = wait(pending, timeout=left, return_when=FIRST_COMPLETED)
        # Raise on the first auth failure, the first in region order if several came in together.
        for region, future in futures.items():
            if future.done() and future.exception() is None:
                outcome = future.result()
                if isinstance(outcome, ProbeFailure) and outcome.kind is FailureKind.AUTH:
                    raise ProbeAuthError(region, outcome)
    outcomes: dict[str, RegionOutcome] = {}
    for region, future in futures.items():
        if future.done():
            outcomes[region] = future.result()  # re-raises a bug from the worker thread
        else:
            outcomes[region] = _deadline_failure(deadline_s, 1)
    return ProbeResult(outcomes, elapsed_s=time.monotonic() - started)


def _run_into(future: Future[RegionOutcome], fn: Callable[..., RegionOutcome], *args: Any) -> None:
    """Run ``fn(*args)`` in this thread and settle ``future`` with what it gave."""
    try:
        future.set_result(fn(*args))
    except BaseException as exc:  # handed to the waiting thread, which re-raises it
        future.set_exception(exc)


def validate_snapshot(data: Any) -> dict[str, Metas]:
    """``data`` if it is a valid capacity snapshot; ``ValueError`` saying what is wrong if not."""
    if not isinstance(data, dict):
        raise ValueError(f"a snapshot must be a JSON object mapping region ID to InstanceMetas, not {_json_type(data)}")
    for region, metas in data.items():
        if not isinstance(region, str) or not regions.is_eas_region(region):
            why = regions.unknown_region(region) if isinstance(region, str) else f"{region!r} is not a region ID"
            raise ValueError(f"{why} (the regions stack files may name: components/core/regions.py)")
        validate_metas(metas, where=f"{region}")
    return data


def load_snapshot(path: Union[str, Path]) -> dict[str, Metas]:
    """A capacity snapshot: region ID -> ``InstanceMetas`` as DescribeMachineSpec returned it.

    ``OSError`` if it cannot be read, ``ValueError`` if it is not a valid snapshot.
    """
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    return validate_snapshot(data)


def write_snapshot(path: Union[str, Path], data: Mapping[str, Metas]) -> None:
    """Write a capacity snapshot, validated first; the same data always gives the same bytes."""
    snapshot = validate_snapshot(dict(data))
    text = json.dumps(snapshot, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    target = Path(path)
    # Written beside the target and renamed: a failed run never leaves half a snapshot.
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or Path("."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
