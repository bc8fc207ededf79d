//! The one FAPI handler: decode a request, apply the model's server transition, encode the
//! reply. Both ways in (the in-process transport and the wiremock mount) call
//! [`Fapi::handle`]; it holds no lifecycle rules of its own (DESIGN.md §4).
//!
//! Faults are taken from the server's queue when a request reaches a known endpoint (the
//! request was *sent*), then applied here: an HTTP answer (5xx, 429, 401, 422) replaces the
//! server's; a drop before commit leaves the server untouched; a drop after commit lets the
//! server apply the request and loses the reply; latency is reported for the transport to
//! wait out on its clock.
//!
//! The virtual clock only moves forward here: a request stamped earlier than one already
//! served is handled at the later instant, so tokens never go back in time.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use crate::jwt::{InstanceKind, Jwks, PublishableKey, SessionToken, Signer, SigningKey, Verifier};
use crate::model::server::{FapiReply, Server};
use crate::model::settings::InstanceSettings;
use crate::model::time::VTime;
use crate::model::vocab::{Endpoint, FaultKind, RequestOutcome, SessionId, TokenInfo};

use super::decode::{self, Route, WireError};
use super::encode::{self, RenderCtx};
use super::http::{FAULT_HEADER, HttpRequest, HttpResponse, LATENCY_HEADER};

/// The server shared by the handler and whoever else drives it (the model's world, admin
/// events, the backend). A std mutex: it is never held across an `.await`.
pub type SharedServer = Arc<Mutex<Server>>;

/// Locks a shared server, recovering from a poisoned lock (a panicking test thread must not
/// wedge every other request).
pub fn lock(server: &SharedServer) -> MutexGuard<'_, Server> {
    server.lock().unwrap_or_else(|e| e.into_inner())
}

/// How the emulator presents itself.
#[derive(Clone, Debug)]
pub struct FapiConfig {
    /// The instance's publishable key; its host is the JWT issuer `https://<host>`.
    pub publishable_key: PublishableKey,
    /// `azp` of minted tokens: the app's origin.
    pub authorized_party: String,
    pub signing_key: SigningKey,
}

/// The Frontend API host of the default configuration.
pub const DEFAULT_FRONTEND_API: &str = "clerk.emulator.test";
/// The `azp` of the default configuration: Expo's dev-server origin.
pub const DEFAULT_AUTHORIZED_PARTY: &str = "http://localhost:8081";

impl Default for FapiConfig {
    fn default() -> Self {
        FapiConfig {
            publishable_key: PublishableKey::new(InstanceKind::Development, DEFAULT_FRONTEND_API)
                .expect("the default frontend API host is valid"),
            authorized_party: DEFAULT_AUTHORIZED_PARTY.to_string(),
            signing_key: SigningKey::test_key().clone(),
        }
    }
}

impl FapiConfig {
    /// `iss` of minted tokens.
    pub fn issuer(&self) -> String {
        format!("https://{}", self.publishable_key.frontend_api)
    }
}

/// What became of a request on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exchange {
    Answered(HttpResponse),
    /// The connection dropped; `committed` says whether the server applied the request.
    Dropped {
        committed: bool,
    },
}

/// The handler's result: the exchange, the fault that shaped it, and the latency the
/// transport should add (an injected latency; `None` means the transport's default).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handled {
    pub exchange: Exchange,
    pub fault: Option<FaultKind>,
    pub latency_ms: Option<u64>,
}

/// One line of the request log.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LogEntry {
    /// 1-based order of arrival.
    pub seq: u64,
    /// The virtual instant the handler applied.
    pub at: VTime,
    /// The effective method (after `_method`), or the wire method when routing failed.
    pub method: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<Endpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<SessionId>,
    pub outcome: RequestOutcome,
    /// The Clerk error code of an error answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<FaultKind>,
    /// The `x-harness-request` header (`<run>/<req>`) an external adapter stamps on every
    /// request, so the harness can join this log to the adapter's report
    /// ([`super::http::REQUEST_TAG_HEADER`]). Absent for every other client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// For a tagged request only: the rotated client token its answer carried (the
    /// `Authorization` response header), which an SDK with a memory token cache holds next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued: Option<String>,
}

