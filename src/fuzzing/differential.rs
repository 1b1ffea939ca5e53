//! Target `differential`: the `paseto` format against pasetors' public API,
//! both ways.
//!
//! - cartseal seals a cart; pasetors' `LocalToken::decrypt` opens the token
//!   to the same cart, and `Claims::from_string` accepts its claims.
//! - pasetors' `LocalToken::encrypt` seals arbitrary claims or payloads
//!   under a key of the ring or an unknown one, with our footer or a
//!   variant; cartseal opens the token exactly when pasetors decrypts it
//!   and the claims, key, footer, length and lifetimes are all valid, and
//!   then to the same cart. Where the input is free text (a time, a
//!   footer, a whole payload) validity is not predicted, but whatever opens
//!   must still decrypt, satisfy pasetors' claims and hold the same cart.

use std::io::Read;

use arbitrary::{Arbitrary, Unstructured};
use pasetors::Local;
use pasetors::claims::Claims;
use pasetors::keys::SymmetricKey;
use pasetors::token::UntrustedToken;
use pasetors::version4::{LocalToken, V4};
use serde_json::{Map, Value, json};

use super::cart_ops::LineSpec;
use crate::base64url;
use crate::cart::{Cart, Limits};
use crate::fixture::{self, LOCAL_KEYS, NOW, UNKNOWN_LOCAL_KEY};
use crate::keys::KeyState;
use crate::token::seams::{FIRST_WRITABLE, LAST_WRITABLE, footer};
use crate::token::{SealError, TokenCodec, deflate};

#[derive(Debug, Arbitrary)]
enum Input {
    /// cartseal seals; pasetors opens.
    Seal {
        lines: Vec<LineSpec>,
        revision: u64,
        absolute_expiry: Option<i64>,
    },
    /// pasetors seals; cartseal opens.
    Open {
        /// An index into [`LOCAL_KEYS`], or past it: a key the ring lacks.
        key: u8,
        footer: FooterChoice,
        payload: PayloadChoice,
    },
}

#[derive(Debug, Arbitrary)]
enum FooterChoice {
    /// `{"kid":"<the key's kid>"}`.
    Ours,
    /// The footer of another key of the ring.
    OtherKey(u8),
    /// Ours, with spaces: the same JSON.
    Spaced,
    /// A second member beside the kid.
    Extra,
    /// No footer.
    Empty,
    Any(String),
}

#[derive(Debug, Arbitrary)]
enum PayloadChoice {
    Claims(ClaimsSpec),
    Any(String),
}

/// Claims as a writer could make them, right or wrong.
#[derive(Debug, Arbitrary)]
struct ClaimsSpec {
    v: u8,
    /// `iat`, `nbf`, `exp`, `abs`.
    times: [Time; 4],
    jti: String,
    rev: u64,
    lines: Vec<LineSpec>,
    cart_claim: CartClaimChoice,
    /// Leaves out one of `v`, `iat`, `nbf`, `exp`, `abs`, `jti`, `rev`.
    omit: Option<u8>,
    /// Adds a member that the claims do not have.
    extra: bool,
}

#[derive(Debug, Arbitrary)]
enum Time {
    /// `NOW` plus this, in RFC 3339.
    Offset(i32),
    Text(String),
}

#[derive(Debug, Arbitrary)]
enum CartClaimChoice {
    Plain,
    Deflated { level: u8 },
    Both,
    Neither,
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let codec = &fixture::codecs().paseto;
    match input {
        Input::Seal {
            lines,
            revision,
            absolute_expiry,
        } => seal(
            codec,
            &cart_of(&lines, codec.limits()),
            revision,
            absolute_expiry,
        ),
        Input::Open {
            key,
            footer,
            payload,
        } => open(codec, key, &footer, &payload),
    }
}

