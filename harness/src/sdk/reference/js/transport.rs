//! Requests to the Frontend API as the SDK builds them (`Req`), their answers as JS sees them
//! (`Reply`, `Failure`), and the in-process transport that carries them: a response is
//! delivered to the runtime that sent it, the rotated client token is stored, a 401 runs
//! `handleUnauthenticated`, and the request's purpose decides the rest.
//! Mirrors `model/world/transport.rs`.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::fapi::transport::TransportError;
use crate::fapi::{Delivery, Fapi, HttpRequest, HttpResponse};
use crate::model::server::{
    ClientToken, ClientView, FapiReply, ReplyBody, TEST_USER_IDENTIFIER, TEST_USER_PASSWORD,
};
use crate::model::time::VTime;
use crate::model::token_cache::CredentialRead;
use crate::model::vocab::{
    CallId, CallResult, Defect, Endpoint, Happening, Network, RequestId, RequestOutcome, SessionId,
    SignOutCause, TaskKey, TemplateName, TokenInfo, TokenKey,
};
use crate::sdk::reference::exec::Promise;

use super::{About, Core, Flight, Held, JsJob, Macro, Net, Purpose, Slot};

/// A FAPI request as the SDK builds it.
#[derive(Clone, Debug)]
pub(super) enum Req {
    Environment,
    GetClient,
    SignIn,
    Tokens {
        sid: SessionId,
        carried: Option<TokenInfo>,
        force_origin: bool,
        /// The legacy retry's `expired_token=` query parameter.
        expired: Option<TokenInfo>,
        /// `/tokens/{template}`: a JWT template's token, with an empty body.
        template: Option<TemplateName>,
    },
    Touch {
        sid: SessionId,
    },
    End {
        sid: SessionId,
    },
    Remove {
        sid: SessionId,
    },
    RemoveSessions,
    ResolveTask {
        sid: SessionId,
        task: TaskKey,
    },
}

impl About {
    /// The cache key a token request fetches for.
    pub(super) fn token_key(&self) -> Option<TokenKey> {
        self.sid.map(|sid| TokenKey { sid, template: self.template })
    }
}

impl Req {
    pub(super) fn endpoint(&self) -> Endpoint {
        match self {
            Req::Environment => Endpoint::Environment,
            Req::GetClient => Endpoint::GetClient,
            Req::SignIn => Endpoint::SignIn,
            Req::Tokens { .. } => Endpoint::Tokens,
            Req::Touch { .. } => Endpoint::Touch,
            Req::End { .. } => Endpoint::End,
            Req::Remove { .. } => Endpoint::Remove,
            Req::RemoveSessions => Endpoint::RemoveSessions,
            Req::ResolveTask { .. } => Endpoint::ResolveTask,
        }
    }

    pub(super) fn template(&self) -> Option<TemplateName> {
        match self {
            Req::Tokens { template, .. } => *template,
            _ => None,
        }
    }

    pub(super) fn sid(&self) -> Option<SessionId> {
        match self {
            Req::Tokens { sid, .. }
            | Req::Touch { sid }
            | Req::End { sid }
            | Req::Remove { sid }
            | Req::ResolveTask { sid, .. } => Some(*sid),
            _ => None,
        }
    }