struct HandlerState {
    clock: VTime,
    seq: u64,
    /// Oldest first, in `seq` order; at most `log_max` entries.
    log: VecDeque<LogEntry>,
    log_max: usize,
}

impl HandlerState {
    fn push(&mut self, entry: LogEntry) {
        self.log.push_back(entry);
        while self.log.len() > self.log_max {
            self.log.pop_front();
        }
    }
}

/// A page of the request log ([`Fapi::log_page`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogPage {
    pub entries: Vec<LogEntry>,
    /// Whether entries after the last one returned are waiting (ask again with its `seq`).
    pub more: bool,
    /// The oldest `seq` still kept (older entries were dropped by the log's bound).
    pub oldest_seq: Option<u64>,
}

struct Inner {
    server: SharedServer,
    config: FapiConfig,
    signer: Arc<Signer>,
    verifier: Verifier,
    jwks_json: Arc<[u8]>,
    state: Mutex<HandlerState>,
}

/// The FAPI emulator: a shared server, a signer, a request log. Cheap to clone; clones share
/// everything.
#[derive(Clone)]
pub struct Fapi {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Fapi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fapi").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

impl Fapi {
    /// An emulator over a new server with `settings` and the default configuration.
    pub fn new(settings: InstanceSettings) -> Fapi {
        Fapi::with_server(Arc::new(Mutex::new(Server::new(settings))), FapiConfig::default())
    }

    /// An emulator over an existing shared server.
    pub fn with_server(server: SharedServer, config: FapiConfig) -> Fapi {
        let issuer = config.issuer();
        let templates = lock(&server).settings.templates;
        let signer = Arc::new(
            Signer::new(config.signing_key.clone(), &issuer, &config.authorized_party)
                .with_templates(templates),
        );
        let jwks = Jwks::from_signing_keys(&[&config.signing_key])
            .expect("a loaded signing key always has a public JWK");
        let jwks_json: Arc<[u8]> = Arc::from(jwks.to_json().into_bytes());
        let verifier = Verifier::new(jwks, &issuer, &[&config.authorized_party]);
        Fapi {
            inner: Arc::new(Inner {
                server,
                config,
                signer,
                verifier,
                jwks_json,
                state: Mutex::new(HandlerState {
                    clock: VTime::ZERO,
                    seq: 0,
                    log: VecDeque::new(),
                    log_max: usize::MAX,
                }),
            }),
        }
    }

    /// The shared server: lock it with [`lock`] for admin actions (revoke, replace, faults).
    pub fn server(&self) -> &SharedServer {
        &self.inner.server
    }

    pub fn config(&self) -> &FapiConfig {
        &self.inner.config
    }

    pub fn signer(&self) -> &Arc<Signer> {
        &self.inner.signer
    }

    /// A verifier that trusts this emulator's JWKS, issuer and authorized party.
    pub fn verifier(&self) -> &Verifier {
        &self.inner.verifier
    }

    /// The JWKS document this emulator serves.
    pub fn jwks_json(&self) -> &[u8] {
        &self.inner.jwks_json
    }

    pub fn publishable_key(&self) -> &PublishableKey {
        &self.inner.config.publishable_key
    }

    /// A lazily signed handle for a token the server minted.
    pub fn token(&self, info: TokenInfo) -> SessionToken {
        self.inner.signer.token(info)
    }

    /// The latest virtual instant any request was handled at.
    pub fn clock(&self) -> VTime {
        self.state().clock
    }

    /// A copy of the request log.
    pub fn log(&self) -> Vec<LogEntry> {
        self.state().log.iter().cloned().collect()
    }

    /// Entries in the log now.
    pub fn log_len(&self) -> usize {
        self.state().log.len()
    }

    /// Keeps at most `max` entries from now on, dropping the oldest (a long-running dev
    /// server); unbounded by default (a run drains its log step by step).
    pub fn set_log_max(&self, max: usize) {
        let mut state = self.state();
        state.log_max = max;
        while state.log.len() > max {
            state.log.pop_front();
        }
    }

