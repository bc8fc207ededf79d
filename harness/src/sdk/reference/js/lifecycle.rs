//! The process, the JS runtime and the app state, and the event loop on the virtual clock.
//!
//! `pump` drives the executor and the macrotask queue up to a target instant; cold start, kill
//! and JS reload create and end runtimes; while the app is backgrounded JS macrotasks wait in
//! `paused` and run late, in order, on return. Mirrors `model/world/lifecycle.rs`.

use std::rc::Rc;
use std::task::{Context, Poll};

use crate::model::profile::RefreshPolicy;
use crate::model::time::VTime;
use crate::model::vocab::{
    AppState, CallResult, Defect, FaultKind, Happening, Platform, RequestOutcome, TimerKind,
    TokenKey,
};
use crate::sdk::reference::exec::Promise;

use super::transport::{Reply, Req};
use super::{Core, JsJob, LoadStatus, Macro, Purpose, Runtime, instances};

impl Core {
    pub(super) fn instant(&self, at: VTime) -> tokio::time::Instant {
        self.base.get().expect("set at the first step") + std::time::Duration::from_millis(at.ms())
    }

    pub(super) fn sync_clock(&self) {
        let base = self.base.get().expect("set at the first step");
        let elapsed =
            tokio::time::Instant::now().saturating_duration_since(base).as_millis() as u64;
        if elapsed > self.now().ms() {
            self.now.set(VTime(elapsed));
        }
    }

