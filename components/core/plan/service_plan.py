"""``ServicePlan``: everything decided about one service, as the component deploys it and the plan shows it.

``planning.plan_service`` makes one; ``stack_plan`` adds what the run found of the world (where
the service runs, what EAS holds); the component (``components.service``), the offline plan's
files (``report``) and the policy pack read it. Its tags carry the labels a later run reads back
(``components.core.running.ownership``, ``hardware_choice.REQUEST_LABEL``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Optional

from ..engines import launch as engines
from ..hardware import facts, hardware_choice, placement, sizing
from ..hardware.instance_types import InstanceType
from ..models.catalog import Model
from ..running import ownership
from ..stack.spec import PROJECT
from . import live_values, service_json
from .cost import Cost


@dataclass(frozen=True)
class ServicePlan:
    """Everything decided about one service; what the component deploys and the plan shows."""

    stack: str
    key: str
    name: str
    model: Model
    engine: str
    engine_version: engines.Version
    image: str
    region: str
    json_placement: service_json.Placement
    instance_facts: tuple[InstanceType, ...]
    gpus_per_replica: int
    gpu_memory_gb: int
    gpu_type: Optional[str]
    max_model_len: int
    served_model_name: str
    replicas: int
    script: str
    service_config: dict[str, Any]
    warnings: tuple[str, ...] = field(default=())
    explanation: tuple[str, ...] = field(default=())
    sources: tuple[str, ...] = field(default=())
    """Where the figures of the explanation and warnings come from: ``plan.md`` lists them apart."""
    verdict: Optional[sizing.Verdict] = None
    choice: Optional[placement.Choice] = None
    tool_calling: bool = False
    reasoning: bool = False
    thinking: bool = True
    cost: Optional[Cost] = None
    running_in: Optional[str] = None
    """The region the EAS API found this service running in before this run (None: not found,
    or not looked up). It decides how a replacement is done (``components.service``)."""
    protect: bool = False
    retain_on_delete: bool = False
    project: str = PROJECT
    """The Pulumi project: one of the ownership labels (``components.core.running.ownership``)."""
    name_prefix: Optional[str] = None
    draining: Optional[str] = None
    """The region of this service's old copy, kept running by a two-phase move (``drain``)."""
    drain_until: Optional[str] = None
    drain_ended: bool = False
    """The drain is over: this run deletes the old copy (``components.drain``)."""
    moved_from: Optional[str] = None
    """The region this service's current copy was moved from (the ``moved-from`` label): set by
    the run that moves it, and sent again by every later run so that no run changes the label."""
    status_seen: str = ""
    """The status the EAS API reported for this service where it runs, when that status will not
    serve by waiting (``Failed``, ``Stopped``, ...); empty otherwise. The endpoint reader then
    checks the service again and fails the run while it does not serve."""
    sent: Optional[live_values.Sent] = None
    """What is sent where it differs from what the stack builds: values kept as EAS holds them
    (``components.core.plan.live_values``); None when nothing was looked up."""
    import_id: Optional[str] = None
    """The EAS name to take the running service back by (Pulumi's ``import`` option), when this
    stack's copy runs where the service is planned: a no-op while the state holds it, and how a
    service left outside the state (a killed run, a lost answer, ``retainOnDelete``) comes back."""
    candidates: Optional[hardware_choice.Candidates] = None
    """The ordered instance types the deploy may use, and why those (``hardware_choice``)."""
    hardware_request: Optional[str] = None
    """What the stack file asks for (``hardware_choice.request``), recorded as a label; None for dedicated capacity."""
    renamed_from: Optional[str] = None
    """The key this service was deployed under (``renamedFrom``): its EAS name and ``service`` label
    come from it, and the program aliases that key's resources to this one."""

    @property
    def identity(self) -> str:
        """The key its EAS name and ownership label are derived from."""
        return self.renamed_from or self.key

    @property
    def replacement_trigger(self) -> str:
        """What replaces the EAS service when it changes: its region, and its name once prefixed.

        Unprefixed names are the ones every earlier release registered with the region alone, so
        their trigger stays the same; setting or changing ``qwen3-eas:namePrefix`` then changes
        the name, which an in-place update could not do (EAS cannot rename a service)."""
        return f"{self.region}/{self.name}" if self.name_prefix else self.region

    @property
    def moving(self) -> bool:
        """True when the service runs in another region than the one planned: a region move."""
        return self.running_in is not None and self.running_in != self.region

    @cached_property
    def service_config_json(self) -> str:
        """The service JSON the stack builds, serialised once (what ``make plan`` shows and the
        endpoint reader compares)."""
        return service_json.serialise(self.service_config)

    @cached_property
    def sent_config_json(self) -> str:
        """Exactly the string passed to ``alicloud.pai.Service``: the stack's JSON, with what the run
        keeps as EAS holds it (``sent``)."""
        return service_json.serialise(self.sent.config) if self.sent is not None else self.service_config_json

    @property
    def sent_tags(self) -> dict[str, str]:
        """The tags passed to ``alicloud.pai.Service`` (``tags``, and labels kept as EAS holds them)."""
        return dict(self.sent.tags) if self.sent is not None else self.tags

    @property
    def features(self) -> dict[str, bool]:
        """What a client of the service can rely on (the smoke test checks exactly these)."""
        features = {"toolCalling": self.tool_calling, "reasoning": self.reasoning, "thinking": self.thinking}
        if self.model.line.thinking == "always":
            features["alwaysThinks"] = True  # no request can turn its thinking off (Thinking-2507, Next-Thinking)
        return features

    @property
    def tags(self) -> dict[str, str]:
        """Tags on the EAS service, so anyone (and the policy pack) can tell what it runs and on what."""
        tags = {
            "model": self.model.name,
            "engine": self.engine,
            "stack": self.stack,
            "managed-by": "qwen3-eas",
            "gpus": str(self.gpus_per_replica),
            "gpu-memory-gb": str(self.gpu_memory_gb),
            # Whose it is: a later run checks these before keeping a service where it is found.
            **ownership.Owner(self.project, self.stack).labels(self.identity),
        }
        if self.gpu_type:
            tags["gpu-type"] = self.gpu_type
        if self.retain_on_delete:
            tags[ownership.RETAIN_LABEL] = "true"
        moved_from = self.running_in if self.moving else self.moved_from
        if moved_from:
            tags[ownership.MOVED_FROM_LABEL] = moved_from
        if self.hardware_request is not None:
            # What the stack file asked for: a later run keeps what runs while it asks the same.
            tags[hardware_choice.REQUEST_LABEL] = self.hardware_request
        return tags

    def summary(self) -> dict[str, Any]:
        """This service's entry in ``plan.json``."""
        return {
            "name": self.name,
            "model": self.model.name,
            "engine": self.engine,
            "engineVersion": engines.format_version(self.engine_version),
            "image": self.image,
            "imageDigest": engines.image_digest(self.image),
            "region": self.region,
            "resourceKind": self.json_placement.kind,
            "instanceTypes": list(self.json_placement.instance_types),
            "gpusPerReplica": self.gpus_per_replica,
            "gpuMemoryGiB": self.gpu_memory_gb,
            "replicas": self.replicas,
            "maxModelLen": self.max_model_len,
            "servedModelName": self.served_model_name,
            "warnings": list(self.warnings),
            "explanation": list(self.explanation),
            "sources": list(self.sources),
            "sizing": self.verdict.as_dict() if self.verdict else None,
            "placement": self.choice.as_dict() if self.choice else None,
            "cost": self.cost.as_dict() if self.cost else None,
            "hardware": [facts.as_dict(t) for t in self.instance_facts],
            "instanceTypeChoice": self.candidates.as_dict() if self.candidates else None,
            "renamedFrom": self.renamed_from,
            "drainUntil": self.drain_until,
        }
