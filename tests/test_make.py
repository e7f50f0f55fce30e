"""What a user who runs ``make`` sees: hints in make's terms, and ``make smoke``'s exit statuses.

GNU make exits 2 whenever a recipe fails, whatever the recipe's own status, so ``make smoke``
cannot pass ``qwen3-eas smoke``'s 1 (a check failed) and 2 (could not start) through as exit
statuses. The Makefile says which one it was on stderr; these tests pin both that line and
make's status, against the fake OpenAI service on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .fake_openai import Behaviour, FakeOpenAI
from .test_smoke import service_output

ROOT = Path(__file__).resolve().parent.parent
MAKE = shutil.which("make")

pytestmark = pytest.mark.skipif(MAKE is None, reason="GNU make is not installed")


def make(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``make <args>`` in the project, on this interpreter, with no pulumi and no proxy on PATH.

    ``STAMP=`` skips the venv prerequisite (the suite already runs inside it); ``CLI`` is this
    interpreter, so the test does not depend on the installed console script.
    """
    bare = tmp_path / "bin"
    bare.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper() and not k.startswith("QWEN3_EAS")}
    env.update(PATH=str(bare), NO_PROXY="*")
    return subprocess.run([str(MAKE), "--no-print-directory", *args, "STAMP=", f"CLI={sys.executable} -m components"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def outputs_for(tmp_path: Path, fake: FakeOpenAI) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"services": {"chat": service_output(fake)}}), encoding="utf-8")
    return path


def smoke(tmp_path: Path, behaviour: Behaviour) -> subprocess.CompletedProcess[str]:
    with FakeOpenAI(behaviour) as fake:
        return make(tmp_path, "smoke", f"OUTPUTS={outputs_for(tmp_path, fake)}")


def test_make_smoke_passes_with_status_0(tmp_path):
    done = smoke(tmp_path, Behaviour())
    assert done.returncode == 0, done.stderr
    assert "checks passed" in done.stdout


def test_a_failed_check_under_make_is_status_2_and_says_the_tool_returned_1(tmp_path):
    done = smoke(tmp_path, Behaviour(no_tool_calls=True))
    assert done.returncode == 2
    assert "FAIL" in done.stdout
    assert "make smoke: qwen3-eas smoke exited 1 (a check failed)" in done.stderr


def test_a_smoke_test_that_cannot_start_under_make_says_the_tool_returned_2(tmp_path):
    done = make(tmp_path, "smoke", f"OUTPUTS={tmp_path / 'missing.json'}")
    assert done.returncode == 2
    assert "make smoke: qwen3-eas smoke exited 2 (the smoke test could not start)" in done.stderr


def test_hints_under_make_name_make_variables(tmp_path):
    done = make(tmp_path, "smoke", "STACK=dev")  # no pulumi on PATH
    assert done.returncode == 2
    assert "or pass OUTPUTS=FILE" in done.stderr and "--outputs" not in done.stderr


def test_capacity_under_make_names_regions_variable(tmp_path):
    done = make(tmp_path, "capacity", "REGIONS=cn-hangzou", f"OUT={tmp_path / 'c.json'}")
    assert done.returncode == 2
    assert "in REGIONS= did you mean 'cn-hangzhou'?" in done.stderr


def test_plan_under_make_names_the_capacity_variable(tmp_path, monkeypatch: Any, capsys):
    from components.cli import plan

    monkeypatch.setenv("QWEN3_EAS_VIA_MAKE", "1")
    assert plan.main(["dev", "--out", str(tmp_path / "out"), "--capacity", str(tmp_path / "none.json")]) == 2
    err = capsys.readouterr().err
    assert "check the path given to CAPACITY=" in err and "--capacity" not in err
