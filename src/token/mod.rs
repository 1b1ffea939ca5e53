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

pub mod cache;
mod compress;
mod config;
mod error;
mod jwt;
mod paseto;
mod payload;

use std::sync::Arc;
use std::time::Instant;

use crate::cart::{Cart, Limits};
use crate::expiry::Expiry;
use crate::keys::{KeyState, KeyringHandle};

pub use compress::{FAST_DEFLATE_BELOW, InflateError, deflate, inflate_capped, pack};
pub use config::{Format, JwtAlgorithm, TokenConfig};
pub use error::{InvalidReason, OpenError, Oversize, ResealReason, SealError};

pub use crate::expiry::Lifetimes;

/// The payload version written into every token (`v`).
pub const PAYLOAD_VERSION: u8 = 1;

/// A sealed token, and what opening it would give besides its cart.
#[derive(Debug, Clone)]
pub struct Sealed {
    /// The token text.
    pub token: String,
    pub lifetimes: Lifetimes,
    pub jti: String,
    /// The config id of the key that sealed it (the signing key for JWT).
    pub key_id: String,
    /// The config id of the key that encrypted the cart claim (JWT only).
    pub cart_key_id: Option<String>,
    /// The generation of the keyring that sealed it.
    pub generation: u64,
}

/// An opened token.
#[derive(Debug, Clone)]
pub struct Opened {
    /// Shared, so that a cache of opened tokens and the request that reads
    /// the cart hold one copy.
    pub cart: Arc<Cart>,
    /// `rev`: raised by every write.
    pub revision: u64,
    pub lifetimes: Lifetimes,
    pub jti: String,
    /// The config id of the key that opened it (the signing key for JWT).
    pub key_id: String,
    /// That key's state.
    pub key_state: KeyState,
    /// The config id of the key that encrypted the cart claim (JWT only).
    pub cart_key_id: Option<String>,
    /// Set when the caller should re-seal the token on its response.
    pub reseal: Option<ResealReason>,
    /// The generation of the keyring that opened it.
    pub generation: u64,
}

/// Seals and opens cart tokens under the current keyring.
#[derive(Debug, Clone)]
pub struct TokenCodec {
    config: TokenConfig,
    limits: Limits,
    expiry: Expiry,
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
            expiry: config.expiry(),
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

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The keyring handle.
    pub fn keys(&self) -> &KeyringHandle {
        &self.keys
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
        let lifetimes = self
            .expiry
            .on_write(now, absolute_expiry)
            .map_err(|_| SealError::Expired)?;
        let jti = crate::ids::random();
        let input = SealInput {
            cart,
            revision,
            lifetimes,
            jti: &jti,
        };
        // One keyring for the whole seal: the ids reported are those of
        // the keys that sealed.
        let ring = self.keys.load();
        let (token, key_id, cart_key_id) = match self.config.format {
            Format::Paseto => (
                paseto::seal(self, &ring, &input)?,
                ring.active_local().id.clone(),
                None,
            ),
            Format::Jwt => (
                jwt::seal(self, &ring, &input, None)?,
                ring.active_signing().ok_or(SealError::NoKey)?.id.clone(),
                Some(ring.active_local().id.clone()),
            ),
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
        Ok(Sealed {
            token,
            lifetimes,
            jti,
            key_id,
            cart_key_id,
            generation: ring.generation(),
        })
    }

    /// Opens a token at time `now` (Unix seconds): [`Self::authenticate`],
    /// then [`Self::check_lifetimes`]. For callers that open a token once
    /// (`cartseal inspect`, the fuzz targets, the tests). The service opens
    /// through `store::token::TokenStore::load`, which runs the same two
    /// steps with its cache between them (see there).
    pub fn open(&self, token: &str, now: i64) -> Result<Opened, OpenError> {
        self.check_lifetimes(self.authenticate(token)?, now)
    }

    /// Steps 1 to 7: everything about a token that does not depend on the
    /// clock, which is what a cache of opened tokens may keep
    /// ([`crate::token::cache`]).
    pub fn authenticate(&self, token: &str) -> Result<Opened, OpenError> {
        let started = Instant::now();
        let result = check_shape(token, &self.limits).and_then(|()| match self.config.format {
            Format::Paseto => paseto::open(self, token),
            Format::Jwt => jwt::open(self, token),
        });
        metrics::histogram!("cartseal_token_open_seconds").record(started.elapsed().as_secs_f64());
        result
    }

    /// Step 8: the lifetimes against the clock, with `token.leeway_secs`,
    /// and a re-seal asked for when the token nears its idle expiry.
    pub fn check_lifetimes(&self, mut opened: Opened, now: i64) -> Result<Opened, OpenError> {
        opened.reseal = self.reseal_reason(&opened, now)?;
        Ok(opened)
    }

    /// Step 8 without a copy of the opened token: its lifetimes against
    /// the clock, and why it should be re-sealed on this response, if it
    /// should.
    pub fn reseal_reason(
        &self,
        opened: &Opened,
        now: i64,
    ) -> Result<Option<ResealReason>, OpenError> {
        self.expiry.check(&opened.lifetimes, now)?;
        Ok(opened.reseal.or_else(|| {
            self.expiry
                .near_expiry(&opened.lifetimes, now)
                .then_some(ResealReason::NearExpiry)
        }))
    }

    pub(crate) fn implicit_assertion(&self) -> &[u8] {
        &self.implicit_assertion
    }
}

/// Step 1: length and character set, before any decoding.
fn check_shape(token: &str, limits: &Limits) -> Result<(), OpenError> {
    if token.len() > limits.token_max_chars {
        return Err(OpenError::Invalid(InvalidReason::TooLong));
    }
    // A table and a fold without an early exit: a byte-by-byte test with
    // branches was 4% of a request that opens its token (docs/benchmarks.md,
    // "Where the time goes").
    if token.is_empty()
        || !token
            .bytes()
            .fold(true, |ok, b| ok & TOKEN_CHARS[usize::from(b)])
    {
        return Err(OpenError::Invalid(InvalidReason::Charset));
    }
    Ok(())
}

/// The bytes a token may hold: `[A-Za-z0-9_.-]`.
const TOKEN_CHARS: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-';
        b += 1;
    }
    table
};

/// Internals that the fuzz targets ([`crate::fuzzing`]) drive directly:
/// everything after authentication, which a fuzzer could never reach
/// through a MAC.
#[cfg(any(fuzzing, test))]
pub(crate) mod seams {
    pub(crate) use super::SealInput;
    pub(crate) use super::paseto::{
        FIRST_WRITABLE, LAST_WRITABLE, claims_json, decode_claims, footer,
    };
    pub(crate) use super::payload::decode as decode_payload;
}

/// How many decryptions and signature checks this thread has started. It
/// lives here, beside the formats that count, so that production code never
/// reaches into the tests; the tests read it to prove that a token under an
/// unknown kid, or a cache hit, costs no crypto at all.
#[cfg(test)]
pub(crate) mod crypto_calls {
    use std::cell::Cell;

    thread_local! {
        static CALLS: Cell<u64> = const { Cell::new(0) };
    }

    /// Called by `paseto` and `jwt` just before they decrypt or verify.
    pub(crate) fn count() {
        CALLS.with(|c| c.set(c.get() + 1));
    }

    /// The calls counted so far on this thread.
    pub(crate) fn so_far() -> u64 {
        CALLS.with(Cell::get)
    }
}

#[cfg(test)]
mod tests;
