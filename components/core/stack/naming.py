"""EAS service names: validated, and derived from the stack and service key.

EAS names are unique per region, start with a lowercase letter and contain lowercase letters,
digits and underscores. Deriving them from ``<service key>_<stack>`` keeps dev, staging and
prod apart even when they share a region and an account. Two projects with the same stack and
key names would share a name: ``qwen3-eas:namePrefix`` (``<prefix>_<key>_<stack>``) keeps them
apart, and the ownership labels (``components.core.running.ownership``) stop one from taking the other's
service for its own when they do not.
"""

from __future__ import annotations

import hashlib
import re

MAX_LENGTH = 64
_VALID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def is_valid(name: str) -> bool:
    """True when EAS accepts ``name`` as a service name."""
    return bool(_VALID.match(name))


def service_name(stack: str, key: str, prefix: str | None = None) -> str:
    """The EAS name of service ``key`` in ``stack`` (after ``prefix``); deterministic, always valid.

    Characters EAS refuses become underscores; a name too long keeps its start and gains a
    short hash of the full name, so two long names never collapse into one. Without a prefix
    the name is the one every earlier release derived, so running services keep theirs.
    """
    raw = (f"{prefix}_" if prefix else "") + f"{key}_{stack}".lower()
    name = re.sub(r"[^a-z0-9_]+", "_", raw).strip("_")
    name = re.sub(r"_+", "_", name)
    if not name or not name[0].isalpha():
        name = "q_" + name
    if len(name) > MAX_LENGTH:
        digest = hashlib.sha256(raw.encode()).hexdigest()[:8]
        name = name[: MAX_LENGTH - 9].rstrip("_") + "_" + digest
    assert is_valid(name), name
    return name
