"""Orders from submission to fills: validation, the cache, the engine, dispatch, booking, reroutes."""
