//! `--levels`: the deflate level, measured for size and time on realistic
//! carts. For each level 0 to 9 and carts of 1, 20 and 100 lines it prints
//! the raw deflate's size and the time to deflate and to inflate it, in µs:
//! medians of rounds in which every level and size runs in turn, so that a
//! change in the machine's load touches them all alike.

use std::hint::black_box;
use std::time::Instant;

use cartseal::cart::Limits;
use cartseal::token::{deflate, inflate_capped};

use super::cart;

const ROUNDS: usize = 200;
const BATCH: usize = 20;
const SIZES: [usize; 3] = [1, 20, 100];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time(mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..BATCH {
        f();
    }
    t.elapsed().as_secs_f64() * 1e6 / BATCH as f64
}

pub fn run() {
    let limits = Limits::default();
    let jsons: Vec<Vec<u8>> = SIZES.iter().map(|&n| cart(n).to_compact_json()).collect();
    let levels: Vec<u32> = (0..=9).collect();
    // [level][size] -> samples
    let mut deflate_us = vec![vec![Vec::new(); SIZES.len()]; levels.len()];
    let mut inflate_us = vec![vec![Vec::new(); SIZES.len()]; levels.len()];
    let packed: Vec<Vec<Vec<u8>>> = levels
        .iter()
        .map(|&l| jsons.iter().map(|j| deflate(j, l)).collect())
        .collect();
    for _ in 0..ROUNDS {
        for (li, &level) in levels.iter().enumerate() {
            for (si, json) in jsons.iter().enumerate() {
                deflate_us[li][si].push(time(|| {
                    black_box(deflate(black_box(json), level));
                }));
                let input = &packed[li][si];
                inflate_us[li][si].push(time(|| {
                    black_box(inflate_capped(black_box(input), &limits).expect("inflates"));
                }));
            }
        }
    }
    let json_sizes: Vec<String> = jsons.iter().map(|j| j.len().to_string()).collect();
    println!(
        "raw deflate of the compact cart ({} bytes of JSON for {} lines), medians of {ROUNDS} interleaved rounds",
        json_sizes.join(" / "),
        SIZES.map(|n| n.to_string()).join(" / ")
    );
    println!(
        "| level | bytes (1 / 20 / 100 lines) | deflate µs (1 / 20 / 100) | inflate µs (1 / 20 / 100) |"
    );
    println!("|---:|---|---|---|");
    for (li, level) in levels.iter().enumerate() {
        let cells =
            |f: &dyn Fn(usize) -> String| (0..SIZES.len()).map(f).collect::<Vec<_>>().join(" / ");
        println!(
            "| {level} | {} | {} | {} |",
            cells(&|si| packed[li][si].len().to_string()),
            cells(&|si| format!("{:.2}", median(deflate_us[li][si].clone()))),
            cells(&|si| format!("{:.2}", median(inflate_us[li][si].clone()))),
        );
    }
}
