"""``make diff`` describes the change against what runs (issue 28, section 2).

Both sides are planned the way ``make diff`` plans them (``components.cli.diff_sides``): the base
as what runs (the deployed stack's outputs, ``OUTPUTS=``, or the base plan as deployed), the working
tree as ``pulumi preview`` plans it with its lookups answered from what runs and the stock of
``CAPACITY=``. ``make lifecycle`` holds the same announcements against the real engine.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml

from components.cli import diff, diff_sides
from components.core.hardware.hardware_choice import RunsOn
from components.core.running import deployed

from .conftest import A10, service

TWO = ["cn-hangzhou", "cn-beijing"]
A10_BIG = "ml.gu7i.c32m188.1-gu30"
AUTO_14B = ("ecs.gn8is.2xlarge", "ecs.gn8is.4xlarge", "ecs.gn7e-c16g1.4xlarge")


class Stacks:
    """Versions of stack ``t``, each its own ``Pulumi.t.yaml``."""

    def __init__(self, root: Path) -> None:
        self.root, self.count = root, 0

    def __call__(self, services: dict[str, Any], **extra: Any) -> Path:
        self.count += 1
        config: dict[str, Any] = {"alicloud:region": "cn-hangzhou", "qwen3-eas:services": services}
        config.update({f"qwen3-eas:{k}": v for k, v in extra.items()})
        path = self.root / str(self.count) / "Pulumi.t.yaml"
        path.parent.mkdir(parents=True)
        path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
        return path


@pytest.fixture
def stacks(tmp_path: Path) -> Stacks:
    return Stacks(tmp_path / "stacks")


def announce(base: Path, head: Path, outputs: Optional[dict[str, Any]] = None,
             capacity: Optional[Path] = None) -> tuple[str, dict[str, Any]]:
    """(Markdown, service key -> announcement) of ``make diff`` for the change ``base`` -> ``head``."""
    records = deployed.read(outputs, "outputs") if outputs is not None else None
    base_files = diff_sides.plan_base_file(base, records, capacity)
    text, status, announcement, _ = diff.diff_planned(str(head), "main", None, base_files, None, capacity, records,
                                                      diff.context_lines(Path("o.json") if outputs else None, capacity))
    assert status == 0, text
    return text, announcement["services"]


def outputs(**services: tuple[str, str, tuple[str, ...]]) -> dict[str, Any]:
    """A deployed stack's outputs: key -> (EAS name, region, instance types)."""
    return {"services": {key: {"serviceName": name, "region": region, "instanceTypes": list(types),
                               "resourceKind": "public", "internetEndpoint": "http://x"}
                         for key, (name, region, types) in services.items()},
            "tokens": "[secret]"}


def meta(name: str, stock: str = "WithStock", gpus: int = 1, memory: int = 24, gpu: str = "GU30") -> dict[str, Any]:
    return {"InstanceType": name, "GPU": gpu, "GPUAmount": gpus, "GPUMemory": memory, "CPU": 16, "Memory": 64,
            "StockStatus": stock, "IsAvailable": True}


def snapshot(tmp_path: Path, **regions: list[dict[str, Any]]) -> Path:
    path = tmp_path / f"capacity-{len(list(tmp_path.glob('capacity-*')))}.json"
    path.write_text(json.dumps({r.replace("_", "-"): metas for r, metas in regions.items()}))
    return path


def test_reordered_regions_leave_the_service_where_it_runs(stacks):
    base = stacks({"chat": service(regions=TWO)})
    head = stacks({"chat": service(regions=list(reversed(TWO)))})
    text, found = announce(base, head)
    assert found["chat"]["step"] == "same" and text == "no changes\n"
    # With what runs given: the same.
    _, found = announce(base, head, outputs(chat=("chat_t", "cn-hangzhou", (A10,))))
    assert found["chat"]["step"] == "same"


