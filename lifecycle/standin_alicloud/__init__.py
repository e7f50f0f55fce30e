"""A stand-in for the ``alicloud`` provider plugin, version 4.0.0: test infrastructure, never shipped.

The real plugin (pulumi-alicloud, bridging terraform-provider-alicloud) cannot be downloaded here,
so this one plays it for ``make lifecycle``. It serves the engine's gRPC ``ResourceProvider``
protocol for the provider itself and for the one resource the project registers,
``alicloud:pai/service:Service``, and copies what the bridged Terraform resource does, each
behaviour cited in ``pai_service``. It calls EAS through the official SDK client, only ever on
the loopback address that ``QWEN3_EAS_API_ENDPOINT`` names (the fake EAS).

    python -m lifecycle.standin_alicloud <engine address>     # what the engine starts
"""

VERSION = "4.0.0"
"""The version pulumi_alicloud 4.0.0 registers its resources with (its pulumi-plugin.json)."""
