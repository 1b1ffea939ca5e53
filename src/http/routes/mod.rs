//! The route table, and one file per group of endpoints.
//!
//! Adding a cart write is one handler taking a
//! [`CartRequest`](super::cart_request::CartRequest) and one line here
//! (docs/architecture.md, "Adding a route").

pub mod cart;
pub mod demo;
pub mod ops;
pub mod products;

use actix_web::{HttpResponse, Resource, Route, web};

use super::error::ApiError;

/// Every route of the API, and the demo page when it is on. Paths answer
/// the methods listed, 405 problem+json to the others, and unknown paths 404
/// problem+json.
pub fn configure(cfg: &mut web::ServiceConfig, demo: Option<&demo::DemoPage>) {
    if let Some(page) = demo {
        cfg.app_data(web::Data::new(page.clone()))
            .service(resource("/", [web::get().to(demo::index)]))
            .service(resource("/static/app.js", [web::get().to(demo::app_js)]))
            .service(resource(
                "/static/style.css",
                [web::get().to(demo::style_css)],
            ));
    }
    cfg.service(resource(
        "/cart",
        [
            web::get().to(cart::get),
            web::post().to(cart::create),
            web::delete().to(cart::clear),
        ],
    ))
    .service(resource("/cart/items", [web::post().to(cart::add)]))
    .service(resource(
        "/cart/items/{line}",
        [
            web::patch().to(cart::set_quantity),
            web::delete().to(cart::remove),
        ],
    ))
    .service(resource("/cart/merge", [web::post().to(cart::merge)]))
    .service(resource("/products", [web::get().to(products::list)]))
    .service(resource("/healthz", [web::get().to(ops::healthz)]))
    .service(resource("/readyz", [web::get().to(ops::readyz)]))
    .service(resource(
        "/.well-known/jwks.json",
        [web::get().to(ops::jwks)],
    ))
    .service(resource("/openapi.json", [web::get().to(ops::openapi)]))
    .default_service(web::to(|| async {
        Err::<HttpResponse, _>(ApiError::NotFound)
    }));
}

/// The admin listener's routes: `/metrics`, and 404 problem+json for the
/// rest.
pub fn configure_admin(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/metrics", [web::get().to(ops::metrics)]))
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(ApiError::NotFound)
        }));
}

/// A path with its routes; any other method is 405 problem+json.
fn resource<const N: usize>(path: &str, routes: [Route; N]) -> Resource {
    routes
        .into_iter()
        .fold(web::resource(path), Resource::route)
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(ApiError::MethodNotAllowed)
        }))
}
