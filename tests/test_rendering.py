"""Start scripts: every engine x feature, read back the way a shell reads them."""

from __future__ import annotations

import itertools
import json
import os
import stat
import subprocess
import sys
import textwrap

import jinja2
import pytest

from components.core.engines.launch import (
    Features,
    UnsupportedFeatureError,
    decide_launch,
    image_digest,
    image_tag,
    parse_version,
)
from components.core.engines.rendering import NO_THINKING_PROGRAM, command_words, render_script, shell_quote

NEW = {"vllm": (0, 11, 2), "sglang": (0, 5, 17), "bladellm": (0, 11, 0)}


def features(**kw) -> Features:
    base = dict(max_model_len=32768, tool_calling=False, reasoning=False, thinking=True,
                served_model_name="Qwen3-8B", tensor_parallel=1, memory_fraction=0.9)
    base.update(kw)
    return Features(**base)


def server_argv(script: str) -> list[str]:
    """The words of the command that execs the server (the script's last command)."""
    commands = command_words(script)
    assert commands[-1][0] == "exec"
    return commands[-1][1:]


def flag_value(argv: list[str], flag: str) -> str:
    assert argv.count(flag) == 1, f"{flag} appears {argv.count(flag)} times in {argv}"
    return argv[argv.index(flag) + 1]


def render(engine: str, version=None, **kw) -> list[str]:
    return server_argv(render_script(decide_launch(engine, version or NEW[engine], features(**kw))))


# -- the program and its fixed flags ------------------------------------------------------------

@pytest.mark.parametrize("engine", ["vllm", "sglang", "bladellm"])
def test_every_engine_listens_on_8000_with_the_mounted_model(engine):
    argv = render(engine)
    assert {"vllm": ["vllm", "serve", "/model_dir"], "sglang": ["python3", "-m", "sglang.launch_server"],
            "bladellm": ["blade_llm_server"]}[engine] == argv[: 3 if engine != "bladellm" else 1]
    port = {"vllm": "--port", "sglang": "--port", "bladellm": "--port"}[engine]
    assert flag_value(argv, port) == "8000"
    assert flag_value(argv, "--host") == "0.0.0.0"


@pytest.mark.parametrize(("engine", "tp_flag", "len_flag", "mem_flag", "name_flag"), [
    ("vllm", "--tensor-parallel-size", "--max-model-len", "--gpu-memory-utilization", "--served-model-name"),
    ("sglang", "--tp", "--context-length", "--mem-fraction-static", "--served-model-name"),
])
def test_parallelism_length_memory_and_name_use_each_engines_spelling(engine, tp_flag, len_flag, mem_flag, name_flag):
    argv = render(engine, tensor_parallel=4, max_model_len=16384, memory_fraction=0.88, served_model_name="my-qwen")
    assert flag_value(argv, tp_flag) == "4"
    assert flag_value(argv, len_flag) == "16384"
    assert flag_value(argv, mem_flag) == "0.88"
    assert flag_value(argv, name_flag) == "my-qwen"


# -- features ---------------------------------------------------------------------------------------

def test_vllm_tool_calling_uses_the_hermes_parser_with_auto_tool_choice():
    argv = render("vllm", tool_calling=True)
    assert "--enable-auto-tool-choice" in argv
    assert flag_value(argv, "--tool-call-parser") == "hermes"


@pytest.mark.parametrize(("version", "parser"), [((0, 4, 9), "qwen25"), ((0, 5, 17), "qwen")])
def test_sglang_tool_parser_follows_the_rename(version, parser):
    assert flag_value(render("sglang", version, tool_calling=True), "--tool-call-parser") == parser


@pytest.mark.parametrize(("version", "with_enable_flag"), [((0, 9, 1), True), ((0, 10, 0), False), ((0, 11, 2), False)])
def test_vllm_reasoning_drops_enable_reasoning_from_0_10(version, with_enable_flag):
    argv = render("vllm", version, reasoning=True)
    assert flag_value(argv, "--reasoning-parser") == "qwen3"
    assert ("--enable-reasoning" in argv) is with_enable_flag


@pytest.mark.parametrize(("version", "parser"), [((0, 8, 5), "deepseek_r1"), ((0, 9, 0), "qwen3"), ((0, 11, 2), "qwen3")])
def test_vllm_reasoning_parser_is_deepseek_r1_before_0_9(version, parser):
    """vLLM 0.8.5's --reasoning-parser choices are deepseek_r1 and granite (conformance)."""
    assert flag_value(render("vllm", version, reasoning=True), "--reasoning-parser") == parser


