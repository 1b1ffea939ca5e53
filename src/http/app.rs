//! The composition root: settings in, a bound server out.
//!
//! [`Application::build`] loads the keyring and the catalog, builds the
//! store, binds its own listener (port 0 picks a free one) and exposes
//! [`Application::port`], so tests run the real server. [`run`] adds the
//! signals (SIGHUP reloads, SIGTERM and SIGINT drain and stop), the file
//! watcher of `reload.watch` (src/http/watch.rs) and the pid file.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::{KeepAlive, StatusCode};
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::{App, HttpServer};
use arc_swap::ArcSwapOption;

use super::reload::{Reloader, Trigger};
use super::routes::demo::DemoPage;
use super::state::AppState;
use super::{cors, routes, telemetry, transport};
use crate::catalog::CatalogError;
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::keys::{KeyringError, KeyringHandle};
use crate::store::{AnyStore, SetupError};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The keyring was refused.
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    /// The keyring was refused: every problem, one line each.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The catalog was refused.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The store could not be built.
    #[error(transparent)]
    Store(#[from] SetupError),
    /// A listener could not bind its address.
    #[error("cannot listen on the {listener} address {address}: {}", plain(.source))]
    Bind {
        /// `public` (`[server]`) or `admin` (`[admin]`).
        listener: &'static str,
        /// host:port as configured.
        address: String,
        source: std::io::Error,
    },
    /// Serving failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// An I/O error's text without the ` (os error N)` the standard library
/// appends: the operator reads `Address already in use`.
fn plain(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_owned(),
        _ => text,
    }
}

/// Binds `host:port` for the `listener` named in errors.
fn bind(listener: &'static str, host: &str, port: u16) -> Result<TcpListener, StartError> {
    TcpListener::bind((host, port)).map_err(|source| StartError::Bind {
        listener,
        address: if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        },
        source,
    })
}

/// A built, bound, not yet running server: the public listener, and the
/// admin listener for `/metrics` when it is enabled.
pub struct Application {
    port: u16,
    server: Server,
    admin: Option<(u16, Server)>,
    reloader: Reloader,
}

impl Application {
    /// Builds the service from settings, on the system clock.
    pub fn build(settings: Settings, config_path: Option<PathBuf>) -> Result<Self, StartError> {
        Self::build_with_clock(settings, config_path, Arc::new(SystemClock))
    }

