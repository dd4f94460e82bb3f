"""The edge's Solana venue: RFQ quotes settled as signed transactions through Solana's JSON-RPC,
under the same order manager, journal and gRPC service as the CEX venues."""
