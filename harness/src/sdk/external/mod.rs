//! External SDKs: an [`SdkPort`] over a child process that speaks the adapter protocol
//! (docs/adapter-protocol.md, versions 1 and 2) — the real `@clerk/clerk-js` under Node, or any
//! `cmd:COMMAND` a team writes for its own SDK.
//!
//! [`ExternalSdk`] owns everything that is not under test, exactly as the reference SDK's
//! environment does:
//! - the **server**: the FAPI emulator and the app's backend over HTTP on 127.0.0.1
//!   ([`crate::fapi::wire::start`]), and server-side events applied to it directly;
//! - the **clock**: a counter the harness moves; the adapter runs its SDK under fake timers
//!   and reports the instant of everything;
//! - the **device**: app state, network, whether the process runs, and persistent storage (a
//!   key → string map that outlives processes: `kill` then `cold_start` really starts a new
//!   process that sees only what was persisted; `reinstall` keeps it on iOS, clears it on
//!   Android, as [`Device::reinstall`] does);
//! - the **process lifecycle**: `cold_start` spawns and sends `start`, `kill` sends
//!   `shutdown` and reaps, `js_reload` is a new launch with the same storage. A version 2
//!   adapter (the clerk-js driver) hosts launch after launch: `kill` sends it `end` and
//!   hands the warm process to [`pool`], and the next `cold_start` of the same command, in
//!   this run or any other, takes it instead of spawning (a launch is a hand-over).
//!
//! Events the app cannot see (JS events while the process is dead or suspended in the
//! background) are not sent at all, as the model ignores them; process and server events are
//! the harness's own. Every other event is one `step` request, except that a long `advance`
//! is sent as several of at most [`ADVANCE_STEP_MS`] each, so no reply outgrows a line.
//!
//! The observation is assembled here ([`report`]): the view, open calls and requests in
//! flight from the adapter; the device and the server's truth from the harness; happenings
//! converted from the adapter's report — tokens decoded claim by claim from the JWTs the
//! emulator signed, requests joined with the emulator's log by their `x-harness-request` tag
//! (endpoint, session, outcome, injected fault), storage writes applied to the harness's
//! storage and annotated as the reference SDK annotates them.
//!
//! The server's view follows the client token the device would send next: the client JWT
//! in storage with a secure-store token cache; with a memory token cache (the adapter
//! reports nothing), the rotated token the latest answer carried, from the emulator's log.
//!
//! What an adapter cannot feed, and the checks it weakens (also in the protocol doc, §6):
//! - `timer_fired`: clerk-js's timers are not reported, so `transient-never-signs-out`
//!   counts late timers as exercise only from other transients (its violations do not read
//!   timers);
//! - `storage_read` carries no value: the digest is the harness's own stored value, so
//!   `storage-round-trips` checks the harness's store, not the SDK's serialisation;
//! - `retry_scheduled` only for retries the app shell makes: clerk-js's internal `getToken`
//!   retries show as repeated token requests, so `retry-discipline`'s `Retry-After` rule is
//!   fed only by the shell.
//!
//! Runtime: [`ExternalSdk::runtime`] is a current-thread tokio runtime with real time (never
//! paused: DESIGN.md §4). Virtual time is only the counter and the request header.
//!
//! Errors (§8): a crash, a hang, garbage, a wrong id or protocol, or `unsupported` is a
//! [`PortError`] within a bounded wall time, naming the step, with the last stderr lines;
//! the process is killed (after `unsupported`, a clean refusal, a version 2 process is
//! pooled instead: ended with `end` if its launch had begun, as it is if `start` was refused).

pub mod command;
mod pool;
pub mod process;
pub mod protocol;
mod report;

use std::collections::BTreeMap;
use std::time::Duration;

use wiremock::MockServer;

use crate::backend::Backend;
use crate::fapi::{Fapi, LogEntry, lock};
use crate::model::Observation;
use crate::model::device::Device;
use crate::model::server::ClientToken;
use crate::model::settings::{Setup, TokenCacheKind};
use crate::model::time::VTime;
use crate::model::vocab::{
    AppState, AuthView, CallId, CallKind, CallResult, Event, Happening, Platform, RequestId,
    StorageKey,
};
use crate::sdk::env;
use crate::sdk::port::{PortError, SdkPort};

use crate::model::native::{
    self as native_layer, NativeAnswer, NativeCall, NativeEnv, NativeLayer,
};
pub use command::{AdapterCommand, PINNED_CLERK_JS_VERSION, Timeouts, pool_from_env, repo_root};
use process::{Line, Process, ReadError};
use protocol::{
    Hello, NativeAnswerBody, NativeAnswerLine, NativeEvent, NativeLine, PROTOCOL, PROTOCOLS, Reply,
    Request, StartSettings,
};

/// The longest `advance` one `step` request asks of an adapter. An hour of one-minute tokens
/// is about 85 refresh round trips per session, a few megabytes of happenings at most with
/// the resource cache's snapshots: under the 32 MiB a reply line may take, and few enough
/// requests that a week costs under 200 round trips.
pub const ADVANCE_STEP_MS: u64 = 60 * 60 * 1000;

/// The `advance` steps that make up an advance of `ms`: whole pieces of [`ADVANCE_STEP_MS`],
/// then the rest; an advance of nothing is still one step (the adapter settles and observes).
fn advance_pieces(ms: u64) -> impl Iterator<Item = u64> {
    let whole = ms / ADVANCE_STEP_MS;
    let rest = ms % ADVANCE_STEP_MS;
    let last = (rest > 0 || whole == 0).then_some(rest);
    std::iter::repeat_n(ADVANCE_STEP_MS, whole as usize).chain(last)
}

