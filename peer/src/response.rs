//! The CartView and the problem+json errors, as cartseal writes them.

use std::collections::BTreeMap;

use actix_web::cookie::time::OffsetDateTime;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use super::cart::Cart;
use super::{BODY_MAX_BYTES, TOKEN_BUDGET};

#[derive(Serialize)]
struct ItemView<'a> {
    line: &'a str,
    sku: &'a str,
    quantity: u32,
    properties: &'a BTreeMap<String, String>,
    title: Option<&'a str>,
    unit_price: Option<u64>,
    line_price: Option<u64>,
}

#[derive(Serialize)]
struct CartView<'a> {
    items: Vec<ItemView<'a>>,
    item_count: u64,
    subtotal: Option<u64>,
    currency: Option<&'a str>,
    revision: u64,
    expires_at: Option<String>,
    token_length: Option<usize>,
    token_budget: usize,
}

/// 200 with the CartView (cartseal's, without a catalog: no titles or
/// prices; and no `token_length`, which the handler cannot know before
/// actix-session seals the cookie).
pub fn respond(cart: &Cart) -> HttpResponse {
    let view = CartView {
        items: cart
            .lines
            .iter()
            .map(|l| ItemView {
                line: &l.key,
                sku: &l.sku,
                quantity: l.quantity,
                properties: &l.properties,
                title: None,
                unit_price: None,
                line_price: None,
            })
            .collect(),
        item_count: cart.lines.iter().map(|l| u64::from(l.quantity)).sum(),
        subtotal: None,
        currency: None,
        revision: cart.revision,
        expires_at: cart.expires_at.and_then(rfc3339),
        token_length: None,
        token_budget: TOKEN_BUDGET,
    };
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view)
}

/// `2026-12-08T01:02:03Z`, as cartseal writes `expires_at`.
fn rfc3339(unix: i64) -> Option<String> {
    let t = OffsetDateTime::from_unix_timestamp(unix).ok()?;
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

/// The errors, as cartseal's problem+json (src/http/error.rs).
#[derive(Debug)]
pub enum ApiError {
    /// 400 `payload_invalid`.
    PayloadInvalid(String),
    /// 401 `token_invalid`: the stored cart cannot be used.
    TokenInvalid,
    /// 403 `csrf_rejected`.
    CsrfRejected(&'static str),
    /// 404 `line_not_found`.
    LineNotFound,
    /// 404 `not_found`.
    NotFound,
    /// 405 `method_not_allowed`.
    MethodNotAllowed,
    /// 413 `payload_too_large`.
    PayloadTooLarge,
    /// 413 `cart_too_large`.
    CartTooLarge {
        detail: String,
        token_length: Option<usize>,
        current_length: Option<usize>,
    },
    /// 422 `cart_invalid`.
    CartInvalid(String),
    /// An error of a check the peer takes from cartseal itself (431
    /// `header_too_large`, 403 `csrf_rejected`), answered as cartseal
    /// answers it.
    Service(cartseal::http::error::ApiError),
}

impl From<cartseal::http::error::ApiError> for ApiError {
    fn from(error: cartseal::http::error::ApiError) -> Self {
        Self::Service(error)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    status: u16,
    code: &'static str,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_length: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_budget: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    room_left: Option<usize>,
}

impl ApiError {
    fn code(&self) -> &'static str {
        match self {
            Self::PayloadInvalid(_) => "payload_invalid",
            Self::TokenInvalid => "token_invalid",
            Self::CsrfRejected(_) => "csrf_rejected",
            Self::LineNotFound => "line_not_found",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::CartTooLarge { .. } => "cart_too_large",
            Self::CartInvalid(_) => "cart_invalid",
            Self::Service(e) => e.code(),
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::PayloadInvalid(_) => "The request body is not valid",
            Self::TokenInvalid => "The cart token is not valid",
            Self::CsrfRejected(_) => "Cross-site request refused",
            Self::LineNotFound => "No such line in the cart",
            Self::NotFound => "No such endpoint",
            Self::MethodNotAllowed => "Method not allowed",
            Self::PayloadTooLarge => "The request body is too large",
            Self::CartTooLarge { .. } => "The cart would be too large",
            Self::CartInvalid(_) => "The cart change is not valid",
            Self::Service(_) => unreachable!("cartseal's errors answer as cartseal does"),
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::PayloadInvalid(d)
            | Self::CartInvalid(d)
            | Self::CartTooLarge { detail: d, .. } => d.clone(),
            Self::TokenInvalid => "Start a new cart: this token cannot be opened here.".into(),
            Self::CsrfRejected(why) => (*why).into(),
            Self::LineNotFound => {
                "The cart has no line with that key; the cart is unchanged.".into()
            }
            Self::NotFound => "See /openapi.json for the endpoints.".into(),
            Self::MethodNotAllowed => "See /openapi.json for the methods of this endpoint.".into(),
            Self::PayloadTooLarge => {
                format!("Request bodies are limited to {BODY_MAX_BYTES} bytes.")
            }
            Self::Service(_) => unreachable!("cartseal's errors answer as cartseal does"),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::PayloadInvalid(_) => StatusCode::BAD_REQUEST,
            Self::TokenInvalid => StatusCode::UNAUTHORIZED,
            Self::CsrfRejected(_) => StatusCode::FORBIDDEN,
            Self::LineNotFound | Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge | Self::CartTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::CartInvalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Service(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Service(e) = self {
            return e.error_response();
        }
        let status = self.status_code();
        let detail = self.detail();
        let (token_length, token_budget, room_left) = match self {
            Self::CartTooLarge {
                token_length,
                current_length,
                ..
            } => (
                *token_length,
                Some(TOKEN_BUDGET),
                current_length.map(|c| TOKEN_BUDGET.saturating_sub(c)),
            ),
            _ => (None, None, None),
        };
        HttpResponse::build(status)
            .content_type("application/problem+json")
            .json(Problem {
                kind: format!("https://cartseal.dev/problems/{}", self.code()),
                title: self.title(),
                status: status.as_u16(),
                code: self.code(),
                detail: &detail,
                token_length,
                token_budget,
                room_left,
            })
    }
}
