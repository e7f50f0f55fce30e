"""``make conformance``: every start command we render, read by the real engine's own parser.

For each engine release (the default of ``components/core/engines/launch.py``, the oldest we support, the newest on
PyPI) it builds a CPU-only environment, plans the matrix of ``conformance.matrix`` for that
release, writes each model's ``config.json`` from the catalog, runs the script's chat-template
preamble, and hands the launch line to the engine's probe. It prints one table and exits 1 when
any engine refuses a line or warns that one of our flags is deprecated.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from components.cli import described
from components.core.engines import launch as engines
from components.core.models.catalog import get_model

from . import matrix, model_files, venvs

HERE = Path(__file__).resolve().parent

# The newest release of each engine on PyPI when this list was last checked (2026-11-25,
# `pip index versions vllm` / `sglang`). Pinned so that a run is reproducible; raise them
# when a new release appears.
NEWEST = {"vllm": "0.33.0", "sglang": "0.5.23"}

# Old releases get the libraries of their release month where their own requirements leave them
# open: vLLM 0.8.5 (April 2025) gets transformers 4.51.3, the floor it names (a newer one warns
# that the config's rope_scaling is deprecated, a pairing no image of it ships); SGLang 0.4.6
# gets triton 3.2.0, the release of its torch 2.6 (triton 3.6 no longer has the
# triton.runtime.cache.default_cache_dir it imports), and compressed-tensors 0.9.3 (vLLM 0.8.5's
# pin of the same month; newer ones need a newer transformers than its pinned 4.51.1).
ERA_PINS: dict[str, tuple[str, ...]] = {
    "vllm-0.8.5": ("transformers==4.51.3",),
    "sglang-0.4.6": ("triton==3.2.0", "compressed-tensors==0.9.3"),
}
# The per-model minimum releases (July to October 2025) name only a floor for transformers; they
# get the transformers of their month (the release SGLang of the same month pins exactly:
# 0.4.10 transformers==4.54.1, 0.5.2 ==4.56.1, 0.5.3 ==4.57.0).
ERA_PINS.update({
    "vllm-0.10.0": ("transformers==4.54.1",),
    "vllm-0.10.2": ("transformers==4.56.1",),
    "vllm-0.11.0": ("transformers==4.57.0",),
})

PROBE_TIMEOUT_S = 1200
"""Per engine release: importing an engine takes 10-30 s on two cores; each line a second or so."""


def releases() -> list[venvs.Release]:
    """Default, oldest supported and newest release of vLLM and SGLang, and the first release
    that serves each later model's architecture, FP8 checkpoint or tool parser (the per-model
    minimums of ``launch.py``), duplicates dropped."""
    out: list[venvs.Release] = []
    for engine in ("vllm", "sglang"):
        profile = engines.PROFILES[engine]
        default = engines.parse_version(profile.default_tag)
        assert default is not None
        seen: set[str] = set()
        for role, version in (("oldest", engines.format_version(profile.min_version)),
                              ("default", engines.format_version(default)),
                              ("newest", NEWEST[engine]),
                              *model_minimums(engine)):
            if version not in seen:
                seen.add(version)
                out.append(venvs.Release(engine, version, role))
    return out


def model_minimums(engine: str) -> list[tuple[str, str]]:
    """(role, version) of each per-model minimum release of ``engine``, oldest first."""
    found: dict[engines.Version, list[str]] = {}
    for table, what in ((engines.ARCHITECTURE_MINIMUMS, "{}"), (engines.FP8_ARCHITECTURE_MINIMUMS, "{} FP8"),
                        (engines.TOOL_PARSER_MINIMUMS, "{} parser")):
        for key, per_engine in table.items():
            if engine in per_engine:
                found.setdefault(per_engine[engine], []).append(what.format(key))
    return [("first for " + ", ".join(names), engines.format_version(version))
            for version, names in sorted(found.items())]


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    case: str
    release: venvs.Release
    status: str
    """ok, REFUSED, DEPRECATED, or "not offered" (our planning refuses the feature there)."""
    detail: str

    @property
    def failed(self) -> bool:
        return self.status in ("REFUSED", "DEPRECATED")


def _probe_env(home: Path, engine: str) -> dict[str, str]:
    """Offline, no telemetry, caches in a scratch folder: the probe must not reach the hub.

    ``SGLANG_USE_CPU_ENGINE`` is SGLang's own switch to its CPU platform; without it
    ``ServerArgs`` stops at "No accelerator" before checking anything (vLLM's probe picks
    vLLM's CPU platform itself).
    """
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", VLLM_NO_USAGE_STATS="1", DO_NOT_TRACK="1",
        HF_HOME=str(home / "hf"), XDG_CACHE_HOME=str(home / "cache"), VLLM_CACHE_ROOT=str(home / "vllm"),
        TOKENIZERS_PARALLELISM="false", SGLANG_USE_CPU_ENGINE="1",
    )
    if engine == "vllm":
        # vLLM 0.10.x replaces Triton by a placeholder when it finds no active GPU driver, and
        # then cannot even import Qwen3-Next's module (its FLA kernels use triton.language.exp).
        # An empty CUDA_VISIBLE_DEVICES is vLLM's own case of GPUs not visible yet, in which it
        # keeps the real Triton as a GPU host does (triton_utils/importing.py of 0.10.2).
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def _run_preamble(commands: list[list[str]]) -> None:
    """Run the script's commands before ``exec`` (the no-thinking template copy) as EAS would.

    Only ``python3 -c`` preambles exist; they run with this interpreter.
    """
    for words in commands:
        if words[:1] == ["set"]:
            continue
        if words[:2] != ["python3", "-c"]:
            raise ValueError(f"unexpected command before exec: {words[:2]}")
        subprocess.run([sys.executable, *words[1:]], check=True)


def check_release(release: venvs.Release, scratch: Path, log_dir: Path) -> list[Row]:
    """Plan the matrix for ``release``, run every launch line through its probe, return the rows."""
    rows: list[Row] = []
    cases: list[dict[str, Any]] = []
    for case in matrix.CASES:
        rendered = matrix.render(case, release.engine, release.version)
        if rendered.refused_by_us is not None:
            rows.append(Row(case.key, release, "not offered", rendered.refused_by_us))
            continue
        workdir = scratch / release.slug / case.key
        model_dir = model_files.write_model_dir(get_model(rendered.model), workdir / "model")
        template = workdir / "qwen3-no-thinking.jinja"
        commands = [matrix.localise(words, str(model_dir), str(template)) for words in rendered.commands]
        _run_preamble(commands[:-1])
        cases.append({"id": case.key, "words": matrix.engine_words(release.engine, commands[-1])})
    if not cases:
        return rows
    cases_path = scratch / f"{release.slug}.cases.json"
    results_path = scratch / f"{release.slug}.results.json"
    cases_path.write_text(json.dumps(cases, indent=1), encoding="utf-8")
    with open(log_dir / f"{release.slug}.log", "w", encoding="utf-8") as log:
        venv = venvs.ensure(release, log, extra=ERA_PINS.get(release.slug, ()))
        probe = HERE / f"probe_{release.engine}.py"
        log.write(f"$ {venvs.python_of(venv)} {probe} {cases_path} {results_path}\n")
        log.flush()
        subprocess.run([str(venvs.python_of(venv)), str(probe), str(cases_path), str(results_path)],
                       stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                       env=_probe_env(scratch / "home", release.engine), timeout=PROBE_TIMEOUT_S, check=False, cwd=scratch)
    if not results_path.exists():
        return rows + [Row(c["id"], release, "REFUSED", "the probe crashed before a verdict (see its log)")
                       for c in cases]
    for result in json.loads(results_path.read_text(encoding="utf-8")):
        if not result["ok"]:
            rows.append(Row(result["id"], release, "REFUSED", f"{result['stage']}: {result['error']}"))
        elif result["deprecations"]:
            rows.append(Row(result["id"], release, "DEPRECATED", " | ".join(result["deprecations"])))
        else:
            rows.append(Row(result["id"], release, "ok", ", ".join(result.get("checked", []))))
    return rows


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table, ordered by release then matrix order."""
    order = {case.key: i for i, case in enumerate(matrix.CASES)}
    lines = ["| engine | role | case | status | detail |", "|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: (r.release.engine, r.release.version, order.get(r.case, 99))):
        detail = row.detail.replace("|", "/").replace("\n", " ")
        lines.append(f"| {row.release.engine} {row.release.version} | {row.release.role} | {row.case} | "
                     f"{row.status} | {detail[:240]} |")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    """Run the conformance matrix; 0 when every engine accepts every line we render."""
    parser = argparse.ArgumentParser(prog="make conformance", description=described(__doc__ or "", paragraphs=99))
    parser.add_argument("--only", action="append", default=[],
                        help="engine or engine-version to check (e.g. vllm, sglang-0.5.17); repeatable")
    parser.add_argument("--logs", default="build/conformance", help="folder for install and probe logs")
    args = parser.parse_args(argv)
    log_dir = Path(args.logs)
    log_dir.mkdir(parents=True, exist_ok=True)
    chosen = [r for r in releases()
              if not args.only or r.engine in args.only or r.slug in args.only]
    rows: list[Row] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="conformance-") as tmp:
        for release in chosen:
            began = time.monotonic()
            try:
                rows.extend(check_release(release, Path(tmp), log_dir))
            except (venvs.InstallError, subprocess.TimeoutExpired) as exc:
                rows.append(Row("(install)", release, "REFUSED", str(exc)))
            print(f"{release.slug} ({release.role}): {time.monotonic() - began:.0f} s", file=sys.stderr)
    print(table(rows))
    failed = [r for r in rows if r.failed]
    print(f"\n{len(rows)} lines, {len(failed)} refused or deprecated, "
          f"{sum(r.status == 'not offered' for r in rows)} not offered by our rules; "
          f"{time.monotonic() - started:.0f} s; logs in {log_dir}/")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
