"""``make diff`` and ``plan.md`` show the step the engine takes per service (issue 18, item 1).

Both sides are planned by ``make_plan`` (the real program on the mock runtime), so ``plan.json``
carries what the program registers: the EAS service's inputs and its resource options. The
step rules themselves are read from the engine's source (``components.core.plan.steps``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from components.cli import diff, plan
from components.core.hardware.hardware_choice import RunsOn
from components.core.plan import steps
from components.core.running import deployed

from .conftest import service

TWO_REGIONS = ["cn-hangzhou", "cn-beijing"]


@pytest.fixture
def planned(tmp_path):
    """Stack ``t`` planned by make_plan, as its files: ``planned(services, protect=True)``. Each
    call writes its own copy of ``Pulumi.t.yaml``: both sides of a diff are the same stack."""
    count = iter(range(1000))

    def make(services: dict[str, Any], **extra: Any) -> dict[str, str]:
        config: dict[str, Any] = {"alicloud:region": "cn-hangzhou", "qwen3-eas:services": services}
        config.update({f"qwen3-eas:{k}": v for k, v in extra.items()})
        path = tmp_path / str(next(count)) / "Pulumi.t.yaml"
        path.parent.mkdir()
        path.write_text(yaml.safe_dump({"config": config}, sort_keys=True))
        return plan.make_plan(str(path))[1]

    return make


def changes(before: dict[str, str], after: dict[str, str]) -> dict[str, diff.ServiceChange]:
    return {c.key: c for c in diff.compare(before, after)}


def test_plan_json_states_the_resource_options_and_inputs_the_program_registers(planned):
    files = planned({"kept": service(), "free": service(protect=False, retainOnDelete=True)}, protect=True)
    entries = json.loads(files["plan.json"])
    kept = entries["kept"]["resource"]
    assert kept["type"] == "alicloud:pai/service:Service" and kept["name"] == "kept-service"
    assert kept["provider"] == "alicloud-cn-hangzhou"
    assert kept["options"] == {"protect": True, "retainOnDelete": False, "deleteBeforeReplace": False,
                               "replacementTrigger": "cn-hangzhou"}
    assert kept["tags"]["model"] == "Qwen3-8B" and kept["tags"]["managed-by"] == "qwen3-eas"
    assert entries["free"]["resource"]["options"]["protect"] is False
    assert entries["free"]["resource"]["options"]["retainOnDelete"] is True
    md = files["plan.md"]
    kept_section = md.split("### `kept`")[1].split("### ")[0]
    assert "- resource options: protect" in kept_section and "cannot be deleted or replaced" in kept_section
    assert "retainOnDelete" in md.split("### `free`")[1]


def test_a_changed_field_is_an_update_in_place(planned):
    (change,) = changes(planned({"chat": service()}), planned({"chat": service(replicas=2)})).values()
    assert change.step.step == steps.UPDATE and change.step.order is None
    text = diff.render("t", "main", [change])
    assert "### ~ `chat`: update in place" in text and "endpoint and token stay" in text


def test_a_region_change_is_a_replacement_that_creates_first(planned):
    before = planned({"chat": service(regions=TWO_REGIONS)})
    after = planned({"chat": service(regions=list(reversed(TWO_REGIONS)))})
    (change,) = changes(before, after).values()
    assert (change.step.step, change.step.order, change.step.refused_by) == ("replace", "create-first", None)
    text = diff.render("t", "main", [change])
    assert "### +/- `chat`: replace, create first" in text
    assert "new endpoint and a new token" in text and "cn-beijing" in text


def test_a_protected_service_that_moves_is_refused_unless_unprotected_in_the_same_change(planned):
    before = planned({"chat": service(regions=TWO_REGIONS)}, protect=True)
    moved = planned({"chat": service(regions=list(reversed(TWO_REGIONS)))}, protect=True)
    unprotected = planned({"chat": service(regions=list(reversed(TWO_REGIONS)), protect=False)}, protect=True)
    refused = changes(before, moved)["chat"].step
    assert (refused.step, refused.refused_by) == ("replace", "protect")
    assert "set protect: false on it in this same change" in refused.what
    assert changes(before, unprotected)["chat"].step.refused_by is None


def test_a_protect_change_alone_is_shown_and_is_no_change_to_the_service(planned):
    """Today a protect true -> false read "no changes"."""
    before = planned({"chat": service()}, protect=True)
    after = planned({"chat": service()}, protect=False)
    (change,) = changes(before, after).values()
    assert change.step.step == steps.SAME
    rows = {f.label: (f.before, f.after) for f in change.fields}
    assert rows == {"protect": ("true", "false")}
    text = diff.render("t", "main", [change])
    assert text != diff.NO_CHANGES + "\n"
    assert "| `protect` | `true` | `false` |" in text and "not touched" in text


def test_a_removed_service_is_one_entry_not_rows_of_its_start_script(planned):
    before = planned({"chat": service(), "router": service(model="Qwen3-4B")})
    after = planned({"chat": service()})
    (change,) = changes(before, after).values()
    assert change.step.step == steps.DELETE
    text = diff.render("t", "main", [change])
    assert "### - `router`: delete" in text
    assert "removed: `router`, its endpoint stops" in text
    assert "|" not in text.split("### - `router`")[1] and "--served-model-name" not in text


def test_removing_a_protected_service_says_the_engine_refuses_and_a_retained_one_keeps_running(planned):
    before = planned({"chat": service(), "router": service(model="Qwen3-4B", protect=True),
                      "kept": service(model="Qwen3-1.7B", retainOnDelete=True)})
    found = changes(before, planned({"chat": service()}))
    assert found["router"].step.refused_by == "protect"
    assert "Set protect: false on it and run `pulumi up` first" in found["router"].step.what
    assert found["kept"].step.retained and "running, and billed" in found["kept"].step.what


def test_a_changed_start_script_is_a_diff_of_its_lines(planned):
    (change,) = changes(planned({"chat": service()}),
                        planned({"chat": service(model="Qwen3-4B", toolCalling=True)})).values()
    text = diff.render("t", "main", [change])
    block = text.split("```diff\n", 1)[1].split("```", 1)[0]
    assert "-  --served-model-name Qwen3-8B \\" in block.splitlines()
    assert "+  --served-model-name Qwen3-4B \\" in block.splitlines()
    assert "+  --tool-call-parser hermes \\" in block.splitlines()
    assert "   --port 8000 \\" in block.splitlines()  # context, unchanged
    assert "script --served-model-name" not in text  # no more shell-word tokens as rows


def test_an_added_service_is_a_create(planned):
    found = changes(planned({"chat": service()}), planned({"chat": service(), "new": service(model="Qwen3-4B")}))
    assert set(found) == {"new"} and found["new"].step.step == steps.CREATE
    assert "### + `new`: create" in diff.render("t", "main", list(found.values()))


def test_the_summary_line_counts_steps(planned):
    before = planned({"a": service(), "b": service(model="Qwen3-4B")})
    after = planned({"a": service(replicas=2), "c": service(model="Qwen3-1.7B")})
    text = diff.render("t", "main", diff.compare(before, after))
    assert text.startswith("## `t`: 1 to create, 1 to update in place, 1 to delete (base `main`)")


def test_the_json_announcement_has_every_service_and_its_step(planned):
    before = planned({"same": service(), "moved": service(regions=TWO_REGIONS), "gone": service(model="Qwen3-4B")})
    after = planned({"same": service(), "moved": service(regions=list(reversed(TWO_REGIONS)))})
    announced = diff.announcement("t", "main", diff.compare(before, after, keep_same=True), commit="abc")
    assert announced["stack"] == "t" and announced["base"] == "main" and announced["commit"] == "abc"
    svc = announced["services"]
    assert svc["same"]["step"] == "same" and svc["gone"]["step"] == "delete"
    assert svc["moved"] == {**svc["moved"], "step": "replace", "order": "create-first", "refusedBy": None,
                            "retained": False}
    assert svc["moved"]["resource"] == {"type": "alicloud:pai/service:Service", "name": "moved-service"}
    assert svc["moved"]["region"] == {"before": "cn-hangzhou", "after": "cn-beijing"}


@pytest.mark.parametrize("before_protect,after_protect,refused", [(True, True, True), (True, False, False),
                                                                   (False, True, False), (False, False, False)])
def test_replacement_refusal_follows_the_engine_rule(before_protect, after_protect, refused):
    """``new.Protect && old.Protect`` (pulumi/pulumi step_generator.go): unprotect-and-replace is allowed."""
    old = steps.Side("chat_dev", "cn-hangzhou", {"a": 1}, {}, None, before_protect, False)
    new = steps.Side("chat_dev", "cn-beijing", {"a": 1}, {}, None, after_protect, False)
    assert (steps.announce(old, new).refused_by == "protect") is refused


def test_a_plan_from_older_code_without_options_still_gets_a_step():
    old = steps.Side.from_plan({"name": "chat_dev", "region": "cn-hangzhou"}, {"a": 1})
    new = steps.Side("chat_dev", "cn-hangzhou", {"a": 2}, {"model": "Qwen3-8B"}, None, True, False)
    assert steps.announce(old, new).step == steps.UPDATE
    assert steps.announce(old, steps.Side("chat_dev", "cn-hangzhou", {"a": 1}, {"x": "y"})).step == steps.SAME


def test_a_base_planned_by_older_code_shows_no_option_rows(planned):
    """The base's code may predate ``resource`` in plan.json: unknown options are not a change."""
    after = planned({"chat": service()}, protect=True)
    summaries = json.loads(after["plan.json"])
    older = {**after, "plan.json": json.dumps({k: {f: v for f, v in e.items() if f != "resource"}
                                               for k, e in summaries.items()})}
    assert diff.compare(older, after) == []


