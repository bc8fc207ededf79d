//! The reference SDK itself: clerk-js core, `@clerk/expo` and the app shell, as async Rust.
//!
//! One [`Core`] is one installed app: the process (native layer, running or not), the JS
//! runtime ([`Runtime`], replaced on every launch and JS reload), the JS event loop
//! (macrotasks on the virtual clock, microtasks on the [`Executor`]), and the network: FAPI
//! requests go through [`InProcess`] — the server applies them when sent, the answer comes back
//! after the latency on the tokio clock — and API calls reach the app's [`Backend`].
//!
//! Flows are `async fn`s, as in the JS they render: a `getToken` call waits for `load()`, joins
//! the in-flight token fetch or starts one, and retries on the profile's schedule; an API call
//! attaches a token, and on a 401 leads the one refresh or queues behind it, then retries once.
//! Shared state lives in `RefCell`s that are never held across an `.await`.
//!
//! Rules come from the run's [`Profile`] (data) and the switched-on [`Defects`]; every defect is
//! rendered at the place the real bug lives (search `Defect::`). Nothing here calls the model.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::backend::Backend;
use crate::fapi::{Delivery, Fapi, HttpRequest, HttpResponse, InProcess, lock};
use crate::model::Observation;
use crate::model::device::{Device, Payload};
use crate::model::profile::{
    CachePolicy, LoadFailurePolicy, OfflinePolicy, Profile, RefreshPolicy,
};
use crate::model::server::{
    ClientToken, ClientView, EnvironmentView, FapiReply, ReplyBody, SessionSnap,
    TEST_USER_IDENTIFIER, TEST_USER_PASSWORD,
};
use crate::model::settings::{Setup, TokenCacheKind};
use crate::model::time::VTime;
use crate::model::vocab::{
    AppPath, AppState, AuthView, CallId, CallKind, CallResult, Defect, Endpoint, Event, FaultKind,
    Happening, Network, Platform, RequestId, RequestOutcome, Route, SessionId, SessionStatus,
    SessionView, SignOutCause, StorageKey, TaskKey, TimerKind, TokenInfo,
};

use super::exec::{Executor, Promise};
use crate::sdk::defects::{Defects, RETRY_401_LOOP_ATTEMPTS_MAX};
use crate::sdk::env;

/// The iOS bootstrap of `@clerk/expo` 3.2.7 polls the native session this often …
const NATIVE_POLL_INTERVAL_MS: u64 = 100;
/// … this many times (3 s) before giving up (the seed report).
const NATIVE_POLLS_MAX: u32 = 30;

// ------------------------------------------------------------------------------- requests

/// A FAPI request as the SDK builds it.
#[derive(Clone, Debug)]
enum Req {
    Environment,
    GetClient,
    SignIn,
    Tokens { sid: SessionId, carried: Option<TokenInfo>, force_origin: bool },
    Touch { sid: SessionId },
    End { sid: SessionId },
    Remove { sid: SessionId },
    RemoveSessions,
    ResolveTask { sid: SessionId, task: TaskKey },
}

impl Req {
    fn endpoint(&self) -> Endpoint {
        match self {
            Req::Environment => Endpoint::Environment,
            Req::GetClient => Endpoint::GetClient,
            Req::SignIn => Endpoint::SignIn,
            Req::Tokens { .. } => Endpoint::Tokens,
            Req::Touch { .. } => Endpoint::Touch,
            Req::End { .. } => Endpoint::End,
            Req::Remove { .. } => Endpoint::Remove,
            Req::RemoveSessions => Endpoint::RemoveSessions,
            Req::ResolveTask { .. } => Endpoint::ResolveTask,
        }
    }

    fn sid(&self) -> Option<SessionId> {
        match self {
            Req::Tokens { sid, .. }
            | Req::Touch { sid }
            | Req::End { sid }
            | Req::Remove { sid }
            | Req::ResolveTask { sid, .. } => Some(*sid),
            _ => None,
        }
    }

    /// The HTTP request clerk-js would send on native (reference §4.2): `_is_native`, the raw
    /// client token in `authorization`, form bodies, `_method` for DELETE.
    fn to_http(&self, token: Option<ClientToken>, fapi: &Fapi, now: VTime) -> HttpRequest {
        let session = |sid: &SessionId, tail: &str| format!("/v1/client/sessions/{sid}/{tail}");
        let http = match self {
            Req::Environment => HttpRequest::get("/v1/environment"),
            Req::GetClient => HttpRequest::get("/v1/client"),
            Req::SignIn => HttpRequest::post("/v1/client/sign_ins").form(&[
                ("strategy", "password"),
                ("identifier", TEST_USER_IDENTIFIER),
                ("password", TEST_USER_PASSWORD),
            ]),
            Req::Tokens { sid, carried, force_origin } => {
                let force = if *force_origin { "true" } else { "false" };
                // The session minter's `token=` is a real RS256 JWT. The minter reads it for
                // one thing only — to refuse an origin token that has expired — so a live one
                // changes no answer; the reference SDK signs (≈2 ms of RSA) only the expired
                // ones, which keeps RSA out of the bulk loop with identical observations (a
                // week in the foreground is ~14 000 refreshes).
                let jwt = carried.filter(|t| t.is_expired_at(now)).map(|t| fapi.token(t).jwt());
                let mut fields = vec![("force_origin", force)];
                if let Some(jwt) = &jwt {
                    fields.push(("token", jwt));
                }
                HttpRequest::post(&session(sid, "tokens")).form(&fields)
            }
            Req::Touch { sid } => HttpRequest::post(&session(sid, "touch")).form(&[]),
            Req::End { sid } => HttpRequest::post(&session(sid, "end")).form(&[]),
            Req::Remove { sid } => HttpRequest::post(&session(sid, "remove")).form(&[]),
            Req::RemoveSessions => {
                HttpRequest::post("/v1/client/sessions").query("_method", "DELETE").form(&[])
            }
            Req::ResolveTask { sid, task } => {
                HttpRequest::post(&session(sid, &format!("tasks/{}/resolve", task.as_str())))
                    .form(&[])
            }
        };
        let encoded = token.map(|t| t.encode());
        http.native_params().client_token(encoded.as_deref())
    }
}

/// What a response delivered to JS carries.
#[derive(Clone, Debug)]
enum Reply {
    Answer(HttpResponse),
    NetworkError,
}

impl Reply {
    fn status(&self) -> u16 {
        match self {
            Reply::Answer(r) => r.status,
            Reply::NetworkError => 0,
        }
    }

    fn is_ok(&self) -> bool {
        (200..300).contains(&self.status())
    }

    /// The typed answer (the in-process fast path: no JSON parsing, no RSA).
    fn body(&self) -> Option<&FapiReply> {
        match self {
            Reply::Answer(r) => r.reply(),
            Reply::NetworkError => None,
        }
    }

    fn client(&self) -> Option<&ClientView> {
        self.body().and_then(|b| b.client.as_ref())
    }

    fn failure(&self) -> Failure {
        match self {
            Reply::NetworkError => Failure::network(),
            Reply::Answer(r) => Failure {
                status: r.status,
                code: r
                    .reply()
                    .and_then(|b| b.error_code())
                    .unwrap_or("unexpected_response")
                    .to_string(),
                retry_after_ms: r.reply().and_then(|b| b.retry_after_ms),
            },
        }
    }
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

    /// A 4xx other than 429 was understood and refused: retrying cannot help.
    fn is_final(&self) -> bool {
        (400..500).contains(&self.status) && self.status != 429
    }

    fn result(&self) -> CallResult {
        CallResult::Error { status: self.status, code: self.code.clone() }
    }
}

type TokenOutcome = Result<Option<TokenInfo>, Failure>;

/// A token fetch's result as its waiters get it, and whether the token had already expired
/// when it reached JS.
type Fetched = (TokenOutcome, bool);

fn token_result(outcome: &TokenOutcome) -> CallResult {
    match outcome {
        Ok(Some(token)) => CallResult::Token { token: *token },
        Ok(None) => CallResult::Null,
        Err(f) => f.result(),
    }
}

/// Why a request was sent: decides what its answer does.
enum Purpose {
    /// `load()`'s environment or client GET.
    Load { client: bool, attempt: u32, tries: u32 },
    /// The resource cache's recovery reload.
    Reload { client: bool, attempt: u32 },
    /// A joinable token fetch; `background` when a refresh (not a caller) started it.
    TokenFetch { done: Promise<Fetched>, background: bool },
    /// clerk-js's background refresh: kept out of the cache, nobody joins it.
    Background,
    /// `handleUnauthenticated()`'s `GET /client`.
    Unauthenticated,
    /// `empty-client-clobber`: JS reloading the client after the native layer pushed its token.
    NativeSync,
    /// A request of the native layer's own client: JS never sees its answer.
    Native,
    /// A user-facing call's request.
    Call(Promise<Reply>),
}

struct Flight {
    endpoint: Endpoint,
    token: Option<ClientToken>,
    purpose: Purpose,
    runtime: u32,
    signout_epoch: u32,
}

/// A FAPI request on the wire: the transport's future, polled by the event loop.
struct Net {
    req: RequestId,
    sent_at: VTime,
    fut: Pin<Box<dyn Future<Output = Delivery>>>,
}

/// Work on the virtual clock.
enum Macro {
    /// A FAPI answer reaches the device (not JS: it arrives even while JS is suspended).
    Arrive { req: RequestId, delivery: Delivery },
    /// An API request reaches the app's backend.
    BackendArrive {
        attempt: u8,
        call: CallId,
        token: Option<TokenInfo>,
        sent_at: VTime,
        runtime: u32,
        reply: Promise<u16>,
    },
    /// A JS macrotask of one runtime.
    Js { runtime: u32, job: JsJob },
}

enum JsJob {
    Deliver(RequestId, Reply),
    BackendReply(Promise<u16>, u16),
    /// A `setTimeout` an async flow awaits.
    Wake(TimerKind, Promise<()>),
    RefreshTimer(u32),
    EvictTimer(u32),
    RecurringRefresh(u32),
    GetRetry {
        client: bool,
        attempt: u32,
        tries: u32,
    },
    LoadRetry(u32),
    ResourceReload(u32),
    NativePoll(u32),
}

// ----------------------------------------------------------------------------- JS state

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LoadStatus {
    Loading,
    Ready,
    Degraded,
    Error { loaded: bool },
}

/// `clerk.session`: `undefined` while loading or switching, `null`, or a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Undefined,
    Null,
    Some(SessionView),
}

