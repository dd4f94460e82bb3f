//! Misbehaving: breaks the rules on purpose in `on_book`, to check that an edge stops this
//! instance — and only this one — with the right reason. Not a strategy.
//!
//! Param `mode` (default `none`):
//! - `loop`: never returns (the fuel budget stops it);
//! - `grow`: allocates 1 MiB after 1 MiB until the memory limit refuses, then traps;
//! - `trap`: panics (the SDK logs the message, then the instance traps);
//! - `oversize`: sends a 300-byte message, logs the error it got and carries on (0 actions);
//! - `liar`: claims 99 actions (an ABI violation);
//! - `none`: behaves, and places nothing.

use seqmesh_algo::{export_algo, log, messaging, Actions, Algo, Book, Params};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    None,
    Loop,
    Grow,
    Trap,
    Oversize,
    Liar,
}

struct Misbehaving {
    mode: Mode,
    hoard: Vec<Vec<u8>>,
    spins: u64,
}

impl Algo for Misbehaving {
    fn on_start(&mut self, params: &Params, _out: &mut Actions) {
        self.mode = match params.get("mode").unwrap_or("none") {
            "none" => Mode::None,
            "loop" => Mode::Loop,
            "grow" => Mode::Grow,
            "trap" => Mode::Trap,
            "oversize" => Mode::Oversize,
            "liar" => Mode::Liar,
            other => {
                log::error(&format!("misbehaving: unknown mode {:?}, behaving", other));
                Mode::None
            }
        };
        log::info(&format!("misbehaving: mode {:?}", self.mode));
    }

    fn on_book(&mut self, book: &Book, out: &mut Actions) {
        match self.mode {
            Mode::None => {}
            Mode::Loop => loop {
                // A volatile write: the optimiser may not remove the loop.
                self.spins = self.spins.wrapping_add(book.recv_ns() | 1);
                unsafe { core::ptr::write_volatile(&mut self.spins, self.spins) };
            },
            Mode::Grow => loop {
                let mut chunk = Vec::new();
                if chunk.try_reserve_exact(1 << 20).is_err() {
                    log::error(&format!("misbehaving: out of memory after {} MiB", self.hoard.len()));
                    std::process::abort(); // a trap, like any allocator failing
                }
                self.hoard.push(chunk);
            },
            Mode::Trap => panic!("misbehaving: trap mode"),
            Mode::Oversize => {
                if let Err(e) = messaging::send("oversize", &[0x55; 300]) {
                    log::warn(&format!("misbehaving: a 300-byte message was refused: {}", e));
                }
            }
            Mode::Liar => out.claim_count_for_host_tests(99),
        }
    }
}

export_algo!(Misbehaving, Misbehaving { mode: Mode::None, hoard: Vec::new(), spins: 0 });
