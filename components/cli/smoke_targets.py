"""Which services the smoke test calls, and whether a request may be sent to each.

The services come from the stack's outputs (``pulumi stack output --json --show-secrets``, or the
same JSON from a file); what older outputs lack (the features, the engine) is read from the stack
file. A ``Target`` becomes a callable ``Service`` only with a token that is not Pulumi's
``[secret]`` placeholder, a served model name, known features and an endpoint the token may go
to: https, or plain http to a loopback address only (``over_https``).
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional, Union
from urllib.parse import urlsplit

from . import make_words

PULUMI_TIMEOUT = 120.0
SECRET_PLACEHOLDER = "[secret]"
"""What Pulumi prints for a secret output unless asked for ``--show-secrets``."""
BLADELLM = "bladellm"


class SmokeError(Exception):
    """The smoke test cannot start; the message is for the person who ran it."""


@dataclass(frozen=True)
class Features:
    """What a service was deployed to do (the stack file's ``toolCalling``, ``reasoning``, ``thinking``)."""

    tool_calling: bool = False
    reasoning: bool = False
    thinking: bool = True
    engine: Optional[str] = None
    """The engine serving it (the ``engine`` output, or the stack file); None = fully OpenAI-compatible."""
    always_thinks: bool = False
    """The model always thinks (Thinking-2507, Qwen3-Next-Thinking): no request can turn it off,
    and every answer comes after its reasoning (the ``alwaysThinks`` output, or the stack file)."""

    @property
    def bladellm(self) -> bool:
        return self.engine == BLADELLM


@dataclass(frozen=True)
class Service:
    """A service ready to be called: everything a request needs is known."""

    key: str
    base_url: str
    token: str
    served_model_name: str
    features: Features


@dataclass(frozen=True)
class Target:
    """One service as read from the stack outputs; any field may be missing."""

    key: str
    base_url: Optional[str]
    token: Optional[str]
    served_model_name: Optional[str]
    features: Optional[Features]
    features_problem: str = ""
    """Why ``features`` is unknown, when it is."""

    def resolve(self) -> Union[Service, tuple[str, str]]:
        """The callable service, or (check, detail) of what stops any request being sent."""
        if not self.token:
            return "token", "no token in outputs"
        if self.token == SECRET_PLACEHOLDER:
            return "token", "token is hidden ([secret]): read the outputs with --show-secrets"
        if not self.base_url:
            return "endpoint", "no openaiBaseUrl (or internetEndpoint) in outputs"
        if not self.served_model_name:
            return "endpoint", "no servedModelName in outputs"
        if self.features is None:
            return "features", self.features_problem
        url = over_https(self.base_url)
        if url is None:
            return "endpoint", f"not calling {self.base_url}: the token is sent over https only"
        return Service(self.key, url, self.token, self.served_model_name, self.features)


def over_https(url: str) -> Optional[str]:
    """``url`` as it may carry a token: https as it is, http upgraded to https (EAS serves both on
    the same endpoint: "You can replace http with https for more secure encrypted transmission",
    https://www.alibabacloud.com/help/doc-detail/111114.html), plain http kept for loopback only;
    None for anything else."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return url
    if parts.scheme != "http":
        return None
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    return url if loopback else "https://" + url[len("http://"):]


def pulumi_outputs(stack: str) -> dict[str, Any]:
    """The stack's outputs, secrets shown, from the Pulumi CLI."""
    command = ["pulumi", "stack", "output", "--json", "--show-secrets", "--stack", stack]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PULUMI_TIMEOUT, check=False)
    except FileNotFoundError:
        raise SmokeError(
            "the Pulumi CLI (pulumi) is not on PATH: install it (https://www.pulumi.com/docs/install/) and log in "
            f"to the stack's backend, or pass {make_words('OUTPUTS=', '--outputs ')}FILE with the JSON of "
            f"`pulumi stack output --json --show-secrets --stack {stack}`"
        ) from None
    except subprocess.TimeoutExpired:
        raise SmokeError(f"`{' '.join(command)}` did not finish in {PULUMI_TIMEOUT:g} s") from None
    if done.returncode != 0:
        reason = done.stderr.strip() or done.stdout.strip() or f"exit status {done.returncode}"
        raise SmokeError(f"`{' '.join(command)}` failed: {reason}")
    return _parse_outputs(done.stdout, f"the output of `{' '.join(command)}`")


