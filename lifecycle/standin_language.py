"""A stand-in ``python`` language host for the CLI commands that never run the program.

``pulumi import`` asks the project's language host which plugins the program needs
(pulumi/pulumi ``pkg/engine/plugins.go`` 288-336, ``GetRequiredPlugins`` and
``gatherPackagesFromProgram``) before it imports anything, and the real host cannot be built here
(docs/lifecycle.md). This one answers that question the way the Python host does (the resource
plugins of the installed Pulumi packages: ``pulumi_alicloud``'s ``pulumi-plugin.json`` says
``alicloud`` 4.0.0) and refuses everything else, running a program above all: the scenarios run
programs inline, through the Automation API. Test infrastructure, never shipped.

    python -m lifecycle.standin_language <engine address>
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import grpc
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

from . import plugin_server

PACKAGES = ("pulumi_alicloud",)


def installed_plugins() -> list[plugin_pb2.PackageDependency]:
    """What the Python host reports: each installed package's ``pulumi-plugin.json``."""
    found = []
    for package in PACKAGES:
        info = json.loads((resources.files(package) / "pulumi-plugin.json").read_text())
        found.append(plugin_pb2.PackageDependency(name=info["name"], kind="resource", version=info["version"]))
    return found


class StandinLanguageHost(language_pb2_grpc.LanguageRuntimeServicer):
    """Plugin discovery only (see the module doc)."""

    def GetPluginInfo(self, request: Any, context: grpc.ServicerContext) -> Any:
        return plugin_pb2.PluginInfo(version="3.276.0")

    def GetRequiredPackages(self, request: Any, context: grpc.ServicerContext) -> Any:
        return language_pb2.GetRequiredPackagesResponse(packages=installed_plugins())

    def GetRequiredPlugins(self, request: Any, context: grpc.ServicerContext) -> Any:
        return language_pb2.GetRequiredPluginsResponse(plugins=[
            plugin_pb2.PluginDependency(name=p.name, kind=p.kind, version=p.version) for p in installed_plugins()])

    def Run(self, request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED,
                      "the stand-in language host runs no program: the lifecycle runs programs inline")


def serve() -> None:
    plugin_server.serve(lambda server: language_pb2_grpc.add_LanguageRuntimeServicer_to_server(
        StandinLanguageHost(), server), workers=2)


if __name__ == "__main__":
    serve()
