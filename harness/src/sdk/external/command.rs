//! How to start an adapter process: [`AdapterCommand`] (program, arguments, folder,
//! environment, the label traces record) and its [`Timeouts`].
//!
//! Two kinds of adapter (docs/adapter-protocol.md §1): the real `@clerk/clerk-js` under Node
//! ([`AdapterCommand::clerk_js`]) and any program a team writes (`cmd:COMMAND`,
//! [`AdapterCommand::cmd`]). Paths are never absolute constants: the repository root is
//! passed in, and [`repo_root`] finds it from the crate's manifest for tests and xtask.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The clerk-js version pinned in `adapters/clerk-js/package.json`.
pub const PINNED_CLERK_JS_VERSION: &str = "6.40.0";

/// The environment variable that overrides the step timeout, in wall milliseconds.
pub const TIMEOUT_ENV: &str = "SESSION_HARNESS_ADAPTER_TIMEOUT_MS";

/// The environment variable that overrides the hello timeout, in wall milliseconds.
pub const HELLO_TIMEOUT_ENV: &str = "SESSION_HARNESS_ADAPTER_HELLO_TIMEOUT_MS";

/// The environment variable that sets how many warm processes of one version 2 adapter wait
/// between launches ([`AdapterCommand::pool`]; 0: a new process for every launch).
pub const POOL_ENV: &str = "SESSION_HARNESS_ADAPTER_POOL";

/// Warm processes of one command kept by default: one per gate worker (`--jobs` is at most 4).
pub const POOL_DEFAULT: usize = 4;

/// The most warm processes of one command [`POOL_ENV`] may ask for.
pub const POOL_MAX: usize = 64;

/// The environment variable naming the folder whose `node_modules` holds the clerk-js to run.
pub const CLERK_JS_DIR_ENV: &str = "SESSION_HARNESS_CLERK_JS_DIR";

/// Wall-clock limits on an adapter: every read from it has one (§8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// From spawn to the hello line (Node loading clerk-js takes a while on a cold disk).
    pub hello: Duration,
    /// From a `start` or `step` request to its reply.
    pub step: Duration,
    /// From `shutdown` to the process's exit; then it is killed.
    pub shutdown: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            hello: Duration::from_secs(60),
            step: Duration::from_secs(10),
            shutdown: Duration::from_secs(2),
        }
    }
}

impl Timeouts {
    /// The defaults, with the step timeout from [`TIMEOUT_ENV`] and the hello timeout from
    /// [`HELLO_TIMEOUT_ENV`] when set to a whole number of milliseconds (anything else is
    /// ignored rather than guessed at).
    pub fn from_env() -> Timeouts {
        let mut timeouts = Timeouts::default();
        let ms = |name: &str| std::env::var(name).ok().and_then(|t| t.trim().parse().ok());
        if let Some(ms) = ms(TIMEOUT_ENV) {
            timeouts.step = Duration::from_millis(ms);
        }
        if let Some(ms) = ms(HELLO_TIMEOUT_ENV) {
            timeouts.hello = Duration::from_millis(ms);
        }
        timeouts
    }
}

/// One way to start an adapter process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterCommand {
    pub program: String,
    pub args: Vec<String>,
    /// The folder the process starts in.
    pub cwd: PathBuf,
    /// Added to the harness's own environment.
    pub env: Vec<(String, String)>,
    /// What traces, snapshots and errors call the SDK: `clerk-js@6.40.0`, `cmd:…`.
    pub label: String,
    pub timeouts: Timeouts,
    /// How many warm processes of this command may wait between launches (version 2
    /// adapters only, `pool.rs`); 0 starts a new process for every launch.
    pub pool: usize,
}

/// [`POOL_ENV`] when set to a whole number up to [`POOL_MAX`], else [`POOL_DEFAULT`]
/// (anything else is ignored rather than guessed at, as the timeouts are).
pub fn pool_from_env() -> usize {
    std::env::var(POOL_ENV)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .filter(|n| *n <= POOL_MAX)
        .unwrap_or(POOL_DEFAULT)
}

impl AdapterCommand {
    /// The real clerk-js: `node --conditions=react-native <repo>/adapters/clerk-js/driver.mjs`,
    /// with [`CLERK_JS_DIR_ENV`] = `clerk_js_dir` (the folder whose `node_modules` holds
    /// `@clerk/clerk-js` at `version`).
    pub fn clerk_js(repo: &Path, clerk_js_dir: &Path, version: &str) -> AdapterCommand {
        let driver = repo.join("adapters").join("clerk-js").join("driver.mjs");
        AdapterCommand {
            program: "node".to_string(),
            args: vec!["--conditions=react-native".to_string(), driver.display().to_string()],
            cwd: repo.to_path_buf(),
            env: vec![(CLERK_JS_DIR_ENV.to_string(), clerk_js_dir.display().to_string())],
            label: format!("clerk-js@{version}"),
            timeouts: Timeouts::from_env(),
            pool: pool_from_env(),
        }
    }

    /// The pinned clerk-js, installed in `<repo>/adapters/clerk-js` by `npm ci`.
    pub fn clerk_js_pinned(repo: &Path) -> AdapterCommand {
        AdapterCommand::clerk_js(
            repo,
            &repo.join("adapters").join("clerk-js"),
            PINNED_CLERK_JS_VERSION,
        )
    }

    /// Any adapter: `sh -c COMMAND` in the repository root, labelled `cmd:COMMAND`.
    pub fn cmd(repo: &Path, command: &str) -> AdapterCommand {
        AdapterCommand {
            program: "sh".to_string(),
            args: vec!["-c".to_string(), command.to_string()],
            cwd: repo.to_path_buf(),
            env: Vec::new(),
            label: format!("cmd:{command}"),
            timeouts: Timeouts::from_env(),
            pool: pool_from_env(),
        }
    }

    /// The same command with other timeouts (tests make them short).
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> AdapterCommand {
        self.timeouts = timeouts;
        self
    }

    /// The same command with at most `pool` warm processes between launches (0: none).
    pub fn with_pool(mut self, pool: usize) -> AdapterCommand {
        self.pool = pool;
        self
    }

    /// The command line, for error messages.
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The repository root as this crate was built from it (`harness/..`). For tests and xtask;
/// a caller running elsewhere passes its own root to the constructors.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_name_the_sdk_and_find_the_driver_under_the_root() {
        let root = Path::new("repo");
        let clerk = AdapterCommand::clerk_js_pinned(root);
        assert_eq!(clerk.label, "clerk-js@6.40.0");
        assert_eq!(clerk.program, "node");
        assert!(clerk.args[1].ends_with("driver.mjs"), "{:?}", clerk.args);
        assert_eq!(clerk.env[0].0, CLERK_JS_DIR_ENV);
        let cmd = AdapterCommand::cmd(root, "./my-adapter --fast");
        assert_eq!(cmd.label, "cmd:./my-adapter --fast");
        assert_eq!(cmd.display(), "sh -c ./my-adapter --fast");
        assert!(repo_root().join("harness").join("Cargo.toml").exists());
    }
}
