"""``make plan``: the offline plan's files, their stability, and its refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from components.cli import plan
from components.cli.plan import main as plan_main

from .golden_update import GOLDEN, STACKS, mismatches

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("stack", STACKS)
def test_example_stacks_plan_to_their_golden_files(stack, tmp_path):
    assert plan_main([stack, "--out", str(tmp_path / stack)]) == 0
    produced = {p.name: p.read_text() for p in (tmp_path / stack).iterdir()}
    assert (GOLDEN / stack).is_dir(), f"stack {stack} has no tests/golden/{stack}: run `make golden` and commit it"
    golden = {p.name: p.read_text() for p in (GOLDEN / stack).iterdir()}
    assert produced.keys() == golden.keys()
    for name in golden:
        assert produced[name] == golden[name], f"{stack}/{name} changed: run `make golden` and review the diff"


def test_every_stack_file_has_golden_files_and_no_other_stack_does():
    # STACKS is every stacks/Pulumi.<name>.yaml, so a new stack file is checked without a code change.
    assert set(STACKS) >= {"dev", "staging", "prod"}
    problems = mismatches()
    assert not problems, "\n".join(problems)


def test_a_golden_folder_left_by_pulumi_stack_rm_is_named_with_both_ways_out(tmp_path):
    """`pulumi stack rm dev` deletes stacks/Pulumi.dev.yaml too (docs/running.md, tearing a stack
    down): the leftover tests/golden/dev is named, with the command for each intent."""
    for stack in ("dev", "prod", "perf"):
        (tmp_path / stack).mkdir()
    (left_over, missing) = sorted(mismatches(["prod", "perf", "staging"], tmp_path), reverse=True)
    assert left_over.startswith("tests/golden/dev/ is left over: there is no stacks/Pulumi.dev.yaml")
    assert "`pulumi stack rm dev` deletes the stack file unless it is given --preserve-config" in left_over
    assert "run `make golden`, which removes the folder" in left_over
    assert "`git checkout -- stacks/Pulumi.dev.yaml`" in left_over
    assert missing.startswith("stacks/Pulumi.staging.yaml has no tests/golden/staging/: run `make golden`")
    assert mismatches(["dev", "prod", "perf"], tmp_path) == []


def test_two_plans_of_a_stack_are_byte_identical(tmp_path):
    for run in ("a", "b"):
        assert plan_main(["prod", "--out", str(tmp_path / run)]) == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_service_file_parses_to_exactly_the_passed_string(tmp_path):
    _, files = plan.make_plan("dev")
    recorded = plan.run_program("dev", plan.read_stack_config(ROOT / "stacks" / "Pulumi.dev.yaml"))
    (service,) = recorded.of_type(plan.SERVICE_TYPE)
    assert json.loads(files["chat.json"]) == json.loads(service["inputs"]["serviceConfig"])


def test_plan_json_has_the_promised_fields():
    _, files = plan.make_plan("prod")
    entry = json.loads(files["plan.json"])["flagship"]
    for field in ("name", "model", "engine", "region", "resourceKind", "instanceTypes", "gpusPerReplica",
                  "gpuMemoryGiB", "maxModelLen", "warnings"):
        assert field in entry
    assert entry["name"] == "flagship_prod" and entry["resourceKind"] == "spot"
    assert isinstance(entry["gpusPerReplica"], int)


def test_plan_md_is_a_table_per_stack_with_each_service(tmp_path):
    _, files = plan.make_plan("staging")
    md = files["plan.md"]
    assert md.startswith("## qwen3-eas plan: stack `staging`")
    assert "| `reasoner` | `reasoner_staging` | Qwen3-32B | sglang" in md
    assert "### `long-context`" in md and "YaRN" in md


def test_a_stack_file_path_works_as_well_as_a_name(write_stack, tmp_path):
    path = write_stack({"alicloud:region": "cn-beijing",
                        "qwen3-eas:services": {"x": {"model": "Qwen3-0.6B", "engine": "sglang",
                                                     "resource": {"kind": "public",
                                                                  "instanceTypes": ["ml.gu7i.c16m60.1-gu30"]}}}},
                       name="adhoc")
    assert plan_main([str(path), "--out", str(tmp_path / "out")]) == 0
    assert json.loads((tmp_path / "out" / "plan.json").read_text())["x"]["name"] == "x_adhoc"


def test_stale_files_of_removed_services_do_not_survive(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "gone.json").write_text("{}")
    assert plan_main(["dev", "--out", str(out)]) == 0
    assert not (out / "gone.json").exists()


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "components.cli.plan", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_invalid_stack_exits_non_zero_with_one_message_and_writes_nothing(write_stack, tmp_path):
    path = write_stack({"alicloud:region": "cn-hangzhou",
                        "qwen3-eas:services": {"chat": {"model": "Qwen3-9B", "engine": "vllm", "replicas": 0,
                                                        "resource": {"kind": "public",
                                                                     "instanceTypes": ["ml.gu7i.c16m60.1-gu30"]}}}},
                       name="broken")
    out = tmp_path / "out"
    result = _run_cli(str(path), "--out", str(out))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert "stack 'broken', service 'chat', field 'model'" in result.stderr
    assert "stack 'broken', service 'chat', field 'replicas'" in result.stderr
    assert not out.exists()


def test_unknown_stack_name_lists_the_stacks(tmp_path):
    assert plan_main(["nosuch", "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()


def test_a_capacity_snapshot_drives_the_region_choice(tmp_path):
    from components.eas import probe as eas_probe

    snapshot = tmp_path / "capacity.json"
    meta = {"InstanceType": "ml.gu8xf.8xlarge-gu108", "GPU": "GU108", "GPUAmount": 8, "GPUMemory": 96, "CPU": 128,
            "Memory": 1024, "StockStatus": "NoStock", "SpotDiscount": 0.3, "IsAvailable": True, "Vendor": "Lingjun"}
    a10 = {"InstanceType": "ml.gu7i.c16m60.1-gu30", "GPU": "GU30", "GPUAmount": 1, "GPUMemory": 24, "CPU": 16,
           "Memory": 60, "StockStatus": "WithStock", "SpotDiscount": 0.2, "IsAvailable": True, "Vendor": "ECS"}
    eas_probe.write_snapshot(snapshot, {"cn-wulanchabu": [meta, a10], "cn-beijing": [{**meta, "StockStatus": "WithStock"}]})
    assert plan_main(["prod", "--out", str(tmp_path / "out"), "--capacity", str(snapshot)]) == 0
    entry = json.loads((tmp_path / "out" / "plan.json").read_text())["flagship"]
    assert entry["region"] == "cn-beijing"
    assert entry["placement"]["verified"] is True
    assert entry["placement"]["tried"][0] == {"region": "cn-wulanchabu", "instanceType": "ml.gu8xf.8xlarge-gu108",
                                              "reason": "no stock"}
    md = (tmp_path / "out" / "plan.md").read_text()
    assert "Region fallback, in the order tried" in md and "cn-beijing (verified)" in md
    assert json.loads((tmp_path / "out" / "plan.json").read_text())["router"]["region"] == "cn-wulanchabu"
    flagship = json.loads((tmp_path / "out" / "flagship.json").read_text())
    assert flagship["containers"][0]["image"].startswith("eas-registry-vpc.cn-beijing.")


def test_a_missing_capacity_snapshot_is_refused(tmp_path):
    assert plan_main(["dev", "--out", str(tmp_path / "o"), "--capacity", str(tmp_path / "none.json")]) == 2
    assert not (tmp_path / "o").exists()


def test_plan_md_keeps_the_sources_apart_from_the_reviewers_bullets():
    """Issue 28: the hardware table's citations made a type's bullet 400 characters long. The bullets
    say what was decided and from where (the hardware table, the stack file); the sources follow in
    a section of their own, each once, with the services it backs."""
    _, files = plan.make_plan("prod")
    body, sources = files["plan.md"].split("\n## Sources\n")
    bullets = [line for line in body.splitlines() if line.startswith("- ")]
    for line in bullets:
        assert "(read 20" not in line and "DescribeMachineSpecResponseBody" not in line, line
        assert "EAS docs state" not in line and "gpu_list_prices.csv" not in line, line
    (router_type,) = [line for line in bullets if line.startswith("- `ml.gu7i.c32m188.1-gu30`:")]
    assert router_type.endswith("from the hardware table; inferred, not stated by its source: vcpus; EAS use shown by "
                                "an Alibaba source") and len(router_type) < 200
    assert ("- `ml.gu7i.c32m188.1-gu30`: DescribeMachineSpec API reference example in Alibaba Cloud's SDKs" in sources
            and sources.count("- `ml.gu7i.c16m60.1-gu30`: ") == 1)
    assert ("- bid currency on the international site: Alibaba Cloud's international EAS docs state spot_price_limit "
            "in US dollars per instance-hour (`flagship`, `router`)") in sources
    assert "- bid limits, H100 80 GB list price: Azure Standard_ND96isr_H100_v5" in sources
