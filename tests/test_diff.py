"""``make diff``: per-service, per-field differences between two plans of a stack."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from components.cli import diff, diff_markdown, plan
from components.core.plan import report

from .conftest import A10, service

ROOT = Path(__file__).resolve().parent.parent


def stack_config(services: dict[str, Any]) -> dict[str, Any]:
    return {"alicloud:region": "cn-hangzhou", "qwen3-eas:services": services}


def side(write_stack, services: dict[str, Any]) -> dict[str, str]:
    """A stack planned by make_plan: its files, as the diff reads them."""
    _, files = plan.make_plan(str(write_stack(stack_config(services))))
    return files


def rows(change: diff.ServiceChange) -> dict[str, tuple[str | None, str | None]]:
    return {f.label: (f.before, f.after) for f in change.fields}


def test_a_changed_model_shows_the_model_its_files_and_its_served_name(write_stack):
    before = side(write_stack, {"chat": service()})
    after = side(write_stack, {"chat": service(model="Qwen3-4B")})
    (change,) = diff.compare(before, after)
    assert (change.key, change.step.step) == ("chat", "update")
    found = rows(change)
    assert found["model"] == ("Qwen3-8B", "Qwen3-4B")
    assert "--served-model-name Qwen3-4B" in found["containers[0].script"][1]
    assert found["storage[0].oss.path"][1].endswith("/Qwen3-4B/main/")
    text = diff.render("t", "main", [change])
    assert "### ~ `chat`: update in place" in text and "| `model` | `Qwen3-8B` | `Qwen3-4B` |" in text
    assert "+  --served-model-name Qwen3-4B \\" in text  # the script as a diff of its lines


def test_a_changed_bid_price_is_one_field_per_spot_entry_and_the_cost_it_implies(write_stack):
    spot = {"kind": "spot", "bidPrice": 1.2, "instanceTypes": [A10]}
    before = side(write_stack, {"router": service(resource=spot)})
    after = side(write_stack, {"router": service(resource={**spot, "bidPrice": 1.5})})
    (change,) = diff.compare(before, after)
    assert rows(change) == {"billing": (f"{A10} spot (bid 1.2 USD/h)", f"{A10} spot (bid 1.5 USD/h)"),
                            "hourlyCostBound": ("≤ 2.4 USD/h", "≤ 3 USD/h"),
                            "cloud.computing.instances[0].spot_price_limit": ("1.2", "1.5")}


def test_script_changes_are_one_row_and_a_diff_of_lines(write_stack):
    before = side(write_stack, {"chat": service()})
    after = side(write_stack, {"chat": service(toolCalling=True, replicas=2)})
    (change,) = diff.compare(before, after)
    found = rows(change)
    assert found["metadata.instance"] == ("1", "2")
    assert [label for label in found if "script" in label] == ["containers[0].script"]
    text = diff.render("t", "main", [change])
    assert "| `containers[0].script` | 9 lines | 11 lines; 2 differ, below |" in text
    assert "+  --enable-auto-tool-choice \\" in text and "+  --tool-call-parser hermes \\" in text


def test_an_added_and_a_removed_service(write_stack):
    before = side(write_stack, {"chat": service(), "old": service(model="Qwen3-0.6B")})
    after = side(write_stack, {"chat": service(), "new": service(model="Qwen3-1.7B", engine="sglang")})
    added, removed = diff.compare(before, after)
    assert (added.key, added.step.step, removed.key, removed.step.step) == ("new", "create", "old", "delete")
    assert rows(added)["model"] == (None, "Qwen3-1.7B") and rows(added)["region"] == (None, "cn-hangzhou")
    assert removed.fields == ()  # one entry, not a row per field of what it ran
    text = diff.render("t", "main", [added, removed])
    assert text.startswith("## `t`: 1 to create, 1 to delete (base `main`)")
    assert "### + `new`: create" in text and "### - `old`: delete" in text
    assert "| `model` | — | `Qwen3-1.7B` |" in text and "removed: `old`, its endpoint stops" in text


def test_no_change_prints_exactly_no_changes(write_stack):
    before = side(write_stack, {"chat": service()})
    after = side(write_stack, {"chat": service()})
    assert diff.compare(before, after) == []
    assert [c.step.step for c in diff.compare(before, after, keep_same=True)] == ["same"]
    assert diff.render("t", "main", []) == "no changes\n"


def test_a_base_that_does_not_plan_shows_every_service_as_added_with_the_error(write_stack):
    after = side(write_stack, {"chat": service()})
    text = diff.render("t", "main", diff.compare(None, after), base_error="error: no stack 't'")
    assert "could not be planned" in text and "error: no stack 't'" in text and "### + `chat`: create" in text
    head = diff.render_head_error("t", "error: stack 't', service 'chat', field 'model': unknown")
    assert "the working tree does not plan" in head and "field 'model'" in head


def test_cells_stay_inside_their_table():
    assert diff_markdown._cell("a|b") == "`a\\|b`" and diff_markdown._cell(None) == "—" and diff_markdown._cell("") == '`""`'


def _git(cwd: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false",
                    *args], cwd=cwd, env=env, check=True, capture_output=True, timeout=60)


def test_the_cli_plans_the_base_with_its_own_code_in_a_git_repository(tmp_path):
    repo = tmp_path / "repo"
    for name in ("components", "templates", "stacks"):
        shutil.copytree(ROOT / name, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("__main__.py", "Pulumi.yaml"):
        shutil.copy(ROOT / name, repo / name)
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "base")
    dev = repo / "stacks" / "Pulumi.dev.yaml"
    dev.write_text(dev.read_text().replace("replicas: 1", "replicas: 2"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") and k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-m", "components.cli.diff", "dev", "--base", "HEAD", "--out", "d.md",
                             "--json", "d.json"], cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("## `dev`: 1 to update in place (base `HEAD` at ")
    assert "| `metadata.instance` | `1` | `2` |" in result.stdout
    assert (repo / "d.md").read_text() == result.stdout
    announced = json.loads((repo / "d.json").read_text())
    assert announced["services"]["chat"]["step"] == "update" and announced["headError"] is None
    assert announced["services"]["chat"]["resource"] == {"type": "alicloud:pai/service:Service", "name": "chat-service"}
    unknown = subprocess.run([sys.executable, "-m", "components.cli.diff", "dev", "--base", "nosuchref"],
                             cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 2 and "'nosuchref' is not a commit" in unknown.stderr


def test_removed_settings_are_flagged_as_leaving_the_running_service(write_stack):
    """The provider's update merges, so a dropped key would stay on the service (issue 10, item 4):
    the diff says which keys go and that they will be removed, not only that a cell is empty."""
    scaled = service(autoscaling={"min": 1, "max": 3, "qps": 10}, resource={"kind": "spot", "bidPrice": 1.2,
                                                                             "instanceTypes": [A10]})
    plain = service(resource={"kind": "public", "instanceTypes": [A10]})
    files = {name: plan.make_plan(str(write_stack(stack_config({"chat": spec}), name=name)))[1]
             for name, spec in (("before", scaled), ("after", plain))}
    removed = diff.removals(diff.load_configs(files["before"]), diff.load_configs(files["after"]))
    assert "autoscaler" in removed["chat"]
    (change,) = diff.compare(files["before"], files["after"])
    assert change.removed == removed["chat"]
    text = diff.render("t", "main", [change])
    assert "- removed: `autoscaler` — will be removed from the running service" in text
    # Nothing removed, nothing flagged.
    assert diff.removals(diff.load_configs(files["after"]), diff.load_configs(files["before"])) == {}


def test_a_raised_bid_shows_the_billing_and_how_far_the_hourly_bound_moved(write_stack):
    spot = {"kind": "spot", "bidPrice": 1.2, "instanceTypes": [A10]}
    scale = {"min": 2, "max": 6, "qps": 20}
    before = side(write_stack, {"chat": service(replicas=2, autoscaling=scale, resource=spot)})
    after = side(write_stack, {"chat": service(replicas=2, autoscaling={**scale, "max": 8},
                                               resource={**spot, "bidPrice": 1.5})})
    (change,) = diff.compare(before, after)
    found = rows(change)
    assert found["replicas"] == ("2 (2–6)", "2 (2–8)")
    assert found["billing"] == (f"{A10} spot (bid 1.2 USD/h)", f"{A10} spot (bid 1.5 USD/h)")
    assert found["hourlyCostBound"] == ("≤ 8.4 USD/h", "≤ 13.5 USD/h")  # bid x (most replicas + 1 surge)
    text = diff.render("t", "main", [change])
    assert "| `hourlyCostBound` | `≤ 8.4 USD/h` | `≤ 13.5 USD/h` (+5.1 USD/h) |" in text


def test_a_bound_that_becomes_unknown_shows_no_amount_of_change(write_stack):
    spot = {"kind": "spot", "bidPrice": 1.2, "instanceTypes": [A10]}
    before = side(write_stack, {"chat": service(resource=spot)})
    after = side(write_stack, {"chat": service(resource={**spot, "onDemandFallback": True})})
    text = diff.render("t", "main", diff.compare(before, after))
    assert "| `hourlyCostBound` | `≤ 2.4 USD/h` | `unknown (spot ≤ 2.4 USD/h)` |" in text
    raised = side(write_stack, {"chat": service(resource={**spot, "bidPrice": 2, "onDemandFallback": True})})
    text = diff.render("t", "main", diff.compare(after, raised))
    assert "| `unknown (spot ≤ 2.4 USD/h)` | `unknown (spot ≤ 4 USD/h)` (+1.6 USD/h) |" in text


IMAGE = "eas-registry-vpc.cn-hangzhou.cr.aliyuncs.com/pai-eas/vllm:0.11.2"
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64


def test_pinning_and_moving_an_image_digest_is_its_own_row(write_stack):
    tagged = side(write_stack, {"chat": service(image=IMAGE)})
    pinned = side(write_stack, {"chat": service(image=f"{IMAGE}@{DIGEST_A}")})
    moved = side(write_stack, {"chat": service(image=f"{IMAGE}@{DIGEST_B}")})
    found = rows(diff.compare(tagged, pinned)[0])
    assert found["imageDigest"] == (None, DIGEST_A)
    assert found["containers[0].image"] == (IMAGE, f"{IMAGE}@{DIGEST_A}")
    (change,) = diff.compare(pinned, moved)
    assert rows(change)["imageDigest"] == (DIGEST_A, DIGEST_B)
    assert f"| `imageDigest` | `{DIGEST_A}` | `{DIGEST_B}` |" in diff.render("t", "main", [change])


def stack_cost(write_stack, services: dict[str, Any], **options: Any) -> Any:
    config = stack_config(services) | ({"qwen3-eas:cost": options} if options else {})
    _, files = plan.make_plan(str(write_stack(config)))
    return diff.load_stack_cost(files)


def test_the_stacks_hourly_bound_and_how_far_it_moved_are_in_the_diff(write_stack):
    spot = {"kind": "spot", "bidPrice": 1.2, "instanceTypes": [A10]}
    before = stack_cost(write_stack, {"a": service(resource=spot), "b": service(resource=spot)})
    after = stack_cost(write_stack, {"a": service(resource={**spot, "bidPrice": 2}), "b": service(resource=spot)})
    lines = diff.stack_cost_lines(before, after, services_changed=True)
    assert "| `bound` | `≤ 4.8 USD/h` | `≤ 6.4 USD/h` (+1.6 USD/h) |" in lines
    assert "at most 6.4 USD/h (`a` 4 + `b` 2.4)" in lines
    text = diff.render("t", "main", [], cost_lines=lines)
    assert text.startswith("## `t`: the stack's cost changed (base `main`)") and "### Hourly cost of the stack" in text


def test_a_bound_over_the_threshold_is_a_line_in_the_diff(write_stack):
    spot = {"kind": "spot", "bidPrice": 1.2, "instanceTypes": [A10]}
    before = stack_cost(write_stack, {"a": service(resource=spot)}, warnAbovePerHour=3)
    after = stack_cost(write_stack, {"a": service(resource=spot, replicas=2)}, warnAbovePerHour=3)
    lines = diff.stack_cost_lines(before, after, services_changed=True)
    assert ("- ⚠️ the stack may cost at most 3.6 USD/h counting the surge during updates, above "
            "qwen3-eas:cost.warnAbovePerHour 3 USD/h") in lines
    # Nothing changed: nothing to say, however high the bound.
    assert diff.stack_cost_lines(after, after, services_changed=False) == []


def test_a_base_from_before_the_stack_file_is_summed_from_its_services(write_stack):
    spot = {"kind": "spot", "bidPrice": 1.2, "instanceTypes": [A10]}
    _, files = plan.make_plan(str(write_stack(stack_config({"a": service(resource=spot)}))))
    del files[plan.STACK_FILE]
    assert report.stack_bound_text(diff.load_stack_cost(files)) == "≤ 2.4 USD/h"


def test_a_stack_with_a_service_of_no_figure_shows_the_known_part_and_how_far_it_moved(write_stack):
    """Issue 28: `unknown → unknown` while each spot service's row had a bound."""
    spot = {"kind": "spot", "bidPrice": 1.2, "instanceTypes": [A10]}
    public = {"kind": "public", "instanceTypes": [A10]}
    before = stack_cost(write_stack, {"a": service(resource=spot), "c": service(resource=public)})
    after = stack_cost(write_stack, {"a": service(resource={**spot, "bidPrice": 2}), "c": service(resource=public)})
    lines = diff.stack_cost_lines(before, after, services_changed=True)
    assert "| `bound` | ≤ 2.4 USD/h + unknown (`c`) | ≤ 4 USD/h + unknown (`c`) (+1.6 USD/h) |" in lines
    assert "unknown: no sourced price for the on-demand types of `c`; the rest at most 4 USD/h (`a` 4)" in lines
