"""Rewrite tests/golden/<stack>/ from every stack file (``make golden``).

The golden files are what each stack under ``stacks/`` would deploy; reviewers read their diff.
A stack is any ``stacks/Pulumi.<name>.yaml`` (``qwen3-eas stacks``), so a new stack file gets
its golden folder here and its check in tests/test_plan_cli.py without a code change; the
folder of a stack file that was removed goes too.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from components.cli.plan import make_plan, write_atomically
from components.cli.stacks import names

GOLDEN = Path(__file__).resolve().parent / "golden"
STACKS = tuple(names())


def mismatches(stacks: Sequence[str] = STACKS, golden: Path = GOLDEN) -> list[str]:
    """What is out of step between the stack files and their golden folders, each in words that
    name the file or folder and how to put it right (the test prints them; ``make golden`` fixes both)."""
    found = []
    folders = sorted(p.name for p in golden.iterdir() if p.is_dir()) if golden.is_dir() else []
    for stack in sorted(set(stacks) - set(folders)):
        found.append(f"stacks/Pulumi.{stack}.yaml has no tests/golden/{stack}/: run `make golden` and commit the "
                     "folder with the stack file")
    for stack in sorted(set(folders) - set(stacks)):
        found.append(f"tests/golden/{stack}/ is left over: there is no stacks/Pulumi.{stack}.yaml any more "
                     f"(`pulumi stack rm {stack}` deletes the stack file unless it is given --preserve-config). "
                     f"If stack {stack} is gone for good, run `make golden`, which removes the folder, and commit "
                     f"both removals; if not, restore the file: `git checkout -- stacks/Pulumi.{stack}.yaml`")
    return found


def main() -> None:
    for stack in STACKS:
        _, files = make_plan(stack)
        write_atomically(GOLDEN / stack, files)
        print(f"wrote {GOLDEN.name}/{stack}: {', '.join(sorted(files))}")
    for folder in sorted(p for p in GOLDEN.iterdir() if p.is_dir() and p.name not in STACKS):
        shutil.rmtree(folder)
        print(f"removed {GOLDEN.name}/{folder.name}: no stacks/Pulumi.{folder.name}.yaml")


if __name__ == "__main__":
    main()
