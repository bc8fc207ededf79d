//! The server side of the world: Clerk's Frontend API rules as pure data transitions.
//!
//! Owns instance settings, the test user, clients with their rotating client token, sessions
//! with all eight statuses and their times, minted session tokens, and the scripted fault
//! queue. The FAPI emulator (`crate::fapi`) holds no rules of its own: it decodes a request,
//! calls [`Server::handle`], and encodes the reply (DESIGN.md §4, "server rules live once").
//!
//! Architecture invariant: no I/O, no clock but the `now` passed in, no randomness.

use serde::{Deserialize, Serialize};

use super::settings::InstanceSettings;
use super::time::VTime;
use super::vocab::{
    ClientId, Endpoint, FaultKind, FaultSpec, SessionId, SessionStatus, TaskKey, TokenInfo, UserId,
};

/// The test user every world has. Its credentials are printed by `cargo xtask serve`.
pub const TEST_USER_IDENTIFIER: &str = "user@example.test";
pub const TEST_USER_PASSWORD: &str = "correct-horse-battery-staple";

/// How many rotations old a client token may be and still be accepted.
pub const CLIENT_TOKEN_GRACE_VERSIONS: u32 = 64;

/// `nbf` is set this far before `iat`, as Clerk does, to absorb clock skew.
pub const TOKEN_NBF_SKEW_S: u64 = 10;

/// Keyed digest of client tokens: tokens protect nothing here, the key only makes a forged or
/// mistyped token distinguishable from a real one.
const CLIENT_TOKEN_MAC_KEY: u64 = 0x5e55_1011_4a4e_55e5;

/// The rotating client token (`__clerk_client_jwt`), as the server issues it.
///
/// `epoch` is the anti-session-fixation part: it changes at every sign-out, and a token of an
/// older epoch is refused. `version` grows with every response, so tokens can be ordered; a
/// token too many versions old is refused too. A refused token gets a new, empty client from
/// `GET /v1/client` — the silent sign-out of clerk/javascript #9217.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClientToken {
    pub client: ClientId,
    pub epoch: u32,
    pub version: u32,
}

impl ClientToken {
    /// The opaque wire form carried in `authorization` headers and stored on the device.
    pub fn encode(&self) -> String {
        format!("ct.{}.{}.{}.{:016x}", self.client.0, self.epoch, self.version, self.mac())
    }

    /// Parses the wire form; `None` for anything that is not a token this server issued.
    pub fn decode(text: &str) -> Option<ClientToken> {
        let mut parts = text.strip_prefix("ct.")?.split('.');
        let client = ClientId(parts.next()?.parse().ok()?);
        let epoch = parts.next()?.parse().ok()?;
        let version = parts.next()?.parse().ok()?;
        let mac = u64::from_str_radix(parts.next()?, 16).ok()?;
        if parts.next().is_some() {
            return None;
        }
        let token = ClientToken { client, epoch, version };
        (token.mac() == mac).then_some(token)
    }

    fn mac(&self) -> u64 {
        let mut h = CLIENT_TOKEN_MAC_KEY;
        for v in [self.client.0 as u64, self.epoch as u64, self.version as u64] {
            h = mix64(h ^ v);
        }
        h
    }
}

/// SplitMix64's finaliser: a cheap, well-spread, deterministic mixing step.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub identifier: String,
    pub password: String,
    /// A task the next sign-in must complete before the session becomes active.
    pub pending_task: Option<TaskKey>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub id: ClientId,
    pub epoch: u32,
    pub version: u32,
    /// Sessions on this client, oldest first. `removed` sessions leave this list.
    pub sessions: Vec<SessionId>,
    pub last_active_session: Option<SessionId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: SessionId,
    pub user: UserId,
    pub client: ClientId,
    pub status: SessionStatus,
    pub tasks: Vec<TaskKey>,
    pub created_at: VTime,
    /// `expired` at this instant, if the instance has a maximum lifetime.
    pub expire_at: Option<VTime>,
    /// Last token or touch: the inactivity timeout runs from here.
    pub last_active_at: VTime,
    /// When the status last changed (for reports).
    pub status_at: VTime,
    pub last_token: Option<TokenInfo>,
}

