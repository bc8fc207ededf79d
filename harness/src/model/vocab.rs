//! The shared vocabulary: ids, statuses, events, routes, and what a world shows.
//!
//! These types are spoken by the model, every SDK under test, the FAPI emulator, the runner
//! and the scenario files. They carry no rules: a reference SDK may use them freely without
//! borrowing the model's behaviour (DESIGN.md §4, "the reference SDK is independent").

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::time::VTime;

macro_rules! id_type {
    ($name:ident, $prefix:literal) => {
        #[doc = concat!("An id rendered as `", $prefix, "<n>`.")]
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub u32);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }

        impl $name {
            /// Parses the rendered form back (`sess_3` → 3).
            pub fn parse(text: &str) -> Option<Self> {
                text.strip_prefix($prefix)?.parse().ok().map(Self)
            }
        }
    };
}

id_type!(SessionId, "sess_");
id_type!(ClientId, "client_");
id_type!(UserId, "user_");
id_type!(CallId, "call_");
id_type!(RequestId, "req_");

/// The eight session statuses (reference §2.1). Only `active` and `pending` count as signed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Active,
    Pending,
    Ended,
    Expired,
    Removed,
    Abandoned,
    Replaced,
    Revoked,
}

impl SessionStatus {
    pub const ALL: [SessionStatus; 8] = [
        SessionStatus::Active,
        SessionStatus::Pending,
        SessionStatus::Ended,
        SessionStatus::Expired,
        SessionStatus::Removed,
        SessionStatus::Abandoned,
        SessionStatus::Replaced,
        SessionStatus::Revoked,
    ];

    /// `active` or `pending`: the statuses clerk-js puts in `signedInSessions`.
    pub fn is_signed_in(self) -> bool {
        matches!(self, SessionStatus::Active | SessionStatus::Pending)
    }

    /// Every status a session never leaves.
    pub fn is_terminal(self) -> bool {
        !self.is_signed_in()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Active => "active",
            SessionStatus::Pending => "pending",
            SessionStatus::Ended => "ended",
            SessionStatus::Expired => "expired",
            SessionStatus::Removed => "removed",
            SessionStatus::Abandoned => "abandoned",
            SessionStatus::Replaced => "replaced",
            SessionStatus::Revoked => "revoked",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A session task that keeps a session `pending` (reference §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskKey {
    ChooseOrganization,
    ResetPassword,
    SetupMfa,
}

impl TaskKey {
    pub const ALL: [TaskKey; 3] =
        [TaskKey::ChooseOrganization, TaskKey::ResetPassword, TaskKey::SetupMfa];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskKey::ChooseOrganization => "choose-organization",
            TaskKey::ResetPassword => "reset-password",
            TaskKey::SetupMfa => "setup-mfa",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Ios,
    Android,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Ios => "ios",
            Platform::Android => "android",
        }
    }
}

/// React Native's `AppState`; `inactive` exists on iOS only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppState {
    Active,
    Inactive,
    Background,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    Online,
    Offline,
}

/// An app path such as `/checkout`. Cheap to clone: routes are rebuilt on every render.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AppPath(pub Arc<str>);

impl AppPath {
    pub fn new(path: &str) -> Self {
        AppPath(Arc::from(path))
    }

