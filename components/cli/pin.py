"""``make pin STACK=<name>``: record where each service runs, so it stays there.

After ``pulumi up`` the stack's ``services`` output says each service's region. This writes
them into the stack file as ``qwen3-eas:placements`` through ``pulumi config set --path``
(which keeps the file's comments), so later runs keep running services in place even when
stock moves: region fallback only ever chooses for services that have never run. Commit the
stack file change like any other reviewed change.

    qwen3-eas pin --stack prod [--outputs outputs.json] [--dry-run]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

from ..core.stack.spec import PROJECT
from . import PROG, described, make_words


class PinError(RuntimeError):
    """Why pins could not be written, for the person who ran it."""


def read_outputs(stack: str, outputs: Optional[Path]) -> dict[str, Any]:
    """The stack's outputs: from a file, or from ``pulumi stack output --json``."""
    if outputs is not None:
        try:
            return json.loads(outputs.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise PinError(f"cannot read outputs from {outputs}: {exc}") from None
    if shutil.which("pulumi") is None:
        raise PinError(f"the pulumi CLI is not on PATH; pass {make_words('OUTPUTS=', '--outputs ')}FILE "
                       "with the JSON of `pulumi stack output --json`")
    done = subprocess.run(["pulumi", "stack", "output", "--json", "--stack", stack],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PinError(f"pulumi stack output failed: {done.stderr.strip()}")
    return json.loads(done.stdout or "{}")


def pins_from_outputs(outputs: dict[str, Any]) -> dict[str, str]:
    """Service key -> region, for every service the outputs report."""
    services = outputs.get("services") or {}
    if not isinstance(services, dict):
        raise PinError("outputs have no 'services' map: has the stack been deployed with qwen3-eas?")
    return {key: str(entry["region"]) for key, entry in sorted(services.items())
            if isinstance(entry, dict) and entry.get("region")}


def commands(stack: str, pins: dict[str, str]) -> list[list[str]]:
    """The ``pulumi config set`` calls that write ``pins`` into the stack file."""
    return [["pulumi", "config", "set", "--path", f"{PROJECT}:placements.{key}", region, "--stack", stack]
            for key, region in pins.items()]


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog=f"{PROG} pin", description=described(__doc__.splitlines()[0]))
    parser.add_argument("--stack", required=True, help="stack name (stacks/Pulumi.<name>.yaml) whose services to pin")
    parser.add_argument("--outputs", type=Path, help="JSON of `pulumi stack output --json` instead of calling it")
    parser.add_argument("--dry-run", action="store_true", help="print the commands instead of running them")
    args = parser.parse_args(argv)
    try:
        pins = pins_from_outputs(read_outputs(args.stack, args.outputs))
        for command in commands(args.stack, pins):
            print(" ".join(command))
            if not args.dry_run:
                if shutil.which("pulumi") is None:
                    raise PinError("the pulumi CLI is not on PATH: it writes the pins into the stack file")
                subprocess.run(command, check=True)
    except (PinError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not pins:
        print("no deployed services in the outputs: nothing to pin")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
