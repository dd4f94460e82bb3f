"""Prometheus metrics of the CC (prefix seqmesh_cc_).

Fixed series are prometheus-client instruments; series whose label sets come and go with the
region (venues' books, peers, algos on edges) are read from a snapshot taken at scrape time, so a
venue or algo that is gone stops being exported instead of freezing at its last value.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from .deps import ApiDeps


@dataclass
class _Snapshot:
    """What the dynamic series showed at the last scrape."""

    fills: int = 0
    duplicate_fills: int = 0
    books: list[tuple[str, str, str, float, bool]] = field(default_factory=list)  # venue, symbol, region, age, stale
    peers: list[tuple[str, float | None, bool]] = field(default_factory=list)  # region, rtt ms, alive
    algos: list[tuple[str, str, str, int, int, int, int]] = field(default_factory=list)
    # name, edge, state, calls, traps, fuel used, orders


class _DynamicSeries(Collector):
    def __init__(self) -> None:
        self.snapshot = _Snapshot()

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot
        yield CounterMetricFamily("seqmesh_cc_fills_booked", "fills booked since start", value=s.fills)
        yield CounterMetricFamily("seqmesh_cc_duplicate_fills_ignored", "replayed fills ignored",
                                  value=s.duplicate_fills)
        age = GaugeMetricFamily("seqmesh_cc_venue_book_age_seconds", "seconds since the venue's book last changed "
                                "at this CC", labels=["venue", "symbol", "region"])
        stale = GaugeMetricFamily("seqmesh_cc_venue_stale", "1 when the venue's book is stale (left out of NBBO and "
                                  "routing)", labels=["venue", "symbol", "region"])
        for venue, symbol, region, seconds, is_stale in s.books:
            age.add_metric([venue, symbol, region], seconds)
            stale.add_metric([venue, symbol, region], 1.0 if is_stale else 0.0)
        rtt = GaugeMetricFamily("seqmesh_cc_peer_rtt_ms", "round trip to a peer region's CC", labels=["peer"])
        up = GaugeMetricFamily("seqmesh_cc_peer_up", "1 when the peer link is up both ways and answering probes",
                               labels=["peer"])
        for region, ms, alive in s.peers:
            if ms is not None:
                rtt.add_metric([region], ms)
            up.add_metric([region], 1.0 if alive else 0.0)
        calls = CounterMetricFamily("seqmesh_cc_algo_calls", "algo callbacks run on an edge", labels=["algo", "edge"])
        traps = CounterMetricFamily("seqmesh_cc_algo_traps", "algo callbacks that trapped (faults, fuel, time)",
                                    labels=["algo", "edge"])
        fuel = CounterMetricFamily("seqmesh_cc_algo_fuel", "wasm fuel the algo used", labels=["algo", "edge"])
        orders = CounterMetricFamily("seqmesh_cc_algo_orders", "orders the algo placed", labels=["algo", "edge"])
        running = GaugeMetricFamily("seqmesh_cc_algo_running", "1 when the algo runs on the edge",
                                    labels=["algo", "edge"])
        for name, edge, state, n_calls, n_traps, n_fuel, n_orders in s.algos:
            calls.add_metric([name, edge], n_calls)
            traps.add_metric([name, edge], n_traps)
            fuel.add_metric([name, edge], n_fuel)
            orders.add_metric([name, edge], n_orders)
            running.add_metric([name, edge], 1.0 if state == "Running" else 0.0)
        yield from (age, stale, rtt, up, calls, traps, fuel, orders, running)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.orders = Counter("seqmesh_cc_orders", "parent orders accepted", ["symbol", "side", "type"], registry=r)
        self.rejections = Counter("seqmesh_cc_rejections", "requests refused, by reason", ["code"], registry=r)
        self.submit_latency = Histogram("seqmesh_cc_submit_seconds", "REST submit to response", registry=r,
                                        buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5))
        self.edge_up = Gauge("seqmesh_cc_edge_connected", "edge link up", ["venue"], registry=r)
        self.edge_rtt = Gauge("seqmesh_cc_edge_rtt_ms", "edge round trip", ["venue"], registry=r)
        self.md_items = Gauge("seqmesh_cc_marketdata_items", "market data items processed", registry=r)
        self.kill_switch = Gauge("seqmesh_cc_kill_switch", "1 when the kill switch is on", registry=r)
        self.hosted = Gauge("seqmesh_cc_hosted_remote_children", "other regions' children on our edges, not yet "
                            "final (in memory until they are)", registry=r)
        self._dynamic = _DynamicSeries()
        r.register(self._dynamic)

    async def refresh(self, deps: ApiDeps) -> None:
        """Bring every series up to date; asks the edges for their algos' counters."""
        self.md_items.set(deps.marketdata.items)
        self.kill_switch.set(1 if deps.risk.kill_switch else 0)
        self.hosted.set(len(deps.home.children) if deps.home is not None else 0)
        for venue, link in deps.edges.items():
            self.edge_up.labels(venue).set(1 if link.connected else 0)
            self.edge_rtt.labels(venue).set(link.rtt_ms)
        md, now = deps.marketdata, time.monotonic()
        snap = _Snapshot(fills=deps.booking.fills_booked, duplicate_fills=deps.booking.duplicate_fills)
        snap.books = [(vb.venue, vb.symbol, vb.region, max(0.0, now - vb.last_update) if vb.last_update else -1.0,
                       md.is_stale(vb)) for vb in md.books.values()]
        if deps.mesh is not None:
            snap.peers = [(p.region, p.rtt_ms, deps.mesh.alive(p)) for p in deps.mesh.peers.values()]
        if deps.algos is not None:
            for algo in await deps.algos.statuses():
                for e in algo["edges"]:
                    snap.algos.append((algo["name"], e["edge"], str(e.get("state")), int(e.get("calls") or 0),
                                       int(e.get("traps") or 0), int(e.get("fuel_used") or 0),
                                       int(e.get("orders") or 0)))
        self._dynamic.snapshot = snap
