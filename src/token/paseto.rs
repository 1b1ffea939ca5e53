//! The `paseto` format: PASETO v4.local (XChaCha20, BLAKE2b MAC).
//!
//! `v4.local.<base64url(nonce ‖ ciphertext ‖ tag)>.<base64url(footer)>`
//! where the footer is `{"kid":"k4.lid.…"}` and the implicit assertion is
//! `cartseal:v1:<token.audience>`. The payload is the claims object below, with
//! times in PASETO's registered form (RFC 3339, UTC).

use std::borrow::Cow;

use pasetors::Local;
use pasetors::token::UntrustedToken;
use pasetors::version4::{LocalToken, V4};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::payload::{self, CartClaim};
use super::{
    InvalidReason, Lifetimes, OpenError, Opened, PAYLOAD_VERSION, ResealReason, SealError,
    SealInput, TokenCodec,
};
use crate::base64url;
use crate::cart::{Limits, push_json_str, push_u64};
use crate::keys::{KeyState, Keyring};
use crate::limits::{MAX_FOOTER_BYTES, MAX_JTI_CHARS};

/// The header of every token of this format.
pub const HEADER: &str = "v4.local.";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimsIn<'a> {
    v: u8,
    iat: Rfc3339,
    nbf: Rfc3339,
    exp: Rfc3339,
    abs: Rfc3339,
    #[serde(borrow)]
    jti: Cow<'a, str>,
    rev: u64,
    #[serde(borrow, default)]
    c: Option<&'a RawValue>,
    #[serde(borrow, default)]
    cz: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Footer<'a> {
    #[serde(borrow)]
    kid: Cow<'a, str>,
}

/// The claims JSON of a token: deterministic for a given input, which the
/// known-answer tests rely on.
#[cfg(any(fuzzing, test))]
pub(crate) fn claims_json(codec: &TokenCodec, input: &SealInput<'_>) -> Result<String, SealError> {
    let claims = write_claims(codec, input)?;
    Ok(String::from_utf8(claims).expect("the claims writer writes UTF-8"))
}

