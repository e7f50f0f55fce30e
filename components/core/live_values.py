"""What a run sends back exactly as EAS holds it, so that no run fights what the stack does not decide.

The provider compares the service's whole JSON, and its tags, with what it read from EAS (exact
JSON equality: aliyun/terraform-provider-alicloud v1.285.0 ``alicloud/common.go`` 750-773,
``compareJsonTemplateAreEquivalent``), and any difference is an ``UpdateService``: a rolling update
of every GPU instance. Some of what EAS holds is not the stack's to decide, and sending the
stack's own value, or leaving the key out, would start such a rollout on every run:

- **the autoscaler's instance count.** With autoscaling on, EAS scales the service between ``min``
  and ``max``; a ``metadata.instance`` of ``replicas`` would scale it back in under load. The
  count EAS reports is sent back (kept within the stack's bounds).
- **keys the stack does not send**: set by hand before the service was imported, or added by EAS
  itself (nobody has checked whether EAS does). While the stack's own JSON is unchanged since it
  was last sent (the ``config-sha`` label, below), they are sent back as they are, named in a
  warning. When the stack's JSON changes, nothing is sent back: keys the change drops leave the
  service (the endpoint reader removes them), as before.
- **labels the provider never removes** (``aliyun*``, ``acs:*``, ``http(s)://*``: its
  ``ignoredTags``, ``tags.go`` 746-756). Its Read still reports them, so a stack that does not
  send them back would show a tag change on every refresh.

``config-sha`` is a label of every service: the first 16 hex digits of the SHA-256 of the JSON
the stack builds (before anything is sent back). It changes with the stack's JSON, together with
it in one provider update, so a later run can tell "the stack changed" from "EAS holds more".

Pure: no Pulumi, no network.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from .removals import removed_keys

CONFIG_LABEL = "config-sha"
SYSTEM_LABEL = re.compile(r"^(aliyun|acs:|http://|https://)")
"""Label keys the provider never removes (``ignoredTags``)."""


def config_digest(service_json: str) -> str:
    """The ``config-sha`` label of a service JSON text."""
    return hashlib.sha256(service_json.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Live:
    """What DescribeService says of the copy a run keeps: its JSON and its labels."""

    config: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class Sent:
    """What the run sends: the service JSON and tags, and what it kept from EAS, in words."""

    config: dict[str, Any]
    tags: dict[str, str]
    kept: tuple[str, ...] = ()
    """Dotted paths sent back as EAS holds them (for the warning)."""
    notes: tuple[str, ...] = ()


def overlay(live: Any, ours: Any) -> Any:
    """``ours`` with what ``live`` has beyond it: objects merge key by key, lists of the same length
    item by item; anything else is ours."""
    if isinstance(live, Mapping) and isinstance(ours, Mapping):
        return {**live, **{key: overlay(live.get(key), value) for key, value in ours.items()}}
    if isinstance(live, list) and isinstance(ours, list) and len(live) == len(ours):
        return [overlay(a, b) for a, b in zip(live, ours, strict=True)]
    return ours


def send(config: dict[str, Any], service_json: str, tags: Mapping[str, str], live: Optional[Live]) -> Sent:
    """The JSON and tags to send for a service the run keeps where ``live`` runs (see the module doc).

    ``config`` is the JSON the stack builds and ``service_json`` its serialised text (what
    ``config-sha`` is taken of); ``tags`` the stack's tags, ``config-sha`` included.
    """
    if live is None:
        return Sent(dict(config), dict(tags))
    try:
        held = json.loads(live.config) if live.config else {}
    except ValueError:
        held = {}
    if not isinstance(held, dict):
        held = {}
    out = dict(config)
    kept: list[str] = []
    notes: list[str] = []
    if live.labels.get(CONFIG_LABEL) == config_digest(service_json):
        extra = removed_keys(held, config)
        if extra:
            out = overlay(held, config)
            kept += extra
    scaled = _autoscaled_count(out, held)
    if scaled is not None:
        out = {**out, "metadata": {**out["metadata"], "instance": scaled}}
        notes.append(f"metadata.instance: {scaled}, the autoscaler's count, sent back as EAS reports it "
                     "(replicas is the count a new service starts with)")
    system = {k: v for k, v in live.labels.items() if SYSTEM_LABEL.match(k) and k not in tags}
    return Sent(out, {**tags, **system}, tuple(kept), tuple(notes))


def _autoscaled_count(config: Mapping[str, Any], held: Mapping[str, Any]) -> Optional[int]:
    """The instance count EAS reports, within the stack's autoscaler bounds; None without autoscaling
    or when it is already what the stack sends."""
    scaler = config.get("autoscaler")
    metadata = config.get("metadata")
    count = (held.get("metadata") or {}).get("instance") if isinstance(held.get("metadata"), Mapping) else None
    if not isinstance(scaler, Mapping) or not isinstance(metadata, Mapping):
        return None
    if not isinstance(count, int) or isinstance(count, bool):
        return None
    low, high = scaler.get("min"), scaler.get("max")
    if isinstance(low, int):
        count = max(count, low)
    if isinstance(high, int):
        count = min(count, high)
    return None if count == metadata.get("instance") else count
