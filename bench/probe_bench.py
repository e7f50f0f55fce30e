"""``make bench``, stock probe: concurrency and the cost of a hung region.

Both run the real SDK client against the local fake EAS API (tests/fake_eas.py) on 127.0.0.1.
Targets: 5 regions answering after 300 ms complete well under 2 x one probe; a hung region
costs no more than the per-call timeout.
"""

from __future__ import annotations

import time

from components.eas import api as eas_api
from components.eas import probe as eas_probe
from tests.fake_eas import HANG, Fault, fake_eas

META = {"InstanceType": "ml.gu7i.c16m60.1-gu30", "GPU": "GU30", "GPUAmount": 1, "GPUMemory": 24,
        "StockStatus": "WithStock"}
DELAY_S = 0.3
TIMEOUT_S = 1.0


def _factory(endpoint: str, timeout_s: float):
    return lambda region: eas_api.make_client(region, endpoint=endpoint, protocol="http", credentials=("ak", "sk"),
                                              read_timeout_s=timeout_s, connect_timeout_s=timeout_s)


def run() -> list[str]:
    """Report lines for the two probe measurements."""
    with fake_eas(metas=[META], faults=[Fault(delay_s=DELAY_S)]) as server:
        factory = _factory(server.endpoint, TIMEOUT_S)
        eas_probe.probe_regions(["warm-up"], client_factory=factory)  # SDK imports, first connection
        start = time.perf_counter()
        eas_probe.probe_regions(["cn-hangzhou"], client_factory=factory)
        one = time.perf_counter() - start
        start = time.perf_counter()
        answers = eas_probe.probe_regions([f"cn-region{i}" for i in range(5)], client_factory=factory)
        five = time.perf_counter() - start
    assert all(isinstance(a, list) for a in answers.values())
    with fake_eas(faults=[HANG]) as server:
        start = time.perf_counter()
        hung = eas_probe.probe_regions(["cn-hung"], client_factory=_factory(server.endpoint, TIMEOUT_S),
                                     per_call_timeout_s=TIMEOUT_S, retries=0)
        hung_s = time.perf_counter() - start
    assert isinstance(hung["cn-hung"], eas_api.ProbeFailure)
    return [
        "stock probe (real SDK client, fake EAS API on 127.0.0.1)",
        f"  one region answering after {DELAY_S * 1000:.0f} ms: {one:.3f} s",
        f"  five such regions, concurrently:      {five:.3f} s ({five / one:.2f} x one probe)",
        f"  one hung region, {TIMEOUT_S:g} s per-call timeout: {hung_s:.3f} s",
    ]


if __name__ == "__main__":
    print("\n".join(run()))
