//! No session layer: the ceiling of the load benchmark. Every request sees
//! the same template cart, and nothing is kept, so the handlers, the JSON and
//! the catalog look-ups are measured without any session cost.

use std::sync::Arc;

use crate::cart::{Cart, Limits, Line};
use crate::expiry::Expiry;

use super::{Capabilities, CartStore, Loaded, Result, Saved, Session};

/// The credential the ceiling hands out.
const CREDENTIAL: &str = "none";

/// Keeps nothing.
#[derive(Debug, Clone)]
pub struct NoneStore {
    template: Arc<Session>,
    expiry: Expiry,
}

impl NoneStore {
    /// A store whose every load returns a cart of `lines` lines with two
    /// properties each, like the load benchmark's carts.
    pub fn new(lines: usize, limits: &Limits, expiry: Expiry) -> Self {
        let mut cart = Cart::new();
        for i in 0..lines.min(limits.max_lines) {
            let properties = [("color", "black"), ("size", "M")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            let line = Line::parse(&format!("SKU-{i:05}-BLK"), 1, properties, limits)
                .expect("a valid template line");
            cart.add(line, limits).expect("within the limits");
        }
        Self {
            template: Arc::new(Session {
                cart: Arc::new(cart),
                ..Session::default()
            }),
            expiry,
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

    async fn load(&self, _credential: &str, _now: i64) -> Result<Loaded> {
        Ok(Loaded::new((*self.template).clone(), None))
    }

    async fn save(&self, _credential: Option<&str>, _session: &Session, now: i64) -> Result<Saved> {
        Ok(Saved::new(
            CREDENTIAL.into(),
            self.expiry.on_write(now, None)?.expires_at,
        ))
    }

    async fn ready(&self) -> Result<()> {
        Ok(())
    }
}
