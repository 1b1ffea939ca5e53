//! A mode's processes: its Redis or Memcached (and delay proxy), its servers
//! (cartseal, or the actix-session peer, which is this benchmark's own binary
//! started again), and nginx in front of them when there is more than one
//! replica.
//! Everything server-side is pinned to the server's CPU; nginx to the load
//! generator's.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::mode::Ctx;
use crate::report::StoreRtt;
use crate::stats::CpuPids;
use crate::vu::Target;
use crate::workload::known;
use crate::{SERVER_WORKERS, client, process, procs, proxy};

/// The actix-session peer's store, for the peer modes.
pub fn peer_store(mode: &str) -> Option<&'static str> {
    match mode {
        "actix-session-cookie" => Some("cookie"),
        "actix-session-redis" => Some("redis"),
        _ => None,
    }
}

pub fn needs_redis(mode: &str) -> bool {
    (mode.starts_with("redis") && mode != "redis-cluster") || mode == "actix-session-redis"
}

pub fn needs_memcached(mode: &str) -> bool {
    mode.starts_with("memcached")
}

/// The cartseal server's environment for a mode; `store_url` is its Redis
/// or Memcached.
pub fn mode_env(mode: &str, store_url: Option<&str>, lines: usize) -> Vec<(String, String)> {
    let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
    let mut env = vec![
        kv("CARTSEAL__COOKIE__SECURE", "false"),
        kv("CARTSEAL__SERVER__WORKERS", &SERVER_WORKERS.to_string()),
        kv("CARTSEAL__CATALOG__FILE", ""),
    ];
    match mode {
        "token-paseto" | "token-paseto-nocache" => {
            env.push(kv("CARTSEAL__STORE__KIND", "token"));
            env.push(kv("CARTSEAL__TOKEN__FORMAT", "paseto"));
            if mode == "token-paseto-nocache" {
                // Turns the verified-token cache off. A build without the
                // `[cache]` section refuses the unknown key and the mode
                // fails to start, saying so.
                env.push(kv("CARTSEAL__CACHE__MAX_ENTRIES", "0"));
            }
        }
        "token-jwt" => {
            env.push(kv("CARTSEAL__STORE__KIND", "token"));
            env.push(kv("CARTSEAL__TOKEN__FORMAT", "jwt"));
        }
        "redis" | "redis+rtt" => {
            env.push(kv("CARTSEAL__STORE__KIND", "redis"));
            env.push(kv("CARTSEAL__REDIS__URL", store_url.unwrap_or_default()));
        }
        "redis-cluster" => {
            // `store_url`: the seed nodes, comma-separated.
            env.push(kv("CARTSEAL__STORE__KIND", "redis"));
            env.push(kv("CARTSEAL__REDIS__URL", ""));
            env.push(kv(
                "CARTSEAL__REDIS__CLUSTER_NODES",
                store_url.unwrap_or_default(),
            ));
        }
        "memcached" | "memcached+rtt" => {
            env.push(kv("CARTSEAL__STORE__KIND", "memcached"));
            env.push(kv(
                "CARTSEAL__MEMCACHED__URL",
                store_url.unwrap_or_default(),
            ));
        }
        "memory" => env.push(kv("CARTSEAL__STORE__KIND", "memory")),
        _ => {
            env.push(kv("CARTSEAL__STORE__KIND", "none"));
            // The fixed cart every request sees: as many lines as the VUs',
            // but one short of `limits.max_lines` (100), or every add would
            // be refused as one line too many.
            env.push(kv(
                "CARTSEAL__STORE__NONE_TEMPLATE_LINES",
                &lines.min(99).to_string(),
            ));
        }
    }
    if std::env::var_os("RUST_LOG").is_none() {
        // Per-request logging would be measured as server CPU.
        env.push(kv("RUST_LOG", "warn"));
    }
    env
}

/// Everything one mode runs, killed when dropped.
#[derive(Default)]
pub struct Stack {
    pub servers: Vec<process::Service>,
    pub log_paths: Vec<PathBuf>,
    /// The servers' environment (cartseal), or the peer's arguments.
    pub env: Vec<(String, String)>,
    pub notes: Vec<String>,
    pub store_rtt: StoreRtt,
    // Dropped in this order: nginx, servers (above), proxy, the store.
    nginx: Option<process::Nginx>,
    proxy: Option<proxy::DelayProxy>,
    redis: Option<process::Redis>,
    cluster: Option<process::RedisCluster>,
    memcached: Option<process::Memcached>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.nginx.take();
        self.servers.clear();
        self.proxy.take();
        self.redis.take();
        self.cluster.take();
        self.memcached.take();
    }
}

