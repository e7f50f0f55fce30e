"""The package layout's one-way import direction, read from the source (every import, also inside
functions and under ``if TYPE_CHECKING``: a type is a dependency too).

    tools (components/cli) and the program -> components (Pulumi wiring) -> components/core (pure)
    components/eas (the EAS API) is imported only by the wiring and the tools

Inside components/core, each sub-package imports only the packages ``CORE_DIRECTIONS`` lists for
it, a graph without a cycle (nor has any module a circle with another):

    plan -> running -> hardware -> stack -> engines -> models -> errors.py

A newcomer finds a module's role from its folder; this test keeps that true.
"""

from __future__ import annotations

import ast
import graphlib
import importlib
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "components"

# What each wing may import from the project, and which outside libraries it must never load.
PULUMI = ("pulumi", "pulumi_alicloud", "pulumi_policy")
NETWORK = ("requests", "alibabacloud_eas20210701", "alibabacloud_credentials", "alibabacloud_tea_openapi",
           "Tea", "darabonba", "openai", "urllib3", "httpx")
RULES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # wing: (project packages it may import, third-party roots it must not import)
    "core": (("components.core",), PULUMI + NETWORK),
    "eas": (("components.core", "components.eas"), PULUMI),
    "wiring": (("components.core", "components.eas", "components.service", "components.endpoint",
                "components.drain", "components.providers", "components.program", "components.dynamic_pickle"), ()),
    "policy": (("components.core", "policy"), PULUMI[:2] + NETWORK),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports, relative imports resolved."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            # `from components.core.hardware import sizing` imports components.core.hardware.sizing
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


# The pack's pure modules: the facts a rule reads and the rules (the rest of policy/ is its wiring).
PURE_POLICY = ("facts.py", "rules.py")


def _wing(path: Path) -> str:
    rel = path.relative_to(ROOT).parts
    if rel[0] == "policy":
        return "policy" if path.name in PURE_POLICY else "pack"
    if rel[1] in ("core", "eas", "cli"):
        return rel[1]
    return "wiring"


SOURCES = sorted([*PACKAGE.rglob("*.py"), *(ROOT / "policy" / name for name in PURE_POLICY)])


def _project(name: str) -> bool:
    return name.split(".")[0] in ("components", "policy")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_flow_one_way(path: Path) -> None:
    wing = _wing(path)
    if wing in ("cli", "pack") or (path.name in ("__main__.py", "plan.py") and path.parent == PACKAGE):
        return  # the tools (and their entry points) may use every wing
    allowed, forbidden = RULES[wing]
    wrong = sorted(
        name for name in _imports(path)
        if (_project(name) and not name.startswith(allowed) and name not in ("components", "policy"))
        or name.split(".")[0] in forbidden
    )
    assert not wrong, f"{path.relative_to(ROOT)} ({wing}) must not import {wrong}"


def test_every_module_sits_in_a_wing() -> None:
    """The top of components/ holds the Pulumi wiring only; everything else lives in a wing."""
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "drain.py", "dynamic_pickle.py", "endpoint.py", "plan.py",
                   "program.py", "providers.py", "service.py"]


