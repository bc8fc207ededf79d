//! The server side of the world: Clerk's Frontend API rules as pure data transitions.
//!
//! Owns instance settings, the test user, clients with their rotating client token and its
//! reuse policy, sessions with all eight statuses and their times, minted session tokens, and
//! the scripted fault queue. The FAPI emulator (`crate::fapi`) holds no rules of its own: it decodes a request,
//! calls [`Server::handle`], and encodes the reply (DESIGN.md §4, "server rules live once").
//!
//! Architecture invariant: no I/O, no clock but the `now` passed in, no randomness.

mod client_token;
mod messages;
mod reuse;
mod sessions;

use serde::{Deserialize, Serialize};

pub use self::client_token::{ClientToken, mix64};
use self::messages::unauthenticated;
pub use self::messages::{
    ApiError, ClientView, EnvironmentView, FapiReply, FapiRequest, ReplyBody, SessionSnap,
};
use self::sessions::set_status;
pub use super::settings::CLIENT_TOKEN_GRACE_VERSIONS;
use super::settings::{InstanceSettings, ReuseGrace};
use super::time::VTime;
use super::vocab::{
    ClientId, Endpoint, FaultKind, FaultSpec, SessionId, SessionStatus, TaskKey, TokenInfo, UserId,
};

/// The test user every world has. Its credentials are printed by `cargo xtask serve`.
pub const TEST_USER_IDENTIFIER: &str = "user@example.test";

pub const TEST_USER_PASSWORD: &str = "correct-horse-battery-staple";

/// `nbf` is set this far before `iat`, as Clerk does, to absorb clock skew.
pub const TOKEN_NBF_SKEW_S: u64 = 10;

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
    /// Under a reuse grace measured in time: when each recent version was minted, oldest
    /// first, kept while it can still decide whether its predecessor is honoured.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub minted: Vec<(u32, VTime)>,
    /// Revoked by reuse detection (`revoke_family`): no token of this client is honoured.
    #[serde(default, skip_serializing_if = "is_false")]
    pub revoked: bool,
    /// The server refused a superseded token of this client's current epoch that a device may
    /// hold through no fault of its own: the one just before the current one (its successor's
    /// answer lost), or any under a grace in time (which runs out while a device is away,
    /// whatever it does). Never set under Clerk's default grace of 64 rotations.
    #[serde(default, skip_serializing_if = "is_false")]
    pub superseded_refused: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
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

