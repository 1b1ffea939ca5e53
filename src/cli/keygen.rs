//! `cartseal keygen`: a key file (mode 0600) and the `[[keys]]` entry that
//! names it, printed so that it pastes into config.toml as is: every field,
//! and a `file` that resolves from the config file's folder, which is where
//! the service reads relative paths from.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{CliError, io_error, make_key};

/// What `cartseal keygen` takes.
#[derive(Debug, Clone)]
pub struct KeygenArgs {
    /// `local` or `signing`.
    pub purpose: String,
    /// The key's id in config.toml.
    pub id: String,
    /// The folder to write the key file into; by default `keys/` beside
    /// the config file.
    pub dir: Option<PathBuf>,
    /// For a signing key: `EdDSA` or `HS256`.
    pub alg: String,
    /// The config file the entry is for: `file` is written relative to its
    /// folder.
    pub config: PathBuf,
    /// Print the entry as `active` (the first key of a purpose) rather than
    /// `pending` (every later one).
    pub active: bool,
}

/// Writes the key file and prints its entry.
pub fn run(args: &KeygenArgs) -> Result<(), CliError> {
    let (paserk, kid) = make_key(&args.purpose, &args.id, &args.alg)?;
    let base = config_folder(&args.config);
    let dir = args.dir.clone().unwrap_or_else(|| base.join("keys"));
    std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
    let path = dir.join(format!("{}.paserk", args.id));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(io_error(&path))?;
    file.write_all(paserk.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .map_err(io_error(&path))?;
    let state = if args.active { "active" } else { "pending" };
    if args.active {
        println!(
            "# Append to {}: your first {} key, active at once; in the same edit set the key it replaces to \"retired\" (docs/key-rotation.md).",
            args.config.display(),
            args.purpose
        );
    } else {
        println!(
            "# Append to {}; start it as \"pending\" on every replica first (docs/key-rotation.md).",
            args.config.display()
        );
    }
    println!("[[keys]]");
    println!("id = \"{}\"", args.id);
    println!("purpose = \"{}\"", args.purpose);
    println!("file = \"{}\"", relative_to(&path, &base).display());
    println!("state = \"{state}\"");
    println!("kid = \"{kid}\"");
    Ok(())
}

/// The folder of `config`, where the service resolves relative paths.
fn config_folder(config: &Path) -> PathBuf {
    match config.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `path` as the service will find it from `base`: relative when it lies
/// under `base`, else absolute.
fn relative_to(path: &Path, base: &Path) -> PathBuf {
    let (Ok(path), Ok(base)) = (path.canonicalize(), base.canonicalize()) else {
        return path.to_path_buf();
    };
    path.strip_prefix(&base)
        .map(Path::to_path_buf)
        .unwrap_or(path)
}
