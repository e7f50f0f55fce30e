"""The stack file's ``qwen3-eas:*`` config as typed, validated models (pydantic v2).

Keys are camelCase, as Pulumi config usually is. Unknown keys, wrong types and impossible
values are errors; cross-field rules live in ``model_validator`` methods whose messages name
the field to fix. Nothing here imports Pulumi or touches the network.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, GetJsonSchemaHandler, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import core_schema

from ..engines.launch import DIGEST
from ..models.catalog import LONGEST_CONTEXT, MODEL_NAMES, NATIVE_CONTEXT
from .regions import EAS_REGIONS

PROJECT = "qwen3-eas"


class SpecError(ValueError):
    """A rule of the stack file broken: what is wrong, which field to change (relative to the
    model that raised it; "" for the model's own mapping), and what to write instead.

    Raised inside validators; pydantic keeps the exception in the error's ``ctx``, so the
    loader (``components.core.stack.stack_config``) can report it in the stack file's own terms.
    """

    def __init__(self, message: str, fix: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.field = field


class Strict(BaseModel):
    """Base for every config model: camelCase keys, no unknown keys, no type coercion."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=False,
        extra="forbid",
        strict=True,
        frozen=True,
    )


@dataclass(frozen=True)
class Pattern:
    """Constraint for ``Annotated[str, Pattern(...)]``: must match ``regex``.

    The error names what the value should be, with an example; the JSON Schema carries the
    pattern so editors flag a bad value while it is typed.
    """

    regex: str
    what: str
    example: str
    choices: tuple[str, ...] = ()
    """The allowed values, when there is a list: the JSON Schema offers them to editors (the loader
    checks them itself, with a did-you-mean hint)."""

    def check(self, value: str) -> str:
        if not re.fullmatch(self.regex, value):
            article = "an" if self.what[:1].lower() in "aeiou" else "a"
            fix = f"write {article} {self.what} such as {self.example!r}"
            # With a list, a near miss in spelling (cn_hangzhou, Cn-Hangzhou) gets its nearest value.
            near = difflib.get_close_matches(value.strip().lower().replace("_", "-"), self.choices, n=1, cutoff=0.75)
            if near:
                fix = f"write {near[0]!r} (did you mean it?)"
            raise SpecError(f"{value!r} is not a valid {self.what}", fix)
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(self, schema: Any, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        if self.choices:
            return {"type": "string", "enum": list(self.choices)}
        return {"type": "string", "pattern": f"^(?:{self.regex})$", "examples": [self.example]}


RegionId = Annotated[str, Pattern(r"[a-z]{2}(-[a-z]+)+(-\d+)?", "region ID", "cn-hangzhou",
                                  tuple(sorted(EAS_REGIONS)))]
InstanceTypeName = Annotated[str, Pattern(r"(ml|ecs)\.[a-z0-9][a-z0-9.\-]*", "instance type", "ml.gu7i.c16m60.1-gu30")]
OssUri = Annotated[str, Pattern(r"oss://[a-z0-9][a-z0-9.\-]{1,254}/[^\s'\"]*", "OSS URI", "oss://my-bucket/models/qwen3/")]
ResourceGroupId = Annotated[str, Pattern(r"eas-r-[a-z0-9]+", "resource group ID", "eas-r-4gt8twzwllfo")]
QuotaId = Annotated[str, Pattern(r"quota[a-z0-9]+", "quota ID", "quota12345")]
GpuType = Annotated[str, Pattern(r"[A-Za-z0-9]+", "GPU type", "GU120")]
@dataclass(frozen=True)
class KeyPattern(Pattern):
    """A service key: a key too long is told the limit, not that its letters are wrong."""

    max_length: int = 40

    def check(self, value: str) -> str:
        if len(value) > self.max_length and re.fullmatch(r"[a-z][a-z0-9_-]*", value):
            raise SpecError(f"{value!r} is {len(value)} characters long; a service key has at most {self.max_length}",
                            f"shorten it to at most {self.max_length} characters")
        return super().check(value)


ServiceKey = Annotated[str, KeyPattern(r"[a-z][a-z0-9_-]{0,39}",
                                       "service key (lowercase letter first, then a-z 0-9 _ -, at most 40 characters)",
                                       "chat")]
# Served model names reach the engine command line; the shell filter quotes them anyway, but a
# name clients must type is kept to a sane alphabet.
ServedName = Annotated[str, Pattern(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}", "served model name", "qwen3-8b")]
NamePrefix = Annotated[str, Pattern(r"[a-z][a-z0-9]{0,15}", "name prefix (lowercase letter first, then a-z 0-9, "
                                    "at most 16)", "teama")]
# RFC 3339 with a zone; YAML turns an unquoted one into a timestamp, which reaches us as its str().
Timestamp = Annotated[str, Pattern(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})",
                                   "time with its zone (RFC 3339)", "2026-12-01T00:00:00Z")]


