"""Serving a stand-in plugin the way the engine starts one: a gRPC server on a free loopback port
whose number is the first line on stdout (pulumi/pulumi ``pkg/resource/plugin/plugin.go``,
``newPlugin`` reads it), stopped by the interrupt the engine sends when a run is over."""

from __future__ import annotations

import sys
from collections.abc import Callable
from concurrent import futures

import grpc


def serve(register: Callable[[grpc.Server], None], *, workers: int = 8) -> None:
    """Serve what ``register`` adds to the server until the engine ends the plugin."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers),
                         options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)])
    register(server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        server.stop(grace=0)
