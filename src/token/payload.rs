//! The cart inside the claims: `c` (the compact JSON itself) or `cz`
//! (base64url of its raw deflate), whichever is shorter, as Django's signing
//! does. Small carts do not compress; larger ones compress well.

use serde_json::value::RawValue;

use super::{InflateError, InvalidReason, OpenError, Oversize, inflate_capped, pack};
use crate::base64url;
use crate::cart::{Cart, Limits};

/// Carts of less compact JSON than this go into the claims as they are.
const PLAIN_BELOW: usize = 64;

/// The cart as it goes into the claims.
pub(crate) enum CartClaim {
    /// `c`: the compact JSON.
    Plain(Box<RawValue>),
    /// `cz`: base64url of raw deflate of the compact JSON.
    Deflated(String),
}

impl CartClaim {
    /// Picks the shorter encoding of `cart`. A cart whose compressed form
    /// would inflate past the caps is refused, even when the plain form would
    /// be shorter: such a cart is far over the token budget anyway.
    pub fn encode(cart: &Cart, level: u32, limits: &Limits) -> Result<Self, Oversize> {
        let json = cart.to_compact_json();
        // A cart this short cannot be shortened by deflate and base64 (a
        // raw deflate stream has a few bytes of framing, and base64 adds a
        // third): skip the compressor.
        if json.len() < PLAIN_BELOW {
            return Ok(Self::plain(json));
        }
        let packed = pack(&json, level, limits)?;
        // `"cz":"…"` costs 3 characters more than `"c":…`.
        Ok(
            if base64::encoded_len(packed.len(), false).unwrap_or(usize::MAX) + 3 < json.len() {
                Self::Deflated(base64url::encode(packed))
            } else {
                Self::plain(json)
            },
        )
    }

    fn plain(json: Vec<u8>) -> Self {
        let text = String::from_utf8(json).expect("serde_json writes UTF-8");
        Self::Plain(RawValue::from_string(text).expect("serde_json writes valid JSON"))
    }

    /// The pair of optional claims.
    pub fn into_fields(self) -> (Option<Box<RawValue>>, Option<String>) {
        match self {
            Self::Plain(raw) => (Some(raw), None),
            Self::Deflated(text) => (None, Some(text)),
        }
    }
}

/// Rebuilds the cart from exactly one of `c` and `cz`, under the limits.
pub(crate) fn decode(
    plain: Option<&RawValue>,
    deflated: Option<&str>,
    limits: &Limits,
) -> Result<Cart, OpenError> {
    let payload_err = OpenError::Invalid(InvalidReason::Payload);
    match (plain, deflated) {
        (Some(raw), None) => {
            Cart::from_compact_json(raw.get().as_bytes(), limits).map_err(|_| payload_err)
        }
        (None, Some(text)) => {
            let packed = base64url::decode(text).ok_or(payload_err)?;
            let json = inflate(&packed, limits)?;
            Cart::from_compact_json(&json, limits).map_err(|_| payload_err)
        }
        _ => Err(payload_err),
    }
}

/// Inflates an authenticated, compressed cart under the caps.
pub(crate) fn inflate(packed: &[u8], limits: &Limits) -> Result<Vec<u8>, OpenError> {
    inflate_capped(packed, limits).map_err(|e| match e {
        InflateError::TooLarge | InflateError::Malformed => {
            OpenError::Invalid(InvalidReason::Inflate)
        }
    })
}
