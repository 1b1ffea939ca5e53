//! The failover table: what each run measured, printed, and written into
//! docs/benchmarks.md between the failover markers when asked.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use super::users::{Outcome, User};
use super::{LINES, MEMCACHED_TIMEOUT_MS, REDIS_TIMEOUT_MS, REPLICAS, VUS};
use crate::helpers::repo;

pub struct Check {
    pub outcomes: Vec<Outcome>,
}

impl Check {
    pub fn is_lost(&self, user: usize) -> bool {
        self.outcomes[user] != Outcome::Exact
    }

    pub fn lost(&self) -> usize {
        (0..self.outcomes.len())
            .filter(|u| self.is_lost(*u))
            .count()
    }

    pub fn describe(&self, users: &[User]) -> String {
        let mut text = String::new();
        for (u, outcome) in self.outcomes.iter().enumerate() {
            if *outcome != Outcome::Exact {
                let fate = users
                    .get(u)
                    .map(|user| format!("{:?}", user.fate))
                    .unwrap_or_default();
                let _ = writeln!(text, "user {u}: {outcome:?} ({fate})");
            }
        }
        text
    }
}

pub struct Run {
    pub users: Vec<User>,
    pub failed: usize,
    /// Requests refused with 401 (the cart was gone).
    pub refused: usize,
    /// `failed` by kind.
    pub failures: String,
    /// Users who saw a failure and no success after it: their carts were lost.
    pub never_recovered: usize,
    pub in_flight_at_kill: usize,
    pub recovery: Option<Duration>,
    pub stats: String,
    pub check: Check,
}

impl Run {
    pub fn lost(&self) -> usize {
        self.check.lost()
    }

    pub fn describe(&self) -> String {
        format!(
            "failed requests {} ({}), in flight at the kill {}, stats {}\n{}",
            self.failed,
            self.failures,
            self.in_flight_at_kill,
            self.stats,
            self.check.describe(&self.users)
        )
    }

    pub fn row(&self, mode: &'static str, event: &str) -> Row {
        Row {
            mode,
            event: event.into(),
            lost: self.lost(),
            failed: self.failed,
            refused: self.refused,
            recovery: match (self.recovery, self.never_recovered) {
                (Some(took), 0) => format!("{} after the kill", ms(took)),
                (Some(took), n) => format!(
                    "{} after the kill; never for {n} clients, whose carts were lost",
                    ms(took)
                ),
                (None, 0) => "none needed: no request failed".into(),
                (None, n) => {
                    format!("never for the {n} clients that saw a failure: their carts were lost")
                }
            },
            notes: format!(
                "failed: {}; {} requests were in flight (on any replica) at the kill",
                if self.failures.is_empty() {
                    "none"
                } else {
                    &self.failures
                },
                self.in_flight_at_kill
            ),
        }
    }
}

/// One line of the failover table.
pub struct Row {
    pub mode: &'static str,
    pub event: String,
    pub lost: usize,
    /// Requests that got no answer or a 5xx.
    pub failed: usize,
    /// Requests refused with 401 because the cart was gone.
    pub refused: usize,
    pub recovery: String,
    pub notes: String,
}

impl Row {
    fn markdown(&self) -> String {
        format!(
            "| {} | {} | {} / {VUS} | {} | {} | {} |",
            self.mode,
            self.event,
            self.lost,
            match self.refused {
                0 => self.failed.to_string(),
                n => format!("{} + {n} refused (401)", self.failed),
            },
            self.recovery,
            self.notes
        )
    }
}

pub fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

const TABLE_HEAD: &str =
    "| mode | event | carts lost | failed requests | recovery | notes |\n|---|---|---|---|---|---|";
const MODES: [&str; 4] = ["token", "redis", "memcached", "memory"];
const START: &str = "<!-- failover:start -->";
const END: &str = "<!-- failover:end -->";

/// Prints this mode's rows; with `CARTSEAL_WRITE_DOCS=1`, also puts them in
/// docs/benchmarks.md between the failover markers, keeping the other
/// modes' rows there and touching nothing outside the markers.
pub fn report(mode: &str, rows: Vec<Row>) {
    let ours: Vec<String> = rows.iter().map(Row::markdown).collect();
    println!("{TABLE_HEAD}\n{}", ours.join("\n"));
    if std::env::var("CARTSEAL_WRITE_DOCS").as_deref() != Ok("1") {
        return;
    }
    static FILE: Mutex<()> = Mutex::new(());
    let _lock = FILE.lock().unwrap_or_else(|e| e.into_inner());
    let path = repo().join("docs/benchmarks.md");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let (before, inside, after) = match (old.find(START), old.find(END)) {
        (Some(a), Some(b)) if b > a => (&old[..a], &old[a + START.len()..b], &old[b + END.len()..]),
        _ if old.trim().is_empty() => ("# Benchmarks\n\n", "", "\n"),
        _ => (old.trim_end(), "", "\n"),
    };
    let mut kept: Vec<String> = inside
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| mode "))
        .filter(|l| !l.starts_with(&format!("| {mode} |")))
        .map(str::to_owned)
        .collect();
    kept.extend(ours);
    let rank = |line: &String| {
        MODES
            .iter()
            .position(|m| line.starts_with(&format!("| {m} |")))
    };
    kept.sort_by_key(rank); // stable: each mode's rows keep their order
    let separator = if before.ends_with('\n') { "" } else { "\n\n" };
    let text = format!(
        "{before}{separator}{START}\n{}\n{TABLE_HEAD}\n{}\n{END}{after}",
        docs_intro(),
        kept.join("\n")
    );
    std::fs::write(&path, text).expect("write docs/benchmarks.md");
}

fn docs_intro() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "## Failover behind nginx\n\n\
         Measured by `CARTSEAL_WRITE_DOCS=1 cargo test --test api failover` (tests/api/failover.rs) \
         on {cores} cores: {REPLICAS} replicas (`cartseal serve`, one worker each) behind nginx, round robin \
         (for `memory`: `hash` on an affinity cookie, the sticky routing that design needs); \
         {VUS} virtual users each build a cart of {LINES} lines and keep their own record of it; \
         one replica is SIGKILLed after 30% of the second half of the run; every cart is then read \
         through nginx and compared with its record. nginx retries on another replica only on \
         `error timeout`, never a non-idempotent request already sent: a write in flight at the \
         kill fails, the client reads its cart to learn whether it was applied, and retries if \
         not. Redis runs without persistence, with `redis.timeout_ms = {REDIS_TIMEOUT_MS}`; \
         Memcached (which keeps nothing on disk) with `memcached.timeout_ms = {MEMCACHED_TIMEOUT_MS}`. \
         Recovery is the time from the fault until the last client that saw a failure succeeded again.\n"
    )
}
