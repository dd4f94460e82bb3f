//! Arb mesh: deploy it under one name on two edges (two venues). Each instance tells its
//! sibling its top of book whenever it changes, and takes the crossing when the sibling's (or
//! the region NBBO's) bid is above its own ask — or its own bid above their ask — by more than
//! `min_edge_ticks` (this venue's ticks): an IOC at its own touch. The sibling sees the same
//! crossing from the other side and takes the other leg.
//!
//! Venues differ in tick and lot, so the "quote" message is venue-neutral, 32 bytes:
//! bid_price_e9, bid_qty_e9, ask_price_e9, ask_qty_e9, each an i64 LE, price and quantity
//! × 10^9 (price 0: that side is empty). A receiver converts it into its own units on the safe
//! side: the sibling's bid rounded down to a tick, its ask up, its quantities down to lots. The
//! NBBO already comes in this edge's ticks and lots.
//!
//! Size: the lots available at both touches (ours and theirs), at most `max_lots`, but never
//! below the venue's minimum order (quantity and notional at the trade's price, from the
//! instrument): `max_lots` is raised to that minimum. When less than the minimum is available
//! at either touch the crossing is skipped rather than sent oversized — the IOC could only
//! part-fill, leaving an unhedged leg. Each instance sizes its own leg on its own venue, so
//! the two legs can differ by a rounding of lots.
//!
//! Params (defaults): min_edge_ticks (1), max_lots (5), cooldown_ms (200: after a trade it
//! waits this long before the next, so one crossing doesn't fire on every update).
//!
//! Without an instrument from the host (all zeros) nothing can be converted: it shares no
//! quotes, ignores its sibling's and trades against the NBBO only.

use seqmesh_algo::{
    clock, export_algo, instrument, log, messaging, Actions, Algo, Book, Instrument, Level, Message, Nbbo, Params, Side,
};

/// A top of book in this venue's units: (price_ticks, qty_lots) per side, price 0 when the
/// side is empty.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Top {
    bid: (i64, i64),
    ask: (i64, i64),
}

fn i64_at(raw: &[u8], i: usize) -> i64 {
    let mut b = [0; 8];
    b.copy_from_slice(&raw[i * 8..i * 8 + 8]);
    i64::from_le_bytes(b)
}

impl Top {
    /// The "quote" payload: prices and quantities × 10^9.
    fn encode(&self, inst: &Instrument) -> [u8; 32] {
        let values =
            [inst.price_e9(self.bid.0), inst.qty_e9(self.bid.1), inst.price_e9(self.ask.0), inst.qty_e9(self.ask.1)];
        let mut out = [0; 32];
        for (i, v) in values.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// A sibling's "quote" in our units: its bid no higher, its ask no lower, its sizes no
    /// larger than they really are.
    fn decode(raw: &[u8], inst: &Instrument) -> Option<Top> {
        if raw.len() != 32 {
            return None;
        }
        let (bid_price, bid_qty, ask_price, ask_qty) = (i64_at(raw, 0), i64_at(raw, 1), i64_at(raw, 2), i64_at(raw, 3));
        let side = |ticks: i64, qty: i64| if ticks > 0 { (ticks, inst.lots_floor(qty).max(0)) } else { (0, 0) };
        Some(Top { bid: side(inst.ticks_floor(bid_price), bid_qty), ask: side(inst.ticks_ceil(ask_price), ask_qty) })
    }
}

/// A crossing between two tops of book, seen from ours.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Crossing {
    None,
    /// Less than the venue's minimum order is available at one of the touches.
    TooSmall,
    /// Side, price (ticks) and size (lots) of the IOC that takes it.
    Trade(Side, i64, i64),
}

struct ArbMesh {
    inst: Instrument,
    min_edge_ticks: i64,
    max_lots: i64,
    cooldown_ns: u64,
    own: Option<Top>,
    sibling: Option<Top>,
    nbbo: Option<Top>,
    last_trade_ns: u64,
    next_tag: u32,
    received: u64,
    skipped: u64,
}

impl ArbMesh {
    fn new() -> Self {
        ArbMesh {
            inst: instrument::get(), // built in the first callback: the host is there to ask
            min_edge_ticks: 1,
            max_lots: 5,
            cooldown_ns: 200_000_000,
            own: None,
            sibling: None,
            nbbo: None,
            last_trade_ns: 0,
            next_tag: 1,
            received: 0,
            skipped: 0,
        }
    }

    /// Lots to trade at `price_ticks` when `own_lots` and `other_lots` are on offer; `None`
    /// when less than the venue's minimum order is.
    fn size(&self, price_ticks: i64, own_lots: i64, other_lots: i64) -> Option<i64> {
        let available = own_lots.min(other_lots);
        let minimum = self.inst.min_lots(price_ticks);
        if available < minimum {
            return None;
        }
        Some(available.min(self.max_lots).max(minimum))
    }

