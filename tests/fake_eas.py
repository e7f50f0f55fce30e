"""A local EAS API on 127.0.0.1 that answers like the real one, and misbehaves on request.

Routes (EAS API 2021-07-01, the paths the SDK ``alibabacloud_eas20210701`` and
terraform-provider-alicloud's ``resource_alicloud_pai_service.go`` call):

- ``GET /api/v2/public/instance_types`` (DescribeMachineSpec);
- ``GET /api/v2/services`` (ListServices: ``Label`` filters by labels; paged by ``PageNumber`` and
  ``PageSize``). Its path names no region either: it lists every region's services, each with its
  ``Region``, and the caller keeps its own region's (the real API answers one region per host);
- ``POST /api/v2/services`` (CreateService), ``GET``/``PUT``/``DELETE /api/v2/services/{region}/{name}``
  (DescribeService, UpdateService, DeleteService), ``PUT .../start`` and ``.../stop``
  (StartService, StopService), ``PUT``/``DELETE .../label`` (UpdateServiceLabel, DeleteServiceLabel).

Services are scoped by region (the key ``region/name``): EAS names are unique per region only.
CreateService's path has no region (the real API takes it from the regional endpoint host, which
a single loopback server cannot tell apart), so a caller names it in the ``X-Fake-Eas-Region``
header; without one the service lands in ``default_region``.

UpdateService: ``UpdateType=replace`` replaces the service's ``ServiceConfig``, anything else
merges into it as EAS documents for its default (see ``merge_config``).

Changes take time, counted in DescribeService reads of the service (off by default: every change
then settles at once, as the older tests expect):

- ``settle_polls=N``: a create, start, stop or delete answers N reads in its transitional status
  (``Creating``, ``Starting``, ``Stopping``, ``Deleting``) before it settles;
- an update starts a new version that the next ``rollout_polls`` reads (``settle_polls`` when
  that is 0) report as still rolling out, in the fields of the SDK's ``Service`` model
  (``CurrentVersion`` behind ``LatestVersion``, ``RunningInstance`` below ``TotalInstance``)
  while ``Status`` stays ``rollout_status`` (EAS may say ``Running`` from before the update for a
  while); then it ends in ``rollout_outcome`` (``Running``, or ``Failed``).

Faults: a delay, a hung connection, an HTTP status with EAS's error body, a non-JSON body, or a
script of answers for successive reads (``faults``), updates (``put_faults``), creates
(``create_faults``) and deletes (``delete_faults``), where a fault ``after_apply`` answers after EAS
took the call (an answer lost on the way back); ``broken`` services whose DescribeService fails;
``fail_next_create`` makes the next created service end ``Failed``, and ``failing`` keeps a
service failing (its cause persists: every rollout or start of it ends ``Failed``) until a test
takes it out.

Statuses: the EAS API's values (``Service.Status``, ``alibabacloud_eas20210701`` 7.0.0
``models.Service``: Creating, Waiting, Updating, Scaling, Starting, Stopping, Stopped, Failed,
Deleting, DeleteFailed, Running, ...). A create passes through ``create_statuses``, an update's
rollout shows ``rollout_status``; a stopped service stays ``Stopped`` through an update (its
config changes, nothing starts); a delete may end ``DeleteFailed`` (``delete_outcome``).

What EAS may do on its own, as options nobody has checked on a live account: ``added_keys`` are
merged into ``ServiceConfig`` after every create and update (server-added keys);
``autoscaled_instances`` reports the autoscaler's instance count in ``metadata.instance``;
``system_labels`` are put on every created service (keys like ``acs:...`` that the provider never
removes).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import parse_qs

REGION_HEADER = "X-Fake-Eas-Region"
"""Which regional endpoint a region-less call (CreateService) stands for."""


@dataclass
class Fault:
    """One way to answer a request."""

    status: int = 200
    code: Optional[str] = None
    delay_s: float = 0.0
    hang: bool = False
    garbage: bool = False
    after_apply: bool = False
    """Create, update and delete: EAS takes the call before the fault answers (the answer is lost)."""


OK = Fault()
SERVER_ERROR = Fault(status=500, code="InternalError")
THROTTLED = Fault(status=400, code="Throttling.User")
FORBIDDEN = Fault(status=403, code="Forbidden.RAM")
GARBAGE = Fault(garbage=True)
HANG = Fault(hang=True)


@dataclass
class _Rollout:
    """A change in progress: the transitional statuses, then what the service becomes."""

    polls_left: int
    settled: dict[str, Any]
    """Fields set when it settles."""
    gone: bool = False
    """It settles by disappearing (a delete)."""
    statuses: tuple[str, ...] = ()
    """Shown one per read while it settles (the last one repeats)."""
    shown: int = 0


def _next(script: list[Fault]) -> Fault:
    """The next scripted answer; the last one repeats; empty means OK."""
    if not script:
        return OK
    return script.pop(0) if len(script) > 1 else script[0]


def _with_paths(config: dict[str, Any], paths: dict[str, Any]) -> dict[str, Any]:
    """``config`` with each dotted path of ``paths`` set (EAS adding keys of its own)."""
    out = json.loads(json.dumps(config))
    for path, value in paths.items():
        node = out
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


@dataclass
class _Blip:
    """Reads of one service that fail with a server error: ``count`` of them, after ``after`` good
    ones, from the moment ``on`` (an action) is called, or at once."""

    count: int
    after: int = 0
    on: Optional[str] = None
    armed: bool = False


@dataclass
class FakeEas:
    """State of the fake API; tests change it between calls."""

    metas: list[dict[str, Any]] = field(default_factory=list)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    """DescribeService answers by ``region/name``."""
    faults: list[Fault] = field(default_factory=list)
    """Answers for successive requests; the last one repeats. Empty means OK."""
    requests: list[str] = field(default_factory=list)
    updates: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    """UpdateService calls: (``region/name``, update type, body)."""
    calls: list[tuple[str, str]] = field(default_factory=list)
    """Every state-changing call, in order: (action, ``region/name``), e.g. ("CreateService", "cn-beijing/chat_dev")."""
    deletes: list[str] = field(default_factory=list)
    """DeleteService calls: ``region/name``."""
    put_faults: list[Fault] = field(default_factory=list)
    """Answers for successive UpdateService calls, like ``faults`` (empty means OK)."""
    create_faults: list[Fault] = field(default_factory=list)
    """Answers for successive CreateService calls, like ``put_faults``."""
    delete_faults: list[Fault] = field(default_factory=list)
    """Answers for successive DeleteService calls, like ``put_faults``."""
    default_region: str = "cn-hangzhou"
    settle_polls: int = 0
    rollout_polls: int = 0
    rollout_status: str = "Running"
    rollout_outcome: str = "Running"
    fail_next_create: bool = False
    failing: set[str] = field(default_factory=set)
    """``region/name`` keys whose cause of failure persists: a create, rollout or start ends ``Failed``."""
    create_statuses: tuple[str, ...] = ("Creating",)
    """What a create reports while it settles (``Waiting``: EAS is still scheduling resources)."""
    delete_outcome: str = "gone"
    """``gone``, or ``DeleteFailed``: the service stays, in that status."""
    added_keys: dict[str, Any] = field(default_factory=dict)
    """Dotted paths EAS adds to every service's ``ServiceConfig`` after a create or an update."""
    autoscaled_instances: dict[str, int] = field(default_factory=dict)
    """``region/name`` -> the autoscaler's instance count, reported in ``metadata.instance``."""
    system_labels: dict[str, str] = field(default_factory=dict)
    """Labels EAS (or the console) puts on every created service."""
    endpoint_host: Optional[str] = None
    """``host:port`` that created services' endpoints lead to (a local fake of the served API),
    instead of EAS's host names."""
    broken: set[str] = field(default_factory=set)
    """``region/name`` keys whose DescribeService answers a server error (a region that cannot answer)."""
    port: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    """GET requests being answered at once, and the most at any moment (shows concurrency)."""
    _rollouts: dict[str, _Rollout] = field(default_factory=dict)
    _blips: dict[str, _Blip] = field(default_factory=dict)
    _rolling: dict[str, int] = field(default_factory=dict)
    """Updates in progress: ``region/name`` -> reads left."""
    _created: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def next_fault(self) -> Fault:
        if not self.faults:
            return OK
        return self.faults.pop(0) if len(self.faults) > 1 else self.faults[0]

    def next_put_fault(self) -> Fault:
        return _next(self.put_faults)

    def next_create_fault(self) -> Fault:
        return _next(self.create_faults)

    def next_delete_fault(self) -> Fault:
        return _next(self.delete_faults)

    # -- the world as a test sees it -------------------------------------------------------------

    def config(self, key: str) -> dict[str, Any]:
        """The ``ServiceConfig`` of ``region/name`` as EAS holds it now."""
        return json.loads(self.services[key].get("ServiceConfig") or "{}")

    def names(self) -> list[str]:
        """Every service that exists, as ``region/name``, sorted."""
        return sorted(self.services)

    def create(self, region: str, config: dict[str, Any], labels: Optional[dict[str, str]] = None) -> str:
        """A service made outside Pulumi (the console, eascmd), already settled; its ``region/name``."""
        with self._lock:
            status, answer = self._create(region, config, labels or {}, None)
            if status != 200:
                raise ValueError(answer["Message"])
            key = f"{region}/{answer['ServiceName']}"
            rollout = self._rollouts.pop(key, None)
            if rollout is not None:
                self.services[key].update(rollout.settled)
            self.calls.pop()  # not a call of the run under test
            return key

    def finish(self, key: str) -> None:
        """The change in progress on ``key`` settles now (EAS finished it while nobody looked)."""
        with self._lock:
            rollout = self._rollouts.pop(key, None)
            if rollout is not None and not rollout.gone:
                self.services[key].update(rollout.settled)

    def fail_reads(self, key: str, *, count: int, after: int = 0, on: Optional[str] = None) -> None:
        """The next ``count`` DescribeService reads of ``key`` answer a server error (an API blip),
        after ``after`` good reads counted from the next ``on`` call (e.g. ``UpdateService``) of it."""
        self._blips[key] = _Blip(count, after, on, armed=on is None)

    def _blip(self, key: str) -> bool:
        """Whether this read of ``key`` is one the blip fails."""
        blip = self._blips.get(key)
        if blip is None or not blip.armed:
            return False
        if blip.after > 0:
            blip.after -= 1
            return False
        blip.count -= 1
        if blip.count <= 0:
            del self._blips[key]
        return True

    def list_services(self, query: dict[str, list[str]]) -> dict[str, Any]:
        """ListServices' answer: the services whose labels hold every ``Label`` pair, one page."""
        wanted = json.loads(query.get("Label", ["{}"])[0] or "{}")
        size = int(query.get("PageSize", ["100"])[0])
        page = int(query.get("PageNumber", ["1"])[0])
        with self._lock:
            found = [dict(self.services[key]) for key in self.names()
                     if all(self.labels(key).get(k) == v for k, v in wanted.items())]
        return {"RequestId": "fake", "Services": found[(page - 1) * size:page * size], "TotalCount": len(found),
                "PageNumber": page, "PageSize": size}

    def labels(self, key: str) -> dict[str, str]:
        return {label["LabelKey"]: label["LabelValue"] for label in self.services[key].get("Labels") or []}

    # -- what the handler calls (under the lock) -------------------------------------------------

    def _describe(self, key: str) -> Optional[dict[str, Any]]:
        """The answer for ``key``, stepping a change in progress by one read."""
        rollout = self._rollouts.get(key)
        if rollout is not None:
            if rollout.polls_left > 0:
                rollout.polls_left -= 1
                if rollout.statuses and key in self.services:
                    self.services[key]["Status"] = rollout.statuses[min(rollout.shown, len(rollout.statuses) - 1)]
                    rollout.shown += 1
            else:
                del self._rollouts[key]
                if rollout.gone:
                    self.services.pop(key, None)
                else:
                    self.services[key].update(rollout.settled)
        if key not in self.services:
            return None
        return self.observe(key)

    def start_rollout(self, key: str) -> None:
        """A new version of ``key`` after an update, rolling out for ``rollout_polls`` reads."""
        found = self.services[key]
        polls = self.rollout_polls or self.settle_polls
        if not polls and "LatestVersion" not in found:
            return  # a service a test wrote by hand, no rollouts: its fields stay as the test set them
        found["LatestVersion"] = int(found.get("LatestVersion") or found.get("CurrentVersion") or 1) + 1
        found.setdefault("CurrentVersion", found["LatestVersion"] - 1)
        found.setdefault("TotalInstance", found.get("RunningInstance", 1))
        found.setdefault("RunningInstance", found["TotalInstance"])
        self._rolling[key] = polls
        if not polls:
            self._settle(key)

    def observe(self, key: str) -> dict[str, Any]:
        """What DescribeService answers for ``key`` now (one read of a rollout used up)."""
        found = self._autoscaled(key)
        left = self._rolling.get(key)
        if left is None:
            return found
        if left > 0:
            self._rolling[key] = left - 1
            return {**found, "Status": self.rollout_status, "CurrentVersion": found["LatestVersion"] - 1,
                    "RunningInstance": max(0, int(found["TotalInstance"]) - 1)}
        self._settle(key)
        return found

    def _autoscaled(self, key: str) -> dict[str, Any]:
        """The service, with the autoscaler's instance count where a test set one."""
        found = self.services[key]
        count = self.autoscaled_instances.get(key)
        if count is not None and found.get("ServiceConfig"):
            config = json.loads(found["ServiceConfig"])
            config.setdefault("metadata", {})["instance"] = count
            found["ServiceConfig"] = json.dumps(config, sort_keys=True)
            found["TotalInstance"] = count
            if found.get("Status") == "Running":
                found["RunningInstance"] = count
        return found

    def _outcome(self, key: str) -> str:
        return "Failed" if key in self.failing else self.rollout_outcome

    def _settle(self, key: str) -> None:
        found = self.services[key]
        del self._rolling[key]
        found["Status"] = self._outcome(key)
        if found["Status"] == "Running":
            found["CurrentVersion"] = found["LatestVersion"]
            found["RunningInstance"] = found["TotalInstance"]

    def _roll(self, key: str, transitional: str, settled: dict[str, Any], *, gone: bool = False,
              statuses: tuple[str, ...] = ()) -> None:
        if self.settle_polls <= 0:
            if gone:
                self.services.pop(key, None)
            else:
                self.services[key].update(settled)
            return
        self.services[key]["Status"] = transitional
        self._rollouts[key] = _Rollout(self.settle_polls, settled, gone, statuses)

    def _create(self, region: str, config: dict[str, Any], labels: dict[str, str],
                workspace_id: Optional[str]) -> tuple[int, dict[str, Any]]:
        name = str((config.get("metadata") or {}).get("name") or "")
        key = f"{region}/{name}"
        if not name:
            return 400, {"Code": "InvalidParameter", "Message": "metadata.name is required"}
        if key in self.services:
            # EAS names are unique per region; the exact code EAS uses is not documented.
            return 400, {"Code": "InvalidParameter", "Message": f"service {name} already exists in {region}"}
        self._created += 1
        uid = f"eas-m-{hashlib.sha256(f'{key}#{self._created}'.encode()).hexdigest()[:12]}"
        host = self.endpoint_host or f"{uid}.{region}.pai-eas.aliyuncs.com"
        intranet = self.endpoint_host or f"{uid}.vpc.{region}.pai-eas.aliyuncs.com"
        instances = int((config.get("metadata") or {}).get("instance") or 1)
        labels = {**self.system_labels, **labels}
        self.services[key] = {
            "ServiceName": name, "ServiceUid": uid, "ServiceId": uid, "Region": region,
            "Status": self.create_statuses[0], "CreateTime": f"2026-12-02T00:00:{self._created % 60:02d}Z",
            "ServiceConfig": json.dumps(_with_paths(config, self.added_keys), sort_keys=True),
            "InternetEndpoint": f"http://{host}/api/predict/{name}",
            "IntranetEndpoint": f"http://{intranet}/api/predict/{name}",
            # A fresh token per service: a replacement gets a new one, as on EAS.
            "AccessToken": hashlib.sha256(f"token#{uid}".encode()).hexdigest()[:40],
            "Labels": [{"LabelKey": k, "LabelValue": v} for k, v in sorted(labels.items())],
            "WorkspaceId": workspace_id or "",
            "CurrentVersion": 1, "LatestVersion": 1, "RunningInstance": 0, "TotalInstance": instances,
        }
        final = "Failed" if self.fail_next_create or key in self.failing else "Running"
        self.fail_next_create = False
        self._roll(key, self.create_statuses[0],
                   {"Status": final, "RunningInstance": instances if final == "Running" else 0},
                   statuses=self.create_statuses)
        self.calls.append(("CreateService", key))
        return 200, {"RequestId": "fake", "ServiceName": name, "ServiceId": uid, "Region": region,
                     "Status": "Creating", "InternetEndpoint": self.services[key]["InternetEndpoint"],
                     "IntranetEndpoint": self.services[key]["IntranetEndpoint"]}

    def _update(self, key: str, update_type: str, body: dict[str, Any]) -> None:
        found = self.services[key]
        blip = self._blips.get(key)
        if blip is not None and blip.on == "UpdateService":
            blip.armed = True
        self.updates.append((key, update_type, body))
        self.calls.append(("UpdateService", key))
        old = json.loads(found.get("ServiceConfig") or "{}")
        new = body if update_type == "replace" else merge_config(old, body)
        found["ServiceConfig"] = json.dumps(_with_paths(new, self.added_keys), sort_keys=True)
        if found.get("Status") in ("Stopped", "Stopping"):
            return  # a stopped service takes the new config and stays stopped: nothing rolls out
        if "metadata" in new and "TotalInstance" in found:
            found["TotalInstance"] = int((new.get("metadata") or {}).get("instance") or 1)
        self.start_rollout(key)


