//! No session layer: the ceiling of the load benchmark. Every request sees
//! the same template cart, and nothing is kept, so the handlers, the JSON and
//! the catalog look-ups are measured without any session cost.

use std::sync::Arc;

use crate::cart::{Cart, Limits, Line, Properties, Quantity, Sku};

use super::{Capabilities, CartStore, Loaded, Saved, Session, StoreError};

/// Keeps nothing.
#[derive(Debug, Clone, Default)]
pub struct NoneStore {
    template: Arc<Session>,
}

impl NoneStore {
    /// A cart of `lines` lines with two properties each, like the load
    /// benchmark's carts.
    pub fn template_cart(lines: usize, limits: &Limits) -> Cart {
        let mut cart = Cart::new();
        for i in 0..lines.min(limits.max_lines) {
            let properties = [("color", "black"), ("size", "M")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            let line = Line::new(
                Sku::parse(&format!("SKU-{i:05}-BLK"), limits).expect("a valid sku"),
                Quantity::parse(1, limits).expect("a valid quantity"),
                Properties::parse(properties, limits).expect("valid properties"),
            );
            cart.add(line, limits).expect("within the limits");
        }
        cart
    }

    /// A store whose every load returns `template`.
    pub fn new(template: Session) -> Self {
        Self {
            template: Arc::new(template),
        }
    }
}

impl CartStore for NoneStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            revocation: false,
            survives_replica_loss: false,
            survives_store_restart: false,
            keeps_carts: false,
        }
    }

    async fn load(&self, _credential: &str, _now: i64) -> Result<Loaded, StoreError> {
        Ok(Loaded {
            session: (*self.template).clone(),
            reseal: None,
        })
    }

    async fn save(
        &self,
        _credential: Option<&str>,
        _session: &Session,
        now: i64,
    ) -> Result<Saved, StoreError> {
        Ok(Saved {
            credential: "none".into(),
            expires_at: now + 3600,
        })
    }

    async fn revoke(&self, _credential: &str) -> Result<bool, StoreError> {
        Ok(false)
    }

    async fn ready(&self) -> Result<(), String> {
        Ok(())
    }
}