/// The 3.2.7 iOS bootstrap (`ios-native-cache-wipe` only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NativeBoot {
    Off,
    Polling,
    GaveUp,
}

struct Fetch {
    req: RequestId,
    sid: SessionId,
    done: Promise<Fetched>,
}

/// The app shell's state (route memory, the API wrapper's refresh): JS state too.
struct Shell {
    current_path: AppPath,
    return_to: Option<AppPath>,
    /// The API wrapper's one refresh after a 401, and the promise its queue waits on.
    refreshing: Option<Promise<TokenOutcome>>,
    /// `no-foreground-refresh`: the Authorization header the app had when it went to the
    /// background, which nothing replaced on return; the next API call sends it as is.
    resume_header: Option<TokenInfo>,
}

/// One JS runtime: everything lost on kill or JS reload.
struct Runtime {
    id: u32,
    status: LoadStatus,
    load_call: Option<CallId>,
    load_attempt: u32,
    load_retries: u32,
    parts: (Option<EnvironmentView>, Option<ClientView>),
    environment: Option<EnvironmentView>,
    loaded: Promise<()>,
    slot: Slot,
    client: Option<Arc<ClientView>>,
    memory_token: Option<ClientToken>,
    cache: Option<(TokenInfo, u32)>,
    cache_gen: u32,
    recurring_gen: u32,
    fetch: Option<Fetch>,
    bg: Option<(RequestId, SessionId)>,
    unauth: Option<RequestId>,
    last_token: Option<TokenInfo>,
    calls: BTreeMap<CallId, CallKind>,
    signout_epoch: u32,
    user_signing_out: bool,
    transitive_from_session: bool,
    preferred: Option<SessionId>,
    native_boot: NativeBoot,
    /// `ios-native-cache-wipe`: the JS load finished while the bootstrap still polled.
    load_done_pending: bool,
    shell: Shell,
}

impl Runtime {
    fn new(id: u32) -> Runtime {
        Runtime {
            id,
            status: LoadStatus::Loading,
            load_call: None,
            load_attempt: 0,
            load_retries: 0,
            parts: (None, None),
            environment: None,
            loaded: Promise::new(),
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
            signout_epoch: 0,
            user_signing_out: false,
            transitive_from_session: false,
            preferred: None,
            native_boot: NativeBoot::Off,
            load_done_pending: false,
            shell: Shell {
                current_path: AppPath::home(),
                return_to: None,
                refreshing: None,
                resume_header: None,
            },
        }
    }

    fn session(&self) -> Option<SessionView> {
        match self.slot {
            Slot::Some(v) => Some(v),
            _ => None,
        }
    }
}

/// The native SDK layer (clerk-ios / clerk-android): lives with the process, survives a JS
/// reload.
#[derive(Clone, Copy, Debug, Default)]
struct Native {
    configured: bool,
    device_token: Option<ClientToken>,
}

// ------------------------------------------------------------------------------ the core

/// One installed app with the reference SDK.
pub(crate) struct Core {
    pub setup: Setup,
    rules: &'static Profile,
    pub defects: Defects,
    pub fapi: Fapi,
    backend: Backend,
    transport: InProcess,
    base: Cell<Option<tokio::time::Instant>>,
    now: Cell<VTime>,
    pub device: RefCell<Device>,
    /// The environment JSON `__clerk_cache_environment` holds (the device payload is a marker).
    stored_environment: Cell<Option<EnvironmentView>>,
    log: RefCell<Vec<Happening>>,
    view: RefCell<AuthView>,
    rt: RefCell<Runtime>,
    native: Cell<Native>,
    exec: Executor,
    macros: RefCell<BTreeMap<(VTime, u64), Macro>>,
    paused: RefCell<Vec<(VTime, JsJob)>>,
    nets: RefCell<BTreeMap<u64, Net>>,
    flights: RefCell<BTreeMap<RequestId, Flight>>,
    seq: Cell<u64>,
    outer: RefCell<Option<Waker>>,
    deadline: RefCell<Option<(VTime, Pin<Box<tokio::time::Sleep>>)>>,
    next_request: Cell<u32>,
    next_call: Cell<u32>,
    backend_in_flight: Cell<u32>,
}

impl Core {
    pub fn new(setup: Setup, defects: Defects) -> Rc<Core> {
        let fapi = Fapi::new(setup.instance);
        let backend = Backend::new(&fapi);
        let transport = InProcess::new(fapi.clone(), setup.net.fapi_latency_ms);
        Rc::new(Core {
            rules: setup.profile.rules(),
            device: RefCell::new(Device::new(setup.platform)),
            setup,
            defects,
            fapi,
            backend,
            transport,
            base: Cell::new(None),
            now: Cell::new(VTime::ZERO),
            stored_environment: Cell::new(None),
            log: RefCell::new(Vec::new()),
            view: RefCell::new(AuthView::closed()),
            rt: RefCell::new(Runtime::new(0)),
            native: Cell::new(Native::default()),
            exec: Executor::default(),
            macros: RefCell::new(BTreeMap::new()),
            paused: RefCell::new(Vec::new()),
            nets: RefCell::new(BTreeMap::new()),
            flights: RefCell::new(BTreeMap::new()),
            seq: Cell::new(0),
            outer: RefCell::new(None),
            deadline: RefCell::new(None),
            next_request: Cell::new(1),
            next_call: Cell::new(1),
            backend_in_flight: Cell::new(0),
        })
    }

    pub fn now(&self) -> VTime {
        self.now.get()
    }

    fn has(&self, defect: Defect) -> bool {
        self.defects.has(defect)
    }

    fn log(&self, h: Happening) {
        self.log.borrow_mut().push(h);
    }

    /// Drops every task and timer: the core is going away. Breaks the `Rc` cycles tasks make.
    pub fn shutdown(&self) {
        self.exec.clear();
        self.macros.borrow_mut().clear();
        self.paused.borrow_mut().clear();
        self.nets.borrow_mut().clear();
        self.flights.borrow_mut().clear();
        *self.rt.borrow_mut() = Runtime::new(0);
    }

    // ------------------------------------------------------------------------- the step

    /// Applies one event, lets virtual time run to its end, and observes.
    pub async fn step(self: &Rc<Self>, event: &Event) -> Observation {
        if self.base.get().is_none() {
            self.base.set(Some(
                tokio::time::Instant::now() - std::time::Duration::from_millis(self.now().ms()),
            ));
        }
        self.log.borrow_mut().clear();
        // Requests sent by the event itself are polled with this step's waker.
        let waker = std::future::poll_fn(|cx| Poll::Ready(cx.waker().clone())).await;
        *self.outer.borrow_mut() = Some(waker);
        self.apply(event);
        let target = match event {
            Event::Advance { ms } => self.now().plus(*ms),
            _ => self.now(),
        };
        std::future::poll_fn(|cx| self.pump(cx, target)).await;
        self.checkpoint();
        self.observe()
    }

    fn instant(&self, at: VTime) -> tokio::time::Instant {
        self.base.get().expect("set at the first step") + std::time::Duration::from_millis(at.ms())
    }

    fn sync_clock(&self) {
        let base = self.base.get().expect("set at the first step");
        let elapsed =
            tokio::time::Instant::now().saturating_duration_since(base).as_millis() as u64;
        if elapsed > self.now().ms() {
            self.now.set(VTime(elapsed));
        }
    }