@pytest.mark.parametrize(("version", "parser"), [((0, 4, 6), "deepseek-r1"), ((0, 4, 7), "qwen3"), ((0, 5, 17), "qwen3")])
def test_sglang_reasoning_parser_by_version(version, parser):
    assert flag_value(render("sglang", version, reasoning=True), "--reasoning-parser") == parser


@pytest.mark.parametrize(("engine", "dtype"), [("vllm", "fp8"), ("sglang", "fp8_e4m3")])
def test_fp8_kv_cache_uses_each_engines_spelling(engine, dtype):
    """SGLang's --kv-cache-dtype refuses plain fp8 (choices fp8_e4m3, fp8_e5m2; conformance 0.4.6-0.5.23)."""
    for version in ((0, 4, 6), (0, 5, 17)) if engine == "sglang" else ((0, 8, 5), (0, 11, 2)):
        assert flag_value(render(engine, version, kv_cache_fp8=True), "--kv-cache-dtype") == dtype


def test_sglang_expert_parallel_is_refused_before_0_4_7():
    """0.4.6 has no expert parallelism for Qwen3-MoE at all (its qwen3_moe.py has no EP path)."""
    with pytest.raises(UnsupportedFeatureError, match="no expert parallelism") as err:
        decide_launch("sglang", (0, 4, 6), features(tensor_parallel=8, expert_parallel=True))
    assert "0.4.7" in err.value.fix


@pytest.mark.parametrize("version", [(0, 4, 7), (0, 4, 10)])
def test_sglang_expert_parallel_needs_enable_ep_moe_before_0_5(version):
    """--ep-size alone leaves FusedMoE (tensor-parallel experts) there; --enable-ep-moe selects EPMoE."""
    argv = render("sglang", version, tensor_parallel=8, expert_parallel=True)
    assert "--enable-ep-moe" in argv and "--ep-size" not in argv


@pytest.mark.parametrize("version", [(0, 5, 2), (0, 5, 3), (0, 5, 17)])
def test_sglang_expert_parallel_is_ep_size_from_0_5(version):
    """Conformance: SGLang 0.5.2 logs "--enable-ep-moe is deprecated" (it moved in 0.4.10.post2)."""
    argv = render("sglang", version, tensor_parallel=8, expert_parallel=True)
    assert flag_value(argv, "--ep-size") == "8" and "--enable-ep-moe" not in argv


@pytest.mark.parametrize(("version", "words"), [
    ((0, 4, 6), ["--disable-cuda-graph"]),
    ((0, 5, 13), ["--disable-cuda-graph"]),
    ((0, 5, 14), ["--cuda-graph-backend-decode", "disabled", "--cuda-graph-backend-prefill", "disabled"]),
    ((0, 5, 17), ["--cuda-graph-backend-decode", "disabled", "--cuda-graph-backend-prefill", "disabled"]),
])
def test_sglang_eager_follows_the_0_5_14_deprecation_of_disable_cuda_graph(version, words):
    argv = render("sglang", version, enforce_eager=True)
    assert [w for w in argv if "cuda-graph" in w or w == "disabled"] == [w for w in words]
    assert not any("cuda-graph" in w for w in render("sglang", version))


@pytest.mark.parametrize("length", [65536, 98304, 131072])
def test_vllm_yarn_moves_from_rope_scaling_to_hf_overrides_at_0_11_1(length):
    factor = length / 32768
    old = json.loads(flag_value(render("vllm", (0, 11, 0), max_model_len=length), "--rope-scaling"))
    new = json.loads(flag_value(render("vllm", (0, 11, 1), max_model_len=length), "--hf-overrides"))
    expected = {"rope_type": "yarn", "factor": factor, "original_max_position_embeddings": 32768}
    assert old == expected
    # vLLM 0.33 no longer scales the derived length by the factor: the override raises it too.
    assert new == {"rope_scaling": expected, "max_position_embeddings": length}
    assert "--rope-scaling" not in render("vllm", (0, 11, 1), max_model_len=length)


def test_sglang_yarn_goes_through_json_model_override_args():
    argv = render("sglang", max_model_len=131072)
    # SGLang 0.5.17 refuses --context-length above the config's length unless it is raised too.
    assert json.loads(flag_value(argv, "--json-model-override-args")) == {
        "rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768},
        "max_position_embeddings": 131072}
    assert flag_value(argv, "--context-length") == "131072"


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_no_yarn_within_the_native_context(engine):
    argv = render(engine, max_model_len=32768)
    assert not {"--rope-scaling", "--hf-overrides", "--json-model-override-args"} & set(argv)


