//! The actions buffer a callback fills: 16 slots of 32 bytes, read by the host on return.

/// At most this many actions per callback.
pub const MAX_ACTIONS: usize = 16;
const SLOT: usize = 32;

const KIND_PLACE: u8 = 1;
const KIND_CANCEL: u8 = 2;
const KIND_CANCEL_ALL: u8 = 3;

/// An order's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Side {
    Buy = 1,
    Sell = 2,
}

impl Side {
    /// The ABI's code (1 buy, 2 sell) back to a side.
    pub fn from_code(code: u8) -> Option<Side> {
        match code {
            1 => Some(Side::Buy),
            2 => Some(Side::Sell),
            _ => None,
        }
    }

    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

/// How a placed order executes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OrderType {
    /// Rests until filled or cancelled (GTC).
    Limit = 1,
    /// Takes whatever is there; no price.
    Market = 2,
    /// Immediate-or-cancel at a limit price.
    Ioc = 3,
}

/// Where a callback writes its orders and cancels. Each method returns `false`, writing
/// nothing, once [`MAX_ACTIONS`] have been written.
///
/// Every action carries a `tag`, the algo's own id for the order: fills report it, and
/// [`cancel`](Actions::cancel) cancels every open order with it.
pub struct Actions<'a> {
    buf: &'a mut [u8; MAX_ACTIONS * SLOT],
    len: usize,
    claimed: Option<i32>,
}

impl<'a> Actions<'a> {
    /// An empty list over the host-read buffer.
    pub fn new(buf: &'a mut [u8; MAX_ACTIONS * SLOT]) -> Self {
        Actions { buf, len: 0, claimed: None }
    }

    /// A resting limit order (GTC).
    pub fn place_limit(&mut self, side: Side, tag: u32, price_ticks: i64, qty_lots: i64) -> bool {
        self.place(side, OrderType::Limit, tag, price_ticks, qty_lots)
    }

    /// An immediate-or-cancel order at a limit price.
    pub fn place_ioc(&mut self, side: Side, tag: u32, price_ticks: i64, qty_lots: i64) -> bool {
        self.place(side, OrderType::Ioc, tag, price_ticks, qty_lots)
    }

    /// A market order.
    pub fn place_market(&mut self, side: Side, tag: u32, qty_lots: i64) -> bool {
        self.place(side, OrderType::Market, tag, 0, qty_lots)
    }

    /// An order of any type (`price_ticks` is ignored for market orders).
    pub fn place(&mut self, side: Side, order_type: OrderType, tag: u32, price_ticks: i64, qty_lots: i64) -> bool {
        self.push(KIND_PLACE, side as u8, order_type as u8, tag, price_ticks, qty_lots)
    }

    /// Cancels every open order with this tag.
    pub fn cancel(&mut self, tag: u32) -> bool {
        self.push(KIND_CANCEL, 0, 0, tag, 0, 0)
    }

    /// Cancels every open order of this instance.
    pub fn cancel_all(&mut self) -> bool {
        self.push(KIND_CANCEL_ALL, 0, 0, 0, 0, 0)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn is_full(&self) -> bool {
        self.len == MAX_ACTIONS
    }

    /// The bytes written so far, `len() * 32` of them, as the host will read them.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len * SLOT]
    }

    /// What the callback returns to the host.
    pub(crate) fn count(&self) -> i32 {
        self.claimed.unwrap_or(self.len as i32)
    }

    /// For testing hosts only: make the callback report `n` actions whatever was written —
    /// outside 0..=16 that is an ABI violation and the host stops the instance.
    #[doc(hidden)]
    pub fn claim_count_for_host_tests(&mut self, n: i32) {
        self.claimed = Some(n);
    }

    fn push(&mut self, kind: u8, side: u8, order_type: u8, tag: u32, price_ticks: i64, qty_lots: i64) -> bool {
        if self.len == MAX_ACTIONS {
            return false;
        }
        let slot = &mut self.buf[self.len * SLOT..(self.len + 1) * SLOT];
        slot[0] = kind;
        slot[1] = side;
        slot[2] = order_type;
        slot[3] = 0;
        slot[4..8].copy_from_slice(&tag.to_le_bytes());
        slot[8..16].copy_from_slice(&price_ticks.to_le_bytes());
        slot[16..24].copy_from_slice(&qty_lots.to_le_bytes());
        slot[24..32].copy_from_slice(&[0; 8]);
        self.len += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i64_at(b: &[u8], off: usize) -> i64 {
        i64::from_le_bytes(b[off..off + 8].try_into().unwrap())
    }

    #[test]
    fn actions_are_encoded_as_the_abi_says() {
        let mut buf = [0xaa; MAX_ACTIONS * SLOT];
        let mut out = Actions::new(&mut buf);
        assert!(out.place_limit(Side::Buy, 7, 6_500_000, 3));
        assert!(out.place_ioc(Side::Sell, 8, -5, 1));
        assert!(out.place_market(Side::Sell, 9, 2));
        assert!(out.cancel(7));
        assert!(out.cancel_all());
        assert_eq!((out.len(), out.count()), (5, 5));
        let b = out.as_bytes();
        assert_eq!(&b[0..8], &[1, 1, 1, 0, 7, 0, 0, 0]);
        assert_eq!((i64_at(b, 8), i64_at(b, 16), i64_at(b, 24)), (6_500_000, 3, 0));
        assert_eq!(&b[32..36], &[1, 2, 3, 0]);
        assert_eq!(i64_at(b, 40), -5);
        assert_eq!(&b[64..68], &[1, 2, 2, 0]);
        assert_eq!((i64_at(b, 72), i64_at(b, 80)), (0, 2));
        assert_eq!(&b[96..104], &[2, 0, 0, 0, 7, 0, 0, 0]);
        assert_eq!(&b[128..160], &[3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn actions_are_bounded_to_sixteen() {
        let mut buf = [0; MAX_ACTIONS * SLOT];
        let mut out = Actions::new(&mut buf);
        for tag in 0..MAX_ACTIONS as u32 {
            assert!(out.cancel(tag));
        }
        assert!(out.is_full());
        assert!(!out.place_limit(Side::Buy, 99, 1, 1));
        assert!(!out.cancel_all());
        assert_eq!(out.count(), 16);
    }

    #[test]
    fn sides_round_trip() {
        assert_eq!(Side::from_code(Side::Buy as u8), Some(Side::Buy));
        assert_eq!(Side::from_code(2), Some(Side::Sell));
        assert_eq!(Side::from_code(0), None);
        assert_eq!(Side::Buy.opposite(), Side::Sell);
    }
}
