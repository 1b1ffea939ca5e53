//! Config problems in words: the field as config.toml writes it, the value,
//! and what it must be (docs/key-rotation.md, "When a config is refused").

use serde::de::DeserializeOwned;

use super::report::{Bad, Seg, field_name};
use crate::keys::KeyringError;

/// The field a keyring problem concerns: the entry's `file`, `kid`, `id`
/// or `state`, found by the key's id.
pub(super) fn key_problem_path(
    keys: &[crate::keys::KeyConfig],
    problem: &KeyringError,
) -> Vec<Seg> {
    let entry = |id: &str, field: &str, last: bool| {
        let found = if last {
            keys.iter().rposition(|k| k.id == id)
        } else {
            keys.iter().position(|k| k.id == id)
        };
        match found {
            Some(i) => vec![
                Seg::Key("keys".into()),
                Seg::Index(i),
                Seg::Key(field.into()),
            ],
            None => vec![Seg::Key("keys".into())],
        }
    };
    match problem {
        KeyringError::Unreadable { id, .. }
        | KeyringError::Material { id, .. }
        | KeyringError::Readable { id, .. }
        | KeyringError::WrongAlgorithm { id, .. } => entry(id, "file", false),
        KeyringError::KidMismatch { id, .. } => entry(id, "kid", false),
        KeyringError::DuplicateId(id) => entry(id, "id", true),
        KeyringError::DuplicateKid(_, second) => entry(second, "file", false),
        KeyringError::TwoActive { second, .. } => entry(second, "state", false),
        KeyringError::NoActive(_) => vec![Seg::Key("keys".into())],
        KeyringError::DevKeyExposed { .. } => {
            vec![Seg::Key("server".into()), Seg::Key("host".into())]
        }
    }
}

/// A deserialization problem in words: the field as config.toml writes
/// it, the value when it is a word or a number, and what it must be.
pub(super) fn describe(bad: &Bad) -> String {
    let mut field = field_name(&bad.path);
    if let Some(id) = &bad.entry_id {
        field.push_str(&format!(" (key {id:?})"));
    }
    // The config crate appends where it was; the line says that better.
    let text = bad.text.replace('\n', "; ");
    let text = text.split(" for key `").next().unwrap_or(&text);
    let last = bad.path.last().and_then(|seg| match seg {
        Seg::Key(key) => Some(key.as_str()),
        Seg::Index(_) => None,
    });
    if let Some(rest) = text.strip_prefix("enum ") {
        // "enum KeyState does not have variant constructor decrypt_only"
        let name = rest.split(' ').next().unwrap_or_default();
        let value = rest.rsplit(' ').next().unwrap_or_default();
        return match variants(name) {
            Some(valid) => format!("{field} = {value:?}: must be one of {valid}"),
            None => format!("{field} = {value:?}: not a valid value"),
        };
    }
    if text.starts_with("missing configuration field") || text.starts_with("missing field") {
        let valid = match last {
            Some("purpose") => variants("Purpose"),
            Some("state") => variants("KeyState"),
            _ => None,
        };
        return match valid {
            Some(valid) => format!("{field} is missing: it must be one of {valid}"),
            None => format!("{field} is missing"),
        };
    }
    if let Some(rest) = text.strip_prefix("unknown field ") {
        let known = rest
            .split_once("expected ")
            .map(|(_, known)| known.trim_start_matches("one of ").replace('`', "\""));
        return match known {
            Some(known) => format!("{field} is not a setting; this table has {known}"),
            None => format!("{field} is not a setting"),
        };
    }
    if let Some(rest) = text.strip_prefix("invalid type: ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        // `70000` or "two": shown as config.toml writes it.
        let value = match (found.find('`'), found.rfind('`'), found.find('"')) {
            (Some(a), Some(b), _) if a < b => Some(found[a + 1..b].to_owned()),
            (_, _, Some(a)) => Some(found[a..].to_owned()),
            _ => None,
        };
        let value = value
            .filter(|v| v.len() <= 40)
            .map(|v| format!(" = {v}"))
            .unwrap_or_default();
        return format!("{field}{value}: must be {}", plain_type(expected));
    }
    format!("{field}: {text}")
}

/// serde's and the config crate's names of types (matched as parts of what
/// they say they expected, first match wins), in config.toml's words.
const PLAIN_TYPES: [(&str, &str); 11] = [
    ("unsigned 8 bit", "a whole number from 0 to 255"),
    ("unsigned 16 bit", "a whole number from 0 to 65535"),
    ("unsigned 32 bit", "a whole number from 0 to 4294967295"),
    ("unsigned", "a whole number, 0 or more"),
    ("integer", "a whole number"),
    ("bool", "true or false"),
    ("string", "a string in quotes"),
    ("sequence", "a list, [ ... ]"),
    ("array", "a list, [ ... ]"),
    ("map", "a table"),
    ("struct", "a table"),
];

/// `expected`, a type as serde or the config crate names it, in
/// config.toml's words ([`PLAIN_TYPES`]); as it is when none matches.
fn plain_type(expected: &str) -> String {
    PLAIN_TYPES
        .iter()
        .find(|(part, _)| expected.contains(part))
        .map_or(expected, |(_, plain)| plain)
        .to_owned()
}

/// The values an enum of config.toml takes, as serde names them:
/// `"pending", "active", …`.
fn variants(name: &str) -> Option<String> {
    fn of<T: DeserializeOwned>() -> Option<String> {
        // No variant is named "", so serde's refusal lists them all.
        let refusal = serde_json::from_value::<T>(serde_json::Value::from("")).err()?;
        let text = refusal.to_string();
        let list = text.split_once("expected ")?.1;
        let list = list.trim_start_matches("one of ");
        let list = list.split(" at line").next().unwrap_or(list);
        Some(list.replace(" or ", ", ").replace('`', "\""))
    }
    match name {
        "KeyState" => of::<crate::keys::KeyState>(),
        "Purpose" => of::<crate::keys::Purpose>(),
        "StoreKind" => of::<super::StoreKind>(),
        "Format" => of::<crate::token::Format>(),
        "JwtAlgorithm" => of::<crate::token::JwtAlgorithm>(),
        _ => None,
    }
}
