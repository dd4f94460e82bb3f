//! Single-venue example on the public SDK: rests one bid one tick under the best bid, sized at the
//! venue's minimum (quantity and notional, from AlgoState's SymbolMeta), and follows the bid;
//! logs its fills and rejects; cancels everything at shutdown.
#![no_std]
extern crate alloc;
use algo_sdk::*;

sequence_algo_entry!();

struct Quoter {
    next_id: u64,
    resting: u64,
    resting_px: u64,
}

/// The smallest size the venue takes at `px_1e9`: its minimum quantity, and enough for its minimum
/// notional, in whole lots.
fn min_size(meta: &SymbolMeta, px_1e9: u64) -> i64 {
    let lot = meta.lot_size_1e8.max(1) as u128;
    let for_notional = (meta.min_notional_1e9 as u128 * 100_000_000).div_ceil(px_1e9.max(1) as u128);
    let size = (meta.min_qty_1e8 as u128).max(for_notional).max(lot);
    (size.div_ceil(lot) * lot) as i64
}

impl Algo for Quoter {
    fn on_book(&mut self, book: &L2Book, state: &AlgoState, _f: &OnlineFeatures, actions: &mut Actions) {
        let Some(best) = book.best_bid() else { return };
        let tick = state.symbol.tick_size_1e9.max(1);
        let px = state.symbol.round_px(best.px_1e9.saturating_sub(tick));
        if self.resting != 0 && self.resting_px == px {
            return;
        }
        if self.resting != 0 {
            actions.cancel(self.resting);
        }
        let qty = min_size(&state.symbol, px);
        self.next_id += 1;
        if actions.buy(self.next_id, qty, px) {
            self.resting = self.next_id;
            self.resting_px = px;
            log_info!("quoting at {}", px);
        }
    }

    fn on_fill(&mut self, fill: &Fill, _state: &AlgoState) {
        log_info!("fill {} {} @ {}", fill.order_id, fill.qty_1e8, fill.px_1e9);
    }

    fn on_reject(&mut self, reject: &Reject) {
        log_warn!("reject {} {}", reject.order_id, reject.reason());
        if reject.order_id == self.resting {
            self.resting = 0;
        }
    }

    fn on_shutdown(&mut self, state: &AlgoState, actions: &mut Actions) {
        actions.cancel_all(state);
    }
}

export_algo!(Quoter { next_id: 0, resting: 0, resting_px: 0 });