    /// The event loop: microtasks, arrivals, then macrotasks in (instant, sequence) order,
    /// waiting on the tokio clock between instants, until `target`.
    fn pump(self: &Rc<Self>, cx: &mut Context<'_>, target: VTime) -> Poll<()> {
        *self.outer.borrow_mut() = Some(cx.waker().clone());
        loop {
            self.sync_clock();
            // Microtasks only: the model renders after each job, not between an event and
            // the work it started.
            self.exec.run();
            self.poll_nets(cx);
            let next = self.macros.borrow().first_key_value().map(|(k, _)| k.0);
            let now = self.now();
            if let Some(due) = next
                && due <= now
            {
                let ((due, _), job) =
                    self.macros.borrow_mut().pop_first().expect("peeked just above");
                self.process(due, job);
                continue;
            }
            if now >= target {
                *self.deadline.borrow_mut() = None;
                return Poll::Ready(());
            }
            let wake_at = next.map_or(target, |d| d.min(target));
            let mut deadline = self.deadline.borrow_mut();
            if deadline.as_ref().is_none_or(|(at, _)| *at != wake_at) {
                *deadline =
                    Some((wake_at, Box::pin(tokio::time::sleep_until(self.instant(wake_at)))));
            }
            let (_, sleep) = deadline.as_mut().expect("armed just above");
            match sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    *deadline = None;
                    drop(deadline);
                    if self.now() < wake_at {
                        self.now.set(wake_at);
                    }
                }
                // Woken again by the deadline or by an answer arriving on the transport.
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Polls every FAPI request on the wire; answers that arrived become `Arrive` macrotasks,
    /// keyed by the sequence number taken when they were sent.
    fn poll_nets(&self, cx: &mut Context<'_>) {
        let mut arrived = Vec::new();
        {
            let mut nets = self.nets.borrow_mut();
            for (seq, net) in nets.iter_mut() {
                if let Poll::Ready(delivery) = net.fut.as_mut().poll(cx) {
                    arrived.push((*seq, net.req, net.sent_at, delivery));
                }
            }
            for (seq, ..) in &arrived {
                nets.remove(seq);
            }
        }
        for (seq, req, sent_at, delivery) in arrived {
            let at = sent_at.plus(delivery.latency_ms);
            self.macros.borrow_mut().insert((at, seq), Macro::Arrive { req, delivery });
        }
    }

    fn next_seq(&self) -> u64 {
        let s = self.seq.get() + 1;
        self.seq.set(s);
        s
    }

    fn schedule(&self, at: VTime, job: Macro) {
        let seq = self.next_seq();
        self.macros.borrow_mut().insert((at, seq), job);
    }

    fn schedule_js(&self, at: VTime, job: JsJob) {
        let runtime = self.rt.borrow().id;
        self.schedule(at, Macro::Js { runtime, job });
    }

    /// A microtask checkpoint, then whatever changed on screen.
    fn checkpoint(self: &Rc<Self>) {
        self.exec.run();
        self.render();
    }

    fn process(self: &Rc<Self>, due: VTime, job: Macro) {
        let now = self.now();
        match job {
            Macro::Arrive { req, delivery } => {
                let Some((endpoint, runtime)) =
                    self.flights.borrow().get(&req).map(|f| (f.endpoint, f.runtime))
                else {
                    return;
                };
                let (reply, outcome) = match delivery.result {
                    Ok(response) => {
                        let outcome = RequestOutcome::Answered {
                            status: response.status,
                            retry_after_ms: response.reply().and_then(|r| r.retry_after_ms),
                        };
                        (Reply::Answer(response), outcome)
                    }
                    Err(e) => (
                        Reply::NetworkError,
                        RequestOutcome::NetworkError { committed: e.committed() },
                    ),
                };
                let fault = delivery.fault.filter(|f| !matches!(f, FaultKind::Latency { .. }));
                self.log(Happening::RequestDone { at: now, req, endpoint, outcome, fault });
                self.schedule(now, Macro::Js { runtime, job: JsJob::Deliver(req, reply) });
            }
            Macro::BackendArrive { attempt, call, token, sent_at, runtime, reply } => {
                self.backend_in_flight.set(self.backend_in_flight.get() - 1);
                let handle = token.map(|t| self.fapi.token(t));
                let status = self.backend.call("/api/call", handle.as_ref(), now).status;
                self.log(Happening::BackendHit { at: now, sent_at, call, attempt, token, status });
                self.schedule(now, Macro::Js { runtime, job: JsJob::BackendReply(reply, status) });
            }
            Macro::Js { runtime, job } => {
                let running = self.device.borrow().running;
                if runtime != self.rt.borrow().id || !running {
                    // The runtime that sent it is gone: the answer lands nowhere.
                    if let JsJob::Deliver(req, _) = job {
                        self.flights.borrow_mut().remove(&req);
                    }
                    return;
                }
                if !self.device.borrow().js_runs() {
                    // JS is suspended in the background: the job waits, and runs late.
                    self.paused.borrow_mut().push((due, job));
                    return;
                }
                self.run_js(job, due);
            }
        }
        self.checkpoint();
    }

    fn timer_fired(&self, timer: TimerKind, due: VTime) {
        self.log(Happening::TimerFired { at: self.now(), timer, due });
    }

    fn run_js(self: &Rc<Self>, job: JsJob, due: VTime) {
        match job {
            JsJob::Deliver(req, reply) => self.deliver(req, reply),
            JsJob::BackendReply(promise, status) => promise.resolve(status),
            JsJob::Wake(timer, promise) => {
                self.timer_fired(timer, due);
                promise.resolve(());
            }
            // A timer whose cache entry was replaced was cleared: it never fires.
            JsJob::RefreshTimer(epoch) => {
                if epoch == self.rt.borrow().cache_gen {
                    self.timer_fired(TimerKind::TokenRefresh, due);
                    self.refresh_timer();
                }
            }
            JsJob::EvictTimer(epoch) => {
                let mut rt = self.rt.borrow_mut();
                if epoch == rt.cache_gen {
                    rt.cache = None;
                    drop(rt);
                    self.timer_fired(TimerKind::TokenEvict, due);
                }
            }
            JsJob::RecurringRefresh(epoch) => {
                if epoch == self.rt.borrow().recurring_gen {
                    self.timer_fired(TimerKind::TokenRefresh, due);
                    let session = self.rt.borrow().session();
                    if let Some(v) = session {
                        self.start_background_refresh(v.id);
                    }
                    self.arm_recurring();
                }
            }
            JsJob::GetRetry { client, attempt, tries } => {
                self.timer_fired(TimerKind::Retry, due);
                let current = {
                    let rt = self.rt.borrow();
                    attempt == rt.load_attempt && rt.status == LoadStatus::Loading
                };
                if current {
                    let req = if client { Req::GetClient } else { Req::Environment };
                    self.send_load_part(req, Purpose::Load { client, attempt, tries });
                }
            }
            JsJob::LoadRetry(attempt) => {
                self.timer_fired(TimerKind::LoadRetry, due);
                if attempt == self.rt.borrow().load_attempt {
                    self.send_load();
                }
            }
            JsJob::ResourceReload(n) => {
                self.timer_fired(TimerKind::LoadRetry, due);
                let attempt = {
                    let mut rt = self.rt.borrow_mut();
                    if rt.status != LoadStatus::Degraded {
                        return;
                    }
                    rt.load_attempt += 1;
                    rt.load_retries = n;
                    rt.parts = (None, None);
                    rt.load_attempt
                };
                self.send(Req::Environment, Purpose::Reload { client: false, attempt }, None);
                self.send(Req::GetClient, Purpose::Reload { client: true, attempt }, None);
            }
            JsJob::NativePoll(n) => self.native_poll(n, due),
        }
    }

    // ----------------------------------------------------------------------- the events

    fn ui_ready(&self) -> bool {
        self.device.borrow().js_runs()
    }

    fn apply(self: &Rc<Self>, event: &Event) {
        match event {
            Event::Advance { .. } => {}
            Event::ColdStart => self.cold_start(),
            Event::Kill => self.kill(),
            Event::JsReload => {
                if self.device.borrow().running {
                    self.end_js();
                    self.start_js();
                }
            }
            Event::Reinstall => {
                self.kill();
                let mut device = self.device.borrow_mut();
                device.reinstall();
                if device.platform == Platform::Android {
                    self.stored_environment.set(None);
                }
            }
            Event::AppState { state } => self.set_app_state(*state),
            Event::Network { state } => self.device.borrow_mut().network = *state,
            Event::SignIn { task } => {
                if self.ui_ready() {
                    lock(self.fapi.server()).set_pending_task(*task);
                    let call = self.start_call(CallKind::SignIn);
                    let core = self.clone();
                    if self.is_loaded() {
                        let done = self.send_call(Req::SignIn, call);
                        self.exec.spawn(async move { core.sign_in(call, done).await });
                    } else {
                        // The sign-in screen exists only once loaded (before, clerk-js has no
                        // `client` and `setActive` throws): the call waits for `load()`.
                        let loaded = self.rt.borrow().loaded.clone();
                        self.exec.spawn(async move {
                            loaded.wait().await;
                            let done = core.send_call(Req::SignIn, call);
                            core.sign_in(call, done).await
                        });
                    }
                }
            }
            Event::CompleteTask => {
                if self.ui_ready() {
                    let call = self.start_call(CallKind::CompleteTask);
                    let slot = self.rt.borrow().slot;
                    match slot {
                        Slot::Some(SessionView { id, task: Some(task), .. }) => {
                            self.call_then_finish(call, Req::ResolveTask { sid: id, task })
                        }
                        _ => self.settle(call, CallResult::Ok),
                    }
                }
            }
            Event::GetToken { skip_cache } => {
                if self.ui_ready() {
                    let call = self.start_call(CallKind::GetToken);
                    let (core, skip) = (self.clone(), *skip_cache);
                    self.exec.spawn(async move { core.get_token_call(call, skip).await });
                }
            }
            Event::ApiCall { .. } => {
                if self.ui_ready() {
                    let call = self.start_call(CallKind::ApiCall);
                    let core = self.clone();
                    self.exec.spawn(async move { core.api_call(call).await });
                }
            }
            Event::Navigate { path } => {
                if self.ui_ready() {
                    self.navigate(path.clone());
                }
            }
            Event::SessionEnd | Event::SessionRemove => {
                if self.ui_ready() {
                    let end = matches!(event, Event::SessionEnd);
                    let call = self.start_call(if end {
                        CallKind::SessionEnd
                    } else {
                        CallKind::SessionRemove
                    });
                    let session = self.rt.borrow().session();
                    match session {
                        Some(v) => {
                            // `end()` and `remove()` clear the whole token cache first.
                            self.clear_token_cache();
                            {
                                let mut rt = self.rt.borrow_mut();
                                rt.user_signing_out = true;
                                rt.signout_epoch += 1;
                            }
                            let req = if end {
                                Req::End { sid: v.id }
                            } else {
                                Req::Remove { sid: v.id }
                            };
                            self.call_then_finish(call, req);
                        }
                        None => self.settle(call, CallResult::Ok),
                    }
                }
            }
            Event::SignOut => {
                if self.ui_ready() {
                    let call = self.start_call(CallKind::SignOut);
                    let no_sessions =
                        self.rt.borrow().client.as_ref().is_none_or(|c| c.sessions.is_empty());
                    if self.rules.signout_needs_sessions && no_sessions {
                        // clerk-js `signOut`: `if (!this.client || this.client.sessions.length
                        // === 0) return;` — no request, nothing changes locally.
                        return self.settle(call, CallResult::Ok);
                    }
                    {
                        let mut rt = self.rt.borrow_mut();
                        rt.user_signing_out = true;
                        rt.signout_epoch += 1;
                        let held = matches!(rt.slot, Slot::Some(_));
                        if held || self.rules.signout_always_transitive {
                            // The transitive state: `undefined` until the server answers
                            // (clerk-js enters it even with no session held).
                            rt.slot = Slot::Undefined;
                            rt.transitive_from_session = held;
                        }
                    }
                    self.clear_token_cache();
                    self.call_then_finish(call, Req::RemoveSessions);
                }
            }
            Event::SetActive => {
                if self.ui_ready() {
                    let call = self.start_call(CallKind::SetActive);
                    let target = {
                        let rt = self.rt.borrow();
                        let current = rt.session().map(|v| v.id);
                        let other = rt.client.as_ref().and_then(|c| {
                            c.sessions
                                .iter()
                                .find(|s| self.counts_signed_in(s.status) && Some(s.id) != current)
                                .map(|s| s.id)
                        });
                        other.or(current)
                    };
                    match target {
                        Some(sid) => {
                            self.rt.borrow_mut().preferred = Some(sid);
                            let done = self.send_call(Req::Touch { sid }, call);
                            let core = self.clone();
                            self.exec.spawn(async move {
                                let reply = done.wait().await;
                                core.finish_touch(call, sid, reply);
                            });
                        }
                        None => self.settle(call, CallResult::Ok),
                    }
                }
            }
            Event::Revoke
            | Event::ExpireNow
            | Event::AbandonNow
            | Event::Replace
            | Event::Fault(_) => {
                let shown = if self.device.borrow().running {
                    self.rt.borrow().session().map(|v| v.id)
                } else {
                    None
                };
                let held = self.device_client_token();
                let now = self.now();
                let mut server = lock(self.fapi.server());
                let target = env::target_session(&mut server, now, shown, held);
                env::apply_server_event(&mut server, event, now, target);
            }
        }
    }

    fn cold_start(self: &Rc<Self>) {
        {
            let mut device = self.device.borrow_mut();
            if device.running {
                return;
            }
            device.running = true;
            device.app_state = AppState::Active;
        }
        self.start_js();
    }

    fn kill(self: &Rc<Self>) {
        if !self.device.borrow().running {
            return;
        }
        self.end_js();
        self.device.borrow_mut().running = false;
        self.native.set(Native::default());
    }

    fn start_js(self: &Rc<Self>) {
        let id = self.rt.borrow().id + 1;
        *self.rt.borrow_mut() = Runtime::new(id);
        self.render();
        self.start_load();
        // `NativeSessionSync` (expo 3.2.7): signs native out whenever `!isSignedIn` — and
        // `isSignedIn` is `undefined` while loading. After a JS reload the native layer is
        // still configured, so this revokes the session server-side (PR #8469).
        let native = self.native.get();
        if self.has(Defect::SignoutWhileLoading) && native.configured {
            let token = native.device_token.or_else(|| self.held_client_token());
            self.send_with(Req::RemoveSessions, Purpose::Native, None, token);
            // `defer Clerk.clearAllKeychainItems()`.
            self.delete_storage(StorageKey::NativeDeviceToken);
            self.delete_storage(StorageKey::NativeCachedClient);
            self.native.set(Native::default());
        }
    }

    /// The JS runtime dies: every open call and task dies with it.
    fn end_js(&self) {
        let (open, id) = {
            let rt = self.rt.borrow();
            (rt.calls.iter().map(|(c, k)| (*c, *k)).collect::<Vec<_>>(), rt.id)
        };
        let now = self.now();
        for (call, kind) in open {
            self.log(Happening::CallSettled { at: now, call, kind, result: CallResult::Killed });
        }
        // Answers held for the dead runtime are dropped with it.
        for (_, job) in std::mem::take(&mut *self.paused.borrow_mut()) {
            if let JsJob::Deliver(req, _) = job {
                self.flights.borrow_mut().remove(&req);
            }
        }
        self.exec.clear();
        *self.rt.borrow_mut() = Runtime::new(id + 1);
    }

    fn set_app_state(self: &Rc<Self>, state: AppState) {
        let before = {
            let mut device = self.device.borrow_mut();
            if state == AppState::Inactive && device.platform != Platform::Ios {
                // `inactive` exists on iOS only; Android reports nothing.
                return;
            }
            let before = device.app_state;
            device.app_state = state;
            if !device.running || before == state {
                return;
            }
            before
        };
        if before == AppState::Background {
            // JS resumes: overdue timers and held responses run now, late, in order.
            let held = std::mem::take(&mut *self.paused.borrow_mut());
            for (due, job) in held {
                self.run_js(job, due);
                self.checkpoint();
            }
        }
        if state == AppState::Active && before != AppState::Active {
            if self.has(Defect::EmptyClientClobber) {
                self.native_foreground_sync();
            }
            if self.has(Defect::NoForegroundRefresh) {
                let mut rt = self.rt.borrow_mut();
                rt.shell.resume_header = rt.last_token.filter(|_| rt.session().is_some());
            } else {
                self.foreground_refresh();
            }
        }
    }

    // -------------------------------------------------------------------- the transport

    /// The client token the device holds: what the next request carries.
    fn held_client_token(&self) -> Option<ClientToken> {
        // `memory-only-tokens`: the app's token cache answers from memory only.
        if self.setup.sdk.token_cache == TokenCacheKind::Memory
            || self.has(Defect::MemoryOnlyTokens)
        {
            return self.rt.borrow().memory_token.filter(|_| self.device.borrow().running);
        }
        self.persisted_client_token()
    }

    fn persisted_client_token(&self) -> Option<ClientToken> {
        match self.device.borrow().read(StorageKey::ClientJwt) {
            Some((Payload::ClientToken(t), _)) => Some(t),
            _ => None,
        }
    }

    fn send(self: &Rc<Self>, req: Req, purpose: Purpose, call: Option<CallId>) -> RequestId {
        let token = self.held_client_token();
        self.send_with(req, purpose, call, token)
    }

    /// Sends a FAPI request: the server applies it now; the answer is delivered to JS after
    /// the latency (or at once, as a network error, while offline).
    fn send_with(
        self: &Rc<Self>,
        req: Req,
        purpose: Purpose,
        call: Option<CallId>,
        token: Option<ClientToken>,
    ) -> RequestId {
        let id = RequestId(self.next_request.get());
        self.next_request.set(id.0 + 1);
        let now = self.now();
        let endpoint = req.endpoint();
        self.log(Happening::RequestSent { at: now, req: id, endpoint, call, sid: req.sid() });
        let (runtime, signout_epoch) = {
            let rt = self.rt.borrow();
            (rt.id, rt.signout_epoch)
        };
        self.flights
            .borrow_mut()
            .insert(id, Flight { endpoint, token, purpose, runtime, signout_epoch });
        if self.device.borrow().network == Network::Offline {
            // The request never leaves the device.
            self.log(Happening::RequestDone {
                at: now,
                req: id,
                endpoint,
                outcome: RequestOutcome::NetworkError { committed: false },
                fault: None,
            });
            self.schedule_js(now, JsJob::Deliver(id, Reply::NetworkError));
            return id;
        }
        let http = req.to_http(token, &self.fapi, now);
        let transport = self.transport.clone();
        let mut fut: Pin<Box<dyn Future<Output = Delivery>>> =
            Box::pin(async move { transport.deliver(&http, now).await });
        let seq = self.next_seq();
        // Polled once now, so the server applies the request at the instant it is sent; the
        // transport then sleeps out the latency on the tokio clock.
        let waker = self.outer.borrow().clone().expect("requests are sent inside a step");
        match fut.as_mut().poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(delivery) => {
                let at = now.plus(delivery.latency_ms);
                self.macros.borrow_mut().insert((at, seq), Macro::Arrive { req: id, delivery });
            }
            Poll::Pending => {
                self.nets.borrow_mut().insert(seq, Net { req: id, sent_at: now, fut });
            }
        }
        id
    }

