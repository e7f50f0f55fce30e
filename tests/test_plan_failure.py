"""After a failed plan, nothing stale in build/<stack> may pass for the current plan."""

from __future__ import annotations

from components.cli import plan

from .conftest import service


def test_a_failed_plan_replaces_the_previous_plan_with_the_reason(tmp_path, write_stack, capsys):
    out = tmp_path / "out"
    path = write_stack({"alicloud:region": "cn-hangzhou", "qwen3-eas:services": {"chat": service()}})
    assert plan.main([str(path), "--out", str(out)]) == 0
    assert (out / "plan.md").is_file()

    write_stack({"alicloud:region": "cn-hangzhou", "qwen3-eas:services": {"chat": service(replicas=0)}})
    assert plan.main([str(path), "--out", str(out)]) == 2
    assert sorted(p.name for p in out.iterdir()) == [plan.FAILED_FILE]
    text = (out / plan.FAILED_FILE).read_text()
    assert "no plan is current" in text and "field 'replicas'" in text
    assert "previous plan was removed" in capsys.readouterr().err


def test_a_failed_plan_creates_nothing_where_there_was_no_plan(tmp_path, write_stack):
    path = write_stack({"alicloud:region": "cn-hangzhou", "qwen3-eas:services": {"chat": service(replicas=0)}})
    assert plan.main([str(path), "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()
