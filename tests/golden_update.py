"""Rewrite tests/golden/<stack>/ from the example stacks (``make golden``).

The golden files are what each example stack would deploy; reviewers read their diff.
"""

from __future__ import annotations

from pathlib import Path

from components.cli.plan import make_plan, write_atomically

GOLDEN = Path(__file__).resolve().parent / "golden"
STACKS = ("dev", "staging", "prod")


def main() -> None:
    for stack in STACKS:
        _, files = make_plan(stack)
        write_atomically(GOLDEN / stack, files)
        print(f"wrote {GOLDEN.name}/{stack}: {', '.join(sorted(files))}")


if __name__ == "__main__":
    main()
