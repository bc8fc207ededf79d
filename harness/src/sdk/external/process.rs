//! One adapter process and its three pipes, with a wall-clock limit on every read.
//!
//! The pipes are served by plain threads, so nothing here depends on tokio's process or I/O
//! drivers, and no read can block the harness:
//! - a **stdout** thread splits lines (at most [`LINE_BYTES_MAX`] bytes; a longer line is
//!   reported, skipped to its end, never buffered whole) and hands them to an async channel
//!   the harness awaits under [`tokio::time::timeout`];
//! - a **stderr** thread keeps the last [`STDERR_LINES`] lines, so a chatty adapter never
//!   blocks on a full pipe and every error can show what it said;
//! - a **stdin** thread writes requests, so an adapter that stops reading cannot wedge the
//!   harness on a full pipe either.
//!
//! The process runs in its own process group and the whole group is killed when the
//! [`Process`] is dropped (an `sh -c` adapter's children included), whatever the adapter
//! itself did first (exited, crashed, was reaped): no zombies, no orphans. An adapter that
//! dies while its children hold stdout open reads as EOF (a crash), not as a hang.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use tokio::sync::mpsc as async_mpsc;

use super::command::AdapterCommand;
use super::protocol::{LINE_BYTES_MAX, quote};

/// How many stderr lines an error shows.
pub const STDERR_LINES: usize = 40;
/// How often a read waiting for a line checks whether the adapter is still alive.
const EXIT_POLL: Duration = Duration::from_millis(50);
/// Longest stderr line kept (longer ones are cut): logging is for people.
const STDERR_LINE_CHARS: usize = 1_000;

/// One line from the adapter's stdout.
#[derive(Debug)]
pub enum Line {
    Text(String),
    /// A line over the limit: its first characters and its length in bytes so far.
    TooLong {
        head: String,
        bytes: usize,
    },
    /// Not UTF-8.
    Binary {
        head: String,
    },
    /// stdout closed (the process exited, or closed it).
    Eof,
}

/// Why a read got no line.
#[derive(Debug)]
pub enum ReadError {
    /// Nothing within the limit.
    Timeout,
}

/// A running adapter process.
pub struct Process {
    child: Child,
    stdin: Option<mpsc::Sender<Vec<u8>>>,
    lines: async_mpsc::UnboundedReceiver<Line>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    stderr_done: Arc<AtomicBool>,
    reaped: Option<ExitStatus>,
}

