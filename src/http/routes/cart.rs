//! The cart endpoints. Each write follows one path: credential, CSRF, body,
//! load, change, save, respond. A refused write issues no new credential,
//! so the client keeps the cart it had.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::cart::{Cart, Line, Properties, Quantity, Sku};
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::http::transport::{self, Credential, Transport};
use crate::http::view::{self, ViewMeta};
use crate::store::{CartStore, Saved, Session};

/// `POST /cart/items`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddItem {
    sku: String,
    #[serde(default = "one")]
    quantity: i64,
    #[serde(default)]
    properties: BTreeMap<String, String>,
}

fn one() -> i64 {
    1
}

/// `PATCH /cart/items/{line}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetQuantity {
    quantity: i64,
}

/// `POST /cart/merge`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Merge {
    token: String,
}

/// Reads a JSON body under `limits.body_max_bytes`.
async fn read_json<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<T, ApiError> {
    let limit = state.settings.limits.body_max_bytes;
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let body: Bytes = match payload.to_bytes_limited(limit).await {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => {
            return Err(ApiError::PayloadInvalid(
                "The request body could not be read.".into(),
            ));
        }
        Err(_) => return Err(ApiError::PayloadTooLarge { limit }),
    };
    if !transport::is_json(req) {
        return Err(ApiError::PayloadInvalid(
            "Send the body as Content-Type: application/json.".into(),
        ));
    }
    // Derived deserializers also take a struct as a positional array; the
    // contract is an object.
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(ApiError::PayloadInvalid(
            "The body must be a JSON object.".into(),
        ));
    }
    serde_json::from_slice(&body).map_err(|e| {
        ApiError::PayloadInvalid(format!(
            "The body is not the JSON this endpoint takes: {}.",
            describe_json_error(&e)
        ))
    })
}

/// A description of a JSON error that names the problem and where, without
/// echoing the client's data back.
fn describe_json_error(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match error.classify() {
        Category::Syntax | Category::Eof => "malformed JSON",
        Category::Data => "a field is missing, unknown, or of the wrong type or range",
        Category::Io => "unreadable body",
    };
    format!("{what} (line {}, column {})", error.line(), error.column())
}

/// The credential, with the CSRF rule applied to cookie-mode writes.
fn write_credential(
    req: &HttpRequest,
    state: &AppState,
    has_body: bool,
) -> Result<Credential, ApiError> {
    let credential = transport::credential(req, state)?;
    if credential.transport == Transport::Cookie {
        transport::check_csrf(req, state, has_body)?;
    }
    Ok(credential)
}

/// Renders the response: the view, plus the new credential if any.
fn respond(
    state: &AppState,
    status: StatusCode,
    transport: Transport,
    session: &Session,
    saved: Option<&Saved>,
    held: Option<&str>,
    now: i64,
) -> HttpResponse {
    let catalog = state.catalog.load();
    let meta = ViewMeta {
        revision: session.revision,
        expires_at: saved.map(|s| s.expires_at).or(session.expires_at),
        token_length: saved.map(|s| s.credential.len()).or(held.map(str::len)),
        token_budget: state.settings.limits.token_max_chars,
    };
    let view = view::render(&session.cart, catalog.as_deref(), meta);
    let mut response = HttpResponse::build(status);
    response.insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"));
    if let Some(saved) = saved {
        transport::attach(
            &mut response,
            transport,
            state,
            &saved.credential,
            saved.expires_at - now,
        );
    }
    response.json(view)
}

/// Loads, changes and saves the cart of this request.
async fn write(
    state: &AppState,
    credential: Credential,
    change: impl FnOnce(&mut Cart) -> Result<(), ApiError>,
) -> Result<HttpResponse, ApiError> {
    let now = state.now();
    let mut session = match &credential.token {
        Some(token) => state.load(token, credential.transport, now).await?.session,
        None => Session::default(),
    };
    // Both ways a write can outgrow the cart report the room the client's
    // current credential leaves.
    let with_room = |mut error: ApiError| {
        if let ApiError::CartTooLarge { current_length, .. } = &mut error {
            *current_length = credential.token.as_ref().map(String::len);
        }
        error
    };
    change(&mut session.cart).map_err(with_room)?;
    session.revision = session.revision.saturating_add(1);
    let saved = state
        .store
        .save(credential.token.as_deref(), &session, now)
        .await
        .map_err(|e| {
            with_room(ApiError::from_store(
                e,
                credential.transport,
                state.settings.cookie.name(),
                state.settings.limits.token_max_chars,
            ))
        })?;
    Ok(respond(
        state,
        StatusCode::OK,
        credential.transport,
        &session,
        Some(&saved),
        None,
        now,
    ))
}