    /// The HTTP request clerk-js would send on native (reference §4.2): `_is_native`, the raw
    /// client token in `authorization`, form bodies, `_method` for DELETE.
    pub(super) fn to_http(
        &self,
        token: Option<ClientToken>,
        fapi: &Fapi,
        now: VTime,
    ) -> HttpRequest {
        let session = |sid: &SessionId, tail: &str| format!("/v1/client/sessions/{sid}/{tail}");
        let http = match self {
            Req::Environment => HttpRequest::get("/v1/environment"),
            Req::GetClient => HttpRequest::get("/v1/client"),
            Req::SignIn => HttpRequest::post("/v1/client/sign_ins").form(&[
                ("strategy", "password"),
                ("identifier", TEST_USER_IDENTIFIER),
                ("password", TEST_USER_PASSWORD),
            ]),
            Req::Tokens { sid, template: Some(name), expired, force_origin, .. } => {
                // clerk-js `#fetchToken` for a template: an empty body; `skipCache` only adds
                // `debug=skip_cache` to the query.
                let http = HttpRequest::post(&session(sid, &format!("tokens/{name}"))).form(&[]);
                let http = if *force_origin { http.query("debug", "skip_cache") } else { http };
                match expired {
                    Some(t) => http.query("expired_token", &fapi.token(*t).jwt()),
                    None => http,
                }
            }
            Req::Tokens { sid, carried, force_origin, expired, template: None } => {
                let force = if *force_origin { "true" } else { "false" };
                // The session minter's `token=` is a real RS256 JWT. The minter reads it for
                // one thing only — to refuse an origin token that has expired — so a live one
                // changes no answer; the reference SDK signs (≈2 ms of RSA) only the expired
                // ones, which keeps RSA out of the bulk loop with identical observations (a
                // week in the foreground is ~14 000 refreshes).
                let jwt = carried.filter(|t| t.is_expired_at(now)).map(|t| fapi.token(t).jwt());
                let mut fields = vec![("force_origin", force)];
                if let Some(jwt) = &jwt {
                    fields.push(("token", jwt));
                }
                let http = HttpRequest::post(&session(sid, "tokens")).form(&fields);
                match expired {
                    Some(t) => http.query("expired_token", &fapi.token(*t).jwt()),
                    None => http,
                }
            }
            Req::Touch { sid } => HttpRequest::post(&session(sid, "touch")).form(&[]),
            Req::End { sid } => HttpRequest::post(&session(sid, "end")).form(&[]),
            Req::Remove { sid } => HttpRequest::post(&session(sid, "remove")).form(&[]),
            Req::RemoveSessions => {
                HttpRequest::post("/v1/client/sessions").query("_method", "DELETE").form(&[])
            }
            Req::ResolveTask { sid, task } => {
                HttpRequest::post(&session(sid, &format!("tasks/{}/resolve", task.as_str())))
                    .form(&[])
            }
        };
        let encoded = token.map(|t| t.encode());
        http.native_params().client_token(encoded.as_deref())
    }
}

/// What a response delivered to JS carries.
#[derive(Clone, Debug)]
pub(super) enum Reply {
    Answer(HttpResponse),
    NetworkError,
}

impl Reply {
    pub(super) fn status(&self) -> u16 {
        match self {
            Reply::Answer(r) => r.status,
            Reply::NetworkError => 0,
        }
    }

    pub(super) fn is_ok(&self) -> bool {
        (200..300).contains(&self.status())
    }

    /// The typed answer (the in-process fast path: no JSON parsing, no RSA).
    pub(super) fn body(&self) -> Option<&FapiReply> {
        match self {
            Reply::Answer(r) => r.reply(),
            Reply::NetworkError => None,
        }
    }

    pub(super) fn client(&self) -> Option<&ClientView> {
        self.body().and_then(|b| b.client.as_ref())
    }

    pub(super) fn failure(&self) -> Failure {
        match self {
            Reply::NetworkError => Failure::network(),
            Reply::Answer(r) => Failure {
                status: r.status,
                code: r
                    .reply()
                    .and_then(|b| b.error_code())
                    .unwrap_or("unexpected_response")
                    .to_string(),
                retry_after_ms: r.reply().and_then(|b| b.retry_after_ms),
            },
        }
    }
}

/// An error as a call sees it: HTTP status (0 for a network error), code, `Retry-After`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Failure {
    pub(super) status: u16,
    pub(super) code: String,
    pub(super) retry_after_ms: Option<u64>,
}

impl Failure {
    pub(super) fn network() -> Failure {
        Failure { status: 0, code: "network_error".into(), retry_after_ms: None }
    }

    /// A 4xx other than 429 was understood and refused: retrying cannot help.
    pub(super) fn is_final(&self) -> bool {
        (400..500).contains(&self.status) && self.status != 429
    }

