"""A small Python client of the CC's REST API, and the `seqmesh` client subcommands."""
