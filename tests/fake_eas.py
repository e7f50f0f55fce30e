"""A local EAS API on 127.0.0.1 that answers like the real one, and misbehaves on request.

Routes: ``GET /api/v2/public/instance_types`` (DescribeMachineSpec),
``GET /api/v2/services/{region}/{name}`` (DescribeService) and ``PUT`` on the same path
(UpdateService: ``UpdateType=replace`` replaces the service's ``ServiceConfig``, anything else
merges into it as EAS documents for its default, see ``merge_config``). Faults: a delay, a hung
connection, an HTTP status with EAS's error body, a non-JSON body, or a script of answers
for successive calls (to test retries).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import parse_qs


@dataclass
class Fault:
    """One way to answer a request."""

    status: int = 200
    code: Optional[str] = None
    delay_s: float = 0.0
    hang: bool = False
    garbage: bool = False


OK = Fault()
SERVER_ERROR = Fault(status=500, code="InternalError")
THROTTLED = Fault(status=400, code="Throttling.User")
FORBIDDEN = Fault(status=403, code="Forbidden.RAM")
GARBAGE = Fault(garbage=True)
HANG = Fault(hang=True)


@dataclass
class FakeEas:
    """State of the fake API; tests change it between calls."""

    metas: list[dict[str, Any]] = field(default_factory=list)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    """Answers for successive requests; the last one repeats. Empty means OK."""
    requests: list[str] = field(default_factory=list)
    updates: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    """UpdateService calls: (``region/name``, update type, body)."""
    port: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    """GET requests being answered at once, and the most at any moment (shows concurrency)."""
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def next_fault(self) -> Fault:
        if not self.faults:
            return OK
        return self.faults.pop(0) if len(self.faults) > 1 else self.faults[0]


def merge_config(old: Any, new: Any) -> Any:
    """EAS's merge update as the SDK documents it (``{"a": "b"}`` + ``{"c": "d"}`` is both):
    objects merge key by key, recursively; any other value, lists included, replaces the old
    one. Whether EAS merges nested objects and lists this way is not documented; recursive
    objects are the case where removed nested keys (``metadata.shm_size``) stay."""
    if isinstance(old, dict) and isinstance(new, dict):
        return {**old, **{k: merge_config(old.get(k), v) for k, v in new.items()}}
    return new


def _handler(state: FakeEas) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            state.requests.append(path)
            fault = state.next_fault()
            if fault.hang:
                state._stop.wait()  # hold the connection until the server stops
                return
            if fault.delay_s:
                with state._lock:
                    state.in_flight += 1
                    state.peak_in_flight = max(state.peak_in_flight, state.in_flight)
                time.sleep(fault.delay_s)
                with state._lock:
                    state.in_flight -= 1
            if fault.status != 200:
                self._send(fault.status, {"RequestId": "fake", "Code": fault.code, "Message": "injected fault"})
            elif fault.garbage:
                self._send(200, None, b"<html>502 Bad Gateway</html>")
            elif path == "/api/v2/public/instance_types":
                self._send(200, {"RequestId": "fake", "InstanceMetas": state.metas})
            elif path.startswith("/api/v2/services/"):
                _, _, _, _, region, name = path.split("/")[:6]
                found = state.services.get(f"{region}/{name}")
                if found is None:
                    self._send(404, {"RequestId": "fake", "Code": "InvalidService.NotFound", "Message": name})
                else:
                    self._send(200, {"RequestId": "fake", **found})
            else:
                self._send(404, {"Code": "NotFound", "Message": path})

        def do_PUT(self) -> None:
            path, _, query = self.path.partition("?")
            state.requests.append(f"PUT {path}")
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            update_type = parse_qs(query).get("UpdateType", ["merge"])[0]
            parts = path.split("/")
            found = state.services.get("/".join(parts[4:6])) if path.startswith("/api/v2/services/") else None
            if found is None:
                self._send(404, {"RequestId": "fake", "Code": "InvalidService.NotFound", "Message": path})
                return
            state.updates.append(("/".join(parts[4:6]), update_type, body))
            old = json.loads(found.get("ServiceConfig") or "{}")
            found["ServiceConfig"] = json.dumps(body if update_type == "replace" else merge_config(old, body),
                                                sort_keys=True)
            self._send(200, {"RequestId": "fake", "Status": "Updating"})

        def _send(self, status: int, body: Any, raw: Optional[bytes] = None) -> None:
            data = raw if raw is not None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def fake_eas(**kwargs: Any) -> Iterator[FakeEas]:
    """Run a fake EAS API on a free loopback port for the ``with`` block."""
    state = FakeEas(**kwargs)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state._stop.set()
        server.shutdown()
        server.server_close()