@pytest.mark.parametrize(("engine", "flag"), [("vllm", "--chat-template"), ("sglang", "--chat-template"),
                                              ("bladellm", "--chat_template")])
def test_thinking_off_serves_the_generated_no_thinking_template(engine, flag):
    script = render_script(decide_launch(engine, NEW[engine], features(thinking=False)))
    commands = command_words(script)
    template = flag_value(server_argv(script), flag)
    writer = [c for c in commands if c[:2] == ["python3", "-c"]]
    assert len(writer) == 1 and writer[0][2:] == [NO_THINKING_PROGRAM, "/model_dir", template]
    assert commands.index(writer[0]) < len(commands) - 1  # written before the server starts


@pytest.mark.parametrize("engine", ["vllm", "sglang", "bladellm"])
def test_thinking_on_adds_no_template(engine):
    script = render_script(decide_launch(engine, NEW[engine], features()))
    assert "chat-template" not in script and "chat_template" not in script


BLADELLM_DOCUMENTED = {"--model", "--host", "--port", "--tensor_parallel_size", "--max_gpu_memory_utilization",
                       "--chat_template", "--disable_cuda_graph", "--kv_cache_quant"}
"""blade_llm_server's flags as Alibaba's parameter page documents them (eas-json-truth.md section 6)."""


def test_bladellm_lays_out_only_its_documented_flags():
    argv = render("bladellm", tensor_parallel=2, memory_fraction=0.95, enforce_eager=True, kv_cache_fp8=True,
                  thinking=False)
    assert flag_value(argv, "--tensor_parallel_size") == "2"
    assert flag_value(argv, "--max_gpu_memory_utilization") == "0.95"
    assert flag_value(argv, "--port") == "8000"
    assert flag_value(argv, "--chat_template") == "/tmp/qwen3-no-thinking.jinja"
    assert "--disable_cuda_graph" in argv
    assert {w for w in argv if w.startswith("--")} == BLADELLM_DOCUMENTED


def test_bladellm_serves_an_fp8_kv_cache_through_kv_cache_quant():
    """The page lists fp8_e4m3 among --kv_cache_quant's values, so it is no longer refused."""
    assert flag_value(render("bladellm", kv_cache_fp8=True), "--kv_cache_quant") == "fp8_e4m3"
    assert "--kv_cache_quant" not in render("bladellm")


@pytest.mark.parametrize(("feature", "field"), [({"tool_calling": True}, "toolCalling"),
                                                ({"reasoning": True}, "reasoning"),
                                                ({"max_model_len": 65536}, "maxModelLen"),
                                                ({"expert_parallel": True}, "engine"),
                                                ({"explicit_served_name": True}, "servedModelName")])
def test_bladellm_refuses_features_it_has_no_flag_for(feature, field):
    with pytest.raises(UnsupportedFeatureError, match="no documented flag") as err:
        decide_launch("bladellm", NEW["bladellm"], features(**feature))
    assert err.value.field == field and "vllm" in err.value.fix


def test_engines_older_than_qwen3_support_are_refused():
    with pytest.raises(UnsupportedFeatureError, match="predates Qwen3"):
        decide_launch("vllm", (0, 7, 1), features())


@pytest.mark.parametrize(("engine", "combo"), list(itertools.product(
    ["vllm", "sglang"], itertools.product([False, True], [False, True], [False, True], [32768, 131072]))))
def test_every_feature_combination_renders_a_well_formed_script(engine, combo):
    tools, reasoning, thinking, length = combo
    script = render_script(decide_launch(engine, NEW[engine], features(
        tool_calling=tools, reasoning=reasoning, thinking=thinking, max_model_len=length)))
    argv = server_argv(script)
    flags = [w for w in argv if w.startswith("--")]
    assert len(flags) == len(set(flags)), "a flag is repeated"
    assert ("--reasoning-parser" in argv) is reasoning
    assert ("--tool-call-parser" in argv) is tools
    assert ("--chat-template" in argv) is (not thinking)
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)


# -- quoting ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("hostile", ["a;rm -rf /", "$(reboot)", "`id`", "x' y", 'q"uote', "a b\nc", "*"])
def test_values_reach_the_engine_as_one_word_whatever_they_contain(hostile):
    argv = render("vllm", served_model_name=hostile)
    assert flag_value(argv, "--served-model-name") == hostile