fn seal(codec: &TokenCodec, cart: &Cart, revision: u64, absolute_expiry: Option<i64>) {
    let sealed = match codec.seal(cart, revision, absolute_expiry, NOW) {
        Ok(sealed) => sealed,
        Err(SealError::Expired) => {
            assert!(absolute_expiry.is_some_and(|abs| abs < NOW));
            return;
        }
        Err(SealError::TimeOutOfRange) => {
            let abs = absolute_expiry.expect("only a given abs can be out of range");
            assert!(!(FIRST_WRITABLE..=LAST_WRITABLE).contains(&abs));
            return;
        }
        Err(SealError::TooLarge(_)) => return,
        Err(SealError::NoKey) => panic!("the fixture has an active key"),
    };
    let active = LOCAL_KEYS
        .iter()
        .find(|(state, _)| *state == KeyState::Active)
        .expect("an active key")
        .1;
    let payload =
        pasetors_open(codec, &active, &sealed.token).expect("pasetors opens what cartseal seals");
    assert_eq!(cart_in(&payload, codec.limits()).as_ref(), Some(cart));
    let opened = codec
        .open(&sealed.token, NOW)
        .expect("cartseal opens it too");
    assert_eq!(&*opened.cart, cart);
    assert_eq!(opened.revision, revision);
    assert_eq!(opened.lifetimes, sealed.lifetimes);
}

