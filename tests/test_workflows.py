"""The GitHub workflows: valid YAML, the jobs and steps the review and deploy process relies on,
the supply-chain and credential rules of issue 13 (pinned actions, OIDC role sessions, least
privilege), with zizmor as the security linter, and the separation of issue 18 and 22: each stack's
secrets in its own environments, pull requests preview only what they may read, only main deploys,
one deployment queue per stack."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
# The stacks deployed, in order: written out in deploy.yml (prod waits behind its environment) and
# previewed on pull requests. Planning and diffing covers every stack file instead.
DEPLOYED = ("dev", "staging", "prod")
# Where each stack's passphrase, state location and role live (docs/security.md): the environment
# its update runs in, and the ones its read-only previews run in. No environment serves two
# stacks, so no job can hold another stack's secrets.
ENVIRONMENTS = {
    "dev": {"up": "dev", "preview": "dev-preview"},
    "staging": {"up": "staging"},
    "prod": {"up": "production", "preview": "production-preview"},
}
# Environments whose deployment rule admits pull requests (refs/pull/*/merge); all others admit
# the main branch only.
ADMIT_PULL_REQUESTS = {"dev-preview"}
MAIN_ONLY = "github.ref == 'refs/heads/main'"


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


def combinations(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The job's matrix combinations (lists crossed, then `include` entries); one empty one without
    a matrix."""
    matrix = dict(job.get("strategy", {}).get("matrix", {}))
    include = list(matrix.pop("include", []))
    crossed = [dict(zip(matrix, values, strict=True)) for values in itertools.product(*matrix.values())] if matrix else []
    return crossed + include or [{}]


def resolve(value: Any, combination: dict[str, Any]) -> str:
    """A value with its `${{ matrix.x }}` expressions filled in from one combination."""
    return re.sub(r"\$\{\{\s*matrix\.(\w+)\s*\}\}", lambda m: str(combination[m[1]]), str(value))


def environment_of(job: dict[str, Any], combination: dict[str, Any]) -> str | None:
    environment = job.get("environment")
    if isinstance(environment, dict):
        environment = environment.get("name")
    return None if environment is None else resolve(environment, combination)


def pulumi_runs() -> list[tuple[str, str, str, str | None, dict[str, Any]]]:
    """Every Pulumi CLI run in the workflows: (workflow/job, command, stack, environment, job)."""
    runs = []
    for workflow_name, workflow in (("pr", PR), ("deploy", DEPLOY)):
        for job_name, job in workflow["jobs"].items():
            for action in uses(job, "pulumi/actions"):
                for combination in combinations(job):
                    runs.append((f"{workflow_name}/{job_name}", action["with"]["command"],
                                 resolve(action["with"]["stack-name"], combination),
                                 environment_of(job, combination), job))
    return runs


def needed(jobs: dict[str, Any], name: str) -> set[str]:
    """Every job `name` waits for, directly or through others."""
    direct = jobs[name].get("needs", [])
    direct = [direct] if isinstance(direct, str) else list(direct)
    return set(direct).union(*(needed(jobs, n) for n in direct)) if direct else set()


ALL = sorted(p.name for p in WORKFLOWS.glob("*.yml"))
PR, COMMENT, DEPLOY = load("pull-request.yml"), load("pull-request-comment.yml"), load("deploy.yml")


# `uses: owner/repo@<40 hex> # vX.Y.Z`: the SHA is what runs, the comment is what Dependabot and
# a reader compare. YAML drops comments, so this reads the text.
PINNED_USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<action>[\w.-]+/[\w./-]+)@(?P<ref>\S+)(?P<rest>.*)$")
SHA = re.compile(r"[0-9a-f]{40}")
VERSION_COMMENT = re.compile(r"^\s+#\s+v\d+\.\d+\.\d+\s*$")
# Long-lived Alibaba Cloud keys under any of the names the SDKs, the provider and people use.
LONG_LIVED_KEY = re.compile(r"secrets\.\w*(ALIBABA|ALICLOUD|ALIYUN)\w*(ACCESS_KEY|SECRET_KEY|_AK\b|_SK\b)", re.I)
ALIBABA_ACTION = "aliyun/configure-aliyun-credentials-action"


