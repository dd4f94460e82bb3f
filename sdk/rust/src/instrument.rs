//! The instance's instrument on its venue: price step (tick), quantity step (lot) and the
//! venue's minimum order quantity and value, as the host's `instrument` import writes them.
//!
//! Ticks and lots are one venue's units; venues differ (one quotes BTC in steps of 0.01,
//! another of 0.1). Anything shared with siblings on other venues belongs in venue-neutral
//! fixed point with 9 decimals (`_e9`: the value × 10^9): convert on the way out with
//! [`Instrument::price_e9`] / [`Instrument::qty_e9`], and back into this venue's units with
//! [`Instrument::ticks_floor`] / [`Instrument::ticks_ceil`] / [`Instrument::lots_floor`],
//! rounding the way that is safe for what the number is used for.
//!
//! Orders below the venue's minimums are rejected: size them with [`Instrument::min_lots`]
//! (or [`Instrument::lots_for_notional`]).
//!
//! Ask once, when the algo is constructed or started, and keep it: the instrument does not
//! change while the instance runs.
//!
//! ```
//! use seqmesh_algo::instrument;
//!
//! let inst = instrument::get(); // off wasm32: tick 0.01, lot 0.00001, min qty 0.00001, min notional 5
//! let ask = inst.ticks_ceil(65_000_005_000_000); // 65 000.005 → 6 500 001 ticks of 0.01
//! assert_eq!(ask, 6_500_001);
//! assert_eq!(inst.price_e9(ask), 65_000_010_000_000);
//! let lots = inst.min_lots(ask); // 0.00008 BTC: the smallest size worth 5 or more
//! assert_eq!(lots, 8);
//! assert!(inst.notional_e9(ask, lots) >= inst.min_notional_e9);
//! ```
//!
//! A host that has no instrument for the instance writes zeros: then [`Instrument::is_known`]
//! is false, every conversion gives 0 and [`Instrument::min_lots`] gives 1.

use crate::{host, Error};

/// The fixed-point scale of every `_e9` value: 10^9.
pub const E9: i64 = 1_000_000_000;
/// Bytes the host writes.
pub const SIZE: usize = 32;

/// The instrument, each field × 10^9 (0.01 → 10 000 000).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Instrument {
    /// Price step.
    pub tick_e9: i64,
    /// Quantity step.
    pub lot_e9: i64,
    /// The venue's minimum order quantity.
    pub min_qty_e9: i64,
    /// The venue's minimum order value (price × quantity, in the quote currency).
    pub min_notional_e9: i64,
}

/// The instance's instrument; all zeros (not [`Instrument::is_known`]) if the host cannot say.
pub fn get() -> Instrument {
    try_get().unwrap_or_default()
}

/// The instance's instrument, or the host's error ([`Error::BadPointer`]).
pub fn try_get() -> Result<Instrument, Error> {
    let mut raw = [0u8; SIZE];
    Error::check(host::instrument(&mut raw))?;
    Ok(Instrument::decode(&raw))
}

