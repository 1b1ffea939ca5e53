//! The demo shop page in a real browser.
//!
//! Debian's chromium is driven through chromedriver (WebDriver, via `fantoccini`)
//! against the real `cartseal` binary, started as a black box on port 0. These
//! tests check what only a browser can show: that the HttpOnly cookie really is
//! invisible to scripts, that the cart survives reloads and a killed replica, that
//! the page reports a full cart, that the browser's own CORS and CSRF
//! behaviour keeps a foreign page from changing the cart, and that two tabs
//! adding at once lose adds unless their writes go through
//! `/static/cartseal-client.js` (clients/js/src).
//!
//! chromium, chromedriver and nginx are required: a missing tool fails the test
//! loudly instead of skipping it. Browser tests run one at a time (a 2-core
//! machine cannot run several chromiums and servers at once reliably).
//!
//! `CARTSEAL_SCREENSHOT=1` also saves `docs/img/demo.png`.

mod cart;
mod driver;
mod frontends;
mod origins;
mod page;
mod sites;
mod tabs;

use std::time::Duration;

/// How long any single wait (a process starting, a page rendering) may take.
const PATIENCE: Duration = Duration::from_secs(30);

/// Browser tests take turns; see the module doc.
static ONE_BROWSER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A browser test's turn (see the module doc) and the fresh headless
/// chromium it drives.
struct Turn {
    _turn: tokio::sync::MutexGuard<'static, ()>,
    browser: driver::Browser,
}

impl Turn {
    /// Waits for the other browser tests to be done, then starts chromium.
    async fn take() -> Self {
        let turn = ONE_BROWSER_AT_A_TIME.lock().await;
        Self {
            _turn: turn,
            browser: driver::Browser::launch().await,
        }
    }

    /// A turn, and the shipped service with `env` over its config, for the
    /// browser to open.
    async fn with_shop(env: &[(&str, &str)]) -> (Self, crate::helpers::BinaryServer) {
        let turn = Self::take().await;
        (turn, crate::helpers::BinaryServer::spawn_shipped(env))
    }

    /// The browser's window, as the test drives it.
    fn page(&self) -> &fantoccini::Client {
        &self.browser.client
    }

    /// Closes chromium, and gives the turn to the next test.
    async fn end(self) {
        self.browser.quit().await;
    }
}
