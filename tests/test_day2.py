"""Day 2 (issue 10, items 1, 2, 5): what the program sends the engine on later runs.

The program runs on Pulumi's mock runtime; every RegisterResource request it sends is kept
(``Recorded.requests``), options included. Where it looks its services up, it does so with the
real EAS SDK client against the local fake EAS (``tests/fake_eas.py``), reached through
``QWEN3_EAS_API_ENDPOINT``. What the engine then does with the options is not run here; the
lines of pulumi/pulumi it is read from are cited where they are relied on (docs/day2.md too),
at commit 1b5949891b3c of pkg/resource/deploy/: step_generator.go, step.go,
deployment_executor.go.
"""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from components.cli.plan import PlanError, run_program
from components.eas import api as eas_api
from components.eas import running

from .conftest import A10, raw_config, service
from .fake_eas import FORBIDDEN, SERVER_ERROR, Fault, fake_eas

ROOT = Path(__file__).resolve().parents[1]
SERVICE_TYPE = "alicloud:pai/service:Service"


def meta(status: str = "WithStock") -> dict:
    return {"InstanceType": A10, "GPU": "GU30", "GPUAmount": 1, "GPUMemory": 24, "CPU": 16, "Memory": 60,
            "StockStatus": status, "IsAvailable": True}


def labels(key: str, stack: str = "dev", project: str = "qwen3-eas", **extra: str) -> list[dict]:
    """DescribeService's ``Labels`` of a service this program created (``ownership.Owner.labels``)."""
    pairs = {"managed-by": "qwen3-eas", "project": project, "stack": stack, "service": key, **extra}
    return [{"LabelKey": k, "LabelValue": v} for k, v in pairs.items()]


def running_service(name: str, key: str | None = None, **fields) -> dict:
    """A running service of ours (labelled for ``key``, by default the name's first part)."""
    return {"ServiceName": name, "Status": "Running", "AccessToken": "tok",
            "InternetEndpoint": f"http://e/api/predict/{name}", "IntranetEndpoint": f"http://i/api/predict/{name}",
            "Labels": labels(key or name.rsplit("_", 1)[0]), **fields}


OWNER = running.Owner("qwen3-eas", "dev")


@pytest.fixture
def eas(monkeypatch, env_credentials):
    """A fake EAS that every EAS call of the run reaches through the endpoint switch (with test
    credentials from the environment, never real ones)."""
    with fake_eas() as server:
        monkeypatch.setenv(eas_api.API_ENDPOINT_ENV, server.endpoint)
        monkeypatch.setenv(eas_api.API_PROTOCOL_ENV, "http")
        monkeypatch.delenv(running.ENV)
        yield server


def snapshot(tmp_path, **regions: str) -> Path:
    path = tmp_path / "capacity.json"
    path.write_text(json.dumps({region.replace("_", "-"): [meta(status)] for region, status in regions.items()}))
    return path


def run(services: dict, capacity: Path | None = None, look_up: bool = True, preview: bool = False, **extra):
    config = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in raw_config(services, **extra).items()}
    return run_program("dev", config, capacity=capacity, look_up_running=look_up, preview=preview)


def requests_of(recorded, type_: str = SERVICE_TYPE) -> dict:
    return {r.name: r for r in recorded.requests if r.type == type_}


TWO_REGIONS = ["cn-hangzhou", "cn-beijing"]


# -- item 1: a region change replaces, across regions create-first -------------------------------

def test_a_region_move_registers_a_replacement_trigger_create_first_through_the_new_regions_provider(eas, tmp_path):
    """Runs in cn-hangzhou, which has no stock now; allowRegionMove lets it go to cn-beijing."""
    eas.services["cn-hangzhou/chat_dev"] = running_service("chat_dev")
    cap = snapshot(tmp_path, cn_hangzhou="NoStock", cn_beijing="WithStock")
    recorded = run({"chat": service(regions=TWO_REGIONS, allowRegionMove=True)}, cap)
    request = requests_of(recorded)["chat-service"]
    # The region is the replacement trigger: the engine replaces when it differs from the one
    # recorded last run (step_generator.go 3683-3698 shouldTriggerReplace, used at 1804 and in
    # `if diff.Replace() || triggerReplace` at 1953).
    assert request.replacement_trigger.string_value == "cn-beijing"
    # Create-before-delete, said explicitly (deleteBeforeReplaceDefined; the option wins over the
    # provider's answer, step_generator.go 2043-2047; create first at 2159-2165): the old one is
    # deleted afterwards through the provider recorded in its state (step.go 595 DeleteStep.Provider
    # = s.old.Provider, resolved by getProvider at 2421).
    assert (request.deleteBeforeReplaceDefined, request.deleteBeforeReplace) == (True, False)
    assert "::alicloud-cn-beijing::" in request.provider
    # Same name, no alias, no replaceOnChanges: the same URN, replaced by the trigger alone.
    assert (request.name, list(request.aliases), list(request.replaceOnChanges)) == ("chat-service", [], [])
    assert "/api/v2/services/cn-hangzhou/chat_dev" in eas.requests


