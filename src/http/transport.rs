//! How the credential travels: an HttpOnly cookie (SPA) or an
//! `Authorization: Bearer` header (mobile). A request that sends an
//! `Authorization` header of the `Bearer` scheme is a bearer request; any
//! other is a cookie request. Another scheme (`Basic` from a shop behind
//! HTTP basic auth, or an auth proxy's) is not cartseal's and is ignored.

use actix_web::body::BoxBody;
use actix_web::cookie::{Cookie, SameSite, time::Duration};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpRequest, HttpResponseBuilder, web};

use super::error::ApiError;
use super::state::AppState;
use crate::config::CookieConfig;
use crate::limits::Limits;

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

impl Transport {
    /// The transport of a request: bearer when it sends an `Authorization`
    /// of the `Bearer` scheme.
    pub fn of(headers: &HeaderMap) -> Self {
        if bearer_headers(headers).next().is_some() {
            Self::Bearer
        } else {
            Self::Cookie
        }
    }
}

/// The credential of one request, read but not yet opened.
#[derive(Debug, Clone)]
pub struct Credential {
    /// How it came.
    pub transport: Transport,
    /// The token or session id, if the client has one.
    pub token: Option<String>,
}

impl Credential {
    /// Reads the credential, checking header sizes before anything is
    /// decoded.
    pub fn read(req: &HttpRequest, limits: &Limits, cookie_name: &str) -> Result<Self, ApiError> {
        check_header_sizes(req, limits)?;
        let mut authorizations = bearer_headers(req.headers());
        let authorization = authorizations.next();
        if authorizations.next().is_some() {
            return Err(ApiError::CredentialsAmbiguous);
        }
        let cookie = find_cookie(req, cookie_name);
        let Some(authorization) = authorization else {
            return Ok(Self {
                transport: Transport::Cookie,
                token: cookie.filter(|c| !c.is_empty()),
            });
        };
        let text = authorization.to_str().map_err(|_| ApiError::TokenInvalid)?;
        // `bearer_headers` checked the scheme; a bare "Bearer" holds an
        // empty token, which no store opens.
        let token = text.get(BEARER.len()..).unwrap_or_default().trim();
        if cookie
            .as_deref()
            .is_some_and(|c| !c.is_empty() && c != token)
        {
            return Err(ApiError::CredentialsAmbiguous);
        }
        Ok(Self {
            transport: Transport::Bearer,
            token: Some(token.to_owned()),
        })
    }

    /// The length of the credential the client holds, if any.
    pub fn held_len(&self) -> Option<usize> {
        self.token.as_deref().map(str::len)
    }
}

/// The scheme name, matched without regard to case (RFC 9110, 11.1).
const BEARER: &str = "bearer";

/// The `Authorization` headers of the `Bearer` scheme: the scheme name, then
/// a space or nothing.
fn bearer_headers(headers: &HeaderMap) -> impl Iterator<Item = &HeaderValue> {
    headers.get_all(header::AUTHORIZATION).filter(|value| {
        let bytes = value.as_bytes();
        bytes.len() >= BEARER.len()
            && bytes[..BEARER.len()].eq_ignore_ascii_case(BEARER.as_bytes())
            && matches!(bytes.get(BEARER.len()), None | Some(b' '))
    })
}

/// Refuses Cookie headers (all together) or an Authorization header over
/// `limits.header_max_bytes`, before anything in them is decoded.
pub fn check_header_sizes(req: &HttpRequest, limits: &Limits) -> Result<(), ApiError> {
    let limit = limits.header_max_bytes;
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
pub(super) fn find_cookie(req: &HttpRequest, name: &str) -> Option<String> {
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

/// Hands a new credential to the client in the transport it came by.
pub fn attach(
    response: &mut HttpResponseBuilder,
    transport: Transport,
    cookie: &CookieConfig,
    credential: &str,
    max_age_secs: i64,
) {
    match transport {
        Transport::Bearer => {
            response.insert_header((CART_TOKEN_HEADER, credential));
        }
        Transport::Cookie => {
            let cookie = Cookie::build(cookie.name(), credential.to_owned())
                .path("/")
                .http_only(true)
                .secure(cookie.secure)
                .same_site(SameSite::Lax)
                .max_age(Duration::seconds(max_age_secs.max(0)))
                .finish();
            response.cookie(cookie);
        }
    }
}

/// A cookie that tells the browser to drop the cart cookie.
fn removal_cookie(name: &'static str) -> Cookie<'static> {
    let mut cookie = Cookie::build(name, "")
        .path("/")
        .http_only(true)
        .secure(name.starts_with("__Host-"))
        .same_site(SameSite::Lax)
        .finish();
    cookie.make_removal();
    cookie
}

/// Presents a 401 in the request's transport: a bearer client gets
/// `WWW-Authenticate` (RFC 6750), a cookie client a cookie that clears the
/// credential it can no longer use. Registered for status 401 with
/// [`actix_web::middleware::ErrorHandlers`].
pub fn challenge(
    mut res: ServiceResponse<BoxBody>,
) -> actix_web::Result<ErrorHandlerResponse<BoxBody>> {
    match Transport::of(res.request().headers()) {
        Transport::Bearer => {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer error="invalid_token""#),
            );
        }
        Transport::Cookie => {
            let name = res
                .request()
                .app_data::<web::Data<AppState>>()
                .map(|state| state.settings.cookie.name());
            if let Some(name) = name {
                res.response_mut().add_cookie(&removal_cookie(name))?;
            }
        }
    }
    Ok(ErrorHandlerResponse::Response(res.map_into_left_body()))
}