def _meta(status: str) -> dict[str, Any]:
    return {"InstanceType": "ml.gu7i.c16m60.1-gu30", "GPU": "GU30", "GPUAmount": 1, "GPUMemory": 24, "CPU": 16,
            "Memory": 60, "StockStatus": status, "IsAvailable": True}


def test_with_a_snapshot_a_service_no_region_can_run_is_held_back_and_a_running_one_stays(planned, tmp_path):
    """`make diff CAPACITY=`: the working tree planned as `pulumi preview` plans it with that stock."""
    base = planned({"chat": service(regions=TWO_REGIONS)})
    snapshot = tmp_path / "capacity.json"
    snapshot.write_text(json.dumps({region: [_meta("NoStock")] for region in TWO_REGIONS}))
    head = tmp_path / "head" / "Pulumi.t.yaml"
    head.parent.mkdir()
    head.write_text(yaml.safe_dump({"config": {"alicloud:region": "cn-hangzhou", "qwen3-eas:services": {
        "chat": service(regions=TWO_REGIONS), "fresh": service(regions=TWO_REGIONS)}}}))
    running = deployed.from_plan(json.loads(base["plan.json"]))
    preview = plan.preview_plan(str(head), snapshot, running)
    assert set(preview.held_back) == {"fresh"} and "no region can run this service now" in preview.held_back["fresh"]
    found = {c.key: c for c in diff.compare(base, preview.files, keep_same=True, held_back=preview.held_back)}
    # The running service stays where it runs, whatever the stock (as DescribeService keeps it).
    assert found["chat"].step.step == steps.SAME
    assert (found["fresh"].step.step, found["fresh"].regions) == ("held-back", (None, None))
    text = diff.render("t", "main", list(found.values()))
    assert "### ! `fresh`: held back" in text and "`pulumi up` fails at its end" in text and "no stock" in text
    announced = diff.announcement("t", "main", list(found.values()))["services"]
    assert announced["fresh"]["step"] == "held-back" and "cn-beijing" in announced["fresh"]["heldBack"]