def test_no_region_change_keeps_the_trigger_and_deletes_first_in_its_own_region(eas, tmp_path):
    """Runs in cn-hangzhou and stays there: the same trigger as last run, so no replacement
    (step_generator.go 3697: replace only when the values differ); a replacement there all the
    same (`--replace`) deletes first, the name being taken (step_generator.go 2047-2157)."""
    eas.services["cn-hangzhou/chat_dev"] = running_service("chat_dev")
    cap = snapshot(tmp_path, cn_hangzhou="WithStock", cn_beijing="WithStock")
    first = requests_of(run({"chat": service(regions=TWO_REGIONS)}, cap))["chat-service"]
    second = requests_of(run({"chat": service(regions=TWO_REGIONS)}, cap))["chat-service"]
    assert first.replacement_trigger == second.replacement_trigger
    assert first.replacement_trigger.string_value == "cn-hangzhou"
    assert (first.deleteBeforeReplaceDefined, first.deleteBeforeReplace) == (True, True)
    assert "::alicloud-cn-hangzhou::" in first.provider
    assert first.provider == second.provider
    assert (first.name, list(first.aliases), list(first.replaceOnChanges)) == ("chat-service", [], [])


def test_a_service_not_looked_up_replaces_create_first(tmp_path):
    """The offline plan looks nothing up: nothing is deleted before its successor runs."""
    request = requests_of(run({"chat": service()}, look_up=False))["chat-service"]
    assert request.replacement_trigger.string_value == "cn-hangzhou"
    assert (request.deleteBeforeReplaceDefined, request.deleteBeforeReplace) == (True, False)


def test_the_replacement_trigger_is_a_plain_known_string():
    """An unknown (computed) trigger always replaces and fails a real `up` (step_generator.go
    generateStepsFromDiff, shouldTriggerReplace): the region must be known at registration."""
    from components.service import replace_deletes_first

    from .conftest import plan_one

    plan = plan_one()
    assert isinstance(plan.region, str) and plan.region
    assert replace_deletes_first(plan) is False


# -- item 2: a deployed service stays where it runs ----------------------------------------------

def test_a_running_service_stays_in_its_region_without_a_pin(eas, tmp_path):
    eas.services["cn-beijing/chat_dev"] = running_service("chat_dev")
    cap = snapshot(tmp_path, cn_hangzhou="WithStock", cn_beijing="NoStock")
    recorded = run({"chat": service(regions=TWO_REGIONS)}, cap)
    assert recorded.summaries["chat"]["region"] == "cn-beijing"
    assert "found there by DescribeService" in recorded.summaries["chat"]["explanation"][0]
    assert "::alicloud-cn-beijing::" in requests_of(recorded)["chat-service"].provider


def test_a_pin_still_wins_over_where_it_runs(eas, tmp_path):
    eas.services["cn-beijing/chat_dev"] = running_service("chat_dev")
    cap = snapshot(tmp_path, cn_hangzhou="WithStock", cn_beijing="WithStock")
    recorded = run({"chat": service(regions=TWO_REGIONS)}, cap, placements=json.dumps({"chat": "cn-hangzhou"}))
    assert recorded.summaries["chat"]["region"] == "cn-hangzhou"
    # It runs elsewhere, so this is a move: create first.
    assert requests_of(recorded)["chat-service"].deleteBeforeReplace is False


