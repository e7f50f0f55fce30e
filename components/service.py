"""``Qwen3EasService``: one Qwen3 model as a PAI-EAS service, a thin Pulumi wrapper over a plan.

Every decision is already in the ``ServicePlan`` (``components.core.plan.planning``); this component
only registers resources. Nothing is created inside ``apply``: previews would stop matching
what ``up`` does.

Like any Pulumi component it takes its provider through ``opts.providers`` (the program hands
each one its region's explicit provider) and passes the options a user expects through:
``protect`` and ``transforms`` reach the children (Pulumi inherits them from the parent),
``aliases`` apply to the component. How a region change replaces the EAS service, and why, is
in docs/day2.md ("Region changes and replacement").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_alicloud as alicloud

from .core.plan.service_plan import ServicePlan
from .core.running import service_status
from .core.running.ownership import OWNER_KEYS
from .drain import DrainedCopy
from .endpoint import ServiceEndpoint

TYPE_TOKEN = "qwen3-eas:eas:Qwen3EasService"

# Image pulls of 20+ GB and loading 235B weights take far longer than the provider's default.
TIMEOUTS = pulumi.CustomTimeouts(create="90m", update="90m", delete="30m")


class MissingProviderError(ValueError):
    """The component was given no alicloud provider: it would fall back to a default one."""


@dataclass(frozen=True)
class Qwen3EasServiceArgs:
    """What the component needs: the plan (the provider comes in ``opts.providers``)."""

    plan: ServicePlan
    workspace_id: Optional[str] = None


class Qwen3EasService(pulumi.ComponentResource):
    """A Qwen3 EAS service: the ``alicloud.pai.Service`` plus the facts a reader needs.

    Its attributes are typed where ``__init__`` sets them, not as class annotations: the SDK
    resolves a resource class's annotations (``typing.get_type_hints``) again for every resource
    it registers, to read outputs back into them, and a component's outputs are never read back.
    On a stack of 1000 services that lookup alone cost about a quarter of a second (docs/benchmarks.md).
    """

    def __init__(self, name: str, args: Qwen3EasServiceArgs,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        opts = opts or pulumi.ResourceOptions()
        self.plan: ServicePlan = args.plan
        """Every decision behind this service (the offline plan reads it from here)."""
        plan = args.plan
        if opts.protect is None and plan.protect:
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=True))
        super().__init__(TYPE_TOKEN, name, None, opts)
        if "alicloud" not in self._providers:
            # With `pulumi:disable-default-providers: [alicloud]` the engine would refuse it
            # anyway; without it, the EAS service would go to whatever region the environment
            # names. Either way: say so now, by name.
            raise MissingProviderError(f"{name}: pass the alicloud provider of region {plan.region} in "
                                       "opts.providers (the program's RegionalProviders gives it)")
        self.service: alicloud.pai.Service = alicloud.pai.Service(
            f"{name}-service",
            # The stack's JSON, with what the run keeps as EAS holds it (components/core/plan/live_values.py).
            service_config=plan.sent_config_json,
            workspace_id=args.workspace_id,
            tags=plan.sent_tags,
            # The stack says it serves: a service found stopped outside Pulumi is started again (by
            # `up --refresh`, which shows the provider the stopped status). Only then: the
            # provider's start waits for Running with no fail state, so a Failed service would hold
            # the run for the whole update timeout.
            status="Running" if plan.status_seen in service_status.STOPPED else None,
            opts=pulumi.ResourceOptions(
                parent=self,  # the provider comes from the parent's providers map
                custom_timeouts=TIMEOUTS,
                # A different region replaces the service; in-place, the new region's provider
                # would address a service that is not there (see docs/day2.md).
                replacement_trigger=plan.replacement_trigger,
                # Across regions the name is free in the new region: create it (Running) first,
                # then delete the old one through the old region's provider. In the region it
                # runs in, the name is taken: a replacement there must delete first.
                delete_before_replace=replace_deletes_first(plan),
                retain_on_delete=True if opts.retain_on_delete or plan.retain_on_delete else None,
                # This stack's copy runs where it is planned: a no-op while the state holds it (same
                # ID), and how a service a killed run created, or a retained one, is taken back.
                import_=plan.import_id,
            ),
        )
        self.endpoint: ServiceEndpoint = ServiceEndpoint(
            f"{name}-endpoint",
            region=plan.region,
            service_name=plan.name,
            service_config=plan.service_config_json,
            service_created=self.service.create_time,
            service_urn=self.service.urn,
            status_seen=plan.status_seen,
            sent_config=plan.sent_config_json,
            extra_keys=list(plan.sent.to_remove) if plan.sent is not None else [],
            retain_on_delete=bool(opts.retain_on_delete or plan.retain_on_delete),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.service]),
        )
        # A two-phase move's old copy, kept until the drain ends (components/drain.py).
        self.drained: Optional[DrainedCopy] = DrainedCopy(
            f"{name}-drained", region=plan.draining, service_name=plan.name, until=plan.drain_until or "",
            owner={k: plan.tags[k] for k in OWNER_KEYS}, ended=plan.drain_ended,
            opts=pulumi.ResourceOptions(parent=self),
        ) if plan.draining else None
        """The old copy of a two-phase region move while it drains (None otherwise)."""
        self.internet_endpoint: pulumi.Output[str] = self.endpoint.internetEndpoint
        self.intranet_endpoint: pulumi.Output[str] = self.endpoint.intranetEndpoint
        self.openai_base_url: pulumi.Output[str] = self.endpoint.openaiBaseUrl
        self.token: pulumi.Output[str] = pulumi.Output.secret(self.endpoint.token)
        """The service's access token, a secret."""
        # The facts the plan already knows go out as plain strings: each Output is one more task the
        # SDK's outputs loop visits on every pass until the program ends (docs/benchmarks.md, issue 32).
        self.register_outputs(
            {
                "serviceName": plan.name,
                "region": plan.region,
                "servedModelName": plan.served_model_name,
                "status": self.service.status,
                "internetEndpoint": self.internet_endpoint,
                "openaiBaseUrl": self.openai_base_url,
                "token": self.token,
            }
        )

    @property
    def name_output(self) -> pulumi.Output[str]:
        """The EAS service name, as an Output (the program exports ``plan.name`` itself)."""
        return pulumi.Output.from_input(self.plan.name)

    @property
    def region(self) -> pulumi.Output[str]:
        """The region the service is planned in, as an Output."""
        return pulumi.Output.from_input(self.plan.region)

    @property
    def served_model_name(self) -> pulumi.Output[str]:
        """The model name clients send, as an Output."""
        return pulumi.Output.from_input(self.plan.served_model_name)


def replace_deletes_first(plan: ServicePlan) -> bool:
    """Whether a replacement of this service deletes the old one before creating the new one.

    Only when the service is known to run in the very region it is planned in: EAS names are
    unique per region, so a create-first replacement there would fail on the taken name after
    the engine had started it. A move (it runs elsewhere) and a service not looked up create
    first: nothing is deleted until its successor is Running.
    """
    return plan.running_in is not None and not plan.moving
