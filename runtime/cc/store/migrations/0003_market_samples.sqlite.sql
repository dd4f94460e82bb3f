-- Market trades and mids the CC sampled, for TCA benchmarks (interval VWAP, arrival mid).
CREATE TABLE market_samples (
    ts_ns INTEGER NOT NULL, venue TEXT NOT NULL, symbol TEXT NOT NULL, kind TEXT NOT NULL,
    price TEXT NOT NULL, qty TEXT NOT NULL
);
CREATE INDEX market_samples_by_symbol ON market_samples (symbol, ts_ns);
