"""The venues an order may route to, with what the router needs of each: depth, fees, round
trip, lot and tick filters and the balance it may still use. Local venues come from their
edge links; other regions' venues from the peer mesh, with the peer round trip added.

A DEX venue's pool is a candidate on its curve (V2's, or V3's across its ticks, by the pool's
kind; its book is only a picture of it), with its chain's gas for one swap priced in the
order's quote currency and its confirmation time (block time x depth) as latency; a pool whose
gas cannot be priced is left out.

Whose balance caps a venue: the venue account the client's order will trade on there. A client
with its own credential at a venue (docs/security.md, "Credentials") is capped by that account's
free balance, as the venue's edge reports it, minus what its own orders there already hold; the
edge's shared account is capped by its own balance minus the shared account's orders, and never
by a client's own. Until the edge has reported a client's account (a credential just installed,
an account the venue did not answer for) the venue takes none of that client's order: routing
on a guess would send the venue orders the account may not cover, and the first poll (a second)
or the install itself makes it known."""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Protocol

from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.proto import peer_pb2 as ppb

from ..domain import Side
from ..edges import EdgeLink
from ..marketdata import MarketData
from ..pools import swap_gas_native
from .amm import Curve, PoolCurve
from .amm_v3 import V3_KIND, v3_curve
from .reservations import Reservations
from .sor import VenueCandidate

ZERO = Decimal(0)
log = logging.getLogger(__name__)


def _no_levels(i: int) -> tuple[Decimal, Decimal] | None:
    return None  # a pool has a curve, not levels


class RemoteVenues(Protocol):
    """What routing needs of the peer mesh: the venues other regions announce."""

    def routable(self, venue: str) -> bool: ...

    def remote_venue(self, venue: str) -> tuple[str, ppb.VenueAnnounce, float] | None:
        """(home region, announcement, peer RTT ms) of another region's venue."""
        ...


