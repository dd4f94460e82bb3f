//! Test guest on the public SDK: logs, as `key=value` lines, the fields the SDK's own types read
//! from each region the host wrote, so a test can compare them with what the host meant; and
//! returns an action of every kind from on_heartbeat.
#![no_std]
extern crate alloc;
use algo_sdk::config::ConfigRegion;
use algo_sdk::messaging::{MeshTable, MESH_TABLE_WASM_OFFSET};
use algo_sdk::*;

sequence_algo_entry!();

struct Probe;

fn book(tag: &str, b: &L2Book) {
    log_info!("{}.counts={},{}", tag, b.bid_ct, b.ask_ct);
    log_info!("{}.bid0={},{}", tag, b.bids[0].px_1e9, b.bids[0].sz_1e8);
    log_info!("{}.ask0={},{}", tag, b.asks[0].px_1e9, b.asks[0].sz_1e8);
    let (lb, la) = (b.bid_ct.max(1) as usize - 1, b.ask_ct.max(1) as usize - 1);
    log_info!("{}.last={},{}", tag, b.bids[lb].px_1e9, b.asks[la].px_1e9);
    log_info!("{}.recv_ns={}", tag, b.recv_ns);
}

fn state(s: &AlgoState) {
    log_info!("state.position={} avg={} realized={} unrealized={}", s.position_1e8, s.avg_entry_1e9,
              s.realized_pnl_1e9, s.unrealized_pnl_1e9);
    log_info!("state.orders={}", s.order_ct);
    for i in 0..s.order_ct as usize {
        let o = &s.orders[i];
        log_info!("state.order{}={},{},{},{},{},{}", i, o.order_id, o.px_1e9, o.qty_1e8, o.filled_1e8, o.side,
                  o.status);
    }
    log_info!("state.fills={}", s.total_fill_count);
    log_info!("state.symbol={},{},{},{},{},{}", s.symbol.tick_size_1e9, s.symbol.lot_size_1e8,
              s.symbol.min_qty_1e8, s.symbol.min_notional_1e9, s.symbol.price_precision, s.symbol.qty_precision);
    log_info!("state.risk={},{},{}", s.risk.max_position_1e8, s.risk.max_order_notional_1e9, s.risk.max_order_rate);
    log_info!("state.mesh={},{},{}", s.mesh_id, s.mesh_peer_count, s.mesh_peers[0]);
    log_info!("state.name={}", s.symbol_name());
}

impl Algo for Probe {
    fn on_book(&mut self, b: &L2Book, s: &AlgoState, f: &OnlineFeatures, _a: &mut Actions) {
        book("book", b);
        state(s);
        log_info!("features={},{},{},{}", f.version, f.microprice_1e9, f.depth_imbalance_1e4, f.feature_ts_ns);
        let config = unsafe { &*(CONFIG_REGION_WASM_OFFSET as *const ConfigRegion) };
        log_info!("config={},{},{},{}", config.count(), config.get_i64(0), config.get_f64(1), config.get_bool(2));
        let mesh = unsafe { &*(MESH_TABLE_WASM_OFFSET as *const MeshTable) };
        log_info!("mesh.self={},{}", mesh.self_label_str(), mesh.self_mesh_id);
        for i in 0..mesh.peer_count as usize {
            log_info!("mesh.peer{}={},{}", i, mesh.peers[i].label_str(), mesh.peers[i].mesh_id);
        }
        let pools = unsafe { &*(POOL_BOOKS_WASM_OFFSET as *const PoolBooks) };
        let amms = unsafe { &*(POOL_STATE_TABLE_WASM_OFFSET as *const PoolStateTable) };
        log_info!("pools={},{}", pools.pool_ct, amms.count);
        for i in 0..pools.pool_ct as usize {
            let (m, a) = (pools.meta_at_slot(i), amms.state_at(i));
            log_info!("pool{}.meta={},{},{},{},{},{}", i, m.address[0], m.address[19], m.fee_bps, m.venue_id,
                      m.protocol_id, m.gas_units());
            log_info!("pool{}.amm={},{},{},{},{},{},{},{},{}", i, a.reserve0(), a.reserve1(), a.sqrt_price_x64,
                      a.liquidity, a.tick, a.tick_spacing, a.fee_ppm, a.pool_type, a.last_block);
            book("pool", pools.book_at_slot(i));
        }
    }

    fn on_nbbo(&mut self, n: &NbboSnapshot, books: &VenueBooks, _s: &AlgoState, _f: &OnlineFeatures,
               _a: &mut Actions) {
        log_info!("nbbo={},{},{},{},{},{},{},{}", n.nbbo_bid_px_1e9, n.nbbo_ask_px_1e9, n.nbbo_bid_sz_1e8,
                  n.nbbo_ask_sz_1e8, n.best_bid_venue_id(), n.best_ask_venue_id(), n.venue_ct, n.sequence);
        for i in 0..n.venue_ct as usize {
            log_info!("nbbo.venue{}={},{},{},{},{},{},{}", i, n.venue_ids[i], n.venue_bid_px[i], n.venue_ask_px[i],
                      n.venue_bid_sz[i], n.venue_ask_sz[i], n.venue_update_ms[i], n.venue_region_ids[i]);
        }
        log_info!("nbbo.recv_ns={}", n.recv_ns);
        log_info!("books={},{},{}", books.book_ct, books.venue_id_at(0), books.venue_region_ids[0]);
        book("merged", &books.merged);
        for i in 0..books.book_ct as usize {
            book(venue_name(books.venue_id_at(i)), books.book_at_slot(i));
        }
    }

    fn on_fill(&mut self, f: &Fill, s: &AlgoState) {
        log_info!("fill={},{},{},{},{}", f.order_id, f.px_1e9, f.qty_1e8, f.recv_ns, f.side);
        state(s);
    }

    fn on_reject(&mut self, r: &Reject) {
        log_info!("reject={},{}", r.order_id, r.code);
    }

    fn on_message(&mut self, from: &str, payload: &[u8], _s: &AlgoState, _a: &mut Actions) {
        log_info!("message={},{}", from, core::str::from_utf8(payload).unwrap_or("?"));
        send(from, b"back");
    }

    fn on_heartbeat(&mut self, _s: &AlgoState, _f: &OnlineFeatures, a: &mut Actions) {
        a.buy(7, 1_000, 100_000_000_000);
        a.ioc_sell(8, 2_000, 101_000_000_000);
        a.market_buy(9, 3_000);
        a.cancel(7);
        a.amend(8, 1, 1);
        a.post_only_buy(10, 1, 1);
    }
}

export_algo!(Probe);
