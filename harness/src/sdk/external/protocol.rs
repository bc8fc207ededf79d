//! The adapter protocol's messages (docs/adapter-protocol.md, version 1) as serde types: the
//! hello line, the requests the harness writes, the replies and happenings an adapter
//! writes back.
//!
//! Parsing is tolerant of extra fields (an adapter may report more than version 1 asks) and
//! strict about the fields version 1 names: a missing or mistyped one is a `garbled` reply.

use serde::{Deserialize, Serialize};

use crate::model::settings::{Setup, TokenCacheKind};
use crate::model::vocab::{
    AppState, AuthView, CallKind, Network, Route, SessionId, SessionStatus, SessionView,
    SignOutCause, TaskKey,
};

/// The protocol version this harness speaks.
pub const PROTOCOL: u64 = 1;

/// What the hello line must say in its `hello` field.
pub const HELLO: &str = "session-harness-adapter";

/// Longest line an adapter may write: 1 MiB, newline excluded.
pub const LINE_BYTES_MAX: usize = 1 << 20;

/// The adapter's first line.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Hello {
    pub hello: String,
    pub protocol: u64,
    #[serde(default)]
    pub sdk: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub entry: Option<String>,
    /// The lockstep fidelity the SDK declares it is held to (one of [`FIDELITIES`]);
    /// absent: `observable`.
    #[serde(default)]
    pub fidelity: Option<String>,
}

/// The fidelities a hello may declare, loosest first (`runner::lockstep::Fidelity`).
pub const FIDELITIES: [&str; 3] = ["observable", "requests", "exact"];

/// The SDK configuration `start` carries (§3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StartSettings {
    pub token_cache: &'static str,
    pub resource_cache: bool,
    pub treat_pending_as_signed_out: bool,
    pub fapi_latency_ms: u64,
    pub backend_latency_ms: u64,
}

impl StartSettings {
    pub fn of(setup: &Setup) -> StartSettings {
        StartSettings {
            token_cache: match setup.sdk.token_cache {
                TokenCacheKind::SecureStore => "secure_store",
                TokenCacheKind::Memory => "memory",
            },
            resource_cache: setup.sdk.resource_cache,
            treat_pending_as_signed_out: setup.sdk.treat_pending_as_signed_out,
            fapi_latency_ms: setup.net.fapi_latency_ms,
            backend_latency_ms: setup.net.backend_latency_ms,
        }
    }
}

/// A reply, before its shape is checked against the request.
#[derive(Clone, Debug, Deserialize)]
pub struct Reply {
    pub id: u64,
    pub ok: bool,
    #[serde(default)]
    pub obs: Option<AdapterObs>,
    #[serde(default)]
    pub next_call: Option<u32>,
    #[serde(default)]
    pub error: Option<AdapterError>,
}

/// `{"kind": "unsupported" | "bad_request" | "internal", "message": "…"}`
#[derive(Clone, Debug, Deserialize)]
pub struct AdapterError {
    pub kind: String,
    #[serde(default)]
    pub message: String,
}

/// The observation of a reply (§6).
#[derive(Clone, Debug, Deserialize)]
pub struct AdapterObs {
    pub now_ms: u64,
    pub view: AdapterView,
    pub open_calls: u32,
    pub in_flight: u32,
    #[serde(default)]
    pub happenings: Vec<AdapterHappening>,
}

/// A session id as an adapter writes it: the FAPI's `"sess_1"`, or a bare number.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum IdText {
    Number(u32),
    Text(String),
}