/// `GET /cart`: the cart, re-sealed if its key is rotating out or it nears
/// expiry. Without a credential, an empty cart and no token.
pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let credential = transport::credential(&req, &state)?;
    let now = state.now();
    let Some(token) = credential.token.as_deref() else {
        return Ok(respond(
            &state,
            StatusCode::OK,
            credential.transport,
            &Session::default(),
            None,
            None,
            now,
        ));
    };
    let loaded = state.load(token, credential.transport, now).await?;
    let saved = match loaded.reseal {
        // A read never fails because a re-seal did: the old token still
        // opens, so serve the cart and try again on the next request.
        Some(_) => state
            .store
            .save(Some(token), &loaded.session, now)
            .await
            .ok(),
        None => None,
    };
    Ok(respond(
        &state,
        StatusCode::OK,
        credential.transport,
        &loaded.session,
        saved.as_ref(),
        Some(token),
        now,
    ))
}

/// `POST /cart`: a fresh cart for a bearer client. It sets no cookie.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // The credential is not used, but its headers obey the same limits.
    transport::check_header_sizes(&req, &state)?;
    let now = state.now();
    let session = Session::default();
    let saved = state.store.save(None, &session, now).await.map_err(|e| {
        ApiError::from_store(
            e,
            Transport::Bearer,
            state.settings.cookie.name(),
            state.settings.limits.token_max_chars,
        )
    })?;
    let catalog = state.catalog.load();
    let meta = ViewMeta {
        revision: session.revision,
        expires_at: Some(saved.expires_at),
        token_length: Some(saved.credential.len()),
        token_budget: state.settings.limits.token_max_chars,
    };
    let body = serde_json::json!({
        "token": saved.credential,
        "cart": view::render(&session.cart, catalog.as_deref(), meta),
    });
    Ok(HttpResponse::Created()
        .insert_header((transport::CART_TOKEN_HEADER, saved.credential.as_str()))
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(body))
}

/// `POST /cart/items`.
pub async fn add(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let credential = write_credential(&req, &state, true)?;
    let body: AddItem = read_json(&req, payload, &state).await?;
    let limits = &state.settings.limits;
    let budget = limits.token_max_chars;
    let line = Line::new(
        Sku::parse(&body.sku, limits).map_err(|e| ApiError::from_cart(e, budget))?,
        Quantity::parse(body.quantity, limits).map_err(|e| ApiError::from_cart(e, budget))?,
        Properties::parse(body.properties, limits).map_err(|e| ApiError::from_cart(e, budget))?,
    );
    if let Some(catalog) = state.catalog.load().as_deref()
        && catalog.get(line.sku().as_str()).is_none()
    {
        return Err(ApiError::SkuUnknown);
    }
    write(&state, credential, |cart| {
        cart.add(line, limits)
            .map(drop)
            .map_err(|e| ApiError::from_cart(e, budget))
    })
    .await
}

/// `PATCH /cart/items/{line}`: sets the quantity; 0 removes the line.
pub async fn set_quantity(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let credential = write_credential(&req, &state, true)?;
    let body: SetQuantity = read_json(&req, payload, &state).await?;
    let limits = &state.settings.limits;
    if credential.token.is_none() {
        return Err(ApiError::LineNotFound);
    }
    write(&state, credential, |cart| {
        cart.set_quantity(&path, body.quantity, limits)
            .map_err(|e| ApiError::from_cart(e, limits.token_max_chars))
    })
    .await
}

/// `DELETE /cart/items/{line}`.
pub async fn remove(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let credential = write_credential(&req, &state, false)?;
    if credential.token.is_none() {
        return Err(ApiError::LineNotFound);
    }
    let budget = state.settings.limits.token_max_chars;
    write(&state, credential, |cart| {
        cart.remove(&path)
            .map_err(|e| ApiError::from_cart(e, budget))
    })
    .await
}

/// `DELETE /cart`: empties the cart.
pub async fn clear(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let credential = write_credential(&req, &state, false)?;
    write(&state, credential, |cart| {
        cart.clear();
        Ok(())
    })
    .await
}

/// `POST /cart/merge`: merges another cart (a guest cart at log-in, or
/// another device's) into this one.
pub async fn merge(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let credential = write_credential(&req, &state, true)?;
    let body: Merge = read_json(&req, payload, &state).await?;
    if body.token.len() > state.settings.limits.token_max_chars {
        return Err(ApiError::CartInvalid(
            "The cart to merge cannot be opened.".into(),
        ));
    }
    // The other cart's token failing is not this cart's credential
    // failing: answer 422 and leave the client's own cart (and cookie) alone.
    let other = state
        .store
        .load(&body.token, state.now())
        .await
        .map_err(|e| match e {
            e @ crate::store::StoreError::Unavailable(_) => ApiError::from_store(
                e,
                credential.transport,
                state.settings.cookie.name(),
                state.settings.limits.token_max_chars,
            ),
            e => {
                log::debug!("merge source refused: {e:?}");
                ApiError::CartInvalid(
                    "The cart to merge cannot be opened (invalid or expired).".into(),
                )
            }
        })?;
    let limits = &state.settings.limits;
    write(&state, credential, |cart| {
        cart.merge(&other.session.cart, limits)
            .map_err(|e| ApiError::from_cart(e, limits.token_max_chars))
    })
    .await
}
