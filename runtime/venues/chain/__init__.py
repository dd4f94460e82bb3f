"""Real EVM chains on loopback: one anvil per chain, Uniswap V2 from its published artifacts,
ERC-20 tokens, liquidity providers and seeded synthetic traders that move the pools.

Build the tooling first with `bash hack/build-chains.sh`; see docs/dex.md.
"""
