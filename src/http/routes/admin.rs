//! The admin listener's own endpoints, beside `/metrics`: what a running
//! replica holds, and reloads on demand (docs/key-rotation.md). Loopback by
//! default and never on the public port: they name key ids, files and
//! settings, though never key material.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use crate::http::reload::{ReloadError, Reloader, Trigger};

/// `GET /keys`: the running keyring, each key's id, purpose, kid and state.
pub async fn keys(reloader: web::Data<Reloader>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "config": config_path(&reloader),
        "keys": reloader.key_states(),
    }))
}

/// `POST /reload`: what SIGHUP does, for this replica alone, answered with
/// what changed, or 409 with the reason it was refused.
pub async fn reload(reloader: web::Data<Reloader>) -> HttpResponse {
    let result = web::block(move || reloader.reload_for(Trigger::Admin)).await;
    answer(result.unwrap_or(Err(ReloadError::Interrupted)), "reloaded")
}

/// `POST /reload/check`: what `POST /reload` would answer now, without
/// reloading: the same file read and the same checks.
pub async fn check(reloader: web::Data<Reloader>) -> HttpResponse {
    let path = config_path(&reloader);
    let result = web::block(move || reloader.check()).await;
    let mut response = answer(
        result.unwrap_or(Err(ReloadError::Interrupted)),
        "would_reload",
    );
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&path) {
        response.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("cartseal-config"),
            value,
        );
    }
    response
}

/// The config file as an absolute path, as `check-config` compares it.
fn config_path(reloader: &Reloader) -> String {
    reloader
        .config_path()
        .map(|p| {
            p.canonicalize()
                .unwrap_or_else(|_| p.to_path_buf())
                .display()
                .to_string()
        })
        .unwrap_or_default()
}

fn answer(result: Result<Vec<String>, ReloadError>, status: &str) -> HttpResponse {
    match result {
        Ok(changes) => HttpResponse::Ok().json(serde_json::json!({
            "status": status,
            "changes": changes,
        })),
        Err(reason) => HttpResponse::build(StatusCode::CONFLICT)
            .content_type("application/problem+json")
            .json(serde_json::json!({
                "type": "https://cartseal.dev/problems/reload_refused",
                "title": "Reload refused",
                "status": 409,
                "code": "reload_refused",
                "detail": reason.to_string(),
            })),
    }
}
