//! The operator's path, replayed from the runbook's own text
//! (docs/key-rotation.md): the commands are read out of its code blocks,
//! so that a change to the document that breaks a step fails here.
//!
//! - `sh` blocks are commands: each runs in `sh -e`, with `cartseal` on the
//!   `PATH`, `CONFIG` the config file and, once per replica, `ADMIN` the
//!   replica's admin listener (a block that names `$ADMIN` runs once per
//!   replica, any other once);
//! - `toml` blocks are edits of existing `[[keys]]` entries: the `state` of
//!   each entry they name is set in config.toml, the other lines kept, as
//!   the text around them says;
//! - `console` blocks are examples, not run; the one that starts two
//!   replicas on one host is checked for distinct ports and admin ports.
//!
//! Two replicas share one config.toml on one host (distinct ports and admin
//! ports) behind nginx, round robin. They start on the development keys of
//! the shipped config; section 0 moves them to keys of their own from
//! `cartseal keygen`. Then a small load of shoppers (half with the cookie,
//! half with a bearer token) runs through sections 1 to 3, a full rotation.
//! At the end no request failed, every cart is its shopper's record, and
//! every token in use is sealed under the new key.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cartseal_kit::cluster::Cluster;

use super::super::running_keys;
use super::Shopping;
use super::metrics::{Opens, token_kids};
use super::shoppers::Outcome;
use crate::helpers::{BinaryServer, Client, ConfigDir, repo};
use crate::process::Routing;

/// Shoppers: a small load.
const SHOPPERS: usize = 10;
const PATIENCE: Duration = Duration::from_secs(60);

/// A fenced block of the runbook, with the section it stands in.
#[derive(Debug)]
struct Block {
    section: String,
    lang: String,
    text: String,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut open: Option<(String, String)> = None;
    for line in markdown.lines() {
        if let Some((lang, mut text)) = open.take() {
            if line.starts_with("```") {
                out.push(Block {
                    section: section.clone(),
                    lang,
                    text,
                });
            } else {
                text.push_str(line);
                text.push('\n');
                open = Some((lang, text));
            }
        } else if let Some(lang) = line.strip_prefix("```") {
            open = Some((lang.trim().to_owned(), String::new()));
        } else if let Some(heading) = line.strip_prefix("## ") {
            section = heading.to_owned();
        }
    }
    out
}

/// The runbook's blocks in `section` (its heading starts so).
fn section<'a>(all: &'a [Block], starts: &str) -> Vec<&'a Block> {
    let found: Vec<&Block> = all
        .iter()
        .filter(|b| b.section.starts_with(starts))
        .collect();
    assert!(
        !found.is_empty(),
        "docs/key-rotation.md has a section {starts:?} with code blocks"
    );
    found
}

struct Rig {
    config: ConfigDir,
    replicas: Cluster<BinaryServer>,
    path: String,
}

impl Rig {
    /// Runs the `sh` blocks and applies the `toml` blocks of a section, in
    /// order.
    fn follow(&self, blocks: &[&Block]) {
        for block in blocks {
            match block.lang.as_str() {
                "sh" => self.run(block),
                "toml" => self.edit(block),
                _ => {}
            }
        }
    }

