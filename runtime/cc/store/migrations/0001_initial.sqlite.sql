-- The ledger's schema as runtime/cc/ledger.py created it before migrations existed (IF NOT EXISTS:
-- applying it to such a ledger changes nothing).
CREATE TABLE IF NOT EXISTS parents (
    order_id TEXT PRIMARY KEY, client TEXT NOT NULL, client_order_id TEXT,
    symbol TEXT NOT NULL, side TEXT NOT NULL, type TEXT NOT NULL, qty TEXT NOT NULL, price TEXT,
    state TEXT NOT NULL, reason TEXT NOT NULL, cancel_requested INTEGER NOT NULL, reroutes INTEGER NOT NULL,
    decision TEXT NOT NULL, created_ns INTEGER NOT NULL, updated_ns INTEGER NOT NULL,
    UNIQUE (client, client_order_id)
);
CREATE TABLE IF NOT EXISTS children (
    child_id TEXT PRIMARY KEY, parent_id TEXT NOT NULL REFERENCES parents(order_id), venue TEXT NOT NULL,
    qty TEXT NOT NULL, price TEXT, type TEXT NOT NULL, state TEXT NOT NULL, venue_order_id TEXT NOT NULL,
    filled TEXT NOT NULL, cum_quote TEXT NOT NULL, reason TEXT NOT NULL, sent INTEGER NOT NULL,
    created_ns INTEGER NOT NULL, updated_ns INTEGER NOT NULL, last_seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS fills (
    fill_id TEXT PRIMARY KEY, child_id TEXT NOT NULL, parent_id TEXT NOT NULL, venue TEXT NOT NULL,
    symbol TEXT NOT NULL, side TEXT NOT NULL, price TEXT NOT NULL, qty TEXT NOT NULL, fee TEXT NOT NULL,
    fee_asset TEXT NOT NULL, maker INTEGER NOT NULL, exchange_ts INTEGER NOT NULL, booked_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, kind TEXT NOT NULL, ref TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS algo_fills (
    fill_id TEXT PRIMARY KEY, client TEXT NOT NULL, algo TEXT NOT NULL, order_id TEXT NOT NULL, venue TEXT NOT NULL,
    symbol TEXT NOT NULL, side TEXT NOT NULL, price TEXT NOT NULL, qty TEXT NOT NULL, fee TEXT NOT NULL,
    fee_asset TEXT NOT NULL, maker INTEGER NOT NULL, exchange_ts INTEGER NOT NULL, booked_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS edge_cursors (venue TEXT PRIMARY KEY, last_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS flags (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS remote_children (
    child_id TEXT PRIMARY KEY, origin TEXT NOT NULL, venue TEXT NOT NULL, created_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS parents_by_state ON parents (state);
CREATE INDEX IF NOT EXISTS parents_by_client ON parents (client, created_ns);
CREATE INDEX IF NOT EXISTS children_by_parent ON children (parent_id);
CREATE INDEX IF NOT EXISTS fills_by_parent ON fills (parent_id);
