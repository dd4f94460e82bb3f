"""A Solana RFQ venue on loopback: a real SVM (LiteSVM) with SPL mints, served over Solana's JSON-RPC,
and a market maker whose quotes settle as one atomic transaction of two SPL transfers."""
