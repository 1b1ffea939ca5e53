//! Target `after_auth`: everything that reads a token's contents once its
//! MAC or signature has been checked, fed arbitrary bytes directly, since a
//! fuzzer cannot forge a MAC: the claims decoder of the `paseto` format,
//! the cart claim (`c` and `cz`), the capped inflate, and the strict cart
//! parser, under the default limits and under tight ones.

use flate2::{Decompress, FlushDecompress, Status};
use serde_json::value::RawValue;

use super::bounds;
use crate::base64url;
use crate::cart::{Cart, Limits};
use crate::fixture;
use crate::token::seams::{
    FIRST_WRITABLE, LAST_WRITABLE, SealInput, claims_json, decode_claims, decode_payload,
};
use crate::token::{InflateError, SealError, inflate_capped};

/// Runs one input.
pub fn run(data: &[u8]) {
    for limits in [Limits::default(), bounds::tight_limits()] {
        check_inflate(data, &limits);
        check_cart(data, &limits);
        if let Ok(text) = std::str::from_utf8(data) {
            check_claims(text, &limits);
            check_payload(text, &limits);
        }
    }
}

/// The capped inflate never passes its cap, and agrees with a fresh
/// one-shot inflate into a buffer of the cap plus one byte.
fn check_inflate(data: &[u8], limits: &Limits) {
    let cap = limits.inflate_cap(data.len());
    let capped = inflate_capped(data, limits);
    let mut fresh = Decompress::new(false);
    let mut out = Vec::with_capacity(cap.saturating_add(1));
    let status = fresh.decompress_vec(data, &mut out, FlushDecompress::Finish);
    let complete = matches!(status, Ok(Status::StreamEnd))
        && usize::try_from(fresh.total_in()).ok() == Some(data.len());
    match capped {
        Ok(inflated) => {
            assert!(inflated.len() <= cap, "past the cap");
            assert!(
                complete,
                "the capped inflate accepted what a fresh one refuses"
            );
            assert_eq!(inflated, out, "the capped inflate gave other bytes");
        }
        Err(InflateError::TooLarge) => {
            assert!(out.len() > cap, "refused as too large, but fits the cap");
        }
        Err(InflateError::Malformed) => {
            assert!(
                !complete || out.len() > cap,
                "refused as malformed, but a fresh inflate accepts it"
            );
        }
    }
}

/// The strict cart parser: what it accepts keeps the limits and reads back,
/// and its direct scan of the canonical spelling answers exactly as
/// serde_json does.
fn check_cart(data: &[u8], limits: &Limits) {
    let parsed = Cart::from_compact_json(data, limits);
    assert_eq!(
        parsed,
        Cart::from_any_json(data, limits),
        "the scan and serde_json disagree"
    );
    if let Ok(cart) = parsed {
        bounds::assert_within(&cart, limits);
    }
}

/// The claims decoder: what it accepts keeps the limits, and writes back to
/// claims that decode to the same, unless a time is one that RFC 3339
/// cannot write or the cart is too large to seal.
fn check_claims(text: &str, limits: &Limits) {
    let Ok(claims) = decode_claims(text, limits) else {
        return;
    };
    assert!(!claims.jti.is_empty() && claims.jti.len() <= crate::limits::MAX_JTI_CHARS);
    bounds::assert_within(&claims.cart, limits);
    let codec = &fixture::codecs().paseto;
    if limits != codec.limits() {
        return;
    }
    let input = SealInput {
        cart: &claims.cart,
        revision: claims.revision,
        lifetimes: claims.lifetimes,
        jti: &claims.jti,
    };
    let t = claims.lifetimes;
    let times = [t.issued_at, t.not_before, t.expires_at, t.absolute_expiry];
    match claims_json(codec, &input) {
        Ok(json) => {
            assert_eq!(decode_claims(&json, limits).as_ref(), Ok(&claims));
        }
        Err(SealError::TimeOutOfRange) => assert!(
            times
                .iter()
                .any(|t| !(FIRST_WRITABLE..=LAST_WRITABLE).contains(t)),
            "refused times that RFC 3339 can write"
        ),
        // A `c` claim is not inflated, so only the token's length bounds
        // it, which this target does not feed: a cart may be too large to
        // seal again.
        Err(SealError::TooLarge(_)) => {}
        Err(e) => panic!("a decoded cart did not encode again: {e}"),
    }
}

/// The cart claim, as `c` and as `cz`, agrees with the steps it is made of.
fn check_payload(text: &str, limits: &Limits) {
    if let Ok(raw) = serde_json::from_str::<&RawValue>(text) {
        let plain = decode_payload(Some(raw), None, limits).ok();
        let direct = Cart::from_compact_json(raw.get().as_bytes(), limits).ok();
        assert_eq!(plain, direct, "c decodes as the cart parser says");
        assert!(
            decode_payload(Some(raw), Some(text), limits).is_err(),
            "c and cz"
        );
    }
    let deflated = decode_payload(None, Some(text), limits).ok();
    let by_steps = base64url::decode(text)
        .and_then(|packed| inflate_capped(&packed, limits).ok())
        .and_then(|json| Cart::from_compact_json(&json, limits).ok());
    assert_eq!(deflated, by_steps, "cz decodes as its steps say");
    assert!(decode_payload(None, None, limits).is_err(), "no cart claim");
}