impl Process {
    /// Starts `command`. `Err` says why the program could not be started.
    pub fn spawn(command: &AdapterCommand) -> Result<Process, String> {
        let mut cmd = Command::new(&command.program);
        cmd.args(&command.args)
            .current_dir(&command.cwd)
            .envs(command.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt as _;
            cmd.process_group(0);
        }
        let mut child = cmd.spawn().map_err(|e| {
            format!("could not start `{}` in {}: {e}", command.display(), command.cwd.display())
        })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr_pipe = child.stderr.take().expect("stderr is piped");
        let stdin_pipe = child.stdin.take().expect("stdin is piped");

        let (line_tx, lines) = async_mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("adapter-stdout".into())
            .spawn(move || read_lines(stdout, line_tx))
            .map_err(|e| format!("could not start the stdout reader: {e}"))?;

        let stderr = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_LINES)));
        let stderr_done = Arc::new(AtomicBool::new(false));
        {
            let (stderr, done) = (stderr.clone(), stderr_done.clone());
            std::thread::Builder::new()
                .name("adapter-stderr".into())
                .spawn(move || {
                    keep_tail(stderr_pipe, &stderr);
                    done.store(true, Ordering::SeqCst);
                })
                .map_err(|e| format!("could not start the stderr reader: {e}"))?;
        }

        let (stdin_tx, stdin_rx) = mpsc::channel::<Vec<u8>>();
        std::thread::Builder::new()
            .name("adapter-stdin".into())
            .spawn(move || write_lines(stdin_pipe, stdin_rx))
            .map_err(|e| format!("could not start the stdin writer: {e}"))?;

        Ok(Process { child, stdin: Some(stdin_tx), lines, stderr, stderr_done, reaped: None })
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Queues one line for the adapter's stdin. A closed pipe shows up as EOF on stdout.
    pub fn send(&mut self, line: String) {
        let mut bytes = line.into_bytes();
        bytes.push(b'\n');
        if let Some(tx) = &self.stdin
            && tx.send(bytes).is_err()
        {
            self.stdin = None;
        }
    }

    /// The next stdout line, waiting at most `limit` of wall time.
    ///
    /// An adapter that is gone while something it started still holds stdout open gives
    /// [`Line::Eof`] (a crash), not a timeout (a hang): the wait looks at the process every
    /// [`EXIT_POLL`].
    pub async fn read(&mut self, limit: Duration) -> Result<Line, ReadError> {
        let mut waited = Duration::ZERO;
        loop {
            let slice = EXIT_POLL.min(limit.saturating_sub(waited));
            match tokio::time::timeout(slice, self.lines.recv()).await {
                Ok(None) => return Ok(Line::Eof),
                Ok(Some(line)) => return Ok(line),
                Err(_) => waited += slice,
            }
            if self.try_reap().is_some() {
                // Lines it wrote just before exiting may still be in the pipe: a short grace
                // for the reader thread, then EOF whatever its children do.
                return Ok(match tokio::time::timeout(EXIT_POLL, self.lines.recv()).await {
                    Ok(Some(line)) => line,
                    Ok(None) | Err(_) => Line::Eof,
                });
            }
            if waited >= limit {
                return Err(ReadError::Timeout);
            }
        }
    }

    /// Waits up to `limit` for the process to exit on its own.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let step = Duration::from_millis(10);
        let mut waited = Duration::ZERO;
        loop {
            if let Some(status) = self.try_reap() {
                return Some(status);
            }
            if waited >= limit {
                return None;
            }
            tokio::time::sleep(step).await;
            waited += step;
        }
    }

    fn try_reap(&mut self) -> Option<ExitStatus> {
        if self.reaped.is_none() {
            self.reaped = self.child.try_wait().ok().flatten();
        }
        self.reaped
    }

    /// Closes stdin (an adapter may take EOF as the end).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Kills the process group and reaps the process. Idempotent.
    ///
    /// The group is killed even when the adapter itself has already exited or been reaped:
    /// its children (an `sh -c` adapter's, a double fork's, a `nohup`'s) stay in its group
    /// and would otherwise outlive the harness. A child that calls `setsid` leaves the group
    /// and is out of reach (docs/adapter-protocol.md). The group id stays reserved while any
    /// member lives, so the kill cannot reach an unrelated process group.
    pub fn kill(&mut self) {
        #[cfg(unix)]
        {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg("--")
                .arg(format!("-{}", self.child.id()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        if self.try_reap().is_some() {
            return;
        }
        // The direct kill is what guarantees the reap (the group kill is best effort).
        let _ = self.child.kill();
        self.reaped = self.child.wait().ok();
    }

    /// How the process ended, once it has: `exit status 3`, `killed by signal 9`, or
    /// `still running`.
    pub fn status_text(&mut self) -> String {
        match self.try_reap() {
            None => "still running".to_string(),
            Some(status) => describe(status),
        }
    }

    /// The last stderr lines, after giving the reader up to `settle` to drain what a dying
    /// process wrote last.
    pub async fn stderr_tail(&self, settle: Duration) -> String {
        let step = Duration::from_millis(10);
        let mut waited = Duration::ZERO;
        while !self.stderr_done.load(Ordering::SeqCst) && waited < settle {
            tokio::time::sleep(step).await;
            waited += step;
        }
        self.stderr_now()
    }

    /// Forgets the stderr lines kept so far (a warm process starting its next launch).
    pub fn clear_stderr(&self) {
        self.stderr.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// The last stderr lines as they are now.
    pub fn stderr_now(&self) -> String {
        let tail = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        if tail.is_empty() {
            "stderr: (nothing)".to_string()
        } else {
            let lines: Vec<&str> = tail.iter().map(String::as_str).collect();
            format!("last {} stderr lines:\n    {}", lines.len(), lines.join("\n    "))
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stdin = None;
        self.kill();
    }
}

fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    status.to_string()
}

/// Splits stdout into lines of at most [`LINE_BYTES_MAX`] bytes.
fn read_lines(stdout: impl Read, tx: async_mpsc::UnboundedSender<Line>) {
    let mut reader = BufReader::with_capacity(64 * 1024, stdout);
    let mut line: Vec<u8> = Vec::new();
    let mut overflow: Option<(String, usize)> = None;
    loop {
        let chunk = match reader.fill_buf() {
            Ok([]) | Err(_) => break,
            Ok(chunk) => chunk,
        };
        let (take, ended) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        match &mut overflow {
            Some((_, bytes)) => *bytes += take,
            None if line.len() + take > LINE_BYTES_MAX => {
                line.extend_from_slice(&chunk[..take]);
                let head: String = String::from_utf8_lossy(&line).chars().take(200).collect();
                overflow = Some((head, line.len()));
                line = Vec::new();
            }
            None => line.extend_from_slice(&chunk[..take]),
        }
        reader.consume(take + usize::from(ended));
        if ended {
            let out = match overflow.take() {
                Some((head, bytes)) => Line::TooLong { head, bytes },
                None => {
                    let bytes = std::mem::take(&mut line);
                    let bytes = bytes.strip_suffix(b"\r").map(<[u8]>::to_vec).unwrap_or(bytes);
                    match String::from_utf8(bytes) {
                        Ok(text) => Line::Text(text),
                        Err(e) => Line::Binary {
                            head: String::from_utf8_lossy(e.as_bytes()).chars().take(200).collect(),
                        },
                    }
                }
            };
            if tx.send(out).is_err() {
                return;
            }
        }
    }
    // A last line without its newline still counts: report it, then the end.
    if let Some((head, bytes)) = overflow {
        let _ = tx.send(Line::TooLong { head, bytes });
    } else if !line.is_empty() {
        let _ = tx.send(Line::Text(String::from_utf8_lossy(&line).into_owned()));
    }
    let _ = tx.send(Line::Eof);
}

/// Keeps the last [`STDERR_LINES`] lines of stderr.
fn keep_tail(stderr: impl Read, tail: &Mutex<VecDeque<String>>) {
    let mut reader = BufReader::new(stderr);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        // A line without newline for ever would grow `buf` without bound: read in bounded
        // pieces and treat each piece as a line.
        let mut limited = (&mut reader).take(STDERR_LINE_CHARS as u64 * 4);
        match limited.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&buf);
        let text: String = text.trim_end().chars().take(STDERR_LINE_CHARS).collect();
        let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
        if tail.len() == STDERR_LINES {
            tail.pop_front();
        }
        tail.push_back(text);
    }
}

/// Writes queued lines to stdin until the queue or the pipe closes.
fn write_lines(mut stdin: ChildStdin, rx: mpsc::Receiver<Vec<u8>>) {
    while let Ok(bytes) = rx.recv() {
        if stdin.write_all(&bytes).and_then(|()| stdin.flush()).is_err() {
            return;
        }
    }
}

/// A line as an error message shows it.
pub fn show(line: &Line) -> String {
    match line {
        Line::Text(text) => quote(text),
        Line::TooLong { head, bytes } => {
            format!("a line over {LINE_BYTES_MAX} bytes ({bytes}+ bytes) starting {}", quote(head))
        }
        Line::Binary { head } => format!("a line that is not UTF-8: {}", quote(head)),
        Line::Eof => "end of output".to_string(),
    }
}
