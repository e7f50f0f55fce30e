"""``Qwen3EasService``: one Qwen3 model as a PAI-EAS service, a thin Pulumi wrapper over a plan.

Every decision is already in the ``ServicePlan`` (``components.core.planning``); this component
only registers resources. Nothing is created inside ``apply``: previews would stop matching
what ``up`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_alicloud as alicloud

from .core.planning import ServicePlan
from .endpoint import EndpointProvider, ServiceEndpoint

TYPE_TOKEN = "qwen3-eas:eas:Qwen3EasService"

# Image pulls of 20+ GB and loading 235B weights take far longer than the provider's default.
TIMEOUTS = pulumi.CustomTimeouts(create="90m", update="90m", delete="30m")


@dataclass(frozen=True)
class Qwen3EasServiceArgs:
    """What the component needs: the plan, and the provider of the plan's region."""

    plan: ServicePlan
    provider: alicloud.Provider
    workspace_id: Optional[str] = None
    endpoint_provider: Optional[EndpointProvider] = None
    """Where DescribeService is called (tests point it at a local server)."""


class Qwen3EasService(pulumi.ComponentResource):
    """A Qwen3 EAS service: the ``alicloud.pai.Service`` plus the facts a reader needs."""

    service: alicloud.pai.Service
    endpoint: ServiceEndpoint
    internet_endpoint: pulumi.Output[str]
    intranet_endpoint: pulumi.Output[str]
    openai_base_url: pulumi.Output[str]
    token: pulumi.Output[str]
    """The service's access token, a secret."""
    name_output: pulumi.Output[str]
    region: pulumi.Output[str]
    served_model_name: pulumi.Output[str]
    plan: ServicePlan
    """Every decision behind this service (the offline plan reads it from here)."""

    def __init__(self, name: str, args: Qwen3EasServiceArgs,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        plan = self.plan = args.plan
        self.service = alicloud.pai.Service(
            f"{name}-service",
            service_config=plan.service_config_json,
            workspace_id=args.workspace_id,
            tags=plan.tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.provider,
                custom_timeouts=TIMEOUTS,
            ),
        )
        self.endpoint = ServiceEndpoint(
            f"{name}-endpoint",
            region=plan.region,
            service_name=plan.name,
            service_config=plan.service_config_json,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.service]),
            provider=args.endpoint_provider,
        )
        self.internet_endpoint = self.endpoint.internetEndpoint
        self.intranet_endpoint = self.endpoint.intranetEndpoint
        self.openai_base_url = self.endpoint.openaiBaseUrl
        self.token = pulumi.Output.secret(self.endpoint.token)
        self.name_output = pulumi.Output.from_input(plan.name)
        self.region = pulumi.Output.from_input(plan.region)
        self.served_model_name = pulumi.Output.from_input(plan.served_model_name)
        self.register_outputs(
            {
                "serviceName": self.name_output,
                "region": self.region,
                "servedModelName": self.served_model_name,
                "status": self.service.status,
                "internetEndpoint": self.internet_endpoint,
                "openaiBaseUrl": self.openai_base_url,
                "token": self.token,
            }
        )