    /// At most `limit` entries after `since` (a `seq`), copying only those: the lock is held
    /// for a binary search and `limit` clones, not for the whole log.
    pub fn log_page(&self, since: u64, limit: usize) -> LogPage {
        let state = self.state();
        let start = state.log.partition_point(|e| e.seq <= since);
        let entries: Vec<LogEntry> = state.log.range(start..).take(limit).cloned().collect();
        LogPage {
            more: state.log.len() - start > entries.len(),
            oldest_seq: state.log.front().map(|e| e.seq),
            entries,
        }
    }

    /// Takes the request log, leaving it empty (long runs drain it step by step).
    pub fn drain_log(&self) -> Vec<LogEntry> {
        self.state().log.drain(..).collect()
    }

    /// Records a request that reached the same server but not the FAPI handler (the dev
    /// server's admin API, the app's backend), so the one log shows every request in the order
    /// it arrived. `at` moves the handler's clock forward like a FAPI request would.
    pub fn record_other(
        &self,
        at: VTime,
        method: &str,
        path: &str,
        status: u16,
        code: Option<&str>,
    ) {
        let mut state = self.state();
        state.clock = state.clock.max(at);
        state.seq += 1;
        let entry = LogEntry {
            seq: state.seq,
            at: state.clock,
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            endpoint: None,
            sid: None,
            outcome: RequestOutcome::Answered { status, retry_after_ms: None },
            code: code.map(str::to_string),
            fault: None,
            tag: None,
            issued: None,
        };
        state.push(entry);
    }

    fn state(&self) -> MutexGuard<'_, HandlerState> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Handles one request at virtual time `now` (clamped to never run backwards).
    pub fn handle(&self, request: &HttpRequest, now: VTime) -> Handled {
        let now = {
            let mut state = self.state();
            state.clock = state.clock.max(now);
            state.clock
        };
        let query = decode::parse_query(&request.query);
        let mut method = request.method.to_ascii_uppercase();
        let mut endpoint = None;
        let mut sid = None;
        let handled = match decode::route(&request.method, &request.path, &query) {
            Err(e) => self.answer_error(&e, None, None),
            Ok(Route::Jwks) => {
                method = "GET".to_string();
                Handled {
                    exchange: Exchange::Answered(HttpResponse::with_bytes(
                        200,
                        vec![("content-type".to_string(), "application/json".to_string())],
                        self.inner.jwks_json.to_vec(),
                    )),
                    fault: None,
                    latency_ms: None,
                }
            }
            Ok(Route::Fapi { endpoint: ep, method: m, tail }) => {
                method = m.to_string();
                endpoint = Some(ep);
                sid = tail.session().and_then(SessionId::parse);
                self.handle_fapi(request, ep, &tail, now)
            }
        };
        self.record(now, method, request, endpoint, sid, &handled);
        handled
    }

    fn handle_fapi(
        &self,
        request: &HttpRequest,
        endpoint: Endpoint,
        tail: &decode::Tail,
        now: VTime,
    ) -> Handled {
        let token = decode::client_token(request.header_value("authorization"));
        let mut server = lock(&self.inner.server);
        let fault = server.take_fault(endpoint);
        match fault {
            Some(FaultKind::DropBeforeCommit) => {
                return Handled {
                    exchange: Exchange::Dropped { committed: false },
                    fault,
                    latency_ms: None,
                };
            }
            Some(kind) => {
                if let Some(reply) = FapiReply::for_fault(kind) {
                    drop(server);
                    return self.answer_reply(reply, fault, None, now);
                }
            }
            None => {}
        }
        let decoded = decode::parse_form(request.header_value("content-type"), &request.body)
            .and_then(|form| {
                let carried =
                    |text: &str| self.inner.verifier.verify_signature(text).ok().map(|v| v.info);
                decode::decode_request(endpoint, tail, &form, &carried)
            });
        let reply = match decoded {
            Ok(fapi_request) => server.handle(token, &fapi_request, now),
            Err(e) => {
                drop(server);
                return match fault {
                    // The request was sent but never applied: nothing to commit.
                    Some(FaultKind::DropAfterCommit) => Handled {
                        exchange: Exchange::Dropped { committed: false },
                        fault,
                        latency_ms: None,
                    },
                    _ => self.answer_error(&e, fault, latency_of(fault)),
                };
            }
        };
        drop(server);
        match fault {
            Some(FaultKind::DropAfterCommit) => {
                Handled { exchange: Exchange::Dropped { committed: true }, fault, latency_ms: None }
            }
            _ => self.answer_reply(reply, fault, latency_of(fault), now),
        }
    }

