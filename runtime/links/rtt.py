"""Round-trip estimates that one slow sample does not swing.

The router prices a venue's latency from its round trip, so a single probe delayed by a busy
host (a GC pause, a loaded core) must not send orders abroad for the next second. RFC 6298's
smoothed RTT: the first sample sets it, each later one moves it an eighth of the way.
"""

from __future__ import annotations

GAIN = 0.125


def smooth_rtt(previous: float | None, sample: float) -> float:
    return sample if previous is None else previous + GAIN * (sample - previous)
