"""Pool tokens as the mesh's unified assets: a pool of WBTC and USDT trades `BTC/USDT`.

Wrapped tokens stand for their asset (WBTC for BTC, WETH for ETH) as they do on every real DEX;
the others keep their symbol. Which side of a pool is the quote follows QUOTE_PREFERENCE, so a
pool is quoted as the CEXs quote the same pair.
"""

from __future__ import annotations

UNIFIED: dict[str, str] = {"WBTC": "BTC", "WETH": "ETH", "WPOL": "POL", "WMATIC": "MATIC"}
#: Earlier quotes first: a WETH/USDT pool trades ETH/USDT, a WBTC/WETH pool BTC/ETH.
QUOTE_PREFERENCE: tuple[str, ...] = ("USDT", "USDC", "DAI", "ETH", "BTC")


def unified_asset(token_symbol: str) -> str:
    return UNIFIED.get(token_symbol, token_symbol)


def pool_symbol(token_a: str, token_b: str) -> tuple[str, bool]:
    """The unified symbol a pool of `token_a` and `token_b` (token symbols) trades, and whether
    `token_a` is its base."""
    a, b = unified_asset(token_a), unified_asset(token_b)
    if a == b:
        raise ValueError(f"a pool of {token_a} and {token_b} trades one asset against itself")
    rank = {q: i for i, q in enumerate(QUOTE_PREFERENCE)}
    a_is_base = rank.get(b, len(rank)) < rank.get(a, len(rank)) or (a not in rank and b not in rank)
    return (f"{a}/{b}", True) if a_is_base else (f"{b}/{a}", False)
