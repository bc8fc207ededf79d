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
//!
//! The floor plan is the model's (`model/world/`): this file holds the state, the step and the
//! event dispatch; `lifecycle`, `transport`, `storage`, `load`, `tokens`, `client`, `calls`,
//! `shell` and `native` hold the rules of one concern each, so a rule is found in both by the
//! same path.

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

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};

use crate::backend::Backend;
use crate::fapi::{Delivery, Fapi, InProcess, lock};
use crate::model::Observation;
use crate::model::device::Device;
use crate::model::profile::Profile;
use crate::model::server::{ClientToken, ClientView, EnvironmentView};
use crate::model::settings::Setup;
use crate::model::time::VTime;
use crate::model::vocab::{
    AppPath, AppState, AuthView, CallId, CallKind, CallResult, Defect, Endpoint, Event, Happening,
    KeychainAccessible, Network, Platform, RequestId, SessionId, SessionView, SignOutCause,
    TemplateName, TimerKind, TokenInfo, TokenKey,
};
use crate::sdk::defects::Defects;
use crate::sdk::env;

use self::native::{Adopt, NativeBoot, NativeLayer, NativeSync};
use self::transport::{Failure, Reply, Req};
use super::exec::{Executor, Promise};

type TokenOutcome = Result<Option<TokenInfo>, Failure>;

/// A token fetch's result as its waiters get it, and whether the token had already expired
/// when it reached JS.
type Fetched = (TokenOutcome, bool);

/// Why a request was sent: decides what its answer does.
enum Purpose {
    /// `load()`'s environment or client GET.
    Load { client: bool, attempt: u32, tries: u32 },
    /// The resource cache's recovery reload.
    Reload { client: bool, attempt: u32 },
    /// A joinable token fetch; `background` when a refresh (not a caller) started it.
    /// `expired_retry` for the one retry with `expired_token=` after a 422
    /// `missing_expired_token` (no session minter).
    TokenFetch { done: Promise<Fetched>, background: bool, expired_retry: bool },
    /// clerk-js's background refresh: kept out of the cache, nobody joins it. It goes through
    /// the same `#createTokenResolver` as a fetch, so `expired_retry` marks its one legacy
    /// retry too.
    Background { expired_retry: bool },
    /// `handleUnauthenticated()`'s `GET /client`: try `tries` of the transport's GET retries,
    /// and the 401 answer whose caller awaits it (clerk-js `_baseFetch`), kept in
    /// `Runtime::held`.
    Unauthenticated { tries: u32, held: Option<RequestId> },
    /// `empty-client-clobber`: JS reloading the client after the native layer pushed its token.
    NativeSync,
    /// `__internal_reloadInitialResources()` after a native sign-in or the bootstrap's find:
    /// its environment or client GET (`Promise.all` of both, `group` in `Runtime::adopts`),
    /// then `setActive(sid)`.
    NativeAdopt { sid: SessionId, group: u32, client: bool },
    /// `setActive({ session: sid })` for the native layer's session: its touch; the session
    /// becomes current once it succeeds.
    NativeActivate { sid: SessionId },
    /// That `setActive`'s `await session.getToken()` when the cache has no token to hit.
    NativeActivateToken { sid: SessionId },
    /// A user-facing call's request.
    Call(Promise<Reply>),
}

/// A 401 answer whose handling waits for `handleUnauthenticated` (clerk-js `_baseFetch`
/// awaits it before its caller sees the error).
struct Held {
    about: About,
    purpose: Purpose,
    reply: Reply,
    signout_epoch: u32,
}

/// What a request is about: its session (token, touch, end, …) and the call that sent it.
#[derive(Clone, Copy)]
struct About {
    sid: Option<SessionId>,
    /// A token request's JWT template.
    template: Option<TemplateName>,
    call: Option<CallId>,
}

struct Flight {
    endpoint: Endpoint,
    about: About,
    token: Option<ClientToken>,
    purpose: Purpose,
    runtime: u32,
    signout_epoch: u32,
    /// The token cache's read never settled: the request never went out.
    hung: bool,
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
    /// A cached token's timers: the token and the entry's epoch (a cleared entry's timers
    /// never fire).
    RefreshTimer(TokenKey, u32),
    EvictTimer(TokenKey, u32),
    RecurringRefresh(u32),
    /// `refresh-loop-per-resume`: a refresh loop armed on a resume that nothing clears.
    StrayRefresh,
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
    LoadRetry(u32),
    ResourceReload(u32),
    NativePoll(u32),
    /// An AppState `change` event reaching JS's listener late (a fault or the setting).
    AppStateEvent(AppState),
}