/// Writes the claims object, in this order: `v`, `iat`, `nbf`, `exp`,
/// `abs`, `jti`, `rev`, then `c` or `cz`. It is written directly rather
/// than through serde: serde_json would scan the cart claim's 600-odd
/// characters again for escapes that neither of its forms can hold.
fn write_claims(codec: &TokenCodec, input: &SealInput<'_>) -> Result<Vec<u8>, SealError> {
    let cart = CartClaim::encode(input.cart, codec.config().compression_level, codec.limits())?;
    let t = &input.lifetimes;
    let times = [
        ("iat", t.issued_at),
        ("nbf", t.not_before),
        ("exp", t.expires_at),
        ("abs", t.absolute_expiry),
    ];
    let mut out = Vec::with_capacity(CLAIMS_ROOM + cart.written_len());
    out.extend_from_slice(br#"{"v":"#);
    push_u64(&mut out, u64::from(PAYLOAD_VERSION));
    for (name, secs) in times {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        push_json_str(&mut out, &Rfc3339::new(secs)?.text());
    }
    out.extend_from_slice(br#","jti":"#);
    push_json_str(&mut out, input.jti);
    out.extend_from_slice(br#","rev":"#);
    push_u64(&mut out, input.revision);
    out.push(b',');
    cart.write(&mut out);
    out.push(b'}');
    Ok(out)
}

/// The claims' bytes besides the cart: 170 with a 22-character `jti`.
const CLAIMS_ROOM: usize = 192;

/// The footer naming `kid`.
pub(crate) fn footer(kid: &str) -> String {
    format!(r#"{{"kid":"{kid}"}}"#)
}

pub(super) fn seal(
    codec: &TokenCodec,
    ring: &Keyring,
    input: &SealInput<'_>,
) -> Result<String, SealError> {
    let key = ring.active_local();
    let claims = write_claims(codec, input)?;
    let footer = footer(key.material.kid());
    LocalToken::encrypt(
        &key.material.paseto,
        &claims,
        Some(footer.as_bytes()),
        Some(codec.implicit_assertion()),
    )
    .map_err(|_| SealError::NoKey)
}

pub(super) fn open(codec: &TokenCodec, token: &str) -> Result<Opened, OpenError> {
    let invalid = OpenError::Invalid;
    // Step 2: the shape, as untrusted text.
    let Some(rest) = token.strip_prefix(HEADER) else {
        return Err(invalid(InvalidReason::Header));
    };
    let mut segments = rest.split('.');
    let (Some(body), Some(footer_b64), None) = (segments.next(), segments.next(), segments.next())
    else {
        return Err(invalid(InvalidReason::Format));
    };
    if !base64url::is_canonical(body) || !base64url::is_canonical(footer_b64) {
        return Err(invalid(InvalidReason::Format));
    }
    let untrusted =
        UntrustedToken::<Local, V4>::try_from(token).map_err(|_| invalid(InvalidReason::Format))?;

    // Step 3: the key id, from the untrusted footer.
    let footer_bytes = untrusted.untrusted_footer();
    if footer_bytes.is_empty() || footer_bytes.len() > MAX_FOOTER_BYTES {
        return Err(invalid(InvalidReason::Kid));
    }
    let footer: Footer<'_> =
        serde_json::from_slice(footer_bytes).map_err(|_| invalid(InvalidReason::Kid))?;

    // Step 4: the key, by exact kid.
    let ring = codec.keys().load();
    let key = ring
        .local_by_kid(&footer.kid)
        .ok_or(invalid(InvalidReason::UnknownKey))?;
    if !key.state.opens() {
        return Err(invalid(InvalidReason::RetiredKey));
    }

    // Step 5: decrypt. The footer is authenticated as part of the token, so
    // it is not compared again (`None`).
    #[cfg(test)]
    super::crypto_calls::count();
    let trusted = LocalToken::decrypt(
        &key.material.paseto,
        &untrusted,
        None,
        Some(codec.implicit_assertion()),
    )
    .map_err(|_| invalid(InvalidReason::Crypto))?;

    // Steps 6 and 7.
    let claims = decode_claims(trusted.payload(), codec.limits())?;
    Ok(Opened {
        cart: std::sync::Arc::new(claims.cart),
        revision: claims.revision,
        lifetimes: claims.lifetimes,
        jti: claims.jti,
        key_id: key.id.clone(),
        key_state: key.state,
        cart_key_id: None,
        reseal: (key.state != KeyState::Active).then_some(ResealReason::KeyNotActive),
        generation: ring.generation(),
    })
}

/// What the claims of an authenticated payload hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodedClaims {
    pub cart: crate::cart::Cart,
    pub revision: u64,
    pub lifetimes: Lifetimes,
    pub jti: String,
}

/// Steps 6 and 7 of opening, on a payload whose MAC has been checked:
/// strict claims, then the cart under the caps.
pub(crate) fn decode_claims(payload: &str, limits: &Limits) -> Result<DecodedClaims, OpenError> {
    let invalid = OpenError::Invalid(InvalidReason::Payload);
    if !payload.starts_with('{') {
        return Err(invalid);
    }
    let claims: ClaimsIn<'_> = serde_json::from_str(payload).map_err(|_| invalid)?;
    if claims.v != PAYLOAD_VERSION || claims.jti.is_empty() || claims.jti.len() > MAX_JTI_CHARS {
        return Err(invalid);
    }
    let cart = payload::decode(claims.c, claims.cz.as_deref(), limits)?;
    Ok(DecodedClaims {
        cart,
        revision: claims.rev,
        lifetimes: Lifetimes {
            issued_at: claims.iat.0,
            not_before: claims.nbf.0,
            expires_at: claims.exp.0,
            absolute_expiry: claims.abs.0,
        },
        jti: claims.jti.into_owned(),
    })
}

/// The first second an RFC 3339 time can write: 0000-01-01T00:00:00Z.
pub(crate) const FIRST_WRITABLE: i64 = -62_167_219_200;
/// The last second an RFC 3339 time can write: 9999-12-31T23:59:59Z.
/// chrono writes later years with five digits and a sign, which RFC 3339
/// (and chrono's own parser) refuses, and panics past its own range.
pub(crate) const LAST_WRITABLE: i64 = 253_402_300_799;

/// A time in PASETO's registered claim form: RFC 3339, UTC, whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rfc3339(i64);

impl Rfc3339 {
    /// The time `secs` (Unix seconds), if RFC 3339 can write it.
    fn new(secs: i64) -> Result<Self, SealError> {
        if (FIRST_WRITABLE..=LAST_WRITABLE).contains(&secs) {
            Ok(Self(secs))
        } else {
            Err(SealError::TimeOutOfRange)
        }
    }

    /// The time as RFC 3339 text: the same text as the strftime
    /// "%Y-%m-%dT%H:%M:%SZ", without parsing a format string four times per
    /// seal (benches/codec/main.rs).
    fn text(self) -> String {
        chrono::DateTime::from_timestamp(self.0, 0)
            .expect("new() keeps the time in range")
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }
}

impl<'de> Deserialize<'de> for Rfc3339 {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<'de, str>::deserialize(deserializer)?;
        let time = chrono::DateTime::parse_from_rfc3339(&text).map_err(serde::de::Error::custom)?;
        Ok(Self(time.timestamp()))
    }
}
