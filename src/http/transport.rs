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
use crate::cart::Limits;
use crate::config::{CookieConfig, SameSiteSetting};

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
    req.headers().get_all(header::COOKIE).find_map(|value| {
        let bytes = value.as_bytes();
        match std::str::from_utf8(bytes) {
            // `str::split` finds each `;` with a vectorised search; a header
            // holding a token is over a kilobyte, read once per cookie.
            Ok(text) => text
                .split(';')
                .find_map(|pair| cookie_value(pair.as_bytes(), name)),
            Err(_) => bytes
                .split(|b| *b == b';')
                .find_map(|pair| cookie_value(pair, name)),
        }
    })
}

/// The value of `pair` (`name=value`, maybe quoted) if it is named `name`.
fn cookie_value(pair: &[u8], name: &str) -> Option<String> {
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
            let mut set = Cookie::build(cookie.name(), credential.to_owned())
                .max_age(Duration::seconds(max_age_secs.max(0)))
                .finish();
            set_attributes(&mut set, cookie);
            response.append_header((header::SET_COOKIE, set_cookie_value(&set, cookie)));
        }
    }
}

/// The attributes every cart cookie carries, the removal one too: a browser
/// replaces or removes a cookie only with one of the same name, path and
/// partition.
fn set_attributes(set: &mut Cookie<'_>, cookie: &CookieConfig) {
    set.set_path("/");
    set.set_http_only(true);
    set.set_secure(cookie.secure);
    set.set_same_site(match cookie.same_site {
        SameSiteSetting::Lax => SameSite::Lax,
        SameSiteSetting::Strict => SameSite::Strict,
        SameSiteSetting::None => SameSite::None,
    });
}

/// The `Set-Cookie` value, with `Partitioned` (CHIPS) when configured: the
/// cookie crate this actix-web uses does not know the attribute, so it is
/// appended here.
fn set_cookie_value(set: &Cookie<'_>, cookie: &CookieConfig) -> String {
    let mut value = set.to_string();
    if cookie.partitioned {
        value.push_str("; Partitioned");
    }
    value
}

/// A `Set-Cookie` value for another of cartseal's cookies (the routing
/// key's): the same attributes as the cart cookie, so that it works, or
/// not, exactly where the cart cookie does.
pub(super) fn companion_cookie(
    name: &'static str,
    value: &str,
    max_age_secs: i64,
    cookie: &CookieConfig,
) -> String {
    let mut set = Cookie::build(name, value.to_owned())
        .max_age(Duration::seconds(max_age_secs.max(0)))
        .finish();
    set_attributes(&mut set, cookie);
    set_cookie_value(&set, cookie)
}

/// A cookie that tells the browser to drop the cart cookie.
fn removal_cookie(cookie: &CookieConfig) -> String {
    let mut set = Cookie::new(cookie.name(), "");
    set_attributes(&mut set, cookie);
    set.make_removal();
    set_cookie_value(&set, cookie)
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
            let removal = res
                .request()
                .app_data::<web::Data<AppState>>()
                .map(|state| removal_cookie(&state.settings.cookie))
                .and_then(|value| HeaderValue::try_from(value).ok());
            if let Some(removal) = removal {
                res.headers_mut().append(header::SET_COOKIE, removal);
            }
        }
    }
    Ok(ErrorHandlerResponse::Response(res.map_into_left_body()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_cookie(cookie: &CookieConfig) -> String {
        let mut response = actix_web::HttpResponse::Ok();
        attach(&mut response, Transport::Cookie, cookie, "v4.local.x", 60);
        let response = response.finish();
        let values: Vec<_> = response.headers().get_all(header::SET_COOKIE).collect();
        assert_eq!(values.len(), 1);
        values[0].to_str().unwrap().to_owned()
    }

    #[test]
    fn the_cookie_carries_the_configured_same_site_and_partition() {
        let lax = set_cookie(&CookieConfig::default());
        assert!(lax.starts_with("__Host-cart=v4.local.x"), "{lax}");
        for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=60"] {
            assert!(lax.contains(attribute), "{attribute} in {lax}");
        }
        assert!(!lax.contains("Partitioned"), "{lax}");

        let cross_site = set_cookie(&CookieConfig {
            same_site: SameSiteSetting::None,
            partitioned: true,
            ..CookieConfig::default()
        });
        assert!(cross_site.contains("SameSite=None"), "{cross_site}");
        assert!(cross_site.ends_with("; Partitioned"), "{cross_site}");

        let strict = set_cookie(&CookieConfig {
            same_site: SameSiteSetting::Strict,
            ..CookieConfig::default()
        });
        assert!(strict.contains("SameSite=Strict"), "{strict}");
    }

    #[test]
    fn the_removal_cookie_names_the_same_partition() {
        let removal = removal_cookie(&CookieConfig {
            same_site: SameSiteSetting::None,
            partitioned: true,
            ..CookieConfig::default()
        });
        assert!(removal.starts_with("__Host-cart=;"), "{removal}");
        for attribute in [
            "SameSite=None",
            "Secure",
            "Path=/",
            "Max-Age=0",
            "; Partitioned",
        ] {
            assert!(removal.contains(attribute), "{attribute} in {removal}");
        }
    }

    #[test]
    fn a_cross_site_cookie_must_be_secure() {
        let problems = CookieConfig {
            secure: false,
            same_site: SameSiteSetting::None,
            partitioned: true,
        }
        .validate();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(CookieConfig::default().validate().is_empty());
    }
}
