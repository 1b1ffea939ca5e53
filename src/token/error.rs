//! Why a token could not be opened or sealed. A client only ever learns
//! "invalid" or "expired"; the [`InvalidReason`] is for logs and metric labels.

use crate::expiry::TimeError;

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

impl From<TimeError> for OpenError {
    fn from(error: TimeError) -> Self {
        match error {
            TimeError::Expired => Self::Expired,
            TimeError::NotYetValid => Self::Invalid(InvalidReason::NotYetValid),
            TimeError::Inconsistent => Self::Invalid(InvalidReason::Payload),
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
    /// A central store's value would exceed what the store takes
    /// (`memcached.max_value_bytes`, or Memcached's own item size limit).
    #[error("the cart's stored value of {length} bytes is more than the store takes")]
    Stored {
        /// The value's size, in bytes.
        length: usize,
        /// The largest value the store takes, when the store says (a
        /// server's refusal does not).
        cap: Option<usize>,
    },
}

/// Why a cart could not be sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Sealing would break a size limit, so the token would be refused (or
    /// dropped by the browser) on the next request.
    #[error(transparent)]
    TooLarge(#[from] Oversize),
    /// The cart is past its absolute expiry: a token sealed now would be
    /// born expired.
    #[error("the cart has passed its absolute expiry")]
    Expired,
    /// No key can seal (the format needs a key that is not active).
    #[error("no active key for sealing")]
    NoKey,
    /// A time the format cannot write: the `paseto` format's RFC 3339 claims
    /// hold years 0000 to 9999 only. Only a credential's absolute expiry can
    /// be that far out, so the credential is what is wrong.
    #[error("a time outside 0000-01-01T00:00:00Z..=9999-12-31T23:59:59Z")]
    TimeOutOfRange,
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
