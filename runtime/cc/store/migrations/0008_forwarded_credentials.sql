-- Other regions' clients' accounts at our venues (docs/security.md, "Across regions"): which origin
-- region forwarded each credential id, for which of its clients and venue. Only that origin may
-- place children on it or remove it, also right after this CC restarts. The credential itself is
-- only at the edge (sealed); nothing here could open it.
CREATE TABLE forwarded_credentials (
    credential_id TEXT PRIMARY KEY, origin TEXT NOT NULL, client TEXT NOT NULL, venue TEXT NOT NULL,
    created_ns BIGINT NOT NULL
);
