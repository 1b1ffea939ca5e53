//! Reloading when the files change (`reload.watch`): config.toml, every key
//! file it names and the catalog file.
//!
//! A change is applied exactly as SIGHUP applies it ([`Reloader`]): all or
//! nothing, a refused change keeps the running keyring, and the log line and
//! `cartseal_reloads_total` say which.
//!
//! The folders holding the files are watched, not the files themselves: an
//! editor that saves by renaming, and the kubelet, which updates a mounted
//! Secret or ConfigMap by swapping the `..data` symlink of the folder and
//! sends no signal, both replace a file rather than write into it, and a
//! watch on the old file would see nothing. Symlinks are resolved again
//! after every change, and their targets' folders watched too.
//!
//! Events are debounced: a change is read once the files have been quiet
//! for [`QUIET`], so that a file being written is not read half-way. What is
//! then read is compared with what was last read (a hash of each file's
//! bytes and mode, kept in memory only), so that an event that changed
//! nothing (another file of the folder, a `touch`) reloads nothing, and a
//! refused change is not retried until a file changes again. Every
//! [`RECHECK`] the files are compared even without an event, in case one
//! was missed (a network filesystem, a folder replaced whole).
//!
//! docs/key-rotation.md, "Kubernetes", gives the operator's view.

use std::collections::BTreeSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use notify_debouncer_mini::notify::{RecursiveMode, Watcher};
use notify_debouncer_mini::{DebounceEventResult, DebouncedEventKind, new_debouncer};

use super::reload::{Reloader, Trigger};
use crate::config::Settings;

/// How long the files must be quiet before a change is read.
pub const QUIET: Duration = Duration::from_millis(500);

/// How often the files are compared without an event.
pub const RECHECK: Duration = Duration::from_secs(2);

