//! The world: one step function over the clock, device, server, SDK and app shell.
//!
//! [`World::step`] applies one [`Event`] at the current virtual instant, runs every timer and
//! response that falls due, and returns what the world shows ([`Observation`]). Everything
//! that takes time — FAPI round trips, backend calls, retry waits, refresh timers — is a job
//! on one agenda ordered by (instant, sequence number), so the same trace always replays the
//! same interleaving.
//!
//! The SDK and app-shell rules read the run's [`Profile`]; they live in the modules beside this
//! file, one per concern, with the same names as the reference SDK's (`sdk/reference/js/`):
//! `lifecycle` (process, JS runtime, app state, the agenda), `transport`, `storage`, `load`,
//! `tokens`, `client`, `calls`, `shell` and `native`. This file holds the state and the step:
//! [`World::step`] and `apply` read top to bottom in the order things happen. JS work is
//! suspended while the app is in the background: its jobs wait in `paused` and run late, in
//! order, on return to the foreground, while the clock and the server keep going (DESIGN.md §5).

mod calls;
mod client;
mod instances;
mod lifecycle;
mod load;
mod native;
mod shell;
mod storage;
mod tokens;
mod transport;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use self::native::{Adopt, NativeSync};
use super::device::Device;
use super::native::NativeLayer;
use super::profile::Profile;
use super::server::{ClientToken, ClientView, EnvironmentView, FapiReply, FapiRequest, Server};
use super::settings::Setup;
use super::time::VTime;
use super::vocab::{
    AppPath, AppState, AuthView, CallId, CallKind, CallResult, DeviceView, Event, FaultKind,
    Happening, RequestId, RequestOutcome, ServerView, SessionId, SessionStatus, SessionView,
    TemplateName, TokenInfo, TokenKey,
};

/// What one step shows: the SDK's rendered state, the environment's truth, and everything
/// that happened during the step, in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Observation {
    pub view: AuthView,
    pub device: DeviceView,
    pub server: ServerView,
    /// FAPI and backend requests in flight at the end of the step.
    pub in_flight: u32,
    /// Calls not yet settled at the end of the step.
    pub open_calls: u32,
    pub happenings: Vec<Happening>,
}

/// An error as a call sees it: HTTP status (0 for a network error), code, `Retry-After`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Failure {
    status: u16,
    code: String,
    retry_after_ms: Option<u64>,
}

impl Failure {
    fn network() -> Failure {
        Failure { status: 0, code: "network_error".into(), retry_after_ms: None }
    }

    fn from_reply(reply: &FapiReply) -> Failure {
        Failure {
            status: reply.status,
            code: reply.error_code().unwrap_or("unexpected_response").to_string(),
            retry_after_ms: reply.retry_after_ms,
        }
    }

    /// 4xx other than 429: the request was understood and refused; retrying cannot help.
    fn is_final(&self) -> bool {
        (400..500).contains(&self.status) && self.status != 429
    }
}

type TokenOutcome = Result<Option<TokenInfo>, Failure>;

/// What a response delivered to JS carries.
#[derive(Clone, Debug)]
enum Reply {
    /// Boxed: a reply travels through the job queue's B-tree nodes, which move their values
    /// on every insert and removal (a 248-byte answer inline made the model a quarter slower).
    Answer(Box<FapiReply>),
    NetworkError,
}

