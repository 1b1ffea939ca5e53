//! The route table, and one file per group of endpoints.
//!
//! Adding a route is one handler with its `#[utoipa::path]` annotation and
//! one line in [`api`]: the table registers the handler for the method and
//! path the annotation names, and the OpenAPI document (src/http/openapi.rs)
//! is built from the same table (docs/architecture.md, "Adding a route").

pub mod admin;
pub mod cart;
pub mod demo;
pub mod ops;
pub mod products;

use std::sync::Mutex;

use actix_web::FromRequest;
use actix_web::http::Method;
use actix_web::{Handler, HttpResponse, Resource, Responder, Route, web};
use utoipa::openapi::path::HttpMethod;

use super::error::ApiError;
use super::telemetry::RoutePattern;

/// The public API, one line a route, each a handler and the operation its
/// `#[utoipa::path]` generates. The demo page is listed only when it is on;
/// the document always lists it.
pub fn api(table: &mut Table, demo: bool) {
    table
        .on(cart::__path_get, cart::get)
        .on(cart::__path_create, cart::create)
        .on(cart::__path_clear, cart::clear)
        .on(cart::__path_add, cart::add)
        .on(cart::__path_set_quantity, cart::set_quantity)
        .on(cart::__path_remove, cart::remove)
        .on(cart::__path_merge, cart::merge)
        .on(products::__path_list, products::list)
        .on(ops::__path_healthz, ops::healthz)
        .on(ops::__path_readyz, ops::readyz)
        .on(ops::__path_jwks, ops::jwks)
        .on(ops::__path_openapi, ops::openapi)
        .asset("/static/cartseal-client.js", demo::client_js);
    if demo {
        table
            .on(demo::__path_index, demo::index)
            .asset("/static/app.js", demo::app_js)
            .asset("/static/style.css", demo::style_css);
    }
}

/// Every route of the API, the client module, and the demo page when it is
/// on. Paths answer the methods listed, 405 problem+json to the others, and
/// unknown paths 404 problem+json.
pub fn configure(cfg: &mut web::ServiceConfig, demo: Option<&demo::DemoPage>) {
    if let Some(page) = demo {
        cfg.app_data(web::Data::new(page.clone()));
    }
    let mut table = Table::default();
    api(&mut table, demo.is_some());
    // One resource a path, with every method the table lists for it.
    let mut paths: Vec<(&'static str, Vec<(Method, Route)>)> = Vec::new();
    for entry in table.entries {
        match paths.iter_mut().find(|(path, _)| *path == entry.path) {
            Some((_, routes)) => routes.push((entry.method, entry.route)),
            None => paths.push((entry.path, vec![(entry.method, entry.route)])),
        }
    }
    for (path, routes) in paths {
        cfg.service(resource(path, routes));
    }
    cfg.default_service(web::to(|| async {
        Err::<HttpResponse, _>(ApiError::NotFound)
    }));
}

/// The routes [`api`] lists: what [`configure`] registers and the document
/// describes.
#[derive(Default)]
pub struct Table {
    entries: Vec<Entry>,
}

/// One method of one path.
pub struct Entry {
    /// The path, as actix-web and OpenAPI both write it (`/cart/items/{line}`).
    pub path: &'static str,
    pub method: Method,
    route: Route,
    /// Adds the operation (and the schemas it names) to a document; `None`
    /// for a static file, which the document leaves out.
    pub document: Option<fn(&mut utoipa::openapi::OpenApi)>,
}

impl Table {
    /// The handler of `operation`, an annotated handler's
    /// `__path_<handler>`, for the methods and path its annotation names.
    pub fn on<P, F, Args>(&mut self, _operation: P, handler: F) -> &mut Self
    where
        P: utoipa::Path + utoipa::__dev::SchemaReferences,
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let path = intern(P::path());
        for method in P::methods() {
            let method = actix_method(&method);
            self.entries.push(Entry {
                path,
                route: route(method.clone(), handler.clone()),
                method,
                document: Some(document::<P>),
            });
        }
        self
    }

    /// A static file at `path`, answered to GET and HEAD, and not in the
    /// document.
    pub fn asset<F, Args>(&mut self, path: &'static str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.entries.push(Entry {
            path,
            route: route(Method::GET, handler),
            method: Method::GET,
            document: None,
        });
        self
    }

    /// The routes, in the table's order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
}

/// Adds `P`'s operation, and the schemas it names, to `openapi`.
fn document<P: utoipa::Path + utoipa::__dev::SchemaReferences>(
    openapi: &mut utoipa::openapi::OpenApi,
) {
    openapi
        .paths
        .add_path_operation(P::path(), P::methods(), P::operation());
    let mut schemas = Vec::new();
    P::schemas(&mut schemas);
    openapi
        .components
        .get_or_insert_with(Default::default)
        .schemas
        .extend(schemas);
}

/// The actix-web method of an OpenAPI one.
fn actix_method(method: &HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}

/// `path` for the life of the process: the request metrics label a route
/// with a `&'static str` ([`RoutePattern`]). Each distinct path is kept
/// once, however many workers build the table.
fn intern(path: String) -> &'static str {
    static PATHS: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut paths = PATHS.lock().unwrap_or_else(|e| e.into_inner());
    match paths.iter().find(|p| **p == path) {
        Some(p) => p,
        None => {
            let p: &'static str = path.leak();
            paths.push(p);
            p
        }
    }
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

/// A route for `method`, with its method for [`resource`] (the admin
/// listener's routes, which the document leaves out).
fn on<F, Args>(method: Method, handler: F) -> (Method, Route)
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    (method.clone(), route(method, handler))
}

/// A route for `method` (a GET route answers HEAD too).
fn route<F, Args>(method: Method, handler: F) -> Route
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    if method == Method::GET {
        web::route()
            .guard(actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Head()))
            .to(handler)
    } else {
        web::method(method).to(handler)
    }
}

/// A path with its routes. Any other method is 405 problem+json with the
/// `Allow` header RFC 9110 requires.
/// The resource carries its path as a [`RoutePattern`], the request
/// metrics' `route` label.
fn resource(path: &'static str, routes: impl IntoIterator<Item = (Method, Route)>) -> Resource {
    let routes: Vec<(Method, Route)> = routes.into_iter().collect();
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
