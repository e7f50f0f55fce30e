"""``qwen3-eas stacks``: the stacks of this repository, one name per line.

    qwen3-eas stacks

A stack is any ``stacks/Pulumi.<name>.yaml``. ``make plans``, ``make golden``, the golden-file
test and the pull-request workflow all read this list, so a new stack file is planned,
golden-checked and diffed without editing any code. (Deployment order is the exception: it stays
written out in ``.github/workflows/deploy.yml``, where prod waits behind its environment.)
"""

from __future__ import annotations

import argparse
import difflib
import re
from pathlib import Path
from typing import Optional

from . import PROG, described

ROOT = Path(__file__).resolve().parents[2]
STACKS_DIR = ROOT / "stacks"

# Pulumi's own rule for a stack name (pulumi/pulumi, pkg/backend/diy/backend.go,
# `stackNameAndProjectRegexp = "^[A-Za-z0-9_.-]{1,100}$"`), plus a letter or digit first so that
# a name never reads as a command-line flag.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def stack_file(name: str, folder: Path = STACKS_DIR) -> Path:
    """Where stack ``name``'s settings live."""
    return folder / f"Pulumi.{name}.yaml"


def names(folder: Path = STACKS_DIR) -> list[str]:
    """Every stack with a file in ``folder``, sorted (the same order on every machine)."""
    found = (p.name[len("Pulumi."):-len(".yaml")] for p in folder.glob("Pulumi.*.yaml") if p.is_file())
    return sorted(n for n in found if NAME.fullmatch(n))


def closest(name: str, folder: Path = STACKS_DIR) -> Optional[str]:
    """The stack ``name`` most likely meant: the same name in another case (``Dev``: ``dev``; stack
    names are case-sensitive, file names too on Linux), else the nearest spelling."""
    known = names(folder)
    same_case = [n for n in known if n.lower() == name.lower()]
    if same_case:
        return same_case[0]
    near = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.6)
    return near[0] if near else None


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog=f"{PROG} stacks", description=described(__doc__.splitlines()[0]))
    parser.parse_args(argv)
    for name in names():
        print(name)
    return 0
