//! Metrics and the one-line-per-request log. Neither ever sees a token, a
//! cookie, an Authorization header or cart contents: the log line holds the
//! method, the route pattern (not the path, which can hold a line key), the
//! status and the latency.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// How often histogram samples are folded into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the process-wide Prometheus recorder once, with a thread that
/// keeps its memory bounded: the recorder keeps every histogram sample until
/// it is folded into buckets, which a scrape of `/metrics` does, so a
/// service nobody scrapes (the admin listener off, or no Prometheus) would
/// otherwise grow with every request.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("seconds".into()),
                &[
                    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5,
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                ],
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Suffix("chars".into()),
                    &[
                        128.0, 256.0, 512.0, 1024.0, 1536.0, 2048.0, 3072.0, 3800.0, 4096.0,
                    ],
                )
            })
            .expect("bucket lists are not empty")
            .install_recorder()
            .expect("the metrics recorder is installed once");
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            })
            .expect("a thread starts");
        handle
    })
}

/// The metrics in Prometheus text format.
pub fn render() -> String {
    install().render()
}

/// The method as a metric label, from a fixed set: a label a client could
/// choose would let it add series to /metrics, and memory, without bound.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PUT => "PUT",
        _ => "other",
    }
}

/// A resource's path pattern (`/cart/items/{line}`), put on every resource
/// by the route table: the `route` label, read without matching the path
/// again.
#[derive(Debug, Clone, Copy)]
pub struct RoutePattern(pub &'static str);

/// A request's labels: route, method, status.
type Labels = (&'static str, &'static str, u16);

thread_local! {
    /// This worker's request counters and latency histograms, by route,
    /// method and status: looked up by their labels once, not on every
    /// request (labels built and hashed per request were a few percent of
    /// one, docs/benchmarks.md).
    static REQUEST_METRICS: RefCell<HashMap<Labels, (Counter, Histogram)>> =
        RefCell::new(HashMap::new());
}

/// The request counter and latency histogram of one set of labels.
fn request_metrics(
    route: Cow<'static, str>,
    method: &'static str,
    status: u16,
) -> (Counter, Histogram) {
    (
        metrics::counter!(
            "cartseal_http_requests_total",
            "route" => route.clone(),
            "method" => method,
            "status" => status.to_string()
        ),
        metrics::histogram!("cartseal_http_request_duration_seconds", "route" => route),
    )
}

/// Logs and counts every request. Every label comes from a fixed set: the
/// method ([`method_label`]), the route pattern (or `unmatched`), and the
/// status the service chose.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    let response = next.call(req).await?;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    // A request a middleware answered before its resource ran (a CORS
    // preflight) carries no pattern: its route is matched from the path,
    // and its handles are not kept.
    let pattern = response.request().app_data::<RoutePattern>().copied();
    let route: Cow<'static, str> = match pattern {
        Some(RoutePattern(route)) => Cow::Borrowed(route),
        None => Cow::Owned(
            response
                .request()
                .match_pattern()
                .unwrap_or_else(|| "unmatched".into()),
        ),
    };
    log::info!(
        "{method} {route} {status} {:.3}ms",
        elapsed.as_secs_f64() * 1000.0
    );
    let record = |(requests, duration): &(Counter, Histogram)| {
        requests.increment(1);
        duration.record(elapsed.as_secs_f64());
    };
    match route {
        Cow::Borrowed(route) => REQUEST_METRICS.with_borrow_mut(|handles| {
            record(
                handles
                    .entry((route, method, status))
                    .or_insert_with(|| request_metrics(Cow::Borrowed(route), method, status)),
            )
        }),
        Cow::Owned(_) => record(&request_metrics(route, method, status)),
    }
    Ok(response)
}
