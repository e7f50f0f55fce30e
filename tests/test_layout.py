"""The package layout's one-way import direction, read from the source (every import, also inside functions).

    tools (components/cli) and the program -> components (Pulumi wiring) -> components/core (pure)
    components/eas (the EAS API) is imported only by the wiring and the tools

A newcomer finds a module's role from its folder; this test keeps that true.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

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
            # `from components.core import sizing` imports components.core.sizing
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
    modules = " ".join(f"components.core.{p.stem}" for p in (PACKAGE / "core").glob("*.py") if p.stem != "__init__")
    code = (f"import importlib, sys\nfor m in {modules.split()!r}: importlib.import_module(m)\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(PULUMI + NETWORK)!r})))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_an_offline_plan_loads_no_eas_sdk_or_network_library(tmp_path: Path) -> None:
    """An offline plan never calls EAS, so it does not pay for importing the SDK, its credentials
    chain and aiohttp (a quarter of a second of every plan's start-up); `pulumi up` loads them when
    it probes stock or looks services up."""
    code = ("import sys\nfrom components.cli import main\n"
            f"assert main(['plan', 'dev', '--out', {str(tmp_path / 'out')!r}]) == 0\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({[*NETWORK, 'aiohttp']!r})))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


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
