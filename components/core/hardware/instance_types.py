"""What an EAS instance type gives one replica: GPU count and per-GPU memory.

Types come from the hardware table (``hardware_table``: ``data/instance_types.csv``, every figure
with its source) or are read from EAS's naming scheme (``ml.<family>.c<vCPU>m<GB>.<n>-<gpu code>``)
with the GPU code's memory from ``data/gpus.csv``. Nothing is guessed: a type we cannot read is
``None``, and the user (or a capacity snapshot from the EAS API) must supply its figures.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Optional

from . import hardware_table

# Per-GPU memory (GB, as EAS and the sources state them) by GPU code or model, from gpus.csv
# (GU30 = 24 GB, GU60 = 48 GB, GU120 = 96 GB per the source document, GU8IS and GU100 per PAI's
# docs, ...). Other codes are unknown until the EAS API (a capacity snapshot) or the stack file says.
GPU_MEMORY_GB: dict[str, int] = {
    key: row.memory_gb for key, row in hardware_table.load_gpus().items() if row.memory_gb is not None
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
    source: str = "name"
    """Where the figures came from: ``name`` (parsed), ``table``, ``user`` or ``api``."""
    inferred: tuple[str, ...] = ()
    """Figures the source does not state (``gpus``, ``gpu_memory_gb``, ...): read from the name or the GPU code."""
    eas_confirmed: Optional[bool] = None
    """Whether an Alibaba source shows the type used on EAS (table rows; the API's types are EAS's own)."""
    citation: str = ""
    """Where the table's figures come from, and when they were read."""
    eas_citation: str = ""
    """Where an Alibaba source shows the type used on EAS (table rows confirmed on EAS)."""
    notes: str = ""

    @property
    def total_gpu_memory_gb(self) -> int:
        return self.gpus * self.gpu_memory_gb


_ML_PATTERN = re.compile(
    r"^ml\.(?P<family>[a-z0-9]+)\.c(?P<cpu>\d+)m(?P<mem>\d+)\.(?P<gpus>\d+)-(?P<code>gu\d+)$"
)

# Lingjun types the source document names for spot in cn-wulanchabu. Their GPU figures are
# not published where we could check them: the API or the stack file must supply them.
LINGJUN_TYPES = frozenset({
    "ml.gu7ef.8xlarge-gu100",
    "ml.gu7xf.8xlarge-gu108",
    "ml.gu8xf.8xlarge-gu108",
    "ml.gu8tf.8.40xlarge",
})

LINGJUN_SPOT_REGION = "cn-wulanchabu"
"""The one region where the source document says Lingjun spot types need no whitelist."""


def lookup(name: str, gpu_memory: Optional[dict[str, int]] = None) -> Optional[InstanceType]:
    """The GPU facts of ``name``, or ``None`` when neither the hardware table nor its name says.

    ``gpu_memory`` adds or overrides per-GPU memory by GPU code.
    """
    row = hardware_table.load_instance_types().get(name)
    if row is not None:
        return from_table(row)
    if name in LINGJUN_TYPES:
        return None
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


def from_table(row: hardware_table.TypeRow) -> InstanceType:
    """A hardware-table row as the figures planning uses."""
    return InstanceType(
        name=row.instance_type, gpus=row.gpus, gpu_type=row.gpu, gpu_memory_gb=row.gpu_memory_gb, vcpus=row.vcpus,
        memory_gb=row.memory_gb, source="table", inferred=row.inferred, eas_confirmed=row.eas_confirmed,
        citation=f"{row.source} (read {row.seen})", eas_citation=row.eas_source, notes=row.notes,
    )


def table_types() -> list[InstanceType]:
    """Every instance type of the hardware table, in the table's order."""
    return [from_table(row) for row in hardware_table.load_instance_types().values()]


def is_lingjun(name: str) -> bool:
    """True for Lingjun types (the source's list, and the ``ml.gu<n><x>f.`` families it shows)."""
    return name in LINGJUN_TYPES or bool(re.match(r"^ml\.gu\d+[a-z]*f\.", name))


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


LARGEST_SINGLE_GPU_GB = 192
"""No GPU we know of has more memory than this (a figure above it must be a whole instance)."""


def per_gpu_memory_gb(gpu_code: str, gpu_amount: int, reported: float) -> int:
    """Per-GPU memory from DescribeMachineSpec's ``GPUMemory``.

    The API does not say whether ``GPUMemory`` is per GPU or per instance on multi-GPU types.
    Where the GPU code is in our table and the figure equals either reading, the table wins.
    Otherwise a figure above the largest single GPU that divides evenly is read as the
    instance's total; anything else as per GPU.
    """
    known = GPU_MEMORY_GB.get(gpu_code.upper())
    if known is not None and reported in (known, known * gpu_amount):
        return known
    if gpu_amount > 1 and reported > LARGEST_SINGLE_GPU_GB and reported % gpu_amount == 0:
        return int(reported // gpu_amount)
    return int(reported)


def facts_from_api(meta: Mapping[str, Any]) -> Optional[InstanceType]:
    """An instance type's GPU figures as the EAS API reports them (these win over ours)."""
    try:
        gpus = int(meta.get("GPUAmount") or 0)
        reported = float(meta.get("GPUMemory") or 0)
        code = str(meta.get("GPU") or "")
    except (TypeError, ValueError):
        return None
    if gpus < 1 or reported <= 0:
        return None
    return InstanceType(
        name=str(meta["InstanceType"]),
        gpus=gpus,
        gpu_type=code.upper() or None,
        gpu_memory_gb=per_gpu_memory_gb(code, gpus, reported),
        vcpus=int(meta["CPU"]) if isinstance(meta.get("CPU"), (int, float)) else None,
        memory_gb=int(meta["Memory"]) if isinstance(meta.get("Memory"), (int, float)) else None,
        source="api",
    )


def unknown_reason(name: str) -> str:
    """Why ``lookup`` knows no GPU figures for ``name``, in words for the stack's author."""
    if is_lingjun(name):
        return ("it is a Lingjun type: its name does not carry its GPU figures, and they are not published "
                "where we could check them")
    match = _ML_PATTERN.match(name)
    if match:
        code = match["code"].upper()
        known = ", ".join(f"{c} {gb} GB" for c, gb in sorted(GPU_MEMORY_GB.items()) if c.startswith("GU"))
        return (f"its name says {int(match['gpus'])} × {code} per instance, but the memory of a {code} GPU is unknown "
                f"to us (known: {known})")
    return "its name does not follow ml.<family>.c<vCPU>m<GB>.<n>-<gpu code> and it is not in our table"