impl Session {
    pub fn abandon_at(&self, settings: &InstanceSettings) -> Option<VTime> {
        settings.inactivity_timeout_ms.map(|idle| self.last_active_at.plus(idle))
    }
}

/// A session as a client payload carries it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SessionSnap {
    pub id: SessionId,
    pub user: UserId,
    pub status: SessionStatus,
    pub tasks: Vec<TaskKey>,
    pub created_at: VTime,
    pub expire_at: Option<VTime>,
    pub abandon_at: Option<VTime>,
    pub last_active_at: VTime,
    pub last_active_token: Option<TokenInfo>,
}

/// A client payload (`ClientJSON`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClientView {
    pub id: ClientId,
    pub sessions: Vec<SessionSnap>,
    pub last_active_session: Option<SessionId>,
}

impl ClientView {
    /// The session clerk-js would select: the last active one if signed in, else the first
    /// signed-in one (`#defaultSession`).
    pub fn selected_session(&self) -> Option<&SessionSnap> {
        let signed_in = |s: &&SessionSnap| s.status.is_signed_in();
        self.last_active_session
            .and_then(|id| self.sessions.iter().filter(signed_in).find(|s| s.id == id))
            .or_else(|| self.sessions.iter().find(signed_in))
    }
}

/// What the environment endpoint tells the SDK.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EnvironmentView {
    pub single_session_mode: bool,
    pub session_minter: bool,
}

/// A decoded FAPI request.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FapiRequest {
    Environment,
    GetClient,
    CreateClient,
    SignIn {
        identifier: String,
        password: String,
    },
    /// `carried` is the `token=` body field (session minter); `force_origin` its override.
    Tokens {
        sid: SessionId,
        carried: Option<TokenInfo>,
        force_origin: bool,
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

impl FapiRequest {
    pub fn endpoint(&self) -> Endpoint {
        match self {
            FapiRequest::Environment => Endpoint::Environment,
            FapiRequest::GetClient => Endpoint::GetClient,
            FapiRequest::CreateClient => Endpoint::CreateClient,
            FapiRequest::SignIn { .. } => Endpoint::SignIn,
            FapiRequest::Tokens { .. } => Endpoint::Tokens,
            FapiRequest::Touch { .. } => Endpoint::Touch,
            FapiRequest::End { .. } => Endpoint::End,
            FapiRequest::Remove { .. } => Endpoint::Remove,
            FapiRequest::RemoveSessions => Endpoint::RemoveSessions,
            FapiRequest::ResolveTask { .. } => Endpoint::ResolveTask,
        }
    }

    pub fn sid(&self) -> Option<SessionId> {
        match self {
            FapiRequest::Tokens { sid, .. }
            | FapiRequest::Touch { sid }
            | FapiRequest::End { sid }
            | FapiRequest::Remove { sid }
            | FapiRequest::ResolveTask { sid, .. } => Some(*sid),
            _ => None,
        }
    }
}

/// A Clerk error (`{errors:[{code, message, long_message, meta}]}`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ApiError {
    pub code: &'static str,
    pub message: &'static str,
    pub long_message: String,
}

/// The resource of a successful reply.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum ReplyBody {
    Environment(EnvironmentView),
    /// `GET/PUT /v1/client`, `DELETE sessions`: the client itself.
    Client,
    Session(SessionSnap),
    SignIn {
        created_session: SessionId,
    },
    /// Bare `{object: "token", jwt}`.
    Token(TokenInfo),
    Error(ApiError),
}

/// A reply, before encoding.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct FapiReply {
    pub status: u16,
    pub body: ReplyBody,
    /// The `client` piggybacked on the envelope (or the resource, for client endpoints).
    pub client: Option<ClientView>,
    /// The rotated client token for the `Authorization` response header.
    pub client_token: Option<ClientToken>,
    /// `Retry-After`, for 429.
    pub retry_after_ms: Option<u64>,
}

