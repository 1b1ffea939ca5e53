//! The load benchmark's peer: the same cart service written on
//! [actix-session](https://docs.rs/actix-session/0.11), the library a Rust
//! shop would pick instead of cartseal. It serves the bench modes
//! `actix-session-cookie` and `actix-session-redis`.
//!
//! It answers the routes the load generator uses with the same JSON bodies
//! and problem codes as cartseal (run, as the benchmark runs it, without a
//! catalog), and does the same validation work as cartseal's cart handlers:
//! header sizes, the cookie-mode CSRF rule, the body limit and JSON shape,
//! every field of every line on the way in, and every line of the stored cart
//! again on the way out of the session (cartseal re-checks a cart whenever it
//! opens one). What differs is only where the cart lives, which is the
//! comparison:
//!
//! - [`PeerStore::Cookie`]: `CookieSessionStore`. The whole session state is
//!   the cookie, encrypted by actix-session's default
//!   `CookieContentSecurity::Private` (AES-256-GCM). A write whose cookie
//!   would exceed the same 3,800-character budget as cartseal's token is
//!   refused with `413 cart_too_large`, and the client keeps its cookie.
//! - [`PeerStore::Redis`]: `RedisSessionStore`. The cookie holds an encrypted
//!   random session key; a read is one `GET`, a write one more `SET .. EX`
//!   (the TTL slides on each write; cartseal's `GETEX` also slides it on
//!   reads, which actix-session can only do with an extra `EXPIRE` per read).
//!
//! The cart is stored as actix-session stores anything:
//! `session.insert("cart", &lines)` (plus `revision` and `expires_at`), so
//! each value is a JSON string inside the JSON session state.
//!
//! Not served: `POST /cart` and `POST /cart/merge` (bearer tokens and token
//! merging are cartseal's own; they answer 405 here), `/products`,
//! `/metrics` and the demo. Not done: cartseal's CORS and metrics
//! middlewares, which are not validation.
//!
//! The load benchmark (loadgen/) starts this binary as
//! `cartseal-peer cookie|redis [--port N] [--workers N] [--redis-url URL]`,
//! pinned like the cartseal server.
//!
//! # Layout
//!
//! `handlers` (one function per route), `cart` (the lines and their checks),
//! `session` (the cart in and out of the actix-session state, and the cookie
//! budget), `backend` (the per-worker session store), `request` (header,
//! CSRF and body checks) and `response` (the CartView and problem+json).

mod backend;
mod cart;
mod handlers;
mod request;
mod response;
mod session;

use std::io::Write as _;
use std::net::TcpListener;
use std::rc::Rc;
use std::time::Duration;

use actix_session::SessionMiddleware;
use actix_session::config::{CookieContentSecurity, PersistentSession, TtlExtensionPolicy};
use actix_session::storage::{CookieSessionStore, RedisSessionStore};
use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Key, SameSite};
use actix_web::{App, HttpResponse, HttpServer, Resource, Route, web};

use backend::{Backend, WorkerRedis};
use handlers::{add, clear, get_cart, healthz, readyz, remove, set_quantity};
use response::ApiError;

/// Where the sessions live.
pub enum PeerStore {
    /// In the cookie itself (`CookieSessionStore`).
    Cookie,
    /// In Redis at `url` (`RedisSessionStore`).
    Redis {
        /// A `redis://` URL.
        url: String,
    },
}

// cartseal's defaults (src/limits.rs, config.toml), as the benchmark runs it.
const COOKIE_NAME: &str = "cart";
/// The idle TTL: cartseal's `token.idle_ttl_secs`, 7 days.
const IDLE_TTL_SECS: i64 = 7 * 24 * 3600;
const TOKEN_BUDGET: usize = 3800;
const HEADER_MAX_BYTES: usize = 8192;
const BODY_MAX_BYTES: usize = 16 * 1024;
const MAX_LINES: usize = 100;
const MAX_QUANTITY: u32 = 999;
const SKU_MAX_CHARS: usize = 64;
const MAX_PROPERTIES: usize = 5;
const PROPERTY_KEY_MAX_BYTES: usize = 32;
const PROPERTY_VALUE_MAX_BYTES: usize = 256;

/// The session keys.
const CART: &str = "cart";
const REVISION: &str = "revision";
const EXPIRES_AT: &str = "expires_at";

/// The cookie key (64 bytes: encryption and signing). Fixed, like cartseal's
/// development keys, so that every worker and a restarted peer open the same
/// cookies. Not a secret: this is a benchmark.
const SESSION_KEY: &[u8; 64] = b"cartseal bench peer: fixed actix-session cookie key, not secret!";

/// AES-GCM nonce and tag that `CookieContentSecurity::Private` adds.
const SEAL_OVERHEAD: usize = 12 + 16;

const USAGE: &str = "usage: cartseal-peer cookie|redis [--port N] [--workers N] [--redis-url URL]";

