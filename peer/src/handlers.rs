//! The routes: each parses its input, loads the cart from the session,
//! changes it, saves it and answers with the CartView.

use std::collections::BTreeMap;
use std::rc::Rc;

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::backend::WorkerRedis;
use super::cart::{Line, parse_properties, parse_quantity, parse_sku};
use super::request::{check_header_sizes, check_write, read_write};
use super::response::{ApiError, respond};
use super::session::{current_cookie_length, load, save};
use super::{MAX_LINES, MAX_QUANTITY, Peer};

/// `POST /cart/items`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddItem {
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
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetQuantity {
    quantity: i64,
}

/// `GET /cart`: the cart; an empty one (and no cookie) without a session.
pub async fn get_cart(req: HttpRequest, session: Session) -> Result<HttpResponse, ApiError> {
    check_header_sizes(&req)?;
    let cart = load(&session)?.unwrap_or_default();
    Ok(respond(&cart))
}

/// `POST /cart/items`: adds a line, or raises the quantity of the line with
/// the same sku and properties.
pub async fn add(
    req: HttpRequest,
    payload: web::Payload,
    session: Session,
    peer: web::Data<Peer>,
) -> Result<HttpResponse, ApiError> {
    let body: AddItem = read_write(&req, payload).await?;
    let line = Line::new(
        parse_sku(body.sku)?,
        parse_quantity(body.quantity)?,
        parse_properties(body.properties)?,
    );
    let mut cart = load(&session)?.unwrap_or_default();
    match cart.position(&line.key) {
        Some(i) => {
            let existing = &mut cart.lines[i];
            existing.quantity = existing
                .quantity
                .checked_add(line.quantity)
                .filter(|q| *q <= MAX_QUANTITY)
                .ok_or_else(|| {
                    ApiError::CartInvalid(format!("a line holds at most {MAX_QUANTITY} items"))
                })?;
        }
        None if cart.lines.len() >= MAX_LINES => {
            return Err(ApiError::CartTooLarge {
                detail: format!("A cart holds at most {MAX_LINES} lines; the cart is unchanged."),
                token_length: None,
                current_length: current_cookie_length(&req),
            });
        }
        None => cart.lines.push(line),
    }
    save(&req, &session, &peer, &mut cart)?;
    Ok(respond(&cart))
}

/// `PATCH /cart/items/{line}`: sets the quantity; 0 removes the line.
pub async fn set_quantity(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    session: Session,
    peer: web::Data<Peer>,
) -> Result<HttpResponse, ApiError> {
    let body: SetQuantity = read_write(&req, payload).await?;
    let mut cart = load(&session)?.ok_or(ApiError::LineNotFound)?;
    let i = cart.position(&path).ok_or(ApiError::LineNotFound)?;
    if body.quantity == 0 {
        cart.lines.remove(i);
    } else {
        cart.lines[i].quantity = parse_quantity(body.quantity)?;
    }
    save(&req, &session, &peer, &mut cart)?;
    Ok(respond(&cart))
}

/// `DELETE /cart/items/{line}`.
pub async fn remove(
    req: HttpRequest,
    path: web::Path<String>,
    session: Session,
    peer: web::Data<Peer>,
) -> Result<HttpResponse, ApiError> {
    check_write(&req, false)?;
    let mut cart = load(&session)?.ok_or(ApiError::LineNotFound)?;
    let i = cart.position(&path).ok_or(ApiError::LineNotFound)?;
    cart.lines.remove(i);
    save(&req, &session, &peer, &mut cart)?;
    Ok(respond(&cart))
}

/// `DELETE /cart`: empties the cart (and keeps the session, as cartseal keeps
/// the credential).
pub async fn clear(
    req: HttpRequest,
    session: Session,
    peer: web::Data<Peer>,
) -> Result<HttpResponse, ApiError> {
    check_write(&req, false)?;
    let mut cart = load(&session)?.unwrap_or_default();
    cart.lines.clear();
    save(&req, &session, &peer, &mut cart)?;
    Ok(respond(&cart))
}

/// `GET /healthz`.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// `GET /readyz`: in Redis mode, this worker's connection is up.
pub async fn readyz(req: HttpRequest) -> HttpResponse {
    let redis = req
        .app_data::<Option<Rc<WorkerRedis>>>()
        .and_then(Option::as_ref);
    let store = if redis.is_some() {
        "actix-session-redis"
    } else {
        "actix-session-cookie"
    };
    if let Some(redis) = redis
        && let Err(e) = redis.store().await
    {
        return HttpResponse::ServiceUnavailable()
            .content_type("application/problem+json")
            .json(serde_json::json!({
                "type": "https://cartseal.dev/problems/not_ready",
                "title": "Not ready",
                "status": 503,
                "code": "not_ready",
                "detail": format!("redis: {e}"),
            }));
    }
    HttpResponse::Ok().json(serde_json::json!({ "status": "ready", "store": store }))
}
