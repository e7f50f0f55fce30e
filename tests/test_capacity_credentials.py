"""``qwen3-eas capacity`` without credentials: one line, fast, and no connection leaves the machine.

Each case runs in a fresh interpreter with a clean environment (HOME an empty folder, no
ALIBABA_* variables), as a new user's shell would be. Every socket connect is recorded and
refused before it happens, so even a regression sends nothing to a non-loopback address.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Runs `qwen3-eas capacity` with every connect recorded and refused; prints what it saw as JSON.
_HARNESS = r"""
import contextlib, io, json, socket, sys, time
attempts = []
def refuse(self, address, *args, **kwargs):
    attempts.append(str(address[0]) if isinstance(address, tuple) else str(address))
    raise OSError("connection refused by the test harness")
def refuse_create(address, *args, **kwargs):
    attempts.append(str(address[0]))
    raise OSError("connection refused by the test harness")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse_create
from components.cli import capacity
err = io.StringIO()
started = time.monotonic()
with contextlib.redirect_stderr(err):
    status = capacity.main(sys.argv[1:])
elapsed = time.monotonic() - started
print(json.dumps({"status": status, "stderr": err.getvalue(), "elapsed": elapsed, "attempts": attempts}))
"""


def run_capacity(tmp_path: Path, *args: str, **env: str) -> dict[str, Any]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ALIBABA_") and "PROXY" not in k.upper()}
    clean.update(HOME=str(home), **env)
    done = subprocess.run([sys.executable, "-c", _HARNESS, *args], cwd=ROOT, env=clean, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr  # nothing logged around the one line: no traceback
    return json.loads(done.stdout.strip().splitlines()[-1])


def _non_loopback(attempts: list[str]) -> list[str]:
    return [a for a in attempts if not a.startswith("127.") and a not in ("localhost", "::1")]


def test_no_credentials_is_one_line_within_a_second_and_nothing_is_sent(tmp_path):
    seen = run_capacity(tmp_path, "--regions", "cn-hangzhou cn-beijing", "--out", str(tmp_path / "c.json"))
    assert seen["status"] == 2
    lines = seen["stderr"].splitlines()
    assert len(lines) == 1, seen["stderr"]
    line = lines[0]
    assert line.startswith("error: no Alibaba Cloud credentials found")
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in line and "ALIBABA_CLOUD_ECS_METADATA" in line
    assert "Traceback" not in line and "refused" not in line and "DescribeMachineSpec" not in line
    assert seen["elapsed"] < 1.0
    assert seen["attempts"] == []  # not the metadata address, not EAS: nothing at all
    assert not (tmp_path / "c.json").exists()


def test_the_metadata_address_is_tried_only_when_the_user_names_an_instance_role(tmp_path):
    seen = run_capacity(tmp_path, "--regions", "cn-hangzhou", "--out", str(tmp_path / "c.json"),
                        ALIBABA_CLOUD_ECS_METADATA="my-role")
    # The harness refused the connection before it was made; the attempt shows it was asked for.
    assert "100.100.100.200" in seen["attempts"]
    assert seen["status"] == 2
    assert seen["stderr"].count("\n") == 1 and "ECS instance role my-role" in seen["stderr"]


def test_a_credentials_error_in_a_region_never_says_eas_refused_a_request():
    from components.eas import api as eas_api
    from components.eas.api import FailureKind, ProbeFailure

    failure = ProbeFailure(FailureKind.AUTH, "no credentials found: nothing configured", code="NoCredentials")
    message = str(eas_api.ProbeAuthError("cn-hangzhou", failure))
    assert "refused" not in message and message.startswith("no request sent to cn-hangzhou")


def test_pulumi_up_without_credentials_stops_in_one_line_before_any_request(monkeypatch):
    """The live probe of ``pulumi up`` resolves credentials first, like ``make capacity``."""
    from components.eas import credentials as eas_credentials
    from components.eas import probe as eas_probe
    from components.eas import stock

    only_environment = [("environment variables", eas_credentials._from_environment)]
    monkeypatch.setattr(eas_credentials, "credentials_chain", lambda: only_environment)
    for name in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)

    def no_probe(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("no region may be probed without credentials")

    monkeypatch.setattr(eas_probe, "probe_regions", no_probe)
    with pytest.raises(stock.CapacityError) as err:
        stock.live(["cn-hangzhou"])
    assert str(err.value).startswith("no Alibaba Cloud credentials found (environment variables)")
    assert "\n" not in str(err.value) and "refused" not in str(err.value)