def test_without_stock_running_services_stay_and_the_others_fail_by_name_at_the_end(eas, tmp_path):
    eas.services["cn-hangzhou/chat_dev"] = running_service("chat_dev")
    cap = snapshot(tmp_path, cn_hangzhou="NoStock", cn_beijing="NoStock")
    services = {"chat": service(regions=TWO_REGIONS), "fresh": service(regions=TWO_REGIONS)}
    with pytest.raises(PlanError) as failure:
        run(services, cap)
    message = str(failure.value)
    assert message.startswith("not deployed this run: fresh\n")
    assert "service 'fresh', field 'regions': no region can run this service now" in message
    assert "cn-beijing" in message and "no stock" in message
    assert "'chat'" not in message


def test_a_held_back_service_does_not_stop_the_others_from_registering(eas, tmp_path, monkeypatch):
    """As `pulumi preview` (the first half of `pulumi up`): the others register, it warns by name.

    `pulumi up` fails at the end instead (test above); the engine then bails before its deletions
    (deployment_executor.go 295-303, before performPostSteps at 332), so a held-back service that
    existed is never deleted by its absence."""
    eas.services["cn-hangzhou/chat_dev"] = running_service("chat_dev")
    cap = snapshot(tmp_path, cn_hangzhou="NoStock", cn_beijing="NoStock")
    warned: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: warned.append(message))
    recorded = run({"chat": service(regions=TWO_REGIONS), "fresh": service(regions=TWO_REGIONS)}, cap, preview=True)
    assert set(requests_of(recorded)) == {"chat-service"}
    assert any(w.startswith("not deployed this run: fresh") for w in warned)


def test_a_service_whose_place_cannot_be_told_is_held_back_not_guessed(eas, tmp_path):
    eas.faults = [SERVER_ERROR]
    with pytest.raises(PlanError, match=r"(?s)not deployed this run: chat\n.*cannot tell whether it already runs"):
        run({"chat": service()}, snapshot(tmp_path, cn_hangzhou="WithStock"))


def test_refused_credentials_stop_the_run(eas, tmp_path):
    eas.faults = [FORBIDDEN]
    with pytest.raises(PlanError, match="eas:DescribeService"):
        run({"chat": service()}, snapshot(tmp_path, cn_hangzhou="WithStock"))


def test_a_bad_access_key_stops_the_run_instead_of_reading_as_not_running(eas, tmp_path):
    """EAS answers an unknown AccessKey ID with HTTP 404 ``InvalidAccessKeyId.NotFound``: a 404, but
    not "no such service". Read as "not running", it would place a running service by stock again."""
    eas.faults = [Fault(status=404, code="InvalidAccessKeyId.NotFound")]
    with pytest.raises(running.ServiceLookupError, match=r"InvalidAccessKeyId\.NotFound"):
        running.where_running({"chat": ("chat_dev", ["cn-hangzhou"])}, owner=OWNER)


def test_without_credentials_the_lookup_says_so_and_sends_nothing(monkeypatch, tmp_path):
    with fake_eas() as server:
        monkeypatch.setenv(eas_api.API_ENDPOINT_ENV, server.endpoint)
        monkeypatch.setenv(eas_api.API_PROTOCOL_ENV, "http")
        monkeypatch.delenv(running.ENV)
        monkeypatch.setenv("HOME", str(tmp_path))
        for name in ("ACCESS_KEY_ID", "ACCESS_KEY_SECRET", "SECURITY_TOKEN", "PROFILE"):
            monkeypatch.delenv(f"ALIBABA_CLOUD_{name}", raising=False)
        with pytest.raises(running.ServiceLookupError) as caught:
            running.where_running({"chat": ("chat_dev", ["cn-hangzhou", "cn-beijing"])}, owner=OWNER)
        assert server.requests == []
    assert "no Alibaba Cloud credentials found" in str(caught.value)
    assert "refused" not in str(caught.value)


def test_lookups_that_outlive_the_deadline_leave_the_place_unknown(eas):
    eas.faults = [Fault(delay_s=1.5)]
    found = running.where_running({"chat": ("chat_dev", ["cn-hangzhou"])}, owner=OWNER, deadline_s=0.3, timeout_s=5)
    assert found.regions == {} and "deadline" in found.unknown["chat"]


