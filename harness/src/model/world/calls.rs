//! User-facing calls: starting and settling them, the answers to sign-in, touch, sign-out,
//! end, remove and task requests, and the app's API wrapper (token, backend request, one
//! refresh after a 401 with the others queued). Mirrors `sdk/reference/js/calls.rs`.

use crate::model::server::{FapiRequest, ReplyBody, TEST_USER_IDENTIFIER, TEST_USER_PASSWORD};
use crate::model::time::VTime;
use crate::model::vocab::{
    CallId, CallKind, CallResult, Happening, Network, SignOutCause, StorageKey, TokenInfo,
};

use super::{ApiStage, Call, Failure, Job, JsJob, Purpose, Reply, Slot, TokenOutcome, World};

pub(super) fn api_unauthorized(code: &str) -> CallResult {
    CallResult::Error { status: 401, code: code.to_string() }
}

impl World {
    /// The sign-in screen's password sign-in of the test user.
    pub(super) fn send_sign_in(&mut self, call: CallId) {
        self.send(
            FapiRequest::SignIn {
                identifier: TEST_USER_IDENTIFIER.into(),
                password: TEST_USER_PASSWORD.into(),
            },
            Purpose::Call(call),
        );
    }

    pub(super) fn start_call(&mut self, kind: CallKind) -> CallId {
        let id = CallId(self.next_call);
        self.next_call += 1;
        self.js.calls.insert(
            id,
            Call {
                kind,
                skip_cache: false,
                template: None,
                retries: 0,
                api: ApiStage::Token,
                target: None,
                bound: None,
                sent: None,
            },
        );
        let instance = self.current as u8;
        self.log.push(Happening::CallStarted { at: self.now, call: id, kind, instance });
        id
    }

