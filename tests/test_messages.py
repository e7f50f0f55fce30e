"""Messages that used to mislead (issue 18, item 3): each says what was found, and the fix."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest
import yaml

from components.cli import PROG, SUBCOMMANDS, init, plan
from components.cli import main as cli_main
from components.core.errors import StackConfigError
from components.core.models import catalog
from components.core.stack import regions

from .conftest import A10, service
from .test_stack_config import only

ROOT = Path(__file__).resolve().parent.parent


def plan_error(path: Path, capacity: Path | None = None) -> str:
    with pytest.raises(plan.PlanError) as err:
        plan.make_plan(str(path), capacity)
    return str(err.value)


def write(tmp_path: Path, text: str, name: str = "t") -> Path:
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(text)
    return path


SERVICES = {"chat": service()}


def test_the_wrong_namespace_is_named_not_reported_as_no_services(tmp_path):
    path = write(tmp_path, yaml.safe_dump({"config": {"alicloud:region": "cn-hangzhou", "qwen3eas:services": SERVICES}}))
    msg = plan_error(path)
    assert "no services are configured" not in msg
    assert "'qwen3eas:services'" in msg and "'qwen3-eas:services'" in msg


def test_a_file_without_a_config_root_says_what_it_found(tmp_path):
    path = write(tmp_path, yaml.safe_dump({"alicloud:region": "cn-hangzhou", "qwen3-eas:services": SERVICES}))
    msg = plan_error(path)
    assert "no services are configured" not in msg
    assert "no 'config:' key" in msg and "alicloud:region, qwen3-eas:services" in msg and "under a 'config:'" in msg


def test_an_encrypted_value_where_a_plain_one_belongs_says_it_is_not_a_secret(tmp_path):
    path = write(tmp_path, yaml.safe_dump({"config": {
        "alicloud:region": "cn-hangzhou", "qwen3-eas:workspaceId": {"secure": "v1:abc"},
        "qwen3-eas:services": {"chat": service(servedModelName={"secure": "v1:def"})}}}))
    msg = plan_error(path)
    assert "'[secret]'" not in msg and "is a mapping" not in msg
    assert "qwen3-eas:workspaceId" in msg and "not a secret" in msg
    found = only({"chat": service(servedModelName={"secure": "v1:def"})})
    assert "field 'servedModelName'" in found and "encrypted (secure:)" in found and "not a secret" in found


def test_a_41_character_service_key_is_told_the_limit():
    msg = only({"a" * 41: service()})
    assert "41 characters" in msg and "at most 40" in msg


def test_an_instance_type_that_follows_the_naming_pattern_is_not_told_it_does_not():
    msg = only({"chat": service(resource={"kind": "public", "instanceTypes": ["ml.gu7i.c16m60.1-gu50"]})})
    assert "does not follow" not in msg
    assert "1 × GU50" in msg and "memory of a GU50 GPU is unknown" in msg and "gpuMemoryGiB" in msg
    lingjun = only({"chat": service(resource={"kind": "spot", "bidPrice": 5, "instanceTypes": ["ml.gu8xf.8xlarge-gu108"]})})
    assert "does not follow" not in lingjun and "Lingjun" in lingjun
    odd = only({"chat": service(resource={"kind": "public", "instanceTypes": ["ml.custom-thing"]})})
    assert "does not follow ml.<family>.c<vCPU>m<GB>.<n>-<gpu code>" in odd


def test_a_stack_name_in_the_wrong_case_gets_did_you_mean():
    with pytest.raises(plan.PlanError, match=r"no stack 'Dev'.*did you mean 'dev'\?"):
        plan.resolve_stack("Dev")
    with pytest.raises(plan.PlanError, match=r"did you mean 'prod'\?"):
        plan.resolve_stack("prdo")


def test_a_tab_in_yaml_is_one_line_naming_the_line_and_use_spaces(tmp_path):
    path = write(tmp_path, "config:\n  alicloud:region: cn-hangzhou\n  qwen3-eas:services:\n\tchat: {}\n")
    msg = plan_error(path)
    assert "\n" not in msg.strip()
    assert "line 4" in msg and "tab" in msg and "use spaces" in msg


@pytest.mark.parametrize(("name", "first"), [("Qwen3-8B-Instruct", "Qwen3-8B"), ("qwen3-32b-chat", "Qwen3-32B"),
                                             ("Qwen3-14B-fp8", "Qwen3-14B-FP8"),
                                             # Since the 2507 line, a 30B "Instruct" exists by that word.
                                             ("Qwen3-30B-Instruct", "Qwen3-30B-A3B-Instruct-2507")])
def test_a_model_in_another_vendors_convention_suggests_the_same_size_first(name, first):
    hint = catalog.suggest(name)
    assert hint.startswith("did you mean ") and re.split(r"[ ?,]", hint.removeprefix("did you mean "))[0] == first, hint


@pytest.mark.parametrize(("typo", "meant"), [("eu-west-1", "eu-central-1"), ("cn-hangzou", "cn-hangzhou"),
                                             ("us-west-2", "us-west-1"), ("ap-southeast-9", "ap-southeast-1"),
                                             ("cn-shangai", "cn-shanghai")])
def test_a_region_typo_gets_a_region_of_the_same_geography(typo, meant):
    hint = regions.region_hint(typo)
    assert f"'{meant}'" in hint.split(";")[0], hint
    assert "us-" not in hint or typo.startswith("us-")
    assert regions.region_hint("sa-east-1").startswith("EAS runs in no sa region; use one of ")


def test_an_empty_capacity_snapshot_says_it_has_no_regions(tmp_path):
    empty = tmp_path / "capacity.json"
    empty.write_text("{}")
    path = write(tmp_path, yaml.safe_dump({"config": {"alicloud:region": "cn-hangzhou", "qwen3-eas:services": SERVICES}}))
    msg = plan_error(path, empty)
    assert "not deployed this run" not in msg
    assert "has no regions" in msg and "cn-hangzhou" in msg and "make capacity" in msg


def _parsers(monkeypatch, capsys) -> dict[str, argparse.ArgumentParser]:
    """Every subcommand's parser, caught as it parses ``--help``."""
    caught: dict[str, argparse.ArgumentParser] = {}
    real = argparse.ArgumentParser.parse_args

    def catch(self, args=None, namespace=None):
        caught[self.prog] = self
        return real(self, args, namespace)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", catch)
    for name in SUBCOMMANDS:
        with pytest.raises(SystemExit):
            cli_main([name, "--help"])
    capsys.readouterr()
    return caught