impl IdText {
    pub fn session(&self) -> Option<SessionId> {
        match self {
            IdText::Number(n) => Some(SessionId(*n)),
            IdText::Text(t) => SessionId::parse(t),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct AdapterSession {
    pub id: IdText,
    pub status: SessionStatus,
    #[serde(default)]
    pub task: Option<TaskKey>,
}

/// `AuthView` as an adapter writes it (§7): the route in the harness's form, the session id
/// as the FAPI names it.
#[derive(Clone, Debug, Deserialize)]
pub struct AdapterView {
    pub route: Route,
    pub is_loaded: bool,
    #[serde(default)]
    pub is_signed_in: Option<bool>,
    #[serde(default)]
    pub session: Option<AdapterSession>,
}

impl AdapterView {
    /// The harness's view; `Err` names a session id that is not `sess_<n>`.
    pub fn to_view(&self) -> Result<AuthView, String> {
        let session = match &self.session {
            None => None,
            Some(s) => Some(SessionView {
                id: s.id.session().ok_or_else(|| {
                    format!("session id {:?} is not `sess_<n>` (the FAPI's ids)", s.id)
                })?,
                status: s.status,
                task: s.task,
            }),
        };
        Ok(AuthView {
            route: self.route.clone(),
            is_loaded: self.is_loaded,
            is_signed_in: self.is_signed_in,
            session,
        })
    }
}

/// How a call ended, as an adapter reports it: tokens as the JWT the SDK returned.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum AdapterResult {
    Token { jwt: String },
    Null,
    Ok,
    Error { status: u16, code: String },
}

/// One happening as an adapter reports it (§6's table).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case", tag = "what")]
pub enum AdapterHappening {
    Rendered {
        at: u64,
        view: AdapterView,
    },
    CallStarted {
        at: u64,
        call: u32,
        kind: CallKind,
    },
    CallSettled {
        at: u64,
        call: u32,
        kind: CallKind,
        result: AdapterResult,
    },
    RequestSent {
        at: u64,
        req: u32,
        method: String,
        url: String,
        #[serde(default)]
        call: Option<u32>,
    },
    RequestDone {
        at: u64,
        req: u32,
        #[serde(default)]
        status: Option<u16>,
        #[serde(default)]
        network_error: bool,
    },
    BackendHit {
        at: u64,
        call: u32,
        attempt: u8,
        sent_at: u64,
        #[serde(default)]
        jwt: Option<String>,
        status: u16,
    },
    RetryScheduled {
        at: u64,
        call: u32,
        delay_ms: u64,
        #[serde(default)]
        retry_after_ms: Option<u64>,
    },
    StorageWritten {
        at: u64,
        key: String,
        value: String,
    },
    StorageRead {
        at: u64,
        key: String,
    },
    StorageDeleted {
        at: u64,
        key: String,
    },
    SignedOut {
        at: u64,
        cause: SignOutCause,
        #[serde(default)]
        server_revoke: bool,
    },
}

/// The `app_state` and `network` words of `start`.
pub fn app_state_word(state: AppState) -> &'static str {
    match state {
        AppState::Active => "active",
        AppState::Inactive => "inactive",
        AppState::Background => "background",
    }
}

pub fn network_word(network: Network) -> &'static str {
    match network {
        Network::Online => "online",
        Network::Offline => "offline",
    }
}

/// A line cut to 200 characters for an error message (on a character boundary).
pub fn quote(line: &str) -> String {
    const SHOWN: usize = 200;
    let mut cut: String = line.chars().take(SHOWN).collect();
    if line.chars().count() > SHOWN {
        cut.push('…');
    }
    format!("`{cut}`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_parses_with_fapi_session_ids_and_numbers() {
        let text = r#"{"route":{"screen":"protected","path":"/home"},"is_loaded":true,
            "is_signed_in":true,"session":{"id":"sess_3","status":"active"}}"#;
        let view: AdapterView = serde_json::from_str(text).expect("the §6 example parses");
        let view = view.to_view().expect("sess_3 is a session id");
        assert_eq!(view.session.map(|s| s.id), Some(SessionId(3)));
        let bare: AdapterView = serde_json::from_str(
            r#"{"route":{"screen":"task","key":"setup-mfa"},"is_loaded":true,
                "session":{"id":4,"status":"pending","task":"setup-mfa"}}"#,
        )
        .expect("a bare number parses");
        assert_eq!(bare.to_view().expect("valid").route, Route::Task { key: TaskKey::SetupMfa });
        let bad: AdapterView = serde_json::from_str(
            r#"{"route":{"screen":"loading"},"is_loaded":false,"session":{"id":"s1","status":"active"}}"#,
        )
        .expect("the shape parses");
        assert!(bad.to_view().unwrap_err().contains("s1"));
    }

    #[test]
    fn quotes_are_cut_at_200_characters() {
        let long = "é".repeat(500);
        let quoted = quote(&long);
        assert_eq!(quoted.chars().count(), 200 + 3);
        assert_eq!(quote("short"), "`short`");
    }
}
