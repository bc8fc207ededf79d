//! Session tokens: the token cache, `getToken` as an async flow (joined fetches or not, per
//! profile), its retries, and the refresh timers (one per token, or the recurring poller).
//! Mirrors `model/world/tokens.rs`.
//!
//! Tokens are cached by session and JWT template (clerk-js's `tokenId`); a template's token
//! has its own fetch, entry and timers, and never becomes the session's `lastActiveToken`,
//! emits nothing and is not persisted (clerk-js `#dispatchTokenEvents` skips templates).

use std::rc::Rc;

use crate::model::device::Payload;
use crate::model::profile::{CachePolicy, ExpiryClock, OfflinePolicy, RefreshPolicy};
use crate::model::server::{FapiReply, ReplyBody};
use crate::model::vocab::{
    CallId, CallKind, CallResult, Defect, Happening, Network, RequestId, SessionId, SignOutCause,
    StorageKey, TemplateName, TimerKind, TokenInfo, TokenKey,
};
use crate::sdk::reference::exec::Promise;

use super::transport::{Failure, Reply, Req};
use super::{About, Core, Fetch, Fetched, JsJob, Purpose, Slot, TokenOutcome};

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
    /// A fetch to wait on, and whether this call started it: a starter hears the answer one
    /// hop after the callers that joined it when the profile says so
    /// ([`crate::model::profile::Profile::starter_settles_last`]).
    Await(Promise<Fetched>, bool),
}

impl Core {
    /// One attempt of `getToken` for `call`: wait for load, answer signed-out, the offline
    /// rule, the cache, join the fetch in flight, or start one.
    pub(super) fn token_next(
        self: &Rc<Self>,
        call: CallId,
        kind: CallKind,
        (skip, template): (bool, Option<TemplateName>),
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
        let key = TokenKey { sid, template };
        let clock = self.expiry_clock();
        let offline = self.device.borrow().network == Network::Offline;
        if offline && self.has(Defect::NullOfflineLogout) {
            // Core 2: `getToken` answers null while offline.
            return Next::Done(Ok(None));
        }
        if offline && self.rules.offline == OfflinePolicy::ThrowOrCached {
            let cached =
                self.rt.borrow().cache.get(&key).map(|c| c.0).filter(|t| t.remaining_at(clock) > 0);
            if self.setup.sdk.resource_cache
                && let Some(token) = cached
            {
                return Next::Done(Ok(Some(token)));
            }
            return Next::Done(Err(Failure::network()));
        }
        let single_flight = !self.has(Defect::NoSingleFlight);
        let cached = self.rt.borrow().cache.get(&key).map(|c| c.0);
        let joinable = |core: &Core| -> Option<Promise<Fetched>> {
            let rt = core.rt.borrow();
            rt.fetch.get(&key).filter(|_| single_flight).map(|f| f.done.clone())
        };
        match self.rules.cache {
            CachePolicy::HitUntil => {
                if !skip {
                    if let Some(done) = joinable(self) {
                        return Next::Await(done, false);
                    }
                    if let Some(token) = cached {
                        if self.remaining_ms(&token, clock) > self.rules.hit_min_remaining_ms as i64
                        {
                            return Next::Done(Ok(Some(token)));
                        }
                        // clerk-js `get()` deletes an entry this close to expiry, and its
                        // timers; other tokens' entries stay.
                        self.rt.borrow_mut().cache.remove(&key);
                    }
                }
            }
            CachePolicy::StaleWhileRevalidate => {
                if !skip && let Some(token) = cached {
                    let remaining = self.remaining_ms(&token, clock);
                    if remaining > 0 {
                        if remaining <= self.rules.swr_window_ms as i64 {
                            self.start_background_refresh(key);
                        }
                        return Next::Done(Ok(Some(token)));
                    }
                }
                if let Some(done) = joinable(self) {
                    return Next::Await(done, false);
                }
            }
        }
        if self.rules.single_flight_all
            && let Some(done) = joinable(self)
        {
            return Next::Await(done, false);
        }
        let done = Promise::new();
        let request = self.token_request(key, skip, false);
        let req = self.send(
            request,
            Purpose::TokenFetch { done: done.clone(), background: false, expired_retry: false },
            Some(call),
        );
        let mut rt = self.rt.borrow_mut();
        rt.fetch.insert(key, Fetch { req, done: done.clone() });
        if self.rules.cache == CachePolicy::HitUntil {
            // clerk-js stores the pending resolver in the token's slot at once.
            rt.cache.remove(&key);
        }
        Next::Await(done, true)
    }

