//! The verified-token cache's counters, read from each replica's admin
//! listener (`/metrics`, Prometheus text) before and after a window.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

use crate::client::{Conn, build_request};

pub const HITS: &str = "cartseal_token_cache_hits_total";
pub const MISSES: &str = "cartseal_token_cache_misses_total";
pub const EVICTIONS: &str = "cartseal_token_cache_evictions_total";

/// The counters, added up over the replicas.
#[derive(Clone, Copy, Default, Serialize)]
pub struct CacheCounters {
    pub hits: f64,
    pub misses: f64,
    pub evictions: f64,
}

/// The change over a window, and the hit rate it makes.
#[derive(Clone, Serialize)]
pub struct CacheReport {
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    /// hits / (hits + misses); `None` when the cache saw no lookup.
    pub hit_rate: Option<f64>,
}

impl CacheReport {
    pub fn between(before: &CacheCounters, after: &CacheCounters) -> CacheReport {
        let d = |a: f64, b: f64| (b - a).max(0.0).round() as u64;
        let hits = d(before.hits, after.hits);
        let misses = d(before.misses, after.misses);
        CacheReport {
            hits,
            misses,
            evictions: d(before.evictions, after.evictions),
            hit_rate: (hits + misses > 0).then(|| hits as f64 / (hits + misses) as f64),
        }
    }
}

/// The counters of every admin listener, added up; `None` when there is no
/// admin listener, or none of them exports the cache's counters (a build
/// without the cache, or the actix-session peer).
pub async fn scrape(admins: &[SocketAddr]) -> Option<CacheCounters> {
    let mut total = CacheCounters::default();
    let mut found = false;
    for addr in admins {
        let Some(text) = fetch_metrics(*addr).await else {
            continue;
        };
        if let Some(c) = parse(&text) {
            total.hits += c.hits;
            total.misses += c.misses;
            total.evictions += c.evictions;
            found = true;
        }
    }
    found.then_some(total)
}

pub async fn fetch_metrics(addr: SocketAddr) -> Option<String> {
    let req = build_request("GET", "/metrics", &addr.to_string(), None, None);
    let res = tokio::time::timeout(Duration::from_secs(2), async {
        let mut conn = Conn::connect(addr).await.ok()?;
        conn.roundtrip(&req).await.ok()
    })
    .await
    .ok()??;
    (res.status == 200).then(|| String::from_utf8_lossy(&res.body).into_owned())
}

/// Sums every sample of each counter (whatever its labels); `None` when the
/// hit and miss counters are both absent.
fn parse(text: &str) -> Option<CacheCounters> {
    let mut c = CacheCounters::default();
    let mut seen = false;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name_labels, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let name = name_labels.split('{').next().unwrap_or_default().trim();
        let Ok(v) = value.trim().parse::<f64>() else {
            continue;
        };
        match name {
            HITS => c.hits += v,
            MISSES => c.misses += v,
            EVICTIONS => c.evictions += v,
            _ => continue,
        }
        if name != EVICTIONS {
            seen = true;
        }
    }
    seen.then_some(c)
}
