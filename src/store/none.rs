//! No session layer: the ceiling of the load benchmark. Every request sees
//! the same template cart, and nothing is kept, so the handlers, the JSON and
//! the catalog look-ups are measured without any session cost.

use std::sync::Arc;

use super::{Capabilities, CartStore, Loaded, Saved, Session, StoreError};

/// Keeps nothing.
#[derive(Debug, Clone, Default)]
pub struct NoneStore {
    template: Arc<Session>,
}

impl NoneStore {
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
