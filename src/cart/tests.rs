use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn limits() -> Limits {
    Limits::default()
}

/// Limits of `max_lines` lines and at most 10 of each, for the tests
/// that fill a cart up.
fn small_limits(max_lines: usize) -> Limits {
    Limits {
        max_lines,
        max_quantity: 10,
        ..Limits::default()
    }
}

fn line(sku: &str, qty: i64) -> Line {
    let l = limits();
    Line::new(
        Sku::parse(sku, &l).unwrap(),
        Quantity::parse(qty, &l).unwrap(),
        Properties::default(),
    )
}

fn props(pairs: &[(&str, &str)]) -> Properties {
    let map = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Properties::parse(map, &limits()).unwrap()
}

fn line_with(sku: &str, qty: i64, pairs: &[(&str, &str)]) -> Line {
    let l = limits();
    Line::new(
        Sku::parse(sku, &l).unwrap(),
        Quantity::parse(qty, &l).unwrap(),
        props(pairs),
    )
}

fn cart_of(lines: &[Line]) -> Cart {
    let mut cart = Cart::new();
    for l in lines {
        cart.add(l.clone(), &limits()).unwrap();
    }
    cart
}

fn quantities(cart: &Cart) -> Vec<(String, u32)> {
    cart.lines()
        .iter()
        .map(|l| (l.key().to_string(), l.quantity().get()))
        .collect()
}

// ---------------------------------------------------------------------------
// Parsing at the edge
// ---------------------------------------------------------------------------

