"""The qwen3-eas policy pack: ``__main__.py`` wires the rules of ``rules.py`` into CrossGuard."""
