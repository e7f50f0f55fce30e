"""Day 2 under the engine: whose a running service is, replacements, rollouts, two-phase moves.

These are the outcomes the engine decides (issue 22): what a preview lists when a service is held
back, whether ``--replace`` refreshes the token, whether ``up`` returns before a rollout has
converged, whether ``retainOnDelete`` recorded a run earlier keeps the old copy of a move.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.fake_eas import FakeEas

from .conftest import capacity, chat, stack_text
from .engine import READER_TYPE, SERVICE_TYPE, Workspace

TWO = ["cn-hangzhou", "cn-beijing"]
HANGZHOU, BEIJING = "cn-hangzhou/chat_t", "cn-beijing/chat_t"
SERVICE_URN = "urn:pulumi:t::qwen3-eas::qwen3-eas:eas:Qwen3EasService$alicloud:pai/service:Service::chat-service"
OURS = {"managed-by": "qwen3-eas", "project": "qwen3-eas", "stack": "t", "service": "chat"}


def deleted(run_ops: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(op, name) for op, name in run_ops if op.startswith("delete")]


def test_this_stacks_service_in_two_regions_is_held_back_and_never_previewed_as_deleted(
        workspace: Workspace, eas: FakeEas, tmp_path: Path):
    workspace.write_stack("t", stack_text({"chat": chat(regions=TWO)}))
    stock = capacity(tmp_path / "cap.json", cn_hangzhou="NoStock", cn_beijing="WithStock")
    assert workspace.up("t", env={"QWEN3_EAS_CAPACITY": str(stock)}).error is None
    assert eas.names() == [BEIJING]
    # A copy with this stack's labels in the first region (a move that did not finish, by hand).
    eas.create("cn-hangzhou", eas.config(BEIJING), labels=OURS)
    for verb in ("preview", "up"):
        run = workspace.run(verb, "t", env={"QWEN3_EAS_CAPACITY": str(stock)})
        assert run.error is not None and "chat" in run.error and "cn-hangzhou" in run.error, run.output
        assert deleted(run.ops(SERVICE_TYPE)) == [] and deleted(run.ops(READER_TYPE)) == []
    assert eas.names() == [BEIJING, HANGZHOU] and eas.deletes == []
    assert [r["id"] for r in workspace.resources("t")] == ["chat_t"]


def test_a_service_is_recreated_by_destroying_it_alone_then_up_and_the_outputs_carry_the_new_token(
        workspace: Workspace, eas: FakeEas):
    """docs/operating.md, re-creating a service: the program registers a service it finds running with
    Pulumi's `import` option (issue 27: how a killed run's or a retained service comes back), and the
    engine refuses `up --replace` of such a resource, deleting nothing. `destroy --target` of the
    service and its dependents, then `up`, re-creates it: delete first, a new token."""
    workspace.write_stack("t", stack_text({"chat": chat()}))
    first = workspace.up("t")
    assert first.error is None, first.output
    refused = workspace.up("t", replace=[SERVICE_URN])
    assert refused.error is not None and "previously-imported resources" in refused.output, refused.output
    assert eas.deletes == []
    gone = workspace.destroy("t", target=[SERVICE_URN], target_dependents=True)
    assert gone.error is None, gone.output
    assert eas.names() == [] and eas.deletes == [HANGZHOU]
    run = workspace.up("t")
    assert run.error is None, run.output
    assert run.ops(SERVICE_TYPE) == [("create", "chat-service")]
    assert run.outputs["tokens"]["chat"] == eas.services[HANGZHOU]["AccessToken"] != first.outputs["tokens"]["chat"]


def test_up_returns_once_the_rollout_has_converged(workspace: Workspace, eas: FakeEas):
    workspace.write_stack("t", stack_text({"chat": chat()}))
    assert workspace.up("t").error is None
    eas.rollout_polls = 4  # EAS says Running from before the update for 4 reads, the versions lag
    workspace.write_stack("t", stack_text({"chat": chat(replicas=2)}))
    run = workspace.up("t")
    assert run.error is None, run.output
    found = eas.services[HANGZHOU]
    assert found["CurrentVersion"] == found["LatestVersion"] == 2
    assert found["RunningInstance"] == found["TotalInstance"] == 2


def test_a_failed_rollout_of_a_removal_fails_up_and_the_next_up_converges(
        workspace: Workspace, eas: FakeEas):
    workspace.write_stack("t", stack_text({"chat": chat(replicas=2, autoscaling={"min": 2, "max": 4, "qps": 20})}))
    assert workspace.up("t").error is None
    eas.rollout_polls, eas.rollout_outcome = 2, "Failed"
    workspace.write_stack("t", stack_text({"chat": chat(replicas=2)}))
    failed = workspace.up("t")
    assert failed.error is not None and "Failed" in failed.error, failed.output
    # EAS is repaired (by hand, or it recovered); the next up finishes the job without resending
    # what EAS already has.
    eas.rollout_outcome = "Running"
    found = eas.services[HANGZHOU]
    found.update({"Status": "Running", "CurrentVersion": found["LatestVersion"], "RunningInstance": found["TotalInstance"]})
    sent = len(eas.updates)
    # The failed run sent the provider's merge and no replace: the reader stopped at the Failed rollout.
    assert [kind for key, kind, _ in eas.updates if key == HANGZHOU] == ["merge"]
    again = workspace.up("t", refresh=True)
    assert again.error is None, again.output
    assert "autoscaler" not in eas.config(HANGZHOU)
    # The provider's recorded config still has the removed key (its read after the merge), so it
    # merges once more; then the reader's one replace. (Found by this scenario: two rollouts.)
    assert [kind for _, kind, _ in eas.updates[sent:]] == ["merge", "replace"]
    assert workspace.preview("t", refresh=True).changes() == {}


def test_a_two_phase_move_keeps_the_old_copy_until_the_drain_ends(workspace: Workspace, eas: FakeEas, tmp_path: Path):
    stock = capacity(tmp_path / "cap.json", cn_hangzhou="WithStock", cn_beijing="WithStock")
    env = {"QWEN3_EAS_CAPACITY": str(stock)}
    workspace.write_stack("t", stack_text({"chat": chat()}))
    first = workspace.up("t", env=env)
    assert first.error is None, first.output
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    moving = stack_text({"chat": chat(regions=["cn-beijing"], drain={"region": "cn-hangzhou", "until": later})})
    workspace.write_stack("t", moving)
    # Run 1: retainOnDelete is recorded on the running service (and labelled); nothing moves.
    one = workspace.up("t", env=env)
    assert one.error is not None and "not moved this run" in one.error, one.output
    assert eas.names() == [HANGZHOU] and eas.labels(HANGZHOU).get("retain-on-delete") == "true"
    [service] = workspace.resources("t")
    assert service.get("retainOnDelete") is True
    # Run 2: created in cn-beijing; the engine drops the old copy from the state without deleting it.
    two = workspace.up("t", env=env)
    assert two.error is None, two.output
    assert eas.names() == [BEIJING, HANGZHOU] and eas.deletes == []
    assert two.outputs["services"]["chat"]["region"] == "cn-beijing"
    assert two.outputs["tokens"]["chat"] == eas.services[BEIJING]["AccessToken"]
    # Runs before `until`: nothing to do, both copies run.
    assert workspace.up("t", env=env).changes() == {}
    # The drain ends: the old copy is deleted, the new one stays.
    past = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    workspace.write_stack("t", moving.replace(later, past))
    ended = workspace.up("t", env=env)
    assert ended.error is None, ended.output
    assert eas.names() == [BEIJING] and eas.deletes == [HANGZHOU]


def test_a_name_prefix_on_a_deployed_stack_replaces_create_first(workspace: Workspace, eas: FakeEas):
    workspace.write_stack("t", stack_text({"chat": chat()}))
    assert workspace.up("t").error is None
    workspace.write_stack("t", stack_text({"chat": chat()}, namePrefix="teama"))
    run = workspace.up("t")
    assert run.error is None, run.output
    ops = [op for op, _ in run.ops(SERVICE_TYPE)]
    assert ops.index("create-replacement") < ops.index("delete-replaced"), ops
    order = [call for call in eas.calls if call[0] in ("CreateService", "DeleteService")]
    assert order[-2:] == [("CreateService", "cn-hangzhou/teama_chat_t"), ("DeleteService", HANGZHOU)]
    assert eas.names() == ["cn-hangzhou/teama_chat_t"]
