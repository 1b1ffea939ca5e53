//! The route table, and one file per group of endpoints.
//!
//! Adding a cart write is one handler taking a
//! [`CartRequest`](super::cart_request::CartRequest) and one line here
//! (docs/architecture.md, "Adding a route").

pub mod admin;
pub mod cart;
pub mod demo;
pub mod ops;
pub mod products;

use actix_web::FromRequest;
use actix_web::http::Method;
use actix_web::{Handler, HttpResponse, Resource, Responder, Route, web};

use super::error::ApiError;
use super::telemetry::RoutePattern;

/// Every route of the API, the client module, and the demo page when it is
/// on. Paths answer the methods listed, 405 problem+json to the others, and
/// unknown paths 404 problem+json.
pub fn configure(cfg: &mut web::ServiceConfig, demo: Option<&demo::DemoPage>) {
    cfg.service(resource(
        "/static/cartseal-client.js",
        [on(Method::GET, demo::client_js)],
    ));
    if let Some(page) = demo {
        cfg.app_data(web::Data::new(page.clone()))
            .service(resource("/", [on(Method::GET, demo::index)]))
            .service(resource("/static/app.js", [on(Method::GET, demo::app_js)]))
            .service(resource(
                "/static/style.css",
                [on(Method::GET, demo::style_css)],
            ));
    }
    cfg.service(resource(
        "/cart",
        [
            on(Method::GET, cart::get),
            on(Method::POST, cart::create),
            on(Method::DELETE, cart::clear),
        ],
    ))
    .service(resource("/cart/items", [on(Method::POST, cart::add)]))
    .service(resource(
        "/cart/items/{line}",
        [
            on(Method::PATCH, cart::set_quantity),
            on(Method::DELETE, cart::remove),
        ],
    ))
    .service(resource("/cart/merge", [on(Method::POST, cart::merge)]))
    .service(resource("/products", [on(Method::GET, products::list)]))
    .service(resource("/healthz", [on(Method::GET, ops::healthz)]))
    .service(resource("/readyz", [on(Method::GET, ops::readyz)]))
    .service(resource(
        "/.well-known/jwks.json",
        [on(Method::GET, ops::jwks)],
    ))
    .service(resource("/openapi.json", [on(Method::GET, ops::openapi)]))
    .default_service(web::to(|| async {
        Err::<HttpResponse, _>(ApiError::NotFound)
    }));
}

/// The admin listener's routes: `/metrics`, the store (`/store`), the
/// keyring (`/keys`), reloads (`/reload`, and `/reload/check` that only
/// checks), and 404 problem+json for the rest.
pub fn configure_admin(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/metrics", [on(Method::GET, ops::metrics)]))
        .service(resource("/store", [on(Method::GET, ops::store)]))
        .service(resource("/keys", [on(Method::GET, admin::keys)]))
        .service(resource("/reload", [on(Method::POST, admin::reload)]))
        .service(resource("/reload/check", [on(Method::POST, admin::check)]))
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(ApiError::NotFound)
        }));
}

/// A route for `method` (a GET route answers HEAD too).
fn on<F, Args>(method: Method, handler: F) -> (Method, Route)
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    let route = if method == Method::GET {
        web::route()
            .guard(actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Head()))
            .to(handler)
    } else {
        web::method(method.clone()).to(handler)
    };
    (method, route)
}

/// A path with its routes. Any other method is 405 problem+json with the
/// `Allow` header RFC 9110 requires.
/// The resource carries its path as a [`RoutePattern`], the request
/// metrics' `route` label.
fn resource<const N: usize>(path: &'static str, routes: [(Method, Route); N]) -> Resource {
    let mut allowed: Vec<&str> = Vec::new();
    for (method, _) in &routes {
        allowed.push(method.as_str());
        if method == Method::GET {
            allowed.push("HEAD");
        }
    }
    let allow = allowed.join(", ");
    routes
        .into_iter()
        .fold(
            web::resource(path).app_data(RoutePattern(path)),
            |resource, (_, route)| resource.route(route),
        )
        .default_service(web::to(move || {
            let allow = allow.clone();
            async move { Err::<HttpResponse, _>(ApiError::MethodNotAllowed { allow }) }
        }))
}