@dataclass(frozen=True)
class ImagePattern(Pattern):
    """An image reference: ``registry/repo:tag``, ``registry/repo:tag@sha256:<64 hex>`` or
    ``registry/repo@sha256:<64 hex>``.

    A digest pins the exact image content (a tag can be moved to other content); the errors
    say which part is wrong, since a mistyped digest is easy to miss in a long reference.
    """

    def check(self, value: str) -> str:
        if "@" in value:
            name, digest = value.split("@", 1)
            if not DIGEST.fullmatch(digest):
                raise ValueError(
                    f"{value!r}: the digest {digest!r} is not sha256: followed by 64 lowercase hex characters "
                    "(copy it whole from the registry, e.g. `docker buildx imagetools inspect <image>`)")
            if not re.fullmatch(_IMAGE_NAME + f"(?:{_IMAGE_TAG})?", name):
                raise ValueError(f"{value!r}: {name!r} before the @ is not a valid image name "
                                 "(expected e.g. 'registry/ns/vllm:0.11.2@sha256:<64 hex>')")
            return value
        if re.fullmatch(_IMAGE_NAME, value):
            raise ValueError(f"{value!r} has neither a tag nor a digest (expected e.g. 'registry/ns/vllm:0.11.2' "
                             "or 'registry/ns/vllm@sha256:<64 hex>' with engineVersion)")
        return super().check(value)


_IMAGE_NAME = r"[a-z0-9][a-z0-9.\-]*(:\d+)?/[a-z0-9._/\-]+"
_IMAGE_TAG = r":[A-Za-z0-9._\-]+"
_DIGEST = DIGEST.pattern  # one definition, in engines, which reads digests off image references
Image = Annotated[
    str,
    ImagePattern(f"{_IMAGE_NAME}(?:{_IMAGE_TAG}(?:@{_DIGEST})?|@{_DIGEST})", "image", "registry/ns/vllm:0.11.2"),
]
Version = Annotated[str, Pattern(r"\d+\.\d+(\.\d+)?", "engine version", "0.11.2")]

Engine = Literal["sglang", "vllm", "bladellm"]
KvCacheDtype = Literal["auto", "fp8"]
ModelName = Literal[MODEL_NAMES]  # type: ignore[valid-type]


class InstanceFacts(Strict):
    """Figures for an instance type whose name does not tell us its GPUs."""

    gpus: int = Field(ge=1, le=16, description="GPUs in one instance of this type.")
    gpu_type: Optional[GpuType] = Field(None, description="EAS GPU code, e.g. GU60.")
    gpu_memory_gi_b: Optional[int] = Field(
        None, ge=1, alias="gpuMemoryGiB", description="Memory of one GPU, GB."
    )

    @model_validator(mode="after")
    def _memory_known(self) -> InstanceFacts:
        if self.gpu_type is None and self.gpu_memory_gi_b is None:
            raise SpecError("the GPU memory of this type is not stated",
                            "add gpuType (a GPU code such as GU60) or gpuMemoryGiB (GB of one GPU, e.g. 48)")
        return self


class _Instances(Strict):
    instance_types: Optional[list[InstanceTypeName]] = Field(
        None,
        min_length=1,
        description="Ordered instance types; EAS uses the first one with stock. "
        "Leave out to let sizing choose.",
    )
    instance_type_facts: dict[InstanceTypeName, InstanceFacts] = Field(
        default_factory=dict,
        description="GPU figures for types we cannot read from their names.",
    )

    @model_validator(mode="after")
    def _unique_types(self) -> _Instances:
        types = self.instance_types or []
        dupes = sorted({t for t in types if types.count(t) > 1})
        if dupes:
            raise SpecError(f"lists {', '.join(dupes)} more than once", "list each instance type once",
                            "instanceTypes")
        return self