impl FapiReply {
    pub fn is_ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn error_code(&self) -> Option<&'static str> {
        match &self.body {
            ReplyBody::Error(e) => Some(e.code),
            _ => None,
        }
    }

    fn error(status: u16, code: &'static str, message: &'static str, long: String) -> FapiReply {
        FapiReply {
            status,
            body: ReplyBody::Error(ApiError { code, message, long_message: long }),
            client: None,
            client_token: None,
            retry_after_ms: None,
        }
    }

    /// The answer an injected fault gives instead of the server's (`None` for faults that are
    /// not an HTTP answer: drops and latency).
    pub fn for_fault(kind: FaultKind) -> Option<FapiReply> {
        match kind {
            FaultKind::ServerError { status } => Some(FapiReply::error(
                status,
                "internal_clerk_error",
                "Oops, an unexpected error occurred",
                format!("injected fault: HTTP {status}"),
            )),
            FaultKind::RateLimited { retry_after_ms } => {
                let mut reply = FapiReply::error(
                    429,
                    "too_many_requests",
                    "Too many requests",
                    "injected fault: rate limited".to_string(),
                );
                reply.retry_after_ms = Some(retry_after_ms);
                Some(reply)
            }
            FaultKind::Unauthorized => Some(FapiReply::error(
                401,
                "authentication_invalid",
                "Unauthenticated",
                "injected fault: unauthorized".to_string(),
            )),
            FaultKind::MissingExpiredToken => Some(FapiReply::error(
                422,
                "missing_expired_token",
                "Missing expired token",
                "injected fault: the request must carry the expired session token".to_string(),
            )),
            FaultKind::DropBeforeCommit
            | FaultKind::DropAfterCommit
            | FaultKind::Latency { .. } => None,
        }
    }
}

/// Why a backend refused a session token (the rules that need the server's state).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenRejection {
    Expired,
    NotYetValid,
    SessionNotActive,
    UnknownSession,
}

/// A fault still waiting for requests to hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QueuedFault {
    pub spec: FaultSpec,
    pub remaining: u32,
}

/// The whole server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Server {
    pub settings: InstanceSettings,
    pub users: Vec<User>,
    /// Indexed by `ClientId.0 - 1`.
    pub clients: Vec<Client>,
    /// Indexed by `SessionId.0 - 1`.
    pub sessions: Vec<Session>,
    pub token_serial: u64,
    pub faults: Vec<QueuedFault>,
}

impl Server {
    pub fn new(settings: InstanceSettings) -> Server {
        Server {
            settings,
            users: vec![User {
                id: UserId(1),
                identifier: TEST_USER_IDENTIFIER.to_string(),
                password: TEST_USER_PASSWORD.to_string(),
                pending_task: None,
            }],
            clients: Vec::new(),
            sessions: Vec::new(),
            token_serial: 0,
            faults: Vec::new(),
        }
    }

    pub fn session(&self, id: SessionId) -> Option<&Session> {
        self.sessions.get((id.0 as usize).wrapping_sub(1))
    }

    pub fn client(&self, id: ClientId) -> Option<&Client> {
        self.clients.get((id.0 as usize).wrapping_sub(1))
    }

    fn session_mut(&mut self, id: SessionId) -> Option<&mut Session> {
        self.sessions.get_mut((id.0 as usize).wrapping_sub(1))
    }

    fn client_mut(&mut self, id: ClientId) -> Option<&mut Client> {
        self.clients.get_mut((id.0 as usize).wrapping_sub(1))
    }

    /// The client a token names, if the token is current: the same epoch, and at most
    /// [`CLIENT_TOKEN_GRACE_VERSIONS`] rotations old, so answers lost in flight or arriving
    /// out of order do not strand a device, while a token kept aside for long (the native
    /// layer's, clerk/javascript #9217) is refused.
    pub fn resolve_client(&self, token: Option<ClientToken>) -> Option<ClientId> {
        let token = token?;
        let client = self.client(token.client)?;
        let fresh = token.version <= client.version
            && client.version - token.version <= CLIENT_TOKEN_GRACE_VERSIONS;
        (client.epoch == token.epoch && fresh).then_some(client.id)
    }

