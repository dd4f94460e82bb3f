//! Zero-copy views of what the host writes: book, NBBO, fill, message, parameters.
//! Each reads its fields (little-endian) straight from the host's bytes when asked.

use crate::Side;

/// Levels per side in the book.
pub const MAX_LEVELS: usize = 20;
const BOOK_SIZE: usize = 24 + 2 * MAX_LEVELS * 16;
const NBBO_SIZE: usize = 88;
const FILL_SIZE: usize = 48;

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut a = [0; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}

fn i64_at(b: &[u8], off: usize) -> i64 {
    u64_at(b, off) as i64
}

/// A NUL-padded name; empty if it is not UTF-8.
fn padded_str(b: &[u8]) -> &str {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    core::str::from_utf8(&b[..end]).unwrap_or("")
}

/// One price level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Level {
    pub price_ticks: i64,
    pub qty_lots: i64,
}

/// The instrument's book on this edge (664 bytes at `book_ptr`), best levels first.
#[derive(Clone, Copy)]
pub struct Book<'a> {
    raw: &'a [u8],
}

impl<'a> Book<'a> {
    /// A view over the host's bytes; `None` if there are fewer than 664.
    pub fn parse(raw: &'a [u8]) -> Option<Book<'a>> {
        if raw.len() < BOOK_SIZE {
            return None;
        }
        Some(Book { raw })
    }

    pub fn abi_version(&self) -> u32 {
        u32_at(self.raw, 0)
    }

    /// 0: the instance's one symbol.
    pub fn symbol_id(&self) -> u32 {
        u32_at(self.raw, 4)
    }

    /// When the edge received the update from the venue (ns since the epoch).
    pub fn recv_ns(&self) -> u64 {
        u64_at(self.raw, 8)
    }

    pub fn n_bids(&self) -> usize {
        (u32_at(self.raw, 16) as usize).min(MAX_LEVELS)
    }

    pub fn n_asks(&self) -> usize {
        (u32_at(self.raw, 20) as usize).min(MAX_LEVELS)
    }

    /// The `i`-th best bid (0 is the highest).
    pub fn bid(&self, i: usize) -> Option<Level> {
        self.level(24, self.n_bids(), i)
    }

    /// The `i`-th best ask (0 is the lowest).
    pub fn ask(&self, i: usize) -> Option<Level> {
        self.level(24 + MAX_LEVELS * 16, self.n_asks(), i)
    }

    pub fn best_bid(&self) -> Option<Level> {
        self.bid(0)
    }

    pub fn best_ask(&self) -> Option<Level> {
        self.ask(0)
    }

    /// Bids, best first.
    pub fn bids(&self) -> impl Iterator<Item = Level> + 'a {
        let book = *self;
        (0..book.n_bids()).filter_map(move |i| book.bid(i))
    }

    /// Asks, best first.
    pub fn asks(&self) -> impl Iterator<Item = Level> + 'a {
        let book = *self;
        (0..book.n_asks()).filter_map(move |i| book.ask(i))
    }

    /// Midpoint of the best bid and ask in ticks, rounded down; `None` if a side is empty.
    pub fn mid(&self) -> Option<i64> {
        let (bid, ask) = (self.best_bid()?, self.best_ask()?);
        Some((bid.price_ticks + ask.price_ticks).div_euclid(2))
    }

    /// Best ask minus best bid in ticks; `None` if a side is empty.
    pub fn spread(&self) -> Option<i64> {
        Some(self.best_ask()?.price_ticks - self.best_bid()?.price_ticks)
    }

    fn level(&self, base: usize, n: usize, i: usize) -> Option<Level> {
        if i >= n {
            return None;
        }
        let off = base + i * 16;
        Some(Level { price_ticks: i64_at(self.raw, off), qty_lots: i64_at(self.raw, off + 8) })
    }
}

/// The region's best bid and offer across its venues, in this edge's ticks (88 bytes at
/// `event_ptr`). A price of 0 means that side is empty. A side may be this edge's own venue,
/// as the CC last saw it (older than the book `on_book` gets): see [`Nbbo::bid_is_own`].
#[derive(Clone, Copy)]
pub struct Nbbo<'a> {
    raw: &'a [u8],
}

