"""The models: what each Qwen3 model is, and what a service may ask of it.

``catalog`` holds the facts sizing and the engines need (architecture, context, line, FP8);
``model_rules`` decides whether a service's request (its length, thinking, reasoning) is one the
model can honour, and at what cost. Imports nothing from the other packages but ``errors``.
"""
