"""Deprecated path, kept so that existing scripts and pipelines keep running.

``python -m components.plan ...`` is now ``qwen3-eas plan ...`` (or ``python -m components plan``);
the arguments and behaviour are the same.
"""

import sys

from components.cli.plan import main

if __name__ == "__main__":
    print("note: `python -m components.plan` is deprecated; use `qwen3-eas plan` (same arguments)", file=sys.stderr)
    sys.exit(main())
