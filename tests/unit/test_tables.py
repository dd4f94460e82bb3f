from seqmesh.client.tables import _round, table, tca_table


def test_round_drops_the_sign_of_a_zero() -> None:
    assert _round("-0.00000001") == "0.0000"
    assert _round(-0.0) == "0.0000"
    assert _round("-0.5") == "-0.5000"
    assert _round("12345.67891") == "12,345.6789"
    assert _round(None) == "-"
    assert _round("n/a") == "n/a"


def test_table_right_aligns_columns_of_numbers_and_their_headers() -> None:
    out = table(["venue", "notional", "note"], [["okx", "1,234.5000", "-"], ["binance", "-12", "stale"]])
    assert out.splitlines() == [
        "venue      notional  note",
        "-------  ----------  -----",
        "okx      1,234.5000  -",
        "binance         -12  stale",
    ]


def test_tca_table_shows_the_saving_against_the_best_single_venue() -> None:
    text = tca_table({
        "order_id": "o1", "side": "sell", "quantity": "2", "symbol": "BTC/USDT", "state": "filled",
        "fee_currency": "USDT", "filled": "2", "avg_price": "100", "notional": "200", "fees": "0.2",
        "venues": {"okx": {"qty": "2", "avg_price": "100", "notional": "200", "fees": "0.2"}},
        "arrival_mid": "100.5", "arrival_slippage_bps": "-49.75",
        "single_venue": {"venue": "okx", "expected_cost": "199.8", "saving": "0", "saving_bps": "0"},
        "expected": {"saving_vs_best_single": "-0.00000001"},
        "execution": {"expected_cost": "199.9", "shortfall": "0.1", "shortfall_bps": "5.0025"},
    })
    assert "best single venue okx: would have brought in 199.8000; routing saved 0.0000 (0 bps)" in text
    assert "expected to save 0.0000 USDT" in text
    assert "the fills came in 0.1000 USDT (5.0025 bps) worse than the route's decision-time prices" in text
    assert "okx      2   100.0000  200.0000       0.2000" in text
    assert "TOTAL    2   100.0000  200.0000       0.2000" in text
