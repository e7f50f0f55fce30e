"""Offline plan: run the real ``__main__.py`` on Pulumi's mock runtime and write what it would send.

    qwen3-eas plan <stack name | path/to/Pulumi.<name>.yaml> --out build/<name>

No Pulumi CLI, no credentials, no network. Writes ``<key>.json`` (the service_config passed to
``alicloud.pai.Service``), ``plan.json`` and ``plan.md``. An invalid stack prints one message
per problem, writes nothing and exits 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import functools
import gc
import json
import logging
import os
import runpy
import shutil
import sys
import tempfile
import weakref
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, ParamSpec, TypeVar

from ..core.plan import report
from ..core.running import deployed
from ..core.stack import stack_file
from ..eas import running, stock
from . import PROG, described, make_words, stacks

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "__main__.py"
SERVICE_TYPE = "alicloud:pai/service:Service"
COMPONENT_TYPE = "qwen3-eas:eas:Qwen3EasService"
PROJECT = "qwen3-eas"
STACK_FILE = "plan.stack.json"
"""The plan's stack-wide facts (its hourly cost); no service key can name this file (keys have no dots)."""


class PlanError(Exception):
    """A plan that cannot be made; the message is for the person who ran it."""


@dataclass
class Recorded:
    """What the program registered, as the mock runtime saw it."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    component_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Service key -> plan summary, from the components the program built."""
    parents: dict[str, str] = field(default_factory=dict)
    """URN -> parent URN of every registered resource."""
    requests: list[Any] = field(default_factory=list)
    """Every RegisterResourceRequest as the program sent it to the monitor (options included)."""
    held_back: dict[str, str] = field(default_factory=dict)
    """Service key -> why the program did not register it this run (a preview only; ``up`` fails)."""
    deferred: dict[str, str] = field(default_factory=dict)
    """Service key -> why it stays where it runs this run: the first run of a two-phase move (``drain``)."""

    def stack_outputs(self) -> dict[str, Any]:
        """The program's ``pulumi.export`` values."""
        for urn, outputs in self.component_outputs.items():
            if urn.split("::")[2] == "pulumi:pulumi:Stack" and outputs:
                return outputs
        return {}

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == type_]


def resolve_stack(arg: str) -> tuple[str, Path]:
    """(stack name, stack file) from a name (``dev``) or a path (``stacks/Pulumi.dev.yaml``)."""
    path = Path(arg)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise PlanError(f"stack file {arg} does not exist")
        # Pulumi.<stack>.yaml names its stack; any other file is named by its stem.
        parts = path.name.split(".")
        name = ".".join(parts[1:-1]) if parts[0] == "Pulumi" and len(parts) >= 3 else path.stem
        return name, path
    path = stacks.stack_file(arg)
    if not path.is_file():
        near = stacks.closest(arg)
        hint = f"did you mean {near!r}? " if near else ""
        raise PlanError(f"no stack {arg!r}: {path.relative_to(ROOT)} does not exist ({hint}stacks: "
                        f"{', '.join(stacks.names())})")
    return arg, path