def test_a_stock_snapshot_announces_no_update_of_a_service_it_does_not_touch(stacks, tmp_path):
    """The issue's case: with CAPACITY=, a service the change leaves alone was announced as updated,
    because the snapshot changed what the automatic choice picked."""
    auto = service(model="Qwen3-14B", resource={"kind": "public"})
    base = stacks({"chat": service(), "big": auto})
    head = stacks({"chat": service(replicas=2), "big": auto})
    stock = snapshot(tmp_path, cn_hangzhou=[meta(AUTO_14B[0], "NoStock", memory=48, gpu="L20"),
                                            meta(AUTO_14B[1], memory=48, gpu="L20"), meta(A10), meta(A10_BIG),
                                            meta("ecs.ebmgn8v.48xlarge", gpus=8, memory=96, gpu="H20")])
    _, found = announce(base, head, capacity=stock)
    assert found["chat"]["step"] == "update" and found["big"]["step"] == "same"
    # Deployed on other types than the base plan shows (an earlier choice): they are kept, no update.
    ran = outputs(chat=("chat_t", "cn-hangzhou", (A10,)), big=("big_t", "cn-hangzhou", ("ecs.ebmgn8v.48xlarge",)))
    _, found = announce(base, head, ran, stock)
    assert found["big"]["step"] == "same" and found["chat"]["step"] == "update"


def test_what_runs_decides_the_before_side(stacks):
    base = stacks({"chat": service(regions=TWO), "never": service()})
    head = stacks({"chat": service(regions=TWO), "never": service()})
    # `chat` runs in the second region (stock sent it there); `never` was never deployed.
    text, found = announce(base, head, outputs(chat=("chat_t", "cn-beijing", (A10,))))
    assert found["chat"]["step"] == "same"
    assert found["never"]["step"] == "create" and found["chat"]["region"] == {"before": "cn-beijing",
                                                                               "after": "cn-beijing"}
    assert "Steps worked out against what runs per `o.json`" in text


def test_a_drain_is_announced_as_the_two_runs_it_takes(stacks):
    until = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    base = stacks({"chat": service()})
    head = stacks({"chat": service(regions=["cn-beijing"], drain={"region": "cn-hangzhou", "until": until})})
    text, found = announce(base, head)
    chat = found["chat"]
    assert chat["runs"] == [
        {"step": "update", "order": None, "refusedBy": None, "retained": False},
        {"step": "replace", "order": "create-first", "refusedBy": None, "retained": True},
    ]
    assert "### ~ `chat`: update in place, then replace, create first (2 runs)" in text
    assert "run 1, the next `pulumi up`" in text and "not moved this run" in text
    assert "is not deleted (retainOnDelete) and keeps serving" in text
    assert f"after {until}, the first `pulumi up` deletes the old copy in cn-hangzhou (`chat-drained`)" in text
    # Once run 1 recorded the option (the label is on the running copy), the next diff is run 2 alone.
    ran = outputs(chat=("chat_t", "cn-hangzhou", (A10,)))
    ran["services"]["chat"]["labels"] = {"managed-by": "qwen3-eas", "project": "qwen3-eas", "stack": "t",
                                         "service": "chat", "retain-on-delete": "true"}
    _, found = announce(head, head, ran)
    assert [r["step"] for r in found["chat"]["runs"]] == ["replace"] and found["chat"]["retained"] is True


def test_a_renamed_key_is_a_new_service_and_says_what_that_costs_clients(stacks):
    base = stacks({"chat": service()})
    head = stacks({"assistant": service()})
    text, found = announce(base, head)
    assert found["assistant"]["step"] == "create" and found["chat"]["step"] == "delete"
    assert found["assistant"]["rename"] == found["chat"]["rename"] == {"from": "chat", "to": "assistant", "kept": False}
    assert "### + `assistant`: create (renamed from `chat`: a new service)" in text
    assert "new endpoint and a new token" in text and "add `renamedFrom: chat` to `assistant`" in text
    assert "### - `chat`: delete (renamed to `assistant`)" in text


def test_renamed_from_keeps_the_running_service_under_its_new_key(stacks):
    base = stacks({"chat": service()})
    head = stacks({"assistant": service(renamedFrom="chat")})
    text, found = announce(base, head)
    assert set(found) == {"assistant"} and found["assistant"]["step"] == "same"
    assert found["assistant"]["rename"] == {"from": "chat", "to": "assistant", "kept": True}
    assert "### = `assistant`: no change to the service (renamed from `chat`)" in text
    assert "keeps its name, endpoint and token" in text


