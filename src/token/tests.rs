//! Unit tests of the token codec.
//!
//! - `support`: keyrings in temp dirs, carts, token surgery and forgers;
//! - `v4local`: an independent PASETO v4.local, checked against the official
//!   vectors;
//! - `vectors`: known-answer vectors of both formats (`tests/vectors/`);
//! - `round_trip`: seal then open, every format and cart size;
//! - `paseto_attacks`, `jwt_attacks`: tampered, malformed and confused tokens;
//! - `key_states`: rotation states, re-seal and reload;
//! - `lifetimes`: `exp`, `nbf`, `abs` around the leeway;
//! - `payloads`: wrong claim types, malformed payloads, deflate bombs;
//! - `cache`: the verified-token cache of the token store.

use std::cell::Cell;

thread_local! {
    static DECRYPT_ATTEMPTS: Cell<u64> = const { Cell::new(0) };
}

/// Called just before every decryption or verification, so that tests can
/// prove that a token under an unknown kid costs no crypto at all.
pub(crate) fn count_decrypt_attempt() {
    DECRYPT_ATTEMPTS.with(|c| c.set(c.get() + 1));
}

pub(crate) fn decrypt_attempts() -> u64 {
    DECRYPT_ATTEMPTS.with(Cell::get)
}

mod cache;
mod jwt_attacks;
mod key_states;
mod lifetimes;
mod paseto_attacks;
mod payloads;
mod round_trip;
mod support;
mod v4local;
mod vectors;