impl<'a> Nbbo<'a> {
    pub fn parse(raw: &'a [u8]) -> Option<Nbbo<'a>> {
        if raw.len() < NBBO_SIZE {
            return None;
        }
        Some(Nbbo { raw })
    }

    /// When the CC computed it.
    pub fn ts_ns(&self) -> u64 {
        u64_at(self.raw, 0)
    }

    /// Rounded down to this edge's tick; 0 if none.
    pub fn bid_ticks(&self) -> i64 {
        i64_at(self.raw, 8)
    }

    pub fn bid_lots(&self) -> i64 {
        i64_at(self.raw, 16)
    }

    /// Rounded up to this edge's tick; 0 if none.
    pub fn ask_ticks(&self) -> i64 {
        i64_at(self.raw, 24)
    }

    pub fn ask_lots(&self) -> i64 {
        i64_at(self.raw, 32)
    }

    /// The venue with the best bid.
    pub fn bid_venue(&self) -> &'a str {
        padded_str(&self.raw[40..56])
    }

    /// The venue with the best ask.
    pub fn ask_venue(&self) -> &'a str {
        padded_str(&self.raw[56..72])
    }

    /// This edge's venue.
    pub fn own_venue(&self) -> &'a str {
        padded_str(&self.raw[72..88])
    }

    /// The best bid is this edge's own venue (an algo usually wants the away market).
    pub fn bid_is_own(&self) -> bool {
        !self.own_venue().is_empty() && self.bid_venue() == self.own_venue()
    }

    /// The best ask is this edge's own venue.
    pub fn ask_is_own(&self) -> bool {
        !self.own_venue().is_empty() && self.ask_venue() == self.own_venue()
    }
}

/// Maker or taker, when the venue says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Liquidity {
    Unknown,
    Maker,
    Taker,
}

/// A fill of an order this instance placed (48 bytes at `event_ptr`).
#[derive(Clone, Copy)]
pub struct Fill<'a> {
    raw: &'a [u8],
}

impl<'a> Fill<'a> {
    pub fn parse(raw: &'a [u8]) -> Option<Fill<'a>> {
        if raw.len() < FILL_SIZE || Side::from_code(raw[4]).is_none() {
            return None;
        }
        Some(Fill { raw })
    }

    /// The tag of the place action that created the order.
    pub fn tag(&self) -> u32 {
        u32_at(self.raw, 0)
    }

    pub fn side(&self) -> Side {
        Side::from_code(self.raw[4]).unwrap_or(Side::Buy) // checked in parse
    }

    pub fn liquidity(&self) -> Liquidity {
        match self.raw[5] {
            1 => Liquidity::Maker,
            2 => Liquidity::Taker,
            _ => Liquidity::Unknown,
        }
    }

    pub fn price_ticks(&self) -> i64 {
        i64_at(self.raw, 8)
    }

    pub fn qty_lots(&self) -> i64 {
        i64_at(self.raw, 16)
    }

    /// Fee in the quote currency × 10^8.
    pub fn fee_e8(&self) -> i64 {
        i64_at(self.raw, 24)
    }

    pub fn ts_ns(&self) -> u64 {
        u64_at(self.raw, 32)
    }

    /// This instance's net position after the fill (buys positive).
    pub fn position_lots(&self) -> i64 {
        i64_at(self.raw, 40)
    }
}

/// A message from a sibling instance, at `event_ptr`.
#[derive(Clone, Copy)]
pub struct Message<'a> {
    from: &'a str,
    label: &'a str,
    payload: &'a [u8],
}

impl<'a> Message<'a> {
    /// `None` if the lengths run past `raw` or the sender or label is not UTF-8.
    pub fn parse(raw: &'a [u8]) -> Option<Message<'a>> {
        if raw.len() < 8 {
            return None;
        }
        let from_len = u16_at(raw, 0) as usize;
        let label_len = u16_at(raw, 2) as usize;
        let payload_len = u16_at(raw, 4) as usize;
        let label_at = 8 + from_len;
        let payload_at = label_at + label_len;
        let end = payload_at + payload_len;
        if end > raw.len() {
            return None;
        }
        Some(Message {
            from: core::str::from_utf8(&raw[8..label_at]).ok()?,
            label: core::str::from_utf8(&raw[label_at..payload_at]).ok()?,
            payload: &raw[payload_at..end],
        })
    }

    /// The sender, `"<region>/<venue>"` of the sibling instance.
    pub fn from(&self) -> &'a str {
        self.from
    }

