//! The process, the JS runtime and the app state, and the agenda that orders time.
//!
//! Cold start, kill and JS reload create and end JS runtimes; the agenda holds every job by
//! (instant, sequence) and runs what falls due. While the app is backgrounded JS jobs wait in
//! `paused` and run late, in order, on return (DESIGN.md §5). The reference SDK's
//! `sdk/reference/js/lifecycle.rs` holds the same rules.

use crate::model::server::FapiRequest;
use crate::model::time::VTime;
use crate::model::vocab::{
    AppState, CallId, CallKind, CallResult, Happening, Platform, TimerKind, TokenKey,
};

use super::{Job, Js, JsJob, LoadStatus, Purpose, Slot, World};

impl World {
    pub(super) fn cold_start(&mut self) {
        if self.device.running {
            return;
        }
        // A user launch: the user unlocked the device to tap the icon.
        self.device.unlock();
        self.device.running = true;
        self.device.app_state = AppState::Active;
        self.start_all_js();
    }

    /// The user locks the device: the OS moves a foreground app to the background.
    pub(super) fn lock_device(&mut self) {
        self.device.lock();
        if self.device.running && self.device.app_state != AppState::Background {
            self.set_app_state(AppState::Background);
        }
    }

    /// The OS runs JS in the background for `ms`, launching the process if needed (a
    /// background fetch, a push, iOS prewarming), then suspends it again.
    pub(super) fn background_wake(&mut self, ms: u64) {
        let target = self.now.plus(ms);
        let backgrounded = !self.device.running || self.device.app_state == AppState::Background;
        if backgrounded && self.device.may_run_in_background() {
            self.device.awake = true;
            if self.device.running {
                // JS resumes in the background: overdue timers and held responses run now.
                self.resume_held();
            } else {
                self.device.running = true;
                self.device.app_state = AppState::Background;
                self.start_all_js();
            }
        }
        self.run_until(target);
        self.device.awake = false;
    }

    pub(super) fn kill(&mut self) {
        if !self.device.running {
            return;
        }
        self.end_all_js();
        self.device.running = false;
        self.native_process_ended();
    }

    /// The current instance's JS runtime starts (`start_all_js` starts every instance's).
    pub(super) fn start_js(&mut self) {
        self.js = Js::new(self.js.runtime + 1);
        // The listener starts from `AppState.currentState`.
        self.js.heard = self.device.app_state;
        self.render();
        self.start_load();
        if self.in_ui() {
            // The native module is the app's provider's to configure, not a headless one's.
            self.native_bootstrap();
        }
    }

    /// The current instance's JS runtime dies: every open call dies with it (`end_all_js`
    /// ends every instance's).
    pub(super) fn end_js(&mut self) {
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
        let runtime = self.js.runtime;
        for (_, _, job) in self.paused.extract_if(.., |(_, js, _)| *js == runtime) {
            if let JsJob::Deliver(req, _) = job {
                self.flights.remove(&req);
            }
        }
        // Requests stuck behind a storage read that never settled die with the runtime.
        self.flights.retain(|_, f| !f.hung || f.js != runtime);
        self.js = Js::new(self.js.runtime + 1);
        self.js.status = LoadStatus::Loading;
    }

