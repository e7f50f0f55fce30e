"""The EAS calls the stand-in makes, with the Terraform provider's retry and wait rules.

Citations are to aliyun/terraform-provider-alicloud at tag v1.285.0 (the version pulumi-alicloud
bridged at the time of its 4.0.0 SDK):

- every call is retried while ``NeedRetry`` holds (``alicloud/errors.go`` 207-241: throttling,
  ``ServiceUnavailable``, an HTTP 5xx, a client timeout), waiting 3 s, then 5 s more each time
  (``incrementalWait``, ``alicloud/common.go`` 1041-1053), until the operation's timeout;
- a wait for a status polls DescribeService every few seconds (``BuildStateConf``,
  ``common.go`` 1030-1039: the given delay, ``MinTimeout`` 3 s) until a target status, failing
  at once on a fail status (``PaiServiceStateRefreshFunc``, ``service_alicloud_pai_v2.go`` 57-94);
  with no pending states, any other status is waited through.

Those seconds are scaled by ``STANDIN_EAS_TIME_SCALE`` (default 1; the lifecycle runs use a
small factor), so that a scenario takes seconds, not minutes, with the same order of calls.
"""

from __future__ import annotations

import ipaddress
import json
import os
import time
from collections.abc import Callable, Iterable
from typing import Any, Optional, TypeVar

from alibabacloud_eas20210701 import models
from alibabacloud_eas20210701.client import Client
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_util import models as util_models
from darabonba.policy.retry import RetryOptions

REGION_HEADER = "X-Fake-Eas-Region"
"""CreateService's path names no region: the real API takes it from the regional host name, which
one loopback server cannot tell apart, so the stand-in says it in this header (tests/fake_eas.py)."""

NOT_FOUND = "InvalidService.NotFound"
"""EAS's code for a missing service (the provider's ``IsExpectedErrors`` list in Delete and in
``DescribePaiService``)."""

T = TypeVar("T")


class StandinConfigError(RuntimeError):
    """The stand-in was asked to talk to something other than a loopback address."""


class EasCallError(RuntimeError):
    """An EAS call failed for good; the message names the call, the service and EAS's code."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


def time_scale() -> float:
    return float(os.environ.get("STANDIN_EAS_TIME_SCALE", "1"))


def loopback_endpoint() -> tuple[str, str]:
    """(endpoint, protocol) of the fake EAS; anything but a loopback address is refused, so that
    the stand-in never reaches a real cloud endpoint whatever the environment says."""
    endpoint = os.environ.get("QWEN3_EAS_API_ENDPOINT", "").strip()
    host = endpoint.rpartition(":")[0] if ":" in endpoint else endpoint
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise StandinConfigError(
            f"the stand-in alicloud provider talks only to a local fake EAS: set QWEN3_EAS_API_ENDPOINT to "
            f"127.0.0.1:<port> (it is {endpoint!r})")
    return endpoint, os.environ.get("QWEN3_EAS_API_PROTOCOL", "http")


def _retryable(exc: Exception) -> bool:
    """``NeedRetry`` of the Terraform provider, for the Python SDK's exceptions."""
    code = str(getattr(exc, "code", "") or "")
    status = getattr(exc, "status_code", None) or getattr(exc, "statusCode", None)
    if code in ("ServiceUnavailable", "Rejected.Throttling") or "Throttling" in code:
        return True
    if isinstance(status, int) and 500 <= status < 600:
        return True
    text = f"{type(exc).__name__} {exc}"
    return "Timeout" in text or "timed out" in text or "ConnectionError" in text


