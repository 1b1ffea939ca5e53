//! The cart in and out of the actix-session state, and the cookie budget.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use actix_session::Session;
use actix_web::HttpRequest;
use actix_web::cookie::Key;
use serde::de::DeserializeOwned;

use super::cart::{Cart, Line, line_key, parse_properties, parse_quantity, parse_sku};
use super::response::ApiError;
use super::{
    CART, COOKIE_NAME, EXPIRES_AT, IDLE_TTL_SECS, MAX_LINES, Peer, REVISION, SEAL_OVERHEAD,
    SESSION_KEY, TOKEN_BUDGET,
};

/// The cart in this session, re-checked line by line as cartseal re-checks
/// the cart of every token it opens; `None` if the session holds no cart. A
/// stored cart that fails the checks ends the session (`401 token_invalid`,
/// and actix-session removes the cookie), as cartseal refuses such a token.
pub fn load(session: &Session) -> Result<Option<Cart>, ApiError> {
    fn get<T: DeserializeOwned>(session: &Session, key: &str) -> Result<Option<T>, ()> {
        session.get(key).map_err(drop)
    }
    let stored = (|| {
        let Some(lines) = get::<Vec<Line>>(session, CART)? else {
            return Ok(None);
        };
        let revision = get::<u64>(session, REVISION)?.unwrap_or(0);
        let expires_at = get::<i64>(session, EXPIRES_AT)?;
        if lines.len() > MAX_LINES {
            return Err(());
        }
        let mut cart = Cart {
            lines: Vec::with_capacity(lines.len()),
            revision,
            expires_at,
        };
        for line in lines {
            let line = Line::new(
                parse_sku(line.sku).map_err(drop)?,
                parse_quantity(i64::from(line.quantity)).map_err(drop)?,
                parse_properties(line.properties).map_err(drop)?,
            );
            if cart.position(&line.key).is_some() {
                return Err(());
            }
            cart.lines.push(line);
        }
        Ok(Some(cart))
    })();
    stored.map_err(|()| {
        session.purge();
        ApiError::TokenInvalid
    })
}

/// Raises the revision and puts the cart into the session, which
/// actix-session then saves (a new cookie, or `SET` in Redis). In cookie mode
/// a cart whose cookie would exceed the budget is refused first, and the
/// session is left untouched, so the client keeps the cookie it has.
pub fn save(
    req: &HttpRequest,
    session: &Session,
    peer: &Peer,
    cart: &mut Cart,
) -> Result<(), ApiError> {
    let revision = cart.revision.saturating_add(1);
    let expires_at = unix_now().saturating_add(IDLE_TTL_SECS);
    // Exactly what `session.insert(CART, &cart.lines)` stores, serialized
    // once so that its size can be checked before the session changes.
    let lines = serde_json::value::to_raw_value(&cart.lines).expect("a cart always serializes");
    if peer.cookie_store {
        let length = sealed_cookie_length(&[
            (CART, lines.get()),
            (REVISION, &revision.to_string()),
            (EXPIRES_AT, &expires_at.to_string()),
        ]);
        if length > TOKEN_BUDGET {
            return Err(ApiError::CartTooLarge {
                detail: format!(
                    "The cart would need a {length}-character cookie and the budget is {TOKEN_BUDGET}; remove a line or shorten its properties."
                ),
                token_length: Some(length),
                current_length: current_cookie_length(req),
            });
        }
    }
    let inserted = session
        .insert(CART, &lines)
        .and_then(|()| session.insert(REVISION, revision))
        .and_then(|()| session.insert(EXPIRES_AT, expires_at));
    inserted.expect("numbers and a cart always serialize");
    cart.revision = revision;
    cart.expires_at = Some(expires_at);
    Ok(())
}

/// The length of the cookie value `CookieSessionStore` will set for a session
/// state of these entries: the state is serialized as a JSON object of JSON
/// strings, sealed (nonce and tag added) and base64-encoded with padding.
/// (The `Set-Cookie` header then percent-encodes its `/` and `=`, about 3%
/// more on average; that is not counted, as it does not change what fits.)
fn sealed_cookie_length(entries: &[(&str, &str)]) -> usize {
    fn json_string_length(s: &str) -> usize {
        2 + s.len()
            + s.bytes()
                .map(|b| match b {
                    b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 1,
                    0..=0x1f => 5,
                    _ => 0,
                })
                .sum::<usize>()
    }
    let state: usize = 2
        + entries.len().saturating_sub(1)
        + entries
            .iter()
            .map(|(k, v)| json_string_length(k) + 1 + json_string_length(v))
            .sum::<usize>();
    (state + SEAL_OVERHEAD).div_ceil(3) * 4
}

/// The length of the cart cookie the client sent, if any.
pub fn current_cookie_length(req: &HttpRequest) -> Option<usize> {
    req.cookie(COOKIE_NAME).map(|c| c.value().len())
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Checked when the peer starts (the benchmark's targets run no unit
/// tests): the line keys match cartseal's own vector (src/cart/tests.rs),
/// and the cookie length that the budget check predicts is the length
/// actix-session's private cookie really has, so that a change in either
/// crate cannot silently move the 413 threshold.
pub fn self_check() -> Result<(), String> {
    use actix_web::cookie::{Cookie, CookieJar};
    let props = [("size".to_owned(), "M".to_owned())].into_iter().collect();
    let key = line_key("TEE-100", &props);
    if key != "TEE-100~61394bec56d5" || line_key("TEE-100", &Default::default()) != "TEE-100" {
        return Err(format!("line keys differ from cartseal's (got {key})"));
    }
    let state: HashMap<String, String> = [
        (
            CART.to_owned(),
            r#"[{"sku":"A\"b\\c","quantity":1}]"#.to_owned(),
        ),
        (REVISION.to_owned(), "7".to_owned()),
    ]
    .into_iter()
    .collect();
    let json = serde_json::to_string(&state).map_err(|e| e.to_string())?;
    let mut jar = CookieJar::new();
    jar.private_mut(&Key::from(SESSION_KEY.as_slice()))
        .add(Cookie::new(COOKIE_NAME, json));
    let sealed = jar.get(COOKIE_NAME).map_or(0, |c| c.value().len());
    let entries: Vec<(&str, &str)> = state
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let predicted = sealed_cookie_length(&entries);
    if predicted != sealed {
        return Err(format!(
            "the cookie budget check predicts {predicted} characters where actix-session seals {sealed}"
        ));
    }
    Ok(())
}
