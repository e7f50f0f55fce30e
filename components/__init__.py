"""qwen3-eas: Qwen3 models as PAI-EAS services, planned in pure Python and deployed by Pulumi.

This folder's top level holds the Pulumi wiring, and only that:

- ``service``: the ``Qwen3EasService`` component resource (one EAS service);
- ``endpoint``: the dynamic resource that reads a deployed service's endpoint and token;
- ``providers``: one explicit alicloud provider per region;
- ``program``: what ``__main__.py`` runs: read the stack, plan, build components, export.

The wings, each one role, imported one way (``cli`` and the program -> wiring -> ``core``):

- ``core/``: every decision, pure (no Pulumi, no network), one package per concept: ``models``,
  ``engines``, ``stack`` (the stack file), ``hardware``, ``running`` (what already runs) and
  ``plan`` (one service's plan, the stack's, the service JSON, cost, the plan's files);
- ``eas/``: everything that calls the EAS API (stock probe, snapshots, service lookups);
- ``cli/``: the tools behind ``qwen3-eas <subcommand>`` (plan, diff, capacity, pin, smoke, schema).

The policy pack's rules live beside the pack, in ``policy/rules.py``. ``tests/test_layout.py``
holds the import direction.
"""
