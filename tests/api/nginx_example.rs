//! examples/nginx/cartseal.conf, run as shipped (only its ports moved to
//! free ones): it routes each client by its routing key to one of three
//! replicas, cookie and bearer clients alike, and moves a dead replica's
//! clients to the others with their carts.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::failover::ONE_AT_A_TIME;
use crate::helpers::{Auth, BinaryServer, Client, ConfigDir, repo};
use crate::process::{ChildGuard, Nginx, free_port};

/// nginx on the example, with its listen port and replicas moved.
struct ExampleNginx {
    _proc: ChildGuard,
    dir: tempfile::TempDir,
    client: Client,
}

impl ExampleNginx {
    fn start(replicas: &[u16]) -> Self {
        let mut conf = std::fs::read_to_string(repo().join("examples/nginx/cartseal.conf"))
            .expect("the example");
        let port = free_port();
        assert!(conf.contains("listen 127.0.0.1:8080;"));
        conf = conf.replace(
            "listen 127.0.0.1:8080;",
            &format!("listen 127.0.0.1:{port};"),
        );
        for (i, replica) in replicas.iter().enumerate() {
            let shipped = format!("server 127.0.0.1:{} ", 8081 + i);
            assert!(conf.contains(&shipped), "the example names {shipped}");
            conf = conf.replace(&shipped, &format!("server 127.0.0.1:{replica} "));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cartseal.conf");
        std::fs::write(&path, conf).unwrap();
        let proc = Nginx::run(dir.path(), &path, port).unwrap_or_else(|e| panic!("{e}"));
        Self {
            _proc: proc,
            client: Client::new(format!("http://127.0.0.1:{port}")),
            dir,
        }
    }

    /// `GET /cart` as a browser holding `cart` and `route` sends it.
    async fn read(&self, cart: &str, route: &str) -> crate::helpers::Reply {
        self.client
            .get("/cart")
            .cookie("cart", cart)
            .cookie("cart_route", route)
            .send()
            .await
    }

    /// The replicas that answered requests carrying `route`, once the log
    /// holds `lines` of them: nginx writes a request's line after it sends
    /// the answer, so the last one can lag the client by a moment.
    async fn replicas_after(&self, route: &str, lines: usize) -> BTreeSet<String> {
        for _ in 0..100 {
            if self.lines_of(route) >= lines {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.replicas_of(route)
    }

    fn lines_of(&self, route: &str) -> usize {
        std::fs::read_to_string(self.dir.path().join("access.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.ends_with(&format!(" route={route}")))
            .count()
    }

    /// The replicas that answered requests carrying `route`.
    fn replicas_of(&self, route: &str) -> BTreeSet<String> {
        std::fs::read_to_string(self.dir.path().join("access.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.ends_with(&format!(" route={route}")))
            .filter_map(|l| {
                let tried = l.split(" upstream=").nth(1)?.split(" route=").next()?;
                Some(tried.rsplit(',').next()?.trim().to_owned())
            })
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nginx_example_keeps_each_client_on_one_replica_and_fails_over() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let config = ConfigDir::new();
    let env = [
        ("CARTSEAL__SERVER__WORKERS", "1"),
        ("CARTSEAL__CATALOG__FILE", ""),
    ];
    let mut replicas: Vec<BinaryServer> =
        (0..3).map(|_| BinaryServer::spawn(&config, &env)).collect();
    let ports: Vec<u16> = replicas.iter().map(|r| r.port).collect();
    let nginx = ExampleNginx::start(&ports);

    // A browser: the routing key comes as a cookie with the first cart.
    let first = nginx
        .client
        .request(Method::POST, "/cart/items")
        .json(&json!({ "sku": "TEE-100" }))
        .send()
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    let route = first.cookie_value("cart_route").expect("a routing key");
    let mut cart = first.cookie_value("cart").expect("a cart");
    for i in 0..12 {
        let reply = nginx
            .client
            .request(Method::POST, "/cart/items")
            .cookie("cart", &cart)
            .cookie("cart_route", &route)
            .json(&json!({ "sku": format!("SKU-{i}") }))
            .send()
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        cart = reply.cookie_value("cart").expect("a new cart");
        let read = nginx.read(&cart, &route).await;
        assert_eq!(read.status, 200);
    }
    // 12 writes and 12 reads sent the key (the first write had none yet).
    let browser_replicas = nginx.replicas_after(&route, 24).await;
    assert_eq!(
        browser_replicas.len(),
        1,
        "one replica for the key: {browser_replicas:?}"
    );

    // A mobile app: the key comes in `Cart-Route`, and goes back in it.
    let created = nginx.client.request(Method::POST, "/cart").send().await;
    assert_eq!(created.status, 201, "{}", created.text);
    let app_route = created
        .header("cart-route")
        .expect("a routing key")
        .to_owned();
    let mut token = created.body["token"].as_str().unwrap().to_owned();
    for i in 0..12 {
        let reply = nginx
            .client
            .request(Method::POST, "/cart/items")
            .auth(&Auth::Bearer(token.clone()))
            .header("Cart-Route", &app_route)
            .json(&json!({ "sku": format!("APP-{i}") }))
            .send()
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        token = reply.cart_token().expect("a new token");
    }
    // The example's log names the key nginx hashed (`$cart_route`).
    let app_replicas = nginx.replicas_after(&app_route, 12).await;
    assert_eq!(
        app_replicas.len(),
        1,
        "one replica for the key: {app_replicas:?}"
    );

    // The browser's replica dies: its next request reaches another, with
    // every line.
    let home = browser_replicas.into_iter().next().unwrap();
    let victim = ports
        .iter()
        .position(|p| home.ends_with(&format!(":{p}")))
        .expect("a replica");
    replicas[victim].kill();
    let after = nginx.read(&cart, &route).await;
    assert_eq!(after.status, 200, "{}", after.text);
    assert_eq!(after.lines().len(), 13, "no line lost: {}", after.text);
    let now = nginx.replicas_after(&route, 25).await;
    assert_eq!(
        now.len(),
        2,
        "the key moved once, to one other replica: {now:?}"
    );
}