def uses_lines(name: str) -> list[tuple[int, str]]:
    text = (WORKFLOWS / name).read_text()
    return [(number, line) for number, line in enumerate(text.splitlines(), 1) if re.match(r"^\s*(-\s+)?uses:", line)]


@pytest.mark.parametrize("name", ALL)
def test_every_workflow_is_valid_yaml_with_least_privilege_defaults(name):
    workflow = load(name)
    assert workflow["name"] and workflow["on"] and workflow["jobs"]
    assert workflow.get("permissions") == {}, f"{name}: set `permissions: {{}}` at the top; each job declares its own"
    assert "pull_request_target" not in workflow["on"], "pull_request_target would run fork code with secrets"
    for job_name, job in workflow["jobs"].items():
        assert isinstance(job.get("permissions"), dict) and job["permissions"], \
            f"{name}: job {job_name} must declare the permissions it needs"
        assert job.get("secrets") != "inherit", f"{name}: job {job_name}: pass named secrets, not `secrets: inherit`"
        if "id-token" in job["permissions"]:
            assert uses(job, ALIBABA_ACTION), f"{name}: job {job_name} asks for an OIDC token it never exchanges"


@pytest.mark.parametrize("name", ALL)
def test_every_action_is_pinned_to_a_commit_sha_with_its_version_in_a_comment(name):
    lines = uses_lines(name)
    assert lines, f"{name} uses no action?"
    for number, line in lines:
        match = PINNED_USES.match(line)
        assert match, f"{name}:{number}: cannot read `{line.strip()}`"
        assert SHA.fullmatch(match["ref"]), \
            f"{name}:{number}: {match['action']}@{match['ref']} is a moving ref; pin the full commit SHA"
        assert VERSION_COMMENT.match(match["rest"]), \
            f"{name}:{number}: add the version the SHA is, e.g. `@{match['ref']} # v1.2.3`"


def test_one_action_is_pinned_to_one_sha_everywhere():
    seen: dict[str, set[str]] = {}
    for name in ALL:
        for _, line in uses_lines(name):
            match = PINNED_USES.match(line)
            assert match is not None
            seen.setdefault(match["action"], set()).add(f"{match['ref']}{match['rest']}".strip())
    drift = {action: refs for action, refs in seen.items() if len(refs) > 1}
    assert not drift, f"the same action at different pins: {drift}"


@pytest.mark.parametrize("name", ALL)
def test_no_long_lived_alibaba_keys_and_checkouts_keep_no_credentials(name):
    text = (WORKFLOWS / name).read_text()
    assert not LONG_LIVED_KEY.search(text), \
        f"{name}: long-lived Alibaba Cloud keys in secrets; use {ALIBABA_ACTION} with a RAM role (docs/security.md)"
    assert "secrets: inherit" not in text
    workflow = load(name)
    for job_name, job in workflow["jobs"].items():
        for checkout in uses(job, "actions/checkout"):
            assert checkout.get("with", {}).get("persist-credentials") is False, \
                f"{name}: job {job_name}: a checkout that does not push sets `persist-credentials: false`"


