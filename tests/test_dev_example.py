"""The dev example, the first stack a newcomer plans, comes out clean: no warning, verdict ok."""

from __future__ import annotations

import json

from components.cli import plan


def test_the_dev_example_plans_with_no_warning():
    _, files = plan.make_plan("dev")
    entry = json.loads(files["plan.json"])["chat"]
    assert entry["warnings"] == []
    assert entry["sizing"]["verdict"] == "ok"
    assert "--enforce-eager" not in json.loads(files["chat.json"])["containers"][0]["script"]
