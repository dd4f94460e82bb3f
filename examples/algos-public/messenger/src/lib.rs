//! Messaging example on the public SDK: every heartbeat it sends "ping <n>" to each sibling in
//! its mesh table, and answers every ping with "pong <n>"; it logs what it receives.
#![no_std]
extern crate alloc;
use algo_sdk::messaging::{MeshTable, MESH_TABLE_WASM_OFFSET};
use algo_sdk::*;

sequence_algo_entry!();

struct Messenger {
    sent: u32,
}

fn mesh() -> &'static MeshTable {
    // The host writes the table at this address (the SDK's own `send` reads it there too).
    unsafe { &*(MESH_TABLE_WASM_OFFSET as *const MeshTable) }
}

fn number(buf: &mut [u8; 16], word: &[u8], n: u32) -> usize {
    let mut len = word.len();
    buf[..len].copy_from_slice(word);
    let mut digits = [0u8; 10];
    let (mut i, mut v) = (0, n);
    loop {
        digits[i] = b'0' + (v % 10) as u8;
        i += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    while i > 0 {
        i -= 1;
        buf[len] = digits[i];
        len += 1;
    }
    len
}

impl Algo for Messenger {
    fn on_book(&mut self, _b: &L2Book, _s: &AlgoState, _f: &OnlineFeatures, _a: &mut Actions) {}

    fn on_heartbeat(&mut self, _state: &AlgoState, _f: &OnlineFeatures, _a: &mut Actions) {
        let table = mesh();
        self.sent += 1;
        let mut buf = [0u8; 16];
        let len = number(&mut buf, b"ping ", self.sent);
        for i in 0..table.peer_count as usize {
            send(table.peers[i].label_str(), &buf[..len]);
        }
    }

    fn on_message(&mut self, from: &str, payload: &[u8], _s: &AlgoState, _a: &mut Actions) {
        let text = core::str::from_utf8(payload).unwrap_or("?");
        log_info!("from {}: {}", from, text);
        if let Some(n) = text.strip_prefix("ping ") {
            let mut buf = [0u8; 16];
            let len = number(&mut buf, b"pong ", n.parse().unwrap_or(0));
            send(from, &buf[..len]);
        }
    }
}

export_algo!(Messenger { sent: 0 });
