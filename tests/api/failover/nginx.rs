//! nginx in front of the replicas: a generated config, every file it writes
//! in a temp dir, on a free port.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::NGINX;
use crate::helpers::{ChildGuard, closed_port};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// Round robin: any replica serves any client.
    RoundRobin,
    /// `hash` on a load-balancer cookie: a client stays on one replica.
    Sticky,
}

/// nginx in front of the replicas, every file it writes in a temp dir.
pub struct Nginx {
    proc: ChildGuard,
    dir: TempDir,
    pub url: String,
}

impl Nginx {
    pub fn start(upstreams: &[u16], routing: Routing) -> Self {
        let mut last = String::new();
        // nginx cannot listen on port 0 and report it: take a free port,
        // and try another if something grabbed it first.
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("a temp dir for nginx");
            let port = closed_port();
            let conf = dir.path().join("nginx.conf");
            std::fs::write(&conf, nginx_conf(dir.path(), port, upstreams, routing))
                .expect("write nginx.conf");
            let mut cmd = Command::new(NGINX);
            cmd.arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&conf)
                .arg("-e")
                .arg(dir.path().join("error.log"));
            let mut proc = ChildGuard::spawn("nginx", cmd, |_| {});
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Self {
                        proc,
                        url: format!("http://127.0.0.1:{port}"),
                        dir,
                    };
                }
                if proc.exited().is_some() || Instant::now() > deadline {
                    std::thread::sleep(Duration::from_millis(50));
                    last = format!(
                        "{}\n{}",
                        proc.output(),
                        std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
                    );
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if !last.contains("Address already in use") {
                break;
            }
        }
        panic!("nginx did not start:\n{last}");
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.proc.kill();
        if std::thread::panicking() {
            eprintln!(
                "----- nginx error.log -----\n{}",
                std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
            );
        }
    }
}

fn nginx_conf(dir: &Path, port: u16, upstreams: &[u16], routing: Routing) -> String {
    let d = dir.display();
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
    };
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
{affinity_map}    upstream cartseal {{
{balance}{servers}    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://cartseal;
            proxy_set_header Host $http_host;
            proxy_connect_timeout 1s;
            proxy_read_timeout 10s;
            # Another replica only when this one could not have applied the
            # request: never non_idempotent, which could apply a write twice.
            proxy_next_upstream error timeout;
{affinity_cookie}        }}
    }}
}}
"#
    )
}