    /// Applies time-driven transitions to every signed-in session: maximum lifetime →
    /// `expired`, inactivity → `abandoned`. Idempotent; call before reading statuses.
    pub fn tick(&mut self, now: VTime) {
        let idle = self.settings.inactivity_timeout_ms;
        for s in &mut self.sessions {
            if !s.status.is_signed_in() {
                continue;
            }
            let expire_at = s.expire_at.filter(|at| *at <= now);
            let abandon_at = idle.map(|ms| s.last_active_at.plus(ms)).filter(|at| *at <= now);
            // Whichever deadline came first decides the status.
            match (expire_at, abandon_at) {
                (Some(e), Some(a)) if a < e => set_status(s, SessionStatus::Abandoned, a),
                (Some(e), _) => set_status(s, SessionStatus::Expired, e),
                (None, Some(a)) => set_status(s, SessionStatus::Abandoned, a),
                (None, None) => {}
            }
        }
    }

    /// Pops the fault for the next request to `endpoint`, if one is queued. Faults are
    /// consumed when a request is sent, so `count` means "the next N requests".
    pub fn take_fault(&mut self, endpoint: Endpoint) -> Option<FaultKind> {
        let index = self.faults.iter().position(|f| {
            f.spec.on.is_none_or(|on| on == endpoint) && fault_applies(f.spec.kind, endpoint)
        })?;
        let fault = &mut self.faults[index];
        fault.remaining -= 1;
        let kind = fault.spec.kind;
        if fault.remaining == 0 {
            self.faults.remove(index);
        }
        Some(kind)
    }

    pub fn push_fault(&mut self, spec: FaultSpec) {
        if spec.count > 0 {
            self.faults.push(QueuedFault { spec, remaining: spec.count });
        }
    }

    pub fn environment(&self) -> EnvironmentView {
        EnvironmentView {
            single_session_mode: !self.settings.multi_session,
            session_minter: self.settings.session_minter,
        }
    }

    /// Handles one request carrying `token` at `now`, and rotates the client token.
    pub fn handle(
        &mut self,
        token: Option<ClientToken>,
        request: &FapiRequest,
        now: VTime,
    ) -> FapiReply {
        self.tick(now);
        let known = self.resolve_client(token);
        let mut reply = match request {
            FapiRequest::Environment => FapiReply {
                status: 200,
                body: ReplyBody::Environment(self.environment()),
                client: None,
                client_token: None,
                retry_after_ms: None,
            },
            FapiRequest::GetClient | FapiRequest::CreateClient => {
                // An unknown or stale token gets a new, empty client: the silent sign-out
                // of clerk/javascript #9217 when a stale token is sent.
                let client = match (request, known) {
                    (FapiRequest::GetClient, Some(id)) => id,
                    _ => self.create_client(),
                };
                self.client_reply(client, ReplyBody::Client, now)
            }
            FapiRequest::SignIn { identifier, password } => {
                let client = known.unwrap_or_else(|| self.create_client());
                self.sign_in(client, identifier, password, now)
            }
            FapiRequest::Tokens { sid, carried, force_origin } => match known {
                None => unauthenticated("the client token is missing, unknown or stale"),
                Some(client) => self.mint(client, *sid, *carried, *force_origin, now),
            },
            FapiRequest::Touch { sid } => self.session_action(known, *sid, now, |s, now| {
                s.last_active_at = now;
                Ok(())
            }),
            FapiRequest::End { sid } => self.session_action(known, *sid, now, |s, now| {
                set_status(s, SessionStatus::Ended, now);
                Ok(())
            }),
            FapiRequest::Remove { sid } => {
                let reply = self.session_action(known, *sid, now, |s, now| {
                    set_status(s, SessionStatus::Removed, now);
                    Ok(())
                });
                if reply.is_ok()
                    && let Some(client) = known
                {
                    self.detach(client, *sid);
                }
                reply
            }
            FapiRequest::RemoveSessions => match known {
                None => unauthenticated("the client token is missing, unknown or stale"),
                Some(client) => {
                    let ids = self.client(client).map(|c| c.sessions.clone()).unwrap_or_default();
                    for id in ids {
                        if let Some(s) = self.session_mut(id)
                            && s.status.is_signed_in()
                        {
                            set_status(s, SessionStatus::Removed, now);
                        }
                        self.detach(client, id);
                    }
                    // Anti-session-fixation: tokens from before a sign-out die with it.
                    if let Some(c) = self.client_mut(client) {
                        c.epoch += 1;
                    }
                    self.client_reply(client, ReplyBody::Client, now)
                }
            },
            FapiRequest::ResolveTask { sid, task } => {
                let task = *task;
                self.session_action(known, *sid, now, move |s, now| {
                    let Some(index) = s.tasks.iter().position(|t| *t == task) else {
                        return Err(Box::new(FapiReply::error(
                            422,
                            "task_not_found",
                            "No such task",
                            format!("the session has no pending task `{}`", task.as_str()),
                        )));
                    };
                    s.tasks.remove(index);
                    if s.tasks.is_empty() && s.status == SessionStatus::Pending {
                        set_status(s, SessionStatus::Active, now);
                    }
                    s.last_active_at = now;
                    Ok(())
                })
            }
        };
        // Rotation: every answer for a known client carries its next token.
        if reply.client_token.is_none()
            && let Some(client) = known
        {
            reply.client_token = Some(self.rotate(client));
        }
        reply
    }

