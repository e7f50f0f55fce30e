"""Contradictions in a stack file are refused with the fix, or warned about (issue 18, item 2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.cli import plan
from components.core.engines import image_checks, releases

from .conftest import A10, plan_one, service
from .test_stack_config import only

HANGZHOU = "eas-registry-vpc.cn-hangzhou.cr.aliyuncs.com/pai-eas"


# -- engineVersion against the image tag ----------------------------------------------------------

def test_an_engine_version_that_contradicts_the_image_tag_is_refused_naming_both():
    """vLLM 0.11.2's image with engineVersion 0.8.5 got --enable-reasoning, which 0.11.2 rejects."""
    msg = only({"chat": service(image=f"{HANGZHOU}/vllm:0.11.2-mows0.5.1", engineVersion="0.8.5", reasoning=True)})
    assert "field 'engineVersion'" in msg
    assert "0.8.5" in msg and "0.11.2" in msg and "vllm:0.11.2-mows0.5.1" in msg
    assert "leave engineVersion out" in msg


def test_an_engine_version_that_agrees_with_the_tag_or_a_tag_without_a_release_plans():
    assert plan_one(image=f"{HANGZHOU}/vllm:0.11.2", engineVersion="0.11.2").engine_version == (0, 11, 2)
    assert plan_one(image=f"{HANGZHOU}/vllm:0.11.2", engineVersion="0.11").engine_version == (0, 11, 0)
    # A vendor tag whose number is no vLLM release: engineVersion says which release is inside.
    assert plan_one(image=f"{HANGZHOU}/vllm:2.1-custom", engineVersion="0.11.2").engine_version == (0, 11, 2)


# -- engine against the image's family ------------------------------------------------------------

@pytest.mark.parametrize(("engine", "image", "named"), [
    ("vllm", f"{HANGZHOU}/blade-llm:0.11.0", "bladellm"),
    ("vllm", f"{HANGZHOU}/sglang:v0.5.17", "sglang"),
    ("sglang", f"{HANGZHOU}/vllm:0.11.2", "vllm"),
    ("bladellm", f"{HANGZHOU}/vllm:0.11.2", "vllm"),
])
def test_an_engine_and_an_image_of_another_engine_are_refused(engine, image, named):
    msg = only({"chat": service(engine=engine, image=image)})
    assert "field 'image'" in msg and f"engine: {engine}" in msg and f"a {named} image" in msg


def test_an_image_whose_name_says_no_engine_is_not_judged():
    assert image_checks.image_family("registry.example.com/ns/inference:0.11.2") is None
    assert image_checks.image_family("registry.example.com/ns/vllm-and-sglang:1") is None  # both: cannot tell
    assert image_checks.image_family("vllm/vllm-openai:v0.11.2") == "vllm"


# -- versions no release has ----------------------------------------------------------------------

def test_a_version_no_release_has_is_refused_with_the_known_ones():
    msg = only({"chat": service(image=f"{HANGZHOU}/vllm:9.9.9")})
    assert "field 'image'" in msg and "no vllm release 9.9.9" in msg
    assert f"{releases.KNOWN['vllm'][0]}" in msg and releases.newest("vllm") in msg
    msg = only({"chat": service(image=f"{HANGZHOU}/vllm:latest", engineVersion="9.9.9")})
    assert "field 'engineVersion'" in msg and "no vllm release 9.9.9" in msg


def test_a_skipped_number_is_refused_naming_its_neighbours():
    msg = only({"chat": service(engine="sglang", image=f"{HANGZHOU}/sglang:v0.5.0")})
    assert "no sglang release 0.5.0" in msg and "0.4.10" in msg and "0.5.1" in msg


def test_the_next_release_after_the_newest_known_is_a_warning_not_a_refusal():
    newest = releases.parse(releases.newest("vllm"))
    upcoming = f"{newest[0]}.{newest[1] + 1}.0"
    planned = plan_one(image=f"{HANGZHOU}/vllm:{upcoming}")
    assert any(f"vllm {upcoming} is newer than any release we know" in w for w in planned.warnings)


@given(st.sampled_from(sorted(releases.KNOWN)).flatmap(lambda e: st.tuples(st.just(e), st.sampled_from(releases.KNOWN[e]))))
def test_every_known_release_passes(engine_and_version):
    engine, version = engine_and_version
    assert releases.check(engine, releases.parse(version)) is None


# -- tensor parallel far beyond the model's need ----------------------------------------------------

def test_a_small_model_on_eight_gpus_is_warned_naming_the_cheaper_choice():
    planned = plan_one(model="Qwen3-0.6B", resource={
        "kind": "resourceGroup", "resourceGroupId": "eas-r-abc", "gpus": 8, "gpuType": "GU30", "cpu": 64, "memoryGiB": 256})
    (warning,) = [w for w in planned.warnings if "tensor parallel" in w]
    assert "8 GPUs" in warning and "Qwen3-0.6B" in warning and "1 GPU" in warning and "resource.gpus: 1" in warning