    /// The event loop: microtasks, arrivals, then macrotasks in (instant, sequence) order,
    /// waiting on the tokio clock between instants, until `target`.
    pub(super) fn pump(self: &Rc<Self>, cx: &mut Context<'_>, target: VTime) -> Poll<()> {
        *self.outer.borrow_mut() = Some(cx.waker().clone());
        loop {
            self.sync_clock();
            // Microtasks only: the model renders after each job, not between an event and
            // the work it started.
            self.run_microtasks();
            self.depart();
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
    pub(super) fn poll_nets(&self, cx: &mut Context<'_>) {
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

    pub(super) fn next_seq(&self) -> u64 {
        let s = self.seq.get() + 1;
        self.seq.set(s);
        s
    }

    pub(super) fn schedule(&self, at: VTime, job: Macro) {
        let seq = self.next_seq();
        self.macros.borrow_mut().insert((at, seq), job);
    }

    pub(super) fn schedule_js(&self, at: VTime, job: JsJob) {
        let runtime = self.rt.borrow().id;
        self.schedule(at, Macro::Js { runtime, job });
    }

    /// A microtask checkpoint, then the end of the turn: whatever changed on screen and its
    /// effects, the turn's requests leaving (`depart`), then a load render's effects, which
    /// React runs in a later macrotask (as the model's `end_turn`).
    pub(super) fn checkpoint(self: &Rc<Self>) {
        self.run_microtasks();
        self.render();
        self.depart();
        self.run_deferred_native_sync();
    }

    pub(super) fn process(self: &Rc<Self>, due: VTime, job: Macro) {
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
                let status = self.backend.call_status("/api/call", handle.as_ref(), now);
                self.log(Happening::BackendHit { at: now, sent_at, call, attempt, token, status });
                self.schedule(now, Macro::Js { runtime, job: JsJob::BackendReply(reply, status) });
            }
            Macro::Js { runtime, job } => {
                if !self.run_js_macro(runtime, job, due) {
                    return;
                }
            }
        }
        self.checkpoint();
    }

    pub(super) fn timer_fired(&self, timer: TimerKind, due: VTime) {
        self.log(Happening::TimerFired { at: self.now(), timer, due });
    }

    pub(super) fn run_js(self: &Rc<Self>, job: JsJob, due: VTime) {
        match job {
            JsJob::Deliver(req, reply) => self.deliver(req, reply),
            JsJob::BackendReply(promise, status) => promise.resolve(status),
            JsJob::Wake(timer, promise) => {
                self.timer_fired(timer, due);
                promise.resolve(());
            }
            // A timer whose cache entry was replaced was cleared: it never fires.
            JsJob::AppStateEvent(state) => self.app_state_listener(state),
            JsJob::RefreshTimer(key, epoch) => {
                let live = self.rt.borrow().cache.get(&key).is_some_and(|e| e.1 == epoch);
                // `refresh-stops-on-background-event`: a stopped refresh skips its timer.
                if live && !self.rt.borrow().refresh_stopped {
                    self.timer_fired(TimerKind::TokenRefresh, due);
                    self.refresh_timer(key);
                }
            }
            JsJob::EvictTimer(key, epoch) => {
                let mut rt = self.rt.borrow_mut();
                if rt.cache.get(&key).is_some_and(|e| e.1 == epoch) {
                    rt.cache.remove(&key);
                    drop(rt);
                    self.timer_fired(TimerKind::TokenEvict, due);
                }
            }
            JsJob::StrayRefresh => {
                self.timer_fired(TimerKind::TokenRefresh, due);
                let session = self.rt.borrow().session();
                if let Some(v) = session {
                    self.start_background_refresh(TokenKey::session(v.id));
                }
                self.arm_stray_refresh();
            }
            JsJob::RecurringRefresh(epoch) => {
                // `refresh-stops-on-background-event`: a stopped loop is not re-armed either.
                if epoch == self.rt.borrow().recurring_gen && !self.rt.borrow().refresh_stopped {
                    self.timer_fired(TimerKind::TokenRefresh, due);
                    // The poller refreshes the session token only (no template).
                    let session = self.rt.borrow().session();
                    if let Some(v) = session {
                        self.start_background_refresh(TokenKey::session(v.id));
                    }
                    self.arm_recurring();
                }
            }
            JsJob::UnauthRetry { tries, held } => {
                self.timer_fired(TimerKind::Retry, due);
                let req = self.send(Req::GetClient, Purpose::Unauthenticated { tries, held }, None);
                if held.is_none() {
                    self.rt.borrow_mut().unauth = Some(req);
                }
            }
            JsJob::GetRetry { client, attempt, tries } => {
                self.timer_fired(TimerKind::Retry, due);
                let current = {
                    let rt = self.rt.borrow();
                    attempt == rt.load_attempt && rt.status == LoadStatus::Loading
                };
                // With `load_get_outlives_load` a failed load's other GET still retries.
                if current || self.rules.load_get_outlives_load {
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
                    if !rt.status.recovers() {
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
            JsJob::NativePoll(n) if self.setup.sdk.native => {
                self.timer_fired(TimerKind::NativePoll, due);
                self.native_session_poll(n);
            }
            JsJob::NativePoll(n) => self.native_poll(n, due),
        }
    }

    pub(super) fn cold_start(self: &Rc<Self>) {
        {
            let mut device = self.device.borrow_mut();
            if device.running {
                return;
            }
            // A user launch: the user unlocked the device to tap the icon.
            device.unlock();
            device.running = true;
            device.app_state = AppState::Active;
        }
        self.start_all_js();
    }

    /// The user locks the device: the OS moves a foreground app to the background.
    pub(super) fn lock_device(self: &Rc<Self>) {
        let foreground = {
            let mut device = self.device.borrow_mut();
            device.lock();
            device.running && device.app_state != AppState::Background
        };
        if foreground {
            self.set_app_state(AppState::Background);
        }
    }

    /// The OS runs JS in the background (the step then runs the wake's window and suspends
    /// JS again), launching the process if needed.
    pub(super) fn background_wake(self: &Rc<Self>) {
        let (running, backgrounded) = {
            let device = self.device.borrow();
            let backgrounded = !device.running || device.app_state == AppState::Background;
            (device.running, backgrounded && device.may_run_in_background())
        };
        if !backgrounded {
            return;
        }
        self.device.borrow_mut().awake = true;
        if running {
            // JS resumes in the background: overdue timers and held responses run now.
            self.resume_held();
        } else {
            {
                let mut device = self.device.borrow_mut();
                device.running = true;
                device.app_state = AppState::Background;
            }
            self.start_all_js();
        }
    }

    /// The device falls asleep for `ms`: every pending JS timer moves `ms` later (the
    /// monotonic clock stops) and JS is held; the step then runs the wall clock to the end.
    pub(super) fn device_sleep(&self, ms: u64) {
        let start = self.now();
        let mut macros = self.macros.borrow_mut();
        let timers: Vec<(VTime, u64)> = macros
            .iter()
            .filter(|(_, m)| matches!(m, Macro::Js { job, .. } if job.is_timer()))
            .map(|(key, _)| *key)
            .collect();
        for (at, seq) in timers {
            let job = macros.remove(&(at, seq)).expect("collected just above");
            macros.insert((at.max(start).plus(ms), seq), job);
        }
        drop(macros);
        self.device.borrow_mut().asleep = true;
    }

    /// The device wakes: answers held during the sleep run now, in order (if the app is in
    /// the foreground).
    pub(super) fn wake_from_sleep(self: &Rc<Self>) {
        self.device.borrow_mut().asleep = false;
        if self.device.borrow().js_runs() {
            self.resume_held();
        }
    }

    pub(super) fn kill(self: &Rc<Self>) {
        if !self.device.borrow().running {
            return;
        }
        self.end_all_js();
        self.device.borrow_mut().running = false;
        // The native layer's memory goes with the process (its keychain stays).
        let mut layer = self.native.get();
        layer.process_ended();
        self.native.set(layer);
    }

    /// The current instance's JS runtime starts (`start_all_js` starts every instance's).
    pub(super) fn start_js(self: &Rc<Self>) {
        let id = self.rt.borrow().id + 1;
        *self.rt.borrow_mut() = Runtime::new(id);
        // The listener starts from `AppState.currentState`.
        self.rt.borrow_mut().heard = self.device.borrow().app_state;
        self.render();
        self.start_load();
        if self.in_ui() {
            // The native module is the app's provider's to configure, not a headless one's.
            self.native_configure_at_start();
        }
    }

    /// The current instance's JS runtime dies: every open call and task dies with it
    /// (`end_all_js` ends every instance's).
    pub(super) fn end_js(&self) {
        let (open, id) = {
            let rt = self.rt.borrow();
            (rt.calls.iter().map(|(c, k)| (*c, *k)).collect::<Vec<_>>(), rt.id)
        };
        let now = self.now();
        for (call, kind) in open {
            self.log(Happening::CallSettled { at: now, call, kind, result: CallResult::Killed });
        }
        // Answers held for the dead runtime are dropped with it.
        let held: Vec<(VTime, u32, JsJob)> =
            self.paused.borrow_mut().extract_if(.., |(_, r, _)| *r == id).collect();
        for (_, _, job) in held {
            if let JsJob::Deliver(req, _) = job {
                self.flights.borrow_mut().remove(&req);
            }
        }
        // Requests stuck behind a storage read that never settled die with the runtime.
        self.flights.borrow_mut().retain(|_, f| !f.hung || f.runtime != id);
        self.exec.clear_tag(instances::instance_of(id));
        *self.rt.borrow_mut() = Runtime::new(id + 1);
    }

    pub(super) fn set_app_state(self: &Rc<Self>, state: AppState) {
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
            if self.setup.sdk.native {
                // The native SDK hears the OS itself, before JS's listener (`model/native.rs`).
                self.native_foreground();
            }
            // JS resumes: overdue timers and held responses run now, late, in order.
            self.resume_held();
        }
        // The native layer hears the OS (`applicationWillEnterForeground`), not JS's events.
        if state == AppState::Active
            && before != AppState::Active
            && self.has(Defect::EmptyClientClobber)
        {
            self.native_foreground_sync();
        }
        self.app_state_event(state);
    }

    /// The device tells JS's AppState listener of the change it made, as it delivers it
    /// (`Device::deliver_app_state`). The model's `World::app_state_event` does the same.
    pub(super) fn app_state_event(self: &Rc<Self>, state: AppState) {
        let heard = self.device.borrow_mut().deliver_app_state(state);
        for state in heard.now {
            self.app_state_listener(state);
        }
        if let Some((ms, state)) = heard.late {
            self.schedule_js(self.now().plus(ms), JsJob::AppStateEvent(state));
        }
    }

    /// JS's AppState `change` listener: on a change to `active` it heard, the foreground
    /// refresh (and what the defects do there).
    pub(super) fn app_state_listener(self: &Rc<Self>, state: AppState) {
        let before = std::mem::replace(&mut self.rt.borrow_mut().heard, state);
        if self.has(Defect::RefreshStopsOnBackgroundEvent) {
            // supabase-js's React Native pattern: `active` starts the refresh, any other state
            // (`background`, and iOS's `inactive`) stops it.
            match state {
                AppState::Active if self.rt.borrow().refresh_stopped => {
                    self.rt.borrow_mut().refresh_stopped = false;
                    self.arm_recurring();
                }
                AppState::Active => {}
                AppState::Background | AppState::Inactive => {
                    self.rt.borrow_mut().refresh_stopped = true
                }
            }
        }
        if state == AppState::Active && before != AppState::Active {
            if self.has(Defect::RefreshLoopPerResume) {
                self.arm_stray_refresh();
            }
            if self.has(Defect::NoForegroundRefresh) {
                let mut rt = self.rt.borrow_mut();
                let last = rt.session().and_then(|v| rt.last_token.get(&v.id).copied());
                rt.shell.resume_header = last;
            } else {
                self.foreground_refresh();
            }
        }
    }

    /// `refresh-loop-per-resume`: one more refresh loop, every refresh period (the recurring
    /// interval, or a token's life less the refresh lead), never cleared.
    pub(super) fn arm_stray_refresh(&self) {
        let period = match self.rules.refresh {
            RefreshPolicy::Recurring { interval_ms } => interval_ms,
            RefreshPolicy::TimerBeforeExpiry { lead_ms } => {
                self.setup.instance.session_token_ttl_ms.saturating_sub(lead_ms)
            }
        };
        if period > 0 {
            self.schedule_js(self.now().plus(period), JsJob::StrayRefresh);
        }
    }

    /// JS runs again (back in the foreground, woken, awake after a sleep): the macrotasks
    /// held meanwhile run now, late, in the order they fell due.
    fn resume_held(self: &Rc<Self>) {
        let held = std::mem::take(&mut *self.paused.borrow_mut());
        for (due, runtime, job) in held {
            self.run_held(runtime, job, due);
            self.checkpoint();
        }
    }

    /// A `setTimeout` a flow awaits.
    pub(super) fn sleep(&self, delay_ms: u64, timer: TimerKind) -> Promise<()> {
        let done = Promise::new();
        self.schedule_js(self.now().plus(delay_ms), JsJob::Wake(timer, done.clone()));
        done
    }
}
