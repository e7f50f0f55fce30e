"""Region IDs are checked against the one sourced list of regions where EAS runs, everywhere."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.core.errors import StackConfigError
from components.core.plan import stack_plan
from components.core.stack import regions, stack_config

from .conftest import raw_config, service


def problems(raw) -> list[str]:
    with pytest.raises(StackConfigError) as err:
        stack_plan.plan_stack(stack_config.load("dev", raw))
    return [p.describe("dev") for p in err.value.problems]


def test_a_misspelled_stack_region_is_an_error_with_the_spelling_it_meant():
    (msg,) = problems(raw_config({"chat": service()}, region="cn-hangzou"))
    assert "stack 'dev', field 'alicloud:region': 'cn-hangzou' is not a region where EAS runs" in msg
    assert "did you mean 'cn-hangzhou'?" in msg


def test_a_misspelled_service_region_names_the_service_and_the_entry():
    (msg,) = problems(raw_config({"chat": service(regions=["cn-beijing", "cn-wulanchab"])}))
    assert "service 'chat', field 'regions[1]': 'cn-wulanchab' is not a region where EAS runs" in msg
    assert "did you mean 'cn-wulanchabu'?" in msg


def test_a_region_of_another_cloud_lists_the_regions_where_eas_runs():
    (msg,) = problems(raw_config({"chat": service()}, region="us-east-2"))
    assert "'us-east-2' is not a region where EAS runs" in msg
    assert "us-east-1" in msg  # the nearest, or the list: either names the real one


def test_an_alibaba_region_without_eas_is_refused():
    # London is an Alibaba Cloud region (Elasticsearch runs there), but neither EAS page lists it.
    (msg,) = problems(raw_config({"chat": service()}, region="eu-west-1"))
    assert "'eu-west-1' is not a region where EAS runs" in msg


def test_a_pinned_region_is_checked_too():
    (msg,) = problems(raw_config({"chat": service()}, placements='{"chat": "cn-shangai"}'))
    assert "field 'qwen3-eas:placements.chat'" in msg and "did you mean 'cn-shanghai'?" in msg


def test_every_eas_region_plans():
    # us-east-1 is on both Alibaba pages (US (Virginia)): it is an EAS region, not a foreign one.
    for region in regions.EAS_REGIONS:
        plan = stack_plan.plan_stack(stack_config.load("dev", raw_config({"chat": service()}, region=region)))
        assert plan["chat"].region == region


@given(st.sampled_from(sorted(regions.EAS_REGIONS)), st.integers(min_value=0), st.sampled_from("aeiouxz-"))
def test_any_one_letter_typo_of_a_region_is_refused_or_is_itself_a_region(region, position, letter):
    index = position % len(region)
    typo = region[:index] + letter + region[index + 1:]
    problem = regions.unknown_region(typo)
    assert (problem is None) == (typo in regions.EAS_REGIONS)
    if problem is not None:
        assert "did you mean" in regions.region_hint(typo) or "use one of" in regions.region_hint(typo)


def test_make_capacity_uses_the_same_list(capsys):
    from components.cli import capacity

    assert capacity.main(["--regions", "cn-beijing cn-hangzou", "--out", "unused.json"]) == 2
    err = capsys.readouterr().err
    assert "'cn-hangzou' is not a region where EAS runs" in err and "did you mean 'cn-hangzhou'?" in err
    assert "cn-beijing" not in err


def test_make_capacity_names_the_make_variable_under_make(capsys, monkeypatch):
    from components.cli import capacity

    monkeypatch.setenv("QWEN3_EAS_VIA_MAKE", "1")
    assert capacity.main(["--regions", "cn-hangzou", "--out", "unused.json"]) == 2
    assert "in REGIONS= did you mean 'cn-hangzhou'?" in capsys.readouterr().err
    monkeypatch.delenv("QWEN3_EAS_VIA_MAKE")
    assert capacity.main(["--regions", "cn-hangzou", "--out", "unused.json"]) == 2
    assert "in --regions did you mean 'cn-hangzhou'?" in capsys.readouterr().err


def test_the_json_schema_offers_the_same_regions_to_editors():
    import jsonschema
    import yaml

    from components.cli.schema import stack_file_schema

    from .test_schema import ROOT

    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    jsonschema.validate(document, stack_file_schema())
    document["config"]["alicloud:region"] = "cn-hangzou"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, stack_file_schema())
    document["config"]["alicloud:region"] = "cn-hangzhou"
    document["config"]["qwen3-eas:services"]["chat"]["regions"] = ["us-east-1", "cn-wulanchab"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, stack_file_schema())


@pytest.mark.parametrize("written", ["cn_hangzhou", "Cn-Hangzhou", "CN-HANGZHOU"])
def test_a_near_miss_in_spelling_gets_the_region_it_meant(written):
    with pytest.raises(StackConfigError, match="write 'cn-hangzhou' \\(did you mean it\\?\\)"):
        stack_config.load("dev", raw_config({"chat": service(regions=[written])}))
