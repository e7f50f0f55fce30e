"""The real Pulumi engine around the project: a workspace, the verbs, and what the engine did.

A ``Workspace`` is what a user's machine has for one project: a file state backend and a
passphrase in a temporary directory, a ``PULUMI_HOME`` whose plugin cache holds the stand-in
``alicloud`` 4.0.0 plugin (``resource-alicloud-v4.0.0``), and a project directory with the
repository's own ``Pulumi.yaml`` and the stack files a scenario writes under ``stacks/``.

The CLI is the one ``make pulumi-cli`` builds. The Python language host cannot be built here (the
Go module proxy does not serve ``sdk/python/cmd/pulumi-language-python``), so the program runs the
way the Automation API runs an inline program: the CLI is started with ``--client`` pointing at
a language server in this process, which runs the repository's ``__main__.py``. The engine, the
stack files' parsing, the plugins, the dynamic-provider host, the state and the secrets are the
CLI's own; what differs from ``runtime: python`` is docs/lifecycle.md's "Inline programs".

Every run records the engine's own steps from its event stream (``Step``: the operation the
engine took on each resource, in the order it took them).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import runpy
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from pulumi import automation as auto

ROOT = Path(__file__).resolve().parents[1]
CLI_ROOT = ROOT / ".cache" / "pulumi"
"""``make pulumi-cli`` puts ``bin/pulumi`` (and the dynamic-provider shim) here."""
VENV = ROOT / ".venv"
PROJECT = "qwen3-eas"
PASSPHRASE = "lifecycle-test-passphrase"
SERVICE_TYPE = "alicloud:pai/service:Service"
READER_TYPE = "pulumi-python:dynamic/eas:ServiceEndpoint"
COMPONENT_TYPE = "qwen3-eas:eas:Qwen3EasService"
PROVIDER_TYPE = "pulumi:providers:alicloud"
PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
"""Unset for every run: the EAS SDK sends even loopback calls through a proxy it is given."""


class EngineMissingError(RuntimeError):
    """The CLI has not been built: the lifecycle cannot run (and must fail, never skip)."""


def cli_path() -> Path:
    path = CLI_ROOT / "bin" / "pulumi"
    if not os.access(path, os.X_OK):
        raise EngineMissingError(f"{path.relative_to(ROOT)} is missing: run `make pulumi-cli` first")
    return path


@dataclass(frozen=True)
class Step:
    """One resource operation of the engine, as its event stream reports it."""

    op: str
    """``same``, ``create``, ``update``, ``delete``, ``replace``, ``create-replacement``,
    ``delete-replaced``, ``refresh``, ``import``, ..."""
    type: str
    name: str
    urn: str
    diffs: tuple[str, ...] = ()
    failed: bool = False


@dataclass
class Run:
    """What one verb did."""

    verb: str
    steps: list[Step] = field(default_factory=list)
    diagnostics: list[tuple[str, str]] = field(default_factory=list)
    """(severity, message) the engine or the program reported."""
    policy_violations: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    output: str = ""
    error: Optional[str] = None

    def ops(self, type_: str = SERVICE_TYPE, *, changes_only: bool = True) -> list[tuple[str, str]]:
        """(op, name) of each step on resources of ``type_``, in the engine's order; ``same``
        steps left out unless ``changes_only`` is False."""
        return [(s.op, s.name) for s in self.steps
                if s.type == type_ and (not changes_only or s.op not in ("same", "read", "refresh"))]

    def changes(self) -> dict[str, int]:
        """The summary's counts without ``same``."""
        return {op: n for op, n in self.summary.items() if op != "same" and n}

    def messages(self, severity: str = "") -> str:
        return "\n".join(m for s, m in self.diagnostics if not severity or s == severity)


