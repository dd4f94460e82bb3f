"""The ledger's schema migrations: `NNNN_name.sql` for every database, `NNNN_name.DIALECT.sql`
(`sqlite`, `postgresql`) where the dialects differ. Applied in order at open (`..schema`)."""
