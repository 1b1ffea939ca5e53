//! A read must not undo a write (README, "Bearer flow"; docs/security.md,
//! "Concurrent writes"). A `GET /cart` inside the re-seal window answers
//! with a new token for the cart as it was when the GET left; if that
//! answer arrives after a concurrent write's, a client that keeps the last
//! token it received loses the write. Every cart answer carries its
//! revision (`Cart-Revision`, and `revision` in the body), a re-seal keeps
//! the revision it had, and a client that keeps the token whose answer has
//! the highest revision keeps the write.

use crate::helpers::{Auth, Reply, spawn_app};

/// `token.reseal_within_secs` and `token.idle_ttl_secs` of the shipped
/// config.toml.
const RESEAL_WITHIN: i64 = 86_400;
const IDLE: i64 = 7 * 86_400;

/// The revision an answer carries, from its header, checked against its
/// body.
fn revision(reply: &Reply) -> u64 {
    let header: u64 = reply
        .header("cart-revision")
        .expect("every cart answer carries Cart-Revision")
        .parse()
        .expect("a number");
    assert_eq!(header, reply.revision(), "the header and the body agree");
    header
}

/// What a bearer client following the rule keeps: the token whose answer
/// has the highest revision (on a tie, the one it holds: the same cart).
fn keep_highest<'a>(held: (&'a str, u64), answer: &'a Reply) -> (&'a str, u64) {
    let offered = (
        answer.header("cart-token").expect("a new token"),
        revision(answer),
    );
    if offered.1 > held.1 { offered } else { held }
}

#[tokio::test]
async fn a_reseal_answer_arriving_after_a_write_does_not_undo_it() {
    let app = spawn_app().await;
    let created = app.create().await;
    let first = app.add(&Auth::Bearer(created), "TEE-100", 1).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let token = first.cart_token().expect("a token");
    assert_eq!(revision(&first), 1);

    // The token is now inside its re-seal window (shipped config).
    app.clock.advance(IDLE - RESEAL_WITHIN + 60);

    // A read and a write leave on the same token; the write's answer
    // arrives first, the read's re-seal after it.
    let held = Auth::Bearer(token.clone());
    let write = app.add(&held, "MUG-104", 1).await;
    assert_eq!(write.status, 200, "{}", write.text);
    let read = app.get_cart(&held).await;
    assert_eq!(read.status, 200, "{}", read.text);
    let resealed = read.cart_token().expect("a read in the window re-seals");
    assert_ne!(resealed, token);
    assert_eq!(revision(&read), 1, "a re-seal keeps the revision it had");
    assert_eq!(revision(&write), 2);

    // The rule: the highest revision wins, whatever arrived last.
    let kept = [&write, &read]
        .into_iter()
        .fold((token.as_str(), 1), |held, answer| {
            keep_highest(held, answer)
        });
    let cart = app.get_cart(&Auth::Bearer(kept.0.to_owned())).await;
    assert_eq!(
        cart.lines(),
        [("TEE-100".to_owned(), 1), ("MUG-104".to_owned(), 1)],
        "the rule keeps the write"
    );

    // Keeping the last token received instead loses it.
    let last = app.get_cart(&Auth::Bearer(resealed)).await;
    assert_eq!(
        last.lines(),
        [("TEE-100".to_owned(), 1)],
        "the last answer's token holds the cart as the read saw it"
    );
}

#[tokio::test]
async fn a_read_outside_the_window_issues_no_token_and_carries_the_revision() {
    let app = spawn_app().await;
    let token = app.bearer_cart("TEE-100", 1).await;
    let read = app.get_cart(&Auth::Bearer(token)).await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert!(read.cart_token().is_none(), "no re-seal outside the window");
    assert_eq!(revision(&read), 1);
    // Without a credential: revision 0, still in the header.
    assert_eq!(revision(&app.get_cart(&Auth::None).await), 0);
}
