"""The pure core: every decision about a service, from the stack file to the service JSON.

No Pulumi and no network (``tests/test_layout.py`` checks): the component, the offline plan
and the policy pack all reuse it, and its tests need no mocks. One package per concept, each
importing only those below it (``tests/test_layout.py``, ``CORE_DIRECTIONS``):

- ``models``: what each Qwen3 model is, and what a service may ask of it;
- ``engines``: the image, its engine release, the flags and the start script;
- ``stack``: the stack file: its typed spec, how it is read and validated, regions and names;
- ``hardware``: what a replica runs on, where there is stock, whether the model fits
  (one entry: ``hardware.verdict.decide``);
- ``running``: what already runs: whose a service is, where it stays, what a deploy recorded;
- ``plan``: one service's plan (``plan.planning``, the entry; its docstring gives the stages),
  the stack's, the service JSON, cost, and the plan's files;
- ``errors.py``: the problems every package reports, for people;
- ``data/``: the hardware table's CSV files (``hardware.hardware_table`` reads them; plans and
  messages name them by this path).
"""
