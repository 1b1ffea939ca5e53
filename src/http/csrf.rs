//! The cross-origin rule for cookie-mode writes, as Go 1.25's
//! `CrossOriginProtection` applies it. A browser attaches the cart cookie to
//! any request to this origin, also one a foreign page makes it send; a
//! bearer token is never sent by the browser on its own, so bearer requests
//! are exempt.
//!
//! Safe methods always pass. Otherwise an origin in `cors.allowed_origins`
//! passes; else `Sec-Fetch-Site` must be `same-origin` or `none` when
//! present; without it, an `Origin` must name this host.

use actix_web::HttpRequest;
use actix_web::http::{Method, header};

use super::error::ApiError;
use crate::config::CorsConfig;

/// True for the methods that never change a cart.
pub fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Applies the rule to a cookie-mode request.
pub fn check(req: &HttpRequest, cors: &CorsConfig) -> Result<(), ApiError> {
    if is_safe(req.method()) {
        return Ok(());
    }
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok());
    if origin.is_some_and(|o| cors.allowed_origins.iter().any(|a| a == o)) {
        return Ok(());
    }
    if let Some(site) = req.headers().get("sec-fetch-site") {
        return match site.as_bytes() {
            b"same-origin" | b"none" => Ok(()),
            _ => Err(ApiError::CsrfRejected(
                "Cross-site requests cannot change a cookie cart.",
            )),
        };
    }
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
