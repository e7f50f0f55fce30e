"""The two sides ``make diff`` compares: what runs, and what the next ``pulumi up`` registers.

The engine compares what the program registers with the stack's state: what the last ``pulumi up``
registered. So the diff plans

- **the base** (``plan_base``): the stack file at the base commit, with that commit's own code,
  as what runs: with ``OUTPUTS=`` (the deployed stack's outputs) every deployed service is pinned
  to the region it runs in and planned on the instance types it runs on, and only deployed
  services count; without it, every service is taken as deployed where an offline plan puts it
  (pinned there too, so that both sides keep it in place alike);
- **the working tree** (``plan_head``): as ``pulumi preview`` plans it, its lookups answered from
  what runs (``components.core.running.deployed``, exactly as DescribeService answers the deploy) and its
  stock from ``CAPACITY=`` (none without it). A service no region can run is held back; a two-phase
  move (``drain``) whose first run only records ``retainOnDelete`` is planned a second time, as
  the run after it, so that both runs are announced.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

from ..core.hardware import hardware_choice, instance_types
from ..core.running import deployed, ownership
from ..core.stack import stack_file
from . import plan


class DiffError(Exception):
    """A diff that cannot be made at all (not a git repository, an unknown ref, an unreadable file)."""


def read_outputs(path: Path) -> dict[str, deployed.Deployed]:
    """What runs, from ``OUTPUTS=``: the JSON of ``pulumi stack output --json`` (or the deploy's record)."""
    try:
        return deployed.read(json.loads(path.read_text(encoding="utf-8")), str(path))
    except (OSError, ValueError) as exc:
        raise DiffError(f"cannot read what runs from {path}: {exc}") from None


# -- the base ---------------------------------------------------------------------------------


def _git(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(plan.ROOT), *args], capture_output=True, check=False)


def resolve_commit(ref: str) -> str:
    """The commit ``ref`` names in this checkout; ``DiffError`` if it names none."""
    found = _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if found.returncode != 0:
        raise DiffError(f"{ref!r} is not a commit of the repository at {plan.ROOT} (fetch it first?)")
    return found.stdout.decode().strip()


def _base_stack_arg(stack_arg: str) -> str:
    """The stack argument for the base tree: a name stays a name; a path inside the repository
    becomes the same path in the base; a path outside it stays as it is (the same file, so the
    diff shows only what the code change does to it)."""
    path = Path(stack_arg)
    if path.suffix not in (".yaml", ".yml") and not path.exists():
        return stack_arg
    try:
        return str(path.resolve().relative_to(plan.ROOT))
    except ValueError:
        return str(path.resolve())


EMPTY_PLAN = {"plan.json": "{}\n"}
"""The plan of a stack none of whose services runs."""


