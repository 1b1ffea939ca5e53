//! What is checked before a request's body or session is used: header
//! sizes, the cookie-mode CSRF rule, and the JSON body.

use actix_web::HttpRequest;
use actix_web::http::{Method, header};
use actix_web::web::{self, Bytes};
use serde::de::DeserializeOwned;

use super::response::ApiError;
use super::{BODY_MAX_BYTES, HEADER_MAX_BYTES};

/// Cookie and Authorization headers over cartseal's `limits.header_max_bytes`
/// are refused before anything in them is used.
pub fn check_header_sizes(req: &HttpRequest) -> Result<(), ApiError> {
    let cookie_bytes: usize = req.headers().get_all(header::COOKIE).map(|v| v.len()).sum();
    let authorization_bytes = req
        .headers()
        .get_all(header::AUTHORIZATION)
        .map(|v| v.len())
        .max()
        .unwrap_or(0);
    if cookie_bytes > HEADER_MAX_BYTES || authorization_bytes > HEADER_MAX_BYTES {
        return Err(ApiError::HeaderTooLarge);
    }
    Ok(())
}

/// cartseal's cookie-mode CSRF rule (src/http/csrf.rs),
/// with its benchmark configuration: no CORS origins allowed.
pub fn check_csrf(req: &HttpRequest, has_body: bool) -> Result<(), ApiError> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    if has_body && !is_json(req) {
        return Err(ApiError::CsrfRejected(
            "Cookie-authenticated writes must send Content-Type: application/json.",
        ));
    }
    if let Some(site) = req.headers().get("sec-fetch-site") {
        return match site.as_bytes() {
            b"same-origin" | b"none" => Ok(()),
            _ => Err(ApiError::CsrfRejected(
                "Cross-site requests cannot change a cookie cart.",
            )),
        };
    }
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok());
    match origin {
        None => Ok(()),
        Some(origin) => {
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok());
            let origin_host = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            if origin_host.is_some() && origin_host == host {
                Ok(())
            } else {
                Err(ApiError::CsrfRejected(
                    "Requests from another origin cannot change a cookie cart.",
                ))
            }
        }
    }
}

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// Reads a JSON object body under the 16 KiB limit (cartseal's `JsonBody`, src/http/json_body.rs).
pub async fn read_json<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_MAX_BYTES as u64) {
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