def test_a_name_prefix_added_to_a_deployed_stack_is_a_new_service_per_key(stacks):
    base = stacks({"chat": service()})
    head = stacks({"chat": service()}, namePrefix="teama")
    text, found = announce(base, head)
    assert (found["chat"]["step"], found["chat"]["order"]) == ("replace", "create-first")
    assert "its EAS name changes from `chat_t` to `teama_chat_t`: EAS cannot rename a service" in text


def test_outputs_that_are_no_stack_outputs_are_refused_with_the_file_named(tmp_path):
    path = tmp_path / "o.json"
    path.write_text(json.dumps({"tokens": {}}))
    with pytest.raises(diff.DiffError, match=r"o.json has no 'services' map: pass the JSON of `pulumi stack output"):
        diff_sides.read_outputs(path)
    path.write_text(json.dumps({"services": {"chat": {"region": "cn-hangzhou"}}}))
    with pytest.raises(diff.DiffError, match=r"services\.chat lacks its serviceName or region"):
        diff_sides.read_outputs(path)


def test_the_base_file_is_rewritten_to_what_runs():
    config = {"alicloud:region": "cn-hangzhou", "qwen3-eas:placements": {"gone": "cn-beijing"},
              "qwen3-eas:adopt": ["chat", "gone"],
              "qwen3-eas:services": {"chat": service(regions=TWO, allowRegionMove=True, resource={"kind": "public"}),
                                     "gone": service()}}
    records = {"chat": deployed.Deployed("chat", "chat_t", "cn-beijing", RunsOn("public", (A10,)))}
    rewritten = deployed.as_deployed(config, records)
    assert list(rewritten["qwen3-eas:services"]) == ["chat"]
    chat = rewritten["qwen3-eas:services"]["chat"]
    assert chat["resource"]["instanceTypes"] == [A10] and "allowRegionMove" not in chat
    assert rewritten["qwen3-eas:placements"] == {"chat": "cn-beijing"} and rewritten["qwen3-eas:adopt"] == ["chat"]
    # A type whose GPUs the plan could not tell is left as the file has it.
    unknown = deployed.as_deployed(config, records, known=lambda name: False)
    assert "instanceTypes" not in unknown["qwen3-eas:services"]["chat"]["resource"]


def test_the_services_output_reads_back_as_what_runs():
    read = deployed.read(outputs(chat=("chat_t", "cn-hangzhou", (A10, A10, A10_BIG))), "o")
    assert read["chat"] == deployed.Deployed("chat", "chat_t", "cn-hangzhou", RunsOn("public", (A10, A10_BIG)))
    assert deployed.read(deployed.write(read), "again") == read


def test_a_key_added_back_while_its_service_runs_outside_the_stack_is_announced_as_taken_back(stacks):
    """Issue 27, item 5: a service kept on delete and removed runs on; the deploy's record names it
    (``outsideTheStack``). Adding its key back takes it back by ID (Pulumi's import), which `make
    diff` says, instead of a create."""
    base = stacks({"code": service()})
    head = stacks({"code": service(), "chat": service(retainOnDelete=True)})
    outputs = {"services": {"code": {"serviceName": "code_t", "region": "cn-hangzhou", "resourceKind": "public",
                                     "instanceTypes": [A10]}},
               "outsideTheStack": {"chat": {"serviceName": "chat_t", "region": "cn-hangzhou"}}}
    text, announced = announce(base, head, outputs)
    assert announced["chat"]["step"] == "take-back", announced["chat"]
    assert "1 to take back" in text and "taken back by its name" in text
    # Without the record's word, the same change is a create.
    _, plain = announce(base, head, {"services": outputs["services"]})
    assert plain["chat"]["step"] == "create"


def test_the_record_of_what_runs_keeps_the_services_outside_the_stack_apart():
    records = deployed.read({"services": {}, "outsideTheStack": {"chat": {"serviceName": "chat_t",
                                                                            "region": "cn-hangzhou"}}}, "o")
    assert records["chat"].outside and deployed.write(records) == {
        "services": {}, "outsideTheStack": {"chat": {"serviceName": "chat_t", "region": "cn-hangzhou"}}}
    with pytest.raises(deployed.DeployedError, match=r"outsideTheStack.chat lacks its serviceName or region"):
        deployed.read({"services": {}, "outsideTheStack": {"chat": {"region": "cn-hangzhou"}}}, "o")
