//! The token store: the cart travels sealed in the client's credential, and
//! the server keeps nothing but, optionally, a bounded cache of the tokens
//! it recently opened or sealed ([`crate::token::cache`]).

use std::sync::Arc;

use super::{Capabilities, CartStore, Loaded, Result, Saved, Session, StoreError};
use crate::keys::KeyState;
use crate::token::cache::{Cached, Memo, TokenCache};
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
    /// token under the keyring in use: the entry, and whether it came from
    /// the cache.
    fn authenticate(&self, credential: &str) -> Result<(Arc<Cached>, bool), OpenError> {
        if let Some(cache) = &self.cache {
            let generation = self.codec.keys().load().generation();
            if let Some(cached) = cache.get(credential, generation) {
                return Ok((cached, true));
            }
        }
        let opened = self.codec.authenticate(credential)?;
        Ok((Arc::new(Cached::new(opened)), false))
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

    /// [`TokenCodec::open`]'s two steps, not a call to it: steps 1 to 7
    /// come from the cache when it holds the token, and an entry of the
    /// cache is shared, so step 8 reads it borrowed
    /// ([`TokenCodec::reseal_reason`]) rather than moving a copy through
    /// [`TokenCodec::check_lifetimes`]. It also counts each refusal by
    /// reason (`cartseal_token_rejections_total`), which `open`, used
    /// outside the request path, does not.
    async fn load(&self, credential: &str, now: i64) -> Result<Loaded> {
        let (entry, cached, reseal) = self
            .authenticate(credential)
            .and_then(|(entry, cached)| {
                let reseal = self.codec.reseal_reason(&entry.opened, now)?;
                Ok((entry, cached, reseal))
            })
            .inspect_err(|e| {
                metrics::counter!("cartseal_token_rejections_total", "reason" => e.label())
                    .increment(1);
            })?;
        entry.opened_counter.increment(1);
        let opened = &entry.opened;
        let session = Session {
            cart: opened.cart.clone(),
            revision: opened.revision,
            absolute_expiry: Some(opened.lifetimes.absolute_expiry),
            expires_at: Some(opened.lifetimes.expires_at),
            // A token is not kept: its save never conflicts.
            stamp: None,
        };
        // A response that re-seals carries another credential, and so
        // another body: nothing to keep for this one.
        let memo = match (&self.cache, reseal) {
            (Some(cache), None) => Some(Memo::new(cache.clone(), entry, cached)),
            _ => None,
        };
        Ok(Loaded {
            session,
            reseal,
            memo,
        })
    }

    async fn save(&self, credential: Option<&str>, session: &Session, now: i64) -> Result<Saved> {
        let sealed = self.codec.seal(
            &session.cart,
            session.revision,
            session.absolute_expiry,
            now,
        )?;
        // What opening the token will give: the next read of it on this
        // replica (a bearer client's, or the browser's after a write) skips
        // opening it. The first write of an anonymous cart is not admitted
        // (token/cache.rs).
        let memo = match (&self.cache, credential) {
            (Some(cache), Some(_)) => {
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
                Some(Memo::new(
                    cache.clone(),
                    Arc::new(Cached::new(opened)),
                    false,
                ))
            }
            _ => None,
        };
        Ok(Saved {
            credential: sealed.token,
            expires_at: sealed.lifetimes.expires_at,
            memo,
        })
    }

    async fn ready(&self) -> Result<()> {
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
