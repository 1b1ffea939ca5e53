//! The HTTP API: the composition root, the routes, the transports, CSRF and
//! CORS, problem+json errors and metrics (docs/architecture.md, "The
//! request path").
//!
//! - [`app`]: [`Application::build`] and [`run`]: settings in, a bound
//!   server out, with the signals.
//! - [`routes`]: the route table, one file per group of endpoints.
//! - [`openapi`]: the OpenAPI document, derived from the route table's
//!   handlers with utoipa.
//! - [`cart_request`], [`json_body`]: the extractors every cart route
//!   takes: the credential with the CSRF rule, the write path, the body.
//! - [`transport`], [`csrf`], [`cors`]: how credentials travel, and which
//!   origins may use them.
//! - [`route`]: the routing key a load balancer hashes for affinity.
//! - [`error`]: every error as problem+json with a stable code.
//! - [`view`]: the cart as clients see it, priced from the catalog.
//! - [`reload`], [`watch`], [`state`], [`telemetry`]: reloads (SIGHUP, a
//!   changed file, the admin listener), shared state, metrics and the
//!   request log.

pub mod app;
pub mod cart_request;
pub mod cors;
pub mod csrf;
pub mod error;
pub mod json_body;
pub mod openapi;
pub mod reload;
pub mod route;
pub mod routes;
pub mod state;
pub mod telemetry;
pub mod transport;
pub mod view;
pub mod watch;

pub use app::{Application, RunOptions, StartError, run};
pub use reload::{KeyStatus, ReloadError, Reloader, Trigger};
