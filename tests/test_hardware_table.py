"""The hardware table (components/core/data/*.csv): its schema, its sources, and that the
planner reads it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from components.core.hardware import hardware_table, instance_types

DATA = hardware_table.DATA


@pytest.fixture
def table_copy(tmp_path, monkeypatch):
    """A writable copy of the data folder, loaded instead of the committed one."""
    copy = tmp_path / "data"
    shutil.copytree(DATA, copy)
    monkeypatch.setattr(hardware_table, "DATA", copy)
    for load in (hardware_table.load_gpus, hardware_table.load_instance_types, hardware_table.load_prices):
        load.cache_clear()
    yield copy
    for load in (hardware_table.load_gpus, hardware_table.load_instance_types, hardware_table.load_prices):
        load.cache_clear()


def test_every_file_loads_and_every_row_names_its_source_and_the_day_it_was_read():
    gpus, types, prices = hardware_table.load_gpus(), hardware_table.load_instance_types(), hardware_table.load_prices()
    assert gpus and types
    for row in [*gpus.values(), *types.values(), *prices]:
        assert len(row.source) > 20 and re.fullmatch(r"\d{4}-\d{2}-\d{2}", row.seen)


def test_what_the_sources_say_is_kept_exactly():
    """Spot checks against the pages the rows cite (the ECS family tables, the API example)."""
    types = hardware_table.load_instance_types()
    assert (types["ecs.gn8v-8x.48xlarge"].gpus, types["ecs.gn8v-8x.48xlarge"].gpu_memory_gb) == (8, 96)
    assert (types["ecs.gn7i-c32g1.8xlarge"].vcpus, types["ecs.gn7i-c32g1.8xlarge"].memory_gb) == (32, 188)
    assert (types["ecs.gn8is.2xlarge"].gpu, types["ecs.gn8is.2xlarge"].gpu_memory_gb) == ("L20", 48)
    assert types["ml.gu7i.c32m188.1-gu30"].inferred == ("vcpus",)
    assert hardware_table.load_gpus()["GU100"].memory_gb == 80


def test_names_that_carry_figures_agree_with_the_rows():
    """An EAS name's GPU count and code, and an ECS name's ``-<n>x.``, say the same as the row."""
    gpus = hardware_table.load_gpus()
    for name, row in hardware_table.load_instance_types().items():
        eas = re.fullmatch(r"ml\.[a-z0-9]+\.c(\d+)m(\d+)\.(\d+)-(gu\d+)", name)
        if eas:
            assert (row.vcpus, row.memory_gb, row.gpus) == tuple(int(x) for x in eas.groups()[:3]), name
            assert row.gpu_memory_gb == gpus[eas[4].upper()].memory_gb, name
        ecs = re.fullmatch(r"ecs\.[a-z0-9]+-(\d+)x\.\d+xlarge", name)
        if ecs:
            assert row.gpus == int(ecs[1]), name


def test_lingjun_types_whose_figures_no_source_gives_are_not_in_the_table():
    assert not set(instance_types.LINGJUN_TYPES) & set(hardware_table.load_instance_types())


def test_the_planner_reads_its_figures_from_the_table():
    t = instance_types.lookup("ecs.gn7i-c16g1.4xlarge")
    assert t is not None and (t.source, t.gpus, t.gpu_type, t.gpu_memory_gb, t.eas_confirmed) == ("table", 1, "A10", 24, True)
    assert "ECS docs" in t.citation and "(read 2026-" in t.citation
    assert instance_types.GPU_MEMORY_GB["GU120"] == 96 and instance_types.GPU_MEMORY_GB["GU8IS"] == 48


@pytest.mark.parametrize(("file", "find", "replace", "error"), [
    ("instance_types.csv", ",A10,1,24,8,30,", ",A10,x,24,8,30,", r"instance_types\.csv:\d+: gpus is 'x'"),
    ("instance_types.csv", ",A10,1,24,8,30,", ",H999,1,24,8,30,", r"gpu 'H999' is not in gpus\.csv"),
    ("instance_types.csv", ",2026-12-02,", ",yesterday,", r"seen is 'yesterday', not a date"),
    ("instance_types.csv", ",gpu_memory_gb,confirmed,", ",gpu_ram,confirmed,", r"inferred names \['gpu_ram'\]"),
    ("gpus.csv", "A10,Ampere,", "A10,Pascal,", r"architecture is 'Pascal'"),
])
def test_a_row_that_breaks_the_schema_is_refused_with_its_file_line_and_field(table_copy, file, find, replace, error):
    path: Path = table_copy / file
    text = path.read_text(encoding="utf-8")
    assert find in text
    path.write_text(text.replace(find, replace, 1), encoding="utf-8")
    with pytest.raises(hardware_table.HardwareTableError, match=error):
        hardware_table.load_instance_types()


def test_a_row_without_a_source_is_refused(table_copy):
    path = table_copy / "prices.csv"
    path.write_text(path.read_text(encoding="utf-8") + "ecs.gn7i-c16g1.4xlarge,1.5,USD,international,,,2026-12-02\n",
                    encoding="utf-8")
    with pytest.raises(hardware_table.HardwareTableError, match=r"prices\.csv:2: source is empty"):
        hardware_table.load_prices()


def test_eas_use_is_confirmed_only_with_the_source_that_shows_it(table_copy):
    path = table_copy / "instance_types.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("ecs.gn7i-c32g1.8xlarge,"))
    lines[row] = lines[row].replace(",unconfirmed,", ",confirmed,", 1)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(hardware_table.HardwareTableError, match="eas_source must name where EAS use is shown"):
        hardware_table.load_instance_types()
