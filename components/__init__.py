"""qwen3-eas: Qwen3 models as PAI-EAS services, planned in pure Python and deployed by Pulumi.

Pure layers (no Pulumi import): ``catalog``, ``instance_types``, ``spec``, ``stack_config``,
``engines``, ``rendering``, ``service_json``, ``naming``, ``planning``, ``report``.
Pulumi wiring: ``service`` (the component), ``providers``, ``program``, ``plan`` (offline runner).
"""
