"""The GitHub workflows: valid YAML, the jobs and steps the review and deploy process relies on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
STACKS = ("dev", "staging", "prod")


def load(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the bare key `on` as the boolean true.
    document["on"] = document.pop(True, document.get("on"))
    return document


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return job.get("steps", [])


def scripts(job: dict[str, Any]) -> str:
    return "\n".join(str(s.get("run", "")) for s in steps(job))


def uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in steps(job) if str(s.get("uses", "")).startswith(action + "@")]


ALL = sorted(p.name for p in WORKFLOWS.glob("*.yml"))
PR, COMMENT, DEPLOY = load("pull-request.yml"), load("pull-request-comment.yml"), load("deploy.yml")


@pytest.mark.parametrize("name", ALL)
def test_every_workflow_is_valid_yaml_with_least_privilege_defaults(name):
    workflow = load(name)
    assert workflow["name"] and workflow["on"] and workflow["jobs"]
    assert "permissions" in workflow, "set a default token permission"
    assert "pull_request_target" not in workflow["on"], "pull_request_target would run fork code with secrets"
    for job in workflow["jobs"].values():
        for step in steps(job):
            if "uses" in step:
                assert re.search(r"@v\d+", step["uses"]), f"pin {step['uses']} to a major version"


def test_pull_requests_run_the_tests_plan_and_diff_every_stack_without_secrets():
    assert "pull_request" in PR["on"]
    jobs = PR["jobs"]
    assert "make test" in scripts(jobs["test"])
    plan = jobs["plan"]
    assert "secrets." not in yaml.safe_dump(plan), "the fork-safe job must not use secrets"
    assert plan["permissions"] == {"contents": "read"}
    run = scripts(plan)
    assert "make plan STACK=" in run and "make diff STACK=" in run and "BASE=" in run
    assert all(stack in run for stack in STACKS)
    (checkout,) = uses(plan, "actions/checkout")
    assert checkout["with"]["fetch-depth"] == 0, "the diff needs the base commit"
    assert any(s["with"]["name"] == "pr-comment" for s in uses(plan, "actions/upload-artifact"))


def test_the_comment_is_posted_by_a_workflow_run_that_never_runs_pull_request_code():
    trigger = COMMENT["on"]["workflow_run"]
    assert trigger["workflows"] == [PR["name"]] and trigger["types"] == ["completed"]
    assert COMMENT["permissions"] == {}
    (job,) = COMMENT["jobs"].values()
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    assert not uses(job, "actions/checkout"), "never check out the pull request in a privileged workflow"
    (download,) = uses(job, "actions/download-artifact")
    assert download["with"]["name"] == "pr-comment"
    script = uses(job, "actions/github-script")[0]["with"]["script"]
    assert "/^[0-9]+$/" in script and "run.head_sha" in script and "<!-- qwen3-eas-plan -->" in script


def test_same_repository_pull_requests_preview_every_stack_with_the_policy_pack():
    preview = PR["jobs"]["preview"]
    assert "head.repo.full_name == github.repository" in preview["if"]
    assert preview["strategy"]["matrix"]["stack"] == list(STACKS)
    (action,) = uses(preview, "pulumi/actions")
    assert action["uses"] == "pulumi/actions@v6"
    assert action["with"]["command"] == "preview" and action["with"]["policyPacks"] == "policy"
    assert action["with"].get("comment-on-pr") in (None, False), "the plan comment is the one comment"


def test_merges_deploy_dev_then_staging_then_prod_behind_an_approval():
    assert DEPLOY["on"]["push"]["branches"] == ["main"]
    jobs = DEPLOY["jobs"]
    assert jobs["up-dev"]["needs"] == "test"
    assert jobs["up-staging"]["needs"] == "up-dev"
    assert jobs["up-prod"]["needs"] == "up-staging"
    environment = jobs["up-prod"]["environment"]
    assert (environment if isinstance(environment, str) else environment["name"]) == "production"
    assert DEPLOY["concurrency"]["cancel-in-progress"] is False
    for stack in STACKS:
        job = jobs[f"up-{stack}"]
        assert f"make plan STACK={stack}" in scripts(job)
        (action,) = uses(job, "pulumi/actions")
        assert action["with"]["command"] == "up" and action["with"]["stack-name"] == stack
        assert action["with"]["policyPacks"] == "policy"


def test_the_pulumi_cli_matches_the_pinned_sdk():
    sdk = re.search(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert sdk is not None
    for workflow in (PR, DEPLOY):
        for job in workflow["jobs"].values():
            for action in uses(job, "pulumi/actions"):
                assert str(action["with"]["pulumi-version"]) == sdk[1]


def test_engine_conformance_runs_when_engine_rules_or_templates_change():
    workflow = load("conformance.yml")
    paths = workflow["on"]["pull_request"]["paths"]
    assert "components/core/engines.py" in paths and "templates/**" in paths and "conformance/**" in paths
    assert "workflow_dispatch" in workflow["on"] and workflow["on"]["schedule"]
    jobs = workflow["jobs"]
    assert "make conformance" in scripts(jobs["conformance"]) and "make e2e" in scripts(jobs["e2e"])
    assert "secrets." not in yaml.safe_dump(workflow), "pull-request code runs here: no secrets"
    # The same action lines as the other workflows (they are pinned together).
    others = {s["uses"] for w in (PR, DEPLOY) for j in w["jobs"].values() for s in steps(j) if "uses" in s}
    assert {s["uses"] for j in jobs.values() for s in steps(j) if "uses" in s} <= others