/// Why a FAPI request was sent.
#[derive(Clone, Debug)]
enum Purpose {
    /// `load()`'s environment or client GET; `attempt` tells stale answers apart.
    Load { client: bool, attempt: u32, tries: u32 },
    /// The resource cache's recovery reload.
    Reload { client: bool, attempt: u32 },
    /// A token fetch, with the calls waiting on it; `expired_retry` for the one retry with
    /// `expired_token=` after a 422 `missing_expired_token` (no session minter).
    TokenFetch { waiters: Vec<CallId>, expired_retry: bool },
    /// clerk-js's background refresh: nobody waits on it. It goes through the same
    /// `#createTokenResolver` as a fetch, so `expired_retry` marks its one legacy retry too.
    BackgroundRefresh { expired_retry: bool },
    /// `handleUnauthenticated()`'s `GET /client`: try `tries` of the transport's GET retries,
    /// and the 401 answer whose caller awaits it (clerk-js `_baseFetch`), kept in `Js::held`.
    Unauthenticated { tries: u32, held: Option<RequestId> },
    /// A user-facing call's request (sign-in, touch, sign-out, end, remove, task).
    Call(CallId),
    /// `__internal_reloadInitialResources()` after a native sign-in or the bootstrap's find:
    /// its environment or client GET (`Promise.all` of both, `group` in `Js::adopts`), then
    /// `setActive(sid)`.
    NativeAdopt { sid: SessionId, group: u32, client: bool },
    /// `setActive({ session: sid })` for the native layer's session: its touch. The session
    /// becomes current once the touch succeeds; a 401 runs `handleUnauthenticated` like any.
    NativeActivate { sid: SessionId },
    /// That `setActive`'s `await session.getToken()` after its touch, when the cache has no
    /// token to hit: only a token answer makes the session current.
    NativeActivateToken { sid: SessionId },
}

#[derive(Clone, Debug)]
struct Flight {
    request: FapiRequest,
    token: Option<ClientToken>,
    purpose: Purpose,
    js: u32,
    fault: Option<FaultKind>,
    /// The sign-out epoch when sent: a payload from before a sign-out (or, documented, from
    /// before the current session became current) is stale.
    signout_epoch: u32,
    /// What the server answered: it applies a request when it leaves, at the end of the JS
    /// turn that sent it (`depart`), and the answer travels back for the latency.
    answer: Option<(Reply, RequestOutcome)>,
    /// The token cache's read never settled: the request never went out.
    hung: bool,
}

/// A 401 answer whose handling waits for `handleUnauthenticated` (clerk-js `_baseFetch`
/// awaits it before its caller sees the error).
#[derive(Clone, Debug)]
struct Held {
    request: FapiRequest,
    purpose: Purpose,
    reply: Reply,
    signout_epoch: u32,
}

#[derive(Clone, Debug)]
enum JsJob {
    Deliver(RequestId, Reply),
    BackendReply {
        call: CallId,
        status: u16,
    },
    /// A cached token's refresh and eviction timers: `epoch` tells a cleared entry's
    /// timers (which never fire) from the live ones.
    RefreshTimer {
        key: TokenKey,
        epoch: u32,
    },
    EvictTimer {
        key: TokenKey,
        epoch: u32,
    },
    RecurringRefresh {
        epoch: u32,
    },
    CallRetry {
        call: CallId,
    },
    GetRetry {
        client: bool,
        attempt: u32,
        tries: u32,
    },
    /// The next try of `handleUnauthenticated`'s `GET /client` after a network error.
    UnauthRetry {
        tries: u32,
        held: Option<RequestId>,
    },
    LoadRetry {
        attempt: u32,
    },
    ResourceReload {
        n: u32,
    },
    /// An AppState `change` event reaching JS's listener late (a fault or the setting).
    AppStateEvent {
        state: AppState,
    },
    /// The 3.x native bootstrap's `getSession()` poll number n (`native: true`).
    NativePoll(u32),
}