    /// Where the app lands after sign-in when there is nowhere to return to.
    pub fn home() -> Self {
        AppPath::new("/home")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AppPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the app shell renders (the article's route guard).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "screen")]
pub enum Route {
    /// The process is not running: nothing is on screen.
    Closed,
    /// Waiting for `isLoaded`.
    Loading,
    SignIn {
        return_to: Option<AppPath>,
    },
    Protected {
        path: AppPath,
    },
    Task {
        key: TaskKey,
    },
}

impl Route {
    pub fn kind(&self) -> &'static str {
        match self {
            Route::Closed => "closed",
            Route::Loading => "loading",
            Route::SignIn { .. } => "sign_in",
            Route::Protected { .. } => "protected",
            Route::Task { .. } => "task",
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Route::SignIn { return_to: Some(p) } => write!(f, "sign_in(return_to={p})"),
            Route::Protected { path } => write!(f, "protected({path})"),
            Route::Task { key } => write!(f, "task({})", key.as_str()),
            other => f.write_str(other.kind()),
        }
    }
}

/// A FAPI endpoint, as the request log and fault targeting name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `GET /v1/environment`
    Environment,
    /// `GET /v1/client`
    GetClient,
    /// `PUT /v1/client`
    CreateClient,
    /// `POST /v1/client/sign_ins`
    SignIn,
    /// `POST /v1/client/sessions/{id}/tokens[/{template}]`
    Tokens,
    /// `POST /v1/client/sessions/{id}/touch`
    Touch,
    /// `POST /v1/client/sessions/{id}/end`
    End,
    /// `POST /v1/client/sessions/{id}/remove`
    Remove,
    /// `POST /v1/client/sessions?_method=DELETE`
    RemoveSessions,
    /// `POST /v1/client/sessions/{id}/tasks/{key}/resolve`
    ResolveTask,
}

impl Endpoint {
    pub const ALL: [Endpoint; 10] = [
        Endpoint::Environment,
        Endpoint::GetClient,
        Endpoint::CreateClient,
        Endpoint::SignIn,
        Endpoint::Tokens,
        Endpoint::Touch,
        Endpoint::End,
        Endpoint::Remove,
        Endpoint::RemoveSessions,
        Endpoint::ResolveTask,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Environment => "environment",
            Endpoint::GetClient => "get_client",
            Endpoint::CreateClient => "create_client",
            Endpoint::SignIn => "sign_in",
            Endpoint::Tokens => "tokens",
            Endpoint::Touch => "touch",
            Endpoint::End => "end",
            Endpoint::Remove => "remove",
            Endpoint::RemoveSessions => "remove_sessions",
            Endpoint::ResolveTask => "resolve_task",
        }
    }

    /// GETs are the only requests clerk-js's transport retries on a network error.
    pub fn is_get(self) -> bool {
        matches!(self, Endpoint::Environment | Endpoint::GetClient)
    }
}

/// A scripted server fault (DESIGN.md §7.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FaultKind {
    /// Answer with this 5xx status without touching server state.
    ServerError { status: u16 },
    /// 429 with a `Retry-After` header (whole seconds on the wire, rounded up).
    RateLimited { retry_after_ms: u64 },
    /// 401 `authentication_invalid` without touching server state. Never applied to
    /// `GET /v1/client` (reference §1.4: clerk-js would recurse).
    Unauthorized,
    /// 422 `missing_expired_token` (token requests only; others pass through).
    MissingExpiredToken,
    /// The connection drops before the server sees the request.
    DropBeforeCommit,
    /// The server applies the request, then the connection drops before the reply.
    DropAfterCommit,
    /// The request takes this long end to end.
    Latency { ms: u64 },
}

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::ServerError { .. } => "server_error",
            FaultKind::RateLimited { .. } => "rate_limited",
            FaultKind::Unauthorized => "unauthorized",
            FaultKind::MissingExpiredToken => "missing_expired_token",
            FaultKind::DropBeforeCommit => "drop_before_commit",
            FaultKind::DropAfterCommit => "drop_after_commit",
            FaultKind::Latency { .. } => "latency",
        }
    }
}

/// A fault for the next `count` FAPI requests (optionally only those to one endpoint).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FaultSpec {
    pub kind: FaultKind,
    pub count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<Endpoint>,
}

