"""A key written twice anywhere in a stack file is an error naming the key and both lines."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from components.cli import diff, plan
from components.core import stack_file

TWO_CHATS = textwrap.dedent("""\
    config:
      alicloud:region: cn-hangzhou
      qwen3-eas:services:
        chat:
          model: Qwen3-8B
          engine: vllm
          resource: {kind: public, instanceTypes: [ml.gu7i.c16m60.1-gu30]}
        chat:
          model: Qwen3-4B
          engine: vllm
          resource: {kind: public, instanceTypes: [ml.gu7i.c16m60.1-gu30]}
    """)


def write(tmp_path: Path, text: str, name: str = "t") -> Path:
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_service_written_twice_stops_the_plan_naming_the_key_and_both_lines(tmp_path, capsys):
    path = write(tmp_path, TWO_CHATS)
    assert plan.main([str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "key 'chat' is written twice under config > qwen3-eas:services (lines 4 and 8)" in err
    assert "Fix:" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_a_field_written_twice_inside_a_service_is_caught_too(tmp_path):
    text = TWO_CHATS.replace("      model: Qwen3-4B\n", "      model: Qwen3-4B\n      engine: sglang\n")
    text = text.replace("    chat:\n      model: Qwen3-4B", "    small:\n      model: Qwen3-4B")
    with pytest.raises(plan.PlanError, match=r"key 'engine' is written twice under config > qwen3-eas:services > "
                                             r"small \(lines 10 and 11\)"):
        plan.read_stack_config(write(tmp_path, text))


def test_make_diff_reports_the_duplicate_instead_of_a_diff(tmp_path):
    path = write(tmp_path, TWO_CHATS)
    _stack, files, error = diff.plan_working_tree(str(path))
    assert files is None and error is not None and "key 'chat' is written twice" in error


def test_pulumi_up_refuses_it_too(tmp_path, monkeypatch):
    """The engine passes the program only the second 'chat'; the program reads the file itself."""
    from components import program

    monkeypatch.setattr(program, "STACK_CONFIG_DIR", tmp_path)
    write(tmp_path, TWO_CHATS, name="dupe")
    # What the engine hands over: yaml.v2 (non-strict) keeps the last of the two keys, as PyYAML does.
    services = yaml.safe_load(TWO_CHATS)["config"]["qwen3-eas:services"]
    assert list(services) == ["chat"] and services["chat"]["model"] == "Qwen3-4B"
    config = {"alicloud:region": "cn-hangzhou", "qwen3-eas:services": json.dumps(services)}
    try:
        with pytest.raises(plan.PlanError, match=r"Pulumi.dupe.yaml: key 'chat' is written twice"):
            plan.run_program("dupe", config)
    finally:
        plan.release_runtime_threads()


def test_the_same_key_in_different_mappings_is_fine():
    text = "config:\n  a:\n    engine: vllm\n  b:\n    engine: vllm\n"
    assert stack_file.duplicate_keys(text) == []


keys = st.text(alphabet="abcdefgh", min_size=1, max_size=4)


@given(st.lists(keys, min_size=1, max_size=6, unique=True), st.data())
def test_any_repeated_key_is_found_with_both_lines(names, data):
    repeat = data.draw(st.sampled_from(names))
    order = [*names, repeat]
    lines = ["config:", "  svc:"] + [f"    {name}: {i}" for i, name in enumerate(order)]
    (found,) = stack_file.duplicate_keys("\n".join(lines) + "\n")
    assert found.key == repeat and found.path == ("config", "svc")
    assert found.first_line == 3 + names.index(repeat) and found.second_line == 3 + len(names)


def test_the_program_checks_the_file_its_config_came_from_not_a_namesake(tmp_path, monkeypatch):
    """An offline plan of stacks elsewhere hands the program that file's path: the program checks
    it (here it has a duplicate, while stacks/Pulumi.dev.yaml is clean), not the repository's."""
    from components import program
    from components.core import stack_file

    elsewhere = tmp_path / "Pulumi.dev.yaml"
    elsewhere.write_text("config:\n  alicloud:region: cn-hangzhou\n  alicloud:region: cn-beijing\n")
    assert program.duplicate_key_error("dev") is None  # the repository's dev stack is clean
    monkeypatch.setenv(stack_file.PATH_ENV, str(elsewhere))
    message = program.duplicate_key_error("dev")
    assert message is not None and "alicloud:region" in message