def read_stack_config(path: Path) -> dict[str, str]:
    """The stack file's ``config:`` as Pulumi hands it to a program: object values as JSON text."""
    try:
        document = stack_file.load(path.read_text(encoding="utf-8"), str(path)) or {}
    except stack_file.StackFileError as exc:
        raise PlanError(str(exc)) from None
    if not isinstance(document, dict) or not document:
        raise PlanError(f"{path}: the file is empty or not a mapping; a stack file has its settings under a "
                        "'config:' key (see stacks/Pulumi.dev.yaml)")
    if "config" not in document:
        found = ", ".join(str(k) for k in document)
        raise PlanError(f"{path}: no 'config:' key at the top of the file (found {found}); Pulumi reads a stack's "
                        "settings only under a 'config:' line: put them under a 'config:' line, indented by two spaces")
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise PlanError(f"{path}: 'config:' must be a mapping")
    flat: dict[str, str] = {}
    encrypted: list[str] = []
    for key, value in config.items():
        key = str(key)
        if ":" not in key:
            key = f"{PROJECT}:{key}"  # Pulumi's rule: bare keys belong to the project
        if isinstance(value, dict) and set(value) == {"secure"}:
            if key.startswith(f"{PROJECT}:"):
                encrypted.append(key)
            flat[key] = "[secret]"
        elif isinstance(value, (dict, list)):
            flat[key] = json.dumps(value, default=str)  # an unquoted YAML time is a datetime
        elif isinstance(value, bool):
            flat[key] = "true" if value else "false"
        else:
            flat[key] = str(value)
    if encrypted:
        raise PlanError("\n".join(
            f"{path}: {key} is encrypted (secure:), but it is not a secret (no {PROJECT}: key is), and the offline "
            f"plan cannot decrypt it. Fix: write its value in the clear (`pulumi config set {key} <value>`, "
            "without --secret)" for key in encrypted))
    return flat


