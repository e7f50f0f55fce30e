"""The committed hardware table: GPUs, instance types and prices, each figure with its source.

The data lives in ``components/core/data/`` as CSV, so a reviewer reads a change to it as a
change of lines:

- ``gpus.csv``: per GPU (a model such as ``A10`` or an EAS GPU code such as ``GU30``) its
  architecture and per-GPU memory;
- ``instance_types.csv``: per instance type its GPU, GPU count and memory, vCPUs, RAM, whether
  an Alibaba source shows it used on EAS, and where each figure comes from;
- ``prices.csv``: on-demand prices per instance-hour, with currency, site and where they were read;
- ``gpu_list_prices.csv``: on-demand list prices per GPU-hour of GPUs on other clouds, the yardstick
  of what a bid may plausibly be (``components.core.plan.bids``).

Every row names its source and the date it was read; ``inferred`` lists the figures of a row that
its source does not state (read from the name, or from the GPU's code). ``load_*`` validate the
files and raise ``HardwareTableError`` naming the file, line and field; the tests load them all.
"""

from __future__ import annotations

import csv
import datetime
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Optional

DATA = Path(__file__).resolve().parents[1] / "data"

ARCHITECTURES = ("Volta", "Turing", "Ampere", "Ada", "Hopper", "Blackwell")
"""NVIDIA architectures, oldest first."""

SITES = ("international", "china")
"""Alibaba Cloud's two sites: alibabacloud.com and aliyun.com (prices and bids differ per site)."""


class HardwareTableError(ValueError):
    """A row of the hardware table that breaks its schema: file, line, field and why."""


@dataclass(frozen=True)
class GpuRow:
    """One GPU: a model (``A10``) or an EAS GPU code (``GU30``)."""

    gpu: str
    architecture: Optional[str]
    memory_gb: Optional[int]
    inferred: tuple[str, ...]
    source: str
    seen: str


@dataclass(frozen=True)
class TypeRow:
    """One instance type as a source states it."""

    instance_type: str
    gpu: str
    gpus: int
    gpu_memory_gb: int
    vcpus: int
    memory_gb: int
    inferred: tuple[str, ...]
    eas_confirmed: bool
    source: str
    eas_source: str
    seen: str
    notes: str


@dataclass(frozen=True)
class PriceRow:
    """An on-demand price per instance-hour, on one site (and region, where the source names one)."""

    instance_type: str
    price_per_hour: float
    currency: str
    site: str
    region: str
    source: str
    seen: str


@dataclass(frozen=True)
class GpuListPrice:
    """What one GPU lists at per GPU-hour on demand, on the dearest public cloud we read."""

    gpu: str
    memory_gb: int
    usd_per_gpu_hour: float
    offer: str
    """The instance and its price, as the source lists it."""
    source: str
    seen: str


_GPU_COLUMNS = ("gpu", "architecture", "memory_gb", "inferred", "source", "seen")
_TYPE_COLUMNS = ("instance_type", "gpu", "gpus", "gpu_memory_gb", "vcpus", "memory_gb", "inferred", "eas", "source",
                 "eas_source", "seen", "notes")
_PRICE_COLUMNS = ("instance_type", "price_per_hour", "currency", "site", "region", "source", "seen")
_LIST_PRICE_COLUMNS = ("gpu", "memory_gb", "usd_per_gpu_hour", "offer", "source", "seen")
_TYPE_NAME = re.compile(r"(ml|ecs)\.[a-z0-9][a-z0-9.\-]*")