    /// The token request for `key`; a template's carries no `token=` (its body is empty).
    pub(super) fn token_request(&self, key: TokenKey, skip: bool, background: bool) -> Req {
        let TokenKey { sid, template } = key;
        if template.is_some() {
            return Req::Tokens { sid, carried: None, force_origin: skip, expired: None, template };
        }
        let rt = self.rt.borrow();
        let minter = rt.environment.is_some_and(|e| e.session_minter);
        // `stale-timer-logout`: the pre-#8303 refresh always sends its last token along.
        let carries = (minter && self.rules.carries_last_token)
            || (background && self.has(Defect::StaleTimerLogout));
        let carried = if carries { rt.last_token.get(&sid).copied() } else { None };
        Req::Tokens { sid, carried, force_origin: skip, expired: None, template: None }
    }

    pub(super) fn start_background_refresh(self: &Rc<Self>, key: TokenKey) {
        if self.rules.single_flight_all {
            if self.rt.borrow().fetch.contains_key(&key) {
                return;
            }
            let done = Promise::new();
            let request = self.token_request(key, false, true);
            let req = self.send(
                request,
                Purpose::TokenFetch { done: done.clone(), background: true, expired_retry: false },
                None,
            );
            self.rt.borrow_mut().fetch.insert(key, Fetch { req, done });
        } else {
            // One background refresh per token (clerk-js `#backgroundRefreshInProgress`).
            if self.rt.borrow().bg.contains_key(&key) {
                return;
            }
            let request = self.token_request(key, false, true);
            let req = self.send(request, Purpose::Background { expired_retry: false }, None);
            self.rt.borrow_mut().bg.insert(key, req);
        }
    }

    /// clerk-js's per-token refresh timer of the cached token `key`, with the headless guard
    /// of PR #8303 on that session's own `lastActiveToken` (a timer that fires after it
    /// expired does nothing) — the session token's, for a template's timer too. The timer
    /// belongs to the cached token, whatever the current session.
    pub(super) fn refresh_timer(self: &Rc<Self>, key: TokenKey) {
        let clock = self.expiry_clock();
        let expired =
            self.rt.borrow().last_token.get(&key.sid).is_some_and(|t| t.remaining_at(clock) <= 0);
        if expired && !self.has(Defect::StaleTimerLogout) {
            return;
        }
        self.start_background_refresh(key);
    }

    pub(super) fn fetch_answer(
        self: &Rc<Self>,
        id: RequestId,
        done: Promise<Fetched>,
        (background, expired_retry): (bool, bool),
        about: About,
        reply: Reply,
    ) {
        let retry = about.sid.and_then(|sid| self.expired_token_retry(sid, &reply));
        let retry = retry.filter(|_| !expired_retry);
        if let (Some(last), Some(key)) = (retry, about.token_key()) {
            // clerk-js `#createTokenResolver` without the session minter: a 422
            // `missing_expired_token` is retried once with `expired_token=<last token>`, inside
            // the same pending promise (callers that joined keep waiting on it).
            let mut req = self.token_request(key, false, background);
            if let Req::Tokens { expired, .. } = &mut req {
                *expired = Some(last);
            }
            let purpose = Purpose::TokenFetch { done, background, expired_retry: true };
            let new = self.send(req, purpose, about.call);
            let mut rt = self.rt.borrow_mut();
            if let Some(f) = rt.fetch.get_mut(&key).filter(|f| f.req == id) {
                f.req = new;
            }
            return;
        }
        // Whether the pending resolver is still its token's cache entry (clerk-js resolves
        // into the key only while it holds an entry).
        let pending = {
            let mut rt = self.rt.borrow_mut();
            let key = about.token_key().filter(|k| rt.fetch.get(k).is_some_and(|f| f.req == id));
            key.and_then(|key| rt.fetch.remove(&key)).is_some()
        };
        let outcome: TokenOutcome = match reply.body() {
            Some(FapiReply { body: ReplyBody::Token(token), .. }) => Ok(Some(*token)),
            _ => Err(reply.failure()),
        };
        if let Ok(Some(token)) = outcome {
            self.token_resolved(token, pending);
        }
        if background && reply.status() == 401 && self.has(Defect::StaleTimerLogout) {
            self.set_slot(Slot::Null, SignOutCause::Unauthorized);
        }
        if background && outcome.is_err() {
            self.refresh_error_removes_session(&reply);
        }
        let clock = self.expiry_clock();
        let stale = matches!(outcome, Ok(Some(t)) if t.remaining_at(clock) <= 0);
        done.resolve((outcome, stale));
    }

