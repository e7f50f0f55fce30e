"""What an EAS instance type gives one replica: GPU count and per-GPU memory.

Types are read from EAS's naming scheme (``ml.<family>.c<vCPU>m<GB>.<n>-<gpu code>``) or
from a table of names that don't follow it. Nothing is guessed: a type we cannot read is
``None``, and the user (or a capacity snapshot from the EAS API) must supply its figures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Optional

# Per-GPU memory (GB, as EAS and the source document state them) by EAS GPU code.
# GU30/GU60/GU120: the source document. The others: EAS instance-type documentation.
GPU_MEMORY_GB: dict[str, int] = {
    "GU30": 24,   # NVIDIA A10
    "GU50": 48,   # NVIDIA L20 class
    "GU60": 48,   # GPU "L"
    "GU100": 80,  # Lingjun, 80 GB class
    "GU108": 80,  # Lingjun, 80 GB class
    "GU120": 96,  # GPU "H"
    "T4": 16,
    "A10": 24,
    "V100": 16,
}


@dataclass(frozen=True)
class InstanceType:
    """GPU facts of one instance type, per replica."""

    name: str
    gpus: int
    gpu_type: Optional[str]
    gpu_memory_gb: int
    vcpus: Optional[int] = None
    memory_gb: Optional[int] = None
    lingjun: bool = False
    source: str = "name"
    """Where the figures came from: ``name`` (parsed), ``table``, ``user`` or ``api``."""

    @property
    def total_gpu_memory_gb(self) -> int:
        return self.gpus * self.gpu_memory_gb


_ML_PATTERN = re.compile(
    r"^ml\.(?P<family>[a-z0-9]+)\.c(?P<cpu>\d+)m(?P<mem>\d+)\.(?P<gpus>\d+)-(?P<code>gu\d+)$"
)

# Types whose names don't carry their GPU figures.
_KNOWN: dict[str, InstanceType] = {
    t.name: t
    for t in (
        InstanceType("ecs.gn7i-c8g1.2xlarge", 1, "A10", 24, 8, 30, source="table"),
        InstanceType("ecs.gn7i-c16g1.4xlarge", 1, "A10", 24, 16, 60, source="table"),
        InstanceType("ecs.gn7i-c32g1.8xlarge", 1, "A10", 24, 32, 188, source="table"),
        InstanceType("ecs.gn7i-2x.8xlarge", 2, "A10", 24, 32, 128, source="table"),
        InstanceType("ecs.gn7i-4x.16xlarge", 4, "A10", 24, 64, 256, source="table"),
        InstanceType("ecs.gn6i-c4g1.xlarge", 1, "T4", 16, 4, 15, source="table"),
        InstanceType("ecs.gn6i-c8g1.2xlarge", 1, "T4", 16, 8, 31, source="table"),
        # Lingjun types named by the source document; open to spot bids in cn-wulanchabu.
        InstanceType("ml.gu7ef.8xlarge-gu100", 8, "GU100", 80, lingjun=True, source="table"),
        InstanceType("ml.gu7xf.8xlarge-gu108", 8, "GU108", 80, lingjun=True, source="table"),
        InstanceType("ml.gu8xf.8xlarge-gu108", 8, "GU108", 80, lingjun=True, source="table"),
        InstanceType("ml.gu8tf.8.40xlarge", 8, "GU120", 96, lingjun=True, source="table"),
    )
}

LINGJUN_SPOT_REGION = "cn-wulanchabu"
"""The one region where the source document says Lingjun spot types need no whitelist."""


def lookup(name: str, gpu_memory: Optional[dict[str, int]] = None) -> Optional[InstanceType]:
    """The GPU facts of ``name``, or ``None`` when neither its name nor our table says.

    ``gpu_memory`` adds or overrides per-GPU memory by GPU code.
    """
    if name in _KNOWN:
        return _KNOWN[name]
    match = _ML_PATTERN.match(name)
    if not match:
        return None
    code = match["code"].upper()
    memory = {**GPU_MEMORY_GB, **(gpu_memory or {})}.get(code)
    if memory is None:
        return None
    return InstanceType(
        name=name,
        gpus=int(match["gpus"]),
        gpu_type=code,
        gpu_memory_gb=memory,
        vcpus=int(match["cpu"]),
        memory_gb=int(match["mem"]),
    )


def is_lingjun(name: str) -> bool:
    """True for Lingjun (intelligent computing) types, the ones sold as spot in cn-wulanchabu."""
    known = _KNOWN.get(name)
    return bool(known and known.lingjun) or bool(re.match(r"^ml\.gu\d+[a-z]*f\.", name))


def with_override(base: Optional[InstanceType], name: str, gpus: int, gpu_type: Optional[str],
                  gpu_memory_gb: Optional[int]) -> InstanceType:
    """Figures the user stated for a type, on top of what we know of it."""
    memory = gpu_memory_gb or (GPU_MEMORY_GB.get(gpu_type.upper()) if gpu_type else None)
    if memory is None:
        raise ValueError(f"per-GPU memory of {gpu_type!r} is unknown; state gpuMemoryGiB")
    if base is None:
        return InstanceType(name, gpus, gpu_type.upper() if gpu_type else None, memory, source="user")
    return replace(base, gpus=gpus, gpu_type=gpu_type or base.gpu_type,
                   gpu_memory_gb=memory, source="user")
