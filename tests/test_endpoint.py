"""The endpoint reader under the engine's other verbs: refresh, a slow endpoint, import, its type,
what its pickled provider holds, and removed settings reaching the service (issue 10, items 3-4).

Calls go through the real EAS SDK client to the local fake EAS (``tests/fake_eas.py``), which
models EAS's merge and replace updates. ``test_endpoint_host.py`` drives the same provider
through the SDK's own dynamic-provider host over gRPC.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import pulumi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components import endpoint
from components.core.plan.removals import removed_keys
from components.endpoint import EndpointLookupError, EndpointProvider, ServiceEndpoint

from .fake_eas import FORBIDDEN, fake_eas, merge_config

REGION, NAME = "cn-hangzhou", "chat_dev"
ENDPOINT = f"http://123.{REGION}.pai-eas.aliyuncs.com/api/predict/{NAME}"
"""What EAS returns (http); the reader exports the same endpoint over https."""
HTTPS_ENDPOINT = ENDPOINT.replace("http://", "https://")

OLD_CONFIG = {
    "metadata": {"name": NAME, "instance": 2, "shm_size": 64, "rpc": {"keepalive": 600000}},
    "autoscaler": {"min": 1, "max": 4, "scaleStrategies": [{"metricName": "qps", "threshold": 20}]},
    "cloud": {"computing": {"instances": [{"type": "ml.gu7i.c16m60.1-gu30", "spot_price_limit": 1.2},
                                          {"type": "ml.gu7i.c16m60.1-gu30"}]}},
    "containers": [{"image": "vllm:0.11.2", "port": 8000, "script": "vllm serve /model_dir"}],
}
NEW_CONFIG = {
    "metadata": {"name": NAME, "instance": 2, "rpc": {"keepalive": 600000}},
    "cloud": {"computing": {"instances": [{"type": "ml.gu7i.c16m60.1-gu30"}]}},
    "containers": [{"image": "vllm:0.11.2", "port": 8000, "script": "vllm serve /model_dir"}],
}


@pytest.fixture(autouse=True)
def _credentials(env_credentials):
    """The provider reads credentials where it runs, never from its own pickled state."""


def running(config: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """A DescribeService answer for a running service."""
    answer = {"ServiceName": NAME, "Status": "Running", "AccessToken": "tok", "InternetEndpoint": ENDPOINT,
              "IntranetEndpoint": ENDPOINT.replace(".pai-eas", ".vpc.pai-eas")}
    if config is not None:
        answer["ServiceConfig"] = json.dumps(config, sort_keys=True)
    return {**answer, **fields}


def props(config: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(config, sort_keys=True)
    return {"region": REGION, "serviceName": NAME, "configHash": str(hash(text)), "serviceConfig": text}


def provider(server: Any, **waits: float) -> EndpointProvider:
    return EndpointProvider(api_endpoint=server.endpoint, protocol="http", **waits)


# -- refresh ------------------------------------------------------------------------------------


def test_refresh_after_the_service_was_deleted_outside_pulumi_reports_it_gone():
    with fake_eas() as server:
        result = provider(server).read(f"{REGION}/{NAME}", props(NEW_CONFIG))
    assert result.id is None and result.outs == {}


def test_refresh_of_a_running_service_reads_its_token_and_endpoints():
    with fake_eas(services={f"{REGION}/{NAME}": running()}) as server:
        result = provider(server).read(f"{REGION}/{NAME}", props(NEW_CONFIG))
    assert result.id == f"{REGION}/{NAME}"
    assert (result.outs["token"], result.outs["openaiBaseUrl"]) == ("tok", HTTPS_ENDPOINT + "/v1")


def test_refresh_still_fails_on_errors_other_than_not_found():
    with fake_eas(faults=[FORBIDDEN]) as server, pytest.raises(EndpointLookupError, match=r"Forbidden\.RAM"):
        provider(server).read(f"{REGION}/{NAME}", props(NEW_CONFIG))


# -- creation waits briefly for the endpoint ------------------------------------------------------


def test_creation_waits_for_an_endpoint_that_appears_a_moment_later():
    with fake_eas(services={f"{REGION}/{NAME}": running(InternetEndpoint="", IntranetEndpoint="",
                                                        Status="Waiting")}) as server:
        later = threading.Timer(0.3, lambda: server.services[f"{REGION}/{NAME}"].update(running()))
        later.start()
        created = provider(server, rollout_wait_s=5, poll_s=0.05).create(props(NEW_CONFIG))
    assert created.outs["internetEndpoint"] == HTTPS_ENDPOINT
    assert created.outs["status"] == "Running"


def test_creation_gives_up_at_its_deadline_naming_the_service():
    with fake_eas(services={f"{REGION}/{NAME}": running(InternetEndpoint="", IntranetEndpoint="",
                                                        Status="Waiting")}) as server:
        start = time.monotonic()
        with pytest.raises(EndpointLookupError, match=rf"{REGION}/{NAME} is still not serving after 0.5 s "
                                                      r"\(status Waiting\)"):
            provider(server, rollout_wait_s=0.5, poll_s=0.05).create(props(NEW_CONFIG))
        assert time.monotonic() - start < 3


def test_creation_of_a_missing_service_names_it():
    with fake_eas() as server, pytest.raises(EndpointLookupError, match=rf"{REGION}/gone.*InvalidService\.NotFound"):
        provider(server, rollout_wait_s=0).create({**props(NEW_CONFIG), "serviceName": "gone"})


# -- import, type, pickled state --------------------------------------------------------------------


def test_importing_the_reader_is_refused_with_what_to_do_instead():
    with pytest.raises(endpoint.ImportRefusedError, match=r"import the alicloud:pai/service:Service with ID 'chat_dev'"):
        ServiceEndpoint("chat-endpoint", region=REGION, service_name=NAME, service_config="{}",
                        opts=pulumi.ResourceOptions(import_=f"{REGION}/{NAME}"))


@pulumi.runtime.test
def test_the_reader_has_a_type_of_its_own_and_an_alias_to_its_old_one():
    from .conftest import record_registrations

    sent = record_registrations()
    reader = ServiceEndpoint("chat-endpoint", region=REGION, service_name=NAME, service_config="{}")

    def check(_: Any) -> None:
        request = sent["chat-endpoint"]
        assert request.type == endpoint.RESOURCE_TYPE == "pulumi-python:dynamic/eas:ServiceEndpoint"
        assert endpoint.LEGACY_RESOURCE_TYPE in str(list(request.aliases)) + str(list(request.aliasURNs))

    return reader.urn.apply(check)


def test_the_pickled_provider_holds_no_credentials_and_refers_to_this_module(monkeypatch):
    from alibabacloud_credentials.utils import auth_util
    from pulumi.dynamic.dynamic import serialize_provider

    for name, value in (("ACCESS_KEY_ID", "LTAI5tSentinelKeyId"), ("ACCESS_KEY_SECRET", "SentinelSecretValue42"),
                        ("SECURITY_TOKEN", "SentinelStsToken")):
        monkeypatch.setenv(f"ALIBABA_CLOUD_{name}", value)
        monkeypatch.setattr(auth_util, f"environment_{name.lower()}", value)
    with fake_eas(services={f"{REGION}/{NAME}": running()}) as server:
        used = provider(server, rollout_wait_s=0)
        used.create(props(NEW_CONFIG))  # a provider that has made calls pickles the same
        pickled = base64.b64decode(serialize_provider(used))
    for secret in ("LTAI5tSentinelKeyId", "SentinelSecretValue42", "SentinelStsToken"):
        assert secret.encode() not in pickled
    assert b"components.endpoint" in pickled  # by reference: the host must import the project
    with pytest.raises(TypeError):
        EndpointProvider(credentials=("ak", "sk"))  # type: ignore[call-arg]


# -- removed settings ---------------------------------------------------------------------------


def _tf_merge_update(server: Any, config: dict[str, Any]) -> None:
    """What the provider's update sends: the whole config, no UpdateType (terraform-provider-alicloud
    alicloud/resource_alicloud_pai_service.go lines 242-257, RoaPut with only ClusterId in the query)."""
    from alibabacloud_eas20210701 import models

    from components.eas import api

    client = api.make_client(REGION, endpoint=server.endpoint, protocol="http")
    client.update_service(REGION, NAME, models.UpdateServiceRequest(body=json.dumps(config)))


def _live(server: Any) -> dict[str, Any]:
    return json.loads(server.services[f"{REGION}/{NAME}"]["ServiceConfig"])


def test_a_merge_update_alone_keeps_removed_settings_on_the_service():
    """The defect, on the fake EAS: the provider's update leaves what the stack dropped."""
    with fake_eas(services={f"{REGION}/{NAME}": running(OLD_CONFIG)}) as server:
        _tf_merge_update(server, NEW_CONFIG)
        live = _live(server)
    assert live["autoscaler"] == OLD_CONFIG["autoscaler"]
    assert live["metadata"]["shm_size"] == 64


