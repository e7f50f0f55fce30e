"""A fake OpenAI-compatible Qwen3 service on 127.0.0.1, healthy or misbehaving on purpose.

    with FakeOpenAI(Behaviour(reasoning=True)) as fake:
        fake.base_url   # http://127.0.0.1:<port>/v1

Serves ``GET /v1/models`` and non-streaming ``POST /v1/chat/completions`` the way vLLM or SGLang
behind EAS would: the ``Authorization`` header must be the raw token (EAS's documented form,
what ``components.cli.smoke`` sends), ``chat_template_kwargs.enable_thinking`` is honoured, tools
give ``tool_calls``, a reasoning service puts its reasoning in ``reasoning_content``. It keeps
no state between requests: a question about the user's name is answered from the history the
request carries, or not at all. Answers are canned, so every run gives the same bytes.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

TOKEN = "test-token"
SERVED = "qwen3-test"


@dataclass(frozen=True)
class Behaviour:
    """How the fake service is deployed, and how it misbehaves."""

    token: str = TOKEN
    served_model_name: str = SERVED
    tool_calling: bool = True
    reasoning: bool = False
    thinking: bool = True
    """False: thinking off for the whole service, whatever a request asks."""
    # Misbehaviours.
    leak_think: bool = False
    """A think block in the content even with thinking off (chat template not applied)."""
    no_tool_calls: bool = False
    """The tool call left in the content as text (no tool-call parser)."""
    inline_reasoning: bool = False
    """Reasoning inline in the content (no reasoning parser) even on a reasoning service."""
    forget_history: bool = False
    """Answers from the last message only."""
    status: Optional[int] = None
    """Answer every request with this HTTP status (401, 500, ...)."""
    engine: str = "vllm"
    """``bladellm`` behaves as Alibaba documents BladeLLM's API: no ``GET /v1/models`` (404),
    ``model`` optional and naming a LoRA adapter (an unknown one is refused), ``max_tokens``
    16 when unset, and no ``chat_template_kwargs`` (ignored)."""
    truncate_at: Optional[int] = None
    """Stop every answer after this many words, with finish_reason ``length`` (0: nothing)."""
    delay: float = 0.0
    """Seconds to wait before answering."""


@dataclass
class Seen:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names lower-cased."""
    body: Any = None


