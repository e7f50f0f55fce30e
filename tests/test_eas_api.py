"""The real SDK client against a local fake EAS API: answers, faults, retries, deadlines."""

from __future__ import annotations

import time

import pytest

from components.eas import api as eas_api
from components.eas import probe as eas_probe
from components.eas.api import FailureKind, ProbeAuthError, ProbeFailure

from .fake_eas import FORBIDDEN, GARBAGE, HANG, OK, SERVER_ERROR, THROTTLED, Fault, fake_eas

META = {"InstanceType": "ml.gu7i.c16m60.1-gu30", "GPU": "GU30", "GPUAmount": 1, "GPUMemory": 24, "CPU": 16,
        "Memory": 60, "StockStatus": "WithStock", "SpotDiscount": 0.2, "NonProtectSpotDiscount": 0.1,
        "IsAvailable": True, "Vendor": "ECS"}


def factory(server, timeout_s: float = 1.0):
    return lambda region: eas_api.make_client(region, endpoint=server.endpoint, protocol="http",
                                              credentials=("test-ak", "test-sk"), read_timeout_s=timeout_s,
                                              connect_timeout_s=timeout_s)


def probe(server, regions=("cn-hangzhou",), **kw):
    kw.setdefault("per_call_timeout_s", 1.0)
    kw.setdefault("deadline_s", 3.0)
    kw.setdefault("backoff_s", 0.01)
    return eas_probe.probe_regions(list(regions), client_factory=factory(server, kw["per_call_timeout_s"]), **kw)


def test_an_answer_comes_back_as_eas_shaped_dicts():
    with fake_eas(metas=[META]) as server:
        answer = probe(server)["cn-hangzhou"]
    assert answer == [META]
    assert server.requests == ["/api/v2/public/instance_types"]


def test_a_server_error_then_success_is_retried():
    with fake_eas(metas=[META], faults=[SERVER_ERROR, OK]) as server:
        assert probe(server)["cn-hangzhou"] == [META]
    assert len(server.requests) == 2


def test_persistent_server_errors_skip_the_region_with_the_reason():
    with fake_eas(faults=[SERVER_ERROR]) as server:
        answer = probe(server, retries=2)["cn-hangzhou"]
    assert isinstance(answer, ProbeFailure) and answer.kind is FailureKind.SERVER
    assert answer.attempts == 3 and "HTTP 500" in str(answer)
    assert len(server.requests) == 3


def test_throttling_is_retried_with_growing_waits():
    waits: list[float] = []
    with fake_eas(metas=[META], faults=[THROTTLED, THROTTLED, OK]) as server:
        answer = probe(server, retries=3, backoff_s=0.05, sleep=lambda s: (waits.append(s), time.sleep(s)))
    assert answer["cn-hangzhou"] == [META]
    assert waits == [0.05, 0.1]


def test_a_refused_credential_stops_at_once_without_retries():
    with fake_eas(faults=[FORBIDDEN]) as server, pytest.raises(ProbeAuthError, match=r"Forbidden\.RAM.*eas:DescribeMachineSpec"):
        probe(server, retries=3)
    assert len(server.requests) == 1


def test_garbage_is_malformed():
    with fake_eas(faults=[GARBAGE]) as server:
        answer = probe(server, retries=0)["cn-hangzhou"]
    assert answer.kind is FailureKind.MALFORMED


def test_json_without_instance_metas_is_malformed():
    with fake_eas(metas=[{"GPU": "GU30"}]) as server:
        answer = probe(server, retries=0)["cn-hangzhou"]
    assert answer.kind is FailureKind.MALFORMED and "InstanceType" in answer.detail


def test_a_delay_within_the_timeout_is_fine():
    with fake_eas(metas=[META], faults=[Fault(delay_s=0.3)]) as server:
        assert probe(server)["cn-hangzhou"] == [META]


def test_a_hung_connection_costs_no_more_than_the_per_call_timeout():
    with fake_eas(faults=[HANG]) as server:
        start = time.monotonic()
        answer = probe(server, retries=0, per_call_timeout_s=0.5, deadline_s=5)["cn-hangzhou"]
        elapsed = time.monotonic() - start
    assert answer.kind is FailureKind.TIMEOUT
    assert elapsed < 0.5 * 1.5 + 0.5


def test_the_deadline_bounds_the_whole_probe_even_with_retries():
    with fake_eas(faults=[HANG]) as server:
        start = time.monotonic()
        answer = probe(server, retries=10, per_call_timeout_s=0.6, deadline_s=1.0)["cn-hangzhou"]
        elapsed = time.monotonic() - start
    assert answer.kind is FailureKind.TIMEOUT and elapsed < 1.0 + 0.5


def test_a_closed_port_is_unreachable():
    with fake_eas() as server:
        port = server.port
    dead = type("Dead", (), {"endpoint": f"127.0.0.1:{port}"})()
    answer = probe(dead, retries=0)["cn-hangzhou"]
    assert answer.kind is FailureKind.UNREACHABLE


