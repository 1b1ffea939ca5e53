//! `GET /`: the demo shop page, embedded in the binary (no build step). It
//! is served only when config.toml sets `demo.enabled = true`: it shares the
//! cart cookie with any other front end on the host (docs/deployment.md,
//! "One host, two front ends"). `/static/cartseal-client.js`, the client
//! module a shop may load, is served whatever the setting.
//!
//! The page talks to this origin, or, with `?api=ORIGIN`, to another
//! cartseal, but only to an origin listed in `demo.api_origins`: the page
//! receives that list in a meta tag, and its Content-Security-Policy allows
//! connections to exactly those origins. Without that,
//! `/?api=https://elsewhere` would make the shop's own origin show another
//! server's catalog. `cors.allowed_origins` says something else (which
//! pages may call this API) and is not used here.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};

use crate::config::DemoConfig;

const INDEX_HTML: &str = include_str!("../../../static/index.html");
const APP_JS: &str = include_str!("../../../static/app.js");
/// The client module, served at `/static/cartseal-client.js`: its sources
/// in clients/js/src joined in the order of `PARTS` in
/// clients/js/build.mjs, which builds the npm package from the same files
/// (clients/js/test/package.test.mjs holds the two orders equal).
pub const CLIENT_JS: &str = concat!(
    include_str!("../../../clients/js/src/head.js"),
    include_str!("../../../clients/js/src/messages.js"),
    include_str!("../../../clients/js/src/shared.js"),
    include_str!("../../../clients/js/src/request.js"),
    include_str!("../../../clients/js/src/client.js"),
    include_str!("../../../clients/js/src/tail.js"),
);
const STYLE_CSS: &str = include_str!("../../../static/style.css");

/// Where the page's list of allowed API origins goes.
const ORIGINS_SLOT: &str = "<meta name=\"cartseal-api-origins\" content=\"\">";

/// The page as this service serves it: its HTML with the allowed API
/// origins, and the policy that confines it to them.
#[derive(Debug, Clone)]
pub struct DemoPage {
    html: String,
    csp: HeaderValue,
}

impl DemoPage {
    /// The page for these settings. Origins are validated at start-up
    /// (`DemoConfig::validate`): no spaces, quotes or semicolons reach the
    /// HTML or the policy.
    pub fn new(demo: &DemoConfig) -> Self {
        let origins = demo.api_origins.join(" ");
        let html = INDEX_HTML.replacen(
            ORIGINS_SLOT,
            &format!("<meta name=\"cartseal-api-origins\" content=\"{origins}\">"),
            1,
        );
        let connect = if origins.is_empty() {
            "'self'".to_owned()
        } else {
            format!("'self' {origins}")
        };
        let csp = format!(
            "default-src 'self'; connect-src {connect}; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        );
        Self {
            html,
            csp: HeaderValue::from_str(&csp).expect("validated origins make a valid header"),
        }
    }
}

fn page(
    content_type: &'static str,
    body: impl actix_web::body::MessageBody + 'static,
) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(body)
}

/// The page.
#[utoipa::path(get, path = "/", summary = "The demo shop page",
    responses((status = 200, description = "HTML")))]
pub async fn index(demo: web::Data<DemoPage>) -> HttpResponse {
    let mut response = page("text/html; charset=utf-8", demo.html.clone());
    response
        .headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, demo.csp.clone());
    response
}

/// Its script.
pub async fn app_js() -> HttpResponse {
    page("text/javascript; charset=utf-8", APP_JS)
}

/// The cart client it uses, which a shop may load or copy for its own pages:
/// served whether the demo is on or off, revalidated on every use
/// (`no-cache`) since it changes with the server's version.
pub async fn client_js() -> HttpResponse {
    page("text/javascript; charset=utf-8", CLIENT_JS)
}

/// Its style sheet.
pub async fn style_css() -> HttpResponse {
    page("text/css; charset=utf-8", STYLE_CSS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_carries_its_slot_for_the_allowed_origins() {
        assert!(
            INDEX_HTML.contains(ORIGINS_SLOT),
            "static/index.html lost its meta slot"
        );
        let page = DemoPage::new(&DemoConfig {
            enabled: true,
            api_origins: vec![
                "https://shop.example".into(),
                "http://localhost:5173".into(),
            ],
        });
        assert!(
            page.html
                .contains(r#"content="https://shop.example http://localhost:5173""#)
        );
        let csp = page.csp.to_str().unwrap();
        assert!(csp.contains("connect-src 'self' https://shop.example http://localhost:5173;"));
        assert!(!csp.contains('*'));
        let alone = DemoPage::new(&DemoConfig::default());
        assert!(alone.csp.to_str().unwrap().contains("connect-src 'self';"));
    }

    #[test]
    fn the_demo_is_off_unless_configured_and_says_it_shares_the_cookie() {
        assert!(!DemoConfig::default().enabled);
        assert!(
            INDEX_HTML.contains("data-shared-cookie"),
            "the page says it shares the cart cookie"
        );
        let bad = DemoConfig {
            enabled: true,
            api_origins: vec!["https://a.example; script-src *".into(), "*".into()],
        };
        assert_eq!(bad.validate().len(), 2);
    }
}