    fn create_client(&mut self) -> ClientId {
        let id = ClientId(self.clients.len() as u32 + 1);
        self.clients.push(Client {
            id,
            epoch: 1,
            version: 0,
            sessions: Vec::new(),
            last_active_session: None,
        });
        id
    }

    fn rotate(&mut self, client: ClientId) -> ClientToken {
        let c = self.client_mut(client).expect("rotate is only called for existing clients");
        c.version += 1;
        ClientToken { client, epoch: c.epoch, version: c.version }
    }

    fn detach(&mut self, client: ClientId, sid: SessionId) {
        if let Some(c) = self.client_mut(client) {
            c.sessions.retain(|s| *s != sid);
            if c.last_active_session == Some(sid) {
                c.last_active_session = None;
            }
        }
    }

    fn client_reply(&mut self, client: ClientId, body: ReplyBody, now: VTime) -> FapiReply {
        let view = self.client_view(client, now);
        let token = self.rotate(client);
        FapiReply {
            status: 200,
            body,
            client: Some(view),
            client_token: Some(token),
            retry_after_ms: None,
        }
    }

    /// The client payload. Every signed-in session carries a freshly minted
    /// `last_active_token`, which counts as activity (as a token request would).
    pub fn client_view(&mut self, client: ClientId, now: VTime) -> ClientView {
        let (ids, last) = match self.client(client) {
            Some(c) => (c.sessions.clone(), c.last_active_session),
            None => (Vec::new(), None),
        };
        let mut sessions = Vec::with_capacity(ids.len());
        for id in ids {
            let signed_in = self.session(id).is_some_and(|s| s.status.is_signed_in());
            if signed_in {
                self.issue_token(id, now);
            }
            let s = self.session(id).expect("client lists only existing sessions");
            sessions.push(SessionSnap {
                id: s.id,
                user: s.user,
                status: s.status,
                tasks: s.tasks.clone(),
                created_at: s.created_at,
                expire_at: s.expire_at,
                abandon_at: s.abandon_at(&self.settings),
                last_active_at: s.last_active_at,
                last_active_token: s.last_token,
            });
        }
        ClientView { id: client, sessions, last_active_session: last }
    }

    fn snap(&self, sid: SessionId) -> SessionSnap {
        let s = self.session(sid).expect("snap is only called for existing sessions");
        SessionSnap {
            id: s.id,
            user: s.user,
            status: s.status,
            tasks: s.tasks.clone(),
            created_at: s.created_at,
            expire_at: s.expire_at,
            abandon_at: s.abandon_at(&self.settings),
            last_active_at: s.last_active_at,
            last_active_token: s.last_token,
        }
    }