/// One input to the world (DESIGN.md §5). Events that start work (`get_token`, `api_call`,
/// `sign_in`, …) return at once; the work settles later, so several calls issued at the same
/// instant are in flight together.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum Event {
    /// Let virtual time pass; timers and responses fire in order.
    Advance {
        ms: u64,
    },
    /// Launch the app process (after `kill`, or the first launch).
    ColdStart,
    /// Force-quit: the process and everything in memory die; storage survives.
    Kill,
    /// Reload the JS runtime only (Metro reload, OTA update); the native layer stays.
    JsReload,
    /// Uninstall and reinstall: iOS keeps keychain items, Android clears them.
    Reinstall,
    AppState {
        state: AppState,
    },
    Network {
        state: Network,
    },
    /// Sign in with the test user's password; with `task`, the session starts `pending`.
    SignIn {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task: Option<TaskKey>,
    },
    /// Complete the current session's first task.
    CompleteTask,
    /// `useAuth().getToken({ skipCache })`.
    GetToken {
        #[serde(default)]
        skip_cache: bool,
    },
    /// A call to the app's protected API through the app's wrapper.
    ApiCall {
        path: AppPath,
    },
    /// The user navigates to a path.
    Navigate {
        path: AppPath,
    },
    /// `session.end()`
    SessionEnd,
    /// `session.remove()`
    SessionRemove,
    /// `clerk.signOut()`
    SignOut,
    /// `setActive` to another signed-in session of the client (multi-session), or re-select
    /// the current one.
    SetActive,
    /// Server side: the backend revokes the current session.
    Revoke,
    /// Server side: the current session reaches its maximum lifetime now.
    ExpireNow,
    /// Server side: the current session is abandoned now (inactivity timeout reached).
    AbandonNow,
    /// Server side: another session of the same user takes over the current one.
    Replace,
    /// Script a fault for upcoming FAPI requests.
    Fault(FaultSpec),
}

impl Event {
    /// The snake_case name used in scenarios, coverage tables and reports.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Advance { .. } => "advance",
            Event::ColdStart => "cold_start",
            Event::Kill => "kill",
            Event::JsReload => "js_reload",
            Event::Reinstall => "reinstall",
            Event::AppState { .. } => "app_state",
            Event::Network { .. } => "network",
            Event::SignIn { .. } => "sign_in",
            Event::CompleteTask => "complete_task",
            Event::GetToken { .. } => "get_token",
            Event::ApiCall { .. } => "api_call",
            Event::Navigate { .. } => "navigate",
            Event::SessionEnd => "session_end",
            Event::SessionRemove => "session_remove",
            Event::SignOut => "sign_out",
            Event::SetActive => "set_active",
            Event::Revoke => "revoke",
            Event::ExpireNow => "expire_now",
            Event::AbandonNow => "abandon_now",
            Event::Replace => "replace",
            Event::Fault(_) => "fault",
        }
    }

    pub const NAMES: [&'static str; 21] = [
        "advance",
        "cold_start",
        "kill",
        "js_reload",
        "reinstall",
        "app_state",
        "network",
        "sign_in",
        "complete_task",
        "get_token",
        "api_call",
        "navigate",
        "session_end",
        "session_remove",
        "sign_out",
        "set_active",
        "revoke",
        "expire_now",
        "abandon_now",
        "replace",
        "fault",
    ];

    /// Events that act on the server only, as a backend or an admin would.
    pub fn is_server_side(&self) -> bool {
        matches!(
            self,
            Event::Revoke | Event::ExpireNow | Event::AbandonNow | Event::Replace | Event::Fault(_)
        )
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Advance { ms } => write!(f, "advance {}", super::time::format_duration(*ms)),
            Event::AppState { state } => write!(f, "app_state {state:?}"),
            Event::Network { state } => write!(f, "network {state:?}"),
            Event::SignIn { task: Some(t) } => write!(f, "sign_in (task {})", t.as_str()),
            Event::GetToken { skip_cache: true } => f.write_str("get_token skip_cache"),
            Event::ApiCall { path } => write!(f, "api_call {path}"),
            Event::Navigate { path } => write!(f, "navigate {path}"),
            Event::Fault(spec) => {
                write!(f, "fault {} x{}", spec.kind.name(), spec.count)?;
                if let Some(on) = spec.on {
                    write!(f, " on {}", on.as_str())?;
                }
                Ok(())
            }
            other => f.write_str(other.name()),
        }
    }
}

/// The claims of a session JWT that matter to behaviour; the wire form is a signed RS256 JWT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TokenInfo {
    pub sid: SessionId,
    pub sub: UserId,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Not before, Unix seconds (Clerk sets `iat − 10`, against clock skew).
    pub nbf: u64,
    /// Expiry, Unix seconds.
    pub exp: u64,
    /// `sts`: `active` or `pending`.
    pub pending: bool,
    /// Monotonic per server: the `oiat`-style freshness order of tokens.
    pub serial: u64,
}

