//! Sealing a cart into a token, and opening one.
//!
//! # Untrusted until opened
//! [`TokenCodec::open`] follows one order, and nothing reads a token's
//! contents before its MAC or signature has been checked:
//! 1. length against `limits.token_max_chars`, and the character set
//!    `[A-Za-z0-9_.-]`;
//! 2. the shape (header, segments, canonical base64), as untrusted bytes;
//! 3. the key id, from the untrusted footer (PASETO) or header (JWT);
//! 4. the key, by exact kid: an unknown kid fails closed, no key is tried;
//! 5. decryption or verification;
//! 6. inflation under the caps;
//! 7. strict parsing of the claims and the cart;
//! 8. `exp`/`nbf`/`iat`/`abs`, with `token.leeway_secs`.
//!
//! Every failure of steps 1 to 7 is one client-facing kind,
//! [`OpenError::Invalid`]; its [`InvalidReason`] goes to logs and metric
//! labels only.

mod compress;
mod jwt;
mod paseto;
mod payload;

use std::time::Instant;

use serde::Deserialize;

use crate::cart::{Cart, Limits};
use crate::keys::{KeyState, KeyringHandle};

pub use compress::{InflateError, deflate, inflate_capped, pack};

/// The payload version written into every token (`v`).
pub const PAYLOAD_VERSION: u8 = 1;

/// The token format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// PASETO v4.local.
    Paseto,
    /// A JWS (EdDSA or HS256) whose cart claim is encrypted.
    Jwt,
}

/// The JWT signature algorithms on offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum JwtAlgorithm {
    /// Ed25519: verifiers need only the public key, from the JWKS.
    EdDSA,
    /// HMAC-SHA256: cheaper, but every verifier can also forge.
    HS256,
}

impl From<JwtAlgorithm> for jsonwebtoken::Algorithm {
    fn from(a: JwtAlgorithm) -> Self {
        match a {
            JwtAlgorithm::EdDSA => Self::EdDSA,
            JwtAlgorithm::HS256 => Self::HS256,
        }
    }
}

/// The `[token]` section of config.toml.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenConfig {
    /// The format of sealed tokens.
    pub format: Format,
    /// The JWT signature algorithm.
    pub jwt_algorithm: JwtAlgorithm,
    /// Bound into every token: PASETO implicit assertion, JWT `aud`.
    pub audience: String,
    /// JWT `iss`.
    pub issuer: String,
    /// Idle lifetime; `exp` slides on every write.
    pub idle_ttl_secs: u64,
    /// Absolute lifetime from the cart's creation.
    pub absolute_ttl_secs: u64,
    /// Clock skew tolerated between replicas.
    pub leeway_secs: u64,
    /// Re-seal a token read this close to its idle expiry.
    pub reseal_within_secs: u64,
    /// Deflate level, 0..=9.
    pub compression_level: u32,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            format: Format::Paseto,
            jwt_algorithm: JwtAlgorithm::EdDSA,
            audience: "cartseal-dev".into(),
            issuer: "cartseal".into(),
            idle_ttl_secs: 7 * 24 * 3600,
            absolute_ttl_secs: 30 * 24 * 3600,
            leeway_secs: 60,
            reseal_within_secs: 24 * 3600,
            compression_level: 6,
        }
    }
}

impl TokenConfig {
    /// Checks the values; one line per problem.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.audience.is_empty() || self.audience.len() > 128 {
            problems.push("token.audience must be 1 to 128 characters".into());
        }
        if self.issuer.is_empty() || self.issuer.len() > 128 {
            problems.push("token.issuer must be 1 to 128 characters".into());
        }
        if self.idle_ttl_secs < 60 {
            problems.push("token.idle_ttl_secs must be at least 60".into());
        }
        if self.absolute_ttl_secs < self.idle_ttl_secs {
            problems.push("token.absolute_ttl_secs must be at least token.idle_ttl_secs".into());
        }
        if self.absolute_ttl_secs > 400 * 24 * 3600 {
            problems.push(
                "token.absolute_ttl_secs must be at most 400 days (the cookie Max-Age ceiling)"
                    .into(),
            );
        }
        if self.leeway_secs > 3600 {
            problems.push("token.leeway_secs must be at most 3600".into());
        }
        if self.reseal_within_secs >= self.idle_ttl_secs {
            problems.push("token.reseal_within_secs must be less than token.idle_ttl_secs".into());
        }
        if self.compression_level > 9 {
            problems.push("token.compression_level must be 0..=9".into());
        }
        problems
    }
}

/// Why a token could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Malformed, forged, under an unknown or retired key, or otherwise
    /// unusable. The reason is for logs and metrics, never for the client.
    #[error("token invalid")]
    Invalid(InvalidReason),
    /// Authentic, but past its idle or absolute expiry.
    #[error("token expired")]
    Expired,
}

