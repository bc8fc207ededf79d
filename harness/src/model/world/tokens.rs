//! Session tokens: the token cache, `getToken`'s fetch (joined or not, per profile), its
//! retries, and the refresh timers (one per token, or the recurring poller).
//! Mirrors `sdk/reference/js/tokens.rs`.
//!
//! The cache is keyed by session and JWT template ([`TokenKey`], clerk-js's `tokenId`): a
//! template's token is fetched, joined, cached, evicted and refreshed by its own timer apart
//! from the session token. It never becomes the session's `lastActiveToken`, emits nothing
//! and is not persisted (clerk-js `#dispatchTokenEvents` runs only without a template); the
//! recurring poller and the foreground refresh ask for the session token only.

use crate::model::device::Payload;
use crate::model::profile::{CachePolicy, OfflinePolicy, RefreshPolicy};
use crate::model::server::{FapiRequest, ReplyBody};
use crate::model::vocab::{
    CallId, CallKind, CallResult, Happening, Network, RequestId, StorageKey, TokenInfo, TokenKey,
};

use super::{Failure, JsJob, Purpose, Reply, Slot, TokenOutcome, World};

pub(super) fn token_result(outcome: TokenOutcome) -> CallResult {
    match outcome {
        Ok(Some(token)) => CallResult::Token { token },
        Ok(None) => CallResult::Null,
        Err(f) => CallResult::Error { status: f.status, code: f.code },
    }
}

impl World {
    /// `getToken` (or the API wrapper's `session.getToken`) for `call`, from the top: wait for
    /// load, answer signed-out, apply the offline rule, consult the cache, or fetch.
    pub(super) fn token_begin(&mut self, call: CallId) {
        let Some(c) = self.js.calls.get(&call) else {
            return;
        };
        let (kind, skip_cache, template) = (c.kind, c.skip_cache, c.template);
        let waits_for_load = kind != CallKind::ApiCall;
        if waits_for_load && !self.is_loaded() {
            self.js.load_waiters.push(call);
            return;
        }
        let bound = c.bound;
        let sid = match (bound, self.js.slot) {
            (Some(sid), _) => sid,
            (None, Slot::Some(v)) => v.id,
            _ => return self.token_done(call, Ok(None)),
        };
        if self.rules.retry_keeps_session
            && let Some(c) = self.js.calls.get_mut(&call)
        {
            c.bound = Some(sid);
        }
        let key = TokenKey { sid, template };
        let clock = self.expiry_clock();
        if self.device.network == Network::Offline
            && self.rules.offline == OfflinePolicy::ThrowOrCached
        {
            if self.setup.sdk.resource_cache
                && let Some(token) =
                    self.js.cache.get(&key).map(|e| e.0).filter(|t| t.remaining_at(clock) > 0)
            {
                return self.token_done(call, Ok(Some(token)));
            }
            return self.token_done(call, Err(Failure::network()));
        }
        let cached = self.js.cache.get(&key).map(|e| e.0);
        match self.rules.cache {
            CachePolicy::HitUntil => {
                if !skip_cache {
                    if let Some(&req) = self.js.fetch.get(&key) {
                        return self.join_fetch(req, call);
                    }
                    if let Some(token) = cached {
                        if token.remaining_at(clock) > self.rules.hit_min_remaining_ms as i64 {
                            return self.token_done(call, Ok(Some(token)));
                        }
                        // clerk-js `get()` deletes an entry this close to expiry, and its
                        // timers; other tokens' entries stay.
                        self.js.cache.remove(&key);
                    }
                }
            }
            CachePolicy::StaleWhileRevalidate => {
                if !skip_cache && let Some(token) = cached {
                    let remaining = token.remaining_at(clock);
                    if remaining > 0 {
                        if remaining <= self.rules.swr_window_ms as i64 {
                            self.start_background_refresh(key);
                        }
                        return self.token_done(call, Ok(Some(token)));
                    }
                }
                if let Some(&req) = self.js.fetch.get(&key) {
                    return self.join_fetch(req, call);
                }
            }
        }
        if self.rules.single_flight_all
            && let Some(&req) = self.js.fetch.get(&key)
        {
            return self.join_fetch(req, call);
        }
        let request = self.token_request(key, skip_cache);
        let req =
            self.send(request, Purpose::TokenFetch { waiters: vec![call], expired_retry: false });
        self.js.fetch.insert(key, req);
        if self.rules.cache == CachePolicy::HitUntil {
            // clerk-js stores the pending resolver in the token's slot at once.
            self.js.cache.remove(&key);
        }
    }

    /// The Unix-ms clock cached tokens are judged against: the server's time, or the
    /// device's `Date.now()` ([`crate::model::profile::ExpiryClock`]).
    pub(super) fn expiry_clock(&self) -> u64 {
        self.device.expiry_clock_ms(self.rules.expiry_clock, self.now)
    }

