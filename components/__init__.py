"""qwen3-eas: Qwen3 models as PAI-EAS services, planned in pure Python and deployed by Pulumi.

Pure layers (no Pulumi import): ``catalog``, ``instance_types``, ``spec``, ``stack_config``,
``sizing``, ``engines``, ``rendering``, ``service_json``, ``naming``, ``placement``, ``resources``,
``planning``, ``report``, ``policy_rules``.
EAS API: ``eas_api`` (stock probe, snapshots), ``stock``, ``capacity``; ``endpoint`` (DescribeService).
Pulumi wiring: ``service`` (the component), ``providers``, ``program``, ``plan`` (offline runner).
Tools: ``diff`` (plan diff), ``pin`` (placements), ``smoke`` (live API checks), ``schema``.
"""