class PublicResource(_Instances):
    """Pay-as-you-go public resources."""

    kind: Literal["public"]


class SpotResource(_Instances):
    """Preemptible (spot) instances, bid at ``bidPrice`` per instance-hour."""

    kind: Literal["spot"]
    bid_price: float = Field(
        gt=0, description="Maximum price per instance-hour, in your site's currency (USD on the international site, "
        "as EAS documents it; see qwen3-eas:cost.site); becomes spot_price_limit."
    )
    spot_protection: bool = Field(
        True, description="Keep the one-hour protection from preemption (costs more)."
    )
    on_demand_fallback: bool = Field(
        False, description="Append the same types without a bid as a last resort."
    )


class _PerReplica(Strict):
    gpus: int = Field(ge=1, le=16, description="GPUs one replica gets.")
    gpu_type: GpuType = Field(description="EAS GPU code of those GPUs, e.g. GU120.")
    cpu: int = Field(ge=1, le=1024, description="vCPUs one replica gets.")
    memory_gi_b: int = Field(ge=1, le=8192, alias="memoryGiB", description="RAM one replica gets, GiB.")
    gpu_memory_gi_b: Optional[int] = Field(
        None, ge=1, alias="gpuMemoryGiB", description="Per-GPU memory, when gpuType is not one we know."
    )


class ResourceGroupResource(_PerReplica):
    """An EAS dedicated resource group (prepaid machines)."""

    kind: Literal["resourceGroup"]
    resource_group_id: ResourceGroupId = Field(description="The group's ID, eas-r-...")


class QuotaResource(_PerReplica):
    """A Lingjun resource quota."""

    kind: Literal["quota"]
    quota_id: QuotaId = Field(description="The quota's ID (metadata.quota_id).")


class SizingOptions(Strict):
    """How hard the memory estimate is enforced (the minimum-config table always is)."""

    strict: bool = Field(True, description="False turns memory-estimate errors into warnings.")


class Autoscaling(Strict):
    """EAS's horizontal autoscaler: replicas between ``min`` and ``max`` by QPS or CPU."""

    min: int = Field(ge=1, le=1000, description="Fewest replicas.")
    max: int = Field(ge=1, le=1000, description="Most replicas.")
    qps: Optional[float] = Field(None, gt=0, description="Target requests per second per replica.")
    cpu: Optional[int] = Field(None, ge=1, le=100, description="Target CPU utilisation per replica, percent.")

    @model_validator(mode="after")
    def _bounds(self) -> Autoscaling:
        if self.min > self.max:
            raise SpecError(f"min ({self.min}) is above max ({self.max})",
                            f"set min to {self.max} or less, or max to {self.min} or more", "min")
        if self.qps is None and self.cpu is None:
            raise SpecError("has no scaling metric (qps or cpu)",
                            "add qps (requests per second per replica, e.g. qps: 10) or cpu (percent, e.g. cpu: 70)")
        return self


class RollingStrategy(Strict):
    """How EAS replaces replicas on an update."""

    max_surge: Union[Annotated[int, Field(ge=0, le=100)], Annotated[str, Pattern(r"\d{1,3}%", "percentage", "20%")]] = Field(
        1, description="Extra replicas (or a percentage) started before old ones stop."
    )
    max_unavailable: int = Field(0, ge=0, le=100, description="Replicas that may be down during an update.")

    @model_validator(mode="after")
    def _progress(self) -> RollingStrategy:
        if self.max_surge in (0, "0%") and self.max_unavailable == 0:
            raise SpecError("maxSurge and maxUnavailable are both 0: an update could never progress",
                            "set maxSurge: 1 (start a new replica before stopping an old one) or maxUnavailable: 1")
        return self


IdOf = Annotated[str, Pattern(r"[a-z]{2,4}-[a-z0-9]+", "resource ID", "vpc-bp1abc")]


class Network(Strict):
    """The VPC the service's instances join (``cloud.networking``)."""

    vpc_id: IdOf = Field(description="vpc-...")
    vswitch_id: IdOf = Field(description="vsw-... in the service's region")
    security_group_id: IdOf = Field(description="sg-...")