/// A request the adapter sent, waiting for its `request_done`.
#[derive(Clone, Copy, Debug)]
enum Sent {
    /// A FAPI request: the harness's id for it and its endpoint.
    Fapi(RequestId, crate::model::vocab::Endpoint),
    /// A request the harness does not number (the backend, the JWKS).
    Other,
}

/// The process now running, with what the harness tracks of it.
struct Running {
    process: Process,
    /// The harness's process counter, the `<run>` of request tags.
    run: u32,
    /// The next request id of this process.
    next_id: u64,
    sdk: String,
    /// Its hello, parsed and as written: a version 2 process goes back to the pool with it.
    hello: Hello,
    hello_line: String,
    /// Whether the adapter accepted this launch's `start`. A `start` refused with
    /// `unsupported` began no launch, so there is none to `end` (§3).
    launched: bool,
}

impl Running {
    /// Whether the launch can end with `end` and the process wait for the next one: a
    /// version 2 adapter, a pool that takes processes, and no transcript being recorded (a
    /// transcript shows every launch's hello, so each launch there is a new process).
    fn reusable(&self, command: &AdapterCommand, recording: bool) -> bool {
        self.hello.protocol >= 2 && command.pool > 0 && !recording
    }
}

/// One installed app whose SDK runs in an adapter process.
pub struct ExternalSdk {
    setup: Setup,
    command: AdapterCommand,
    fapi: Fapi,
    backend: Backend,
    server: Option<MockServer>,
    now: VTime,
    /// App state, network, running. Its storage is unused: see `storage`.
    device: Device,
    /// Persistent storage: key → the whole string, as the adapter wrote it.
    storage: BTreeMap<String, String>,
    /// The client JWT of the running process with a memory token cache (not persisted).
    memory_token: Option<String>,
    running: Option<Running>,
    runs: u32,
    next_call: u32,
    next_request: u32,
    sent: BTreeMap<(u32, u32), Sent>,
    /// Emulator log entries by tag, waiting for their `request_done`.
    tagged: BTreeMap<String, LogEntry>,
    /// Calls started and not settled, as the adapter's happenings tell (for `killed`).
    open_calls: BTreeMap<CallId, CallKind>,
    /// `open_calls` and `in_flight` as the adapter's last reply reported them.
    reported_open_calls: u32,
    in_flight: u32,
    view: AuthView,
    /// Steps taken: the `step` of errors.
    steps: u32,
    /// What the last hello said: `@clerk/clerk-js 6.40.0 (dist/clerk.native.js)`.
    hello: Option<String>,
    /// The running process holds a storage fault (a `storage_fault` step, or one `start`
    /// carried): `clear_faults` must reach it, or the step is refused.
    storage_fault_held: bool,
    /// The running process's hello says it takes `clear_faults` (`clear_storage_faults`).
    clears_storage_faults: bool,
    /// Every line exchanged, when recording (`cargo xtask adapter-check`, schema tests).
    transcript: Option<Vec<Transcribed>>,
    /// The fidelity the last hello declared (one of `protocol::FIDELITIES`), if any.
    fidelity: Option<&'static str>,
    /// The native layer (`model/native.rs`) the adapter's `ClerkExpo` module reaches
    /// (§11, `native: true`): lives with the app process. Its keychain items live in
    /// `device`'s storage.
    native: NativeLayer,
}

/// One line of an adapter's conversation, as recorded by [`ExternalSdk::record_transcript`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transcribed {
    /// A request the harness wrote.
    Sent(String),
    /// The hello line.
    Hello(String),
    /// A reply line.
    Received(String),
}

impl ExternalSdk {
    /// The app installed on a fresh device, not running yet. Nothing is started until the
    /// first step (the emulator's HTTP server) and the first `cold_start` (the process).
    pub fn new(setup: Setup, command: AdapterCommand) -> ExternalSdk {
        let fapi = Fapi::new(setup.instance);
        // Every run starts its own emulator; the same claims are signed once per harness.
        fapi.signer().share_across_runs();
        let backend = Backend::new(&fapi);
        ExternalSdk {
            setup,
            command,
            backend,
            fapi,
            server: None,
            now: VTime::ZERO,
            device: Device::new(setup.platform),
            storage: BTreeMap::new(),
            memory_token: None,
            running: None,
            runs: 0,
            next_call: 1,
            next_request: 1,
            sent: BTreeMap::new(),
            tagged: BTreeMap::new(),
            open_calls: BTreeMap::new(),
            reported_open_calls: 0,
            in_flight: 0,
            view: AuthView::closed(),
            steps: 0,
            hello: None,
            storage_fault_held: false,
            clears_storage_faults: false,
            transcript: None,
            fidelity: None,
            native: NativeLayer::default(),
        }
    }

    /// Records every line exchanged from now on (bounded by the run's own limits: one line
    /// per request and per reply).
    pub fn record_transcript(&mut self) {
        self.transcript.get_or_insert_with(Vec::new);
    }

    /// The lines recorded since [`ExternalSdk::record_transcript`].
    pub fn transcript(&self) -> &[Transcribed] {
        self.transcript.as_deref().unwrap_or_default()
    }

