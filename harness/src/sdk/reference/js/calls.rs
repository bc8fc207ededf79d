//! User-facing calls as async flows: starting and settling them, sign-in, touch, sign-out,
//! end, remove and task answers, and the app's API wrapper (token, backend request, one
//! refresh after a 401 with the others awaiting it). Mirrors `model/world/calls.rs`.

use std::rc::Rc;

use crate::model::server::{FapiReply, ReplyBody};
use crate::model::vocab::{
    CallId, CallKind, CallResult, Defect, Happening, Network, SessionId, SignOutCause, StorageKey,
    TemplateName, TokenInfo,
};
use crate::sdk::defects::RETRY_401_LOOP_ATTEMPTS_MAX;
use crate::sdk::reference::exec::Promise;

use super::tokens::token_result;
use super::transport::{Reply, Req};
use super::{Core, JsJob, Macro, Slot};

impl Core {
    pub(super) fn start_call(&self, kind: CallKind) -> CallId {
        let id = CallId(self.next_call.get());
        self.next_call.set(id.0 + 1);
        self.rt.borrow_mut().calls.insert(id, kind);
        let instance = self.current.get() as u8;
        self.log(Happening::CallStarted { at: self.now(), call: id, kind, instance });
        id
    }

    pub(super) fn settle(&self, call: CallId, result: CallResult) {
        let kind = self.rt.borrow_mut().calls.remove(&call);
        if let Some(kind) = kind {
            // The user's leaving ends with the call that asked for it, whatever it found.
            if matches!(kind, CallKind::SignOut | CallKind::SessionEnd | CallKind::SessionRemove) {
                self.rt.borrow_mut().user_signing_out = false;
            }
            self.log(Happening::CallSettled { at: self.now(), call, kind, result });
        }
    }

    /// `useAuth().getToken({ skipCache, template })`.
    pub(super) async fn get_token_call(
        self: Rc<Self>,
        call: CallId,
        skip: bool,
        template: Option<TemplateName>,
    ) {
        let was_signed_in = self.rt.borrow().session().is_some();
        let outcome = self.token_for(call, CallKind::GetToken, (skip, template), None).await;
        // Any option (`skipCache`, `template`) turns Expo's wrapper off.
        let outcome = self.expo_use_auth(skip || template.is_some(), outcome);
        let null = matches!(outcome, Ok(None));
        self.settle(call, token_result(&outcome));
        if null && was_signed_in && self.has(Defect::NullOfflineLogout) {
            // The Core 2 app reads a null token as "signed out" and cleans up.
            self.delete_storage(StorageKey::ClientJwt);
            self.rt.borrow_mut().memory_token = None;
            self.set_slot(Slot::Null, SignOutCause::LocalWipe);
        }
    }

