"""The Central Coordinator of one region: REST API, market-data aggregator, risk, smart order
router, execution, ledger and TCA. It reaches its edges only through their gRPC API."""
