"""What a run sends back exactly as EAS holds it, and what it asks the endpoint reader to remove.

The provider compares the service's whole JSON, and its tags, with what it read from EAS (exact
JSON equality: aliyun/terraform-provider-alicloud v1.285.0 ``alicloud/common.go`` 750-773,
``compareJsonTemplateAreEquivalent``), and any difference is an ``UpdateService``: a rolling update
of every GPU instance. A key EAS holds and the stack does not send would start one on every run,
and the provider's merge would never remove it. So every key of the live JSON that the stack's
JSON lacks is one of two kinds:

- **a key the project writes** (``service_json.managed_paths``: the stack dropped it, someone set
  it in the console, or a hand-made service was imported with it): the stack decides it, so the
  endpoint reader removes it (a replace-type update, once);
- **any other key** (set by hand, or added by EAS itself: nobody has checked whether EAS does):
  not the project's to decide. It is sent back as EAS holds it, named in a warning, so that no
  run rolls the service out for it.

Two values EAS decides are sent back the same way:

- **the autoscaler's instance count.** With autoscaling on, EAS scales the service between ``min``
  and ``max``; a ``metadata.instance`` of ``replicas`` would scale it back in under load;
- **labels the provider never removes** (``aliyun*``, ``acs:*``, ``http(s)://*``: its
  ``ignoredTags``, ``tags.go`` 746-756). Its Read still reports them, so a stack that does not
  send them back would show a tag change on every refresh.

Pure: no Pulumi, no network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from . import service_json
from .removals import removed_keys

SYSTEM_LABEL = re.compile(r"^(aliyun|acs:|http://|https://)")
"""Label keys the provider never removes (``ignoredTags``)."""


@dataclass(frozen=True)
class Live:
    """What DescribeService says of the copy a run keeps: its JSON and its labels."""

    config: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class Sent:
    """What the run sends and asks for, where it differs from what the stack builds."""

    config: dict[str, Any]
    """The service JSON given to the provider."""
    tags: dict[str, str]
    kept: tuple[str, ...] = ()
    """Dotted paths sent back as EAS holds them (keys the project does not write)."""
    to_remove: tuple[str, ...] = ()
    """Dotted paths the project writes that EAS holds and the stack does not send: the endpoint
    reader removes them."""
    notes: tuple[str, ...] = ()


def send(config: dict[str, Any], tags: Mapping[str, str], live: Optional[Live]) -> Sent:
    """The JSON and tags to send for a service the run keeps where ``live`` runs (see the module doc)."""
    if live is None:
        return Sent(dict(config), dict(tags))
    held = _object(live.config)
    managed = service_json.managed_paths(service_json.kind_of(config))
    extra = removed_keys(held, config)
    kept = tuple(p for p in extra if not is_managed(p, managed))
    to_remove = tuple(p for p in extra if is_managed(p, managed))
    out = overlay(_only(held, kept), config) if kept else dict(config)
    notes: list[str] = []
    scaled = _autoscaled_count(out, held)
    if scaled is not None:
        out = {**out, "metadata": {**out["metadata"], "instance": scaled}}
        notes.append(f"metadata.instance: {scaled}, the autoscaler's count, sent back as EAS reports it "
                     "(replicas is the count a new service starts with)")
    system = {k: v for k, v in live.labels.items() if SYSTEM_LABEL.match(k) and k not in tags}
    return Sent(out, {**tags, **system}, kept, to_remove, tuple(notes))


def is_managed(path: str, managed: frozenset[str]) -> bool:
    """Whether ``path`` (``cloud.computing.instances[1]``) is, or holds, a leaf the project writes."""
    pattern = re.sub(r"\[\d+\]", "[]", path)
    return any(leaf == pattern or leaf.startswith(pattern + ".") or leaf.startswith(pattern + "[")
               for leaf in managed)


def overlay(live: Any, ours: Any) -> Any:
    """``ours`` with what ``live`` has beyond it: objects merge key by key, lists of the same length
    item by item; anything else is ours."""
    if isinstance(live, Mapping) and isinstance(ours, Mapping):
        return {**live, **{key: overlay(live.get(key), value) for key, value in ours.items()}}
    if isinstance(live, list) and isinstance(ours, list) and len(live) == len(ours):
        return [overlay(a, b) for a, b in zip(live, ours, strict=True)]
    return ours


def _only(held: Any, paths: tuple[str, ...]) -> Any:
    """``held`` cut down to the values at ``paths`` (and the objects and lists that lead to them)."""
    if not paths:
        return {} if isinstance(held, Mapping) else held
    if isinstance(held, Mapping):
        out: dict[str, Any] = {}
        for key, value in held.items():
            inner = [p[len(key):].lstrip(".") for p in paths if p == key or p.startswith((key + ".", key + "["))]
            if any(p == "" for p in inner):
                out[key] = value
            elif inner:
                out[key] = _only(value, tuple(inner))
        return out
    if isinstance(held, list):
        items: list[Any] = []
        for index, value in enumerate(held):
            tag = f"[{index}]"
            inner = [p[len(tag):].lstrip(".") for p in paths if p.startswith(tag)]
            items.append(value if "" in inner else _only(value, tuple(inner)) if inner else
                         ({} if isinstance(value, Mapping) else value))
        return items
    return held


def _object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _autoscaled_count(config: Mapping[str, Any], held: Mapping[str, Any]) -> Optional[int]:
    """The instance count EAS reports, within the stack's autoscaler bounds; None without autoscaling
    or when it is already what the stack sends."""
    scaler, metadata = config.get("autoscaler"), config.get("metadata")
    held_metadata = held.get("metadata")
    count = held_metadata.get("instance") if isinstance(held_metadata, Mapping) else None
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
