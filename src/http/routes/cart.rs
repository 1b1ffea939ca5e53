//! The cart endpoints. Each takes a [`CartRequest`], which brings the
//! credential, the CSRF rule and the write path, and, when it reads a body,
//! a [`JsonBody`]. Errors convert with `?`.

use std::collections::BTreeMap;

use actix_web::http::header::CACHE_CONTROL;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::cart::Line;
use crate::http::cart_request::{CART_REVISION_HEADER, CartRequest};
use crate::http::error::ApiError;
use crate::http::json_body::JsonBody;
use crate::http::route;
use crate::http::state::AppState;
use crate::http::transport::{self, CART_TOKEN_HEADER, Transport};
use crate::http::view::{self, ViewMeta};
use crate::store::{CartStore, Session};

/// `POST /cart/items`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddItem {
    sku: String,
    #[serde(default = "one", deserialize_with = "whole_number")]
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
    #[serde(deserialize_with = "whole_number")]
    quantity: i64,
}

/// A whole number as JSON Schema's `integer` has it: `3` or `3.0`. One out
/// of `i64`'s range is kept at the range's end, for the cart's own range
/// check to refuse (422).
fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)?;
    number
        .as_i64()
        .or_else(|| {
            number
                .as_f64()
                .filter(|f| f.fract() == 0.0)
                .map(|f| f as i64)
        })
        .ok_or_else(|| serde::de::Error::custom("a whole number"))
}

/// `POST /cart/merge`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Merge {
    token: String,
}

/// `GET /cart`.
pub async fn get(cart: CartRequest) -> Result<HttpResponse, ApiError> {
    cart.read().await
}

/// `POST /cart/items`: adds a line, or raises the quantity of the line with
/// the same sku and properties.
pub async fn add(
    cart: CartRequest,
    JsonBody(body): JsonBody<AddItem>,
) -> Result<HttpResponse, ApiError> {
    let line = Line::parse(&body.sku, body.quantity, body.properties, cart.limits())?;
    if cart
        .catalog()
        .is_some_and(|catalog| catalog.get(line.sku()).is_none())
    {
        return Err(ApiError::SkuUnknown);
    }
    cart.write(|cart, limits| cart.add(line.clone(), limits).map(drop))
        .await
}

/// `PATCH /cart/items/{line}`: sets the quantity; 0 removes the line.
pub async fn set_quantity(
    cart: CartRequest,
    line: web::Path<String>,
    JsonBody(body): JsonBody<SetQuantity>,
) -> Result<HttpResponse, ApiError> {
    cart.write(|cart, limits| cart.set_quantity(&line, body.quantity, limits))
        .await
}

/// `DELETE /cart/items/{line}`.
pub async fn remove(cart: CartRequest, line: web::Path<String>) -> Result<HttpResponse, ApiError> {
    cart.write(|cart, _| cart.remove(&line)).await
}

/// `DELETE /cart`: empties the cart.
pub async fn clear(cart: CartRequest) -> Result<HttpResponse, ApiError> {
    cart.write(|cart, _| {
        cart.clear();
        Ok(())
    })
    .await
}

/// `POST /cart/merge`: merges another cart (a guest cart at log-in, or
/// another device's) into this one.
pub async fn merge(
    cart: CartRequest,
    JsonBody(body): JsonBody<Merge>,
) -> Result<HttpResponse, ApiError> {
    let other = cart.open_other(&body.token).await?;
    cart.write(|cart, limits| cart.merge(&other, limits)).await
}

/// `POST /cart`: a fresh cart for a bearer client. It sets no cookie.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // No credential is read, but the headers obey the same limits.
    transport::check_header_sizes(&req, &state.settings.limits)?;
    let now = state.now();
    let session = Session::default();
    let saved = state.store.save(None, &session, now).await?;
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
    let key = route::read(&req, Transport::Bearer).unwrap_or_else(route::issue);
    Ok(HttpResponse::Created()
        .insert_header((CART_TOKEN_HEADER, saved.credential.as_str()))
        .insert_header((CART_REVISION_HEADER, session.revision))
        .insert_header((route::ROUTE_HEADER, key))
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(body))
}
