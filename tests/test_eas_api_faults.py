"""Extra checks of components.eas.api against the real SDK client (loopback only)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from alibabacloud_eas20210701 import models as eas_models
from alibabacloud_tea_util import models as util_models

from components.eas import api as eas_api
from components.eas import probe as eas_probe
from components.eas.api import FailureKind, ProbeAuthError, ProbeFailure
from tests.fake_eas import SERVER_ERROR, Fault, fake_eas

META = {"InstanceType": "ml.gu7i.c16m60.1-gu30", "GPU": "GU30", "GPUAmount": 1, "GPUMemory": 24, "CPU": 16,
        "Memory": 60, "StockStatus": "WithStock", "SpotDiscount": 0.2, "NonProtectSpotDiscount": 0.1,
        "IsAvailable": True, "Vendor": "ECS", "SomethingNew": {"x": 1}}


class Scripted:
    """A loopback server answering successive requests from a script of (status, headers, body bytes)."""

    def __init__(self, script: list[tuple[int, dict[str, str], bytes]]) -> None:
        self.script = list(script)
        self.count = 0
        self.headers: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer.count += 1
                outer.headers.append({k.lower(): v for k, v in self.headers.items()})
                status, headers, body = outer.script.pop(0) if len(outer.script) > 1 else outer.script[0]
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Scripted:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def body(**kw: Any) -> bytes:
    return json.dumps(kw).encode()


def factory(endpoint: str, creds=("test-ak", "test-sk")):
    return lambda region: eas_api.make_client(region, endpoint=endpoint, protocol="http", credentials=creds)


def test_unknown_keys_survive_and_match_the_typed_sdk_method():
    with fake_eas(metas=[META]) as server:
        client = factory(server.endpoint)("cn-hangzhou")
        ours = eas_api.describe_machine_spec(client, timeout_s=1)
        typed = client.describe_machine_spec_with_options(eas_models.DescribeMachineSpecRequest(), {},
                                                          util_models.RuntimeOptions())
    assert ours == [META]
    assert typed.body.to_map()["InstanceMetas"] == [{k: v for k, v in META.items() if k != "SomethingNew"}]
    assert server.requests == ["/api/v2/public/instance_types"] * 2


def test_credentials_are_used_to_sign():
    with Scripted([(200, {}, body(InstanceMetas=[META]))]) as s:
        eas_probe.probe_regions(["cn-hangzhou"], client_factory=factory(s.endpoint))
    assert "Credential=test-ak" in s.headers[0]["authorization"]


def test_throttling_429_honours_retry_after():
    waits: list[float] = []
    script = [(429, {"x-acs-retry-after": "300"}, body(Code="Throttling", Message="slow down")),
              (200, {}, body(InstanceMetas=[META]))]
    with Scripted(script) as s:
        result = eas_probe.probe_regions(["cn-hangzhou"], client_factory=factory(s.endpoint), backoff_s=0.01,
                                       sleep=lambda t: (waits.append(t), time.sleep(t)))
    assert result["cn-hangzhou"] == [META] and s.count == 2 and waits == [0.3]


def test_a_retry_after_beyond_the_deadline_gives_up():
    script = [(429, {"x-acs-retry-after": "5000"}, body(Code="Throttling.Api", Message="slow"))]
    with Scripted(script) as s:
        result = eas_probe.probe_regions(["cn-hangzhou"], client_factory=factory(s.endpoint), deadline_s=1)
    failure = result["cn-hangzhou"]
    assert isinstance(failure, ProbeFailure) and failure.kind is FailureKind.THROTTLED and s.count == 1
    assert "no time left" in str(failure)


@pytest.mark.parametrize("status, code", [(400, "SignatureDoesNotMatch"), (404, "InvalidAccessKeyId.NotFound"),
                                          (401, "Whatever"), (403, "Forbidden.RAM")])
def test_auth_answers_are_fatal_at_once(status, code):
    with Scripted([(status, {}, body(Code=code, Message="no", RequestId="req-1"))]) as s, \
            pytest.raises(ProbeAuthError) as caught:
        eas_probe.probe_regions(["cn-hangzhou", "cn-beijing"], client_factory=factory(s.endpoint), retries=3)
    assert s.count <= 2  # one per region, never retried
    text = str(caught.value)
    assert code in text and "ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET" in text and "eas:DescribeMachineSpec" in text
    assert "request id req-1" in text
    assert caught.value.region == "cn-beijing" or caught.value.region == "cn-hangzhou"


def test_other_client_errors_are_rejected_without_retry():
    with Scripted([(400, {}, body(Code="InvalidParameter", Message="bad"))]) as s:
        result = eas_probe.probe_regions(["cn-hangzhou"], client_factory=factory(s.endpoint), retries=3)
    assert result["cn-hangzhou"].kind is FailureKind.REJECTED and s.count == 1


def test_a_gateway_html_page_is_malformed_and_retried():
    script = [(502, {}, b"<html>502 Bad Gateway</html>"), (200, {}, body(InstanceMetas=[META]))]
    with Scripted(script) as s:
        result = eas_probe.probe_regions(["cn-hangzhou"], client_factory=factory(s.endpoint), backoff_s=0.01)
    assert result["cn-hangzhou"] == [META] and s.count == 2


@pytest.mark.parametrize("payload, fragment", [
    (b"[1, 2]", "JSON object"), (body(RequestId="x"), "no InstanceMetas"), (body(InstanceMetas=5), "not a list"),
    (body(InstanceMetas=[5]), "is not an object"), (body(InstanceMetas=[{"InstanceType": "t", "IsAvailable": "yes"}]),
                                                     "IsAvailable is not a boolean"),
    (body(InstanceMetas=[{"InstanceType": "t", "CPU": True}]), "CPU is not a number"), (b"", "not JSON")])
def test_wrong_shapes_are_malformed(payload, fragment):
    with Scripted([(200, {}, payload)]) as s:
        result = eas_probe.probe_regions(["cn-hangzhou"], client_factory=factory(s.endpoint), retries=0)
    failure = result["cn-hangzhou"]
    assert failure.kind is FailureKind.MALFORMED and fragment in str(failure), str(failure)


def test_refused_is_unreachable_with_the_os_reason():
    with fake_eas() as server:
        endpoint = server.endpoint
    result = eas_probe.probe_regions(["cn-hangzhou"], client_factory=factory(endpoint), retries=0)
    assert str(result["cn-hangzhou"]) == f"unreachable: cannot reach {endpoint}: [Errno 111] Connection refused"


def test_no_credentials_anywhere_is_auth(tmp_path):
    """The default chain with nothing configured (subprocess: the chain reads env at import)."""
    with fake_eas(metas=[META]) as server:
        code = ("from components.eas import api as eas_api, probe as eas_probe\n"
                "try:\n"
                f"    eas_probe.probe_regions(['cn-hangzhou'], client_factory=lambda r: eas_api.make_client(r, "
                f"endpoint='{server.endpoint}', protocol='http'))\n"
                "except eas_api.ProbeAuthError as e:\n    print('AUTH', e)\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALIBABA_CLOUD_")}
        env.update(HOME=str(tmp_path), ALIBABA_CLOUD_ECS_METADATA_DISABLED="true")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.stdout.startswith("AUTH") and "no Alibaba Cloud credentials found" in done.stdout, done.stderr
    assert "refused" not in done.stdout
    assert server.requests == []


def test_env_credentials_through_the_default_chain(tmp_path):
    with Scripted([(200, {}, body(InstanceMetas=[META]))]) as s:
        code = ("from components.eas import api as eas_api, probe as eas_probe\n"
                f"r = eas_probe.probe_regions(['cn-hangzhou'], client_factory=lambda r: eas_api.make_client(r, "
                f"endpoint='{s.endpoint}', protocol='http'))\nprint(len(r['cn-hangzhou']))\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALIBABA_CLOUD_")}
        env.update(HOME=str(tmp_path), ALIBABA_CLOUD_ECS_METADATA_DISABLED="true",
                   ALIBABA_CLOUD_ACCESS_KEY_ID="env-ak", ALIBABA_CLOUD_ACCESS_KEY_SECRET="env-sk")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.stdout.strip() == "1", done.stderr
    assert "Credential=env-ak" in s.headers[0]["authorization"]


def test_duplicate_regions_cost_one_call_each():
    with fake_eas(metas=[META]) as server:
        result = eas_probe.probe_regions(["cn-hangzhou", "cn-hangzhou", "cn-beijing"], client_factory=factory(server.endpoint))
    assert list(result) == ["cn-hangzhou", "cn-beijing"] and len(server.requests) == 2


def test_sequence_then_success_counts_attempts_in_reason():
    with fake_eas(metas=[META], faults=[SERVER_ERROR, SERVER_ERROR, SERVER_ERROR, Fault()]) as server:
        result = eas_probe.probe_regions(["cn-hangzhou"], client_factory=factory(server.endpoint), backoff_s=0.01)
    assert str(result["cn-hangzhou"]) == "server error: HTTP 500 InternalError: injected fault (after 3 attempts)"


def test_deadline_reason_is_stable():
    with fake_eas(faults=[Fault(hang=True)]) as server:
        a = eas_probe.probe_regions(["r-a1"], client_factory=factory(server.endpoint), per_call_timeout_s=0.4,
                                  deadline_s=0.6, backoff_s=0.01)
    assert str(a["r-a1"]) == "timed out: no answer within the probe's 0.6 s deadline"


def test_a_hang_with_no_time_to_retry_ends_in_the_deadline_s_words():
    # What a slow machine does to the test above: the first call's timeout leaves no room for the
    # backoff and a second try. The user reads the same reason, not one that depends on load.
    with fake_eas(faults=[Fault(hang=True)]) as server:
        a = eas_probe.probe_regions(["r-a1"], client_factory=factory(server.endpoint), per_call_timeout_s=0.3,
                                  deadline_s=0.6, backoff_s=1.0)
    assert str(a["r-a1"]) == "timed out: no answer within the probe's 0.6 s deadline"


def test_snapshot_bytes(tmp_path):
    path = tmp_path / "c.json"
    eas_probe.write_snapshot(path, {"cn-wulanchabu": [META], "cn-beijing": []})
    text = path.read_text()
    assert text.startswith('{\n  "cn-beijing": [],\n  "cn-wulanchabu": [\n    {\n      "CPU": 16,')
    assert text.endswith("}\n") and list(tmp_path.iterdir()) == [path]
    path.write_text("{nope")
    with pytest.raises(ValueError, match="not JSON"):
        eas_probe.load_snapshot(path)
    with pytest.raises(OSError):
        eas_probe.load_snapshot(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="not a region where EAS runs"):
        eas_probe.write_snapshot(path, {"": []})
    with pytest.raises(ValueError, match="'cn-hangzou' is not a region where EAS runs"):
        eas_probe.write_snapshot(path, {"cn-hangzou": []})  # the regex of old let typos through
