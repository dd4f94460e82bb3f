"""The edge's WebAssembly algo runtime (wasmtime): ABI v1 layouts and the host."""