def test_cloud_credentials_come_from_oidc_role_sessions_only():
    # Every job that runs Pulumi: the role of its environment (a deploy role, or a read-only one
    # for a preview), by OIDC. The ARN is an environment variable, so the job names its environment.
    jobs = {**{f"deploy/{k}": v for k, v in DEPLOY["jobs"].items()}, **{f"pr/{k}": v for k, v in PR["jobs"].items()}}
    holders = {name for name, job in jobs.items() if "pulumi/actions" in yaml.safe_dump(job)}
    assert holders == {"deploy/up-dev", "deploy/up-staging", "deploy/preview-prod", "deploy/up-prod", "pr/preview"}
    for name in holders:
        job = jobs[name]
        assert job["permissions"] == {"contents": "read", "id-token": "write"}, name
        assert job.get("environment"), f"{name}: the role ARN is a variable of the job's environment"
        (login,) = uses(job, ALIBABA_ACTION)
        assert login["with"]["role-to-assume"] == "${{ vars.ALIBABA_CLOUD_ROLE_ARN }}", name
        assert login["with"]["oidc-provider-arn"] == "${{ vars.ALIBABA_CLOUD_OIDC_PROVIDER_ARN }}", name
        names = [s.get("uses", "").split("@")[0] for s in steps(job)]
        assert names.index(ALIBABA_ACTION) < names.index("pulumi/actions"), f"{name}: log in before pulumi runs"
        guard = steps(job)[names.index(ALIBABA_ACTION) - 1]
        assert guard.get("env", {}).get("ROLE") == login["with"]["role-to-assume"] and "exit 1" in guard["run"], \
            f"{name}: an unset role variable must stop the job with a message before the login"
    for job in PR["jobs"].values():
        if job is not PR["jobs"]["preview"]:
            assert "id-token" not in job["permissions"] and not uses(job, ALIBABA_ACTION)


@pytest.mark.parametrize("name", ALL)
def test_secrets_are_read_only_by_jobs_that_name_their_environment(name):
    """A repository secret reaches every workflow run of every branch; an environment's reaches
    only jobs its deployment rules admit. So no job reads a secret without naming its environment
    (and the repository keeps no PULUMI_CONFIG_PASSPHRASE of its own: docs/security.md)."""
    for job_name, job in load(name)["jobs"].items():
        used = set(re.findall(r"secrets\.(\w+)", yaml.safe_dump(job))) - {"GITHUB_TOKEN"}
        assert not used or job.get("environment"), \
            f"{name}: job {job_name} reads {sorted(used)} without an environment"


def test_each_stack_is_run_only_in_its_own_environments():
    """One passphrase, state location and role per stack: every Pulumi run of a stack is in one of
    that stack's environments, so it holds that stack's secrets and no other's."""
    owners = [env for environments in ENVIRONMENTS.values() for env in environments.values()]
    assert len(owners) == len(set(owners)), "an environment serves two stacks"
    seen = set()
    for where, command, stack, environment, job in pulumi_runs():
        expected = ENVIRONMENTS[stack]["up" if command == "up" else "preview"]
        assert environment == expected, f"{where}: pulumi {command} of {stack} runs in {environment!r}, not {expected!r}"
        action = uses(job, "pulumi/actions")[0]
        assert action["env"]["PULUMI_CONFIG_PASSPHRASE"] == "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}", where
        assert action["env"]["PULUMI_BACKEND_URL"] == "${{ vars.PULUMI_BACKEND_URL }}", where
        seen.add(environment)
    assert seen == set(owners), f"environments in ENVIRONMENTS that no job uses, or the reverse: {seen ^ set(owners)}"


def zizmor_command() -> str:
    zizmor = shutil.which("zizmor", path=str(Path(sys.executable).parent)) or shutil.which("zizmor")
    assert zizmor, "zizmor is pinned in requirements.txt: run `make venv`"
    return zizmor