// As the service's src/main.rs: the peer allocates as the server does, so
// the comparison is not one of allocators.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Serves the peer until killed.
fn main() {
    let mut args = std::env::args().skip(1);
    let Some(store) = args.next() else {
        fail("which store?");
    };
    let mut port: u16 = 0;
    let mut workers: usize = 1;
    let mut redis_url = String::from("redis://127.0.0.1:6379");
    while let Some(name) = args.next() {
        let Some(value) = args.next() else {
            fail(&format!("{name} needs a value"));
        };
        match name.as_str() {
            "--port" => port = value.parse().unwrap_or_else(|_| fail("bad --port")),
            "--workers" => workers = value.parse().unwrap_or_else(|_| fail("bad --workers")),
            "--redis-url" => redis_url = value,
            _ => fail(&format!("unknown argument {name}")),
        }
    }
    let store = match store.as_str() {
        "cookie" => PeerStore::Cookie,
        "redis" => PeerStore::Redis { url: redis_url },
        _ => fail("the store is cookie or redis"),
    };
    let code = match serve(store, port, workers) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("peer: {e}");
            1
        }
    };
    std::process::exit(code);
}

fn fail(msg: &str) -> ! {
    eprintln!("peer: {msg}\n{USAGE}");
    std::process::exit(2);
}

/// Serves on 127.0.0.1:`port` with `workers` actix workers until killed;
/// prints `cartseal listening on http://127.0.0.1:PORT` once bound (port 0
/// picks a free one).
fn serve(store: PeerStore, port: u16, workers: usize) -> std::io::Result<()> {
    session::self_check().map_err(std::io::Error::other)?;
    actix_web::rt::System::new().block_on(async move {
        let redis_url = match store {
            PeerStore::Cookie => None,
            PeerStore::Redis { url } => Some(url),
        };
        if let Some(url) = &redis_url {
            // Refuse to start without Redis, rather than 500 on every write.
            RedisSessionStore::new(url.as_str())
                .await
                .map_err(|e| std::io::Error::other(format!("cannot connect to Redis: {e}")))?;
        }
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let port = listener.local_addr()?.port();
        let server = HttpServer::new(move || {
            // Per worker, like cartseal's Redis store: each worker's Redis
            // connection is driven by that worker's own runtime.
            let redis = redis_url
                .as_deref()
                .map(|url| Rc::new(WorkerRedis::new(url)));
            let backend = match &redis {
                Some(redis) => Backend::Redis(redis.clone()),
                None => Backend::Cookie(CookieSessionStore::default()),
            };
            let sessions = SessionMiddleware::builder(backend, Key::from(SESSION_KEY.as_slice()))
                .cookie_name(COOKIE_NAME.to_owned())
                // Plain http, as in the benchmark (cartseal's
                // `cookie.secure = false` names its cookie `cart` too).
                .cookie_secure(false)
                .cookie_http_only(true)
                .cookie_same_site(SameSite::Lax)
                .cookie_path("/".to_owned())
                .cookie_content_security(CookieContentSecurity::Private)
                .session_lifecycle(
                    PersistentSession::default()
                        .session_ttl(CookieDuration::seconds(IDLE_TTL_SECS))
                        .session_ttl_extension_policy(TtlExtensionPolicy::OnStateChanges),
                )
                .build();
            App::new()
                .app_data(web::Data::new(Peer {
                    cookie_store: redis.is_none(),
                }))
                .app_data(redis)
                .wrap(sessions)
                .configure(routes)
        })
        // cartseal's shipped `client_request_timeout_ms` and
        // `keep_alive_secs`, so that connections live as long on both.
        .client_request_timeout(Duration::from_secs(5))
        .keep_alive(Duration::from_secs(30))
        .workers(workers.max(1))
        .listen(listener)?
        .run();
        println!("cartseal listening on http://127.0.0.1:{port}");
        std::io::stdout().flush()?;
        server.await
    })
}

/// What the handlers need to know about the mode.
struct Peer {
    /// The session state is the cookie: its size is limited.
    cookie_store: bool,
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(
        "/cart",
        [web::get().to(get_cart), web::delete().to(clear)],
    ))
    .service(resource("/cart/items", [web::post().to(add)]))
    .service(resource(
        "/cart/items/{line}",
        [web::patch().to(set_quantity), web::delete().to(remove)],
    ))
    .service(resource("/healthz", [web::get().to(healthz)]))
    .service(resource("/readyz", [web::get().to(readyz)]))
    .default_service(web::to(|| async {
        Err::<HttpResponse, _>(ApiError::NotFound)
    }));
}

/// The endpoint `path` with its `routes`; any other method answers 405
/// `method_not_allowed`, as cartseal's endpoints do.
fn resource<const N: usize>(path: &str, routes: [Route; N]) -> Resource {
    routes
        .into_iter()
        .fold(web::resource(path), Resource::route)
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(ApiError::MethodNotAllowed)
        }))
}
