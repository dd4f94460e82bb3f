//! Multi-venue example on the public SDK: on each NBBO it logs every venue's best bid and ask
//! from VenueBooks, and once it has seen two venues with depth it rests one minimum-size bid on
//! its own venue at the lowest of their best bids (the most passive price any venue shows), of
//! config slot 0's size (x 10^8; default the venue's minimum quantity).
#![no_std]
extern crate alloc;
use algo_sdk::config::ConfigRegion;
use algo_sdk::*;

sequence_algo_entry!();

struct NbboTaker {
    placed: bool,
}

impl Algo for NbboTaker {
    fn on_book(&mut self, _b: &L2Book, _s: &AlgoState, _f: &OnlineFeatures, _a: &mut Actions) {}

    fn on_nbbo(&mut self, nbbo: &NbboSnapshot, books: &VenueBooks, state: &AlgoState, _f: &OnlineFeatures,
               actions: &mut Actions) {
        let mut lowest_bid = u64::MAX;
        let mut with_depth = 0;
        for slot in 0..books.book_ct as usize {
            let book = books.book_at_slot(slot);
            let (Some(bid), Some(ask)) = (book.best_bid(), book.best_ask()) else { continue };
            with_depth += 1;
            lowest_bid = lowest_bid.min(bid.px_1e9);
            log_info!("venue {} bid {} ask {}", venue_name(books.venue_id_at(slot)), bid.px_1e9, ask.px_1e9);
        }
        log_info!("nbbo {} venues, bid {} ask {}", nbbo.venue_ct, nbbo.nbbo_bid_px_1e9, nbbo.nbbo_ask_px_1e9);
        if !self.placed && with_depth >= 2 {
            let config = unsafe { &*(CONFIG_REGION_WASM_OFFSET as *const ConfigRegion) };
            let qty = if config.count() > 0 {
                config.get_i64(0)
            } else {
                state.symbol.min_qty_1e8.max(state.symbol.lot_size_1e8) as i64
            };
            let px = state.symbol.round_px(lowest_bid);
            if actions.buy(1, qty, px) {
                self.placed = true;
                log_info!("bid {} at {}", qty, px);
            }
        }
    }

    fn on_shutdown(&mut self, state: &AlgoState, actions: &mut Actions) {
        actions.cancel_all(state);
    }
}

export_algo!(NbboTaker { placed: false });