def test_core_loads_nothing_from_pulumi_or_the_network_at_run_time() -> None:
    """Checked in a fresh interpreter too: a transitive import would not show in the source scan."""
    modules = " ".join(_module_name(p) for p in CORE_SOURCES)
    code = (f"import importlib, sys\nfor m in {modules.split()!r}: importlib.import_module(m)\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(PULUMI + NETWORK)!r})))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


# -- inside components/core: sub-packages by concept, imported one way ----------------------------

CORE = PACKAGE / "core"
CORE_SOURCES = sorted(CORE.rglob("*.py"))

# What each part of the core may import besides itself: the direction between concepts. A new
# edge is a design decision: add it here only if the graph stays without a cycle.
CORE_DIRECTIONS: dict[str, tuple[str, ...]] = {
    "errors": (),  # errors.py: the problems every package reports
    "models": ("errors",),  # what each model is, and what a service may ask of it
    "engines": ("models", "errors"),  # images, releases, flags, the start script
    "stack": ("models", "engines", "errors"),  # the stack file: it names models, images and regions
    "hardware": ("models", "stack", "errors"),  # what a replica runs on, where there is stock
    "running": ("hardware", "stack", "errors"),  # what already runs (what it runs on: hardware)
    "plan": ("models", "engines", "stack", "hardware", "running", "errors"),  # one service's plan, the stack's
}
MAX_CORE_ENTRIES = 8
"""What a newcomer sees at the top of components/core (besides ``__init__.py``): the packages,
``errors.py`` and ``data/`` (the hardware table's CSV files, named by path in plans and messages)."""


def _core_part(name: str) -> Optional[str]:
    """The part of the core a dotted name lies in (``components.core.hardware.sizing`` -> ``hardware``)."""
    parts = name.split(".")
    return parts[2] if parts[:2] == ["components", "core"] and len(parts) > 2 else None


def test_the_core_directions_have_no_cycle() -> None:
    order = list(graphlib.TopologicalSorter(CORE_DIRECTIONS).static_order())
    assert order[0] == "errors" and order[-1] == "plan"


def test_the_core_holds_a_few_concepts_each_a_package_with_its_docstring() -> None:
    entries = sorted(p.name for p in CORE.iterdir() if p.name not in ("__init__.py", "__pycache__"))
    packages = sorted(p.name for p in CORE.iterdir() if (p / "__init__.py").exists())
    assert entries == sorted([*packages, "errors.py", "data"])
    assert len(entries) <= MAX_CORE_ENTRIES
    assert set(packages) | {"errors"} == set(CORE_DIRECTIONS)
    for package in packages:
        docstring = ast.get_docstring(ast.parse((CORE / package / "__init__.py").read_text()))
        assert docstring and len(docstring) > 200, f"components/core/{package}/__init__.py: say what the package decides"
    assert {p.parent for p in CORE_SOURCES} <= {CORE, *(CORE / package for package in packages)}


@pytest.mark.parametrize("path", CORE_SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_packages_import_one_way(path: Path) -> None:
    rel = path.relative_to(CORE).parts
    own = rel[0] if len(rel) > 1 else path.stem
    if own == "__init__":
        assert not {n for n in _imports(path) if _core_part(n)}, "components/core/__init__.py is the map only"
        return
    allowed = {own, *CORE_DIRECTIONS[own]}
    wrong = sorted(n for n in _imports(path) if (part := _core_part(n)) is not None and part not in allowed)
    assert not wrong, f"{path.relative_to(ROOT)} ({own}) may import only {sorted(allowed)}, not {wrong}"


def test_no_core_module_is_in_an_import_circle() -> None:
    modules = {_module_name(p) for p in CORE_SOURCES}
    graph: dict[str, set[str]] = {}
    for path in CORE_SOURCES:
        name = _module_name(path)
        graph[name] = {m for m in _imports(path) if m in modules and m != name}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        pytest.fail(f"an import circle (each imports the next): {' -> '.join(reversed(exc.args[1]))}")


def test_the_plan_reaches_the_hardware_decision_through_one_entry() -> None:
    """``planning`` calls ``hardware.verdict`` alone; from the other hardware modules it takes types only."""
    path = CORE / "plan" / "planning.py"
    hardware, entry = "components.core.hardware", "components.core.hardware.verdict"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            assert not [a.name for a in node.names if a.name.startswith(hardware) and a.name != entry]
        if not isinstance(node, ast.ImportFrom):
            continue
        module = f"components.core.{node.module}" if node.level == 2 else node.module or ""
        if module == hardware:
            assert [a.name for a in node.names] == ["verdict"], f"planning: {ast.unparse(node)}"
        elif module.startswith(hardware + ".") and module != entry:
            imported = importlib.import_module(module)
            for alias in node.names:
                assert isinstance(getattr(imported, alias.name), type), f"planning calls {module}.{alias.name}"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_one_entry_point_lists_every_subcommand(tmp_path: Path) -> None:
    done = _run(sys.executable, "-m", "components", "--help", cwd=ROOT)
    assert done.returncode == 0
    for sub in ("plan", "diff", "capacity", "pin", "smoke", "schema"):
        assert f"  {sub} " in done.stdout
    unknown = _run(sys.executable, "-m", "components", "deploy", cwd=ROOT)
    assert unknown.returncode == 2 and "unknown subcommand 'deploy'" in unknown.stderr


def test_plan_through_the_installed_script_the_module_and_the_old_path_agree(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "qwen3-eas"
    if not script.exists():
        pytest.skip("the console script is installed by `make venv`")
    outs = {}
    for label, argv in {
        "script": [str(script), "plan", "dev"],
        "module": [sys.executable, "-m", "components", "plan", "dev"],
        "old": [sys.executable, "-m", "components.plan", "dev"],
    }.items():
        out = tmp_path / label
        # The script runs from another directory: the editable install makes the project importable there.
        done = _run(*argv, "--out", str(out), cwd=tmp_path if label == "script" else ROOT)
        assert done.returncode == 0, done.stderr
        outs[label] = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
        if label == "old":
            assert "deprecated" in done.stderr and "qwen3-eas plan" in done.stderr
    assert outs["script"] == outs["module"] == outs["old"]
