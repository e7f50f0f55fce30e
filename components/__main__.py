"""``python -m components <subcommand>``: the same entry point as the ``qwen3-eas`` script."""

import sys

from components.cli import main

sys.exit(main())