def test_a_model_that_needs_its_gpus_is_not_warned():
    planned = plan_one(model="Qwen3-8B", resource={"kind": "public", "instanceTypes": [A10]})
    assert not [w for w in planned.warnings if "tensor parallel" in w]
    flagship = plan.make_plan("prod")[1]["plan.json"]
    assert "tensor parallel 8 (" not in flagship


# -- images outside Alibaba's registries ------------------------------------------------------------

@pytest.mark.parametrize("image", ["vllm/vllm-openai:v0.11.2", "docker.io/vllm/vllm-openai:v0.11.2",
                                   "ghcr.io/someone/vllm:0.11.2"])
def test_an_image_from_outside_alibaba_is_warned(image):
    planned = plan_one(image=image)
    (warning,) = [w for w in planned.warnings if "outside Alibaba" in w]
    assert "internet" in warning and "rate limit" in warning and "VPC" in warning


def test_an_alibaba_registry_image_is_not_warned():
    for image in (f"{HANGZHOU}/vllm:0.11.2", "myacr-registry-vpc.cn-hangzhou.cr.aliyuncs.com/ns/vllm:0.11.2",
                  "registry-vpc.cn-hangzhou.aliyuncs.com/ns/vllm:0.11.2"):
        assert not [w for w in plan_one(image=image).warnings if "outside Alibaba" in w]


# -- names EAS would refuse, and booleans written as text --------------------------------------------

def test_a_service_key_whose_eas_name_is_too_long_is_refused_with_the_limit():
    """EAS names are ``<service key>_<stack>``; one past 64 characters used to be cut and hashed silently."""
    msg = only_stack("production-eu-frankfurt-team-ml-platform", {"x" * 30: service()})
    assert "EAS name" in msg and "64 characters" in msg and "at most 23" in msg
    assert plan_one(stack="dev", **{}).name == "svc_dev"


def test_the_name_prefix_counts_towards_the_eas_name_limit():
    """``qwen3-eas:namePrefix`` puts ``<prefix>_`` before every name: the room for a key shrinks."""
    msg = only_stack("production-eu-frankfurt", {"x" * 30: service()}, namePrefix="searchteam")
    assert "'searchteam_" in msg and "at most 29" in msg and "<namePrefix>_<service key>_<stack>" in msg


def only_stack(stack: str, services: dict, **extra: object) -> str:
    from components.core.errors import StackConfigError
    from components.core.plan import stack_plan
    from components.core.stack import stack_config

    from .conftest import raw_config

    with pytest.raises(StackConfigError) as err:
        stack_plan.plan_stack(stack_config.load(stack, raw_config(services, **extra)))
    (problem,) = err.value.problems
    return problem.describe(stack)


def test_a_quoted_boolean_is_read_as_pulumis_get_bool_reads_it_and_other_words_are_refused():
    from components.core.stack import stack_config

    from .conftest import raw_config

    assert stack_config.load("dev", raw_config({"chat": service(protect="true")})).config.services["chat"].protect
    msg = only({"chat": service(protect="TRUE")})
    assert "field 'protect'" in msg and "text 'TRUE' in quotes" in msg and "write protect: true without quotes" in msg


def test_a_stack_wide_protect_in_quotes_is_read_as_the_boolean_as_pulumi_hands_it_over():
    """Pulumi hands every config value to the program as text; `"true"` and `true` arrive alike."""
    from components.core.stack import stack_config

    from .conftest import raw_config

    assert stack_config.load("dev", raw_config({"chat": service()}, protect="true")).config.protect is True
    msg = only(protect="yes")
    assert "field 'qwen3-eas:protect'" in msg and "true or false" in msg


@given(st.sampled_from(sorted(releases.KNOWN)), st.integers(0, 12), st.integers(0, 60), st.integers(0, 12))
def test_a_version_passes_only_when_it_is_a_release_or_predates_the_list(engine, major, minor, patch):
    """Property: a known release passes; an unknown one is refused, or warned about when it is at
    most UPCOMING_MINORS minor versions past the newest; one older than the list is left to the
    engine's own minimum (``engines.decide_launch``)."""
    version = (major, minor, patch)
    known = [releases.parse(v) for v in releases.KNOWN[engine]]
    found = releases.check(engine, version)
    if version in known or version < known[0]:
        assert found is None
        return
    assert found is not None
    why, refused = found
    newest = known[-1]
    upcoming = version > newest and major == newest[0] and minor <= newest[1] + releases.UPCOMING_MINORS
    assert refused is not upcoming
    assert releases.text(version) in why
