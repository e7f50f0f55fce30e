"""The services conformance renders: every feature, for each engine release, through our real planning.

Each case is a service as a stack file would write it. It is planned by the same code as
``make plan`` (``components.core.plan.planning``), pinned to the release under test with
``engineVersion`` (and an image whose tag names that release), and its start script is taken
exactly as EAS would get it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

from components.core.engines.launch import MODEL_DIR, NO_THINKING_TEMPLATE
from components.core.engines.rendering import command_words
from components.core.errors import StackConfigError
from components.core.plan import stack_plan
from components.core.stack import stack_config

A10 = "ml.gu7i.c16m60.1-gu30"
L48 = "ml.gu8is.c32m128.1-gu60"
H96X2 = "ml.gu8v.c32m256.2-gu120"
H96 = "ml.gu8v.c16m128.1-gu120"
H96X4 = "ml.gu8v.c64m512.4-gu120"
H96X8 = "ml.gu8v.c128m1024.8-gu120"


@dataclass(frozen=True)
class Case:
    """One service of the matrix and the features it is there to exercise."""

    key: str
    covers: str
    spec: dict[str, Any]


def _svc(model: str, instance_type: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "resource": {"kind": "public", "instanceTypes": [instance_type]}, **extra}


CASES: tuple[Case, ...] = (
    Case("plain", "served name default, memory fraction, TP 1", _svc("Qwen3-4B", A10, maxModelLen=16384)),
    Case("tools-reasoning", "tool calling, reasoning, served name",
         _svc("Qwen3-8B", L48, toolCalling=True, reasoning=True, servedModelName="qwen3-chat")),
    Case("thinking-off", "thinking off (chat template)", _svc("Qwen3-8B", L48, thinking=False)),
    Case("yarn-64k", "YaRN factor 2", _svc("Qwen3-8B", L48, maxModelLen=65536)),
    Case("yarn-128k", "YaRN factor 4", _svc("Qwen3-8B", H96, maxModelLen=131072)),
    Case("fp8-checkpoint", "FP8 checkpoint", _svc("Qwen3-8B-FP8", L48)),
    Case("fp8-kv", "FP8 KV cache", _svc("Qwen3-14B", L48, kvCacheDtype="fp8")),
    Case("eager", "eager mode, FP8 KV chosen by sizing", _svc("Qwen3-8B", A10)),
    Case("tensor-parallel", "tensor parallel 2", _svc("Qwen3-32B", H96X2)),
    Case("moe", "MoE checkpoint, tools", _svc("Qwen3-30B-A3B", H96, toolCalling=True)),
    Case("expert-parallel", "expert parallel (235B FP8, TP 8)",
         _svc("Qwen3-235B-A22B-FP8", H96X8, reasoning=True)),
    Case("base", "Base checkpoint (32768 positions)", _svc("Qwen3-8B-Base", L48)),
    # The later lines (issue 20): each architecture and feature through the parsers that serve it.
    Case("instruct-2507-256k", "2507 Instruct at its native 262144 tokens (no YaRN), hermes tools",
         _svc("Qwen3-4B-Instruct-2507", H96, maxModelLen=262144, toolCalling=True)),
    Case("thinking-2507", "2507 Thinking: the deepseek-r1 reasoning parser for a template that opens <think>",
         _svc("Qwen3-30B-A3B-Thinking-2507-FP8", H96, maxModelLen=262144, reasoning=True, toolCalling=True)),
    Case("fp8-ep-2507", "2507 235B FP8 on 8 GPUs (expert parallel) at 262144 tokens",
         _svc("Qwen3-235B-A22B-Instruct-2507-FP8", H96X8, maxModelLen=262144)),
    Case("coder-tools", "Qwen3-Coder: the qwen3_coder tool-call parser",
         _svc("Qwen3-Coder-30B-A3B-Instruct", H96, toolCalling=True)),
    Case("coder-480b-fp8", "Qwen3-Coder 480B FP8 on 8 GPUs (expert parallel), qwen3_coder tools",
         _svc("Qwen3-Coder-480B-A35B-Instruct-FP8", H96X8, toolCalling=True)),
    Case("next", "Qwen3-Next hybrid attention (Qwen3NextForCausalLM) at 262144 tokens, hermes tools",
         _svc("Qwen3-Next-80B-A3B-Instruct", H96X4, maxModelLen=262144, toolCalling=True)),
    Case("next-thinking-fp8", "Qwen3-Next Thinking FP8 checkpoint, deepseek-r1 reasoning",
         _svc("Qwen3-Next-80B-A3B-Thinking-FP8", H96X4, maxModelLen=262144, reasoning=True)),
    Case("next-yarn-1m", "Qwen3-Next YaRN over 262144 to 1010000 tokens",
         _svc("Qwen3-Next-80B-A3B-Instruct", H96X4, maxModelLen=1010000)),
)


@dataclass(frozen=True)
class Rendered:
    """A case planned for one engine release: the start command, or why we refuse it."""

    case: Case
    engine: str
    version: str
    model: str
    script: str = ""
    refused_by_us: Optional[str] = None

    @property
    def commands(self) -> list[list[str]]:
        """The script's commands as a shell splits them."""
        return command_words(self.script)


def render(case: Case, engine: str, version: str) -> Rendered:
    """Plan ``case`` on ``engine`` at ``version`` as ``make plan`` would."""
    # An image of the release under test: engineVersion must agree with the release its tag names.
    spec = {**case.spec, "engine": engine, "engineVersion": version,
            "image": f"eas-registry-vpc.cn-hangzhou.cr.aliyuncs.com/pai-eas/{engine}:{version}"}
    raw = {"qwen3-eas:services": json.dumps({case.key: spec}), "alicloud:region": "cn-hangzhou"}
    try:
        plans = stack_plan.plan_stack(stack_config.load("conformance", raw))
    except StackConfigError as exc:
        reason = "; ".join(f"{p.field}: {p.message}" for p in exc.problems)
        return Rendered(case, engine, version, spec["model"], refused_by_us=reason)
    plan = plans[case.key]
    return Rendered(case, engine, version, plan.model.name, script=plan.script)


def localise(words: list[str], model_dir: str, template_path: str) -> list[str]:
    """The words with EAS's mount point and the no-thinking template path moved to this machine.

    Nothing else changes: every flag and value is what EAS would run.
    """
    swap = {MODEL_DIR: model_dir, NO_THINKING_TEMPLATE: template_path}
    return [swap.get(word, word) for word in words]


def engine_words(engine: str, exec_words: list[str]) -> list[str]:
    """The words the engine's own parser reads, from the script's ``exec`` command."""
    if exec_words and exec_words[0] == "exec":
        exec_words = exec_words[1:]
    if engine == "vllm":
        if exec_words[:2] != ["vllm", "serve"]:
            raise ValueError(f"not a vllm serve command: {exec_words[:3]}")
        return exec_words[1:]
    if exec_words[:3] != ["python3", "-m", "sglang.launch_server"]:
        raise ValueError(f"not an SGLang launch command: {exec_words[:3]}")
    return exec_words[3:]