    fn issue_token(&mut self, sid: SessionId, now: VTime) -> TokenInfo {
        self.token_serial += 1;
        let serial = self.token_serial;
        let ttl_s = self.settings.session_token_ttl_ms.div_ceil(1000);
        let s = self.session_mut(sid).expect("tokens are only issued for existing sessions");
        let iat = now.unix_s();
        let token = TokenInfo {
            sid,
            sub: s.user,
            iat,
            nbf: iat.saturating_sub(TOKEN_NBF_SKEW_S),
            exp: iat + ttl_s,
            pending: s.status == SessionStatus::Pending,
            serial,
        };
        s.last_active_at = now;
        s.last_token = Some(token);
        token
    }

    fn sign_in(
        &mut self,
        client: ClientId,
        identifier: &str,
        password: &str,
        now: VTime,
    ) -> FapiReply {
        let Some(user_index) = self.users.iter().position(|u| u.identifier == identifier) else {
            return FapiReply::error(
                422,
                "form_identifier_not_found",
                "Couldn't find your account.",
                format!("no user has the identifier `{identifier}`"),
            );
        };
        if self.users[user_index].password != password {
            return FapiReply::error(
                422,
                "form_password_incorrect",
                "Password is incorrect. Try again, or use another method.",
                "the password does not match".to_string(),
            );
        }
        let has_signed_in =
            self.client(client).is_some_and(|c| c.sessions.iter().any(|id| self.is_signed_in(*id)));
        if has_signed_in && !self.settings.multi_session {
            return FapiReply::error(
                422,
                "session_exists",
                "You're already signed in.",
                "single-session mode: sign out before signing in again".to_string(),
            );
        }
        let user = self.users[user_index].id;
        let task = self.users[user_index].pending_task.take();
        let sid = self.create_session(client, user, task, now);
        self.client_reply(client, ReplyBody::SignIn { created_session: sid }, now)
    }

    fn create_session(
        &mut self,
        client: ClientId,
        user: UserId,
        task: Option<TaskKey>,
        now: VTime,
    ) -> SessionId {
        let id = SessionId(self.sessions.len() as u32 + 1);
        let status = if task.is_some() { SessionStatus::Pending } else { SessionStatus::Active };
        self.sessions.push(Session {
            id,
            user,
            client,
            status,
            tasks: task.into_iter().collect(),
            created_at: now,
            expire_at: self.settings.max_lifetime_ms.map(|ms| now.plus(ms)),
            last_active_at: now,
            status_at: now,
            last_token: None,
        });
        let c = self.client_mut(client).expect("sessions are created on existing clients");
        c.sessions.push(id);
        c.last_active_session = Some(id);
        id
    }

    fn is_signed_in(&self, sid: SessionId) -> bool {
        self.session(sid).is_some_and(|s| s.status.is_signed_in())
    }

    fn mint(
        &mut self,
        client: ClientId,
        sid: SessionId,
        carried: Option<TokenInfo>,
        force_origin: bool,
        now: VTime,
    ) -> FapiReply {
        let Some(session) = self.session(sid).filter(|s| s.client == client) else {
            return FapiReply::error(
                404,
                "resource_not_found",
                "Session not found",
                format!("no session `{sid}` on this client"),
            );
        };
        if !session.status.is_signed_in() {
            return unauthenticated("the session is no longer active");
        }
        if self.settings.session_minter
            && !force_origin
            && carried.is_some_and(|t| t.is_expired_at(now))
        {
            return unauthenticated("the session minter refuses an expired origin token");
        }
        let token = self.issue_token(sid, now);
        FapiReply {
            status: 200,
            body: ReplyBody::Token(token),
            client: None,
            client_token: None,
            retry_after_ms: None,
        }
    }

