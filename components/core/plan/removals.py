"""Settings a new service JSON drops from the previous one: what EAS's merge update would keep.

The provider updates a service with ``UpdateService`` and no ``UpdateType``, which EAS treats as
a merge (aliyun/terraform-provider-alicloud at 81c43b6, ``alicloud/resource_alicloud_pai_service.go``
lines 242-257, send the whole config as the body of a PUT with no ``UpdateType``; the EAS SDK's
``UpdateServiceRequest.update_type`` documents merge as the default). A key the stack no longer
sends therefore stays on the running service. This module finds those keys; the endpoint
reader then removes them with a replace-type update (``components.endpoint``) and ``make
diff`` names them.

Pure: no Pulumi, no network.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Optional


def removed_keys(old: Any, new: Any, path: str = "") -> list[str]:
    """Dotted paths (``metadata.shm_size``, ``cloud.computing.instances[1]``) present in ``old``
    and absent from ``new``, shortest first: a dropped object is named once, not per leaf.

    Lists are compared item by item and a shorter list names the items it lost: how EAS merges
    lists is not documented, so a dropped list item (a spot entry) is treated as a removal
    that a merge might keep. A value whose type changed is replaced by any merge and is not a
    removal.
    """
    found: list[str] = []
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(old):
            where = f"{path}.{key}" if path else str(key)
            if key not in new:
                found.append(where)
            else:
                found += removed_keys(old[key], new[key], where)
    elif isinstance(old, list) and isinstance(new, list):
        for index, item in enumerate(old):
            where = f"{path}[{index}]"
            if index >= len(new):
                found.append(where)
            else:
                found += removed_keys(item, new[index], where)
    return found


def removed_from_json(old_json: Optional[str], new_json: str) -> list[str]:
    """``removed_keys`` of two service JSON texts; nothing when the old one is unknown or not an
    object (a state written before the old config was kept)."""
    if not old_json:
        return []
    try:
        old = json.loads(old_json)
    except ValueError:
        return []
    return removed_keys(old, json.loads(new_json)) if isinstance(old, Mapping) else []
