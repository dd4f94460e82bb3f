//! Guest SDK for seqmesh algos: write a strategy in Rust, build it for `wasm32-unknown-unknown`
//! and deploy the `.wasm` to an edge. It implements ABI version 1 (`docs/wasm-abi.md`, the
//! contract) and has no dependencies.
//!
//! An algo is a type implementing [`Algo`]; [`export_algo!`] turns it into the module the edge
//! runs. Callbacks get zero-copy views of what the host wrote ([`Book`], [`Nbbo`], [`Fill`],
//! [`Message`], [`Params`]) and an [`Actions`] buffer for orders and cancels (at most 16 per
//! callback; the host reads them when the callback returns). The host's services are plain
//! functions: [`messaging::send`], [`log`], [`clock::now_ns`], [`timer::set`],
//! [`instrument::get`].
//!
//! Prices and quantities in the book, actions and events are integer ticks and lots of the
//! instance's venue, and venues differ. [`instrument::get`] says what they are worth (the
//! [`Instrument`]'s tick, lot and the venue's minimum quantity and notional, each × 10^9): ask
//! once and keep it; convert to venue-neutral `_e9` fixed point before sharing a price or size
//! with siblings on other venues, and size orders with [`Instrument::min_lots`] so the venue
//! does not reject them as too small.
//!
//! ```no_run
//! use seqmesh_algo::{export_algo, instrument, Actions, Algo, Book, Instrument, Params, Side};
//!
//! /// Joins the best bid with one order, moving it when the best bid moves.
//! struct Joiner {
//!     inst: Instrument,
//!     size_lots: i64,
//!     quoted: Option<(u32, i64)>, // (tag, price) of the live order
//!     next_tag: u32,
//! }
//!
//! impl Algo for Joiner {
//!     fn on_start(&mut self, params: &Params, _out: &mut Actions) {
//!         self.inst = instrument::get(); // once: it does not change
//!         self.size_lots = params.get_i64("size_lots", 1);
//!     }
//!
//!     fn on_book(&mut self, book: &Book, out: &mut Actions) {
//!         let bid = match book.best_bid() {
//!             Some(level) => level.price_ticks,
//!             None => return,
//!         };
//!         if self.quoted.map(|(_, price)| price) != Some(bid) {
//!             if let Some((tag, _)) = self.quoted {
//!                 out.cancel(tag);
//!             }
//!             self.next_tag += 1; // a fresh tag per order: fills name the one they hit
//!             // Never below the venue's minimum quantity and notional at that price.
//!             let lots = self.size_lots.max(self.inst.min_lots(bid));
//!             out.place_limit(Side::Buy, self.next_tag, bid, lots);
//!             self.quoted = Some((self.next_tag, bid));
//!         }
//!     }
//! }
//!
//! export_algo!(Joiner, Joiner { inst: Instrument::default(), size_lots: 1, quoted: None, next_tag: 0 });
//! ```
//!
//! Build with `cargo build --release --target wasm32-unknown-unknown` from a `cdylib` crate
//! (`examples/algos/` has three, and the release profile worth copying). A panic traps the
//! instance after logging its message at error level; the edge and other instances go on.

mod actions;
mod events;
pub mod instrument;

pub use actions::{Actions, OrderType, Side, MAX_ACTIONS};
pub use events::{Book, Fill, Level, Liquidity, Message, Nbbo, Params, MAX_LEVELS};
pub use instrument::Instrument;

/// The ABI version this SDK speaks (`seqmesh_abi_version`).
pub const ABI_VERSION: i32 = 1;

/// A strategy. Every callback has a no-op default: implement the ones you need.
///
/// The host calls one callback at a time (an instance is single-threaded), and reads the
/// actions written to `out` when it returns.
pub trait Algo {
    /// Once, when the instance is deployed, with its parameters (`key=value` lines).
    fn on_start(&mut self, _params: &Params, _out: &mut Actions) {}
    /// After every update of the instrument's book on this edge.
    fn on_book(&mut self, _book: &Book, _out: &mut Actions) {}
    /// When the region's NBBO for the symbol changes.
    fn on_nbbo(&mut self, _nbbo: &Nbbo, _out: &mut Actions) {}
    /// For each fill of an order this instance placed.
    fn on_fill(&mut self, _fill: &Fill, _out: &mut Actions) {}
    /// For each message from a sibling instance (same algo name, another edge).
    fn on_message(&mut self, _msg: &Message, _out: &mut Actions) {}
    /// When a timer set with [`timer::set`] fires.
    fn on_timer(&mut self, _id: i32, _out: &mut Actions) {}
}

