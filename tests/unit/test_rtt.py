"""The smoothed round trip the router prices latency with: one slow probe moves it an eighth."""

from __future__ import annotations

from seqmesh.runtime.links.rtt import smooth_rtt


def test_the_first_sample_sets_it_and_a_spike_moves_it_an_eighth() -> None:
    rtt = smooth_rtt(None, 2.0)
    assert rtt == 2.0
    rtt = smooth_rtt(rtt, 402.0)  # one probe delayed 400 ms by a busy host
    assert rtt == 52.0
    for _ in range(40):  # a lasting change is followed
        rtt = smooth_rtt(rtt, 80.0)
    assert 79.0 < rtt < 80.0
