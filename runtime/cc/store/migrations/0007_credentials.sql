-- Clients' venue credentials, sealed (docs/security.md, "Credentials"): the CC keeps the ciphertext
-- and the data key wrapped for the venue's edges, never anything it could open. One per client and venue.
CREATE TABLE credentials (
    credential_id TEXT PRIMARY KEY, client TEXT NOT NULL, venue TEXT NOT NULL,
    key_fingerprint TEXT NOT NULL, permissions TEXT NOT NULL, created_ns BIGINT NOT NULL,
    wrap_key_id TEXT NOT NULL, wrapped_key TEXT NOT NULL, sealed TEXT NOT NULL,
    UNIQUE (client, venue)
);
