//! nginx in front of replicas: a generated config, every file it writes in a
//! temp dir, on a free port.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use super::{ChildGuard, free_port};

const NGINX: &str = "/usr/sbin/nginx";

/// How nginx spreads clients over the replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// Round robin: any replica serves any client.
    RoundRobin,
    /// `hash` on a load-balancer cookie `lb`: a client stays on one replica
    /// (nginx OSS has no `sticky`).
    Sticky,
    /// `hash … consistent` on cartseal's routing key (the `Cart-Route`
    /// header, else the `cart_route` cookie), as
    /// examples/nginx/cartseal.conf does: a client's reads reach the
    /// replica whose cache holds its token, and a client without a key yet
    /// is spread round robin.
    CartRoute,
}

/// How nginx talks to the replicas, beyond the routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// Idle keep-alive connections kept to the replicas (`keepalive N`,
    /// HTTP/1.1 upstream). `None`: a new connection for every request, as
    /// the failover tests want (no request rides a connection to a dead
    /// replica).
    pub upstream_keepalive: Option<u32>,
    /// Write the access log (the failover tests read it; a load benchmark
    /// would measure its disk writes).
    pub access_log: bool,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            upstream_keepalive: None,
            access_log: true,
        }
    }
}

/// nginx in front of the replicas, every file it writes in a temp dir. Its
/// access log names the upstream of each request.
pub struct Nginx {
    proc: ChildGuard,
    dir: TempDir,
    pub url: String,
    pub port: u16,
}

impl Nginx {
    /// How long nginx may take to listen.
    const PATIENCE: Duration = Duration::from_secs(30);

    /// nginx on a free port in front of the replicas on `upstreams`. Fails
    /// loudly when nginx is missing.
    pub fn start(upstreams: &[u16], routing: Routing) -> Self {
        Self::try_start(upstreams, routing, Tuning::default()).unwrap_or_else(|e| panic!("{e}"))
    }

    /// As [`Nginx::start`], with `tuning`; an error instead of a panic, for
    /// a benchmark that reports a mode it cannot run and goes on.
    pub fn try_start(upstreams: &[u16], routing: Routing, tuning: Tuning) -> Result<Self, String> {
        if !Path::new(NGINX).exists() {
            return Err(format!(
                "{NGINX} is missing: the failover tests and the benchmark's replicas need \
                 Debian's nginx (apt-get install nginx; scripts/test installs it)"
            ));
        }
        let mut last = String::new();
        // nginx cannot listen on port 0 and report it: take a free port,
        // and try another if something grabbed it first.
        for _ in 0..5 {
            let dir = tempfile::tempdir().map_err(|e| format!("a temp dir for nginx: {e}"))?;
            let port = free_port();
            let conf = dir.path().join("nginx.conf");
            std::fs::write(
                &conf,
                nginx_conf(dir.path(), port, upstreams, routing, tuning),
            )
            .map_err(|e| format!("write nginx.conf: {e}"))?;
            match Self::run(dir.path(), &conf, port) {
                Ok(proc) => {
                    return Ok(Self {
                        proc,
                        url: format!("http://127.0.0.1:{port}"),
                        port,
                        dir,
                    });
                }
                Err(why) => last = why,
            }
            if !last.contains("Address already in use") {
                break;
            }
        }
        Err(format!("nginx did not start:\n{last}"))
    }

    /// Runs nginx on the config file `conf` that listens on `port`, with
    /// `dir` as its prefix and its error log in `dir/error.log`, and waits
    /// until it listens. For a config written elsewhere (the shipped
    /// example); the error carries nginx's error log.
    pub fn run(dir: &Path, conf: &Path, port: u16) -> Result<ChildGuard, String> {
        let error_log = dir.join("error.log");
        let mut cmd = Command::new(NGINX);
        cmd.arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(conf)
            .arg("-e")
            .arg(&error_log);
        let mut proc = ChildGuard::start("nginx", cmd, None, |_| {})?;
        proc.wait_until(Self::PATIENCE, "listened", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        })
        .map_err(|why| {
            format!(
                "{why}\n{}",
                std::fs::read_to_string(&error_log).unwrap_or_default()
            )
        })?;
        Ok(proc)
    }

    /// Its process id (one process: `master_process off`).
    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// The access log: one `$request $status upstream=$upstream_addr
    /// route=$cookie_cart_route` line per request.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.proc.kill();
        if std::thread::panicking() {
            eprintln!(
                "----- nginx error.log -----\n{}\n----- nginx access.log -----\n{}",
                std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default(),
                self.access_log()
            );
        }
    }
}

fn nginx_conf(
    dir: &Path,
    port: u16,
    upstreams: &[u16],
    routing: Routing,
    tuning: Tuning,
) -> String {
    let d = dir.display();
    // The location always speaks HTTP/1.1 upstream (below: a second
    // `proxy_http_version` would stop nginx as a duplicate directive);
    // keep-alive also needs the `Connection: close` nginx sends upstream by
    // default cleared.
    let (keepalive, upstream_http) = match tuning.upstream_keepalive {
        Some(n) => (
            format!("        keepalive {n};\n"),
            "            proxy_set_header Connection \"\";\n",
        ),
        None => (String::new(), ""),
    };
    let access_log = if tuning.access_log {
        format!("access_log {d}/access.log upstreams;")
    } else {
        "access_log off;".to_owned()
    };
    let servers: String = upstreams
        .iter()
        .map(|p| format!("        server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;\n"))
        .collect();
    let (affinity_map, balance, affinity_cookie) = match routing {
        Routing::RoundRobin => ("", "", ""),
        // A client without the cookie gets a random affinity (the request
        // id) and keeps it; `consistent` moves only the dead replica's
        // clients when it goes.
        Routing::Sticky => (
            "    map $cookie_lb $affinity {\n        \"\" $request_id;\n        default $cookie_lb;\n    }\n",
            "        hash $affinity consistent;\n",
            "            add_header Set-Cookie \"lb=$affinity; Path=/; HttpOnly\" always;\n",
        ),
        Routing::CartRoute => (
            "    map $http_cart_route $cart_route {\n        \"\" $cookie_cart_route;\n        default $http_cart_route;\n    }\n",
            "        hash $cart_route consistent;\n",
            "",
        ),
    };
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 1024; }}
http {{
    log_format upstreams '$request $status upstream=$upstream_addr route=$cookie_cart_route';
    {access_log}
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
{affinity_map}    upstream cartseal {{
{balance}{servers}{keepalive}    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://cartseal;
            # nginx speaks HTTP/1.0 to upstreams by default, and passes a
            # bodiless POST (a bearer client's `POST /cart`) on without a
            # Content-Length, which actix-web refuses as an HTTP/1.0 request
            # (400, before any handler). HTTP/1.1 is what a production
            # proxy speaks anyway.
            proxy_http_version 1.1;
            # A browser's Origin names this host: pass it on unchanged.
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_connect_timeout 1s;
            proxy_read_timeout 10s;
            # Another replica only when this one could not have applied the
            # request: never non_idempotent, which could apply a write twice.
            proxy_next_upstream error timeout;
{upstream_http}{affinity_cookie}        }}
    }}
}}
"#
    )
}
