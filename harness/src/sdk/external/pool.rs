//! Warm adapter processes between launches: the hand-over that makes a launch of a version 2
//! adapter (docs/adapter-protocol.md §1) cost a `start`, not a process start.
//!
//! A version 2 adapter hosts launch after launch: at `kill` (or when a run lets go of its
//! SDK) the harness sends `end`, and the process, still warm (the Node runtime up, the SDK's
//! bundle compiled), waits here for the next `cold_start` of the same command, in any run on
//! any thread. What a launch does never depends on which process hosts it: the adapter
//! guarantees a fresh launch (§1), and everything the harness numbers (runs, request ids,
//! calls) belongs to the run, not to the process. So the trace of a seed is the same whatever
//! the pool holds (`harness/tests/adapter_clerk_js.rs` runs one seed at pool sizes 0 and 4).
//!
//! Every process here has been sent `end` and its reply is still to be read (or had its
//! `start` refused with `unsupported`, which began no launch, and was sent nothing): whoever
//! takes it reads that reply first, within the shutdown timeout, and kills a process that
//! does not answer `{"id": …, "ok": true}` (it then starts a new one: a bad hand-over costs
//! time, never a wrong result). At most [`AdapterCommand::pool`] processes of one command wait; a
//! process that finds the pool full is shut down. Idle processes hold no timers and no
//! sockets; they end with the harness, when their stdin closes (§2: an adapter exits at the
//! end of its input).

use std::sync::{Mutex, MutexGuard};

use super::command::AdapterCommand;
use super::process::Process;
use super::protocol::Hello;

/// One warm adapter process, its launch ended.
pub struct Idle {
    pub process: Process,
    pub hello: Hello,
    /// The hello line as the adapter wrote it.
    pub hello_line: String,
    /// The id of the `end` request whose reply is still in the pipe; `None` when the launch
    /// never began (its `start` was refused with `unsupported`), so nothing was sent.
    pub end_id: Option<u64>,
    /// The next request id of this process (ids count on across launches).
    pub next_id: u64,
}

/// What identifies a command's processes: what starts them, not how a run labels them.
#[derive(Clone, PartialEq, Eq)]
struct Key {
    program: String,
    args: Vec<String>,
    cwd: std::path::PathBuf,
    env: Vec<(String, String)>,
}

impl Key {
    fn of(command: &AdapterCommand) -> Key {
        Key {
            program: command.program.clone(),
            args: command.args.clone(),
            cwd: command.cwd.clone(),
            env: command.env.clone(),
        }
    }
}

static IDLE: Mutex<Vec<(Key, Idle)>> = Mutex::new(Vec::new());

fn idle() -> MutexGuard<'static, Vec<(Key, Idle)>> {
    // A panic elsewhere while holding the lock leaves the list itself intact.
    IDLE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A warm process of `command`, if one waits (the most recently returned first: its pages
/// are the warmest).
pub fn take(command: &AdapterCommand) -> Option<Idle> {
    if command.pool == 0 {
        return None;
    }
    let key = Key::of(command);
    let mut idle = idle();
    let at = idle.iter().rposition(|(k, _)| *k == key)?;
    Some(idle.remove(at).1)
}

/// Keeps `process` for a later launch; gives it back when the pool of its command is full
/// (the caller shuts it down).
pub fn give(command: &AdapterCommand, process: Idle) -> Option<Idle> {
    let key = Key::of(command);
    let mut idle = idle();
    if idle.iter().filter(|(k, _)| *k == key).count() >= command.pool {
        return Some(process);
    }
    idle.push((key, process));
    None
}