def test_regions_are_probed_concurrently():
    # Judged by what the server saw, not by the clock (a loaded machine must not fail it): all
    # five regions' requests were being answered at the same moment. Sequential probing peaks at 1.
    with fake_eas(metas=[META], faults=[Fault(delay_s=0.5)]) as server:
        answers = probe(server, regions=[f"cn-region{i}" for i in range(5)])
    assert all(a == [META] for a in answers.values()) and len(answers) == 5
    assert server.peak_in_flight == 5


def test_describe_service_goes_through_the_same_client():
    from components.eas.service_calls import describe
    from components.endpoint import outputs

    with fake_eas(services={"cn-hangzhou/chat_dev": {"ServiceName": "chat_dev", "Status": "Running",
                                                     "AccessToken": "tok", "InternetEndpoint": "http://e/api/predict/chat_dev",
                                                     "IntranetEndpoint": "http://i/api/predict/chat_dev"}}) as server:
        info = describe(factory(server)("cn-hangzhou"), "cn-hangzhou", "chat_dev")
    assert (info.token, info.status) == ("tok", "Running")
    assert outputs(info)["openaiBaseUrl"] == "https://e/api/predict/chat_dev/v1"  # tokens go over https


# -- snapshots ----------------------------------------------------------------------------------

def test_snapshot_round_trip_is_byte_stable(tmp_path):
    path = tmp_path / "capacity.json"
    eas_probe.write_snapshot(path, {"cn-wulanchabu": [META], "cn-beijing": []})
    first = path.read_text()
    assert eas_probe.load_snapshot(path) == {"cn-beijing": [], "cn-wulanchabu": [META]}
    eas_probe.write_snapshot(path, eas_probe.load_snapshot(path))
    assert path.read_text() == first


@pytest.mark.parametrize(("data", "fragment"), [
    ([], "JSON object"),
    ({"Hangzhou": []}, "not a region where EAS runs"),
    ({"cn-hangzhou": {}}, "not a list"),
    ({"cn-hangzhou": [{"GPU": "GU30"}]}, "cn-hangzhou[0] has no InstanceType"),
    ({"cn-hangzhou": [{"InstanceType": "x", "GPUAmount": "eight"}]}, "GPUAmount is not a number"),
])
def test_bad_snapshots_name_what_is_wrong(data, fragment):
    with pytest.raises(ValueError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        eas_probe.validate_snapshot(data)


def test_the_endpoint_resource_reads_endpoint_and_token_through_describe_service(env_credentials):
    from components.endpoint import EndpointProvider

    service = {"ServiceName": "chat_dev", "Status": "Running", "AccessToken": "secret-token",
               "InternetEndpoint": "http://123.cn-hangzhou.pai-eas.aliyuncs.com/api/predict/chat_dev",
               "IntranetEndpoint": "http://123.vpc.cn-hangzhou.pai-eas.aliyuncs.com/api/predict/chat_dev"}
    with fake_eas(services={"cn-hangzhou/chat_dev": service}) as server:
        provider = EndpointProvider(api_endpoint=server.endpoint, protocol="http", rollout_wait_s=0)
        created = provider.create({"region": "cn-hangzhou", "serviceName": "chat_dev", "configHash": "a"})
        diff = provider.diff(created.id, {"region": "cn-hangzhou", "serviceName": "chat_dev", "configHash": "a"},
                             {"region": "cn-hangzhou", "serviceName": "chat_dev", "configHash": "b"})
    assert created.id == "cn-hangzhou/chat_dev"
    assert created.outs["token"] == "secret-token"
    assert created.outs["openaiBaseUrl"] == service["InternetEndpoint"].replace("http:", "https:") + "/v1"
    assert diff.changes and not diff.replaces  # a changed config re-reads, never replaces


def test_the_endpoint_resource_names_a_missing_service(env_credentials):
    from components.endpoint import EndpointLookupError, EndpointProvider

    with fake_eas() as server:
        provider = EndpointProvider(api_endpoint=server.endpoint, protocol="http", rollout_wait_s=0)
        with pytest.raises(EndpointLookupError, match=r"cn-hangzhou/gone.*InvalidService\.NotFound"):
            provider.create({"region": "cn-hangzhou", "serviceName": "gone", "configHash": "a"})


def test_make_capacity_refuses_typos_and_keeps_a_good_snapshot_when_nothing_answers(tmp_path, capsys, monkeypatch):
    from components.cli import capacity

    out = tmp_path / "capacity.json"
    out.write_text('{"cn-beijing": []}\n')
    assert capacity.main(["--regions", "cn-beijing Hangzhou", "--out", str(out)]) == 2
    assert "Hangzhou" in capsys.readouterr().err
    monkeypatch.setattr(eas_probe, "probe_regions", lambda regions, **kw: {
        r: ProbeFailure(FailureKind.UNREACHABLE, "refused") for r in regions})
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "ak")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "sk")
    assert capacity.main(["--regions", "cn-beijing", "--out", str(out)]) == 1
    assert out.read_text() == '{"cn-beijing": []}\n'
