//! Session tokens: the token cache, `getToken` as an async flow (joined fetches or not, per
//! profile), its retries, and the refresh timers (one per token, or the recurring poller).
//! Mirrors `model/world/tokens.rs`.

use std::rc::Rc;

use crate::model::device::Payload;
use crate::model::profile::{CachePolicy, OfflinePolicy, RefreshPolicy};
use crate::model::server::{FapiReply, ReplyBody};
use crate::model::vocab::{
    CallId, CallKind, CallResult, Defect, Happening, Network, RequestId, SessionId, SignOutCause,
    StorageKey, TimerKind, TokenInfo,
};
use crate::sdk::reference::exec::Promise;

use super::transport::{Failure, Reply, Req};
use super::{Core, Fetch, Fetched, JsJob, Purpose, Slot, TokenOutcome};

pub(super) fn token_result(outcome: &TokenOutcome) -> CallResult {
    match outcome {
        Ok(Some(token)) => CallResult::Token { token: *token },
        Ok(None) => CallResult::Null,
        Err(f) => f.result(),
    }
}

/// What one `getToken` attempt does next.
pub(super) enum Next {
    Done(TokenOutcome),
    WaitLoad(Promise<()>),
    Await(Promise<Fetched>),
}

impl Core {
    /// One attempt of `getToken` for `call`: wait for load, answer signed-out, the offline
    /// rule, the cache, join the fetch in flight, or start one.
    pub(super) fn token_next(self: &Rc<Self>, call: CallId, kind: CallKind, skip: bool) -> Next {
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

    pub(super) fn token_request(&self, sid: SessionId, skip: bool, background: bool) -> Req {
        let rt = self.rt.borrow();
        let minter = rt.environment.is_some_and(|e| e.session_minter);
        // `stale-timer-logout`: the pre-#8303 refresh always sends its last token along.
        let carries = (minter && self.rules.carries_last_token)
            || (background && self.has(Defect::StaleTimerLogout));
        let carried = if carries { rt.last_token } else { None };
        Req::Tokens { sid, carried, force_origin: skip }
    }

    pub(super) fn start_background_refresh(self: &Rc<Self>, sid: SessionId) {
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
    pub(super) fn refresh_timer(self: &Rc<Self>) {
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

    pub(super) fn fetch_answer(
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
    pub(super) fn token_resolved(self: &Rc<Self>, token: TokenInfo) {
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

    pub(super) fn set_cached(&self, token: TokenInfo) {
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
    pub(super) fn clear_token_cache(&self) {
        let mut rt = self.rt.borrow_mut();
        rt.cache = None;
        rt.cache_gen += 1;
        if !self.rules.single_flight_all {
            rt.fetch = None;
        }
    }

    pub(super) fn arm_recurring(&self) {
        if let RefreshPolicy::Recurring { interval_ms } = self.rules.refresh {
            let epoch = {
                let mut rt = self.rt.borrow_mut();
                rt.recurring_gen += 1;
                rt.recurring_gen
            };
            self.schedule_js(self.now().plus(interval_ms), JsJob::RecurringRefresh(epoch));
        }
    }

    /// `getToken` for `call`, retries included: 4xx other than 429 is final; the rest retry on
    /// the profile's schedule.
    pub(super) async fn token(
        self: &Rc<Self>,
        call: CallId,
        kind: CallKind,
        skip: bool,
    ) -> TokenOutcome {
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

    /// Expo's `useAuth().getToken` wrapper, active with the resource cache and no options:
    /// on a network error it returns the cached session token (reference §1.5).
    pub(super) fn expo_use_auth(&self, skip: bool, outcome: TokenOutcome) -> TokenOutcome {
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
    pub(super) fn foreground_refresh(self: &Rc<Self>) {
        if self.view.borrow().is_signed_in == Some(true) {
            let call = self.start_call(CallKind::ForegroundRefresh);
            let core = self.clone();
            self.exec.spawn(async move {
                let outcome = core.token(call, CallKind::ForegroundRefresh, true).await;
                core.settle(call, token_result(&outcome));
            });
        }
    }

    /// Whether `getToken` for `sid` would answer from the cache (every payload seeds it with
    /// each session's last token, clerk-js `#hydrateCache`).
    pub(super) fn token_cached_for(&self, sid: SessionId) -> bool {
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
}