def test_the_filter_refuses_values_that_are_not_words():
    with pytest.raises(TypeError):
        shell_quote(None)
    with pytest.raises(TypeError):
        shell_quote(True)


def test_strict_undefined_fails_loudly_on_a_missing_variable():
    from components.core.engines.rendering import environment

    with pytest.raises(jinja2.UndefinedError):
        environment().from_string("{{ missing | sh }}").render()


def test_the_script_runs_and_execs_the_engine_with_exactly_the_rendered_words(tmp_path):
    """Run the real script under bash with a stand-in ``vllm`` that records its argv."""
    record = tmp_path / "argv.json"
    shim = tmp_path / "vllm"
    shim.write_text(f"#!{sys.executable}\nimport json, sys\njson.dump(sys.argv[1:], open({str(record)!r}, 'w'))\n")
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    script = render_script(decide_launch("vllm", NEW["vllm"], features(
        served_model_name="we$ird 'name'", max_model_len=131072, tool_calling=True)))
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    subprocess.run(["bash", "-c", script], env=env, check=True)
    assert json.loads(record.read_text()) == server_argv(script)[1:]


# -- the no-thinking template really turns thinking off ------------------------------------------

QWEN3_LIKE_TEMPLATE = textwrap.dedent("""\
    {%- for m in messages %}<|im_start|>{{ m.role }}
    {{ m.content }}<|im_end|>
    {% endfor %}
    {%- if add_generation_prompt %}<|im_start|>assistant
    {% if enable_thinking is defined and enable_thinking is false %}<think>

    </think>

    {% endif %}{%- endif %}""")


@pytest.mark.parametrize("layout", ["tokenizer_config", "chat_template_file"])
def test_generated_template_always_emits_the_empty_think_block(tmp_path, layout):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    if layout == "tokenizer_config":
        (model_dir / "tokenizer_config.json").write_text(json.dumps({"chat_template": QWEN3_LIKE_TEMPLATE}))
    else:
        (model_dir / "chat_template.jinja").write_text(QWEN3_LIKE_TEMPLATE)
    out = tmp_path / "no-thinking.jinja"
    subprocess.run([sys.executable, "-c", NO_THINKING_PROGRAM, str(model_dir), str(out)], check=True)
    template = jinja2.Environment().from_string(out.read_text())
    messages = [{"role": "user", "content": "hi"}]
    for asked in ({}, {"enable_thinking": True}, {"enable_thinking": False}):
        text = template.render(messages=messages, add_generation_prompt=True, **asked)
        assert "<think>\n\n</think>" in text, asked
    stock = jinja2.Environment().from_string(QWEN3_LIKE_TEMPLATE)
    assert "<think>" not in stock.render(messages=messages, add_generation_prompt=True, enable_thinking=True)


@pytest.mark.parametrize(("text", "version"), [("0.11.2-mows0.5.1", (0, 11, 2)), ("v0.9.1-modelgallery", (0, 9, 1)),
                                               ("v0.5.17", (0, 5, 17)), ("0.10", (0, 10, 0)), ("latest", None)])
def test_versions_are_read_from_image_tags(text, version):
    assert parse_version(text) == version


@pytest.mark.parametrize(("image", "tag", "digest"), [
    ("r.io/ns/vllm:0.11.2", "0.11.2", None),
    ("r.io:5000/ns/vllm:0.11.2", "0.11.2", None),
    ("r.io/ns/vllm:0.11.2@sha256:" + "a" * 64, "0.11.2", "sha256:" + "a" * 64),
    ("r.io:5000/ns/vllm@sha256:" + "b" * 64, "", "sha256:" + "b" * 64),
])
def test_tag_and_digest_of_an_image_reference(image, tag, digest):
    assert image_tag(image) == tag and image_digest(image) == digest


def test_a_bladellm_service_with_an_fp8_kv_cache_plans():
    """Planned end to end (it used to stop at 'BladeLLM has no documented flag for an FP8 KV cache')."""
    from .conftest import L48, plan_one

    plan = plan_one(engine="bladellm", model="Qwen3-14B", kvCacheDtype="fp8",
                    image="eas-registry-vpc.cn-hangzhou.cr.aliyuncs.com/pai-eas/blade-llm:0.11.0",
                    resource={"kind": "public", "instanceTypes": [L48]})
    argv = server_argv(plan.script)
    assert flag_value(argv, "--kv_cache_quant") == "fp8_e4m3"
