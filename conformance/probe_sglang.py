"""Runs inside an SGLang virtual environment: check start commands as ``sglang.launch_server`` would.

Usage: ``python probe_sglang.py CASES.json RESULTS.json``; each case holds the words after
``python3 -m sglang.launch_server``.

``launch_server`` first calls ``prepare_server_args(argv)``: SGLang's own argument parser
(choices included) and ``ServerArgs.__post_init__`` (its cross-flag checks). The probe does
exactly that, then what the server does before it touches a GPU: it builds the model config
from the directory's ``config.json`` (where SGLang compares ``--context-length`` with the
length it derives, after ``--json-model-override-args``) and looks up the tool-call and
reasoning parsers in their registries, constructing each.

This file imports nothing from the project (only its sibling ``probe_common``): it runs with
the engine's interpreter.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
import traceback
import types
from typing import Any


def _parser_registries() -> tuple[dict[str, Any], Any]:
    """SGLang's tool-call detector registry and its reasoning-parser class, across layouts."""
    try:
        from sglang.srt.function_call.function_call_parser import FunctionCallParser
    except ImportError:  # 0.4.6 kept it in one module
        from sglang.srt.function_call_parser import FunctionCallParser  # type: ignore[no-redef]
    try:
        from sglang.srt.parser.reasoning_parser import ReasoningParser
    except ImportError:  # before 0.5 it lived beside the server
        from sglang.srt.reasoning_parser import ReasoningParser  # type: ignore[no-redef]
    return FunctionCallParser.ToolCallParserEnum, ReasoningParser


STAND_INS = ("torchvision", "sgl_kernel")
"""GPU-only packages SGLang imports on the way to its argument checks, never calling them there.

PyPI's torchvision is a CUDA build whose ``_C.so`` needs ``libtorch_cuda.so`` (``operator
torchvision::nms does not exist`` against the CPU torch); SGLang imports ``torchvision.io``
for image inputs when its utilities load. ``sgl_kernel`` (CUDA kernels; its CPU build is not
on PyPI) is imported by the memory-pool module that ``ServerArgs`` reaches through its
context-parallel defaults. Neither is called by argument handling or the model config.
"""


class _Missing:
    """Any name inside a stand-in package: attribute access works, calling raises."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> _Missing:
        if attr.startswith("__"):  # introspection (__file__, __wrapped__, ...) finds nothing
            raise AttributeError(attr)
        return _Missing(f"{self._name}.{attr}")

    def __call__(self, *_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError(f"{self._name}: a stand-in in the conformance environment (GPU-only package)")

    def __mro_entries__(self, _bases: tuple[Any, ...]) -> tuple[type, ...]:
        return (object,)


class _StandInFinder:
    """Meta-path finder that serves every module of the ``STAND_INS`` packages as a stand-in."""

    def __init__(self, packages: tuple[str, ...]) -> None:
        self.packages = packages

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname.split(".", 1)[0] not in self.packages:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)  # type: ignore[arg-type]

    def create_module(self, spec: Any) -> Any:
        module = types.ModuleType(spec.name)
        module.__path__ = []  # type: ignore[attr-defined]
        # transformers parses the version of any torchvision it finds; this one compares
        # below every real release, so no version-gated path is taken.
        module.__version__ = "0.0.0"  # type: ignore[attr-defined]
        module.__getattr__ = _Missing(spec.name).__getattr__  # type: ignore[method-assign]
        return module

    def exec_module(self, module: Any) -> None:
        return None


def install_stand_ins() -> list[str]:
    """Serve the ``STAND_INS`` packages that cannot import here; returns their names."""
    missing = []
    for package in STAND_INS:
        try:
            __import__(package)
        except Exception:  # absent, or a CUDA build that cannot load against CPU torch
            missing.append(package)
            for name in [m for m in sys.modules if m.split(".", 1)[0] == package]:
                del sys.modules[name]
    if missing:
        sys.meta_path.insert(0, _StandInFinder(tuple(missing)))
    return missing


def check_line(words: list[str]) -> dict[str, Any]:
    """Parse ``words`` as ``launch_server`` does, then run the GPU-free checks; return a verdict."""
    from sglang.srt.server_args import prepare_server_args

    verdict: dict[str, Any] = {"checked": []}
    try:
        server_args = prepare_server_args(words)
    except SystemExit as exc:  # argparse refusals exit 2 after printing the reason
        return {"ok": False, "stage": "parse", "error": f"argument parser exited with {exc.code}"}
    except Exception as exc:
        traceback.print_exc()
        return {"ok": False, "stage": "server args", "error": f"{type(exc).__name__}: {exc}"}
    stage = "parsers"
    try:
        tools, reasoning = _parser_registries()
        if server_args.tool_call_parser:
            name = server_args.tool_call_parser
            if name not in tools:
                raise KeyError(f"unknown tool-call parser {name} (choose from {sorted(tools)})")
            tools[name]()
            verdict["checked"].append(f"tool parser {name} constructs")
        if server_args.reasoning_parser:
            name = server_args.reasoning_parser
            reasoning(name)
            verdict["checked"].append(f"reasoning parser {name} constructs")
        stage = "model config"
        from sglang.srt.configs.model_config import ModelConfig

        config = ModelConfig.from_server_args(server_args)
        verdict["model_config"] = {"context_len": config.context_len}
    except Exception as exc:
        traceback.print_exc()
        verdict.update(ok=False, stage=stage, error=f"{type(exc).__name__}: {exc}")
        return verdict
    verdict["ok"] = True
    return verdict


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from probe_common import run_cases

    install_stand_ins()
    import sglang

    sys.exit(run_cases(check_line, getattr(sglang, "__version__", "?"), sys.argv[1], sys.argv[2]))