    /// Builds the service with an explicit clock (tests move it by hand).
    pub fn build_with_clock(
        settings: Settings,
        config_path: Option<PathBuf>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartError> {
        telemetry::install();
        let (keyring, warnings) = settings.load_keyring()?;
        for warning in warnings {
            log::warn!("{warning}");
        }
        let catalog = settings.load_catalog()?;
        let keys = KeyringHandle::new(keyring);
        // Built here once so that a bad store setting stops start-up; each
        // worker then takes its own (`AnyStore::for_worker`).
        let store = AnyStore::from_settings(&settings, &keys)?;
        let state = AppState {
            store,
            catalog: Arc::new(ArcSwapOption::from(catalog.map(Arc::new))),
            keys,
            settings: Arc::new(settings),
            clock,
            config_path,
        };
        let server_settings = state.settings.server.clone();
        let listener = bind("public", &server_settings.host, server_settings.port)?;
        let port = listener.local_addr()?.port();
        let reloader = Reloader::new(state.clone());
        let admin = state
            .settings
            .admin
            .enabled
            .then(|| admin_server(&state, &reloader))
            .transpose()?;
        let demo = state
            .settings
            .demo
            .enabled
            .then(|| DemoPage::new(&state.settings.cors));
        let mut server = HttpServer::new(move || {
            let shared = state.clone();
            App::new()
                .data_factory(move || {
                    let mut state = shared.clone();
                    async move {
                        state.store = state.store.for_worker(&state.settings, &state.keys)?;
                        state.store.warm();
                        Ok::<_, SetupError>(state)
                    }
                })
                .wrap(ErrorHandlers::new().handler(StatusCode::UNAUTHORIZED, transport::challenge))
                .wrap(from_fn(cors::cors))
                .wrap(from_fn(telemetry::observe))
                .configure(|cfg| routes::configure(cfg, demo.as_ref()))
        })
        .shutdown_timeout(server_settings.shutdown_timeout_secs)
        .client_request_timeout(Duration::from_millis(
            server_settings.client_request_timeout_ms,
        ))
        .client_disconnect_timeout(Duration::from_millis(
            server_settings.client_disconnect_timeout_ms,
        ))
        .keep_alive(match server_settings.keep_alive_secs {
            0 => KeepAlive::Disabled,
            secs => KeepAlive::Timeout(Duration::from_secs(secs)),
        })
        .max_connections(server_settings.max_connections)
        .listen(listener)?;
        if server_settings.workers > 0 {
            server = server.workers(server_settings.workers);
        }
        Ok(Self {
            port,
            server: server.run(),
            admin,
            reloader,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The admin listener's port, when it is enabled.
    pub fn admin_port(&self) -> Option<u16> {
        self.admin.as_ref().map(|(port, _)| *port)
    }

    /// A handle that reloads keys and catalog (what SIGHUP does).
    pub fn reloader(&self) -> Reloader {
        self.reloader.clone()
    }

    /// Serves until the server is stopped (SIGTERM/SIGINT drain in-flight
    /// requests first).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Some((_, admin)) = self.admin else {
            return self.server.await;
        };
        let admin_handle = admin.handle();
        // The admin listener lives as long as the public one.
        let public = async {
            let served = self.server.await;
            admin_handle.stop(true).await;
            served
        };
        let (served, _) = tokio::join!(public, admin);
        served
    }

    /// The server handle, to stop it.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

/// The admin listener, on one worker: `/metrics`, the store's kind
/// (`/store`), the keyring's states and reloads (src/http/routes/admin.rs).
/// It reads the state's settings and the store's template, and opens no
/// connection.
fn admin_server(state: &AppState, reloader: &Reloader) -> Result<(u16, Server), StartError> {
    let settings = &state.settings;
    let listener = bind("admin", &settings.admin.host, settings.admin.port)?;
    let port = listener.local_addr()?.port();
    let reloader = actix_web::web::Data::new(reloader.clone());
    let state = actix_web::web::Data::new(state.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(reloader.clone())
            .app_data(state.clone())
            .configure(routes::configure_admin)
    })
    .workers(1)
    .shutdown_timeout(1)
    .client_request_timeout(Duration::from_secs(5))
    .listen(listener)?
    .run();
    Ok((port, server))
}

/// How `run` serves, beyond the settings.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The config file: what SIGHUP, `reload.watch` and `POST /reload`
    /// read again.
    pub config_path: PathBuf,
    /// A file to write the process id into once both listeners are bound
    /// (removed on a clean exit): `kill -HUP "$(cat FILE)"` then signals
    /// this replica and no other on the machine.
    pub pid_file: Option<PathBuf>,
}

/// Runs the service until SIGTERM or SIGINT, reloading on SIGHUP and, with
/// `reload.watch`, when the files change. Prints `cartseal admin on
/// http://HOST:PORT` (when the admin listener is on) and then `cartseal
/// listening on http://HOST:PORT` once bound, for scripts.
pub fn run(settings: Settings, options: RunOptions) -> Result<(), StartError> {
    actix_web::rt::System::new().block_on(async move {
        let host = settings.server.host.clone();
        let admin_host = settings.admin.host.clone();
        let watch = settings.reload.watch;
        let app = Application::build(settings, Some(options.config_path))?;
        let reloader = app.reloader();
        if watch && let Err(e) = super::watch::spawn(reloader.clone()) {
            log::error!("cannot watch the config files ({e}); reload on SIGHUP");
        }
        // The handler is installed here, before the listening line: a task
        // spawned to install it runs only once this future first yields,
        // after the line is printed, and until then SIGHUP's default action
        // ends the process. A script that reloads as soon as it reads the
        // line (a key rollout, tests/api/rotation) would kill the replica.
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::hangup()) {
            Ok(mut hangups) => {
                actix_web::rt::spawn(async move {
                    while hangups.recv().await.is_some() {
                        let _ = reloader.reload_for(Trigger::Signal);
                    }
                });
            }
            Err(e) => log::error!("cannot listen for SIGHUP ({e}); reload is unavailable"),
        }
        let pid_file = options.pid_file.map(PidFile::write).transpose()?;
        // The admin line first: scripts that wait for "listening on" then
        // have both.
        if let Some(port) = app.admin_port() {
            println!("cartseal admin on http://{admin_host}:{port}");
        }
        println!("cartseal listening on http://{host}:{}", app.port());
        use std::io::Write;
        std::io::stdout().flush()?;
        let served = app.run_until_stopped().await;
        drop(pid_file);
        Ok(served?)
    })
}

/// The pid file of `--pid-file`, removed when dropped.
struct PidFile(PathBuf);

impl PidFile {
    fn write(path: PathBuf) -> std::io::Result<Self> {
        std::fs::write(&path, format!("{}\n", std::process::id())).map_err(|e| {
            std::io::Error::new(e.kind(), format!("pid file {}: {e}", path.display()))
        })?;
        Ok(Self(path))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