impl TokenInfo {
    /// Whether the token's `exp` has passed at `now` (a token is dead at `exp` exactly).
    pub fn is_expired_at(&self, now: VTime) -> bool {
        now.unix_ms() >= self.exp * 1000
    }

    /// Milliseconds until `exp` at `now` (negative once expired).
    pub fn remaining_ms(&self, now: VTime) -> i64 {
        (self.exp * 1000) as i64 - now.unix_ms() as i64
    }
}

/// A session as an SDK shows it: the id and the status it believes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SessionView {
    pub id: SessionId,
    pub status: SessionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskKey>,
}

/// The auth state an app renders from (`useAuth`, `useSession`, and the route on screen).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AuthView {
    pub route: Route,
    pub is_loaded: bool,
    /// `None` is `undefined`: loading, or a transitive state during sign-out / setActive.
    pub is_signed_in: Option<bool>,
    pub session: Option<SessionView>,
}

impl AuthView {
    pub fn closed() -> Self {
        AuthView { route: Route::Closed, is_loaded: false, is_signed_in: None, session: None }
    }
}

/// The kinds of work that are started by an event and settle later.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallKind {
    /// `clerk.load()` after a cold start or JS reload.
    Load,
    GetToken,
    ApiCall,
    SignIn,
    SignOut,
    SessionEnd,
    SessionRemove,
    CompleteTask,
    SetActive,
    /// The app shell's `getToken({ skipCache: true })` on return to the foreground.
    ForegroundRefresh,
}

/// How a call ended.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum CallResult {
    /// A session token (getToken, foreground refresh).
    Token { token: TokenInfo },
    /// `getToken` returned `null`: signed out.
    Null,
    /// The call succeeded (load, sign-in, sign-out, API 200, …).
    Ok,
    /// A Clerk-style error: HTTP status (0 for a network error) and code.
    Error { status: u16, code: String },
    /// The process or JS runtime died with the call in flight.
    Killed,
}

/// What became of one FAPI request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum RequestOutcome {
    /// An HTTP answer. `code` names the error, if any, in the request log's code table.
    Answered {
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    /// A network error: offline, or the connection dropped.
    NetworkError {
        /// Whether the server applied the request before the connection dropped.
        committed: bool,
    },
}

impl RequestOutcome {
    pub fn status(&self) -> Option<u16> {
        match self {
            RequestOutcome::Answered { status, .. } => Some(*status),
            RequestOutcome::NetworkError { .. } => None,
        }
    }
}

/// A key in the device's secure storage, as the SDK uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageKey {
    /// `__clerk_client_jwt`: the rotating client token.
    ClientJwt,
    /// `__clerk_cache_client`: the resource cache's client snapshot.
    CachedClient,
    /// `__clerk_cache_environment`
    CachedEnvironment,
    /// `__clerk_cache_session_jwt`: the resource cache's last session token.
    CachedSessionJwt,
    /// The iOS native layer's `clerkDeviceToken` keychain item.
    NativeDeviceToken,
    /// The iOS native layer's `cachedClient` keychain item.
    NativeCachedClient,
}

impl StorageKey {
    pub fn as_str(self) -> &'static str {
        match self {
            StorageKey::ClientJwt => "__clerk_client_jwt",
            StorageKey::CachedClient => "__clerk_cache_client",
            StorageKey::CachedEnvironment => "__clerk_cache_environment",
            StorageKey::CachedSessionJwt => "__clerk_cache_session_jwt",
            StorageKey::NativeDeviceToken => "clerkDeviceToken",
            StorageKey::NativeCachedClient => "cachedClient",
        }
    }
}

/// Why an SDK dropped its signed-in state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignOutCause {
    /// The user asked: sign_out, session_end, session_remove.
    User,
    /// A client payload no longer holds a signed-in session for us.
    ClientPayload,
    /// A 401 handled as sign-out.
    Unauthorized,
    /// Local state was wiped (defects, reinstall on Android).
    LocalWipe,
}

