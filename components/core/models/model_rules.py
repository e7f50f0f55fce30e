"""What each model can be asked to do, whatever the engine: its length, thinking and reasoning.

The catalog says what a model is (its line: how it thinks, how far its context reaches); this
module holds a service to it before anything is sized or rendered. A request the model cannot
honour is a problem naming the field and the reason; one it honours with a cost is a warning.
Engine-specific refusals (a flag an engine release lacks) stay in ``components.core.engines``.

A service is held to its model through what it asks (``Request``): the stack file's
``ServiceSpec`` is one, and this package imports nothing of the stack file, which itself names
the catalog's models.
"""

from __future__ import annotations

from typing import Protocol

from ..errors import Findings
from .catalog import Model


class Request(Protocol):
    """What a service asks of its model (``components.core.stack.spec.ServiceSpec`` is one)."""

    @property
    def max_model_len(self) -> int: ...
    @property
    def tool_calling(self) -> bool: ...
    @property
    def reasoning(self) -> bool: ...
    @property
    def thinking(self) -> bool: ...


LONG_THINKING_CONTEXT = 131072
"""The Thinking-2507 and Qwen3-Next-Thinking cards "strongly recommend" a context longer than
this, since their reasoning runs long (awesome-akash Qwen3-235B-A22B-Thinking-2507/README.md:150)."""


def refuse(spec: Request, model: Model, out: Findings) -> None:
    """Problems for what ``model`` cannot do: a length past its reach, a thinking mode it lacks."""
    _length(spec, model, out)
    _thinking(spec, model, out)


def _length(spec: Request, model: Model, out: Findings) -> None:
    if spec.max_model_len <= model.max_context:
        return
    native = model.native_context
    reach = (f"{native} natively, then YaRN up to factor {model.max_context / native:g}"
             if model.max_context > native else f"{native} natively")
    out.problem("maxModelLen",
                f"{model.name} reaches at most {model.max_context} tokens ({reach}); {model.line.beyond}",
                f"set maxModelLen to {model.max_context} or less")


def _thinking(spec: Request, model: Model, out: Findings) -> None:
    mode = model.line.thinking
    if mode == "none":
        why = (f"{model.name} has no thinking mode: it never writes a <think> block "
               "(its chat template has no enable_thinking switch)")
        if spec.reasoning:
            out.problem("reasoning", f"{why}, so there is no reasoning to return apart",
                        "remove reasoning, or use a Thinking model (e.g. " + _thinking_sibling(model) + ")")
        if not spec.thinking:
            out.problem("thinking", f"{why}, so there is nothing to turn off",
                        "remove thinking: false (its answers never contain thinking)")
    elif mode == "always" and not spec.thinking:
        out.problem("thinking",
                    f"{model.name} always thinks: its chat template opens the <think> block itself and "
                    "has no switch to skip it",
                    "remove thinking: false, or use its Instruct model (e.g. " + _instruct_sibling(model) + ")")


def _thinking_sibling(model: Model) -> str:
    if "Instruct-2507" in model.name:
        return model.name.replace("Instruct-2507", "Thinking-2507")
    if model.name.startswith("Qwen3-Next-"):
        return model.name.replace("-Instruct", "-Thinking")
    return "Qwen3-30B-A3B-Thinking-2507"


def _instruct_sibling(model: Model) -> str:
    return model.name.replace("Thinking-2507", "Instruct-2507").replace("-A3B-Thinking", "-A3B-Instruct")


def warn(spec: Request, model: Model, out: Findings) -> None:
    """Warnings for what ``model`` does at a cost: YaRN, a Base model asked to chat, a short
    context for a model that thinks at length, sizing by estimate only."""
    native = model.native_context
    if spec.max_model_len > native:
        factor = spec.max_model_len / native
        out.warnings.append(
            f"maxModelLen {spec.max_model_len} turns on YaRN (factor {factor:g}); "
            "static YaRN can lower quality on short prompts"
        )
        if not model.yarn_documented:
            out.warnings.append(f"the Qwen team documents YaRN for 4B and larger only; {model.name} is tested at 32768")
    if model.base:
        asked = [n for n, v in (("toolCalling", spec.tool_calling), ("reasoning", spec.reasoning),
                               ("thinking: false", not spec.thinking)) if v]
        if asked:
            out.warnings.append(f"{model.name} is a Base model (not chat-tuned): {', '.join(asked)} may not behave")
    if model.line.thinking == "always" and spec.max_model_len <= LONG_THINKING_CONTEXT:
        out.warnings.append(f"{model.name} thinks at length: its model card recommends more than "
                            f"{LONG_THINKING_CONTEXT} tokens (maxModelLen {spec.max_model_len} may cut answers short)")
    if not model.line.in_source_table:
        out.warnings.append(f"{model.name} has no row in Alibaba's minimum-configuration table: its GPUs are "
                            "checked by the memory estimate only (the policy pack enforces the estimate for it)")