def test_settings_removed_from_the_stack_are_removed_from_the_service():
    with fake_eas(services={f"{REGION}/{NAME}": running(OLD_CONFIG)}) as server:
        _tf_merge_update(server, NEW_CONFIG)
        updated = provider(server, rollout_wait_s=5, poll_s=0.05).update(
            f"{REGION}/{NAME}", props(OLD_CONFIG), props(NEW_CONFIG))
        live = _live(server)
        kinds = [kind for _, kind, _ in server.updates]
    assert live == NEW_CONFIG
    assert kinds == ["merge", "replace"]
    assert updated.outs["token"] == "tok" and updated.outs["serviceConfig"] == props(NEW_CONFIG)["serviceConfig"]


def test_an_update_that_removes_nothing_sends_no_replace():
    grown = {**NEW_CONFIG, "metadata": {**NEW_CONFIG["metadata"], "instance": 3}}
    with fake_eas(services={f"{REGION}/{NAME}": running(NEW_CONFIG)}) as server:
        _tf_merge_update(server, grown)  # the provider's update comes first
        provider(server, rollout_wait_s=0).update(f"{REGION}/{NAME}", props(NEW_CONFIG), props(grown))
    assert [kind for _, kind, _ in server.updates] == ["merge"]


def test_a_state_without_the_old_config_sends_no_replace():
    """Readers created before the config was kept have only its hash: nothing to compare."""
    old = {k: v for k, v in props(OLD_CONFIG).items() if k != "serviceConfig"}
    with fake_eas(services={f"{REGION}/{NAME}": running(OLD_CONFIG)}) as server:
        _tf_merge_update(server, NEW_CONFIG)
        provider(server, rollout_wait_s=0).update(f"{REGION}/{NAME}", old, props(NEW_CONFIG))
    assert [kind for _, kind, _ in server.updates] == ["merge"]


