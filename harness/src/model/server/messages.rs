//! What the server is asked and what it answers, as data: `FapiRequest`, `FapiReply` (status,
//! body, rotated client token, piggybacked client), the client and environment views, and the
//! replies a scripted fault stands for. The emulator (`fapi/`) turns these into HTTP.

use serde::{Deserialize, Serialize};

use crate::model::time::VTime;
use crate::model::vocab::{
    ClientId, Endpoint, FaultKind, SessionId, SessionStatus, TaskKey, TemplateName, TokenInfo,
    TokenKey, UserId,
};

use super::client_token::ClientToken;

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
    /// `template`: `/tokens/{template}`, a token of that JWT template (its body is empty).
    Tokens {
        sid: SessionId,
        carried: Option<TokenInfo>,
        force_origin: bool,
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

    /// The cache key a token request fetches for, if it is one.
    pub fn token_key(&self) -> Option<TokenKey> {
        match self {
            FapiRequest::Tokens { sid, template, .. } => {
                Some(TokenKey { sid: *sid, template: *template })
            }
            _ => None,
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

    pub(super) fn error(
        status: u16,
        code: &'static str,
        message: &'static str,
        long: String,
    ) -> FapiReply {
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

pub(super) fn unauthenticated(long: &str) -> FapiReply {
    FapiReply::error(401, "authentication_invalid", "Unauthenticated", long.to_string())
}