    /// `refresh-error-removes-session`: a background refresh that failed with a network error
    /// removes the session — slot cleared, client token deleted — as supabase auth-js did
    /// before PR #710.
    pub(super) fn refresh_error_removes_session(self: &Rc<Self>, reply: &Reply) {
        if !matches!(reply, Reply::NetworkError) || !self.has(Defect::RefreshErrorRemovesSession) {
            return;
        }
        if self.rt.borrow().session().is_none() {
            return;
        }
        self.delete_storage(StorageKey::ClientJwt);
        self.rt.borrow_mut().memory_token = None;
        self.set_slot(Slot::Null, SignOutCause::LocalWipe);
    }

    /// The last token to send along when a token request's answer calls for the legacy retry
    /// with `expired_token=`.
    pub(super) fn expired_token_retry(&self, sid: SessionId, reply: &Reply) -> Option<TokenInfo> {
        let rt = self.rt.borrow();
        let minter = rt.environment.is_some_and(|e| e.session_minter);
        let missing = reply.status() == 422
            && reply.body().and_then(|b| b.error_code()) == Some("missing_expired_token");
        let applies = self.rules.retries_missing_expired_token && missing && !minter;
        rt.last_token.get(&sid).copied().filter(|_| applies)
    }

    /// A token came back: cache it if fresher, re-arm timers, update `lastActiveToken`.
    /// `keyed`: the request that brought it still holds its session's cache entry (a pending
    /// fetch not dropped meanwhile, or a background refresh, which sets the entry anew).
    pub(super) fn token_resolved(self: &Rc<Self>, token: TokenInfo, keyed: bool) {
        if token.template.is_some() {
            // No events, no `lastActiveToken`, nothing persisted: the cache entry only, and
            // only into an entry the cache still has.
            if keyed || self.rt.borrow().cache.contains_key(&token.key()) {
                self.set_cached(token);
            }
            return;
        }
        if self.rules.signout_failure_keeps_state {
            // clerk-js re-emits on every resolved token (`SessionTokenResolved`).
            self.reemit_session();
        }
        // A refresh of the cached token's session refreshes its entry even once it is no
        // longer current (clerk-js's cache is keyed by session, not by the current one).
        let (current, refreshing) = {
            let rt = self.rt.borrow();
            (rt.session().map(|v| v.id), rt.cache.contains_key(&token.key()))
        };
        if self.rules.per_session_cache {
            // `#dispatchTokenEvents` updates the session's own `lastActiveToken` whatever
            // the cache holds; the cache takes the token only into an entry it still has.
            self.note_last_token(token);
            if !keyed && !refreshing {
                return;
            }
        } else {
            if current != Some(token.sid) && !refreshing {
                return;
            }
            self.note_last_token(token);
        }
        self.set_cached(token);
        self.persist_resources();
    }

    /// The token becomes its session's `lastActiveToken` if it is fresher.
    pub(super) fn note_last_token(&self, token: TokenInfo) {
        let mut rt = self.rt.borrow_mut();
        let last = rt.last_token.entry(token.sid).or_insert(token);
        if last.serial < token.serial {
            *last = token;
        }
    }

