"""Shared helpers: build stack configs in a few words, and plan them in-process."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from components.core import planning, stack_config

A10 = "ml.gu7i.c16m60.1-gu30"
L48 = "ml.gu8is.c32m128.1-gu60"
H96 = "ml.gu8v.c16m128.1-gu120"


@pytest.fixture(autouse=True)
def _loopback_stays_local(monkeypatch):
    """The SDK and the OpenAI client honour proxy variables even for 127.0.0.1: a proxy set on
    the machine would carry the fake servers' traffic off it. Tests never use one."""
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


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


def plan_one(stack: str = "test", **overrides: Any) -> planning.ServicePlan:
    """Plan a one-service stack ``svc``; raises StackConfigError like the program would."""
    loaded = stack_config.load(stack, raw_config({"svc": service(**overrides)}))
    return planning.plan_stack(loaded)["svc"]


@pytest.fixture
def write_stack(tmp_path):
    """Write a stack file ``Pulumi.<name>.yaml`` with the given config mapping; return its path."""
    import yaml

    def write(config: dict[str, Any], name: str = "t") -> Any:
        path = tmp_path / f"Pulumi.{name}.yaml"
        path.write_text(yaml.safe_dump({"config": config}, sort_keys=True))
        return path

    return write