    fn run(&self, block: &Block) {
        let admins: Vec<Option<String>> = if block.text.contains("$ADMIN") {
            self.replicas
                .replicas()
                .iter()
                .map(|r| Some(r.admin_url.clone().expect("an admin listener")))
                .collect()
        } else {
            vec![None]
        };
        for admin in admins {
            let mut command = Command::new("sh");
            command
                .arg("-ec")
                .arg(&block.text)
                .env_clear()
                .env("PATH", &self.path)
                .env("CONFIG", self.config.config_path())
                .current_dir(self.config.path());
            if let Some(admin) = &admin {
                command.env("ADMIN", admin);
            }
            let output = command.output().expect("sh runs");
            assert!(
                output.status.success(),
                "the runbook's commands in {:?} failed (ADMIN={admin:?}):\n{}\n{}{}",
                block.section,
                block.text,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }

    /// Sets the `state` of each entry the block names.
    fn edit(&self, block: &Block) {
        let edit: toml::Table = toml::from_str(&block.text)
            .unwrap_or_else(|e| panic!("a TOML block of {:?}: {e}", block.section));
        let path = self.config.config_path();
        let mut text = std::fs::read_to_string(&path).unwrap();
        for entry in edit["keys"].as_array().expect("[[keys]] entries") {
            let id = entry["id"].as_str().expect("an id");
            let state = entry["state"].as_str().expect("a state");
            text = set_state(&text, id, state);
        }
        std::fs::write(&path, text).unwrap();
    }

    /// Follows section `starts` (`"1. "`), then checks that every replica
    /// runs `want` (id, state) among its keys.
    async fn walk(&self, all: &[Block], starts: &str, want: &[(&str, &str)]) {
        self.follow(&section(all, starts));
        let step = format!("section {}", starts.trim_end_matches(". "));
        self.expect(&step, want).await;
    }

    /// Every replica's keys, `id → state`.
    async fn states(&self) -> Vec<BTreeMap<String, String>> {
        let mut all = Vec::new();
        for replica in self.replicas.replicas() {
            let admin = replica.admin_url.as_deref().expect("an admin listener");
            all.push(running_keys(admin).await.into_iter().collect());
        }
        all
    }

    /// Asserts that every replica runs `want` (id, state) among its keys.
    async fn expect(&self, step: &str, want: &[(&str, &str)]) {
        for (r, states) in self.states().await.iter().enumerate() {
            for (id, state) in want {
                assert_eq!(
                    states.get(*id).map(String::as_str),
                    Some(*state),
                    "after {step}, replica {r} runs {id} as {state}: {states:?}"
                );
            }
        }
    }

    async fn opens(&self) -> Vec<Opens> {
        let mut all = Vec::new();
        for replica in self.replicas.replicas() {
            all.push(Opens::parse(&replica.metrics().await));
        }
        all
    }

    /// The kid of key `id`, from the first replica's `GET /keys`.
    async fn kid(&self, id: &str) -> String {
        let admin = Client::new(self.replicas.replica(0).admin_url.clone().expect("admin"));
        let keys = admin.get("/keys").send().await;
        keys.body["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|k| k["id"] == id)
            .and_then(|k| k["kid"].as_str())
            .unwrap_or_else(|| panic!("no key {id}: {}", keys.text))
            .to_owned()
    }
}

/// `text` with the `state` line of the `[[keys]]` entry `id` set to `state`.
fn set_state(text: &str, id: &str, state: &str) -> String {
    let mut tables: Vec<Vec<String>> = vec![Vec::new()];
    for line in text.lines() {
        if line.trim_start().starts_with('[') {
            tables.push(Vec::new());
        }
        tables.last_mut().unwrap().push(line.to_owned());
    }
    let mut found = false;
    for table in &mut tables {
        let is_entry = table.first().is_some_and(|l| l.trim() == "[[keys]]")
            && table.iter().any(|l| l.trim() == format!("id = \"{id}\""));
        if !is_entry {
            continue;
        }
        for line in table.iter_mut() {
            if line.trim_start().starts_with("state =") {
                *line = format!("state = \"{state}\"");
                found = true;
            }
        }
    }
    assert!(found, "config.toml has an entry {id} with a state line");
    let mut out = tables.concat().join("\n");
    out.push('\n');
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runbook_replayed_from_its_own_text_rotates_two_replicas_under_load_losing_nothing() {
    let _turn = crate::failover::ONE_AT_A_TIME.lock().await;
    let doc = std::fs::read_to_string(repo().join("docs/key-rotation.md")).unwrap();
    let all = blocks(&doc);

    // "Two replicas on one host": distinct ports and admin ports.
    let serve: Vec<&str> = all
        .iter()
        .filter(|b| b.section.starts_with("Before you start"))
        .flat_map(|b| b.text.lines())
        .filter(|l| l.contains("cartseal serve"))
        .collect();
    assert_eq!(serve.len(), 2, "two replicas are started: {serve:?}");
    let flag = |line: &str, name: &str| {
        line.split_once(name)
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .map(str::to_owned)
    };
    for name in ["--port ", "--admin-port ", "--pid-file "] {
        let values: Vec<Option<String>> = serve.iter().map(|l| flag(l, name)).collect();
        assert!(
            values[0].is_some() && values[0] != values[1],
            "each replica has its own {name}: {serve:?}"
        );
    }

    let config = ConfigDir::new();
    let bin = Path::new(env!("CARGO_BIN_EXE_cartseal"))
        .parent()
        .expect("the binary's folder")
        .display()
        .to_string();
    let env = [("CARTSEAL__CATALOG__FILE", "")];
    let replicas = Cluster::start(2, Routing::RoundRobin, |_| {
        BinaryServer::spawn(&config, &env)
    });
    let client = Client::new(replicas.url());
    let rig = Rig {
        config,
        replicas,
        path: format!("{bin}:/usr/local/bin:/usr/bin:/bin"),
    };

    // 0. From the development keys to your own, before users come.
    rig.walk(
        &all,
        "0. ",
        &[
            ("shop-local-2026-12", "active"),
            ("shop-signing-2026-12", "active"),
            ("dev-local-1", "retired"),
            ("dev-signing-1", "retired"),
        ],
    )
    .await;
    let old_kid = rig.kid("shop-local-2026-12").await;

    let shopping = Shopping::start(&client, SHOPPERS);
    let load = shopping.load.clone();
    load.progress(SHOPPERS * 5, PATIENCE).await;

    // 1. The next key, pending everywhere.
    rig.walk(
        &all,
        "1. ",
        &[
            ("shop-local-2026-12", "active"),
            ("shop-local-2027-01", "pending"),
        ],
    )
    .await;
    let new_kid = rig.kid("shop-local-2027-01").await;
    load.progress(SHOPPERS * 5, PATIENCE).await;

    // 2. Active, the old key decrypt-only.
    rig.walk(
        &all,
        "2. ",
        &[
            ("shop-local-2026-12", "decrypt-only"),
            ("shop-local-2027-01", "active"),
        ],
    )
    .await;
    let step_two = load.now();

    // 3. Every shopper comes back once, then a window opens nothing under
    // the old key; then section 3's commands (the counter, the retirement).
    let deadline = Instant::now() + PATIENCE;
    while load.unsettled_since(step_two) > 0 {
        assert!(Instant::now() < deadline, "{}", load.describe());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    loop {
        let before = rig.opens().await;
        load.progress(SHOPPERS * 3, PATIENCE).await;
        let old: u64 = rig
            .opens()
            .await
            .iter()
            .zip(&before)
            .map(|(now, then)| now.since(then).under("shop-local-2026-12"))
            .sum();
        if old == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the old key still opens tokens");
    }
    rig.walk(
        &all,
        "3. ",
        &[
            ("shop-local-2026-12", "retired"),
            ("shop-local-2027-01", "active"),
        ],
    )
    .await;
    load.progress(SHOPPERS * 3, PATIENCE).await;

    let (shoppers, outcomes) = shopping.stop_and_verify().await;
    eprintln!(
        "\n== the runbook replayed: 2 replicas on one host, {SHOPPERS} shoppers ==\n\
         requests {}, failed {}, diverged {}; old key {old_kid}, new key {new_kid}",
        load.requests(),
        load.failed(),
        load.diverged()
    );
    assert_eq!(load.failed(), 0, "no request fails: {}", load.describe());
    assert_eq!(load.diverged(), 0, "no cart diverges: {}", load.describe());
    for (shopper, outcome) in shoppers.iter().zip(&outcomes) {
        assert_eq!(*outcome, Outcome::Exact, "shopper {}", shopper.id);
        let token = shopper.token().expect("a token");
        assert_eq!(
            token_kids(token),
            vec![new_kid.clone()],
            "shopper {}'s cart is sealed under the new key",
            shopper.id
        );
    }
}
