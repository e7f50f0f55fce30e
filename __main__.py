"""qwen3-eas: deploy the Qwen3 services a stack file describes (see README.md)."""

from components.program import main

# Module-level name: the offline plan reads the components (and their plans) from here.
services = main()
