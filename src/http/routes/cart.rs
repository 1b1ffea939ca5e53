//! The cart endpoints. Each takes a [`CartRequest`], which brings the
//! credential, the CSRF rule and the write path, and, when it reads a body,
//! a [`JsonBody`]. Errors convert with `?`.

use std::collections::BTreeMap;

use actix_web::http::header::CACHE_CONTROL;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::cart::Line;
use crate::http::cart_request::{CART_REVISION_HEADER, CartRequest};
use crate::http::error::{Answered, ApiError};
use crate::http::json_body::JsonBody;
use crate::http::openapi::{self, BodyWriteAnswers, CartAnswer, FreshCart, ProblemAnswer};
use crate::http::route;
use crate::http::state::AppState;
use crate::http::transport::{self, CART_TOKEN_HEADER, Transport};
use crate::http::view::{self, CartView, ViewMeta};
use crate::store::{CartStore, Session};

/// The body of `POST /cart/items`: a line to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddItem {
    /// A sku of the catalog, when one is configured (else 422 sku_unknown).
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    sku: String,
    #[serde(default = "one", deserialize_with = "whole_number")]
    #[schema(minimum = 1, maximum = 999, default = 1)]
    quantity: i64,
    #[serde(default)]
    #[schema(schema_with = openapi::line_properties)]
    properties: BTreeMap<String, String>,
}

/// The `line` path parameter.
const LINE_PARAMETER: &str = "The line key from CartView.items[].line: the sku, or the sku, `~` and 12 hex digits. An unknown key is 404 line_not_found.";

fn one() -> i64 {
    1
}

/// The body of `PATCH /cart/items/{line}`: the line's new quantity.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetQuantity {
    #[serde(deserialize_with = "whole_number")]
    /// The new quantity; 0 removes the line.
    #[schema(minimum = 0, maximum = 999)]
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

/// The body of `POST /cart/merge`: the cart to merge.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Merge {
    /// The credential of the cart to merge into this one. One that cannot be
    /// opened is 422 cart_invalid; the caller's own cart is untouched.
    #[schema(max_length = 3800)]
    token: String,
}

/// The answer of `POST /cart`: a fresh cart and its token.
#[derive(Debug, Serialize, ToSchema)]
pub struct Created<'a> {
    token: &'a str,
    cart: CartView<'a>,
}

/// `GET /cart`.
#[utoipa::path(get, path = "/cart",
    summary = "Read the cart (empty, with no token issued, when there is no credential)",
    responses((status = 200, response = inline(CartAnswer)), (status = 400, response = ProblemAnswer),
        (status = 401, response = ProblemAnswer), (status = 431, response = ProblemAnswer),
        (status = 503, response = ProblemAnswer)),
    security((), ("bearer" = []), ("cookie" = [])))]
pub async fn get(cart: CartRequest) -> Answered {
    cart.read().await
}

/// `POST /cart/items`: adds a line, or raises the quantity of the line with
/// the same sku and properties.
#[utoipa::path(post, path = "/cart/items",
    summary = "Add a line, or raise the quantity of the line with the same sku and properties",
    request_body = AddItem,
    responses(BodyWriteAnswers),
    security((), ("bearer" = []), ("cookie" = [])))]
pub async fn add(cart: CartRequest, JsonBody(body): JsonBody<AddItem>) -> Answered {
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
#[utoipa::path(patch, path = "/cart/items/{line}", summary = "Set the quantity (0 removes the line)",
    params(("line" = String, Path, description = LINE_PARAMETER)),
    request_body = inline(SetQuantity),
    responses((status = 200, response = inline(CartAnswer)), (status = 400, response = ProblemAnswer),
        (status = 401, response = ProblemAnswer), (status = 403, response = ProblemAnswer),
        (status = 404, response = ProblemAnswer), (status = 408, response = ProblemAnswer),
        (status = 409, response = ProblemAnswer), (status = 413, response = ProblemAnswer),
        (status = 415, response = ProblemAnswer), (status = 422, response = ProblemAnswer),
        (status = 431, response = ProblemAnswer), (status = 503, response = ProblemAnswer)),
    security((), ("bearer" = []), ("cookie" = [])))]
pub async fn set_quantity(
    cart: CartRequest,
    line: web::Path<String>,
    JsonBody(body): JsonBody<SetQuantity>,
) -> Answered {
    cart.write(|cart, limits| cart.set_quantity(&line, body.quantity, limits))
        .await
}

/// `DELETE /cart/items/{line}`.
#[utoipa::path(delete, path = "/cart/items/{line}", summary = "Remove the line",
    params(("line" = String, Path, description = LINE_PARAMETER)),
    responses((status = 200, response = inline(CartAnswer)), (status = 400, response = ProblemAnswer),
        (status = 401, response = ProblemAnswer), (status = 403, response = ProblemAnswer),
        (status = 404, response = ProblemAnswer), (status = 409, response = ProblemAnswer),
        (status = 431, response = ProblemAnswer), (status = 503, response = ProblemAnswer)),
    security((), ("bearer" = []), ("cookie" = [])))]
pub async fn remove(cart: CartRequest, line: web::Path<String>) -> Answered {
    cart.write(|cart, _| cart.remove(&line)).await
}

/// `DELETE /cart`: empties the cart.
#[utoipa::path(delete, path = "/cart", summary = "Empty the cart",
    responses((status = 200, response = inline(CartAnswer)), (status = 400, response = ProblemAnswer),
        (status = 401, response = ProblemAnswer), (status = 403, response = ProblemAnswer),
        (status = 409, response = ProblemAnswer), (status = 431, response = ProblemAnswer),
        (status = 503, response = ProblemAnswer)),
    security((), ("bearer" = []), ("cookie" = [])))]
pub async fn clear(cart: CartRequest) -> Answered {
    cart.write(|cart, _| {
        cart.clear();
        Ok(())
    })
    .await
}

/// `POST /cart/merge`: merges another cart (a guest cart at log-in, or
/// another device's) into this one.
#[utoipa::path(post, path = "/cart/merge",
    summary = "Merge another cart (a guest cart at log-in, another device's) into this one",
    request_body = inline(Merge),
    responses(BodyWriteAnswers),
    security((), ("bearer" = []), ("cookie" = [])))]
pub async fn merge(cart: CartRequest, JsonBody(body): JsonBody<Merge>) -> Answered {
    let other = cart.open_other(&body.token).await?;
    cart.write(|cart, limits| cart.merge(&other, limits)).await
}

/// `POST /cart`: a fresh cart for a bearer client. It sets no cookie.
#[utoipa::path(post, path = "/cart", summary = "Create a fresh cart for a bearer client (sets no cookie)",
    responses((status = 201, response = inline(FreshCart)), (status = 431, response = ProblemAnswer),
        (status = 503, response = ProblemAnswer)))]
pub async fn create(req: HttpRequest, state: web::Data<AppState>) -> Answered {
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
    let body = Created {
        token: &saved.credential,
        cart: view::render(&session.cart, catalog.as_deref(), meta),
    };
    let key = route::read(&req, Transport::Bearer).unwrap_or_else(route::issue);
    Ok(HttpResponse::Created()
        .insert_header((CART_TOKEN_HEADER, saved.credential.as_str()))
        .insert_header((CART_REVISION_HEADER, session.revision))
        .insert_header((route::ROUTE_HEADER, key))
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(&body))
}
