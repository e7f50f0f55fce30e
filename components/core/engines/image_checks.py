"""What a service's image says, held against what its stack file says: engine, release, registry.

Three contradictions a start script cannot survive, refused before anything is registered:

- ``engineVersion`` against the release the image's tag names (a vLLM 0.11.2 image with
  ``engineVersion: 0.8.5`` would get 0.8.5's ``--enable-reasoning``, which 0.11.2 rejects);
- ``engine`` against the engine the image's name says it holds (``engine: vllm`` on a BladeLLM
  image starts a command that image does not have);
- a version no release of the engine has (``components.core.engines.releases``).

And one warning: an image outside Alibaba's registries. EAS pulls it across the internet at
every instance start: slow starts, the registry's pull rate limits (Docker Hub limits anonymous
pulls), and no pull over the VPC endpoint at all.

Pure: no Pulumi, no network.
"""

from __future__ import annotations

import re
from typing import Optional

from ..errors import Findings
from . import launch, releases

FAMILY_WORDS: dict[str, tuple[str, ...]] = {
    "vllm": ("vllm",),
    "sglang": ("sglang",),
    "bladellm": ("blade",),
}
"""Engine -> words in an image's repository path that name it (``pai-eas/blade-llm``, ``vllm/vllm-openai``)."""

ALIBABA_REGISTRY = re.compile(r"(^|\.)aliyuncs\.com$")
"""Hosts of Alibaba Cloud Container Registry: ``*.cr.aliyuncs.com`` (EAS's own and Enterprise
instances) and ``registry[-vpc].<region>.aliyuncs.com`` (Personal Edition)."""


def registry_host(image: str) -> Optional[str]:
    """The registry an image reference names; None for Docker Hub's short form (``vllm/vllm-openai``)."""
    first = image.split("/", 1)[0]
    return first if ("." in first or ":" in first or first == "localhost") and "/" in image else None


def _repository(image: str) -> str:
    """The repository path without registry, tag or digest (``pai-eas/vllm``)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        name = name[: len(name) - len(last[-1])] + last[-1].split(":", 1)[0]
    host = registry_host(image)
    return name[len(host) + 1:] if host else name


def image_family(image: str) -> Optional[str]:
    """The engine an image's repository path names, or None when it names none or several."""
    path = _repository(image).lower()
    named = [engine for engine, words in FAMILY_WORDS.items() if any(w in path for w in words)]
    return named[0] if len(named) == 1 else None


def outside_alibaba(image: str) -> Optional[str]:
    """Where an image comes from when that is not an Alibaba registry (``Docker Hub``, ``ghcr.io``)."""
    host = registry_host(image)
    if host is None or host in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        return "Docker Hub"
    return None if ALIBABA_REGISTRY.search(host.split(":", 1)[0]) else host


def _prefix_matches(stated: str, version: launch.Version) -> bool:
    """``0.11`` matches 0.11.x; ``0.11.2`` only 0.11.2."""
    parts = releases.parse(stated)[: len(re.findall(r"\d+", stated))]
    return tuple(version[: len(parts)]) == parts


def check(engine: str, image: str, engine_version: Optional[str], region: str, version: Optional[launch.Version],
          out: Findings) -> None:
    """Add the problems and warnings of this image for a service of ``engine`` in ``region``;
    ``version`` is the release the plan reads (from ``engine_version``, else the tag)."""
    family = image_family(image)
    if family is not None and family != engine:
        out.problem("image", f"{image} is a {family} image, but the service says engine: {engine}",
                    f"set engine: {family}, or use a {engine} image (leave image out for the EAS image of {engine})")
        return  # its version is another engine's: nothing more to hold against this one
    tag_version = launch.parse_version(launch.image_tag(image))
    tag_is_release = tag_version is not None and engine in releases.KNOWN and releases.is_release(engine, tag_version)
    if engine_version is not None and tag_version is not None and tag_is_release \
            and not _prefix_matches(engine_version, tag_version):
        tag = launch.image_tag(image)
        out.problem("engineVersion",
                    f"engineVersion {engine_version} contradicts the image {image}, whose tag {tag} says {engine} "
                    f"{launch.format_version(tag_version)}: the start command would use {engine} {engine_version}'s "
                    f"flags, which {launch.format_version(tag_version)} may reject",
                    f"leave engineVersion out (the tag says {launch.format_version(tag_version)}), or use an image "
                    f"of {engine} {engine_version}")
    elif version is not None:
        found = releases.check(engine, version)
        if found is not None:
            why, refused = found
            field = "engineVersion" if engine_version is not None else "image"
            if refused:
                out.problem(field, why, f"set engineVersion to the {engine} release inside the image (newest known: "
                            f"{releases.newest(engine)}); a release newer than the list goes into KNOWN in "
                            "components/core/engines/releases.py, with its source")
            else:
                out.warnings.append(why)
    source = outside_alibaba(image)
    if source is not None:
        out.warnings.append(
            f"image {image} comes from {source}, outside Alibaba's registries: every instance pulls it across the "
            f"internet (slow starts, the registry's pull rate limits, no pull over the VPC, none at all without "
            f"public network access); push it to a Container Registry repository in {region} and use its -vpc "
            "address, or leave image out for the EAS image")