def _known(capacity: Optional[Path]) -> Callable[[str], bool]:
    """Whether a plan can tell the GPUs of an instance type: the hardware table, its name, or the snapshot."""
    reported: set[str] = set()
    if capacity is not None:
        try:
            snapshot = json.loads(capacity.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            snapshot = {}
        for metas in (snapshot.values() if isinstance(snapshot, dict) else ()):
            if isinstance(metas, list):
                reported.update(str(m.get("InstanceType")) for m in metas if isinstance(m, dict))
    return lambda name: name in reported or instance_types.lookup(name) is not None


def as_deployed(source: Path, records: Optional[Mapping[str, deployed.Deployed]], into: Path,
                capacity: Optional[Path] = None) -> Optional[Path]:
    """``source`` rewritten into ``into`` (same file name) to plan what runs (``deployed.as_deployed``;
    ``records`` None: each service where an offline plan puts it, ``deployed.first_places``);
    ``source`` itself when it cannot be read as a stack file (its own plan then says why); None when
    none of its services runs."""
    try:
        document = stack_file.load(source.read_text(encoding="utf-8"), str(source))
    except (OSError, stack_file.StackFileError):
        return source
    if not isinstance(document, dict) or not isinstance(document.get("config"), dict):
        return source
    if records is None:
        records = deployed.first_places(document["config"])
    config = deployed.as_deployed(document["config"], records, _known(capacity))
    if not any(isinstance(v, dict) and v for k, v in config.items() if k in ("qwen3-eas:services", "services")):
        return None
    into.mkdir(parents=True, exist_ok=True)
    target = into / source.name
    target.write_text(yaml.safe_dump({**document, "config": config}, sort_keys=False, allow_unicode=True),
                      encoding="utf-8")
    return target


def requests_in(source: Path) -> dict[str, str]:
    """Service key -> what a stack file asks of its hardware (``hardware_choice.request``): the label a
    deploy of it records, which the base plan must carry although its types were rewritten."""
    try:
        document = stack_file.load(source.read_text(encoding="utf-8"), str(source))
    except (OSError, stack_file.StackFileError):
        return {}
    config = document.get("config") if isinstance(document, dict) else None
    services = (config or {}).get("qwen3-eas:services", (config or {}).get("services")) if isinstance(config, dict) else None
    found: dict[str, str] = {}
    for key, spec in (services.items() if isinstance(services, dict) else ()):
        resource = spec.get("resource") if isinstance(spec, dict) else None
        if isinstance(resource, dict) and resource.get("kind") in ("public", "spot"):
            listed = resource.get("instanceTypes")
            found[str(key)] = hardware_choice.request(str(resource["kind"]), listed if isinstance(listed, list) else None)
    return found


def with_requests(files: Mapping[str, str], requests: Mapping[str, str]) -> dict[str, str]:
    """A base plan whose ``instance-types`` labels say what its own file asked (not the rewrite)."""
    entries = json.loads(files["plan.json"])
    for key, entry in entries.items():
        tags = (entry.get("resource") or {}).get("tags")
        if isinstance(tags, dict) and hardware_choice.REQUEST_LABEL in tags and key in requests:
            tags[hardware_choice.REQUEST_LABEL] = requests[key]
    return {**files, "plan.json": json.dumps(entries, indent=2, sort_keys=True, ensure_ascii=False) + "\n"}


def plan_base(stack_arg: str, commit: str, records: Optional[Mapping[str, deployed.Deployed]] = None,
              capacity: Optional[Path] = None) -> tuple[Optional[dict[str, str]], Optional[str]]:
    """(files, None) of the stack planned by ``commit``'s own code, or (None, why not); with
    ``records``, as deployed (see the module doc): only the deployed services, each where it runs
    (so the ``capacity`` snapshot, which then gives the figures of the types it runs on, moves none)."""
    prefix = _git("rev-parse", "--show-prefix").stdout.decode().strip()
    archive = _git("archive", "--format=tar", f"{commit}:{prefix}" if prefix else commit)
    if archive.returncode != 0:
        return None, f"git archive {commit} failed: {archive.stderr.decode().strip()}"
    with tempfile.TemporaryDirectory(prefix="qwen3-eas-base-") as tmp:
        tree, out = Path(tmp) / "tree", Path(tmp) / "plan"
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tree, filter="data")
        arg = _base_stack_arg(stack_arg)
        extra: list[str] = []
        path = Path(arg)
        source = path if path.is_absolute() else tree / (path if path.suffix in (".yaml", ".yml")
                                                           else Path("stacks") / f"Pulumi.{arg}.yaml")
        requests = requests_in(source)
        if source.is_file():
            rewritten = as_deployed(source, records, Path(tmp) / "deployed", capacity)
            if rewritten is None:
                return dict(EMPTY_PLAN), None
            arg = str(rewritten)
            if records is not None and capacity is not None:
                extra = ["--capacity", str(capacity.resolve())]
        # The base's own `components` must be imported, never the working tree's.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        # Bases from before the package layout (issue 9) have the planner at components/plan.py.
        planner = "components.cli.plan" if (tree / "components" / "cli" / "plan.py").exists() else "components.plan"
        result = subprocess.run([sys.executable, "-m", planner, arg, "--out", str(out), *extra],
                                cwd=tree, env=env, capture_output=True, text=True, timeout=600, check=False)
        if result.returncode != 0:
            return None, (result.stderr.strip() or result.stdout.strip() or f"exit status {result.returncode}")
        files = with_requests({p.name: p.read_text(encoding="utf-8") for p in sorted(out.iterdir())}, requests)
    return (only_deployed(files, records) if records is not None else files), None


