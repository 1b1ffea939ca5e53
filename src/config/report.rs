//! Config problems, every one at once, each on one line that names the
//! field as config.toml writes it, the valid values, and the file and line
//! (docs/key-rotation.md, "When a config is refused").
//!
//! The config crate merges the file with `CARTSEAL__…` overrides but keeps
//! no positions and stops at the first error. So the file is also parsed
//! with `toml` for the positions of its keys, and the merged values are
//! deserialized section by section (and `[[keys]]` entry by entry), setting
//! each bad field aside and trying again, so that one bad field does not
//! hide the next.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue};

/// One step of a field's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Seg {
    Key(String),
    /// From 0, shown from 1.
    Index(usize),
}

/// A field's path as config.toml writes it: `limits.max_lines`, and
/// `keys[3].state` for the third `[[keys]]` entry (counted from 1).
pub(super) fn field_name(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Seg::Index(i) => out.push_str(&format!("[{}]", i + 1)),
        }
    }
    out
}

/// The leading dotted field name of a problem text (`limits.max_lines must
/// be …`).
fn leading_field(text: &str) -> Vec<Seg> {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(text.len());
    text[..end]
        .split('.')
        .filter(|s| !s.is_empty())
        .map(|s| Seg::Key(s.to_owned()))
        .collect()
}

/// The config file's text, to place problems in it.
pub(super) struct Source {
    path: PathBuf,
    text: String,
}

impl Source {
    /// Reads the file; a TOML syntax error is one line with its place and
    /// its reason.
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let source = Self {
            path: path.to_path_buf(),
            text,
        };
        if let Err(e) = DeTable::parse(&source.text) {
            let (line, column) = e
                .span()
                .map_or((0, 0), |span| source.line_column(span.start));
            return Err(format!(
                "{}:{line}:{column}: {}",
                path.display(),
                one_line(e.message())
            ));
        }
        Ok(source)
    }

    /// The text, for the config crate.
    pub fn text(&self) -> &str {
        &self.text
    }

    fn line_column(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    /// The line of `path` in the file, or of the nearest enclosing entry
    /// the file has (a missing field is placed at its table).
    fn line_of(&self, path: &[Seg]) -> Option<usize> {
        let doc = DeTable::parse(&self.text).ok()?;
        let mut table: &DeTable = doc.get_ref();
        let mut value: Option<&DeValue> = None;
        let mut found: Option<usize> = None;
        for seg in path {
            let next = match (seg, value) {
                (Seg::Key(key), _) => {
                    let Some((k, v)) = table.get_key_value(key.as_str()) else {
                        break;
                    };
                    let span = k.span();
                    found = Some(if span.start < span.end {
                        span.start
                    } else {
                        v.span().start
                    });
                    v
                }
                (Seg::Index(i), Some(DeValue::Array(items))) => {
                    let Some(item) = items.get(*i) else {
                        break;
                    };
                    let span = item.span();
                    if span.start < span.end {
                        found = Some(span.start);
                    }
                    item
                }
                _ => break,
            };
            value = Some(next.get_ref());
            if let DeValue::Table(t) = next.get_ref() {
                table = t;
            }
        }
        found.map(|offset| self.line_column(offset).0)
    }

    /// One line for a problem with the field at `path`: the file and line
    /// (or the environment variable that set it), then `text`.
    pub fn locate(&self, path: &[Seg], text: &str) -> String {
        if let Some(var) = env_override(path) {
            return format!("{}: {text} (set by {var})", self.path.display());
        }
        match self.line_of(path) {
            Some(line) => format!("{}:{line}: {text}", self.path.display()),
            None => format!("{}: {text}", self.path.display()),
        }
    }

    /// Sorts problems by where they are in the file, those without a line
    /// last.
    pub fn sort(&self, bad: &mut [Bad]) {
        bad.sort_by_key(|b| self.line_of(&b.path).unwrap_or(usize::MAX));
    }

    /// [`Self::locate`] for a text that begins with the field's name, as
    /// every `validate` text does.
    pub fn locate_text(&self, text: &str) -> String {
        self.locate(&leading_field(text), text)
    }
}

/// The `CARTSEAL__…` variable that sets `path`, when one does.
fn env_override(path: &[Seg]) -> Option<String> {
    let mut name = String::from("CARTSEAL");
    for seg in path {
        match seg {
            Seg::Key(key) => {
                name.push_str("__");
                name.push_str(&key.to_ascii_uppercase());
            }
            Seg::Index(_) => return None,
        }
    }
    (path.len() > 1 && std::env::var_os(&name).is_some()).then_some(name)
}

fn one_line(text: &str) -> String {
    text.trim().replace('\n', "; ")
}

/// A deserialization problem: the field, and what is wrong with it.
pub(super) struct Bad {
    pub path: Vec<Seg>,
    pub text: String,
    /// The `id` of the `[[keys]]` entry the field is in, when it has one.
    pub entry_id: Option<String>,
}