Resource = Annotated[
    Union[PublicResource, SpotResource, ResourceGroupResource, QuotaResource],
    Field(discriminator="kind"),
]


class Drain(Strict):
    """A two-phase region move: the old copy keeps running until a stated time (docs/day2.md)."""

    region: RegionId = Field(description="Region the service runs in now and moves away from; its copy there "
                             "keeps running (and billed) until `until`.")
    until: Timestamp = Field(description="When the old copy may go: the first `pulumi up` after this time "
                             "deletes it. A time already past deletes it at the next run.")

    @property
    def until_time(self) -> datetime:
        return datetime.fromisoformat(self.until.replace("Z", "+00:00"))


class ServiceSpec(Strict):
    """One Qwen3 service as written under ``qwen3-eas:services.<key>``."""

    model: ModelName = Field(description="Catalog name, e.g. Qwen3-8B.")  # type: ignore[valid-type]
    engine: Engine = Field(description="Inference engine: sglang, vllm or bladellm.")
    replicas: int = Field(1, ge=1, le=1000, description="Instances (metadata.instance).")
    max_model_len: int = Field(
        NATIVE_CONTEXT,
        ge=1024,
        le=LONGEST_CONTEXT,
        description="Tokens per sequence (input + output); beyond the model's native length (32768, or 262144 for "
        "the 2507, Coder and Next models) turns on YaRN where the model documents it.",
    )
    tool_calling: bool = Field(False, description="Parse tool calls into structured tool_calls.")
    reasoning: bool = Field(False, description="Return reasoning separately from the answer.")
    thinking: bool = Field(True, description="False serves a chat template that never thinks.")
    served_model_name: Optional[ServedName] = Field(None, description="Name clients send; default the model name.")
    image: Optional[Image] = Field(
        None, description="Engine image, optionally pinned by digest (repo:tag@sha256:..., or repo@sha256:... with "
        "engineVersion); default the EAS image of the engine.")
    engine_version: Optional[Version] = Field(
        None, description="Overrides the version read from the image tag; required for an image pinned by digest only.")
    model_path: Optional[OssUri] = Field(None, description="oss:// directory of the weights (e.g. fine-tuned).")
    kv_cache_dtype: KvCacheDtype = Field(
        "auto", description="auto: the model's dtype (BF16); fp8 halves the KV cache for longer contexts."
    )
    sizing: SizingOptions = Field(default_factory=SizingOptions, description="Sizing enforcement.")
    resource: Resource
    regions: Optional[list[RegionId]] = Field(
        None, min_length=1, description="Ordered region IDs; default the stack's alicloud:region."
    )
    autoscaling: Optional[Autoscaling] = Field(None, description="Autoscaler; replicas must lie within min..max.")
    rolling_strategy: RollingStrategy = Field(
        default_factory=RollingStrategy,
        description="Update pace; the default starts one new GPU replica before stopping an old one.",
    )
    network: Optional[Network] = Field(None, description="VPC, vSwitch and security group for the instances.")
    allow_region_move: bool = Field(
        False, description="Let a service that runs (or is pinned in qwen3-eas:placements) move to another region: "
        "the new one is created and Running before the old one is deleted."
    )
    allow_hardware_change: bool = Field(
        False, description="Let a service without instanceTypes that runs leave the instance types it runs on for "
        "the automatic choice of this plan (a rolling update onto other GPUs). Without it a running service keeps "
        "its instance types while they still fit it, whatever the stock or the hardware table says."
    )
    renamed_from: Optional[ServiceKey] = Field(
        None, description="The service key this service was deployed under: the running EAS service is kept (its "
        "EAS name and labels stay those of the old key, and Pulumi aliases the old key's resources). Keep it as "
        "long as the service runs."
    )
    protect: Optional[bool] = Field(
        None, description="Pulumi protect: the EAS service cannot be deleted or replaced (a region move included) "
        "until this is false again. Default: the stack's qwen3-eas:protect."
    )
    retain_on_delete: Optional[bool] = Field(
        None, description="Pulumi retainOnDelete: removing the service from the stack (or replacing it) leaves "
        "the EAS service running and billed. Default: the stack's qwen3-eas:retainOnDelete."
    )
    drain: Optional[Drain] = Field(
        None, description="Move out of `drain.region` in two phases: the new copy is created elsewhere while the "
        "old one keeps serving until `drain.until`, so that clients can switch host and token."
    )

    @model_validator(mode="after")
    def _drain_leaves_a_region(self) -> ServiceSpec:
        if self.drain is not None and self.regions == [self.drain.region]:
            raise SpecError(f"the only region listed, {self.drain.region}, is the one being drained",
                            "list the region the service moves to in regions", "drain.region")
        return self

    @model_validator(mode="after")
    def _regions_unique(self) -> ServiceSpec:
        regions = self.regions or []
        if len(set(regions)) != len(regions):
            dupes = sorted({r for r in regions if regions.count(r) > 1})
            raise SpecError(f"lists {', '.join(dupes)} more than once", "list each region once", "regions")
        return self

    @model_validator(mode="after")
    def _replicas_within_autoscaling(self) -> ServiceSpec:
        scale = self.autoscaling
        if scale is not None and not scale.min <= self.replicas <= scale.max:
            raise SpecError(f"replicas ({self.replicas}) must lie within autoscaling min..max ({scale.min}..{scale.max})",
                            f"set replicas between {scale.min} and {scale.max}, or widen autoscaling", "replicas")
        return self