    /// The runtime every step must run in: current-thread, real time (never paused).
    pub fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime always builds")
    }

    pub fn setup(&self) -> &Setup {
        &self.setup
    }

    pub fn command(&self) -> &AdapterCommand {
        &self.command
    }

    /// The FAPI emulator the adapter talks to (its server, its log).
    pub fn fapi(&self) -> &Fapi {
        &self.fapi
    }

    /// Persistent storage as the harness holds it.
    pub fn storage(&self) -> &BTreeMap<String, String> {
        &self.storage
    }

    /// What the adapter's hello said about its SDK, once a process has started.
    pub fn sdk_description(&self) -> Option<&str> {
        self.hello.as_deref()
    }

    /// The lockstep fidelity the adapter's hello declared (`observable`, `requests`,
    /// `exact`), once a process has started; `None` when it declared none.
    pub fn declared_fidelity(&self) -> Option<&'static str> {
        self.fidelity
    }

    /// The adapter process's id while one runs.
    pub fn pid(&self) -> Option<u32> {
        self.running.as_ref().map(|r| r.process.id())
    }

    /// The next free call id (one counter for the run, across processes).
    pub fn next_call(&self) -> u32 {
        self.next_call
    }

    /// The emulator's base URL, once started.
    pub fn fapi_url(&self) -> Option<String> {
        self.server.as_ref().map(MockServer::uri)
    }

    async fn ensure_server(&mut self) {
        if self.server.is_none() {
            let server = crate::fapi::wire::start(
                self.fapi.clone(),
                Some(std::sync::Arc::new(self.backend.clone())),
            )
            .await;
            self.server = Some(server);
        }
    }

    fn err_crashed(&self, detail: String) -> PortError {
        PortError::Crashed { sdk: self.command.label.clone(), step: self.steps, detail }
    }

    fn err_garbled(&self, detail: String) -> PortError {
        PortError::Garbled { sdk: self.command.label.clone(), step: self.steps, detail }
    }

    /// Applies one event; see the module doc for who handles what.
    async fn apply(&mut self, event: &Event) -> Result<Observation, PortError> {
        self.ensure_server().await;
        let mut out = Vec::new();
        let result = self.apply_inner(event, &mut out).await;
        if let Err(e) = result {
            // The port is broken: never leave the process behind. An `unsupported` answer is
            // the one clean refusal: the process is sound and, if reusable, waits for the
            // next launch (its `end` drops whatever the refused request left).
            if let (PortError::Unsupported { .. }, Some(running)) = (&e, self.running.take()) {
                drop(self.hand_over(running));
            }
            self.running = None;
            return Err(e);
        }
        Ok(self.observe(out))
    }

    async fn apply_inner(
        &mut self,
        event: &Event,
        out: &mut Vec<Happening>,
    ) -> Result<(), PortError> {
        match event {
            Event::ColdStart => {
                // An adapter's storage keeps whatever it is given; a platform's handling of
                // large values it cannot simulate.
                if self.setup.sdk.large_values.is_some() {
                    return Err(PortError::Unsupported {
                        sdk: self.command.label.clone(),
                        event: "cold_start (with the setup's large_values)".to_string(),
                    });
                }
                // Several SDK instances in one app are the harness's own so far: the protocol
                // has no way to address one (docs/adapter-protocol.md §3).
                if self.setup.sdk.instances > 1 {
                    return Err(PortError::Unsupported {
                        sdk: self.command.label.clone(),
                        event: "cold_start (with the setup's instances > 1)".to_string(),
                    });
                }
                if !self.device.running {
                    self.device.running = true;
                    self.device.app_state = AppState::Active;
                    self.launch(out).await?;
                }
            }
            Event::Kill => {
                if self.device.running {
                    self.end_process(out).await;
                    self.device.running = false;
                    self.native.process_ended();
                    self.render(AuthView::closed(), out);
                }
            }
            Event::JsReload => {
                if self.device.running {
                    self.end_process(out).await;
                    self.launch(out).await?;
                }
            }
            Event::Reinstall => {
                if self.device.running {
                    self.end_process(out).await;
                    self.device.running = false;
                    self.native.process_ended();
                    self.render(AuthView::closed(), out);
                }
                if self.setup.platform == Platform::Android {
                    self.storage.clear();
                }
                // The native keychain: iOS keeps it, Android clears it.
                self.device.reinstall();
            }
            Event::NativeSignIn => {
                if self.setup.sdk.native && self.device.running {
                    self.native_sign_in(out).await?;
                }
            }
            Event::AppState { state } => {
                if *state == AppState::Inactive && self.setup.platform != Platform::Ios {
                    // `inactive` exists on iOS only; Android reports nothing.
                    return Ok(());
                }
                // An adapter's AppState events reach JS at once; late ones it cannot give.
                if self.setup.sdk.app_state_delay_ms != 0 {
                    return Err(PortError::Unsupported {
                        sdk: self.command.label.clone(),
                        event: "app_state (with the setup's app_state_delay)".to_string(),
                    });
                }
                let before = self.device.app_state;
                self.device.app_state = *state;
                if self.device.running && before != *state {
                    if before == AppState::Background && self.setup.sdk.native {
                        // The native SDK hears the OS itself, before JS (`model/native.rs`).
                        self.native_foreground(out);
                    }
                    self.step_process(event, out).await?;
                }
            }
            // The emulator's wire cannot hang a request and let the adapter time it out; the
            // adapters' network is up or down. Refused before the state changes.
            Event::Network { state: crate::model::vocab::Network::Hanging } => {
                return Err(PortError::Unsupported {
                    sdk: self.command.label.clone(),
                    event: "network: hanging".to_string(),
                });
            }
            Event::Network { state } => {
                self.device.network = *state;
                if self.device.running {
                    self.step_process(event, out).await?;
                }
            }
            Event::Advance { ms } => {
                if self.device.running {
                    // A long `advance` is several `step`s of at most `ADVANCE_STEP_MS`: a day
                    // of refresh round trips is over a megabyte of happenings, more than one
                    // reply line may hold (§2). The adapter runs everything due up to each
                    // target in order, so the pieces add up to the same run (§4).
                    for piece in advance_pieces(*ms) {
                        self.step_process(&Event::Advance { ms: piece }, out).await?;
                    }
                } else {
                    self.now = self.now.plus(*ms);
                }
            }
            Event::Instance { .. } => {
                return Err(PortError::Unsupported {
                    sdk: self.command.label.clone(),
                    event: "instance (an event addressed to a second SDK instance)".to_string(),
                });
            }
            // The device of an external SDK is its adapter's: a running adapter gets the event
            // (and may answer `unsupported`); with no process there is nobody to apply it.
            // A storage fault armed while the app is dead waits for the next launch, whose
            // `start` carries it to an adapter that simulates it (§3).
            Event::StorageFault(spec) if !self.device.running => {
                self.device.push_storage_fault(*spec);
            }
            event if event.is_device() => {
                if matches!(event, Event::StorageFault(_)) && self.device.running {
                    self.storage_fault_held = true;
                }
                if !self.device.running {
                    return Err(PortError::Unsupported {
                        sdk: self.command.label.clone(),
                        event: event.name().to_string(),
                    });
                }
                self.step_process(event, out).await?;
            }
            // `clear_faults` also disarms the storage faults still waiting for a launch, as
            // the model's device does; one a running adapter holds goes back only through
            // the adapter, if its hello says it takes the step.
            Event::ClearFaults if self.device.running && self.storage_fault_held => {
                if !self.clears_storage_faults {
                    return Err(PortError::Unsupported {
                        sdk: self.command.label.clone(),
                        event: "clear_faults (a storage fault the running adapter holds; its \
                                hello does not say `clear_storage_faults: true`)"
                            .to_string(),
                    });
                }
                self.step_process(event, out).await?;
                self.storage_fault_held = false;
                self.apply_server_event(event);
            }
            Event::Revoke
            | Event::ExpireNow
            | Event::AbandonNow
            | Event::Replace
            | Event::Fault(_)
            | Event::ClearFaults => self.apply_server_event(event),
            // The app's own events reach JS only while it runs in the foreground.
            _ => {
                if self.device.js_runs() {
                    if let Event::SignIn { task } = event {
                        // A client cannot ask FAPI for a task: the harness arms the next
                        // sign-in, as the model does (protocol §9, "Sign-in with a task").
                        lock(self.fapi.server()).set_pending_task(*task);
                    }
                    self.step_process(event, out).await?;
                }
            }
        }
        Ok(())
    }

    /// A server event (or `clear_faults`, which also disarms the storage faults waiting for
    /// a launch) applied to the emulator's server, aimed at the session the app shows.
    fn apply_server_event(&mut self, event: &Event) {
        if matches!(event, Event::ClearFaults) {
            self.device.storage_faults.clear();
        }
        let shown = if self.device.running { self.view.session.map(|s| s.id) } else { None };
        let held = self.held_client_token();
        let mut server = lock(self.fapi.server());
        let target = env::target_session(&mut server, self.now, shown, held);
        env::apply_server_event(&mut server, event, self.now, target);
    }

    /// Starts a launch: a warm process from the pool (version 2 adapters) or a new one and
    /// its hello, then `start` with everything persisted.
    async fn launch(&mut self, out: &mut Vec<Happening>) -> Result<(), PortError> {
        let (process, hello, line, next_id) = match self.warm_process().await {
            Some(idle) => (idle.process, idle.hello, idle.hello_line, idle.next_id),
            None => {
                let mut process = Process::spawn(&self.command).map_err(|e| self.err_crashed(e))?;
                let (hello, line) = self.read_hello(&mut process).await?;
                if let Some(t) = self.transcript.as_mut() {
                    t.push(Transcribed::Hello(line.clone()));
                }
                (process, hello, line, 1)
            }
        };
        self.hello = Some(format!(
            "{} {}{}",
            hello.sdk.as_deref().unwrap_or("an SDK"),
            hello.version.as_deref().unwrap_or("(version not given)"),
            hello.entry.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
        ));
        self.clears_storage_faults = hello.clear_storage_faults;
        self.fidelity = hello
            .fidelity
            .as_deref()
            .and_then(|f| protocol::FIDELITIES.into_iter().find(|known| *known == f));
        let missing_fault = self
            .device
            .storage_faults
            .iter()
            .find(|f| !hello.storage_faults.iter().any(|k| k == f.kind.as_str()))
            .map(|f| f.kind);
        let refusal = if self.setup.sdk.native && !hello.native_module {
            Some(
                "cold_start (the setup's native module: the adapter's hello does not say \
                 `native_module: true`)"
                    .to_string(),
            )
        } else {
            missing_fault.map(|kind| {
                format!(
                    "storage_fault (kind {}, armed before this launch: the adapter's hello does \
                     not list it in `storage_faults`)",
                    kind.as_str()
                )
            })
        };
        if let Some(event) = refusal {
            // Refused before `start`: the process began no launch, so a reusable one goes
            // back to the pool as it is.
            let idle = Running {
                process,
                run: self.runs,
                next_id,
                sdk: self.command.label.clone(),
                hello,
                hello_line: line,
                launched: false,
            };
            drop(self.hand_over(idle));
            return Err(PortError::Unsupported { sdk: self.command.label.clone(), event });
        }
        self.runs += 1;
        let run = self.runs;
        self.running = Some(Running {
            process,
            run,
            next_id,
            sdk: self.command.label.clone(),
            hello,
            hello_line: line,
            launched: false,
        });
        let uri = self.server.as_ref().map(MockServer::uri).unwrap_or_default();
        let request = Request::Start {
            v: 0,
            id: 0,
            now_ms: self.now.ms(),
            run,
            call_base: self.next_call,
            fapi_url: uri.clone(),
            backend_url: format!("{uri}/api"),
            publishable_key: self.fapi.publishable_key().encode(),
            platform: self.setup.platform.as_str().to_string(),
            settings: StartSettings::of(&self.setup),
            storage: self.storage.clone(),
            storage_faults: {
                let armed = std::mem::take(&mut self.device.storage_faults);
                // The process holds them from now on, as if each had been a step.
                self.storage_fault_held = !armed.is_empty();
                armed
            },
            app_state: protocol::app_state_word(self.device.app_state).to_string(),
            network: protocol::network_word(self.device.network).to_string(),
        };
        let now = self.now;
        self.exchange(request, "start", now, out).await?;
        if let Some(running) = self.running.as_mut() {
            running.launched = true;
        }
        Ok(())
    }

    async fn read_hello(&self, process: &mut Process) -> Result<(Hello, String), PortError> {
        let limit = self.command.timeouts.hello;
        let line = match process.read(limit).await {
            Err(ReadError::Timeout) => {
                process.kill();
                return Err(PortError::Hung {
                    sdk: self.command.label.clone(),
                    step: self.steps,
                    event: format!("the hello line; {}", protocol::FLUSH_HINT),
                    timeout_ms: limit.as_millis() as u64,
                });
            }
            Ok(line) => line,
        };
        let text = match line {
            Line::Text(text) => text,
            Line::Eof => return Err(self.crashed(process, "before its hello line").await),
            other => {
                return Err(self.err_garbled(format!(
                    "the hello line is {}; expected {{\"hello\": \"{}\", \"protocol\": {PROTOCOL}, …}}",
                    process::show(&other),
                    protocol::HELLO
                )));
            }
        };
        let hello: Hello = serde_json::from_str(&text).map_err(|e| {
            self.err_garbled(format!(
                "the hello line {} is not {{\"hello\": \"{}\", \"protocol\": {PROTOCOL}, …}}: {e}",
                protocol::quote(&text),
                protocol::HELLO
            ))
        })?;
        if hello.hello != protocol::HELLO {
            return Err(self.err_garbled(format!(
                "the hello line says hello `{}`, expected `{}`",
                hello.hello,
                protocol::HELLO
            )));
        }
        if !PROTOCOLS.contains(&hello.protocol) {
            return Err(self.err_garbled(format!(
                "the adapter speaks protocol {}, the harness speaks {}",
                hello.protocol,
                protocol::protocols_text()
            )));
        }
        if let Some(f) = hello.fidelity.as_deref().filter(|f| !protocol::FIDELITIES.contains(f)) {
            return Err(self.err_garbled(format!(
                "the hello line declares fidelity `{f}`; accepted: {}",
                protocol::FIDELITIES.join(", ")
            )));
        }
        Ok((hello, text))
    }

    /// A crash report: the exit status and the last stderr lines.
    async fn crashed(&self, process: &mut Process, when: &str) -> PortError {
        let status = match process.wait_exit(Duration::from_millis(500)).await {
            Some(_) => process.status_text(),
            None => {
                // stdout closed but the process lives on: it is no adapter any more.
                process.kill();
                format!("stdout closed, then {}", process.status_text())
            }
        };
        let stderr = process.stderr_tail(Duration::from_millis(500)).await;
        self.err_crashed(format!(
            "the adapter (`{}`) ended {when}: {status}; {stderr}",
            self.command.display()
        ))
    }

    /// One `step` request for `event`.
    async fn step_process(
        &mut self,
        event: &Event,
        out: &mut Vec<Happening>,
    ) -> Result<(), PortError> {
        let target = match event {
            Event::Advance { ms } => self.now.plus(*ms),
            _ => self.now,
        };
        self.step_with(event, target, Vec::new(), out).await
    }

    async fn step_with(
        &mut self,
        event: &Event,
        target: VTime,
        native_events: Vec<NativeEvent>,
        out: &mut Vec<Happening>,
    ) -> Result<(), PortError> {
        let request = Request::Step {
            v: 0,
            id: 0,
            event: event.clone(),
            call_base: self.next_call,
            native_events,
        };
        self.exchange(request, &event.to_string(), target, out).await
    }

    /// Runs `f` on the native layer at `now`, with this run's device and the emulator's
    /// server (`model/native.rs`: the same layer the model and the reference SDK reach).
    fn on_native<R>(
        &mut self,
        now: VTime,
        log: &mut Vec<Happening>,
        f: impl FnOnce(&mut NativeLayer, &mut NativeEnv<'_>) -> R,
    ) -> R {
        let mut server = lock(self.fapi.server());
        let mut env = NativeEnv {
            device: &mut self.device,
            server: &mut server,
            now,
            latency_ms: self.setup.net.fapi_latency_ms,
            variant: self.setup.sdk.native_variant,
            log,
        };
        f(&mut self.native, &mut env)
    }

    /// The native SDK's own refresh on leaving the background, on the harness's side: the
    /// adapter's JS hears nothing of it (the native layer is the harness's, `model/native.rs`).
    fn native_foreground(&mut self, out: &mut Vec<Happening>) {
        self.on_native(self.now, out, |layer, env| layer.foreground(env));
    }

    /// `native_sign_in`: the native layer signs in on the harness's side; on iOS the adapter
    /// gets the step with the `onAuthStateChange` event for its module's listeners (§11).
    async fn native_sign_in(&mut self, out: &mut Vec<Happening>) -> Result<(), PortError> {
        let now = self.now;
        let session = self.on_native(now, out, |layer, env| layer.sign_in(env));
        let Some(sid) = session else {
            return Ok(());
        };
        if !native_layer::emits_auth_events(self.setup.platform) || !self.device.js_runs() {
            return Ok(());
        }
        let event = NativeEvent {
            name: "onAuthStateChange".into(),
            body: serde_json::json!({ "type": "signedIn", "sessionId": sid.to_string() }),
        };
        self.step_with(&Event::NativeSignIn, now, vec![event], out).await
    }

    /// Answers one `native` line of the adapter (§11) with the native layer: the call
    /// at the instant the adapter names, on this run's device and server.
    fn native_answer(&mut self, line: NativeLine, log: &mut Vec<Happening>) -> String {
        let request = line.native;
        let refuse = |message: String| NativeAnswerBody {
            seq: request.seq,
            ok: false,
            value: None,
            code: None,
            message: Some(message),
        };
        let body = if !self.setup.sdk.native {
            refuse("this run's setup has no native module (`native: true`)".into())
        } else {
            let token = match request.token.as_deref() {
                None | Some("") => Ok(None),
                Some(text) => crate::model::server::ClientToken::decode(text)
                    .map(Some)
                    .ok_or_else(|| format!("`token` is not a client JWT of this run: {text:.60}")),
            };
            let call = match (request.call.as_str(), token) {
                (_, Err(e)) => Err(e),
                ("configure", Ok(token)) => Ok(NativeCall::Configure { token }),
                ("get_session", _) => Ok(NativeCall::GetSession),
                ("get_client_token", _) => Ok(NativeCall::GetClientToken),
                ("sign_out", _) => Ok(NativeCall::SignOut),
                (other, _) => Err(format!(
                    "unknown native call {other:?}; accepted: configure, get_session, \
                     get_client_token, sign_out"
                )),
            };
            match call {
                Err(message) => refuse(message),
                Ok(call) => {
                    let at = VTime(request.at_ms.max(self.now.ms()));
                    let answer = self.on_native(at, log, |layer, env| layer.call(env, call));
                    let (ok, value, code) = match answer {
                        NativeAnswer::Done => (true, serde_json::Value::Null, None),
                        NativeAnswer::Session { session } => (
                            true,
                            session
                                .map(|s| serde_json::json!({ "sessionId": s.to_string() }))
                                .unwrap_or(serde_json::Value::Null),
                            None,
                        ),
                        NativeAnswer::ClientToken { token } => (
                            true,
                            token
                                .map(|t| serde_json::Value::String(t.encode()))
                                .unwrap_or(serde_json::Value::Null),
                            None,
                        ),
                        NativeAnswer::Rejected { code } => {
                            (false, serde_json::Value::Null, Some(code.as_str().to_string()))
                        }
                    };
                    NativeAnswerBody {
                        seq: request.seq,
                        ok,
                        value: Some(value),
                        code,
                        message: None,
                    }
                }
            }
        };
        serde_json::to_string(&NativeAnswerLine { native_answer: body })
            .expect("native answers always serialise")
    }

    /// Sends `request` (its `id` added here), reads the reply and absorbs its observation,
    /// which must end at `target`.
    async fn exchange(
        &mut self,
        request: Request,
        what: &str,
        target: VTime,
        out: &mut Vec<Happening>,
    ) -> Result<(), PortError> {
        // A long `advance` in the foreground runs thousands of refresh round trips (a week is
        // about 14 000, measured at 3-9 ms each on the real clerk-js): the limit grows by one
        // wall second per 1000 virtual seconds (whole ones: a short step keeps the configured
        // limit exactly), so a week may take up to ~10 minutes and a hang is still caught.
        let span_ms = target.ms().saturating_sub(self.now.ms());
        let limit = self.command.timeouts.step + Duration::from_secs(span_ms / 1_000_000);
        let Some(running) = self.running.as_mut() else {
            return Err(self.err_crashed(format!("no adapter process is running for `{what}`")));
        };
        let id = running.next_id;
        running.next_id += 1;
        let line = request.stamped(running.hello.protocol, id).line();
        if let Some(t) = self.transcript.as_mut() {
            t.push(Transcribed::Sent(line.clone()));
        }
        running.process.send(line);
        // §11: the adapter's native-module calls arrive before its reply; each is
        // answered at once and the reply is read again.
        let mut native_log = Vec::new();
        let line = loop {
            let Some(running) = self.running.as_mut() else {
                return Err(self.err_crashed(format!("no adapter process is running for `{what}`")));
            };
            let line = running.process.read(limit).await;
            if let Ok(Line::Text(text)) = &line
                && text.starts_with("{\"native\"")
            {
                if let Some(t) = self.transcript.as_mut() {
                    t.push(Transcribed::Received(text.clone()));
                }
                let answer = match serde_json::from_str::<NativeLine>(text) {
                    Ok(native) => self.native_answer(native, &mut native_log),
                    Err(e) => {
                        return Err(self.err_garbled(format!(
                            "a native line during `{what}` is not a protocol message ({e}): {}",
                            protocol::quote(text)
                        )));
                    }
                };
                if let Some(t) = self.transcript.as_mut() {
                    t.push(Transcribed::Sent(answer.clone()));
                }
                if let Some(running) = self.running.as_mut() {
                    running.process.send(answer);
                }
                continue;
            }
            break line;
        };
        let mut running = self.running.take().expect("checked above");
        let text = match line {
            Err(ReadError::Timeout) => {
                running.process.kill();
                return Err(PortError::Hung {
                    sdk: running.sdk,
                    step: self.steps,
                    event: format!("{what}, request id {id}"),
                    timeout_ms: limit.as_millis() as u64,
                });
            }
            Ok(Line::Text(text)) => {
                if let Some(t) = self.transcript.as_mut() {
                    t.push(Transcribed::Received(text.clone()));
                }
                text
            }
            Ok(Line::Eof) => {
                return Err(self
                    .crashed(&mut running.process, &format!("during `{what}` (request id {id})"))
                    .await);
            }
            Ok(other) => {
                return Err(self.err_garbled(format!(
                    "answered `{what}` (request id {id}) with {}",
                    process::show(&other)
                )));
            }
        };
        self.running = Some(running);
        let reply: Reply = serde_json::from_str(&text).map_err(|e| {
            self.err_garbled(format!(
                "the reply to `{what}` (request id {id}) is not a protocol reply ({e}): {}",
                protocol::quote(&text)
            ))
        })?;
        if reply.id != id {
            return Err(self.err_garbled(format!(
                "answered id {}, expected {id} (`{what}`): {}",
                reply.id,
                protocol::quote(&text)
            )));
        }
        if !reply.ok {
            let error = reply.error.unwrap_or(protocol::AdapterError {
                kind: "internal".into(),
                message: "(no error object)".into(),
            });
            return Err(match error.kind.as_str() {
                "unsupported" => PortError::Unsupported {
                    sdk: self.command.label.clone(),
                    event: format!("{what} ({})", error.message),
                },
                "bad_request" => self.err_garbled(format!(
                    "the adapter calls `{what}` (request id {id}) a bad request: {}",
                    error.message
                )),
                "internal" => {
                    // The adapter wrote its stack to stderr just before the reply: give the
                    // reader a moment to catch up (the process lives on, so no EOF comes).
                    let stderr = match self.running.as_ref() {
                        Some(r) => Some(r.process.stderr_tail(Duration::from_millis(200)).await),
                        None => None,
                    };
                    self.err_crashed(format!(
                        "the adapter failed internally at `{what}` (request id {id}): {}; {}",
                        error.message,
                        stderr.unwrap_or_default()
                    ))
                }
                other => self.err_garbled(format!(
                    "error kind `{other}` (message: {}) is not one of unsupported, \
                     bad_request, internal",
                    error.message
                )),
            });
        }
        let (Some(obs), Some(next_call)) = (reply.obs, reply.next_call) else {
            return Err(self.err_garbled(format!(
                "an ok reply to `{what}` needs `obs` and `next_call`: {}",
                protocol::quote(&text)
            )));
        };
        let start = out.len();
        self.absorb(obs, next_call, target, what, out)?;
        if !native_log.is_empty() {
            // The native layer's happenings go where their instants put them among the
            // adapter's (after those of the same instant).
            out.extend(native_log);
            out[start..].sort_by_key(Happening::at);
        }
        Ok(())
    }

    /// Ends the running process: `shutdown`, a bounded wait, then a kill. Open calls die
    /// with it (`killed`), as in the model. Never fails: a process that misbehaves on its
    /// way out is killed.
    async fn end_process(&mut self, out: &mut Vec<Happening>) {
        self.storage_fault_held = false;
        if let Some(running) = self.running.take() {
            let run = running.run;
            self.let_go(running).await;
            self.sent.retain(|(r, _), _| *r != run);
        }
        for (call, kind) in std::mem::take(&mut self.open_calls) {
            out.push(Happening::CallSettled {
                at: self.now,
                call,
                kind,
                result: CallResult::Killed,
            });
        }
        self.in_flight = 0;
        self.reported_open_calls = 0;
        self.memory_token = None;
    }

    /// Ends a launch. A version 2 process is sent `end` and handed to the pool at once (its
    /// reply is read by whoever takes it, `pool.rs`); any other is sent `shutdown`, given a
    /// bounded wait, then killed. Never fails.
    async fn let_go(&self, running: Running) {
        let Some(mut running) = self.hand_over(running) else { return };
        let limit = self.command.timeouts.shutdown;
        let id = running.next_id;
        running
            .process
            .send(Request::Shutdown { v: 0, id: 0 }.stamped(running.hello.protocol, id).line());
        // The reply, then the exit; whatever happens, the kill below reaps it.
        let _ = running.process.read(limit).await;
        running.process.close_stdin();
        if running.process.wait_exit(limit).await.is_none() {
            running.process.kill();
        }
    }

    /// Sends `end` to a reusable process and gives it to the pool; hands back a process that
    /// is not reusable or finds the pool full. A process whose `start` was refused has no
    /// launch to end: it goes to the pool as it is, waiting for its next `start`.
    fn hand_over(&self, mut running: Running) -> Option<Running> {
        if !running.reusable(&self.command, self.transcript.is_some()) {
            return Some(running);
        }
        let end_id = if running.launched {
            let id = running.next_id;
            running
                .process
                .send(Request::End { v: 0, id: 0 }.stamped(running.hello.protocol, id).line());
            Some(id)
        } else {
            None
        };
        let next_id = running.next_id + u64::from(end_id.is_some());
        let idle = pool::Idle {
            process: running.process,
            hello: running.hello,
            hello_line: running.hello_line,
            end_id,
            next_id,
        };
        pool::give(&self.command, idle).map(|idle| Running {
            process: idle.process,
            run: running.run,
            next_id: idle.next_id,
            sdk: running.sdk,
            hello: idle.hello,
            hello_line: idle.hello_line,
            launched: running.launched,
        })
    }

    /// A warm process from the pool whose last launch ended well (`{"id": …, "ok": true}` to
    /// its `end`, within the shutdown timeout, or a refused `start` that began none); one that
    /// answers anything else is killed and the next is tried. `None`: start a new one.
    async fn warm_process(&self) -> Option<pool::Idle> {
        if self.transcript.is_some() {
            return None;
        }
        while let Some(mut idle) = pool::take(&self.command) {
            let ended = match idle.end_id {
                // A refused `start`: nothing to end, nothing in the pipe.
                None => true,
                Some(end_id) => match idle.process.read(self.command.timeouts.shutdown).await {
                    Ok(Line::Text(text)) => serde_json::from_str::<Reply>(&text)
                        .is_ok_and(|r| r.id == end_id && r.ok && r.error.is_none()),
                    _ => false,
                },
            };
            if ended {
                // What an earlier launch logged is not this launch's story.
                idle.process.clear_stderr();
                return Some(idle);
            }
            idle.process.kill();
        }
        None
    }

    /// Records a render if the view changed.
    fn render(&mut self, view: AuthView, out: &mut Vec<Happening>) {
        if view != self.view {
            out.push(Happening::Rendered { at: self.now, view: view.clone() });
            self.view = view;
        }
    }

    /// The client token the device would send next: storage with a secure-store token
    /// cache, the running process's memory otherwise.
    fn held_client_token(&self) -> Option<ClientToken> {
        match self.setup.sdk.token_cache {
            TokenCacheKind::SecureStore => self.persisted_client_token(),
            TokenCacheKind::Memory => self
                .memory_token
                .as_deref()
                .filter(|_| self.device.running)
                .and_then(|t| crate::fapi::decode::client_token(Some(t))),
        }
    }

    fn persisted_client_token(&self) -> Option<ClientToken> {
        let text = self.storage.get(StorageKey::ClientJwt.as_str())?;
        crate::fapi::decode::client_token(Some(text))
    }

    fn observe(&mut self, happenings: Vec<Happening>) -> Observation {
        let held = self.held_client_token();
        let persisted = self.persisted_client_token();
        let server = env::server_view(&mut lock(self.fapi.server()), self.now, held, persisted);
        let device =
            self.native.device_view(&self.device, &lock(self.fapi.server()), self.setup.sdk.native);
        let running = self.device.running;
        Observation {
            view: if running { self.view.clone() } else { AuthView::closed() },
            device,
            server,
            in_flight: if running { self.in_flight } else { 0 },
            open_calls: if running { self.reported_open_calls } else { 0 },
            happenings,
        }
    }
}

