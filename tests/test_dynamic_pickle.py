"""The SDK's pickle leak (components/dynamic_pickle.py): 1000+ dynamic resources in one process.

Without the workaround, pulumi 3.272.0's ``serialize_provider`` wraps ``pickle._Pickler._batch_setitems``
once more per dynamic resource and a stack of about 900 services dies with RecursionError, in the
offline plan and in ``pulumi up`` alike (pulumi/pulumi#17803). The serialised provider must keep its
bytes: the dynamic-provider host, a separate process, unpickles it on every create/diff/read.
"""

from __future__ import annotations

import base64
import pickle
import subprocess
import sys
from pathlib import Path

import dill
import pulumi.dynamic
import pytest

from components import dynamic_pickle
from components.cli.plan import run_program
from components.endpoint import EndpointProvider

ROOT = Path(__file__).resolve().parent.parent
COUNT = 1200  # past where the unpatched SDK overflows the default recursion limit (about 900)

PROGRAM = """
from components.endpoint import ServiceEndpoint

for i in range({count}):
    ServiceEndpoint(f"svc{{i}}-endpoint", region="cn-hangzhou", service_name=f"svc{{i}}_bench", service_config="{{}}")
"""


@pytest.fixture(scope="module")
def registered(tmp_path_factory) -> list[dict]:
    """COUNT endpoint readers registered by one program on the mock runtime, as ``make plan`` runs it."""
    program = tmp_path_factory.mktemp("many") / "__main__.py"
    program.write_text(PROGRAM.format(count=COUNT))
    before = vars(pickle._Pickler)["_batch_setitems"]
    recorded = run_program("many", {}, program=program)  # its speed is bench/plan_bench.py's to measure
    assert vars(pickle._Pickler)["_batch_setitems"] is before, "serialisation left pickle patched"
    # Dynamic resources are the ones carrying a serialised provider, whatever their type token.
    return [r for r in recorded.resources if "__provider" in r["inputs"]]


def test_more_than_a_thousand_dynamic_resources_register_in_one_process(registered):
    # Registrations complete in the event loop's order, not the program's: compare as a set.
    names = {r["inputs"]["serviceName"] for r in registered}
    assert len(registered) == COUNT and names == {f"svc{i}_bench" for i in range(COUNT)}


def test_every_resource_carries_the_bytes_the_sdk_itself_produces(registered):
    """Same provider, same bytes: the first and the last resource, and the SDK's own unwrapped function."""
    serialised = {r["inputs"]["__provider"] for r in registered}
    assert serialised == {dynamic_pickle.sdk_serialize_provider()(EndpointProvider())}


class StatefulProvider(pulumi.dynamic.ResourceProvider):
    """Attributes and a dict in non-sorted order: only sorting makes their bytes stable."""

    def __init__(self) -> None:
        self.zone = "cn-hangzhou"
        self.settings = {"timeout": 30, "endpoint": "127.0.0.1:1", "retries": {"max": 3, "backoff": 0.5}}


def test_a_provider_with_state_keeps_its_sorted_bytes():
    """Sorting still happens, once: the bytes are the SDK's own, and unpickle to the same state."""
    provider = StatefulProvider()
    ours = dynamic_pickle.restoring_pickle(dynamic_pickle.sdk_serialize_provider())(provider)
    assert ours == dynamic_pickle.sdk_serialize_provider()(provider)
    restored = dill.loads(base64.b64decode(ours))  # what the host's get_provider does
    assert vars(restored) == vars(provider)


def test_the_dynamic_provider_host_unpickles_and_runs_the_provider(registered):
    """The SDK's own host process (``python -m pulumi.dynamic``) over gRPC: Diff needs the provider."""
    grpc = pytest.importorskip("grpc")
    from google.protobuf import struct_pb2
    from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

    host = subprocess.Popen([sys.executable, "-m", "pulumi.dynamic"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        assert host.stdout is not None
        port = int(host.stdout.readline())
        channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.enable_http_proxy", 0)])
        stub = provider_pb2_grpc.ResourceProviderStub(channel)
        olds, news = struct_pb2.Struct(), struct_pb2.Struct()
        olds.update(registered[-1]["inputs"])
        news.update({**registered[-1]["inputs"], "serviceName": "renamed_bench"})
        reply = stub.Diff(provider_pb2.DiffRequest(id="cn-hangzhou/x", urn="urn:x", olds=olds, news=news), timeout=30)
        channel.close()
    finally:
        host.kill()
        host.wait()
    # EndpointProvider.diff, run in the host: a new service name replaces the reader.
    assert reply.changes == provider_pb2.DiffResponse.DIFF_SOME
    assert list(reply.replaces) == ["serviceName"]


def test_the_program_pulumi_up_runs_installs_the_workaround():
    """`pulumi up` runs __main__.py, which imports the program: the workaround is in place before any resource."""
    code = ("import components.program, pulumi.dynamic.dynamic as d; "
            f"print(hasattr(d.serialize_provider, {dynamic_pickle.WRAPPED_ATTR!r}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "True"


def test_the_sdk_still_leaks_without_the_workaround():
    """Upstream's bug, still there: when this fails after an SDK upgrade, drop components/dynamic_pickle.py."""
    saved = {name: vars(pickle._Pickler)[name] for name in dynamic_pickle.PATCHED}
    sdk = dynamic_pickle.sdk_serialize_provider()
    try:
        sdk(EndpointProvider())
        once = vars(pickle._Pickler)["_batch_setitems"]
        sdk(EndpointProvider())
        assert vars(pickle._Pickler)["_batch_setitems"] is not once, "the SDK no longer stacks wrappers"
        assert once is not saved["_batch_setitems"]
    finally:
        for name, method in saved.items():
            setattr(pickle._Pickler, name, method)


def test_the_upstream_reproduction_fails_without_the_fix_and_passes_with_it(tmp_path):
    """bench/dynamic_pickle_repro.py stands alone (no project import) and shows both outcomes."""
    script = ROOT / "bench" / "dynamic_pickle_repro.py"
    imports = [line for line in script.read_text().splitlines() if line.startswith(("import ", "from "))]
    assert imports and not [line for line in imports if "components" in line or "bench" in line]
    runs = {flag: subprocess.run([sys.executable, str(script), "--count", "500", *([flag] if flag else [])],
                                 cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
            for flag in ("", "--workaround")}
    assert runs[""].returncode == 1 and "RecursionError" in runs[""].stdout
    assert runs["--workaround"].returncode == 0
    assert "500 dynamic resources created; serialised provider unchanged: True" in runs["--workaround"].stdout