def test_zizmor_finds_nothing_unexplained():
    """The security linter, offline, at medium and above: a new finding fails `make test`.

    An accepted finding is suppressed in the workflow with `# zizmor: ignore[<audit>]` and its
    reason beside it (see pull-request-comment.yml).
    """
    result = subprocess.run([zizmor_command(), "--offline", "--no-progress", "--min-severity", "medium",
                             str(WORKFLOWS)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"zizmor findings:\n{result.stdout}\n{result.stderr}"


def test_zizmor_auditor_finds_no_secret_outside_an_environment():
    """zizmor's stricter persona flags a secret read by a job without an environment: a secret
    any branch's workflow run could read (docs/security.md)."""
    result = subprocess.run([zizmor_command(), "--offline", "--no-progress", "--persona=auditor", "--format=json",
                             str(WORKFLOWS)], capture_output=True, text=True, timeout=120)
    outside = []
    for finding in json.loads(result.stdout):
        if finding["ident"] == "secrets-outside-env":
            symbolic = finding["locations"][0]["symbolic"]
            path = Path(next(iter(symbolic["key"].values()))["verbatim_path"]).name
            route = ".".join(str(next(iter(part.values()))) for part in symbolic["route"]["route"])
            outside.append(f"{path}: {route}")
    assert not outside, f"secrets read outside an environment: {outside}"


def test_pull_requests_run_the_tests_plan_and_diff_every_stack_without_secrets():
    assert "pull_request" in PR["on"]
    jobs = PR["jobs"]
    assert "make test" in scripts(jobs["test"])
    plan = jobs["plan"]
    assert "secrets." not in yaml.safe_dump(plan), "the fork-safe job must not use secrets"
    # actions: read downloads the record of what runs that each stack's last deploy kept; nothing more.
    assert plan["permissions"] == {"contents": "read", "actions": "read"} and "environment" not in plan
    run = scripts(plan)
    assert "make plan STACK=" in run and "make diff STACK=" in run and "BASE=" in run
    # Every stack file, not a list written here: a new stack joins the comment by itself.
    assert "stacks=$(make -s stacks)" in run and 'for stack in $stacks' in run
    assert not any(f"STACK={stack}" in run or f" {stack} " in run for stack in DEPLOYED)
    (checkout,) = uses(plan, "actions/checkout")
    assert checkout["with"]["fetch-depth"] == 0, "the diff needs the base commit"
    assert any(s["with"]["name"] == "pr-comment" for s in uses(plan, "actions/upload-artifact"))


def test_every_update_keeps_what_runs_and_the_stock_it_read_for_the_pull_requests_diff():
    """Issue 28: make diff must know what runs. Each `pulumi up` job records its stack's services
    output (names, regions, kinds, instance types: no endpoint, no token) and the snapshot it read."""
    for stack, job_name in (("dev", "up-dev"), ("staging", "up-staging"), ("prod", "up-prod")):
        job = DEPLOY["jobs"][job_name]
        names = [s.get("id") or s.get("name") or s.get("uses", "").split("@")[0] for s in steps(job)]
        (up,) = uses(job, "pulumi/actions")
        assert up.get("id") == "up" and up["with"]["command"] == "up"
        record = next(s for s in steps(job) if s.get("name", "").startswith("record what runs"))
        assert names.index("up") < names.index(record["name"]), f"{job_name}: record after the update"
        assert record["env"] == {"SERVICES": "${{ steps.up.outputs.services }}",
                                 "OUTSIDE": "${{ steps.up.outputs.outsideTheStack }}"}
        assert "map_values({serviceName, region, resourceKind, instanceTypes})" in record["run"]
        assert "cp capacity.json running/capacity.json" in record["run"]
        (kept,) = [u for u in uses(job, "actions/upload-artifact") if u["with"]["name"] == f"running-{stack}"]
        assert kept["with"]["path"] == "running/" and kept["with"]["retention-days"] == 90


def test_pull_requests_diff_each_stack_against_what_its_last_deploy_left():
    plan = PR["jobs"]["plan"]
    fetch = next(s for s in steps(plan) if s.get("name", "").startswith("what runs"))
    assert fetch["env"]["GH_TOKEN"] == "${{ github.token }}"
    # Only records of deploy.yml on main (never a pull request's artifact of the same name).
    assert "--workflow deploy.yml --branch main" in fetch["run"] and '--name "running-$stack"' in fetch["run"]
    run = scripts(plan)
    assert 'running+=("OUTPUTS=build/running/$stack/outputs.json")' in run
    assert 'running+=("CAPACITY=build/running/$stack/capacity.json")' in run
    assert '"${running[@]}"' in run.split("make diff STACK=")[1].splitlines()[0]
    names = [s.get("name", "") for s in steps(plan)]
    assert names.index(fetch["name"]) < names.index("plan and diff every stack (stacks/Pulumi.<name>.yaml)")


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


def test_pull_requests_preview_only_the_stacks_whose_environment_admits_them():
    """A pull request's code may read a stack's passphrase only where that stack's preview
    environment admits pull requests (dev-preview); staging's and prod's environments admit main
    only, so a preview of them on a pull request would fail, and none is asked for."""
    preview = PR["jobs"]["preview"]
    assert "head.repo.full_name == github.repository" in preview["if"]
    previewed = {}
    for combination in combinations(preview):
        previewed[resolve("${{ matrix.stack }}", combination)] = environment_of(preview, combination)
    assert previewed == {"dev": "dev-preview"}
    for job_name, job in PR["jobs"].items():
        for combination in combinations(job):
            environment = environment_of(job, combination)
            assert environment is None or environment in ADMIT_PULL_REQUESTS, \
                f"pull request / {job_name}: {environment} admits main only"
    assert not ADMIT_PULL_REQUESTS & {environment_of(job, {}) for job in DEPLOY["jobs"].values()}, \
        "a deploy must not run in an environment that admits pull requests"
    (action,) = uses(preview, "pulumi/actions")
    assert action["with"]["command"] == "preview" and action["with"]["policyPacks"] == "policy"
    assert action["with"]["refresh"] is True, "preview what `up --refresh` will do"
    assert action["with"].get("comment-on-pr") in (None, False), "the plan comment is the one comment"


def test_merges_deploy_dev_then_staging_then_prod_behind_an_approval():
    assert DEPLOY["on"]["push"]["branches"] == ["main"]
    jobs = DEPLOY["jobs"]
    assert jobs["up-dev"]["needs"] == "test"
    assert jobs["up-staging"]["needs"] == "up-dev"
    assert jobs["preview-prod"]["needs"] == "up-staging"
    assert set(jobs["up-prod"]["needs"]) == {"up-staging", "preview-prod"}
    environment = jobs["up-prod"]["environment"]
    assert (environment if isinstance(environment, str) else environment["name"]) == "production"
    for stack in DEPLOYED:
        job = jobs[f"up-{stack}"]
        assert f"make plan STACK={stack}" in scripts(job)
        (action,) = uses(job, "pulumi/actions")
        assert action["with"]["command"] == "up" and action["with"]["stack-name"] == stack
        assert action["with"]["policyPacks"] == "policy"
        # After a replace-type update of removed settings the provider's recorded serviceConfig is
        # stale until refreshed (docs/operating.md): every deploy refreshes first.
        assert action["with"]["refresh"] is True


def guard_step(job: dict[str, Any]) -> dict[str, Any]:
    (guard,) = [s for s in steps(job) if s.get("name") == "only main deploys"]
    return guard


@pytest.mark.parametrize("ref, refused", [("refs/heads/main", False), ("refs/heads/feature", True),
                                          ("refs/tags/main", True), ("refs/heads/main-old", True)])
def test_only_main_deploys_the_test_job_stops_any_other_ref(ref, refused):
    """`workflow_dispatch` can be started on any branch: the first step of `deploy` says that only
    main deploys and stops the run (the script itself, run here)."""
    guard = guard_step(DEPLOY["jobs"]["test"])
    assert steps(DEPLOY["jobs"]["test"])[0] is guard, "refuse before anything else runs"
    assert guard["env"] == {"REF": "${{ github.ref }}"}
    result = subprocess.run(["bash", "-c", guard["run"]], env={"PATH": os.environ["PATH"], "REF": ref},
                            capture_output=True, text=True, timeout=30)
    assert (result.returncode != 0) is refused, result.stdout + result.stderr
    if refused:
        assert result.stdout.startswith("::error::deploy runs from main only") and ref in result.stdout


def test_only_main_deploys_every_job_with_an_environment_checks_the_ref_too():
    """The guard's failure skips every job after it; each job that holds an environment's secrets
    also says `if: github.ref == 'refs/heads/main'` itself, so no reordering of `needs` drops the
    check. (The rules that a branch's copy of this file cannot change are the environments'
    branch rules and the roles' trust: docs/security.md.)"""
    assert set(DEPLOY["on"]) == {"push", "workflow_dispatch"} and DEPLOY["on"]["push"]["branches"] == ["main"]
    jobs = DEPLOY["jobs"]
    for name, job in jobs.items():
        if name == "test":
            continue
        assert job.get("environment"), f"deploy/{name} holds no environment?"
        assert job.get("if") == MAIN_ONLY, f"deploy/{name}: `if: {MAIN_ONLY}`"
        assert "test" in needed(jobs, name), f"deploy/{name} must wait for the test job (and its ref check)"


def test_each_stack_has_its_own_deployment_queue():
    """One concurrency group per stack: a run waiting for prod's approval holds back only prod's
    jobs, never dev or staging; nothing is cancelled halfway."""
    assert "concurrency" not in DEPLOY, "a workflow-wide group makes every stack wait for prod's approval"
    groups: dict[str, str] = {}
    for where, _command, stack, _environment, job in pulumi_runs():
        if not where.startswith("deploy/"):
            continue
        concurrency = job["concurrency"]
        assert concurrency["cancel-in-progress"] is False, where
        assert groups.setdefault(stack, concurrency["group"]) == concurrency["group"], \
            f"{where}: the jobs of {stack} share one group"
    assert groups == {stack: f"deploy-{stack}" for stack in DEPLOYED}


def test_ci_runs_the_pulumi_cli_that_make_lifecycle_tests():
    """The CLI every workflow installs is the release `make pulumi-cli` builds and `make lifecycle`
    runs every scenario under (lifecycle/pulumi-cli/go.mod), not an untested one."""
    tested = re.search(r"github\.com/pulumi/pulumi/pkg/v3 v(\S+)", (ROOT / "lifecycle/pulumi-cli/go.mod").read_text())
    assert tested is not None
    for workflow in (PR, DEPLOY):
        for job in workflow["jobs"].values():
            for action in uses(job, "pulumi/actions"):
                assert str(action["with"]["pulumi-version"]) == tested[1]


def test_previews_skip_the_intermediate_state_copies_and_updates_keep_them():
    """A preview's per-step state copies are serialised and thrown away (O(services^2) for nothing:
    docs/benchmarks.md); an update's record what it has created, so a cancelled run keeps them."""
    verbs = []
    for workflow in (PR, DEPLOY):
        for job in workflow["jobs"].values():
            for action in uses(job, "pulumi/actions"):
                command, env = action["with"]["command"], action.get("env", {})
                verbs.append(command)
                assert env.get("PULUMI_SKIP_CHECKPOINTS") == ("true" if command == "preview" else None), command
    assert {"preview", "up"} <= set(verbs)


def step_index(job: dict[str, Any], *, run: str | None = None, action: str | None = None) -> int:
    """Where the one step that runs `run`, or uses `action`, is in the job."""
    (index,) = [i for i, s in enumerate(steps(job))
                if (run is not None and s.get("run") == run)
                or (action is not None and str(s.get("uses", "")).startswith(action + "@"))]
    return index


def test_each_update_reads_one_recorded_stock_snapshot():
    """CI's `pulumi up` runs the program once (pulumi/actions skips the preview): it reads the
    snapshot recorded before it, not a live probe. Dev and staging take theirs in the job."""
    for stack in ("dev", "staging"):
        job = DEPLOY["jobs"][f"up-{stack}"]
        snapshot = step_index(job, run=f"make capacity STACK={stack} OUT=capacity.json")
        up = step_index(job, action="pulumi/actions")
        assert snapshot < up
        assert steps(job)[up]["env"]["QWEN3_EAS_CAPACITY"] == "${{ github.workspace }}/capacity.json"


def test_prod_is_previewed_before_its_approval_and_updated_with_that_previews_snapshot():
    """prod's approver reads `pulumi preview` of prod first (the `up` itself shows none), and the
    approved update applies with the stock snapshot that preview read."""
    jobs = DEPLOY["jobs"]
    preview, up = jobs["preview-prod"], jobs["up-prod"]
    assert "preview-prod" in needed(jobs, "up-prod")
    assert environment_of(preview, {}) == "production-preview" and environment_of(up, {}) == "production"
    snapshot = step_index(preview, run="make capacity STACK=prod OUT=capacity.json")
    run = step_index(preview, action="pulumi/actions")
    kept = step_index(preview, action="actions/upload-artifact")
    assert snapshot < run < kept
    action = steps(preview)[run]
    assert action["with"]["command"] == "preview" and action["with"]["stack-name"] == "prod"
    assert action["with"]["policyPacks"] == "policy" and action["with"]["refresh"] is True
    assert action["env"]["QWEN3_EAS_CAPACITY"] == "${{ github.workspace }}/capacity.json"
    artifact = steps(preview)[kept]["with"]
    assert artifact["name"] == "capacity-prod" and artifact["path"] == "capacity.json"
    assert artifact["if-no-files-found"] == "error"
    fetched = step_index(up, action="actions/download-artifact")
    update = step_index(up, action="pulumi/actions")
    assert fetched < update and steps(up)[fetched]["with"]["name"] == "capacity-prod"
    assert "make capacity" not in scripts(up), "no probe of its own: the approved preview's stock"
    assert steps(up)[update]["env"]["QWEN3_EAS_CAPACITY"] == "${{ github.workspace }}/capacity.json"


def test_engine_conformance_runs_when_engine_rules_or_templates_change():
    workflow = load("conformance.yml")
    paths = workflow["on"]["pull_request"]["paths"]
    assert "components/core/engines/launch.py" in paths and "templates/**" in paths and "conformance/**" in paths
    assert "workflow_dispatch" in workflow["on"] and workflow["on"]["schedule"]
    jobs = workflow["jobs"]
    assert "make conformance" in scripts(jobs["conformance"]) and "make e2e" in scripts(jobs["e2e"])
    assert "secrets." not in yaml.safe_dump(workflow), "pull-request code runs here: no secrets"
    # The same action lines as the other workflows (they are pinned together).
    others = {s["uses"] for w in (PR, DEPLOY) for j in w["jobs"].values() for s in steps(j) if "uses" in s}
    assert {s["uses"] for j in jobs.values() for s in steps(j) if "uses" in s} <= others


def test_security_doc_gives_each_environment_its_branch_rule_job_and_trusted_subject():
    """docs/security.md is what a repository administrator sets: one row per environment with its
    deployment branch rule and the job that uses it, and the `sub` its role trusts, all matching
    the workflows."""
    doc = (ROOT / "docs" / "security.md").read_text()
    rows = {m[1]: m[0] for m in re.finditer(r"^\| `([\w-]+)` \| selected: .*$", doc, re.MULTILINE)}
    workflow_names = {"pr": PR["name"], "deploy": DEPLOY["name"]}
    for where, _command, _stack, environment, _job in pulumi_runs():
        assert environment in rows, f"docs/security.md has no row for environment {environment}"
        from_pulls = environment in ADMIT_PULL_REQUESTS
        rule = "refs/pull/*/merge" if from_pulls else "main"
        assert rows[environment].startswith(f"| `{environment}` | selected: `{rule}` |"), rows[environment]
        workflow, job = where.split("/")
        assert f"| `{workflow_names[workflow]}` / `{job}` |" in rows[environment], rows[environment]
        ref = "refs/pull/*/merge" if from_pulls else "refs/heads/main"
        assert f"`repo:<owner>/<repo>:environment:{environment}:ref:{ref}`" in doc, \
            f"docs/security.md: the trusted sub of {environment}'s role"
    assert set(rows) == {env for environments in ENVIRONMENTS.values() for env in environments.values()}
    assert "pulumi stack change-secrets-provider passphrase --stack" in doc, "passphrase rotation"
