//! The interface every store implements (docs/architecture.md, "The store
//! interface").

use super::{Capabilities, Loaded, Result, Saved, Session, Turn};

/// One store: where a cart lives between requests.
pub trait CartStore: Send + Sync {
    /// What this store can do.
    fn capabilities(&self) -> Capabilities;

    /// Loads the session a credential names.
    fn load(&self, credential: &str, now: i64) -> impl Future<Output = Result<Loaded>>;

    /// Saves a session, under `credential` when the client has one, and
    /// returns the credential the client must hold from now on. A store
    /// that keeps the cart saves only if the cart is still as `session`
    /// was loaded ([`Session::stamp`]); otherwise it answers
    /// [`StoreError::Conflict`] and saves nothing.
    fn save(
        &self,
        credential: Option<&str>,
        session: &Session,
        now: i64,
    ) -> impl Future<Output = Result<Saved>>;

    /// Waits until no other write to the cart `credential` names runs
    /// through this store instance, and holds that turn until the [`Turn`]
    /// drops. A store that keeps carts queues its own writes this way, so
    /// that its compare-and-set settles only races between workers and
    /// replicas; the others have nothing to queue (`None`).
    fn turn(&self, credential: &str) -> impl Future<Output = Option<Turn>> {
        let _ = credential;
        std::future::ready(None)
    }

    /// Whether the store can serve requests now (for /readyz).
    fn ready(&self) -> impl Future<Output = Result<()>>;
}
