"""``make init`` and ``qwen3-eas stacks``: a new stack file, and stacks found without a list in code."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from components.cli import init, plan, stacks
from components.cli import main as cli_main

ROOT = Path(__file__).resolve().parent.parent


def test_the_listing_is_every_stack_file_sorted(tmp_path, capsys):
    for name in ("zeta", "dev", "perf-eu"):
        stacks.stack_file(name, tmp_path).write_text("config: {}\n")
    (tmp_path / "Pulumi.yaml").write_text("name: not a stack\n")
    (tmp_path / "notes.yaml").write_text("")
    assert stacks.names(tmp_path) == ["dev", "perf-eu", "zeta"]
    assert cli_main(["stacks"]) == 0
    assert capsys.readouterr().out.split() == stacks.names()


def test_a_new_stack_file_plans_cleanly_with_no_warning(tmp_path):
    path = init.create("perf", tmp_path)
    assert path == tmp_path / "Pulumi.perf.yaml"
    text = path.read_text()
    assert "__" not in text, "every template placeholder is filled in"
    assert "chat_perf" in text
    # Commented: every key the template sets is explained somewhere in the file.
    assert sum(line.lstrip().startswith("#") for line in text.splitlines()) >= 10
    assert yaml.safe_load(text)["config"]["alicloud:region"] == "cn-hangzhou"
    stack, files = plan.make_plan(str(path))
    assert stack == "perf"
    summary = yaml.safe_load(files["plan.json"])["chat"]
    assert summary["sizing"]["verdict"] == "ok" and summary["warnings"] == []


def test_it_never_overwrites_a_stack_file(tmp_path):
    path = stacks.stack_file("dev", tmp_path)
    path.write_text("config: {mine: true}\n")
    with pytest.raises(init.InitError, match=r"already exists; it is left as it is\. Fix: choose another name"):
        init.create("dev", tmp_path)
    assert path.read_text() == "config: {mine: true}\n"


@pytest.mark.parametrize("name", ["", "-dev", "my stack", "a/b", "prod!", "x" * 101, "../etc"])
def test_names_pulumi_refuses_are_refused_with_the_rule(tmp_path, name):
    with pytest.raises(init.InitError, match=r"is not a stack name Pulumi accepts\. Fix: use letters, digits"):
        init.create(name, tmp_path)
    assert list(tmp_path.iterdir()) == []


@given(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", fullmatch=True))
def test_names_pulumi_accepts_make_a_file_the_listing_finds(name):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        init.create(name, folder)
        assert stacks.names(folder) == [name]
        assert plan.resolve_stack(str(stacks.stack_file(name, folder)))[0] == name


def test_make_init_refuses_an_existing_stack_and_says_so():
    result = subprocess.run([sys.executable, "-m", "components", "init", "dev"], cwd=ROOT, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "already exists" in result.stderr
    assert "Traceback" not in result.stderr
