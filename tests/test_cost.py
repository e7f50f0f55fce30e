"""What a service may cost, on the page: replicas, billing order, fallback regions, the hourly bound."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.core import cost, report
from components.core.cost import Entry

from .conftest import A10, plan_one

SPOT = {"kind": "spot", "bidPrice": 1.2, "instanceTypes": [A10]}


def test_spot_bound_is_bid_times_instances_times_the_autoscaling_maximum():
    plan = plan_one(replicas=2, autoscaling={"min": 2, "max": 6, "qps": 20}, resource=SPOT)
    summary = plan.summary()["cost"]
    assert summary["replicas"] == {"min": 2, "max": 6}
    assert summary["instanceTypes"] == [{"type": A10, "billing": "spot", "bidPerHour": 1.2}]
    assert summary["currency"] == "USD"
    assert summary["hourlyBound"] == 7.2  # 1.2 USD x 1 instance x 6 replicas, not x 2
    assert "at most 7.2 USD/h (bid 1.2 USD × 1 instance × 6 replicas at most)" in summary["summary"]


def test_an_on_demand_fallback_leaves_the_bound_unknown_but_keeps_the_spot_part():
    plan = plan_one(replicas=3, resource={**SPOT, "onDemandFallback": True})
    summary = plan.summary()["cost"]
    assert [(e["type"], e["billing"]) for e in summary["instanceTypes"]] == [(A10, "spot"), (A10, "on-demand")]
    assert summary["instanceTypes"][1]["pricePerHour"] is None
    assert summary["hourlyBound"] is None and summary["spotHourlyBound"] == 3.6
    assert summary["summary"] == ("price unknown once the on-demand fallback runs (no sourced price for "
                                  "`ml.gu7i.c16m60.1-gu30`); at most 3.6 USD/h while on spot "
                                  "(bid × 1 instance × 3 replicas at most)")
    assert report.hourly_bound_text(plan.summary()) == "unknown (spot ≤ 3.6 USD/h)"


def test_public_types_without_a_sourced_price_say_price_unknown():
    plan = plan_one()
    summary = plan.summary()["cost"]
    assert summary["hourlyBound"] is None and summary["spotHourlyBound"] is None
    assert summary["summary"] == "price unknown: no sourced on-demand price for `ml.gu7i.c16m60.1-gu30`"
    text = report.plan_markdown("t", {"svc": plan.summary()})
    assert "`ml.gu7i.c16m60.1-gu30` on-demand (price unknown)" in text


def test_a_priced_on_demand_type_gives_a_bound(monkeypatch):
    monkeypatch.setattr(cost, "ON_DEMAND_USD_PER_HOUR", {A10: (2.5, "test price")})
    plan = plan_one(replicas=2, resource={**SPOT, "onDemandFallback": True})
    assert plan.summary()["cost"]["hourlyBound"] == 5.0  # the dearer entry, on-demand 2.5, x 2


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
    assert "| replicas | cost bound |" in text and "| 2 (1–4) | ≤ 2 USD/h |" in text
    assert "- replicas: 2, autoscaling between 1 and 4" in text
    assert "- fallback regions: cn-beijing" in text
    assert "- ⚠️ spot instances can be preempted; bid 0.5 USD per instance-hour" in text


@given(bid=st.floats(min_value=0.001, max_value=1000, allow_nan=False), replicas=st.integers(1, 1000),
       fallback=st.booleans())
def test_the_bound_never_undercounts_a_spot_bid(bid, replicas, fallback):
    c = cost.of_service("spot", [A10, "ml.x.c1m1.1-gu30"], bid, fallback, replicas, None, [])
    assert c.spot_bound == pytest.approx(bid * replicas, abs=0.001)
    assert (c.hourly_bound is None) == fallback
    assert all(isinstance(e, Entry) for e in c.entries) and len(c.entries) == (4 if fallback else 2)