#[test]
fn skus_are_1_to_64_characters_of_the_sku_alphabet() {
    let l = limits();
    for ok in ["A", "SKU-10234-BLK", "a.b_c-D9", &"X".repeat(64)] {
        assert!(Sku::parse(ok, &l).is_ok(), "{ok:?}");
    }
    for bad in [
        "",
        &"X".repeat(65),
        "SKU 1",
        "SKU/1",
        "SKU~1",
        "ÄPFEL",
        "SKU\0",
        "SKU\n",
        "\"SKU\"",
    ] {
        assert!(
            matches!(Sku::parse(bad, &l), Err(CartError::Invalid(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn sku_and_property_key_refusals_name_their_alphabet_and_bound() {
    let l = limits();
    assert_eq!(
        Sku::parse("SKU 1", &l).unwrap_err(),
        CartError::Invalid("sku must be 1 to 64 characters of A-Z a-z 0-9 . _ -".into())
    );
    let bad_key = BTreeMap::from([("a.b".to_owned(), "v".to_owned())]);
    assert_eq!(
        Properties::parse(bad_key, &l).unwrap_err(),
        CartError::Invalid(format!(
            "property keys must be 1 to {} bytes of A-Z a-z 0-9 _ -",
            l.property_key_max_bytes
        ))
    );
}

#[test]
fn quantities_are_1_to_the_limit() {
    let l = limits();
    for ok in [1, 2, 998, 999] {
        assert_eq!(Quantity::parse(ok, &l).unwrap().get(), ok as u32);
    }
    for bad in [0, -1, 1000, i64::from(u32::MAX) + 1, i64::MAX, i64::MIN] {
        assert!(Quantity::parse(bad, &l).is_err(), "{bad}");
    }
}

#[test]
fn properties_are_few_short_and_printable() {
    let l = limits();
    let map = |pairs: &[(&str, String)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    };
    let five: Vec<(String, String)> = (0..5).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let six: Vec<(String, String)> = (0..6).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    assert!(Properties::parse(five.into_iter().collect(), &l).is_ok());
    assert!(
        Properties::parse(six.into_iter().collect(), &l).is_err(),
        "six properties"
    );
    let cases: [(&str, BTreeMap<String, String>, bool); 9] = [
        (
            "unicode value",
            map(&[("engraving", "für Émile ❤".into())]),
            true,
        ),
        (
            "value of 256 bytes",
            map(&[("note", "v".repeat(256))]),
            true,
        ),
        (
            "value of 257 bytes",
            map(&[("note", "v".repeat(257))]),
            false,
        ),
        (
            "value with a newline",
            map(&[("note", "a\nb".into())]),
            false,
        ),
        ("value with a NUL", map(&[("note", "a\0b".into())]), false),
        (
            "key of 32 bytes",
            map(&[(&"k".repeat(32), "v".into())]),
            true,
        ),
        (
            "key of 33 bytes",
            map(&[(&"k".repeat(33), "v".into())]),
            false,
        ),
        ("empty key", map(&[("", "v".into())]), false),
        ("key with a space", map(&[("gift wrap", "v".into())]), false),
    ];
    for (what, raw, ok) in cases {
        assert_eq!(Properties::parse(raw, &l).is_ok(), ok, "{what}");
    }
}

#[test]
fn a_line_key_is_the_sku_alone_or_the_sku_and_a_hash_of_the_properties() {
    let plain = line("TEE-100", 1);
    assert_eq!(plain.key(), "TEE-100");
    let sized = line_with("TEE-100", 1, &[("size", "M")]);
    let key = sized.key();
    assert!(
        key.starts_with("TEE-100~") && key.len() == "TEE-100~".len() + 12,
        "{key}"
    );
    assert!(key[8..].bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
    // Stable across releases: clients keep line keys in URLs. The digest is
    // the top 48 bits of FNV-1a 64 of `size\0M\0` (offset basis
    // 0xcbf29ce484222325, prime 0x100000001b3), computed independently.
    assert_eq!(key, "TEE-100~61394bec56d5");
    assert_ne!(key, line_with("TEE-100", 1, &[("size", "L")]).key());
    assert_ne!(
        line_with("TEE-100", 1, &[("a", "bc")]).key(),
        line_with("TEE-100", 1, &[("ab", "c")]).key(),
        "the encoding is unambiguous"
    );
    // The quantity is not part of the key.
    assert_eq!(line_with("TEE-100", 5, &[("size", "M")]).key(), sized.key());
}

// ---------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------

#[test]
fn adding_the_same_line_twice_raises_its_quantity() {
    let mut cart = Cart::new();
    cart.add(line("TEE-100", 2), &limits()).unwrap();
    cart.add(line("TEE-100", 3), &limits()).unwrap();
    assert_eq!(cart.lines().len(), 1);
    assert_eq!(cart.lines()[0].quantity().get(), 5);
}

#[test]
fn the_same_sku_with_other_properties_is_another_line() {
    let mut cart = Cart::new();
    let m = cart
        .add(line_with("TEE-100", 1, &[("size", "M")]), &limits())
        .unwrap();
    let l = cart
        .add(line_with("TEE-100", 1, &[("size", "L")]), &limits())
        .unwrap();
    let plain = cart.add(line("TEE-100", 1), &limits()).unwrap();
    assert_eq!(cart.lines().len(), 3);
    assert_ne!(m, l);
    assert_ne!(m, plain);
    assert_eq!(cart.item_count(), 3);
}

#[test]
fn an_add_past_a_limit_leaves_the_cart_unchanged() {
    let small = small_limits(2);
    let mut cart = Cart::new();
    cart.add(line("A", 6), &small).unwrap();
    cart.add(line("B", 1), &small).unwrap();
    let before = cart.clone();
    assert_eq!(
        cart.add(line("A", 5), &small),
        Err(CartError::QuantityTooLarge { max: 10 })
    );
    assert_eq!(
        cart.add(line("C", 1), &small),
        Err(CartError::TooManyLines { max: 2 })
    );
    assert_eq!(cart, before);
    // A full cart still takes more of a line it has.
    cart.add(line("A", 4), &small).unwrap();
    assert_eq!(quantities(&cart), [("A".into(), 10), ("B".into(), 1)]);
}

#[test]
fn set_quantity_sets_removes_at_zero_and_refuses_out_of_range() {
    let mut cart = cart_of(&[line("A", 1), line("B", 2)]);
    cart.set_quantity("A", 7, &limits()).unwrap();
    assert_eq!(quantities(&cart), [("A".into(), 7), ("B".into(), 2)]);
    cart.set_quantity("A", 0, &limits()).unwrap();
    assert_eq!(quantities(&cart), [("B".into(), 2)]);
    let before = cart.clone();
    for bad in [-1, 1000, i64::MAX] {
        assert!(
            matches!(
                cart.set_quantity("B", bad, &limits()),
                Err(CartError::Invalid(_))
            ),
            "{bad}"
        );
    }
    assert_eq!(
        cart.set_quantity("A", 1, &limits()),
        Err(CartError::LineNotFound)
    );
    assert_eq!(
        cart.set_quantity("A", 0, &limits()),
        Err(CartError::LineNotFound)
    );
    assert_eq!(cart, before);
}

#[test]
fn remove_and_clear() {
    let mut cart = cart_of(&[line("A", 1), line("B", 2), line("C", 3)]);
    cart.remove("B").unwrap();
    assert_eq!(quantities(&cart), [("A".into(), 1), ("C".into(), 3)]);
    assert_eq!(cart.remove("B"), Err(CartError::LineNotFound));
    assert_eq!(
        cart.remove("a"),
        Err(CartError::LineNotFound),
        "keys are case-sensitive"
    );
    cart.clear();
    assert!(cart.is_empty());
    assert_eq!(cart.item_count(), 0);
}

#[test]
fn lines_keep_the_order_they_were_first_added_in() {
    let mut cart = cart_of(&[line("C", 1), line("A", 1), line("B", 1)]);
    cart.add(line("A", 1), &limits()).unwrap();
    let order: Vec<&str> = cart.lines().iter().map(|l| l.sku()).collect();
    assert_eq!(order, ["C", "A", "B"]);
}

#[test]
fn merge_adds_quantities_capped_and_appends_new_lines() {
    let small = small_limits(4);
    let mut mine = cart_of(&[line("A", 6), line("B", 1)]);
    let guest = cart_of(&[line("B", 2), line("A", 7), line("C", 3)]);
    mine.merge(&guest, &small).unwrap();
    assert_eq!(
        quantities(&mine),
        [("A".into(), 10), ("B".into(), 3), ("C".into(), 3)],
        "A capped at 10, B added, C appended"
    );
    // Merging an empty cart changes nothing; merging a cart into itself
    // doubles, capped.
    let before = mine.clone();
    mine.merge(&Cart::new(), &small).unwrap();
    assert_eq!(mine, before);
    let copy = mine.clone();
    mine.merge(&copy, &small).unwrap();
    assert_eq!(
        quantities(&mine),
        [("A".into(), 10), ("B".into(), 6), ("C".into(), 6)]
    );
}

#[test]
fn merge_is_all_or_nothing_when_lines_would_overflow() {
    let small = Limits {
        max_lines: 3,
        ..Limits::default()
    };
    let mut mine = cart_of(&[line("A", 1), line("B", 1)]);
    // A merges into an existing line, C fits, D does not: nothing changes,
    // not even A.
    let other = cart_of(&[line("A", 5), line("C", 1), line("D", 1)]);
    let before = mine.clone();
    assert_eq!(
        mine.merge(&other, &small),
        Err(CartError::TooManyLines { max: 3 })
    );
    assert_eq!(mine, before);
    // Without D it fits.
    mine.merge(&cart_of(&[line("A", 5), line("C", 1)]), &small)
        .unwrap();
    assert_eq!(
        quantities(&mine),
        [("A".into(), 6), ("B".into(), 1), ("C".into(), 1)]
    );
}

#[test]
fn a_write_copies_the_list_of_lines_never_their_text() {
    // The cache and the request share a cart until the request changes it
    // (`Arc::make_mut`): that copy must not copy every line.
    let cart = cart_of(&[
        line_with("TEE-100", 2, &[("size", "M")]),
        line("MUG-104", 1),
        line("CAP-7", 1),
    ]);
    let mut changed = cart.clone();
    changed.set_quantity("MUG-104", 5, &limits()).unwrap();
    changed.add(line("NEW-1", 1), &limits()).unwrap();
    for (before, after) in cart.lines().iter().zip(changed.lines()) {
        assert!(before.shares_text_with(after), "{before:?} was copied");
    }
    assert_eq!(changed.lines()[1].quantity().get(), 5);
    assert_eq!(
        cart.lines()[1].quantity().get(),
        1,
        "the original is unchanged"
    );
}

// ---------------------------------------------------------------------------
// Compact JSON
// ---------------------------------------------------------------------------

#[test]
fn compact_json_round_trips() {
    let mut cart = Cart::new();
    cart.add(line("TEE-100", 2), &limits()).unwrap();
    let json = cart.to_compact_json();
    assert_eq!(json, br#"[["TEE-100",2]]"#);
    assert_eq!(Cart::from_compact_json(&json, &limits()).unwrap(), cart);
}

#[test]
fn compact_json_has_the_documented_shape() {
    let cart = cart_of(&[
        line_with("TEE-100", 2, &[("size", "M"), ("color", "navy")]),
        line("MUG-104", 1),
    ]);
    assert_eq!(
        String::from_utf8(cart.to_compact_json()).unwrap(),
        r#"[["TEE-100",2,{"color":"navy","size":"M"}],["MUG-104",1]]"#
    );
    assert_eq!(Cart::new().to_compact_json(), b"[]");
}

#[test]
fn compact_json_is_parsed_strictly() {
    let many: String = format!(
        "[{}]",
        (0..101)
            .map(|i| format!(r#"["S{i}",1]"#))
            .collect::<Vec<_>>()
            .join(",")
    );
    let cases: &[(&str, &[u8])] = &[
        ("an object", br#"{"TEE-100":2}"#),
        (
            "a line as an object",
            br#"[{"sku":"TEE-100","quantity":2}]"#,
        ),
        ("a line of one element", br#"[["TEE-100"]]"#),
        ("a line of four elements", br#"[["TEE-100",2,{},1]]"#),
        ("an empty line", b"[[]]"),
        ("a quantity as a string", br#"[["TEE-100","2"]]"#),
        ("a fractional quantity", br#"[["TEE-100",1.5]]"#),
        ("a negative quantity", br#"[["TEE-100",-1]]"#),
        ("a quantity of 0", br#"[["TEE-100",0]]"#),
        ("a quantity over the limit", br#"[["TEE-100",1000]]"#),
        ("a quantity over u32", br#"[["TEE-100",4294967297]]"#),
        ("a bad sku", br#"[["TEE 100",1]]"#),
        ("an empty sku", br#"[["",1]]"#),
        ("a sku that is a number", b"[[100,1]]"),
        ("properties as a list", br#"[["TEE-100",1,["size","M"]]]"#),
        ("properties as null", br#"[["TEE-100",1,null]]"#),
        (
            "a property value that is a number",
            br#"[["TEE-100",1,{"size":40}]]"#,
        ),
        (
            "a property value with a control character",
            br#"[["TEE-100",1,{"note":"a\u0007b"}]]"#,
        ),
        ("a duplicate line", br#"[["TEE-100",1],["TEE-100",2]]"#),
        ("trailing data", br#"[["TEE-100",1]] []"#),
        ("truncated", br#"[["TEE-100",1]"#),
        ("not UTF-8", b"[[\"TEE-\xff\",1]]"),
        ("101 lines", many.as_bytes()),
        ("empty input", b""),
        ("null", b"null"),
    ];
    for &(what, json) in cases {
        assert!(
            Cart::from_compact_json(json, &limits()).is_err(),
            "{what}: {}",
            String::from_utf8_lossy(json)
        );
    }
    assert_eq!(
        Cart::from_compact_json(many.as_bytes(), &limits()),
        Err(CartError::TooManyLines { max: 100 })
    );
}

#[test]
fn compact_json_refuses_a_duplicate_property_key() {
    // The later value would silently win, and the cart would not serialize
    // back to the bytes it came from.
    let json = br#"[["TEE-100",1,{"size":"M","size":"L"}]]"#;
    assert!(Cart::from_compact_json(json, &limits()).is_err());
}

#[test]
fn an_empty_properties_object_reads_as_no_properties() {
    // The writer never emits `{}`, but the reader treats it as none: the
    // line key is the same either way, so no duplicate line can sneak in.
    let cart = Cart::from_compact_json(br#"[["TEE-100",1,{}]]"#, &limits()).unwrap();
    assert_eq!(cart.lines()[0].key(), "TEE-100");
    assert!(Cart::from_compact_json(br#"[["TEE-100",1,{}],["TEE-100",1]]"#, &limits()).is_err());
}

// ---------------------------------------------------------------------------
// Properties of random operation sequences
// ---------------------------------------------------------------------------

/// Small limits, so that random sequences hit them often.
fn tight() -> Limits {
    Limits {
        max_lines: 6,
        max_quantity: 20,
        max_properties: 2,
        ..Limits::default()
    }
}

const SKUS: [&str; 8] = [
    "A",
    "B",
    "C",
    "D",
    "SKU-10234-BLK",
    "SKU-10271-WHT",
    "x.y_z",
    "Q",
];
const SIZES: [&str; 3] = ["S", "M", "L"];

#[derive(Debug, Clone)]
enum Op {
    Add {
        sku: usize,
        qty: i64,
        size: Option<usize>,
    },
    Set {
        line: usize,
        qty: i64,
    },
    Remove {
        line: usize,
    },
    Clear,
    Merge(Vec<(usize, i64, Option<usize>)>),
}

fn op() -> impl Strategy<Value = Op> {
    let raw_line = (
        0..SKUS.len(),
        1i64..=25,
        proptest::option::of(0..SIZES.len()),
    );
    prop_oneof![
        4 => (0..SKUS.len(), -3i64..=25, proptest::option::of(0..SIZES.len()))
            .prop_map(|(sku, qty, size)| Op::Add { sku, qty, size }),
        3 => (0usize..8, -3i64..=25).prop_map(|(line, qty)| Op::Set { line, qty }),
        2 => (0usize..8).prop_map(|line| Op::Remove { line }),
        1 => Just(Op::Clear),
        2 => proptest::collection::vec(raw_line, 0..8).prop_map(Op::Merge),
    ]
}

/// A line as the HTTP layer would build it: parsed at the edge, so that a
/// bad quantity is refused before the cart sees it.
fn parsed_line(sku: usize, qty: i64, size: Option<usize>, limits: &Limits) -> Option<Line> {
    let mut map = BTreeMap::new();
    if let Some(size) = size {
        map.insert("size".to_owned(), SIZES[size].to_owned());
    }
    Some(Line::new(
        Sku::parse(SKUS[sku], limits).ok()?,
        Quantity::parse(qty, limits).ok()?,
        Properties::parse(map, limits).ok()?,
    ))
}

fn check_invariants(cart: &Cart, limits: &Limits) -> Result<(), TestCaseError> {
    prop_assert!(cart.lines().len() <= limits.max_lines);
    let mut keys = std::collections::HashSet::new();
    for l in cart.lines() {
        prop_assert!((1..=limits.max_quantity).contains(&l.quantity().get()));
        prop_assert!(keys.insert(l.key()), "duplicate key {}", l.key());
    }
    let sum: u64 = cart
        .lines()
        .iter()
        .map(|l| u64::from(l.quantity().get()))
        .sum();
    prop_assert_eq!(cart.item_count(), sum);
    let json = cart.to_compact_json();
    prop_assert_eq!(
        &Cart::from_compact_json(&json, limits).expect("its own JSON parses"),
        cart
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_sequence_of_operations_breaks_a_limit(ops in proptest::collection::vec(op(), 0..40)) {
        let limits = tight();
        let mut cart = Cart::new();
        for op in ops {
            let before = cart.clone();
            let key_at = |i: usize| before.lines().get(i).map(|l| l.key().to_string()).unwrap_or_else(|| "missing".into());
            let result = match &op {
                Op::Add { sku, qty, size } => match parsed_line(*sku, *qty, *size, &limits) {
                    Some(line) => cart.add(line, &limits).map(|_| ()),
                    None => Ok(()),
                },
                Op::Set { line, qty } => cart.set_quantity(&key_at(*line), *qty, &limits),
                Op::Remove { line } => cart.remove(&key_at(*line)),
                Op::Clear => {
                    cart.clear();
                    Ok(())
                }
                Op::Merge(lines) => {
                    let mut other = Cart::new();
                    let roomy = Limits { max_lines: 100, ..limits.clone() };
                    for (sku, qty, size) in lines {
                        if let Some(line) = parsed_line(*sku, *qty, *size, &limits) {
                            // The other cart may itself be full or capped.
                            let _ = other.add(line, &roomy);
                        }
                    }
                    cart.merge(&other, &limits)
                }
            };
            if result.is_err() {
                prop_assert_eq!(&cart, &before, "a refused {:?} changed the cart", op);
            }
            check_invariants(&cart, &limits)?;
        }
    }

    #[test]
    fn compact_json_round_trips_any_valid_cart(
        lines in proptest::collection::vec(
            (
                "[A-Za-z0-9._-]{1,64}",
                1i64..=999,
                proptest::collection::btree_map("[A-Za-z0-9_-]{1,32}", "\\PC{0,40}", 0..=5),
            ),
            0..30,
        )
    ) {
        let limits = limits();
        let mut cart = Cart::new();
        for (sku, qty, map) in lines {
            // Some generated text holds separators the limits refuse.
            let Ok(properties) = Properties::parse(map, &limits) else {
                continue;
            };
            let line = Line::new(
                Sku::parse(&sku, &limits).unwrap(),
                Quantity::parse(qty, &limits).unwrap(),
                properties,
            );
            let _ = cart.add(line, &limits);
        }
        let json = cart.to_compact_json();
        let back = Cart::from_compact_json(&json, &limits).unwrap();
        prop_assert_eq!(&back, &cart);
        prop_assert_eq!(&Cart::from_any_json(&json, &limits).unwrap(), &cart);
        prop_assert_eq!(back.to_compact_json(), json);
    }

    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Cart::from_compact_json(&bytes, &limits());
    }

    #[test]
    fn parsing_arbitrary_line_shaped_json_never_panics_and_keeps_the_limits(
        raw in proptest::collection::vec(
            ("\\PC{0,70}", any::<i64>(), proptest::collection::btree_map("\\PC{0,34}", "\\PC{0,10}", 0..7)),
            0..12,
        )
    ) {
        let json = serde_json::to_vec(&raw.iter().map(|(s, q, p)| serde_json::json!([s, q, p])).collect::<Vec<_>>()).unwrap();
        let limits = tight();
        let parsed = Cart::from_compact_json(&json, &limits);
        prop_assert_eq!(&parsed, &Cart::from_any_json(&json, &limits));
        if let Ok(cart) = parsed {
            check_invariants(&cart, &limits)?;
        }
    }
}

/// The direct scan of the canonical spelling and serde_json give the same
/// cart or the same refusal, for every spelling the scan hands back to
/// serde_json and every one it reads itself.
#[test]
fn the_scan_and_serde_json_agree_on_every_spelling() {
    let limits = limits();
    let cases: &[&str] = &[
        // Read by the scan.
        "[]",
        r#"[["A-1",2]]"#,
        r#"[["A-1",2,{}]]"#,
        r#"[["A-1",2,{"size":"M"}],["B",1]]"#,
        r#"[["A-1",2,{"size":"M","b":"x"}]]"#,
        r#"[["A-1",0]]"#,
        r#"[["A-1",2],["A-1",3]]"#,
        r#"[["A-1",2,{"size":"M","size":"XL"}]]"#,
        r#"[["bad sku",2]]"#,
        r#"[["A-1",4294967295]]"#,
        // Handed back to serde_json.
        r#" [["A-1",2]]"#,
        r#"[["A-1", 2]]"#,
        r#"[["A-1",2]]"#,
        r#"[["A-1",2,{"size":"Mé"}]]"#,
        r#"[["A-1",02]]"#,
        r#"[["A-1",-2]]"#,
        r#"[["A-1",2.0]]"#,
        r#"[["A-1",2e0]]"#,
        r#"[["A-1",4294967296]]"#,
        r#"[["A-1",99999999999]]"#,
        r#"[["A-1",2,null]]"#,
        r#"[["A-1",2,{},1]]"#,
        r#"[["A-1"]]"#,
        r#"[["A-1",2]]x"#,
        r#"[["A-1",2],]"#,
        "[[\"A-1\",2,{\"k\":\"a\tb\"}]]",
        "[[\"A-1\",2,{\"k\":\"a\u{7f}b\"}]]",
        "",
    ];
    for case in cases {
        assert_eq!(
            Cart::from_compact_json(case.as_bytes(), &limits),
            Cart::from_any_json(case.as_bytes(), &limits),
            "{case}"
        );
    }
    let invalid_utf8 = b"[[\"A-1\",2,{\"k\":\"\xff\"}]]";
    assert_eq!(
        Cart::from_compact_json(invalid_utf8, &limits),
        Cart::from_any_json(invalid_utf8, &limits)
    );
}

// ---------------------------------------------------------------------------
// Line keys are short: equal keys are compared by what they stand for
// ---------------------------------------------------------------------------

/// Two engravings whose line keys collide: the top 48 bits of FNV-1a 64 of
/// `engraving\0<value>\0` are `e9129fb8598c` for both (found by a birthday
/// search over 2^26 values).
fn colliding_lines() -> (Line, Line) {
    let l = limits();
    let engraved = |text: &str| {
        Line::parse(
            "RING-1",
            1,
            BTreeMap::from([("engraving".to_owned(), text.to_owned())]),
            &l,
        )
        .unwrap()
    };
    (engraved("12719616 for you"), engraved("15326802 for you"))
}

#[test]
fn the_colliding_fixture_really_collides() {
    let (a, b) = colliding_lines();
    assert_ne!(a.properties(), b.properties());
    assert_eq!(a.key(), b.key());
    assert_eq!(a.key(), "RING-1~e9129fb8598c");
}

#[test]
fn an_add_whose_key_collides_with_another_line_is_refused_not_merged() {
    let (a, b) = colliding_lines();
    let mut cart = Cart::new();
    cart.add(a.clone(), &limits()).unwrap();
    let before = cart.clone();
    assert_eq!(
        cart.add(b, &limits()),
        Err(CartError::KeyCollision(LineKey::from(&a)))
    );
    assert_eq!(
        cart, before,
        "the first line keeps its properties and quantity"
    );
    // The same line again still raises its quantity.
    cart.add(a.clone(), &limits()).unwrap();
    assert_eq!(cart.lines()[0].quantity().get(), 2);
}

#[test]
fn a_merge_whose_key_collides_is_refused_whole() {
    let (a, b) = colliding_lines();
    let mut mine = Cart::new();
    mine.add(a, &limits()).unwrap();
    let mut other = Cart::new();
    other.add(line("MUG-104", 1), &limits()).unwrap();
    other.add(b, &limits()).unwrap();
    let before = mine.clone();
    assert!(matches!(
        mine.merge(&other, &limits()),
        Err(CartError::KeyCollision(_))
    ));
    assert_eq!(mine, before, "all or nothing");
}

// ---------------------------------------------------------------------------
// Property text: NFC, and nothing that displays otherwise than it reads
// ---------------------------------------------------------------------------

fn engraving(text: &str) -> Result<Properties, CartError> {
    Properties::parse(
        BTreeMap::from([("engraving".to_owned(), text.to_owned())]),
        &limits(),
    )
}

#[test]
fn format_characters_and_line_separators_are_refused_in_property_values() {
    let cases = [
        ("right-to-left override", "abc\u{202E}fed"),
        ("left-to-right isolate", "a\u{2066}b\u{2069}"),
        ("zero-width space", "for\u{200B}you"),
        ("zero-width joiner", "a\u{200D}b"),
        ("byte order mark", "\u{FEFF}hello"),
        ("soft hyphen", "co\u{00AD}op"),
        ("line separator", "one\u{2028}two"),
        ("paragraph separator", "one\u{2029}two"),
        ("a control character", "tab\there"),
        ("a C1 control", "x\u{0085}y"),
    ];
    for (what, text) in cases {
        assert!(
            matches!(engraving(text), Err(CartError::Invalid(_))),
            "{what}: {text:?} was accepted"
        );
    }
    for fine in ["Für Anna ❤", "שלום", "日本語", "émoji 👍🏽", "a b\u{00A0}c"] {
        assert!(engraving(fine).is_ok(), "{fine:?} was refused");
    }
}

#[test]
fn property_values_are_kept_in_nfc_so_equal_text_is_one_line() {
    let composed = "Caf\u{00E9}";
    let decomposed = "Cafe\u{0301}";
    let a = engraving(composed).unwrap();
    let b = engraving(decomposed).unwrap();
    assert_eq!(a, b, "one line, whichever form was typed");
    assert_eq!(b.iter().next().unwrap().1, composed);
    let mut cart = Cart::new();
    for text in [composed, decomposed] {
        let line = Line::parse(
            "MUG-104",
            1,
            BTreeMap::from([("engraving".to_owned(), text.to_owned())]),
            &limits(),
        )
        .unwrap();
        cart.add(line, &limits()).unwrap();
    }
    assert_eq!(cart.lines().len(), 1);
    assert_eq!(cart.lines()[0].quantity().get(), 2);
}
