"""Shared by the engine probes (runs with the engine's interpreter; imports nothing from the project).

A probe checks many start commands in one process, because importing an engine takes tens of
seconds. For each command it records what the engine logged or warned about deprecation, so
that a flag an engine still accepts but has replaced is reported too.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any

_DEPRECATED = re.compile(r"deprecat", re.IGNORECASE)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class _Collector(logging.Handler):
    """Keeps every log message emitted while one command is checked."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.messages.append(record.getMessage())
        except Exception:  # a malformed record must not hide the verdict
            self.messages.append(str(record.msg))


def _loggers() -> list[logging.Logger]:
    """The root logger and every engine logger that does not propagate to it."""
    names = [name for name in logging.root.manager.loggerDict if name.split(".")[0] in ("vllm", "sglang")]
    found = [logging.getLogger(name) for name in names]
    return [logging.root, *(lg for lg in found if not lg.propagate)]


def _mentions_flag(message: str, words: list[str]) -> bool:
    """True when ``message`` names one of the command's flags (dash or underscore spelling)."""
    lowered = message.lower()
    for word in words:
        if not word.startswith("--"):
            continue
        name = word[2:].split("=", 1)[0].lower()
        for spelling in {name, name.replace("-", "_")}:
            # Whole words only: "port" must not match "torch.export".
            if re.search(rf"(?<![a-z0-9_]){re.escape(spelling)}(?![a-z0-9_-])", lowered):
                return True
    return False


def run_cases(check: Callable[[list[str]], dict[str, Any]], version: str, cases_path: str, results_path: str) -> int:
    """Check every case of ``cases_path`` with ``check``; write the verdicts to ``results_path``.

    Returns 0 when every command was accepted without a deprecation notice about its flags.
    """
    with open(cases_path, encoding="utf-8") as f:
        cases = json.load(f)
    results = []
    for case in cases:
        collector = _Collector()
        targets = _loggers()
        for target in targets:
            target.addHandler(collector)
        started = time.monotonic()
        stderr = io.StringIO()
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(stderr):
            warnings.simplefilter("always")
            try:
                verdict = check(list(case["words"]))
            except BaseException as exc:  # the probe must report, not die, on one bad case
                traceback.print_exc()
                verdict = {"ok": False, "stage": "probe", "error": f"{type(exc).__name__}: {exc}"}
        sys.stderr.write(stderr.getvalue())
        if verdict.get("stage") == "parse":
            # argparse says why on stderr before it exits: keep its last line.
            said = [line for line in stderr.getvalue().splitlines() if line.strip()]
            if said:
                verdict["error"] = f"{verdict['error']}: {said[-1].strip()}"
        for target in targets:
            target.removeHandler(collector)
        notices = [_ANSI.sub("", m) for m in collector.messages + [str(w.message) for w in caught]]
        deprecations = sorted({m.strip()[:300] for m in notices
                               if _DEPRECATED.search(m) and _mentions_flag(m, case["words"])})
        verdict.update(id=case["id"], version=version, deprecations=deprecations,
                       seconds=round(time.monotonic() - started, 2))
        results.append(verdict)
    with open(results_path, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)
    return 0 if all(r["ok"] and not r["deprecations"] for r in results) else 1
