"""Smoke test of deployed services: does each one answer as its stack file promises?

    qwen3-eas smoke --stack dev                  # outputs from `pulumi stack output`
    qwen3-eas smoke --outputs outputs.json        # the same JSON, from a file
    qwen3-eas smoke --outputs outputs.json --stack dev --timeout 30

For every service in the stack's ``services`` output it calls the OpenAI-compatible API with
the OpenAI Python client and checks: the model list names the served model; a chat completion
answers; thinking switched off leaves no ``<think>`` block in the content; a two-turn
conversation keeps the history the client resends; with ``toolCalling``, a tool request comes
back as structured ``tool_calls``; with ``reasoning`` (and thinking on), the reasoning comes in
``reasoning_content``, apart from the content.

A service is judged by what its engine offers. BladeLLM (Alibaba's BladeLLM API notes) serves
no ``GET /v1/models``, takes ``model`` only to pick a LoRA adapter, documents no per-request
``chat_template_kwargs`` and stops at ``max_tokens`` (16 unless set): for it the model list is
skipped with that reason, requests name no model and no thinking switch, and a check whose
answer was cut off at ``max_tokens`` (``finish_reason: length``) is skipped, not failed.

It prints one row per check (service, check, result, detail) and exits 1 if any check did not
pass, 2 if it could not start (no Pulumi CLI, an unreadable outputs file). Every request has a
timeout and no retries, so a hung service cannot hang the run; once a service times out, is
unreachable or rejects the token, its remaining checks are skipped.

Authorization: EAS documents the raw token as the header value (``Authorization: <token>``);
the OpenAI client would send ``Bearer <token>``, so the raw form is set as a default header.
The token travels over https only: an ``http://`` endpoint (what EAS returns, and what stacks
deployed before the outputs said https hold) is called as ``https://``, which Alibaba documents
for the same endpoints; plain http is left only to a loopback address (a local test server).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, Optional

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam, ChatCompletionToolParam

from . import PROG, described
from .smoke_targets import (
    Service,
    SmokeError,
    Target,
    pulumi_outputs,
    read_outputs_file,
    targets,
)

DEFAULT_TIMEOUT = 60.0
THINKING_ROOM = 4096
"""Extra tokens each request gets on a model that always thinks, for the reasoning before its answer."""

Verdict = tuple[bool, str]
"""(passed, detail): what every check returns."""

Outcome = Literal["ok", "FAIL", "skip"]

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
_DETAIL_WIDTH = 100

WEATHER_TOOL: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name, e.g. Paris"}},
            "required": ["city"],
        },
    },
}
NAME = "Ada"

BLADELLM_NO_MODELS = "BladeLLM serves no /v1/models (Alibaba's BladeLLM API notes); not requested"


@dataclass(frozen=True)
class Result:
    """One row of the table."""

    service: str
    check: str
    outcome: Outcome
    detail: str


# ---------------------------------------------------------------------------------------------
# Checks: pure functions from a response to a verdict.


def _message(completion: ChatCompletion) -> Any:
    return completion.choices[0].message if completion.choices else None


def _content(completion: ChatCompletion) -> str:
    message = _message(completion)
    return (message.content or "") if message is not None else ""


def _answer(content: str) -> str:
    """The content with any think block taken out: what a user reads as the answer."""
    return _THINK.sub("", content).replace("<think>", "").replace("</think>", "").strip()


def _quote(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= width else flat[: width - 3] + "...")


def reasoning_of(completion: ChatCompletion) -> tuple[Optional[str], str]:
    """(reasoning text, field name) from the message; engines add it as a non-OpenAI field.

    vLLM and SGLang name it ``reasoning_content``; newer vLLM also ``reasoning``.
    """
    message = _message(completion)
    extra: Mapping[str, Any] = (message.model_extra or {}) if message is not None else {}
    for field in ("reasoning_content", "reasoning"):
        value = extra.get(field)
        if isinstance(value, str) and value.strip():
            return value, field
    return None, "reasoning_content"


def check_models(model_ids: Sequence[str], served_model_name: str) -> Verdict:
    """``GET /v1/models`` lists the served model name."""
    if served_model_name in model_ids:
        return True, f"lists {served_model_name!r}"
    listed = ", ".join(repr(m) for m in model_ids) or "nothing"
    return False, f"{served_model_name!r} not listed (lists {listed})"


def check_answers(completion: ChatCompletion) -> Verdict:
    """A chat completion comes back with non-empty content."""
    if not completion.choices:
        return False, "no choices in the response"
    answer = _answer(_content(completion))
    if not answer:
        return False, f"empty content (finish_reason {completion.choices[0].finish_reason!r})"
    return True, f"answered {_quote(answer)}"


def check_no_think(completion: ChatCompletion, how: str) -> Verdict:
    """With thinking off (``how`` says by which means), the content carries no think block."""
    content = _content(completion)
    if "<think>" in content or "</think>" in content:
        return False, f"<think> block in content despite {how}"
    return True, f"no <think> block ({how})"


def check_tool_call(completion: ChatCompletion, tool_name: str = "get_weather") -> Verdict:
    """A request with one tool returns a structured call of it whose arguments are a JSON object."""
    message = _message(completion)
    if message is None:
        return False, "no choices in the response"
    calls = message.tool_calls or []
    if not calls:
        if "<tool_call>" in (message.content or ""):
            return False, "tool call left in content as text, no tool_calls (is the tool-call parser on?)"
        return False, f"no tool_calls (content {_quote(message.content or '')})"
    call = calls[0]
    function = getattr(call, "function", None)
    if function is None or function.name != tool_name:
        return False, f"called {getattr(function, 'name', None)!r}, expected {tool_name!r}"
    try:
        arguments = json.loads(function.arguments)
    except (TypeError, ValueError):
        return False, f"arguments are not JSON: {_quote(str(function.arguments))}"
    if not isinstance(arguments, dict):
        return False, f"arguments are not a JSON object: {_quote(function.arguments)}"
    return True, f"{tool_name}({json.dumps(arguments, sort_keys=True)})"


def check_reasoning(completion: ChatCompletion) -> Verdict:
    """Reasoning comes in its own field and the content has no think block."""
    reasoning, field = reasoning_of(completion)
    content = _content(completion)
    inline = "<think>" in content or "</think>" in content
    if reasoning is None:
        if inline:
            return False, "reasoning inline in content (<think>), no reasoning_content (is the reasoning parser on?)"
        return False, "no reasoning_content in the message"
    if inline:
        return False, f"{field} present but content still has a <think> block"
    return True, f"{field}: {len(reasoning)} chars, apart from content"


def check_remembers(completion: ChatCompletion, name: str = NAME) -> Verdict:
    """Turn 2 of a conversation answers from turn 1, which the client resent."""
    answer = _answer(_content(completion))
    if name.lower() in answer.lower():
        return True, f"turn 2 answered {_quote(answer)}"
    return False, f"turn 2 did not recall {name!r}: {_quote(answer)}"


# ---------------------------------------------------------------------------------------------
# Requests: the only code that talks to a service.


def make_client(service: Service, timeout: float) -> openai.OpenAI:
    """An OpenAI client for one service: raw EAS token, per-request timeout, no retries."""
    return openai.OpenAI(
        api_key=service.token,
        base_url=service.base_url,
        # EAS documents `Authorization: <token>`; this replaces the client's `Bearer <token>`.
        default_headers={"Authorization": service.token},
        timeout=timeout,
        max_retries=0,
    )


def _chat(client: openai.OpenAI, service: Service, messages: list[ChatCompletionMessageParam],
          *, thinking: bool = False, max_tokens: int = 256, **kwargs: Any) -> ChatCompletion:
    """One non-streaming chat completion; thinking off unless asked for (short, repeatable answers)."""
    blade = service.features.bladellm
    if service.features.always_thinks:
        # Its answer comes only after the reasoning, which no switch skips.
        max_tokens += THINKING_ROOM
    if not thinking:
        kwargs["temperature"] = 0
        # A service with thinking off needs no per-request switch; BladeLLM documents none.
        if service.features.thinking and not blade:
            kwargs["extra_body"] = {"chat_template_kwargs": {"enable_thinking": False}}
    completion: ChatCompletion = client.chat.completions.create(
        # BladeLLM reads `model` as a LoRA adapter's name: the base model is asked for by omitting it.
        model=openai.NOT_GIVEN if blade else service.served_model_name,  # type: ignore[arg-type]
        messages=messages,
        # max_tokens, not max_completion_tokens: every engine version we deploy reads it.
        max_tokens=max_tokens,
        **kwargs,
    )
    return completion


def _probe_models(client: openai.OpenAI, service: Service) -> list[str]:
    return [model.id for model in client.models.list()]


def _probe_plain(client: openai.OpenAI, service: Service) -> ChatCompletion:
    return _chat(client, service, [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}])


def _probe_two_turns(client: openai.OpenAI, service: Service) -> ChatCompletion:
    # The API is stateless: turn 2 works only because the client sends turn 1 again.
    first: ChatCompletionMessageParam = {"role": "user", "content": f"My name is {NAME}. Reply OK."}
    reply = _chat(client, service, [first], max_tokens=32)
    return _chat(client, service, [
        first,
        {"role": "assistant", "content": _answer(_content(reply)) or "OK"},
        {"role": "user", "content": "What is my name? Reply with the name only."},
    ], max_tokens=32)


def _probe_tools(client: openai.OpenAI, service: Service) -> ChatCompletion:
    return _chat(client, service, [{"role": "user", "content": "What is the weather in Paris right now? Use the tool."}],
                 tools=[WEATHER_TOOL], tool_choice="auto")


def _probe_reasoning(client: openai.OpenAI, service: Service) -> ChatCompletion:
    # Thinking left on, with room for a short chain of thought before the answer.
    return _chat(client, service, [{"role": "user", "content": "What is 17 + 25? Reply with the number only."}],
                 thinking=True, max_tokens=1024)


Probe = Callable[[openai.OpenAI, Service], Any]


@dataclass(frozen=True)
class Check:
    """A named check: the request whose response it judges (checks may share one) and how."""

    name: str
    probe: Probe
    judge: Callable[[Any], Verdict]
    not_offered: Optional[str] = None
    """Why the engine does not offer what this check needs: it is skipped, never failed."""


def plan_checks(service: Service) -> list[Check]:
    """The checks a service's features call for, in the order they run."""
    features, served = service.features, service.served_model_name
    how = "enable_thinking=false" if features.thinking else "thinking off for the service"
    checks = [
        Check("models", _probe_models, lambda ids: check_models(ids, served),
              not_offered=BLADELLM_NO_MODELS if features.bladellm else None),
        Check("chat", _probe_plain, check_answers),
        Check("no-think", _probe_plain, lambda c: check_no_think(c, how)),
        Check("multi-turn", _probe_two_turns, check_remembers),
    ]
    if features.tool_calling:
        checks.append(Check("tool-call", _probe_tools, check_tool_call))
    # With thinking off for the whole service there is no reasoning to separate.
    if features.reasoning and features.thinking:
        checks.append(Check("reasoning", _probe_reasoning, check_reasoning))
    if features.always_thinks:
        checks = [replace(c, not_offered="the model always thinks: its chat template opens <think> and no switch "
                          "turns that off") if c.name == "no-think" else c for c in checks]
    elif features.bladellm and features.thinking:
        # Without a per-request switch the model thinks; a think block is its answer's preamble.
        checks = [replace(c, not_offered="thinking is on and BladeLLM documents no per-request switch to turn it off")
                  if c.name == "no-think" else c for c in checks]
    return checks


