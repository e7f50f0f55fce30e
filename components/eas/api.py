"""The one module that makes EAS API calls: the SDK client, how a failure is classified, one call each.

Pure of Pulumi. Calls go through the official SDK client (``alibabacloud_eas20210701``) with its
own retries off, so the only retry policy is ours:

- every failure is classified (``FailureKind``), the way SkyPilot's failover handler sorts
  cloud errors: an authentication or permission error would fail in every region, so it stops
  a run at once (``ProbeAuthError``); throttling, server errors, timeouts, malformed answers and
  unreachable endpoints are worth another try; any other refusal (``REJECTED``) is not;
- ``describe_machine_spec`` is one region's GPU stock, kept exactly as EAS sent it
  (``components.eas.probe`` asks every region at once and keeps snapshots);
- ``describe_service`` is the one DescribeService call (where a deployed service runs, whose it
  is, and the endpoint reader's reads), retried by ``with_retries`` with the same classification.

Credentials come from ``components.eas.credentials``. Every client made here without an explicit
endpoint honours ``QWEN3_EAS_API_ENDPOINT`` (and ``QWEN3_EAS_API_PROTOCOL``): one switch sends
every EAS API call of a run, stock probe, service lookups and the endpoint reader's
DescribeService alike, to a VPC endpoint or a local fake.
"""

from __future__ import annotations

import enum
import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any, Optional, TypeVar

import requests
from alibabacloud_credentials.client import Client as CredentialClient
from alibabacloud_credentials.exceptions import CredentialException
from alibabacloud_credentials_api import ICredentialsProvider
from alibabacloud_eas20210701 import models as eas_models
from alibabacloud_eas20210701.client import Client
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_util import models as util_models
from darabonba.policy.retry import RetryOptions
from Tea.exceptions import TeaException

from .credentials import LazyChain

__all__ = [
    "API_ENDPOINT_ENV",
    "API_PROTOCOL_ENV",
    "AUTH_HINT",
    "Client",
    "EndpointConfigError",
    "FailureKind",
    "ProbeAuthError",
    "ProbeFailure",
    "classify_error",
    "default_endpoint",
    "describe_machine_spec",
    "describe_service",
    "endpoint_override",
    "json_type",
    "labels_of",
    "list_services",
    "make_client",
    "retry_delay",
    "validate_metas",
    "with_retries",
]

Metas = list[dict[str, Any]]
"""DescribeMachineSpec's ``InstanceMetas``: one JSON object per instance type, EAS's keys."""

AUTH_HINT = ("check ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET or your profile; "
             "the RAM user needs eas:DescribeMachineSpec")



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

    Credentials come from ``provider`` (see ``credentials.resolve_credentials``) or, without one,
    from ``credentials.credentials_chain()`` (``ALIBABA_CLOUD_ACCESS_KEY_ID`` /
    ``ALIBABA_CLOUD_ACCESS_KEY_SECRET``, the CLI profile, ``~/.alibabacloud/credentials``, the ECS RAM role only when
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
        # ECS metadata service alone unless asked (see credentials.credentials_chain).
        config.credential = CredentialClient(provider=provider or LazyChain())
    return Client(config)


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

    Raised by ``describe_machine_spec``; ``probe.probe_regions`` reports it as a region's outcome.
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
        raise ValueError(f"{where} is not a list of instance types (it is {json_type(value)})")
    for index, meta in enumerate(value):
        at = f"{where}[{index}]"
        if not isinstance(meta, dict):
            raise ValueError(f"{at} is not an object (it is {json_type(meta)})")
        instance_type = meta.get("InstanceType")
        if not isinstance(instance_type, str) or not instance_type:
            raise ValueError(f"{at} has no InstanceType string")
        for key, types in _META_TYPES.items():
            field = meta.get(key)
            # bool is an int to Python, never a number to EAS.
            if field is not None and (not isinstance(field, types) or (isinstance(field, bool) and bool not in types)):
                raise ValueError(f"{at} ({instance_type}): {key} is not {_type_words(types)}: {json.dumps(field)}")
    return value


def json_type(value: Any) -> str:
    """What JSON calls ``value``'s type, for messages ("an object", "a list", "null")."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
             float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _type_words(types: tuple[type, ...]) -> str:
    return "a number" if types == _NUMBER else json_type(types[0]())


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
        raise ProbeFailure(FailureKind.MALFORMED, f"answer must be a JSON object, not {json_type(body)}")
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


def list_services(client: Client, region: str, labels: dict[str, str], *, timeout_s: Optional[float] = None,
                  page_size: int = 100) -> list[Any]:
    """ListServices of ``region`` whose labels hold every pair of ``labels``: the SDK's ``Service``
    models, every page. A service of another region is left out (the real API answers for the
    region of its host; a test server behind one address may answer for all). Any failure raises
    ``ProbeFailure``, classified like the others."""
    runtime = util_models.RuntimeOptions(autoretry=False)
    if timeout_s is not None:
        runtime.read_timeout = runtime.connect_timeout = _millis(timeout_s)
    endpoint = str(getattr(client, "_endpoint", None) or "the EAS API")
    found: list[Any] = []
    page = 1
    while True:
        request = eas_models.ListServicesRequest(label=labels, page_number=page, page_size=page_size)
        try:
            body = client.list_services_with_options(request, {}, runtime).body
        except Exception as exc:  # classify_error re-raises what is not the SDK's
            raise classify_error(exc, timeout_s=timeout_s, endpoint=endpoint) from None
        services = list(getattr(body, "services", None) or [])
        found += [s for s in services if (getattr(s, "region", None) or region) == region]
        total = getattr(body, "total_count", None)
        if not services or not isinstance(total, int) or page * page_size >= total:
            return found
        page += 1


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


def retry_delay(failure: ProbeFailure, attempt: int, backoff_s: float) -> float:
    """Seconds to wait before retry number ``attempt + 1``: exponential, or what the API asked."""
    delay = backoff_s * (2 ** attempt)
    return max(delay, failure.retry_after_s or 0.0)