/// Why a backend refused a session token (the rules that need the server's state).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenRejection {
    Expired,
    NotYetValid,
    SessionNotActive,
    UnknownSession,
    /// A JWT template's token: it names no session to check.
    NotASessionToken,
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
    /// Indexed by `ClientId.0 - clients_before - 1`.
    pub clients: Vec<Client>,
    /// Indexed by `SessionId.0 - sessions_before - 1`.
    pub sessions: Vec<Session>,
    pub token_serial: u64,
    pub faults: Vec<QueuedFault>,
    /// Client ids handed out by earlier generations of this server (the dev server's
    /// `/reset`): new clients are numbered after them, so a client token from before a reset
    /// never names a new client. Zero (and not serialised) in every simulated run.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub clients_before: u32,
    /// Session ids handed out by earlier generations, likewise.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sessions_before: u32,
    /// The latest `now` the server has seen ([`Server::tick`]): what a reuse grace measured in
    /// time is judged against outside a request. Not serialised: a server read back starts
    /// its clock again at its next request.
    #[serde(skip)]
    pub clock: VTime,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The vector index of id `id` when `before` ids went to earlier generations (ids are
/// 1-based); `None` for an id of an earlier generation.
fn index_of(id: u32, before: u32) -> Option<usize> {
    id.checked_sub(before)?.checked_sub(1).map(|i| i as usize)
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
            clients_before: 0,
            sessions_before: 0,
            clock: VTime(0),
        }
    }

    /// A fresh server with the same settings whose ids continue after this one's: nothing a
    /// device kept from before (session ids, client tokens, session JWTs) names anything in
    /// it. The dev server's `/reset`.
    pub fn next_generation(&self) -> Server {
        let mut next = Server::new(self.settings);
        next.clients_before = self.clients_before.saturating_add(self.clients.len() as u32);
        next.sessions_before = self.sessions_before.saturating_add(self.sessions.len() as u32);
        next
    }

    pub fn session(&self, id: SessionId) -> Option<&Session> {
        self.sessions.get(index_of(id.0, self.sessions_before)?)
    }

    pub fn client(&self, id: ClientId) -> Option<&Client> {
        self.clients.get(index_of(id.0, self.clients_before)?)
    }

    fn session_mut(&mut self, id: SessionId) -> Option<&mut Session> {
        self.sessions.get_mut(index_of(id.0, self.sessions_before)?)
    }

    fn client_mut(&mut self, id: ClientId) -> Option<&mut Client> {
        self.clients.get_mut(index_of(id.0, self.clients_before)?)
    }

    /// Applies time-driven transitions to every signed-in session: maximum lifetime →
    /// `expired`, inactivity → `abandoned`. Idempotent; call before reading statuses.
    pub fn tick(&mut self, now: VTime) {
        self.clock = self.clock.max(now);
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
        self.detect_reuse(token, now);
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
            FapiRequest::Tokens { sid, carried, force_origin, template } => match known {
                None => unauthenticated("the client token is missing, unknown or stale"),
                Some(client) => self.mint(client, (*sid, *template), *carried, *force_origin, now),
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
            reply.client_token = Some(self.rotate(client, now));
        }
        reply
    }

    fn create_client(&mut self) -> ClientId {
        let id = ClientId(self.clients_before + self.clients.len() as u32 + 1);
        self.clients.push(Client {
            id,
            epoch: 1,
            version: 0,
            sessions: Vec::new(),
            last_active_session: None,
            minted: Vec::new(),
            revoked: false,
            superseded_refused: false,
        });
        id
    }

    fn rotate(&mut self, client: ClientId, now: VTime) -> ClientToken {
        let grace = self.settings.token_reuse.grace;
        let c = self.client_mut(client).expect("rotate is only called for existing clients");
        c.version += 1;
        if let ReuseGrace::WindowMs(window) = grace {
            // A mint older than the window no longer honours its predecessor: forget it.
            c.minted.retain(|(_, at)| now.since(*at) <= window);
            c.minted.push((c.version, now));
        }
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
        let token = self.rotate(client, now);
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
            sessions.push(self.snap(id));
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
    use crate::model::settings::ReusePolicy;
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

    fn with_reuse(policy: ReusePolicy, grace: ReuseGrace) -> InstanceSettings {
        InstanceSettings {
            token_reuse: crate::model::settings::TokenReuse { policy, grace },
            ..InstanceSettings::default()
        }
    }

    /// Rotates once at `at` (a committed request whose answer the device may lose) and
    /// returns the successor.
    fn rotate_at(server: &mut Server, token: ClientToken, at: u64) -> ClientToken {
        server.handle(Some(token), &FapiRequest::Environment, VTime(at)).client_token.unwrap()
    }

    #[test]
    fn a_grace_in_time_honours_a_superseded_token_just_inside_and_refuses_it_just_outside() {
        let window = 30_000;
        let settings = with_reuse(ReusePolicy::NewClient, ReuseGrace::WindowMs(window));
        let (mut server, old, sid) = signed_in(settings);
        let next = rotate_at(&mut server, old, 1_000);
        assert_ne!(next, old);

        // Just inside: the successor was minted `window` ms ago.
        let reply = server.handle(Some(old), &FapiRequest::GetClient, VTime(1_000 + window));
        let view = reply.client.unwrap();
        assert_eq!(view.id, old.client);
        assert_eq!(view.sessions.iter().map(|s| s.id).collect::<Vec<_>>(), vec![sid]);

        // Many rotations later, but all within the window: still honoured (no count limit).
        let (mut server, old, _) = signed_in(settings);
        let mut latest = rotate_at(&mut server, old, 1_000);
        for t in 0..200 {
            latest = rotate_at(&mut server, latest, 1_001 + t);
        }
        assert_eq!(server.resolve_client(Some(old)), Some(old.client));

        // Just outside: a new, empty client; the old one's session lives on, orphaned.
        let (mut server, old, sid) = signed_in(settings);
        let next = rotate_at(&mut server, old, 1_000);
        let reply = server.handle(Some(old), &FapiRequest::GetClient, VTime(1_001 + window));
        let view = reply.client.unwrap();
        assert_ne!(view.id, old.client);
        assert!(view.sessions.is_empty());
        assert_eq!(server.session(sid).unwrap().status, SessionStatus::Active);
        assert_eq!(server.orphaned_sessions(None), vec![sid]);
        // The successor still reaches it: new_client revokes nothing.
        assert_eq!(server.resolve_client(Some(next)), Some(old.client));
    }

    #[test]
    fn revoke_family_revokes_the_client_and_its_sessions_on_reuse_outside_the_grace() {
        let settings = with_reuse(ReusePolicy::RevokeFamily, ReuseGrace::WindowMs(10_000));
        let (mut server, old, sid) = signed_in(settings);
        let next = rotate_at(&mut server, old, 1_000);

        // Inside the grace nothing happens.
        let inside = server.handle(
            Some(old),
            &FapiRequest::Tokens { sid, carried: None, force_origin: false, template: None },
            VTime(5_000),
        );
        assert_eq!(inside.status, 200, "{inside:?}");
        assert_eq!(server.session(sid).unwrap().status, SessionStatus::Active);

        // Outside: the family goes, and not even the current token is honoured.
        let outside = server.handle(
            Some(old),
            &FapiRequest::Tokens { sid, carried: None, force_origin: false, template: None },
            VTime(20_000),
        );
        assert_eq!(outside.status, 401, "{outside:?}");
        assert_eq!(server.session(sid).unwrap().status, SessionStatus::Revoked);
        assert_eq!(server.resolve_client(Some(next)), None);
        assert!(server.orphaned_sessions(None).is_empty(), "revoked sessions are not orphaned");
        let fresh = server.handle(Some(next), &FapiRequest::GetClient, VTime(21_000));
        let view = fresh.client.unwrap();
        assert_ne!(view.id, old.client);
        assert!(view.sessions.is_empty());

        // With a grace in rotations: one past the count revokes too.
        let settings = with_reuse(ReusePolicy::RevokeFamily, ReuseGrace::Versions(2));
        let (mut server, old, sid) = signed_in(settings);
        let mut latest = old;
        for t in 0..2 {
            latest = rotate_at(&mut server, latest, 100 + t);
        }
        assert_eq!(server.resolve_client(Some(old)), Some(old.client));
        latest = rotate_at(&mut server, latest, 200);
        assert_eq!(server.resolve_client(Some(old)), None);
        assert_eq!(server.session(sid).unwrap().status, SessionStatus::Active);
        server.handle(Some(old), &FapiRequest::Environment, VTime(300));
        assert_eq!(server.session(sid).unwrap().status, SessionStatus::Revoked);
        assert_eq!(server.resolve_client(Some(latest)), None);
    }

    #[test]
    fn reuse_detection_ignores_tokens_from_before_a_sign_out() {
        // An older epoch is the anti-fixation rule, not reuse: nothing is revoked.
        let settings = with_reuse(ReusePolicy::RevokeFamily, ReuseGrace::Versions(0));
        let (mut server, before, _) = signed_in(settings);
        let after = server.handle(Some(before), &FapiRequest::RemoveSessions, VTime(30));
        let after = after.client_token.unwrap();
        server.handle(Some(before), &FapiRequest::GetClient, VTime(40));
        assert!(!server.client(before.client).unwrap().revoked);
        assert_eq!(server.resolve_client(Some(after)), Some(before.client));
    }
}
