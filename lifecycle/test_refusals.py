"""Scenarios 9 and 10: a stack file mistake stops ``up`` before anything changes; a service held
back fails the run by name while the others deploy and nothing is deleted."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.fake_eas import FakeEas

from .conftest import capacity, chat, stack_text
from .engine import SERVICE_TYPE, VENV, Workspace


def test_a_key_written_twice_stops_up_before_anything_changes(workspace: Workspace, eas: FakeEas):
    workspace.write_stack("t", stack_text({"chat": chat()}))
    assert workspace.up("t").error is None
    calls, state = list(eas.calls), workspace.state_file("t").read_text()
    text = stack_text({"chat": chat(replicas=2)})
    # The same service key twice. The CLI reads stack files with yaml.v3 (sdk/go/common/encoding/
    # marshal.go line 27 at v3.276.0), which refuses a key already defined: the engine stops before
    # the program runs. (The mock-runtime tests assumed the CLI kept the second key silently.)
    workspace.write_stack("t", text.replace("  qwen3-eas:services:\n", "  qwen3-eas:services:\n    chat: {model: Qwen3-4B}\n", 1))
    for verb in ("preview", "up"):
        run = workspace.run(verb, "t")
        assert run.error is not None
        assert 'mapping key "chat" already defined at line 6' in run.error, run.error
        assert "Traceback" not in run.error
    assert eas.calls == calls
    assert workspace.state_file("t").read_text() == state
    # The offline plan of the same file (PyYAML) says it with our message, naming file, key and lines.
    plan = subprocess.run([str(VENV / "bin" / "qwen3-eas"), "plan", str(workspace.stack_file("t")),
                           "--out", str(workspace.dir / "plan")], capture_output=True, text=True, check=False)
    assert plan.returncode == 2
    assert "Pulumi.t.yaml: key 'chat' is written twice under config > qwen3-eas:services (lines 6 and 7)" in plan.stderr


def test_a_held_back_service_fails_the_run_by_name_the_others_deploy_nothing_is_deleted(
        workspace: Workspace, eas: FakeEas, tmp_path: Path):
    workspace.write_stack("t", stack_text({"chat": chat(), "extra": chat(regions=["cn-beijing"])}))
    stock = capacity(tmp_path / "cap.json", cn_hangzhou="WithStock", cn_beijing="NoStock")
    run = workspace.up("t", env={"QWEN3_EAS_CAPACITY": str(stock)})
    # `extra` has no stock anywhere and does not run: held back by name, the run fails...
    assert run.error is not None and "extra" in run.error and "not deployed this run" in run.error
    # ...after `chat` was deployed.
    assert run.ops(SERVICE_TYPE) == [("create", "chat-service")]
    assert eas.names() == ["cn-hangzhou/chat_t"]
    # Next run, where `chat` runs cannot be told (its region does not answer): held back too, and
    # the engine deletes nothing the program did not register, because the program failed.
    eas.broken.add("cn-hangzhou/chat_t")
    again = workspace.up("t", env={"QWEN3_EAS_CAPACITY": str(stock)})
    assert again.error is not None and "chat" in again.error
    assert not [op for op, _ in again.ops(SERVICE_TYPE) if op.startswith("delete")]
    eas.broken.clear()
    assert eas.names() == ["cn-hangzhou/chat_t"]
    assert [r["urn"].rsplit("::", 1)[-1] for r in workspace.resources("t")] == ["chat-service"]