    pub fn label(&self) -> &'a str {
        self.label
    }

    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
}

/// The deployment's parameters: UTF-8 `key=value` lines. Values stay strings until asked.
#[derive(Clone, Copy, Default)]
pub struct Params<'a> {
    text: &'a str,
}

impl<'a> Params<'a> {
    /// Never fails: lines without `=` are skipped, and bytes from the first invalid UTF-8 on
    /// are ignored.
    pub fn parse(raw: &'a [u8]) -> Params<'a> {
        let text = match core::str::from_utf8(raw) {
            Ok(text) => text,
            Err(e) => core::str::from_utf8(&raw[..e.valid_up_to()]).unwrap_or(""),
        };
        Params { text }
    }

    /// Every `(key, value)`, in the host's order (sorted by key).
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.text.split('\n').filter_map(|line| line.split_once('='))
    }

    /// The value of `key`, as written.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.iter().find(|&(k, _)| k == key).map(|(_, v)| v)
    }

    /// The value of `key` as an integer; `default` if it is missing or not an integer.
    pub fn get_i64(&self, key: &str, default: i64) -> i64 {
        self.get(key).and_then(|v| v.trim().parse().ok()).unwrap_or(default)
    }

    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(bids: &[(i64, i64)], asks: &[(i64, i64)]) -> [u8; BOOK_SIZE] {
        let mut b = [0xee; BOOK_SIZE]; // stale levels must not show
        b[0..4].copy_from_slice(&1u32.to_le_bytes());
        b[4..8].copy_from_slice(&0u32.to_le_bytes());
        b[8..16].copy_from_slice(&1_700_000_000_000_000_000u64.to_le_bytes());
        b[16..20].copy_from_slice(&(bids.len() as u32).to_le_bytes());
        b[20..24].copy_from_slice(&(asks.len() as u32).to_le_bytes());
        for (side, levels) in [(24, bids), (24 + MAX_LEVELS * 16, asks)] {
            for (i, &(p, q)) in levels.iter().enumerate() {
                b[side + i * 16..side + i * 16 + 8].copy_from_slice(&p.to_le_bytes());
                b[side + i * 16 + 8..side + i * 16 + 16].copy_from_slice(&q.to_le_bytes());
            }
        }
        b
    }

    #[test]
    fn book_reads_levels_in_place() {
        let raw = book(&[(6_500_000, 3), (6_499_999, 4)], &[(6_500_005, 2)]);
        let b = Book::parse(&raw).unwrap();
        assert_eq!((b.abi_version(), b.symbol_id(), b.recv_ns()), (1, 0, 1_700_000_000_000_000_000));
        assert_eq!((b.n_bids(), b.n_asks()), (2, 1));
        assert_eq!(b.best_bid(), Some(Level { price_ticks: 6_500_000, qty_lots: 3 }));
        assert_eq!(b.bid(1), Some(Level { price_ticks: 6_499_999, qty_lots: 4 }));
        assert_eq!(b.bid(2), None);
        assert_eq!(b.best_ask(), Some(Level { price_ticks: 6_500_005, qty_lots: 2 }));
        assert_eq!(b.ask(1), None);
        assert_eq!(b.mid(), Some(6_500_002));
        assert_eq!(b.spread(), Some(5));
        assert_eq!(b.bids().map(|l| l.qty_lots).collect::<Vec<_>>(), vec![3, 4]);
        assert_eq!(b.asks().count(), 1);
    }

    #[test]
    fn book_with_an_empty_side_has_no_mid() {
        let raw = book(&[(10, 1)], &[]);
        let b = Book::parse(&raw).unwrap();
        assert_eq!((b.best_ask(), b.mid(), b.spread()), (None, None, None));
        assert!(Book::parse(&raw[..100]).is_none());
    }

    #[test]
    fn book_clamps_a_bogus_level_count() {
        let mut raw = book(&[], &[]);
        raw[16..20].copy_from_slice(&1000u32.to_le_bytes());
        let b = Book::parse(&raw).unwrap();
        assert_eq!(b.n_bids(), MAX_LEVELS);
        assert_eq!(b.bids().count(), MAX_LEVELS);
    }

    #[test]
    fn nbbo_fields_and_venues() {
        let mut raw = [0u8; 512];
        for (i, v) in [1_000u64, 99, 5, 101, 7].iter().enumerate() {
            raw[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        raw[40..48].copy_from_slice(b"coinbase");
        raw[56..62].copy_from_slice(b"kraken");
        let n = Nbbo::parse(&raw).unwrap();
        assert_eq!((n.ts_ns(), n.bid_ticks(), n.bid_lots(), n.ask_ticks(), n.ask_lots()), (1_000, 99, 5, 101, 7));
        assert_eq!((n.bid_venue(), n.ask_venue()), ("coinbase", "kraken"));
        assert!(Nbbo::parse(&raw[..71]).is_none());
    }

    #[test]
    fn fill_fields() {
        let mut raw = [0u8; 512];
        raw[0..4].copy_from_slice(&42u32.to_le_bytes());
        raw[4] = 2;
        raw[5] = 1;
        for (i, v) in [6_500_000i64, 3, -120, 1_700_000_000_000_000_000, -3].iter().enumerate() {
            raw[8 + i * 8..16 + i * 8].copy_from_slice(&v.to_le_bytes());
        }
        let f = Fill::parse(&raw).unwrap();
        assert_eq!((f.tag(), f.side(), f.liquidity()), (42, Side::Sell, Liquidity::Maker));
        assert_eq!((f.price_ticks(), f.qty_lots(), f.fee_e8()), (6_500_000, 3, -120));
        assert_eq!((f.ts_ns(), f.position_lots()), (1_700_000_000_000_000_000, -3));
        raw[4] = 0;
        assert!(Fill::parse(&raw).is_none());
    }

    fn message(from: &str, label: &str, payload: &[u8]) -> Vec<u8> {
        let mut raw = Vec::new();
        for n in [from.len(), label.len(), payload.len(), 0] {
            raw.extend_from_slice(&(n as u16).to_le_bytes());
        }
        raw.extend_from_slice(from.as_bytes());
        raw.extend_from_slice(label.as_bytes());
        raw.extend_from_slice(payload);
        raw.resize(512, 0xee);
        raw
    }

    #[test]
    fn message_slices_the_event() {
        let raw = message("na/coinbase", "quote", &[1, 2, 3]);
        let m = Message::parse(&raw).unwrap();
        assert_eq!((m.from(), m.label(), m.payload()), ("na/coinbase", "quote", &[1u8, 2, 3][..]));
        let empty = message("", "", &[]);
        let m = Message::parse(&empty).unwrap();
        assert_eq!((m.from(), m.label(), m.payload().len()), ("", "", 0));
    }

    #[test]
    fn message_past_the_buffer_or_not_utf8_is_rejected() {
        let mut raw = message("na/coinbase", "quote", &[1, 2, 3]);
        raw[4..6].copy_from_slice(&600u16.to_le_bytes());
        assert!(Message::parse(&raw).is_none());
        let mut raw = message("ab", "quote", &[]);
        raw[8] = 0xff;
        assert!(Message::parse(&raw).is_none());
    }

    #[test]
    fn params_parse_key_value_lines() {
        let p = Params::parse(b"half_spread_ticks=7\nmode=grow\nname=a=b\nnoise\nsize_lots= 3 \n");
        assert_eq!(p.get("mode"), Some("grow"));
        assert_eq!(p.get("name"), Some("a=b"));
        assert_eq!(p.get("noise"), None);
        assert_eq!(p.get("missing"), None);
        assert_eq!(p.get_i64("half_spread_ticks", 5), 7);
        assert_eq!(p.get_i64("size_lots", 1), 3);
        assert_eq!(p.get_i64("mode", -1), -1);
        assert_eq!(p.get_i64("missing", 10), 10);
        assert_eq!(p.iter().count(), 4);
        assert!(!p.is_empty());
    }

    #[test]
    fn params_tolerate_empty_and_invalid_input() {
        assert!(Params::parse(b"").is_empty());
        assert!(Params::default().is_empty());
        assert_eq!(Params::parse(b"k=-4").get_i64("k", 0), -4); // no trailing newline
        let p = Params::parse(b"a=1\nb=\xff\xfe\n");
        assert_eq!((p.get("a"), p.get("b")), (Some("1"), Some("")));
    }
}
