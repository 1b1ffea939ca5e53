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
use actix_web::http::header::CACHE_CONTROL;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};

use super::csrf;
use super::error::{ApiError, Room};
use super::state::AppState;
use super::transport::{self, Credential, Transport};
use super::view::{self, ViewMeta};
use crate::cart::{Cart, CartError, Limits};
use crate::catalog::Catalog;
use crate::store::{CartStore, Saved, Session, StoreError};

/// How many times a write is applied when other writes to the same cart
/// keep winning the compare-and-set: 8 attempts served 16 clients racing on
/// one cart without a 409 (tests/api/acceptance/races.rs).
pub const WRITE_ATTEMPTS: u32 = 8;

/// The header that carries the cart's revision on every cart response, so
/// that a client can keep the newest of the credentials it received
/// (README.md, "Bearer flow").
pub const CART_REVISION_HEADER: &str = "Cart-Revision";

/// A pause of a few hundred microseconds at most, random, before a write
/// runs again after losing a compare-and-set: writers that collided do not
/// collide again in lockstep.
async fn retry_pause(attempt: u32) {
    let most = 100u64 << attempt.min(6);
    let micros = rand::random_range(0..=most);
    tokio::time::sleep(std::time::Duration::from_micros(micros)).await;
}

/// The cart of one request, with everything its handler needs.
pub struct CartRequest {
    state: web::Data<AppState>,
    credential: Credential,
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

    /// The store, for a handler that opens a second credential (merge).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// `GET /cart`: the cart, re-sealed if its key is rotating out or it
    /// nears expiry. Without a credential, an empty cart and no token.
    pub async fn read(self) -> Result<HttpResponse, ApiError> {
        let Some(token) = self.credential.token.as_deref() else {
            return Ok(self.respond(&Session::default(), None));
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
        Ok(self.respond(&loaded.session, saved.as_ref()))
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
    ) -> Result<HttpResponse, ApiError> {
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
        for attempt in 1..=WRITE_ATTEMPTS {
            let mut session = match token {
                Some(token) => store.load(token, self.now).await?.session,
                None => Session::default(),
            };
            change(Arc::make_mut(&mut session.cart), self.limits())
                .map_err(|e| ApiError::from(e).with_room(room))?;
            session.revision = session.revision.saturating_add(1);
            match store.save(token, &session, self.now).await {
                Ok(saved) => return Ok(self.respond(&session, Some(&saved))),
                Err(StoreError::Conflict) if attempt < WRITE_ATTEMPTS => {
                    retry_pause(attempt).await;
                }
                Err(e) => return Err(ApiError::from(e).with_room(room)),
            }
        }
        unreachable!("the last attempt returns")
    }

    /// The response: the cart's view, and the new credential if any.
    fn respond(&self, session: &Session, saved: Option<&Saved>) -> HttpResponse {
        let meta = ViewMeta {
            revision: session.revision,
            expires_at: saved.map(|s| s.expires_at).or(session.expires_at),
            token_length: saved
                .map(|s| s.credential.len())
                .or(self.credential.held_len()),
            token_budget: self.limits().token_max_chars,
        };
        let view = view::render(&session.cart, self.catalog(), meta);
        let mut response = HttpResponse::build(StatusCode::OK);
        response.insert_header((CACHE_CONTROL, "no-store"));
        response.insert_header((CART_REVISION_HEADER, session.revision));
        if let Some(saved) = saved {
            transport::attach(
                &mut response,
                self.credential.transport,
                &self.state.settings.cookie,
                &saved.credential,
                saved.expires_at - self.now,
            );
        }
        response.json(view)
    }
}
