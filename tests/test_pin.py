"""``make pin``: deployed regions become placements pins through ``pulumi config set --path``."""

from __future__ import annotations

import json
import os
import stat
import sys

from components.cli import pin

OUTPUTS = {"services": {"chat": {"region": "cn-shanghai", "serviceName": "chat_prod"},
                        "big": {"region": "cn-wulanchabu", "serviceName": "big_prod"}}}


def test_outputs_become_one_config_set_per_service():
    assert pin.commands("prod", pin.pins_from_outputs(OUTPUTS)) == [
        ["pulumi", "config", "set", "--path", "qwen3-eas:placements.big", "cn-wulanchabu", "--stack", "prod"],
        ["pulumi", "config", "set", "--path", "qwen3-eas:placements.chat", "cn-shanghai", "--stack", "prod"],
    ]


def test_the_cli_runs_pulumi_with_those_commands(tmp_path, monkeypatch):
    record = tmp_path / "calls.jsonl"
    fake = tmp_path / "pulumi"
    fake.write_text(f"#!{sys.executable}\nimport json, sys\nopen({str(record)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(OUTPUTS))
    assert pin.main(["--stack", "prod", "--outputs", str(outputs)]) == 0
    calls = [json.loads(line) for line in record.read_text().splitlines()]
    assert calls[0] == ["config", "set", "--path", "qwen3-eas:placements.big", "cn-wulanchabu", "--stack", "prod"]
    assert len(calls) == 2


def test_without_pulumi_or_outputs_the_message_says_what_to_do(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert pin.main(["--stack", "prod"]) == 2
    assert "pulumi CLI is not on PATH" in capsys.readouterr().err
