"""WebAssembly algos of the region: the manager, its store, and the Algo ConfigMaps it deploys."""