    /// Sends a user-facing call's request; the promise resolves with the answer, after the
    /// response hooks ran.
    fn send_call(self: &Rc<Self>, req: Req, call: CallId) -> Promise<Reply> {
        let done = Promise::new();
        self.send(req, Purpose::Call(done.clone()), Some(call));
        done
    }

    /// A response reaches JS: Expo's after-response hook stores the rotated client token, a
    /// 401 runs `handleUnauthenticated`, a piggybacked client is applied, then the purpose.
    fn deliver(self: &Rc<Self>, id: RequestId, reply: Reply) {
        let Some(flight) = self.flights.borrow_mut().remove(&id) else {
            return;
        };
        if matches!(flight.purpose, Purpose::Native) {
            // The native layer's own client: nothing reaches JS.
            return;
        }
        // An answer about another client is authoritative only if the server refused the
        // token the device holds now; otherwise it answers an older, superseded token.
        let authoritative = flight.token == self.held_client_token();
        let stale = self.rules.ignores_stale_payloads
            && flight.signout_epoch != self.rt.borrow().signout_epoch;
        if let Reply::Answer(response) = &reply {
            if !stale && let Some(token) = response.client_token().and_then(ClientToken::decode) {
                self.store_client_token(token, authoritative);
            }
            // The documented contract does not reload the client on a 401 while the user signs
            // out: that reload would find the session being removed and sign them back in.
            let leaving = self.rules.ignores_stale_payloads && self.rt.borrow().user_signing_out;
            if response.status == 401
                && !matches!(flight.purpose, Purpose::Unauthenticated)
                && !leaving
            {
                self.handle_unauthenticated();
            }
            let piggyback = !flight.endpoint.is_get() && reply.is_ok();
            if piggyback && let Some(view) = reply.client() {
                self.apply_client(view, flight.signout_epoch);
            }
        }
        match flight.purpose {
            Purpose::Load { client, attempt, tries } => {
                self.load_answer(client, attempt, tries, reply)
            }
            Purpose::Reload { client, attempt } => self.reload_answer(client, attempt, reply),
            Purpose::TokenFetch { done, background } => {
                self.fetch_answer(id, done, background, reply)
            }
            Purpose::Background => {
                {
                    let mut rt = self.rt.borrow_mut();
                    if rt.bg.is_some_and(|b| b.0 == id) {
                        rt.bg = None;
                    }
                }
                if let Some(FapiReply { body: ReplyBody::Token(token), .. }) = reply.body() {
                    self.token_resolved(*token);
                } else if reply.status() == 401 && self.has(Defect::StaleTimerLogout) {
                    // Pre-#8303: the refresh's 401 is taken as the end of the session.
                    self.set_slot(Slot::Null, SignOutCause::Unauthorized);
                }
            }
            Purpose::Unauthenticated | Purpose::NativeSync => {
                let unauthenticated = matches!(flight.purpose, Purpose::Unauthenticated);
                if unauthenticated {
                    self.rt.borrow_mut().unauth = None;
                }
                let status = reply.status();
                if reply.is_ok() {
                    if let Some(view) = reply.client() {
                        self.apply_client(view, flight.signout_epoch);
                    }
                } else if unauthenticated
                    // clerk.ts: `[403,500].includes(e.status)`; anything else is rethrown.
                    && (status == 403 || status == 500)
                    && self.rules.unauth_reload_error_signs_out
                {
                    self.set_slot(Slot::Null, SignOutCause::Unauthorized);
                }
            }
            Purpose::Native => {}
            Purpose::Call(done) => done.resolve(reply),
        }
    }

    fn store_client_token(&self, token: ClientToken, authoritative: bool) {
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
        self.rt.borrow_mut().memory_token = Some(token);
        if self.setup.sdk.token_cache == TokenCacheKind::SecureStore {
            self.write_storage(StorageKey::ClientJwt, Payload::ClientToken(token));
        }
    }

    // ------------------------------------------------------------------------- storage

    /// Whether a stored value can restore a signed-in session: the environment's annotation.
    fn credential(&self, payload: &Payload) -> bool {
        match payload {
            Payload::ClientToken(t) => env::token_restores(&lock(self.fapi.server()), Some(*t)),
            Payload::Client(view) => self.pick_session(view, None).is_some(),
            Payload::SessionJwt(_) => true,
            Payload::Environment | Payload::Corrupt => false,
        }
    }

