//! Racing writes on one cart (docs/architecture.md, "Concurrent writes").
//!
//! [`CLIENTS`] clients each send [`ADDS`] `POST /cart/items` with skus of
//! their own, all at once, on one cart's credential. A store that keeps the
//! cart compares and sets at save time and applies a write again to the
//! cart it lost to, so it keeps every add. The token store keeps no state
//! and cannot see the race: there the clients run the same adds the way
//! the client module (`clients/js`) does (each write on the previous answer's
//! credential, one at a time), which keeps every add, and the raw race is
//! only recorded.

use cartseal::config::{Settings, StoreKind};
use tokio::task::JoinSet;

use super::support::{Expect, Shopper, Store};
use crate::helpers::Reply;

/// Clients racing on one cart.
const CLIENTS: usize = 16;
/// Adds each client sends, one after another.
const ADDS: usize = 6;

/// The sku the `client`'s `k`-th add puts in the cart.
fn sku(client: usize, k: usize) -> String {
    format!("RACE-{client:02}-{k}")
}

pub async fn racing_adds_on_one_cart_are_all_kept(store: Store) {
    // No catalog: any sku is accepted. 1 + 16 x 6 = 97 lines, within the
    // shipped limits.max_lines (100).
    let no_catalog = |s: &mut Settings| {
        s.catalog.file = String::new();
        assert!(s.limits.max_lines > CLIENTS * ADDS);
    };
    let rig = store.spawn_with(no_catalog).await;
    let mut first = Shopper::cookie(&rig);
    first
        .add("FIRST-0", 1)
        .await
        .assert_lines(&[("FIRST-0", 1)], "the cart's first line");

    // Redis and Memcached: half the clients go through a second replica,
    // so that writes race between processes (within one worker they take
    // turns) and the compare-and-set has to settle them.
    let replica = match store.facts().survives_replica_loss && store.facts().server_side {
        true => Some(rig.replica_with(no_catalog).await),
        false => None,
    };
    let raced = race(&first, replica.as_ref().map(|r| first.at(r))).await;
    let expected = 1 + CLIENTS * ADDS;
    if store.facts().server_side {
        for reply in &raced {
            reply.assert_ok("a racing add");
        }
        let kept = first.get().await;
        kept.assert_ok("the cart after the race");
        assert_eq!(
            kept.lines().len(),
            expected,
            "{store:?}: every racing add is kept"
        );
        assert_eq!(
            kept.revision(),
            1 + (CLIENTS * ADDS) as u64,
            "one revision per write"
        );
        let conflicts = rig
            .metrics()
            .await
            .lines()
            .filter(|l| l.starts_with("cartseal_store_conflicts_total"))
            .filter(|l| l.contains(&format!("store=\"{}\"", store.0.as_str())))
            .map(str::to_owned)
            .collect::<Vec<_>>();
        // The metrics are the test process's: other tests' conflicts count too.
        eprintln!("{store:?}: every add kept; conflicts retried: {conflicts:?}");
        return;
    }

    // Token store: the server cannot tell racing writes apart (each carries
    // a valid token). Record what the raw race keeps, in the answer a
    // client keeping the highest revision would hold.
    assert_eq!(store.0, StoreKind::Token);
    let best = raced
        .iter()
        .filter(|r| r.status == 200)
        .max_by_key(|r| (r.revision(), r.lines().len()))
        .expect("an answer");
    eprintln!(
        "token store, raw race: the best answer holds {} of {expected} lines ({} lost)",
        best.lines().len(),
        expected - best.lines().len()
    );

    // What the client module does: every write on the credential of the
    // previous answer, one at a time.
    let mut chained = first.clone();
    for client in 0..CLIENTS {
        for k in 0..ADDS {
            chained
                .add(&sku(client, k), 1)
                .await
                .assert_ok("a chained add");
        }
    }
    let kept = chained.get().await;
    assert_eq!(
        kept.lines().len(),
        expected,
        "chained writes keep every add"
    );
}

/// Sends the racing adds, every client starting from `first`'s credential
/// and keeping whatever credential its answers issue (a session id does not
/// change; a token does); the odd ones through `elsewhere`, when given.
/// Returns every answer.
async fn race(first: &Shopper, elsewhere: Option<Shopper>) -> Vec<Reply> {
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(CLIENTS));
    let mut tasks = JoinSet::new();
    for client in 0..CLIENTS {
        let mut shopper = match (&elsewhere, client % 2) {
            (Some(elsewhere), 1) => elsewhere.clone(),
            _ => first.clone(),
        };
        let start = start.clone();
        tasks.spawn(async move {
            start.wait().await;
            let mut replies = Vec::with_capacity(ADDS);
            for k in 0..ADDS {
                replies.push(shopper.add(&sku(client, k), 1).await);
            }
            replies
        });
    }
    let mut replies = Vec::new();
    while let Some(done) = tasks.join_next().await {
        replies.extend(done.expect("a racing client finished"));
    }
    replies
}