fn saturate(v: i128) -> i64 {
    v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// `a / b` rounded down; `b > 0`.
fn div_floor(a: i128, b: i128) -> i128 {
    a.div_euclid(b)
}

/// `a / b` rounded up; `b > 0`.
fn div_ceil(a: i128, b: i128) -> i128 {
    -(-a).div_euclid(b)
}

impl Instrument {
    /// The 32 bytes the host writes: four i64 LE.
    pub fn decode(raw: &[u8; SIZE]) -> Instrument {
        let v = |i: usize| {
            let mut b = [0; 8];
            b.copy_from_slice(&raw[i * 8..i * 8 + 8]);
            i64::from_le_bytes(b)
        };
        Instrument { tick_e9: v(0), lot_e9: v(1), min_qty_e9: v(2), min_notional_e9: v(3) }
    }

    /// The host's encoding (for tests and stubs).
    pub fn encode(&self) -> [u8; SIZE] {
        let mut out = [0; SIZE];
        for (i, v) in [self.tick_e9, self.lot_e9, self.min_qty_e9, self.min_notional_e9].iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// Whether the host gave a usable tick and lot (both positive).
    pub fn is_known(&self) -> bool {
        self.tick_e9 > 0 && self.lot_e9 > 0
    }

    /// A price in ticks as price × 10^9 (saturating; exact below 9.2 × 10^9).
    pub fn price_e9(&self, ticks: i64) -> i64 {
        saturate(ticks as i128 * self.tick_e9 as i128)
    }

    /// A price × 10^9 in ticks, rounded down (0 if the tick is unknown).
    pub fn ticks_floor(&self, price_e9: i64) -> i64 {
        if self.tick_e9 <= 0 {
            return 0;
        }
        saturate(div_floor(price_e9 as i128, self.tick_e9 as i128))
    }

    /// A price × 10^9 in ticks, rounded up (0 if the tick is unknown).
    pub fn ticks_ceil(&self, price_e9: i64) -> i64 {
        if self.tick_e9 <= 0 {
            return 0;
        }
        saturate(div_ceil(price_e9 as i128, self.tick_e9 as i128))
    }

    /// A quantity in lots as quantity × 10^9 (saturating).
    pub fn qty_e9(&self, lots: i64) -> i64 {
        saturate(lots as i128 * self.lot_e9 as i128)
    }

    /// A quantity × 10^9 in lots, rounded down (0 if the lot is unknown).
    pub fn lots_floor(&self, qty_e9: i64) -> i64 {
        if self.lot_e9 <= 0 {
            return 0;
        }
        saturate(div_floor(qty_e9 as i128, self.lot_e9 as i128))
    }

    /// A quantity × 10^9 in lots, rounded up (0 if the lot is unknown).
    pub fn lots_ceil(&self, qty_e9: i64) -> i64 {
        if self.lot_e9 <= 0 {
            return 0;
        }
        saturate(div_ceil(qty_e9 as i128, self.lot_e9 as i128))
    }

    /// The value of `lots` at `price_ticks` (price × quantity) × 10^9, rounded down.
    pub fn notional_e9(&self, price_ticks: i64, lots: i64) -> i64 {
        // Each factor is a saturated i64, so the product fits an i128.
        saturate(self.price_e9(price_ticks) as i128 * self.qty_e9(lots) as i128 / E9 as i128)
    }

    /// The smallest number of lots whose value at `price_ticks` reaches `notional_e9`
    /// (exactly: `notional_e9(price_ticks, n) >= notional_e9`). 0 when nothing is needed
    /// (`notional_e9 <= 0`) or it cannot be said (price ≤ 0, instrument not known).
    pub fn lots_for_notional(&self, price_ticks: i64, notional_e9: i64) -> i64 {
        if notional_e9 <= 0 || price_ticks <= 0 || !self.is_known() {
            return 0;
        }
        // n × price_e9 × lot_e9 ≥ notional_e9 × 10^9, all in i128 (each side < 10^38).
        let per_lot = self.price_e9(price_ticks) as i128 * self.lot_e9 as i128;
        saturate(div_ceil(notional_e9 as i128 * E9 as i128, per_lot))
    }

    /// The smallest order the venue accepts at `price_ticks`: at least one lot, the minimum
    /// quantity (rounded up to lots) and the minimum notional at that price.
    pub fn min_lots(&self, price_ticks: i64) -> i64 {
        let by_qty = self.lots_ceil(self.min_qty_e9);
        let by_notional = self.lots_for_notional(price_ticks, self.min_notional_e9);
        by_qty.max(by_notional).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn venue(tick: i64, lot: i64, min_qty: i64, min_notional: i64) -> Instrument {
        Instrument { tick_e9: tick, lot_e9: lot, min_qty_e9: min_qty, min_notional_e9: min_notional }
    }

    #[test]
    fn native_stub_and_round_trip() {
        let inst = get();
        assert_eq!(inst, venue(10_000_000, 10_000, 10_000, 5 * E9));
        assert_eq!(try_get(), Ok(inst));
        assert_eq!(Instrument::decode(&inst.encode()), inst);
        assert!(inst.is_known());
    }

    #[test]
    fn prices_convert_both_ways_with_the_rounding_asked_for() {
        let cents = venue(10_000_000, 10_000, 10_000, 5 * E9); // tick 0.01
        let dimes = venue(100_000_000, 100_000, 100_000, 5 * E9); // tick 0.1
        let p = cents.price_e9(6_499_987); // 64 999.87
        assert_eq!(p, 64_999_870_000_000);
        assert_eq!((dimes.ticks_floor(p), dimes.ticks_ceil(p)), (649_998, 649_999));
        let exact = dimes.price_e9(650_100);
        assert_eq!((cents.ticks_floor(exact), cents.ticks_ceil(exact)), (6_501_000, 6_501_000));
        assert_eq!((cents.ticks_floor(-15_000_000), cents.ticks_ceil(-15_000_000)), (-2, -1));
        assert_eq!((cents.ticks_floor(0), cents.ticks_ceil(0)), (0, 0));
        assert_eq!(cents.price_e9(i64::MAX), i64::MAX); // saturates
    }

    #[test]
    fn quantities_convert_to_lots() {
        let inst = venue(10_000_000, 10_000, 10_000, 5 * E9); // lot 0.00001
        assert_eq!(inst.qty_e9(123), 1_230_000);
        assert_eq!((inst.lots_floor(1_239_999), inst.lots_ceil(1_230_001)), (123, 124));
        assert_eq!((inst.lots_floor(1_230_000), inst.lots_ceil(1_230_000)), (123, 123));
    }

    #[test]
    fn lots_for_notional_is_the_smallest_that_reaches_it() {
        let inst = venue(10_000_000, 10_000, 10_000, 5 * E9);
        let price = 6_500_002; // 65 000.02: a lot is worth 0.6500002
        let n = inst.lots_for_notional(price, 5 * E9);
        assert_eq!(n, 8);
        assert!(inst.notional_e9(price, n) >= 5 * E9);
        assert!(inst.notional_e9(price, n - 1) < 5 * E9);
        // Exactly on the boundary: 10 lots at 50 000 are worth 5.
        assert_eq!(inst.lots_for_notional(5_000_000, 5 * E9), 10);
        assert_eq!(inst.notional_e9(5_000_000, 10), 5 * E9);
        assert_eq!((inst.lots_for_notional(price, 0), inst.lots_for_notional(0, 5 * E9)), (0, 0));
        // Huge values do not overflow.
        assert_eq!(inst.lots_for_notional(i64::MAX, 5 * E9), 1);
        let nano = venue(1, 1, 0, i64::MAX); // tick and lot 10^-9: the count saturates
        assert_eq!(nano.lots_for_notional(1, i64::MAX), i64::MAX);
        for (price, notional) in [(1, 1), (3, 7), (6_500_002, 123_456_789_012), (99_999_999, 5 * E9)] {
            let n = inst.lots_for_notional(price, notional);
            assert!(inst.notional_e9(price, n) >= notional && inst.notional_e9(price, n - 1) < notional);
        }
    }

    #[test]
    fn min_lots_takes_the_larger_minimum() {
        let inst = venue(10_000_000, 10_000, 10_000, 5 * E9);
        assert_eq!(inst.min_lots(6_500_002), 8);
        let big_min_qty = venue(10_000_000, 10_000, 1_000_000, 5 * E9); // 0.001 = 100 lots
        assert_eq!(big_min_qty.min_lots(6_500_002), 100);
        assert_eq!(venue(10_000_000, 10_000, 0, 0).min_lots(6_500_002), 1);
        assert_eq!(big_min_qty.min_lots(0), 100); // no price: the quantity minimum still holds
    }

    #[test]
    fn an_unknown_instrument_is_inert() {
        let none = Instrument::default();
        assert!(!none.is_known());
        assert_eq!((none.ticks_floor(5), none.ticks_ceil(5), none.lots_floor(5), none.lots_ceil(5)), (0, 0, 0, 0));
        assert_eq!((none.price_e9(5), none.qty_e9(5), none.lots_for_notional(5, 5)), (0, 0, 0));
        assert_eq!(none.min_lots(6_500_000), 1);
    }
}