    fn write_storage(&self, key: StorageKey, payload: Payload) {
        let digest = payload.digest();
        if self.device.borrow().read(key).is_some_and(|(_, d)| d == digest) {
            return;
        }
        let len = payload.len();
        let credential = self.credential(&payload);
        let stored_digest = {
            let mut device = self.device.borrow_mut();
            // `securestore-truncation`: whole values, cut at 2048 bytes on iOS.
            if self.has(Defect::SecurestoreTruncation) {
                device.write_raw(key, payload)
            } else {
                device.write_chunked(key, payload)
            }
        };
        self.log(Happening::StorageWritten {
            at: self.now(),
            key,
            len,
            digest,
            stored_digest,
            credential,
        });
    }

    fn delete_storage(&self, key: StorageKey) {
        if self.device.borrow_mut().delete(key) {
            self.log(Happening::StorageDeleted { at: self.now(), key });
        }
    }

    fn read_storage(&self, key: StorageKey) -> Option<Payload> {
        let read = self.device.borrow().read(key);
        self.log(Happening::StorageRead {
            at: self.now(),
            key,
            digest: read.as_ref().map(|r| r.1),
        });
        read.map(|r| r.0)
    }

    // ------------------------------------------------------------------------- loading

    fn start_load(self: &Rc<Self>) {
        let call = self.start_call(CallKind::Load);
        self.rt.borrow_mut().load_call = Some(call);
        if self.setup.sdk.token_cache == TokenCacheKind::SecureStore
            && !self.has(Defect::MemoryOnlyTokens)
        {
            self.read_storage(StorageKey::ClientJwt);
        }
        if self.has(Defect::IosNativeCacheWipe)
            && self.setup.platform == Platform::Ios
            && !self.native.get().configured
        {
            self.native_bootstrap();
        }
        self.send_load();
    }

    fn send_load(self: &Rc<Self>) {
        let attempt = {
            let mut rt = self.rt.borrow_mut();
            rt.load_attempt += 1;
            rt.parts = (None, None);
            rt.load_attempt
        };
        self.send_load_part(Req::Environment, Purpose::Load { client: false, attempt, tries: 1 });
        self.send_load_part(Req::GetClient, Purpose::Load { client: true, attempt, tries: 1 });
    }

    fn send_load_part(self: &Rc<Self>, req: Req, purpose: Purpose) {
        let call = self.rt.borrow().load_call;
        self.send(req, purpose, call);
    }

    /// Stores one half of `Promise.all([environment, client])`; returns both once complete.
    fn take_part(&self, client: bool, reply: &Reply) -> Option<(EnvironmentView, ClientView)> {
        let mut rt = self.rt.borrow_mut();
        if client {
            rt.parts.1 = reply.client().cloned();
        } else if let Some(FapiReply { body: ReplyBody::Environment(e), .. }) = reply.body() {
            rt.parts.0 = Some(*e);
        }
        match &rt.parts {
            (Some(e), Some(c)) => Some((*e, c.clone())),
            _ => None,
        }
    }

    /// Takes one half of a load's (or reload's) answer; once both halves are in, applies the
    /// environment and the client. Returns whether it did.
    fn apply_part(self: &Rc<Self>, client: bool, reply: &Reply) -> bool {
        let Some((environment, view)) = self.take_part(client, reply) else {
            return false;
        };
        self.rt.borrow_mut().environment = Some(environment);
        self.write_stored_environment(environment);
        let epoch = self.rt.borrow().signout_epoch;
        self.apply_client(&view, epoch);
        true
    }

    fn load_answer(self: &Rc<Self>, client: bool, attempt: u32, tries: u32, reply: Reply) {
        {
            let rt = self.rt.borrow();
            if attempt != rt.load_attempt || rt.status != LoadStatus::Loading {
                return;
            }
        }
        if reply.is_ok() {
            if self.apply_part(client, &reply) {
                self.load_complete();
            }
        } else if matches!(reply, Reply::NetworkError) && tries < self.rules.get_tries_max {
            // clerk-js retries GETs (only) when fetch throws.
            let at = self.now().plus(self.rules.get_retry_delay_ms(tries - 1));
            self.schedule_js(at, JsJob::GetRetry { client, attempt, tries: tries + 1 });
        } else {
            self.load_failed(reply);
        }
    }

    fn write_stored_environment(&self, environment: EnvironmentView) {
        // What `__clerk_cache_environment` would hold once written; kept beside the marker
        // payload the emulated device stores.
        if self.setup.sdk.resource_cache {
            self.stored_environment.set(Some(environment));
        }
    }

    /// Both GETs answered: loaded — unless the 3.2.7 iOS bootstrap still waits on native.
    fn load_complete(self: &Rc<Self>) {
        let boot = self.rt.borrow().native_boot;
        match boot {
            NativeBoot::Polling => self.rt.borrow_mut().load_done_pending = true,
            NativeBoot::GaveUp => {
                self.set_slot(Slot::Null, SignOutCause::LocalWipe);
                self.finish_load(LoadStatus::Ready, CallResult::Ok);
            }
            NativeBoot::Off => self.finish_load(LoadStatus::Ready, CallResult::Ok),
        }
    }

    fn load_failed(self: &Rc<Self>, reply: Reply) {
        let failure = reply.failure();
        // Promise.all rejects at the first failure; the other GET's answer is ignored.
        self.rt.borrow_mut().load_attempt += 1;
        if self.setup.sdk.resource_cache {
            let cached = match self.read_storage(StorageKey::CachedClient) {
                Some(Payload::Client(view)) => Some(view),
                _ => None,
            };
            let environment = match self.read_storage(StorageKey::CachedEnvironment) {
                Some(Payload::Environment) => self.stored_environment.get(),
                _ => None,
            };
            self.rt.borrow_mut().environment = environment;
            match cached {
                Some(view) => {
                    let epoch = self.rt.borrow().signout_epoch;
                    self.apply_client(&view, epoch);
                }
                None => self.rt.borrow_mut().slot = Slot::Null,
            }
            self.finish_load(LoadStatus::Degraded, CallResult::Ok);
            let at = self.now().plus(self.rules.resource_retry_first_ms);
            self.schedule_js(at, JsJob::ResourceReload(0));
            return;
        }
        match self.rules.load_failure {
            LoadFailurePolicy::StuckUnloaded => {
                let call = {
                    let mut rt = self.rt.borrow_mut();
                    rt.status = LoadStatus::Error { loaded: false };
                    rt.load_call.take()
                };
                if let Some(call) = call {
                    self.settle(call, failure.result());
                }
            }
            LoadFailurePolicy::RetryThenSignedOut => {
                let retries = self.rt.borrow().load_retries;
                if retries < self.rules.retries_max && !failure.is_final() {
                    let at = self.now().plus(self.rules.retry_delay_ms(retries));
                    let attempt = {
                        let mut rt = self.rt.borrow_mut();
                        rt.load_retries += 1;
                        rt.load_attempt
                    };
                    self.schedule_js(at, JsJob::LoadRetry(attempt));
                } else {
                    self.rt.borrow_mut().slot = Slot::Null;
                    self.finish_load(LoadStatus::Error { loaded: true }, failure.result());
                }
            }
        }
    }

    fn finish_load(self: &Rc<Self>, status: LoadStatus, result: CallResult) {
        let (call, loaded) = {
            let mut rt = self.rt.borrow_mut();
            rt.status = status;
            if rt.slot == Slot::Undefined {
                rt.slot = Slot::Null;
            }
            (rt.load_call.take(), rt.loaded.clone())
        };
        if let Some(call) = call {
            self.settle(call, result);
        }
        self.render();
        // The native layer is configured from JS once JS has loaded (Expo 4.x order).
        let native = self.native.get();
        if !native.configured {
            self.native.set(Native { configured: true, device_token: self.held_client_token() });
        }
        // Calls waiting for `load()` go on, in the order they came.
        loaded.resolve(());
    }

    fn reload_answer(self: &Rc<Self>, client: bool, attempt: u32, reply: Reply) {
        {
            let rt = self.rt.borrow();
            if attempt != rt.load_attempt || rt.status != LoadStatus::Degraded {
                return;
            }
        }
        if reply.is_ok() {
            if self.apply_part(client, &reply) {
                self.rt.borrow_mut().status = LoadStatus::Ready;
            }
        } else {
            let n = {
                let mut rt = self.rt.borrow_mut();
                rt.load_attempt += 1;
                rt.load_retries
            };
            let network = matches!(reply, Reply::NetworkError);
            if network || !reply.failure().is_final() {
                let at = self.now().plus(self.rules.resource_retry_delay_ms(n, network));
                self.schedule_js(at, JsJob::ResourceReload(n + 1));
            }
        }
    }

    fn is_loaded(&self) -> bool {
        matches!(
            self.rt.borrow().status,
            LoadStatus::Ready | LoadStatus::Degraded | LoadStatus::Error { loaded: true }
        )
    }

    // ------------------------------------------------------------------ the native layer

    /// `ios-native-cache-wipe`: `@clerk/expo` 3.2.7's cold-start bootstrap on iOS. It reads
    /// the JS client token and configures the native layer with it, in parallel with the JS
    /// load. `syncTokenState` writes `clerkDeviceToken`; the value differs from the native
    /// one, so `clearCachedClerkData()` wipes the native cached client. `configure()` resolves
    /// at once — before the native session has loaded — and the JS side starts polling.
    fn native_bootstrap(self: &Rc<Self>) {
        let token = match self.read_storage(StorageKey::ClientJwt) {
            Some(Payload::ClientToken(t)) => Some(t),
            _ => None,
        };
        let mut wiped = false;
        if let Some(token) = token {
            let changed = self.device.borrow().read(StorageKey::NativeDeviceToken).map(|r| r.1)
                != Some(Payload::ClientToken(token).digest());
            self.write_storage(StorageKey::NativeDeviceToken, Payload::ClientToken(token));
            if changed {
                self.delete_storage(StorageKey::NativeCachedClient);
                wiped = true;
            }
        }
        self.native.set(Native { configured: true, device_token: token });
        // Without a wipe (a first launch has no JS token to mismatch) the native session
        // loads from its cache and the bootstrap finds it: the bug needs the wipe.
        if !wiped {
            return;
        }
        self.rt.borrow_mut().native_boot = NativeBoot::Polling;
        let at = self.now().plus(NATIVE_POLL_INTERVAL_MS);
        self.schedule_js(at, JsJob::NativePoll(1));
    }