/// Which timer fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    TokenRefresh,
    TokenEvict,
    Retry,
    LoadRetry,
    NativePoll,
}

/// A timestamped thing that happened inside one step. The invariants read these.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "what")]
pub enum Happening {
    /// The rendered auth state changed (route, isLoaded, isSignedIn or session).
    Rendered {
        at: VTime,
        view: AuthView,
    },
    CallStarted {
        at: VTime,
        call: CallId,
        kind: CallKind,
    },
    CallSettled {
        at: VTime,
        call: CallId,
        kind: CallKind,
        result: CallResult,
    },
    /// A FAPI request left the device. `call` is the call it serves, if any (a background
    /// refresh has none). `token` is the session token it carries, if any.
    RequestSent {
        at: VTime,
        req: RequestId,
        endpoint: Endpoint,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sid: Option<SessionId>,
    },
    /// A FAPI request's outcome reached the device (or the server, for a dropped reply).
    RequestDone {
        at: VTime,
        req: RequestId,
        endpoint: Endpoint,
        outcome: RequestOutcome,
        /// The fault that shaped this outcome, if one was injected.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fault: Option<FaultKind>,
    },
    /// A request to the app's backend: the token it carried and the answer.
    BackendHit {
        at: VTime,
        /// When the app sent it: the token's freshness is judged here.
        sent_at: VTime,
        call: CallId,
        attempt: u8,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<TokenInfo>,
        status: u16,
    },
    /// A wait before retrying a call, and the 429 `Retry-After` it answered, if any.
    RetryScheduled {
        at: VTime,
        call: CallId,
        delay_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    /// A value written to secure storage: `digest` of what the SDK asked to store, and of
    /// what the store holds now (they differ when the store truncated it).
    StorageWritten {
        at: VTime,
        key: StorageKey,
        len: u32,
        digest: u64,
        stored_digest: u64,
        /// Whether the value can restore a signed-in session.
        credential: bool,
    },
    StorageRead {
        at: VTime,
        key: StorageKey,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        digest: Option<u64>,
    },
    StorageDeleted {
        at: VTime,
        key: StorageKey,
    },
    /// The SDK dropped its signed-in state, and whether it also revoked server-side.
    SignedOut {
        at: VTime,
        cause: SignOutCause,
        server_revoke: bool,
    },
    TimerFired {
        at: VTime,
        timer: TimerKind,
        due: VTime,
    },
}

impl Happening {
    pub fn at(&self) -> VTime {
        match self {
            Happening::Rendered { at, .. }
            | Happening::CallStarted { at, .. }
            | Happening::CallSettled { at, .. }
            | Happening::RequestSent { at, .. }
            | Happening::RequestDone { at, .. }
            | Happening::BackendHit { at, .. }
            | Happening::RetryScheduled { at, .. }
            | Happening::StorageWritten { at, .. }
            | Happening::StorageRead { at, .. }
            | Happening::StorageDeleted { at, .. }
            | Happening::SignedOut { at, .. }
            | Happening::TimerFired { at, .. } => *at,
        }
    }
}

/// The device as the environment shows it (not the SDK's belief).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DeviceView {
    pub running: bool,
    pub app_state: AppState,
    pub network: Network,
}

/// The server's truth about the session the device's client is on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ServerView {
    /// The most recent session of the device's client, with its true status.
    pub session: Option<(SessionId, SessionStatus)>,
    /// Whether the persisted client token (if any) would restore a signed-in session now.
    pub persisted_credential_valid: bool,
    /// Every session the server knows, with its true status, by id.
    pub sessions: Vec<(SessionId, SessionStatus)>,
}

impl ServerView {
    pub fn status_of(&self, id: SessionId) -> Option<SessionStatus> {
        self.sessions.iter().find(|(s, _)| *s == id).map(|(_, status)| *status)
    }
}

