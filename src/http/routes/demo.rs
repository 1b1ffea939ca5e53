//! `GET /`: the demo shop page, embedded in the binary (no build step).

use actix_web::HttpResponse;
use actix_web::http::header;

const INDEX_HTML: &str = include_str!("../../../static/index.html");
const APP_JS: &str = include_str!("../../../static/app.js");
const STYLE_CSS: &str = include_str!("../../../static/style.css");

fn page(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(body)
}

/// The page.
pub async fn index() -> HttpResponse {
    let mut response = page("text/html; charset=utf-8", INDEX_HTML);
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'self'; connect-src *; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        ),
    );
    response
}

/// Its script.
pub async fn app_js() -> HttpResponse {
    page("text/javascript; charset=utf-8", APP_JS)
}

/// Its style sheet.
pub async fn style_css() -> HttpResponse {
    page("text/css; charset=utf-8", STYLE_CSS)
}
