//! The HTTP API (DESIGN section 5): the app factory, routes, transports,
//! CSRF/CORS, problem+json errors and metrics.
//!
//! [`Application::build`] binds its own listener (port 0 picks a free one)
//! and exposes [`Application::port`], so tests run the real server.

pub mod cors;
pub mod error;
pub mod routes;
pub mod state;
pub mod telemetry;
pub mod transport;
pub mod view;

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use arc_swap::ArcSwapOption;

use crate::clock::{Clock, SystemClock};
use crate::config::{Settings, StoreKind};
use crate::keys::KeyringHandle;
use crate::store::memory::MemoryStore;
use crate::store::none::NoneStore;
use crate::store::redis::RedisStore;
use crate::store::token::TokenStore;
use crate::store::{AnyStore, Session};
use crate::token::TokenCodec;

use error::ApiError;
use state::AppState;

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    reloader: Reloader,
}

impl Application {
    /// Builds the service from settings, on the system clock.
    pub fn build(settings: Settings, config_path: Option<PathBuf>) -> std::io::Result<Self> {
        Self::build_with_clock(settings, config_path, Arc::new(SystemClock))
    }

    /// Builds the service with an explicit clock (tests move it by hand).
    pub fn build_with_clock(
        settings: Settings,
        config_path: Option<PathBuf>,
        clock: Arc<dyn Clock>,
    ) -> std::io::Result<Self> {
        let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
        telemetry::install();
        let (keyring, warnings) = settings
            .load_keyring()
            .map_err(|e| invalid(e.to_string()))?;
        for warning in warnings {
            log::warn!("{warning}");
        }
        let catalog = settings
            .load_catalog()
            .map_err(|e| invalid(e.to_string()))?;
        let keys = KeyringHandle::new(keyring);
        let store = build_store(&settings, &keys).map_err(invalid)?;
        let state = AppState {
            store,
            catalog: Arc::new(ArcSwapOption::from(catalog.map(Arc::new))),
            keys,
            settings: Arc::new(settings),
            clock,
            config_path,
        };
        let listener = TcpListener::bind((
            state.settings.server.host.as_str(),
            state.settings.server.port,
        ))?;
        let port = listener.local_addr()?.port();
        let reloader = Reloader {
            state: state.clone(),
        };
        let server_settings = state.settings.server.clone();
        let shared = state;
        let mut server = HttpServer::new(move || {
            // Each worker runs its own current-thread runtime. A Redis
            // connection is driven by the runtime that made it, so each
            // worker makes its own, here, inside its runtime; the other
            // stores are shared by all workers.
            let mut state = shared.clone();
            if let AnyStore::Redis(_) = state.store {
                match redis_store(&state.settings) {
                    Ok(store) => state.store = AnyStore::Redis(store),
                    Err(e) => log::error!("worker keeps the shared Redis connection: {e}"),
                }
            }
            App::new()
                .app_data(web::Data::new(state))
                .wrap(from_fn(cors::cors))
                .wrap(from_fn(telemetry::observe))
                .configure(routes)
        })
        .shutdown_timeout(server_settings.shutdown_timeout_secs)
        .client_request_timeout(Duration::from_secs(10))
        .listen(listener)?;
        if server_settings.workers > 0 {
            server = server.workers(server_settings.workers);
        }
        Ok(Self {
            port,
            server: server.run(),
            reloader,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle that reloads keys and catalog (what SIGHUP does).
    pub fn reloader(&self) -> Reloader {
        self.reloader.clone()
    }

    /// Serves until the server is stopped (SIGTERM/SIGINT drain in-flight
    /// requests first).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }

    /// The server handle, to stop it.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

fn redis_store(settings: &Settings) -> Result<RedisStore, String> {
    RedisStore::new(
        &settings.redis,
        settings.token.idle_ttl_secs,
        settings.token.absolute_ttl_secs,
        settings.limits.clone(),
    )
}

fn build_store(settings: &Settings, keys: &KeyringHandle) -> Result<AnyStore, String> {
    Ok(match settings.store.kind {
        StoreKind::Token => AnyStore::Token(TokenStore::new(TokenCodec::new(
            settings.token.clone(),
            settings.limits.clone(),
            keys.clone(),
        ))),
        StoreKind::Redis => AnyStore::Redis(redis_store(settings)?),
        StoreKind::Memory => AnyStore::Memory(MemoryStore::new(
            settings.memory.max_carts,
            settings.token.idle_ttl_secs,
            settings.token.absolute_ttl_secs,
        )),
        StoreKind::None => AnyStore::None(NoneStore::new(Session {
            cart: NoneStore::template_cart(settings.store.none_template_lines, &settings.limits),
            ..Session::default()
        })),
    })
}

/// The routes of DESIGN section 5.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use routes::{cart, demo, ops, products};
    let not_allowed =
        || web::to(|| async { Err::<actix_web::HttpResponse, _>(ApiError::MethodNotAllowed) });
    cfg.service(
        web::resource("/cart")
            .route(web::get().to(cart::get))
            .route(web::post().to(cart::create))
            .route(web::delete().to(cart::clear))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/cart/items")
            .route(web::post().to(cart::add))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/cart/items/{line}")
            .route(web::patch().to(cart::set_quantity))
            .route(web::delete().to(cart::remove))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/cart/merge")
            .route(web::post().to(cart::merge))
            .default_service(not_allowed()),
    )
    .service(get_only("/products", web::get().to(products::list)))
    .service(get_only("/healthz", web::get().to(ops::healthz)))
    .service(get_only("/readyz", web::get().to(ops::readyz)))
    .service(get_only("/metrics", web::get().to(ops::metrics)))
    .service(get_only("/.well-known/jwks.json", web::get().to(ops::jwks)))
    .service(get_only("/openapi.json", web::get().to(ops::openapi)))
    .service(get_only("/", web::get().to(demo::index)))
    .service(get_only("/static/app.js", web::get().to(demo::app_js)))
    .service(get_only(
        "/static/style.css",
        web::get().to(demo::style_css),
    ))
    .default_service(web::to(|| async {
        Err::<actix_web::HttpResponse, _>(ApiError::NotFound)
    }));
}

/// A resource that answers GET (and HEAD), and 405 problem+json to the rest.
fn get_only(path: &str, get: actix_web::Route) -> actix_web::Resource {
    web::resource(path)
        .route(get)
        .default_service(web::to(|| async {
            Err::<actix_web::HttpResponse, _>(ApiError::MethodNotAllowed)
        }))
}

/// Reloads the keyring and the catalog from the config file, atomically:
/// both load and validate, then both are swapped; if either fails, neither
/// is, and the old ones stay.
#[derive(Clone)]
pub struct Reloader {
    state: AppState,
}

impl Reloader {
    /// Reloads now. Returns the reason when the new config is refused.
    pub fn reload(&self) -> Result<(), String> {
        let result = self.try_reload();
        let outcome = if result.is_ok() { "ok" } else { "refused" };
        metrics::counter!("cartseal_reloads_total", "result" => outcome).increment(1);
        match &result {
            Ok(()) => log::info!("reloaded keys and catalog"),
            Err(reason) => {
                log::error!("reload refused, keeping the running keys and catalog: {reason}")
            }
        }
        result
    }

    fn try_reload(&self) -> Result<(), String> {
        let path = self
            .state
            .config_path
            .as_ref()
            .ok_or("no config file to reload")?;
        let settings = Settings::load(path).map_err(|e| e.to_string())?;
        let (keyring, warnings) = settings.load_keyring().map_err(|e| e.to_string())?;
        let catalog = settings.load_catalog().map_err(|e| e.to_string())?;
        for warning in warnings {
            log::warn!("{warning}");
        }
        self.state.keys.replace(keyring);
        self.state.catalog.store(catalog.map(Arc::new));
        Ok(())
    }
}

/// Runs the service until SIGTERM or SIGINT, reloading on SIGHUP. Prints
/// `cartseal listening on http://HOST:PORT` once bound, for scripts.
pub fn run(settings: Settings, config_path: PathBuf) -> std::io::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let host = settings.server.host.clone();
        let app = Application::build(settings, Some(config_path))?;
        let reloader = app.reloader();
        actix_web::rt::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut hangups) = signal(SignalKind::hangup()) else {
                log::error!("cannot listen for SIGHUP; reload is unavailable");
                return;
            };
            while hangups.recv().await.is_some() {
                let _ = reloader.reload();
            }
        });
        println!("cartseal listening on http://{host}:{}", app.port());
        use std::io::Write;
        std::io::stdout().flush()?;
        app.run_until_stopped().await
    })
}
