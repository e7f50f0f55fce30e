"""``alicloud:pai/service:Service`` as the bridged Terraform resource behaves.

Each rule cites aliyun/terraform-provider-alicloud at tag v1.285.0, the file
``alicloud/resource_alicloud_pai_service.go`` unless another is named (line numbers of that tag;
pulumi-alicloud bridged v1.285.0 in its commit 426cc02fa4, "Upgrade terraform-provider-alicloud
to v1.285.0", before its 4.0.0 SDK), and the bridge's Terraform plugin SDK v1 semantics:

- inputs ``serviceConfig`` (required, valid JSON: 42-54), ``develop``, ``status`` (optional and
  computed: 55-59), ``tags`` (60), ``workspaceId`` (61-64); computed ``createTime`` and
  ``regionId`` (30-41). No field is ``ForceNew``: this resource never asks for a replacement;
- ``serviceConfig`` is stored normalised (``StateFunc`` → ``normalizeJsonString``,
  ``validators.go`` 196-215) and an equivalent JSON is no change (``DiffSuppressFunc`` →
  ``compareJsonTemplateAreEquivalent``, ``common.go`` 750-773): key order and spacing never diff;
- Create (69-122): CreateService with the JSON as body and ``Labels``/``WorkspaceId``/``Develop``
  in the query; the ID is the service name; wait for ``Running``, ``Failed`` failing it (116);
  then Update's code path for status and tags (121), which ends in Read;
- Read (124-152): DescribeService; a missing service (not a new one) clears the ID, which the
  engine takes as "deleted"; ``serviceConfig`` becomes EAS's own ``ServiceConfig`` (147-149),
  ``tags`` EAS's ``Labels``;
- Update (154-285): a changed ``status`` starts or stops the service and waits; a changed
  ``serviceConfig`` PUTs the whole new JSON with no ``UpdateType`` (EAS merges: keys the new JSON
  lacks stay on EAS) and waits for ``Running`` after a 5 s delay (254-275); changed ``tags`` are
  set by their own calls (278-283); then Read;
- Delete (287-330): DeleteService (a missing service is fine: 316-318), then wait until gone: the
  wait watches ``$.ServiceName`` with no fail states (324), so a delete that ends ``DeleteFailed``
  is waited on until the delete timeout;
- waits for a status (``PaiServiceStateRefreshFunc``, ``service_alicloud_pai_v2.go`` 57-94): create
  and a config update wait for ``Running`` and fail on ``Failed`` (116, 272); a start waits for
  ``Running`` with no fail state (198); a stop waits for ``Stopped`` and fails on ``Failed`` (231);
- a failure after ``d.SetId`` (a create or update whose wait failed, or an update EAS refused):
  the Terraform plugin SDK v1 returns ``ResourceData.State()`` (``helper/schema/resource.go``
  257-324 and ``resource_data.go`` 294-390 at v1.17.2), the *planned* values, since the resource
  never enters partial mode; pulumi-terraform-bridge v3.134.0 returns it as
  ``ErrorResourceInitFailed`` without inputs (``pkg/tfbridge/provider.go`` 1363-1413, 1742-1793,
  2073-2081). No re-read of EAS: a create's state has the inputs and no computed value, an
  update's the old state with the planned changes;
- an update with no Terraform diff (the engine's empty update of a resource with init errors)
  returns the recorded state without calling EAS (bridge ``provider.go`` 1725-1731);
- tags: keys starting ``aliyun``, ``acs:``, ``http://`` or ``https://`` are never removed
  (``SetResourceTags`` drops them from the removals, ``service_alicloud_pai_v2.go`` 175-181,
  ``ignoredTags`` in ``tags.go`` 746-756), and Read still reports them (144-146).
- Timeouts: the resource's defaults are 5 min create, 16 min update, 5 min delete (24-28); a
  ``customTimeouts`` option replaces them (the engine sends it as the request's ``timeout``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Optional

from .eas import Eas
from .values import UNKNOWN, Props

TYPE = "alicloud:pai/service:Service"

INPUTS = ("develop", "serviceConfig", "status", "tags", "workspaceId")
COMPUTED = ("createTime", "regionId")

DEFAULT_TIMEOUT_S = {"create": 5 * 60.0, "update": 16 * 60.0, "delete": 5 * 60.0}


class InvalidInputError(ValueError):
    """An input the resource's schema refuses (the engine shows it as a check failure)."""

    def __init__(self, prop: str, reason: str) -> None:
        super().__init__(f"{prop}: {reason}")
        self.prop, self.reason = prop, reason


