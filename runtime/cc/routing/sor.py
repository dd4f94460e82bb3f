"""Smart order router: where, and how much, to send.

Cost of taking one unit at a venue level = price x (1 + taker fee + latency cost), where the
latency cost is the venue's measured round trip x the expected adverse drift per ms (plus,
for venues in other regions, the peer link's round trip — a later step). Large orders are
split by walking all venues' levels merged in order of that effective price, capped by each
venue's available balance and rounded to each venue's lot. The same walk, per venue alone,
gives the single-venue alternatives that TCA compares the routed result with.

An AMM pool (amm.py) takes part in the same walk on its exact curve: when its marginal price
is the best, it takes until that price reaches the next-best level elsewhere, so the split
leaves the pool and the books at the same marginal cost. Its fee is inside the curve; its gas
is a fixed cost per swap, so a pool whose share saves less than its gas is left out (the walk
is redone without it, as for venue minimums), and its confirmation time counts as latency.

Fill-or-kill cannot be atomic across venues, so a FOK order goes whole to the one book venue
that can fill all of it within its limit now (the cheapest such), or nowhere. A post-only order
must rest: it goes whole to a book venue where its limit does not cross the far side (cheapest
maker fee first), or nowhere. Neither uses pools.

Ranking uses floats (it only orders levels); quantities and costs are exact Decimals.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

from ..domain import Side, TimeInForce
from .amm import Curve

ZERO = Decimal(0)
BPS = Decimal(10_000)
CURVE_STEPS = 256  # a pool's smallest step in the walk: this share of the order
#: level i of one side, best first, or None past the last level.
LevelAt = Callable[[int], tuple[Decimal, Decimal] | None]


@dataclass
class VenueCandidate:
    venue: str
    level_at: LevelAt  # levels of the side we take from (asks to buy, bids to sell)
    taker_fee: Decimal
    maker_fee: Decimal
    rtt_ms: float
    lot: Decimal
    min_qty: Decimal
    min_notional: Decimal
    tick: Decimal
    #: most we may spend (quote, buying) or deliver (base, selling) here; None = unlimited.
    balance_cap: Decimal | None = None
    region: str = ""
    remote: bool = False
    extra_latency_ms: float = 0.0  # peer-link round trip for a remote venue; a pool's confirmation time
    curve: Curve | None = None  # an AMM pool: its curve, not levels (level_at is unused)
    own_account: bool = False  # the order trades on the client's own venue account (balance_cap is its)
    #: why the account cannot pay for the venue's smallest order ("" when it can)
    balance_short: str = ""


@dataclass
class Allocation:
    venue: str
    qty: Decimal
    notional: Decimal  # sum of price x qty over the levels it is expected to take
    fee: Decimal
    latency_cost: Decimal
    resting: bool = False  # a limit remainder that rests at this venue
    price: Decimal | None = None  # limit price for the child
    pool_mid: Decimal | None = None  # an AMM pool's price before the swap (fee is then gas)

    @property
    def expected_avg_price(self) -> Decimal | None:
        return self.notional / self.qty if self.qty and not self.resting else None

    def net(self, side: Side) -> Decimal:
        """Buying: what it costs all in. Selling: what it brings in, net of fee and latency cost."""
        return self.notional + side.sign * (self.fee + self.latency_cost)


@dataclass
class Route:
    side: Side
    qty: Decimal
    allocations: list[Allocation]
    unallocated: Decimal
    arrival_mid: Decimal | None
    single_venue: dict[str, dict[str, str]] = field(default_factory=dict)
    best_single_venue: str | None = None
    explanation: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """What the ledger keeps of the decision (and the API shows as the routing explanation)."""
        taking = [a for a in self.allocations if not a.resting]
        routed_cost = sum((a.net(self.side) for a in taking), ZERO)
        routed_qty = sum((a.qty for a in taking), ZERO)
        best = self.single_venue.get(self.best_single_venue or "", {})
        out: dict[str, Any] = {
            "side": self.side.value, "qty": str(self.qty), "unallocated": str(self.unallocated),
            "arrival_mid": None if self.arrival_mid is None else str(self.arrival_mid),
            "allocations": [{"venue": a.venue, "qty": str(a.qty), "expected_notional": str(a.notional),
                             "expected_fee": str(a.fee), "latency_cost": str(a.latency_cost),
                             "expected_avg_price": None if a.expected_avg_price is None else str(a.expected_avg_price),
                             "resting": a.resting, **_pool_fields(a, self.side)} for a in self.allocations],
            "expected_routed_cost": str(routed_cost), "routed_qty": str(routed_qty),
            "single_venue": self.single_venue, "best_single_venue": self.best_single_venue,
            "venues": self.explanation,
        }
        if best and routed_qty == self.qty and "cost" in best:
            out["expected_saving_vs_best_single"] = str((Decimal(best["cost"]) - routed_cost) * self.side.sign)
        return out


def _pool_fields(a: Allocation, side: Side) -> dict[str, Any]:
    """A pool's allocation: its gas, and the price impact the curve charges over the pool's mid."""
    if a.pool_mid is None:
        return {}
    avg = a.expected_avg_price
    impact = None if avg is None or not a.pool_mid else (avg - a.pool_mid) / a.pool_mid * side.sign * BPS
    return {"kind": "pool", "expected_gas": str(a.fee), "pool_mid": str(a.pool_mid),
            "expected_price_impact_bps": None if impact is None else str(round(impact, 4))}


def _floor(qty: Decimal, lot: Decimal) -> Decimal:
    return (qty / lot).to_integral_value(ROUND_DOWN) * lot


class Router:
    def __init__(self, drift_bps_per_ms: Decimal) -> None:
        self.drift_bps_per_ms = drift_bps_per_ms
        self._rates: dict[str, Decimal] = {}

    def latency_rate(self, c: VenueCandidate) -> Decimal:
        """Expected adverse drift while the order travels, as a fraction of the price."""
        ms = Decimal(repr(round(c.rtt_ms + c.extra_latency_ms, 3)))
        return self.drift_bps_per_ms * ms / BPS

    def route(self, side: Side, qty: Decimal, candidates: list[VenueCandidate], limit: Decimal | None = None,
              arrival_mid: Decimal | None = None, tif: TimeInForce = TimeInForce.GTC) -> Route:
        self._rates = {c.venue: self.latency_rate(c) for c in candidates}  # one Decimal each per decision
        if tif is not TimeInForce.GTC:
            assert limit is not None, "fill-or-kill and post-only orders are limits"
            return self._route_whole(side, qty, candidates, limit, arrival_mid, tif)
        excluded: set[str] = set()
        for _ in range(len(candidates) + 1):
            live = [c for c in candidates if c.venue not in excluded]
            allocations, left = self._sweep(side, qty, live, limit)
            too_small = [a.venue for a in allocations if not self._meets_minimums(a, live)]
            if not too_small:
                too_small = self._not_worth_gas(side, qty, live, limit, allocations, left)
            if not too_small:
                break
            excluded.update(too_small)  # those venues' share goes to the next-best levels elsewhere
        route = Route(side, qty, allocations, left, arrival_mid)
        if limit is not None and left > 0:
            self._rest_remainder(route, [c for c in candidates if c.venue not in excluded], limit)
        self._single_venue(route, qty, candidates, limit)
        route.explanation = [self._explain(c, side, c.venue in excluded) for c in candidates]
        return route

    def _route_whole(self, side: Side, qty: Decimal, candidates: list[VenueCandidate], limit: Decimal,
                     arrival_mid: Decimal | None, tif: TimeInForce) -> Route:
        """A FOK or post-only order, whole at one book venue (see the module's comment), or an
        empty route (all of it unallocated) when no venue can take it so."""
        route = Route(side, qty, [], qty, arrival_mid)
        books = [c for c in candidates if c.curve is None and qty >= c.min_qty and _floor(qty, c.lot) == qty]
        self._single_venue(route, qty, books, limit)
        if tif is TimeInForce.FOK:
            best = route.best_single_venue
            if best is not None:
                c = next(c for c in books if c.venue == best)
                allocations, _ = self._sweep(side, qty, [c], limit)
                if allocations and self._meets_minimums(allocations[0], [c]):
                    route.allocations, route.unallocated = allocations, ZERO
        else:
            buy = side is Side.BUY
            resting = [c for c in books if limit * qty >= c.min_notional
                       and ((top := c.level_at(0)) is None or (top[0] > limit if buy else top[0] < limit))]
            if resting:
                c = min(resting, key=lambda c: (c.maker_fee, c.rtt_ms + c.extra_latency_ms, c.venue))
                route.allocations = [Allocation(c.venue, qty, ZERO, ZERO, ZERO, resting=True, price=limit)]
                route.unallocated = ZERO
        route.explanation = [self._explain(c, side, False) for c in candidates]
        return route

    def _not_worth_gas(self, side: Side, qty: Decimal, live: list[VenueCandidate], limit: Decimal | None,
                       allocations: list[Allocation], left: Decimal) -> list[str]:
        """The pool (at most one per pass, the least useful) whose share would cost no more
        elsewhere, gas included: the walk is redone without it."""
        pools = {c.venue for c in live if c.curve is not None}
        used = [a for a in allocations if a.venue in pools]
        if not used:
            return []
        total = sum((a.net(side) for a in allocations), ZERO)
        worst: tuple[Decimal, str] | None = None
        for a in used:
            others, rest = self._sweep(side, qty, [c for c in live if c.venue != a.venue], limit)
            if rest > left:
                continue  # without it less of the order fills: keep it
            gain = (sum((o.net(side) for o in others), ZERO) - total) * side.sign  # >0: pool saves
            if gain <= 0 and (worst is None or gain < worst[0]):
                worst = (gain, a.venue)
        return [] if worst is None else [worst[1]]

    def _meets_minimums(self, a: Allocation, live: list[VenueCandidate]) -> bool:
        c = next(c for c in live if c.venue == a.venue)
        return a.qty >= c.min_qty and (a.notional >= c.min_notional or a.resting)

    def _sweep(self, side: Side, qty: Decimal, cands: list[VenueCandidate],
               limit: Decimal | None) -> tuple[list[Allocation], Decimal]:
        buy = side is Side.BUY
        rates = [c.taker_fee + self._rates[c.venue] for c in cands]
        heap: list[tuple[float, int, int]] = []  # (ranking key, venue index, level index)
        for i, c in enumerate(cands):
            if c.curve is not None:
                heap.append((self._key(c.curve.marginal(buy, 0.0), rates[i], buy), i, 0))
                continue
            lvl = c.level_at(0)
            if lvl is not None:
                heap.append((self._key(lvl[0], rates[i], buy), i, 0))
        heapq.heapify(heap)
        taken = [ZERO] * len(cands)
        notional = [ZERO] * len(cands)
        spent = [ZERO] * len(cands)  # against the balance cap (quote if buying, base if selling)
        remaining = qty
        while remaining > 0 and heap:
            _, i, li = heapq.heappop(heap)
            c = cands[i]
            if c.curve is not None:
                # against another pool at about the same price, steps of a share of the order
                rival_pool = bool(heap) and cands[heap[0][1]].curve is not None
                take = self._from_curve(c, c.curve, buy, taken[i], remaining, rates[i], limit,
                                        heap[0][0] if heap else None, qty / CURVE_STEPS if rival_pool else c.lot)
                if take > 0:
                    taken[i] += take
                    remaining -= take
                    if remaining > 0:
                        heapq.heappush(heap, (self._key(c.curve.marginal(buy, float(taken[i])), rates[i], buy),
                                              i, li + 1))
                continue
            lvl = c.level_at(li)
            assert lvl is not None
            price, avail = lvl
            if limit is not None and (price > limit if buy else price < limit):
                continue  # this venue has nothing better than the limit from here on
            take = min(avail, remaining)
            if c.balance_cap is not None:
                room = c.balance_cap - spent[i]
                per_unit = price * (1 + c.taker_fee) if buy else Decimal(1)
                take = min(take, room / per_unit if per_unit else take)
            take = _floor(take, c.lot)
            if take > 0:
                taken[i] += take
                notional[i] += take * price
                spent[i] += take * price * (1 + c.taker_fee) if buy else take
                remaining -= take
            if take == avail or (take == 0 and avail < c.lot):
                nxt = c.level_at(li + 1)
                if nxt is not None:
                    heapq.heappush(heap, (self._key(nxt[0], rates[i], buy), i, li + 1))
            # A partial take means the order (or this venue's cap or lot) is exhausted here.
        allocations = []
        for i, c in enumerate(cands):
            if taken[i] <= 0:
                continue
            if c.curve is not None:
                paid = c.curve.amount(buy, taken[i])
                assert paid is not None  # _from_curve never takes past the reserve
                allocations.append(Allocation(c.venue, taken[i], paid, c.curve.gas_cost, paid * self._rates[c.venue],
                                              price=limit, pool_mid=c.curve.mid))
                continue
            allocations.append(Allocation(c.venue, taken[i], notional[i], notional[i] * c.taker_fee,
                                          notional[i] * self._rates[c.venue], price=limit))
        return allocations, remaining

    def _from_curve(self, c: VenueCandidate, curve: Curve, buy: bool, taken: Decimal, remaining: Decimal,
                    rate: Decimal, limit: Decimal | None, next_key: float | None, min_step: Decimal) -> Decimal:
        """How much more to take from a pool whose marginal price is now the best: up to where it
        meets the next-best level elsewhere (at least `min_step`, so that two pools at the same
        price do not trade places a raw unit at a time), the limit, the reserve or the balance
        cap. 0 when the pool has nothing more to give at an acceptable price."""
        r = float(rate)
        upto = float(taken + remaining)
        if next_key is not None:  # the next-best effective price, back to the pool's own price
            upto = min(upto, curve.taken_at(buy, next_key / (1 + r) if buy else -next_key / (1 - r)))
        step = max(_floor(min_step, c.lot), c.lot)
        take = min(max(_floor(Decimal(repr(upto)) - taken, c.lot), step), _floor(remaining, c.lot))
        if limit is not None:  # a hard stop, whatever the step
            take = min(take, _floor(Decimal(repr(curve.taken_at(buy, float(limit)))) - taken, c.lot))
        most = curve.max_buy() if buy else curve.max_sell()
        if most is not None:
            take = min(take, _floor(most - taken, c.lot))
        if c.balance_cap is not None:
            take = self._within_cap(c, curve, buy, taken, take)
        return max(take, ZERO)

    @staticmethod
    def _within_cap(c: VenueCandidate, curve: Curve, buy: bool, taken: Decimal, take: Decimal) -> Decimal:
        """The most of `take` (in lots) that keeps the whole swap within the venue's balance."""
        assert c.balance_cap is not None

        def fits(extra: Decimal) -> bool:
            if not buy:
                return taken + extra <= c.balance_cap  # type: ignore[operator]
            paid = curve.amount(True, taken + extra)
            return paid is not None and paid + curve.gas_cost <= c.balance_cap  # type: ignore[operator]

        if fits(take):
            return take
        lo, hi = 0, int(take / c.lot)  # lots: fits(lo) holds, fits(hi) does not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if fits(mid * c.lot) else (lo, mid)
        return lo * c.lot

    @staticmethod
    def _key(price: Decimal | float, rate: Decimal, buy: bool) -> float:
        eff = float(price) * (1 + float(rate)) if buy else float(price) * (1 - float(rate))
        return eff if buy else -eff

    def _rest_remainder(self, route: Route, cands: list[VenueCandidate], limit: Decimal) -> None:
        """A limit order's unmarketable rest goes to the cheapest venue to wait at (maker fee)."""
        usable = [c for c in cands if c.curve is None and route.unallocated >= c.min_qty
                  and _floor(route.unallocated, c.lot) > 0
                  and limit * _floor(route.unallocated, c.lot) >= c.min_notional]
        if not usable:
            return
        best = min(usable, key=lambda c: (c.maker_fee, c.rtt_ms + c.extra_latency_ms, c.venue))
        qty = _floor(route.unallocated, best.lot)
        existing = next((a for a in route.allocations if a.venue == best.venue), None)
        if existing is not None:
            existing.qty += qty  # one child per venue: the marketable part and the rest together
        else:
            route.allocations.append(Allocation(best.venue, qty, ZERO, ZERO, ZERO, resting=True, price=limit))
        route.unallocated -= qty

    def _single_venue(self, route: Route, qty: Decimal, cands: list[VenueCandidate], limit: Decimal | None) -> None:
        """What sweeping the whole order through each venue alone would cost (TCA's benchmark)."""
        buy = route.side is Side.BUY
        best_net: Decimal | None = None
        for c in cands:
            if c.curve is not None:
                net = self._single_pool(route, qty, c, c.curve, limit)
                if net is not None and (best_net is None or (net < best_net if buy else net > best_net)):
                    best_net, route.best_single_venue = net, c.venue
                continue
            got, notional, i = ZERO, ZERO, 0
            while got < qty:
                lvl = c.level_at(i)
                if lvl is None or (limit is not None and (lvl[0] > limit if buy else lvl[0] < limit)):
                    break
                take = min(lvl[1], qty - got)
                got += take
                notional += take * lvl[0]
                i += 1
            if got < qty or (c.balance_cap is not None and
                             (notional * (1 + c.taker_fee) if buy else qty) > c.balance_cap):
                route.single_venue[c.venue] = {"fillable": str(min(got, qty))}
                continue
            fee = notional * c.taker_fee
            net = notional + route.side.sign * (fee + notional * self._rates[c.venue])
            route.single_venue[c.venue] = {"fillable": str(qty), "cost": str(net),
                                           "cost_ex_latency": str(notional + route.side.sign * fee),
                                           "avg_price": str(notional / qty), "fee": str(fee),
                                           "fee_rate": str(c.taker_fee)}
            if best_net is None or (net < best_net if buy else net > best_net):
                best_net, route.best_single_venue = net, c.venue

    def _single_pool(self, route: Route, qty: Decimal, c: VenueCandidate, curve: Curve,
                     limit: Decimal | None) -> Decimal | None:
        """The whole order as one swap in this pool (None when it cannot: too big, past the limit, cap)."""
        buy = route.side is Side.BUY
        paid = curve.amount(buy, qty)
        if paid is None or paid <= 0 or (limit is not None and (paid > limit * qty if buy else paid < limit * qty)) \
                or (c.balance_cap is not None and (paid + curve.gas_cost if buy else qty) > c.balance_cap):
            route.single_venue[c.venue] = {"fillable": "0"}
            return None
        net = paid + route.side.sign * (curve.gas_cost + paid * self._rates[c.venue])
        route.single_venue[c.venue] = {"fillable": str(qty), "cost": str(net),
                                       "cost_ex_latency": str(paid + route.side.sign * curve.gas_cost),
                                       "avg_price": str(paid / qty), "fee": str(curve.gas_cost), "fee_rate": "0",
                                       "kind": "pool"}
        return net

    def _explain(self, c: VenueCandidate, side: Side, excluded: bool) -> dict[str, Any]:
        if c.curve is not None:
            return self._explain_pool(c, c.curve, side, excluded)
        top = c.level_at(0)
        latency = self._rates[c.venue]
        rate = c.taker_fee + latency
        eff = None if top is None else (top[0] * (1 + rate) if side is Side.BUY else top[0] * (1 - rate))
        return {"venue": c.venue, "region": c.region, "remote": c.remote,
                "top_price": None if top is None else str(top[0]), "top_qty": None if top is None else str(top[1]),
                "taker_fee": str(c.taker_fee), "rtt_ms": round(c.rtt_ms + c.extra_latency_ms, 3),
                "latency_cost_bps": str(latency * BPS),
                "effective_top_price": None if eff is None else str(eff),
                "balance_cap": None if c.balance_cap is None else str(c.balance_cap),
                "account": "own" if c.own_account else "shared",
                "excluded": "below venue minimums" if excluded else None}

    def _explain_pool(self, c: VenueCandidate, curve: Curve, side: Side, excluded: bool) -> dict[str, Any]:
        latency = self._rates[c.venue]
        top = Decimal(repr(curve.marginal(side is Side.BUY, 0.0)))
        eff = top * (1 + latency) if side is Side.BUY else top * (1 - latency)
        return {"venue": c.venue, "region": c.region, "remote": c.remote, "kind": "pool", "pool": curve.pool,
                "top_price": str(top), "top_qty": None, "pool_mid": str(curve.mid), "gas_cost": str(curve.gas_cost),
                "taker_fee": "0.003", "rtt_ms": round(c.rtt_ms + c.extra_latency_ms, 3),
                "latency_cost_bps": str(latency * BPS), "effective_top_price": str(eff),
                "balance_cap": None if c.balance_cap is None else str(c.balance_cap),
                "account": "own" if c.own_account else "shared",
                "excluded": "its share saves less than its gas" if excluded else None}