/// The detailed reason behind [`OpenError::Invalid`]: a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvalidReason {
    /// Longer than `limits.token_max_chars`.
    TooLong,
    /// A character outside `[A-Za-z0-9_.-]`, or empty.
    Charset,
    /// Wrong header, version, purpose or algorithm.
    Header,
    /// Wrong number of segments, bad base64, bad lengths.
    Format,
    /// No usable key id.
    Kid,
    /// A key id this keyring does not hold.
    UnknownKey,
    /// A key id of a retired key.
    RetiredKey,
    /// The MAC, signature or AEAD tag did not verify.
    Crypto,
    /// Another deployment's token (audience or issuer).
    Audience,
    /// The cart did not inflate under the caps.
    Inflate,
    /// Claims or cart malformed, or out of the limits.
    Payload,
    /// `nbf` or `iat` in the future, beyond the leeway.
    NotYetValid,
}

impl InvalidReason {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::TooLong => "too_long",
            Self::Charset => "charset",
            Self::Header => "header",
            Self::Format => "format",
            Self::Kid => "kid",
            Self::UnknownKey => "unknown_key",
            Self::RetiredKey => "retired_key",
            Self::Crypto => "crypto",
            Self::Audience => "audience",
            Self::Inflate => "inflate",
            Self::Payload => "payload",
            Self::NotYetValid => "not_yet_valid",
        }
    }
}

impl OpenError {
    /// The metric label of the rejection.
    pub fn label(self) -> &'static str {
        match self {
            Self::Invalid(reason) => reason.label(),
            Self::Expired => "expired",
        }
    }
}

/// Which size limit a cart would break if it were sealed or stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Oversize {
    /// The token would exceed `limits.token_max_chars`.
    #[error("the cart would need a {length}-character token; the budget is {budget}")]
    Token {
        /// The token's length.
        length: usize,
        /// The budget.
        budget: usize,
    },
    /// The cart's JSON would inflate past what opening accepts
    /// ([`Limits::inflate_cap`]): `max_inflated_bytes`, or
    /// `max_inflate_ratio` times its compressed size.
    #[error("the cart's {length} bytes would inflate past the cap of {cap}")]
    Inflated {
        /// The cart's compact JSON, in bytes.
        length: usize,
        /// What opening would accept from its compressed form.
        cap: usize,
    },
}

/// Why a cart could not be sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Sealing would break a size limit, so the token would be refused (or
    /// dropped by the browser) on the next request.
    #[error(transparent)]
    TooLarge(#[from] Oversize),
    /// No key can seal (the format needs a key that is not active).
    #[error("no active key for sealing")]
    NoKey,
}

/// Why a token was opened under a key that should no longer seal, or close
/// to expiry: the caller re-seals it on its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResealReason {
    /// Its key is `pending` or `decrypt-only`, not `active`.
    KeyNotActive,
    /// It expires within `token.reseal_within_secs`.
    NearExpiry,
}

/// The lifetimes a token carries, in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// `iat`.
    pub issued_at: i64,
    /// `nbf`: sealed equal to `iat`.
    pub not_before: i64,
    /// `exp`: the idle expiry.
    pub expires_at: i64,
    /// `abs`: the absolute expiry, which `exp` never passes.
    pub absolute_expiry: i64,
}

/// A sealed token.
#[derive(Debug, Clone)]
pub struct Sealed {
    /// The token text.
    pub token: String,
    /// Its lifetimes.
    pub lifetimes: Lifetimes,
}

/// An opened token.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The cart.
    pub cart: Cart,
    /// `rev`: raised by every write.
    pub revision: u64,
    /// The lifetimes.
    pub lifetimes: Lifetimes,
    /// `jti`.
    pub jti: String,
    /// The config id of the key that opened it (the signing key for JWT).
    pub key_id: String,
    /// That key's state.
    pub key_state: KeyState,
    /// The config id of the key that encrypted the cart claim (JWT only).
    pub cart_key_id: Option<String>,
    /// Set when the caller should re-seal the token on its response.
    pub reseal: Option<ResealReason>,
}

/// Seals and opens cart tokens under the current keyring.
#[derive(Debug, Clone)]
pub struct TokenCodec {
    config: TokenConfig,
    limits: Limits,
    keys: KeyringHandle,
    implicit_assertion: Vec<u8>,
}

/// What the sealing of one token needs besides the keys.
pub(crate) struct SealInput<'a> {
    pub cart: &'a Cart,
    pub revision: u64,
    pub lifetimes: Lifetimes,
    pub jti: &'a str,
}

impl TokenCodec {
    /// A codec for `config` under `keys`.
    pub fn new(config: TokenConfig, limits: Limits, keys: KeyringHandle) -> Self {
        let implicit_assertion = format!("cartseal:v1:{}", config.audience).into_bytes();
        Self {
            config,
            limits,
            keys,
            implicit_assertion,
        }
    }