def _rows(name: str, columns: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    path = DATA / name
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != tuple(columns):
            raise HardwareTableError(f"{name}: columns are {reader.fieldnames}, expected {list(columns)}")
        for row in reader:
            if None in row or any(value is None for value in row.values()):
                raise HardwareTableError(f"{name}:{reader.line_num}: expected {len(columns)} fields")
            yield reader.line_num, {k: v.strip() for k, v in row.items()}


class _Row:
    """Field readers for one CSV line that name the file, line and field in their errors."""

    def __init__(self, name: str, line: int, row: Mapping[str, str]) -> None:
        self.where, self.row = f"{name}:{line}", row

    def fail(self, field: str, why: str) -> HardwareTableError:
        return HardwareTableError(f"{self.where}: {field} {why}")

    def text(self, field: str, required: bool = True) -> str:
        value = self.row[field]
        if required and not value:
            raise self.fail(field, "is empty: every figure needs its source")
        return value

    def positive(self, field: str) -> float:
        """The field as a number above 0 (a price)."""
        try:
            value = float(self.text(field))
        except ValueError:
            raise self.fail(field, "is not a number") from None
        if not value > 0:
            raise self.fail(field, "must be above 0")
        return value

    def whole(self, field: str, low: int = 1, high: int = 4096) -> int:
        value = self.text(field)
        if not value.isdigit() or not low <= int(value) <= high:
            raise self.fail(field, f"is {value!r}, not a whole number from {low} to {high}")
        return int(value)

    def date(self) -> str:
        value = self.text("seen")
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            raise self.fail("seen", f"is {value!r}, not a date (YYYY-MM-DD)") from None
        return value

    def inferred(self, allowed: Sequence[str]) -> tuple[str, ...]:
        names = tuple(n for n in self.text("inferred", required=False).split(";") if n)
        wrong = [n for n in names if n not in allowed]
        if wrong:
            raise self.fail("inferred", f"names {wrong}, which are not figures of this table ({', '.join(allowed)})")
        return names


@cache
def load_gpus() -> dict[str, GpuRow]:
    """``gpus.csv``, keyed by GPU (upper case)."""
    found: dict[str, GpuRow] = {}
    for line, raw in _rows("gpus.csv", _GPU_COLUMNS):
        row = _Row("gpus.csv", line, raw)
        gpu = row.text("gpu")
        architecture = row.text("architecture", required=False) or None
        if architecture is not None and architecture not in ARCHITECTURES:
            raise row.fail("architecture", f"is {architecture!r}, not one of {', '.join(ARCHITECTURES)}")
        memory = row.whole("memory_gb", high=1024) if raw["memory_gb"] else None
        if gpu.upper() in found:
            raise row.fail("gpu", f"{gpu!r} is listed twice")
        found[gpu.upper()] = GpuRow(gpu, architecture, memory, row.inferred(("architecture", "memory_gb")),
                                    row.text("source"), row.date())
    return found


@cache
def load_instance_types() -> dict[str, TypeRow]:
    """``instance_types.csv``, keyed by instance type."""
    gpus = load_gpus()
    found: dict[str, TypeRow] = {}
    for line, raw in _rows("instance_types.csv", _TYPE_COLUMNS):
        row = _Row("instance_types.csv", line, raw)
        name = row.text("instance_type")
        if not _TYPE_NAME.fullmatch(name):
            raise row.fail("instance_type", f"{name!r} is not an EAS or ECS instance type name")
        if name in found:
            raise row.fail("instance_type", f"{name!r} is listed twice")
        gpu = row.text("gpu")
        if gpu.upper() not in gpus:
            raise row.fail("gpu", f"{gpu!r} is not in gpus.csv")
        eas = row.text("eas")
        if eas not in ("confirmed", "unconfirmed"):
            raise row.fail("eas", f"is {eas!r}, not 'confirmed' or 'unconfirmed'")
        if (eas == "confirmed") != bool(raw["eas_source"]):
            raise row.fail("eas_source", "must name where EAS use is shown exactly when eas is 'confirmed'")
        found[name] = TypeRow(
            instance_type=name, gpu=gpu, gpus=row.whole("gpus", high=16),
            gpu_memory_gb=row.whole("gpu_memory_gb", high=1024), vcpus=row.whole("vcpus"),
            memory_gb=row.whole("memory_gb", high=65536),
            inferred=row.inferred(("gpu", "gpus", "gpu_memory_gb", "vcpus", "memory_gb")),
            eas_confirmed=eas == "confirmed", source=row.text("source"), eas_source=raw["eas_source"],
            seen=row.date(), notes=raw["notes"],
        )
    return found


@cache
def load_prices() -> tuple[PriceRow, ...]:
    """``prices.csv``: on-demand prices with their currency, site and source."""
    found: list[PriceRow] = []
    for line, raw in _rows("prices.csv", _PRICE_COLUMNS):
        row = _Row("prices.csv", line, raw)
        price = row.positive("price_per_hour")
        currency = row.text("currency")
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise row.fail("currency", f"is {currency!r}, not an ISO 4217 code such as USD or CNY")
        site = row.text("site")
        if site not in SITES:
            raise row.fail("site", f"is {site!r}, not one of {', '.join(SITES)}")
        found.append(PriceRow(row.text("instance_type"), price, currency, site, raw["region"], row.text("source"),
                              row.date()))
    return tuple(found)


def on_demand_price(instance_type: str, site: str, region: str) -> Optional[PriceRow]:
    """The table's on-demand price of ``instance_type`` on ``site``: the region's own, else one
    whose source names no region; ``None`` when none is sourced."""
    rows = [p for p in load_prices() if p.instance_type == instance_type and p.site == site]
    return next((p for p in rows if p.region == region), None) or next((p for p in rows if not p.region), None)


@cache
def load_gpu_list_prices() -> tuple[GpuListPrice, ...]:
    """``gpu_list_prices.csv``, by memory per GPU (least first)."""
    found: list[GpuListPrice] = []
    for line, raw in _rows("gpu_list_prices.csv", _LIST_PRICE_COLUMNS):
        row = _Row("gpu_list_prices.csv", line, raw)
        price = row.positive("usd_per_gpu_hour")
        found.append(GpuListPrice(row.text("gpu"), row.whole("memory_gb", high=1024), price, row.text("offer"),
                                  row.text("source"), row.date()))
    return tuple(sorted(found, key=lambda p: (p.memory_gb, p.usd_per_gpu_hour)))