def _warnings_logger() -> logging.Logger:
    """Program warnings go to stderr as ``warning: ...``; they are in plan.md as well."""
    logger = logging.getLogger("qwen3-eas.plan")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("warning: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
        logger.propagate = False
    return logger


P = ParamSpec("P")
R = TypeVar("R")


def in_own_context(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` in a copy of the caller's context variables, dropped when it returns.

    The runtime keeps the stack (and through it every resource and output) in context
    variables. Set in the caller's context, an event loop created later captures them, and every
    plan run in one process stays alive (docs/benchmarks.md).
    """
    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return contextvars.copy_context().run(fn, *args, **kwargs)

    return run


@in_own_context
def run_program(stack: str, config: dict[str, str], program: Path = PROGRAM,
                capacity: Optional[Path] = None, look_up_running: bool = False, preview: bool = False,
                stack_path: Optional[Path] = None, collect: bool = True, running_file: Optional[Path] = None) -> Recorded:
    """Run ``program`` on the mock runtime with ``config``; return what it registered.

    Stock comes from the ``capacity`` snapshot, or none at all, and no service is looked up:
    an offline plan never calls the EAS API. ``running_file`` is a deployed stack's outputs: the
    program's lookups are answered from it (``components.core.running.deployed``), as the deploy's
    DescribeService would answer them. ``look_up_running`` lets the program look its
    services up as ``pulumi up`` does (tests point it at a local fake EAS with
    ``QWEN3_EAS_API_ENDPOINT``). ``preview`` runs it as ``pulumi preview`` would (dry run).
    ``Recorded.requests`` keeps every RegisterResource request. ``stack_path`` is the file
    ``config`` was read from, which the program then checks for duplicate keys. ``collect=False``
    is for a process that ends after this plan (see ``cycle_collection_deferred``).
    """
    import pulumi
    from pulumi.runtime import mocks, rpc
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    recorded = Recorded()

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[Optional[str], dict]:
            recorded.resources.append(
                {"type": args.typ, "name": args.name, "inputs": dict(args.inputs), "provider": args.provider or ""}
            )
            state = dict(args.inputs)
            if args.typ == SERVICE_TYPE:
                state.setdefault("status", "Running")
            return f"{args.name}-id", state

        def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, Optional[list[tuple[str, str]]]]:
            return {}, None

    class Monitor(mocks.MockMonitor):
        def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
            recorded.requests.append(request)
            response = super().RegisterResource(request)
            recorded.parents[response.urn] = request.parent
            return response

        def RegisterResourceOutputs(self, request):  # noqa: N802 (gRPC method name)
            outputs = rpc.deserialize_properties(request.outputs)
            recorded.component_outputs[request.urn] = outputs
            return super().RegisterResourceOutputs(request)

    pulumi.runtime.set_all_config(config)
    pulumi.runtime.settings.SETTINGS.rpc_manager.clear()
    pulumi.runtime.settings.SETTINGS.outputs.clear()
    pulumi.runtime.set_mocks(Mocks(), project=PROJECT, stack=stack, preview=preview,
                             monitor=Monitor(Mocks()), logger=_warnings_logger())

    def body() -> None:
        namespace = runpy.run_path(str(program), run_name="__main__")
        for key, component in (namespace.get("services") or {}).items():
            recorded.summaries[key] = component.plan.summary()
        recorded.held_back = dict(getattr(namespace.get("services"), "held_back", None) or {})
        recorded.deferred = dict(getattr(namespace.get("services"), "deferred", None) or {})
        # The mock runtime registers the root stack before the program runs; register it again
        # so the program's exports are recorded as `pulumi up` would record them.
        root = pulumi.runtime.get_root_resource()
        if isinstance(root, pulumi.ComponentResource):
            root.register_outputs(dict(getattr(root, "outputs", {})))

    cwd = os.getcwd()
    saved = {name: os.environ.get(name) for name in (stock.ENV, running.ENV, stack_file.PATH_ENV)}
    os.environ[stock.ENV] = str(capacity.resolve()) if capacity else stock.OFFLINE
    if stack_path is not None:
        os.environ[stack_file.PATH_ENV] = str(stack_path.resolve())
    if running_file is not None:
        os.environ[running.ENV] = str(running_file.resolve())
    elif not look_up_running:
        os.environ[running.ENV] = running.OFFLINE
    os.chdir(program.parent)
    _track_worker_loops(asyncio.get_event_loop())
    try:
        with cycle_collection_deferred(collect):
            _sync_await(run_pulumi_func(body))
    except pulumi.RunError as exc:
        raise PlanError(str(exc)) from None
    finally:
        os.chdir(cwd)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return recorded


@contextmanager
def cycle_collection_deferred(collect: bool = True) -> Iterator[None]:
    """Python's cycle collector paused while the program registers, then one collection.

    Until the program ends, the runtime keeps every resource's outputs and futures alive, so each
    automatic full collection walks a heap that grows with the stack: at 1000 services they took
    6.6 of 9.3 s and made the plan grow faster than the stack (docs/benchmarks.md). Paused, the
    garbage waits for the one collection here (about 16 MB more at the peak for 1000 services).

    With ``collect=False`` (``qwen3-eas plan``, a process that ends after writing the plan) there
    is no collection at all: what the run left is frozen out of the collector's sight instead
    (``gc.freeze``), so neither the next automatic collection nor the one at exit walks it again.
    The memory is the operating system's to take back a moment later.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        if collect:
            gc.collect()
        else:
            gc.freeze()


def _provider_name(reference: str) -> str:
    """``alicloud-cn-hangzhou`` from a provider reference (``<provider URN>::<ID>``)."""
    return reference.rsplit("::", 2)[-2] if reference.count("::") >= 2 else reference


def resource_entry(resource: dict[str, Any], request: Any) -> dict[str, Any]:
    """The EAS service as the engine sees it: its inputs besides the service JSON, its provider
    and the resource options the program sent (``plan.json``'s ``resource``; the diff's steps
    are read from it, ``components.core.plan.steps``)."""
    inputs = resource["inputs"]
    return {
        "type": resource["type"],
        "name": resource["name"],
        "provider": _provider_name(request.provider),
        "tags": dict(inputs.get("tags") or {}),
        "workspaceId": inputs.get("workspaceId"),
        "options": {
            "protect": bool(request.protect),
            "retainOnDelete": bool(request.retainOnDelete),
            "deleteBeforeReplace": bool(request.deleteBeforeReplace),
            "replacementTrigger": request.replacement_trigger.string_value or None,
            # Only when set: a service taken back by its ID (what the lookup found running).
            **({"import": request.importId} if request.importId else {}),
        },
    }


def plan_files(stack: str, recorded: Recorded) -> dict[str, str]:
    """File name -> contents of the plan, from what the program registered."""
    requests = {r.name: r for r in recorded.requests if r.type == SERVICE_TYPE}
    summaries = dict(recorded.summaries)
    configs: dict[str, str] = {}
    for res in recorded.of_type(SERVICE_TYPE):
        key = res["name"].removesuffix("-service")
        configs[key] = res["inputs"]["serviceConfig"]
        if key in summaries and res["name"] in requests:
            summaries[key] = {**summaries[key], "resource": resource_entry(res, requests[res["name"]])}
    files = {f"{key}.json": report.service_json_file(text) for key, text in sorted(configs.items())}
    files["plan.json"] = report.plan_json(summaries)
    stack_cost = recorded.stack_outputs().get("cost")
    files[STACK_FILE] = json.dumps({"cost": stack_cost}, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    files["plan.md"] = report.plan_markdown(stack, summaries, stack_cost)
    return files


def write_atomically(out: Path, files: dict[str, str]) -> None:
    """Replace ``out`` with exactly ``files`` (no stale files of removed services survive)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    for name, text in files.items():
        (staging / name).write_text(text, encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)


FAILED_FILE = "PLAN-FAILED.txt"
"""What a failed plan leaves in place of an earlier plan's files."""


def _default_out(stack_arg: str) -> Path:
    """Where ``make plan`` would have written: build/<stack name>."""
    try:
        return ROOT / "build" / resolve_stack(stack_arg)[0]
    except PlanError:
        return ROOT / "build" / Path(stack_arg).name


def mark_failed(out: Path, error: str) -> None:
    """Replace an earlier plan in ``out`` with the error: a stale plan must never pass for this one.

    Nothing is created where no plan was before.
    """
    if not out.is_dir():
        return
    write_atomically(out, {FAILED_FILE: f"The last plan of this stack failed; no plan is current.\n\n{error}\n"})
    print(f"{out}: the previous plan was removed ({FAILED_FILE} says why)", file=sys.stderr)


def make_plan(stack_arg: str, capacity: Optional[Path] = None, collect: bool = True,
              outputs: Optional[Path] = None) -> tuple[str, dict[str, str]]:
    """Plan a stack: (stack name, files); ``collect`` as for ``run_program``. ``outputs``: the deployed
    stack's outputs, so that running services stay where, and on what, they run (``OUTPUTS=``)."""
    stack, path = resolve_stack(stack_arg)
    _check_file(capacity, "capacity snapshot", "CAPACITY=", "--capacity",
                "write one with `make capacity REGIONS=\"<region> ...\"`")
    _check_file(outputs, "outputs file", "OUTPUTS=", "--outputs",
                "write one with `pulumi stack output --json --stack <stack>`")
    recorded = run_program(stack, read_stack_config(path), capacity=capacity, stack_path=path, collect=collect,
                           running_file=outputs)
    return stack, plan_files(stack, recorded)


def _check_file(path: Optional[Path], what: str, make_arg: str, flag: str, how: str) -> None:
    if path is not None and not path.is_file():
        raise PlanError(f"{what} {path} does not exist: check the path given to {make_words(make_arg, flag)}, or {how}")


@dataclass(frozen=True)
class Preview:
    """A stack planned as ``pulumi preview`` plans it, with what runs and, maybe, the stock."""

    stack: str
    files: dict[str, str]
    held_back: dict[str, str]
    """Service key -> why the run would not register it."""
    deferred: dict[str, str]
    """Service key -> why it stays where it runs (the first run of a two-phase move)."""


def preview_plan(stack_arg: str, capacity: Optional[Path], running: Mapping[str, deployed.Deployed]) -> Preview:
    """Plan a stack as ``pulumi preview`` would: its lookups answered from ``running`` (what the last
    deploy left, ``components.core.running.deployed``), its stock from ``capacity`` (or none).

    A service no region can run now is held back by key, with why, instead of failing the plan.
    """
    stack, path = resolve_stack(stack_arg)
    _check_file(capacity, "capacity snapshot", "CAPACITY=", "--capacity",
                "write one with `make capacity REGIONS=\"<region> ...\"`")
    with tempfile.TemporaryDirectory(prefix="qwen3-eas-running-") as tmp:
        record = Path(tmp) / "outputs.json"
        record.write_text(json.dumps(deployed.write(running), sort_keys=True), encoding="utf-8")
        recorded = run_program(stack, read_stack_config(path), capacity=capacity, preview=True, stack_path=path,
                               running_file=record)
    return Preview(stack, plan_files(stack, recorded), recorded.held_back, recorded.deferred)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog=f"{PROG} plan", description=described(__doc__.splitlines()[0]))
    parser.add_argument("stack", help="stack name (stacks/Pulumi.<name>.yaml) or path to a stack file")
    parser.add_argument("--out", type=Path, help="output folder (default build/<stack>)")
    parser.add_argument("--capacity", type=Path, help="capacity snapshot (region -> DescribeMachineSpec InstanceMetas)")
    parser.add_argument("--outputs", type=Path, metavar="FILE",
                        help="the deployed stack's outputs (`pulumi stack output --json`): services that run stay "
                        "where, and on the instance types, they run, as pulumi up keeps them")
    args = parser.parse_args(argv)
    try:
        # This process ends once the files are written: nothing to collect for a later plan.
        stack, files = make_plan(args.stack, args.capacity, collect=False, outputs=args.outputs)
    except PlanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        mark_failed(args.out or _default_out(args.stack), str(exc))
        return 2
    finally:
        release_runtime_threads(collect=False)
    out = args.out or ROOT / "build" / stack
    write_atomically(out, files)
    print(f"planned {len(files) - 3} service(s) of stack {stack!r} into {out}")
    return 0