    fn session_action(
        &mut self,
        known: Option<ClientId>,
        sid: SessionId,
        now: VTime,
        // Boxed: a reply is large and the happy path should not carry its size.
        action: impl FnOnce(&mut Session, VTime) -> Result<(), Box<FapiReply>>,
    ) -> FapiReply {
        let Some(client) = known else {
            return unauthenticated("the client token is missing, unknown or stale");
        };
        let Some(session) = self.session_mut(sid).filter(|s| s.client == client) else {
            return FapiReply::error(
                404,
                "resource_not_found",
                "Session not found",
                format!("no session `{sid}` on this client"),
            );
        };
        if !session.status.is_signed_in() {
            return unauthenticated("the session is no longer active");
        }
        if let Err(reply) = action(session, now) {
            return *reply;
        }
        let snap = self.snap(sid);
        if let Some(c) = self.client_mut(client)
            && snap.status.is_signed_in()
        {
            c.last_active_session = Some(sid);
        }
        self.client_reply(client, ReplyBody::Session(snap), now)
    }

    /// Server-side status change of a session (revoke, expire, abandon), as a backend or an
    /// admin would make it. Returns false when the session is unknown or already terminal.
    pub fn end_session_as(&mut self, sid: SessionId, status: SessionStatus, now: VTime) -> bool {
        self.tick(now);
        debug_assert!(status.is_terminal(), "end_session_as takes terminal statuses only");
        match self.session_mut(sid) {
            Some(s) if s.status.is_signed_in() => {
                set_status(s, status, now);
                true
            }
            _ => false,
        }
    }

    /// Another session of the same user takes over `sid` (multi-device "replaced").
    pub fn replace_session(&mut self, sid: SessionId, now: VTime) -> Option<SessionId> {
        self.tick(now);
        let (client, user) = match self.session(sid) {
            Some(s) if s.status.is_signed_in() => (s.client, s.user),
            _ => return None,
        };
        let s = self.session_mut(sid).expect("checked above");
        set_status(s, SessionStatus::Replaced, now);
        Some(self.create_session(client, user, None, now))
    }

    /// Server-side task (an admin forcing a password reset, say): a signed-in `sid` takes
    /// `task` and becomes `pending`. Returns false when the session is unknown or not signed
    /// in.
    pub fn add_task(&mut self, sid: SessionId, task: TaskKey, now: VTime) -> bool {
        self.tick(now);
        match self.session_mut(sid) {
            Some(s) if s.status.is_signed_in() => {
                if !s.tasks.contains(&task) {
                    s.tasks.push(task);
                }
                set_status(s, SessionStatus::Pending, now);
                true
            }
            _ => false,
        }
    }

    /// Server-side completion of every task of a signed-in `sid`: `pending` becomes `active`
    /// as the last `resolve_task` would make it. Returns false when the session is unknown or
    /// not signed in.
    pub fn clear_tasks(&mut self, sid: SessionId, now: VTime) -> bool {
        self.tick(now);
        match self.session_mut(sid) {
            Some(s) if s.status.is_signed_in() => {
                s.tasks.clear();
                set_status(s, SessionStatus::Active, now);
                true
            }
            _ => false,
        }
    }

    /// Server-side removal of a signed-in `sid`: `removed`, and off its client's list, as a
    /// `remove` request would leave it. Returns false when unknown or not signed in.
    pub fn remove_session(&mut self, sid: SessionId, now: VTime) -> bool {
        let Some(client) = self.session(sid).map(|s| s.client) else {
            return false;
        };
        if !self.end_session_as(sid, SessionStatus::Removed, now) {
            return false;
        }
        self.detach(client, sid);
        true
    }

    /// Arms a task for the test user's next sign-in.
    pub fn set_pending_task(&mut self, task: Option<TaskKey>) {
        self.users[0].pending_task = task;
    }

    /// The backend's server-side checks of a verified session token: time claims against the
    /// virtual clock, and the session still signed in.
    pub fn check_session_token(
        &mut self,
        token: &TokenInfo,
        now: VTime,
    ) -> Result<(), TokenRejection> {
        self.tick(now);
        if token.is_expired_at(now) {
            return Err(TokenRejection::Expired);
        }
        if now.unix_ms() < token.nbf * 1000 {
            return Err(TokenRejection::NotYetValid);
        }
        match self.session(token.sid) {
            None => Err(TokenRejection::UnknownSession),
            Some(s) if !s.status.is_signed_in() => Err(TokenRejection::SessionNotActive),
            Some(_) => Ok(()),
        }
    }