def truncated(response: Any) -> bool:
    """True for a completion cut off at ``max_tokens`` (``finish_reason`` ``length``)."""
    choices = getattr(response, "choices", None)
    if not isinstance(choices, list) or not choices:
        return False
    return getattr(choices[0], "finish_reason", None) == "length"


def describe_error(exc: BaseException, timeout: float) -> tuple[str, bool]:
    """(detail, fatal) for a failed request; fatal errors skip the service's remaining checks."""
    if isinstance(exc, openai.APITimeoutError):
        return f"timed out after {timeout:g} s", True
    if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
        return f"token rejected (wrong or missing token): HTTP {exc.status_code}", True
    if isinstance(exc, openai.APIConnectionError):
        return f"cannot connect: {exc.__cause__ or exc}", True
    if isinstance(exc, openai.APIStatusError):
        kind = "server error" if exc.status_code >= 500 else "request refused"
        return f"{kind}: HTTP {exc.status_code}: {_error_message(exc)}", False
    return f"unexpected {type(exc).__name__}: {exc}", False


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
    return exc.response.text.strip()[:200] or exc.response.reason_phrase


def run_service(target: Target, timeout: float = DEFAULT_TIMEOUT,
                client_factory: Callable[[Service, float], openai.OpenAI] = make_client) -> list[Result]:
    """Run every check that applies to one service; requests are made once and shared by checks."""
    service = target.resolve()
    if not isinstance(service, Service):
        return [Result(target.key, service[0], "FAIL", service[1])]
    client = client_factory(service, timeout)
    responses: dict[Probe, Any] = {}
    failures: dict[Probe, str] = {}
    blocked: Optional[str] = None
    results: list[Result] = []
    for check in plan_checks(service):
        if check.not_offered is not None:
            results.append(Result(service.key, check.name, "skip", check.not_offered))
            continue
        if blocked is not None:
            results.append(Result(service.key, check.name, "skip", f"not run: {blocked}"))
            continue
        if check.probe not in responses and check.probe not in failures:
            try:
                responses[check.probe] = check.probe(client, service)
            except Exception as exc:  # one bad service must not stop the others
                detail, fatal = describe_error(exc, timeout)
                failures[check.probe] = detail
                blocked = detail if fatal else None
        if check.probe in failures:
            results.append(Result(service.key, check.name, "FAIL", failures[check.probe]))
            continue
        try:
            ok, detail = check.judge(responses[check.probe])
        except Exception as exc:  # a response of an unexpected shape fails the check, not the run
            ok, detail = False, f"unexpected response: {type(exc).__name__}: {exc}"
        if not ok and service.features.bladellm and truncated(responses[check.probe]):
            # BladeLLM stops at max_tokens by design: a cut-off answer says nothing about the check.
            results.append(Result(service.key, check.name, "skip",
                                  f"BladeLLM stopped at max_tokens (finish_reason length), cannot judge: {detail}"))
            continue
        results.append(Result(service.key, check.name, "ok" if ok else "FAIL", detail))
    return results