    pub(super) fn settle(&mut self, call: CallId, result: CallResult) {
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
    pub(super) fn call_answer(&mut self, call: CallId, request: &FapiRequest, reply: Reply) {
        let Some((kind, target)) = self.js.calls.get(&call).map(|c| (c.kind, c.target)) else {
            return;
        };
        let touch = matches!(request, FapiRequest::Touch { .. });
        if touch
            && self.rules.set_active_awaits_token
            && matches!(kind, CallKind::SignIn | CallKind::SetActive)
            && let Reply::Answer(a) = &reply
            && (a.is_ok() || a.status == 401)
        {
            if a.status == 401 {
                // `#touchCurrentSession`'s catch: `this.handleUnauthenticated()`, not awaited
                // (its own awaited reload already ran in `_baseFetch`).
                self.handle_unauthenticated();
            }
            let Some(sid) = target else {
                return self.settle(call, CallResult::Ok);
            };
            let signed_in =
                self.js.client.as_ref().is_some_and(|c| {
                    c.sessions.iter().any(|s| s.id == sid && s.status.is_signed_in())
                });
            if !signed_in {
                // `c = this.#e4(c?.id, e)`: after the touch the session is looked up again
                // among the client's signed-in sessions. One that ended meanwhile (an end or
                // remove answered first) is gone, so no token is fetched and `#eX(null)`
                // leaves no session (measured on clerk-js@6.40.0: no POST /tokens).
                self.set_slot(Slot::Null, self.leaving_cause());
                return self.settle(call, CallResult::Ok);
            }
            // `await session.getToken()`, bound to the session being switched to.
            if let Some(c) = self.js.calls.get_mut(&call) {
                c.bound = Some(sid);
                c.retries = 0;
            }
            return self.token_begin(call);
        }
        let answer = match reply {
            Reply::Answer(a) if a.is_ok() => a,
            other => {
                let failure = match &other {
                    Reply::Answer(a) => Failure::from_reply(a),
                    Reply::NetworkError => Failure::network(),
                };
                match kind {
                    CallKind::SignOut
                        if self.rules.signout_failure_keeps_state
                            && failure.status == 0
                            && self.setup.sdk.resource_cache =>
                    {
                        // Swallowed `network_error`: signed out locally, credential kept.
                        self.set_slot(Slot::Null, self.leaving_cause());
                        return self.settle(call, CallResult::Ok);
                    }
                    // Rethrown: still `undefined`, nothing cleared.
                    CallKind::SignOut if self.rules.signout_failure_keeps_state => {}
                    CallKind::SignOut => {
                        // Signed out locally whatever the server said; a credential the server
                        // may still honour is wiped so it cannot restore the session later.
                        self.delete_storage(StorageKey::ClientJwt);
                        self.delete_storage(StorageKey::CachedClient);
                        self.delete_storage(StorageKey::CachedSessionJwt);
                        self.js.memory_token = None;
                        self.js.client = None;
                        // An answer to a request sent while the sign-out was in flight (a
                        // background reload) cannot speak for after it: it would bring the
                        // wiped credential back.
                        self.js.signout_epoch += 1;
                        self.set_slot(Slot::Null, SignOutCause::User);
                    }
                    // (A refused end or remove stops the user's leaving in `settle`.)
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
                if self.rules.per_session_cache {
                    // `removeSessions()` clears the whole token cache once it succeeds.
                    self.clear_token_cache();
                }
                self.set_slot(Slot::Null, self.signed_out_cause());
                // The answer's client was stale (a degraded start made a session current after
                // the request went out) and the client held still shows a session: the
                // snapshot persisted from it must not bring that session back on the next
                // degraded start.
                let stale = self.js.client.as_ref().is_some_and(|c| c.selected_session().is_some());
                if !self.rules.signout_failure_keeps_state && stale {
                    self.js.client = None;
                    self.delete_storage(StorageKey::CachedClient);
                }
                self.settle(call, CallResult::Ok);
            }
            _ => {
                let _ = request;
                self.settle(call, CallResult::Ok);
            }
        }
    }

    /// `setActive`'s `getToken()` settled: the session is set with its token, or the call
    /// fails with what outlived the retries.
    pub(super) fn set_active_token(&mut self, call: CallId, outcome: TokenOutcome) {
        let target = self.js.calls.get(&call).and_then(|c| c.target);
        match outcome {
            Ok(token) => {
                // A fetched token was resolved into the cache by its fetch; a cache hit sets
                // nothing in clerk-js (per-session caches), so only the one-slot cache is
                // seeded here.
                if let Some(sid) = target
                    && self.activate(sid)
                    && let Some(token) = token
                    && !self.rules.per_session_cache
                {
                    self.token_resolved(token, true);
                }
                self.settle(call, CallResult::Ok);
            }
            Err(f) => {
                self.js.preferred = None;
                self.settle(call, CallResult::Error { status: f.status, code: f.code });
            }
        }
    }

    /// The API wrapper got its token (first attempt, or the refresh after a 401).
    pub(super) fn api_token(&mut self, call: CallId, outcome: TokenOutcome) {
        let Some(stage) = self.js.calls.get(&call).map(|c| c.api) else {
            return;
        };
        match stage {
            ApiStage::Token => match outcome {
                Ok(token) => self.send_backend(call, 1, token),
                Err(f) => self.settle(call, CallResult::Error { status: f.status, code: f.code }),
            },
            ApiStage::Refreshing => {
                if self.rules.single_flight_all
                    && !self.js.shell.refetched
                    && let Ok(Some(token)) = &outcome
                    && token.serial <= self.js.shell.refused
                {
                    self.js.shell.refetched = true;
                    // The refresh joined a fetch sent before the 401 and brought back a token
                    // no fresher than one the backend refused: fetch again (a single-flight
                    // SDK shares fetches, so a skipCache refresh can be older than its 401).
                    return self.token_begin(call);
                }
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

    pub(super) fn send_backend(&mut self, call: CallId, attempt: u8, token: Option<TokenInfo>) {
        let Some(c) = self.js.calls.get_mut(&call) else {
            return;
        };
        c.api = ApiStage::Backend { attempt };
        c.sent = token.map(|t| t.serial);
        let now = self.now;
        match self.device.network {
            Network::Offline => {
                self.schedule_js(now, JsJob::BackendReply { call, status: 0 });
                return;
            }
            // The app's fetch hangs: it fails after the timeout, or never answers.
            Network::Hanging => {
                if let Some(ms) = self.device.request_timeout_ms(self.rules.request_timeout_ms) {
                    self.schedule_js(now.plus(ms), JsJob::BackendReply { call, status: 0 });
                }
                return;
            }
            Network::Online => {}
        }
        self.backend_in_flight += 1;
        let at = now.plus(self.setup.net.backend_latency_ms);
        let js = self.js.runtime;
        let token = token.map(Box::new);
        self.schedule(at, Job::BackendArrive { call, attempt, token, sent_at: now, js });
    }

    /// The app's backend verifies the token against the server's truth.
    pub(super) fn backend_arrive(
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
    pub(super) fn api_backend_reply(&mut self, call: CallId, status: u16) {
        let Some(c) = self.js.calls.get_mut(&call) else {
            return;
        };
        let ApiStage::Backend { attempt } = c.api else {
            return;
        };
        match status {
            200..=299 => self.settle(call, CallResult::Ok),
            401 if attempt == 1 => {
                let refused = c.sent.unwrap_or(0);
                if self.js.shell.refreshing.is_none() {
                    self.js.shell.refused = 0;
                    self.js.shell.refetched = false;
                }
                self.js.shell.refused = self.js.shell.refused.max(refused);
                let Some(c) = self.js.calls.get_mut(&call) else {
                    return;
                };
                if self.js.shell.refreshing.is_some() {
                    c.api = ApiStage::Queued;
                    self.js.shell.queue.push(call);
                } else {
                    c.api = ApiStage::Refreshing;
                    c.skip_cache = true;
                    c.retries = 0;
                    // The interceptor's `session.getToken` is a new call: the current session.
                    c.bound = None;
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
}