def test_a_state_without_the_old_config_is_brought_up_to_date_by_one_reading_update():
    old = {k: v for k, v in props(NEW_CONFIG).items() if k != "serviceConfig"}
    bare = EndpointProvider()
    assert bare.diff(f"{REGION}/{NAME}", old, props(NEW_CONFIG)).changes
    assert not bare.diff(f"{REGION}/{NAME}", props(NEW_CONFIG), props(NEW_CONFIG)).changes


def test_removed_keys_names_each_dropped_setting_once():
    assert removed_keys(OLD_CONFIG, NEW_CONFIG) == [
        "autoscaler", "cloud.computing.instances[0].spot_price_limit", "cloud.computing.instances[1]",
        "metadata.shm_size"]


KEYS = st.sampled_from("abc")
JSON = st.recursive(st.none() | st.integers(0, 3),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
                    max_leaves=8)
OBJECTS = st.dictionaries(KEYS, JSON, max_size=3)
NO_LISTS = st.recursive(st.integers(0, 3), lambda inner: st.dictionaries(KEYS, inner, max_size=3), max_leaves=8)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(OBJECTS, OBJECTS)
def test_when_nothing_is_removed_a_merge_reaches_the_new_config(old, new):
    if not removed_keys(old, new):
        assert merge_config(old, new) == new
    assert removed_keys(new, new) == []


@PROPERTY
@given(NO_LISTS, NO_LISTS)
def test_without_lists_a_replace_is_needed_exactly_when_a_merge_falls_short(old, new):
    assert bool(removed_keys(old, new)) == (merge_config(old, new) != new)