    pub(super) fn set_cached(&self, token: TokenInfo) {
        let now = self.now();
        let remaining = {
            let mut rt = self.rt.borrow_mut();
            // One slot per template unless per session: the entry to compare with may be
            // another session's.
            let existing = if self.rules.per_session_cache {
                rt.cache.get(&token.key()).copied()
            } else {
                rt.cache.iter().find(|(k, _)| k.template == token.template).map(|(_, e)| *e)
            };
            let token = match existing {
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
            let key = token.key();
            if !self.rules.per_session_cache {
                // One slot: a token of another session replaces the entry.
                rt.cache.retain(|k, _| k.template != key.template);
            }
            // `template-never-expires`: a template's entry gets no timers; nothing evicts it.
            let timers = if self.template_never_expires(&token) {
                None
            } else {
                let Some(timers) = self.rules.token_timers(&token, self.expiry_clock()) else {
                    rt.cache.remove(&key);
                    return;
                };
                Some(timers)
            };
            rt.cache.insert(key, (token, epoch));
            (key, epoch, timers)
        };
        let (key, epoch, timers) = remaining;
        if let (Some((evict_ms, refresh_ms)), RefreshPolicy::TimerBeforeExpiry { .. }) =
            (timers, self.rules.refresh)
        {
            self.schedule_js(now.plus(evict_ms), JsJob::EvictTimer(key, epoch));
            if let Some(refresh_ms) = refresh_ms {
                self.schedule_js(now.plus(refresh_ms), JsJob::RefreshTimer(key, epoch));
            }
        }
    }

    /// Drops every cached token. clerk-js's `clear()` also forgets the pending fetches (their
    /// next callers start others); a single-flight SDK keeps joining the ones in flight.
    pub(super) fn clear_token_cache(&self) {
        let mut rt = self.rt.borrow_mut();
        rt.cache.clear();
        if !self.rules.single_flight_all {
            rt.fetch.clear();
        }
    }

    /// How long a cached token has left, as the cache judges it: against `clock`
    /// ([`Core::expiry_clock`]), or, with `timer-only-expiry`, not at all: an entry is fresh
    /// until its eviction timer removes it, and that timer stops while the device sleeps.
    fn remaining_ms(&self, token: &TokenInfo, clock: u64) -> i64 {
        if self.has(Defect::TimerOnlyExpiry) || self.template_never_expires(token) {
            i64::MAX
        } else {
            token.remaining_at(clock)
        }
    }

    /// `template-never-expires`: the cache keeps a JWT template's token with no expiry of its
    /// own — no eviction timer, `exp` never read — so `getToken({ template })` answers the same
    /// token until the cache is cleared (clerk/javascript #923).
    fn template_never_expires(&self, token: &TokenInfo) -> bool {
        token.template.is_some() && self.has(Defect::TemplateNeverExpires)
    }

    /// The Unix-ms clock cached tokens are judged against: the server's time, or the device's
    /// `Date.now()` (the profile's rule, or `expiry-from-device-clock`).
    pub(super) fn expiry_clock(&self) -> u64 {
        let clock = if self.has(Defect::ExpiryFromDeviceClock) {
            ExpiryClock::Device
        } else {
            self.rules.expiry_clock
        };
        self.device.borrow().expiry_clock_ms(clock, self.now())
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
        self.token_for(call, kind, (skip, None), None).await
    }

    /// `getToken` on one session's object: `bound` is the session `setActive` switches to,
    /// or `None` for the current one (then bound at the first attempt when retries stay on
    /// their session, [`crate::model::profile::Profile::retry_keeps_session`]).
    pub(super) async fn token_for(
        self: &Rc<Self>,
        call: CallId,
        kind: CallKind,
        want: (bool, Option<TemplateName>),
        mut bound: Option<SessionId>,
    ) -> TokenOutcome {
        let mut retries = 0;
        loop {
            match self.token_next(call, kind, want, &mut bound) {
                Next::Done(outcome) => return outcome,
                Next::WaitLoad(loaded) => loaded.wait().await,
                Next::Await(done, started) => {
                    let (outcome, stale) = done.wait().await;
                    if started && self.rules.starter_settles_last {
                        crate::sdk::reference::exec::yield_now().await;
                    }
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
    pub(super) fn expo_use_auth(&self, options: bool, outcome: TokenOutcome) -> TokenOutcome {
        if !self.setup.sdk.resource_cache || options {
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
