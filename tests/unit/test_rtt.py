"""The round trip the router prices latency with: spikes and a slow first probe are outvoted,
a lasting change is followed."""

from __future__ import annotations

from seqmesh.runtime.links.rtt import RoundTrips


def test_a_spike_is_outvoted_and_a_lasting_change_followed() -> None:
    rtts = RoundTrips(window=5)
    assert rtts.ms is None

    def add(ms: float) -> float | None:
        rtts.add(ms)
        return rtts.ms

    assert add(900.0) == 900.0  # a slow first probe stands alone only until the next
    assert add(2.0) == 451.0
    assert add(2.0) == 2.0 and add(2.0) == 2.0
    assert add(400.0) == 2.0 and add(2.0) == 2.0  # one probe delayed by a busy host
    for _ in range(3):  # the path really got slower: followed once it is most of the window
        rtts.add(80.0)
    assert rtts.ms == 80.0  # [400, 2, 80, 80, 80]
    rtts.clear()
    assert rtts.ms is None
