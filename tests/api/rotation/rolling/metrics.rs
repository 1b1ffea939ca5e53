//! What the replicas' admin listeners say: counters read from the
//! Prometheus text, and the key ids a token names.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::Value;

/// The labels and value of every sample of `name` in a Prometheus text.
pub fn samples(text: &str, name: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let (labels, value) = match rest.strip_prefix('{') {
                Some(rest) => rest.split_once("} ")?,
                None => ("", rest.strip_prefix(' ')?),
            };
            let labels = labels
                .split(',')
                .filter(|pair| !pair.is_empty())
                .filter_map(|pair| {
                    let (key, value) = pair.split_once('=')?;
                    Some((key.to_owned(), value.trim_matches('"').to_owned()))
                })
                .collect();
            Some((labels, value.trim().parse().ok()?))
        })
        .collect()
}

/// The sum of the samples of `name` whose label `label` is `value`.
pub fn count(text: &str, name: &str, label: &str, value: &str) -> u64 {
    samples(text, name)
        .iter()
        .filter(|(labels, _)| labels.get(label).map(String::as_str) == Some(value))
        .map(|(_, n)| *n as u64)
        .sum()
}

/// Tokens opened on one replica, by the config id of the key that opened
/// them (`kid`: the signing key in the jwt format) and of the key that
/// encrypted their cart (`cart_kid`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Opens {
    pub by_kid: BTreeMap<String, u64>,
    pub by_cart_kid: BTreeMap<String, u64>,
}

impl Opens {
    pub fn parse(metrics: &str) -> Self {
        let mut opens = Self::default();
        for (labels, n) in samples(metrics, "cartseal_tokens_opened_total") {
            let kid = labels.get("kid").cloned().unwrap_or_default();
            let cart_kid = labels
                .get("cart_kid")
                .unwrap_or_else(|| panic!("an opened-token sample without cart_kid: {labels:?}"))
                .clone();
            *opens.by_kid.entry(kid).or_default() += n as u64;
            *opens.by_cart_kid.entry(cart_kid).or_default() += n as u64;
        }
        opens
    }

    /// Opens under `id`, by either label.
    pub fn under(&self, id: &str) -> u64 {
        self.by_kid
            .get(id)
            .copied()
            .unwrap_or(0)
            .max(self.by_cart_kid.get(id).copied().unwrap_or(0))
    }

    /// The opens since `before`.
    pub fn since(&self, before: &Opens) -> Opens {
        let minus = |now: &BTreeMap<String, u64>, then: &BTreeMap<String, u64>| {
            now.iter()
                .map(|(k, n)| (k.clone(), n - then.get(k).copied().unwrap_or(0)))
                .collect()
        };
        Opens {
            by_kid: minus(&self.by_kid, &before.by_kid),
            by_cart_kid: minus(&self.by_cart_kid, &before.by_cart_kid),
        }
    }
}

/// The key ids a token names: for a PASETO token the footer's `kid`; for a
/// JWT the header's `kid` (the signing key) and the `ckid` claim (the cart
/// key). Neither needs a key to read.
pub fn token_kids(token: &str) -> Vec<String> {
    if token.starts_with("v4.local.") {
        return vec![crate::helpers::footer_kid(token)];
    }
    let segment = |i: usize| -> Value {
        let part = token.split('.').nth(i).unwrap_or("");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap_or_else(|e| panic!("segment {i} of {token:?} is not base64url: {e}"));
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("segment {i} of {token:?} is not JSON: {e}"))
    };
    let field = |value: &Value, name: &str| {
        value[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} in {value}"))
            .to_owned()
    };
    vec![field(&segment(0), "kid"), field(&segment(1), "ckid")]
}
