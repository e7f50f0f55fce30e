"""Issue 27, section 1: a run is green only when every service serves, and the next ordinary run
after a fault finishes the job (or names the exact command).

Each scenario reproduces a defect found under the real engine: a Failed create that came back
green, a move stuck on a refused delete, a destroy during a drain that left a billed copy outside
the state, a killed `up`, a retained service that could not come back, a prefix that moved a
running service, an API blip that failed a rollout's wait, and an unlabelled copy deleted by a
placement elsewhere.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.fake_eas import FORBIDDEN, FakeEas, Fault

from .announced import agrees, announce
from .conftest import capacity, chat, stack_text
from .engine import SERVICE_TYPE, Workspace

TWO = ["cn-hangzhou", "cn-beijing"]
HANGZHOU, BEIJING = "cn-hangzhou/chat_t", "cn-beijing/chat_t"
SERVICE_URN = "urn:pulumi:t::qwen3-eas::qwen3-eas:eas:Qwen3EasService$alicloud:pai/service:Service::chat-service"
DRAINED_TYPE = "pulumi-python:dynamic/eas:DrainedCopy"


def test_a_create_that_ends_failed_is_never_green_and_the_fix_in_the_stack_file_recovers_it(
        workspace: Workspace, eas: FakeEas):
    eas.failing.add(HANGZHOU)  # an image that does not pull, say: every rollout of it ends Failed
    workspace.write_stack("t", stack_text({"chat": chat()}))
    first = workspace.up("t")
    assert first.error is not None and "Failed" in first.error, first.output
    # CI's next run, nothing fixed: red again, with the cure; no endpoint or token handed out.
    again = workspace.up("t", refresh=True)
    assert again.error is not None, again.output
    assert "cn-hangzhou/chat_t is Failed" in again.output and "does not serve" in again.output
    assert f"pulumi destroy --target '{SERVICE_URN}' --target-dependents --yes" in again.output
    assert again.outputs == {}
    # The cause was in the stack file: the fix is sent, rolled out, and the run is green and serving.
    eas.failing.clear()
    workspace.write_stack("t", stack_text({"chat": chat(toolCalling=False)}))
    fixed = workspace.up("t", refresh=True)
    assert fixed.error is None, fixed.output
    assert eas.services[HANGZHOU]["Status"] == "Running"
    assert fixed.outputs["tokens"]["chat"] == eas.services[HANGZHOU]["AccessToken"]
    assert workspace.preview("t", refresh=True).changes() == {}


def test_a_move_whose_old_copy_could_not_be_deleted_is_finished_by_the_next_run(
        workspace: Workspace, eas: FakeEas, tmp_path: Path):
    both = capacity(tmp_path / "both.json", cn_hangzhou="WithStock", cn_beijing="WithStock")
    workspace.write_stack("t", stack_text({"chat": chat(regions=TWO, allowRegionMove=True)}))
    assert workspace.up("t", env={"QWEN3_EAS_CAPACITY": str(both)}).error is None
    gone = capacity(tmp_path / "gone.json", cn_hangzhou="NoStock", cn_beijing="WithStock")
    eas.delete_faults = [FORBIDDEN]  # a deploy role without eas:DeleteService
    moved = workspace.up("t", refresh=True, env={"QWEN3_EAS_CAPACITY": str(gone)})
    assert moved.error is not None and "Forbidden" in moved.output, moved.output
    assert eas.names() == [BEIJING, HANGZHOU]
    # The permission is fixed: the next ordinary run tells the new copy (moved-from cn-hangzhou) from
    # the old one and deletes the old one; before, it held the service back on every run.
    eas.delete_faults = []
    again = workspace.up("t", refresh=True, env={"QWEN3_EAS_CAPACITY": str(gone)})
    assert again.error is None, again.output
    assert eas.names() == [BEIJING]
    assert again.outputs["services"]["chat"]["region"] == "cn-beijing"
    assert workspace.preview("t", refresh=True, env={"QWEN3_EAS_CAPACITY": str(gone)}).changes() == {}


def test_destroy_while_a_drain_lasts_keeps_the_old_copy_in_the_state_and_leaves_nothing_outside_it(
        workspace: Workspace, eas: FakeEas, tmp_path: Path):
    stock = capacity(tmp_path / "cap.json", cn_hangzhou="WithStock", cn_beijing="WithStock")
    env = {"QWEN3_EAS_CAPACITY": str(stock)}
    workspace.write_stack("t", stack_text({"chat": chat()}))
    assert workspace.up("t", env=env).error is None
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    workspace.write_stack("t", stack_text({"chat": chat(regions=["cn-beijing"],
                                                        drain={"region": "cn-hangzhou", "until": later})}))
    assert "not moved this run" in (workspace.up("t", env=env).error or "")
    assert workspace.up("t", env=env).error is None
    assert eas.names() == [BEIJING, HANGZHOU]
    destroyed = workspace.destroy("t", env=env)
    assert destroyed.error is not None and f"running until {later}" in destroyed.output, destroyed.output
    # The new copy is gone with the stack; the old one keeps its promise, and stays in the state.
    assert eas.names() == [HANGZHOU]
    assert [r["id"] for r in workspace.resources("t", DRAINED_TYPE)] == [HANGZHOU]
    ended = workspace.destroy("t", env={**env, "QWEN3_EAS_END_DRAINS": "1"})
    assert ended.error is None, ended.output
    assert eas.names() == []


def test_an_up_killed_while_creating_is_finished_by_the_next_run(workspace: Workspace, eas: FakeEas):
    workspace.write_stack("t", stack_text({"chat": chat()}))
    eas.settle_polls = 10_000  # EAS takes its time to create: Creating, then Waiting for resources
    eas.create_statuses = ("Creating", "Waiting")
    killed = workspace.up_killed("t", when=lambda: ("CreateService", HANGZHOU) in eas.calls)
    assert killed.error is not None
    eas.settle_polls = 1
    eas.finish(HANGZHOU)  # EAS finished the create meanwhile; the service runs, billed, outside the state
    assert workspace.cli_run("t", "cancel", "--yes").returncode == 0  # the killed run's lock
    # CI's next run takes back the service the killed run created (its ownership labels say whose).
    again = workspace.up("t", refresh=True)
    assert again.error is None, again.output
    assert ("import", "chat-service") in again.ops(SERVICE_TYPE)
    assert [call for call in eas.calls if call[0] == "CreateService"] == [("CreateService", HANGZHOU)]
    assert again.outputs["tokens"]["chat"] == eas.services[HANGZHOU]["AccessToken"]
    assert workspace.preview("t").changes() == {}


def test_a_create_whose_answer_was_lost_is_taken_back_by_the_next_run(workspace: Workspace, eas: FakeEas):
    """EAS created the service, the answer was lost, the provider's retry met "already exists": a
    billed service outside the state (issue 27, section 2)."""
    eas.create_faults = [Fault(status=503, code="ServiceUnavailable", after_apply=True), Fault()]
    workspace.write_stack("t", stack_text({"chat": chat()}))
    first = workspace.up("t")
    assert first.error is not None and "already exists" in first.output, first.output
    assert eas.names() == [HANGZHOU]
    again = workspace.up("t", refresh=True)
    assert again.error is None, again.output
    assert ("import", "chat-service") in again.ops(SERVICE_TYPE)
    assert [r["id"] for r in workspace.resources("t")] == ["chat_t"]


def test_a_retained_service_removed_and_added_back_is_taken_back(workspace: Workspace, eas: FakeEas):
    workspace.write_stack("t", stack_text({"chat": chat(retainOnDelete=True), "code": chat()}))
    first = workspace.up("t")
    assert first.error is None, first.output
    token = first.outputs["tokens"]["chat"]
    workspace.write_stack("t", stack_text({"code": chat()}))
    removed = workspace.up("t")
    assert removed.error is None, removed.output
    assert HANGZHOU in eas.names() and not [r for r in workspace.resources("t") if r["id"] == "chat_t"]
    # The run names it: this stack's, running and billed outside the stack (the deploy's record keeps it).
    assert removed.outputs["outsideTheStack"] == {"chat": {"serviceName": "chat_t", "region": "cn-hangzhou"}}
    assert "runs, and bills, outside the stack" in removed.output
    announced = announce(*workspace.change_stack("t", stack_text({"chat": chat(retainOnDelete=True),
                                                                  "code": chat()})), outputs=removed.outputs)
    back = workspace.up("t")
    assert back.error is None, back.output
    assert ("import", "chat-service") in back.ops(SERVICE_TYPE)
    # make diff said so: taken back, not created.
    assert announced["chat"]["step"] == "take-back" and agrees(announced["chat"], back.ops(SERVICE_TYPE),
                                                               "chat-service"), announced["chat"]
    assert back.outputs["tokens"]["chat"] == token  # the same running service, not a new one
    # A destroyed stack whose services are retained comes back the same way.
    workspace.write_stack("t", stack_text({"chat": chat(), "code": chat()}, retainOnDelete=True))
    assert workspace.up("t").error is None
    assert workspace.destroy("t").error is None
    assert eas.names() == ["cn-hangzhou/chat_t", "cn-hangzhou/code_t"]
    revived = workspace.up("t")
    assert revived.error is None, revived.output
    assert ("import", "chat-service") in revived.ops(SERVICE_TYPE)


def test_adding_a_name_prefix_renames_the_service_where_it_runs_and_never_moves_it(
        workspace: Workspace, eas: FakeEas, tmp_path: Path):
    both = capacity(tmp_path / "both.json", cn_hangzhou="WithStock", cn_beijing="WithStock")
    workspace.write_stack("t", stack_text({"chat": chat(regions=TWO)}))
    assert workspace.up("t", env={"QWEN3_EAS_CAPACITY": str(both)}).error is None
    gone = capacity(tmp_path / "gone.json", cn_hangzhou="NoStock", cn_beijing="WithStock")
    announced = announce(*workspace.change_stack("t", stack_text({"chat": chat(regions=TWO)}, namePrefix="team")),
                         capacity=gone)
    run = workspace.up("t", env={"QWEN3_EAS_CAPACITY": str(gone)})
    assert run.error is None, run.output
    # The lookup found chat_t in cn-hangzhou: team_chat_t is created there, then chat_t deleted.
    assert eas.names() == ["cn-hangzhou/team_chat_t"]
    assert agrees(announced["chat"], run.ops(SERVICE_TYPE), "chat-service"), (announced, run.ops(SERVICE_TYPE))


def test_an_api_blip_while_the_reader_waits_for_a_rollout_is_waited_out(workspace: Workspace, eas: FakeEas):
    workspace.write_stack("t", stack_text({"chat": chat()}))
    assert workspace.up("t").error is None
    eas.rollout_polls = 2
    # After the provider's own reads of the update (two), the next five DescribeService answers
    # are server errors: more than one call's retries, far less than the 90-minute wait.
    eas.fail_reads(HANGZHOU, count=5, after=2, on="UpdateService")
    workspace.write_stack("t", stack_text({"chat": chat(replicas=2)}))
    run = workspace.up("t")
    assert run.error is None, run.output
    assert eas.services[HANGZHOU]["RunningInstance"] == 2


def test_an_unlabelled_copy_where_the_service_may_run_holds_it_back_and_nothing_is_deleted(
        workspace: Workspace, eas: FakeEas, tmp_path: Path):
    stock = capacity(tmp_path / "cap.json", cn_hangzhou="WithStock", cn_beijing="WithStock")
    env = {"QWEN3_EAS_CAPACITY": str(stock)}
    workspace.write_stack("t", stack_text({"chat": chat()}))
    assert workspace.up("t", env=env).error is None
    eas.services[HANGZHOU]["Labels"] = []  # labels cleared in the console (or deployed before them)
    # A region added ahead of the one it runs in: before, the program called the copy another's and
    # placed the service in cn-beijing; the engine then replaced the copy its state held, and deleted it.
    workspace.write_stack("t", stack_text({"chat": chat(regions=["cn-beijing", "cn-hangzhou"])}))
    for verb in ("preview", "up"):
        run = workspace.run(verb, "t", env=env)
        assert run.error is not None and "carries this stack's name" in run.output, run.output
        assert "qwen3-eas:adopt: [chat]" in run.output
    assert eas.names() == [HANGZHOU] and eas.deletes == []
