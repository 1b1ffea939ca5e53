//! The token store: the cart travels sealed in the client's credential, and
//! the server keeps nothing but, optionally, a bounded cache of the tokens
//! it recently opened or sealed ([`crate::token::cache`]).

use std::sync::Arc;

use super::{Capabilities, CartStore, Loaded, Saved, Session, StoreError};
use crate::keys::KeyState;
use crate::token::cache::TokenCache;
use crate::token::{OpenError, Opened, TokenCodec};

/// Seals carts into tokens.
#[derive(Debug, Clone)]
pub struct TokenStore {
    codec: TokenCodec,
    cache: Option<Arc<TokenCache>>,
}

impl TokenStore {
    /// A store over `codec`, with `cache` when it is on.
    pub fn new(codec: TokenCodec, cache: Option<TokenCache>) -> Self {
        Self {
            codec,
            cache: cache.map(Arc::new),
        }
    }

    /// Steps 1 to 7 of opening, from the cache when it holds exactly this
    /// token under the keyring in use.
    fn authenticate(&self, credential: &str) -> Result<Opened, OpenError> {
        let Some(cache) = &self.cache else {
            return self.codec.authenticate(credential);
        };
        let generation = self.codec.keys().load().generation();
        if let Some(cached) = cache.get(credential, generation) {
            return Ok(cached.opened.clone());
        }
        let opened = self.codec.authenticate(credential)?;
        cache.insert(credential, opened.clone());
        Ok(opened)
    }

    pub fn codec(&self) -> &TokenCodec {
        &self.codec
    }
}

impl CartStore for TokenStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            // A token opens until it expires: nothing server-side can end it.
            revocation: false,
            survives_replica_loss: true,
            survives_store_restart: true,
            keeps_carts: true,
        }
    }

    async fn load(&self, credential: &str, now: i64) -> Result<Loaded, StoreError> {
        let opened = self
            .authenticate(credential)
            .and_then(|opened| self.codec.check_lifetimes(opened, now))
            .inspect_err(|e| {
                metrics::counter!("cartseal_token_rejections_total", "reason" => e.label())
                    .increment(1);
            })?;
        // `kid` names the key that opened the token (the signing key in the
        // jwt format); `cart_kid` the local key that encrypted the cart (the
        // same key in the paseto format), so that a rotation of either can be
        // watched until the old key opens nothing (docs/key-rotation.md).
        let cart_kid = opened
            .cart_key_id
            .clone()
            .unwrap_or_else(|| opened.key_id.clone());
        metrics::counter!(
            "cartseal_tokens_opened_total",
            "kid" => opened.key_id.clone(),
            "cart_kid" => cart_kid
        )
        .increment(1);
        Ok(Loaded {
            session: Session {
                cart: opened.cart,
                revision: opened.revision,
                absolute_expiry: Some(opened.lifetimes.absolute_expiry),
                expires_at: Some(opened.lifetimes.expires_at),
                // A token is not kept: its save never conflicts.
                stamp: None,
            },
            reseal: opened.reseal,
        })
    }

    async fn save(
        &self,
        _credential: Option<&str>,
        session: &Session,
        now: i64,
    ) -> Result<Saved, StoreError> {
        let sealed = self.codec.seal(
            &session.cart,
            session.revision,
            session.absolute_expiry,
            now,
        )?;
        if let Some(cache) = &self.cache {
            // What opening the token will give: the next read of it on this
            // replica (a bearer client's, or the browser's after a write)
            // skips opening it.
            let opened = Opened {
                cart: session.cart.clone(),
                revision: session.revision,
                lifetimes: sealed.lifetimes,
                jti: sealed.jti,
                key_id: sealed.key_id,
                key_state: KeyState::Active,
                cart_key_id: sealed.cart_key_id,
                reseal: None,
                generation: sealed.generation,
            };
            cache.insert(&sealed.token, opened);
        }
        Ok(Saved {
            credential: sealed.token,
            expires_at: sealed.lifetimes.expires_at,
        })
    }

    async fn ready(&self) -> Result<(), StoreError> {
        // The keyring always has an active local key (load refuses one
        // without); the format's other key may be missing after a reload.
        let ring = self.codec.keys().load();
        if self.codec.config().format == crate::token::Format::Jwt
            && ring.active_signing().is_none()
        {
            return Err(StoreError::Unavailable("no active signing key".into()));
        }
        Ok(())
    }
}
