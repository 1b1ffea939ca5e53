//! Unit tests of the token codec.
//!
//! - `support`: carts, token surgery and forgers (keyrings and the clock
//!   are [`crate::fixture`]'s);
//! - `v4local`: an independent PASETO v4.local, checked against the official
//!   vectors;
//! - `vectors`: known-answer vectors of both formats (`tests/vectors/`);
//! - `round_trip`: seal then open, every format and cart size;
//! - `paseto_attacks`, `jwt_attacks`: tampered, malformed and confused tokens;
//! - `both_formats`: the attacks that are the same in both formats;
//! - `key_states`: rotation states, re-seal and reload;
//! - `lifetimes`: `exp`, `nbf`, `abs` around the leeway;
//! - `payloads`: wrong claim types, malformed payloads, deflate bombs;
//! - `cache`: the verified-token cache of the token store.

pub(crate) use super::crypto_calls::so_far as decrypt_attempts;

mod both_formats;
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
