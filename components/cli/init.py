"""``make init STACK=<name>``: a new stack file from the commented template.

    qwen3-eas init <name>

Writes ``stacks/Pulumi.<name>.yaml`` from ``templates/stack.yaml.tmpl``: one small service that
plans cleanly, with every line explained. It refuses a name Pulumi would refuse and never
overwrites a stack file. The new stack joins ``make plans``, the golden-file test (after
``make golden``) and the pull-request diff by itself; what a real deployment needs besides is
in docs/deploying.md ("A new stack").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from ..core.stack import naming
from . import PROG, described, stacks

TEMPLATE = stacks.ROOT / "templates" / "stack.yaml.tmpl"


class InitError(Exception):
    """A stack file that cannot be created; the message says why and what to do."""


def render(name: str, template: Path = TEMPLATE) -> str:
    """The template's text for stack ``name``."""
    text = template.read_text(encoding="utf-8")
    return text.replace("__EAS_NAME__", naming.service_name(name, "chat")).replace("__STACK__", name)


def create(name: str, folder: Path = stacks.STACKS_DIR, template: Path = TEMPLATE) -> Path:
    """Write ``folder/Pulumi.<name>.yaml``; ``InitError`` for a bad name or an existing file."""
    if not stacks.NAME.fullmatch(name):
        raise InitError(f"{name!r} is not a stack name Pulumi accepts. Fix: use letters, digits, '-', '_' or '.' "
                        "(a letter or digit first, at most 100 characters), e.g. make init STACK=perf")
    path = stacks.stack_file(name, folder)
    text = render(name, template)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        # "x": fails if the file exists, with no window between a check and the write.
        with path.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise InitError(f"{path.relative_to(folder.parent) if folder.parent in path.parents else path} already "
                        f"exists; it is left as it is. Fix: choose another name, or edit that file") from None
    return path


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog=f"{PROG} init", description=described(__doc__.splitlines()[0]))
    parser.add_argument("name", help="the new stack's name (Pulumi's rules: letters, digits, - _ .)")
    args = parser.parse_args(argv)
    try:
        path = create(args.name)
    except InitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"created {path.relative_to(stacks.ROOT)}: plan it with `make plan STACK={args.name}`; "
          "for a real deployment see docs/deploying.md (\"A new stack\")")
    return 0
