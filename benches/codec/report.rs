//! What the codec bench prints after criterion: token lengths, the
//! interleaved pass, and the targets.

use super::*;

/// Token lengths per format and cart size, and the parts of a 20-line token
/// of each format (docs/token-format.md quotes them).
pub(super) fn print_lengths(setup: &Setup) {
    println!("\ntoken length in characters (budget 3800; targets: paseto 20 lines <= 1100):");
    println!("{:<10} {:>6} {:>6} {:>6}", "format", "1", "20", "100");
    for name in FORMATS {
        let lengths: Vec<usize> = SIZES.iter().map(|&n| setup.seal(name, n).len()).collect();
        println!(
            "{name:<10} {:>6} {:>6} {:>6}",
            lengths[0], lengths[1], lengths[2]
        );
    }

    let token = setup.seal("paseto", 20);
    let key = SymmetricKey::<V4>::try_from(setup.local_paserk.as_str()).expect("a key");
    let untrusted = UntrustedToken::<Local, V4>::try_from(token.as_str()).expect("a token");
    let implicit = format!("cartseal:v1:{}", setup.codec("paseto").config().audience);
    let claims = LocalToken::decrypt(&key, &untrusted, None, Some(implicit.as_bytes()))
        .expect("decrypts")
        .payload()
        .to_owned();
    let rest = token.strip_prefix("v4.local.").expect("header");
    let (body, footer) = rest.split_once('.').expect("footer");
    let parsed: Value = serde_json::from_str(&claims).expect("JSON");
    let cz = parsed.get("cz").and_then(Value::as_str).unwrap_or_default();
    let deflated = URL_SAFE_NO_PAD.decode(cz).map_or(0, |d| d.len());
    println!("\n20-line paseto token: {} characters", token.len());
    println!("  header v4.local.          9");
    println!(
        "  body (base64url)      {:>5}   32 nonce + {} payload + 32 tag bytes",
        body.len(),
        claims.len()
    );
    println!(
        "  . and footer          {:>5}   footer of {} bytes",
        footer.len() + 1,
        untrusted.untrusted_footer().len()
    );
    println!(
        "  payload                {:>4}   cz {} characters: {} bytes of compact JSON deflated to {deflated}",
        claims.len(),
        cz.len(),
        cart(20).to_compact_json().len()
    );

    for name in ["jwt-eddsa", "jwt-hs256"] {
        let token = setup.seal(name, 20);
        let segments: Vec<&str> = token.split('.').collect();
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segments[1]).expect("b64"))
                .expect("JSON");
        let ct = claims["ct"].as_str().unwrap_or_default();
        println!(
            "20-line {name} token: {} characters = header {} + 1 + claims {} (ct {}) + 1 + signature {}",
            token.len(),
            segments[0].len(),
            segments[1].len(),
            ct.len(),
            segments[2].len()
        );
    }
}

// ---------------------------------------------------------------------------
// The interleaved pass and the summary
// ---------------------------------------------------------------------------

