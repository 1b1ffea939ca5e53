//! A mobile client of cartseal: the bearer flow, over real HTTP.
//!
//! ```text
//! cargo run --release                                   # the service, on :8080
//! cargo run --example mobile_client -- http://127.0.0.1:8080
//! ```
//!
//! A mobile app holds its cart token itself and sends it as
//! `Authorization: Bearer <token>`; every response that changes (or
//! re-seals) the cart carries the token to keep in `Cart-Token`. This client:
//!
//! 1. creates a cart (`POST /cart`, 201, the token in the body);
//! 2. picks two products from the catalog (`GET /products`);
//! 3. adds them (`POST /cart/items`);
//! 4. reads the cart (`GET /cart`);
//! 5. changes a quantity (`PATCH /cart/items/{line}`);
//! 6. merges a guest cart in (`POST /cart/merge`), as an app does when the
//!    shopper logs in with a cart built before;
//! 7. reads the merged cart.
//!
//! It prints each step and exits non-zero on any unexpected status. It never
//! prints a token: tokens are credentials.
//!
//! **Chain the writes.** A write starts from the token it is sent with, and
//! its answer holds a token with that cart plus the change. Send each write
//! on the token of the previous answer, never two writes on one token: both
//! would be answered 200, but each answer's token would hold only its own
//! change, and the one the app keeps last would drop the other
//! (`tests/api/bearer_flow.rs` shows it). Here `Cart::call` takes
//! `&mut self` and keeps the new token before it returns, so the next write
//! cannot start before it. An app whose screens can write at the same time
//! queues those writes behind one another, as the browser client module (`clients/js`)
//! does for the tabs of a browser.
//!
//! **Send back the routing key.** `POST /cart` (and any answer to a client
//! that sent none) hands out a `Cart-Route` key; sending it back in a
//! `Cart-Route` header lets a load balancer keep the app on the replica
//! that has its token cached (README, "Several replicas behind a load
//! balancer"). It says nothing about the cart: keep it with the token.

use std::process::ExitCode;

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

/// One cart, held the way a mobile app holds it.
struct Cart {
    http: Client,
    base: String,
    token: String,
    /// The routing key (`Cart-Route`), once the service handed one out.
    route: Option<String>,
}

impl Cart {
    /// `POST /cart`: a fresh cart and its token.
    async fn create(http: &Client, base: &str) -> Result<Self, String> {
        let response = http
            .post(format!("{base}/cart"))
            .send()
            .await
            .map_err(|e| format!("POST /cart: {e}"))?;
        let route = header(&response, "cart-route");
        let body = expect(response, StatusCode::CREATED, "POST /cart").await?;
        let token = body["token"]
            .as_str()
            .ok_or("POST /cart: no token in the body")?
            .to_owned();
        Ok(Self {
            http: http.clone(),
            base: base.to_owned(),
            token,
            route,
        })
    }

    /// One authenticated call; keeps the new token when one comes back.
    /// `&mut self`: the next call waits for this one and is sent on the
    /// token it kept.
    async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let what = format!("{method} {path}");
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(route) = &self.route {
            request = request.header("Cart-Route", route);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| format!("{what}: {e}"))?;
        let renewed = header(&response, "cart-token");
        if let Some(route) = header(&response, "cart-route") {
            self.route = Some(route);
        }
        let body = expect(response, StatusCode::OK, &what).await?;
        if let Some(token) = renewed {
            self.token = token;
        }
        Ok(body)
    }
}

/// A response header as text.
fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The JSON body of a response with the expected status, or why not.
async fn expect(
    response: reqwest::Response,
    status: StatusCode,
    what: &str,
) -> Result<Value, String> {
    let got = response.status();
    let text = response.text().await.map_err(|e| format!("{what}: {e}"))?;
    if got != status {
        return Err(format!("{what}: expected {status}, got {got}: {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("{what}: not JSON ({e}): {text}"))
}

/// "2 × TEE-100, 1 × MUG-104 (subtotal 6600 EUR)".
fn summary(view: &Value) -> String {
    let lines: Vec<String> = view["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| format!("{} × {}", i["quantity"], i["sku"].as_str().unwrap_or("?")))
                .collect()
        })
        .unwrap_or_default();
    let lines = if lines.is_empty() {
        "empty".to_owned()
    } else {
        lines.join(", ")
    };
    match (view["subtotal"].as_u64(), view["currency"].as_str()) {
        (Some(subtotal), Some(currency)) => format!("{lines} (subtotal {subtotal} {currency})"),
        _ => lines,
    }
}

async fn run(base: &str) -> Result<(), String> {
    let http = Client::new();

    let mut cart = Cart::create(&http, base).await?;
    println!(
        "1. POST /cart: a new cart, token of {} characters",
        cart.token.len()
    );

    let response = http
        .get(format!("{base}/products"))
        .send()
        .await
        .map_err(|e| format!("GET /products: {e}"))?;
    let products = expect(response, StatusCode::OK, "GET /products").await?;
    let skus: Vec<String> = products
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["sku"].as_str().map(str::to_owned))
        .take(2)
        .collect();
    let [first, second] = skus.as_slice() else {
        return Err(format!("GET /products: need two products, got {products}"));
    };
    println!("2. GET /products: picked {first} and {second}");

    cart.call(
        Method::POST,
        "/cart/items",
        Some(json!({ "sku": first, "quantity": 2 })),
    )
    .await?;
    let view = cart
        .call(Method::POST, "/cart/items", Some(json!({ "sku": second })))
        .await?;
    println!("3. POST /cart/items twice: {}", summary(&view));

    let view = cart.call(Method::GET, "/cart", None).await?;
    println!("4. GET /cart: {}", summary(&view));

    let line = view["items"][0]["line"]
        .as_str()
        .ok_or("GET /cart: no line key")?
        .to_owned();
    let view = cart
        .call(
            Method::PATCH,
            &format!("/cart/items/{line}"),
            Some(json!({ "quantity": 3 })),
        )
        .await?;
    println!("5. PATCH /cart/items/{line}: {}", summary(&view));

    let mut guest = Cart::create(&http, base).await?;
    guest
        .call(
            Method::POST,
            "/cart/items",
            Some(json!({ "sku": first, "quantity": 1 })),
        )
        .await?;
    let view = cart
        .call(
            Method::POST,
            "/cart/merge",
            Some(json!({ "token": guest.token })),
        )
        .await?;
    println!("6. POST /cart/merge (a guest cart): {}", summary(&view));

    let view = cart.call(Method::GET, "/cart", None).await?;
    let merged = view["items"][0]["quantity"].as_u64();
    if merged != Some(4) {
        return Err(format!(
            "GET /cart: after the merge, {first} should be 4, got {merged:?}"
        ));
    }
    println!("7. GET /cart: {}", summary(&view));
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
    let base = base.trim_end_matches('/');
    match run(base).await {
        Ok(()) => {
            println!("ok: the bearer flow works against {base}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("mobile_client: {message}");
            ExitCode::FAILURE
        }
    }
}
