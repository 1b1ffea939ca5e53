//! What is checked before a request's body or session is used: header
//! sizes and the cookie-mode CSRF rule (cartseal's own functions, with the
//! benchmark's configuration), and the JSON body.

use actix_web::http::header::{ContentLength, Header};
use actix_web::web::{self, Bytes};
use actix_web::{HttpMessage, HttpRequest};
use cartseal::config::CorsConfig;
use cartseal::http::{csrf, transport};
use cartseal::limits::Limits;
use serde::de::DeserializeOwned;

use super::response::ApiError;
use super::{BODY_MAX_BYTES, HEADER_MAX_BYTES};

/// Cookie and Authorization headers over cartseal's `limits.header_max_bytes`
/// are refused before anything in them is used (cartseal's
/// `check_header_sizes`, src/http/transport.rs).
pub fn check_header_sizes(req: &HttpRequest) -> Result<(), ApiError> {
    let limits = Limits {
        header_max_bytes: HEADER_MAX_BYTES,
        ..Limits::default()
    };
    Ok(transport::check_header_sizes(req, &limits)?)
}

/// The checks of a write: header sizes, then cartseal's cookie-mode CSRF
/// rule (src/http/csrf.rs) with its benchmark configuration, no CORS origins
/// allowed. A write with a body must also say it is JSON.
pub fn check_write(req: &HttpRequest, has_body: bool) -> Result<(), ApiError> {
    check_header_sizes(req)?;
    if has_body && !csrf::is_safe(req.method()) && !is_json(req) {
        return Err(ApiError::CsrfRejected(
            "Cookie-authenticated writes must send Content-Type: application/json.",
        ));
    }
    Ok(csrf::check(req, &CorsConfig::default())?)
}

/// A write's checks ([`check_write`]), then its JSON body ([`read_json`]).
pub async fn read_write<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, ApiError> {
    check_write(req, true)?;
    read_json(req, payload).await
}

/// True when the request says its body is JSON (whatever parameters follow).
fn is_json(req: &HttpRequest) -> bool {
    req.content_type().eq_ignore_ascii_case("application/json")
}

/// Reads a JSON object body under the 16 KiB limit (cartseal's `JsonBody`, src/http/json_body.rs).
async fn read_json<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, ApiError> {
    if ContentLength::parse(req).is_ok_and(|declared| declared.into_inner() > BODY_MAX_BYTES) {
        return Err(ApiError::PayloadTooLarge);
    }
    let body: Bytes = match payload.to_bytes_limited(BODY_MAX_BYTES).await {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => {
            return Err(ApiError::PayloadInvalid(
                "The request body could not be read.".into(),
            ));
        }
        Err(_) => return Err(ApiError::PayloadTooLarge),
    };
    if !is_json(req) {
        return Err(ApiError::PayloadInvalid(
            "Send the body as Content-Type: application/json.".into(),
        ));
    }
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(ApiError::PayloadInvalid(
            "The body must be a JSON object.".into(),
        ));
    }
    serde_json::from_slice(&body).map_err(|e| {
        use serde_json::error::Category;
        let what = match e.classify() {
            Category::Syntax | Category::Eof => "malformed JSON",
            Category::Data => "a field is missing, unknown, or of the wrong type or range",
            Category::Io => "unreadable body",
        };
        ApiError::PayloadInvalid(format!(
            "The body is not the JSON this endpoint takes: {what} (line {}, column {}).",
            e.line(),
            e.column()
        ))
    })
}