/// Runs the workloads in turn, a batch of about 200 µs each per round, for
/// `rounds` rounds; returns the median time per iteration of each, in ns.
pub(super) fn interleaved(workloads: &mut [Workload<'_>], rounds: usize) -> Vec<f64> {
    // Calibrate a batch size per workload, after a warm-up.
    let batches: Vec<u32> = workloads
        .iter_mut()
        .map(|(_, f)| {
            for _ in 0..20 {
                f();
            }
            let started = Instant::now();
            for _ in 0..20 {
                f();
            }
            let per = started.elapsed().as_nanos() as f64 / 20.0;
            (200_000.0 / per).clamp(1.0, 10_000.0) as u32
        })
        .collect();
    let mut samples = vec![Vec::with_capacity(rounds); workloads.len()];
    for _ in 0..rounds {
        for (i, (_, f)) in workloads.iter_mut().enumerate() {
            let started = Instant::now();
            for _ in 0..batches[i] {
                f();
            }
            samples[i].push(started.elapsed().as_nanos() as f64 / f64::from(batches[i]));
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        })
        .collect()
}

pub(super) fn micros(ns: f64) -> String {
    format!("{:.1} µs", ns / 1000.0)
}

pub(super) fn summary(setup: &Setup) {
    let mut workloads: Vec<Workload<'_>> = codec_workloads(setup)
        .into_iter()
        .filter(|(name, _)| name.ends_with("/20"))
        .collect();
    workloads.extend(primitive_workloads(setup));
    workloads.extend(redis_workload(setup));
    let rounds = 1000;
    let started = Instant::now();
    let medians = interleaved(&mut workloads, rounds);
    let m = |name: &str| {
        workloads
            .iter()
            .position(|(n, _)| n == name)
            .map(|i| medians[i])
    };
    println!(
        "\ninterleaved pass: {} workloads x {rounds} rounds in {:.1} s; medians per iteration:",
        workloads.len(),
        started.elapsed().as_secs_f64()
    );
    for (i, (name, _)) in workloads.iter().enumerate() {
        println!("  {name:<34} {:>10}", micros(medians[i]));
    }

    let redis = m("redis/get_set");
    println!(
        "\n20 lines     seal+open   primitives   glue (target <= 1.3)   / redis GET+SET{}",
        redis.map_or(" (no Redis)".into(), |r| format!(" {}", micros(r)))
    );
    for name in FORMATS {
        let both = m(&format!("seal/{name}/20")).unwrap_or(f64::NAN)
            + m(&format!("open/{name}/20")).unwrap_or(f64::NAN);
        let prims: f64 = parts_of(name)
            .iter()
            .filter_map(|p| m(&format!("primitive/{p}")))
            .sum();
        println!(
            "{name:<10} {:>11} {:>12} {:>14.2} {:>22}",
            micros(both),
            micros(prims),
            both / prims,
            redis.map_or("-".into(), |r| format!("{:.2}", both / r)),
        );
    }
    let paseto = m("seal/paseto/20").unwrap_or(f64::NAN) + m("open/paseto/20").unwrap_or(f64::NAN);
    let prims: f64 = parts_of("paseto")
        .iter()
        .filter_map(|p| m(&format!("primitive/{p}")))
        .sum();
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!("\ntargets:");
    println!(
        "  paseto glue: seal+open / primitives = {:.2} (<= 1.3: {})",
        paseto / prims,
        verdict(paseto / prims <= 1.3)
    );
    // The codec's own targets, beside what pasetors and flate2 alone take
    // for the same token: the rest is what cartseal adds.
    for (op, parts) in [
        ("seal", ["v4_local_encrypt", "deflate_level1"]),
        ("open", ["v4_local_decrypt", "inflate_level1"]),
    ] {
        let total = m(&format!("{op}/paseto/20")).unwrap_or(f64::NAN);
        let floor: f64 = parts
            .iter()
            .filter_map(|p| m(&format!("primitive/{p}")))
            .sum();
        println!(
            "  paseto {op} 20 lines: {} (<= 12 µs: {}); {} alone: {}, so cartseal adds {}",
            micros(total),
            verdict(total <= 12_000.0),
            parts.join(" + "),
            micros(floor),
            micros(total - floor),
        );
    }
    match redis {
        Some(r) => println!(
            "  paseto seal+open / redis GET+SET = {:.2} (<= 0.5: {})",
            paseto / r,
            verdict(paseto / r <= 0.5)
        ),
        None => println!("  paseto seal+open / redis GET+SET: no Redis, not measured"),
    }
    let (t20, t100) = (
        setup.seal("paseto", 20).len(),
        setup.seal("paseto", 100).len(),
    );
    println!(
        "  paseto 20 lines: {t20} characters (<= 1100: {})",
        verdict(t20 <= 1100)
    );
    println!(
        "  paseto 100 lines: {t100} characters (<= 3800: {})",
        verdict(t100 <= 3800)
    );
}
