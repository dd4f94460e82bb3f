"""Prometheus metrics of the CC (prefix seqmesh_cc_)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..edges import EdgeLink
    from ..marketdata import MarketData
    from ..mesh.home import RemoteHome
    from ..orders.booking import Booking
    from ..risk import RiskEngine


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.orders = Counter("seqmesh_cc_orders", "parent orders accepted", ["symbol", "side", "type"], registry=r)
        self.rejections = Counter("seqmesh_cc_rejections", "requests refused, by reason", ["code"], registry=r)
        self.submit_latency = Histogram("seqmesh_cc_submit_seconds", "REST submit to response", registry=r,
                                        buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5))
        self.fills = Gauge("seqmesh_cc_fills_booked", "fills booked since start", registry=r)
        self.duplicate_fills = Gauge("seqmesh_cc_duplicate_fills_ignored", "replayed fills ignored", registry=r)
        self.edge_up = Gauge("seqmesh_cc_edge_connected", "edge link up", ["venue"], registry=r)
        self.edge_rtt = Gauge("seqmesh_cc_edge_rtt_ms", "edge round trip", ["venue"], registry=r)
        self.md_items = Gauge("seqmesh_cc_marketdata_items", "market data items processed", registry=r)
        self.kill_switch = Gauge("seqmesh_cc_kill_switch", "1 when the kill switch is on", registry=r)
        self.hosted = Gauge("seqmesh_cc_hosted_remote_children", "other regions' children on our edges, not yet "
                            "final (in memory until they are)", registry=r)

    def refresh(self, booking: Booking, marketdata: MarketData, risk: RiskEngine,
                edges: Mapping[str, EdgeLink], home: RemoteHome | None = None) -> None:
        self.fills.set(booking.fills_booked)
        self.duplicate_fills.set(booking.duplicate_fills)
        self.md_items.set(marketdata.items)
        self.kill_switch.set(1 if risk.kill_switch else 0)
        self.hosted.set(len(home.children) if home is not None else 0)
        for venue, link in edges.items():
            self.edge_up.labels(venue).set(1 if link.connected else 0)
            self.edge_rtt.labels(venue).set(link.rtt_ms)
