//! The session store of each worker.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use actix_session::storage::{
    CookieSessionStore, LoadError, RedisSessionStore, SaveError, SessionKey, SessionStore,
    UpdateError,
};
use actix_web::cookie::time::Duration as CookieDuration;

/// actix-session's `RedisSessionStore`, made lazily inside each worker: its
/// `ConnectionManager` is then driven by that worker's runtime, like
/// cartseal's per-worker Redis connection. (A store made once before
/// `HttpServer::new`, as actix-session's examples do, would run every Redis
/// round trip through the main thread's runtime.)
pub struct WorkerRedis {
    url: String,
    store: RefCell<Option<Rc<RedisSessionStore>>>,
}

impl WorkerRedis {
    pub fn new(url: &str) -> WorkerRedis {
        WorkerRedis {
            url: url.to_owned(),
            store: RefCell::new(None),
        }
    }

    pub async fn store(&self) -> anyhow::Result<Rc<RedisSessionStore>> {
        if let Some(store) = self.store.borrow().as_ref() {
            return Ok(store.clone());
        }
        let store = Rc::new(RedisSessionStore::new(self.url.as_str()).await?);
        *self.store.borrow_mut() = Some(store.clone());
        Ok(store)
    }
}

/// The session store of one worker: one middleware type for both modes.
pub enum Backend {
    Cookie(CookieSessionStore),
    Redis(Rc<WorkerRedis>),
}

impl SessionStore for Backend {
    async fn load(
        &self,
        session_key: &SessionKey,
    ) -> Result<Option<HashMap<String, String>>, LoadError> {
        match self {
            Backend::Cookie(store) => store.load(session_key).await,
            Backend::Redis(redis) => {
                let store = redis.store().await.map_err(LoadError::Other)?;
                store.load(session_key).await
            }
        }
    }

    async fn save(
        &self,
        session_state: HashMap<String, String>,
        ttl: &CookieDuration,
    ) -> Result<SessionKey, SaveError> {
        match self {
            Backend::Cookie(store) => store.save(session_state, ttl).await,
            Backend::Redis(redis) => {
                let store = redis.store().await.map_err(SaveError::Other)?;
                store.save(session_state, ttl).await
            }
        }
    }

    async fn update(
        &self,
        session_key: SessionKey,
        session_state: HashMap<String, String>,
        ttl: &CookieDuration,
    ) -> Result<SessionKey, UpdateError> {
        match self {
            Backend::Cookie(store) => store.update(session_key, session_state, ttl).await,
            Backend::Redis(redis) => {
                let store = redis.store().await.map_err(UpdateError::Other)?;
                store.update(session_key, session_state, ttl).await
            }
        }
    }

    async fn update_ttl(
        &self,
        session_key: &SessionKey,
        ttl: &CookieDuration,
    ) -> anyhow::Result<()> {
        match self {
            Backend::Cookie(store) => store.update_ttl(session_key, ttl).await,
            Backend::Redis(redis) => redis.store().await?.update_ttl(session_key, ttl).await,
        }
    }

    async fn delete(&self, session_key: &SessionKey) -> anyhow::Result<()> {
        match self {
            Backend::Cookie(store) => store.delete(session_key).await,
            Backend::Redis(redis) => redis.store().await?.delete(session_key).await,
        }
    }
}
