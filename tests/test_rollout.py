"""Issue 22, items 2 and 3: the endpoint reader waits for the real rollout, removes settings once,
retries what is transient, and reads the token again after a replacement in place.

The fake EAS plays a rollout over several DescribeService polls (``rollout_polls``): ``Status``
stays ``Running`` from before the update while ``CurrentVersion`` lags ``LatestVersion`` and
``RunningInstance`` lags ``TotalInstance`` (the SDK's ``Service`` fields), as the provider's own
wait cannot see: it returns at the first ``Running`` 5 s after its PUT
(aliyun/terraform-provider-alicloud ``resource_alicloud_pai_service.go`` line 272, no pending
states; ``common.go`` lines 1030-1038).
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from components.endpoint import ROLLOUT_WAIT_S, EndpointLookupError, EndpointProvider

from .fake_eas import THROTTLED, Fault, fake_eas
from .test_endpoint import NAME, NEW_CONFIG, OLD_CONFIG, REGION, _tf_merge_update, props, running

KEY = f"{REGION}/{NAME}"
PATH = f"/api/v2/services/{KEY}"


@pytest.fixture(autouse=True)
def _credentials(env_credentials):
    """The provider reads credentials where it runs."""


def versioned(config: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A running service of two instances on version 1, its rollout fields filled in."""
    return running(config, CurrentVersion=1, LatestVersion=1, RunningInstance=2, TotalInstance=2, **fields)


def reader(server: Any, **settings: float) -> EndpointProvider:
    return EndpointProvider(api_endpoint=server.endpoint, protocol="http", rollout_wait_s=5,
                            poll_s=0.01, backoff_s=0.01, **settings)


def reads_before_first_put(server: Any) -> int:
    first_put = next(i for i, r in enumerate(server.requests) if r.startswith("PUT"))
    return sum(1 for r in server.requests[:first_put] if r == PATH)


def test_an_update_returns_only_once_the_rollout_has_converged():
    with fake_eas(services={KEY: versioned(NEW_CONFIG)}, rollout_polls=4) as server:
        grown = {**NEW_CONFIG, "metadata": {**NEW_CONFIG["metadata"], "instance": 3}}
        _tf_merge_update(server, grown)  # the provider's update, which returned at the first Running
        server.requests.clear()
        updated = reader(server).update(KEY, props(NEW_CONFIG), props(grown))
        live = server.services[KEY]
        assert server.requests.count(PATH) == 5  # four reads mid-rollout, then the converged one
    assert (live["CurrentVersion"], live["RunningInstance"]) == (live["LatestVersion"], live["TotalInstance"])
    assert updated.outs["status"] == "Running"


def test_the_replace_waits_for_the_providers_rollout_and_then_for_its_own():
    with fake_eas(services={KEY: versioned(OLD_CONFIG)}, rollout_polls=3) as server:
        _tf_merge_update(server, NEW_CONFIG)
        server.requests.clear()
        reader(server).update(KEY, props(OLD_CONFIG), props(NEW_CONFIG))
        assert reads_before_first_put(server) == 4  # not sent in the middle of the merge's rollout
        assert [kind for _, kind, _ in server.updates] == ["merge", "replace"]
        assert server.services[KEY]["CurrentVersion"] == server.services[KEY]["LatestVersion"] == 3
        assert json.loads(server.services[KEY]["ServiceConfig"]) == NEW_CONFIG


def test_a_failed_rollout_fails_the_up_and_the_next_up_converges_without_a_second_replace():
    """The decision for a replace that fails half-way: the `up` fails naming the service (the engine
    keeps the reader's previous state, pulumi/pulumi step.go line 1086); the next `up` compares with
    what EAS holds, finds the settings gone, sends nothing and waits for the service."""
    with fake_eas(services={KEY: versioned(OLD_CONFIG)}, rollout_polls=1, rollout_outcome="Failed") as server:
        _tf_merge_update(server, NEW_CONFIG)
        server.services[KEY].update(Status="Running", CurrentVersion=2)  # the merge's rollout went well
        with pytest.raises(EndpointLookupError,
                           match=rf"{KEY} is Failed while the run waited for it to be serving its new version"):
            reader(server).update(KEY, props(OLD_CONFIG), props(NEW_CONFIG))
        # EAS recovers (or the operator fixed the cause); the next `up` sees the same olds and news.
        server.rollout_outcome = "Running"
        server.services[KEY].update(Status="Running", CurrentVersion=server.services[KEY]["LatestVersion"])
        updated = reader(server).update(KEY, props(OLD_CONFIG), props(NEW_CONFIG))
        kinds = [kind for _, kind, _ in server.updates]
    assert kinds == ["merge", "replace"]
    assert updated.outs["status"] == "Running"


