"""Clients' venue credentials at the CC: sealed for the venue's edges, stored as ciphertext only."""