_worker_loops: list[asyncio.AbstractEventLoop] = []
"""The event loop of each of the runtime's worker threads, to close when they are done."""
_equipped_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
"""Loops whose default executor is ours already."""


def _track_worker_loops(loop: asyncio.AbstractEventLoop) -> None:
    """Give ``loop`` a default executor whose threads each start with an event loop kept here.

    The mock monitor runs in the loop's executor threads, and the SDK makes each of them an event
    loop of its own (``sync_await._ensure_event_loop``) when it has none; made here instead, they
    can be closed by name rather than found by walking every object on the heap.
    """
    if loop in _equipped_loops:
        return

    def with_a_loop() -> None:
        worker_loop = asyncio.new_event_loop()
        asyncio.set_event_loop(worker_loop)
        _worker_loops.append(worker_loop)

    loop.set_default_executor(ThreadPoolExecutor(thread_name_prefix="qwen3-eas-runtime", initializer=with_a_loop))
    _equipped_loops.add(loop)


def release_runtime_threads(collect: bool = True) -> None:
    """End the mock runtime's worker threads and close their event loops, explicitly.

    Left to the garbage collector (at exit above all) such a loop can be finalised after its
    own sockets and print a spurious traceback. A later plan in this process gets a new loop.
    ``collect=False``: no collection afterwards (a process about to exit).
    """
    loop = asyncio.get_event_loop()
    if not loop.is_closed():
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
    while _worker_loops:
        worker_loop = _worker_loops.pop()
        if not worker_loop.is_running() and not worker_loop.is_closed():
            worker_loop.close()
    asyncio.set_event_loop(asyncio.new_event_loop())
    if collect:
        gc.collect()


def close_idle_loops() -> None:
    """Close every event loop left idle in this process, wherever it came from (a last resort at
    exit: it walks every object on the heap)."""
    for obj in gc.get_objects():
        if isinstance(obj, asyncio.AbstractEventLoop) and not obj.is_running() and not obj.is_closed():
            obj.close()


if __name__ == "__main__":
    status = main()
    close_idle_loops()
    sys.exit(status)