def test_a_replace_whose_answer_was_lost_is_not_sent_again():
    """EAS took the PUT but the answer failed (a 503 on the way back): one GPU rollout, not two."""
    lost = Fault(status=503, code="ServiceUnavailable", after_apply=True)
    with fake_eas(services={KEY: running(OLD_CONFIG)}) as server:
        _tf_merge_update(server, NEW_CONFIG)  # the provider's update comes first
        server.put_faults = [lost, lost]
        reader(server).update(KEY, props(OLD_CONFIG), props(NEW_CONFIG))
        assert [kind for _, kind, _ in server.updates] == ["merge", "replace"]
        assert json.loads(server.services[KEY]["ServiceConfig"]) == NEW_CONFIG


def test_a_replace_refused_for_a_while_is_sent_again():
    with fake_eas(services={KEY: running(OLD_CONFIG)}) as server:
        _tf_merge_update(server, NEW_CONFIG)
        server.put_faults = [THROTTLED, THROTTLED, Fault()]
        reader(server).update(KEY, props(OLD_CONFIG), props(NEW_CONFIG))
        assert [kind for _, kind, _ in server.updates] == ["merge", "replace"]


def test_settings_already_gone_from_the_live_service_are_not_replaced_again():
    """After a partial failure the reader's record is old; EAS's config is the one compared."""
    with fake_eas(services={KEY: running(NEW_CONFIG)}) as server:
        reader(server).update(KEY, props(OLD_CONFIG), props(NEW_CONFIG))
        assert server.updates == []


def test_every_describe_service_of_the_reader_is_retried_when_throttled():
    with fake_eas(services={KEY: running(NEW_CONFIG)}, faults=[THROTTLED, THROTTLED, Fault()]) as server:
        created = reader(server).create(props(NEW_CONFIG))
        assert created.outs["token"] == "tok"
        server.faults = [THROTTLED, Fault()]
        assert reader(server).read(KEY, props(NEW_CONFIG)).id == KEY


def test_the_reader_waits_at_least_as_long_as_the_services_update_timeout():
    from components.service import TIMEOUTS

    minutes = int(str(TIMEOUTS.update).removesuffix("m"))
    assert EndpointProvider().rollout_wait_s >= minutes * 60 == ROLLOUT_WAIT_S


def test_a_new_service_under_the_same_name_makes_the_reader_read_its_token_again():
    """`pulumi up --replace` in the service's region: same name, same region, new create time."""
    bare = EndpointProvider()
    before, after = {**props(NEW_CONFIG), "serviceCreated": "2026-01-01T00:00:00Z"}, \
        {**props(NEW_CONFIG), "serviceCreated": "2026-03-01T00:00:00Z"}
    diff = bare.diff(KEY, before, after)
    assert diff.changes and not diff.replaces
    with fake_eas(services={KEY: running(NEW_CONFIG, AccessToken="new-token")}) as server:
        assert reader(server).update(KEY, before, after).outs["token"] == "new-token"


@pulumi.runtime.test
def test_the_reader_takes_the_services_create_time_as_an_input():
    """The engine re-runs the reader when an input changes; ``depends_on`` alone orders, nothing more."""
    from components.providers import RegionalProviders
    from components.service import Qwen3EasService, Qwen3EasServiceArgs

    from .conftest import plan_one, record_registrations

    sent = record_registrations({"alicloud:pai/service:Service": {"createTime": "2026-03-01T00:00:00Z"}})
    svc = Qwen3EasService("chat", Qwen3EasServiceArgs(plan=plan_one()),
                          opts=pulumi.ResourceOptions(providers=[RegionalProviders().for_region("cn-hangzhou")]))

    def check(_: Any) -> None:
        request = sent["chat-endpoint"]
        assert request.object.fields["serviceCreated"].string_value == "2026-03-01T00:00:00Z"
        assert any(urn.endswith("::chat-service") for urn in request.propertyDependencies["serviceCreated"].urns)

    return svc.endpoint.urn.apply(check)