def test_where_running_asks_each_candidate_region_and_finds_where_it_runs(eas):
    eas.services["cn-beijing/chat_dev"] = running_service("chat_dev")
    found = running.where_running({"chat": ("chat_dev", ["cn-hangzhou", "cn-beijing", "cn-shanghai"]),
                                   "new": ("new_dev", ["cn-hangzhou"])}, owner=OWNER)
    assert found.regions == {"chat": "cn-beijing"}
    assert found.unknown == {} and found.conflicts == {}
    # Each name in each candidate region, and once per region the list of this stack's services
    # (ListServices: those that run outside the stack).
    assert sorted(eas.requests) == sorted(["/api/v2/services"] * 3 + [f"/api/v2/services/{r}" for r in (
        "cn-hangzhou/chat_dev", "cn-beijing/chat_dev", "cn-shanghai/chat_dev", "cn-hangzhou/new_dev")])


def test_one_switch_sends_every_eas_call_to_the_configured_endpoint(eas):
    """Stock probe, service lookup and the endpoint reader's DescribeService, none told where."""
    from components.eas import stock
    from components.endpoint import EndpointProvider

    eas.metas = [meta()]
    eas.services["cn-hangzhou/chat_dev"] = running_service("chat_dev")
    capacity = stock.live(["cn-hangzhou"])
    found = running.where_running({"chat": ("chat_dev", ["cn-hangzhou"])}, owner=OWNER)
    read = EndpointProvider().create({"region": "cn-hangzhou", "serviceName": "chat_dev", "configHash": "a"})
    assert capacity.stock("cn-hangzhou") == [meta()]
    assert found.regions == {"chat": "cn-hangzhou"}
    assert read.outs["token"] == "tok"
    assert sorted(eas.requests) == ["/api/v2/public/instance_types", "/api/v2/services",
                                    "/api/v2/services/cn-hangzhou/chat_dev", "/api/v2/services/cn-hangzhou/chat_dev"]


def test_the_endpoint_switch_fills_in_the_region_and_refuses_an_unknown_protocol(monkeypatch):
    monkeypatch.setenv(eas_api.API_ENDPOINT_ENV, "pai-eas-vpc.{region}.aliyuncs.com")
    assert eas_api.endpoint_override("cn-beijing") == ("pai-eas-vpc.cn-beijing.aliyuncs.com", "https")
    monkeypatch.setenv(eas_api.API_PROTOCOL_ENV, "htp")
    with pytest.raises(eas_api.EndpointConfigError, match="QWEN3_EAS_API_PROTOCOL='htp'"):
        eas_api.endpoint_override("cn-beijing")
    # The lookup makes the first client, which fails before any call (loopback all the same).
    monkeypatch.setenv(eas_api.API_ENDPOINT_ENV, "127.0.0.1:1")
    monkeypatch.delenv(running.ENV)
    with pytest.raises(PlanError, match="QWEN3_EAS_API_PROTOCOL='htp'"):  # one line from the program
        run({"chat": service()}, look_up=True)
    monkeypatch.delenv(eas_api.API_ENDPOINT_ENV)
    assert eas_api.endpoint_override("cn-beijing") is None


# -- item 5: resource options ---------------------------------------------------------------------

def test_protect_and_retain_on_delete_come_from_the_stack_and_the_service(tmp_path):
    services = {"kept": service(), "free": service(protect=False, retainOnDelete=True)}
    recorded = run(services, look_up=False, protect="true")
    svc = requests_of(recorded)
    components = requests_of(recorded, "qwen3-eas:eas:Qwen3EasService")
    assert (components["kept"].protect, svc["kept-service"].protect) == (True, True)  # inherited from the parent
    assert (components["free"].protect, svc["free-service"].protect) == (False, False)
    assert svc["free-service"].retainOnDelete is True
    assert not svc["kept-service"].HasField("retainOnDelete")


def test_an_unknown_option_key_is_still_an_error():
    from components.core.errors import StackConfigError
    from components.core.stack import stack_config

    with pytest.raises(StackConfigError, match=r"field 'protected': unknown key.*did you mean 'protect'"):
        stack_config.load("dev", raw_config({"chat": service(protected=True)}))