/// A named, switchable bug in the reference SDK (DESIGN.md §6.2), kept to prove the harness
/// catches it. Off by default; scenarios and `--sdk reference+DEFECT` switch them on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Defect {
    /// iOS native `configure()` resolves before the native session loads; a JS/native token
    /// mismatch wipes the native cached client; the JS bootstrap gives up polling after 3 s
    /// and the user lands on sign-in. Source: the seed bug report (clerk/javascript #8441).
    IosNativeCacheWipe,
    /// The native session sync signs out when `isSignedIn` is still undefined during loading,
    /// so a JS reload revokes the session. Source: clerk/javascript PR #8469.
    SignoutWhileLoading,
    /// A background refresh timer that fires hours late sends a stale token; the 401 signs
    /// the user out of a valid session. Source: clerk/javascript PR #8303.
    StaleTimerLogout,
    /// Concurrent `getToken` callers each start their own refresh. Source: the article.
    NoSingleFlight,
    /// The route guard checks `isSignedIn` before `isLoaded`. Source: the article.
    RedirectBeforeLoaded,
    /// The guard sends a pending session to sign-in instead of its task. Source: the article.
    PendingToSignIn,
    /// The terminal-status list forgets `revoked`. Source: the article.
    RevokedIgnored,
    /// The API wrapper retries 401s without a retry flag, or leaves queued calls hanging.
    /// Source: the article's Axios interceptor.
    #[serde(rename = "retry-401-loop")]
    Retry401Loop,
    /// No token cache: every cold start signs the user out. Source: the article.
    MemoryOnlyTokens,
    /// Values over 2048 bytes are cut instead of chunked on iOS. Source: the article,
    /// expo-secure-store.
    SecurestoreTruncation,
    /// Core 2 behaviour: `getToken` returns null offline and the app treats it as sign-out.
    /// Source: the article.
    NullOfflineLogout,
    /// No refresh on return to foreground; a stale token reaches the backend. Source: the
    /// article.
    NoForegroundRefresh,
    /// A foreground refresh with an already-rotated client token gets a new empty client and
    /// stores it. Source: clerk/javascript #9217.
    EmptyClientClobber,
}

impl Defect {
    pub const ALL: [Defect; 13] = [
        Defect::IosNativeCacheWipe,
        Defect::SignoutWhileLoading,
        Defect::StaleTimerLogout,
        Defect::NoSingleFlight,
        Defect::RedirectBeforeLoaded,
        Defect::PendingToSignIn,
        Defect::RevokedIgnored,
        Defect::Retry401Loop,
        Defect::MemoryOnlyTokens,
        Defect::SecurestoreTruncation,
        Defect::NullOfflineLogout,
        Defect::NoForegroundRefresh,
        Defect::EmptyClientClobber,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Defect::IosNativeCacheWipe => "ios-native-cache-wipe",
            Defect::SignoutWhileLoading => "signout-while-loading",
            Defect::StaleTimerLogout => "stale-timer-logout",
            Defect::NoSingleFlight => "no-single-flight",
            Defect::RedirectBeforeLoaded => "redirect-before-loaded",
            Defect::PendingToSignIn => "pending-to-sign-in",
            Defect::RevokedIgnored => "revoked-ignored",
            Defect::Retry401Loop => "retry-401-loop",
            Defect::MemoryOnlyTokens => "memory-only-tokens",
            Defect::SecurestoreTruncation => "securestore-truncation",
            Defect::NullOfflineLogout => "null-offline-logout",
            Defect::NoForegroundRefresh => "no-foreground-refresh",
            Defect::EmptyClientClobber => "empty-client-clobber",
        }
    }

    pub fn parse(text: &str) -> Option<Defect> {
        Self::ALL.into_iter().find(|d| d.as_str() == text)
    }
}

#[cfg(test)]
mod defect_tests {
    use super::Defect;

    #[test]
    fn serde_names_are_the_catalogue_names() {
        for d in Defect::ALL {
            let json = serde_json::to_string(&d).expect("defects serialise");
            assert_eq!(json, format!("\"{}\"", d.as_str()));
            assert_eq!(serde_json::from_str::<Defect>(&json).expect("and parse back"), d);
        }
    }
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
