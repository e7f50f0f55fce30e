"""A local EAS API on 127.0.0.1 that answers like the real one, and misbehaves on request.

Routes: ``GET /api/v2/public/instance_types`` (DescribeMachineSpec),
``GET /api/v2/services/{region}/{name}`` (DescribeService) and ``PUT`` on the same path
(UpdateService: ``UpdateType=replace`` replaces the service's ``ServiceConfig``, anything else
merges into it as EAS documents for its default, see ``merge_config``) and ``DELETE`` (DeleteService).
Faults: a delay, a hung connection, an HTTP status with EAS's error body, a non-JSON body, or a
script of answers for successive calls (to test retries).

Rollouts (off by default: an update then changes nothing but the config, as before): with
``rollout_polls`` set, an UpdateService starts a new version that the next that many
DescribeService calls of the service report as still rolling out, in the fields of the SDK's
``Service`` model (``CurrentVersion`` behind ``LatestVersion``, ``RunningInstance`` below
``TotalInstance``) while ``Status`` stays ``rollout_status`` (EAS may say ``Running`` from before
the update for a while); then it ends in ``rollout_outcome`` (``Running``, or ``Failed``).
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
    after_apply: bool = False
    """UpdateService only: the update takes effect before the fault answers."""


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
    put_faults: list[Fault] = field(default_factory=list)
    """Answers for successive UpdateService calls, like ``faults`` (empty means OK). A fault with
    ``after_apply`` applies the update first, then answers with the fault (a PUT that timed out
    or failed on the way back after EAS took it)."""
    rollout_polls: int = 0
    rollout_status: str = "Running"
    rollout_outcome: str = "Running"
    deletes: list[str] = field(default_factory=list)
    """DeleteService calls: ``region/name``."""
    port: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    """GET requests being answered at once, and the most at any moment (shows concurrency)."""
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    _rolling: dict[str, int] = field(default_factory=dict)

    def next_fault(self) -> Fault:
        if not self.faults:
            return OK
        return self.faults.pop(0) if len(self.faults) > 1 else self.faults[0]

    def next_put_fault(self) -> Fault:
        if not self.put_faults:
            return OK
        return self.put_faults.pop(0) if len(self.put_faults) > 1 else self.put_faults[0]

    def start_rollout(self, key: str) -> None:
        """A new version of ``key`` after an update: rolling out for ``rollout_polls`` reads."""
        found = self.services[key]
        if not self.rollout_polls and "LatestVersion" not in found:
            return  # the default: no version fields, no rollout (the behaviour before rollouts)
        found["LatestVersion"] = int(found.get("LatestVersion") or found.get("CurrentVersion") or 1) + 1
        found.setdefault("CurrentVersion", found["LatestVersion"] - 1)
        found.setdefault("TotalInstance", found.get("RunningInstance", 1))
        found.setdefault("RunningInstance", found["TotalInstance"])
        self._rolling[key] = self.rollout_polls
        if not self.rollout_polls:
            self._settle(key)

    def observe(self, key: str) -> dict[str, Any]:
        """What DescribeService answers for ``key`` now (one poll of a rollout used up)."""
        found = self.services[key]
        left = self._rolling.get(key)
        if left is None:
            return found
        if left > 0:
            self._rolling[key] = left - 1
            return {**found, "Status": self.rollout_status, "CurrentVersion": found["LatestVersion"] - 1,
                    "RunningInstance": max(0, int(found["TotalInstance"]) - 1)}
        self._settle(key)
        return found

    def _settle(self, key: str) -> None:
        found = self.services[key]
        del self._rolling[key]
        found["Status"] = self.rollout_outcome
        if self.rollout_outcome == "Running":
            found["CurrentVersion"] = found["LatestVersion"]
            found["RunningInstance"] = found["TotalInstance"]


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
                    self._send(200, {"RequestId": "fake", **state.observe(f"{region}/{name}")})
            else:
                self._send(404, {"Code": "NotFound", "Message": path})

        def do_PUT(self) -> None:
            path, _, query = self.path.partition("?")
            state.requests.append(f"PUT {path}")
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            update_type = parse_qs(query).get("UpdateType", ["merge"])[0]
            parts = path.split("/")
            key = "/".join(parts[4:6])
            found = state.services.get(key) if path.startswith("/api/v2/services/") else None
            if found is None:
                self._send(404, {"RequestId": "fake", "Code": "InvalidService.NotFound", "Message": path})
                return
            fault = state.next_put_fault()
            if fault != OK and not fault.after_apply:
                self._fail(fault)
                return
            state.updates.append((key, update_type, body))
            old = json.loads(found.get("ServiceConfig") or "{}")
            found["ServiceConfig"] = json.dumps(body if update_type == "replace" else merge_config(old, body),
                                                sort_keys=True)
            state.start_rollout(key)
            if fault != OK:
                self._fail(fault)
                return
            self._send(200, {"RequestId": "fake", "Status": "Updating"})

        def do_DELETE(self) -> None:
            path = self.path.split("?", 1)[0]
            state.requests.append(f"DELETE {path}")
            key = "/".join(path.split("/")[4:6])
            if not path.startswith("/api/v2/services/") or state.services.pop(key, None) is None:
                self._send(404, {"RequestId": "fake", "Code": "InvalidService.NotFound", "Message": path})
                return
            state.deletes.append(key)
            self._send(200, {"RequestId": "fake", "Message": "deleted"})

        def _fail(self, fault: Fault) -> None:
            if fault.hang:
                state._stop.wait()
                return
            if fault.delay_s:
                time.sleep(fault.delay_s)
            if fault.status != 200:
                self._send(fault.status, {"RequestId": "fake", "Code": fault.code, "Message": "injected fault"})
            else:
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
