//! The routing key: a random id that a load balancer hashes to send one
//! client's requests to one replica, so that the replica's verified-token
//! cache serves its reads (docs/deployment.md, "Routing by the cart's
//! key", and examples/nginx/cartseal.conf).
//!
//! - A balancer reads it without opening anything: the `cart_route` cookie,
//!   or the `Cart-Route` header that a bearer client sends back.
//! - It stays the same across a cart's writes: it is issued once, with the
//!   first credential a client gets, and only again if the client comes
//!   back without a well-formed one.
//! - It is 128 random bits ([`crate::ids`]), unrelated to the cart and to
//!   any key: it reveals nothing, and carries no authority. Every replica
//!   still opens every token, so a client that steers it (docs/security.md,
//!   "The routing key") chooses only which replica answers, and a replica
//!   that dies costs its clients a cache miss, never a cart.

use actix_web::HttpRequest;
use actix_web::HttpResponseBuilder;
use actix_web::cookie::{Cookie, SameSite, time::Duration};

use super::transport::{Transport, find_cookie};
use crate::config::CookieConfig;
use crate::ids;

/// The cookie a browser keeps it in. A plain name (no `__Host-` prefix):
/// nginx can only read a cookie whose name is a variable name
/// (`$cookie_cart_route`), and a sibling site that sets it only steers
/// routing.
pub const ROUTE_COOKIE: &str = "cart_route";

/// The header a bearer client receives it in and sends it back with.
pub const ROUTE_HEADER: &str = "Cart-Route";

/// The routing key the request brought, if well-formed: the header for a
/// bearer client, the cookie for a browser.
pub fn read(req: &HttpRequest, transport: Transport) -> Option<String> {
    let key = match transport {
        Transport::Bearer => req
            .headers()
            .get(ROUTE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        Transport::Cookie => find_cookie(req, ROUTE_COOKIE),
    };
    key.filter(|k| ids::is_random(k))
}

/// A new routing key.
pub fn issue() -> String {
    ids::random()
}

/// Hands `key` to the client in its transport: a cookie that outlives any
/// cart (`max_age_secs`, the absolute lifetime), or the `Cart-Route`
/// header.
pub fn attach(
    response: &mut HttpResponseBuilder,
    transport: Transport,
    cookie: &CookieConfig,
    key: &str,
    max_age_secs: u64,
) {
    match transport {
        Transport::Bearer => {
            response.insert_header((ROUTE_HEADER, key));
        }
        Transport::Cookie => {
            let max_age = i64::try_from(max_age_secs).unwrap_or(i64::MAX);
            response.cookie(
                Cookie::build(ROUTE_COOKIE, key.to_owned())
                    .path("/")
                    .http_only(true)
                    .secure(cookie.secure)
                    .same_site(SameSite::Lax)
                    .max_age(Duration::seconds(max_age))
                    .finish(),
            );
        }
    }
}
