//! Instruction counts of seal and open, for `valgrind --tool=callgrind`:
//! counts repeat exactly from run to run, whatever else the machine does,
//! so a regression of a few percent shows in one run (scripts/instructions).
//!
//! `--instructions` seals and opens the 20-line cart in the `paseto` format
//! `ROUNDS` times each, in two functions that callgrind's `--toggle-collect`
//! names, after one warm-up round of each.

use std::hint::black_box;

use cartseal::cart::Cart;
use cartseal::token::TokenCodec;

use super::Setup;

/// Calls per function: the per-call count is the total over this.
pub const ROUNDS: u64 = 1000;

#[inline(never)]
fn seal_rounds(codec: &TokenCodec, cart: &Cart, now: i64) {
    for _ in 0..ROUNDS {
        black_box(codec.seal(black_box(cart), 1, None, now).expect("seals"));
    }
}

#[inline(never)]
fn open_rounds(codec: &TokenCodec, token: &str, now: i64) {
    for _ in 0..ROUNDS {
        black_box(codec.open(black_box(token), now).expect("opens"));
    }
}

pub fn run(setup: &Setup, cart: Cart) {
    let codec = setup.codec("paseto");
    let now = setup.now;
    let token = codec.seal(&cart, 1, None, now).expect("seals").token;
    // Warm-up: thread-local compressors, lazy statics, the allocator.
    black_box(codec.seal(&cart, 1, None, now).expect("seals"));
    black_box(codec.open(&token, now).expect("opens"));
    seal_rounds(codec, &cart, now);
    open_rounds(codec, &token, now);
    println!("sealed and opened the 20-line paseto cart {ROUNDS} times each");
}