class CostOptions(Strict):
    """How the plan states and checks what the stack may cost (``qwen3-eas:cost``)."""

    site: Literal["international", "china"] = Field(
        "international", description="The Alibaba Cloud site your account is on: international (alibabacloud.com; bids "
        "in USD, as EAS documents them) or china (aliyun.com; the bid currency is unconfirmed). Prices are per site.")
    warn_above_per_hour: Optional[float] = Field(
        None, gt=0, description="The stack's hourly cost bound above which the plan and make diff warn, in the bid currency.")


class StackConfig(Strict):
    """Everything under the ``qwen3-eas:`` namespace of a stack file."""

    services: dict[ServiceKey, ServiceSpec] = Field(
        min_length=1, description="Service key -> service spec."
    )
    workspace_id: Optional[Annotated[str, Pattern(r"\d+", "workspace ID", "123456")]] = Field(
        None, description="PAI workspace the services belong to."
    )
    placements: dict[ServiceKey, RegionId] = Field(
        default_factory=dict,
        description="Service key -> the region it runs in (written by `make pin`); keeps running services in place.",
    )
    protect: bool = Field(
        False, description="Pulumi protect for every EAS service of the stack (a service's own protect wins)."
    )
    retain_on_delete: bool = Field(
        False, description="Pulumi retainOnDelete for every EAS service of the stack (a service's own setting wins)."
    )
    cost: CostOptions = Field(
        default_factory=CostOptions, description="The site whose currency and prices the cost lines use, and a warning threshold."
    )
    name_prefix: Optional[NamePrefix] = Field(
        None, description="Put before every EAS name of the stack (`<prefix>_<key>_<stack>`) so that projects "
        "sharing an account and region never share a name. Set it when a stack is created: setting or changing it "
        "later replaces every service (new endpoints and tokens)."
    )
    adopt: list[ServiceKey] = Field(
        default_factory=list,
        description="Service keys whose running EAS service has no ownership labels (made by hand, or by qwen3-eas "
        "before the labels) and is this stack's all the same; the next `pulumi up` labels it.",
    )

    def identity(self, key: str) -> str:
        """The key service ``key`` was deployed under: its EAS name and ``service`` label come from it."""
        return self.services[key].renamed_from or key

    @model_validator(mode="after")
    def _adopt_known_services(self) -> StackConfig:
        unknown = sorted(set(self.adopt) - set(self.services))
        if unknown:
            raise SpecError(f"adopts {', '.join(map(repr, unknown))}, not a configured service",
                            "list only keys of qwen3-eas:services", "adopt")
        return self

    def protected(self, key: str) -> bool:
        """Whether service ``key`` is protected (its own setting, else the stack's)."""
        own = self.services[key].protect
        return self.protect if own is None else own

    def retained(self, key: str) -> bool:
        """Whether service ``key`` is left running when Pulumi deletes it (its own setting, else the stack's)."""
        own = self.services[key].retain_on_delete
        return self.retain_on_delete if own is None else own