#[derive(Clone, Debug)]
enum Job {
    Arrive(RequestId),
    /// The token boxed, so that a job stays small in the queue's B-tree nodes.
    BackendArrive {
        call: CallId,
        attempt: u8,
        token: Option<Box<TokenInfo>>,
        sent_at: VTime,
        js: u32,
    },
    Js {
        js: u32,
        job: JsJob,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LoadStatus {
    Loading,
    Ready,
    Degraded,
    /// `load()` failed; `loaded` says whether the profile still reports `isLoaded`.
    Error {
        loaded: bool,
    },
}

impl LoadStatus {
    /// Loaded without a client from the server, with the recovery reload running: from the
    /// resource cache, or (`RetryThenSignedOut`) signed out after the load's retries.
    fn recovers(self) -> bool {
        matches!(self, LoadStatus::Degraded | LoadStatus::Error { loaded: true })
    }
}

/// The SDK's session slot: `undefined` while loading or in a transitive state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Undefined,
    Null,
    Some(SessionView),
}

impl Slot {
    /// The session JS shows, if any.
    fn session(self) -> Option<SessionView> {
        match self {
            Slot::Some(v) => Some(v),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ApiStage {
    /// Getting the token for the first attempt.
    Token,
    /// Waiting on the backend, attempt 1 or 2.
    Backend { attempt: u8 },
    /// Leading the one refresh after a 401.
    Refreshing,
    /// Queued behind another call's refresh.
    Queued,
}

#[derive(Clone, Debug)]
struct Call {
    kind: CallKind,
    skip_cache: bool,
    /// `getToken({ template })`: the JWT template whose token the call wants.
    template: Option<TemplateName>,
    retries: u32,
    api: ApiStage,
    /// The session a `setActive` or sign-in switches to.
    target: Option<SessionId>,
    /// The session `getToken`'s first attempt used, when retries stay bound to it
    /// ([`Profile::retry_keeps_session`]).
    bound: Option<SessionId>,
    /// The serial of the token the API call's last backend request carried.
    sent: Option<u64>,
}

/// The JS runtime's state: everything lost on kill or JS reload.
#[derive(Clone, Debug)]
struct Js {
    runtime: u32,
    /// `NativeSessionSync`'s last deps and sync flag (`native: true` only).
    native: NativeSync,
    status: LoadStatus,
    load_call: Option<CallId>,
    /// The last load call started: a failed load's GET that keeps retrying still serves it.
    last_load_call: Option<CallId>,
    load_attempt: u32,
    load_retries: u32,
    /// The load's two answers so far; the client with the sign-out epoch its GET was sent
    /// under (a retried environment GET may be sent later, and must not vouch for it).
    load_parts: (Option<EnvironmentView>, Option<(ClientView, u32)>),
    env: Option<EnvironmentView>,
    slot: Slot,
    client: Option<Arc<ClientView>>,
    /// Memory token cache (`MemoryTokenCache`) when there is no secure store.
    memory_token: Option<ClientToken>,
    /// The token cache by session and template (clerk-js's `tokenId`), each entry with the
    /// epoch its timers carry (one session's entries at most unless
    /// [`Profile::per_session_cache`]).
    cache: BTreeMap<TokenKey, (TokenInfo, u32)>,
    cache_gen: u32,
    recurring_gen: u32,
    /// The joinable token fetch in flight, by the token it is for.
    fetch: BTreeMap<TokenKey, RequestId>,
    /// Background refreshes in flight (clerk-js `#backgroundRefreshInProgress`, by tokenId).
    bg: BTreeMap<TokenKey, RequestId>,
    unauth: Option<RequestId>,
    /// 401 answers waiting for their `handleUnauthenticated` reload, by request.
    held: BTreeMap<RequestId, Held>,
    /// Each session's `lastActiveToken`.
    last_token: BTreeMap<SessionId, TokenInfo>,
    calls: BTreeMap<CallId, Call>,
    load_waiters: Vec<CallId>,
    signout_epoch: u32,
    user_signing_out: bool,
    /// Whether the transitive `undefined` state was entered from a session (read only there).
    transitive_from_session: bool,
    /// The session `setActive` or sign-in is switching to.
    preferred: Option<SessionId>,
    /// The app shell (route memory) lives in JS too.
    shell: Shell,
    /// The app state JS's AppState listener last heard (the OS state may differ).
    heard: AppState,
    /// `__internal_reloadInitialResources()` runs in flight, by group: what has answered.
    adopts: BTreeMap<u32, Adopt>,
    adopt_serial: u32,
}

#[derive(Clone, Debug)]
struct Shell {
    current_path: AppPath,
    return_to: Option<AppPath>,
    /// The API wrapper's single refresh after a 401 (`isRefreshing`) and its queue.
    refreshing: Option<CallId>,
    queue: Vec<CallId>,
    /// The freshest token (serial) a backend refused during this refresh: a refresh that
    /// joined a fetch sent before the 401 may bring back a token no fresher.
    refused: u64,
    /// Whether this refresh already fetched again for that reason (once is enough: a fetch
    /// sent after the 401 is fresher, and an offline cache hit would loop).
    refetched: bool,
}

/// A whole simulated world.
#[derive(Clone, Debug)]
pub struct World {
    pub setup: Setup,
    rules: &'static Profile,
    now: VTime,
    pub server: Server,
    pub device: Device,
    /// The JS state of the instance whose work runs now (`current`); the others wait in
    /// `parked` (`instances.rs`). Between events and jobs it is the UI's, instance 0.
    js: Js,
    parked: Vec<Js>,
    current: usize,
    native: NativeLayer,
    agenda: BTreeMap<(VTime, u64), Job>,
    seq: u64,
    /// Held JS jobs, with the runtime they belong to.
    paused: Vec<(VTime, u32, JsJob)>,
    /// Boxed: a flight is large and B-tree nodes move their values on every insert and
    /// removal.
    flights: BTreeMap<RequestId, Box<Flight>>,
    /// Flights sent in this JS turn, not yet left the device, in send order (`depart`).
    departing: Vec<RequestId>,
    backend_in_flight: u32,
    next_request: u32,
    next_call: u32,
    log: Vec<Happening>,
    view: AuthView,
    /// Agenda jobs run in the current step; past [`JOBS_PER_STEP_MAX`] the step stops.
    jobs: u64,
}

/// The work budget of one step (issue 19): most agenda jobs it may run. A runner checks
/// [`World::over_budget`] after each step and stops with an error naming the step.
pub const JOBS_PER_STEP_MAX: u64 = 1_000_000;

/// Whether a step that has run `jobs` agenda jobs is past its work budget.
fn past_budget(jobs: u64) -> bool {
    jobs > JOBS_PER_STEP_MAX
}

impl World {
    /// A world with the app installed but not running; the first event is usually
    /// `cold_start`.
    pub fn new(setup: Setup) -> World {
        World {
            rules: setup.profile.rules(),
            server: Server::new(setup.instance),
            device: Device::for_setup(&setup, setup.sdk.keychain_accessible),
            setup,
            now: VTime::ZERO,
            js: Js::new(0),
            parked: instances::parked(setup.sdk.instances),
            current: 0,
            native: NativeLayer::default(),
            agenda: BTreeMap::new(),
            seq: 0,
            paused: Vec::new(),
            flights: BTreeMap::new(),
            departing: Vec::new(),
            backend_in_flight: 0,
            next_request: 1,
            next_call: 1,
            log: Vec::new(),
            view: AuthView::closed(),
            jobs: 0,
        }
    }

    pub fn now(&self) -> VTime {
        self.now
    }

    /// Whether the last step stopped at its work budget (its observation is cut short).
    pub fn over_budget(&self) -> bool {
        past_budget(self.jobs)
    }

    pub fn profile(&self) -> &'static Profile {
        self.rules
    }

    /// The rendered auth state right now.
    pub fn view(&self) -> &AuthView {
        &self.view
    }

    /// Applies one event and everything that falls due at the resulting instant.
    pub fn step(&mut self, event: &Event) -> Observation {
        self.log.clear();
        self.jobs = 0;
        self.apply(event);
        // Work due now (zero-latency answers, immediate failures) settles within the step.
        let now = self.now;
        self.run_until(now);
        self.end_turn();
        self.observe()
    }

    fn observe(&mut self) -> Observation {
        Observation {
            view: self.view.clone(),
            device: self.device_view(),
            server: self.server_view(),
            in_flight: self.flights.len() as u32 + self.backend_in_flight,
            open_calls: self.open_calls(),
            happenings: self.log.drain(..).collect(),
        }
    }

    /// The environment's truth about the device's client and session.
    pub fn server_view(&mut self) -> ServerView {
        self.server.tick(self.now);
        let token = self.device_client_token();
        let persisted = self.persisted_client_token();
        let session = token.and_then(|t| {
            self.server
                .sessions
                .iter()
                .rev()
                .find(|s| s.client == t.client)
                .map(|s| (s.id, s.status))
        });
        let sessions = self.server.sessions.iter().map(|s| (s.id, s.status)).collect();
        ServerView {
            session,
            persisted_credential_valid: self.token_restores(persisted),
            sessions,
            orphaned: self.server.orphaned_sessions(persisted),
        }
    }

    /// The session a server-side event targets: the SDK's, else the device client's latest.
    fn target_session(&mut self) -> Option<SessionId> {
        if let Slot::Some(v) = self.js.slot
            && self.device.running
        {
            return Some(v.id);
        }
        self.server_view().session.map(|(id, _)| id)
    }

    fn token_restores(&self, token: Option<ClientToken>) -> bool {
        self.server.resolve_client(token).and_then(|id| self.server.client(id)).is_some_and(|c| {
            c.sessions
                .iter()
                .any(|s| self.server.session(*s).is_some_and(|s| s.status.is_signed_in()))
        })
    }

    fn apply(&mut self, event: &Event) {
        match event {
            Event::Advance { ms } => {
                let target = self.now.plus(*ms);
                self.run_until(target);
            }
            Event::ColdStart => self.cold_start(),
            Event::Kill => self.kill(),
            Event::JsReload => {
                if self.device.running {
                    self.end_all_js();
                    self.start_all_js();
                }
            }
            Event::Reinstall => {
                self.kill();
                self.device.reinstall();
            }
            Event::AppState { state } => {
                if *state == AppState::Active {
                    // Only an unlocked device shows an app in the foreground.
                    self.device.unlock();
                }
                self.set_app_state(*state)
            }
            Event::Network { state } => self.device.network = *state,
            Event::SignIn { task } => {
                if self.ui_ready() {
                    self.server.set_pending_task(*task);
                    let call = self.start_call(CallKind::SignIn);
                    if !self.is_loaded() {
                        // The sign-in screen exists only once loaded (before, clerk-js has no
                        // `client` and `setActive` throws): the call waits for `load()`.
                        self.js.load_waiters.push(call);
                        return;
                    }
                    self.send_sign_in(call);
                }
            }
            Event::NativeSignIn => self.native_sign_in(),
            Event::CompleteTask => {
                if self.ui_ready() {
                    let call = self.start_call(CallKind::CompleteTask);
                    match self.js.slot {
                        Slot::Some(SessionView { id, task: Some(task), .. }) => {
                            self.send(
                                FapiRequest::ResolveTask { sid: id, task },
                                Purpose::Call(call),
                            );
                        }
                        _ => self.settle(call, CallResult::Ok),
                    }
                }
            }
            Event::GetToken { skip_cache, template } => {
                if self.ui_ready() {
                    let call = self.start_call(CallKind::GetToken);
                    let c = self.js.calls.get_mut(&call).expect("just started");
                    (c.skip_cache, c.template) = (*skip_cache, *template);
                    self.token_begin(call);
                }
            }
            Event::ApiCall { .. } => {
                if self.ui_ready() {
                    let call = self.start_call(CallKind::ApiCall);
                    self.token_begin(call);
                }
            }
            Event::Navigate { path } => {
                if self.ui_ready() {
                    self.navigate(path.clone());
                }
            }
            Event::SessionEnd | Event::SessionRemove => {
                if self.ui_ready() {
                    let kind = if matches!(event, Event::SessionEnd) {
                        CallKind::SessionEnd
                    } else {
                        CallKind::SessionRemove
                    };
                    let call = self.start_call(kind);
                    match self.js.slot {
                        Slot::Some(v) => {
                            // `end()` and `remove()` clear the whole token cache first.
                            self.clear_token_cache();
                            self.js.user_signing_out = true;
                            self.js.signout_epoch += 1;
                            let request = if kind == CallKind::SessionEnd {
                                FapiRequest::End { sid: v.id }
                            } else {
                                FapiRequest::Remove { sid: v.id }
                            };
                            self.send(request, Purpose::Call(call));
                        }
                        _ => self.settle(call, CallResult::Ok),
                    }
                }
            }
            Event::SignOut => {
                if self.ui_ready() {
                    let call = self.start_call(CallKind::SignOut);
                    let no_sessions = self.js.client.as_ref().is_none_or(|c| c.sessions.is_empty());
                    if self.rules.signout_needs_sessions && no_sessions {
                        // clerk-js `signOut`: `if (!this.client || this.client.sessions.length
                        // === 0) return;` — nothing is asked of the server or changed locally.
                        return self.settle(call, CallResult::Ok);
                    }
                    self.js.user_signing_out = true;
                    self.js.signout_epoch += 1;
                    let held = matches!(self.js.slot, Slot::Some(_));
                    if held || self.rules.signout_always_transitive {
                        // The transitive state: `undefined` until the server answers (clerk-js
                        // enters it even with no session held).
                        // A second sign-out while the first is in flight keeps what the first
                        // left from (the app shell remembers a held session until it settles).
                        let was =
                            self.js.slot == Slot::Undefined && self.js.transitive_from_session;
                        self.js.slot = Slot::Undefined;
                        self.js.transitive_from_session = held || was;
                    }
                    if !self.rules.signout_failure_keeps_state {
                        self.clear_token_cache();
                    }
                    self.send(FapiRequest::RemoveSessions, Purpose::Call(call));
                }
            }
            Event::SetActive => {
                if self.ui_ready() {
                    let call = self.start_call(CallKind::SetActive);
                    if self.rules.ignores_stale_payloads && self.js.user_signing_out {
                        // The documented contract: nothing may bring the session back while
                        // the user signs out, so a switch asked for meanwhile does nothing.
                        return self.settle(call, CallResult::Ok);
                    }
                    let current = match self.js.slot {
                        Slot::Some(v) => Some(v.id),
                        _ => None,
                    };
                    let other = self.js.client.as_ref().and_then(|c| {
                        c.sessions
                            .iter()
                            .find(|s| s.status.is_signed_in() && Some(s.id) != current)
                            .map(|s| s.id)
                    });
                    match other.or(current) {
                        Some(sid) => {
                            self.js.preferred = Some(sid);
                            self.js.calls.get_mut(&call).expect("just started").target = Some(sid);
                            self.send(FapiRequest::Touch { sid }, Purpose::Call(call));
                        }
                        None => self.settle(call, CallResult::Ok),
                    }
                }
            }
            Event::Revoke | Event::ExpireNow | Event::AbandonNow => {
                let status = match event {
                    Event::Revoke => SessionStatus::Revoked,
                    Event::ExpireNow => SessionStatus::Expired,
                    _ => SessionStatus::Abandoned,
                };
                if let Some(sid) = self.target_session() {
                    self.server.end_session_as(sid, status, self.now);
                }
            }
            Event::Replace => {
                if let Some(sid) = self.target_session() {
                    self.server.replace_session(sid, self.now);
                }
            }
            Event::Fault(spec) => self.server.push_fault(*spec),
            Event::StorageFault(spec) => self.device.push_storage_fault(*spec),
            Event::ClearFaults => {
                self.server.faults.clear();
                self.device.clear_faults();
            }
            Event::AppStateFault(spec) => self.device.push_app_state_fault(*spec),
            Event::Instance { n, step } => self.on_instance(*n, step),
            Event::LockDevice => self.lock_device(),
            Event::UnlockDevice => self.device.unlock(),
            Event::Reboot => {
                self.kill();
                self.device.reboot();
            }
            Event::BackgroundWake { ms } => self.background_wake(*ms),
            Event::DeviceSleep { ms } => self.device_sleep(*ms),
            Event::ClockSkew { ms } => self.device.clock_skew_ms = *ms,
            Event::RestoreBackup => {
                self.kill();
                self.device.restore_backup();
            }
        }
    }

    /// UI events need a running app in the foreground: a user cannot tap a killed or
    /// backgrounded app. Otherwise they are no-ops (the trace still records them).
    fn ui_ready(&self) -> bool {
        self.device.js_runs()
    }
}
