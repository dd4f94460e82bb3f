"""The L2 order book every seqmesh process keeps, in exact integer ticks and lots."""