    pub(super) fn result(&self) -> CallResult {
        CallResult::Error { status: self.status, code: self.code.clone() }
    }
}

impl Core {
    pub(super) fn send(
        self: &Rc<Self>,
        req: Req,
        purpose: Purpose,
        call: Option<CallId>,
    ) -> RequestId {
        // Expo's before-request hook reads the client token from the token cache first.
        match self.read_credential() {
            CredentialRead::Send(token) => self.send_with(req, purpose, call, token),
            stopped => self.send_stopped(req, purpose, call, stopped),
        }
    }

    fn flight_for(
        &self,
        req: &Req,
        purpose: Purpose,
        call: Option<CallId>,
        token: Option<ClientToken>,
        hung: bool,
    ) -> (RequestId, Endpoint) {
        let id = RequestId(self.next_request.get());
        self.next_request.set(id.0 + 1);
        let endpoint = req.endpoint();
        let about = About { sid: req.sid(), template: req.template(), call };
        self.log(Happening::RequestSent {
            at: self.now(),
            req: id,
            endpoint,
            call,
            sid: about.sid,
            template: about.template,
            instance: self.current.get() as u8,
        });
        let (runtime, signout_epoch) = {
            let rt = self.rt.borrow();
            (rt.id, rt.signout_epoch)
        };
        let flight = Flight { endpoint, about, token, purpose, runtime, signout_epoch, hung };
        self.flights.borrow_mut().insert(id, flight);
        (id, endpoint)
    }

    /// A request whose token-cache read failed or hangs: it never leaves the device.
    fn send_stopped(
        self: &Rc<Self>,
        req: Req,
        purpose: Purpose,
        call: Option<CallId>,
        stopped: CredentialRead,
    ) -> RequestId {
        let hung = stopped == CredentialRead::Hang;
        let (id, endpoint) = self.flight_for(&req, purpose, call, None, hung);
        let offline = self.device.borrow().network == Network::Offline;
        match stopped {
            // The read timed out: the request fails as a network error after it.
            CredentialRead::Fail { after_ms } if after_ms > 0 && !offline => {
                self.fail_after(id, after_ms)
            }
            CredentialRead::Fail { .. } => self.fail_now(id, endpoint),
            // Nothing ever answers it.
            _ => {}
        }
        id
    }

    /// The SDK's own request timeout: the profile's, or none with `no-request-timeout`.
    pub(super) fn request_timeout_ms(&self) -> Option<u64> {
        if self.has(Defect::NoRequestTimeout) { None } else { self.rules.request_timeout_ms }
    }

    /// The request never reached the server and fails as a network error `ms` from now.
    fn fail_after(&self, id: RequestId, ms: u64) {
        let delivery = Delivery {
            result: Err(TransportError::DroppedBeforeCommit),
            fault: None,
            latency_ms: ms,
        };
        let seq = self.next_seq();
        let at = self.now().plus(ms);
        self.macros.borrow_mut().insert((at, seq), Macro::Arrive { req: id, delivery });
    }

    /// The request fails at once as a network error, never reaching the server.
    fn fail_now(&self, id: RequestId, endpoint: Endpoint) {
        let now = self.now();
        self.log(Happening::RequestDone {
            at: now,
            req: id,
            endpoint,
            outcome: RequestOutcome::NetworkError { committed: false },
            fault: None,
        });
        self.schedule_js(now, JsJob::Deliver(id, Reply::NetworkError));
    }

