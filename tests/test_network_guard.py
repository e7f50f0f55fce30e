"""The suite's own net: no in-process test can open a connection off this machine."""

from __future__ import annotations

import socket

import pytest

from .conftest import OffMachineConnectionError


@pytest.mark.parametrize("address", [("100.100.100.200", 80), ("10.0.0.1", 443), ("eas.cn-hangzhou.aliyuncs.com", 443)])
def test_a_connect_off_the_machine_is_refused_before_any_packet(address: tuple[str, int]) -> None:
    with socket.socket() as sock, pytest.raises(OffMachineConnectionError):
        sock.connect(address)


def test_loopback_still_connects() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