@dataclass(frozen=True)
class Diff:
    """What changed between the recorded state and the new inputs."""

    changed: tuple[str, ...]
    """Input keys whose values differ (never a replacement: no field is ForceNew)."""
    added: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()


def normalize(text: str) -> str:
    """``normalizeJsonString``: the JSON re-encoded the way Go's ``json.Marshal`` does (sorted keys,
    no spaces, ``<``, ``>`` and ``&`` escaped)."""
    encoded = json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return encoded.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def equivalent(old: Optional[str], new: Optional[str]) -> bool:
    """``compareJsonTemplateAreEquivalent``: the same JSON object, whatever the key order or spacing."""
    if old is None or new is None:
        return old == new
    try:
        return bool(json.loads(old) == json.loads(new))
    except ValueError:
        return False


def check(news: Props) -> dict[str, Any]:
    """The inputs as the resource takes them; ``InvalidInputError`` for what its schema refuses."""
    inputs = {key: news.get(key) for key in INPUTS if news.get(key) is not None}
    config = inputs.get("serviceConfig")
    if config is None:
        raise InvalidInputError("serviceConfig", "required field is not set")
    if config != UNKNOWN:
        try:
            parsed = json.loads(config)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError("serviceConfig", f"contains an invalid JSON: {exc}") from None
        if not isinstance(parsed, dict):
            # Create turns it into an object (convertJsonStringToObject) and would fail on anything else.
            raise InvalidInputError("serviceConfig", "must be a JSON object")
    return inputs


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == {}


def _same(key: str, old: Any, new: Any) -> bool:
    if key == "serviceConfig":
        return new != UNKNOWN and equivalent(old, new)
    # Terraform's rule for optional strings and maps: unset and empty are the same.
    return (_empty(old) and _empty(new)) or old == new


def diff(state: Props, news: Props) -> Diff:
    """The Terraform plan of this resource: which inputs change (see the module doc)."""
    changed, added, deleted = [], [], []
    for key in INPUTS:
        old, new = state.get(key), news.get(key)
        if key == "status" and new is None:
            continue  # optional and computed: unset means "whatever EAS says"
        if _same(key, old, new):
            continue
        changed.append(key)
        if _empty(old):
            added.append(key)
        elif _empty(new):
            deleted.append(key)
    return Diff(tuple(changed), tuple(added), tuple(deleted))


def preview_create(inputs: dict[str, Any]) -> dict[str, Any]:
    """What a preview shows for a new service: the inputs, and unknown computed values."""
    outs = dict(inputs)
    for key in COMPUTED:
        outs[key] = UNKNOWN
    outs.setdefault("status", UNKNOWN)
    if "serviceConfig" in outs and outs["serviceConfig"] != UNKNOWN:
        outs["serviceConfig"] = normalize(outs["serviceConfig"])
    return outs


def preview_update(state: Props, inputs: dict[str, Any]) -> dict[str, Any]:
    """What a preview shows for an update: the new inputs over the recorded computed values."""
    outs = {key: state.get(key) for key in (*COMPUTED, "status")}
    outs.update(inputs)
    if outs.get("serviceConfig") not in (None, UNKNOWN):
        outs["serviceConfig"] = normalize(outs["serviceConfig"])
    return outs


def from_eas(found: dict[str, Any], *, develop: Optional[str]) -> dict[str, Any]:
    """Read (124-152): the state made from DescribeService's answer."""
    labels = {str(item.get("LabelKey")): str(item.get("LabelValue")) for item in found.get("Labels") or []}
    return {
        "createTime": found.get("CreateTime"),
        "regionId": found.get("Region"),
        "status": found.get("Status"),
        "workspaceId": found.get("WorkspaceId"),
        "tags": labels,
        "serviceConfig": found.get("ServiceConfig"),
        # Read never sets develop: the state keeps what was sent.
        "develop": develop,
    }