/// A host call's failure; the codes are the ABI's status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// `-1`: payload over 256 bytes or label over 64; the message was not sent.
    TooLarge,
    /// `-2`: a region outside the guest's memory.
    BadPointer,
    /// `-3`: the edge has no link to its CC.
    NoRoute,
    /// `-4`: an argument out of range (e.g. a timer's `after_ms`).
    Invalid,
    /// `-5`: too many pending timers.
    Limit,
    /// Any other negative code (a newer host).
    Other(i32),
}

impl Error {
    /// `Ok(())` for a status code of 0 (or any non-negative code), the error otherwise.
    pub fn check(code: i32) -> Result<(), Error> {
        match code {
            c if c >= 0 => Ok(()),
            -1 => Err(Error::TooLarge),
            -2 => Err(Error::BadPointer),
            -3 => Err(Error::NoRoute),
            -4 => Err(Error::Invalid),
            -5 => Err(Error::Limit),
            c => Err(Error::Other(c)),
        }
    }

    /// The ABI status code.
    pub fn code(self) -> i32 {
        match self {
            Error::TooLarge => -1,
            Error::BadPointer => -2,
            Error::NoRoute => -3,
            Error::Invalid => -4,
            Error::Limit => -5,
            Error::Other(c) => c,
        }
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let what = match self {
            Error::TooLarge => "too large",
            Error::BadPointer => "bad pointer",
            Error::NoRoute => "no route",
            Error::Invalid => "invalid argument",
            Error::Limit => "limit reached",
            Error::Other(_) => "error",
        };
        write!(f, "{} ({})", what, self.code())
    }
}

/// The host's imports (module `seqmesh`). Off wasm32 (unit tests) they are inert stubs, and
/// `instrument` describes a typical venue (tick 0.01, lot 0.00001, min qty 0.00001, min
/// notional 5).
#[cfg(target_arch = "wasm32")]
mod host {
    #[link(wasm_import_module = "seqmesh")]
    extern "C" {
        pub fn log(level: i32, ptr: i32, len: i32);
        pub fn now_ns() -> i64;
        pub fn send(label_ptr: i32, label_len: i32, payload_ptr: i32, payload_len: i32) -> i32;
        pub fn set_timer(timer_id: i32, after_ms: i32) -> i32;
        #[link_name = "instrument"]
        fn instrument_import(ptr: i32) -> i32;
    }