def test_help_texts_have_no_markup_and_every_argument_a_help_line(monkeypatch, capsys):
    parsers = _parsers(monkeypatch, capsys)
    assert set(parsers) == {f"{PROG} {name}" for name in SUBCOMMANDS}
    for prog, parser in parsers.items():
        text = parser.format_help()
        assert not re.search(r"``|:func:|:class:", text), f"{prog}: {text}"
        for action in parser._actions:
            assert action.help, f"{prog}: {action.option_strings or action.dest} has no help line"


def test_the_init_template_disables_the_default_alicloud_provider(tmp_path):
    text = init.create("perf", tmp_path).read_text()
    assert yaml.safe_load(text)["config"]["pulumi:disable-default-providers"] == ["alicloud"]
    assert json.loads(plan.make_plan(str(tmp_path / "Pulumi.perf.yaml"))[1]["chat.json"])


def test_messages_stay_one_problem_per_mistake():
    with pytest.raises(StackConfigError) as err:
        from components.core.plan import stack_plan
        from components.core.stack import stack_config

        from .conftest import raw_config
        stack_plan.plan_stack(stack_config.load("dev", raw_config({"chat": service(
            resource={"kind": "public", "instanceTypes": [A10, "ml.gu7i.c16m60.1-gu50"]})})))
    assert len(err.value.problems) == 1


@pytest.mark.parametrize("tool", ["conformance.run", "conformance.e2e"])
def test_the_make_conformance_tools_help_has_no_markup(tool):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", tool, "--help"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, check=True)
    assert "``" not in result.stdout and "usage: make " in result.stdout
