//! Market maker: quotes one bid and one ask around the mid, skewed against its inventory.
//!
//! fair = mid − skew_ticks_per_lot × position; it bids `fair − half_spread_ticks` and offers
//! `fair + half_spread_ticks`, the same size each. A quote is replaced (cancel its tag, place a
//! new one under a fresh tag) only when the wanted price moved by `requote_ticks` or more.
//! It stops bidding when one more fill would take the position past `max_position_lots`
//! long, and stops offering past it short.
//!
//! Size: `size_lots`, but never below the venue's minimum order (minimum quantity, and minimum
//! notional at the bid it is about to place, the lower of its two prices, so both quotes
//! pass); 0 means just that minimum, recomputed as the market moves. The instrument comes from
//! the host once, when the instance is built; without one (all zeros) the minimum is 1 lot.
//!
//! Params (defaults): size_lots (0: the venue's minimum), half_spread_ticks (5),
//! skew_ticks_per_lot (1), max_position_lots (10), requote_ticks (1).

use seqmesh_algo::{export_algo, instrument, log, Actions, Algo, Book, Fill, Instrument, Params, Side};

/// A live quote: the tag it was placed under, its price and what is left of it.
#[derive(Clone, Copy)]
struct Quote {
    tag: u32,
    price_ticks: i64,
    open_lots: i64,
}

struct MarketMaker {
    inst: Instrument,
    /// As configured; 0: the venue's minimum. See `size`.
    size_lots: i64,
    half_spread_ticks: i64,
    skew_ticks_per_lot: i64,
    max_position_lots: i64,
    requote_ticks: i64,
    position_lots: i64,
    bid: Option<Quote>,
    ask: Option<Quote>,
    /// Tags: bids odd (1, 3, 5, …), asks even (2, 4, 6, …), never reused.
    next_bid_tag: u32,
    next_ask_tag: u32,
    /// Whether it said that the size is over `max_position_lots` (then it cannot quote).
    warned_size: bool,
}

impl MarketMaker {
    fn new() -> Self {
        MarketMaker {
            inst: instrument::get(), // built in the first callback: the host is there to ask
            size_lots: 0,
            half_spread_ticks: 5,
            skew_ticks_per_lot: 1,
            max_position_lots: 10,
            requote_ticks: 1,
            position_lots: 0,
            bid: None,
            ask: None,
            next_bid_tag: 1,
            next_ask_tag: 2,
            warned_size: false,
        }
    }

    /// Lots per quote when the lower of the two prices is `bid_ticks`: the configured size, raised
    /// to the smallest order the venue accepts there.
    fn size(&self, bid_ticks: i64) -> i64 {
        self.size_lots.max(self.inst.min_lots(bid_ticks))
    }

    /// Moves one side's quote to `want` (`None`: no quote on that side), `size_lots` if placed
    /// anew, and returns the new one.
    fn requote(
        &mut self,
        side: Side,
        live: Option<Quote>,
        want: Option<i64>,
        size_lots: i64,
        out: &mut Actions,
    ) -> Option<Quote> {
        if let (Some(quote), Some(price)) = (live, want) {
            if (quote.price_ticks - price).abs() < self.requote_ticks {
                return live; // close enough: keep our place in the queue
            }
        }
        if let Some(quote) = live {
            out.cancel(quote.tag);
        }
        let price_ticks = want?;
        let tag = match side {
            Side::Buy => &mut self.next_bid_tag,
            Side::Sell => &mut self.next_ask_tag,
        };
        let quote = Quote { tag: *tag, price_ticks, open_lots: size_lots };
        *tag += 2;
        out.place_limit(side, quote.tag, price_ticks, size_lots);
        Some(quote)
    }
}

impl Algo for MarketMaker {
    fn on_start(&mut self, params: &Params, _out: &mut Actions) {
        self.size_lots = params.get_i64("size_lots", 0).max(0);
        self.half_spread_ticks = params.get_i64("half_spread_ticks", 5).max(1);
        self.skew_ticks_per_lot = params.get_i64("skew_ticks_per_lot", 1).max(0);
        self.max_position_lots = params.get_i64("max_position_lots", 10).max(0);
        self.requote_ticks = params.get_i64("requote_ticks", 1).max(1);
        let i = &self.inst;
        log::info(&format!(
            "market-maker: size {} lots (at least the venue's minimum), half spread {} ticks, skew {} ticks/lot, \
             max position {} lots, requote {} ticks; tick {}e-9, lot {}e-9, min qty {}e-9, min notional {}e-9",
            self.size_lots,
            self.half_spread_ticks,
            self.skew_ticks_per_lot,
            self.max_position_lots,
            self.requote_ticks,
            i.tick_e9,
            i.lot_e9,
            i.min_qty_e9,
            i.min_notional_e9
        ));
    }

    fn on_book(&mut self, book: &Book, out: &mut Actions) {
        let mid = match book.mid() {
            Some(mid) => mid,
            None => return, // a side is empty: leave the quotes as they are
        };
        let fair = mid - self.skew_ticks_per_lot * self.position_lots;
        let (bid_ticks, ask_ticks) = (fair - self.half_spread_ticks, fair + self.half_spread_ticks);
        let size = self.size(bid_ticks);
        if size > self.max_position_lots && !self.warned_size {
            self.warned_size = true;
            log::warn(&format!(
                "market-maker: size {} lots (the venue's minimum at {} ticks, or size_lots) is over \
                 max_position_lots {}: no quotes until it fits",
                size, bid_ticks, self.max_position_lots
            ));
        }
        let can_buy = self.position_lots + size <= self.max_position_lots;
        let can_sell = self.position_lots - size >= -self.max_position_lots;
        let want_bid = if can_buy { Some(bid_ticks) } else { None };
        let want_ask = if can_sell { Some(ask_ticks) } else { None };
        self.bid = self.requote(Side::Buy, self.bid, want_bid, size, out);
        self.ask = self.requote(Side::Sell, self.ask, want_ask, size, out);
    }

    fn on_fill(&mut self, fill: &Fill, _out: &mut Actions) {
        self.position_lots = fill.position_lots();
        // A quote filled in full is gone: the next book places a new one.
        for quote in [&mut self.bid, &mut self.ask] {
            if let Some(q) = quote {
                if q.tag == fill.tag() {
                    q.open_lots -= fill.qty_lots();
                    if q.open_lots <= 0 {
                        *quote = None;
                    }
                }
            }
        }
    }
}

export_algo!(MarketMaker, MarketMaker::new());
