"""The engine releases that exist: a version no release has is a typo or a tag that is not a version.

The start command's flags depend on the engine release (``launch``), so a
version that is no release (``9.9.9``, or ``0.5.0``, a number SGLang skipped) would plan flags
for an engine nobody can run. Versions are compared as ``major.minor.patch``; a post-release or
a fourth part (``0.10.1.1``, ``0.8.5.post1``) counts as its ``major.minor.patch``.

Source: PyPI's release lists of the ``vllm`` and ``sglang`` packages, read with
``pip index versions vllm`` and ``pip index versions sglang`` on 2026-11-26, from each engine's
first release that serves Qwen3 (``launch.PROFILES[...].min_version``; older ones are refused
there). BladeLLM publishes no releases, so its versions are not checked.

A version after the newest known one is a warning while it is plausibly the next release (same
major version, at most ``UPCOMING_MINORS`` minor versions on): EAS images can ship a release
before this list is updated. Anything further is refused. When an engine releases, add the
version here, and run ``make conformance`` against it (docs/engines-conformance.md).
"""

from __future__ import annotations

import re
from typing import Optional

Version = tuple[int, ...]

KNOWN: dict[str, tuple[str, ...]] = {
    "vllm": (
        "0.8.5", "0.9.0", "0.9.1", "0.9.2", "0.10.0", "0.10.1", "0.10.2", "0.11.0", "0.11.1", "0.11.2",
        "0.12.0", "0.13.0", "0.14.0", "0.14.1", "0.15.0", "0.15.1", "0.16.0", "0.17.0", "0.17.1", "0.18.0",
        "0.18.1", "0.19.0", "0.19.1", "0.20.0", "0.20.1", "0.20.2", "0.21.0", "0.22.0", "0.22.1", "0.23.0",
        "0.24.0", "0.25.0", "0.25.1", "0.26.0", "0.27.0", "0.27.1", "0.28.0", "0.29.0", "0.30.0", "0.31.0",
        "0.32.0", "0.33.0", "0.34.0",
    ),
    "sglang": (
        "0.4.6", "0.4.7", "0.4.8", "0.4.9", "0.4.10", "0.5.1", "0.5.2", "0.5.3", "0.5.4", "0.5.5", "0.5.6",
        "0.5.7", "0.5.8", "0.5.9", "0.5.10", "0.5.11", "0.5.12", "0.5.13", "0.5.14", "0.5.15", "0.5.16",
        "0.5.17", "0.5.18", "0.5.19", "0.5.20", "0.5.21", "0.5.22", "0.5.23",
    ),
}
"""Engine -> its releases on PyPI, oldest first (see the module docstring)."""

SOURCE = "PyPI release lists (pip index versions), read 2026-11-26"

UPCOMING_MINORS = 2
"""How many minor versions past the newest known release still read as an upcoming release."""


def parse(text: str) -> Version:
    """``(0, 11, 2)`` from ``0.11.2``; a missing patch is 0."""
    parts = [int(p) for p in re.findall(r"\d+", text)[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


def text(version: Version) -> str:
    return ".".join(str(p) for p in version)


def newest(engine: str) -> str:
    """The newest release of ``engine`` we know."""
    return KNOWN[engine][-1]


def is_release(engine: str, version: Version) -> bool:
    """True when ``engine`` has release ``version``, or its versions are not known (BladeLLM)."""
    known = KNOWN.get(engine)
    return known is None or version in {parse(v) for v in known}


def _neighbours(engine: str, version: Version) -> str:
    known = [parse(v) for v in KNOWN[engine]]
    below = [v for v in known if v < version]
    above = [v for v in known if v > version]
    near = ([text(below[-1])] if below else []) + ([text(above[0])] if above else [])
    return " and ".join(near)


def check(engine: str, version: Version) -> Optional[tuple[str, bool]]:
    """None when ``version`` is a release of ``engine`` (or cannot be checked); else (why, refused),
    where ``refused`` False means a plausible upcoming release: a warning."""
    if is_release(engine, version):
        return None
    known = KNOWN[engine]
    first, last = parse(known[0]), parse(known[-1])
    span = f"the {engine} releases we know run from {known[0]} to {known[-1]} ({SOURCE})"
    if version > last:
        if version[0] == last[0] and version[1] <= last[1] + UPCOMING_MINORS:
            return (f"{engine} {text(version)} is newer than any release we know (newest {known[-1]}): the start "
                    f"command uses the flag spellings of {known[-1]}; check them with `make conformance` "
                    "once it is released", False)
        return f"no {engine} release {text(version)} is known: {span}", True
    if version < first:
        return None  # older than Qwen3 support: ``launch.decide_launch`` refuses it with its own reason
    return (f"no {engine} release {text(version)} exists (the releases around it are "
            f"{_neighbours(engine, version)}): {span}", True)
