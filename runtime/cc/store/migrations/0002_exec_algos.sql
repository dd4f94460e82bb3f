-- Execution algorithms (TWAP, VWAP, Iceberg): each parent's schedule and progress, so a restarted
-- CC resumes every running parent where it was. params/state are the algorithm's JSON (exact
-- numbers as strings); the same text in both dialects.
CREATE TABLE exec_algos (
    parent_id TEXT PRIMARY KEY REFERENCES parents(order_id), kind TEXT NOT NULL, params TEXT NOT NULL,
    state TEXT NOT NULL, next_slice_ns BIGINT, slices_sent INTEGER NOT NULL, status TEXT NOT NULL,
    updated_ns BIGINT NOT NULL
);
CREATE INDEX exec_algos_by_status ON exec_algos (status, updated_ns);
