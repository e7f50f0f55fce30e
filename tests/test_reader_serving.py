"""Issue 27: the endpoint reader makes a run green only when the service serves.

Against the fake EAS through the real SDK client: a new service that ends ``Failed`` or is
``Stopped`` fails with the cure, an API blip is polled through until the wait's deadline, a change
the provider recorded but EAS never took is sent again, keys the project writes that EAS holds
are removed, and a delete EAS gives up on fails at once.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from components.eas.service_calls import EndpointLookupError
from components.endpoint import EndpointProvider, https_url

from .fake_eas import SERVER_ERROR, Fault, fake_eas
from .test_endpoint import NAME, NEW_CONFIG, REGION, props, running

KEY = f"{REGION}/{NAME}"
URN = "urn:pulumi:dev::qwen3-eas::qwen3-eas:eas:Qwen3EasService$alicloud:pai/service:Service::chat-service"


@pytest.fixture(autouse=True)
def _credentials(env_credentials):
    """The provider reads credentials where it runs."""


def reader(server: Any, **settings: float) -> EndpointProvider:
    return EndpointProvider(api_endpoint=server.endpoint, protocol="http", **{
        "rollout_wait_s": 3.0, "poll_s": 0.02, "backoff_s": 0.01, **settings})


def serving_service(**fields: Any) -> dict[str, Any]:
    return running(NEW_CONFIG, **{"CurrentVersion": 1, "LatestVersion": 1, "RunningInstance": 1,
                                  "TotalInstance": 1, **fields})


def test_a_new_service_that_ends_failed_fails_at_once_with_the_cure_and_no_token():
    with fake_eas(services={KEY: serving_service(Status="Failed", Message="image pull failed")}) as server, \
            pytest.raises(EndpointLookupError) as failure:
        reader(server).create({**props(NEW_CONFIG), "serviceUrn": URN})
    message = str(failure.value)
    assert f"EAS service {KEY} is Failed" in message and "image pull failed" in message
    assert "does not serve" in message and "fix it and run `pulumi up`" in message
    assert f"pulumi destroy --target '{URN}' --target-dependents --yes" in message


def test_a_stopped_service_fails_with_how_to_start_it():
    with fake_eas(services={KEY: serving_service(Status="Stopped")}) as server, \
            pytest.raises(EndpointLookupError, match=r"is Stopped .*`pulumi up --refresh` starts it"):
        reader(server).create(props(NEW_CONFIG))


def test_a_new_service_is_waited_for_until_every_instance_runs():
    with fake_eas(services={KEY: serving_service(RunningInstance=0, TotalInstance=2, Status="Waiting")}) as server:
        later = threading.Timer(0.2, lambda: server.services[KEY].update(Status="Running", RunningInstance=2))
        later.start()
        created = reader(server).create(props(NEW_CONFIG))
    assert created.outs["status"] == "Running"
    assert server.services[KEY]["RunningInstance"] == 2


def test_an_api_blip_longer_than_one_calls_retries_is_polled_through():
    """Five server errors in a row: one DescribeService gives up after four retries; the wait goes on."""
    with fake_eas(services={KEY: serving_service()}) as server:
        server.fail_reads(KEY, count=8)
        created = reader(server).create(props(NEW_CONFIG))
    assert created.outs["token"] == "tok"


def test_an_api_that_keeps_failing_fails_at_the_waits_deadline_with_the_last_error():
    with fake_eas(services={KEY: serving_service()}, faults=[SERVER_ERROR]) as server, \
            pytest.raises(EndpointLookupError, match=r"the EAS API kept failing for 0.3 s .*server error"):
        reader(server, rollout_wait_s=0.3).create(props(NEW_CONFIG))


def test_a_change_the_provider_recorded_but_eas_never_took_is_sent_again():
    """The bridge records the planned values after a refused update: its next update sends nothing."""
    old = {**NEW_CONFIG, "metadata": {**NEW_CONFIG["metadata"], "instance": 1}}
    with fake_eas(services={KEY: running(old, CurrentVersion=1, LatestVersion=1, RunningInstance=1,
                                         TotalInstance=1)}) as server:
        reader(server).update(KEY, props(old), props(NEW_CONFIG))
        assert [(kind, body["metadata"]["instance"]) for _, kind, body in server.updates] == [("merge", 2)]


def test_keys_the_project_writes_that_eas_holds_are_removed_once_and_kept_ones_stay():
    held = {**NEW_CONFIG, "metadata": {**NEW_CONFIG["metadata"], "shm_size": 64, "cpu": 16}}
    sent = {**NEW_CONFIG, "metadata": {**NEW_CONFIG["metadata"], "cpu": 16}}  # cpu: not the project's
    news = {**props(NEW_CONFIG), "sentConfig": json.dumps(sent), "extraKeys": ["metadata.shm_size"]}
    with fake_eas(services={KEY: running(held, CurrentVersion=1, LatestVersion=1, RunningInstance=2,
                                         TotalInstance=2)}) as server:
        bare = EndpointProvider()
        assert bare.diff(KEY, props(NEW_CONFIG), news).changes  # the lookup's finding alone updates it
        reader(server).update(KEY, props(NEW_CONFIG), news)
        assert [kind for _, kind, _ in server.updates] == ["replace"]
        assert json.loads(server.services[KEY]["ServiceConfig"]) == sent


def test_deleting_the_reader_deletes_the_service_unless_it_is_kept():
    with fake_eas(services={KEY: serving_service()}) as server:
        reader(server).delete(KEY, {**props(NEW_CONFIG), "retainOnDelete": True})
        assert server.deletes == []
        reader(server).delete(KEY, props(NEW_CONFIG))
        assert server.deletes == [KEY] and KEY not in server.services


def test_a_delete_eas_gives_up_on_fails_at_once_not_at_the_timeout():
    with fake_eas(services={KEY: serving_service()}, delete_outcome="DeleteFailed", settle_polls=1) as server, \
            pytest.raises(EndpointLookupError, match=rf"EAS could not delete {KEY}: it is DeleteFailed.*"
                                                      r"aliyun eas DeleteService --ClusterId cn-hangzhou"):
        reader(server, delete_wait_s=600).delete(KEY, props(NEW_CONFIG))


def test_a_lost_delete_answer_is_not_an_error():
    lost = Fault(status=503, code="ServiceUnavailable", after_apply=True)
    with fake_eas(services={KEY: serving_service()}, delete_faults=[lost, Fault()]) as server:
        reader(server).delete(KEY, props(NEW_CONFIG))
        assert KEY not in server.services


def test_endpoints_go_over_https_except_to_a_loopback_test_server():
    assert https_url("http://1.cn-hangzhou.pai-eas.aliyuncs.com/api/predict/x") == \
        "https://1.cn-hangzhou.pai-eas.aliyuncs.com/api/predict/x"
    assert https_url("http://127.0.0.1:8080/api/predict/x") == "http://127.0.0.1:8080/api/predict/x"