    /// The true status of a session now.
    pub fn status_of(&mut self, sid: SessionId, now: VTime) -> Option<SessionStatus> {
        self.tick(now);
        self.session(sid).map(|s| s.status)
    }
}

fn set_status(s: &mut Session, status: SessionStatus, at: VTime) {
    if s.status != status {
        s.status = status;
        s.status_at = at;
    }
}

fn unauthenticated(long: &str) -> FapiReply {
    FapiReply::error(401, "authentication_invalid", "Unauthenticated", long.to_string())
}

/// Whether a fault kind can apply to an endpoint. A 401 never answers `GET /v1/client`
/// (clerk-js would recurse, reference §1.4); `missing_expired_token` only answers tokens.
fn fault_applies(kind: FaultKind, endpoint: Endpoint) -> bool {
    match kind {
        FaultKind::Unauthorized => endpoint != Endpoint::GetClient,
        FaultKind::MissingExpiredToken => endpoint == Endpoint::Tokens,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::time::{DAY_MS, MINUTE_MS};

    fn signed_in(settings: InstanceSettings) -> (Server, ClientToken, SessionId) {
        let mut server = Server::new(settings);
        let reply = server.handle(None, &FapiRequest::GetClient, VTime(0));
        let token = reply.client_token.unwrap();
        let reply = server.handle(
            Some(token),
            &FapiRequest::SignIn {
                identifier: TEST_USER_IDENTIFIER.into(),
                password: TEST_USER_PASSWORD.into(),
            },
            VTime(10),
        );
        let ReplyBody::SignIn { created_session } = reply.body else { panic!("{reply:?}") };
        (server, reply.client_token.unwrap(), created_session)
    }

    #[test]
    fn client_token_round_trips_and_rejects_forgery() {
        let t = ClientToken { client: ClientId(3), epoch: 2, version: 9 };
        assert_eq!(ClientToken::decode(&t.encode()), Some(t));
        let forged = t.encode().replace(".9.", ".10.");
        assert_eq!(ClientToken::decode(&forged), None);
        assert_eq!(ClientToken::decode("garbage"), None);
    }

    #[test]
    fn max_lifetime_expires_and_inactivity_abandons() {
        let settings = InstanceSettings {
            inactivity_timeout_ms: Some(30 * MINUTE_MS),
            ..InstanceSettings::default()
        };
        let (mut server, _, sid) = signed_in(settings);
        assert_eq!(server.status_of(sid, VTime(29 * MINUTE_MS)), Some(SessionStatus::Active));
        assert_eq!(server.status_of(sid, VTime(31 * MINUTE_MS)), Some(SessionStatus::Abandoned));

        let (mut server, _, sid) = signed_in(InstanceSettings::default());
        assert_eq!(server.status_of(sid, VTime(7 * DAY_MS)), Some(SessionStatus::Active));
        assert_eq!(server.status_of(sid, VTime(7 * DAY_MS + 10)), Some(SessionStatus::Expired));
    }

    #[test]
    fn stale_tokens_get_a_new_empty_client() {
        // Too many rotations old: the #9217 path.
        let (mut server, signed_in_token, _) = signed_in(InstanceSettings::default());
        let mut latest = signed_in_token;
        for t in 0..=CLIENT_TOKEN_GRACE_VERSIONS {
            latest = server
                .handle(Some(latest), &FapiRequest::Environment, VTime(20 + t as u64))
                .client_token
                .unwrap();
        }
        assert_eq!(server.resolve_client(Some(latest)), Some(signed_in_token.client));
        let stale = server.handle(Some(signed_in_token), &FapiRequest::GetClient, VTime(500));
        let view = stale.client.unwrap();
        assert_ne!(view.id, signed_in_token.client);
        assert!(view.sessions.is_empty());

        // From before a sign-out: the epoch moved on.
        let (mut server, before, _) = signed_in(InstanceSettings::default());
        let after = server.handle(Some(before), &FapiRequest::RemoveSessions, VTime(30));
        assert_eq!(server.resolve_client(after.client_token), Some(before.client));
        assert_eq!(server.resolve_client(Some(before)), None);
    }
}
