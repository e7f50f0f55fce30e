"""Rewrite tests/golden/<stack>/ from every stack file (``make golden``).

The golden files are what each stack under ``stacks/`` would deploy; reviewers read their diff.
A stack is any ``stacks/Pulumi.<name>.yaml`` (``qwen3-eas stacks``), so a new stack file gets
its golden folder here and its check in tests/test_plan_cli.py without a code change; the
folder of a stack file that was removed goes too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from components.cli.plan import make_plan, write_atomically
from components.cli.stacks import names

GOLDEN = Path(__file__).resolve().parent / "golden"
STACKS = tuple(names())


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
