//! Arb mesh: deploy it under one name on two edges (two venues). Each instance tells its
//! sibling its top of book whenever it changes, and takes the crossing when the sibling's (or
//! the region NBBO's) bid is above its own ask — or its own bid above their ask — by more than
//! `min_edge_ticks`: an IOC at its own touch, for at most `max_lots`. The sibling sees the
//! same crossing from the other side and takes the other leg.
//!
//! Params (defaults): min_edge_ticks (1), max_lots (5), cooldown_ms (200: after a trade it
//! waits this long before the next, so one crossing doesn't fire on every update).
//!
//! The "quote" message is 32 bytes: bid_ticks, bid_lots, ask_ticks, ask_lots, each an i64 LE
//! (0 ticks: that side is empty).

use seqmesh_algo::{clock, export_algo, log, messaging, Actions, Algo, Book, Level, Message, Nbbo, Params, Side};

/// A top of book: (price_ticks, qty_lots) per side, price 0 when the side is empty.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Top {
    bid: (i64, i64),
    ask: (i64, i64),
}

impl Top {
    fn encode(&self) -> [u8; 32] {
        let mut out = [0; 32];
        for (i, v) in [self.bid.0, self.bid.1, self.ask.0, self.ask.1].iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        out
    }

    fn decode(raw: &[u8]) -> Option<Top> {
        if raw.len() != 32 {
            return None;
        }
        let v = |i: usize| {
            let mut b = [0; 8];
            b.copy_from_slice(&raw[i * 8..i * 8 + 8]);
            i64::from_le_bytes(b)
        };
        Some(Top { bid: (v(0), v(1)), ask: (v(2), v(3)) })
    }
}

struct ArbMesh {
    min_edge_ticks: i64,
    max_lots: i64,
    cooldown_ns: u64,
    own: Option<Top>,
    sibling: Option<Top>,
    nbbo: Option<Top>,
    last_trade_ns: u64,
    next_tag: u32,
    received: u64,
}

impl ArbMesh {
    fn new() -> Self {
        ArbMesh {
            min_edge_ticks: 1,
            max_lots: 5,
            cooldown_ns: 200_000_000,
            own: None,
            sibling: None,
            nbbo: None,
            last_trade_ns: 0,
            next_tag: 1,
            received: 0,
        }
    }

    /// The trade that takes a crossing between our book and `other`'s, if there is one.
    fn crossing(&self, own: Top, other: Top) -> Option<(Side, i64, i64)> {
        if own.ask.0 > 0 && other.bid.0 > own.ask.0 + self.min_edge_ticks {
            // They bid above our ask: buy here at our ask.
            let lots = own.ask.1.min(other.bid.1).min(self.max_lots);
            return Some((Side::Buy, own.ask.0, lots));
        }
        if own.bid.0 > 0 && other.ask.0 > 0 && own.bid.0 > other.ask.0 + self.min_edge_ticks {
            // We bid above their ask: sell here at our bid.
            let lots = own.bid.1.min(other.ask.1).min(self.max_lots);
            return Some((Side::Sell, own.bid.0, lots));
        }
        None
    }

    /// Takes the first crossing against the sibling, then the NBBO, unless cooling down.
    fn trade(&mut self, out: &mut Actions) {
        let own = match self.own {
            Some(own) => own,
            None => return,
        };
        let found = [self.sibling, self.nbbo].iter().flatten().find_map(|&other| self.crossing(own, other));
        let (side, price_ticks, lots) = match found {
            Some(trade) if trade.2 > 0 => trade,
            _ => return,
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
        log::info(&format!(
            "arb-mesh: min edge {} ticks, max {} lots, cooldown {} ms",
            self.min_edge_ticks,
            self.max_lots,
            self.cooldown_ns / 1_000_000
        ));
    }

    fn on_book(&mut self, book: &Book, out: &mut Actions) {
        let side = |level: Option<Level>| level.map_or((0, 0), |l| (l.price_ticks, l.qty_lots));
        let top = Top { bid: side(book.best_bid()), ask: side(book.best_ask()) };
        if self.own != Some(top) {
            self.own = Some(top);
            if let Err(e) = messaging::send("quote", &top.encode()) {
                log::warn(&format!("arb-mesh: quote not sent: {}", e));
            }
        }
        self.trade(out);
    }

    fn on_nbbo(&mut self, nbbo: &Nbbo, out: &mut Actions) {
        let top = Top { bid: (nbbo.bid_ticks(), nbbo.bid_lots()), ask: (nbbo.ask_ticks(), nbbo.ask_lots()) };
        self.nbbo = Some(top);
        self.trade(out);
    }

    fn on_message(&mut self, msg: &Message, out: &mut Actions) {
        if msg.label() != "quote" {
            return;
        }
        if let Some(top) = Top::decode(msg.payload()) {
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
