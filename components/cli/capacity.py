"""``make capacity REGIONS="..."``: write a capacity snapshot from the live EAS API.

    qwen3-eas capacity --regions "cn-wulanchabu cn-beijing" --out capacity.json
    qwen3-eas capacity --stack prod --out capacity.json    (the regions the stack's program probes)

The deploy workflow takes one snapshot per stack and hands it to ``pulumi up`` through
``QWEN3_EAS_CAPACITY``, so the preview half of ``up`` and the update half decide on the same
stock (the program otherwise probes live, once per run: twice per ``up``).

The snapshot is what ``make plan CAPACITY=capacity.json`` reads: a reviewer can reproduce the
region choice of a plan without credentials. Regions that cannot be read are reported and
left out (a plan then treats them as unreachable).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from ..core.errors import StackConfigError
from ..core.stack import regions as eas_regions
from ..eas import api as eas_api
from ..eas import credentials as eas_credentials
from ..eas import probe as eas_probe
from . import PROG, described, make_words
from .plan import PlanError


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog=f"{PROG} capacity", description=described(__doc__.splitlines()[0]))
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--regions", help="space- or comma-separated region IDs")
    which.add_argument("--stack", help="stack name or file: the regions its public and spot services use")
    parser.add_argument("--out", type=Path, default=Path("capacity.json"),
                        help="where to write the snapshot (default capacity.json)")
    parser.add_argument("--deadline", type=float, default=30.0, help="seconds for the whole probe")
    args = parser.parse_args(argv)
    given = make_words("REGIONS=", "--regions")
    if args.stack is not None:
        try:
            regions = _stack_regions(args.stack)
        except (PlanError, StackConfigError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if not regions:
            # Dedicated capacity only: nothing to probe, and an empty snapshot says exactly that.
            eas_probe.write_snapshot(args.out, {})
            print(f"wrote {args.out}: stack {args.stack} has no public or spot service, nothing to probe")
            return 0
    else:
        regions = [r for r in args.regions.replace(",", " ").split() if r]
    if not regions:
        print(f"error: no region given; set {given} to region IDs where EAS runs (e.g. cn-wulanchabu)",
              file=sys.stderr)
        return 2
    # The same list the stack files are checked against: a typo is caught here, not by a timeout.
    bad = [r for r in regions if not eas_regions.is_eas_region(r)]
    if bad:
        for region in bad:
            print(f"error: {eas_regions.unknown_region(region)}; in {given} {eas_regions.region_hint(region)}",
                  file=sys.stderr)
        return 2
    try:
        provider = eas_credentials.resolve_credentials()
    except eas_credentials.NoCredentialsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        answers = eas_probe.probe_regions(
            regions, client_factory=lambda region: eas_api.make_client(region, provider=provider),
            deadline_s=args.deadline)
    except eas_api.ProbeAuthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    snapshot = {r: a for r, a in answers.items() if isinstance(a, list)}
    for region, answer in sorted(answers.items()):
        if not isinstance(answer, list):
            print(f"warning: {region}: {answer}; left out of the snapshot", file=sys.stderr)
    if not snapshot:
        # Keep whatever snapshot is already there: an empty one would make every region unreachable.
        print(f"error: no region answered; {args.out} left as it was", file=sys.stderr)
        return 1
    eas_probe.write_snapshot(args.out, snapshot)
    print(f"wrote {args.out}: {', '.join(f'{r} ({len(m)} types)' for r, m in sorted(snapshot.items()))}")
    return 0


def _stack_regions(stack: str) -> list[str]:
    """The regions the program would probe for ``stack`` (its public and spot services')."""
    from ..core.plan import stack_plan
    from ..core.stack import stack_config
    from .plan import read_stack_config, resolve_stack

    name, path = resolve_stack(stack)
    return sorted(stack_plan.probed_regions(stack_config.load(name, read_stack_config(path))))


if __name__ == "__main__":
    raise SystemExit(main())