class Candidates:
    def __init__(self, marketdata: MarketData, edges: Mapping[str, EdgeLink], reservations: Reservations,
                 remote: RemoteVenues | None, account: Callable[[str, str], str] = lambda _c, _v: "") -> None:
        self.marketdata = marketdata
        self.edges = edges
        self.reservations = reservations
        self.remote = remote
        #: (client, venue) -> the client's own venue account there (its credential id), "" for the shared one
        self.account = account

    def __call__(self, symbol: str, side: Side, exclude: frozenset[str] = frozenset(),
                 client: str = "") -> list[VenueCandidate]:
        """`client`: whose order it is (its own venue accounts cap it); "" routes on the shared accounts."""
        buy = side is Side.BUY
        base, quote = symbol.split("/")
        asset = quote if buy else base
        out, remote = [], []
        for vb in self.marketdata.venue_books(symbol, live_only=True):
            if vb.venue in exclude:
                continue
            pooled = self.marketdata.pools.pool(vb.venue, symbol) is not None
            if vb.remote:
                cand = self._remote(vb.venue, symbol, asset, functools.partial(vb.level_at, not buy), client)
                if cand is not None and pooled:
                    cand = self._as_pool(cand, symbol)
                if cand is not None:
                    remote.append(cand)
                continue
            link = self.edges.get(vb.venue)
            inst = link.instrument(symbol) if link else None
            if link is None or not link.connected or inst is None:
                continue
            account = self.account(client, vb.venue) if client else ""
            known = link.account_balances(account) is not None
            cap = max(link.free(asset, account) - self.reservations.reserved(vb.venue, asset, account), ZERO)
            local = VenueCandidate(
                vb.venue, functools.partial(vb.level_at, not buy), link.taker_fee, link.maker_fee, link.rtt_ms,
                Decimal(inst.lot), Decimal(inst.min_qty), Decimal(inst.min_notional), Decimal(inst.tick),
                balance_cap=cap, region=vb.region, remote=False, own_account=bool(account),
            )
            local.balance_short = short_of_balance(local, asset, buy, known)
            chosen = self._as_pool(local, symbol) if pooled else local
            if chosen is not None:
                out.append(chosen)
        return out + remote

    def _remote(self, venue: str, symbol: str, asset: str, level_at: functools.partial[tuple[Decimal, Decimal] | None],
                client: str) -> VenueCandidate | None:
        """A venue of another region, through its home CC: the peer round trip is part of its cost.
        A client's own account there is capped by the balances its home announces to us for it."""
        if self.remote is None or not self.remote.routable(venue):
            return None
        found = self.remote.remote_venue(venue)
        if found is None:
            return None
        region, v, peer_rtt = found
        inst = instrument(v.info, symbol)
        if inst is None:
            return None
        account = self.account(client, venue) if client else ""
        rows = v.balances if not account else next((a.balances for a in v.accounts if a.account == account), None)
        free = next((Decimal(b.free) for b in rows or () if b.asset == asset), ZERO)
        cand = VenueCandidate(
            venue, level_at, Decimal(v.info.taker_fee or "0"), Decimal(v.info.maker_fee or "0"), v.edge_rtt_ms,
            Decimal(inst.lot), Decimal(inst.min_qty), Decimal(inst.min_notional), Decimal(inst.tick),
            balance_cap=max(free - self.reservations.reserved(venue, asset, account), ZERO),
            region=region, remote=True, extra_latency_ms=peer_rtt, own_account=bool(account),
        )
        cand.balance_short = short_of_balance(cand, asset, asset != symbol.split("/")[0], rows is not None)
        return cand

    def _as_pool(self, cand: VenueCandidate, symbol: str) -> VenueCandidate | None:
        """The venue's candidate on its pool's curve instead of its (pictured) levels."""
        view = self.marketdata.pools.pool(cand.venue, symbol)
        gas = self.marketdata.pools.gas(cand.venue)
        if view is None or gas is None or not self.marketdata.pools.is_live(cand.venue):
            return None
        gas_cost = self.gas_in(gas, symbol.split("/")[1])
        if gas_cost is None:
            return None
        st = view.state
        curve: Curve
        if st.kind == V3_KIND:
            try:
                curve = v3_curve(st, gas_cost)
            except ValueError as exc:  # a state the pool math refuses: not routable
                log.warning("pool %s of %s: %s", st.pool, cand.venue, exc)
                return None
        else:
            curve = PoolCurve(int(st.base_reserve), int(st.quote_reserve), st.base_decimals, st.quote_decimals,
                              gas_cost, st.pool)
        confirm_ms = gas.block_time_s * max(gas.confirmations, 1) * 1000
        return dataclasses.replace(cand, level_at=_no_levels, taker_fee=ZERO, maker_fee=ZERO, min_notional=ZERO,
                                   extra_latency_ms=cand.extra_latency_ms + confirm_ms, curve=curve)

    def gas_in(self, gas: pb.GasPrice, quote: str) -> Decimal | None:
        """One swap's gas in `quote` (None when the chain's native token has no price in it)."""
        native = swap_gas_native(gas)
        rate = Decimal(1) if quote == gas.native_symbol else self.marketdata.fee_rate(gas.native_symbol, quote)
        return None if rate is None else native * rate

    def tick(self, venue: str, symbol: str) -> Decimal | None:
        link = self.edges.get(venue)
        inst = link.instrument(symbol) if link else None
        if inst is None and self.remote is not None and (found := self.remote.remote_venue(venue)) is not None:
            inst = instrument(found[1].info, symbol)
        return None if inst is None else Decimal(inst.tick)


def instrument(info: pb.VenueInfo, symbol: str) -> pb.Instrument | None:
    return next((i for i in info.instruments if i.symbol == symbol), None)


def short_of_balance(c: VenueCandidate, asset: str, buy: bool, known: bool = True) -> str:
    """Why the account `c` trades on cannot pay for the venue's smallest order ("" if it can): the
    refusal's words when no venue can (INSUFFICIENT_BALANCE)."""
    whose = "your own account" if c.own_account else "the shared account"
    if not known:
        return f"{c.venue}: the balance of {whose} there is not known yet (its edge has not reported it)"
    assert c.balance_cap is not None
    smallest = max(c.min_qty, c.lot)
    if buy:
        top = c.level_at(0)
        if top is None:
            return ""  # nothing to buy there: no liquidity, not the balance, is the reason
        smallest = max(smallest * top[0], c.min_notional) * (1 + c.taker_fee)
    if c.balance_cap >= smallest:
        return ""
    return f"{c.venue}: {whose} there has {c.balance_cap} {asset} available, less than its smallest order"