impl Stack {
    /// Starts a mode with `replicas` servers (behind nginx when more than
    /// one); `tag` names its log files.
    pub async fn start(ctx: &Ctx, mode: &str, replicas: usize, tag: &str) -> Result<Stack, String> {
        let mut stack = Stack::default();
        let mut store_url = None;
        if mode == "redis-cluster" {
            let cluster = crate::cluster::start(ctx, &mut stack.notes).await?;
            store_url = Some(cluster.urls().join(","));
            stack.cluster = Some(cluster);
        } else if needs_redis(mode) {
            let (redis, url) = stack
                .start_store(ctx, mode, "Redis", |program, log| {
                    process::RedisServer::start_with(program, Some(log))
                })
                .await?;
            stack.redis = Some(redis);
            store_url = Some(url);
        } else if needs_memcached(mode) {
            let (memcached, url) = stack
                .start_store(ctx, mode, "Memcached", |program, log| {
                    process::MemcachedServer::start_with(program, &[], Some(log))
                })
                .await?;
            if memcached.server().is_some() {
                stack.notes.push(
                    "the private memcached's CPU is reported where redis-server's would be (`redis_cpu_*` in the JSON)".into(),
                );
            }
            stack.memcached = Some(memcached);
            store_url = Some(url);
        }
        let tag = tag.replace('+', "-");
        for i in 0..replicas.max(1) {
            let log = if replicas > 1 {
                ctx.log_dir.join(format!("{tag}-server-{i}.log"))
            } else {
                ctx.log_dir.join(format!("{tag}-server.log"))
            };
            let server = match peer_store(mode) {
                Some(store) => {
                    let mut args = vec![
                        store.to_string(),
                        "--workers".to_string(),
                        SERVER_WORKERS.to_string(),
                    ];
                    if let Some(url) = &store_url {
                        args.extend(["--redis-url".to_string(), url.clone()]);
                    }
                    stack.env = vec![("argv".into(), args.join(" "))];
                    start_peer(ctx, args, &log).await?
                }
                None => {
                    stack.env = mode_env(mode, store_url.as_deref(), ctx.lines);
                    start_server(ctx, stack.env.clone(), &log).await?
                }
            };
            println!(
                "  server pid {} on {} (log {})",
                server.proc.pid(),
                server.url,
                log.display()
            );
            stack.servers.push(server);
            stack.log_paths.push(log);
        }
        if replicas > 1 {
            let ports: Vec<u16> = stack.servers.iter().map(|s| s.port).collect();
            let tuning = process::Tuning {
                upstream_keepalive: Some(64),
                access_log: false,
            };
            let routing = ctx.routing;
            let nginx = tokio::task::spawn_blocking(move || {
                process::Nginx::try_start(&ports, routing, tuning)
            })
            .await
            .map_err(|e| format!("the nginx start panicked: {e}"))??;
            // nginx shares the servers' core: a balancer runs beside the
            // replicas it serves, and the load generator keeps a core of
            // its own.
            if let Some(cpu) = ctx.server_cpu
                && let Err(e) = procs::pin_pid(nginx.pid(), cpu)
            {
                stack.notes.push(format!("nginx could not be pinned: {e}"));
            }
            println!(
                "  nginx pid {} on {}, {} over {} replicas",
                nginx.pid(),
                nginx.url,
                match routing {
                    process::Routing::CartRoute => "hashing the routing key",
                    process::Routing::Sticky => "hashing its own cookie",
                    process::Routing::RoundRobin => "round robin",
                },
                replicas
            );
            stack.nginx = Some(nginx);
        }
        Ok(stack)
    }

    /// Where the load goes: nginx, or the one server.
    pub fn target(&self) -> Arc<Target> {
        let port = match &self.nginx {
            Some(n) => n.port,
            None => self.servers[0].port,
        };
        Arc::new(Target {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            host: format!("127.0.0.1:{port}"),
        })
    }