/// Deserializes `T` (whose top-level fields all have defaults) from the
/// merged config, or says every field that stops it.
pub(super) fn deserialize_all<T: DeserializeOwned>(root: config::Value) -> Result<T, Vec<Bad>> {
    let mut bad = Vec::new();
    if let config::ValueKind::Table(sections) = &root.kind {
        for (name, section) in sections {
            match &section.kind {
                // `[[keys]]`: each entry alone, so that one entry's missing
                // field hides nothing in the next.
                config::ValueKind::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let one = config::ValueKind::Array(vec![item.clone()]);
                        let from = bad.len();
                        check_part::<T>(name, config::Value::new(None, one), Some(i), &mut bad);
                        let id = match &item.kind {
                            config::ValueKind::Table(t) => {
                                t.get("id").and_then(|id| match &id.kind {
                                    config::ValueKind::String(id) => Some(id.clone()),
                                    _ => None,
                                })
                            }
                            _ => None,
                        };
                        for b in &mut bad[from..] {
                            b.entry_id = id.clone();
                        }
                    }
                }
                _ => check_part::<T>(name, section.clone(), None, &mut bad),
            }
        }
    }
    if !bad.is_empty() {
        return Err(bad);
    }
    serde_path_to_error::deserialize(root).map_err(|e| {
        vec![Bad {
            path: segs(e.path(), None),
            text: e.inner().to_string(),
            entry_id: None,
        }]
    })
}

/// Deserializes `T` from one section alone, setting aside each field that
/// fails until none does.
fn check_part<T: DeserializeOwned>(
    name: &str,
    section: config::Value,
    index: Option<usize>,
    bad: &mut Vec<Bad>,
) {
    let mut table = config::Map::new();
    table.insert(name.to_owned(), section);
    let mut value = config::Value::new(None, config::ValueKind::Table(table));
    let mut set_aside: Vec<Vec<Seg>> = Vec::new();
    // Each round sets one field aside; a section has a few dozen at most.
    for _ in 0..64 {
        let Err(e) = serde_path_to_error::deserialize::<_, T>(value.clone()) else {
            return;
        };
        let mut path = segs(e.path(), index);
        let inner = e.inner().to_string();
        if let Some(field) = missing_field(&inner) {
            let mut missing = path.clone();
            missing.push(Seg::Key(field));
            if !set_aside.contains(&missing) {
                bad.push(Bad {
                    path: missing,
                    text: inner,
                    entry_id: None,
                });
            }
            // Else already said: it was set aside for a bad value.
            return;
        }
        if let Some(field) = quoted_after(&inner, "unknown field ")
            && path.last() != Some(&Seg::Key(field.clone()))
        {
            path.push(Seg::Key(field));
        }
        bad.push(Bad {
            path: path.clone(),
            text: inner,
            entry_id: None,
        });
        let local = localize(&path, index);
        if !remove(&mut value, &local) {
            return;
        }
        set_aside.push(path);
    }
}

/// The path inside a one-entry array: the entry is at index 0.
fn localize(path: &[Seg], index: Option<usize>) -> Vec<Seg> {
    let mut local = path.to_vec();
    if index.is_some()
        && let Some(Seg::Index(i)) = local.get_mut(1)
    {
        *i = 0;
    }
    local
}

/// Removes the value at `path`; false when there is none.
fn remove(value: &mut config::Value, path: &[Seg]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut at = value;
    for seg in parents {
        let next = match (seg, &mut at.kind) {
            (Seg::Key(key), config::ValueKind::Table(t)) => t.get_mut(key),
            (Seg::Index(i), config::ValueKind::Array(a)) => a.get_mut(*i),
            _ => None,
        };
        let Some(next) = next else {
            return false;
        };
        at = next;
    }
    match (last, &mut at.kind) {
        (Seg::Key(key), config::ValueKind::Table(t)) => t.remove(key).is_some(),
        _ => false,
    }
}

/// serde_path_to_error's path, with the entry's index put back when the
/// entry was checked alone.
fn segs(path: &serde_path_to_error::Path, index: Option<usize>) -> Vec<Seg> {
    use serde_path_to_error::Segment;
    let mut out: Vec<Seg> = path
        .iter()
        .filter_map(|seg| match seg {
            Segment::Seq { index } => Some(Seg::Index(*index)),
            Segment::Map { key } => Some(Seg::Key(key.clone())),
            Segment::Enum { variant } => Some(Seg::Key(variant.clone())),
            Segment::Unknown => None,
        })
        .collect();
    if let (Some(i), Some(Seg::Index(at))) = (index, out.get_mut(1)) {
        *at = i;
    }
    out
}

/// The field a "missing field" error names: serde's `missing field `x``,
/// or the config crate's `missing configuration field "keys[0]x"`.
fn missing_field(text: &str) -> Option<String> {
    if let Some(name) = quoted_after(text, "missing field ") {
        return Some(name);
    }
    let rest = text.split_once("missing configuration field \"")?.1;
    let name = rest.split('"').next()?;
    let name = name.rsplit([']', '.']).next()?;
    Some(name.to_owned())
}

/// The name in backquotes after `prefix` (serde's `missing field `x``).
fn quoted_after(text: &str, prefix: &str) -> Option<String> {
    let rest = &text[text.find(prefix)? + prefix.len()..];
    let rest = rest.strip_prefix('`')?;
    Some(rest[..rest.find('`')?].to_owned())
}
