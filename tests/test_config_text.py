"""Values as Pulumi's CLI writes them: text that reads as a field's number or boolean is that value.

``pulumi config set --path 'qwen3-eas:services.chat.resource.bidPrice' 1.5`` writes ``"1.5"``
(pulumi 3.276.0); a quoted ``replicas: "3"`` is text too. Pulumi's typed getters parse such
text, and so does the loader (``components.core.stack.config_text``); a forgotten ``--path`` is told
the command that sets the value where it belongs.
"""

from __future__ import annotations

import math

import jsonschema
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from components.cli.schema import stack_file_schema
from components.core.errors import StackConfigError
from components.core.stack import config_text, stack_config

from .conftest import raw_config, service

SPOT = {"kind": "spot", "bidPrice": 1.2, "instanceTypes": ["ml.gu7i.c16m60.1-gu30"]}


def load(services, **extra):
    return stack_config.load("dev", raw_config(services, **extra)).config


def refused(services, **extra) -> list[str]:
    with pytest.raises(StackConfigError) as err:
        load(services, **extra)
    return [p.describe("dev") for p in err.value.problems]


def test_what_pulumi_config_set_path_writes_is_accepted():
    """The stack file `pulumi config set --path` leaves: a bid as "1.5", a length with a leading zero
    as "032768" (the CLI keeps those as text), and a hand-quoted replicas "3"."""
    chat = service(replicas="3", maxModelLen="032768", resource={**SPOT, "bidPrice": "1.5"})
    spec = load({"chat": chat}).services["chat"]
    assert (spec.replicas, spec.max_model_len, spec.resource.bid_price) == (3, 32768, 1.5)
    assert spec == load({"chat": service(replicas=3, maxModelLen=32768, resource={**SPOT, "bidPrice": 1.5})}).services["chat"]


def test_quoted_booleans_and_numbers_in_nested_fields_are_read_as_their_type():
    chat = service(toolCalling="true", thinking="False", protect="True", sizing={"strict": "false"},
                   autoscaling={"min": "1", "max": "4", "qps": "2.5"}, replicas="2",
                   rollingStrategy={"maxSurge": "1", "maxUnavailable": "0"},
                   resource={**SPOT, "spotProtection": "false", "onDemandFallback": "true"})
    spec = load({"chat": chat}, cost='{"warnAbovePerHour": "100.5"}').services["chat"]
    assert spec.tool_calling is True and spec.thinking is False and spec.protect is True
    assert spec.sizing.strict is False and spec.rolling_strategy.max_surge == 1
    assert (spec.autoscaling.min, spec.autoscaling.max, spec.autoscaling.qps) == (1, 4, 2.5)
    assert spec.resource.spot_protection is False and spec.resource.on_demand_fallback is True


@pytest.mark.parametrize(("field", "value", "words"), [
    ("replicas", "3.5", "is '3.5', not a whole number"),
    ("replicas", "3.0", "is '3.0', not a whole number"),
    ("replicas", "three", "is 'three', not a whole number"),
    ("maxModelLen", "1e4", "is '1e4', not a whole number"),
    ("toolCalling", "yes", "is 'yes', not true or false"),
    ("toolCalling", "TRUE", "is the text 'TRUE' in quotes, not the boolean true"),
])
def test_text_that_does_not_read_as_the_type_is_still_refused(field, value, words):
    (message,) = refused({"chat": service(**{field: value})})
    assert f"service 'chat', field '{field}': {words}" in message and "Fix: write" in message


@pytest.mark.parametrize("bid", ["abc", "nan", "inf", "1_000", "1,5", ""])
def test_a_bid_that_is_not_a_number_is_refused(bid):
    (message,) = refused({"chat": service(resource={**SPOT, "bidPrice": bid})})
    assert "field 'resource.bidPrice'" in message and "not a number" in message and "bidPrice: 12.5" in message