def merge_config(old: Any, new: Any) -> Any:
    """EAS's merge update as the SDK documents it (``{"a": "b"}`` + ``{"c": "d"}`` is both):
    objects merge key by key, recursively; any other value, lists included, replaces the old
    one. Whether EAS merges nested objects and lists this way is not documented; recursive
    objects are the case where removed nested keys (``metadata.shm_size``) stay."""
    if isinstance(old, dict) and isinstance(new, dict):
        return {**old, **{k: merge_config(old.get(k), v) for k, v in new.items()}}
    return new


def _not_found(name: str) -> tuple[int, dict[str, Any]]:
    return 404, {"RequestId": "fake", "Code": "InvalidService.NotFound", "Message": name}


def _handler(state: FakeEas) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _faulted(self) -> bool:
            """Answer with the next scripted fault, if it is one; True when answered."""
            fault = state.next_fault()
            if fault.hang:
                state._stop.wait()  # hold the connection until the server stops
                return True
            if fault.delay_s:
                with state._lock:
                    state.in_flight += 1
                    state.peak_in_flight = max(state.peak_in_flight, state.in_flight)
                time.sleep(fault.delay_s)
                with state._lock:
                    state.in_flight -= 1
            if fault.status != 200:
                self._send(fault.status, {"RequestId": "fake", "Code": fault.code, "Message": "injected fault"})
                return True
            if fault.garbage:
                self._send(200, None, b"<html>502 Bad Gateway</html>")
                return True
            return False

        def _route(self) -> tuple[str, list[str], dict[str, list[str]]]:
            path, _, query = self.path.partition("?")
            return path, path.split("/"), parse_qs(query)

        def _body(self) -> Any:
            return json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")

        def do_GET(self) -> None:
            path, parts, _ = self._route()
            state.requests.append(path)
            if self._faulted():
                return
            if path == "/api/v2/public/instance_types":
                self._send(200, {"RequestId": "fake", "InstanceMetas": state.metas})
            elif path == "/api/v2/services":
                self._send(200, state.list_services(parse_qs(self.path.partition("?")[2])))
            elif path.startswith("/api/v2/services/") and len(parts) == 6:
                key = "/".join(parts[4:6])
                with state._lock:
                    blipped = state._blip(key)
                if key in state.broken or blipped:
                    self._send(500, {"RequestId": "fake", "Code": "InternalError", "Message": "injected fault"})
                    return
                with state._lock:
                    found = state._describe(key)
                    answer = dict(found) if found is not None else None
                if answer is None:
                    self._send(*_not_found(parts[5]))
                else:
                    self._send(200, {"RequestId": "fake", **answer})
            else:
                self._send(404, {"Code": "NotFound", "Message": path})

        def do_POST(self) -> None:
            path, _, query = self._route()
            state.requests.append(f"POST {path}")
            body = self._body()
            if path != "/api/v2/services":
                self._send(404, {"Code": "NotFound", "Message": path})
                return
            labels = json.loads(query.get("Labels", ["{}"])[0] or "{}")
            region = self.headers.get(REGION_HEADER) or state.default_region
            with state._lock:
                fault = state.next_create_fault()
                if fault != OK and not fault.after_apply:
                    self._fail(fault)
                    return
                status, answer = state._create(region, body, labels, query.get("WorkspaceId", [None])[0])
            if fault != OK and status == 200:
                self._fail(fault)  # EAS created it; the answer is lost on the way back
                return
            self._send(status, answer)

        def do_PUT(self) -> None:
            path, parts, query = self._route()
            state.requests.append(f"PUT {path}")
            body = self._body()
            key = "/".join(parts[4:6]) if path.startswith("/api/v2/services/") else ""
            with state._lock:
                found = state.services.get(key)
                if found is None:
                    self._send(404, {"RequestId": "fake", "Code": "InvalidService.NotFound", "Message": path})
                    return
                action = parts[6] if len(parts) > 6 else ""
                if action == "":
                    fault = state.next_put_fault()
                    if fault != OK and not fault.after_apply:
                        self._fail(fault)
                        return
                    state._update(key, query.get("UpdateType", ["merge"])[0], body)
                    if fault != OK:
                        self._fail(fault)
                        return
                elif action in ("start", "stop"):
                    state.calls.append(("StartService" if action == "start" else "StopService", key))
                    target = ("Failed" if key in state.failing else "Running") if action == "start" else "Stopped"
                    running = int(found.get("TotalInstance") or 0) if target == "Running" else 0
                    state._roll(key, "Starting" if action == "start" else "Stopping",
                                {"Status": target, "RunningInstance": running})
                elif action == "label":
                    state.calls.append(("UpdateServiceLabel", key))
                    merged = {**state.labels(key), **{str(k): str(v) for k, v in (body.get("Labels") or {}).items()}}
                    found["Labels"] = [{"LabelKey": k, "LabelValue": v} for k, v in sorted(merged.items())]
                else:
                    self._send(404, {"Code": "NotFound", "Message": path})
                    return
            self._send(200, {"RequestId": "fake", "Status": found.get("Status", "")})

        def do_DELETE(self) -> None:
            path, parts, query = self._route()
            state.requests.append(f"DELETE {path}")
            key = "/".join(parts[4:6]) if path.startswith("/api/v2/services/") else ""
            with state._lock:
                if key not in state.services:
                    self._send(*_not_found(parts[5] if len(parts) > 5 else path))
                    return
                if len(parts) > 6 and parts[6] == "label":
                    state.calls.append(("DeleteServiceLabel", key))
                    # The SDK sends the keys comma-separated; the Terraform provider as a JSON list.
                    raw = query.get("Keys", [""])[0]
                    drop = set(json.loads(raw) if raw.startswith("[") else filter(None, raw.split(",")))
                    state.services[key]["Labels"] = [label for label in state.services[key].get("Labels") or []
                                                     if label["LabelKey"] not in drop]
                elif len(parts) == 6:
                    fault = state.next_delete_fault()
                    if fault != OK and not fault.after_apply:
                        self._fail(fault)
                        return
                    state.calls.append(("DeleteService", key))
                    state.deletes.append(key)
                    if state.delete_outcome == "DeleteFailed":
                        state._roll(key, "Deleting", {"Status": "DeleteFailed",
                                                      "Message": "failed to release the service's resources"})
                    else:
                        state._roll(key, "Deleting", {}, gone=True)
                    if fault != OK:
                        self._fail(fault)
                        return
                else:
                    self._send(404, {"Code": "NotFound", "Message": path})
                    return
            self._send(200, {"RequestId": "fake"})

        def _fail(self, fault: Fault) -> None:
            """Answer a change with ``fault``'s status (its delay and hang are not modelled here)."""
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


class _Server(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: the program's eight concurrent lookups (each a new
    # connection: HTTP/1.0 closes after every answer) overflowed it, and each dropped connection
    # waited for the kernel's 1 s SYN retry. A real EAS endpoint has no such queue; with it, a
    # preview of 100 services spent about a second doing nothing (docs/benchmarks.md, issue 32).
    request_queue_size = 128


@contextmanager
def fake_eas(**kwargs: Any) -> Iterator[FakeEas]:
    """Run a fake EAS API on a free loopback port for the ``with`` block."""
    state = FakeEas(**kwargs)
    server = _Server(("127.0.0.1", 0), _handler(state))
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