    pub(super) fn set_app_state(&mut self, state: AppState) {
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
            if self.setup.sdk.native {
                // The native SDK hears the OS itself, before JS's listener (`model/native.rs`).
                self.native_foreground();
            }
            // JS resumes: overdue timers and held responses run now, late, in order.
            self.resume_held();
        }
        self.app_state_event(state);
    }

    /// The device tells JS's AppState listener of the change it made, as it delivers it
    /// (`Device::deliver_app_state`: at once, late, twice, never, or after the next change).
    pub(super) fn app_state_event(&mut self, state: AppState) {
        let heard = self.device.deliver_app_state(state);
        for state in heard.now {
            self.app_state_listener(state);
        }
        if let Some((ms, state)) = heard.late {
            let at = self.now.plus(ms);
            self.schedule_js(at, JsJob::AppStateEvent { state });
        }
    }

    /// JS's AppState `change` listener: on a change to `active` it heard, the foreground
    /// refresh. It compares with what it heard last, so a duplicate does nothing.
    pub(super) fn app_state_listener(&mut self, state: AppState) {
        let before = std::mem::replace(&mut self.js.heard, state);
        if state == AppState::Active && before != AppState::Active {
            self.foreground_refresh();
        }
    }

    /// The device sleeps for `ms`: every pending JS timer moves `ms` later (the monotonic
    /// clock stops), JS is held while the wall clock and the network run on, and on wake the
    /// answers that arrived meanwhile run at once (if the app is in the foreground).
    pub(super) fn device_sleep(&mut self, ms: u64) {
        let start = self.now;
        let timers: Vec<(VTime, u64)> = self
            .agenda
            .iter()
            .filter(|(_, job)| matches!(job, Job::Js { job, .. } if job.is_timer()))
            .map(|(key, _)| *key)
            .collect();
        for (at, seq) in timers {
            let job = self.agenda.remove(&(at, seq)).expect("collected just above");
            self.agenda.insert((at.max(start).plus(ms), seq), job);
        }
        self.device.asleep = true;
        self.run_until(start.plus(ms));
        self.device.asleep = false;
        if self.device.js_runs() {
            self.resume_held();
        }
    }

    /// JS runs again (back in the foreground, woken, awake after a sleep): the timers and
    /// answers held meanwhile run now, late, in the order they fell due.
    fn resume_held(&mut self) {
        for (due, js, job) in std::mem::take(&mut self.paused) {
            self.run_held(js, job, due);
            self.end_turn();
        }
    }

    pub(super) fn schedule(&mut self, at: VTime, job: Job) {
        self.seq += 1;
        self.agenda.insert((at, self.seq), job);
    }

    pub(super) fn schedule_js(&mut self, at: VTime, job: JsJob) {
        let js = self.js.runtime;
        self.schedule(at, Job::Js { js, job });
    }

    pub(super) fn run_until(&mut self, target: VTime) {
        // What the event sent leaves before time moves on (a background wake's load).
        self.depart();
        while let Some(entry) = self.agenda.first_entry() {
            let (at, _) = *entry.key();
            if at > target {
                break;
            }
            self.jobs += 1;
            if super::past_budget(self.jobs) {
                return;
            }
            let job = entry.remove();
            self.now = self.now.max(at);
            match job {
                Job::Arrive(req) => self.arrive(req),
                Job::BackendArrive { call, attempt, token, sent_at, js } => {
                    self.backend_arrive(call, attempt, token.map(|t| *t), sent_at, js)
                }
                Job::Js { js, job } => {
                    if !self.run_js_job(js, job, at) {
                        continue;
                    }
                }
            }
            self.end_turn();
        }
        self.now = self.now.max(target);
    }

    pub(super) fn run_js(&mut self, job: JsJob, due: VTime) {
        match job {
            JsJob::Deliver(req, reply) => self.deliver(req, reply),
            JsJob::BackendReply { call, status } => self.api_backend_reply(call, status),
            // A timer whose cache entry was replaced was cleared in clerk-js: it never fires.
            JsJob::RefreshTimer { key, epoch } => {
                if self.js.cache.get(&key).is_some_and(|e| e.1 == epoch) {
                    self.timer_fired(TimerKind::TokenRefresh, due);
                    self.refresh_timer(key);
                }
            }
            JsJob::EvictTimer { key, epoch } => {
                if self.js.cache.get(&key).is_some_and(|e| e.1 == epoch) {
                    self.timer_fired(TimerKind::TokenEvict, due);
                    self.js.cache.remove(&key);
                }
            }
            JsJob::AppStateEvent { state } => self.app_state_listener(state),
            JsJob::NativePoll(n) => {
                self.timer_fired(TimerKind::NativePoll, due);
                self.native_poll(n);
            }
            JsJob::RecurringRefresh { epoch } => {
                if epoch == self.js.recurring_gen {
                    self.timer_fired(TimerKind::TokenRefresh, due);
                    // The poller refreshes the session token only (clerk-js's
                    // `SessionCookiePoller` calls `session.getToken()` without a template).
                    if let Slot::Some(v) = self.js.slot {
                        self.start_background_refresh(TokenKey::session(v.id));
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
                let current =
                    attempt == self.js.load_attempt && self.js.status == LoadStatus::Loading;
                // With `load_get_outlives_load` a failed load's other GET still retries.
                if current || self.rules.load_get_outlives_load {
                    let request =
                        if client { FapiRequest::GetClient } else { FapiRequest::Environment };
                    self.send(request, Purpose::Load { client, attempt, tries });
                }
            }
            JsJob::UnauthRetry { tries, held } => {
                self.timer_fired(TimerKind::Retry, due);
                let req =
                    self.send(FapiRequest::GetClient, Purpose::Unauthenticated { tries, held });
                if held.is_none() {
                    self.js.unauth = Some(req);
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
                if self.js.status.recovers() {
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

    pub(super) fn timer_fired(&mut self, timer: TimerKind, due: VTime) {
        self.log.push(Happening::TimerFired { at: self.now, timer, due });
    }
}

impl JsJob {
    /// A `setTimeout` (a refresh, eviction or retry timer): it runs on the monotonic clock,
    /// which stops while the device sleeps.
    pub(super) fn is_timer(&self) -> bool {
        !matches!(
            self,
            JsJob::Deliver(..) | JsJob::BackendReply { .. } | JsJob::AppStateEvent { .. }
        )
    }
}
