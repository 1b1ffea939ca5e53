//! Every error the API returns, as RFC 9457 problem+json with a stable
//! `code`. Internal error text never reaches a response body.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use super::transport::Transport;
use crate::cart::CartError;
use crate::store::StoreError;
use crate::token::{OpenError, Oversize};

/// An API error. Each variant is one status and one code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 `token_invalid`: the credential cannot be used.
    #[error("token_invalid")]
    TokenInvalid {
        /// How the credential came, which decides how it is cleared.
        transport: Transport,
        /// The cookie to clear in cookie mode.
        cookie_name: &'static str,
    },
    /// 401 `token_expired`.
    #[error("token_expired")]
    TokenExpired {
        /// How the credential came.
        transport: Transport,
        /// The cookie to clear in cookie mode.
        cookie_name: &'static str,
    },
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
    MethodNotAllowed,
    /// 413 `payload_too_large`: the body is over `limits.body_max_bytes`.
    #[error("payload_too_large")]
    PayloadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// 413 `cart_too_large`: the write would break a size limit.
    #[error("cart_too_large")]
    CartTooLarge {
        /// What went over.
        detail: String,
        /// The token the write would have needed, when that is the limit.
        token_length: Option<usize>,
        /// The token budget.
        token_budget: usize,
        /// The client's current token length, if it has one.
        current_length: Option<usize>,
    },
    /// 422 `cart_invalid`.
    #[error("cart_invalid")]
    CartInvalid(String),
    /// 422 `sku_unknown`.
    #[error("sku_unknown")]
    SkuUnknown,
    /// 431 `header_too_large`.
    #[error("header_too_large")]
    HeaderTooLarge {
        /// The limit.
        limit: usize,
    },
    /// 503 `store_unavailable`.
    #[error("store_unavailable")]
    StoreUnavailable,
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
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TokenInvalid { .. } => "token_invalid",
            Self::TokenExpired { .. } => "token_expired",
            Self::CredentialsAmbiguous => "credentials_ambiguous",
            Self::PayloadInvalid(_) => "payload_invalid",
            Self::CsrfRejected(_) => "csrf_rejected",
            Self::LineNotFound => "line_not_found",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::CartTooLarge { .. } => "cart_too_large",
            Self::CartInvalid(_) => "cart_invalid",
            Self::SkuUnknown => "sku_unknown",
            Self::HeaderTooLarge { .. } => "header_too_large",
            Self::StoreUnavailable => "store_unavailable",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::TokenInvalid { .. } => "The cart token is not valid",
            Self::TokenExpired { .. } => "The cart token has expired",
            Self::CredentialsAmbiguous => "A cookie and a bearer token disagree",
            Self::PayloadInvalid(_) => "The request body is not valid",
            Self::CsrfRejected(_) => "Cross-site request refused",
            Self::LineNotFound => "No such line in the cart",
            Self::NotFound => "No such endpoint",
            Self::MethodNotAllowed => "Method not allowed",
            Self::PayloadTooLarge { .. } => "The request body is too large",
            Self::CartTooLarge { .. } => "The cart would be too large",
            Self::CartInvalid(_) => "The cart change is not valid",
            Self::SkuUnknown => "Unknown product",
            Self::HeaderTooLarge { .. } => "A request header is too large",
            Self::StoreUnavailable => "The cart store is unavailable",
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::TokenInvalid { .. } => "Start a new cart: this token cannot be opened here.".into(),
            Self::TokenExpired { .. } => "Start a new cart: this cart has expired.".into(),
            Self::CredentialsAmbiguous => {
                "Send the cart token either as a cookie or as a bearer token, not two different ones.".into()
            }
            Self::PayloadInvalid(d) | Self::CartInvalid(d) | Self::CartTooLarge { detail: d, .. } => d.clone(),
            Self::CsrfRejected(why) => (*why).into(),
            Self::LineNotFound => "The cart has no line with that key; the cart is unchanged.".into(),
            Self::NotFound => "See /openapi.json for the endpoints.".into(),
            Self::MethodNotAllowed => "See /openapi.json for the methods of this endpoint.".into(),
            Self::PayloadTooLarge { limit } => format!("Request bodies are limited to {limit} bytes."),
            Self::SkuUnknown => "The catalog has no product with that sku.".into(),
            Self::HeaderTooLarge { limit } => {
                format!("Cookie and Authorization headers are limited to {limit} bytes.")
            }
            Self::StoreUnavailable => "The cart store did not answer in time; retry shortly.".into(),
        }
    }

    /// Maps a store failure, given how the credential came.
    pub fn from_store(
        error: StoreError,
        transport: Transport,
        cookie_name: &'static str,
        token_budget: usize,
    ) -> Self {
        match error {
            StoreError::Credential(e) => Self::from_open(e, transport, cookie_name),
            StoreError::TooLarge(Oversize::Token { length, budget }) => Self::CartTooLarge {
                detail: format!(
                    "The cart would need a {length}-character token and the budget is {budget}; remove a line or shorten its properties."
                ),
                token_length: Some(length),
                token_budget: budget,
                current_length: None,
            },
            StoreError::TooLarge(Oversize::Inflated { length, cap }) => Self::CartTooLarge {
                detail: format!(
                    "The cart would hold {length} bytes of lines and properties, over the {cap} a cart may hold; remove a line or shorten its properties."
                ),
                token_length: None,
                token_budget,
                current_length: None,
            },
            StoreError::Unavailable(reason) => {
                log::warn!("store unavailable: {reason}");
                Self::StoreUnavailable
            }
        }
    }

    /// Maps a token that cannot be opened. The reason goes to the debug log
    /// and a metric label, never to the client.
    pub fn from_open(error: OpenError, transport: Transport, cookie_name: &'static str) -> Self {
        log::debug!("credential refused: {}", error.label());
        match error {
            OpenError::Expired => Self::TokenExpired {
                transport,
                cookie_name,
            },
            OpenError::Invalid(_) => Self::TokenInvalid {
                transport,
                cookie_name,
            },
        }
    }

    /// Maps a refused cart operation.
    pub fn from_cart(error: CartError, token_budget: usize) -> Self {
        match error {
            CartError::LineNotFound => Self::LineNotFound,
            CartError::TooManyLines { max } => Self::CartTooLarge {
                detail: format!("A cart holds at most {max} lines; the cart is unchanged."),
                token_length: None,
                token_budget,
                current_length: None,
            },
            e @ (CartError::Invalid(_) | CartError::QuantityTooLarge { .. }) => {
                Self::CartInvalid(e.to_string())
            }
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::TokenInvalid { .. } | Self::TokenExpired { .. } => StatusCode::UNAUTHORIZED,
            Self::CredentialsAmbiguous | Self::PayloadInvalid(_) => StatusCode::BAD_REQUEST,
            Self::CsrfRejected(_) => StatusCode::FORBIDDEN,
            Self::LineNotFound | Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge { .. } | Self::CartTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Self::CartInvalid(_) | Self::SkuUnknown => StatusCode::UNPROCESSABLE_ENTITY,
            Self::HeaderTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let detail = self.detail();
        let (token_length, token_budget, room_left) = match self {
            Self::CartTooLarge {
                token_length,
                token_budget,
                current_length,
                ..
            } => (
                *token_length,
                Some(*token_budget),
                current_length.map(|c| token_budget.saturating_sub(c)),
            ),
            _ => (None, None, None),
        };
        let problem = Problem {
            kind: format!("https://cartseal.dev/problems/{}", self.code()),
            title: self.title(),
            status: status.as_u16(),
            code: self.code(),
            detail: &detail,
            token_length,
            token_budget,
            room_left,
        };
        let mut response = HttpResponse::build(status);
        response.content_type("application/problem+json");
        match self {
            Self::TokenInvalid {
                transport: Transport::Bearer,
                ..
            }
            | Self::TokenExpired {
                transport: Transport::Bearer,
                ..
            } => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer error="invalid_token""#),
                ));
            }
            Self::TokenInvalid {
                transport: Transport::Cookie,
                cookie_name,
            }
            | Self::TokenExpired {
                transport: Transport::Cookie,
                cookie_name,
            } => {
                response.cookie(super::transport::removal_cookie(cookie_name));
            }
            Self::StoreUnavailable => {
                response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
            }
            _ => {}
        }
        response.json(problem)
    }
}
