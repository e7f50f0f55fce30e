"""Fixtures of ``make lifecycle``: the fake EAS, a workspace for the real engine, stack files.

Nothing here is skipped: without the CLI (``make pulumi-cli``) every scenario fails with the
reason, so a CI run that could not build or start the engine is red.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

# The same nets as the unit tests: no in-process connection leaves loopback, no proxy carries
# loopback traffic, and the credentials chain never asks the ECS metadata address.
os.environ["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"

from tests.conftest import _loopback_stays_local, _no_connection_leaves_the_machine  # noqa: F401
from tests.fake_eas import FakeEas, fake_eas

from .engine import Workspace

A10 = "ml.gu7i.c16m60.1-gu30"
A10_BIG = "ml.gu7i.c32m188.1-gu30"


def meta(instance_type: str, stock: str = "WithStock", *, gpu: str = "GU30", memory: float = 24) -> dict[str, Any]:
    """One ``InstanceMetas`` entry as DescribeMachineSpec returns it."""
    return {"InstanceType": instance_type, "GPU": gpu, "GPUAmount": 1, "GPUMemory": memory, "CPU": 16,
            "Memory": 60, "StockStatus": stock, "IsAvailable": True, "Vendor": "ECS",
            "SpotDiscount": 0.2, "NonProtectSpotDiscount": 0.1}


def capacity(path: Path, **regions: str) -> Path:
    """A capacity snapshot (``make capacity``'s format): region -> the A10 types with that stock."""
    path.write_text(json.dumps({region.replace("_", "-"): [meta(A10, stock), meta(A10_BIG, stock)]
                                for region, stock in regions.items()}, sort_keys=True))
    return path


def stack_text(services: dict[str, Any], *, region: str = "cn-hangzhou", **extra: Any) -> str:
    """A stack file as a user writes one."""
    config: dict[str, Any] = {"pulumi:disable-default-providers": ["alicloud"], "alicloud:region": region}
    config.update({f"qwen3-eas:{key}": value for key, value in extra.items()})
    config["qwen3-eas:services"] = services
    return yaml.safe_dump({"config": config}, sort_keys=False)


def chat(**overrides: Any) -> dict[str, Any]:
    """The dev stack's service: Qwen3-8B on vLLM, one A10, public."""
    spec: dict[str, Any] = {"model": "Qwen3-8B", "engine": "vllm", "replicas": 1, "maxModelLen": 16384,
                            "toolCalling": True, "resource": {"kind": "public", "instanceTypes": [A10, A10_BIG]}}
    spec.update(overrides)
    return spec


@pytest.fixture
def eas() -> Iterator[FakeEas]:
    """The fake EAS every EAS call of a run reaches: stock for the A10 types everywhere, and each
    change takes one poll to settle (so every wait is exercised)."""
    with fake_eas(metas=[meta(A10), meta(A10_BIG)], settle_polls=1) as server:
        yield server


@pytest.fixture
def workspace(tmp_path: Path, eas: FakeEas) -> Workspace:
    return Workspace(tmp_path, eas.endpoint)