    /// The instrument, written by the host into `out`.
    pub fn instrument(out: &mut [u8; crate::instrument::SIZE]) -> i32 {
        unsafe { instrument_import(out.as_mut_ptr() as i32) }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod host {
    pub unsafe fn log(_level: i32, _ptr: i32, _len: i32) {}
    pub unsafe fn now_ns() -> i64 {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        since.map(|d| d.as_nanos() as i64).unwrap_or(0)
    }
    pub unsafe fn send(_label_ptr: i32, label_len: i32, _payload_ptr: i32, payload_len: i32) -> i32 {
        if label_len > 64 || payload_len > 256 {
            -1
        } else {
            0
        }
    }
    pub unsafe fn set_timer(_timer_id: i32, after_ms: i32) -> i32 {
        if (1..=86_400_000).contains(&after_ms) {
            0
        } else {
            -4
        }
    }
    /// A typical crypto venue: tick 0.01, lot 0.00001, min qty 0.00001, min notional 5.
    pub fn instrument(out: &mut [u8; crate::instrument::SIZE]) -> i32 {
        let stub = crate::Instrument {
            tick_e9: 10_000_000,
            lot_e9: 10_000,
            min_qty_e9: 10_000,
            min_notional_e9: 5_000_000_000,
        };
        *out = stub.encode();
        0
    }
}

/// Messages to sibling instances: every other instance of the same algo name, on other edges
/// of this region and, over the peer mesh, of others. At most once, in order per sender.
pub mod messaging {
    use crate::{host, Error};

    /// Largest payload the host accepts, in bytes.
    pub const MAX_PAYLOAD: usize = 256;
    /// Longest label the host accepts, in bytes.
    pub const MAX_LABEL: usize = 64;

    /// Sends `payload` under `label`. [`Error::TooLarge`] when either is over its limit (the
    /// message is not sent), [`Error::NoRoute`] when the edge has no CC link.
    pub fn send(label: &str, payload: &[u8]) -> Result<(), Error> {
        let code = unsafe {
            host::send(label.as_ptr() as i32, label.len() as i32, payload.as_ptr() as i32, payload.len() as i32)
        };
        Error::check(code)
    }
}

/// Log lines, shown in the instance's status and the edge's log (cut at 4 KiB).
pub mod log {
    use crate::host;

    fn write(level: i32, text: &str) {
        unsafe { host::log(level, text.as_ptr() as i32, text.len() as i32) }
    }

    /// Level 0.
    pub fn debug(text: &str) {
        write(0, text)
    }
    /// Level 1.
    pub fn info(text: &str) {
        write(1, text)
    }
    /// Level 2.
    pub fn warn(text: &str) {
        write(2, text)
    }
    /// Level 3.
    pub fn error(text: &str) {
        write(3, text)
    }
}

/// The edge's wall clock.
pub mod clock {
    /// Nanoseconds since the Unix epoch.
    pub fn now_ns() -> u64 {
        unsafe { crate::host::now_ns() as u64 }
    }
}

/// One-shot timers; [`Algo::on_timer`] gets the id when one fires.
pub mod timer {
    use crate::{host, Error};

    /// Fires `on_timer(id)` after `after_ms` (1..=86 400 000) milliseconds; setting an id again
    /// replaces it. [`Error::Invalid`] for a delay out of range, [`Error::Limit`] past 16
    /// pending timers.
    pub fn set(id: i32, after_ms: i32) -> Result<(), Error> {
        Error::check(unsafe { host::set_timer(id, after_ms) })
    }
}

/// What [`export_algo!`] expands to calls; not a stable API.
#[doc(hidden)]
pub mod rt {
    use crate::{Actions, Algo, Book, Fill, Message, Nbbo, Params};

    pub use crate::ABI_VERSION;
    pub const BOOK_SIZE: usize = 664;
    pub const ACTIONS_SIZE: usize = crate::MAX_ACTIONS * 32;
    pub const EVENT_SIZE: usize = 512;

    /// The regions the host reads and writes; static, so they never move.
    #[repr(C, align(8))]
    pub struct Buffers {
        pub book: [u8; BOOK_SIZE],
        pub actions: [u8; ACTIONS_SIZE],
        pub event: [u8; EVENT_SIZE],
    }

    impl Buffers {
        pub const fn new() -> Self {
            Buffers { book: [0; BOOK_SIZE], actions: [0; ACTIONS_SIZE], event: [0; EVENT_SIZE] }
        }
    }

    /// The guest address of a region, as the ABI's i32.
    pub fn ptr<T>(region: &T) -> i32 {
        region as *const T as usize as i32
    }

    /// Before the algo is constructed: a panic logs its message before the instance traps.
    pub fn init() {
        std::panic::set_hook(Box::new(|info| crate::log::error(&info.to_string())));
    }

    /// The parameters' region, from `alloc` until `on_start` has read it.
    static mut PARAMS: Vec<u8> = Vec::new();

    /// # Safety
    /// Single-threaded guest; the host calls `alloc` then `on_start`, never re-entrantly.
    pub unsafe fn alloc(size: i32) -> i32 {
        let params = &mut *core::ptr::addr_of_mut!(PARAMS);
        *params = vec![0; size.max(0) as usize];
        params.as_mut_ptr() as usize as i32
    }

    /// # Safety
    /// `ptr`/`len` must be the region `alloc` returned (or `len` 0), as the ABI promises.
    pub unsafe fn on_start<A: Algo>(algo: &mut A, ptr: i32, len: i32, actions: &mut [u8; ACTIONS_SIZE]) -> i32 {
        let params = &mut *core::ptr::addr_of_mut!(PARAMS);
        let raw: &[u8] = if len <= 0 || ptr == 0 {
            &[]
        } else {
            core::slice::from_raw_parts(ptr as usize as *const u8, len as usize)
        };
        let mut out = Actions::new(actions);
        algo.on_start(&Params::parse(raw), &mut out);
        *params = Vec::new();
        out.count()
    }

    pub fn on_book<A: Algo>(algo: &mut A, book: &[u8; BOOK_SIZE], actions: &mut [u8; ACTIONS_SIZE]) -> i32 {
        let mut out = Actions::new(actions);
        if let Some(book) = Book::parse(book) {
            algo.on_book(&book, &mut out);
        }
        out.count()
    }

    pub fn on_nbbo<A: Algo>(algo: &mut A, event: &[u8; EVENT_SIZE], actions: &mut [u8; ACTIONS_SIZE]) -> i32 {
        let mut out = Actions::new(actions);
        if let Some(nbbo) = Nbbo::parse(event) {
            algo.on_nbbo(&nbbo, &mut out);
        }
        out.count()
    }

    pub fn on_fill<A: Algo>(algo: &mut A, event: &[u8; EVENT_SIZE], actions: &mut [u8; ACTIONS_SIZE]) -> i32 {
        let mut out = Actions::new(actions);
        match Fill::parse(event) {
            Some(fill) => algo.on_fill(&fill, &mut out),
            None => crate::log::warn("seqmesh-algo: fill event with an unknown side dropped"),
        }
        out.count()
    }

    pub fn on_message<A: Algo>(algo: &mut A, event: &[u8; EVENT_SIZE], actions: &mut [u8; ACTIONS_SIZE]) -> i32 {
        let mut out = Actions::new(actions);
        match Message::parse(event) {
            Some(msg) => algo.on_message(&msg, &mut out),
            None => crate::log::warn("seqmesh-algo: malformed message event dropped"),
        }
        out.count()
    }

    pub fn on_timer<A: Algo>(algo: &mut A, id: i32, actions: &mut [u8; ACTIONS_SIZE]) -> i32 {
        let mut out = Actions::new(actions);
        algo.on_timer(id, &mut out);
        out.count()
    }
}

/// Exports `$algo` as the module's algo: `export_algo!(MyAlgo, MyAlgo::new())`.
///
/// Defines the static book, actions and event regions, a static slot for the instance (built
/// with the constructor expression before the first callback, usually `on_start`), and every
/// export of ABI v1: `seqmesh_abi_version`, `book_ptr`, `actions_ptr`, `event_ptr`, `alloc`,
/// `on_start`, `on_book`, `on_nbbo`, `on_fill`, `on_message`, `on_timer`. Use it once per
/// crate, at the top level of a `cdylib`.
#[macro_export]
macro_rules! export_algo {
    ($algo:ty, $make:expr) => {
        const _: () = {
            static mut __SEQMESH_BUFFERS: $crate::rt::Buffers = $crate::rt::Buffers::new();
            static mut __SEQMESH_ALGO: ::core::option::Option<$algo> = ::core::option::Option::None;

            // Safety (both): a wasm32 guest is single-threaded and the host never re-enters it,
            // so at most one of these borrows is live at a time.
            fn __seqmesh_algo() -> &'static mut $algo {
                unsafe {
                    (*::core::ptr::addr_of_mut!(__SEQMESH_ALGO)).get_or_insert_with(|| {
                        $crate::rt::init();
                        $make
                    })
                }
            }
            fn __seqmesh_buffers() -> &'static mut $crate::rt::Buffers {
                unsafe { &mut *::core::ptr::addr_of_mut!(__SEQMESH_BUFFERS) }
            }

            #[export_name = "seqmesh_abi_version"]
            extern "C" fn __seqmesh_abi_version() -> i32 {
                $crate::rt::ABI_VERSION
            }
            #[export_name = "book_ptr"]
            extern "C" fn __seqmesh_book_ptr() -> i32 {
                $crate::rt::ptr(&__seqmesh_buffers().book)
            }
            #[export_name = "actions_ptr"]
            extern "C" fn __seqmesh_actions_ptr() -> i32 {
                $crate::rt::ptr(&__seqmesh_buffers().actions)
            }
            #[export_name = "event_ptr"]
            extern "C" fn __seqmesh_event_ptr() -> i32 {
                $crate::rt::ptr(&__seqmesh_buffers().event)
            }
            #[export_name = "alloc"]
            extern "C" fn __seqmesh_alloc(size: i32) -> i32 {
                unsafe { $crate::rt::alloc(size) }
            }
            #[export_name = "on_start"]
            extern "C" fn __seqmesh_on_start(params_ptr: i32, params_len: i32) -> i32 {
                unsafe { $crate::rt::on_start(__seqmesh_algo(), params_ptr, params_len, &mut __seqmesh_buffers().actions) }
            }
            // The host always writes at the regions it got from `book_ptr`/`event_ptr`; the
            // pointer arguments repeat them.
            #[export_name = "on_book"]
            extern "C" fn __seqmesh_on_book(_book_ptr: i32) -> i32 {
                let b = __seqmesh_buffers();
                $crate::rt::on_book(__seqmesh_algo(), &b.book, &mut b.actions)
            }
            #[export_name = "on_nbbo"]
            extern "C" fn __seqmesh_on_nbbo(_event_ptr: i32) -> i32 {
                let b = __seqmesh_buffers();
                $crate::rt::on_nbbo(__seqmesh_algo(), &b.event, &mut b.actions)
            }
            #[export_name = "on_fill"]
            extern "C" fn __seqmesh_on_fill(_event_ptr: i32) -> i32 {
                let b = __seqmesh_buffers();
                $crate::rt::on_fill(__seqmesh_algo(), &b.event, &mut b.actions)
            }
            #[export_name = "on_message"]
            extern "C" fn __seqmesh_on_message(_event_ptr: i32) -> i32 {
                let b = __seqmesh_buffers();
                $crate::rt::on_message(__seqmesh_algo(), &b.event, &mut b.actions)
            }
            #[export_name = "on_timer"]
            extern "C" fn __seqmesh_on_timer(timer_id: i32) -> i32 {
                $crate::rt::on_timer(__seqmesh_algo(), timer_id, &mut __seqmesh_buffers().actions)
            }
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_map_to_errors_and_back() {
        assert_eq!(Error::check(0), Ok(()));
        for code in -6..0 {
            assert_eq!(Error::check(code).unwrap_err().code(), code);
        }
        assert_eq!(Error::check(-1), Err(Error::TooLarge));
        assert_eq!(Error::check(-5), Err(Error::Limit));
    }

    #[test]
    fn send_rejects_oversize_payloads() {
        assert_eq!(messaging::send("quote", &[0; 256]), Ok(()));
        assert_eq!(messaging::send("quote", &[0; 300]), Err(Error::TooLarge));
    }

    struct Counter {
        books: u32,
        size: i64,
    }

    impl Algo for Counter {
        fn on_start(&mut self, params: &Params, _out: &mut Actions) {
            self.size = params.get_i64("size", 1);
        }
        fn on_book(&mut self, book: &Book, out: &mut Actions) {
            self.books += 1;
            if let Some(bid) = book.best_bid() {
                out.place_limit(Side::Buy, self.books, bid.price_ticks, self.size);
            }
        }
    }

    #[test]
    fn runtime_dispatches_callbacks_and_counts_actions() {
        let mut algo = Counter { books: 0, size: 0 };
        let mut actions = [0u8; rt::ACTIONS_SIZE];
        // No parameters (pointer 0): the algo's defaults apply.
        let n = unsafe { rt::on_start(&mut algo, 0, 0, &mut actions) };
        assert_eq!((n, algo.size), (0, 1));
        let mut book = [0u8; rt::BOOK_SIZE];
        book[16] = 1; // one bid
        book[24..32].copy_from_slice(&100i64.to_le_bytes());
        assert_eq!(rt::on_book(&mut algo, &book, &mut actions), 1);
        assert_eq!(actions[0], 1); // place
        assert_eq!(i64::from_le_bytes(actions[8..16].try_into().unwrap()), 100);
        assert_eq!(rt::on_timer(&mut algo, 7, &mut actions), 0);
    }
}
