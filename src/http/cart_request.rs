//! [`CartRequest`]: the extractor every cart route takes, and the one path
//! a write follows: credential, CSRF, body, load, change, save, respond.
//!
//! Extracting it reads the credential (header sizes first), refuses a
//! cookie and a bearer token that disagree, and applies the CSRF rule to
//! every cookie-mode request whose method can change a cart. A route that
//! takes it cannot forget any of these. A refused write issues no new
//! credential, so the client keeps the cart it had.

use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, ContentType};
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};

use super::error::{Answered, ApiError, Room};
use super::state::AppState;
use super::transport::{self, Credential, Transport};
use super::view::{self, ViewMeta};
use super::{csrf, route};
use crate::cart::{Cart, CartError, Limits};
use crate::catalog::Catalog;
use crate::store::{CartStore, Memo, Saved, Session, StoreError};

/// How many times a write is applied when other writes to the same cart
/// keep winning the compare-and-set. Writes to one cart take turns within
/// a worker, so conflicts come from other replicas; a replica whose own
/// queue of writes is long commits back to back, and 8 attempts, waiting
/// up to 12 ms in all, let a write on another replica lose every time on
/// a busy machine (a 409 in tests/api/acceptance/races.rs). 16 attempts
/// wait up to about 130 ms in all, longer than such a queue lasts.
pub const WRITE_ATTEMPTS: u32 = 16;

/// The header that carries the cart's revision on every cart response, so
/// that a client can keep the newest of the credentials it received
/// (README.md, "Bearer flow").
pub const CART_REVISION_HEADER: &str = "Cart-Revision";

/// A random pause before a write runs again after losing a
/// compare-and-set, up to 100 µs doubled with each attempt (12.8 ms at
/// most): writers that collided do not collide again in lockstep, and a
/// writer that keeps losing waits out the other replica's queue.
async fn retry_pause(attempt: u32) {
    let most = 100u64 << attempt.min(7);
    let micros = rand::random_range(0..=most);
    tokio::time::sleep(std::time::Duration::from_micros(micros)).await;
}

/// The cart of one request, with everything its handler needs.
pub struct CartRequest {
    state: web::Data<AppState>,
    credential: Credential,
    /// The routing key the client brought, if well-formed ([`route`]).
    route: Option<String>,
    /// The catalog as this request sees it: one snapshot for the whole
    /// request, even if a reload swaps it meanwhile.
    catalog: Option<Arc<Catalog>>,
    now: i64,
}

impl FromRequest for CartRequest {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::extract(req))
    }
}

impl CartRequest {
    fn extract(req: &HttpRequest) -> Result<Self, ApiError> {
        let state = req
            .app_data::<web::Data<AppState>>()
            .expect("the app registers its state")
            .clone();
        let settings = &state.settings;
        let credential = Credential::read(req, &settings.limits, settings.cookie.name())?;
        if credential.transport == Transport::Cookie {
            csrf::check(req, &settings.cors)?;
        }
        Ok(Self {
            catalog: state.catalog.load_full(),
            now: state.now(),
            route: route::read(req, credential.transport),
            state,
            credential,
        })
    }

    /// The limits every change is checked against.
    pub fn limits(&self) -> &Limits {
        &self.state.settings.limits
    }

    /// The catalog snapshot of this request.
    pub fn catalog(&self) -> Option<&Catalog> {
        self.catalog.as_deref()
    }

    /// Opens a second credential, the cart a merge takes its lines from, in
    /// the store this request's cart lives in and at this request's time.
    /// That credential failing is not this request's credential failing:
    /// anything but an outage is `422 cart_invalid`, so the client keeps its
    /// own cart (and cookie); an outage is `503 store_unavailable`.
    pub async fn open_other(&self, token: &str) -> Result<Arc<Cart>, ApiError> {
        let unusable = || {
            ApiError::CartInvalid("The cart to merge cannot be opened (invalid or expired).".into())
        };
        if token.len() > self.limits().token_max_chars {
            return Err(unusable());
        }
        match self.state.store.load(token, self.now).await {
            Ok(loaded) => Ok(loaded.session.cart),
            Err(e @ StoreError::Unavailable(_)) => Err(e.into()),
            Err(e) => {
                log::debug!("merge source refused: {e:?}");
                Err(unusable())
            }
        }
    }