def test_a_service_allowed_to_move_is_not_kept_in_place(tmp_path):
    """What runs keeps a service in place as DescribeService does: not one that may move, nor one whose
    region is no longer among its candidates."""
    head = tmp_path / "Pulumi.t.yaml"
    head.write_text(yaml.safe_dump({"config": {"alicloud:region": "cn-hangzhou", "qwen3-eas:services": {
        "a": service(regions=["cn-beijing", "cn-hangzhou"]),
        "b": service(regions=["cn-beijing", "cn-hangzhou"], allowRegionMove=True),
        "c": service(regions=["cn-beijing"])}}}))
    running = {key: deployed.Deployed(key, f"{key}_t", "cn-hangzhou", RunsOn("public", ("ml.gu7i.c16m60.1-gu30",)))
               for key in ("a", "b", "c")}
    snapshot = tmp_path / "capacity.json"
    snapshot.write_text(json.dumps({region: [_meta("WithStock")] for region in TWO_REGIONS}))
    entries = json.loads(plan.preview_plan(str(head), snapshot, running).files["plan.json"])
    assert {key: entry["region"] for key, entry in entries.items()} == {
        "a": "cn-hangzhou", "b": "cn-beijing", "c": "cn-beijing"}


def test_an_eas_name_that_changes_is_called_out_on_the_update():
    old = steps.Side("chat_dev", "cn-hangzhou", {"metadata": {"name": "chat_dev"}}, {}, None, False, False)
    new = steps.Side("chat_dev2", "cn-hangzhou", {"metadata": {"name": "chat_dev2"}}, {}, None, False, False)
    step = steps.announce(old, new)
    assert step.step == steps.UPDATE and "EAS name changes from `chat_dev` to `chat_dev2`" in step.notes[0]


def test_the_replacement_trigger_and_the_registered_order_decide_a_replacement():
    """The trigger the program registers is what the engine compares (the region today); the order
    is the program's deleteBeforeReplace (delete first only where it runs in the planned region)."""
    old = steps.Side("chat_dev", "cn-hangzhou", {"a": 1}, {}, None, False, False, "cn-hangzhou")
    renamed = steps.Side("x_chat_dev", "cn-hangzhou", {"a": 1}, {}, None, False, False, "cn-hangzhou/x_chat_dev")
    assert (steps.announce(old, renamed).step, steps.announce(old, renamed).order) == ("replace", "create-first")
    in_place = steps.Side("chat_dev", "cn-hangzhou", {"a": 1}, {}, None, False, False, "cn-hangzhou/b", True)
    assert steps.announce(old, in_place).order == "delete-first"
    assert steps.announce(old, in_place).mark == "-/+" and "deleted first" in steps.announce(old, in_place).what
