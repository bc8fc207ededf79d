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
use super::{About, Core, Fetch, Fetched, JsJob, LoadStatus, Purpose, Slot, TokenOutcome};

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
    pub(super) fn token_next(
        self: &Rc<Self>,
        call: CallId,
        kind: CallKind,
        skip: bool,
        bound: &mut Option<SessionId>,
    ) -> Next {
        if kind != CallKind::ApiCall && !self.is_loaded() {
            return Next::WaitLoad(self.rt.borrow().loaded.clone());
        }
        let current = self.rt.borrow().session().map(|v| v.id);
        let Some(sid) = bound.or(current) else {
            return Next::Done(Ok(None));
        };
        if self.rules.retry_keeps_session {
            *bound = Some(sid);
        }
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
        let cached = self.rt.borrow().cache.filter(|(t, _)| t.sid == sid).map(|(t, _)| t);
        // clerk-js seeds the cache with every session's last token from each payload
        // (`#hydrateCache`): a session that is not the current one may be cached too.
        let fresh = cached.or_else(|| self.seeded_token(sid, current));
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
                        if cached.is_some() {
                            self.clear_token_cache();
                        }
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
            Purpose::TokenFetch { done: done.clone(), background: false, expired_retry: false },
            Some(call),
        );
        let mut rt = self.rt.borrow_mut();
        rt.fetch = Some(Fetch { req, sid, done: done.clone() });
        if self.rules.cache == CachePolicy::HitUntil && rt.cache.is_none_or(|(t, _)| t.sid == sid) {
            // clerk-js stores the pending resolver in the slot at once.
            rt.cache = None;
            rt.cache_gen += 1;
        }
        Next::Await(done)
    }

    /// The last token the held client payload carries for `sid`, if `sid` is not the current
    /// session (the current one's is in the cache already).
    fn seeded_token(&self, sid: SessionId, current: Option<SessionId>) -> Option<TokenInfo> {
        if current == Some(sid) {
            return None;
        }
        let rt = self.rt.borrow();
        let client = rt.client.as_ref()?;
        client.sessions.iter().find(|s| s.id == sid).and_then(|s| s.last_active_token)
    }

    pub(super) fn token_request(&self, sid: SessionId, skip: bool, background: bool) -> Req {
        let rt = self.rt.borrow();
        let minter = rt.environment.is_some_and(|e| e.session_minter);
        // `stale-timer-logout`: the pre-#8303 refresh always sends its last token along.
        let carries = (minter && self.rules.carries_last_token)
            || (background && self.has(Defect::StaleTimerLogout));
        let carried = if carries { rt.last_token } else { None };
        Req::Tokens { sid, carried, force_origin: skip, expired: None }
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
                Purpose::TokenFetch { done: done.clone(), background: true, expired_retry: false },
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
    /// The timer belongs to the cached token, whatever the current session.
    pub(super) fn refresh_timer(self: &Rc<Self>) {
        let (cached, expired) = {
            let rt = self.rt.borrow();
            (
                rt.cache.map(|(t, _)| t.sid),
                rt.last_token.is_some_and(|t| t.is_expired_at(self.now())),
            )
        };
        let Some(sid) = cached else { return };
        if expired && !self.has(Defect::StaleTimerLogout) {
            return;
        }
        self.start_background_refresh(sid);
    }

    pub(super) fn fetch_answer(
        self: &Rc<Self>,
        id: RequestId,
        done: Promise<Fetched>,
        (background, expired_retry): (bool, bool),
        about: About,
        reply: Reply,
    ) {
        let retry = self.expired_token_retry(&reply).filter(|_| !expired_retry);
        if let (Some(last), Some(sid)) = (retry, about.sid) {
            // clerk-js `#createTokenResolver` without the session minter: a 422
            // `missing_expired_token` is retried once with `expired_token=<last token>`, inside
            // the same pending promise (callers that joined keep waiting on it).
            let mut req = self.token_request(sid, false, background);
            if let Req::Tokens { expired, .. } = &mut req {
                *expired = Some(last);
            }
            let purpose = Purpose::TokenFetch { done, background, expired_retry: true };
            let new = self.send(req, purpose, about.call);
            let mut rt = self.rt.borrow_mut();
            if let Some(f) = rt.fetch.as_mut().filter(|f| f.req == id) {
                f.req = new;
            }
            return;
        }
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

    /// The last token to send along when a token request's answer calls for the legacy retry
    /// with `expired_token=`.
    fn expired_token_retry(&self, reply: &Reply) -> Option<TokenInfo> {
        let rt = self.rt.borrow();
        let minter = rt.environment.is_some_and(|e| e.session_minter);
        let missing = reply.status() == 422
            && reply.body().and_then(|b| b.error_code()) == Some("missing_expired_token");
        let applies = self.rules.retries_missing_expired_token && missing && !minter;
        rt.last_token.filter(|_| applies)
    }

    /// A token came back: cache it if fresher, re-arm timers, update `lastActiveToken`.
    pub(super) fn token_resolved(self: &Rc<Self>, token: TokenInfo) {
        let signing_out = {
            let rt = self.rt.borrow();
            let limbo = self.rules.signout_failure_keeps_state
                && rt.slot == Slot::Undefined
                && rt.transitive_from_session
                && rt.status != LoadStatus::Loading;
            limbo.then_some(rt.user_signing_out)
        };
        if let Some(user) = signing_out {
            // clerk-js re-emits on every resolved token (`SessionTokenResolved`); with
            // `session === undefined` after a failed sign-out the app reads signed out.
            let cause = if user { SignOutCause::User } else { SignOutCause::ClientPayload };
            self.set_slot(Slot::Null, cause);
        }
        {
            let mut rt = self.rt.borrow_mut();
            // A refresh of the cached token's session refreshes its entry even once it is no
            // longer current (clerk-js's cache is keyed by session, not by the current one).
            let refreshing = rt.cache.is_some_and(|(t, _)| t.sid == token.sid);
            if rt.session().map(|v| v.id) != Some(token.sid) && !refreshing {
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
            let token = match rt.cache {
                // clerk-js `setInternal` clears the entry's timers and stores the new entry; once it
                // settles the fresher token wins and its timers are armed again from now (a staler
                // payload re-arms them). Without those timers a staler token changes nothing.
                Some((t, _)) if t.serial >= token.serial => {
                    if !matches!(self.rules.refresh, RefreshPolicy::TimerBeforeExpiry { .. }) {
                        return;
                    }
                    t
                }
                _ => token,
            };
            rt.cache_gen += 1;
            let epoch = rt.cache_gen;
            let Some(timers) = self.rules.token_timers(&token, now) else {
                rt.cache = None;
                return;
            };
            rt.cache = Some((token, epoch));
            (epoch, timers)
        };
        let (evict_ms, refresh_ms) = remaining;
        if let RefreshPolicy::TimerBeforeExpiry { .. } = self.rules.refresh {
            self.schedule_js(now.plus(evict_ms), JsJob::EvictTimer(epoch));
            if let Some(refresh_ms) = refresh_ms {
                self.schedule_js(now.plus(refresh_ms), JsJob::RefreshTimer(epoch));
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
        self.token_for(call, kind, skip, None).await
    }

    /// `getToken` on one session's object: `bound` is the session `setActive` switches to,
    /// or `None` for the current one (then bound at the first attempt when retries stay on
    /// their session, [`crate::model::profile::Profile::retry_keeps_session`]).
    pub(super) async fn token_for(
        self: &Rc<Self>,
        call: CallId,
        kind: CallKind,
        skip: bool,
        mut bound: Option<SessionId>,
    ) -> TokenOutcome {
        let mut retries = 0;
        loop {
            match self.token_next(call, kind, skip, &mut bound) {
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
}
