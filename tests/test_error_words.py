"""Every message about a broken stack file says what is wrong and what to write, in the file's terms.

Pydantic's own words (``dictionary``, ``after validation``, union member labels such as
``constrained-int``, ``[key]``) and the generic "Fix: correct <key>" must never reach the user.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.core.errors import StackConfigError
from components.core.plan import stack_plan
from components.core.stack import stack_config

from .conftest import service

JARGON = ("Fix: correct", "dictionary", "instance of", "after validation", "constrained", "function-after",
          "[key]", "nput should", "literal", "union", "model_type", "object to extract fields from",
          "ServiceSpec", "StackConfig", "Value error", "validation error", "pydantic", "type=", "valid string",
          "valid integer", "valid list", "valid boolean")

FULL = service(
    resource={"kind": "spot", "bidPrice": 10, "instanceTypes": ["ml.gu7i.c16m60.1-gu30"],
              "instanceTypeFacts": {"ml.gu7i.c16m60.1-gu30": {"gpus": 1, "gpuType": "GU30"}}},
    regions=["cn-hangzhou"], autoscaling={"min": 1, "max": 2, "qps": 5},
    rollingStrategy={"maxSurge": 1, "maxUnavailable": 0}, sizing={"strict": True},
    network={"vpcId": "vpc-a1", "vswitchId": "vsw-a1", "securityGroupId": "sg-a1"},
)


def messages(services: Any, **extra: Any) -> list[str]:
    raw = {"alicloud:region": "cn-hangzhou",
           "qwen3-eas:services": services if isinstance(services, str) else json.dumps(services)}
    raw.update({f"qwen3-eas:{k}": v for k, v in extra.items()})
    try:
        stack_plan.plan_stack(stack_config.load("dev", raw))
    except StackConfigError as err:
        return [p.describe("dev") for p in err.problems]
    return []


def assert_plain(found: list[str]) -> None:
    for message in found:
        assert not [word for word in JARGON if word in message], message
        assert ". Fix: " in message and not message.endswith("Fix: .")


@pytest.mark.parametrize(("services", "field", "fix"), [
    ({}, "qwen3-eas:services", "list at least one service under qwen3-eas:services, e.g. chat: {model:"),
    ({"chat": service(resource={"kind": "public", "instanceTypes": [0]})}, "resource.instanceTypes[0]",
     "write instanceTypes[0] as text, e.g. ml.gu7i.c16m60.1-gu30"),
    ({"Chat!": service()}, "qwen3-eas:services.Chat!", "write a service key"),
    ({"chat": service(autoscaling={"min": 1, "max": 2})}, "autoscaling", "add qps"),
    ({"chat": service(autoscaling={"min": 3, "max": 2, "qps": 1})}, "autoscaling.min", "set min to 2 or less"),
    ({"chat": service(regions=["cn-hangzhou", "cn-hangzhou"])}, "regions", "list each region once"),
    ({"chat": service(rollingStrategy={"maxSurge": "abc"})}, "rollingStrategy.maxSurge",
     "write maxSurge as a whole number or a percentage"),
    ({"chat": service(autoscaling={"min": 1, "max": 2, "qps": 1, "target": 3})}, "autoscaling.target",
     "the keys allowed here are min, max, qps, cpu"),
    ({"chat": "Qwen3-8B"}, "qwen3-eas:services.chat", "write chat as a mapping of keys to values"),
])
def test_the_issue_examples_say_what_to_write(services, field, fix):
    found = messages(services)
    assert any(f"field '{field}'" in m and fix in m for m in found), found
    assert_plain(found)


_junk = st.one_of(st.none(), st.booleans(), st.integers(-3, 200000), st.floats(allow_nan=False, width=16),
                  st.text(max_size=6), st.builds(list), st.builds(dict), st.lists(st.integers(-1, 3), max_size=2),
                  st.dictionaries(st.sampled_from(["min", "kind", "x", "gpus", "qps"]), st.integers(-1, 3),
                                  max_size=2))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*prefix, index))
    return found


def _set(root: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    holder = root
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = value
    return root


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_breakage_never_gives_jargon_or_a_generic_fix(data):
    services: Any = {"chat": copy.deepcopy(FULL)}
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(services)
        path = data.draw(st.sampled_from(paths))
        action = data.draw(st.sampled_from(["replace", "drop", "add"]))
        if action == "drop" and path and isinstance(_parent(services, path), dict):
            del _parent(services, path)[path[-1]]
        elif action == "add" and isinstance(_get(services, path), dict):
            _get(services, path)[data.draw(st.sampled_from(["maxModelLength", "kindd", "x", "Min", "gpu"]))] = 1
        else:
            services = _set(services, path, data.draw(_junk))
    extra = data.draw(st.sampled_from([{}, {"workspaceId": 12}, {"workspaceId": "abc"}, {"placements": "[1]"},
                                       {"placements": json.dumps({"Chat": "cn-hangzhou"})}]))
    assert_plain(messages(services, **extra))


def _get(root: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        root = root[step]
    return root


def _parent(root: Any, path: tuple[Any, ...]) -> Any:
    return _get(root, path[:-1])
