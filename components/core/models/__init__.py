"""The models: what each Qwen3 model is, and what a service may ask of it.

- ``catalog``: the 42 models we deploy, each with the architecture facts sizing and the engines
  need (layers, heads, experts, context, FP8) and the rules of its line (how it thinks, how far
  its context reaches), each fact with its source;
- ``model_rules``: whether what a service asks (its length, thinking, reasoning) is something
  the model can do, and what it costs when it can (YaRN, a Base model asked to chat).

The bottom of the core: it imports only ``errors``. The stack file names these models, so
``model_rules`` takes what a service asks as a ``Request`` (a ``ServiceSpec`` is one) rather than
importing the stack file.
"""