# ---------------------------------------------------------------------------------------------
# The table and the command line.


def _cell(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def render_table(results: Sequence[Result]) -> str:
    """Aligned plain-text table, one row per check, and a summary line."""
    rows = [("service", "check", "result", "detail")]
    rows += [(r.service, r.check, r.outcome, _cell(r.detail, _DETAIL_WIDTH)) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join([*(row[i].ljust(widths[i]) for i in range(3)), row[3]]).rstrip() for row in rows]
    failed = sum(r.outcome == "FAIL" for r in results)
    skipped = sum(r.outcome == "skip" for r in results)
    if not results:
        summary = "no services in the outputs"
    elif failed or skipped:
        summary = f"{failed} of {len(results)} checks failed, {skipped} skipped"
    else:
        summary = f"all {len(results)} checks passed"
    return "\n".join([*lines, "", summary]) + "\n"


def passed(results: Sequence[Result]) -> bool:
    """True when there was something to check and no check failed.

    A skip is never a failure: it is a check the engine does not offer (BladeLLM's model list),
    an answer cut off at ``max_tokens``, or one not run after a failure that is itself a row.
    """
    return bool(results) and not any(r.outcome == "FAIL" for r in results)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line entry point; returns the exit status (0 passed, 1 a check failed, 2 cannot start)."""
    parser = argparse.ArgumentParser(prog=f"{PROG} smoke", description=described(__doc__))
    parser.add_argument("--stack", help="stack name: reads `pulumi stack output`; also where features "
                        "come from when the outputs lack them")
    parser.add_argument("--outputs", type=Path, help="JSON file of `pulumi stack output --json --show-secrets` "
                        "(instead of calling pulumi)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds per request (default {DEFAULT_TIMEOUT:g})")
    args = parser.parse_args(argv)
    if args.stack is None and args.outputs is None:
        parser.error("give --stack <name> or --outputs <file>")
    if args.timeout <= 0:
        parser.error("--timeout must be above 0")
    try:
        outputs = read_outputs_file(args.outputs) if args.outputs is not None else pulumi_outputs(args.stack)
        found = targets(outputs, args.stack)
    except SmokeError as exc:
        print(f"smoke: {exc}", file=sys.stderr)
        return 2
    results = [row for target in found for row in run_service(target, args.timeout)]
    sys.stdout.write(render_table(results))
    return 0 if passed(results) else 1


if __name__ == "__main__":
    sys.exit(main())
