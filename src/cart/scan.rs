//! A direct scan of the compact form exactly as [`Cart::to_compact_json`]
//! writes it: `[["sku",2,{"k":"v"}],…]`, with no whitespace and no escape.
//!
//! Every token this service seals holds its cart in that form, so opening
//! one need not go through serde_json's general machinery, which a profile
//! of the open path put at over half the parse. The scan reads only that
//! one spelling and hands anything else (whitespace, an escape, a control
//! character, a number with a sign, a fraction or a leading zero) back to
//! serde_json by answering `None`. The accepted spelling is a subset of
//! JSON that serde_json reads to the same values, and the lines go through
//! the same checks ([`Lines`]), so both give the same cart or the same
//! refusal; a unit test and the `after_auth` fuzz target hold them equal.

use std::borrow::Cow;

use super::compact::{Lines, RawLine, is_json_special};
use super::{Cart, CartError, Limits};

/// Parses `bytes` if they are in the canonical spelling; `None` if they
/// are not (they may still be valid JSON, or not).
pub(super) fn canonical(bytes: &[u8], limits: &Limits) -> Option<Result<Cart, CartError>> {
    // One UTF-8 check for the whole text; every slice below starts and ends
    // next to an ASCII quote, so it is a whole string.
    let text = std::str::from_utf8(bytes).ok()?;
    let mut scan = Scan { text, at: 0 };
    let mut lines = Lines::new(limits, None);
    let mut properties: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::new();
    scan.eat(b'[')?;
    if !scan.eat_if(b']') {
        loop {
            let raw = scan.line(&mut properties)?;
            if let Err(refused) = lines.push(raw, &mut properties) {
                return Some(Err(refused));
            }
            if scan.eat_if(b']') {
                break;
            }
            scan.eat(b',')?;
        }
    }
    (scan.at == bytes.len()).then(|| Ok(lines.into_cart()))
}

struct Scan<'t> {
    text: &'t str,
    at: usize,
}

impl<'t> Scan<'t> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        self.eat_if(byte).then_some(())
    }

    fn eat_if(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.at += 1;
        }
        found
    }

    /// `["sku",quantity]` or `["sku",quantity,{…}]`, properties into
    /// `properties`.
    fn line(&mut self, properties: &mut Vec<(Cow<'t, str>, Cow<'t, str>)>) -> Option<RawLine<'t>> {
        self.eat(b'[')?;
        let sku = self.string()?;
        self.eat(b',')?;
        let quantity = self.quantity()?;
        properties.clear();
        if self.eat_if(b',') {
            self.eat(b'{')?;
            if !self.eat_if(b'}') {
                loop {
                    let key = self.string()?;
                    self.eat(b':')?;
                    let value = self.string()?;
                    properties.push((Cow::Borrowed(key), Cow::Borrowed(value)));
                    if self.eat_if(b'}') {
                        break;
                    }
                    self.eat(b',')?;
                }
            }
        }
        self.eat(b']')?;
        Some(RawLine {
            sku: Cow::Borrowed(sku),
            quantity,
        })
    }

    /// A string with nothing to unescape: no `\` and no control character
    /// (which JSON does not allow raw) before its closing quote.
    fn string(&mut self) -> Option<&'t str> {
        self.eat(b'"')?;
        let start = self.at;
        let rest = &self.text.as_bytes()[start..];
        let len = rest.iter().position(|&b| is_json_special(b))?;
        if rest[len] != b'"' {
            return None;
        }
        self.at = start + len + 1;
        Some(&self.text[start..start + len])
    }

    /// A JSON integer in `u32`: `0`, or digits without a leading zero.
    fn quantity(&mut self) -> Option<u32> {
        let rest = &self.text.as_bytes()[self.at..];
        let len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if len == 0 || (len > 1 && rest[0] == b'0') || len > 10 {
            return None;
        }
        let mut n: u64 = 0;
        for &digit in &rest[..len] {
            n = n * 10 + u64::from(digit - b'0');
        }
        // A fraction or an exponent makes it a float, which serde_json
        // refuses for a quantity: leave that to it.
        if matches!(rest.get(len), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        self.at += len;
        u32::try_from(n).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_writer_writes_and_hands_back_anything_else() {
        let limits = Limits::default();
        let written = br#"[["A-1",2,{"b":"x","size":"M"}],["B",10]]"#;
        let cart = canonical(written, &limits)
            .expect("the writer's spelling is read by the scan")
            .expect("a valid cart");
        assert_eq!(cart.to_compact_json(), written);
        for other in [
            &br#"[ ["A-1",2]]"#[..],
            br#"[["A\u002d1",2]]"#,
            br#"[["A-1",2.5]]"#,
            br#"[["A-1",01]]"#,
            br#"[["A-1",2]] "#,
        ] {
            assert!(canonical(other, &limits).is_none());
        }
        // A refusal of a line is the scan's own answer, as serde_json's
        // would be.
        assert!(matches!(
            canonical(br#"[["A 1",2]]"#, &limits),
            Some(Err(CartError::Invalid(_)))
        ));
    }
}