    /// The processes whose CPU is counted. The central store's, Redis (or
    /// a Redis Cluster's nodes) or Memcached, goes where Redis's does.
    pub fn pids(&self) -> CpuPids {
        let store = self
            .redis
            .as_ref()
            .and_then(|r| r.server())
            .map(|s| s.pid())
            .or_else(|| {
                self.memcached
                    .as_ref()
                    .and_then(|m| m.server())
                    .map(|s| s.pid())
            });
        CpuPids {
            servers: self.servers.iter().map(|s| s.proc.pid()).collect(),
            redis: match &self.cluster {
                Some(cluster) => cluster.pids(),
                None => store.into_iter().collect(),
            },
            nginx: self.nginx.as_ref().map(|n| n.pid()),
            admins: self
                .servers
                .iter()
                .filter_map(|s| s.admin_url.as_deref())
                .filter_map(|u| u.trim_start_matches("http://").parse().ok())
                .collect(),
        }
    }

    /// Why the run is void if a server exited: which one, and its log.
    pub fn exited(&mut self) -> Option<String> {
        for (server, log) in self.servers.iter_mut().zip(&self.log_paths) {
            if let Some(status) = server.proc.exited() {
                return Some(format!(
                    "a server exited during the run ({status}); see {}",
                    log.display()
                ));
            }
        }
        None
    }

    /// A mode's central store, `label` (Redis, Memcached): a private server
    /// of kind `K` that `start` starts on the server's CPU, its output in
    /// the log dir's `<label>.log` (not `<mode>-server.log`: that is the
    /// mode's server log), or the one `K::ENV` names, whose CPU is not
    /// counted. For a `+rtt` mode, also the delay proxy in front of it
    /// ([`Stack::delay_store`]). Returns the store and the URL the servers
    /// use.
    async fn start_store<K: process::Kind>(
        &mut self,
        ctx: &Ctx,
        mode: &str,
        label: &str,
        start: fn(process::Program, &Path) -> Result<process::Server<K>, String>,
    ) -> Result<(process::Target<process::Server<K>>, String), String> {
        let cpu = ctx.server_cpu;
        let log = ctx.log_dir.join(format!("{}.log", label.to_lowercase()));
        let store = tokio::task::spawn_blocking(move || {
            process::Target::from_env_or(|| {
                start(
                    Box::new(move || procs::pinned_command(Path::new(K::NAME), cpu)),
                    &log,
                )
            })
        })
        .await
        .map_err(|e| format!("the {} start panicked: {e}", K::NAME))??;
        match store.server() {
            Some(server) => println!(
                "  private {} pid {} at {}{}",
                K::NAME,
                server.pid(),
                store.url(),
                cpu.map(|c| format!(", pinned to CPU {c}"))
                    .unwrap_or_default()
            ),
            None => {
                println!(
                    "  using {} {} (its CPU is not measured)",
                    K::ENV,
                    store.url()
                );
                self.notes.push(format!(
                    "external {label} from {} ({}): its CPU is not counted",
                    K::ENV,
                    store.url()
                ));
            }
        }
        let addr = store
            .addr()
            .ok_or_else(|| format!("cannot parse the {label} URL {:?}", store.url()))?;
        let url = self.delay_store(ctx, mode, K::SCHEME, store.url().to_owned(), addr)?;
        Ok((store, url))
    }

    /// Measures the store's round trip and, for a `+rtt` mode, puts the
    /// delay proxy in front of it; returns the URL the servers use (`url`,
    /// or the proxy's with `scheme`).
    fn delay_store(
        &mut self,
        ctx: &Ctx,
        mode: &str,
        scheme: &str,
        url: String,
        addr: SocketAddr,
    ) -> Result<String, String> {
        // Memcached answers the probe's `PING` line with one `ERROR` line:
        // the same one-line round trip.
        self.store_rtt.redis_ping_direct_us = proxy::redis_ping_median_us(addr, 200);
        if !mode.ends_with("+rtt") {
            return Ok(url);
        }
        let delay = Duration::from_secs_f64(ctx.args.rtt_ms / 1000.0);
        let p = proxy::DelayProxy::start(addr, delay)
            .map_err(|e| format!("cannot start the delay proxy: {e}"))?;
        let (direct, via) = p.calibrate(addr, delay);
        self.store_rtt = StoreRtt {
            redis_ping_direct_us: direct,
            redis_ping_via_proxy_us: via,
            proxy_hold_us: Some(p.hold().as_secs_f64() * 1e6),
        };
        println!(
            "  delay proxy 127.0.0.1:{} -> {} for {} ms each way (hold calibrated to {:.0} µs per chunk); PING median {} µs direct, {} µs via proxy",
            p.addr.port(),
            addr,
            ctx.args.rtt_ms,
            p.hold().as_secs_f64() * 1e6,
            known(direct, 0),
            known(via, 0),
        );
        let url = format!("{scheme}://127.0.0.1:{}", p.addr.port());
        self.proxy = Some(p);
        Ok(url)
    }
}

