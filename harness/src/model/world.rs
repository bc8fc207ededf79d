//! The world: one step function over the clock, device, server, SDK and app shell.
//!
//! [`World::step`] applies one [`Event`] at the current virtual instant, runs every timer and
//! response that falls due, and returns what the world shows ([`Observation`]). Everything
//! that takes time — FAPI round trips, backend calls, retry waits, refresh timers — is a job
//! on one agenda ordered by (instant, sequence number), so the same trace always replays the
//! same interleaving.
//!
//! The SDK and app-shell rules read the run's [`Profile`]; they are grouped below by concern
//! (load, tokens, client payloads, calls, app shell). JS work is suspended while the app is in
//! the background: its jobs wait in `paused` and run late, in order, on return to the
//! foreground, while the clock and the server keep going (DESIGN.md §5).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::device::{Device, Payload};
use super::profile::{CachePolicy, LoadFailurePolicy, OfflinePolicy, Profile, RefreshPolicy};
use super::server::{
    ClientToken, ClientView, EnvironmentView, FapiReply, FapiRequest, ReplyBody, Server,
    TEST_USER_IDENTIFIER, TEST_USER_PASSWORD,
};
use super::settings::{Setup, TokenCacheKind};
use super::time::VTime;
use super::vocab::{
    AppPath, AppState, AuthView, CallId, CallKind, CallResult, DeviceView, Event, FaultKind,
    Happening, Network, Platform, RequestId, RequestOutcome, Route, ServerView, SessionId,
    SessionStatus, SessionView, SignOutCause, StorageKey, TaskKey, TimerKind, TokenInfo,
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
    Answer(FapiReply),
    NetworkError,
}

/// Why a FAPI request was sent.
#[derive(Clone, Debug)]
enum Purpose {
    /// `load()`'s environment or client GET; `attempt` tells stale answers apart.
    Load { client: bool, attempt: u32, tries: u32 },
    /// The resource cache's recovery reload.
    Reload { client: bool, attempt: u32 },
    /// A token fetch, with the calls waiting on it.
    TokenFetch { waiters: Vec<CallId> },
    /// clerk-js's background refresh: nobody waits on it.
    BackgroundRefresh,
    /// `handleUnauthenticated()`'s `GET /client`.
    Unauthenticated,
    /// A user-facing call's request (sign-in, touch, sign-out, end, remove, task).
    Call(CallId),
}

#[derive(Clone, Debug)]
struct Flight {
    request: FapiRequest,
    token: Option<ClientToken>,
    purpose: Purpose,
    js: u32,
    fault: Option<FaultKind>,
    /// The sign-out epoch when sent: a payload from before a sign-out is stale.
    signout_epoch: u32,
    /// What the server answered: it applies a request the instant it is sent, as the FAPI
    /// emulator does (both of its ways in), and the answer travels back for the latency.
    answer: Option<(Reply, RequestOutcome)>,
}

#[derive(Clone, Debug)]
enum JsJob {
    Deliver(RequestId, Reply),
    BackendReply { call: CallId, status: u16 },
    RefreshTimer { epoch: u32 },
    EvictTimer { epoch: u32 },
    RecurringRefresh { epoch: u32 },
    CallRetry { call: CallId },
    GetRetry { client: bool, attempt: u32, tries: u32 },
    LoadRetry { attempt: u32 },
    ResourceReload { n: u32 },
}

#[derive(Clone, Debug)]
enum Job {
    Arrive(RequestId),
    BackendArrive { call: CallId, attempt: u8, token: Option<TokenInfo>, sent_at: VTime, js: u32 },
    Js { js: u32, job: JsJob },
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

/// The SDK's session slot: `undefined` while loading or in a transitive state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Undefined,
    Null,
    Some(SessionView),
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
    retries: u32,
    api: ApiStage,
    /// The last token attached to a backend request (to tell a fresh one on retry).
    target: Option<SessionId>,
}

/// The JS runtime's state: everything lost on kill or JS reload.
#[derive(Clone, Debug)]
struct Js {
    runtime: u32,
    status: LoadStatus,
    load_call: Option<CallId>,
    load_attempt: u32,
    load_retries: u32,
    load_parts: (Option<EnvironmentView>, Option<ClientView>),
    env: Option<EnvironmentView>,
    slot: Slot,
    client: Option<Arc<ClientView>>,
    /// Memory token cache (`MemoryTokenCache`) when there is no secure store.
    memory_token: Option<ClientToken>,
    cache: Option<(TokenInfo, u32)>,
    cache_gen: u32,
    recurring_gen: u32,
    /// The joinable token fetch in flight, and the session it is for.
    fetch: Option<(RequestId, SessionId)>,
    /// clerk-js's background refresh in flight.
    bg: Option<(RequestId, SessionId)>,
    unauth: Option<RequestId>,
    last_token: Option<TokenInfo>,
    calls: BTreeMap<CallId, Call>,
    load_waiters: Vec<CallId>,
    signout_epoch: u32,
    user_signing_out: bool,
    /// Whether the transitive `undefined` state was entered from a signed-in session.
    transitive_from_session: bool,
    /// The session `setActive` or sign-in is switching to.
    preferred: Option<SessionId>,
    /// The app shell (route memory) lives in JS too.
    shell: Shell,
}

#[derive(Clone, Debug)]
struct Shell {
    current_path: AppPath,
    return_to: Option<AppPath>,
    /// The API wrapper's single refresh after a 401 (`isRefreshing`) and its queue.
    refreshing: Option<CallId>,
    queue: Vec<CallId>,
}

impl Js {
    fn new(runtime: u32) -> Js {
        Js {
            runtime,
            status: LoadStatus::Loading,
            load_call: None,
            load_attempt: 0,
            load_retries: 0,
            load_parts: (None, None),
            env: None,
            slot: Slot::Undefined,
            client: None,
            memory_token: None,
            cache: None,
            cache_gen: 0,
            recurring_gen: 0,
            fetch: None,
            bg: None,
            unauth: None,
            last_token: None,
            calls: BTreeMap::new(),
            load_waiters: Vec::new(),
            signout_epoch: 0,
            user_signing_out: false,
            transitive_from_session: false,
            preferred: None,
            shell: Shell {
                current_path: AppPath::home(),
                return_to: None,
                refreshing: None,
                queue: Vec::new(),
            },
        }
    }
}

/// The iOS native SDK layer (clerk-ios behind `<AuthView>`): lives with the process, survives
/// a JS reload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Native {
    configured: bool,
    device_token: Option<ClientToken>,
}

/// A whole simulated world.
#[derive(Clone, Debug)]
pub struct World {
    pub setup: Setup,
    rules: &'static Profile,
    now: VTime,
    pub server: Server,
    pub device: Device,
    js: Js,
    native: Native,
    agenda: BTreeMap<(VTime, u64), Job>,
    seq: u64,
    paused: Vec<(VTime, JsJob)>,
    flights: BTreeMap<RequestId, Flight>,
    backend_in_flight: u32,
    next_request: u32,
    next_call: u32,
    log: Vec<Happening>,
    view: AuthView,
}