    pub(super) fn join_fetch(&mut self, req: RequestId, call: CallId) {
        // A fetch whose 401 waits for `handleUnauthenticated` is still the pending promise
        // in the cache: a caller joins it and sees what its first caller sees.
        if let Some(Purpose::TokenFetch { waiters, .. }) =
            self.js.held.get_mut(&req).map(|h| &mut h.purpose)
        {
            return waiters.push(call);
        }
        // Only token fetches are joined: a single-flight profile sends its background
        // refreshes as fetches with no waiter yet, and only it joins what is in flight.
        if let Some(Purpose::TokenFetch { waiters, .. }) =
            self.flights.get_mut(&req).map(|f| &mut f.purpose)
        {
            waiters.push(call);
        }
    }

    /// The token request for `key`. A template's request has an empty body (clerk-js
    /// `#fetchToken`: no `organization_id`, no `token=`, no `force_origin`).
    pub(super) fn token_request(&self, key: TokenKey, skip_cache: bool) -> FapiRequest {
        let TokenKey { sid, template } = key;
        if template.is_some() {
            return FapiRequest::Tokens { sid, carried: None, force_origin: false, template };
        }
        let minter = self.js.env.is_some_and(|e| e.session_minter);
        let last = self.js.last_token.get(&sid).copied();
        let carried = if minter && self.rules.carries_last_token { last } else { None };
        FapiRequest::Tokens { sid, carried, force_origin: skip_cache, template }
    }

    pub(super) fn start_background_refresh(&mut self, key: TokenKey) {
        if self.rules.single_flight_all {
            if self.js.fetch.contains_key(&key) {
                return;
            }
            let request = self.token_request(key, false);
            let req = self
                .send(request, Purpose::TokenFetch { waiters: Vec::new(), expired_retry: false });
            self.js.fetch.insert(key, req);
        } else {
            // One background refresh per token (clerk-js `#backgroundRefreshInProgress`).
            if self.js.bg.contains_key(&key) {
                return;
            }
            let request = self.token_request(key, false);
            let req = self.send(request, Purpose::BackgroundRefresh { expired_retry: false });
            self.js.bg.insert(key, req);
        }
    }

    /// clerk-js's per-token refresh timer of the cached token `key`, with the headless guard
    /// of PR #8303 on that session's own `lastActiveToken` — the session token's, for a
    /// template's timer too (`#refreshTokenInBackground` reads `this.lastActiveToken`). The
    /// timer belongs to the cached token, whatever the current session.
    pub(super) fn refresh_timer(&mut self, key: TokenKey) {
        let clock = self.expiry_clock();
        if self.js.last_token.get(&key.sid).is_some_and(|t| t.remaining_at(clock) <= 0) {
            return;
        }
        self.start_background_refresh(key);
    }

    pub(super) fn fetch_answer(
        &mut self,
        id: RequestId,
        request: &FapiRequest,
        (waiters, expired_retry): (Vec<CallId>, bool),
        reply: Reply,
    ) {
        if !expired_retry
            && let Some(key) = request.token_key()
            && self.expired_token_retry(key.sid, &reply)
        {
            // clerk-js `#createTokenResolver` without the session minter: a 422
            // `missing_expired_token` is retried once with `expired_token=<last token>`, inside
            // the same pending promise (callers that joined keep waiting on it).
            let purpose = Purpose::TokenFetch { waiters, expired_retry: true };
            let req = self.send(self.token_request(key, false), purpose);
            if self.js.fetch.get(&key) == Some(&id) {
                self.js.fetch.insert(key, req);
            }
            return;
        }
        // Whether the pending resolver is still its token's cache entry (clerk-js resolves
        // into the key only while it holds an entry).
        let pending = request.token_key().is_some_and(|key| self.js.fetch.get(&key) == Some(&id));
        if pending && let Some(key) = request.token_key() {
            self.js.fetch.remove(&key);
        }
        let outcome: TokenOutcome = match &reply {
            Reply::Answer(a) => match a.body {
                ReplyBody::Token(token) => Ok(Some(token)),
                _ => Err(Failure::from_reply(a)),
            },
            Reply::NetworkError => Err(Failure::network()),
        };
        if let Ok(Some(token)) = outcome {
            self.token_resolved(token, pending);
        }
        let clock = self.expiry_clock();
        let stale = matches!(outcome, Ok(Some(t)) if t.remaining_at(clock) <= 0);
        let mut waiters = waiters;
        if self.rules.starter_settles_last && !waiters.is_empty() {
            // The first waiter started the fetch; the callers that joined hear it first.
            waiters.rotate_left(1);
        }
        for call in waiters {
            match &outcome {
                Ok(_) if stale && self.rules.refetches_expired_delivery => self.token_begin(call),
                Ok(token) => self.token_done(call, Ok(*token)),
                Err(failure) => self.token_failed(call, failure.clone()),
            }
        }
    }

    /// Whether a token request's answer calls for the legacy retry with `expired_token=`.
    pub(super) fn expired_token_retry(
        &self,
        sid: crate::model::vocab::SessionId,
        reply: &Reply,
    ) -> bool {
        let minter = self.js.env.is_some_and(|e| e.session_minter);
        let missing = matches!(reply, Reply::Answer(a)
            if a.status == 422 && a.error_code() == Some("missing_expired_token"));
        self.rules.retries_missing_expired_token
            && missing
            && !minter
            && self.js.last_token.contains_key(&sid)
    }