/// Starts the cartseal server on its CPU and waits until it is ready.
async fn start_server(
    ctx: &Ctx,
    env: Vec<(String, String)>,
    log_path: &Path,
) -> Result<process::Service, String> {
    let mut cmd = procs::pinned_command(&ctx.args.bin, ctx.server_cpu);
    cmd.envs(env);
    let config = ctx.crate_root.join("config.toml");
    let log = log_path.to_path_buf();
    let server =
        tokio::task::spawn_blocking(move || process::Service::start(cmd, &config, Some(&log)))
            .await
            .map_err(|e| format!("the server start panicked: {e}"))??;
    wait_ready(server, log_path).await
}

/// The actix-session peer's binary (peer/): `cartseal-peer`, built beside
/// the server's.
pub fn peer_binary(server: &Path) -> PathBuf {
    server.with_file_name("cartseal-peer")
}

/// Starts the actix-session peer ([`peer_binary`]) on the server's CPU and
/// waits until it is ready.
async fn start_peer(
    ctx: &Ctx,
    args: Vec<String>,
    log_path: &Path,
) -> Result<process::Service, String> {
    let exe = peer_binary(&ctx.args.bin);
    let mut cmd = procs::pinned_command(&exe, ctx.server_cpu);
    cmd.args(args);
    let log = log_path.to_path_buf();
    let (proc, url) = tokio::task::spawn_blocking(move || {
        process::ChildGuard::start_and_read(
            "peer",
            cmd,
            Some(&log),
            process::Service::PATIENCE,
            |line| {
                line.split_once("cartseal listening on ")
                    .map(|(_, url)| url.trim().trim_end_matches('/').to_owned())
            },
        )
    })
    .await
    .map_err(|e| format!("the peer start panicked: {e}"))??;
    let port = url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("no port in the peer's listening line: {url}"))?;
    let server = process::Service {
        proc,
        url,
        port,
        admin_url: None,
    };
    wait_ready(server, log_path).await
}

/// Waits (off this runtime's blocking threads) for a 200 from `/readyz`.
/// Any failure is an `Err` with the reason and the output's last lines.
async fn wait_ready(
    mut server: process::Service,
    log_path: &Path,
) -> Result<process::Service, String> {
    let fail = |why: String, server: &process::Service| {
        format!(
            "{why}\nlog {}; last output:\n{}",
            log_path.display(),
            server.proc.tail(20)
        )
    };
    let host = format!("127.0.0.1:{}", server.port);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = server.proc.exited() {
            tokio::time::sleep(Duration::from_millis(100)).await; // let the readers finish
            return Err(fail(
                format!("server exited ({status}) before ready"),
                &server,
            ));
        }
        let req = client::build_request("GET", "/readyz", &host, None, None);
        let attempt = tokio::time::timeout(Duration::from_secs(2), async {
            let mut c = client::Conn::connect(server.addr())
                .await
                .map_err(|e| e.to_string())?;
            c.roundtrip(&req).await.map_err(|e| e.to_string())
        })
        .await;
        let last = match attempt {
            Ok(Ok(r)) if r.status == 200 => return Ok(server),
            Ok(Ok(r)) => format!("/readyz {}: {}", r.status, String::from_utf8_lossy(&r.body)),
            Ok(Err(e)) => e,
            Err(_) => "/readyz timed out".to_string(),
        };
        if std::time::Instant::now() > deadline {
            return Err(fail(format!("not ready within 30 s ({last})"), &server));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
