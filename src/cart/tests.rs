use super::*;

fn limits() -> Limits {
    Limits::default()
}

fn line(sku: &str, qty: i64) -> Line {
    let l = limits();
    Line::new(
        Sku::parse(sku, &l).unwrap(),
        Quantity::parse(qty, &l).unwrap(),
        Properties::default(),
    )
}

#[test]
fn adding_the_same_line_twice_raises_its_quantity() {
    let mut cart = Cart::new();
    cart.add(line("TEE-100", 2), &limits()).unwrap();
    cart.add(line("TEE-100", 3), &limits()).unwrap();
    assert_eq!(cart.lines().len(), 1);
    assert_eq!(cart.lines()[0].quantity().get(), 5);
}

#[test]
fn compact_json_round_trips() {
    let mut cart = Cart::new();
    cart.add(line("TEE-100", 2), &limits()).unwrap();
    let json = cart.to_compact_json();
    assert_eq!(json, br#"[["TEE-100",2]]"#);
    assert_eq!(Cart::from_compact_json(&json, &limits()).unwrap(), cart);
}
