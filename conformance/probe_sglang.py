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
        # A stood-in module, anything inside it, or a package on the way to it.
        if not any(fullname == name or fullname.startswith(name + ".") or name.startswith(fullname + ".")
                   for name in self.packages):
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


OLD_RELEASE_STAND_INS = ("vllm._custom_ops",)
"""SGLang 0.4.x imports vLLM's custom ops on its non-CUDA path when the model config loads its
quantization methods (``layers/quantization/utils.py``: ``if not _is_cuda: from vllm._custom_ops
import scaled_fp8_quant``); on a CUDA host it would not. Only that module is stood in (its
parent ``vllm`` is an empty package): the release's optional ``vllm.model_executor`` imports
still fail as they do without vLLM. Used for releases before 0.5 only."""


def stand_ins_for(version: str) -> tuple[str, ...]:
    """The packages to stand in for on SGLang ``version``."""
    major_minor = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    return STAND_INS + (OLD_RELEASE_STAND_INS if major_minor < (0, 5) else ())


def install_stand_ins(packages: tuple[str, ...] = STAND_INS) -> list[str]:
    """Serve those of ``packages`` that cannot import here; returns their names."""
    missing = []
    for package in packages:
        try:
            __import__(package)
        except Exception:  # absent, or a CUDA build that cannot load against CPU torch
            missing.append(package)
            top = package.split(".", 1)[0]
            for name in [m for m in sys.modules if m.split(".", 1)[0] == top]:
                del sys.modules[name]
    if missing:
        sys.meta_path.insert(0, _StandInFinder(tuple(missing)))
    return missing


def answer_device_lookup() -> list[str]:
    """Let ``ServerArgs`` of releases without a CPU platform resolve its device.

    Newer SGLang reads ``SGLANG_USE_CPU_ENGINE`` (set by the runner) and runs its CPU path.
    Older releases (0.4.6) know only accelerators: ``get_device()`` raises "No accelerator".
    There the probe answers that lookup with ``cuda``, the device EAS gives the server, and
    the compute-capability lookup with (9, 0), a Hopper GPU such as EAS's GU120 (0.4.6's
    quantization check multiplies the capability's parts, which are None without a GPU);
    0.4.6 then asks for the GPU's memory, finds it unknown off a CUDA build, and keeps the
    ``--mem-fraction-static`` we always pass. Returns what was answered.
    """
    from sglang.srt import server_args, utils

    lookup = getattr(server_args, "get_device", None)
    if lookup is None:
        return []
    try:
        lookup()
        return []
    except RuntimeError:
        server_args.get_device = lambda *_args, **_kwargs: "cuda"  # type: ignore[attr-defined]
        # Bound before the quantization modules import it by name.
        utils.get_device_capability = lambda *_args, **_kwargs: (9, 0)  # type: ignore[attr-defined]
        return ["get_device() answered 'cuda', get_device_capability() (9, 0): no CPU platform in this release"]


def answer_removed_torch_cpu_api() -> list[str]:
    """SGLang 0.4.10 asks ``torch._C._cpu._is_amx_tile_supported()`` (in its device lookup and its
    model config), an API the torch we install (2.13, not its 2.7.1) no longer has. The probe
    answers it as a CPU without AMX tiles, which sends 0.4.10 down its accelerator path as on
    EAS. Returns what was answered."""
    import torch

    cpu = getattr(torch._C, "_cpu", None)
    if cpu is None or hasattr(cpu, "_is_amx_tile_supported"):
        return []
    cpu._is_amx_tile_supported = lambda: False
    return ["torch._C._cpu._is_amx_tile_supported() answered False (removed from the torch installed here)"]


def answer_gpu_only_mamba_check() -> list[str]:
    """Let a hybrid model's (Qwen3-Next's) server args pass the one check that asks for a GPU.

    SGLang 0.5.17 resolves the mamba radix-cache strategy of Qwen3-Next to ``extra_buffer`` and
    then asserts the device is CUDA, MUSA, NPU or ROCm (its FLA kernels): on EAS it is CUDA. The
    probe answers ``is_cuda()`` as a CUDA host inside that check only; every other check runs on
    the CPU platform as before. Returns what was answered.
    """
    from sglang.srt import server_args

    original = getattr(server_args.ServerArgs, "_validate_mamba_extra_buffer", None)
    if original is None or not hasattr(server_args, "is_cuda"):
        return []

    def validate(self: Any, *args: Any, **kwargs: Any) -> Any:
        saved = server_args.is_cuda
        server_args.is_cuda = lambda *_a, **_k: True  # type: ignore[attr-defined]
        try:
            return original(self, *args, **kwargs)
        finally:
            server_args.is_cuda = saved  # type: ignore[attr-defined]

    server_args.ServerArgs._validate_mamba_extra_buffer = validate  # type: ignore[attr-defined]
    return ["is_cuda() answered True inside _validate_mamba_extra_buffer (a GPU-only check)"]


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

        if hasattr(ModelConfig, "from_server_args"):
            config = ModelConfig.from_server_args(server_args)
        else:  # before 0.4.7 the workers built it field by field, exactly like this
            config = ModelConfig(
                server_args.model_path, trust_remote_code=server_args.trust_remote_code,
                revision=server_args.revision, context_length=server_args.context_length,
                model_override_args=server_args.json_model_override_args, is_embedding=server_args.is_embedding,
                enable_multimodal=server_args.enable_multimodal, dtype=server_args.dtype,
                quantization=server_args.quantization,
            )
        verdict["model_config"] = {"context_len": config.context_len}
    except Exception as exc:
        traceback.print_exc()
        verdict.update(ok=False, stage=stage, error=f"{type(exc).__name__}: {exc}")
        return verdict
    verdict["ok"] = True
    return verdict


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import importlib.metadata

    from probe_common import run_cases

    environment = install_stand_ins(stand_ins_for(importlib.metadata.version("sglang")))
    import sglang

    environment += answer_removed_torch_cpu_api()
    environment += answer_device_lookup()
    environment += answer_gpu_only_mamba_check()
    print(f"probe environment: stand-ins {environment or 'none'}", file=sys.stderr)

    sys.exit(run_cases(check_line, getattr(sglang, "__version__", "?"), sys.argv[1], sys.argv[2]))
