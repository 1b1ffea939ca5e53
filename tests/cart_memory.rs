//! `Cart::approx_bytes` against what the allocator really gives a parsed
//! cart: the verified-token cache bounds its memory with it
//! (`cache.max_bytes`), so it must not undercount, nor overcount so much
//! that the cache holds far fewer carts than it may.
//!
//! A binary of its own, because it counts every allocation through its
//! own global allocator (per thread, so the test harness's threads do not
//! disturb it).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use cartseal::cart::{Cart, Limits};

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn add(bytes: isize) {
    // `try_with`: an allocation while the thread tears down is not counted.
    let _ = LIVE.try_with(|live| live.set(live.get() + bytes));
}

// SAFETY: every call goes to `System` with the caller's own arguments; the
// counting touches a const-initialised thread-local, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.with(Cell::get)
}

/// A cart of `lines` lines as the benchmarks make them: a realistic sku and
/// two short properties a line, in the compact JSON a token carries.
fn compact_json(lines: usize, properties: usize) -> Vec<u8> {
    let lines: Vec<serde_json::Value> = (0..lines)
        .map(|i| {
            let props: serde_json::Map<String, serde_json::Value> = (0..properties)
                .map(|p| (format!("opt{p}"), format!("value-{i}-{p}").into()))
                .collect();
            if props.is_empty() {
                serde_json::json!([format!("SKU-{i:06}"), 1 + i % 9])
            } else {
                serde_json::json!([format!("SKU-{i:06}"), 1 + i % 9, props])
            }
        })
        .collect();
    serde_json::to_vec(&lines).unwrap()
}

#[test]
fn approx_bytes_covers_what_a_parsed_cart_holds_within_twice() {
    let limits = Limits::default();
    let most = limits.max_properties;
    // The parser keeps one scratch string per thread for a line's text
    // (src/cart/line.rs): grown once here, it is not any cart's memory.
    drop(Cart::from_compact_json(&compact_json(20, most), &limits));
    for (lines, properties) in [(1, 0), (1, 2), (20, 0), (20, 2), (100, 2), (20, most)] {
        let json = compact_json(lines, properties);
        let before = live();
        let cart = Cart::from_compact_json(&json, &limits).expect("a valid cart");
        let held = (live() - before) as usize;
        let estimate = cart.approx_bytes();
        assert!(
            estimate >= held && estimate <= 2 * held,
            "{lines} lines of {properties} properties hold {held} bytes; the estimate is {estimate}"
        );
        if (lines, properties) == (20, 2) {
            // A line is one allocation (docs/architecture.md, "The cart in
            // memory"): a 20-line cart held 13.7 KB when each line had a
            // B-tree map and a string per part.
            println!("a 20-line cart of 2 properties a line holds {held} bytes");
            assert!(held <= 3_000, "a 20-line cart holds {held} bytes");
        }
        drop(cart);
    }
}