/// Starts the adapter, reads its hello line (parsed, and as written) and ends the process:
/// the first rule of L0.
/// The gate and `cargo xtask adapter-check` call it once before anything else, so an adapter
/// with no hello (or one it never flushed) fails once, within the hello timeout, not once per
/// case.
pub fn probe_hello(command: &AdapterCommand) -> Result<(Hello, String), PortError> {
    let rt = ExternalSdk::runtime();
    let sdk = ExternalSdk::new(
        Setup::new(Platform::Ios, crate::model::profile::ProfileId::Documented),
        command.clone(),
    );
    rt.block_on(async {
        let mut process = Process::spawn(command).map_err(|e| sdk.err_crashed(e))?;
        let hello = sdk.read_hello(&mut process).await?;
        // An adapter ends at the end of its input; the drop kills what does not.
        process.close_stdin();
        let _ = process.wait_exit(command.timeouts.shutdown).await;
        Ok(hello)
    })
}

impl Drop for ExternalSdk {
    /// A run that ends with its app running lets go of the process as `kill` would: a
    /// version 2 process goes back to the pool, any other is killed with its group (a broken
    /// port never gets here with a process: `apply` drops it first).
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            drop(self.hand_over(running));
        }
    }
}

impl SdkPort for ExternalSdk {
    fn name(&self) -> String {
        self.command.label.clone()
    }

    fn now(&self) -> VTime {
        self.now
    }

    async fn step(&mut self, event: &Event) -> Result<Observation, PortError> {
        let result = self.apply(event).await;
        self.steps += 1;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_advance_is_pieces_of_at_most_an_hour_that_add_up() {
        let day = 24 * ADVANCE_STEP_MS;
        for ms in [0, 1, ADVANCE_STEP_MS - 1, ADVANCE_STEP_MS, ADVANCE_STEP_MS + 1, day + 7] {
            let pieces: Vec<u64> = advance_pieces(ms).collect();
            assert_eq!(pieces.iter().sum::<u64>(), ms, "{ms}: {pieces:?}");
            assert!(pieces.iter().all(|p| *p <= ADVANCE_STEP_MS), "{ms}: {pieces:?}");
            assert!(!pieces.is_empty(), "{ms}: an advance is at least one step");
        }
        assert_eq!(advance_pieces(0).collect::<Vec<_>>(), [0]);
        assert_eq!(advance_pieces(ADVANCE_STEP_MS).collect::<Vec<_>>(), [ADVANCE_STEP_MS]);
        assert_eq!(advance_pieces(day + 7).count(), 25);
    }
}
