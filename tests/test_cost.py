"""What a service may cost, on the page: replicas, billing order, fallback regions, the hourly bound."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.core.errors import StackConfigError
from components.core.hardware import hardware_table, placement
from components.core.plan import cost, report, stack_plan
from components.core.plan.cost import Entry
from components.core.stack import stack_config

from .conftest import A10, plan_one, raw_config, service

SPOT = {"kind": "spot", "bidPrice": 1.2, "instanceTypes": [A10]}


def test_spot_bound_is_bid_times_instances_times_the_autoscaling_maximum_plus_the_update_surge():
    plan = plan_one(replicas=2, autoscaling={"min": 2, "max": 6, "qps": 20}, resource=SPOT)
    summary = plan.summary()["cost"]
    assert summary["replicas"] == {"min": 2, "max": 6} and summary["surge"] == 1
    assert summary["instanceTypes"] == [{"type": A10, "billing": "spot", "bidPerHour": 1.2, "currency": "USD"}]
    assert summary["currency"] == "USD" and summary["site"] == "international"
    assert summary["hourlyBound"] == 8.4  # 1.2 USD x 1 instance x (6 replicas + 1 surge), not x 2
    assert ("at most 8.4 USD/h (bid 1.2 USD × 1 instance × (6 replicas at most + 1 surge during updates))"
            in summary["summary"])


@pytest.mark.parametrize(("surge", "added"), [(0, 0), (3, 3), ("20%", 2), ("1%", 1)])
def test_the_surge_of_a_rolling_update_is_part_of_the_bound(surge, added):
    """maxSurge as a count, or a percentage of the most replicas rounded up: the bound never undercounts."""
    rolling = {"maxSurge": surge, "maxUnavailable": 1}
    plan = plan_one(replicas=6, autoscaling={"min": 2, "max": 6, "qps": 20}, resource=SPOT, rollingStrategy=rolling)
    summary = plan.summary()["cost"]
    assert summary["surge"] == added and summary["hourlyBound"] == round(1.2 * (6 + added), 3)


def test_an_on_demand_fallback_leaves_the_bound_unknown_but_keeps_the_spot_part():
    plan = plan_one(replicas=3, resource={**SPOT, "onDemandFallback": True})
    summary = plan.summary()["cost"]
    assert [(e["type"], e["billing"]) for e in summary["instanceTypes"]] == [(A10, "spot"), (A10, "on-demand")]
    assert summary["instanceTypes"][1]["pricePerHour"] is None
    assert summary["hourlyBound"] is None and summary["spotHourlyBound"] == 4.8
    assert summary["summary"] == ("price unknown once the on-demand fallback runs (no sourced price for "
                                  "`ml.gu7i.c16m60.1-gu30`); at most 4.8 USD/h while on spot "
                                  "(bid × 1 instance × (3 replicas at most + 1 surge during updates))")
    assert report.hourly_bound_text(plan.summary()) == "unknown (spot ≤ 4.8 USD/h)"


def test_public_types_without_a_sourced_price_say_price_unknown():
    plan = plan_one()
    summary = plan.summary()["cost"]
    assert summary["hourlyBound"] is None and summary["spotHourlyBound"] is None
    assert summary["summary"] == "price unknown: no sourced on-demand price for `ml.gu7i.c16m60.1-gu30`"
    text = report.plan_markdown("t", {"svc": plan.summary()})
    assert "`ml.gu7i.c16m60.1-gu30` on-demand (price unknown)" in text


def price(instance_type: str = A10, per_hour: float = 2.5, currency: str = "USD", site: str = "international",
          region: str = "") -> hardware_table.PriceRow:
    return hardware_table.PriceRow(instance_type, per_hour, currency, site, region, "test price", "2026-12-02")


def test_a_priced_on_demand_type_gives_a_bound(monkeypatch):
    monkeypatch.setattr(hardware_table, "load_prices", lambda: (price(),))
    plan = plan_one(replicas=2, resource={**SPOT, "onDemandFallback": True})
    assert plan.summary()["cost"]["hourlyBound"] == 7.5  # the dearer entry, on-demand 2.5, x (2 + 1 surge)
    assert "highest price (on-demand) 2.5 USD" in plan.summary()["cost"]["summary"]


def test_dedicated_capacity_has_no_hourly_figure_and_no_fallback():
    plan = plan_one(resource={"kind": "quota", "quotaId": "quotaabc", "gpus": 1, "gpuType": "GU30", "cpu": 8,
                              "memoryGiB": 30}, regions=["cn-hangzhou", "cn-beijing"])
    summary = plan.summary()["cost"]
    assert summary["instanceTypes"] == [] and summary["fallbackRegions"] == []
    assert summary["summary"] == "no hourly figure: billed with quota quotaabc, not per replica"
    assert report.hourly_bound_text(plan.summary()) == "dedicated"


def test_fallback_regions_are_the_other_listed_regions_in_order():
    plan = plan_one(regions=["cn-hangzhou", "cn-shanghai", "cn-beijing"])
    assert plan.summary()["cost"]["fallbackRegions"] == ["cn-shanghai", "cn-beijing"]


def test_plan_md_shows_the_bound_column_and_the_cost_lines():
    plan = plan_one(replicas=2, autoscaling={"min": 1, "max": 4, "cpu": 60}, resource={**SPOT, "bidPrice": 0.5},
                    regions=["cn-hangzhou", "cn-beijing"])
    text = report.plan_markdown("t", {"svc": plan.summary()})
    assert "| replicas | cost bound |" in text and "| 2 (1–4) | ≤ 2.5 USD/h |" in text
    assert "- replicas: 2, autoscaling between 1 and 4; up to 1 more while a rolling update runs" in text
    assert "- fallback regions: cn-beijing" in text
    assert "- ⚠️ spot instances can be preempted; bid 0.5 USD per instance-hour" in text


@given(bid=st.floats(min_value=0.001, max_value=1000, allow_nan=False), replicas=st.integers(1, 1000),
       fallback=st.booleans())
def test_the_bound_never_undercounts_a_spot_bid(bid, replicas, fallback):
    c = cost.of_service("spot", [A10, "ml.x.c1m1.1-gu30"], bid, fallback, replicas, None, [], surge=1)
    assert c.spot_bound == pytest.approx(bid * (replicas + 1), abs=0.001)
    assert (c.hourly_bound is None) == fallback
    assert all(isinstance(e, Entry) for e in c.entries) and len(c.entries) == (4 if fallback else 2)


# -- currency per site, plain figures -------------------------------------------------------------


@pytest.mark.parametrize("bid", [0.00001, 12000000.5, 1e-4, 2.5e7])
def test_no_figure_is_ever_written_in_scientific_notation(bid):
    try:
        plan = plan_one(resource={**SPOT, "bidPrice": bid})
    except StackConfigError as err:  # beyond any plausible price (components.core.plan.bids): refused, in plain figures
        text = str(err)
        assert bid > 30.6 and f"the bid {cost.amount(bid)} USD/h is beyond" in text
    else:
        text = report.plan_markdown("t", {"svc": plan.summary()}) + "\n".join(plan.warnings)
        assert f"bid {cost.amount(bid)} USD/h" in text
    assert "e-0" not in text and "e+0" not in text and "e" not in cost.amount(bid)


@given(st.floats(min_value=1e-9, max_value=1e12, allow_nan=False, allow_infinity=False))
def test_amount_is_plain_decimals_that_read_back_as_the_figure(value):
    text = cost.amount(value)
    assert "e" not in text.lower() and float(text) == value


def test_the_china_site_says_currency_unconfirmed_wherever_the_bid_appears():
    loaded = stack_config.load("t", raw_config({"svc": service(resource=SPOT)}) | {"qwen3-eas:cost": {"site": "china"}})
    plan = stack_plan.plan_stack(loaded)["svc"]
    summary = plan.summary()
    assert summary["cost"]["site"] == "china" and summary["cost"]["currency"] is None
    assert any("bid 1.2 (currency unconfirmed) per instance-hour" in w for w in plan.warnings)
    text = report.plan_markdown("t", {"svc": summary})
    assert "≤ 2.4/h (currency unconfirmed)" in text
    assert "bid currency: currency unconfirmed on the china site" in text
    # (The sources list other clouds' USD list prices behind the bid limits; no figure of ours is in USD.)
    assert "USD" not in text.split("\n## Sources\n")[0]


def test_the_international_site_states_usd_with_its_source():
    text = report.plan_markdown("t", {"svc": plan_one(resource=SPOT).summary()})
    assert "- bid currency: USD on the international site (qwen3-eas:cost.site)\n" in text
    assert "- bid currency on the international site: Alibaba Cloud's international EAS docs state" in text


# -- spot discounts from a capacity snapshot ------------------------------------------------------


def test_a_snapshots_spot_discounts_appear_for_spot_services():
    metas = [{"InstanceType": A10, "GPU": "GU30", "GPUAmount": 1, "GPUMemory": 24, "CPU": 16, "Memory": 60,
              "StockStatus": "WithStock", "SpotDiscount": 0.2, "NonProtectSpotDiscount": 0.1}]
    capacity = placement.Capacity({"cn-hangzhou": metas}, "snapshot.json")
    loaded = stack_config.load("t", raw_config({"svc": service(resource=SPOT)}))
    summary = stack_plan.plan_stack(loaded, capacity)["svc"].summary()
    (entry,) = summary["cost"]["instanceTypes"]
    assert (entry["spotDiscount"], entry["nonProtectSpotDiscount"]) == (0.2, 0.1)
    assert f"`{A10}` spot (bid 1.2 USD/h; snapshot: SpotDiscount 0.2, NonProtectSpotDiscount 0.1)" in \
        report.plan_markdown("t", {"svc": summary})


# -- bids above on-demand, the stack's total and its threshold ------------------------------------


def test_a_bid_above_the_known_on_demand_price_is_a_warning(monkeypatch):
    monkeypatch.setattr(hardware_table, "load_prices", lambda: (price(per_hour=1.0),))
    plan = plan_one(resource=SPOT)  # bid 1.2 > 1.0 on demand, even without an on-demand fallback
    (warning,) = [w for w in plan.warnings if "above its on-demand price" in w]
    assert f"the bid 1.2 USD/h for `{A10}` is above its on-demand price 1 USD/h (test price (read 2026-12-02))" in warning
    assert plan.summary()["cost"]["warnings"] == [warning]


@pytest.mark.parametrize("other", [price(per_hour=1.0, site="china"), price(per_hour=1.0, currency="CNY"),
                                   price(per_hour=1.0, region="cn-beijing")])
def test_a_price_of_another_site_currency_or_region_is_not_compared(monkeypatch, other):
    monkeypatch.setattr(hardware_table, "load_prices", lambda: (other,))
    assert not any("above its on-demand price" in w for w in plan_one(resource=SPOT).warnings)


def stack_of(services: dict, **cost_options) -> stack_plan.StackPlan:
    raw = raw_config(services) | ({"qwen3-eas:cost": cost_options} if cost_options else {})
    return stack_plan.plan_services(stack_config.load("t", raw))


def test_the_stack_bound_is_the_sum_of_its_services_with_its_parts():
    result = stack_of({"a": service(resource=SPOT, replicas=2),
                       "b": service(resource={**SPOT, "bidPrice": 0.5}, autoscaling={"min": 1, "max": 4, "cpu": 60}),
                       "q": service(resource={"kind": "quota", "quotaId": "quotaabc", "gpus": 1, "gpuType": "GU30",
                                              "cpu": 8, "memoryGiB": 30})})
    stack = result.cost
    assert stack.total == 6.1  # a: 1.2 x (2 + 1); b: 0.5 x (4 + 1)
    assert stack.words() == ("at most 6.1 USD/h (`a` 3.6 + `b` 2.5); billed with their resource group or quota: `q`")
    text = report.plan_markdown("t", {k: p.summary() for k, p in result.plans.items()}, stack.as_dict())
    assert "**Hourly cost of the stack**: at most 6.1 USD/h (`a` 3.6 + `b` 2.5)" in text


def test_a_stack_with_an_unpriced_fallback_has_no_total_but_keeps_its_spot_part():
    stack = stack_of({"a": service(resource={**SPOT, "onDemandFallback": True}), "b": service(resource=SPOT)}).cost
    assert stack.total is None and stack.while_on_spot == 4.8 and stack.unknown == ("a",)
    assert stack.words().startswith("unknown: no sourced price for the on-demand types of `a`; at most 4.8 USD/h "
                                    "while they run on spot")


def test_a_stack_bound_above_the_threshold_is_a_warning_in_the_plan():
    result = stack_of({"a": service(resource=SPOT, replicas=4)}, warnAbovePerHour=5)
    assert result.cost.warnings == ("the stack may cost at most 6 USD/h counting the surge during updates, above "
                                    "qwen3-eas:cost.warnAbovePerHour 5 USD/h",)
    text = report.plan_markdown("t", {}, result.cost.as_dict())
    assert "- ⚠️ the stack may cost at most 6 USD/h" in text and "(qwen3-eas:cost.warnAbovePerHour: 5 USD/h)" in text
    assert stack_of({"a": service(resource=SPOT, replicas=4)}, warnAbovePerHour=6).cost.warnings == ()


def test_an_unknown_bound_whose_known_part_is_above_the_threshold_warns_at_least():
    result = stack_of({"a": service(resource={**SPOT, "onDemandFallback": True}, replicas=4)}, warnAbovePerHour=5)
    (warning,) = result.cost.warnings
    assert warning.startswith("the stack may cost at least 6 USD/h")


def test_a_service_with_no_figure_leaves_the_others_known_never_a_bare_unknown():
    """Issue 28: a stack with a spot service (≤ 4.8 USD/h) and a public one with no sourced price was
    "unknown", in plan.md and as `unknown → unknown` in make diff."""
    public = {"kind": "public", "instanceTypes": [A10]}
    result = stack_of({"chat": service(resource={**SPOT, "bidPrice": 2.4}), "other": service(resource=public)})
    stack = result.cost
    assert stack.total is None and stack.while_on_spot is None and stack.known_part == 4.8
    assert stack.unpriced == ("other",)
    assert stack.words() == ("unknown: no sourced price for the on-demand types of `other`; the rest at most "
                             "4.8 USD/h (`chat` 4.8)")
    assert report.stack_bound_text(stack.as_dict()) == "≤ 4.8 USD/h + unknown (`other`)"
    # A spot part counts while its service runs on spot, and says so.
    fallback = {**SPOT, "onDemandFallback": True}
    mixed = stack_of({"a": service(resource=fallback), "b": service(resource=SPOT), "c": service(resource=public)}).cost
    assert mixed.words() == ("unknown: no sourced price for the on-demand types of `a`, `c`; the rest at most 4.8 USD/h "
                             "while `a` runs on spot (`a` 2.4 + `b` 2.4)")
    # Nothing known at all: the services are named.
    assert report.stack_bound_text(stack_of({"c": service(resource=public)}).cost.as_dict()) == "unknown (`c`)"


def test_a_known_part_above_the_threshold_warns_even_when_a_service_has_no_figure():
    public = {"kind": "public", "instanceTypes": [A10]}
    result = stack_of({"a": service(resource=SPOT, replicas=4), "c": service(resource=public)}, warnAbovePerHour=5)
    (warning,) = result.cost.warnings
    assert warning.startswith("the stack may cost at least 6 USD/h")
