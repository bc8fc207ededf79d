//! Requests to the Frontend API and their answers as JS sees them.
//!
//! A request leaves the device at the end of the JS turn that sent it (`depart`), at the same
//! instant, and the server applies it then; the answer arrives after the latency
//! (or at once as a network error when offline; on a network that hangs, as a network error
//! after the request timeout, or never) and is delivered to the JS runtime that sent
//! it: the rotated client token is stored, a 401 runs `handleUnauthenticated`, and the
//! request's purpose decides the rest. Mirrors `sdk/reference/js/transport.rs`.

use crate::model::server::{ClientToken, FapiReply, FapiRequest, ReplyBody};
use crate::model::token_cache::CredentialRead;
use crate::model::vocab::{FaultKind, Happening, Network, RequestId, RequestOutcome};

use super::{Flight, Held, Job, JsJob, Purpose, Reply, World};

impl World {
    pub(super) fn send(&mut self, request: FapiRequest, purpose: Purpose) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        let endpoint = request.endpoint();
        let call = match &purpose {
            Purpose::Call(c) => Some(*c),
            Purpose::TokenFetch { waiters, .. } => waiters.first().copied(),
            Purpose::Load { .. } => self.js.load_call.or(self.js.last_load_call),
            _ => None,
        };
        // Expo's before-request hook reads the client token from the token cache first.
        let read = self.read_credential();
        self.log.push(Happening::RequestSent {
            at: self.now,
            req: id,
            endpoint,
            call,
            sid: request.sid(),
            template: request.token_key().and_then(|k| k.template),
            instance: self.current as u8,
        });
        let offline = self.device.network == Network::Offline;
        let hanging = self.device.network == Network::Hanging;
        let (token, leaves) = match read {
            CredentialRead::Send(token) => (token, !offline && !hanging),
            CredentialRead::Fail { .. } | CredentialRead::Hang => (None, false),
        };
        if leaves && let Some(t) = token {
            self.log.push(Happening::ClientTokenPresented {
                at: self.now,
                req: id,
                token: t.tag(),
            });
        }
        // A read that timed out, or a request on a network that hangs, fails as a network
        // error once its timeout is up; without a timeout the request never settles.
        let (timed_out, hung) = match read {
            CredentialRead::Fail { after_ms } if after_ms > 0 && !offline => {
                (Some(after_ms), false)
            }
            CredentialRead::Send(_) if hanging => {
                let timeout = self.device.request_timeout_ms(self.rules.request_timeout_ms);
                (timeout, timeout.is_none())
            }
            CredentialRead::Hang => (None, true),
            _ => (None, false),
        };
        // A request that never leaves the device consumes no scripted fault.
        let fault = if leaves { self.server.take_fault(endpoint) } else { None };
        // The server applies the request when it leaves, at this instant (`depart`); only the
        // answer's arrival waits for the latency. (Applying it at arrival made the model mint
        // tokens and consume state `latency` later than any real SDK talking to the
        // emulator, so the two could never agree on `iat`/`exp`.)
        let answer = if leaves {
            None
        } else {
            timed_out
                .map(|_| (Reply::NetworkError, RequestOutcome::NetworkError { committed: false }))
        };
        let flight = Flight {
            request,
            token,
            purpose,
            js: self.js.runtime,
            fault,
            signout_epoch: self.js.signout_epoch,
            answer,
            hung,
        };
        self.flights.insert(id, Box::new(flight));
        if leaves {
            self.departing.push(id);
        }
        match timed_out {
            // The read or the connection never settles: nothing answers the request.
            _ if hung => {}
            Some(after_ms) => {
                let at = self.now.plus(after_ms);
                self.schedule(at, Job::Arrive(id));
            }
            // Offline, or the read failed: the request fails at once as a network error.
            None if !leaves => {
                self.log.push(Happening::RequestDone {
                    at: self.now,
                    req: id,
                    endpoint,
                    outcome: RequestOutcome::NetworkError { committed: false },
                    fault: None,
                });
                let now = self.now;
                self.schedule_js(now, JsJob::Deliver(id, Reply::NetworkError));
            }
            None => {
                let latency = match fault {
                    Some(FaultKind::Latency { ms }) => ms,
                    _ => self.setup.net.fapi_latency_ms,
                };
                let at = self.now.plus(latency);
                self.schedule(at, Job::Arrive(id));
            }
        }
        id
    }

    /// The requests JS sent in this turn leave the device, in the order they were sent, and
    /// the server applies each now. In the real package `fetch` runs only after Expo's
    /// before-request hook has awaited the token-cache read (a few microtasks), so a render
    /// that a clerk-js emit of the same turn triggered (`useSyncExternalStore`: a sync lane,
    /// rendered in a microtask, its passive effects flushed at the end of that commit) runs
    /// first, and `NativeSessionSync`'s native call reaches the server before these requests
    /// (fuzz case seed 0x463dadc0222d91ac). So a turn ends: render and its effects, then
    /// `depart`. Any other native call departs what is pending first (`on_native`): it comes
    /// from a later macrotask (the bootstrap, a timer) or starts after the request did.
    pub(super) fn depart(&mut self) {
        // Request ids grow with each send, so send order is id order. A flight its runtime's
        // end dropped meanwhile never leaves.
        for id in std::mem::take(&mut self.departing) {
            let Some(flight) = self.flights.get(&id) else {
                continue;
            };
            let (token, request, fault) = (flight.token, flight.request.clone(), flight.fault);
            let answer = self.server_answer(token, &request, fault);
            self.flights.get_mut(&id).expect("still in flight").answer = Some(answer);
        }
    }

    /// The server's answer to `request` carrying `token`, now, shaped by `fault`.
    pub(super) fn server_answer(
        &mut self,
        token: Option<ClientToken>,
        request: &FapiRequest,
        fault: Option<FaultKind>,
    ) -> (Reply, RequestOutcome) {
        let now = self.now;
        match fault {
            Some(FaultKind::DropBeforeCommit) => {
                (Reply::NetworkError, RequestOutcome::NetworkError { committed: false })
            }
            Some(FaultKind::DropAfterCommit) => {
                self.server.handle(token, request, now);
                (Reply::NetworkError, RequestOutcome::NetworkError { committed: true })
            }
            _ => {
                let reply = fault
                    .and_then(FapiReply::for_fault)
                    .unwrap_or_else(|| self.server.handle(token, request, now));
                let outcome = RequestOutcome::Answered {
                    status: reply.status,
                    retry_after_ms: reply.retry_after_ms,
                };
                (Reply::Answer(Box::new(reply)), outcome)
            }
        }
    }

    /// The answer reaches the device: log it and hand it to JS.
    pub(super) fn arrive(&mut self, id: RequestId) {
        // A zero latency: the answer cannot come back before the request left.
        self.depart();
        let Some(flight) = self.flights.get_mut(&id) else {
            return;
        };
        let (reply, outcome) = flight.answer.take().expect("an online request has an answer");
        let (endpoint, fault, js) = (flight.request.endpoint(), flight.fault, flight.js);
        let now = self.now;
        let fault = fault.filter(|f| !matches!(f, FaultKind::Latency { .. }));
        self.log.push(Happening::RequestDone { at: now, req: id, endpoint, outcome, fault });
        self.schedule(now, Job::Js { js, job: JsJob::Deliver(id, reply) });
    }

    /// A response reaches JS: Expo's after-response hook stores the rotated client token,
    /// any 401 runs `handleUnauthenticated`, piggybacked clients are applied, and the purpose
    /// decides the rest.
    pub(super) fn deliver(&mut self, id: RequestId, reply: Reply) {
        let Some(flight) = self.flights.remove(&id) else {
            return;
        };
        // An answer about another client is authoritative only if the server refused the
        // token the device holds now; otherwise it answers an older, superseded token.
        let authoritative = flight.token == self.held_client_token();
        // An answer to a request sent before the latest sign-out must not bring a credential
        // back (a profile that ignores stale payloads ignores their tokens too).
        let stale =
            self.rules.ignores_stale_payloads && flight.signout_epoch != self.js.signout_epoch;
        if let Reply::Answer(answer) = &reply {
            if let Some(token) = answer.client_token {
                let (at, token) = (self.now, token.tag());
                self.log.push(Happening::ClientTokenReceived { at, req: id, token });
            }
            // A stale answer's token still counts when it rotates the client JS holds: it
            // brings no credential back, and dropping it leaves JS presenting a token the
            // server has superseded (fuzz case seed 0x384b44ecdb54210c, a 10 s grace).
            let rotates_held =
                |t: &ClientToken| self.held_client_token().is_some_and(|h| h.client == t.client);
            if let Some(token) = answer.client_token.filter(|t| !stale || rotates_held(t)) {
                self.store_client_token(token, authoritative);
            }
            // While the user signs out, a 401 is no reason to reload the client: the reload
            // would find the session the sign-out is removing and sign the user back in.
            let leaving = self.rules.ignores_stale_payloads && self.js.user_signing_out;
            let unauthenticated = matches!(flight.purpose, Purpose::Unauthenticated { .. });
            if answer.status == 401 && !unauthenticated && !leaving {
                if self.rules.awaits_unauthenticated {
                    let held = Held {
                        request: flight.request.clone(),
                        purpose: flight.purpose.clone(),
                        reply: reply.clone(),
                        signout_epoch: flight.signout_epoch,
                    };
                    if self.hold_for_unauthenticated(id, held) {
                        return;
                    }
                } else {
                    self.handle_unauthenticated();
                }
            }
            let tokens = matches!(flight.request, FapiRequest::Tokens { .. });
            if answer.status == 404 && tokens && self.rules.token_not_found_reloads && !leaving {
                // The client the device holds does not know the session: reload it.
                self.handle_unauthenticated();
            }
            let piggyback = !flight.request.endpoint().is_get() && answer.is_ok();
            if piggyback && let Some(view) = &answer.client {
                self.apply_client(view, flight.signout_epoch);
            }
        }
        self.dispatch(id, flight.purpose, &flight.request, reply, flight.signout_epoch);
    }

    /// What an answer does for the purpose its request was sent for.
    pub(super) fn dispatch(
        &mut self,
        id: RequestId,
        purpose: Purpose,
        request: &FapiRequest,
        reply: Reply,
        signout_epoch: u32,
    ) {
        match purpose {
            Purpose::Load { client, attempt, tries } => {
                self.load_answer((client, attempt, tries), reply, signout_epoch)
            }
            Purpose::Reload { client, attempt } => {
                self.reload_answer((client, attempt), reply, signout_epoch)
            }
            Purpose::TokenFetch { waiters, expired_retry } => {
                self.fetch_answer(id, request, (waiters, expired_retry), reply)
            }
            Purpose::BackgroundRefresh { expired_retry } => {
                if !expired_retry
                    && let Some(key) = request.token_key()
                    && self.expired_token_retry(key.sid, &reply)
                {
                    // `#refreshTokenInBackground` runs `#createTokenResolver` too: its 422
                    // `missing_expired_token` is retried once with `expired_token=` (clerk-js
                    // 6.40.0 `dist/clerk.native.js`, measured on a fuzz case, seed 0x226614e6).
                    let again = self.token_request(key, false);
                    let req = self.send(again, Purpose::BackgroundRefresh { expired_retry: true });
                    if self.js.bg.get(&key) == Some(&id) {
                        self.js.bg.insert(key, req);
                    }
                    return;
                }
                self.js.bg.retain(|_, req| *req != id);
                if let Reply::Answer(a) = &reply
                    && let ReplyBody::Token(token) = a.body
                {
                    self.token_resolved(token, true);
                }
            }
            Purpose::Unauthenticated { tries, held } => {
                self.unauthenticated_answer(id, tries, held, reply, signout_epoch)
            }
            Purpose::Call(call) => self.call_answer(call, request, reply),
            Purpose::NativeAdopt { sid, group, client } => {
                let view = match &reply {
                    Reply::Answer(a) if a.is_ok() => Some(a.client.clone()),
                    _ => None,
                };
                self.native_adopt_answer(sid, group, client, view, signout_epoch)
            }
            Purpose::NativeActivate { sid } => {
                // `setActive` goes on after a touch answered 401 (its catch runs
                // `handleUnauthenticated`), as for the user's own switch (`call_answer`).
                let ok = matches!(&reply, Reply::Answer(a) if a.is_ok() || a.status == 401);
                self.native_activated(sid, ok, signout_epoch)
            }
            Purpose::NativeActivateToken { sid } => {
                // Only a 200 carries a token body: a refused or faulted answer carries an error.
                let token = match &reply {
                    Reply::Answer(a) => match a.body {
                        ReplyBody::Token(token) => Some(token),
                        _ => None,
                    },
                    _ => None,
                };
                self.native_activation_token(sid, token, signout_epoch)
            }
        }
    }
}
