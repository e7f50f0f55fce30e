"""Issue 27, section 2: the stand-in and the fake EAS fail the way the real ones do, and the project
copes: a refused update, a service stopped in the console, a delete EAS gives up on, keys and
labels EAS holds that the stack does not send, an autoscaled instance count.

Where the real provider's behaviour is the cause, ``lifecycle/standin_alicloud/pai_service.py``
cites it (the Terraform plugin SDK v1 records the planned values after a failure; the delete's
wait has no fail state; ``aliyun``/``acs:`` tags are never removed).
"""

from __future__ import annotations

from tests.fake_eas import FakeEas, Fault

from .conftest import chat, stack_text
from .engine import READER_TYPE, SERVICE_TYPE, Workspace

KEY = "cn-hangzhou/chat_t"


def deployed(workspace: Workspace, eas: FakeEas, **service: object) -> None:
    workspace.write_stack("t", stack_text({"chat": chat(**service)}))
    first = workspace.up("t")
    assert first.error is None, first.output


def test_an_update_eas_refused_is_sent_by_the_next_plain_up(workspace: Workspace, eas: FakeEas):
    """The bridge records the planned values after a failed update, so its next update finds
    nothing to send (before: the run after the refusal was green and EAS never got the change)."""
    deployed(workspace, eas)
    eas.put_faults = [Fault(status=400, code="InvalidParameter"), Fault()]
    workspace.write_stack("t", stack_text({"chat": chat(toolCalling=False)}))
    refused = workspace.up("t")
    assert refused.error is not None and "InvalidParameter" in refused.output, refused.output
    assert "--tool-call-parser" in eas.config(KEY)["containers"][0]["script"]
    eas.rollout_polls, eas.rollout_status = 1, "Updating"  # what EAS says while the sent change rolls out
    again = workspace.up("t")
    assert again.error is None, again.output
    assert "--tool-call-parser" not in eas.config(KEY)["containers"][0]["script"]
    sent = len(eas.updates)
    assert workspace.up("t").changes() == {} and eas.updates[sent:] == []


def test_a_service_stopped_in_the_console_is_started_by_the_next_up_with_refresh(workspace: Workspace,
                                                                                  eas: FakeEas):
    deployed(workspace, eas)
    eas.services[KEY].update(Status="Stopped", RunningInstance=0)  # StopService in the console
    workspace.write_stack("t", stack_text({"chat": chat(toolCalling=False)}))
    run = workspace.up("t", refresh=True)
    assert run.error is None, run.output
    assert ("StartService", KEY) in eas.calls
    assert eas.services[KEY]["Status"] == "Running"
    assert "--tool-call-parser" not in eas.config(KEY)["containers"][0]["script"]
    assert workspace.preview("t", refresh=True).changes() == {}


def test_a_delete_that_ends_delete_failed_fails_at_once_with_the_way_out(workspace: Workspace, eas: FakeEas):
    """The provider's delete watches only whether the service still exists: it would wait out the
    delete timeout in silence. The reader, deleted first, says why at once."""
    workspace.write_stack("t", stack_text({"chat": chat(), "code": chat()}))
    assert workspace.up("t").error is None
    eas.delete_outcome = "DeleteFailed"
    workspace.write_stack("t", stack_text({"code": chat()}))
    run = workspace.up("t")
    assert run.error is not None, run.output
    assert "EAS could not delete cn-hangzhou/chat_t: it is DeleteFailed" in run.output
    assert "aliyun eas DeleteService --ClusterId cn-hangzhou --ServiceName chat_t" in run.output
    assert ("delete", "chat-service") not in run.ops(SERVICE_TYPE)  # the provider's silent wait never began
    assert [r["id"] for r in workspace.resources("t") if r["id"] == "chat_t"] == ["chat_t"]  # still in the state


def test_keys_and_labels_eas_adds_are_sent_back_and_the_next_preview_is_clean(workspace: Workspace,
                                                                               eas: FakeEas):
    """Nobody has checked whether EAS adds keys to a service's config: if it does, the provider
    (exact JSON equality) would roll the GPUs out on every run. Keys the project does not write are
    sent back as EAS holds them, named in a warning; labels the provider never removes likewise."""
    eas.added_keys = {"metadata.cpu": 16, "metadata.memory": 61440}
    eas.system_labels = {"acs:tag:creator": "pai-console"}
    deployed(workspace, eas)
    sent = len(eas.updates)
    for refresh in (False, True):
        preview = workspace.preview("t", refresh=refresh)
        assert preview.error is None, preview.output
        assert preview.changes() == {}, preview.output
        assert "EAS holds metadata.cpu, metadata.memory" in preview.output
    assert workspace.up("t", refresh=True).changes() == {}
    assert eas.updates[sent:] == [] and eas.labels(KEY)["acs:tag:creator"] == "pai-console"


def test_an_autoscaled_service_keeps_the_autoscalers_instance_count(workspace: Workspace, eas: FakeEas):
    deployed(workspace, eas, replicas=1, autoscaling={"min": 1, "max": 4, "qps": 20})
    eas.autoscaled_instances[KEY] = 3  # under load, EAS scaled it out
    run = workspace.up("t", refresh=True)
    assert run.error is None, run.output
    assert [c for c in eas.calls if c[0] == "UpdateService"] == []
    assert eas.config(KEY)["metadata"]["instance"] == 3
    # A change of the stack still goes out, with the autoscaler's count, not replicas (EAS says
    # Scaling while it rolls out).
    eas.rollout_polls, eas.rollout_status = 1, "Scaling"
    workspace.write_stack("t", stack_text({"chat": chat(replicas=1, toolCalling=False,
                                                        autoscaling={"min": 1, "max": 4, "qps": 20})}))
    changed = workspace.up("t", refresh=True)
    assert changed.error is None, changed.output
    assert [body["metadata"]["instance"] for _, _, body in eas.updates] == [3]
    assert ("update", "chat-endpoint") in changed.ops(READER_TYPE)