def read_outputs_file(path: Path) -> dict[str, Any]:
    """Stack outputs saved as JSON (what ``pulumi stack output --json --show-secrets`` prints)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SmokeError(f"cannot read outputs file {path}: {exc.strerror or exc}") from None
    return _parse_outputs(text, str(path))


def _parse_outputs(text: str, source: str) -> dict[str, Any]:
    try:
        outputs = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SmokeError(f"{source}: not valid JSON: {exc}") from None
    if not isinstance(outputs, dict) or not isinstance(outputs.get("services"), dict):
        raise SmokeError(f"{source}: expected a JSON object with a 'services' map "
                         "(as `pulumi stack output --json --show-secrets` prints it)")
    return outputs


def stack_features(stack: str) -> dict[str, Features]:
    """Service key -> features, read from ``stacks/Pulumi.<stack>.yaml`` (for outputs that lack them)."""
    from ..core.errors import StackConfigError
    from ..core.stack import stack_config
    from .plan import PlanError, read_stack_config, resolve_stack

    try:
        name, path = resolve_stack(stack)
        loaded = stack_config.load(name, read_stack_config(path))
    except (PlanError, StackConfigError) as exc:
        raise SmokeError(str(exc)) from None
    from ..core.models.catalog import get_model

    return {
        key: Features(tool_calling=spec.tool_calling, reasoning=spec.reasoning, thinking=spec.thinking,
                      engine=spec.engine, always_thinks=get_model(spec.model).line.thinking == "always")
        for key, spec in loaded.config.services.items()
    }


def _features(raw: Any, engine: Optional[str]) -> Optional[Features]:
    if not isinstance(raw, dict):
        return None
    flags = {k: raw.get(k) for k in ("toolCalling", "reasoning", "thinking")}
    if not all(isinstance(v, bool) for v in flags.values()):
        return None
    return Features(tool_calling=bool(flags["toolCalling"]), reasoning=bool(flags["reasoning"]),
                    thinking=bool(flags["thinking"]), engine=engine, always_thinks=raw.get("alwaysThinks") is True)


def _text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value else None


def targets(outputs: Mapping[str, Any], stack: Optional[str] = None,
            read_features: Callable[[str], dict[str, Features]] = stack_features) -> list[Target]:
    """One ``Target`` per service in the outputs, sorted by key.

    Features come from each service's ``features`` output; when that is absent, from the stack
    file of ``stack`` (read once, only if needed).
    """
    services: Mapping[str, Any] = outputs.get("services") or {}
    # Tokens are exported apart (`tokens`, a secret map) so that `services` stays readable;
    # a token inside a service entry is accepted too.
    tokens = outputs.get("tokens")
    tokens = tokens if isinstance(tokens, dict) else {}
    from_file: Optional[dict[str, Features]] = None
    found: list[Target] = []
    for key in sorted(services):
        entry = services[key] if isinstance(services[key], dict) else {}
        base_url = _text(entry.get("openaiBaseUrl"))
        endpoint = _text(entry.get("internetEndpoint"))
        if base_url is None and endpoint is not None:
            base_url = endpoint.rstrip("/") + "/v1"
        features = _features(entry.get("features"), _text(entry.get("engine")))
        problem = ""
        if features is not None and features.engine is None and stack is not None:
            # Outputs of stacks deployed before the `engine` output: the stack file says.
            if from_file is None:
                from_file = read_features(stack)
            known = from_file.get(key)
            if known is not None:
                features = replace(features, engine=known.engine)
        if features is None:
            if stack is None:
                problem = (f"no features in outputs; pass {make_words('STACK=', '--stack ')}<name> to read them "
                           "from stacks/Pulumi.<name>.yaml")
            else:
                if from_file is None:
                    from_file = read_features(stack)
                features = from_file.get(key)
                if features is None:
                    problem = f"no features in outputs and no service {key!r} in stack {stack!r}"
        found.append(Target(key, base_url, _text(tokens.get(key, entry.get("token"))), _text(entry.get("servedModelName")),
                            features, problem))
    return found