    /// The app's backend: the request travels for the backend latency (or fails at once
    /// offline); the promise resolves with the HTTP status in JS.
    pub(super) fn backend(
        &self,
        call: CallId,
        attempt: u8,
        token: Option<TokenInfo>,
    ) -> Promise<u16> {
        let reply = Promise::new();
        let now = self.now();
        let network = self.device.borrow().network;
        match network {
            Network::Offline => {
                self.schedule_js(now, JsJob::BackendReply(reply.clone(), 0));
                return reply;
            }
            // The app's fetch hangs: it fails after the timeout, or never answers.
            Network::Hanging => {
                let timeout = self.device.borrow().request_timeout_ms(self.request_timeout_ms());
                if let Some(ms) = timeout {
                    self.schedule_js(now.plus(ms), JsJob::BackendReply(reply.clone(), 0));
                }
                return reply;
            }
            Network::Online => {}
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
    pub(super) async fn api_call(self: Rc<Self>, call: CallId) {
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
            {
                let refused = token.map_or(0, |t| t.serial);
                let mut rt = self.rt.borrow_mut();
                if leader.is_none() {
                    rt.shell.refused = 0;
                }
                rt.shell.refused = rt.shell.refused.max(refused);
            }
            let outcome = match leader {
                Some(queue) => queue.wait().await,
                None => {
                    let queue = Promise::new();
                    self.rt.borrow_mut().shell.refreshing = Some(queue.clone());
                    // `retry-401-loop`: no `_retry` flag and a plain `getToken()` (a cache hit).
                    let mut outcome = self.token(call, CallKind::ApiCall, !looping).await;
                    // The refresh joined a fetch sent before the 401 and brought back a token
                    // no fresher than one the backend refused: fetch again (a single-flight
                    // SDK shares fetches, so a skipCache refresh can be older than its 401).
                    // Once is enough: a fetch sent after the 401 is fresher, and an offline
                    // cache hit would loop.
                    if self.rules.single_flight_all
                        && !looping
                        && matches!(&outcome, Ok(Some(t)) if t.serial <= self.rt.borrow().shell.refused)
                    {
                        outcome = self.token(call, CallKind::ApiCall, true).await;
                    }
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
    pub(super) fn call_then_finish(self: &Rc<Self>, call: CallId, req: Req) {
        let done = self.send_call(req, call);
        let core = self.clone();
        self.exec.spawn(async move {
            let reply = done.wait().await;
            core.finish_call(call, reply);
        });
    }

    /// Sign-in with a password, then `setActive({session})` (a touch of the new session).
    pub(super) async fn sign_in(self: Rc<Self>, call: CallId, done: Promise<Reply>) {
        let reply = done.wait().await;
        if reply.is_ok()
            && let Some(FapiReply { body: ReplyBody::SignIn { created_session }, .. }) =
                reply.body()
        {
            let sid = *created_session;
            self.rt.borrow_mut().preferred = Some(sid);
            let touched = self.send_call(Req::Touch { sid }, call).wait().await;
            return self.finish_touch(call, sid, touched).await;
        }
        self.finish_call(call, reply);
    }

    /// `setActive({session: sid})` after its touch answered for `call`: under clerk-js a 401
    /// is swallowed (the client is reloaded once more, not awaited) and the call ends with
    /// `await session.getToken()` for `sid`; its failure fails the call.
    pub(super) async fn finish_touch(self: Rc<Self>, call: CallId, sid: SessionId, reply: Reply) {
        if !self.rt.borrow().calls.contains_key(&call) {
            return;
        }
        let answered = matches!(reply, Reply::Answer(_));
        if self.rules.set_active_awaits_token
            && answered
            && (reply.is_ok() || reply.status() == 401)
        {
            if reply.status() == 401 {
                // `#touchCurrentSession`'s catch: `this.handleUnauthenticated()`, not awaited
                // (its own awaited reload already ran in `_baseFetch`).
                self.handle_unauthenticated();
            }
            let signed_in = self.rt.borrow().client.as_ref().is_some_and(|c| {
                c.sessions.iter().any(|s| s.id == sid && self.counts_signed_in(s.status))
            });
            if !signed_in {
                // `c = this.#e4(c?.id, e)`: after the touch the session is looked up again
                // among the client's signed-in sessions. One that ended meanwhile (an end or
                // remove answered first) is gone, so no token is fetched and `#eX(null)`
                // leaves no session (measured on clerk-js@6.40.0: no POST /tokens).
                self.set_slot(Slot::Null, self.leaving_cause());
                return self.settle(call, CallResult::Ok);
            }
            let kind = self.rt.borrow().calls.get(&call).copied().unwrap_or(CallKind::SetActive);
            match self.token_for(call, kind, (false, None), Some(sid)).await {
                Ok(token) => {
                    // A fetched token was resolved into the cache by its fetch; a cache hit
                    // sets nothing in clerk-js (per-session caches).
                    if self.activate(sid)
                        && let Some(token) = token
                        && !self.rules.per_session_cache
                    {
                        self.token_resolved(token, true);
                    }
                    self.settle(call, CallResult::Ok);
                }
                Err(f) => {
                    self.rt.borrow_mut().preferred = None;
                    self.settle(call, f.result());
                }
            }
            return;
        }
        self.finish_call(call, reply);
    }

    pub(super) fn finish_call(self: &Rc<Self>, call: CallId, reply: Reply) {
        let Some(kind) = self.rt.borrow().calls.get(&call).copied() else {
            return;
        };
        if reply.is_ok() {
            if kind == CallKind::SignOut {
                if self.rules.per_session_cache {
                    // `removeSessions()` clears the whole token cache once it succeeds.
                    self.clear_token_cache();
                }
                self.set_slot(Slot::Null, self.signed_out_cause());
                // A stale answer left the held client showing a session: its persisted
                // snapshot must not bring it back on a degraded start (as the model does).
                let stale = self
                    .rt
                    .borrow()
                    .client
                    .as_ref()
                    .is_some_and(|c| c.selected_session().is_some());
                if !self.rules.signout_failure_keeps_state && stale {
                    self.rt.borrow_mut().client = None;
                    self.delete_storage(StorageKey::CachedClient);
                }
            }
            return self.settle(call, CallResult::Ok);
        }
        match kind {
            CallKind::SignOut
                if self.rules.signout_failure_keeps_state
                    && reply.status() == 0
                    && self.setup.sdk.resource_cache =>
            {
                // Swallowed `network_error`: signed out locally, credential kept.
                self.set_slot(Slot::Null, self.leaving_cause());
                return self.settle(call, CallResult::Ok);
            }
            // Rethrown: still `undefined`, nothing cleared.
            CallKind::SignOut if self.rules.signout_failure_keeps_state => {}
            CallKind::SignOut => {
                // Signed out locally whatever the server said; a credential the server may
                // still honour is wiped so it cannot restore the session later
                // (`signout-keeps-credential` forgets the client token).
                if !self.has(Defect::SignoutKeepsCredential) {
                    self.delete_storage(StorageKey::ClientJwt);
                }
                self.delete_storage(StorageKey::CachedClient);
                self.delete_storage(StorageKey::CachedSessionJwt);
                {
                    let mut rt = self.rt.borrow_mut();
                    rt.memory_token = None;
                    rt.client = None;
                    // An answer to a request sent while the sign-out was in flight (a
                    // background reload) cannot speak for after it: it would bring the wiped
                    // credential back. The model does the same.
                    rt.signout_epoch += 1;
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
}