    /// `GET /cart`: the cart, re-sealed if its key is rotating out or it
    /// nears expiry. Without a credential, an empty cart and no token.
    pub async fn read(self) -> Answered {
        let Some(token) = self.credential.token.as_deref() else {
            return Ok(self.respond(&Session::default(), None, None));
        };
        let loaded = self.state.store.load(token, self.now).await?;
        let saved = match loaded.reseal {
            // A read never fails because a re-seal did: the old token still
            // opens, so serve the cart and try again on the next request.
            Some(_) => self
                .state
                .store
                .save(Some(token), &loaded.session, self.now)
                .await
                .ok(),
            None => None,
        };
        match saved {
            Some(saved) => Ok(self.respond(&loaded.session, Some(saved), None)),
            None => Ok(self.respond(&loaded.session, None, loaded.memo)),
        }
    }

    /// Loads the cart, applies `change`, saves it and answers with the new
    /// cart and credential. Any refusal leaves the client's cart as it was.
    ///
    /// A store that keeps the cart saves it only if no other write saved it
    /// since this one loaded it; when another did, `change` (an operation,
    /// such as "add this line", not a whole cart) is applied again to the
    /// cart as that write left it, up to [`WRITE_ATTEMPTS`] times, and then
    /// the write is refused with 409 `write_conflict` (docs/architecture.md,
    /// "Concurrent writes"). Writes to one stored cart through one worker
    /// wait for their turn first, so the retries settle only races between
    /// workers and replicas.
    pub async fn write(
        self,
        change: impl Fn(&mut Cart, &Limits) -> Result<(), CartError>,
    ) -> Answered {
        let room = Room {
            budget: self.limits().token_max_chars,
            current: self.credential.held_len(),
        };
        let store = &self.state.store;
        let token = self.credential.token.as_deref();
        // This worker's writes to one stored cart run one at a time.
        let _turn = match token {
            Some(token) => store.turn(token).await,
            None => None,
        };
        let mut attempt = 1;
        loop {
            let mut session = match token {
                Some(token) => store.load(token, self.now).await?.session,
                None => Session::default(),
            };
            change(Arc::make_mut(&mut session.cart), self.limits())
                .map_err(|e| ApiError::from(e).with_room(room))?;
            session.revision = session.revision.saturating_add(1);
            match store.save(token, &session, self.now).await {
                Ok(saved) => return Ok(self.respond(&session, Some(saved), None)),
                // After the last attempt, a conflict falls through to the
                // next arm: 409 `write_conflict`.
                Err(StoreError::Conflict) if attempt < WRITE_ATTEMPTS => {
                    retry_pause(attempt).await;
                    attempt += 1;
                }
                Err(e) => return Err(ApiError::from(e).with_room(room)),
            }
        }
    }

    /// The response: the cart's view, and the new credential if any.
    ///
    /// The body is what a read of the credential the client now holds
    /// renders, so it is kept in the memo that comes with it (a read's, or
    /// a new token's) and a later read of that credential against the same
    /// catalog copies it instead of rendering it again.
    fn respond(&self, session: &Session, saved: Option<Saved>, memo: Option<Memo>) -> HttpResponse {
        let (memo, memo_token) = match &saved {
            Some(saved) => (saved.memo.as_ref(), Some(saved.credential.as_str())),
            None => (memo.as_ref(), self.credential.token.as_deref()),
        };
        let tag = self.catalog.as_ref().map_or(0, |c| c.generation());
        let body = match memo.and_then(|m| m.body(tag)) {
            Some(body) => body,
            None => {
                let meta = ViewMeta {
                    revision: session.revision,
                    expires_at: saved.as_ref().map(|s| s.expires_at).or(session.expires_at),
                    token_length: saved
                        .as_ref()
                        .map(|s| s.credential.len())
                        .or(self.credential.held_len()),
                    token_budget: self.limits().token_max_chars,
                };
                let body = Bytes::from(view::render_json(&session.cart, self.catalog(), meta));
                if let (Some(memo), Some(token)) = (memo, memo_token) {
                    memo.keep(token, tag, body.clone());
                }
                body
            }
        };
        let mut response = HttpResponse::build(StatusCode::OK);
        response.insert_header((CACHE_CONTROL, "no-store"));
        response.insert_header((CART_REVISION_HEADER, session.revision));
        if let Some(saved) = &saved {
            transport::attach(
                &mut response,
                self.credential.transport,
                &self.state.settings.cookie,
                &saved.credential,
                saved.expires_at - self.now,
            );
            // A client that holds a credential holds a routing key too.
            if self.route.is_none() {
                route::attach(
                    &mut response,
                    self.credential.transport,
                    &self.state.settings.cookie,
                    &route::issue(),
                    self.state.settings.token.absolute_ttl_secs,
                );
            }
        }
        response.content_type(ContentType::json()).body(body)
    }
}