    /// One `getSession()` poll. With its cached client wiped, the native layer depends on a
    /// round trip that does not land within the poll window, so the answer stays `undefined`;
    /// after 3 s the bootstrap gives up and the user lands on sign-in.
    fn native_poll(self: &Rc<Self>, n: u32, due: VTime) {
        self.timer_fired(TimerKind::NativePoll, due);
        if n < NATIVE_POLLS_MAX {
            let at = self.now().plus(NATIVE_POLL_INTERVAL_MS);
            self.schedule_js(at, JsJob::NativePoll(n + 1));
            return;
        }
        let pending = {
            let mut rt = self.rt.borrow_mut();
            rt.native_boot = NativeBoot::GaveUp;
            std::mem::take(&mut rt.load_done_pending)
        };
        if pending {
            self.set_slot(Slot::Null, SignOutCause::LocalWipe);
            self.finish_load(LoadStatus::Ready, CallResult::Ok);
        }
    }

    /// `empty-client-clobber`: on return to the foreground the native layer pushes the device
    /// token it was configured with into `__clerk_client_jwt` (bypassing JS's own token
    /// logic) and JS reloads the client with it.
    fn native_foreground_sync(self: &Rc<Self>) {
        let native = self.native.get();
        let Some(token) = native.device_token.filter(|_| native.configured) else {
            return;
        };
        self.rt.borrow_mut().memory_token = Some(token);
        if self.setup.sdk.token_cache == TokenCacheKind::SecureStore {
            self.write_storage(StorageKey::ClientJwt, Payload::ClientToken(token));
        }
        self.send(Req::GetClient, Purpose::NativeSync, None);
    }

    // -------------------------------------------------------------------------- tokens

    /// Whether a status counts as signed in for this SDK (`revoked-ignored` forgets one).
    fn counts_signed_in(&self, status: SessionStatus) -> bool {
        status.is_signed_in()
            || (status == SessionStatus::Revoked && self.has(Defect::RevokedIgnored))
    }

