"""The endpoint reader inside the SDK's real dynamic-provider host, driven over gRPC as the engine
drives it, against the local fake EAS.

The engine starts dynamic providers with ``pulumi-resource-pulumi-python``, a shell script that
ships with the Pulumi CLI (not with the pip package) and runs ``<virtualenv>/bin/python -u -m
pulumi.dynamic`` (pulumi/pulumi ``sdk/python/dist/pulumi-resource-pulumi-python``, the line
``"$PULUMI_RUNTIME_VIRTUALENV/bin/python" -u -m pulumi.dynamic $@``). This test runs exactly that
command with this venv's python, from a directory outside the project and without PYTHONPATH:
the host can unpickle our provider only because ``make venv`` installs the project editable.
The provider goes into ``__provider`` the way ``pulumi.dynamic.Resource`` puts it there
(``serialize_provider``), and the calls are the engine's: Configure, Check, Create, Read, Diff,
Update, Delete, and the Read that ``pulumi import`` sends.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from components.endpoint import EndpointProvider

from .fake_eas import fake_eas

REGION, NAME = "cn-hangzhou", "chat_dev"
URN = ("urn:pulumi:dev::qwen3-eas::qwen3-eas:eas:Qwen3EasService$pulumi-python:dynamic/eas:ServiceEndpoint"
       "::chat-endpoint")
ENDPOINT = f"http://123.{REGION}.pai-eas.aliyuncs.com/api/predict/{NAME}"
OLD = {"metadata": {"name": NAME, "instance": 1, "shm_size": 64}, "autoscaler": {"min": 1, "max": 2}}
NEW = {"metadata": {"name": NAME, "instance": 1}}


def _struct(values: dict[str, Any]) -> struct_pb2.Struct:
    # A loop of its own, as the SDK host does: asyncio.run would unset the thread's current loop,
    # which Pulumi's mock runtime in later tests relies on.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(values, {}))
    finally:
        loop.close()


def _dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    return dict(rpc.deserialize_properties(struct))


@pytest.fixture
def host(tmp_path) -> Iterator[provider_pb2_grpc.ResourceProviderStub]:
    """The SDK's dynamic-provider host, started from ``tmp_path`` with a bare environment."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "ALIBABA_CLOUD_ACCESS_KEY_ID": "host-ak", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "host-sk",
           "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true", "NO_PROXY": "127.0.0.1,localhost"}
    proc = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.dynamic"], cwd=elsewhere, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = (proc.stdout.readline() if proc.stdout else "").strip()
        assert port.isdigit(), f"the host did not start: {proc.stderr.read() if proc.stderr else ''}"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
            yield provider_pb2_grpc.ResourceProviderStub(channel)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_check_create_read_diff_update_refresh_delete_through_the_sdk_host(host):
    service = {"ServiceName": NAME, "Status": "Running", "AccessToken": "tok-1", "InternetEndpoint": ENDPOINT,
               "IntranetEndpoint": ENDPOINT.replace(".pai-eas", ".vpc.pai-eas"),
               "ServiceConfig": json.dumps(OLD)}
    with fake_eas(services={f"{REGION}/{NAME}": service}) as server:
        provider = EndpointProvider(api_endpoint=server.endpoint, protocol="http",
                                    rollout_wait_s=5, poll_s=0.05)

        def inputs(config: dict[str, Any]) -> dict[str, Any]:
            text = json.dumps(config)
            return {"region": REGION, "serviceName": NAME, "configHash": str(len(text)) + text[-8:],
                    "serviceConfig": text, "__provider": serialize_provider(provider)}

        host.Configure(provider_pb2.ConfigureRequest(args=_struct({})), timeout=30)
        checked = host.Check(provider_pb2.CheckRequest(urn=URN, olds=_struct({}), news=_struct(inputs(OLD))),
                             timeout=30)
        assert not checked.failures

        created = host.Create(provider_pb2.CreateRequest(urn=URN, properties=checked.inputs), timeout=30)
        outs = _dict(created.properties)
        assert created.id == f"{REGION}/{NAME}"
        assert (outs["token"], outs["openaiBaseUrl"]) == ("tok-1", ENDPOINT.replace("http://", "https://") + "/v1")

        read = host.Read(provider_pb2.ReadRequest(id=created.id, urn=URN, properties=created.properties,
                                                  inputs=checked.inputs), timeout=30)
        assert read.id == created.id and _dict(read.properties)["status"] == "Running"

        news = _struct(inputs(NEW))
        diff = host.Diff(provider_pb2.DiffRequest(id=created.id, urn=URN, olds=created.properties, news=news),
                         timeout=30)
        assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME and not diff.replaces

        # The provider's merge update, then ours: the dropped keys leave the service.
        server.services[f"{REGION}/{NAME}"]["ServiceConfig"] = json.dumps({**OLD, **NEW})
        updated = host.Update(provider_pb2.UpdateRequest(id=created.id, urn=URN, olds=created.properties,
                                                         news=news), timeout=30)
        assert json.loads(server.services[f"{REGION}/{NAME}"]["ServiceConfig"]) == NEW
        assert [kind for _, kind, _ in server.updates] == ["replace"]

        # `pulumi refresh` after the service was deleted outside Pulumi: gone, not an error. A blank
        # ID is what the engine treats as deleted (pulumi/pulumi step.go line 1616, RefreshStep.Apply).
        del server.services[f"{REGION}/{NAME}"]
        gone = host.Read(provider_pb2.ReadRequest(id=created.id, urn=URN, properties=updated.properties,
                                                  inputs=news), timeout=30)
        assert gone.id == ""

        host.Delete(provider_pb2.DeleteRequest(id=created.id, urn=URN, properties=updated.properties), timeout=30)


def test_what_pulumi_import_sends_fails_in_the_sdk_host_before_our_code(host):
    """``pulumi import`` reads with an ID and neither state nor inputs (pulumi/pulumi at 1b59498,
    pkg/resource/deploy/step.go line 2037, ImportStep.Apply's ``prov.Read``): the SDK's host looks up
    ``props["__provider"]`` and fails. No provider code can change that, which is why the program
    refuses ``import_`` on the reader and the docs say to import the EAS service instead."""
    with pytest.raises(grpc.RpcError) as failure:
        host.Read(provider_pb2.ReadRequest(id=f"{REGION}/{NAME}", urn=URN), timeout=30)
    assert "KeyError: '__provider'" in str(failure.value.details())
