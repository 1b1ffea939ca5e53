//! Where a test keeps its carts on a server of their own: the one an
//! environment variable names, under a key prefix of the test's own, or a
//! private server. Redis and Memcached differ only in how a test starts one
//! and deletes its keys ([`Backend`]).

use std::ops::DerefMut;

use crate::process::{Daemon, Private, Target};

/// A kind of server the stores keep carts on, as the tests start and clean
/// it: `redis-server` or `memcached`.
pub trait Backend: Private + DerefMut<Target = Daemon> + Send + Sized + 'static {
    /// A private server on a free port; the test fails when it cannot
    /// start.
    fn start() -> Self;

    /// Deletes every key under `prefix` on the shared server at `url`, best
    /// effort: a test leaves no carts behind on a server it shares.
    fn forget(url: &str, prefix: &str);
}

/// The server a test keeps its carts on, and the key prefix of its own. On
/// a shared server, dropping it deletes the test's keys (best effort); a
/// private server dies with it.
pub struct StoreTarget<S: Backend> {
    server: Target<S>,
    /// Every key of this test starts with it.
    pub prefix: String,
}

impl<S: Backend> StoreTarget<S> {
    /// The server the environment variable names when it is set, else a
    /// private one; keys under `cartseal:<label>:<random>:`.
    pub fn shared_or_private(label: &str) -> Self {
        let server = Target::from_env_or(|| Ok(S::start())).unwrap_or_else(|e| panic!("{e}"));
        Self::with_server(server, label)
    }

    /// A private server even when the environment variable is set: for a
    /// test that stops or restarts it.
    pub fn private(label: &str) -> Self {
        Self::with_server(Target::private(S::start()), label)
    }

    /// Keys under `cartseal:<label>:<random>:` on `server`.
    pub(super) fn with_server(server: Target<S>, label: &str) -> Self {
        Self {
            server,
            prefix: format!("cartseal:{label}:{}:", cartseal::ids::random()),
        }
    }

    pub fn url(&self) -> &str {
        self.server.url()
    }

    /// The key of a session id.
    pub fn key(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }

    /// Kills the private server and starts an empty one on the same port,
    /// off the runtime (a server under test may drive its connections on
    /// it).
    pub async fn restart(&mut self) {
        let mut server = self
            .server
            .take_server()
            .expect("a private server of the test's own to restart");
        let server = tokio::task::spawn_blocking(move || {
            server.restart();
            server
        })
        .await
        .expect("the server restarts");
        self.server.put_server(server);
    }
}

impl<S: Backend> Drop for StoreTarget<S> {
    fn drop(&mut self) {
        if self.server.server().is_none() {
            S::forget(self.url(), &self.prefix);
        }
    }
}
