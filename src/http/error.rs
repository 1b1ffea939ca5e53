//! Every error the API returns, as RFC 9457 problem+json with a stable
//! `code`. Internal error text never reaches a response body.
//!
//! Each variant's status, code and title stand in one table
//! ([`ApiError::row`]). Lower layers' errors convert with `?`
//! ([`From<StoreError>`], [`From<CartError>`]); how a 401 is presented (a
//! cleared cookie, or `WWW-Authenticate`) depends on how the credential came
//! and is added by [`super::transport::challenge`], not carried here.

use std::borrow::Cow;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::cart::CartError;
use crate::store::StoreError;
use crate::token::{OpenError, Oversize};

/// What a handler answers: a response, or an error as problem+json.
pub type Answered<T = HttpResponse> = Result<T, ApiError>;

/// An API error. Each variant is one status and one code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 `token_invalid`: the credential cannot be used.
    #[error("token_invalid")]
    TokenInvalid,
    /// 401 `token_expired`.
    #[error("token_expired")]
    TokenExpired,
    /// 400 `credentials_ambiguous`: a cookie and a bearer token disagree.
    #[error("credentials_ambiguous")]
    CredentialsAmbiguous,
    /// 400 `payload_invalid`: the body is not the JSON this endpoint takes.
    #[error("payload_invalid")]
    PayloadInvalid(String),
    /// 403 `csrf_rejected`.
    #[error("csrf_rejected")]
    CsrfRejected(&'static str),
    /// 404 `line_not_found`.
    #[error("line_not_found")]
    LineNotFound,
    /// 404 `not_found`: no such endpoint.
    #[error("not_found")]
    NotFound,
    /// 405 `method_not_allowed`.
    #[error("method_not_allowed")]
    MethodNotAllowed {
        /// The methods the resource answers, for the `Allow` header.
        allow: String,
    },
    /// 408 `request_timeout`: the body did not arrive within
    /// `server.body_timeout_ms`.
    #[error("request_timeout")]
    RequestTimeout,
    /// 415 `unsupported_media_type`: a body that is not
    /// `application/json`.
    #[error("unsupported_media_type")]
    UnsupportedMediaType,
    /// 413 `payload_too_large`: the body is over `limits.body_max_bytes`.
    #[error("payload_too_large")]
    PayloadTooLarge { limit: usize },
    /// 413 `cart_too_large`: the write would break a size limit.
    #[error("cart_too_large")]
    CartTooLarge {
        /// What went over.
        detail: String,
        /// The token the write would have needed, when that is the limit.
        token_length: Option<usize>,
        /// The room the client's credential leaves, filled in by the write
        /// path that knows it.
        room: Option<Room>,
    },
    /// 409 `write_conflict`: other writes to the same cart kept winning the
    /// compare-and-set, every retry included.
    #[error("write_conflict")]
    WriteConflict,
    /// 422 `cart_invalid`.
    #[error("cart_invalid")]
    CartInvalid(String),
    /// 422 `duplicate_key`: an object of the body names a key twice.
    #[error("duplicate_key")]
    DuplicateKey {
        /// Where the second one ends in the body, as the JSON parser counts.
        line: usize,
        column: usize,
    },
    /// 422 `sku_unknown`.
    #[error("sku_unknown")]
    SkuUnknown,
    /// 431 `header_too_large`.
    #[error("header_too_large")]
    HeaderTooLarge { limit: usize },
    /// 503 `store_unavailable`.
    #[error("store_unavailable")]
    StoreUnavailable,
}

/// The token budget, and the length of the credential the client holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Room {
    /// `limits.token_max_chars`.
    pub budget: usize,
    /// The client's current credential, if it has one.
    pub current: Option<usize>,
}

/// One row of the error table.
struct Row {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: Cow<'static, str>,
}

const fn row(
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: Cow<'static, str>,
) -> Row {
    Row {
        status,
        code,
        title,
        detail,
    }
}

/// The body of every error: an RFC 9457 problem with a stable `code`.
// Its schema is the document's `Problem` (src/http/openapi.rs).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    status: u16,
    #[schema(schema_with = code_schema)]
    code: &'static str,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = usize, required = false)]
    token_length: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = usize, required = false)]
    token_budget: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = usize, required = false)]
    room_left: Option<usize>,
}