    /// What to do about a crossing between our book and `other`'s (both in our units).
    fn crossing(&self, own: Top, other: Top) -> Crossing {
        let (side, price_ticks, lots) = if own.ask.0 > 0 && other.bid.0 > own.ask.0 + self.min_edge_ticks {
            // They bid above our ask: buy here at our ask.
            (Side::Buy, own.ask.0, self.size(own.ask.0, own.ask.1, other.bid.1))
        } else if own.bid.0 > 0 && other.ask.0 > 0 && own.bid.0 > other.ask.0 + self.min_edge_ticks {
            // We bid above their ask: sell here at our bid.
            (Side::Sell, own.bid.0, self.size(own.bid.0, own.bid.1, other.ask.1))
        } else {
            return Crossing::None;
        };
        match lots {
            Some(lots) => Crossing::Trade(side, price_ticks, lots),
            None => Crossing::TooSmall,
        }
    }

    /// Takes the first tradable crossing against the sibling, then the NBBO, unless cooling down.
    fn trade(&mut self, out: &mut Actions) {
        let own = match self.own {
            Some(own) => own,
            None => return,
        };
        let mut found = Crossing::None;
        for other in [self.sibling, self.nbbo].iter().flatten() {
            match self.crossing(own, *other) {
                Crossing::None => {}
                Crossing::TooSmall => found = Crossing::TooSmall,
                trade => {
                    found = trade;
                    break;
                }
            }
        }
        let (side, price_ticks, lots) = match found {
            Crossing::Trade(side, price_ticks, lots) => (side, price_ticks, lots),
            Crossing::TooSmall => {
                self.skipped += 1;
                if self.skipped % 1000 == 1 {
                    log::info(&format!(
                        "arb-mesh: crossing below the venue's minimum order skipped ({} so far)",
                        self.skipped
                    ));
                }
                return;
            }
            Crossing::None => return,
        };
        let now = clock::now_ns(); // only asked when there is something to do
        if now.saturating_sub(self.last_trade_ns) < self.cooldown_ns {
            return;
        }
        if out.place_ioc(side, self.next_tag, price_ticks, lots) {
            self.next_tag += 1;
            self.last_trade_ns = now;
        }
    }
}

impl Algo for ArbMesh {
    fn on_start(&mut self, params: &Params, _out: &mut Actions) {
        self.min_edge_ticks = params.get_i64("min_edge_ticks", 1).max(0);
        self.max_lots = params.get_i64("max_lots", 5).max(1);
        self.cooldown_ns = params.get_i64("cooldown_ms", 200).max(0) as u64 * 1_000_000;
        let i = &self.inst;
        log::info(&format!(
            "arb-mesh: min edge {} ticks, max {} lots, cooldown {} ms; tick {}e-9, lot {}e-9, min qty {}e-9, \
             min notional {}e-9",
            self.min_edge_ticks,
            self.max_lots,
            self.cooldown_ns / 1_000_000,
            i.tick_e9,
            i.lot_e9,
            i.min_qty_e9,
            i.min_notional_e9
        ));
        if !i.is_known() {
            log::warn("arb-mesh: no instrument from the host: no quotes shared, trading against the NBBO only");
        }
    }

    fn on_book(&mut self, book: &Book, out: &mut Actions) {
        let side = |level: Option<Level>| level.map_or((0, 0), |l| (l.price_ticks, l.qty_lots));
        let top = Top { bid: side(book.best_bid()), ask: side(book.best_ask()) };
        if self.own != Some(top) {
            self.own = Some(top);
            if self.inst.is_known() {
                if let Err(e) = messaging::send("quote", &top.encode(&self.inst)) {
                    log::warn(&format!("arb-mesh: quote not sent: {}", e));
                }
            }
        }
        self.trade(out);
    }

    fn on_nbbo(&mut self, nbbo: &Nbbo, out: &mut Actions) {
        // A side that is our own venue is our own (older) book: only the away market counts.
        let bid = if nbbo.bid_is_own() { (0, 0) } else { (nbbo.bid_ticks(), nbbo.bid_lots()) };
        let ask = if nbbo.ask_is_own() { (0, 0) } else { (nbbo.ask_ticks(), nbbo.ask_lots()) };
        let top = Top { bid, ask };
        self.nbbo = Some(top);
        self.trade(out);
    }

    fn on_message(&mut self, msg: &Message, out: &mut Actions) {
        if msg.label() != "quote" || !self.inst.is_known() {
            return;
        }
        if let Some(top) = Top::decode(msg.payload(), &self.inst) {
            self.sibling = Some(top);
            self.received += 1;
            if self.received % 1000 == 1 {
                log::info(&format!("arb-mesh: {} quotes received, latest from {}", self.received, msg.from()));
            }
            self.trade(out);
        }
    }
}

export_algo!(ArbMesh, ArbMesh::new());
