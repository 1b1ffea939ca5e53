//! How the credential travels: an HttpOnly cookie (SPA) or an
//! `Authorization: Bearer` header (mobile), and the CSRF rule that cookie
//! mode needs.

use actix_web::cookie::{Cookie, SameSite, time::Duration};
use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponseBuilder};

use super::error::ApiError;
use super::state::AppState;

/// The response header that carries a new token to bearer clients.
pub const CART_TOKEN_HEADER: &str = "Cart-Token";

/// How the client sent (or will receive) its credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The HttpOnly cookie.
    Cookie,
    /// `Authorization: Bearer`, answered with `Cart-Token`.
    Bearer,
}

/// The credential of one request.
#[derive(Debug, Clone)]
pub struct Credential {
    /// How it came.
    pub transport: Transport,
    /// The token or session id, if the client has one.
    pub token: Option<String>,
}

/// Reads the credential, checking header sizes before anything is decoded.
pub fn credential(req: &HttpRequest, state: &AppState) -> Result<Credential, ApiError> {
    check_header_sizes(req, state)?;
    let cookie_name = state.settings.cookie.name();
    let mut authorizations = req.headers().get_all(header::AUTHORIZATION);
    let authorization = authorizations.next();
    if authorizations.next().is_some() {
        return Err(ApiError::CredentialsAmbiguous);
    }
    let cookie = find_cookie(req, cookie_name);
    let Some(authorization) = authorization else {
        return Ok(Credential {
            transport: Transport::Cookie,
            token: cookie.filter(|c| !c.is_empty()),
        });
    };
    let invalid = ApiError::TokenInvalid {
        transport: Transport::Bearer,
        cookie_name,
    };
    let text = authorization.to_str().map_err(|_| invalid)?;
    let token = match text.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => {
            return Err(ApiError::TokenInvalid {
                transport: Transport::Bearer,
                cookie_name,
            });
        }
    };
    if cookie
        .as_deref()
        .is_some_and(|c| !c.is_empty() && c != token)
    {
        return Err(ApiError::CredentialsAmbiguous);
    }
    Ok(Credential {
        transport: Transport::Bearer,
        token: Some(token.to_owned()),
    })
}

/// Refuses Cookie headers (all together) or an Authorization header over
/// `limits.header_max_bytes`, before anything in them is decoded.
pub fn check_header_sizes(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    let limit = state.settings.limits.header_max_bytes;
    let cookie_bytes: usize = req.headers().get_all(header::COOKIE).map(|v| v.len()).sum();
    let authorization_bytes = req
        .headers()
        .get_all(header::AUTHORIZATION)
        .map(|v| v.len())
        .max()
        .unwrap_or(0);
    if cookie_bytes > limit || authorization_bytes > limit {
        return Err(ApiError::HeaderTooLarge { limit });
    }
    Ok(())
}

/// The value of the cookie `name`, read from the raw header bytes: one
/// cookie of another site's making that is not UTF-8 must not hide the cart
/// (actix's cookie jar drops the whole header then). A cart cookie that is not
/// UTF-8 is returned as a value that no store opens, so it is refused as
/// `token_invalid` instead of read as "no cart".
fn find_cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .flat_map(|value| value.as_bytes().split(|b| *b == b';'))
        .find_map(|pair| {
            let pair = pair.trim_ascii();
            let value = pair.strip_prefix(name.as_bytes())?.strip_prefix(b"=")?;
            let value = value
                .strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
                .unwrap_or(value);
            Some(match std::str::from_utf8(value) {
                Ok(text) => text.to_owned(),
                Err(_) => "\u{fffd}".to_owned(),
            })
        })
}

/// The cross-origin rule for cookie-mode writes, as Go 1.25's
/// `CrossOriginProtection` applies it: an origin in `cors.allowed_origins`
/// passes; otherwise `Sec-Fetch-Site` must be `same-origin` or `none` when
/// present; without it, an `Origin` must name this host. Bodies must be
/// `application/json`, which no HTML form can send.
pub fn check_csrf(req: &HttpRequest, state: &AppState, has_body: bool) -> Result<(), ApiError> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    if has_body && !is_json(req) {
        return Err(ApiError::CsrfRejected(
            "Cookie-authenticated writes must send Content-Type: application/json.",
        ));
    }
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok());
    if origin.is_some_and(|o| state.settings.cors.allowed_origins.iter().any(|a| a == o)) {
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

/// True when the request says its body is JSON.
pub fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// Hands a new credential to the client in the transport it came by.
pub fn attach(
    response: &mut HttpResponseBuilder,
    transport: Transport,
    state: &AppState,
    credential: &str,
    max_age_secs: i64,
) {
    match transport {
        Transport::Bearer => {
            response.insert_header((CART_TOKEN_HEADER, credential));
        }
        Transport::Cookie => {
            let cookie = Cookie::build(state.settings.cookie.name(), credential.to_owned())
                .path("/")
                .http_only(true)
                .secure(state.settings.cookie.secure)
                .same_site(SameSite::Lax)
                .max_age(Duration::seconds(max_age_secs.max(0)))
                .finish();
            response.cookie(cookie);
        }
    }
}

/// A cookie that tells the browser to drop the cart cookie.
pub fn removal_cookie(name: &'static str) -> Cookie<'static> {
    let mut cookie = Cookie::build(name, "")
        .path("/")
        .http_only(true)
        .secure(name.starts_with("__Host-"))
        .same_site(SameSite::Lax)
        .finish();
    cookie.make_removal();
    cookie
}
