"""qwen3-eas policy pack: the project's rules on every ``alicloud:pai/service:Service`` of a stack.

    pulumi preview --stack dev --policy-pack policy [--policy-pack-config policy-config.json]

Only wiring: each rule of ``policy.rules.RULES`` becomes one resource policy with its
default enforcement level, which a policy config file can change (docs/reviewing.md, "The policy pack").
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Pulumi runs this file with policy/ as the script folder, so only policy/ is importable. The
# rules are the project's own code (components/), shared with the component so that a service
# written by hand is held to exactly the sizing rules a planned one is: put the repository root
# on the path before importing them.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pulumi_policy import (  # noqa: E402 (needs the path above)
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from policy import rules as policy_rules  # noqa: E402 (needs the path above)

PACK_NAME = "qwen3-eas"


def _validation(rule: policy_rules.Rule) -> ResourceValidation:
    """The callback Pulumi calls for every resource: EAS services go to ``rule.check``."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type != policy_rules.SERVICE_TYPE:
            return
        config: Mapping[str, Any] = args.get_config() or {}
        provider_props = args.provider.props if args.provider is not None else None
        region = policy_rules.resource_region(provider_props, config.get("region"), os.environ)
        gpu_facts = config.get("gpuFacts")
        extra: dict[str, Any] = {}
        if "requireImageDigest" in rule.config:
            # Only this rule takes the stack: which stacks must pin by digest is its config.
            stack = policy_rules.urn_stack(args.urn)
            extra = {"stack": stack,
                     "digest_required": policy_rules.digest_required(config.get("requireImageDigest"), stack)}
        if "site" in rule.config:
            extra["site"] = config.get("site")
        for message in rule.check(args.props, region=region,
                                  gpu_facts=gpu_facts if isinstance(gpu_facts, Mapping) else None, **extra):
            report_violation(message, None)

    return validate


def build_policies() -> list[Policy]:
    """One policy per rule, at the rule's default level, declaring the config it reads."""
    policies: list[Policy] = []
    for rule in policy_rules.RULES:
        schema = None
        if rule.config:
            schema = PolicyConfigSchema({name: policy_rules.CONFIG_SCHEMA[name] for name in rule.config})
        policies.append(ResourceValidationPolicy(
            name=rule.name,
            description=rule.description,
            validate=_validation(rule),
            enforcement_level=EnforcementLevel(rule.level),
            config_schema=schema,
        ))
    return policies


def main() -> None:
    """Serve the pack to the Pulumi CLI (``PolicyPack`` starts its gRPC server and blocks)."""
    PolicyPack(PACK_NAME, build_policies(),
               description="Qwen3 on PAI-EAS: GPU sizing, spot bids and their limits, no credentials, same-region images, "
                           "images by digest where required")


if __name__ == "__main__":
    main()
