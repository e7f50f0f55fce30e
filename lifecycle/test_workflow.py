"""Scenario 12: the deploy workflow's job for dev, replayed step by step against this setup.

The steps are read from ``.github/workflows/deploy.yml`` itself, in its order: each ``make``
command runs as the tool it calls (against the fake EAS), and the ``pulumi/actions`` step becomes
the ``up`` it asks for, with its inputs (refresh, policy pack) and its environment (the capacity
snapshot), and the step that records what runs for the pull requests' ``make diff`` runs as
written, with the replayed ``up``'s outputs. A step this replay does not know fails the test, so
the two cannot drift apart.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from typing import Any

import yaml

from tests.fake_eas import FakeEas
from tests.fake_openai import Behaviour, FakeOpenAI

from .announced import announce
from .engine import ROOT, SERVICE_TYPE, VENV, Workspace

WORKFLOW = ROOT / ".github" / "workflows" / "deploy.yml"
GUARD_STEP = re.compile(r'^\s*if \[ -z "\$\w+" \]')
"""A shell step that only checks that variables are set (no effect to replay)."""


def job_for(stack: str) -> dict[str, Any]:
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    [job] = [job for job in jobs.values()
             if any("stack-name" in (s.get("with") or {}) and s["with"]["stack-name"] == stack for s in job["steps"])]
    return job


def tool(workspace: Workspace, command: str, stack: str) -> None:
    """A ``make`` target of the workflow, as the tool it runs (qwen3-eas ...), in the workspace."""
    words = shlex.split(command)
    assert words[0] == "make", f"deploy.yml runs {command!r}: teach this replay what it does"
    target, variables = words[1], dict(w.split("=", 1) for w in words[2:])
    cli = [str(VENV / "bin" / "qwen3-eas")]
    if target == "plan":
        args = [*cli, "plan", str(workspace.stack_file(variables["STACK"])), "--out", str(workspace.dir / "plan")]
    elif target == "capacity":
        args = [*cli, "capacity", "--stack", variables["STACK"], "--out", str(workspace.dir / variables["OUT"])]
    elif target == "smoke":
        # It reads the outputs with `pulumi stack output --show-secrets` in the project, as the job does.
        args = [*cli, "smoke", "--stack", variables["STACK"]]
    else:
        raise AssertionError(f"deploy.yml runs `make {target}`: teach this replay what it does")
    where = workspace.project if target == "smoke" else ROOT
    done = subprocess.run(args, cwd=where, env={**workspace.env, "QWEN3_EAS_VIA_MAKE": "1", "HOME": str(workspace.dir)},
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"


def shell(workspace: Workspace, step: dict[str, Any], outputs: dict[str, Any]) -> None:
    """A shell step that reads the update's outputs (``steps.up.outputs.<name>``), run as written with
    what the replayed ``up`` output, in the workspace (GitHub hands objects over as JSON)."""
    env = {}
    for name, value in (step.get("env") or {}).items():
        found = re.fullmatch(r"\$\{\{ steps\.up\.outputs\.(\w+) \}\}", str(value))
        assert found, f"deploy.yml's step {step.get('name')!r} reads {value}: teach this replay what it is"
        env[name] = json.dumps(outputs[found[1]])
    done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", step["run"]], cwd=workspace.dir,
                          env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{step.get('name')}: {done.stdout}{done.stderr}"


def replay(workspace: Workspace, eas: FakeEas, served: FakeOpenAI, job: dict[str, Any], runs: list[str]) -> dict[str, Any]:
    """Each step of ``job`` in its order, as described in the module doc; the replayed ``up``'s outputs."""
    outputs: dict[str, Any] = {}
    for step in job["steps"]:
        if "run" in step and "steps.up.outputs" in json.dumps(step.get("env") or {}):
            shell(workspace, step, outputs)
            runs.append("record")
        elif "run" in step:
            if GUARD_STEP.match(step["run"]):
                continue
            tool(workspace, step["run"].strip(), "dev")
            runs.append(step["run"].strip().split()[1])
        elif str(step.get("uses", "")).startswith("pulumi/actions@"):
            inputs, env = step["with"], step.get("env") or {}
            assert inputs["command"] == "up" and inputs["stack-name"] == "dev"
            # The snapshot the capacity step wrote is the one the program reads.
            snapshot = env["QWEN3_EAS_CAPACITY"].replace("${{ github.workspace }}/", "")
            assert (workspace.dir / snapshot).is_file(), "the up step reads a snapshot no earlier step wrote"
            packs = [str(workspace.policy_pack())] if inputs.get("policyPacks") == "policy" else []
            run = workspace.up("dev", refresh=bool(inputs.get("refresh")), policy_packs=packs,
                               env={"QWEN3_EAS_CAPACITY": str(workspace.dir / snapshot)})
            assert run.error is None, run.output
            assert run.ops(SERVICE_TYPE) == [("create", "chat-service")]
            assert not [v for v in run.policy_violations if v["level"] == "mandatory"]
            outputs = run.outputs
            runs.append("pulumi up")
            served.serve_as(token=eas.services["cn-hangzhou/chat_dev"]["AccessToken"])
    return outputs


def test_the_deploy_workflows_dev_job_replayed_deploys_dev_and_checks_that_it_serves(
        workspace: Workspace, eas: FakeEas):
    workspace.copy_stack("dev")
    job = job_for("dev")
    runs: list[str] = []
    # The served API behind the fake EAS's endpoints: the smoke step calls it (over plain http, which
    # the token may take to a loopback address only).
    with FakeOpenAI(Behaviour(served_model_name="Qwen3-8B", tool_calling=True)) as served:
        eas.endpoint_host = served.address
        outputs = replay(workspace, eas, served, job, runs)
    # In the workflow's order: the offline plan, the snapshot, up with both, the record of what runs
    # that the pull requests' make diff reads (OUTPUTS=, CAPACITY=), then the smoke test.
    assert runs == ["plan", "capacity", "pulumi up", "record", "smoke"], runs
    assert [seen.path for seen in served.seen][:1] == ["/api/predict/chat_dev/v1/models"]
    record = json.loads((workspace.dir / "running" / "outputs.json").read_text())
    assert record == {"services": {"chat": {"serviceName": "chat_dev", "region": "cn-hangzhou", "resourceKind": "public",
                                            "instanceTypes": outputs["services"]["chat"]["instanceTypes"]}},
                      "outsideTheStack": {}}
    assert (workspace.dir / "running" / "capacity.json").read_text() == (workspace.dir / "capacity.json").read_text()
    # What the next pull request's make diff makes of the same file: nothing changes, as the engine says.
    same = workspace.stack_file("dev")
    announced = announce(same, same, capacity=workspace.dir / "running" / "capacity.json", outputs=record)
    assert announced["chat"]["step"] == "same"
    assert json.loads((workspace.dir / "capacity.json").read_text()).keys() == {"cn-hangzhou"}
    assert eas.names() == ["cn-hangzhou/chat_dev"]
    # The workflow's next run of the same commit: nothing to do.
    again = workspace.up("dev", refresh=True, env={"QWEN3_EAS_CAPACITY": str(workspace.dir / "capacity.json")})
    assert again.changes() == {}, again.output
