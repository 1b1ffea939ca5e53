//! The token store: the cart travels sealed in the client's credential, and
//! the server keeps nothing.

use super::{Capabilities, CartStore, Loaded, Saved, Session, StoreError};
use crate::token::TokenCodec;

/// Seals carts into tokens.
#[derive(Debug, Clone)]
pub struct TokenStore {
    codec: TokenCodec,
}

impl TokenStore {
    /// A store over `codec`.
    pub fn new(codec: TokenCodec) -> Self {
        Self { codec }
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
        let opened = self.codec.open(credential, now).inspect_err(|e| {
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