    /// A token came back: cache it if it is fresher, re-arm timers, update `lastActiveToken`.
    /// `keyed`: the request that brought it still holds its session's cache entry (a pending
    /// fetch not dropped meanwhile, or a background refresh, which sets the entry anew).
    pub(super) fn token_resolved(&mut self, token: TokenInfo, keyed: bool) {
        if token.template.is_some() {
            // No events, no `lastActiveToken`, nothing persisted: only the cache entry, and
            // only into an entry the cache still has (as for a session token per session).
            if keyed || self.js.cache.contains_key(&token.key()) {
                self.set_cached(token);
            }
            return;
        }
        if self.rules.signout_failure_keeps_state {
            // clerk-js re-emits on every resolved token (`SessionTokenResolved`).
            self.reemit_session();
        }
        let current = match self.js.slot {
            Slot::Some(v) => Some(v.id),
            _ => None,
        };
        // A refresh of the cached token's session refreshes its entry even once it is no
        // longer current (clerk-js's cache is keyed by session, not by the current one).
        let refreshing = self.js.cache.contains_key(&token.key());
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
    pub(super) fn note_last_token(&mut self, token: TokenInfo) {
        let last = self.js.last_token.entry(token.sid).or_insert(token);
        if last.serial < token.serial {
            *last = token;
        }
    }

    pub(super) fn set_cached(&mut self, token: TokenInfo) {
        let key = token.key();
        // One slot per template unless per session: the entry to compare with may be another
        // session's.
        let existing = if self.rules.per_session_cache {
            self.js.cache.get(&key).copied()
        } else {
            self.js.cache.iter().find(|(k, _)| k.template == key.template).map(|(_, e)| *e)
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
        self.js.cache_gen += 1;
        let epoch = self.js.cache_gen;
        let key = token.key();
        if !self.rules.per_session_cache {
            // One slot: a token of another session replaces the entry (an expired one
            // leaves it empty).
            self.js.cache.retain(|k, _| k.template != key.template);
        }
        let Some((evict_ms, refresh_ms)) = self.rules.token_timers(&token, self.expiry_clock())
        else {
            self.js.cache.remove(&key);
            return;
        };
        self.js.cache.insert(key, (token, epoch));
        if let RefreshPolicy::TimerBeforeExpiry { .. } = self.rules.refresh {
            let now = self.now;
            self.schedule_js(now.plus(evict_ms), JsJob::EvictTimer { key, epoch });
            if let Some(refresh_ms) = refresh_ms {
                self.schedule_js(now.plus(refresh_ms), JsJob::RefreshTimer { key, epoch });
            }
        }
    }

    /// Drops every cached token. clerk-js's `clear()` also forgets the pending fetches (their
    /// next callers start others); a single-flight SDK keeps joining the ones in flight.
    pub(super) fn clear_token_cache(&mut self) {
        self.js.cache.clear();
        if !self.rules.single_flight_all {
            self.js.fetch.clear();
        }
    }

    /// A token attempt failed: 4xx (not 429) is final; others retry on the profile's schedule.
    pub(super) fn token_failed(&mut self, call: CallId, failure: Failure) {
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

    pub(super) fn token_done(&mut self, call: CallId, outcome: TokenOutcome) {
        let Some(c) = self.js.calls.get(&call) else {
            return;
        };
        match c.kind {
            CallKind::ApiCall => self.api_token(call, outcome),
            CallKind::SetActive | CallKind::SignIn => self.set_active_token(call, outcome),
            CallKind::GetToken => {
                // Any option (`skipCache`, `template`) turns Expo's wrapper off.
                let outcome = self.expo_use_auth(c.skip_cache || c.template.is_some(), outcome);
                self.settle(call, token_result(outcome));
            }
            _ => self.settle(call, token_result(outcome)),
        }
    }

    /// Expo's `useAuth().getToken` wrapper, active with the resource cache and no options:
    /// saves tokens, and on a network error returns the cached one (reference §1.5).
    pub(super) fn expo_use_auth(&mut self, options: bool, outcome: TokenOutcome) -> TokenOutcome {
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

    pub(super) fn arm_recurring(&mut self) {
        if let RefreshPolicy::Recurring { interval_ms } = self.rules.refresh {
            self.js.recurring_gen += 1;
            let epoch = self.js.recurring_gen;
            let at = self.now.plus(interval_ms);
            self.schedule_js(at, JsJob::RecurringRefresh { epoch });
        }
    }

    /// The article's `useForegroundRefresh`: on return to `active`, if signed in, force a
    /// fresh token.
    pub(super) fn foreground_refresh(&mut self) {
        if self.view.is_signed_in == Some(true) {
            let call = self.start_call(CallKind::ForegroundRefresh);
            self.js.calls.get_mut(&call).expect("just started").skip_cache = true;
            self.token_begin(call);
        }
    }
}