/// Every stable `code` a public endpoint answers with: those of the table
/// below, and `/readyz`'s `not_ready`. The document lists them as the
/// `Problem` schema's `code` enum.
pub const CODES: &[&str] = &[
    "token_invalid",
    "token_expired",
    "credentials_ambiguous",
    "payload_invalid",
    "csrf_rejected",
    "line_not_found",
    "not_found",
    "method_not_allowed",
    "payload_too_large",
    "write_conflict",
    "cart_too_large",
    "cart_invalid",
    "duplicate_key",
    "sku_unknown",
    "header_too_large",
    "store_unavailable",
    "request_timeout",
    "unsupported_media_type",
    "not_ready",
];

/// The `code` property: a string, one of [`CODES`].
fn code_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(CODES.iter().copied()))
        .build()
}

impl ApiError {
    /// The table: status, stable code, title and detail of each error.
    #[rustfmt::skip]
    fn row(&self) -> Row {
        use Cow::{Borrowed as B, Owned as O};
        use StatusCode as S;
        match self {
            Self::TokenInvalid => row(S::UNAUTHORIZED, "token_invalid", "The cart token is not valid",
                B("Start a new cart: this token cannot be opened here.")),
            Self::TokenExpired => row(S::UNAUTHORIZED, "token_expired", "The cart token has expired",
                B("Start a new cart: this cart has expired.")),
            Self::CredentialsAmbiguous => row(S::BAD_REQUEST, "credentials_ambiguous", "A cookie and a bearer token disagree",
                B("Send the cart token either as a cookie or as a bearer token, not two different ones.")),
            Self::PayloadInvalid(d) => row(S::BAD_REQUEST, "payload_invalid", "The request body is not valid",
                O(d.clone())),
            Self::CsrfRejected(why) => row(S::FORBIDDEN, "csrf_rejected", "Cross-site request refused",
                B(why)),
            Self::LineNotFound => row(S::NOT_FOUND, "line_not_found", "No such line in the cart",
                B("The cart has no line with that key; the cart is unchanged.")),
            Self::NotFound => row(S::NOT_FOUND, "not_found", "No such endpoint",
                B("See /openapi.json for the endpoints.")),
            Self::MethodNotAllowed { .. } => row(S::METHOD_NOT_ALLOWED, "method_not_allowed", "Method not allowed",
                B("See /openapi.json for the methods of this endpoint.")),
            Self::RequestTimeout => row(S::REQUEST_TIMEOUT, "request_timeout", "The request body did not arrive in time",
                B("Send the whole body promptly; the cart is unchanged.")),
            Self::PayloadTooLarge { limit } => row(S::PAYLOAD_TOO_LARGE, "payload_too_large", "The request body is too large",
                O(format!("Request bodies are limited to {limit} bytes."))),
            Self::UnsupportedMediaType => row(S::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "The request body must be JSON",
                B("Send the body as Content-Type: application/json.")),
            Self::CartTooLarge { detail, .. } => row(S::PAYLOAD_TOO_LARGE, "cart_too_large", "The cart would be too large",
                O(detail.clone())),
            Self::WriteConflict => row(S::CONFLICT, "write_conflict", "The cart kept changing during this write",
                B("Other writes to this cart kept changing it; nothing was changed by this one. Retry it.")),
            Self::CartInvalid(d) => row(S::UNPROCESSABLE_ENTITY, "cart_invalid", "The cart change is not valid",
                O(d.clone())),
            Self::DuplicateKey { line, column } => row(S::UNPROCESSABLE_ENTITY, "duplicate_key", "A JSON object names a key twice",
                O(format!("An object in the body names the same key twice (line {line}, column {column}); parsers disagree on which value counts, so send each key once. The cart is unchanged."))),
            Self::SkuUnknown => row(S::UNPROCESSABLE_ENTITY, "sku_unknown", "Unknown product",
                B("The catalog has no product with that sku.")),
            Self::HeaderTooLarge { limit } => row(S::REQUEST_HEADER_FIELDS_TOO_LARGE, "header_too_large", "A request header is too large",
                O(format!("Cookie and Authorization headers are limited to {limit} bytes."))),
            Self::StoreUnavailable => row(S::SERVICE_UNAVAILABLE, "store_unavailable", "The cart store is unavailable",
                B("The cart store did not answer in time; retry shortly.")),
        }
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.row().code
    }

