"""The DEX edge's pure parts: pool symbols, an order as a swap with its bound, the deployment file."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from seqmesh.runtime.dex.symbols import pool_symbol
from seqmesh.runtime.dex.v2math import Reserves, get_amount_in, get_amount_out
from seqmesh.runtime.edge.dex import derived_book
from seqmesh.runtime.edge.dex.markets import Pool, Token, from_deployment
from seqmesh.runtime.edge.dex.swap_plan import plan

WBTC = Token("WBTC", "0x" + "11" * 20, 8)  # type: ignore[arg-type]
USDT = Token("USDT", "0x" + "22" * 20, 6)  # type: ignore[arg-type]
POOL = Pool("BTC/USDT", "0x" + "33" * 20, WBTC, USDT, WBTC.address)  # type: ignore[arg-type]
RES = Reserves(100 * 10**8, 6_500_000 * 10**6)  # 100 BTC at 65000


def test_pools_trade_the_unified_symbols() -> None:
    assert pool_symbol("WBTC", "USDT") == ("BTC/USDT", True)
    assert pool_symbol("USDT", "WETH") == ("ETH/USDT", False)
    assert pool_symbol("WBTC", "WETH") == ("BTC/ETH", True)
    assert pool_symbol("WETH", "USDC") == ("ETH/USDC", True)
    with pytest.raises(ValueError, match="against itself"):
        pool_symbol("WETH", "ETH")


def test_a_market_sell_pays_exactly_qty_and_takes_the_quote_less_slippage() -> None:
    p = plan(POOL, RES, True, Decimal("0.5"), None, Decimal("0.005"))
    out = get_amount_out(50_000_000, RES.reserve_in, RES.reserve_out)
    assert (p.base_raw, p.quote_raw) == (50_000_000, out)
    assert p.bound_raw == int(Decimal(out) * Decimal("0.995"))  # floor
    fn, args = p.args(POOL, "0x" + "44" * 20, 123)
    assert fn == "swapExactTokensForTokens" and args[:3] == [50_000_000, p.bound_raw, [WBTC.address, USDT.address]]


def test_a_market_buy_takes_exactly_qty_and_pays_at_most_the_quote_plus_slippage() -> None:
    p = plan(POOL, RES, False, Decimal("0.25"), None, Decimal("0.01"))
    need = get_amount_in(25_000_000, RES.reserve_out, RES.reserve_in)
    assert (p.base_raw, p.quote_raw) == (25_000_000, need)
    assert p.bound_raw == -(-need * 101 // 100)  # ceiling
    fn, args = p.args(POOL, "0x" + "44" * 20, 123)
    assert fn == "swapTokensForExactTokens" and args[2] == [USDT.address, WBTC.address]


def test_a_limit_price_is_the_bound() -> None:
    assert plan(POOL, RES, True, Decimal("0.5"), Decimal("64000.0000015"), Decimal(0)).bound_raw == 32_000_000_001
    assert plan(POOL, RES, False, Decimal("0.5"), Decimal("66000.0000015"), Decimal(0)).bound_raw == 33_000_000_000


def test_quantities_off_the_token_grid_are_refused() -> None:
    with pytest.raises(ValueError, match="whole number"):
        plan(POOL, RES, True, Decimal("0.000000001"), None, Decimal(0))
    spec = POOL.instrument()
    assert (spec.tick, spec.lot, spec.min_qty) == (Decimal("0.000001"), Decimal("1E-8"), Decimal("1E-8"))


def test_derived_levels_widen_away_from_the_mid() -> None:
    bids, asks = derived_book.levels(POOL, RES.reserve_in, RES.reserve_out)
    assert len(bids) == len(asks) == derived_book.LEVELS
    bid_prices, ask_prices = [Decimal(b[0]) for b in bids], [Decimal(a[0]) for a in asks]
    assert bid_prices == sorted(bid_prices, reverse=True) and ask_prices == sorted(ask_prices)
    assert bid_prices[0] < 65000 < ask_prices[0] and all(b[1] == "0.10000000" for b in bids)


def test_deployment_file_errors_name_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "chains.json"
    with pytest.raises(ValueError, match="cannot read the deployment file"):
        from_deployment(path, "base")
    path.write_text(json.dumps([{"chain": "base", "chain_id": 8453}]))
    with pytest.raises(ValueError, match="no chain 'arbitrum'"):
        from_deployment(path, "arbitrum")
    with pytest.raises(ValueError, match="malformed entry"):
        from_deployment(path, "base")