@given(st.integers(-10**12, 10**12))
def test_whole_number_text_reads_as_its_integer(n):
    assert config_text.as_int(str(n)) == n
    assert config_text.as_int(f"+{n}" if n >= 0 else str(n)) == n
    assert config_text.coerce(int, str(n)) == n


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_number_text_reads_as_its_float(x):
    assert config_text.as_float(repr(x)) == x
    assert config_text.coerce(float, repr(x)) == x


@given(st.text())
def test_text_reads_as_a_number_only_when_float_reads_it_the_same(text):
    """Property: what is accepted is what Python's float (Pulumi's get_float) reads, finite; never more."""
    value = config_text.as_float(text)
    if value is not None:
        assert math.isfinite(value) and value == float(text)


@given(st.text())
def test_text_reads_as_a_whole_number_only_when_int_reads_it_the_same(text):
    """Property: what is accepted is what Python's int (Pulumi's get_int) reads; never more."""
    value = config_text.as_int(text)
    if value is not None:
        assert value == int(text)
    else:
        assert config_text.coerce(int, text) == text


@given(st.text())
def test_text_reads_as_a_boolean_only_in_get_bools_words(text):
    assert config_text.as_bool(text) == {"true": True, "True": True, "false": False, "False": False}.get(text)


@given(st.one_of(st.text(), st.integers(), st.booleans(), st.none()))
def test_a_text_field_is_never_changed(value):
    """Model names, regions, image references stay exactly as written, whatever they look like."""
    assert config_text.coerce(str, value) == value
    chat = {"model": value, "servedModelName": value, "resource": {"kind": "public", "instanceTypes": [value]}}
    from components.core.stack import spec

    assert config_text.coerce(spec.ServiceSpec, chat) == chat


@pytest.mark.parametrize(("key", "value", "command"), [
    ("qwen3-eas:services.chat.resource.bidPrice", "2.5",
     "pulumi config set --path 'qwen3-eas:services.chat.resource.bidPrice' 2.5"),
    ("qwen3-eas:services.chat.regions[0]", "cn-shanghai",
     "pulumi config set --path 'qwen3-eas:services.chat.regions[0]' cn-shanghai"),
    ("qwen3-eas:cost.warnAbovePerHour", "100", "pulumi config set --path 'qwen3-eas:cost.warnAbovePerHour' 100"),
])
def test_a_forgotten_path_flag_is_told_the_command_that_sets_the_value(key, value, command):
    """Without --path, `pulumi config set` writes the path as one top-level key's name."""
    raw = raw_config({"chat": service()})
    raw[key] = value
    with pytest.raises(StackConfigError) as err:
        stack_config.load("dev", raw)
    (problem,) = err.value.problems
    message = problem.describe("dev")
    assert f"field '{key}'" in message and "without --path" in message
    assert command in message and f"pulumi config rm '{key}'" in message


def test_an_unknown_key_that_is_no_path_keeps_its_spelling_hint():
    raw = raw_config({"chat": service()})
    raw["qwen3-eas:servics"] = "{}"
    with pytest.raises(StackConfigError) as err:
        stack_config.load("dev", raw)
    assert "did you mean 'qwen3-eas:services'?" in str(err.value) and "--path" not in str(err.value)


def test_the_schema_accepts_what_the_loader_accepts_and_flags_what_it_refuses():
    """An editor reading the schema must not flag the file `pulumi config set --path` wrote."""
    document = yaml.safe_load("""
config:
  alicloud:region: cn-hangzhou
  qwen3-eas:services:
    chat:
      model: Qwen3-8B
      engine: vllm
      replicas: "3"
      resource: {kind: spot, bidPrice: "1.5", instanceTypes: [ml.gu7i.c16m60.1-gu30]}
""")
    jsonschema.validate(document, stack_file_schema())
    document["config"]["qwen3-eas:services"]["chat"]["replicas"] = "3.5"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, stack_file_schema())
    document["config"]["qwen3-eas:services"]["chat"]["replicas"] = 3
    document["config"]["qwen3-eas:services"]["chat"]["resource"]["bidPrice"] = "abc"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, stack_file_schema())
