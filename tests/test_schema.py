"""The committed JSON Schema is current, accepts the example stacks and rejects bad ones."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from components.cli import init, stacks
from components.cli.schema import render, stack_file_schema

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schema" / "stack-config.schema.json"


def test_committed_schema_is_up_to_date():
    assert SCHEMA.read_text() == render(), "run `make schema` and commit the result"


@pytest.mark.parametrize("stack", stacks.names())
def test_every_stack_file_validates(stack):
    document = yaml.safe_load(stacks.stack_file(stack).read_text())
    jsonschema.validate(document, stack_file_schema())


def test_a_new_stack_from_the_template_validates_also_with_its_encryption_salt():
    document = yaml.safe_load(init.render("perf"))
    document["encryptionsalt"] = "v1:c2FsdA==:v1:aXY=:Y2lwaGVy"  # what `pulumi stack init` adds
    jsonschema.validate(document, stack_file_schema())


@pytest.mark.parametrize(("mutate", "fragment"), [
    (lambda c: c["qwen3-eas:services"]["chat"].update(model="Qwen3-9B"), "Qwen3-9B"),
    (lambda c: c["qwen3-eas:services"]["chat"].update(replicas=0), "0"),
    (lambda c: c.update({"qwen3-eas:servics": {}}), "qwen3-eas:servics"),
    (lambda c: c["qwen3-eas:services"]["chat"]["resource"].update(kind="cheap"), "cheap"),
])
def test_schema_flags_what_the_loader_refuses(mutate, fragment):
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    mutate(document["config"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, stack_file_schema())