    fn answer_reply(
        &self,
        reply: FapiReply,
        fault: Option<FaultKind>,
        latency_ms: Option<u64>,
        now: VTime,
    ) -> Handled {
        let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
        if let Some(token) = reply.client_token {
            headers.push(("authorization".to_string(), token.encode()));
        }
        if let Some(ms) = reply.retry_after_ms {
            // Whole seconds on the wire, rounded up: never ask a client to come back early.
            headers.push(("retry-after".to_string(), ms.div_ceil(1000).to_string()));
        }
        push_fault_headers(&mut headers, fault, latency_ms);
        let users = {
            let server = lock(&self.inner.server);
            Arc::new(server.users.iter().map(|u| (u.id, u.identifier.clone())).collect())
        };
        let ctx = Arc::new(RenderCtx {
            signer: self.inner.signer.clone(),
            instance: self.inner.config.publishable_key.instance,
            users,
            now,
        });
        Handled {
            exchange: Exchange::Answered(HttpResponse::with_reply(
                reply.status,
                headers,
                reply,
                ctx,
            )),
            fault,
            latency_ms,
        }
    }

    fn answer_error(
        &self,
        e: &WireError,
        fault: Option<FaultKind>,
        latency_ms: Option<u64>,
    ) -> Handled {
        let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
        push_fault_headers(&mut headers, fault, latency_ms);
        Handled {
            exchange: Exchange::Answered(HttpResponse::with_bytes(
                e.status,
                headers,
                encode::wire_error_body(e),
            )),
            fault,
            latency_ms,
        }
    }

    fn record(
        &self,
        at: VTime,
        method: String,
        request: &HttpRequest,
        endpoint: Option<Endpoint>,
        sid: Option<SessionId>,
        handled: &Handled,
    ) {
        // A log kept at zero entries (the reference SDK's emulator, which nobody reads) is
        // not built at all: it would be dropped at once.
        if self.state().log_max == 0 {
            return;
        }
        let tag = request.header_value(super::http::REQUEST_TAG_HEADER).map(str::to_string);
        let issued = match &handled.exchange {
            Exchange::Answered(response) if tag.is_some() => {
                response.header("authorization").map(str::to_string)
            }
            _ => None,
        };
        let (outcome, code) = match &handled.exchange {
            Exchange::Dropped { committed } => {
                (RequestOutcome::NetworkError { committed: *committed }, None)
            }
            Exchange::Answered(response) => {
                let retry_after_ms = match response.reply() {
                    Some(reply) => reply.retry_after_ms,
                    None => None,
                };
                let code = match response.reply() {
                    Some(reply) => reply.error_code().map(str::to_string),
                    None if response.status >= 400 => {
                        response.json()["errors"][0]["code"].as_str().map(str::to_string)
                    }
                    None => None,
                };
                (RequestOutcome::Answered { status: response.status, retry_after_ms }, code)
            }
        };
        let mut state = self.state();
        state.seq += 1;
        let seq = state.seq;
        state.push(LogEntry {
            seq,
            at,
            method,
            path: request.path.clone(),
            endpoint,
            sid,
            outcome,
            code,
            fault: handled.fault,
            tag,
            issued,
        });
    }
}

fn latency_of(fault: Option<FaultKind>) -> Option<u64> {
    match fault {
        Some(FaultKind::Latency { ms }) => Some(ms),
        _ => None,
    }
}

fn push_fault_headers(
    headers: &mut Vec<(String, String)>,
    fault: Option<FaultKind>,
    latency_ms: Option<u64>,
) {
    if let Some(kind) = fault {
        headers.push((FAULT_HEADER.to_string(), kind.name().to_string()));
    }
    if let Some(ms) = latency_ms {
        headers.push((LATENCY_HEADER.to_string(), ms.to_string()));
    }
}
