"""The smoke test against a fake service on 127.0.0.1: healthy passes, every misbehaviour is named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from openai.types.chat import ChatCompletion

from components.cli import smoke, smoke_targets

from .fake_openai import SERVED, TOKEN, Behaviour, FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent
FAST = "1"  # seconds per request: the fake answers in milliseconds


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy may carry a request meant for 127.0.0.1 anywhere else."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "*")


def service_output(fake: FakeOpenAI, **overrides: Any) -> dict[str, Any]:
    """One service's stack outputs pointing at ``fake``, features as the fake is deployed."""
    b = fake.behaviour
    entry: dict[str, Any] = {
        "serviceName": "chat_test",
        "region": "cn-hangzhou",
        "servedModelName": b.served_model_name,
        "instanceTypes": ["ml.gu7i.c16m60.1-gu30"],
        "status": "Running",
        "internetEndpoint": fake.base_url.removesuffix("/v1"),
        "intranetEndpoint": "http://intranet.invalid/api/predict/chat_test",
        "openaiBaseUrl": fake.base_url,
        "token": b.token,
        "features": {"toolCalling": b.tool_calling, "reasoning": b.reasoning, "thinking": b.thinking},
    }
    for key, value in overrides.items():
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
    return entry


def write_outputs(tmp_path: Path, services: dict[str, Any]) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"services": services}), encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = smoke.main([*argv, "--timeout", FAST] if "--timeout" not in argv else list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def rows(table: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(service, check) -> (result, detail) from the printed table."""
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for line in table.splitlines()[1:]:
        if not line.strip():
            break
        service, check, result, *detail = line.split(maxsplit=3)
        found[service, check] = (result, detail[0] if detail else "")
    return found


def smoke_fake(tmp_path: Path, capsys: pytest.CaptureFixture[str], behaviour: Behaviour,
               **overrides: Any) -> tuple[int, dict[tuple[str, str], tuple[str, str]], FakeOpenAI]:
    with FakeOpenAI(behaviour) as fake:
        path = write_outputs(tmp_path, {"chat": service_output(fake, **overrides)})
        code, out, _ = run(capsys, "--outputs", str(path))
    return code, rows(out), fake


# --- healthy services --------------------------------------------------------------------------


def test_healthy_service_with_every_feature_passes(tmp_path, capsys):
    with FakeOpenAI(Behaviour(tool_calling=True, reasoning=True)) as fake:
        path = write_outputs(tmp_path, {"chat": service_output(fake)})
        code, out, err = run(capsys, "--outputs", str(path))
    assert code == 0, out + err
    table = rows(out)
    assert [check for _, check in table] == ["models", "chat", "no-think", "multi-turn", "tool-call", "reasoning"]
    assert all(result == "ok" for result, _ in table.values()), out
    assert table["chat", "tool-call"][1] == 'get_weather({"city": "Paris"})'
    assert out.rstrip().endswith("all 6 checks passed")
    # The raw EAS token, never "Bearer <token>"; thinking switched off per request where asked.
    assert {r.headers.get("authorization") for r in fake.seen} == {TOKEN}
    bodies = [r.body for r in fake.seen if r.body]
    assert sum("chat_template_kwargs" not in b for b in bodies) == 1  # only the reasoning request thinks
    assert all(b.get("max_tokens") for b in bodies)


def test_thinking_off_service_needs_no_per_request_switch(tmp_path, capsys):
    code, table, fake = smoke_fake(tmp_path, capsys, Behaviour(thinking=False, reasoning=True, tool_calling=False))
    assert code == 0
    assert table["chat", "no-think"] == ("ok", "no <think> block (thinking off for the service)")
    # Nothing to separate with thinking off; tool calls were not deployed.
    assert ("chat", "reasoning") not in table and ("chat", "tool-call") not in table
    assert all("chat_template_kwargs" not in r.body for r in fake.seen if r.body)


def test_services_run_in_key_order_and_each_is_judged_alone(tmp_path, capsys):
    with FakeOpenAI(Behaviour()) as good, FakeOpenAI(Behaviour(status=500)) as bad:
        path = write_outputs(tmp_path, {"zeta": service_output(good), "alpha": service_output(bad)})
        code, out, _ = run(capsys, "--outputs", str(path))
    table = rows(out)
    assert code == 1
    assert list(dict.fromkeys(service for service, _ in table)) == ["alpha", "zeta"]
    assert all(result == "ok" for (service, _), (result, _) in table.items() if service == "zeta")


# --- misbehaviour is caught and named ----------------------------------------------------------

MISBEHAVIOURS = [
    pytest.param(Behaviour(leak_think=True), "no-think", "<think> block in content despite enable_thinking=false",
                 id="think-leaks"),
    pytest.param(Behaviour(thinking=False, leak_think=True), "no-think",
                 "<think> block in content despite thinking off for the service", id="think-leaks-service-off"),
    pytest.param(Behaviour(no_tool_calls=True), "tool-call", "tool call left in content as text, no tool_calls",
                 id="no-tool-calls"),
    pytest.param(Behaviour(reasoning=True, inline_reasoning=True), "reasoning",
                 "reasoning inline in content (<think>), no reasoning_content", id="reasoning-inline"),
    pytest.param(Behaviour(forget_history=True), "multi-turn", "turn 2 did not recall 'Ada'", id="forgets-history"),
    pytest.param(Behaviour(status=401), "models", "token rejected (wrong or missing token): HTTP 401", id="401"),
    pytest.param(Behaviour(status=403), "models", "token rejected (wrong or missing token): HTTP 403", id="403"),
    pytest.param(Behaviour(status=500), "chat", "server error: HTTP 500", id="500"),
    pytest.param(Behaviour(status=503), "models", "server error: HTTP 503", id="503"),
]


@pytest.mark.parametrize(("behaviour", "check", "detail"), MISBEHAVIOURS)
def test_misbehaviour_is_named(tmp_path, capsys, behaviour, check, detail):
    code, table, _ = smoke_fake(tmp_path, capsys, behaviour)
    assert code == 1
    result, shown = table["chat", check]
    assert result == "FAIL"
    assert shown.startswith(detail), shown


def test_wrong_token_in_outputs_is_rejected_and_stops_the_service(tmp_path, capsys):
    code, table, fake = smoke_fake(tmp_path, capsys, Behaviour(), token="not-the-token")
    assert code == 1
    assert table["chat", "models"] == ("FAIL", "token rejected (wrong or missing token): HTTP 401")
    assert {result for (_, check), (result, _) in table.items() if check != "models"} == {"skip"}
    assert len(fake.seen) == 1  # no request after the token was refused


def test_slow_service_times_out_without_hanging_the_run(tmp_path, capsys):
    with FakeOpenAI(Behaviour(delay=5)) as fake:
        path = write_outputs(tmp_path, {"chat": service_output(fake)})
        code, out, _ = run(capsys, "--outputs", str(path), "--timeout", "0.5")
    table = rows(out)
    assert code == 1
    assert table["chat", "models"] == ("FAIL", "timed out after 0.5 s")
    assert table["chat", "chat"] == ("skip", "not run: timed out after 0.5 s")
    assert len(fake.seen) == 1  # max_retries=0: one try only


def test_unreachable_service_is_named(tmp_path, capsys):
    with FakeOpenAI(Behaviour()) as fake:
        entry = service_output(fake)
    path = write_outputs(tmp_path, {"chat": entry})  # the port is closed now
    code, out, _ = run(capsys, "--outputs", str(path))
    assert code == 1
    assert rows(out)["chat", "models"][1].startswith("cannot connect")


@pytest.mark.parametrize(("token", "detail"), [
    (None, "no token in outputs"),
    ("", "no token in outputs"),
    ("[secret]", "token is hidden ([secret]): read the outputs with --show-secrets"),
])
def test_missing_token_is_reported_without_calling(tmp_path, capsys, token, detail):
    with FakeOpenAI(Behaviour()) as fake:
        entry = service_output(fake)
        entry["token"] = token
        path = write_outputs(tmp_path, {"chat": entry})
        code, out, _ = run(capsys, "--outputs", str(path))
    assert code == 1
    assert rows(out) == {("chat", "token"): ("FAIL", detail)}
    assert fake.seen == []


def test_wrong_served_name_is_named(tmp_path, capsys):
    code, table, _ = smoke_fake(tmp_path, capsys, Behaviour(), servedModelName="Qwen3-8B")
    assert code == 1
    assert table["chat", "models"] == ("FAIL", f"'Qwen3-8B' not listed (lists {SERVED!r})")
    assert table["chat", "chat"] == ("FAIL", "request refused: HTTP 404: The model `Qwen3-8B` does not exist.")


def test_internet_endpoint_serves_when_openai_base_url_is_absent(tmp_path, capsys):
    code, table, _ = smoke_fake(tmp_path, capsys, Behaviour(), openaiBaseUrl=None)
    assert code == 0, table


# --- where features come from ------------------------------------------------------------------


def test_features_fall_back_to_the_stack_file(tmp_path, capsys):
    # stacks/Pulumi.dev.yaml: service `chat` has toolCalling on, reasoning off.
    with FakeOpenAI(Behaviour(reasoning=True)) as fake:
        path = write_outputs(tmp_path, {"chat": service_output(fake, features=None)})
        code, out, err = run(capsys, "--outputs", str(path), "--stack", "dev")
    table = rows(out)
    assert code == 0, out + err
    assert ("chat", "tool-call") in table and ("chat", "reasoning") not in table


def test_features_missing_without_a_stack_is_a_named_failure(tmp_path, capsys):
    code, table, fake = smoke_fake(tmp_path, capsys, Behaviour(), features=None)
    assert code == 1
    result, detail = table["chat", "features"]
    assert result == "FAIL" and "pass --stack <name>" in detail
    assert fake.seen == []


def test_service_missing_from_the_stack_file_is_named(tmp_path, capsys):
    with FakeOpenAI(Behaviour()) as fake:
        path = write_outputs(tmp_path, {"other": service_output(fake, features=None)})
        code, out, _ = run(capsys, "--outputs", str(path), "--stack", "dev")
    assert code == 1
    assert rows(out)["other", "features"] == ("FAIL", "no features in outputs and no service 'other' in stack 'dev'")


def test_unknown_stack_for_features_is_a_clear_error(tmp_path, capsys):
    with FakeOpenAI(Behaviour()) as fake:
        path = write_outputs(tmp_path, {"chat": service_output(fake, features=None)})
        code, out, err = run(capsys, "--outputs", str(path), "--stack", "nosuch")
    assert code == 2 and out == ""
    assert err.startswith("smoke: no stack 'nosuch'")


# --- reading outputs ---------------------------------------------------------------------------


def test_outputs_come_from_pulumi_with_secrets_shown(tmp_path, monkeypatch, capsys):
    with FakeOpenAI(Behaviour()) as fake:
        record = tmp_path / "args.txt"
        outputs = json.dumps({"services": {"chat": service_output(fake)}})
        script = tmp_path / "pulumi"
        script.write_text(f"#!/bin/sh\necho \"$@\" > {record}\ncat <<'EOF'\n{outputs}\nEOF\n")
        script.chmod(0o755)
        monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
        code, out, err = run(capsys, "--stack", "dev")
    assert code == 0, out + err
    assert record.read_text().split() == ["stack", "output", "--json", "--show-secrets", "--stack", "dev"]


def test_pulumi_failure_is_reported(tmp_path, monkeypatch, capsys):
    script = tmp_path / "pulumi"
    script.write_text("#!/bin/sh\necho 'error: no stack named dev found' >&2\nexit 255\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    code, out, err = run(capsys, "--stack", "dev")
    assert code == 2 and out == ""
    assert "error: no stack named dev found" in err


def test_missing_pulumi_cli_gives_a_clear_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI")}
    env["PATH"] = str(tmp_path)  # an empty directory: no pulumi
    done = subprocess.run([sys.executable, "-m", "components.cli.smoke", "--stack", "dev"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "the Pulumi CLI (pulumi) is not on PATH" in done.stderr
    assert "--outputs FILE" in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(("text", "message"), [
    ("not json", "not valid JSON"),
    ('{"other": 1}', "expected a JSON object with a 'services' map"),
    ('["services"]', "expected a JSON object with a 'services' map"),
])
def test_bad_outputs_file_is_a_clear_error(tmp_path, capsys, text, message):
    path = tmp_path / "outputs.json"
    path.write_text(text)
    code, out, err = run(capsys, "--outputs", str(path))
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err


def test_absent_outputs_file_is_a_clear_error(tmp_path, capsys):
    code, _, err = run(capsys, "--outputs", str(tmp_path / "nope.json"))
    assert code == 2 and "cannot read outputs file" in err


def test_no_services_is_not_a_pass(tmp_path, capsys):
    code, out, _ = run(capsys, "--outputs", str(write_outputs(tmp_path, {})))
    assert code == 1 and "no services in the outputs" in out


def test_stack_or_outputs_is_required(capsys):
    with pytest.raises(SystemExit) as exit_:
        smoke.main([])
    assert exit_.value.code == 2
    assert "give --stack <name> or --outputs <file>" in capsys.readouterr().err


# --- the checks alone --------------------------------------------------------------------------


def completion(**message: Any) -> ChatCompletion:
    return ChatCompletion.model_validate({
        "id": "x", "object": "chat.completion", "created": 0, "model": SERVED,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": None, **message}}],
    })


def call(name: str, arguments: str) -> dict[str, Any]:
    return {"id": "c", "type": "function", "function": {"name": name, "arguments": arguments}}


def test_check_models():
    assert smoke.check_models(["a", SERVED], SERVED) == (True, f"lists {SERVED!r}")
    assert smoke.check_models(["Qwen3-8B"], SERVED) == (False, f"{SERVED!r} not listed (lists 'Qwen3-8B')")
    assert smoke.check_models([], SERVED)[1].endswith("(lists nothing)")


def test_check_answers():
    assert smoke.check_answers(completion(content="Paris."))[0]
    assert smoke.check_answers(completion(content="<think>\nhm\n</think>\n\n")) == (False, "empty content (finish_reason 'stop')")
    assert smoke.check_answers(completion(content=None))[0] is False
    empty = completion(content="x").model_copy(update={"choices": []})
    assert smoke.check_answers(empty) == (False, "no choices in the response")


def test_check_no_think():
    assert smoke.check_no_think(completion(content="Paris."), "x")[0]
    assert not smoke.check_no_think(completion(content="<think></think>Paris."), "x")[0]
    assert not smoke.check_no_think(completion(content="thought</think>Paris."), "x")[0]


def test_check_tool_call():
    assert smoke.check_tool_call(completion(tool_calls=[call("get_weather", '{"city": "Paris"}')])) == (
        True, 'get_weather({"city": "Paris"})')
    assert smoke.check_tool_call(completion(tool_calls=[call("get_time", "{}")])) == (
        False, "called 'get_time', expected 'get_weather'")
    assert smoke.check_tool_call(completion(tool_calls=[call("get_weather", "{city: Paris")]))[1].startswith(
        "arguments are not JSON")
    assert smoke.check_tool_call(completion(tool_calls=[call("get_weather", '["Paris"]')]))[1].startswith(
        "arguments are not a JSON object")
    assert smoke.check_tool_call(completion(content="It is sunny.")) == (False, "no tool_calls (content 'It is sunny.')")


def test_check_reasoning_reads_either_field_name():
    assert smoke.check_reasoning(completion(content="42", reasoning_content="add")) == (
        True, "reasoning_content: 3 chars, apart from content")
    assert smoke.check_reasoning(completion(content="42", reasoning="add them"))[1].startswith("reasoning: 8 chars")
    assert smoke.check_reasoning(completion(content="42")) == (False, "no reasoning_content in the message")
    assert smoke.check_reasoning(completion(content="<think>a</think>42", reasoning_content="a"))[1] == (
        "reasoning_content present but content still has a <think> block")


def test_check_remembers():
    assert smoke.check_remembers(completion(content="Your name is Ada."))[0]
    assert smoke.check_remembers(completion(content="I don't know.")) == (False, "turn 2 did not recall 'Ada': \"I don't know.\"")


def test_table_is_aligned_and_summarised():
    table = smoke.render_table([
        smoke.Result("chat", "models", "ok", "lists 'q'"),
        smoke.Result("router", "no-think", "FAIL", "line\nbreak " + "x" * 200),
    ])
    lines = table.splitlines()
    assert lines[0] == "service  check     result  detail"
    assert lines[1] == "chat     models    ok      lists 'q'"
    assert lines[2].startswith("router   no-think  FAIL    line break xxx") and lines[2].endswith("...")
    assert len(lines[2]) == len("router   no-think  FAIL    ") + 100
    assert lines[-1] == "1 of 2 checks failed, 0 skipped"


# --- BladeLLM: judged by what it offers ----------------------------------------------------------


def blade_output(fake: FakeOpenAI, **overrides: Any) -> dict[str, Any]:
    return service_output(fake, engine="bladellm", **overrides)


def test_bladellm_is_judged_by_what_it_offers(tmp_path, capsys):
    """No /v1/models and no model field: the model list is skipped with the reason, the rest runs."""
    behaviour = Behaviour(engine="bladellm", tool_calling=False, thinking=False)
    with FakeOpenAI(behaviour) as fake:
        path = write_outputs(tmp_path, {"chat": blade_output(fake)})
        code, out, _ = run(capsys, "--outputs", str(path))
    table = rows(out)
    assert code == 0, out
    assert table["chat", "models"][0] == "skip" and "/v1/models" in table["chat", "models"][1]
    assert {check: result for (_, check), (result, _) in table.items()} == {
        "models": "skip", "chat": "ok", "no-think": "ok", "multi-turn": "ok"}
    assert not any(r.path == "/v1/models" for r in fake.seen)
    bodies = [r.body for r in fake.seen if r.body]
    # BladeLLM reads `model` as a LoRA name and documents no chat_template_kwargs: neither is sent.
    assert bodies and all("model" not in b and "chat_template_kwargs" not in b for b in bodies)
    assert all(b.get("max_tokens") for b in bodies)  # never its 16-token default


def test_bladellm_answer_cut_at_max_tokens_is_skipped_not_failed(tmp_path, capsys):
    code, table, _ = smoke_fake(tmp_path, capsys, Behaviour(engine="bladellm", tool_calling=False, truncate_at=0),
                                engine="bladellm")
    assert code == 0
    assert table["chat", "chat"][0] == "skip" and "max_tokens" in table["chat", "chat"][1]
    assert table["chat", "multi-turn"][0] == "skip"
    # Thinking on and no documented per-request switch: the think check is not offered.
    assert table["chat", "no-think"][0] == "skip" and "per-request switch" in table["chat", "no-think"][1]


def test_truncation_still_fails_an_engine_that_honours_max_tokens(tmp_path, capsys):
    """Only BladeLLM earns the benefit of the doubt; a vLLM service with an empty answer fails."""
    code, table, _ = smoke_fake(tmp_path, capsys, Behaviour(tool_calling=False, truncate_at=0))
    assert code == 1 and table["chat", "chat"][0] == "FAIL"


def test_bladellm_engine_is_read_from_the_stack_file_when_outputs_lack_it():
    outputs = {"services": {"chat": {"servedModelName": "Qwen3-8B", "openaiBaseUrl": "http://127.0.0.1:1/v1",
                                     "token": "t", "features": {"toolCalling": False, "reasoning": False,
                                                                "thinking": True}}}}
    found = smoke_targets.targets(outputs, "x", read_features=lambda _: {"chat": smoke_targets.Features(engine="bladellm")})
    assert found[0].features is not None and found[0].features.bladellm


# -- issue 22, item 3: the token travels over https only --------------------------------------------


@pytest.mark.parametrize(("given", "called"), [
    ("http://123.cn-hangzhou.pai-eas.aliyuncs.com/api/predict/chat_dev/v1",
     "https://123.cn-hangzhou.pai-eas.aliyuncs.com/api/predict/chat_dev/v1"),
    ("https://123.cn-hangzhou.pai-eas.aliyuncs.com/api/predict/chat_dev/v1",
     "https://123.cn-hangzhou.pai-eas.aliyuncs.com/api/predict/chat_dev/v1"),
    ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"),  # a local test server only
])
def test_the_token_is_sent_over_https_only(given, called):
    seen: list[str] = []

    def client(service: smoke_targets.Service, timeout: float) -> Any:
        seen.append(service.base_url)
        raise RuntimeError("no request in this test")

    target = smoke_targets.Target("chat", given, "tok", "Qwen3-8B", smoke_targets.Features())
    with pytest.raises(RuntimeError):
        smoke.run_service(target, client_factory=client)
    assert seen == [called]


def test_an_endpoint_that_is_neither_http_nor_https_gets_no_token():
    target = smoke_targets.Target("chat", "ftp://example.invalid/v1", "tok", "Qwen3-8B", smoke_targets.Features())
    [result] = smoke.run_service(target, client_factory=lambda *a: pytest.fail("no client may be made"))
    assert (result.check, result.outcome) == ("endpoint", "FAIL") and "https only" in result.detail


# --- models that always think ------------------------------------------------------------------

def test_a_model_that_always_thinks_is_not_asked_to_stop_and_gets_room_to_answer(tmp_path, capsys):
    behaviour = Behaviour(reasoning=True)
    with FakeOpenAI(behaviour) as fake:
        entry = service_output(fake)
        entry["features"]["alwaysThinks"] = True
        path = write_outputs(tmp_path, {"chat": entry})
        code, out, _ = run(capsys, "--outputs", str(path))
        asked = [r.body["max_tokens"] for r in fake.seen if r.path.endswith("/chat/completions")]
    table = rows(out)
    assert table[("chat", "no-think")][0] == "skip" and "always thinks" in table[("chat", "no-think")][1]
    assert table[("chat", "chat")][0] == "ok" and code == 0
    assert min(asked) >= smoke.THINKING_ROOM


def test_always_thinks_comes_from_the_plan_and_the_stack_file():
    from .conftest import L48, plan_one

    plan = plan_one(model="Qwen3-4B-Thinking-2507", resource={"kind": "public", "instanceTypes": [L48]})
    assert plan.features["alwaysThinks"] is True
    assert "alwaysThinks" not in plan_one(model="Qwen3-4B-Instruct-2507",
                                          resource={"kind": "public", "instanceTypes": [L48]}).features
    outputs = {"services": {"chat": {"features": {"toolCalling": False, "reasoning": False, "thinking": True,
                                                  "alwaysThinks": True}}}}
    assert smoke_targets.targets(outputs)[0].features.always_thinks
