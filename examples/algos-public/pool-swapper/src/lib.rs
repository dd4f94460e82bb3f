//! DEX example on the public SDK: once its pool's state is there (PoolStateTable slot 0), it logs
//! the reserves (token0, token1), fee and block, and sells config slot 0's size (x 10^8; default
//! 0.5) at market: the edge swaps it through the pool with its slippage bound. Logs each fill.
//! It looks at every book update and every heartbeat (an idle chain brings no book update).
#![no_std]
extern crate alloc;
use algo_sdk::config::ConfigRegion;
use algo_sdk::*;

sequence_algo_entry!();

struct PoolSwapper {
    sold: bool,
}

impl PoolSwapper {
    fn look(&mut self, actions: &mut Actions) {
        if self.sold {
            return;
        }
        let table = unsafe { &*(POOL_STATE_TABLE_WASM_OFFSET as *const PoolStateTable) };
        let pools = unsafe { &*(POOL_BOOKS_WASM_OFFSET as *const PoolBooks) };
        if table.count == 0 || !table.state_at(0).is_valid() {
            return;
        }
        let (amm, meta) = (table.state_at(0), pools.meta_at_slot(0));
        log_info!("pool reserves {} {} fee {} ppm block {} venue {} v3 {}", amm.reserve0(), amm.reserve1(),
                  amm.fee_ppm, amm.last_block, venue_name(meta.venue_id), amm.is_v3());
        let config = unsafe { &*(CONFIG_REGION_WASM_OFFSET as *const ConfigRegion) };
        let size = if config.count() > 0 { config.get_i64(0) } else { 50_000_000 };
        if actions.market_sell(1, size) {
            self.sold = true;
        }
    }
}

impl Algo for PoolSwapper {
    fn on_book(&mut self, _b: &L2Book, _s: &AlgoState, _f: &OnlineFeatures, actions: &mut Actions) {
        self.look(actions);
    }

    fn on_heartbeat(&mut self, _s: &AlgoState, _f: &OnlineFeatures, actions: &mut Actions) {
        self.look(actions);
    }

    fn on_fill(&mut self, fill: &Fill, _state: &AlgoState) {
        log_info!("fill {} {} @ {}", fill.order_id, fill.qty_1e8, fill.px_1e9);
    }

    fn on_reject(&mut self, reject: &Reject) {
        log_warn!("reject {} {}", reject.order_id, reject.reason());
    }
}

export_algo!(PoolSwapper { sold: false });
