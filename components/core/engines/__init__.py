"""The engines: which image a service runs, which engine release it holds, and its start script.

- ``launch``: what we know of each engine (vLLM, SGLang, BladeLLM): its default image, the
  release an image's tag names, and which flag spells each feature in which release
  (``decide_launch``), each rule with the release it was checked against;
- ``releases``: the releases that exist, so that a typo is no version;
- ``image_checks``: the image held against what the stack file says (engine, release, registry);
- ``rendering``: the decided flags laid out in the Jinja template, every value quoted.

Every decision about the start command is made here, in Python; the templates decide nothing.
Imports ``models`` (what a model needs of an engine) and ``errors``.
"""
