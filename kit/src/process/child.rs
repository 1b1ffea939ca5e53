//! A child process that cannot outlive its owner.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// The process groups of every live guard, for [`ChildGuard::kill_all`].
static LIVE: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// How much output a guard keeps: the last of it, so that a chatty child
/// (a server logging every request under load) cannot fill the memory.
const KEEP: usize = 64 << 20;

/// Called with every line a child prints, on stdout or stderr.
type OnLine = Arc<dyn Fn(&str) + Send + Sync>;

/// A child process in a process group of its own, SIGKILLed with its group
/// when the guard drops (also when a test panics). Everything it prints on
/// stdout and stderr is kept (and copied to a log file when asked), and the
/// end of it is printed if the owner panics.
pub struct ChildGuard {
    name: String,
    child: Child,
    output: Arc<Mutex<String>>,
}

impl ChildGuard {
    /// Starts `cmd`; fails loudly if it cannot start.
    pub fn spawn(name: &str, cmd: Command) -> Self {
        Self::start(name, cmd, None, |_| {}).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts `cmd`, its output also appended to `log` when given;
    /// `on_line` sees every line it prints (to spot readiness).
    pub fn start(
        name: &str,
        mut cmd: Command,
        log: Option<&Path>,
        on_line: impl Fn(&str) + Send + Sync + 'static,
    ) -> Result<Self, String> {
        let log = match log {
            Some(path) => {
                if let Some(dir) = path.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                let file = File::create(path)
                    .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
                Some(Arc::new(Mutex::new(file)))
            }
            None => None,
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name} ({cmd:?}): {e}"))?;
        lock(&LIVE).push(child.id());
        let output = Arc::new(Mutex::new(String::new()));
        let on_line: OnLine = Arc::new(on_line);
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        collect_lines(stdout, "stdout", &output, &log, &on_line);
        collect_lines(stderr, "stderr", &output, &log, &on_line);
        Ok(Self {
            name: name.to_owned(),
            child,
            output,
        })
    }

    /// Starts `cmd` and waits, up to `patience`, for a line from which
    /// `read` takes a value (an address, a port).
    pub fn start_and_read<T: Send + 'static>(
        name: &str,
        cmd: Command,
        log: Option<&Path>,
        patience: Duration,
        read: impl Fn(&str) -> Option<T> + Send + Sync + 'static,
    ) -> Result<(Self, T), String> {
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(Some(tx));
        let mut proc = Self::start(name, cmd, log, move |line| {
            if let Some(value) = read(line)
                && let Some(tx) = lock(&tx).take()
            {
                let _ = tx.send(value);
            }
        })?;
        let deadline = Instant::now() + patience;
        loop {
            if let Ok(value) = rx.recv_timeout(Duration::from_millis(20)) {
                return Ok((proc, value));
            }
            proc.check_alive(deadline, "printed what it was waited for")?;
        }
    }

    /// Polls `ready` until it holds, up to `patience`; an error (with the
    /// output) if the process exits first or the time runs out.
    pub fn wait_until(
        &mut self,
        patience: Duration,
        what: &str,
        mut ready: impl FnMut() -> bool,
    ) -> Result<(), String> {
        let deadline = Instant::now() + patience;
        loop {
            if ready() {
                return Ok(());
            }
            self.check_alive(deadline, what)?;
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn check_alive(&mut self, deadline: Instant, what: &str) -> Result<(), String> {
        if let Some(status) = self.exited() {
            // Let the collectors take the last lines.
            std::thread::sleep(Duration::from_millis(100));
            return Err(format!(
                "{} exited ({status}) before it {what}; output:\n{}",
                self.name,
                self.output()
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{} had not {what} in time; output:\n{}",
                self.name,
                self.output()
            ));
        }
        Ok(())
    }

    /// The process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the process printed so far (stdout and stderr).
    pub fn output(&self) -> String {
        lock(&self.output).clone()
    }

    /// The last `n` lines it printed.
    pub fn tail(&self, n: usize) -> String {
        let output = self.output();
        let lines: Vec<&str> = output.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Its exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits for the process to exit, up to `patience` (a hang guard).
    pub fn wait_exit(&mut self, patience: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + patience;
        loop {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends a signal (`"STOP"`, `"CONT"`, `"HUP"`, `"TERM"`, `"KILL"`) to
    /// the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("kill(1) runs");
        assert!(
            status.success(),
            "kill -{signal} {} ({})",
            self.pid(),
            self.name
        );
    }

    /// SIGKILL to the whole process group, then reap the child. SIGKILL
    /// also ends a stopped process.
    pub fn kill(&mut self) {
        if self.exited().is_none() {
            kill_group(self.pid());
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        let pid = self.pid();
        lock(&LIVE).retain(|p| *p != pid);
    }

    /// SIGKILLs the process group of every live guard: for a signal handler
    /// or a panic hook that ends the process without dropping them.
    pub fn kill_all() {
        let pids: Vec<u32> = lock(&LIVE).drain(..).collect();
        for pid in pids {
            kill_group(pid);
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let out = self.output();
            let mut start = out.len().saturating_sub(4000);
            while !out.is_char_boundary(start) {
                start += 1;
            }
            eprintln!(
                "----- output of {} (last 4000 bytes) -----\n{}\n-----",
                self.name,
                &out[start..]
            );
        }
    }
}

fn kill_group(pid: u32) {
    let _ = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{pid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A lock that a panicking holder does not poison for the others.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reads a stream to its end on a thread of its own, so that a full pipe
/// never blocks the child.
fn collect_lines(
    stream: impl Read + Send + 'static,
    tag: &'static str,
    sink: &Arc<Mutex<String>>,
    log: &Option<Arc<Mutex<File>>>,
    on_line: &OnLine,
) {
    let (sink, log, on_line) = (sink.clone(), log.clone(), on_line.clone());
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            on_line(&line);
            if let Some(log) = &log {
                let _ = writeln!(lock(log), "[{tag}] {line}");
            }
            let mut sink = lock(&sink);
            if sink.len() > KEEP {
                let mut cut = sink.len() - KEEP / 2;
                while !sink.is_char_boundary(cut) {
                    cut += 1;
                }
                sink.drain(..cut);
            }
            sink.push_str(&line);
            sink.push('\n');
        }
    });
}