@pulumi.runtime.test
def test_the_component_takes_its_provider_through_opts_providers_and_passes_options_through():
    from components.core.plan import stack_plan
    from components.core.stack import stack_config
    from components.providers import RegionalProviders
    from components.service import Qwen3EasService, Qwen3EasServiceArgs

    from .conftest import record_registrations

    sent = record_registrations()
    plan = stack_plan.plan_stack(stack_config.load("unit", raw_config({"chat": service()})))["chat"]
    provider = RegionalProviders().for_region("cn-hangzhou")
    svc = Qwen3EasService("chat", Qwen3EasServiceArgs(plan=plan),
                          opts=pulumi.ResourceOptions(providers=[provider], protect=True,
                                                      aliases=[pulumi.Alias(name="old-chat")],
                                                      transforms=[lambda args: None]))

    def check(_):
        component, child = sent["chat"], sent["chat-service"]
        assert component.protect and child.protect  # protect is inherited from the parent
        assert list(component.aliases) and list(component.transforms)
        assert "::alicloud-cn-hangzhou::" in child.provider  # from the parent's providers map
        assert child.parent.endswith("Qwen3EasService::chat")

    return svc.service.status.apply(check)


@pulumi.runtime.test
def test_a_component_without_an_alicloud_provider_is_refused_by_name():
    from components.service import MissingProviderError, Qwen3EasService, Qwen3EasServiceArgs

    from .conftest import plan_one

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args):
            return f"{args.name}-id", dict(args.inputs)

        def call(self, args):
            return {}, None

    pulumi.runtime.set_mocks(Mocks(), project="qwen3-eas", stack="unit", preview=False)
    with pytest.raises(MissingProviderError, match="chat: pass the alicloud provider of region cn-hangzhou"):
        Qwen3EasService("chat", Qwen3EasServiceArgs(plan=plan_one()))


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_stack_file_disables_the_default_alicloud_provider_and_still_loads(stack):
    from components.cli.plan import read_stack_config
    from components.core.stack import stack_config

    path = ROOT / "stacks" / f"Pulumi.{stack}.yaml"
    assert yaml.safe_load(path.read_text())["config"]["pulumi:disable-default-providers"] == ["alicloud"]
    loaded = stack_config.load(stack, read_stack_config(path))
    assert loaded.config.services
    if stack == "prod":
        assert loaded.config.protect is True


def test_make_capacity_for_a_stack_probes_the_regions_its_program_probes(eas, tmp_path, capsys):
    from components.cli import capacity

    eas.metas = [meta()]
    out = tmp_path / "capacity.json"
    assert capacity.main(["--stack", "prod", "--out", str(out)]) == 0
    assert sorted(json.loads(out.read_text())) == ["cn-beijing", "cn-wulanchabu"]
    assert capacity.main(["--stack", "staging", "--out", str(out)]) == 0  # dedicated capacity only
    assert json.loads(out.read_text()) == {}


STATUSES = ("WithStock", "ClosedWithStock", "NoStock")


@settings(max_examples=60, deadline=None)
@given(stock=st.tuples(st.sampled_from(STATUSES), st.sampled_from(STATUSES)),
       runs_in=st.sampled_from([None, *TWO_REGIONS]), pin=st.sampled_from([None, *TWO_REGIONS]),
       allow_move=st.booleans())
def test_where_a_service_runs_acts_as_a_pin_and_a_pin_wins(stock, runs_in, pin, allow_move):
    """Property: pin > where it runs > stock, unless allowRegionMove (then stock decides)."""
    from components.core.errors import StackConfigError
    from components.core.hardware.placement import Capacity
    from components.core.plan import stack_plan
    from components.core.stack import stack_config

    capacity = Capacity({r: [meta(s)] for r, s in zip(TWO_REGIONS, stock, strict=True)}, source="test")
    extra = {"placements": json.dumps({"chat": pin})} if pin else {}
    loaded = stack_config.load("dev", raw_config({"chat": service(regions=TWO_REGIONS, allowRegionMove=allow_move)},
                                                **extra))
    with_stock = [r for r, s in zip(TWO_REGIONS, stock, strict=True) if s != "NoStock"]
    try:
        plan = stack_plan.plan_stack(loaded, capacity, {"chat": runs_in} if runs_in else None)["chat"]
    except StackConfigError:
        assert allow_move or (pin is None and runs_in is None)
        assert not with_stock
        return
    if not allow_move and (pin or runs_in):
        assert plan.region == (pin or runs_in)
    else:
        assert plan.region == with_stock[0]
    assert plan.moving == (runs_in is not None and runs_in != plan.region)
