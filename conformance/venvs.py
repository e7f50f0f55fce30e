"""One virtual environment per engine release, CPU-only, enough to run the engine's parser.

The engines' wheels pin CUDA builds of torch and GPU kernels (several GB each). We install the
engine itself without its dependencies, then its declared dependencies minus the GPU stack,
with torch pinned to the CPU build this machine's pip configuration provides. What is left
out is listed in ``GPU_ONLY``; what an import needs from it anyway is in ``NO_DEPS_EXTRAS``,
installed without its own (GPU) dependencies.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, TextIO

from packaging.requirements import Requirement

CPU_TORCH = "torch==2.13.0"
"""The CPU build of torch on this machine's local wheel index (PyPI's own torch pulls CUDA)."""

GPU_ONLY = re.compile(
    r"^(torch|torchaudio|torchvision|torchao|xformers|flashinfer.*|ray|xgrammar|triton|nvidia-.*|"
    r"numba|cupy.*|sgl-.*|sglang-kernel|flash-attn.*|deep-gemm|torch-memory-saver|cuda-python|nvshmem.*|"
    r"cuda-bindings|decord.*|vllm-flash-attn|intel-extension-for-pytorch|flash-mla|nixl|"
    r"apache-tvm-ffi|quack-kernels|nvidia-cutlass-dsl|helion|humming-kernels|kernels|"
    r"tilelang|tokenspeed-mla|torchcodec|timm|cuda-.*)$"
)
"""Dependencies left out: CUDA builds, GPU kernels, and packages that only pull those in."""

NO_DEPS_EXTRAS: dict[str, tuple[str, ...]] = {
    # vLLM's structured-output module imports xgrammar at parser-build time (xgrammar 0.2 needs
    # apache-tvm-ffi, a small CPU library); vLLM 0.8.5 imports triton's Config while building
    # the parser. triton (1 GB) imports without a GPU.
    "vllm": ("xgrammar", "apache-tvm-ffi", "triton==3.6.0"),
    # SGLang imports triton at package import (sglang.srt.utils.common); it imports without a
    # GPU. xgrammar 0.2 needs apache-tvm-ffi (a small CPU library) to import. triton is
    # pinned to the release torch 2.11 (SGLang 0.5.17's torch) was built against.
    "sglang": ("xgrammar", "apache-tvm-ffi", "triton==3.6.0"),
}

ENGINE_EXTRAS: dict[str, tuple[str, ...]] = {
    # SGLang before 0.5 declares its server's dependencies under the ``srt`` extra only.
    "sglang": ("srt",),
}


@dataclass(frozen=True)
class Release:
    """One engine release to install: the PyPI distribution and its version."""

    engine: str
    """``vllm`` or ``sglang`` (the engine our start commands name)."""
    version: str
    role: str
    """Why it is in the matrix: default, oldest or newest."""
    distribution: str = ""
    """The PyPI name (defaults to ``engine``)."""

    @property
    def package(self) -> str:
        return self.distribution or self.engine

    @property
    def slug(self) -> str:
        return f"{self.package}-{self.version}"


def cache_dir() -> Path:
    """Where engine environments live: ``$ENGINE_CACHE`` or ``.cache/engines`` in the repository."""
    default = Path(__file__).resolve().parents[1] / ".cache" / "engines"
    return Path(os.environ.get("ENGINE_CACHE", str(default))).resolve()


def python_of(venv: Path) -> Path:
    """The interpreter of a virtual environment."""
    return venv / "bin" / "python"


def run_logged(cmd: list[str], log: TextIO) -> None:
    """Run ``cmd`` with its output in ``log``; ``InstallError`` names the command when it fails."""
    log.write("$ " + " ".join(cmd) + "\n")
    log.flush()
    done = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        raise InstallError(f"{' '.join(cmd)} exited with {done.returncode} (see the install log)")


class InstallError(RuntimeError):
    """An engine environment could not be built; the message names the failed command."""


def runtime_requirements(venv: Path, package: str, extras: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    """The installed package's dependencies that apply here: (to install, GPU-only ones left out)."""
    script = f"import importlib.metadata as m, json; print(json.dumps(m.requires({package!r}) or []))"
    raw = subprocess.run([str(python_of(venv)), "-c", script], capture_output=True, text=True, check=True).stdout
    return split_requirements(json.loads(raw), package, extras)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def split_requirements(texts: list[str], package: str = "", extras: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    """Requirement strings that apply here, split into (to install, GPU-only left out).

    ``extras`` of ``package`` are followed, including the package's references to its own
    extras (``sglang[runtime_common]`` inside ``sglang[srt]``). Markers are evaluated for this
    interpreter and dropped from what is returned.
    """
    wanted = {_norm(e) for e in extras}
    while True:  # follow self-references until no new extra appears
        more = {_norm(x) for text in texts for x in Requirement(text).extras
                if _norm(Requirement(text).name) == _norm(package) and _applies(Requirement(text), wanted)}
        if more <= wanted:
            break
        wanted |= more
    keep: list[str] = []
    left_out: list[str] = []
    for text in texts:
        req = Requirement(text)
        if not _applies(req, wanted) or _norm(req.name) == _norm(package):
            continue
        req.marker = None
        if GPU_ONLY.match(req.name.lower().replace("_", "-")):
            left_out.append(str(req))
        elif str(req) not in keep:
            keep.append(str(req))
    return keep, left_out


def _applies(req: Requirement, extras: set[str]) -> bool:
    """The requirement's marker holds here with no extra or with one of ``extras``."""
    if req.marker is None:
        return True
    return any(req.marker.evaluate({"extra": extra}) for extra in ("", *sorted(extras)))


def ensure(release: Release, log: TextIO, cache: Optional[Path] = None, *,
           extra: tuple[str, ...] = ()) -> Path:
    """The environment for ``release``, built on first use; a stamp file marks it complete.

    ``extra`` are further requirements (installed with dependencies), e.g. what an end-to-end
    run needs beyond the parser.
    """
    venv = (cache or cache_dir()) / release.slug
    stamp = venv / ".conformance-complete"
    recipe = recipe_digest(release, extra)
    if is_current(venv, recipe):
        return venv
    if stamp.exists():
        # Built by another recipe or in another place: a moved environment's console scripts
        # (``vllm``) still name the old interpreter path, so it is rebuilt from scratch.
        shutil.rmtree(venv)
    started = time.monotonic()
    venv.parent.mkdir(parents=True, exist_ok=True)
    if not python_of(venv).exists():
        run_logged([sys.executable, "-m", "venv", str(venv)], log)
    pip = [str(python_of(venv)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input"]
    run_logged([*pip, "--no-deps", f"{release.package}=={release.version}"], log)
    requirements, left_out = runtime_requirements(venv, release.package, ENGINE_EXTRAS.get(release.engine, ()))
    log.write(f"left out (GPU stack): {' '.join(left_out)}\n")
    extras = NO_DEPS_EXTRAS.get(release.engine, ())
    # A pin of a package installed without dependencies below is applied there, not in this
    # resolution: PyPI's (CUDA) torch, where no CPU build is offered, requires a triton of its
    # own that an old release's pin (SGLang 0.4.6: triton 3.2.0) contradicts.
    later = {Requirement(e).name for e in extras}
    run_logged([*pip, CPU_TORCH, *requirements, *(r for r in extra if Requirement(r).name not in later)], log)
    if extras:
        # A pin in ``extra`` first, then the engine's own pin, else the default above.
        pins = {Requirement(r).name: r for r in left_out}
        pins.update({Requirement(r).name: r for r in extra})
        run_logged([*pip, "--no-deps", *(pins.get(Requirement(e).name, e) for e in extras)], log)
    stamp.write_text(f"{recipe} {venv.resolve()} built in {time.monotonic() - started:.0f} s\n", encoding="utf-8")
    return venv


def is_current(venv: Path, recipe: str, *, stamp_name: str = ".conformance-complete") -> bool:
    """True when ``venv`` was completed by ``recipe`` at this very path (see ``ensure``)."""
    stamp = venv / stamp_name
    if not stamp.exists():
        return False
    words = stamp.read_text(encoding="utf-8").split()
    return words[:2] == [recipe, str(venv.resolve())]


def recipe_digest(release: Release, extra: tuple[str, ...] = ()) -> str:
    """A digest of how an environment is built: a changed recipe rebuilds it (pip then adds
    only what is missing), an unchanged one is reused."""
    text = "\n".join([release.slug, CPU_TORCH, GPU_ONLY.pattern, *NO_DEPS_EXTRAS.get(release.engine, ()),
                      *ENGINE_EXTRAS.get(release.engine, ()), *extra])
    return hashlib.sha256(text.encode()).hexdigest()[:16]