class Eas:
    """One region's EAS API, as the provider configured for that region sees it."""

    def __init__(self, region: str, access_key: tuple[str, str]) -> None:
        endpoint, protocol = loopback_endpoint()
        self.region = region
        self.scale = time_scale()
        self.client = Client(open_api_models.Config(
            region_id=region, endpoint=endpoint, protocol=protocol,
            access_key_id=access_key[0], access_key_secret=access_key[1],
            read_timeout=10_000, connect_timeout=5_000,
            retry_options=RetryOptions({"retryable": False}),  # the retries are the provider's, below
        ))

    # -- retries and waits -----------------------------------------------------------------------

    def _retry(self, what: str, timeout_s: float, call: Callable[[], T]) -> T:
        deadline = time.monotonic() + timeout_s
        pause = 3.0
        while True:
            try:
                return call()
            except Exception as exc:
                code = str(getattr(exc, "code", "") or type(exc).__name__)
                if not _retryable(exc) or time.monotonic() + pause * self.scale > deadline:
                    message = getattr(exc, "message", None) or str(exc)
                    raise EasCallError(f"{what} in {self.region} failed: {code}: {message}", code) from None
                time.sleep(pause * self.scale)
                pause += 5.0

    def wait_for(self, name: str, targets: Iterable[str], *, fail: Iterable[str] = (), timeout_s: float,
                 delay_s: float = 5.0, gone: bool = False) -> Optional[dict[str, Any]]:
        """DescribeService until the status is one of ``targets`` (or, with ``gone``, the service
        no longer exists); ``EasCallError`` on a ``fail`` status or at ``timeout_s``."""
        targets, fail = set(targets), set(fail)
        deadline = time.monotonic() + timeout_s
        time.sleep(delay_s * self.scale)  # StateChangeConf's Delay: the first look comes after it
        while True:
            found = self.describe(name)
            status = "" if found is None else str(found.get("Status") or "")
            if (gone and found is None) or (not gone and status in targets):
                return found
            if status in fail:
                raise EasCallError(f"EAS service {self.region}/{name} is {status}: "
                                   f"{(found or {}).get('Message') or 'see its events'}", status)
            if time.monotonic() >= deadline:
                wanted = "gone" if gone else " or ".join(sorted(targets))
                raise EasCallError(f"timeout while waiting for EAS service {self.region}/{name} to be {wanted} "
                                   f"(last status {status or 'none'})", "WaitForStateTimeout")
            time.sleep(3.0 * self.scale)

    # -- calls -----------------------------------------------------------------------------------

    def create(self, config: dict[str, Any], *, labels: dict[str, str], workspace_id: Optional[str],
               develop: Optional[str], timeout_s: float) -> str:
        request = models.CreateServiceRequest(body=json.dumps(config), labels=labels or None,
                                              workspace_id=workspace_id or None, develop=develop or None)
        response = self._retry("CreateService", timeout_s, lambda: self.client.create_service_with_options(
            request, {REGION_HEADER: self.region}, util_models.RuntimeOptions()))
        return str(response.body.service_name)

    def describe(self, name: str) -> Optional[dict[str, Any]]:
        """DescribeService's answer with EAS's own keys; None when there is no such service."""
        def call() -> Optional[dict[str, Any]]:
            try:
                return self.client.describe_service(self.region, name).body.to_map()
            except Exception as exc:
                if getattr(exc, "code", None) == NOT_FOUND:
                    return None
                raise
        # DescribePaiService retries for one minute (service_alicloud_pai_v2.go 34-46).
        return self._retry(f"DescribeService {name}", 60.0, call)

    def update(self, name: str, config: dict[str, Any], timeout_s: float) -> None:
        """UpdateService with the whole JSON and no ``UpdateType``: EAS merges it into what runs."""
        request = models.UpdateServiceRequest(body=json.dumps(config))
        self._retry(f"UpdateService {name}", timeout_s, lambda: self.client.update_service(self.region, name, request))

    def start(self, name: str, timeout_s: float) -> None:
        self._retry(f"StartService {name}", timeout_s, lambda: self.client.start_service(self.region, name))

    def stop(self, name: str, timeout_s: float) -> None:
        self._retry(f"StopService {name}", timeout_s, lambda: self.client.stop_service(self.region, name))

    def delete(self, name: str, timeout_s: float) -> bool:
        """DeleteService; False when it was already gone (not an error, as in the provider)."""
        try:
            self._retry(f"DeleteService {name}", timeout_s, lambda: self.client.delete_service(self.region, name))
        except EasCallError as exc:
            if exc.code == NOT_FOUND:
                return False
            raise
        return True

    def set_labels(self, name: str, *, added: dict[str, str], removed: list[str], timeout_s: float) -> None:
        """The service's tags. The provider calls TagResources/UntagResources (RPC, 2021-07-02) on
        the service's UID; the fake EAS serves the ROA label calls, which change the same labels
        that DescribeService returns and Read turns back into ``tags``."""
        if removed:
            request = models.DeleteServiceLabelRequest(keys=removed)
            self._retry(f"UntagResources {name}", timeout_s,
                        lambda: self.client.delete_service_label(self.region, name, request))
        if added:
            label_request = models.UpdateServiceLabelRequest(labels=added)
            self._retry(f"TagResources {name}", timeout_s,
                        lambda: self.client.update_service_label(self.region, name, label_request))
