"""A key written twice anywhere in a stack file is an error naming the key and both lines."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from components.cli import diff_sides, plan
from components.core.stack import stack_file

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
    head = diff_sides.plan_head(str(path), None, {})
    assert head.files is None and head.error is not None and "key 'chat' is written twice" in head.error


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
    from components.core.stack import stack_file

    elsewhere = tmp_path / "Pulumi.dev.yaml"
    elsewhere.write_text("config:\n  alicloud:region: cn-hangzhou\n  alicloud:region: cn-beijing\n")
    assert program.duplicate_key_error("dev") is None  # the repository's dev stack is clean
    monkeypatch.setenv(stack_file.PATH_ENV, str(elsewhere))
    message = program.duplicate_key_error("dev")
    assert message is not None and "alicloud:region" in message


def test_two_spellings_of_one_key_are_a_duplicate_too():
    """YAML makes `true` and `True` (or `~` and `null`, `2` and `0x2`) one key and keeps the second."""
    text = "config:\n  flags:\n    true: on\n    True: off\n    ~: a\n    null: b\n    2: x\n    0x2: y\n"
    found = stack_file.duplicate_keys(text)
    assert [(d.key, d.first_line, d.second_line) for d in found] == [("True", 3, 4), ("null", 5, 6), ("0x2", 7, 8)]
    assert "key 'True' is the same key as 'true' under config > flags (lines 3 and 4)" in found[0].describe()
    assert len(yaml.safe_load(text)["config"]["flags"]) == 3  # what would have been lost


def test_an_alias_is_checked_once_and_a_recursive_one_does_not_hang():
    shared = "base: &b {x: 1, x: 2}\nother: *b\n"
    assert [(d.key, d.path) for d in stack_file.duplicate_keys(shared)] == [("x", ("base",))]
    assert stack_file.duplicate_keys("a: &a [*a]\n") == []
    assert stack_file.duplicate_keys("<<: {a: 1}\n<<: {b: 2}\na: 3\n") == []  # merge keys may repeat


def test_invalid_yaml_is_reported_with_the_line_quoted(tmp_path):
    path = write(tmp_path, "config:\n  a: [1, 2\n  b: 3\n")
    with pytest.raises(plan.PlanError) as caught:
        plan.read_stack_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: not valid YAML: while parsing a flow sequence")
    assert "line 2, column 6:\n      a: [1, 2\n         ^" in message  # the offending line, with a caret


def test_a_plan_parses_its_stack_file_once(tmp_path, monkeypatch):
    """The plan reads the file; the program it runs checks the same file for duplicates (it must under
    `pulumi up`): the second check reuses the first instead of parsing the file again."""
    parses = []

    class Counting(stack_file._LOADER):  # type: ignore[name-defined,misc]
        def __init__(self, stream):
            parses.append(1)
            super().__init__(stream)

    monkeypatch.setattr(stack_file, "_LOADER", Counting)
    path = write(tmp_path, TWO_CHATS.replace("    chat:\n      model: Qwen3-4B", "    small:\n      model: Qwen3-4B"))
    try:
        _stack, files = plan.make_plan(str(path))
    finally:
        plan.release_runtime_threads()
    assert {"chat.json", "small.json"} <= set(files)
    assert len(parses) == 1


# Spellings of keys: plain, quoted, and several that YAML reads as one value (bools, nulls, ones).
SPELLINGS = ["a", "'a'", '"a"', "b", "c d", "true", "True", "yes", "on", "false", "no", "~", "null",
             "1", "0x1", "'1'", "2", "1.0"]


def _key(spelling: str) -> tuple[str, object]:
    """(text, value) of a key as the pure-Python loader reads it."""
    node = yaml.compose(f"{spelling}: 0", Loader=yaml.SafeLoader).value[0][0]
    return node.value, next(iter(yaml.load(f"{spelling}: 0", Loader=yaml.SafeLoader)))


mappings = st.recursive(
    st.lists(st.tuples(st.sampled_from(SPELLINGS), st.integers(0, 9)), min_size=1, max_size=5),
    lambda inner: st.lists(st.tuples(st.sampled_from(SPELLINGS), st.one_of(st.integers(0, 9), inner)),
                           min_size=1, max_size=5),
    max_leaves=12,
)


def _render(pairs, indent: int, flow: bool) -> list[str]:
    """Block YAML, or a flow mapping on one line where every value is a scalar and ``flow`` is set."""
    pad = " " * indent
    if flow and all(isinstance(v, int) for _, v in pairs):
        return [pad + "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"]
    lines = []
    for key, value in pairs:
        if isinstance(value, int):
            lines.append(f"{pad}{key}: {value}")
        elif flow and all(isinstance(v, int) for _, v in value):
            lines.append(f"{pad}{key}: " + "{" + ", ".join(f"{k}: {v}" for k, v in value) + "}")
        else:
            lines += [f"{pad}{key}:", *_render(value, indent + 2, flow)]
    return lines


def _lost_keys_are_reported(pairs, loaded: dict, path: tuple[str, ...], found) -> None:
    """Keys the loader dropped in this mapping are reported here; then the same for each child that
    was kept once (a dropped or repeated parent is reported already)."""
    reported = [d for d in found if d.path == path]
    assert len(pairs) - len(loaded) <= len(reported), (path, pairs, loaded)
    keys = [_key(spelling) for spelling, _ in pairs]
    for (text, value), (_, child) in zip(keys, pairs, strict=True):
        once = sum(1 for t, v in keys if t == text or v == value) == 1
        if once and not isinstance(child, int):
            _lost_keys_are_reported(child, loaded[value], (*path, text), found)


@given(mappings, st.booleans())
def test_every_key_the_loader_would_drop_is_reported(pairs, flow):
    """Against PyYAML's pure-Python loader as the oracle: what it drops in any mapping is reported
    there, and a file with nothing reported loads to exactly what it reads."""
    text = "\n".join(["config:", *_render(pairs, 2, flow)]) + "\n"
    found = stack_file.duplicate_keys(text)
    oracle = yaml.load(text, Loader=yaml.SafeLoader)
    _lost_keys_are_reported(pairs, oracle["config"], ("config",), found)
    if not found:
        assert stack_file.load(text, "f") == oracle


@given(mappings, st.booleans())
def test_libyaml_and_the_pure_python_parser_find_the_same_duplicates(pairs, flow):
    """The check runs on libyaml's nodes where PyYAML has it: same keys, lines and paths as the
    pure-Python parser's."""
    text = "\n".join(["config:", *_render(pairs, 2, flow)]) + "\n"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stack_file, "_checked", {})
        fast = stack_file.duplicate_keys(text)
        mp.setattr(stack_file, "_checked", {})
        mp.setattr(stack_file, "_LOADER", yaml.SafeLoader)
        assert stack_file.duplicate_keys(text) == fast
