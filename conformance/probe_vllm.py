"""Runs inside a vLLM virtual environment: parse one ``vllm serve`` command line as vLLM would.

Usage: ``python probe_vllm.py CASES.json RESULTS.json``; each case holds the words after
``vllm`` of one start command (``serve <model dir> <flags...>``).

It calls vLLM's own CLI entry point, so the real parser (sub-commands, choices, the serve
sub-command's ``validate``) reads the words; only the final dispatch (which would start the
server) is replaced by the checks vLLM runs before it touches a GPU: the API server's
tool- and reasoning-parser validation, loading each named parser from its registry, and
building the model config from the directory's ``config.json`` (where vLLM compares
``--max-model-len`` with the length it derives from the model, and reads RoPE overrides).

This file imports nothing from the project (only its sibling ``probe_common``): it runs with
the engine's interpreter.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any


def _registered(manager: Any, attribute: str) -> list[str]:
    """Names a vLLM parser manager knows, across the releases' spellings of that registry."""
    if hasattr(manager, "list_registered"):
        return list(manager.list_registered())
    names = list(getattr(manager, attribute, {}))
    names += list(getattr(manager, "lazy_parsers", {}))
    return names


def _check_parsers(args: Any) -> list[str]:
    """The tool and reasoning parsers named on the line exist and load; returns what was checked."""
    checked: list[str] = []
    try:
        from vllm.entrypoints.openai import api_server
    except ImportError:  # pragma: no cover - every release we test has it
        api_server = None
    validate = getattr(api_server, "validate_api_server_args", None)
    if validate is not None:
        validate(args)
        checked.append("validate_api_server_args")
    tool_parser = getattr(args, "tool_call_parser", None)
    if tool_parser:
        try:
            from vllm.tool_parsers import ToolParserManager  # newest layout
        except ImportError:
            from vllm.entrypoints.openai.tool_parsers import ToolParserManager
        names = _registered(ToolParserManager, "tool_parsers")
        if tool_parser not in names:
            raise KeyError(f"invalid tool call parser: {tool_parser} (choose from {sorted(names)})")
        ToolParserManager.get_tool_parser(tool_parser)
        checked.append(f"tool parser {tool_parser} loads")
    reasoning = getattr(args, "reasoning_parser", None)
    structured = getattr(args, "structured_outputs_config", None)
    if not reasoning and structured is not None:
        reasoning = getattr(structured, "reasoning_parser", None)
    if reasoning:
        from vllm.reasoning import ReasoningParserManager

        names = _registered(ReasoningParserManager, "reasoning_parsers")
        if reasoning not in names:
            raise KeyError(f"invalid reasoning parser: {reasoning} (choose from {sorted(names)})")
        ReasoningParserManager.get_reasoning_parser(reasoning)
        checked.append(f"reasoning parser {reasoning} loads")
    return checked


def _check_model_config(args: Any) -> dict[str, Any]:
    """Build vLLM's ModelConfig from the line (no GPU needed): length and RoPE checks happen here."""
    from vllm.engine.arg_utils import AsyncEngineArgs

    engine_args = AsyncEngineArgs.from_cli_args(args)
    config = engine_args.create_model_config()
    return {"max_model_len": config.max_model_len}


def _use_cpu_platform() -> None:
    """Resolve vLLM's platform to CPU, as vLLM's own ``bench`` sub-command does on a machine
    without a GPU; otherwise building the parser fails to infer a device type."""
    from vllm import platforms
    from vllm.platforms.cpu import CpuPlatform

    if hasattr(platforms, "_current_platform"):
        platforms._current_platform = CpuPlatform()
    else:  # pragma: no cover - releases without lazy resolution
        platforms.current_platform = CpuPlatform()  # type: ignore[attr-defined]


def check_line(words: list[str]) -> dict[str, Any]:
    """Parse ``words`` with vLLM's CLI, then run the GPU-free checks; return a verdict."""
    from vllm.entrypoints.cli import serve

    verdict: dict[str, Any] = {}
    captured: dict[str, Any] = {}

    def dispatch(args: Any) -> None:
        # The first thing vLLM's own ``cmd`` does: the positional model wins over --model.
        if getattr(args, "model_tag", None) is not None:
            args.model = args.model_tag
        captured["args"] = args

    # The serve sub-command registers ``cmd`` as its dispatch function; replacing it stops
    # vLLM before it starts a server, after its own parsing and ``validate``.
    serve.ServeSubcommand.cmd = staticmethod(dispatch)  # type: ignore[method-assign]
    sys.argv = ["vllm", *words]
    try:
        from vllm.entrypoints.cli.main import main as vllm_main

        vllm_main()
    except SystemExit as exc:  # argparse refusals exit 2 after printing the reason
        return {"ok": False, "stage": "parse", "error": f"argument parser exited with {exc.code}"}
    except Exception as exc:
        traceback.print_exc()
        return {"ok": False, "stage": "parse", "error": f"{type(exc).__name__}: {exc}"}
    args = captured.get("args")
    if args is None:
        return {"ok": False, "stage": "parse", "error": "vLLM did not reach the serve sub-command"}
    stage = "parsers"
    try:
        verdict["checked"] = _check_parsers(args)
        stage = "model config"
        verdict["model_config"] = _check_model_config(args)
    except Exception as exc:
        traceback.print_exc()
        verdict.update(ok=False, stage=stage, error=f"{type(exc).__name__}: {exc}")
        return verdict
    verdict["ok"] = True
    return verdict


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from probe_common import run_cases

    _use_cpu_platform()
    import vllm

    sys.exit(run_cases(check_line, getattr(vllm, "__version__", "?"), sys.argv[1], sys.argv[2]))
