//! The value a central store (Redis, Memcached) keeps under a session id:
//! a small binary record, so that a read costs no base64 or JSON envelope.
//!
//! | bytes | content |
//! |---|---|
//! | 0 | layout version, `1` |
//! | 1..9 | revision, u64 big-endian |
//! | 9..17 | absolute expiry, Unix seconds, i64 big-endian |
//! | 17.. | raw deflate of [`Cart::to_compact_json`] |
//!
//! A value is written only if it can be read back: [`encode`] applies the
//! same inflate cap that [`decode`] does ([`crate::token::pack`]).
//!
//! A value that is present but unreadable (another layout, bad deflate, a
//! cart outside the limits) is the client's cart being unusable, not the
//! store being down: [`decode`] reports it as [`OpenError::Invalid`] (401),
//! so the client drops the credential and starts over. A 503 would wedge
//! that client, since every retry reads the same bytes. The value is not
//! deleted either: a newer layout written by a newer replica during a
//! rolling deploy must not be destroyed by an older one; it expires with its
//! TTL.

use std::sync::Arc;

use super::{Record, Result, StoreError};
use crate::cart::{Cart, Limits};
use crate::token::{InvalidReason, OpenError, inflate_capped, pack};

/// The layout version in a value's first byte.
const LAYOUT_V1: u8 = 1;
/// Bytes before the compressed cart.
const HEADER_LEN: usize = 1 + 8 + 8;
/// Deflate level of stored carts of 2 KiB or more of JSON; smaller ones
/// deflate at level 1, as in tokens ([`crate::token::pack`];
/// docs/benchmarks.md, "Deflate level").
const DEFLATE_LEVEL: u32 = 6;

/// A value read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub cart: Cart,
    /// Raised by every write.
    pub revision: u64,
    /// The cart's absolute expiry, Unix seconds.
    pub absolute_expiry: i64,
}

/// The value for a cart, refused when it could not be read back under
/// `limits`.
pub fn encode(
    cart: &Cart,
    revision: u64,
    absolute_expiry: i64,
    limits: &Limits,
) -> Result<Vec<u8>> {
    let packed = pack(&cart.to_compact_json(), DEFLATE_LEVEL, limits)?;
    let mut value = Vec::with_capacity(HEADER_LEN + packed.len());
    value.push(LAYOUT_V1);
    value.extend_from_slice(&revision.to_be_bytes());
    value.extend_from_slice(&absolute_expiry.to_be_bytes());
    value.extend_from_slice(&packed);
    Ok(value)
}

fn header(value: &[u8]) -> Result<(u64, i64), InvalidReason> {
    if value.len() < HEADER_LEN || value[0] != LAYOUT_V1 {
        return Err(InvalidReason::Payload);
    }
    let field = |range: std::ops::Range<usize>| -> [u8; 8] {
        value[range].try_into().expect("the header is 17 bytes")
    };
    Ok((
        u64::from_be_bytes(field(1..9)),
        i64::from_be_bytes(field(9..17)),
    ))
}

/// The bytes of a cart's compact JSON, when the cart is within what a
/// stored value may hold: the memory store keeps carts as they are, and
/// holds them to the same cap as the central stores.
pub fn cart_bytes(cart: &Cart, limits: &Limits) -> Result<usize> {
    let json = cart.to_compact_json();
    pack(&json, DEFLATE_LEVEL, limits)?;
    Ok(json.len())
}

/// Counts and logs an unreadable value. `store` names the store in the
/// metric and the log line.
pub(crate) fn unreadable(store: &'static str, reason: InvalidReason) -> StoreError {
    metrics::counter!("cartseal_store_errors_total", "store" => store, "op" => "decode")
        .increment(1);
    log::warn!(
        "{store} load: a stored cart is unreadable ({})",
        reason.label()
    );
    OpenError::Invalid(reason).into()
}

/// Reads a value back under `limits`.
pub fn decode(value: &[u8], limits: &Limits, store: &'static str) -> Result<Stored> {
    let unreadable = |reason| unreadable(store, reason);
    let (revision, absolute_expiry) = header(value).map_err(unreadable)?;
    let cart = cart(value, limits).map_err(unreadable)?;
    Ok(Stored {
        cart,
        revision,
        absolute_expiry,
    })
}

/// The cart of a value whose header is valid.
fn cart(value: &[u8], limits: &Limits) -> Result<Cart, InvalidReason> {
    let json = inflate_capped(&value[HEADER_LEN..], limits).map_err(|_| InvalidReason::Inflate)?;
    Cart::from_compact_json(&json, limits).map_err(|_| InvalidReason::Payload)
}

/// Redis and Memcached keep this layout.
impl Record for Vec<u8> {
    fn header(&self) -> Result<(u64, i64), InvalidReason> {
        header(self)
    }

    fn into_cart(self, limits: &Limits) -> Result<Arc<Cart>, InvalidReason> {
        header(&self)?;
        cart(&self, limits).map(Arc::new)
    }

    fn encode(
        cart: &Arc<Cart>,
        revision: u64,
        absolute_expiry: i64,
        limits: &Limits,
    ) -> Result<Self> {
        encode(cart, revision, absolute_expiry, limits)
    }
}

/// The first bytes of a value of `revision`: its layout byte and revision,
/// which a compare-and-set on the revision checks (the Redis store).
pub fn revision_prefix(revision: u64) -> [u8; 9] {
    let mut prefix = [LAYOUT_V1; 9];
    prefix[1..].copy_from_slice(&revision.to_be_bytes());
    prefix
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{Oversize, deflate};

    fn cart() -> Cart {
        Cart::from_compact_json(
            br#"[["TEE-100",2,{"size":"M"}],["MUG-104",1]]"#,
            &Limits::default(),
        )
        .unwrap()
    }

    #[test]
    fn a_value_round_trips() {
        let limits = Limits::default();
        let value = encode(&cart(), 7, 1_800_000_000, &limits).unwrap();
        assert_eq!(value[0], LAYOUT_V1);
        let stored = decode(&value, &limits, "test").unwrap();
        assert_eq!(
            stored,
            Stored {
                cart: cart(),
                revision: 7,
                absolute_expiry: 1_800_000_000
            }
        );
    }

    #[test]
    fn unreadable_values_are_invalid_credentials_not_outages() {
        let limits = Limits::default();
        let with = |head: &[u8], body: &[u8]| [head, body].concat();
        let mut good_header = vec![LAYOUT_V1];
        good_header.extend_from_slice(&[0; 16]);
        let cases: [(&str, Vec<u8>); 5] = [
            ("empty", vec![]),
            ("short header", vec![LAYOUT_V1; 5]),
            ("another layout", with(&[2; HEADER_LEN], &deflate(b"[]", 6))),
            ("bad deflate", with(&good_header, b"\xff\xff\xff")),
            ("not a cart", with(&good_header, &deflate(br#"{"a":1}"#, 6))),
        ];
        for (name, value) in cases {
            match decode(&value, &limits, "test") {
                Err(StoreError::Credential(OpenError::Invalid(_))) => {}
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_cart_that_could_not_be_read_back_is_not_written() {
        let limits = Limits {
            max_inflated_bytes: 16,
            ..Limits::default()
        };
        assert!(matches!(
            encode(&cart(), 1, 0, &limits),
            Err(StoreError::TooLarge(Oversize::Inflated { cap: 16, .. }))
        ));
    }
}
