//! Helpers for the dev-server tests: start a server, call its admin API, and drive the real
//! `@clerk/clerk-js` through `adapters/clerk-js/dev-client.mjs` as a bounded child process
//! (installed with `npm ci` on first use, killed on drop, every wait with a deadline).

#![allow(dead_code)]
#![allow(
    clippy::disallowed_methods,
    reason = "deadlines on child processes are wall-clock by nature: they bound real waits"
)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use session_harness::model::server::{TEST_USER_IDENTIFIER, TEST_USER_PASSWORD};
use session_harness::serve::{Banner, ServeConfig, Served, start};

/// Longest `npm ci` may take on a cold cache before the test fails instead of hanging.
pub const NPM_CI_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest any single wait for the Node client may take.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime always builds")
}

/// A dev server on a free loopback port.
pub fn serve(rt: &tokio::runtime::Runtime, config: ServeConfig) -> Served {
    rt.block_on(start(ServeConfig { port: 0, ..config })).expect("the dev server starts")
}

/// One admin call: status and JSON body.
pub fn admin(
    rt: &tokio::runtime::Runtime,
    served: &Served,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, Value) {
    let url = format!("{}{path}", served.banner().admin_url);
    rt.block_on(async {
        let mut request = reqwest::Client::new()
            .request(reqwest::Method::from_bytes(method.as_bytes()).expect("a valid method"), url)
            .timeout(Duration::from_secs(10));
        if method != "GET" {
            // The admin API refuses anything but JSON from scripts (issue 19).
            request = request.header("content-type", "application/json");
        }
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let response = request.send().await.expect("the admin API answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("a body");
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("admin answer is not JSON ({e}): {text}"));
        (status, json)
    })
}

/// A device over plain HTTP, as Expo sends it: a client, then a password sign-in. Returns
/// the new session's id and the device's client token.
pub fn sign_in(rt: &tokio::runtime::Runtime, served: &Served) -> (String, String) {
    rt.block_on(async {
        let http = reqwest::Client::new();
        let base = &served.banner().proxy_url;
        let client = http
            .get(format!("{base}/v1/client?_is_native=1"))
            .header("authorization", "")
            .send()
            .await
            .unwrap();
        let token = client.headers()["authorization"].to_str().unwrap().to_string();
        let body = format!(
            "identifier={}&password={}&strategy=password",
            TEST_USER_IDENTIFIER.replace('@', "%40"),
            TEST_USER_PASSWORD
        );
        let response = http
            .post(format!("{base}/v1/client/sign_ins?_is_native=1"))
            .header("authorization", &token)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let token = response.headers()["authorization"].to_str().unwrap().to_string();
        let json: Value = response.json().await.unwrap();
        (json["response"]["created_session_id"].as_str().unwrap().to_string(), token)
    })
}

/// The emulator's request log, through the admin API.
pub fn log(rt: &tokio::runtime::Runtime, served: &Served) -> Vec<Value> {
    let (status, body) = admin(rt, served, "GET", "/log", None);
    assert_eq!(status, 200, "{body}");
    body["entries"].as_array().expect("entries").clone()
}

pub fn adapter_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../adapters/clerk-js")
}

/// Makes sure `adapters/clerk-js/node_modules` holds the pinned clerk-js, running `npm ci`
/// once per test process if not (bounded by [`NPM_CI_TIMEOUT`]).
pub fn ensure_npm_installed() {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let result = INSTALLED.get_or_init(|| {
        let dir = adapter_dir();
        let installed = dir.join("node_modules/@clerk/clerk-js/package.json");
        let pinned = std::fs::read_to_string(&installed)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .is_some_and(|v| v["version"] == "6.40.0");
        if pinned {
            return Ok(());
        }
        let mut child = Command::new("npm")
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                format!("cannot run `npm ci` in {}: {e}; install Node 20 and npm", dir.display())
            })?;
        let deadline = Instant::now() + NPM_CI_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => {
                    let mut err = String::new();
                    if let Some(mut stderr) = child.stderr.take() {
                        let _ = std::io::Read::read_to_string(&mut stderr, &mut err);
                    }
                    return Err(format!(
                        "`npm ci` in adapters/clerk-js failed ({status}):\n{err}\n\
                         run it by hand: cd adapters/clerk-js && npm ci"
                    ));
                }
                Ok(None) if Instant::now() > deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "`npm ci` in adapters/clerk-js took longer than {NPM_CI_TIMEOUT:?}; \
                         run it by hand: cd adapters/clerk-js && npm ci"
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(100)),
                Err(e) => return Err(format!("waiting for `npm ci`: {e}")),
            }
        }
    });
    if let Err(message) = result {
        panic!("{message}");
    }
}

/// The real clerk-js in Node, configured with the printed publishable key and proxy URL and
/// nothing else. Killed on drop.
pub struct NodeClient {
    child: Child,
    stdin: ChildStdin,
    events: Receiver<Value>,
    /// Every event seen, for failure messages.
    pub seen: Vec<Value>,
}

impl NodeClient {
    /// Starts the client from the banner's printed text, the way a person would copy it.
    pub fn start(banner: &Banner) -> NodeClient {
        ensure_npm_installed();
        let printed = banner.to_string();
        let key = Banner::parse_line(&printed, "EXPO_PUBLIC_CLERK_PUBLISHABLE_KEY")
            .expect("the banner prints the publishable key");
        let proxy = Banner::parse_line(&printed, "EXPO_PUBLIC_CLERK_PROXY_URL")
            .expect("the banner prints the proxy URL");
        let mut child = Command::new("node")
            .args(["--conditions=react-native", "dev-client.mjs"])
            .current_dir(adapter_dir())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("CLERK_PUBLISHABLE_KEY", key)
            .env("CLERK_PROXY_URL", proxy)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs (Node 20 is required)");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, events) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let event = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({"event": "garbage", "line": line}));
                if tx.send(event).is_err() {
                    break;
                }
            }
        });
        let mut client = NodeClient { child, stdin, events, seen: Vec::new() };
        let loaded = client.wait_for(|e| e["event"] == "loaded");
        assert_eq!(loaded["status"], "ready", "{loaded}");
        client
    }

    /// The next event matching `pred`, failing after [`EVENT_TIMEOUT`] or on a fatal error.
    pub fn wait_for(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + EVENT_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) => {
                    self.seen.push(event.clone());
                    assert!(event["fatal"] != true, "the Node client failed: {event}");
                    if pred(&event) {
                        return event;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no matching event within {EVENT_TIMEOUT:?}; seen: {:#?}", self.seen)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the Node client exited; seen: {:#?}", self.seen)
                }
            }
        }
    }

    /// Sends a command and waits for its reply.
    pub fn call(&mut self, command: Value) -> Value {
        let cmd = command["cmd"].as_str().expect("a cmd").to_string();
        writeln!(self.stdin, "{command}").expect("the Node client reads stdin");
        self.stdin.flush().expect("flush");
        self.wait_for(|e| e["event"] == "reply" && e["cmd"] == cmd.as_str())
    }
}

impl Drop for NodeClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
