//! The machinery of the acceptance suite: the store under test and what it
//! cannot do, a running server on it ([`Rig`]), a client of the cart API
//! ([`Shopper`]), request tables ([`Case`]), and the catalog and lifetimes
//! the scenarios use.

mod cases;
mod rig;
mod shopper;

pub use cases::Case;
pub use rig::Store;
pub use shopper::{Expect, Shopper, Via};

/// The `i`-th sku of the shipped catalog (50 products, catalog/products.json;
/// the first are TEE-100, HOOD-101, CAP-102, SOCK-103, MUG-104, BOTL-105).
pub fn catalog_sku(i: usize) -> String {
    thread_local! {
        static SKUS: Vec<String> = crate::helpers::shipped_catalog()
            .into_iter()
            .map(|p| p.sku)
            .collect();
    }
    SKUS.with(|skus| skus[i % skus.len()].clone())
}

/// One day and the token leeway, in seconds.
pub const DAY: i64 = 86_400;
pub const LEEWAY: i64 = 60;
/// The shipped idle and absolute lifetimes (config.toml).
pub const IDLE: i64 = 7 * DAY;
pub const ABSOLUTE: i64 = 30 * DAY;

/// Changes one character in the middle of a credential, keeping it in the
/// credential alphabet (and canonical base64url: the last character of a
/// session id carries padding bits, the middle ones do not).
pub fn flip_char(credential: &mut String) {
    let i = credential.len() / 2;
    let old = credential.as_bytes()[i];
    let new = if old == b'A' { 'B' } else { 'A' };
    credential.replace_range(i..=i, &new.to_string());
}
