-- The region's clients made through the admin API (the settings' seeds are not stored): the
-- SHA-256 of each key, never the key. A revoked client keeps its row (its id is not reused).
CREATE TABLE clients (
    client_id TEXT PRIMARY KEY, role TEXT NOT NULL, key_sha256 TEXT NOT NULL UNIQUE,
    requests_per_s DOUBLE PRECISION, created_ns BIGINT NOT NULL, revoked_ns BIGINT
);
-- The client an origin region placed a hosted child for (its /v1/remote-orders shows it only to that client).
ALTER TABLE remote_children ADD COLUMN client TEXT NOT NULL DEFAULT '';