impl JsJob {
    /// A `setTimeout`: it runs on the monotonic clock, which stops while the device sleeps.
    fn is_timer(&self) -> bool {
        !matches!(self, JsJob::Deliver(..) | JsJob::BackendReply(..) | JsJob::AppStateEvent(..))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LoadStatus {
    Loading,
    Ready,
    Degraded,
    Error { loaded: bool },
}

impl LoadStatus {
    /// Loaded without a client from the server, with the recovery reload running.
    fn recovers(self) -> bool {
        matches!(self, LoadStatus::Degraded | LoadStatus::Error { loaded: true })
    }
}

/// `clerk.session`: `undefined` while loading or switching, `null`, or a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Undefined,
    Null,
    Some(SessionView),
}

struct Fetch {
    req: RequestId,
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
    /// The freshest token (serial) a backend refused during this refresh: a refresh that
    /// joined a fetch sent before the 401 may bring back a token no fresher.
    refused: u64,
}

/// One JS runtime: everything lost on kill or JS reload.
struct Runtime {
    id: u32,
    status: LoadStatus,
    load_call: Option<CallId>,
    /// The last load call started: a failed load's GET that keeps retrying still serves it.
    last_load_call: Option<CallId>,
    load_attempt: u32,
    load_retries: u32,
    /// The load's two answers so far; the client with the sign-out epoch its GET was sent
    /// under (a retried environment GET may be sent later, and must not vouch for it).
    parts: (Option<EnvironmentView>, Option<(ClientView, u32)>),
    environment: Option<EnvironmentView>,
    loaded: Promise<()>,
    slot: Slot,
    client: Option<Arc<ClientView>>,
    memory_token: Option<ClientToken>,
    /// The token cache by session and template, each entry with its timers' epoch (one
    /// session's entries at most unless per session).
    cache: BTreeMap<TokenKey, (TokenInfo, u32)>,
    cache_gen: u32,
    recurring_gen: u32,
    /// The joinable token fetch in flight, by token.
    fetch: BTreeMap<TokenKey, Fetch>,
    /// Background refreshes in flight, by token.
    bg: BTreeMap<TokenKey, RequestId>,
    unauth: Option<RequestId>,
    /// 401 answers waiting for their `handleUnauthenticated` reload, by request.
    held: BTreeMap<RequestId, Held>,
    /// Each session's `lastActiveToken`.
    last_token: BTreeMap<SessionId, TokenInfo>,
    calls: BTreeMap<CallId, CallKind>,
    signout_epoch: u32,
    user_signing_out: bool,
    transitive_from_session: bool,
    preferred: Option<SessionId>,
    native_boot: NativeBoot,
    native_sync: NativeSync,
    /// `__internal_reloadInitialResources()` runs in flight, by group: what has answered.
    adopts: BTreeMap<u32, Adopt>,
    adopt_serial: u32,
    /// `ios-native-cache-wipe`: the JS load finished while the bootstrap still polled.
    load_done_pending: bool,
    /// `load-waits-for-online-edge`: the load waits for its connectivity listener to say
    /// "online".
    awaiting_online: bool,
    /// The app state JS's AppState listener last heard (the OS state may differ).
    heard: AppState,
    /// `refresh-stops-on-background-event`: the refresh was stopped on a `background` event
    /// and waits for an `active` one.
    refresh_stopped: bool,
    shell: Shell,
}

impl Runtime {
    /// The app shell's cause for a sign-out now: the user's, while a sign-out, end or remove
    /// of theirs is open; else the client payload's.
    fn leaving_cause(&self) -> SignOutCause {
        let leaving = self.user_signing_out
            || self.calls.values().any(|k| {
                matches!(k, CallKind::SignOut | CallKind::SessionEnd | CallKind::SessionRemove)
            });
        if leaving { SignOutCause::User } else { SignOutCause::ClientPayload }
    }
}

impl Runtime {
    fn session(&self) -> Option<SessionView> {
        match self.slot {
            Slot::Some(v) => Some(v),
            _ => None,
        }
    }
}

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
    /// The runtime of the instance whose work runs now (`current`); the others wait in
    /// `parked` (`instances.rs`). Between macrotasks it is the UI's, instance 0.
    rt: RefCell<Runtime>,
    parked: RefCell<Vec<Runtime>>,
    current: Cell<usize>,
    native: Cell<NativeLayer>,
    exec: Executor,
    macros: RefCell<BTreeMap<(VTime, u64), Macro>>,
    /// Held JS macrotasks, with the runtime they belong to.
    paused: RefCell<Vec<(VTime, u32, JsJob)>>,
    nets: RefCell<BTreeMap<u64, Net>>,
    /// Requests sent in this JS turn, not yet polled onto the wire (`depart`).
    departing: RefCell<BTreeMap<u64, Net>>,
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
        // The emulator's request log is for adapters and the dev server; a reference run
        // reads its own happenings, so the log would only grow for the run's whole length.
        fapi.set_log_max(0);
        let backend = Backend::new(&fapi);
        let transport = InProcess::new(fapi.clone(), setup.net.fapi_latency_ms);
        Rc::new(Core {
            rules: setup.profile.rules(),
            // `locked-read-as-absent`: the app's own token cache, with expo-secure-store's
            // default class.
            device: RefCell::new(Device::for_setup(
                &setup,
                if defects.has(Defect::LockedReadAsAbsent) {
                    KeychainAccessible::WhenUnlocked
                } else {
                    setup.sdk.keychain_accessible
                },
            )),
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
            parked: RefCell::new(instances::parked(setup.sdk.instances)),
            current: Cell::new(0),
            native: Cell::new(NativeLayer::default()),
            exec: Executor::default(),
            macros: RefCell::new(BTreeMap::new()),
            paused: RefCell::new(Vec::new()),
            nets: RefCell::new(BTreeMap::new()),
            departing: RefCell::new(BTreeMap::new()),
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
        self.enter(0);
        *self.rt.borrow_mut() = Runtime::new(0);
        self.parked.borrow_mut().clear();
    }

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
            Event::Advance { ms } | Event::BackgroundWake { ms } | Event::DeviceSleep { ms } => {
                self.now().plus(*ms)
            }
            _ => self.now(),
        };
        std::future::poll_fn(|cx| self.pump(cx, target)).await;
        // A background wake ends with its window: JS is suspended again.
        self.device.borrow_mut().awake = false;
        if matches!(event, Event::DeviceSleep { .. }) {
            // The device wakes: what arrived meanwhile runs now, and what that starts too.
            self.wake_from_sleep();
            std::future::poll_fn(|cx| self.pump(cx, target)).await;
        }
        self.checkpoint();
        self.observe()
    }

    fn ui_ready(&self) -> bool {
        self.device.borrow().js_runs()
    }

    fn apply(self: &Rc<Self>, event: &Event) {
        match event {
            Event::Advance { .. } => {}
            Event::ColdStart => self.cold_start(),
            Event::NativeSignIn => self.native_sign_in(),
            Event::Kill => self.kill(),
            Event::JsReload => {
                if self.device.borrow().running {
                    self.end_all_js();
                    self.start_all_js();
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
            Event::AppState { state } => {
                if *state == AppState::Active {
                    // Only an unlocked device shows an app in the foreground.
                    self.device.borrow_mut().unlock();
                }
                self.set_app_state(*state)
            }
            Event::Network { state } => {
                let before = std::mem::replace(&mut self.device.borrow_mut().network, *state);
                // `load-waits-for-online-edge`: a change to online reaches the listener (if JS
                // runs to hear it), and the waiting load goes out.
                let edge = *state == Network::Online && before != Network::Online;
                if edge && self.device.borrow().js_runs() {
                    self.online_edge();
                }
            }
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
            Event::GetToken { skip_cache, template } => {
                if self.ui_ready() {
                    let call = self.start_call(CallKind::GetToken);
                    let (core, skip, template) = (self.clone(), *skip_cache, *template);
                    self.exec.spawn(async move { core.get_token_call(call, skip, template).await });
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
                            // A second sign-out while the first is in flight keeps what the
                            // first left from (the app shell remembers a held session).
                            let was = rt.slot == Slot::Undefined && rt.transitive_from_session;
                            rt.slot = Slot::Undefined;
                            rt.transitive_from_session = held || was;
                        }
                    }
                    if !self.rules.signout_failure_keeps_state {
                        self.clear_token_cache();
                    }
                    self.call_then_finish(call, Req::RemoveSessions);
                }
            }
            Event::SetActive => {
                if self.ui_ready() {
                    let call = self.start_call(CallKind::SetActive);
                    if self.rules.ignores_stale_payloads && self.rt.borrow().user_signing_out {
                        // The documented contract: nothing may bring the session back while
                        // the user signs out, so a switch asked for meanwhile does nothing.
                        return self.settle(call, CallResult::Ok);
                    }
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
                                core.finish_touch(call, sid, reply).await;
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
            Event::ClearFaults => {
                lock(self.fapi.server()).faults.clear();
                self.device.borrow_mut().clear_faults();
            }
            Event::AppStateFault(spec) => self.device.borrow_mut().push_app_state_fault(*spec),
            Event::Instance { n, step } => self.on_instance(*n, step),
            Event::StorageFault(spec) => self.device.borrow_mut().push_storage_fault(*spec),
            Event::LockDevice => self.lock_device(),
            Event::UnlockDevice => self.device.borrow_mut().unlock(),
            Event::Reboot => {
                self.kill();
                self.device.borrow_mut().reboot();
            }
            Event::BackgroundWake { .. } => self.background_wake(),
            Event::DeviceSleep { ms } => self.device_sleep(*ms),
            Event::ClockSkew { ms } => self.device.borrow_mut().clock_skew_ms = *ms,
            Event::RestoreBackup => {
                self.kill();
                self.device.borrow_mut().restore_backup();
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
            device: self.device_view(),
            server,
            in_flight: self.flights.borrow().len() as u32 + self.backend_in_flight.get(),
            open_calls: self.open_calls(),
            happenings: self.log.borrow_mut().drain(..).collect(),
        }
    }
}