/// Starts watching the files of `reloader`'s config on a thread of its own,
/// for the life of the process. Fails only when the watcher cannot be made.
pub fn spawn(reloader: Reloader) -> std::io::Result<()> {
    let Some(config) = reloader.config_path().map(Path::to_path_buf) else {
        return Ok(());
    };
    let (tx, rx) = mpsc::channel();
    let mut debouncer = new_debouncer(QUIET, tx).map_err(std::io::Error::other)?;
    // The watches and the first reading of the files are taken here, before
    // the service says it listens: a change made as soon as it does (a
    // script, a test) is then a change, not the baseline.
    let files = watched_files(&config, Vec::new());
    let mut folders = BTreeSet::new();
    sync_watches(debouncer.watcher(), &mut folders, &files);
    let seen = fingerprint(&files);
    log::info!(
        "watching {} for changes (reload.watch)",
        files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let watching = Watching {
        files,
        folders,
        seen,
    };
    std::thread::Builder::new()
        .name("config-watch".into())
        .spawn(move || watch(debouncer, rx, &config, &reloader, watching))?;
    Ok(())
}

/// What the watcher has read so far.
struct Watching {
    files: Vec<PathBuf>,
    folders: BTreeSet<PathBuf>,
    seen: u64,
}

fn watch<W: Watcher>(
    mut debouncer: notify_debouncer_mini::Debouncer<W>,
    events: mpsc::Receiver<DebounceEventResult>,
    config: &Path,
    reloader: &Reloader,
    watching: Watching,
) {
    let Watching {
        mut files,
        mut folders,
        mut seen,
    } = watching;
    let mut checked = Instant::now();
    loop {
        let due = checked.elapsed() >= RECHECK;
        let quiet = match events.recv_timeout(RECHECK.saturating_sub(checked.elapsed())) {
            // A file still being written (AnyContinuous) waits for its quiet;
            // a busy neighbour in the folder (a log file) must not hold off
            // the periodic check either.
            Ok(Ok(batch)) => batch.iter().any(|e| e.kind == DebouncedEventKind::Any),
            Ok(Err(e)) => {
                log::warn!("watching the config files: {e}");
                false
            }
            Err(RecvTimeoutError::Timeout) => true,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if !quiet && !due {
            continue;
        }
        checked = Instant::now();
        // The config as it now stands names the files the reload will read.
        files = watched_files(config, files);
        sync_watches(debouncer.watcher(), &mut folders, &files);
        let now = fingerprint(&files);
        if now == seen {
            continue;
        }
        // Read again after a quiet spell: a change found by the periodic
        // check, or a writer that paused longer than the debounce, may be
        // half-way through a file. A file still changing waits for the next
        // round (its own event, or the next check).
        std::thread::sleep(QUIET);
        if fingerprint(&files) != now {
            continue;
        }
        seen = now;
        // The outcome is logged and counted by the reloader.
        let _ = reloader.reload_for(Trigger::FileChange);
    }
}

/// config.toml, the key files and the catalog file it names, as paths
/// (symlinks not resolved). When the config does not load (half-written, or
/// invalid), the files of the last config that did are kept.
fn watched_files(config: &Path, last: Vec<PathBuf>) -> Vec<PathBuf> {
    let Ok(settings) = Settings::load(config) else {
        return if last.is_empty() {
            vec![config.to_path_buf()]
        } else {
            last
        };
    };
    let mut files = vec![config.to_path_buf()];
    files.extend(
        settings
            .keys
            .iter()
            .map(|k| settings.base_dir.join(&k.file)),
    );
    if !settings.catalog.file.trim().is_empty() {
        files.push(settings.base_dir.join(&settings.catalog.file));
    }
    files
}

/// The folders to watch for `files`: each file's folder as written, and the
/// folder it resolves to through symlinks (file or folder), when it exists.
fn folders_of(files: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut folders = BTreeSet::new();
    for file in files {
        let parent = match file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if let Ok(real) = parent.canonicalize() {
            folders.insert(real);
        }
        if let Some(real) = file
            .canonicalize()
            .ok()
            .and_then(|f| f.parent().map(Path::to_path_buf))
        {
            folders.insert(real);
        }
    }
    folders
}

/// Watches the folders `files` need and unwatches those they no longer do
/// (the old target of a swapped `..data` link).
fn sync_watches(watcher: &mut dyn Watcher, watched: &mut BTreeSet<PathBuf>, files: &[PathBuf]) {
    let wanted = folders_of(files);
    for gone in watched.difference(&wanted) {
        let _ = watcher.unwatch(gone);
    }
    watched.retain(|f| wanted.contains(f));
    for folder in wanted {
        if watched.contains(&folder) {
            continue;
        }
        match watcher.watch(&folder, RecursiveMode::NonRecursive) {
            Ok(()) => {
                watched.insert(folder);
            }
            Err(e) => log::warn!("cannot watch {}: {e}", folder.display()),
        }
    }
}

/// A hash of each file's path, mode and bytes (or of its read error), read
/// through symlinks. Kept in memory only; it tells whether anything changed.
fn fingerprint(files: &[PathBuf]) -> u64 {
    let mut hasher = DefaultHasher::new();
    for file in files {
        file.hash(&mut hasher);
        match std::fs::metadata(file) {
            Ok(meta) => {
                #[cfg(unix)]
                std::os::unix::fs::PermissionsExt::mode(&meta.permissions()).hash(&mut hasher);
                #[cfg(not(unix))]
                meta.permissions().readonly().hash(&mut hasher);
            }
            Err(e) => e.kind().hash(&mut hasher),
        }
        // Key files hold secrets: their bytes are wiped once hashed.
        match std::fs::read(file).map(zeroize::Zeroizing::new) {
            Ok(bytes) => bytes.hash(&mut hasher),
            Err(e) => e.kind().hash(&mut hasher),
        }
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_changes_with_the_bytes_and_the_mode_and_not_otherwise() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let file = dir.path().join("k.paserk");
        std::fs::write(&file, "one").unwrap();
        let files = vec![file.clone()];
        let first = fingerprint(&files);
        assert_eq!(first, fingerprint(&files));
        std::fs::write(&file, "two").unwrap();
        let second = fingerprint(&files);
        assert_ne!(first, second);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
            let private = fingerprint(&files);
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert_ne!(private, fingerprint(&files));
        }
        std::fs::remove_file(&file).unwrap();
        assert_ne!(second, fingerprint(&files));
    }

    #[cfg(unix)]
    #[test]
    fn the_folders_of_a_swapped_data_link_are_the_mount_and_its_target() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mount = dir.path();
        let first = mount.join("..2026_12_01");
        std::fs::create_dir(&first).unwrap();
        std::fs::write(first.join("k.paserk"), "x").unwrap();
        std::os::unix::fs::symlink("..2026_12_01", mount.join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/k.paserk", mount.join("k.paserk")).unwrap();
        let folders = folders_of(&[mount.join("k.paserk")]);
        let real = |p: &Path| p.canonicalize().unwrap();
        assert_eq!(
            folders,
            BTreeSet::from([real(mount), real(&first)]),
            "the mount, and the folder the link resolves to"
        );
    }
}