def plan_base_file(path: Path, records: Optional[Mapping[str, deployed.Deployed]] = None,
                   capacity: Optional[Path] = None) -> dict[str, str]:
    """A base given as a stack file, planned by this code (the lifecycle scenarios), as ``plan_base`` plans one."""
    with tempfile.TemporaryDirectory(prefix="qwen3-eas-base-") as tmp:
        source = as_deployed(path, records, Path(tmp), capacity)
        if source is None:
            return dict(EMPTY_PLAN)
        try:
            files = with_requests(plan.make_plan(str(source), capacity if records is not None else None)[1],
                                  requests_in(path))
        finally:
            plan.release_runtime_threads()
    return only_deployed(files, records) if records is not None else files


def only_deployed(files: Mapping[str, str], records: Mapping[str, deployed.Deployed]) -> dict[str, str]:
    """A plan's files with only the services the outputs list: what the base has and never
    deployed is nothing the engine compares with."""
    entries = json.loads(files["plan.json"])
    held = {key for key, record in records.items() if not record.outside}
    gone = [key for key in entries if key not in held]
    kept = {name: text for name, text in files.items() if name.removesuffix(".json") not in gone}
    kept["plan.json"] = json.dumps({k: v for k, v in entries.items() if k in held}, indent=2, sort_keys=True,
                                   ensure_ascii=False) + "\n"
    return kept


# -- what runs --------------------------------------------------------------------------------


def what_runs(base_files: Optional[Mapping[str, str]],
              records: Optional[Mapping[str, deployed.Deployed]]) -> dict[str, deployed.Deployed]:
    """What the working tree's lookups find: the outputs' services, labelled as the base's plan tags
    them (the tags the state recorded: the labels DescribeService reports); without outputs, the
    base plan as deployed as planned."""
    planned = deployed.from_plan(json.loads(base_files["plan.json"])) if base_files is not None else {}
    if records is None:
        return planned
    return {key: dataclasses.replace(record, labels=planned[key].labels) if key in planned and record.labels is None
            else record for key, record in records.items()}


# -- the working tree -------------------------------------------------------------------------


@dataclass(frozen=True)
class Head:
    """The working tree as the next ``pulumi up`` plans it, and, for two-phase moves, the run after."""

    stack: str
    files: Optional[dict[str, str]]
    error: Optional[str] = None
    held_back: dict[str, str] = dataclasses.field(default_factory=dict)
    deferred: dict[str, str] = dataclasses.field(default_factory=dict)
    """Service key -> why its first run keeps it where it runs (a drain's run 1)."""
    second: Optional[dict[str, str]] = None
    """The files of the run after the next one, where a service is deferred."""


def _stack_name(stack_arg: str) -> str:
    try:
        return plan.resolve_stack(stack_arg)[0]
    except plan.PlanError:
        return stack_arg


def after_first_run(running: Mapping[str, deployed.Deployed], files: Mapping[str, str],
                    keys: Any, project: str, stack: str) -> dict[str, deployed.Deployed]:
    """What runs after a run that records ``retainOnDelete`` on the deferred services: their copies
    now carry the label it sets (``ownership.RETAIN_LABEL``)."""
    entries = json.loads(files["plan.json"])
    names = {entries[key]["name"] for key in keys if key in entries}
    after = {}
    for key, record in running.items():
        if record.name in names:
            labels = dict(record.labels) if record.labels is not None else {
                **ownership.Owner(project, stack).labels(key)}
            record = dataclasses.replace(record, labels={**labels, ownership.RETAIN_LABEL: "true"})
        after[key] = record
    return after


def plan_head(stack_arg: str, capacity: Optional[Path], running: Mapping[str, deployed.Deployed]) -> Head:
    """The working tree planned against what runs (see the module doc)."""
    try:
        first = plan.preview_plan(stack_arg, capacity, running)
        second = None
        if first.deferred:
            after = after_first_run(running, first.files, first.deferred, plan.PROJECT, first.stack)
            second = plan.preview_plan(stack_arg, capacity, after).files
        return Head(first.stack, first.files, None, first.held_back, first.deferred, second)
    except plan.PlanError as exc:
        return Head(_stack_name(stack_arg), None, f"error: {exc}")
    finally:
        plan.release_runtime_threads()
