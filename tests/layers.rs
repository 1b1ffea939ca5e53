//! The layer rule, checked: each module of the library uses only the modules
//! listed before it in the crate doc's `# Layout` (src/lib.rs), the layers
//! docs/architecture.md, "The layers", draws. A back-edge (say `keys` using
//! `store`) fails here instead of waiting for a review.
//!
//! The test reads every file under src/ and every `crate::` path in its code
//! (comments are skipped, `use crate::{a, b::C}` groups are opened). Unit
//! tests (`tests.rs`, files under a `tests/` directory, and a file's own
//! `#[cfg(test)] mod tests`, last in it) may reach higher: a test of the
//! token cache drives it through the token store.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The modules in the order the crate doc lists them.
fn layout(src: &Path) -> Vec<String> {
    let lib = fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs");
    let section = lib
        .split("//! # Layout")
        .nth(1)
        .expect("src/lib.rs has a `# Layout` section");
    let mut order = Vec::new();
    for line in section.lines().take_while(|l| !l.starts_with("//! # ")) {
        let Some(bullet) = line.strip_prefix("//! - ") else {
            continue;
        };
        // The modules a bullet names come before its first `: `.
        let head = bullet.split(": ").next().unwrap_or_default();
        for word in head.split('`').skip(1).step_by(2) {
            let is_module = !word.is_empty()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                && (src.join(format!("{word}.rs")).is_file() || src.join(word).is_dir());
            if is_module && !order.contains(&word.to_owned()) {
                order.push(word.to_owned());
            }
        }
    }
    order
}

/// Every `.rs` file under `dir`.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("a readable src/") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules that the code of `text` names through `crate::`.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        // `cartseal::crate::` cannot occur; skip identifiers ending in "crate".
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::{C, D}}`: the first name of each top-level item.
            let mut depth = 0;
            let mut item_start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && !c.is_whitespace() => {
                        found.insert(ident(&group[j..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(ident(rest));
        }
    }
    found.retain(|m| !m.is_empty());
    found
}

/// The module a file belongs to, and whether it is a unit test's file.
fn owner(src: &Path, file: &Path) -> (String, bool) {
    let relative = file.strip_prefix(src).expect("under src/");
    let parts: Vec<_> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let module = parts[0].trim_end_matches(".rs").to_owned();
    let is_test = parts
        .iter()
        .enumerate()
        .any(|(i, p)| p == "tests.rs" || (p == "tests" && i + 1 < parts.len()));
    (module, is_test)
}

/// Where a file's own unit tests begin: the module closes the file.
const INLINE_TESTS: &str = "#[cfg(test)]\nmod tests {";

/// The edges that break the rule, as `from -> to (file)`.
fn back_edges(src: &Path, order: &[String]) -> Vec<String> {
    let rank = |m: &str| order.iter().position(|o| o == m);
    let mut all = Vec::new();
    files(src, &mut all);
    all.sort();
    let mut broken = Vec::new();
    for file in all {
        let (module, is_test) = owner(src, &file);
        if module == "lib" || module == "main" || is_test {
            continue;
        }
        let from = rank(&module)
            .unwrap_or_else(|| panic!("src/lib.rs, `# Layout`, does not list `{module}`"));
        let text = fs::read_to_string(&file).expect("a readable source file");
        let code = text.split(INLINE_TESTS).next().unwrap_or_default();
        for to in crate_paths(code) {
            match rank(&to) {
                Some(r) if r >= from && to != module => broken.push(format!(
                    "{module} -> {to} ({})",
                    file.strip_prefix(src).unwrap().display()
                )),
                _ => {}
            }
        }
    }
    broken
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn the_layout_lists_every_module() {
    let src = src();
    let order = layout(&src);
    let mut modules: Vec<String> = fs::read_dir(&src)
        .expect("src/")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.is_dir() || p.extension().is_some_and(|e| e == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|m| m != "lib" && m != "main")
        .collect();
    modules.sort();
    let mut listed = order.clone();
    listed.sort();
    assert_eq!(
        listed, modules,
        "src/lib.rs, `# Layout`, in order: {order:?}"
    );
}

#[test]
fn no_module_uses_one_listed_after_it() {
    let src = src();
    let order = layout(&src);
    let broken = back_edges(&src, &order);
    assert!(
        broken.is_empty(),
        "each module uses only those listed before it in src/lib.rs, `# Layout` \
         (order {order:?}); these break it:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_reader_sees_plain_and_grouped_paths_but_not_comments() {
    let text = "use crate::cart::Cart;\n\
                use crate::{keys::KeyState, store::{CartStore, Session}};\n\
                // crate::http in a comment\n\
                /// [`crate::fuzzing`] in a doc\n\
                fn f() { crate::ids::random(); }\n";
    let found: Vec<_> = crate_paths(text).into_iter().collect();
    assert_eq!(found, ["cart", "ids", "keys", "store"]);
}

#[test]
fn limits_has_one_import_path() {
    // `Limits` is imported as `cart::Limits` everywhere (src/cart/mod.rs
    // re-exports it); a second path would let the two drift apart in review.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = Vec::new();
    for dir in ["src", "tests", "benches", "examples", "fuzz/fuzz_targets"] {
        if root.join(dir).is_dir() {
            files(&root.join(dir), &mut all);
        }
    }
    let needle = ["limits::", "Limits"].concat();
    let other: Vec<_> = all
        .iter()
        .filter(|f| !f.ends_with("src/cart/mod.rs"))
        .filter(|f| fs::read_to_string(f).is_ok_and(|t| t.contains(&needle)))
        .map(|f| f.strip_prefix(root).unwrap().display().to_string())
        .collect();
    assert!(
        other.is_empty(),
        "import `cart::Limits` instead in {other:?}"
    );
}
