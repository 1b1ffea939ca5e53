//! A headless chromium with a fresh profile, driven through chromedriver.

use fantoccini::{Client, ClientBuilder};
use serde_json::json;
use tempfile::TempDir;

use crate::process::{CHROMIUM, Chromedriver};

/// chromedriver on a port it picks itself, driving a headless chromium with a
/// fresh profile.
pub struct Browser {
    pub client: Client,
    session: Option<String>,
    driver: Chromedriver,
    _profile: TempDir,
}

impl Browser {
    pub async fn launch() -> Self {
        let driver = Chromedriver::start();
        let profile = tempfile::tempdir().expect("temp profile dir");
        let caps = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": { "pageLoad": 30000, "script": 15000, "implicit": 0 },
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let caps = caps.as_object().unwrap().clone();
        let client = ClientBuilder::rustls()
            .expect("a rustls connector for the WebDriver client")
            .capabilities(caps)
            .connect(&driver.url())
            .await
            .unwrap_or_else(|e| panic!("chromedriver could not start chromium ({CHROMIUM}): {e}"));
        let session = client.session_id().await.ok().flatten();
        Browser {
            client,
            session,
            driver,
            _profile: profile,
        }
    }

    pub async fn quit(mut self) {
        if self.client.clone().close().await.is_ok() {
            self.session = None;
        }
    }
}

impl Drop for Browser {
    /// After a panic the async client cannot be awaited any more: end the
    /// WebDriver session with a plain request, so chromedriver closes
    /// chromium; then the guard kills chromedriver's process group.
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            self.driver.end_session(&session);
        }
    }
}