    /// The token settings.
    pub fn config(&self) -> &TokenConfig {
        &self.config
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The keyring handle.
    pub fn keys(&self) -> &KeyringHandle {
        &self.keys
    }

    /// The lifetimes of a token sealed now: `exp` slides to `now +
    /// idle_ttl`, and never passes `abs`, which is kept from the cart's first
    /// token (or set now for a new cart).
    pub fn lifetimes_at(&self, now: i64, absolute_expiry: Option<i64>) -> Lifetimes {
        let abs = absolute_expiry
            .unwrap_or_else(|| now.saturating_add(secs(self.config.absolute_ttl_secs)));
        Lifetimes {
            issued_at: now,
            not_before: now,
            expires_at: now.saturating_add(secs(self.config.idle_ttl_secs)).min(abs),
            absolute_expiry: abs,
        }
    }

    /// Seals `cart` at revision `revision`. `absolute_expiry` is that of the
    /// token being replaced, if any.
    pub fn seal(
        &self,
        cart: &Cart,
        revision: u64,
        absolute_expiry: Option<i64>,
        now: i64,
    ) -> Result<Sealed, SealError> {
        let started = Instant::now();
        let lifetimes = self.lifetimes_at(now, absolute_expiry);
        let jti = new_jti();
        let input = SealInput {
            cart,
            revision,
            lifetimes,
            jti: &jti,
        };
        let token = match self.config.format {
            Format::Paseto => paseto::seal(self, &input)?,
            Format::Jwt => jwt::seal(self, &input, None)?,
        };
        metrics::histogram!("cartseal_token_seal_seconds").record(started.elapsed().as_secs_f64());
        metrics::histogram!("cartseal_token_length_chars").record(token.len() as f64);
        if token.len() > self.limits.token_max_chars {
            return Err(Oversize::Token {
                length: token.len(),
                budget: self.limits.token_max_chars,
            }
            .into());
        }
        Ok(Sealed { token, lifetimes })
    }

    /// Opens a token at time `now` (Unix seconds).
    pub fn open(&self, token: &str, now: i64) -> Result<Opened, OpenError> {
        let started = Instant::now();
        let result = self.open_inner(token, now);
        metrics::histogram!("cartseal_token_open_seconds").record(started.elapsed().as_secs_f64());
        result
    }

    fn open_inner(&self, token: &str, now: i64) -> Result<Opened, OpenError> {
        check_shape(token, &self.limits)?;
        let mut opened = match self.config.format {
            Format::Paseto => paseto::open(self, token)?,
            Format::Jwt => jwt::open(self, token)?,
        };
        self.check_times(&opened.lifetimes, now)?;
        let near_expiry = opened.lifetimes.expires_at.saturating_sub(now)
            < secs(self.config.reseal_within_secs)
            && opened.lifetimes.expires_at < opened.lifetimes.absolute_expiry;
        if opened.reseal.is_none() && near_expiry {
            opened.reseal = Some(ResealReason::NearExpiry);
        }
        Ok(opened)
    }

    fn check_times(&self, t: &Lifetimes, now: i64) -> Result<(), OpenError> {
        let leeway = secs(self.config.leeway_secs);
        if t.expires_at > t.absolute_expiry || t.expires_at < t.issued_at {
            return Err(OpenError::Invalid(InvalidReason::Payload));
        }
        if t.issued_at.max(t.not_before) > now.saturating_add(leeway) {
            return Err(OpenError::Invalid(InvalidReason::NotYetValid));
        }
        if now > t.expires_at.saturating_add(leeway)
            || now > t.absolute_expiry.saturating_add(leeway)
        {
            return Err(OpenError::Expired);
        }
        Ok(())
    }

    pub(crate) fn implicit_assertion(&self) -> &[u8] {
        &self.implicit_assertion
    }
}

fn secs(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A fresh 128-bit token id, base64url.
fn new_jti() -> String {
    use base64::Engine;
    let bytes: [u8; 16] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Step 1: length and character set, before any decoding.
fn check_shape(token: &str, limits: &Limits) -> Result<(), OpenError> {
    if token.len() > limits.token_max_chars {
        return Err(OpenError::Invalid(InvalidReason::TooLong));
    }
    if token.is_empty()
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(OpenError::Invalid(InvalidReason::Charset));
    }
    Ok(())
}

/// True when `segment` is canonical unpadded base64url: no length that no
/// encoder produces, and zero in the bits the last character leaves unused.
/// Without this check, several token strings would open to the same token.
pub fn is_canonical_b64url(segment: &str) -> bool {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    };
    let Some(&last) = segment.as_bytes().last() else {
        return true;
    };
    let Some(last) = value(last) else {
        return false;
    };
    match segment.len() % 4 {
        1 => false,
        2 => last & 0x0f == 0,
        3 => last & 0x03 == 0,
        _ => true,
    }
}

#[cfg(test)]
mod tests;