impl World {
    /// A world with the app installed but not running; the first event is usually
    /// `cold_start`.
    pub fn new(setup: Setup) -> World {
        World {
            rules: setup.profile.rules(),
            server: Server::new(setup.instance),
            device: Device::new(setup.platform),
            setup,
            now: VTime::ZERO,
            js: Js::new(0),
            native: Native::default(),
            agenda: BTreeMap::new(),
            seq: 0,
            paused: Vec::new(),
            flights: BTreeMap::new(),
            backend_in_flight: 0,
            next_request: 1,
            next_call: 1,
            log: Vec::new(),
            view: AuthView::closed(),
        }
    }

    pub fn now(&self) -> VTime {
        self.now
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
        self.apply(event);
        // Work due now (zero-latency answers, immediate failures) settles within the step.
        let now = self.now;
        self.run_until(now);
        self.render();
        self.observe()
    }

    fn observe(&mut self) -> Observation {
        Observation {
            view: self.view.clone(),
            device: self.device.view(),
            server: self.server_view(),
            in_flight: self.flights.len() as u32 + self.backend_in_flight,
            open_calls: self.js.calls.len() as u32,
            happenings: std::mem::take(&mut self.log),
        }
    }

    /// The environment's truth about the device's client and session.
    pub fn server_view(&mut self) -> ServerView {
        self.server.tick(self.now);
        let token = self.held_client_token();
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
        ServerView { session, persisted_credential_valid: self.token_restores(persisted), sessions }
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

    // ----------------------------------------------------------------------------- events

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
                    self.end_js();
                    self.start_js();
                }
            }
            Event::Reinstall => {
                self.kill();
                self.device.reinstall();
            }
            Event::AppState { state } => self.set_app_state(*state),
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
            Event::GetToken { skip_cache } => {
                if self.ui_ready() {
                    let call = self.start_call(CallKind::GetToken);
                    self.js.calls.get_mut(&call).expect("just started").skip_cache = *skip_cache;
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
                        self.js.slot = Slot::Undefined;
                        self.js.transitive_from_session = held;
                    }
                    self.clear_token_cache();
                    self.send(FapiRequest::RemoveSessions, Purpose::Call(call));
                }
            }
            Event::SetActive => {
                if self.ui_ready() {
                    let call = self.start_call(CallKind::SetActive);
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
        }
    }

    /// UI events need a running app in the foreground: a user cannot tap a killed or
    /// backgrounded app. Otherwise they are no-ops (the trace still records them).
    fn ui_ready(&self) -> bool {
        self.device.js_runs()
    }

    fn cold_start(&mut self) {
        if self.device.running {
            return;
        }
        self.device.running = true;
        self.device.app_state = AppState::Active;
        self.start_js();
    }

    fn kill(&mut self) {
        if !self.device.running {
            return;
        }
        self.end_js();
        self.device.running = false;
        self.native = Native::default();
    }

    fn start_js(&mut self) {
        self.js = Js::new(self.js.runtime + 1);
        self.render();
        self.start_load();
    }

    /// The JS runtime dies: every open call dies with it.
    fn end_js(&mut self) {
        let open: Vec<(CallId, CallKind)> =
            self.js.calls.iter().map(|(id, c)| (*id, c.kind)).collect();
        for (call, kind) in open {
            self.log.push(Happening::CallSettled {
                at: self.now,
                call,
                kind,
                result: CallResult::Killed,
            });
        }
        self.js.calls.clear();
        // Answers held for the dead runtime are dropped with it: no longer in flight.
        for (_, job) in std::mem::take(&mut self.paused) {
            if let JsJob::Deliver(req, _) = job {
                self.flights.remove(&req);
            }
        }
        self.js = Js::new(self.js.runtime + 1);
        self.js.status = LoadStatus::Loading;
    }

    fn set_app_state(&mut self, state: AppState) {
        if state == AppState::Inactive && self.device.platform != Platform::Ios {
            // `inactive` exists on iOS only; Android reports nothing.
            return;
        }
        let before = self.device.app_state;
        self.device.app_state = state;
        if !self.device.running || before == state {
            return;
        }
        if before == AppState::Background {
            // JS resumes: overdue timers and held responses run now, late, in order.
            let held = std::mem::take(&mut self.paused);
            for (due, job) in held {
                self.run_js(job, due);
                self.render();
            }
        }
        if state == AppState::Active && before != AppState::Active {
            self.foreground_refresh();
        }
    }

    // ------------------------------------------------------------------------- the agenda

    fn schedule(&mut self, at: VTime, job: Job) {
        self.seq += 1;
        self.agenda.insert((at, self.seq), job);
    }

    fn schedule_js(&mut self, at: VTime, job: JsJob) {
        let js = self.js.runtime;
        self.schedule(at, Job::Js { js, job });
    }

    fn run_until(&mut self, target: VTime) {
        while let Some(entry) = self.agenda.first_entry() {
            let (at, _) = *entry.key();
            if at > target {
                break;
            }
            let job = entry.remove();
            self.now = self.now.max(at);
            match job {
                Job::Arrive(req) => self.arrive(req),
                Job::BackendArrive { call, attempt, token, sent_at, js } => {
                    self.backend_arrive(call, attempt, token, sent_at, js)
                }
                Job::Js { js, job } => {
                    if js != self.js.runtime || !self.device.running {
                        // The runtime that sent it is gone: its answer lands nowhere, and the
                        // request is no longer in flight (it used to stay counted forever).
                        if let JsJob::Deliver(req, _) = job {
                            self.flights.remove(&req);
                        }
                        continue;
                    }
                    if !self.device.js_runs() {
                        self.paused.push((at, job));
                        continue;
                    }
                    self.run_js(job, at);
                }
            }
            self.render();
        }
        self.now = self.now.max(target);
    }

    fn run_js(&mut self, job: JsJob, due: VTime) {
        match job {
            JsJob::Deliver(req, reply) => self.deliver(req, reply),
            JsJob::BackendReply { call, status } => self.api_backend_reply(call, status),
            // A timer whose cache entry was replaced was cleared in clerk-js: it never fires.
            JsJob::RefreshTimer { epoch } => {
                if epoch == self.js.cache_gen {
                    self.timer_fired(TimerKind::TokenRefresh, due);
                    self.refresh_timer();
                }
            }
            JsJob::EvictTimer { epoch } => {
                if epoch == self.js.cache_gen {
                    self.timer_fired(TimerKind::TokenEvict, due);
                    self.js.cache = None;
                }
            }
            JsJob::RecurringRefresh { epoch } => {
                if epoch == self.js.recurring_gen {
                    self.timer_fired(TimerKind::TokenRefresh, due);
                    if let Slot::Some(v) = self.js.slot {
                        self.start_background_refresh(v.id);
                    }
                    self.arm_recurring();
                }
            }
            JsJob::CallRetry { call } => {
                self.timer_fired(TimerKind::Retry, due);
                if self.js.calls.contains_key(&call) {
                    self.token_begin(call);
                }
            }
            JsJob::GetRetry { client, attempt, tries } => {
                self.timer_fired(TimerKind::Retry, due);
                if attempt == self.js.load_attempt && self.js.status == LoadStatus::Loading {
                    let request =
                        if client { FapiRequest::GetClient } else { FapiRequest::Environment };
                    self.send(request, Purpose::Load { client, attempt, tries });
                }
            }
            JsJob::LoadRetry { attempt } => {
                self.timer_fired(TimerKind::LoadRetry, due);
                if attempt == self.js.load_attempt {
                    self.send_load();
                }
            }
            JsJob::ResourceReload { n } => {
                self.timer_fired(TimerKind::LoadRetry, due);
                if self.js.status == LoadStatus::Degraded {
                    self.js.load_attempt += 1;
                    self.js.load_retries = n;
                    self.js.load_parts = (None, None);
                    let attempt = self.js.load_attempt;
                    self.send(FapiRequest::Environment, Purpose::Reload { client: false, attempt });
                    self.send(FapiRequest::GetClient, Purpose::Reload { client: true, attempt });
                }
            }
        }
    }

    fn timer_fired(&mut self, timer: TimerKind, due: VTime) {
        self.log.push(Happening::TimerFired { at: self.now, timer, due });
    }

    // --------------------------------------------------------------------- the transport

    /// The client token the device holds: what the next request will carry.
    fn held_client_token(&self) -> Option<ClientToken> {
        match self.setup.sdk.token_cache {
            TokenCacheKind::SecureStore => self.persisted_client_token(),
            TokenCacheKind::Memory => self.js.memory_token.filter(|_| self.device.running),
        }
    }

    fn persisted_client_token(&self) -> Option<ClientToken> {
        match self.device.read(StorageKey::ClientJwt) {
            Some((Payload::ClientToken(t), _)) => Some(t),
            _ => None,
        }
    }

    fn send(&mut self, request: FapiRequest, purpose: Purpose) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        let endpoint = request.endpoint();
        let call = match &purpose {
            Purpose::Call(c) => Some(*c),
            Purpose::TokenFetch { waiters } => waiters.first().copied(),
            Purpose::Load { .. } => self.js.load_call,
            _ => None,
        };
        self.log.push(Happening::RequestSent {
            at: self.now,
            req: id,
            endpoint,
            call,
            sid: request.sid(),
        });
        let offline = self.device.network == Network::Offline;
        // An offline request never leaves the device, so it consumes no scripted fault.
        let fault = if offline { None } else { self.server.take_fault(endpoint) };
        let token = self.held_client_token();
        // The server applies the request now, at send time, exactly as the emulator's handler
        // does; only the answer's arrival waits for the latency. (Applying it at arrival made
        // the model mint tokens and consume state `latency` later than any real SDK talking
        // to the emulator, so the two could never agree on `iat`/`exp`.)
        let answer = (!offline).then(|| self.server_answer(token, &request, fault));
        let flight = Flight {
            request,
            token,
            purpose,
            js: self.js.runtime,
            fault,
            signout_epoch: self.js.signout_epoch,
            answer,
        };
        self.flights.insert(id, flight);
        if offline {
            self.log.push(Happening::RequestDone {
                at: self.now,
                req: id,
                endpoint,
                outcome: RequestOutcome::NetworkError { committed: false },
                fault: None,
            });
            let now = self.now;
            self.schedule_js(now, JsJob::Deliver(id, Reply::NetworkError));
        } else {
            let latency = match fault {
                Some(FaultKind::Latency { ms }) => ms,
                _ => self.setup.net.fapi_latency_ms,
            };
            let at = self.now.plus(latency);
            self.schedule(at, Job::Arrive(id));
        }
        id
    }

    /// The server's answer to `request` carrying `token`, now, shaped by `fault`.
    fn server_answer(
        &mut self,
        token: Option<ClientToken>,
        request: &FapiRequest,
        fault: Option<FaultKind>,
    ) -> (Reply, RequestOutcome) {
        let now = self.now;
        match fault {
            Some(FaultKind::DropBeforeCommit) => {
                (Reply::NetworkError, RequestOutcome::NetworkError { committed: false })
            }
            Some(FaultKind::DropAfterCommit) => {
                self.server.handle(token, request, now);
                (Reply::NetworkError, RequestOutcome::NetworkError { committed: true })
            }
            _ => {
                let reply = fault
                    .and_then(FapiReply::for_fault)
                    .unwrap_or_else(|| self.server.handle(token, request, now));
                let outcome = RequestOutcome::Answered {
                    status: reply.status,
                    retry_after_ms: reply.retry_after_ms,
                };
                (Reply::Answer(reply), outcome)
            }
        }
    }

    /// The answer reaches the device: log it and hand it to JS.
    fn arrive(&mut self, id: RequestId) {
        let Some(flight) = self.flights.get_mut(&id) else {
            return;
        };
        let (reply, outcome) = flight.answer.take().expect("an online request has an answer");
        let (endpoint, fault, js) = (flight.request.endpoint(), flight.fault, flight.js);
        let now = self.now;
        let fault = fault.filter(|f| !matches!(f, FaultKind::Latency { .. }));
        self.log.push(Happening::RequestDone { at: now, req: id, endpoint, outcome, fault });
        self.schedule(now, Job::Js { js, job: JsJob::Deliver(id, reply) });
    }

    /// A response reaches JS: Expo's after-response hook stores the rotated client token,
    /// any 401 runs `handleUnauthenticated`, piggybacked clients are applied, and the purpose
    /// decides the rest.
    fn deliver(&mut self, id: RequestId, reply: Reply) {
        let Some(flight) = self.flights.remove(&id) else {
            return;
        };
        // An answer about another client is authoritative only if the server refused the
        // token the device holds now; otherwise it answers an older, superseded token.
        let authoritative = flight.token == self.held_client_token();
        // An answer to a request sent before the latest sign-out must not bring a credential
        // back (a profile that ignores stale payloads ignores their tokens too).
        let stale =
            self.rules.ignores_stale_payloads && flight.signout_epoch != self.js.signout_epoch;
        if let Reply::Answer(answer) = &reply {
            if let Some(token) = answer.client_token.filter(|_| !stale) {
                self.store_client_token(token, authoritative);
            }
            // While the user signs out, a 401 is no reason to reload the client: the reload
            // would find the session the sign-out is removing and sign the user back in.
            let leaving = self.rules.ignores_stale_payloads && self.js.user_signing_out;
            if answer.status == 401
                && !matches!(flight.purpose, Purpose::Unauthenticated)
                && !leaving
            {
                self.handle_unauthenticated();
            }
            let piggyback = !flight.request.endpoint().is_get() && answer.is_ok();
            if piggyback && let Some(view) = &answer.client {
                self.apply_client(view, flight.signout_epoch);
            }
        }
        match flight.purpose {
            Purpose::Load { client, attempt, tries } => {
                self.load_answer(client, attempt, tries, reply)
            }
            Purpose::Reload { client, attempt } => self.reload_answer(client, attempt, reply),
            Purpose::TokenFetch { waiters } => self.fetch_answer(id, waiters, reply),
            Purpose::BackgroundRefresh => {
                if self.js.bg.is_some_and(|b| b.0 == id) {
                    self.js.bg = None;
                }
                if let Reply::Answer(a) = &reply
                    && let ReplyBody::Token(token) = a.body
                {
                    self.token_resolved(token);
                }
            }
            Purpose::Unauthenticated => {
                self.js.unauth = None;
                match &reply {
                    Reply::Answer(a) if a.is_ok() => {
                        if let Some(view) = &a.client {
                            self.apply_client(view, flight.signout_epoch);
                        }
                    }
                    // clerk.ts `handleUnauthenticated`: `[403,500].includes(e.status)`; any
                    // other failure (502, 503, a network error) is rethrown, not a sign-out.
                    Reply::Answer(a)
                        if (a.status == 403 || a.status == 500)
                            && self.rules.unauth_reload_error_signs_out =>
                    {
                        self.set_slot(Slot::Null, SignOutCause::Unauthorized);
                    }
                    _ => {}
                }
            }
            Purpose::Call(call) => self.call_answer(call, &flight.request, reply),
        }
    }

    fn store_client_token(&mut self, token: ClientToken, authoritative: bool) {
        if self.rules.keeps_newest_client_token
            && let Some(held) = self.held_client_token()
        {
            let older = held.client == token.client
                && (held.epoch > token.epoch
                    || (held.epoch == token.epoch && held.version >= token.version));
            if older || (held.client != token.client && !authoritative) {
                return;
            }
        }
        match self.setup.sdk.token_cache {
            TokenCacheKind::Memory => self.js.memory_token = Some(token),
            TokenCacheKind::SecureStore => {
                self.js.memory_token = Some(token);
                let credential = self.token_restores(Some(token));
                self.write_storage(StorageKey::ClientJwt, Payload::ClientToken(token), credential);
            }
        }
    }

    fn write_storage(&mut self, key: StorageKey, payload: Payload, credential: bool) {
        let len = payload.len();
        let digest = payload.digest();
        if self.device.read(key).is_some_and(|(_, d)| d == digest) {
            return;
        }
        let stored_digest = self.device.write_chunked(key, payload);
        self.log.push(Happening::StorageWritten {
            at: self.now,
            key,
            len,
            digest,
            stored_digest,
            credential,
        });
    }

    fn delete_storage(&mut self, key: StorageKey) {
        if self.device.delete(key) {
            self.log.push(Happening::StorageDeleted { at: self.now, key });
        }
    }

    fn read_storage(&mut self, key: StorageKey) -> Option<Payload> {
        let read = self.device.read(key);
        self.log.push(Happening::StorageRead {
            at: self.now,
            key,
            digest: read.as_ref().map(|r| r.1),
        });
        read.map(|r| r.0)
    }

    // -------------------------------------------------------------------------- loading

    fn start_load(&mut self) {
        let call = self.start_call(CallKind::Load);
        self.js.load_call = Some(call);
        if self.setup.sdk.token_cache == TokenCacheKind::SecureStore {
            self.read_storage(StorageKey::ClientJwt);
        }
        self.send_load();
    }

    fn send_load(&mut self) {
        self.js.load_attempt += 1;
        self.js.load_parts = (None, None);
        let attempt = self.js.load_attempt;
        self.send(FapiRequest::Environment, Purpose::Load { client: false, attempt, tries: 1 });
        self.send(FapiRequest::GetClient, Purpose::Load { client: true, attempt, tries: 1 });
    }

    /// Records one half of `Promise.all([environment, client])`; once both are in, keeps the
    /// environment and returns the client to apply.
    fn take_load_part(&mut self, client: bool, answer: FapiReply) -> Option<ClientView> {
        if client {
            self.js.load_parts.1 = answer.client;
        } else if let ReplyBody::Environment(env) = answer.body {
            self.js.load_parts.0 = Some(env);
        }
        let (Some(env), Some(view)) = self.js.load_parts.clone() else { return None };
        self.js.env = Some(env);
        Some(view)
    }

    fn load_answer(&mut self, client: bool, attempt: u32, tries: u32, reply: Reply) {
        if attempt != self.js.load_attempt || self.js.status != LoadStatus::Loading {
            return;
        }
        match reply {
            Reply::Answer(a) if a.is_ok() => {
                if let Some(view) = self.take_load_part(client, a) {
                    self.apply_client(&view, self.js.signout_epoch);
                    self.finish_load(LoadStatus::Ready, CallResult::Ok);
                }
            }
            Reply::NetworkError if tries < self.rules.get_tries_max => {
                // clerk-js retries GETs (only) when fetch throws.
                let at = self.now.plus(self.rules.get_retry_delay_ms(tries - 1));
                self.schedule_js(at, JsJob::GetRetry { client, attempt, tries: tries + 1 });
            }
            other => self.load_failed(other),
        }
    }

    fn load_failed(&mut self, reply: Reply) {
        let failure = match &reply {
            Reply::Answer(a) => Failure::from_reply(a),
            Reply::NetworkError => Failure::network(),
        };
        // Promise.all rejects at the first failure; the other GET's answer is ignored.
        self.js.load_attempt += 1;
        if self.setup.sdk.resource_cache {
            let cached = match self.read_storage(StorageKey::CachedClient) {
                Some(Payload::Client(view)) => Some(view),
                _ => None,
            };
            self.read_storage(StorageKey::CachedEnvironment);
            self.js.env = Some(self.server.environment());
            match cached {
                Some(view) => self.apply_client(&view, self.js.signout_epoch),
                None => self.js.slot = Slot::Null,
            }
            self.finish_load(LoadStatus::Degraded, CallResult::Ok);
            let at = self.now.plus(self.rules.resource_retry_first_ms);
            self.schedule_js(at, JsJob::ResourceReload { n: 0 });
            return;
        }
        match self.rules.load_failure {
            LoadFailurePolicy::StuckUnloaded => {
                self.js.status = LoadStatus::Error { loaded: false };
                let result = CallResult::Error { status: failure.status, code: failure.code };
                if let Some(call) = self.js.load_call.take() {
                    self.settle(call, result);
                }
            }
            LoadFailurePolicy::RetryThenSignedOut => {
                if self.js.load_retries < self.rules.retries_max && !failure.is_final() {
                    let at = self.now.plus(self.rules.retry_delay_ms(self.js.load_retries));
                    self.js.load_retries += 1;
                    let attempt = self.js.load_attempt;
                    self.schedule_js(at, JsJob::LoadRetry { attempt });
                } else {
                    self.js.slot = Slot::Null;
                    let result = CallResult::Error { status: failure.status, code: failure.code };
                    self.finish_load(LoadStatus::Error { loaded: true }, result);
                }
            }
        }
    }

    fn finish_load(&mut self, status: LoadStatus, result: CallResult) {
        self.js.status = status;
        if self.js.slot == Slot::Undefined {
            self.js.slot = Slot::Null;
        }
        if let Some(call) = self.js.load_call.take() {
            self.settle(call, result);
        }
        self.render();
        // The iOS native layer is configured from JS once JS has loaded (Expo 4.x order).
        if self.device.platform == Platform::Ios && !self.native.configured {
            self.native.configured = true;
            self.native.device_token = self.held_client_token();
        }
        for call in std::mem::take(&mut self.js.load_waiters) {
            match self.js.calls.get(&call).map(|c| c.kind) {
                Some(CallKind::SignIn) => self.send_sign_in(call),
                Some(_) => self.token_begin(call),
                None => {}
            }
        }
    }

    /// The sign-in screen's password sign-in of the test user.
    fn send_sign_in(&mut self, call: CallId) {
        self.send(
            FapiRequest::SignIn {
                identifier: TEST_USER_IDENTIFIER.into(),
                password: TEST_USER_PASSWORD.into(),
            },
            Purpose::Call(call),
        );
    }

    fn reload_answer(&mut self, client: bool, attempt: u32, reply: Reply) {
        if attempt != self.js.load_attempt || self.js.status != LoadStatus::Degraded {
            return;
        }
        match reply {
            Reply::Answer(a) if a.is_ok() => {
                if let Some(view) = self.take_load_part(client, a) {
                    self.apply_client(&view, self.js.signout_epoch);
                    self.js.status = LoadStatus::Ready;
                }
            }
            other => {
                self.js.load_attempt += 1;
                let (network, final_4xx) = match &other {
                    Reply::NetworkError => (true, false),
                    Reply::Answer(a) => (false, Failure::from_reply(a).is_final()),
                };
                if !final_4xx {
                    let n = self.js.load_retries;
                    let at = self.now.plus(self.rules.resource_retry_delay_ms(n, network));
                    self.schedule_js(at, JsJob::ResourceReload { n: n + 1 });
                }
            }
        }
    }

    fn is_loaded(&self) -> bool {
        matches!(
            self.js.status,
            LoadStatus::Ready | LoadStatus::Degraded | LoadStatus::Error { loaded: true }
        )
    }

    // --------------------------------------------------------------------------- tokens

    /// `getToken` (or the API wrapper's `session.getToken`) for `call`, from the top: wait for
    /// load, answer signed-out, apply the offline rule, consult the cache, or fetch.
    fn token_begin(&mut self, call: CallId) {
        let Some(c) = self.js.calls.get(&call) else {
            return;
        };
        let (kind, skip_cache) = (c.kind, c.skip_cache);
        let waits_for_load = kind != CallKind::ApiCall;
        if waits_for_load && !self.is_loaded() {
            self.js.load_waiters.push(call);
            return;
        }
        let sid = match self.js.slot {
            Slot::Some(v) => v.id,
            _ => return self.token_done(call, Ok(None)),
        };
        let now = self.now;
        if self.device.network == Network::Offline
            && self.rules.offline == OfflinePolicy::ThrowOrCached
        {
            if self.setup.sdk.resource_cache
                && let Some((token, _)) = self.js.cache.filter(|(t, _)| !t.is_expired_at(now))
            {
                return self.token_done(call, Ok(Some(token)));
            }
            return self.token_done(call, Err(Failure::network()));
        }
        let fresh = self.js.cache.filter(|(t, _)| t.sid == sid).map(|(t, _)| t);
        match self.rules.cache {
            CachePolicy::HitUntil => {
                if !skip_cache {
                    if let Some((req, _)) = self.js.fetch.filter(|f| f.1 == sid) {
                        return self.join_fetch(req, call);
                    }
                    if let Some(token) = fresh {
                        if token.remaining_ms(now) > self.rules.hit_min_remaining_ms as i64 {
                            return self.token_done(call, Ok(Some(token)));
                        }
                        self.clear_token_cache();
                    }
                }
            }
            CachePolicy::StaleWhileRevalidate => {
                if !skip_cache && let Some(token) = fresh {
                    let remaining = token.remaining_ms(now);
                    if remaining > 0 {
                        if remaining <= self.rules.swr_window_ms as i64 {
                            self.start_background_refresh(sid);
                        }
                        return self.token_done(call, Ok(Some(token)));
                    }
                }
                if let Some((req, _)) = self.js.fetch.filter(|f| f.1 == sid) {
                    return self.join_fetch(req, call);
                }
            }
        }
        if self.rules.single_flight_all
            && let Some((req, _)) = self.js.fetch.or(self.js.bg).filter(|f| f.1 == sid)
        {
            return self.join_fetch(req, call);
        }
        let request = self.token_request(sid, skip_cache);
        let req = self.send(request, Purpose::TokenFetch { waiters: vec![call] });
        self.js.fetch = Some((req, sid));
        if self.rules.cache == CachePolicy::HitUntil {
            // clerk-js stores the pending resolver in the slot at once.
            self.js.cache = None;
            self.js.cache_gen += 1;
        }
    }

    fn join_fetch(&mut self, req: RequestId, call: CallId) {
        match self.flights.get_mut(&req).map(|f| &mut f.purpose) {
            Some(Purpose::TokenFetch { waiters }) => waiters.push(call),
            _ => {
                // A background refresh (documented profile) becomes joinable: convert it.
                if let Some(flight) = self.flights.get_mut(&req) {
                    flight.purpose = Purpose::TokenFetch { waiters: vec![call] };
                    if let Some(bg) = self.js.bg.filter(|b| b.0 == req) {
                        self.js.bg = None;
                        self.js.fetch = Some(bg);
                    }
                }
            }
        }
    }

    fn token_request(&self, sid: SessionId, skip_cache: bool) -> FapiRequest {
        let minter = self.js.env.is_some_and(|e| e.session_minter);
        let carried =
            if minter && self.rules.carries_last_token { self.js.last_token } else { None };
        FapiRequest::Tokens { sid, carried, force_origin: skip_cache }
    }

    fn start_background_refresh(&mut self, sid: SessionId) {
        if self.rules.single_flight_all {
            if self.js.fetch.or(self.js.bg).is_some_and(|f| f.1 == sid) {
                return;
            }
            let request = self.token_request(sid, false);
            let req = self.send(request, Purpose::TokenFetch { waiters: Vec::new() });
            self.js.fetch = Some((req, sid));
        } else {
            if self.js.bg.is_some() {
                return;
            }
            let request = self.token_request(sid, false);
            let req = self.send(request, Purpose::BackgroundRefresh);
            self.js.bg = Some((req, sid));
        }
    }

    /// clerk-js's per-token refresh timer, with the headless guard of PR #8303.
    fn refresh_timer(&mut self) {
        let Slot::Some(v) = self.js.slot else { return };
        if self.js.last_token.is_some_and(|t| t.is_expired_at(self.now)) {
            return;
        }
        self.start_background_refresh(v.id);
    }

    fn fetch_answer(&mut self, id: RequestId, waiters: Vec<CallId>, reply: Reply) {
        if self.js.fetch.is_some_and(|f| f.0 == id) {
            self.js.fetch = None;
        }
        let outcome: TokenOutcome = match &reply {
            Reply::Answer(a) => match a.body {
                ReplyBody::Token(token) => Ok(Some(token)),
                _ => Err(Failure::from_reply(a)),
            },
            Reply::NetworkError => Err(Failure::network()),
        };
        if let Ok(Some(token)) = outcome {
            self.token_resolved(token);
        }
        let stale = matches!(outcome, Ok(Some(t)) if t.is_expired_at(self.now));
        for call in waiters {
            match &outcome {
                Ok(_) if stale && self.rules.refetches_expired_delivery => self.token_begin(call),
                Ok(token) => self.token_done(call, Ok(*token)),
                Err(failure) => self.token_failed(call, failure.clone()),
            }
        }
    }

    /// A token came back: cache it if it is fresher, re-arm timers, update `lastActiveToken`.
    fn token_resolved(&mut self, token: TokenInfo) {
        let current = match self.js.slot {
            Slot::Some(v) => Some(v.id),
            _ => None,
        };
        if current != Some(token.sid) {
            return;
        }
        if self.js.last_token.is_none_or(|t| t.serial < token.serial) {
            self.js.last_token = Some(token);
        }
        self.set_cached(token);
        self.persist_resources();
    }

    fn set_cached(&mut self, token: TokenInfo) {
        if self.js.cache.is_some_and(|(t, _)| t.serial >= token.serial) {
            return;
        }
        self.js.cache_gen += 1;
        let epoch = self.js.cache_gen;
        let remaining = token.remaining_ms(self.now);
        if remaining <= 0 {
            self.js.cache = None;
            return;
        }
        self.js.cache = Some((token, epoch));
        if let RefreshPolicy::TimerBeforeExpiry { lead_ms } = self.rules.refresh {
            let remaining = remaining as u64;
            let now = self.now;
            self.schedule_js(now.plus(remaining), JsJob::EvictTimer { epoch });
            if remaining > lead_ms {
                self.schedule_js(now.plus(remaining - lead_ms), JsJob::RefreshTimer { epoch });
            }
        }
    }

    /// Drops the cached token. clerk-js's `clear()` also forgets the pending fetch (its
    /// next caller starts another); a single-flight SDK keeps joining the one in flight.
    fn clear_token_cache(&mut self) {
        self.js.cache = None;
        self.js.cache_gen += 1;
        if !self.rules.single_flight_all {
            self.js.fetch = None;
        }
    }

    /// A token attempt failed: 4xx (not 429) is final; others retry on the profile's schedule.
    fn token_failed(&mut self, call: CallId, failure: Failure) {
        let Some(c) = self.js.calls.get_mut(&call) else {
            return;
        };
        if failure.is_final() || c.retries >= self.rules.retries_max {
            return self.token_done(call, Err(failure));
        }
        let mut delay = self.rules.retry_delay_ms(c.retries);
        if self.rules.honours_retry_after
            && let Some(after) = failure.retry_after_ms
        {
            delay = delay.max(after);
        }
        c.retries += 1;
        self.log.push(Happening::RetryScheduled {
            at: self.now,
            call,
            delay_ms: delay,
            retry_after_ms: failure.retry_after_ms,
        });
        let at = self.now.plus(delay);
        self.schedule_js(at, JsJob::CallRetry { call });
    }

    fn token_done(&mut self, call: CallId, outcome: TokenOutcome) {
        let Some(c) = self.js.calls.get(&call) else {
            return;
        };
        match c.kind {
            CallKind::ApiCall => self.api_token(call, outcome),
            CallKind::GetToken => {
                let outcome = self.expo_use_auth(c.skip_cache, outcome);
                self.settle(call, token_result(outcome));
            }
            _ => self.settle(call, token_result(outcome)),
        }
    }

    /// Expo's `useAuth().getToken` wrapper, active with the resource cache and no options:
    /// saves tokens, and on a network error returns the cached one (reference §1.5).
    fn expo_use_auth(&mut self, skip_cache: bool, outcome: TokenOutcome) -> TokenOutcome {
        if !self.setup.sdk.resource_cache || skip_cache {
            return outcome;
        }
        match outcome {
            Err(f) if f.status == 0 && self.rules.offline_returns_stale => {
                match self.read_storage(StorageKey::CachedSessionJwt) {
                    Some(Payload::SessionJwt(token)) => Ok(Some(token)),
                    _ => Err(f),
                }
            }
            other => other,
        }
    }

    // ------------------------------------------------------------------ client payloads

    /// `handleUnauthenticated()`: reload the client; sign out if no session remains.
    fn handle_unauthenticated(&mut self) {
        if !matches!(self.js.slot, Slot::Some(_)) || self.js.unauth.is_some() {
            return;
        }
        let req = self.send(FapiRequest::GetClient, Purpose::Unauthenticated);
        self.js.unauth = Some(req);
    }

    /// `updateClient`: rebuild sessions, pick the current one, hydrate the token cache.
    fn apply_client(&mut self, view: &ClientView, signout_epoch: u32) {
        if self.rules.ignores_stale_payloads && signout_epoch != self.js.signout_epoch {
            return;
        }
        if self.rules.keeps_newest_client_token
            && let Some(held) = self.held_client_token()
            && held.client != view.id
        {
            return;
        }
        let view = Arc::new(view.clone());
        // clerk-js selects a session from a payload only while it holds no client yet.
        let held_client = self.rules.payload_selects_initially_only && self.js.client.is_some();
        self.js.client = Some(view.clone());
        let signed_in =
            |id: SessionId| view.sessions.iter().find(|s| s.id == id && s.status.is_signed_in());
        let current = match self.js.slot {
            Slot::Some(v) => Some(v.id),
            _ => None,
        };
        // clerk-js keeps a held session by id only: once it is no longer signed in the app has
        // no session, even if the client's last active session is another one.
        let held_only = self.rules.keeps_current_session_only && current.is_some();
        // With `payload_selects_initially_only` the session being switched to is set by its
        // own call once the touch answers (`activate`), not by whichever payload comes first.
        let preferred = self.js.preferred.filter(|_| !self.rules.payload_selects_initially_only);
        let chosen = preferred
            .and_then(signed_in)
            .or_else(|| current.and_then(signed_in))
            .or_else(|| if held_only || held_client { None } else { view.selected_session() });
        let next = match chosen {
            Some(s) => Slot::Some(SessionView {
                id: s.id,
                status: s.status,
                task: s.tasks.first().copied(),
            }),
            None => Slot::Null,
        };
        let token = chosen.and_then(|s| s.last_active_token);
        let cause =
            if self.js.user_signing_out { SignOutCause::User } else { SignOutCause::ClientPayload };
        if self.js.status == LoadStatus::Loading && next == Slot::Null {
            self.js.slot = Slot::Null;
        } else {
            self.set_slot(next, cause);
        }
        if let Some(token) = token {
            // Every client payload re-seeds the cache (clerk-js `#hydrateCache`).
            if self.js.last_token.is_none_or(|t| t.serial < token.serial) {
                self.js.last_token = Some(token);
            }
            if self.rules.cache == CachePolicy::HitUntil {
                self.js.fetch = None;
            }
            self.set_cached(token);
        }
        self.persist_resources();
    }

    /// Whether `getToken` for `sid` would answer from the cache (every payload seeds it with
    /// each session's last token, clerk-js `#hydrateCache`).
    fn token_cached_for(&self, sid: SessionId) -> bool {
        let (now, min) = (self.now, self.rules.hit_min_remaining_ms as i64);
        let fresh = |t: &TokenInfo| t.sid == sid && t.remaining_ms(now) > min;
        let seeded = self.js.client.as_ref().is_some_and(|c| {
            c.sessions
                .iter()
                .any(|s| s.id == sid && s.last_active_token.as_ref().is_some_and(fresh))
        });
        seeded || self.js.cache.is_some_and(|(t, _)| fresh(&t))
    }

    /// `setActive`'s last step: `sid` becomes current if the held client has it signed in;
    /// its last token seeds the cache. Returns whether it was set.
    fn activate(&mut self, sid: SessionId) -> bool {
        let Some(s) = self.js.client.as_ref().and_then(|c| {
            c.sessions.iter().find(|s| s.id == sid && s.status.is_signed_in()).cloned()
        }) else {
            return false;
        };
        let next =
            Slot::Some(SessionView { id: s.id, status: s.status, task: s.tasks.first().copied() });
        let cause =
            if self.js.user_signing_out { SignOutCause::User } else { SignOutCause::ClientPayload };
        self.set_slot(next, cause);
        if let Some(token) = s.last_active_token {
            if self.js.last_token.is_none_or(|t| t.serial < token.serial) {
                self.js.last_token = Some(token);
            }
            self.set_cached(token);
        }
        self.persist_resources();
        true
    }

    fn set_slot(&mut self, next: Slot, cause: SignOutCause) {
        let before = self.js.slot;
        let was_signed_in = matches!(before, Slot::Some(_))
            || (before == Slot::Undefined && self.js.transitive_from_session);
        if !matches!(next, Slot::Undefined) {
            self.js.transitive_from_session = false;
        }
        let now_signed_in = matches!(next, Slot::Some(_));
        let changed_session = match (before, next) {
            (Slot::Some(a), Slot::Some(b)) => a.id != b.id,
            _ => was_signed_in != now_signed_in,
        };
        self.js.slot = next;
        if changed_session {
            self.clear_token_cache();
            self.js.last_token = None;
            self.js.recurring_gen += 1;
        }
        if was_signed_in && matches!(next, Slot::Null) {
            self.log.push(Happening::SignedOut { at: self.now, cause, server_revoke: false });
            if cause == SignOutCause::User {
                self.js.shell.return_to = None;
                self.js.shell.current_path = AppPath::home();
            } else {
                self.js.shell.return_to = Some(self.js.shell.current_path.clone());
            }
            self.js.user_signing_out = false;
        }
        if now_signed_in && changed_session {
            self.arm_recurring();
        }
        self.js.preferred = None;
        if self.js.status != LoadStatus::Loading {
            self.render();
        }
    }

    fn arm_recurring(&mut self) {
        if let RefreshPolicy::Recurring { interval_ms } = self.rules.refresh {
            self.js.recurring_gen += 1;
            let epoch = self.js.recurring_gen;
            let at = self.now.plus(interval_ms);
            self.schedule_js(at, JsJob::RecurringRefresh { epoch });
        }
    }

    /// The resource cache's listener: persist client, environment and session token.
    fn persist_resources(&mut self) {
        if !self.setup.sdk.resource_cache || !self.is_loaded() {
            return;
        }
        if let Some(view) = self.js.client.clone() {
            let credential = view.selected_session().is_some();
            self.write_storage(StorageKey::CachedClient, Payload::Client(view), credential);
            self.write_storage(StorageKey::CachedEnvironment, Payload::Environment, false);
        }
        match (self.js.slot, self.js.last_token) {
            (Slot::Some(v), Some(token)) if token.sid == v.id => {
                self.write_storage(StorageKey::CachedSessionJwt, Payload::SessionJwt(token), true);
            }
            (Slot::Null, _) => self.delete_storage(StorageKey::CachedSessionJwt),
            _ => {}
        }
    }

    // ---------------------------------------------------------------------------- calls

    fn start_call(&mut self, kind: CallKind) -> CallId {
        let id = CallId(self.next_call);
        self.next_call += 1;
        self.js.calls.insert(
            id,
            Call { kind, skip_cache: false, retries: 0, api: ApiStage::Token, target: None },
        );
        self.log.push(Happening::CallStarted { at: self.now, call: id, kind });
        id
    }

    fn settle(&mut self, call: CallId, result: CallResult) {
        if let Some(c) = self.js.calls.remove(&call) {
            // The user's leaving ends with the call that asked for it, whatever it found.
            if matches!(c.kind, CallKind::SignOut | CallKind::SessionEnd | CallKind::SessionRemove)
            {
                self.js.user_signing_out = false;
            }
            self.log.push(Happening::CallSettled { at: self.now, call, kind: c.kind, result });
        }
    }

    /// The answer to a user-facing call's request.
    fn call_answer(&mut self, call: CallId, request: &FapiRequest, reply: Reply) {
        let Some((kind, target)) = self.js.calls.get(&call).map(|c| (c.kind, c.target)) else {
            return;
        };
        let touch = matches!(request, FapiRequest::Touch { .. });
        if touch
            && self.rules.touch_401_falls_back_to_cache
            && matches!(&reply, Reply::Answer(a) if a.status == 401)
            && let Some(sid) = target
            && self.token_cached_for(sid)
            && self.activate(sid)
        {
            // clerk-js `setActive` swallows the touch's 401, and `getToken()` answers from the
            // cache: the session is set. Without a cached token its fetch meets the same 401
            // and `setActive` throws (the failure path below).
            return self.settle(call, CallResult::Ok);
        }
        let answer = match reply {
            Reply::Answer(a) if a.is_ok() => a,
            other => {
                let failure = match &other {
                    Reply::Answer(a) => Failure::from_reply(a),
                    Reply::NetworkError => Failure::network(),
                };
                match kind {
                    CallKind::SignOut => {
                        // Signed out locally whatever the server said; a credential the server
                        // may still honour is wiped so it cannot restore the session later.
                        self.delete_storage(StorageKey::ClientJwt);
                        self.delete_storage(StorageKey::CachedClient);
                        self.delete_storage(StorageKey::CachedSessionJwt);
                        self.js.memory_token = None;
                        self.js.client = None;
                        self.set_slot(Slot::Null, SignOutCause::User);
                    }
                    CallKind::SessionEnd | CallKind::SessionRemove => {
                        self.js.user_signing_out = false;
                    }
                    CallKind::SetActive => self.js.preferred = None,
                    _ => {}
                }
                let result = CallResult::Error { status: failure.status, code: failure.code };
                return self.settle(call, result);
            }
        };
        match (kind, &answer.body) {
            (CallKind::SignIn, ReplyBody::SignIn { created_session }) => {
                // `setActive({session})` touches the new session on native.
                let sid = *created_session;
                self.js.preferred = Some(sid);
                if let Some(c) = self.js.calls.get_mut(&call) {
                    c.kind = CallKind::SignIn;
                    c.target = Some(sid);
                }
                self.send(FapiRequest::Touch { sid }, Purpose::Call(call));
            }
            (CallKind::SignOut, _) => {
                self.set_slot(Slot::Null, SignOutCause::User);
                self.settle(call, CallResult::Ok);
            }
            (CallKind::SignIn | CallKind::SetActive, _)
                if touch && self.rules.payload_selects_initially_only =>
            {
                // clerk-js `setActive`: touch, `getToken`, then this call's own session is set.
                if let Some(sid) = target {
                    self.activate(sid);
                }
                self.settle(call, CallResult::Ok);
            }
            _ => {
                let _ = request;
                self.settle(call, CallResult::Ok);
            }
        }
    }

    // ------------------------------------------------------------------------ app shell

    /// The article's `useForegroundRefresh`: on return to `active`, if signed in, force a
    /// fresh token.
    fn foreground_refresh(&mut self) {
        if self.view.is_signed_in == Some(true) {
            let call = self.start_call(CallKind::ForegroundRefresh);
            self.js.calls.get_mut(&call).expect("just started").skip_cache = true;
            self.token_begin(call);
        }
    }

    fn navigate(&mut self, path: AppPath) {
        match self.view.is_signed_in {
            Some(true) => self.js.shell.current_path = path,
            Some(false) => self.js.shell.return_to = Some(path),
            None => {
                // A deep link while loading: land there once loaded, or return there after
                // sign-in.
                self.js.shell.current_path = path.clone();
                self.js.shell.return_to = Some(path);
            }
        }
    }

    /// The API wrapper got its token (first attempt, or the refresh after a 401).
    fn api_token(&mut self, call: CallId, outcome: TokenOutcome) {
        let Some(stage) = self.js.calls.get(&call).map(|c| c.api) else {
            return;
        };
        match stage {
            ApiStage::Token => match outcome {
                Ok(token) => self.send_backend(call, 1, token),
                Err(f) => self.settle(call, CallResult::Error { status: f.status, code: f.code }),
            },
            ApiStage::Refreshing => {
                self.js.shell.refreshing = None;
                let queue = std::mem::take(&mut self.js.shell.queue);
                match outcome {
                    Ok(Some(token)) => {
                        for queued in queue {
                            self.send_backend(queued, 2, Some(token));
                        }
                        self.send_backend(call, 2, Some(token));
                    }
                    Ok(None) => {
                        for queued in queue {
                            self.settle(queued, api_unauthorized("session expired"));
                        }
                        self.settle(call, api_unauthorized("session expired"));
                    }
                    Err(f) => {
                        for queued in queue {
                            let result =
                                CallResult::Error { status: f.status, code: f.code.clone() };
                            self.settle(queued, result);
                        }
                        self.settle(call, CallResult::Error { status: f.status, code: f.code });
                    }
                }
            }
            ApiStage::Backend { .. } | ApiStage::Queued => {}
        }
    }

    fn send_backend(&mut self, call: CallId, attempt: u8, token: Option<TokenInfo>) {
        let Some(c) = self.js.calls.get_mut(&call) else {
            return;
        };
        c.api = ApiStage::Backend { attempt };
        let now = self.now;
        if self.device.network == Network::Offline {
            self.schedule_js(now, JsJob::BackendReply { call, status: 0 });
            return;
        }
        self.backend_in_flight += 1;
        let at = now.plus(self.setup.net.backend_latency_ms);
        let js = self.js.runtime;
        self.schedule(at, Job::BackendArrive { call, attempt, token, sent_at: now, js });
    }

    /// The app's backend verifies the token against the server's truth.
    fn backend_arrive(
        &mut self,
        call: CallId,
        attempt: u8,
        token: Option<TokenInfo>,
        sent_at: VTime,
        js: u32,
    ) {
        self.backend_in_flight -= 1;
        let now = self.now;
        let status = match token {
            Some(t) if self.server.check_session_token(&t, now).is_ok() => 200,
            _ => 401,
        };
        self.log.push(Happening::BackendHit { at: now, sent_at, call, attempt, token, status });
        self.schedule(now, Job::Js { js, job: JsJob::BackendReply { call, status } });
    }

    /// The article's Axios response interceptor.
    fn api_backend_reply(&mut self, call: CallId, status: u16) {
        let Some(c) = self.js.calls.get_mut(&call) else {
            return;
        };
        let ApiStage::Backend { attempt } = c.api else {
            return;
        };
        match status {
            200..=299 => self.settle(call, CallResult::Ok),
            401 if attempt == 1 => {
                if self.js.shell.refreshing.is_some() {
                    c.api = ApiStage::Queued;
                    self.js.shell.queue.push(call);
                } else {
                    c.api = ApiStage::Refreshing;
                    c.skip_cache = true;
                    c.retries = 0;
                    self.js.shell.refreshing = Some(call);
                    self.token_begin(call);
                }
            }
            0 => self.settle(call, CallResult::Error { status: 0, code: "network_error".into() }),
            other => {
                self.settle(call, CallResult::Error { status: other, code: "api_error".into() })
            }
        }
    }

    /// Recomputes what is on screen; logs a render when anything changed.
    fn render(&mut self) {
        let view = self.auth_view();
        if view != self.view {
            if view.is_signed_in == Some(true) && self.view.is_signed_in != Some(true) {
                if let Some(back) = self.js.shell.return_to.take() {
                    self.js.shell.current_path = back;
                }
            }
            let view = self.auth_view();
            self.log.push(Happening::Rendered { at: self.now, view: view.clone() });
            self.view = view;
        }
    }

    fn auth_view(&self) -> AuthView {
        if !self.device.running {
            return AuthView::closed();
        }
        let loaded = self.is_loaded() && self.js.slot != Slot::Undefined;
        let session = match self.js.slot {
            Slot::Some(v) => Some(v),
            _ => None,
        };
        let is_signed_in = if !loaded {
            None
        } else {
            Some(session.is_some_and(|s| {
                s.status == SessionStatus::Active
                    || (s.status == SessionStatus::Pending
                        && !self.setup.sdk.treat_pending_as_signed_out)
            }))
        };
        let shell = &self.js.shell;
        let route = if !loaded {
            Route::Loading
        } else if let Some(SessionView { status: SessionStatus::Pending, task, .. }) = session {
            Route::Task { key: task.unwrap_or(TaskKey::ChooseOrganization) }
        } else if session.is_some() {
            Route::Protected { path: shell.current_path.clone() }
        } else {
            Route::SignIn { return_to: shell.return_to.clone() }
        };
        AuthView { route, is_loaded: loaded, is_signed_in, session }
    }
}

fn token_result(outcome: TokenOutcome) -> CallResult {
    match outcome {
        Ok(Some(token)) => CallResult::Token { token },
        Ok(None) => CallResult::Null,
        Err(f) => CallResult::Error { status: f.status, code: f.code },
    }
}

fn api_unauthorized(code: &str) -> CallResult {
    CallResult::Error { status: 401, code: code.to_string() }
}