def _record(run: Run) -> Any:
    def on_event(event: auto.EngineEvent) -> None:
        pre = event.resource_pre_event
        if pre is not None:
            meta = pre.metadata
            run.steps.append(Step(op=str(meta.op.value if hasattr(meta.op, "value") else meta.op), type=meta.type,
                                  name=meta.urn.rsplit("::", 1)[-1], urn=meta.urn, diffs=tuple(meta.diffs or ())))
        failed = event.res_op_failed_event
        if failed is not None:
            meta = failed.metadata
            run.steps.append(Step(op=str(meta.op.value if hasattr(meta.op, "value") else meta.op), type=meta.type,
                                  name=meta.urn.rsplit("::", 1)[-1], urn=meta.urn, failed=True))
        diag = event.diagnostic_event
        if diag is not None:
            run.diagnostics.append((diag.severity, diag.message.strip()))
        policy = event.policy_event
        if policy is not None:
            run.policy_violations.append({"policy": policy.policy_name, "level": policy.enforcement_level,
                                          "message": policy.message, "urn": policy.resource_urn or ""})
        summary = event.summary_event
        if summary is not None:
            run.summary = {str(op.value if hasattr(op, "value") else op): n
                           for op, n in (summary.resource_changes or {}).items()}

    return on_event


def _script(path: Path, comment: str, command: str) -> Path:
    """An executable shell script that runs ``command`` (how the engine starts a plugin)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n# {comment}\n{command}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def _python_module(module: str) -> str:
    """A command line running ``module`` of this repository with the project's virtualenv."""
    return f'PYTHONPATH="{ROOT}${{PYTHONPATH:+:$PYTHONPATH}}" exec "{VENV}/bin/python" -u -m {module} "$@"'


def _program() -> None:
    """The project's own ``__main__.py``, as ``runtime: python`` would run it."""
    runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")


def _up_elsewhere(workspace: Workspace, stack: str, kwargs: dict[str, Any]) -> Run:
    """``workspace.up`` in the process ``Workspace.up_killed`` starts for it."""
    return workspace.up(stack, **kwargs)


