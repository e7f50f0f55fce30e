"""Render an engine's start script (``containers[0].script``) from its Jinja template.

The environment is strict (``StrictUndefined``) and has one way to put a value into the
shell: the ``sh`` filter, which quotes it. Templates never quote by hand.
"""

from __future__ import annotations

import dataclasses
import shlex
from functools import lru_cache
from pathlib import Path

import jinja2

from .launch import NO_THINKING_TEMPLATE, Launch

TEMPLATE_DIR = Path(__file__).resolve().parents[3] / "templates"

# Written to the no-thinking template path at start. It takes the model's own chat template
# (so fine-tuned weights keep theirs) and pins enable_thinking to false: Qwen3's template
# then always emits the empty think block, whatever a request asks for.
NO_THINKING_PROGRAM = (
    'import json, os, sys; src, dst = sys.argv[1:3]; '
    'j = os.path.join(src, "chat_template.jinja"); '
    't = open(j, encoding="utf-8").read() if os.path.exists(j) else '
    'json.load(open(os.path.join(src, "tokenizer_config.json"), encoding="utf-8"))["chat_template"]; '
    'open(dst, "w", encoding="utf-8").write("{%- set enable_thinking = false %}\\n" + t)'
)


def shell_quote(value: object) -> str:
    """Quote one value for a POSIX shell; booleans and ``None`` are refused, not stringified."""
    if value is None or isinstance(value, bool):
        raise TypeError(f"refusing to put {value!r} on a command line")
    return shlex.quote(str(value))


class TemplateError(RuntimeError):
    """A template failed to render; the message names the template."""


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The one Jinja environment (compiled templates are cached with it)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["sh"] = shell_quote
    return env


def render_script(launch: Launch) -> str:
    """The shell script that starts ``launch.engine`` with exactly the decided flags."""
    return _render(launch)


# Rendering is a pure function of the (frozen, hashable) launch: a stack of many services on one
# model and engine renders its script once, not once per service.
@lru_cache(maxsize=512)
def _render(launch: Launch) -> str:
    name = f"{launch.engine}.sh.j2"
    context = dataclasses.asdict(launch)
    context["no_thinking_program"] = NO_THINKING_PROGRAM
    context["no_thinking_path"] = NO_THINKING_TEMPLATE
    try:
        text = environment().get_template(name).render(**context)
    except jinja2.TemplateError as exc:
        raise TemplateError(f"template {name}: {exc}") from exc
    # One flag per line for readable plans; collapse the blank lines that skipped flags leave.
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    return "\n".join(lines) + "\n"


def command_words(script: str) -> list[list[str]]:
    """Split a rendered script into its commands' words, as a POSIX shell would.

    Line continuations are joined first; a newline inside quotes stays in its word.
    """
    commands: list[list[str]] = []
    pending = ""
    for line in script.replace("\\\n", " ").split("\n"):
        pending = f"{pending}\n{line}" if pending else line
        try:
            words = shlex.split(pending)
        except ValueError:  # an open quote: the command goes on on the next line
            continue
        if words:
            commands.append(words)
        pending = ""
    if pending.strip():
        raise ValueError(f"unterminated quote in script: {pending[:80]!r}")
    return commands
