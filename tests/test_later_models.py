"""The 2507, Coder and Next models through the planner: their thinking rules, context, parsers and
the engine releases that serve them."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.core.engines import launch as engines
from components.core.engines.launch import Features, UnsupportedFeatureError, decide_launch
from components.core.engines.rendering import command_words
from components.core.errors import Findings, StackConfigError
from components.core.models import model_rules
from components.core.models.catalog import LONGEST_CONTEXT, MODEL_NAMES, get_model
from components.core.stack import stack_config
from components.core.stack.spec import ServiceSpec

from .conftest import H96, L48, plan_one, raw_config, service

H96X4 = "ml.gu8v.c64m512.4-gu120"
H96X8 = "ml.gu8v.c128m1024.8-gu120"


def argv(plan) -> list[str]:
    return command_words(plan.script)[-1]


def value(words: list[str], flag: str) -> str:
    assert words.count(flag) == 1, (flag, words)
    return words[words.index(flag) + 1]


def problems(**overrides) -> dict[str, str]:
    with pytest.raises(StackConfigError) as err:
        plan_one(**overrides)
    return {p.field: f"{p.message} | {p.fix}" for p in err.value.problems}


def release(engine: str, version: str) -> dict[str, str]:
    """A service pinned to ``engine`` ``version``: engineVersion and an image whose tag says the same."""
    return {"engine": engine, "engineVersion": version,
            "image": f"eas-registry-vpc.cn-hangzhou.cr.aliyuncs.com/pai-eas/{engine}:{version}"}


def on(instance: str) -> dict:
    return {"kind": "public", "instanceTypes": [instance]}


# -- thinking ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("model", ["Qwen3-4B-Instruct-2507", "Qwen3-Coder-30B-A3B-Instruct",
                                   "Qwen3-Next-80B-A3B-Instruct-FP8"])
def test_models_without_thinking_refuse_reasoning_and_thinking_off_with_the_reason(model):
    found = problems(model=model, reasoning=True, thinking=False, resource=on(H96))
    assert set(found) == {"reasoning", "thinking"}
    assert "no thinking mode" in found["reasoning"] and "Thinking model" in found["reasoning"]
    assert "nothing to turn off" in found["thinking"] and "remove thinking: false" in found["thinking"]


@pytest.mark.parametrize("model", ["Qwen3-4B-Thinking-2507", "Qwen3-Next-80B-A3B-Thinking-FP8"])
def test_thinking_models_refuse_thinking_off(model):
    found = problems(model=model, thinking=False, resource=on(H96))
    assert list(found) == ["thinking"]
    assert "always thinks" in found["thinking"] and "Instruct" in found["thinking"]


def test_an_instruct_model_runs_without_a_thinking_template():
    plan = plan_one(model="Qwen3-4B-Instruct-2507", resource=on(L48))
    assert "--chat-template" not in argv(plan) and "--reasoning-parser" not in argv(plan)
    assert len(command_words(plan.script)) == 2  # set -eu, exec: no template is written


@pytest.mark.parametrize(("engine", "version", "parser"), [
    ("vllm", "0.11.2", "deepseek_r1"), ("vllm", "0.33.0", "deepseek_r1"),
    ("sglang", "0.5.17", "deepseek-r1"), ("sglang", "0.4.6", "deepseek-r1"),
])
def test_thinking_models_get_the_deepseek_r1_parser_the_card_names(engine, version, parser):
    # Their template opens <think> in the prompt, so the output has only </think>: the qwen3 parser
    # of these releases would leave the reasoning in the content.
    plan = plan_one(model="Qwen3-30B-A3B-Thinking-2507", **release(engine, version), reasoning=True,
                    resource=on(H96))
    assert value(argv(plan), "--reasoning-parser") == parser
    assert any("closing </think>" in line for line in plan.explanation)


def test_thinking_models_on_vllm_085_also_need_enable_reasoning():
    words = argv(plan_one(model="Qwen3-4B-Thinking-2507", **release("vllm", "0.8.5"), reasoning=True, resource=on(L48)))
    assert value(words, "--reasoning-parser") == "deepseek_r1" and "--enable-reasoning" in words


def test_april_models_keep_the_qwen3_parser():
    assert value(argv(plan_one(reasoning=True, resource=on(L48))), "--reasoning-parser") == "qwen3"


def test_thinking_models_warn_below_the_context_their_card_recommends():
    plan = plan_one(model="Qwen3-4B-Thinking-2507", resource=on(L48))
    assert any("more than 131072" in w for w in plan.warnings)
    assert not any("more than 131072" in w for w in plan_one(model="Qwen3-4B-Instruct-2507",
                                                              resource=on(L48)).warnings)


# -- context ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_262144_tokens_are_native_for_the_later_lines_no_yarn(engine):
    plan = plan_one(model="Qwen3-4B-Instruct-2507", engine=engine, maxModelLen=262144, resource=on(H96))
    words = argv(plan)
    assert value(words, "--max-model-len" if engine == "vllm" else "--context-length") == "262144"
    assert not {"--hf-overrides", "--rope-scaling", "--json-model-override-args"} & set(words)
    assert not any("YaRN" in w for w in plan.warnings)
    assert any("262144 tokens natively" in line for line in plan.explanation)


@pytest.mark.parametrize(("model", "why"), [
    ("Qwen3-30B-A3B-Instruct-2507", "config_1m.json"),
    ("Qwen3-Coder-30B-A3B-Instruct", "gives no settings"),
])
def test_past_262144_only_where_the_card_names_the_flags(model, why):
    found = problems(model=model, maxModelLen=524288, resource=on(H96X8))
    assert list(found) == ["maxModelLen"]
    assert "reaches at most 262144 tokens (262144 natively)" in found["maxModelLen"] and why in found["maxModelLen"]
    assert "set maxModelLen to 262144 or less" in found["maxModelLen"]


@pytest.mark.parametrize(("engine", "flag"), [("vllm", "--hf-overrides"), ("sglang", "--json-model-override-args")])
def test_qwen3_next_reaches_1010000_tokens_with_yarn_over_262144(engine, flag):
    plan = plan_one(model="Qwen3-Next-80B-A3B-Instruct", engine=engine, maxModelLen=1010000, resource=on(H96X4))
    override = json.loads(value(argv(plan), flag))
    assert override["rope_scaling"] == {"rope_type": "yarn", "factor": 1010000 / 262144,
                                        "original_max_position_embeddings": 262144}
    assert override["max_position_embeddings"] == 1010000
    assert any("turns on YaRN (factor 3.8528" in w for w in plan.warnings)


def test_no_model_reaches_past_1010000_tokens():
    with pytest.raises(StackConfigError) as err:
        stack_config.load("t", raw_config({"svc": service(model="Qwen3-Next-80B-A3B-Instruct", maxModelLen=1048576)}))
    (problem,) = err.value.problems
    assert problem.field == "maxModelLen" and "1010000" in problem.fix


def test_april_models_still_stop_at_131072_with_the_reason():
    found = problems(model="Qwen3-8B", maxModelLen=262144, resource=on(H96))
    assert "reaches at most 131072 tokens (32768 natively, then YaRN up to factor 4)" in found["maxModelLen"]


# -- tool calls -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("engine", "version"), [("vllm", "0.10.0"), ("vllm", "0.33.0"), ("sglang", "0.4.10"),
                                                 ("sglang", "0.5.23")])
def test_coder_tool_calls_use_the_qwen3_coder_parser(engine, version):
    plan = plan_one(model="Qwen3-Coder-30B-A3B-Instruct", **release(engine, version), toolCalling=True,
                    resource=on(H96))
    assert value(argv(plan), "--tool-call-parser") == "qwen3_coder"
    assert any("XML" in line for line in plan.explanation)


@pytest.mark.parametrize(("engine", "version", "first"), [("vllm", "0.9.2", "0.10.0"), ("sglang", "0.4.9", "0.4.10")])
def test_coder_tool_calls_are_refused_before_the_parser_existed(engine, version, first):
    found = problems(model="Qwen3-Coder-30B-A3B-Instruct", **release(engine, version), toolCalling=True,
                     resource=on(H96))
    assert list(found) == ["toolCalling"]
    assert "predates the qwen3_coder tool-call parser" in found["toolCalling"]
    assert f"first in {first}" in found["toolCalling"]
    # Without tool calls the same release serves the model.
    plan_one(model="Qwen3-Coder-30B-A3B-Instruct", **release(engine, version), resource=on(H96))


@pytest.mark.parametrize(("engine", "parser"), [("vllm", "hermes"), ("sglang", "qwen")])
def test_the_other_later_models_use_the_hermes_style_parser(engine, parser):
    plan = plan_one(model="Qwen3-Next-80B-A3B-Thinking", engine=engine, toolCalling=True, reasoning=True,
                    maxModelLen=262144, resource=on(H96X4))
    assert value(argv(plan), "--tool-call-parser") == parser


# -- minimum releases -------------------------------------------------------------------------------

@pytest.mark.parametrize(("model", "engine", "below", "first"), [
    ("Qwen3-Next-80B-A3B-Instruct", "vllm", "0.10.1", "0.10.2"),
    ("Qwen3-Next-80B-A3B-Instruct", "sglang", "0.5.1", "0.5.2"),
    ("Qwen3-Next-80B-A3B-Instruct-FP8", "vllm", "0.10.2", "0.11.0"),
    ("Qwen3-Next-80B-A3B-Instruct-FP8", "sglang", "0.5.2", "0.5.3"),
])
def test_qwen3_next_is_refused_below_the_release_that_serves_it(model, engine, below, first):
    found = problems(model=model, **release(engine, below), resource=on(H96X4))
    assert list(found) == ["engineVersion"]
    assert f"predates {model}'s" in found["engineVersion"] and f"first in {first}" in found["engineVersion"]
    plan_one(model=model, **release(engine, first), resource=on(H96X4))


def test_the_2507_models_run_from_each_engines_first_qwen3_release():
    plan_one(model="Qwen3-235B-A22B-Instruct-2507-FP8", **release("vllm", "0.8.5"), resource=on(H96X8))
    plan_one(model="Qwen3-4B-Instruct-2507", **release("sglang", "0.4.6"), resource=on(L48))


def test_bladellm_is_not_offered_qwen3_next():
    found = problems(model="Qwen3-Next-80B-A3B-Instruct", engine="bladellm", maxModelLen=262144,
                     image="eas-registry-vpc.cn-hangzhou.cr.aliyuncs.com/pai-eas/blade-llm:0.11.0",
                     resource=on(H96X4))
    assert list(found) == ["engine"] and "hybrid attention" in found["engine"]


def test_bladellm_serves_a_later_model_only_at_its_config_length():
    image = "eas-registry-vpc.cn-hangzhou.cr.aliyuncs.com/pai-eas/blade-llm:0.11.0"
    found = problems(model="Qwen3-4B-Instruct-2507", engine="bladellm", image=image, resource=on(L48))
    assert "no documented length flag" in found["maxModelLen"] and "maxModelLen: 262144" in found["maxModelLen"]
    plan = plan_one(model="Qwen3-4B-Instruct-2507", engine="bladellm", image=image, maxModelLen=262144,
                    resource=on(H96))
    assert plan.verdict.max_model_len == 262144


def test_decide_launch_without_a_model_keeps_the_april_rules():
    launch = decide_launch("vllm", (0, 11, 2), Features(max_model_len=65536, tool_calling=True, reasoning=True,
                                                        thinking=True, served_model_name="x", tensor_parallel=1,
                                                        memory_fraction=0.9))
    assert (launch.tool_parser, launch.reasoning_parser) == ("hermes", "qwen3")
    assert json.loads(launch.rope_scaling_json)["rope_scaling"]["original_max_position_embeddings"] == 32768


def test_model_minimums_are_data_per_engine():
    for table in (engines.ARCHITECTURE_MINIMUMS, engines.FP8_ARCHITECTURE_MINIMUMS, engines.TOOL_PARSER_MINIMUMS):
        for per_engine in table.values():
            assert set(per_engine) <= {"vllm", "sglang"}
            for engine, version in per_engine.items():
                assert version >= engines.PROFILES[engine].min_version
    with pytest.raises(UnsupportedFeatureError):
        decide_launch("vllm", (0, 10, 1), Features(max_model_len=32768, tool_calling=False, reasoning=False,
                                                   thinking=True, served_model_name="x", tensor_parallel=4,
                                                   memory_fraction=0.9,
                                                   model=get_model("Qwen3-Next-80B-A3B-Thinking")))


# -- sizing in the plan -----------------------------------------------------------------------------

def test_the_plan_says_a_later_model_is_sized_by_the_estimate_only():
    plan = plan_one(model="Qwen3-Next-80B-A3B-Instruct", maxModelLen=262144, resource=on(H96X4))
    assert any("checked by the memory estimate only" in w and "policy pack" in w for w in plan.warnings)
    sizing_line = next(line for line in plan.explanation if line.startswith("sizing:"))
    assert "no row in Alibaba's minimum-configuration table" in sizing_line
    assert "linear-attention state" in sizing_line
    assert plan.summary()["sizing"]["perGpu"]["linearStateGiB"] > 0


def test_qwen3_next_fp8_on_eight_gpus_is_refused_with_the_largest_count_that_works():
    found = problems(model="Qwen3-Next-80B-A3B-Instruct-FP8", resource=on(H96X8))
    assert "shared expert" in found["resource.instanceTypes"] and "at most 4 GPUs" in found["resource.instanceTypes"]


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(MODEL_NAMES), length=st.integers(1024, LONGEST_CONTEXT), reasoning=st.booleans(),
       thinking=st.booleans())
def test_model_rules_refuse_exactly_what_a_models_line_cannot_do(name, length, reasoning, thinking):
    spec = ServiceSpec.model_validate(service(model=name, maxModelLen=length, reasoning=reasoning, thinking=thinking))
    model = get_model(name)
    out = Findings("svc")
    model_rules.refuse(spec, model, out)
    fields = {p.field for p in out.problems}
    assert ("maxModelLen" in fields) == (length > model.max_context)
    assert ("reasoning" in fields) == (reasoning and model.line.thinking == "none")
    assert ("thinking" in fields) == (not thinking and model.line.thinking != "switchable")
    assert all(p.message and p.fix for p in out.problems)