    /// Fills in the room a client's credential leaves, for a 413
    /// `cart_too_large`; other errors pass through.
    pub fn with_room(mut self, room: Room) -> Self {
        if let Self::CartTooLarge { room: slot, .. } = &mut self {
            *slot = Some(room);
        }
        self
    }
}

impl From<OpenError> for ApiError {
    /// The reason goes to the debug log and a metric label, never to the
    /// client.
    fn from(error: OpenError) -> Self {
        log::debug!("credential refused: {}", error.label());
        match error {
            OpenError::Expired => Self::TokenExpired,
            OpenError::Invalid(_) => Self::TokenInvalid,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Credential(e) => e.into(),
            StoreError::TooLarge(Oversize::Token { length, budget }) => Self::CartTooLarge {
                detail: format!(
                    "The cart would need a {length}-character token and the budget is {budget}; remove a line or shorten its properties."
                ),
                token_length: Some(length),
                room: None,
            },
            StoreError::TooLarge(Oversize::Inflated { length, cap }) => Self::CartTooLarge {
                detail: format!(
                    "The cart would hold {length} bytes of lines and properties, over the {cap} a cart may hold; remove a line or shorten its properties."
                ),
                token_length: None,
                room: None,
            },
            StoreError::TooLarge(Oversize::Stored { length, cap }) => Self::CartTooLarge {
                detail: format!(
                    "The cart would be stored as {length} bytes, {} the cart store takes; remove a line or shorten its properties.",
                    match cap {
                        Some(cap) => format!("over the {cap}"),
                        None => "more than".into(),
                    }
                ),
                token_length: None,
                room: None,
            },
            StoreError::Unavailable(reason) => {
                log::warn!("store unavailable: {reason}");
                Self::StoreUnavailable
            }
            StoreError::Conflict => Self::WriteConflict,
        }
    }
}

impl From<CartError> for ApiError {
    fn from(error: CartError) -> Self {
        match error {
            CartError::LineNotFound => Self::LineNotFound,
            CartError::TooManyLines { max } => Self::CartTooLarge {
                detail: format!("A cart holds at most {max} lines; the cart is unchanged."),
                token_length: None,
                room: None,
            },
            e @ (CartError::Invalid(_)
            | CartError::QuantityTooLarge { .. }
            | CartError::KeyCollision(_)) => Self::CartInvalid(e.to_string()),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.row().status
    }

    fn error_response(&self) -> HttpResponse {
        let row = self.row();
        let (token_length, room) = match self {
            Self::CartTooLarge {
                token_length, room, ..
            } => (*token_length, *room),
            _ => (None, None),
        };
        let problem = Problem {
            kind: format!("https://cartseal.dev/problems/{}", row.code),
            title: row.title,
            status: row.status.as_u16(),
            code: row.code,
            detail: &row.detail,
            token_length,
            token_budget: room.map(|r| r.budget),
            room_left: room.and_then(|r| r.current.map(|c| r.budget.saturating_sub(c))),
        };
        let mut response = HttpResponse::build(row.status);
        response.content_type("application/problem+json");
        match self {
            Self::StoreUnavailable => {
                response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
            }
            Self::MethodNotAllowed { allow } => {
                response.insert_header((header::ALLOW, allow.as_str()));
            }
            _ => {}
        }
        response.json(problem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write that kept losing the compare-and-set is a 409 with its own
    /// code, listed in the OpenAPI document the contract test checks.
    #[test]
    fn a_conflict_is_409_write_conflict_and_documented() {
        let error = ApiError::from(StoreError::Conflict);
        assert_eq!(error.status_code(), StatusCode::CONFLICT);
        assert_eq!(error.code(), "write_conflict");
        let openapi: serde_json::Value =
            serde_json::from_slice(&crate::http::openapi::json()).expect("JSON");
        let codes = &openapi["components"]["schemas"]["Problem"]["properties"]["code"]["enum"];
        assert!(
            codes
                .as_array()
                .expect("an enum")
                .contains(&"write_conflict".into())
        );
    }
}