def _error(status: int, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": status}}


def _last_user(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return str(message["content"])
    return ""


def answer_for(messages: list[dict[str, Any]], forget_history: bool = False) -> str:
    """A canned answer to the last user message, using the history it carries (and nothing else)."""
    question = _last_user(messages)
    history = messages[-1:] if forget_history else messages
    if "my name" in question.lower() and "?" in question:
        for message in history:
            if message.get("role") == "user":
                named = re.search(r"[Mm]y name is (\w+)", str(message.get("content", "")))
                if named:
                    return named.group(1)
        return "I don't know your name."
    if "reply ok" in question.lower():
        return "OK"
    if "capital of france" in question.lower():
        return "The capital of France is Paris."
    sums = re.search(r"(\d+) \+ (\d+)", question)
    if sums:
        return str(int(sums.group(1)) + int(sums.group(2)))
    return "Hello."


def _route(path: str) -> str:
    """The OpenAI route of a request: EAS serves it under the service's own path
    (``/api/predict/<name>/v1/...``), a plain server at the root (``/v1/...``)."""
    index = path.find("/v1/")
    return path[index:] if index > 0 else path


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a slow handler must not hold up shutdown

    def __init__(self, behaviour: Behaviour) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.behaviour = behaviour
        self.seen: list[Seen] = []
        self.stopping = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms stall

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _admit(self, body: Any = None) -> bool:
        """Record the request, apply delay, forced status and the token check; False if answered."""
        behaviour = self.server.behaviour
        self.server.seen.append(Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        if behaviour.delay and self.server.stopping.wait(behaviour.delay):
            return False
        if behaviour.status is not None:
            self._send(behaviour.status, _error(behaviour.status, f"forced HTTP {behaviour.status}"))
            return False
        # EAS's documented form: the raw token, no "Bearer " scheme.
        if self.headers.get("Authorization") != behaviour.token:
            self._send(401, _error(401, "Unauthorized"))
            return False
        return True

    def do_GET(self) -> None:  # http.server calls do_<METHOD>
        if not self._admit():
            return
        if _route(self.path).rstrip("/") != "/v1/models" or self.server.behaviour.engine == "bladellm":
            self._send(404, _error(404, f"no route {self.path}"))
            return
        model = {"id": self.server.behaviour.served_model_name, "object": "model", "created": 0, "owned_by": "vllm"}
        self._send(200, {"object": "list", "data": [model]})

    def do_POST(self) -> None:  # http.server calls do_<METHOD>
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            body = None
        if not self._admit(body):
            return
        if _route(self.path) != "/v1/chat/completions":
            self._send(404, _error(404, f"no route {self.path}"))
            return
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._send(400, _error(400, "expected a JSON body with messages"))
            return
        blade = self.server.behaviour.engine == "bladellm"
        if body.get("model") != self.server.behaviour.served_model_name and not (blade and "model" not in body):
            # BladeLLM: a model name selects a LoRA adapter, and this fake serves none.
            self._send(404, _error(404, f"The model `{body.get('model')}` does not exist."))
            return
        self._send(200, self._completion(body))

    def _completion(self, body: dict[str, Any]) -> dict[str, Any]:
        behaviour = self.server.behaviour
        messages: list[dict[str, Any]] = body["messages"]
        blade = behaviour.engine == "bladellm"
        kwargs = {} if blade else (body.get("chat_template_kwargs") or {})
        thinking = behaviour.thinking and kwargs.get("enable_thinking", True) is not False
        message: dict[str, Any] = {"role": "assistant", "content": None}
        finish = "stop"
        tools = body.get("tools") or []
        if tools and behaviour.tool_calling and "weather" in _last_user(messages).lower():
            city = re.search(r"\bin ([A-Z]\w+)", _last_user(messages))
            name = tools[0]["function"]["name"]
            arguments = json.dumps({"city": city.group(1) if city else "Paris"})
            if behaviour.no_tool_calls:
                message["content"] = f'<tool_call>\n{{"name": "{name}", "arguments": {arguments}}}\n</tool_call>'
            else:
                message["tool_calls"] = [{"id": "call_0", "type": "function",
                                          "function": {"name": name, "arguments": arguments}}]
                finish = "tool_calls"
        else:
            answer = answer_for(messages, behaviour.forget_history)
            thought = "The user asked a question; the answer is short."
            if thinking and behaviour.reasoning and not behaviour.inline_reasoning:
                message["reasoning_content"] = thought
                message["content"] = answer
            elif thinking:
                message["content"] = f"<think>\n{thought}\n</think>\n\n{answer}"
            elif behaviour.leak_think:
                message["content"] = f"<think>\n\n</think>\n\n{answer}"
            else:
                message["content"] = answer
        limit = behaviour.truncate_at
        if limit is None and blade and body.get("max_tokens") is None:
            limit = 16  # BladeLLM's documented default
        if limit is not None and isinstance(message["content"], str) and len(message["content"].split()) > limit:
            message["content"] = " ".join(message["content"].split()[:limit])
            finish = "length"
        return {
            "id": "chatcmpl-0",
            "object": "chat.completion",
            "created": 0,
            "model": behaviour.served_model_name,
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }


@dataclass
class FakeOpenAI:
    """Context manager running the fake service in a background thread on 127.0.0.1:<free port>."""

    behaviour: Behaviour = field(default_factory=Behaviour)
    _server: Optional[_Server] = None
    _thread: Optional[threading.Thread] = None

    def __enter__(self) -> FakeOpenAI:
        self._server = _Server(self.behaviour)
        # A short poll interval: shutdown() waits for the loop to notice, 0.5 s by default.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def serve_as(self, **changes: Any) -> None:
        """Change how the running fake behaves (the token, once the service that it plays has one)."""
        assert self._server is not None
        self._server.behaviour = replace(self._server.behaviour, **changes)

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``, for a fake EAS whose endpoints lead here."""
        assert self._server is not None
        return f"127.0.0.1:{self._server.server_port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL (``openaiBaseUrl`` in stack outputs)."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    @property
    def seen(self) -> list[Seen]:
        """Every request received, in order."""
        assert self._server is not None
        return self._server.seen
