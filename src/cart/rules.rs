//! The rules every part of a line keeps, shared by the typed parts
//! ([`super::line`]) and the parsers of the compact form.

use std::borrow::Cow;

use super::{CartError, Limits};

/// Checks a sku: 1 to `limits.sku_max_chars` of `[A-Za-z0-9._-]`.
pub(super) fn check_sku(raw: &str, limits: &Limits) -> Result<(), CartError> {
    let max = limits.sku_max_chars;
    if is_word(raw, max, |b| matches!(b, b'.' | b'_' | b'-')) {
        return Ok(());
    }
    Err(word_refused("sku must be", max, "characters", ". _ -"))
}

/// Checks how many properties a line has.
pub(super) fn check_property_count(count: usize, limits: &Limits) -> Result<(), CartError> {
    if count > limits.max_properties {
        return Err(CartError::Invalid(format!(
            "at most {} properties per line",
            limits.max_properties
        )));
    }
    Ok(())
}

/// Checks a property key: 1 to `limits.property_key_max_bytes` of
/// `[A-Za-z0-9_-]`.
pub(super) fn check_property_key(key: &str, limits: &Limits) -> Result<(), CartError> {
    let max = limits.property_key_max_bytes;
    if is_word(key, max, |b| matches!(b, b'_' | b'-')) {
        return Ok(());
    }
    Err(word_refused("property keys must be", max, "bytes", "_ -"))
}

/// Whether `raw` is 1 to `max` bytes, each an ASCII letter or digit or one
/// that `extra` allows.
#[inline]
fn is_word(raw: &str, max: usize, extra: impl Fn(u8) -> bool) -> bool {
    !raw.is_empty()
        && raw.len() <= max
        && raw.bytes().all(|b| b.is_ascii_alphanumeric() || extra(b))
}

/// The refusal of a word that [`is_word`] refused: "`what` 1 to `max`
/// `unit` of A-Z a-z 0-9 `extra`".
#[cold]
fn word_refused(what: &str, max: usize, unit: &str, extra: &str) -> CartError {
    CartError::Invalid(format!("{what} 1 to {max} {unit} of A-Z a-z 0-9 {extra}"))
}

/// Checks a property value, already in NFC ([`normalized`]).
pub(super) fn check_property_value(value: &str, limits: &Limits) -> Result<(), CartError> {
    // Printable ASCII, the common case, is allowed as it is: one scan over
    // the bytes, before any character is decoded.
    let allowed = value.bytes().all(|b| (0x20..0x7f).contains(&b)) || value.chars().all(is_allowed);
    if value.len() > limits.property_value_max_bytes || !allowed {
        return Err(CartError::Invalid(format!(
            "property values must be at most {} bytes, without control or format characters or line separators",
            limits.property_value_max_bytes
        )));
    }
    Ok(())
}

/// A property value in Unicode Normalization Form C, so that text that
/// looks the same is the same line whichever keyboard typed it (an `é` as
/// one code point or as `e` and a combining accent). ASCII, the common
/// case, is NFC already: it costs one scan and no copy.
pub(super) fn normalized(value: &str) -> Cow<'_, str> {
    use unicode_normalization::{UnicodeNormalization, is_nfc};
    if value.is_ascii() || is_nfc(value) {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(value.nfc().collect())
    }
}

/// True for the characters a property value may hold. Control characters,
/// format characters (bidi overrides and isolates, zero-width spaces and
/// joiners, the byte order mark) and line and paragraph separators are
/// refused: they make text display otherwise than it reads, on a receipt or
/// an engraving order.
fn is_allowed(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    if c.is_ascii() {
        return !c.is_ascii_control();
    }
    !matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}
