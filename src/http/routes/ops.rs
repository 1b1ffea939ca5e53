//! Operations endpoints: health, readiness, metrics, the store kind, JWKS,
//! OpenAPI.

use actix_web::{HttpResponse, web};
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm,
    OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::base64url;
use crate::http::openapi::{self, ProblemAnswer};
use crate::http::state::AppState;
use crate::http::telemetry;
use crate::keys::SigningMaterial;
use crate::store::CartStore;

/// `GET /healthz`: the process answers.
#[utoipa::path(get, path = "/healthz", summary = "Liveness",
    responses((status = 200, description = "The process answers")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// `GET /readyz`: keys loaded, and the store reachable. The public answer
/// says only ready or not; which store serves, and why it does not, is the
/// operator's to read in the log (docs/security.md, "Secrets stay out of
/// logs, errors and metrics").
#[utoipa::path(get, path = "/readyz", summary = "Readiness: keys loaded and the store reachable",
    responses(
        (status = 200, description = "Ready: `{\"status\": \"ready\"}`, and nothing about the store behind it",
            body = inline(Ready)),
        (status = 503, response = ProblemAnswer)))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.store.ready().await {
        Ok(()) => HttpResponse::Ok().json(Ready {
            status: Readiness::Ready,
        }),
        Err(reason) => {
            log::warn!(
                "not ready: the {} store: {reason}",
                state.settings.store.kind.as_str()
            );
            HttpResponse::ServiceUnavailable()
                .content_type("application/problem+json")
                .insert_header((actix_web::http::header::RETRY_AFTER, "1"))
                .json(serde_json::json!({
                    "type": "https://cartseal.dev/problems/not_ready",
                    "title": "Not ready",
                    "status": 503,
                    "code": "not_ready",
                    "detail": "The service cannot serve requests now; retry shortly.",
                }))
        }
    }
}

/// `GET /readyz`'s answer when ready.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Ready {
    #[schema(inline)]
    status: Readiness,
}

/// The one status `/readyz` answers 200 with.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Readiness {
    Ready,
}

/// `GET /store`, on the admin listener only: which store serves, and what
/// it can do. The public `/readyz` keeps it to itself.
pub async fn store(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "kind": state.settings.store.kind.as_str(),
        "capabilities": state.store.capabilities(),
    }))
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(telemetry::render())
}

/// `GET /.well-known/jwks.json`: the public halves of the Ed25519 signing
/// keys that open tokens. HS256 secrets are never published.
#[utoipa::path(get, path = "/.well-known/jwks.json",
    summary = "Public Ed25519 keys that verify jwt-format tokens",
    responses((status = 200, description = "A JWK set")))]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    let ring = state.keys.load();
    let keys = ring
        .signing_keys()
        .iter()
        .filter(|k| k.state.opens())
        .filter_map(|k| match &k.material {
            SigningMaterial::Ed25519 { public, kid, .. } => Some(Jwk {
                common: CommonParameters {
                    public_key_use: Some(PublicKeyUse::Signature),
                    key_algorithm: Some(KeyAlgorithm::EdDSA),
                    key_id: Some(kid.clone()),
                    ..CommonParameters::default()
                },
                algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                    key_type: OctetKeyPairType::OctetKeyPair,
                    curve: EllipticCurve::Ed25519,
                    x: base64url::encode(public),
                }),
            }),
            SigningMaterial::Hs256 { .. } => None,
        })
        .collect();
    HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "max-age=300"))
        .json(JwkSet { keys })
}

/// `GET /openapi.json`: the document src/http/openapi.rs derives from the
/// handlers, rendered once.
#[utoipa::path(get, path = "/openapi.json", summary = "This document",
    responses((status = 200, description = "OpenAPI 3.1")))]
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(openapi::json())
}
