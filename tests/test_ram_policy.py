"""The RAM policies of docs/security.md grant every EAS call a deploy makes, and previews write nothing.

A call the deploy role lacks fails in the middle of `pulumi up`, after other services changed: the
first stack to adopt the ownership labels (issue 22) would have met it, since the provider sets
changed tags with TagResources. The calls are read from the code that makes them: the stand-in
provider (which mirrors the real one's, cited there) and our own EAS client code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "security.md").read_text()

# The provider's calls the component never causes: its `status` input is always Running (checked
# below), so the provider may start a service stopped outside Pulumi, never stop one.
NOT_CAUSED = {"StopService"}
# Our own code calls the SDK: its method names, as RAM names them.
SDK_METHODS = {"describe_service_with_options": "DescribeService", "update_service_with_options": "UpdateService",
               "delete_service_with_options": "DeleteService", "create_service_with_options": "CreateService",
               "list_services_with_options": "ListServices"}
# Calls a run goes on without (a warning says so): granted only where a team accepts what they allow.
OPTIONAL = {"ListServices"}


def policy(name: str) -> dict:
    """The JSON block that follows "Permission policy `<name>`" in docs/security.md."""
    start = DOC.index(f"Permission policy `{name}`")
    block = re.search(r"```json\n(.*?)```", DOC[start:], re.S)
    assert block, f"docs/security.md: no JSON after the policy {name}"
    return json.loads(block.group(1))


def eas_actions(doc: dict) -> set[str]:
    actions: set[str] = set()
    for statement in doc["Statement"]:
        assert statement["Effect"] == "Allow"
        listed = statement["Action"]
        actions.update([listed] if isinstance(listed, str) else listed)
    return {a for a in actions if a.startswith("eas:")}


def provider_calls() -> set[str]:
    """What the stand-in provider calls on EAS, by API name (its retries are labelled with it)."""
    source = (ROOT / "lifecycle" / "standin_alicloud" / "eas.py").read_text()
    return set(re.findall(r'_retry\(f?"([A-Z][A-Za-z]+)', source))


def program_calls() -> set[str]:
    """What our own code calls: the SDK methods named in components/, and the API actions it
    calls through the SDK's generic ``call_api`` (``action="..."`` in its parameters)."""
    found: set[str] = set()
    for path in (ROOT / "components").rglob("*.py"):
        text = path.read_text()
        found.update(api for method, api in SDK_METHODS.items() if f".{method}(" in text)
        found.update(re.findall(r'\baction="([A-Z][A-Za-z]+)"', text))
    return found


def test_the_code_makes_the_calls_this_test_knows():
    # If the stand-in gains a call, this fails first, so the policy check below is never vacuous.
    assert provider_calls() == {"CreateService", "DescribeService", "UpdateService", "DeleteService",
                                "StartService", "StopService", "TagResources", "UntagResources"}
    assert program_calls() == {"DescribeMachineSpec", "DescribeService", "UpdateService", "DeleteService",
                               "ListServices"}


def test_the_component_asks_for_a_running_service_and_never_stops_one():
    service = (ROOT / "components" / "service.py").read_text()
    call = service[service.index("alicloud.pai.Service("):]
    call = call[:call.index("opts=")]
    # Running where the lookup found it stopped, or unset: never Stopped.
    assert re.findall(r"\bstatus=([^,\n]+)", call) == ['"Running" if plan.status_seen in service_status.STOPPED else None']


def test_the_deploy_policy_grants_every_call_a_deploy_makes():
    needed = {f"eas:{api}" for api in (provider_calls() - NOT_CAUSED) | (program_calls() - OPTIONAL)}
    granted = eas_actions(policy("qwen3-eas-deploy-prod"))
    assert needed - granted == set(), f"docs/security.md's deploy policy lacks {sorted(needed - granted)}"
    assert granted - needed == set(), f"docs/security.md's deploy policy grants unused {sorted(granted - needed)}"


def test_every_call_is_explained_in_the_table():
    for api in (provider_calls() - NOT_CAUSED) | program_calls():  # the optional ones too
        assert re.search(rf"^\| [^|]*`eas:{api}`", DOC, re.M), f"docs/security.md: no table row for eas:{api}"


def test_the_preview_policy_only_reads():
    granted = eas_actions(policy("qwen3-eas-preview-prod"))
    assert granted == {"eas:DescribeMachineSpec", "eas:DescribeService"}