    /// Sends a FAPI request: the server applies it when it leaves, at the end of this JS turn
    /// (`depart`); the answer is delivered to JS after
    /// the latency (or at once, as a network error, while offline; on a network that hangs,
    /// as a network error after the request timeout, or never).
    pub(super) fn send_with(
        self: &Rc<Self>,
        req: Req,
        purpose: Purpose,
        call: Option<CallId>,
        token: Option<ClientToken>,
    ) -> RequestId {
        let network = self.device.borrow().network;
        // On a network that hangs the request waits for its timeout; without one, for ever.
        let timeout = (network == Network::Hanging)
            .then(|| self.device.borrow().request_timeout_ms(self.request_timeout_ms()));
        let (id, _) = self.flight_for(&req, purpose, call, token, timeout == Some(None));
        let now = self.now();
        let endpoint = req.endpoint();
        match (network, timeout) {
            // The request never leaves the device.
            (Network::Offline, _) => {
                self.fail_now(id, endpoint);
                return id;
            }
            (_, Some(Some(ms))) => {
                self.fail_after(id, ms);
                return id;
            }
            (_, Some(None)) => return id,
            _ => {}
        }
        if let Some(t) = token {
            self.log(Happening::ClientTokenPresented { at: now, req: id, token: t.tag() });
        }
        let http = req.to_http(token, &self.fapi, now);
        let transport = self.transport.clone();
        let fut: Pin<Box<dyn Future<Output = Delivery>>> =
            Box::pin(async move { transport.deliver(&http, now).await });
        let seq = self.next_seq();
        // It leaves at the end of this JS turn (`depart`).
        self.departing.borrow_mut().insert(seq, Net { req: id, sent_at: now, fut });
        id
    }

    /// The requests JS sent in this turn leave the device, in the order they were sent: each
    /// is polled once now, so the server applies it at this instant; the transport then
    /// sleeps out the latency on the tokio clock. A turn ends with its render and that
    /// render's effects first (`NativeSessionSync`'s native calls), as Expo's before-request
    /// hook awaits the token cache before `fetch` while a sync-lane render runs in a
    /// microtask (`model/world/transport.rs` `depart` says more).
    pub(super) fn depart(&self) {
        let leaving = std::mem::take(&mut *self.departing.borrow_mut());
        if leaving.is_empty() {
            return;
        }
        let waker = self.outer.borrow().clone().expect("requests are sent inside a step");
        for (seq, mut net) in leaving {
            match net.fut.as_mut().poll(&mut Context::from_waker(&waker)) {
                Poll::Ready(delivery) => {
                    let at = net.sent_at.plus(delivery.latency_ms);
                    let req = net.req;
                    self.macros.borrow_mut().insert((at, seq), Macro::Arrive { req, delivery });
                }
                Poll::Pending => {
                    self.nets.borrow_mut().insert(seq, net);
                }
            }
        }
    }

    /// Sends a user-facing call's request; the promise resolves with the answer, after the
    /// response hooks ran.
    pub(super) fn send_call(self: &Rc<Self>, req: Req, call: CallId) -> Promise<Reply> {
        let done = Promise::new();
        self.send(req, Purpose::Call(done.clone()), Some(call));
        done
    }

    /// A response reaches JS: Expo's after-response hook stores the rotated client token, a
    /// 401 runs `handleUnauthenticated`, a piggybacked client is applied, then the purpose.
    pub(super) fn deliver(self: &Rc<Self>, id: RequestId, reply: Reply) {
        let Some(flight) = self.flights.borrow_mut().remove(&id) else {
            return;
        };
        // An answer about another client is authoritative only if the server refused the
        // token the device holds now; otherwise it answers an older, superseded token.
        let authoritative = flight.token == self.held_client_token();
        let stale = self.rules.ignores_stale_payloads
            && flight.signout_epoch != self.rt.borrow().signout_epoch;
        if let Reply::Answer(response) = &reply {
            if let Some(token) = response.client_token().and_then(ClientToken::decode) {
                let (at, token) = (self.now(), token.tag());
                self.log(Happening::ClientTokenReceived { at, req: id, token });
            }
            // A stale answer's token still counts when it rotates the client JS holds (as the
            // model's `deliver`).
            if let Some(token) = response.client_token().and_then(ClientToken::decode)
                && (!stale || self.held_client_token().is_some_and(|h| h.client == token.client))
            {
                self.store_client_token(token, authoritative);
            }
            // The documented contract does not reload the client on a 401 while the user signs
            // out: that reload would find the session being removed and sign them back in.
            let leaving = self.rules.ignores_stale_payloads && self.rt.borrow().user_signing_out;
            let unauthenticated = matches!(flight.purpose, Purpose::Unauthenticated { .. });
            if response.status == 401 && !unauthenticated && !leaving {
                if self.rules.awaits_unauthenticated {
                    let held = Held {
                        about: flight.about,
                        purpose: flight.purpose,
                        reply,
                        signout_epoch: flight.signout_epoch,
                    };
                    match self.hold_for_unauthenticated(id, held) {
                        Ok(()) => return,
                        Err(held) => {
                            let held = *held;
                            return self.dispatch(
                                id,
                                held.about,
                                held.purpose,
                                held.reply,
                                held.signout_epoch,
                            );
                        }
                    }
                }
                self.handle_unauthenticated();
            }
            let tokens = flight.endpoint == Endpoint::Tokens;
            if response.status == 404 && tokens && self.rules.token_not_found_reloads && !leaving {
                // The client the device holds does not know the session: reload it.
                self.handle_unauthenticated();
            }
            let piggyback = !flight.endpoint.is_get() && reply.is_ok();
            if piggyback && let Some(view) = reply.client() {
                self.apply_client(view, flight.signout_epoch);
            }
        }
        self.dispatch(id, flight.about, flight.purpose, reply, flight.signout_epoch);
    }

