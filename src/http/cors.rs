//! Exact-origin CORS with credentials: never `*`, never `null`, never a
//! reflected origin that is not configured.
//!
//! Written here rather than taken from actix-cors because that crate answers
//! a preflight from an unlisted origin with a plain-text 400, and every answer
//! of this service is either a success or problem+json. An unlisted origin
//! simply gets no CORS headers, so the browser withholds the response; its
//! cookie-mode writes are refused by the CSRF rule anyway.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};

use super::state::AppState;

const ALLOW_METHODS: &str = "GET, POST, PATCH, DELETE";
const ALLOW_HEADERS: &str = "content-type, authorization, cart-route";
const EXPOSE_HEADERS: &str = "cart-token, cart-route, cart-revision";

/// The CORS middleware.
pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let allowed = req.headers().get(header::ORIGIN).cloned().filter(|origin| {
        req.app_data::<web::Data<AppState>>().is_some_and(|state| {
            state
                .settings
                .cors
                .allowed_origins
                .iter()
                .any(|a| a.as_bytes() == origin.as_bytes())
        })
    });
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let mut response = HttpResponse::NoContent();
        response.insert_header((header::VARY, "Origin"));
        if let Some(origin) = allowed {
            response
                .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
                .insert_header((header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"))
                .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS))
                .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"));
        }
        return Ok(req.into_response(response.finish()).map_into_right_body());
    }
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allowed {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
    Ok(response.map_into_left_body())
}