    /// `#defaultSession`: the preferred session, the current one, the last active one, or the
    /// first signed-in one.
    fn pick_session<'a>(
        &self,
        view: &'a ClientView,
        first: Option<SessionId>,
    ) -> Option<&'a SessionSnap> {
        let find = |id: SessionId| {
            view.sessions.iter().find(|s| s.id == id && self.counts_signed_in(s.status))
        };
        first
            .and_then(find)
            .or_else(|| view.last_active_session.and_then(find))
            .or_else(|| view.sessions.iter().find(|s| self.counts_signed_in(s.status)))
    }

    /// One attempt of `getToken` for `call`: wait for load, answer signed-out, the offline
    /// rule, the cache, join the fetch in flight, or start one.
    fn token_next(self: &Rc<Self>, call: CallId, kind: CallKind, skip: bool) -> Next {
        if kind != CallKind::ApiCall && !self.is_loaded() {
            return Next::WaitLoad(self.rt.borrow().loaded.clone());
        }
        let Some(sid) = self.rt.borrow().session().map(|v| v.id) else {
            return Next::Done(Ok(None));
        };
        let now = self.now();
        let offline = self.device.borrow().network == Network::Offline;
        if offline && self.has(Defect::NullOfflineLogout) {
            // Core 2: `getToken` answers null while offline.
            return Next::Done(Ok(None));
        }
        if offline && self.rules.offline == OfflinePolicy::ThrowOrCached {
            let cached = self.rt.borrow().cache.map(|c| c.0).filter(|t| !t.is_expired_at(now));
            if self.setup.sdk.resource_cache
                && let Some(token) = cached
            {
                return Next::Done(Ok(Some(token)));
            }
            return Next::Done(Err(Failure::network()));
        }
        let single_flight = !self.has(Defect::NoSingleFlight);
        let fresh = self.rt.borrow().cache.filter(|(t, _)| t.sid == sid).map(|(t, _)| t);
        let joinable = |core: &Core| -> Option<Promise<Fetched>> {
            let rt = core.rt.borrow();
            rt.fetch.as_ref().filter(|f| f.sid == sid && single_flight).map(|f| f.done.clone())
        };
        match self.rules.cache {
            CachePolicy::HitUntil => {
                if !skip {
                    if let Some(done) = joinable(self) {
                        return Next::Await(done);
                    }
                    if let Some(token) = fresh {
                        if token.remaining_ms(now) > self.rules.hit_min_remaining_ms as i64 {
                            return Next::Done(Ok(Some(token)));
                        }
                        self.clear_token_cache();
                    }
                }
            }
            CachePolicy::StaleWhileRevalidate => {
                if !skip && let Some(token) = fresh {
                    let remaining = token.remaining_ms(now);
                    if remaining > 0 {
                        if remaining <= self.rules.swr_window_ms as i64 {
                            self.start_background_refresh(sid);
                        }
                        return Next::Done(Ok(Some(token)));
                    }
                }
                if let Some(done) = joinable(self) {
                    return Next::Await(done);
                }
            }
        }
        if self.rules.single_flight_all
            && let Some(done) = joinable(self)
        {
            return Next::Await(done);
        }
        let done = Promise::new();
        let request = self.token_request(sid, skip, false);
        let req = self.send(
            request,
            Purpose::TokenFetch { done: done.clone(), background: false },
            Some(call),
        );
        let mut rt = self.rt.borrow_mut();
        rt.fetch = Some(Fetch { req, sid, done: done.clone() });
        if self.rules.cache == CachePolicy::HitUntil {
            // clerk-js stores the pending resolver in the slot at once.
            rt.cache = None;
            rt.cache_gen += 1;
        }
        Next::Await(done)
    }

    fn token_request(&self, sid: SessionId, skip: bool, background: bool) -> Req {
        let rt = self.rt.borrow();
        let minter = rt.environment.is_some_and(|e| e.session_minter);
        // `stale-timer-logout`: the pre-#8303 refresh always sends its last token along.
        let carries = (minter && self.rules.carries_last_token)
            || (background && self.has(Defect::StaleTimerLogout));
        let carried = if carries { rt.last_token } else { None };
        Req::Tokens { sid, carried, force_origin: skip }
    }

    fn start_background_refresh(self: &Rc<Self>, sid: SessionId) {
        if self.rules.single_flight_all {
            if self.rt.borrow().fetch.as_ref().is_some_and(|f| f.sid == sid) {
                return;
            }
            let done = Promise::new();
            let request = self.token_request(sid, false, true);
            let req = self.send(
                request,
                Purpose::TokenFetch { done: done.clone(), background: true },
                None,
            );
            self.rt.borrow_mut().fetch = Some(Fetch { req, sid, done });
        } else {
            if self.rt.borrow().bg.is_some() {
                return;
            }
            let request = self.token_request(sid, false, true);
            let req = self.send(request, Purpose::Background, None);
            self.rt.borrow_mut().bg = Some((req, sid));
        }
    }

    /// clerk-js's per-token refresh timer, with the headless guard of PR #8303 (a timer that
    /// fires after its token expired does nothing).
    fn refresh_timer(self: &Rc<Self>) {
        let (session, expired) = {
            let rt = self.rt.borrow();
            (rt.session(), rt.last_token.is_some_and(|t| t.is_expired_at(self.now())))
        };
        let Some(v) = session else { return };
        if expired && !self.has(Defect::StaleTimerLogout) {
            return;
        }
        self.start_background_refresh(v.id);
    }

    fn fetch_answer(
        self: &Rc<Self>,
        id: RequestId,
        done: Promise<Fetched>,
        background: bool,
        reply: Reply,
    ) {
        {
            let mut rt = self.rt.borrow_mut();
            if rt.fetch.as_ref().is_some_and(|f| f.req == id) {
                rt.fetch = None;
            }
        }
        let outcome: TokenOutcome = match reply.body() {
            Some(FapiReply { body: ReplyBody::Token(token), .. }) => Ok(Some(*token)),
            _ => Err(reply.failure()),
        };
        if let Ok(Some(token)) = outcome {
            self.token_resolved(token);
        }
        if background && reply.status() == 401 && self.has(Defect::StaleTimerLogout) {
            self.set_slot(Slot::Null, SignOutCause::Unauthorized);
        }
        let stale = matches!(outcome, Ok(Some(t)) if t.is_expired_at(self.now()));
        done.resolve((outcome, stale));
    }

    /// A token came back: cache it if fresher, re-arm timers, update `lastActiveToken`.
    fn token_resolved(self: &Rc<Self>, token: TokenInfo) {
        {
            let mut rt = self.rt.borrow_mut();
            if rt.session().map(|v| v.id) != Some(token.sid) {
                return;
            }
            if rt.last_token.is_none_or(|t| t.serial < token.serial) {
                rt.last_token = Some(token);
            }
        }
        self.set_cached(token);
        self.persist_resources();
    }

    fn set_cached(&self, token: TokenInfo) {
        let now = self.now();
        let (epoch, remaining) = {
            let mut rt = self.rt.borrow_mut();
            if rt.cache.is_some_and(|(t, _)| t.serial >= token.serial) {
                return;
            }
            rt.cache_gen += 1;
            let epoch = rt.cache_gen;
            let remaining = token.remaining_ms(now);
            if remaining <= 0 {
                rt.cache = None;
                return;
            }
            rt.cache = Some((token, epoch));
            (epoch, remaining as u64)
        };
        if let RefreshPolicy::TimerBeforeExpiry { lead_ms } = self.rules.refresh {
            self.schedule_js(now.plus(remaining), JsJob::EvictTimer(epoch));
            if remaining > lead_ms {
                self.schedule_js(now.plus(remaining - lead_ms), JsJob::RefreshTimer(epoch));
            }
        }
    }

    /// Drops the cached token. clerk-js's `clear()` also forgets the pending fetch (its next
    /// caller starts another); a single-flight SDK keeps joining the one in flight.
    fn clear_token_cache(&self) {
        let mut rt = self.rt.borrow_mut();
        rt.cache = None;
        rt.cache_gen += 1;
        if !self.rules.single_flight_all {
            rt.fetch = None;
        }
    }

    // ------------------------------------------------------------------ client payloads

    /// `handleUnauthenticated()`: reload the client; sign out if no session remains.
    fn handle_unauthenticated(self: &Rc<Self>) {
        {
            let rt = self.rt.borrow();
            if rt.session().is_none() || rt.unauth.is_some() {
                return;
            }
        }
        let req = self.send(Req::GetClient, Purpose::Unauthenticated, None);
        self.rt.borrow_mut().unauth = Some(req);
    }

    /// `updateClient`: rebuild sessions, pick the current one, hydrate the token cache.
    fn apply_client(self: &Rc<Self>, view: &ClientView, signout_epoch: u32) {
        if self.rules.ignores_stale_payloads && signout_epoch != self.rt.borrow().signout_epoch {
            return;
        }
        if self.rules.keeps_newest_client_token
            && let Some(held) = self.held_client_token()
            && held.client != view.id
        {
            return;
        }
        let view = Arc::new(view.clone());
        let (next, token, cause, loading) = {
            let mut rt = self.rt.borrow_mut();
            // clerk-js selects a session from a payload only while it holds no client yet.
            let held_client = self.rules.payload_selects_initially_only && rt.client.is_some();
            rt.client = Some(view.clone());
            let current = rt.session().map(|v| v.id);
            // clerk-js `updateClient` looks the held session up by id only
            // (`#getSessionFromClient`): no fallback to the client's last active session.
            let held_only = self.rules.keeps_current_session_only && current.is_some();
            // With `payload_selects_initially_only` the session being switched to is set by its
            // own call once the touch answers (`activate`), not by whichever payload comes first.
            let preferred = rt.preferred.filter(|_| !self.rules.payload_selects_initially_only);
            let chosen = preferred
                .and_then(|p| self.pick_session(&view, Some(p)).filter(|s| s.id == p))
                .or_else(|| {
                    current.and_then(|c| self.pick_session(&view, Some(c)).filter(|s| s.id == c))
                })
                .or_else(|| {
                    if held_only || held_client { None } else { self.pick_session(&view, None) }
                });
            let next = match chosen {
                Some(s) => Slot::Some(SessionView {
                    id: s.id,
                    status: s.status,
                    task: s.tasks.first().copied(),
                }),
                None => Slot::Null,
            };
            let cause =
                if rt.user_signing_out { SignOutCause::User } else { SignOutCause::ClientPayload };
            (
                next,
                chosen.and_then(|s| s.last_active_token),
                cause,
                rt.status == LoadStatus::Loading,
            )
        };
        if loading && next == Slot::Null {
            self.rt.borrow_mut().slot = Slot::Null;
        } else {
            self.set_slot(next, cause);
        }
        if let Some(token) = token {
            // Every client payload re-seeds the cache (clerk-js `#hydrateCache`).
            {
                let mut rt = self.rt.borrow_mut();
                if rt.last_token.is_none_or(|t| t.serial < token.serial) {
                    rt.last_token = Some(token);
                }
                if self.rules.cache == CachePolicy::HitUntil {
                    rt.fetch = None;
                }
            }
            self.set_cached(token);
        }
        self.persist_resources();
    }

    fn set_slot(self: &Rc<Self>, next: Slot, cause: SignOutCause) {
        let (was_signed_in, changed, loading) = {
            let mut rt = self.rt.borrow_mut();
            let before = rt.slot;
            let was_signed_in = matches!(before, Slot::Some(_))
                || (before == Slot::Undefined && rt.transitive_from_session);
            if next != Slot::Undefined {
                rt.transitive_from_session = false;
            }
            let now_signed_in = matches!(next, Slot::Some(_));
            let changed = match (before, next) {
                (Slot::Some(a), Slot::Some(b)) => a.id != b.id,
                _ => was_signed_in != now_signed_in,
            };
            rt.slot = next;
            (was_signed_in, changed, rt.status == LoadStatus::Loading)
        };
        if changed {
            self.clear_token_cache();
            let mut rt = self.rt.borrow_mut();
            rt.last_token = None;
            rt.recurring_gen += 1;
        }
        if was_signed_in && next == Slot::Null {
            self.log(Happening::SignedOut { at: self.now(), cause, server_revoke: false });
            let mut rt = self.rt.borrow_mut();
            if cause == SignOutCause::User {
                rt.shell.return_to = None;
                rt.shell.current_path = AppPath::home();
            } else {
                rt.shell.return_to = Some(rt.shell.current_path.clone());
            }
            rt.user_signing_out = false;
        }
        if matches!(next, Slot::Some(_)) && changed {
            self.arm_recurring();
        }
        self.rt.borrow_mut().preferred = None;
        if !loading {
            self.render();
        }
    }

    fn arm_recurring(&self) {
        if let RefreshPolicy::Recurring { interval_ms } = self.rules.refresh {
            let epoch = {
                let mut rt = self.rt.borrow_mut();
                rt.recurring_gen += 1;
                rt.recurring_gen
            };
            self.schedule_js(self.now().plus(interval_ms), JsJob::RecurringRefresh(epoch));
        }
    }

    /// The resource cache's listener: persist client, environment and session token.
    fn persist_resources(&self) {
        if !self.setup.sdk.resource_cache || !self.is_loaded() {
            return;
        }
        let (client, slot, last) = {
            let rt = self.rt.borrow();
            (rt.client.clone(), rt.slot, rt.last_token)
        };
        if let Some(view) = client {
            self.write_storage(StorageKey::CachedClient, Payload::Client(view));
            self.write_storage(StorageKey::CachedEnvironment, Payload::Environment);
        }
        match (slot, last) {
            (Slot::Some(v), Some(token)) if token.sid == v.id => {
                self.write_storage(StorageKey::CachedSessionJwt, Payload::SessionJwt(token));
            }
            (Slot::Null, _) => self.delete_storage(StorageKey::CachedSessionJwt),
            _ => {}
        }
    }

    // --------------------------------------------------------------------------- calls

    fn start_call(&self, kind: CallKind) -> CallId {
        let id = CallId(self.next_call.get());
        self.next_call.set(id.0 + 1);
        self.rt.borrow_mut().calls.insert(id, kind);
        self.log(Happening::CallStarted { at: self.now(), call: id, kind });
        id
    }

    fn settle(&self, call: CallId, result: CallResult) {
        let kind = self.rt.borrow_mut().calls.remove(&call);
        if let Some(kind) = kind {
            // The user's leaving ends with the call that asked for it, whatever it found.
            if matches!(kind, CallKind::SignOut | CallKind::SessionEnd | CallKind::SessionRemove) {
                self.rt.borrow_mut().user_signing_out = false;
            }
            self.log(Happening::CallSettled { at: self.now(), call, kind, result });
        }
    }

    /// A `setTimeout` a flow awaits.
    fn sleep(&self, delay_ms: u64, timer: TimerKind) -> Promise<()> {
        let done = Promise::new();
        self.schedule_js(self.now().plus(delay_ms), JsJob::Wake(timer, done.clone()));
        done
    }

    /// `getToken` for `call`, retries included: 4xx other than 429 is final; the rest retry on
    /// the profile's schedule.
    async fn token(self: &Rc<Self>, call: CallId, kind: CallKind, skip: bool) -> TokenOutcome {
        let mut retries = 0;
        loop {
            match self.token_next(call, kind, skip) {
                Next::Done(outcome) => return outcome,
                Next::WaitLoad(loaded) => loaded.wait().await,
                Next::Await(done) => {
                    let (outcome, stale) = done.wait().await;
                    match outcome {
                        Ok(_) if stale && self.rules.refetches_expired_delivery => continue,
                        Ok(token) => return Ok(token),
                        Err(failure) => {
                            if failure.is_final() || retries >= self.rules.retries_max {
                                return Err(failure);
                            }
                            let mut delay = self.rules.retry_delay_ms(retries);
                            if self.rules.honours_retry_after
                                && let Some(after) = failure.retry_after_ms
                            {
                                delay = delay.max(after);
                            }
                            retries += 1;
                            self.log(Happening::RetryScheduled {
                                at: self.now(),
                                call,
                                delay_ms: delay,
                                retry_after_ms: failure.retry_after_ms,
                            });
                            self.sleep(delay, TimerKind::Retry).wait().await;
                        }
                    }
                }
            }
        }
    }

    /// `useAuth().getToken({ skipCache })`.
    async fn get_token_call(self: Rc<Self>, call: CallId, skip: bool) {
        let was_signed_in = self.rt.borrow().session().is_some();
        let outcome = self.token(call, CallKind::GetToken, skip).await;
        let outcome = self.expo_use_auth(skip, outcome);
        let null = matches!(outcome, Ok(None));
        self.settle(call, token_result(&outcome));
        if null && was_signed_in && self.has(Defect::NullOfflineLogout) {
            // The Core 2 app reads a null token as "signed out" and cleans up.
            self.delete_storage(StorageKey::ClientJwt);
            self.rt.borrow_mut().memory_token = None;
            self.set_slot(Slot::Null, SignOutCause::LocalWipe);
        }
    }

    /// Expo's `useAuth().getToken` wrapper, active with the resource cache and no options:
    /// on a network error it returns the cached session token (reference §1.5).
    fn expo_use_auth(&self, skip: bool, outcome: TokenOutcome) -> TokenOutcome {
        if !self.setup.sdk.resource_cache || skip {
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

    /// The app shell's `useForegroundRefresh`: on return to `active`, if signed in, force a
    /// fresh token.
    fn foreground_refresh(self: &Rc<Self>) {
        if self.view.borrow().is_signed_in == Some(true) {
            let call = self.start_call(CallKind::ForegroundRefresh);
            let core = self.clone();
            self.exec.spawn(async move {
                let outcome = core.token(call, CallKind::ForegroundRefresh, true).await;
                core.settle(call, token_result(&outcome));
            });
        }
    }

    /// The app's backend: the request travels for the backend latency (or fails at once
    /// offline); the promise resolves with the HTTP status in JS.
    fn backend(&self, call: CallId, attempt: u8, token: Option<TokenInfo>) -> Promise<u16> {
        let reply = Promise::new();
        let now = self.now();
        if self.device.borrow().network == Network::Offline {
            self.schedule_js(now, JsJob::BackendReply(reply.clone(), 0));
            return reply;
        }
        self.backend_in_flight.set(self.backend_in_flight.get() + 1);
        let runtime = self.rt.borrow().id;
        let at = now.plus(self.setup.net.backend_latency_ms);
        self.schedule(
            at,
            Macro::BackendArrive {
                attempt,
                call,
                token,
                sent_at: now,
                runtime,
                reply: reply.clone(),
            },
        );
        reply
    }

    /// The article's Axios wrapper: attach a token; on a 401 lead the one refresh (or queue
    /// behind it) and retry once with the fresh token.
    async fn api_call(self: Rc<Self>, call: CallId) {
        let reused = self.rt.borrow_mut().shell.resume_header.take();
        let first = match reused {
            // `no-foreground-refresh`: the header from before the background goes out as is.
            Some(token) => Ok(Some(token)),
            None => self.token(call, CallKind::ApiCall, false).await,
        };
        let mut token = match first {
            Ok(token) => token,
            Err(f) => return self.settle(call, f.result()),
        };
        let looping = self.has(Defect::Retry401Loop);
        let mut attempt = 1u8;
        loop {
            let status = self.backend(call, attempt, token).wait().await;
            let retry = status == 401
                && (attempt == 1 || (looping && attempt < RETRY_401_LOOP_ATTEMPTS_MAX));
            if !retry {
                let result = match status {
                    200..=299 => CallResult::Ok,
                    0 => CallResult::Error { status: 0, code: "network_error".into() },
                    other => CallResult::Error { status: other, code: "api_error".into() },
                };
                return self.settle(call, result);
            }
            let leader = self.rt.borrow().shell.refreshing.clone();
            let outcome = match leader {
                Some(queue) => queue.wait().await,
                None => {
                    let queue = Promise::new();
                    self.rt.borrow_mut().shell.refreshing = Some(queue.clone());
                    // `retry-401-loop`: no `_retry` flag and a plain `getToken()` (a cache hit).
                    let outcome = self.token(call, CallKind::ApiCall, !looping).await;
                    self.rt.borrow_mut().shell.refreshing = None;
                    // `retry-401-loop`: a refresh that yields no token never releases the queue.
                    if !looping || matches!(outcome, Ok(Some(_))) {
                        queue.resolve(outcome.clone());
                    }
                    outcome
                }
            };
            match outcome {
                Ok(Some(fresh)) => token = Some(fresh),
                Ok(None) => {
                    let result = CallResult::Error { status: 401, code: "session expired".into() };
                    return self.settle(call, result);
                }
                Err(f) => return self.settle(call, f.result()),
            }
            attempt += 1;
        }
    }

    /// Sends `req` for `call` and settles the call from the answer.
    fn call_then_finish(self: &Rc<Self>, call: CallId, req: Req) {
        let done = self.send_call(req, call);
        let core = self.clone();
        self.exec.spawn(async move {
            let reply = done.wait().await;
            core.finish_call(call, reply);
        });
    }

    /// Sign-in with a password, then `setActive({session})` (a touch of the new session).
    async fn sign_in(self: Rc<Self>, call: CallId, done: Promise<Reply>) {
        let reply = done.wait().await;
        if reply.is_ok()
            && let Some(FapiReply { body: ReplyBody::SignIn { created_session }, .. }) =
                reply.body()
        {
            let sid = *created_session;
            self.rt.borrow_mut().preferred = Some(sid);
            let touched = self.send_call(Req::Touch { sid }, call).wait().await;
            return self.finish_touch(call, sid, touched);
        }
        self.finish_call(call, reply);
    }

    /// `setActive({session: sid})` after its touch answered for `call`.
    fn finish_touch(self: &Rc<Self>, call: CallId, sid: SessionId, reply: Reply) {
        if !self.rt.borrow().calls.contains_key(&call) {
            return;
        }
        if self.rules.touch_401_falls_back_to_cache
            && reply.status() == 401
            && self.token_cached_for(sid)
            && self.activate(sid)
        {
            // clerk-js `setActive` swallows the touch's 401 and `getToken()` answers from the
            // cache: the session is set. Without a cached token its fetch meets the same 401
            // and `setActive` throws (`finish_call`'s failure path).
            return self.settle(call, CallResult::Ok);
        }
        if reply.is_ok() && self.rules.payload_selects_initially_only {
            // Touch, `getToken`, then this call's own session is set.
            self.activate(sid);
            return self.settle(call, CallResult::Ok);
        }
        self.finish_call(call, reply);
    }

    /// Whether `getToken` for `sid` would answer from the cache (every payload seeds it with
    /// each session's last token, clerk-js `#hydrateCache`).
    fn token_cached_for(&self, sid: SessionId) -> bool {
        let (now, min) = (self.now(), self.rules.hit_min_remaining_ms as i64);
        let fresh = |t: &TokenInfo| t.sid == sid && t.remaining_ms(now) > min;
        let rt = self.rt.borrow();
        let seeded = rt.client.as_ref().is_some_and(|c| {
            c.sessions
                .iter()
                .any(|s| s.id == sid && s.last_active_token.as_ref().is_some_and(fresh))
        });
        seeded || rt.cache.is_some_and(|(t, _)| fresh(&t))
    }

    /// `setActive`'s last step: `sid` becomes current if the held client has it signed in;
    /// its last token seeds the cache. Returns whether it was set.
    fn activate(self: &Rc<Self>, sid: SessionId) -> bool {
        let (found, cause) = {
            let rt = self.rt.borrow();
            let found = rt.client.as_ref().and_then(|c| {
                c.sessions.iter().find(|s| s.id == sid && self.counts_signed_in(s.status)).cloned()
            });
            let cause =
                if rt.user_signing_out { SignOutCause::User } else { SignOutCause::ClientPayload };
            (found, cause)
        };
        let Some(s) = found else {
            return false;
        };
        let next =
            Slot::Some(SessionView { id: s.id, status: s.status, task: s.tasks.first().copied() });
        self.set_slot(next, cause);
        if let Some(token) = s.last_active_token {
            {
                let mut rt = self.rt.borrow_mut();
                if rt.last_token.is_none_or(|t| t.serial < token.serial) {
                    rt.last_token = Some(token);
                }
            }
            self.set_cached(token);
        }
        self.persist_resources();
        true
    }

    fn finish_call(self: &Rc<Self>, call: CallId, reply: Reply) {
        let Some(kind) = self.rt.borrow().calls.get(&call).copied() else {
            return;
        };
        if reply.is_ok() {
            if kind == CallKind::SignOut {
                self.set_slot(Slot::Null, SignOutCause::User);
            }
            return self.settle(call, CallResult::Ok);
        }
        match kind {
            CallKind::SignOut => {
                // Signed out locally whatever the server said; a credential the server may
                // still honour is wiped so it cannot restore the session later.
                self.delete_storage(StorageKey::ClientJwt);
                self.delete_storage(StorageKey::CachedClient);
                self.delete_storage(StorageKey::CachedSessionJwt);
                {
                    let mut rt = self.rt.borrow_mut();
                    rt.memory_token = None;
                    rt.client = None;
                }
                self.set_slot(Slot::Null, SignOutCause::User);
            }
            CallKind::SessionEnd | CallKind::SessionRemove => {
                self.rt.borrow_mut().user_signing_out = false;
            }
            CallKind::SetActive => self.rt.borrow_mut().preferred = None,
            _ => {}
        }
        self.settle(call, reply.failure().result());
    }

    // ------------------------------------------------------------------------ app shell

    fn navigate(&self, path: AppPath) {
        let signed_in = self.view.borrow().is_signed_in;
        let mut rt = self.rt.borrow_mut();
        match signed_in {
            Some(true) => rt.shell.current_path = path,
            Some(false) => rt.shell.return_to = Some(path),
            None => {
                // A deep link while loading: land there once loaded, or return there after
                // sign-in.
                rt.shell.current_path = path.clone();
                rt.shell.return_to = Some(path);
            }
        }
    }

    /// Recomputes what is on screen; logs a render when anything changed.
    fn render(&self) {
        let view = self.auth_view();
        if view == *self.view.borrow() {
            return;
        }
        let view =
            if view.is_signed_in == Some(true) && self.view.borrow().is_signed_in != Some(true) {
                let back = self.rt.borrow_mut().shell.return_to.take();
                match back {
                    Some(back) => {
                        self.rt.borrow_mut().shell.current_path = back;
                        self.auth_view()
                    }
                    None => view,
                }
            } else {
                view
            };
        self.log(Happening::Rendered { at: self.now(), view: view.clone() });
        *self.view.borrow_mut() = view;
    }

    /// The article's route guard over `useAuth()`.
    fn auth_view(&self) -> AuthView {
        if !self.device.borrow().running {
            return AuthView::closed();
        }
        let rt = self.rt.borrow();
        let loaded = self.is_loaded() && rt.slot != Slot::Undefined;
        let session = rt.session();
        let is_signed_in = if !loaded {
            None
        } else {
            Some(session.is_some_and(|s| {
                s.status == SessionStatus::Active
                    || (s.status == SessionStatus::Pending
                        && !self.setup.sdk.treat_pending_as_signed_out)
            }))
        };
        let shell = &rt.shell;
        let route = if !loaded {
            if self.has(Defect::RedirectBeforeLoaded) {
                // `if (isSignedIn === false) redirect(sign-in)` before any `isLoaded` check:
                // `undefined` falls through to the protected screen.
                Route::Protected { path: shell.current_path.clone() }
            } else {
                Route::Loading
            }
        } else if let Some(SessionView { status: SessionStatus::Pending, task, .. }) = session {
            if self.has(Defect::PendingToSignIn) {
                Route::SignIn { return_to: shell.return_to.clone() }
            } else {
                Route::Task { key: task.unwrap_or(TaskKey::ChooseOrganization) }
            }
        } else if session.is_some() {
            Route::Protected { path: shell.current_path.clone() }
        } else {
            Route::SignIn { return_to: shell.return_to.clone() }
        };
        AuthView { route, is_loaded: loaded, is_signed_in, session }
    }

    /// The client token the *environment* sees the device holding: what secure storage holds
    /// with a secure-store token cache (the harness reads storage, never the SDK's memory),
    /// the in-memory token otherwise. For a correct SDK this is the token it sends.
    fn device_client_token(&self) -> Option<ClientToken> {
        match self.setup.sdk.token_cache {
            TokenCacheKind::SecureStore => self.persisted_client_token(),
            TokenCacheKind::Memory => {
                self.rt.borrow().memory_token.filter(|_| self.device.borrow().running)
            }
        }
    }

    fn observe(&self) -> Observation {
        let now = self.now();
        let held = self.device_client_token();
        let persisted = self.persisted_client_token();
        let server = env::server_view(&mut lock(self.fapi.server()), now, held, persisted);
        Observation {
            view: self.view.borrow().clone(),
            device: self.device.borrow().view(),
            server,
            in_flight: self.flights.borrow().len() as u32 + self.backend_in_flight.get(),
            open_calls: self.rt.borrow().calls.len() as u32,
            happenings: std::mem::take(&mut *self.log.borrow_mut()),
        }
    }
}

/// What one `getToken` attempt does next.
enum Next {
    Done(TokenOutcome),
    WaitLoad(Promise<()>),
    Await(Promise<Fetched>),
}
