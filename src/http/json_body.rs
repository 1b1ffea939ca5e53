//! [`JsonBody`]: the JSON-object body of a write, read under
//! `limits.body_max_bytes`.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::state::AppState;

/// A request body that must be a JSON object of type `T`. Extracting it
/// checks, in this order: the content type (`application/json`, else 415;
/// no HTML form can send it, which is also part of the CSRF defence), the
/// declared and the actual length, that the body is an object (derived
/// deserializers would also take a struct as a positional array), that no
/// object in it names a key twice, and its fields.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let checked = check_head(req);
        let timeout = req
            .app_data::<web::Data<AppState>>()
            .map_or(Duration::from_secs(5), |state| {
                Duration::from_millis(state.settings.server.body_timeout_ms)
            });
        // Taking the payload stream cannot fail.
        let payload = web::Payload::from_request(req, payload).into_inner();

        Box::pin(async move {
            let limit = checked?;
            let payload = payload.map_err(|_| {
                ApiError::PayloadInvalid("The request body could not be read.".into())
            })?;
            // A body that stops mid-way costs one timeout, not a worker.
            let read = tokio::time::timeout(timeout, payload.to_bytes_limited(limit));
            let body = match read.await {
                Err(_) => return Err(ApiError::RequestTimeout),
                Ok(Ok(Ok(body))) => body,
                Ok(Ok(Err(_))) => {
                    return Err(ApiError::PayloadInvalid(
                        "The request body could not be read.".into(),
                    ));
                }
                Ok(Err(_)) => return Err(ApiError::PayloadTooLarge { limit }),
            };
            if body.trim_ascii_start().first() != Some(&b'{') {
                return Err(ApiError::PayloadInvalid(
                    "The body must be a JSON object.".into(),
                ));
            }
            check_unique_keys(&body)?;
            serde_json::from_slice(&body).map(JsonBody).map_err(|e| {
                ApiError::PayloadInvalid(format!(
                    "The body is not the JSON this endpoint takes: {}.",
                    describe_json_error(&e)
                ))
            })
        })
    }
}

/// Refuses a body in which an object, at any depth, names a key twice
/// (`{"size":"M","size":"XL"}`): serde keeps the last value and many front
/// ends and WAFs the first, so they would see another cart than the one
/// stored (docs/security.md, "Duplicate keys"). Keys compare after their
/// escapes are decoded. A malformed body is left to the parse that follows,
/// which says where.
fn check_unique_keys(body: &[u8]) -> Result<(), ApiError> {
    match serde_json::from_slice::<UniqueKeys>(body) {
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            Err(ApiError::DuplicateKey {
                line: e.line(),
                column: e.column(),
            })
        }
        _ => Ok(()),
    }
}

/// Any JSON value; deserializing it fails, as a data error, on an object
/// that names a key twice.
struct UniqueKeys;

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeys)
    }
}

impl<'de> serde::de::Visitor<'de> for UniqueKeys {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self, E> {
        Ok(self)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self, E> {
        Ok(self)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self, E> {
        Ok(self)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self, E> {
        Ok(self)
    }

    fn visit_str<E>(self, _: &str) -> Result<Self, E> {
        Ok(self)
    }

    fn visit_unit<E>(self) -> Result<Self, E> {
        Ok(self)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(self)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key) {
                return Err(serde::de::Error::custom("a key named twice"));
            }
            map.next_value::<UniqueKeys>()?;
        }
        Ok(self)
    }
}

/// The checks made before the body is read; returns the length limit.
fn check_head(req: &HttpRequest) -> Result<usize, ApiError> {
    if !is_json(req) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let limit = req
        .app_data::<web::Data<AppState>>()
        .map_or(0, |state| state.settings.limits.body_max_bytes);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    Ok(limit)
}

/// True when the request says its body is JSON.
fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// A description of a JSON error that names the problem and where, without
/// echoing the client's data back.
fn describe_json_error(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match error.classify() {
        Category::Syntax | Category::Eof => "malformed JSON",
        Category::Data => "a field is missing, unknown, or of the wrong type or range",
        Category::Io => "unreadable body",
    };
    format!("{what} (line {}, column {})", error.line(), error.column())
}