fn open(codec: &TokenCodec, key: u8, footer_choice: &FooterChoice, payload: &PayloadChoice) {
    let (bytes, state) = match LOCAL_KEYS.get(usize::from(key)) {
        Some((state, bytes)) => (*bytes, Some(*state)),
        None => (UNKNOWN_LOCAL_KEY, None),
    };
    let kid = fixture::local_kid(&bytes);
    let (footer_text, footer_ok) = match footer_choice {
        FooterChoice::Ours => (footer(&kid), Some(true)),
        FooterChoice::OtherKey(i) => {
            let other = LOCAL_KEYS[usize::from(*i) % LOCAL_KEYS.len()].1;
            (footer(&fixture::local_kid(&other)), Some(other == bytes))
        }
        FooterChoice::Spaced => (format!(r#"{{ "kid" : "{kid}" }}"#), Some(true)),
        FooterChoice::Extra => (format!(r#"{{"kid":"{kid}","x":1}}"#), Some(false)),
        FooterChoice::Empty => (String::new(), Some(false)),
        FooterChoice::Any(text) => (text.clone(), None),
    };
    let (payload_text, claims) = match payload {
        PayloadChoice::Claims(spec) => {
            let (text, claims) = write_claims(spec, codec.limits());
            (text, Some(claims))
        }
        PayloadChoice::Any(text) => (text.clone(), None),
    };
    let Ok(token) = LocalToken::encrypt(
        &SymmetricKey::<V4>::from(&bytes).expect("32 key bytes"),
        payload_text.as_bytes(),
        Some(footer_text.as_bytes()),
        Some(codec.implicit_assertion()),
    ) else {
        assert!(
            payload_text.is_empty(),
            "pasetors refuses only an empty payload"
        );
        return;
    };
    let opened = codec.open(&token, NOW);

    let limits = codec.limits();
    let key_ok = state.is_some_and(KeyState::opens);
    let length_ok = token.len() <= limits.token_max_chars;
    let expected = match (footer_ok, &claims) {
        (Some(footer_ok), Some(Expected::Known { valid, .. })) => {
            Some(footer_ok && key_ok && length_ok && *valid)
        }
        (Some(false), _) => Some(false),
        _ if !key_ok || !length_ok => Some(false),
        _ => None,
    };
    if let Some(expected) = expected {
        assert_eq!(
            opened.is_ok(),
            expected,
            "cartseal gave {opened:?}, expected {expected}"
        );
    }
    let Ok(opened) = opened else {
        return;
    };
    let payload = pasetors_open(codec, &bytes, &token).expect("pasetors opens it");
    assert_eq!(payload, payload_text);
    let cart = match claims {
        Some(Expected::Known { cart, .. }) => cart,
        _ => cart_in(&payload, limits).expect("a cart that opened"),
    };
    assert_eq!(*opened.cart, cart);
}

/// Decrypts with pasetors alone; the payload if it decrypts and
/// `Claims::from_string` accepts it.
fn pasetors_open(codec: &TokenCodec, key: &[u8; 32], token: &str) -> Option<String> {
    let key = SymmetricKey::<V4>::from(key).ok()?;
    let untrusted = UntrustedToken::<Local, V4>::try_from(token).ok()?;
    let trusted =
        LocalToken::decrypt(&key, &untrusted, None, Some(codec.implicit_assertion())).ok()?;
    Claims::from_string(trusted.payload()).ok()?;
    Some(trusted.payload().to_owned())
}

/// A cart of the lines that parse and fit.
fn cart_of(lines: &[LineSpec], limits: &Limits) -> Cart {
    let mut cart = Cart::new();
    for line in lines.iter().filter_map(|spec| spec.parse(limits)) {
        let _ = cart.add(line, limits);
    }
    cart
}

/// The cart of a payload, read without cartseal's claims decoder: `c` as
/// it stands, or `cz` through a plain deflate decoder.
fn cart_in(payload: &str, limits: &Limits) -> Option<Cart> {
    let claims: Map<String, Value> = serde_json::from_str(payload).ok()?;
    let json = match (claims.get("c"), claims.get("cz")) {
        (Some(c), None) => serde_json::to_vec(c).ok()?,
        (None, Some(Value::String(cz))) => {
            let mut json = Vec::new();
            flate2::read::DeflateDecoder::new(&base64url::decode(cz)?[..])
                .read_to_end(&mut json)
                .ok()?;
            json
        }
        _ => return None,
    };
    Cart::from_compact_json(&json, limits).ok()
}

/// What cartseal should make of claims.
enum Expected {
    /// Every part is one whose validity is known.
    Known { valid: bool, cart: Cart },
    /// A time is free text.
    Unknown,
}

/// The claims JSON of `spec`, and whether it is valid.
fn write_claims(spec: &ClaimsSpec, limits: &Limits) -> (String, Expected) {
    let cart = cart_of(&spec.lines, limits);
    let json = cart.to_compact_json();
    let mut cart_ok = true;
    let mut claims = Map::new();
    claims.insert("v".into(), json!(spec.v));
    let mut known_times = Vec::new();
    for (name, time) in ["iat", "nbf", "exp", "abs"].iter().zip(&spec.times) {
        let text = match time {
            Time::Offset(offset) => {
                let secs = NOW + i64::from(*offset);
                known_times.push(secs);
                fixture::rfc3339(secs)
            }
            Time::Text(text) => text.clone(),
        };
        claims.insert((*name).into(), json!(text));
    }
    claims.insert("jti".into(), json!(spec.jti));
    claims.insert("rev".into(), json!(spec.rev));
    let plain: Value = serde_json::from_slice(&json).expect("a cart is JSON");
    let mut deflated = |level: u8| {
        let packed = deflate(&json, u32::from(level % 10));
        cart_ok &= json.len() <= limits.inflate_cap(packed.len());
        base64url::encode(packed)
    };
    match spec.cart_claim {
        CartClaimChoice::Plain => {
            claims.insert("c".into(), plain);
        }
        CartClaimChoice::Deflated { level } => {
            claims.insert("cz".into(), json!(deflated(level)));
        }
        CartClaimChoice::Both => {
            claims.insert("c".into(), plain);
            claims.insert("cz".into(), json!(deflated(6)));
            cart_ok = false;
        }
        CartClaimChoice::Neither => cart_ok = false,
    }
    if let Some(i) = spec.omit {
        let names = ["v", "iat", "nbf", "exp", "abs", "jti", "rev"];
        claims.remove(names[usize::from(i) % names.len()]);
    }
    if spec.extra {
        claims.insert("x".into(), json!(1));
    }
    let text = Value::Object(claims).to_string();
    if known_times.len() < 4 {
        return (text, Expected::Unknown);
    }
    let lifetimes = crate::expiry::Lifetimes {
        issued_at: known_times[0],
        not_before: known_times[1],
        expires_at: known_times[2],
        absolute_expiry: known_times[3],
    };
    let valid = spec.v == crate::token::PAYLOAD_VERSION
        && (1..=crate::limits::MAX_JTI_CHARS).contains(&spec.jti.len())
        && spec.omit.is_none()
        && !spec.extra
        && cart_ok
        && fixture::codecs()
            .paseto
            .config()
            .expiry()
            .check(&lifetimes, NOW)
            == Ok(());
    (text, Expected::Known { valid, cart })
}
