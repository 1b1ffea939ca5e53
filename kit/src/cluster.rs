//! Replicas of the service behind nginx: how the rotation and failover
//! tests run the service as production does, several replicas behind one
//! load balancer, with one replica killed or reconfigured while the others
//! serve.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::process::{Nginx, Routing, Service, Tuning};

/// A replica a cluster runs: the service, with whatever its owner keeps
/// beside it (its config directory, its stage in a rotation).
pub trait Replica {
    /// The running service.
    fn service(&self) -> &Service;
}

impl Replica for Service {
    fn service(&self) -> &Service {
        self
    }
}

/// Replicas behind nginx, killed when dropped (nginx first).
pub struct Cluster<R> {
    nginx: Nginx,
    replicas: Vec<R>,
}

impl<R: Replica> Cluster<R> {
    /// How long a killed replica may take to stop answering (a hang
    /// guard, not a timing assertion).
    pub const PATIENCE: Duration = Duration::from_secs(5);

    /// `count` replicas, replica `i` started by `start(i)`, behind nginx
    /// routing with `routing` (its access log on, a new upstream connection
    /// for every request: no request rides a connection to a dead replica).
    /// Fails loudly when nginx does not start.
    pub fn start(count: usize, routing: Routing, start: impl FnMut(usize) -> R) -> Self {
        let replicas: Vec<R> = (0..count).map(start).collect();
        let nginx = Nginx::try_start(&ports(&replicas), routing, Tuning::default())
            .unwrap_or_else(|e| panic!("{e}"));
        Self { nginx, replicas }
    }

    /// nginx's URL: where the clients go.
    pub fn url(&self) -> &str {
        &self.nginx.url
    }

    pub fn replicas(&self) -> &[R] {
        &self.replicas
    }

    pub fn replica(&self, i: usize) -> &R {
        &self.replicas[i]
    }

    pub fn replica_mut(&mut self, i: usize) -> &mut R {
        &mut self.replicas[i]
    }

    /// The replicas' ports, in order.
    pub fn ports(&self) -> Vec<u16> {
        ports(&self.replicas)
    }

    /// SIGKILLs replica `i` (it dies without draining), and waits until its
    /// port refuses connections.
    pub async fn kill(&self, i: usize) {
        let service = self.replicas[i].service();
        service.proc.signal("KILL");
        let deadline = Instant::now() + Self::PATIENCE;
        while tokio::net::TcpStream::connect(("127.0.0.1", service.port))
            .await
            .is_ok()
        {
            assert!(
                Instant::now() < deadline,
                "replica {i} still answers after SIGKILL"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Which upstreams answered each routing key (the `cart_route`
    /// cookie), in the order of nginx's access log: for each request the
    /// last one nginx tried (`127.0.0.1:PORT`, or whatever nginx logged).
    pub fn routes(&self) -> BTreeMap<String, Vec<String>> {
        let mut answered: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in self.nginx.access_log().lines() {
            let Some((head, route)) = line.rsplit_once(" route=") else {
                continue;
            };
            if route.is_empty() || route == "-" {
                continue;
            }
            // `$upstream_addr` lists every replica tried; the last answered.
            let Some(tried) = head.rsplit_once(" upstream=").map(|(_, u)| u) else {
                continue;
            };
            let last = tried.rsplit(',').next().unwrap_or(tried).trim();
            answered
                .entry(route.to_owned())
                .or_default()
                .push(last.to_owned());
        }
        answered
    }
}

fn ports<R: Replica>(replicas: &[R]) -> Vec<u16> {
    replicas.iter().map(|r| r.service().port).collect()
}
