//! The cart inside the claims: `c` (the compact JSON itself) or `cz`
//! (base64url of its raw deflate), whichever is shorter, as Django's signing
//! does. Small carts do not compress; larger ones compress well.

use serde_json::value::RawValue;

use super::{InflateError, InvalidReason, OpenError, Oversize, inflate_capped, pack};
use crate::base64url;
use crate::cart::{Cart, Limits};

/// Carts of less compact JSON than this go into the claims as they are.
const PLAIN_BELOW: usize = 64;

/// What precedes the plain cart in the claims; the deflated cart's base64
/// follows its own name and ends with a quote.
const PLAIN_NAME: &[u8] = br#""c":"#;
const DEFLATED_NAME: &[u8] = br#""cz":""#;

/// The cart as it goes into the claims.
pub(crate) enum CartClaim {
    /// `c`: the compact JSON.
    Plain(Vec<u8>),
    /// `cz`: base64url of this raw deflate of the compact JSON.
    Deflated(Vec<u8>),
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
            return Ok(Self::Plain(json));
        }
        let packed = pack(&json, level, limits)?;
        let (plain, deflated) = (Self::Plain(json), Self::Deflated(packed));
        Ok(if deflated.written_len() < plain.written_len() {
            deflated
        } else {
            plain
        })
    }

    /// The bytes [`Self::write`] appends.
    pub fn written_len(&self) -> usize {
        match self {
            Self::Plain(json) => PLAIN_NAME.len() + json.len(),
            Self::Deflated(packed) => {
                DEFLATED_NAME.len() + base64url::encoded_len(packed.len()) + 1
            }
        }
    }

    /// Appends the claim, name and value, to the claims JSON in `out`. The
    /// compact JSON goes in as it is, and base64url needs no escape, so
    /// neither is scanned again (docs/benchmarks.md, "Instruction counts").
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Self::Plain(json) => {
                out.extend_from_slice(PLAIN_NAME);
                out.extend_from_slice(json);
            }
            Self::Deflated(packed) => {
                out.extend_from_slice(DEFLATED_NAME);
                base64url::encode_into(packed, out);
                out.push(b'"');
            }
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
