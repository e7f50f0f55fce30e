"""The command-line tools, behind one entry point: ``qwen3-eas <subcommand>``.

``qwen3-eas`` is installed into ``.venv`` as a console script by ``make venv``; ``python -m
components <subcommand>`` is the same thing without the script. Each subcommand is one module
of this package with a ``main(argv) -> int``; it is imported only when asked for, so that
``qwen3-eas smoke`` never loads Pulumi and ``qwen3-eas plan`` never loads the OpenAI client.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Sequence
from typing import Optional

PROG = "qwen3-eas"

VIA_MAKE_ENV = "QWEN3_EAS_VIA_MAKE"
"""Set to 1 by the Makefile: hints then name the make variable the user typed, not the flag."""


def via_make() -> bool:
    """True when the tool runs from a Makefile target."""
    return os.environ.get(VIA_MAKE_ENV) == "1"


def make_words(make_variable: str, flag: str) -> str:
    """How a hint names an input: ``CAPACITY=`` under make, ``--capacity`` on the command line."""
    return make_variable if via_make() else flag

def described(doc: str, paragraphs: int = 1) -> str:
    """A module docstring's opening for ``--help``: its first paragraph(s), without the
    reStructuredText markup (````x````) that argparse would print as it is."""
    text = "\n\n".join(doc.strip().split("\n\n")[:paragraphs])
    return re.sub(r"``(.+?)``", r"\1", text)


SUBCOMMANDS: dict[str, str] = {
    "plan": "offline plan of a stack: plan.json, plan.md and each service's JSON",
    "diff": "per-service diff of a stack's plan against a git ref (Markdown)",
    "capacity": "write a capacity snapshot from the live EAS API",
    "pin": "record where each deployed service runs (sticky placement)",
    "smoke": "check a deployed stack's live API",
    "schema": "write the JSON Schema of the stack config",
    "stacks": "list the stacks (stacks/Pulumi.<name>.yaml), one name per line",
    "init": "create stacks/Pulumi.<name>.yaml from the commented template",
}
"""Subcommand -> one line of help; the module ``components.cli.<subcommand>`` implements it."""


def usage() -> str:
    """The top-level help text."""
    width = max(map(len, SUBCOMMANDS))
    lines = [f"usage: {PROG} <subcommand> [arguments]   ({PROG} <subcommand> --help for its arguments)", "",
             "subcommands:"]
    lines += [f"  {name.ljust(width)}  {text}" for name, text in SUBCOMMANDS.items()]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one subcommand; exit code 2 for a usage mistake, as argparse does."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        print(f"{PROG}: unknown subcommand {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"{__name__}.{name}")
    return int(module.main(rest))


def console() -> None:
    """The ``qwen3-eas`` console script (see pyproject.toml)."""
    sys.exit(main())
