//! Sessions on the server: sign-in, session creation, token minting and its refusals, the
//! actions a client takes on a session (touch, end, remove, tasks), and the server-side events
//! (revoke, expire, abandon, replace).

use crate::model::time::VTime;
use crate::model::vocab::{
    ClientId, SessionId, SessionStatus, TaskKey, TemplateName, TokenInfo, UserId,
};

use super::messages::{FapiReply, ReplyBody, unauthenticated};
use super::{Server, Session, TOKEN_NBF_SKEW_S, TokenRejection};

pub(super) fn set_status(s: &mut Session, status: SessionStatus, at: VTime) {
    if s.status != status {
        s.status = status;
        s.status_at = at;
    }
}

impl Server {
    pub(super) fn issue_token(&mut self, sid: SessionId, now: VTime) -> TokenInfo {
        let ttl_s = self.settings.session_token_ttl_ms.div_ceil(1000);
        let token = self.new_token(sid, None, ttl_s, now);
        let s = self.session_mut(sid).expect("tokens are only issued for existing sessions");
        s.last_token = Some(token);
        token
    }

    /// A token of `sid` valid for `ttl_s` from now, the next in the server's freshness order.
    /// Minting counts as activity (the inactivity timeout runs from the last token or touch),
    /// a template token's too: it is the session being used.
    fn new_token(
        &mut self,
        sid: SessionId,
        template: Option<TemplateName>,
        ttl_s: u64,
        now: VTime,
    ) -> TokenInfo {
        self.token_serial += 1;
        let serial = self.token_serial;
        let s = self.session_mut(sid).expect("tokens are only issued for existing sessions");
        let iat = now.unix_s();
        s.last_active_at = now;
        TokenInfo {
            sid,
            sub: s.user,
            iat,
            nbf: iat.saturating_sub(TOKEN_NBF_SKEW_S),
            exp: iat.saturating_add(ttl_s),
            pending: s.status == SessionStatus::Pending,
            serial,
            template,
        }
    }

    /// A token of the instance's template `name`: its own lifetime; not the session's
    /// `last_active_token` (clerk-js's `#dispatchTokenEvents` skips template tokens too).
    pub(super) fn issue_template_token(
        &mut self,
        sid: SessionId,
        name: TemplateName,
        now: VTime,
    ) -> Option<TokenInfo> {
        let ttl_s = self.settings.templates.get(name)?.lifetime_s();
        Some(self.new_token(sid, Some(name), ttl_s, now))
    }

    pub(super) fn sign_in(
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

    pub(super) fn create_session(
        &mut self,
        client: ClientId,
        user: UserId,
        task: Option<TaskKey>,
        now: VTime,
    ) -> SessionId {
        let id = SessionId(self.sessions_before + self.sessions.len() as u32 + 1);
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

    pub(super) fn is_signed_in(&self, sid: SessionId) -> bool {
        self.session(sid).is_some_and(|s| s.status.is_signed_in())
    }

    pub(super) fn mint(
        &mut self,
        client: ClientId,
        request: (SessionId, Option<TemplateName>),
        carried: Option<TokenInfo>,
        force_origin: bool,
        now: VTime,
    ) -> FapiReply {
        let (sid, template) = request;
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
        let token = match template {
            // An unknown template is a missing resource: 404 `resource_not_found`, as Clerk
            // answers for any resource it cannot find. clerk-js does not retry a 4xx other than
            // 429 and the session lives on.
            Some(name) => match self.issue_template_token(sid, name, now) {
                Some(token) => token,
                None => {
                    return FapiReply::error(
                        404,
                        "resource_not_found",
                        "JWT template not found",
                        format!("no JWT template named `{name}` on this instance"),
                    );
                }
            },
            None => {
                if self.settings.session_minter
                    && !force_origin
                    && carried.is_some_and(|t| t.is_expired_at(now))
                {
                    return unauthenticated("the session minter refuses an expired origin token");
                }
                self.issue_token(sid, now)
            }
        };
        FapiReply {
            status: 200,
            body: ReplyBody::Token(token),
            client: None,
            client_token: None,
            retry_after_ms: None,
        }
    }

    pub(super) fn session_action(
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
        if token.template.is_some() {
            return Err(TokenRejection::NotASessionToken);
        }
        if token.is_expired_at(now) {
            return Err(TokenRejection::Expired);
        }
        if now.unix_ms() < token.nbf.saturating_mul(1000) {
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
