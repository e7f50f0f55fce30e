"""Shared helpers: build stack configs in a few words, and plan them in-process."""

from __future__ import annotations

import copy
import ipaddress
import json
import os
import socket
from typing import Any

import pytest

# The credentials library reads this once, at import: set before anything imports it, so that
# its default chain never asks the ECS metadata address (100.100.100.200) from a test.
os.environ["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"

from components.core.plan import stack_plan
from components.core.plan.service_plan import ServicePlan
from components.core.stack import stack_config

A10 = "ml.gu7i.c16m60.1-gu30"
L48 = "ml.gu8is.c32m128.1-gu60"
H96 = "ml.gu8v.c16m128.1-gu120"


class OffMachineConnectionError(AssertionError):
    """A test tried to reach an address that is not this machine's loopback."""


def _loopback_only(address: Any) -> None:
    """Refuse any socket address that is not loopback (UNIX sockets and 127/8, ::1 pass)."""
    if not isinstance(address, tuple):
        return  # AF_UNIX path
    host = address[0]
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass  # a host name: only "localhost" is ours
    raise OffMachineConnectionError(f"a test tried to connect to {address!r}; tests talk to 127.0.0.1 only")


@pytest.fixture(autouse=True, scope="session")
def _no_connection_leaves_the_machine():
    """A net under every in-process test: a connect to anything but loopback fails loudly instead
    of reaching the network (the credentials chain's ECS metadata address, a cloud endpoint).
    Subprocesses get the environment switches below; this catches what they cannot."""
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guarded_connect(self: socket.socket, address: Any) -> None:
        _loopback_only(address)
        return connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        _loopback_only(address)
        return connect_ex(self, address)

    socket.socket.connect = guarded_connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign,assignment]
    yield
    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _loopback_stays_local(monkeypatch):
    """The SDK and the OpenAI client honour proxy variables even for 127.0.0.1: a proxy set on
    the machine would carry the fake servers' traffic off it. Tests never use one."""
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture(autouse=True)
def _no_cloud_from_tests(monkeypatch):
    """No test reaches Alibaba Cloud. The credentials chain reads its environment once, at import,
    and asks the ECS metadata address (100.100.100.200) when nothing else gives credentials: its
    own switches are set here, where it looks, not only in the environment. No service lookup runs
    unless a test turns it on (against a local fake), and no endpoint override leaks in."""
    from alibabacloud_credentials.utils import auth_util

    monkeypatch.setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
    monkeypatch.setattr(auth_util, "environment_ecs_metadata_disabled", "true")
    monkeypatch.setattr(auth_util, "environment_credentials_uri", None)
    monkeypatch.setenv("QWEN3_EAS_RUNNING", "offline")
    monkeypatch.delenv("QWEN3_EAS_API_ENDPOINT", raising=False)
    monkeypatch.delenv("QWEN3_EAS_API_PROTOCOL", raising=False)


@pytest.fixture
def env_credentials(monkeypatch):
    """Credentials from the environment, as the endpoint provider's host process gets them (the
    chain froze the environment at import, so its copy is set too)."""
    from alibabacloud_credentials.utils import auth_util

    for name, value in (("ACCESS_KEY_ID", "test-ak"), ("ACCESS_KEY_SECRET", "test-sk")):
        monkeypatch.setenv(f"ALIBABA_CLOUD_{name}", value)
        monkeypatch.setattr(auth_util, f"environment_{name.lower()}", value)
    monkeypatch.setattr(auth_util, "environment_security_token", None)


@pytest.fixture(autouse=True)
def _not_under_make(monkeypatch):
    """`make test` exports QWEN3_EAS_VIA_MAKE (the tools' hints then name make variables); the
    tests see the tools as a user running them directly does, unless a test sets it."""
    monkeypatch.delenv("QWEN3_EAS_VIA_MAKE", raising=False)


def service(**overrides: Any) -> dict[str, Any]:
    """A valid service spec (Qwen3-8B on vLLM, one A10) with ``overrides`` applied."""
    spec: dict[str, Any] = {
        "model": "Qwen3-8B",
        "engine": "vllm",
        "resource": {"kind": "public", "instanceTypes": [A10]},
    }
    for key, value in overrides.items():
        if value is None:
            spec.pop(key, None)
        else:
            spec[key] = copy.deepcopy(value)
    return spec


def raw_config(services: dict[str, Any], region: str | None = "cn-hangzhou", **extra: Any) -> dict[str, Any]:
    """A stack's flat config as Pulumi passes it (objects as JSON text)."""
    raw: dict[str, Any] = {"qwen3-eas:services": json.dumps(services)}
    if region is not None:
        raw["alicloud:region"] = region
    for key, value in extra.items():
        raw[f"qwen3-eas:{key}"] = value
    return raw


def plan_one(stack: str = "test", **overrides: Any) -> ServicePlan:
    """Plan a one-service stack ``svc``; raises StackConfigError like the program would."""
    loaded = stack_config.load(stack, raw_config({"svc": service(**overrides)}))
    return stack_plan.plan_stack(loaded)["svc"]


@pytest.fixture
def write_stack(tmp_path):
    """Write a stack file ``Pulumi.<name>.yaml`` with the given config mapping; return its path."""
    import yaml

    def write(config: dict[str, Any], name: str = "t") -> Any:
        path = tmp_path / f"Pulumi.{name}.yaml"
        path.write_text(yaml.safe_dump({"config": config}, sort_keys=True))
        return path

    return write


def record_registrations(outputs: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Install Pulumi's mock runtime with a monitor that keeps each ``RegisterResourceRequest``
    by resource name: what the program really sends the engine (provider refs, protect, aliases,
    replacement triggers), which the engine's decisions depend on. Call it inside a
    ``@pulumi.runtime.test``; read the returned dict once the resources resolve. ``outputs``:
    resource type -> output values the mock provider adds to what was sent (``createTime``)."""
    import pulumi
    from pulumi.runtime import mocks

    sent: dict[str, Any] = {}

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
            return f"{args.name}-id", {**args.inputs, **(outputs or {}).get(args.typ, {})}

        def call(self, args: Any) -> tuple[dict[str, Any], None]:
            return {}, None

    class Monitor(mocks.MockMonitor):
        def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
            sent[request.name] = request
            return super().RegisterResource(request)

    pulumi.runtime.set_mocks(Mocks(), project="qwen3-eas", stack="unit", preview=False, monitor=Monitor(Mocks()))
    return sent
