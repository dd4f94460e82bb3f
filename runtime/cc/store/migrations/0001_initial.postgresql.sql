-- The ledger's first schema for PostgreSQL: the SQLite one's tables and constraints, with exact
-- NUMERIC amounts, BOOLEAN flags, JSONB documents and an identity column for booking order
-- (what SQLite's rowid gives).
CREATE TABLE parents (
    order_id TEXT PRIMARY KEY, client TEXT NOT NULL, client_order_id TEXT,
    symbol TEXT NOT NULL, side TEXT NOT NULL, type TEXT NOT NULL, qty NUMERIC NOT NULL, price NUMERIC,
    state TEXT NOT NULL, reason TEXT NOT NULL, cancel_requested BOOLEAN NOT NULL, reroutes INTEGER NOT NULL,
    decision JSONB NOT NULL, created_ns BIGINT NOT NULL, updated_ns BIGINT NOT NULL,
    UNIQUE (client, client_order_id)
);
CREATE TABLE children (
    child_id TEXT PRIMARY KEY, parent_id TEXT NOT NULL REFERENCES parents(order_id), venue TEXT NOT NULL,
    qty NUMERIC NOT NULL, price NUMERIC, type TEXT NOT NULL, state TEXT NOT NULL, venue_order_id TEXT NOT NULL,
    filled NUMERIC NOT NULL, cum_quote NUMERIC NOT NULL, reason TEXT NOT NULL, sent BOOLEAN NOT NULL,
    created_ns BIGINT NOT NULL, updated_ns BIGINT NOT NULL, last_seq BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE fills (
    fill_id TEXT PRIMARY KEY, child_id TEXT NOT NULL, parent_id TEXT NOT NULL, venue TEXT NOT NULL,
    symbol TEXT NOT NULL, side TEXT NOT NULL, price NUMERIC NOT NULL, qty NUMERIC NOT NULL, fee NUMERIC NOT NULL,
    fee_asset TEXT NOT NULL, maker BOOLEAN NOT NULL, exchange_ts BIGINT NOT NULL, booked_ns BIGINT NOT NULL,
    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE
);
CREATE TABLE events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ts BIGINT NOT NULL, kind TEXT NOT NULL, ref TEXT NOT NULL,
    body JSONB NOT NULL
);
CREATE TABLE algo_fills (
    fill_id TEXT PRIMARY KEY, client TEXT NOT NULL, algo TEXT NOT NULL, order_id TEXT NOT NULL, venue TEXT NOT NULL,
    symbol TEXT NOT NULL, side TEXT NOT NULL, price NUMERIC NOT NULL, qty NUMERIC NOT NULL, fee NUMERIC NOT NULL,
    fee_asset TEXT NOT NULL, maker BOOLEAN NOT NULL, exchange_ts BIGINT NOT NULL, booked_ns BIGINT NOT NULL,
    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE
);
CREATE TABLE edge_cursors (venue TEXT PRIMARY KEY, last_seq BIGINT NOT NULL);
CREATE TABLE flags (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE remote_children (
    child_id TEXT PRIMARY KEY, origin TEXT NOT NULL, venue TEXT NOT NULL, created_ns BIGINT NOT NULL
);
CREATE INDEX parents_by_state ON parents (state);
CREATE INDEX parents_by_client ON parents (client, created_ns);
CREATE INDEX children_by_parent ON children (parent_id);
CREATE INDEX fills_by_parent ON fills (parent_id);