def _pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _exe(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


def _cwd(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return ""


def _descendants(root: int) -> list[int]:
    """Every process below ``root``, from the parent IDs in ``/proc/<pid>/stat``."""
    parents: dict[int, int] = {}
    for pid in _pids():
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[pid] = int(fields[1])
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


class Workspace:
    """One project checkout with its state, secrets and plugins (see the module doc)."""

    def __init__(self, directory: Path, eas_endpoint: str, *, env: Optional[Mapping[str, str]] = None) -> None:
        self.dir = directory
        self.project = directory / "project"
        self.home = directory / "pulumi-home"
        self.state = directory / "state"
        for path in (self.project / "stacks", self.home, self.state):
            path.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / "Pulumi.yaml", self.project / "Pulumi.yaml")
        # Pulumi.yaml's `virtualenv: .venv`, relative to the project: the engine hands it to the
        # plugins it starts for the project (the dynamic-provider host runs its python).
        (self.project / ".venv").symlink_to(VENV, target_is_directory=True)
        self.cli = cli_path()
        self._install_standin()
        self.env: dict[str, str] = {
            "PULUMI_BACKEND_URL": self.state.as_uri(),
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_HOME": str(self.home),
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_SKIP_CONFIRMATIONS": "true",
            # The dynamic-provider host (pulumi-resource-pulumi-python, beside the CLI) runs the
            # reader with the project's virtualenv, as Pulumi.yaml's `virtualenv: .venv` makes the
            # language host tell it.
            "PULUMI_RUNTIME_VIRTUALENV": str(VENV),
            "PATH": f"{self.cli.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            # Every EAS call of the run (the program's stock probe and service lookups, the
            # reader, the stand-in provider) goes to the fake EAS.
            "QWEN3_EAS_API_ENDPOINT": eas_endpoint,
            "QWEN3_EAS_API_PROTOCOL": "http",
            "ALIBABA_CLOUD_ACCESS_KEY_ID": "lifecycle-ak",
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "lifecycle-sk",
            "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
            # The stand-in's waits (5 s polls, 3 s retries) scaled down; the order of calls stays.
            "STANDIN_EAS_TIME_SCALE": "0.02",
        }
        self.env.update(env or {})

    def _install_standin(self) -> None:
        """The stand-in where the engine looks for an installed plugin of that exact version
        (``$PULUMI_HOME/plugins/resource-alicloud-v4.0.0/pulumi-resource-alicloud``)."""
        _script(self.home / "plugins" / "resource-alicloud-v4.0.0" / "pulumi-resource-alicloud",
                "The stand-in alicloud provider (lifecycle/standin_alicloud): test infrastructure.",
                _python_module("lifecycle.standin_alicloud"))

    def policy_pack(self) -> Path:
        """The project's policy pack as an analyzer plugin the engine can start: an executable that
        runs ``policy/__main__.py`` with the project's virtualenv (a policy pack folder needs the
        Python language host to start it; the engine starts an executable path directly, and reads
        the ``PulumiPolicy.yaml`` beside it)."""
        folder = self.dir / "policy-pack"
        folder.mkdir(exist_ok=True)
        shutil.copyfile(ROOT / "policy" / "PulumiPolicy.yaml", folder / "PulumiPolicy.yaml")
        return _script(folder / "qwen3-eas-policy", "The project's policy pack (policy/) as an analyzer plugin.",
                       f'exec "{VENV}/bin/python" -u "{ROOT}/policy/__main__.py" "$@"')

    # -- stack files -----------------------------------------------------------------------------

    def stack_file(self, stack: str) -> Path:
        return self.project / "stacks" / f"Pulumi.{stack}.yaml"

    def write_stack(self, stack: str, text: str) -> Path:
        path = self.stack_file(stack)
        path.write_text(text, encoding="utf-8")
        return path

    def change_stack(self, stack: str, text: str) -> tuple[Path, Path]:
        """A new version of the stack file: (the file as it was, kept aside, and the file now),
        the two sides ``make diff`` compares."""
        base = self.dir / "base" / self.stack_file(stack).name
        base.parent.mkdir(exist_ok=True)
        shutil.copyfile(self.stack_file(stack), base)
        return base, self.write_stack(stack, text)

    def copy_stack(self, stack: str) -> Path:
        """The repository's own ``stacks/Pulumi.<stack>.yaml``."""
        return self.write_stack(stack, (ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))

    # -- the verbs -------------------------------------------------------------------------------

    @contextmanager
    def _environment(self, stack: str, extra: Mapping[str, str]) -> Iterator[dict[str, str]]:
        """The run's variables, in this process too: the inline program reads them here."""
        env = {**self.env, "QWEN3_EAS_STACK_FILE": str(self.stack_file(stack)), **extra}
        saved = {name: os.environ.get(name) for name in (*env, *PROXY_VARIABLES)}
        for name in PROXY_VARIABLES:
            os.environ.pop(name, None)
        os.environ.update(env)
        try:
            yield env
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def _stack(self, stack: str, env: dict[str, str], program: Callable[[], None] = _program) -> auto.Stack:
        options = auto.LocalWorkspaceOptions(
            work_dir=str(self.project), pulumi_home=str(self.home), env_vars=env,
            pulumi_command=auto.PulumiCommand(root=str(self.cli.parent.parent)))
        return auto.create_or_select_stack(stack, project_name=PROJECT, program=program, opts=options)

    def run(self, verb: str, stack: str, *, env: Optional[Mapping[str, str]] = None,
            program: Callable[[], None] = _program, **kwargs: Any) -> Run:
        """``verb`` (up, preview, refresh, destroy) of ``stack``; a failed run is returned, not raised.
        ``program`` replaces the project's ``__main__.py`` (a hand-written program, say)."""
        run = Run(verb)
        lines: list[str] = []
        with self._environment(stack, env or {}) as full_env:
            target = self._stack(stack, full_env, program)
            try:
                result = getattr(target, verb)(on_event=_record(run), on_output=lines.append, **kwargs)
            except auto.CommandError as exc:
                run.error = str(exc)
            else:
                run.outputs = {k: v.value for k, v in (getattr(result, "outputs", None) or {}).items()}
        run.output = "\n".join(lines)
        return run

    def up(self, stack: str, **kwargs: Any) -> Run:
        return self.run("up", stack, **kwargs)

    def up_killed(self, stack: str, when: Callable[[], bool], *, timeout_s: float = 60.0, **kwargs: Any) -> Run:
        """``up``, with the CLI killed (SIGKILL, as a cancelled CI job or a lost runner does) once
        ``when()`` holds: the plugins it started go with it, the lock and the state stay as they were.

        The ``up`` runs in a process of its own: its inline program is left half-way by the kill,
        and the SDK's state of a program is the process's (the root resource, the monitor, the
        entry points, the event loop), which the next run in this process would otherwise inherit.
        """
        context = multiprocessing.get_context("spawn")
        with context.Pool(1) as pool:
            pending = pool.apply_async(_up_elsewhere, (self, stack, kwargs))
            deadline = time.monotonic() + timeout_s
            while not when():
                if pending.ready() or time.monotonic() > deadline:
                    raise AssertionError("the up ended, or took too long, before the moment to kill it came")
                time.sleep(0.02)
            killed = self._kill_cli()
            run: Run = pending.get(timeout_s)
        assert killed, "no CLI process of this workspace was found to kill"
        return run

    def _kill_cli(self) -> list[int]:
        """SIGKILL this workspace's running CLI processes and everything they started."""
        cli = str(self.cli.resolve())
        roots = [pid for pid in _pids() if _exe(pid) == cli and _cwd(pid) == str(self.project.resolve())]
        victims = [p for root in roots for p in (root, *_descendants(root))]
        for pid in victims:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return victims

    def preview(self, stack: str, **kwargs: Any) -> Run:
        return self.run("preview", stack, **kwargs)

    def refresh(self, stack: str, **kwargs: Any) -> Run:
        return self.run("refresh", stack, **kwargs)

    def destroy(self, stack: str, **kwargs: Any) -> Run:
        return self.run("destroy", stack, **kwargs)

    def cli_run(self, stack: str, *args: str, env: Optional[Mapping[str, str]] = None) -> subprocess.CompletedProcess[str]:
        """A plain CLI command in the project directory (``pulumi import``, ``stack export``, ...),
        with the stack created first if it is new. Such a command asks the project's language host
        for its plugins: the stand-in host (``standin_language``) is on ``PATH`` for it."""
        host = _script(self.dir / "language-host" / "pulumi-language-python",
                       "The stand-in python language host (lifecycle/standin_language): plugin discovery only.",
                       _python_module("lifecycle.standin_language"))
        extra = {**(env or {}), "PATH": f"{host.parent}{os.pathsep}{self.env['PATH']}"}
        with self._environment(stack, extra) as full_env:
            self._stack(stack, full_env)
            return subprocess.run([str(self.cli), "--non-interactive", *args, "--stack", stack], cwd=self.project,
                                  env={**os.environ, **full_env}, capture_output=True, text=True, check=False)

    # -- the state -------------------------------------------------------------------------------

    def state_file(self, stack: str) -> Path:
        """The file backend's checkpoint of ``stack``."""
        found = sorted(self.state.glob(f".pulumi/stacks/{PROJECT}/{stack}.json"))
        if not found:
            raise FileNotFoundError(f"no state for stack {stack} under {self.state}")
        return found[0]

    def has_state(self, stack: str) -> bool:
        return bool(list(self.state.glob(f".pulumi/stacks/{PROJECT}/{stack}.json")))

    def resources(self, stack: str, type_: str = SERVICE_TYPE) -> list[dict[str, Any]]:
        """The state's resources of ``type_`` (``pulumi stack export`` reads the same file)."""
        deployment = json.loads(self.state_file(stack).read_text())["checkpoint"].get("latest") or {}
        return [r for r in deployment.get("resources") or [] if r.get("type") == type_]