class InitFailedError(RuntimeError):
    """The service exists but did not reach the status asked for: the engine keeps it in the state
    (with this state) and reports the reason, as the bridge does with a partial create or update."""

    def __init__(self, service_id: str, state: dict[str, Any], reason: str) -> None:
        super().__init__(reason)
        self.service_id, self.state, self.reason = service_id, state, reason


def planned(state: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """What the Terraform SDK v1 records after a failure past ``d.SetId``: the prior state with the
    planned inputs over it (see the module doc); computed values stay as they were (absent on create)."""
    out = {**state, **inputs}
    if out.get("serviceConfig") not in (None, UNKNOWN):
        out["serviceConfig"] = normalize(out["serviceConfig"])
    return out


def create(eas: Eas, inputs: dict[str, Any], timeout_s: float) -> tuple[str, dict[str, Any]]:
    """Create (69-122); returns the ID and the state."""
    name = eas.create(json.loads(inputs["serviceConfig"]), labels=inputs.get("tags") or {},
                      workspace_id=inputs.get("workspaceId"), develop=inputs.get("develop"), timeout_s=timeout_s)
    try:
        eas.wait_for(name, ["Running"], fail=["Failed"], timeout_s=timeout_s)
        _set_status(eas, name, inputs.get("status"), timeout_s)
        # The Update path on a new resource: d.HasChange("tags") holds, so the tags are set again.
        if inputs.get("tags"):
            eas.set_labels(name, added=inputs["tags"], removed=[], timeout_s=timeout_s)
    except Exception as exc:
        raise InitFailedError(name, planned({}, inputs), str(exc)) from None
    return name, read(eas, name, develop=inputs.get("develop"), new=True) or {}


def read(eas: Eas, service_id: str, *, develop: Optional[str], new: bool = False) -> Optional[dict[str, Any]]:
    """Read (124-152); None when the service is gone (the ID cleared: 129-134)."""
    found = eas.describe(service_id)
    if found is None:
        if new:
            raise RuntimeError(f"EAS service {eas.region}/{service_id} was created but cannot be found")
        return None
    return from_eas(found, develop=develop)


def _set_status(eas: Eas, name: str, target: Optional[str], timeout_s: float) -> None:
    """Update (162-238): start or stop when the asked status differs from EAS's."""
    if not target:
        return
    found = eas.describe(name) or {}
    if found.get("Status") == target:
        return
    if target == "Running":
        eas.start(name, timeout_s)
        eas.wait_for(name, ["Running"], timeout_s=timeout_s)
    elif target == "Stopped":
        eas.stop(name, timeout_s)
        eas.wait_for(name, ["Stopped"], fail=["Failed"], timeout_s=timeout_s, delay_s=30.0)


IGNORED_TAG = re.compile(r"^(aliyun|acs:|http://|https://)")
"""Tag keys the provider never removes (``ignoredTags``, ``tags.go`` 746-756)."""


def update(eas: Eas, service_id: str, state: Props, inputs: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """Update (154-285); returns the state."""
    if not diff(state, Props(inputs)).changed:
        return dict(state.values)  # no Terraform diff: the bridge returns the old state, EAS is not called
    try:
        if inputs.get("status") and inputs.get("status") != state.get("status"):
            _set_status(eas, service_id, inputs["status"], timeout_s)
        if not equivalent(state.get("serviceConfig"), inputs.get("serviceConfig")):
            eas.update(service_id, json.loads(inputs["serviceConfig"]), timeout_s)
            eas.wait_for(service_id, ["Running"], fail=["Failed"], timeout_s=timeout_s)
        old_tags, new_tags = state.get("tags") or {}, inputs.get("tags") or {}
        if old_tags != new_tags:
            removed = [key for key, value in old_tags.items()
                       if new_tags.get(key) != value and not IGNORED_TAG.match(key)]
            added = {key: value for key, value in new_tags.items() if old_tags.get(key) != value}
            eas.set_labels(service_id, added=added, removed=removed, timeout_s=timeout_s)
    except Exception as exc:
        raise InitFailedError(service_id, planned(dict(state.values), inputs), str(exc)) from None
    return read(eas, service_id, develop=inputs.get("develop")) or {}


def delete(eas: Eas, service_id: str, timeout_s: float) -> None:
    """Delete (287-330)."""
    if eas.delete(service_id, timeout_s):
        eas.wait_for(service_id, [], timeout_s=timeout_s, gone=True)
