//! Where a run's results go: its marked section of docs/benchmarks.md, its
//! raw JSON, and the header every section starts with.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::report::Machine;

/// The marker of the comparison's section; the other runs write
/// `http-bench-<kind>` sections of their own.
pub const MAIN_MARKER: &str = "http-bench";

/// Replaces the text between `<!-- {marker}:start -->` and
/// `<!-- {marker}:end -->`, or appends a marked section, or creates the
/// file.
pub fn write_section(path: &Path, marker: &str, section: &str) -> std::io::Result<()> {
    let start = format!("<!-- {marker}:start -->");
    let end = format!("<!-- {marker}:end -->");
    let block = format!("{start}\n{section}\n{end}");
    let text = match std::fs::read_to_string(path) {
        Ok(old) => match (old.find(&start), old.find(&end)) {
            (Some(a), Some(b)) if b > a => {
                format!("{}{}{}", &old[..a], block, &old[b + end.len()..])
            }
            _ => format!("{}\n\n{}\n", old.trim_end(), block),
        },
        Err(_) => format!("# Benchmarks\n\n{block}\n"),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)
}

/// The raw JSON of a run other than the comparison: beside the
/// comparison's, named after the run (`http-soak.json`).
pub fn json_path(main_json: &Path, kind: &str) -> PathBuf {
    main_json.with_file_name(format!("http-{kind}.json"))
}

/// Writes the section and the JSON, prints the section, and returns the
/// exit code (1 if either could not be written).
pub fn publish(
    out: &Path,
    marker: &str,
    section: &str,
    json_path: &Path,
    raw: &impl Serialize,
    crate_root: &Path,
) -> i32 {
    let rel = |p: &Path| {
        p.strip_prefix(crate_root)
            .unwrap_or(p)
            .display()
            .to_string()
    };
    println!("\n{section}");
    let mut code = 0;
    if let Err(e) = write_section(out, marker, section) {
        eprintln!("http bench: cannot write {}: {e}", out.display());
        code = 1;
    }
    match serde_json::to_string_pretty(raw) {
        Ok(json) => {
            if let Some(dir) = json_path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            if let Err(e) = std::fs::write(json_path, json + "\n") {
                eprintln!("http bench: cannot write {}: {e}", json_path.display());
                code = 1;
            }
        }
        Err(e) => {
            eprintln!("http bench: cannot serialize results: {e}");
            code = 1;
        }
    }
    println!("wrote {} and {}", rel(out), rel(json_path));
    code
}

/// The lines every run's section starts with: when, the command, the
/// machine, and the pinning.
pub fn header(
    md: &mut String,
    title: &str,
    date: &str,
    command: &str,
    machine: &Machine,
    pinning: &[String],
) {
    let _ = writeln!(md, "## {title}\n");
    let _ = writeln!(
        md,
        "Measured {date} with `loadgen/`, which starts every process itself:\n\n```sh\ncargo build --release --workspace\n{command}\n```\n",
    );
    let _ = writeln!(
        md,
        "**Machine:** {} CPUs (`nproc`), {}, Linux {}{}. A shared, noisy VM: compare within one run, not across runs.\n",
        machine.nproc,
        machine.cpu_model,
        machine.kernel,
        machine
            .rustc
            .as_deref()
            .map(|v| format!(", {v}"))
            .unwrap_or_default()
    );
    for p in pinning {
        let _ = writeln!(md, "- {p}");
    }
    if !pinning.is_empty() {
        let _ = writeln!(md);
    }
}