    /// What an answer does for the purpose its request was sent for.
    pub(super) fn dispatch(
        self: &Rc<Self>,
        id: RequestId,
        about: About,
        purpose: Purpose,
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
            Purpose::TokenFetch { done, background, expired_retry } => {
                self.fetch_answer(id, done, (background, expired_retry), about, reply)
            }
            Purpose::Background { expired_retry } => {
                let retry = about.sid.and_then(|sid| self.expired_token_retry(sid, &reply));
                if let (Some(last), Some(key), false) = (retry, about.token_key(), expired_retry) {
                    // `#refreshTokenInBackground` runs `#createTokenResolver` too: its 422
                    // `missing_expired_token` is retried once with `expired_token=`.
                    let mut req = self.token_request(key, false, true);
                    if let Req::Tokens { expired, .. } = &mut req {
                        *expired = Some(last);
                    }
                    let new = self.send(req, Purpose::Background { expired_retry: true }, None);
                    let mut rt = self.rt.borrow_mut();
                    if rt.bg.get(&key) == Some(&id) {
                        rt.bg.insert(key, new);
                    }
                    return;
                }
                {
                    let mut rt = self.rt.borrow_mut();
                    rt.bg.retain(|_, req| *req != id);
                }
                if let Some(FapiReply { body: ReplyBody::Token(token), .. }) = reply.body() {
                    self.token_resolved(*token, true);
                } else if reply.status() == 401 && self.has(Defect::StaleTimerLogout) {
                    // Pre-#8303: the refresh's 401 is taken as the end of the session.
                    self.set_slot(Slot::Null, SignOutCause::Unauthorized);
                } else {
                    self.refresh_error_removes_session(&reply);
                }
            }
            Purpose::Unauthenticated { tries, held } => {
                self.unauthenticated_answer(id, tries, held, reply, signout_epoch)
            }
            Purpose::NativeSync => {
                if reply.is_ok()
                    && let Some(view) = reply.client()
                {
                    self.apply_client(view, signout_epoch);
                }
            }
            Purpose::NativeAdopt { sid, group, client } => {
                let view = reply.is_ok().then(|| reply.client().cloned());
                self.native_adopt_answer(sid, group, client, view, signout_epoch)
            }
            Purpose::NativeActivate { sid } => {
                // `setActive` goes on after a touch answered 401, as for the user's own switch.
                let ok = reply.is_ok() || reply.status() == 401;
                self.native_activated(sid, ok, signout_epoch)
            }
            Purpose::NativeActivateToken { sid } => {
                let token = match reply.body() {
                    Some(FapiReply { body: ReplyBody::Token(token), .. }) if reply.is_ok() => {
                        Some(*token)
                    }
                    _ => None,
                };
                self.native_activation_token(sid, token, signout_epoch)
            }
            Purpose::Call(done) => done.resolve(reply),
        }
    }
}
