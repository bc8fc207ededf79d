//! The shared vocabulary: ids, statuses, events, routes, and what a world shows.
//!
//! These types are spoken by the model, every SDK under test, the FAPI emulator, the runner
//! and the scenario files. They carry no rules: a reference SDK may use them freely without
//! borrowing the model's behaviour (DESIGN.md §4, "the reference SDK is independent").

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::time::VTime;
mod defects;
mod events;
mod happenings;
pub mod native_calls;
mod template;

pub use self::defects::Defect;
pub use self::events::{
    AppStateFaultKind, AppStateFaultSpec, Endpoint, Event, FaultKind, FaultSpec, StorageFaultKind,
    StorageFaultSpec, StorageOp, format_skew,
};
pub use self::happenings::{
    CallKind, CallResult, Happening, RequestOutcome, SignOutCause, StorageError, StorageKey,
    TimerKind,
};
pub use self::native_calls::NativeCallName;
pub use self::template::{
    TEMPLATE_NAME_LEN_MAX, TEMPLATE_NAME_PATTERN, TemplateName, TemplateNameError, TokenKey,
};

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
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
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
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
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
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AppState {
    Active,
    Inactive,
    Background,
}

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    Online,
    Offline,
    /// Connected, but requests hang (a captive portal, a dead proxy, a dead pooled
    /// connection): the SDK's connectivity checks say online; each request sent now waits for
    /// a timeout (the SDK's, or the platform's: iOS 60 s, Android none) and fails as a network
    /// error, or never settles. A request that hung stays hung when the network comes back.
    Hanging,
}

impl AppState {
    /// The scenario format's word: `active`, `inactive`, `background`.
    pub fn as_str(self) -> &'static str {
        match self {
            AppState::Active => "active",
            AppState::Inactive => "inactive",
            AppState::Background => "background",
        }
    }
}

impl Network {
    /// The scenario format's word: `online`, `offline`, `hanging`.
    pub fn as_str(self) -> &'static str {
        match self {
            Network::Online => "online",
            Network::Offline => "offline",
            Network::Hanging => "hanging",
        }
    }
}

/// An app path such as `/checkout`. Cheap to clone: routes are rebuilt on every render.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
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
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
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

/// A rotating client token as a trace names it: its client, epoch and version (the server's
/// `ClientToken` without its MAC). Within one client, a token of a higher epoch, or of the
/// same epoch and a higher version, is its successor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ClientTokenTag {
    pub client: ClientId,
    pub epoch: u32,
    pub version: u32,
}

impl fmt::Display for ClientTokenTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} e{} v{}", self.client, self.epoch, self.version)
    }
}

/// The native layer of `@clerk/expo` (`model/native.rs`) as the environment sees it, in a
/// setup with the native module.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NativeView {
    /// The session the native SDK holds, as `getSession()` would answer now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionId>,
    /// The signed-in session the native keychain's device token (`clerkDeviceToken`) would
    /// restore now (its client's latest signed-in one, if the server honours the token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<SessionId>,
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
    /// The JWT template it was minted from; `None` for the session token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateName>,
}

impl TokenInfo {
    /// The cache key this token belongs under.
    pub fn key(&self) -> TokenKey {
        TokenKey { sid: self.sid, template: self.template }
    }

    /// Whether the token's `exp` has passed at `now` (a token is dead at `exp` exactly).
    pub fn is_expired_at(&self, now: VTime) -> bool {
        // Saturating: `exp` comes from a token, which is input (`2^64-1` once panicked here).
        now.unix_ms() >= self.exp.saturating_mul(1000)
    }

    /// Milliseconds until `exp` when a clock reads `unix_ms` (a device clock may be skewed).
    pub fn remaining_at(&self, unix_ms: u64) -> i64 {
        (self.exp.saturating_mul(1000) as i128 - unix_ms as i128)
            .clamp(i64::MIN as i128, i64::MAX as i128) as i64
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

/// The device's data protection state (iOS): what the keychain lets an app read.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Protection {
    /// Unlocked: every item is readable.
    #[default]
    Unlocked,
    /// Locked after a first unlock: `when_unlocked` items are not readable.
    Locked,
    /// Rebooted and not yet unlocked: no item is readable.
    BeforeFirstUnlock,
}

impl Protection {
    pub fn is_unlocked(&self) -> bool {
        *self == Protection::Unlocked
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protection::Unlocked => "unlocked",
            Protection::Locked => "locked",
            Protection::BeforeFirstUnlock => "before_first_unlock",
        }
    }
}

/// A keychain item's accessibility class (expo-secure-store `keychainAccessible`).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum KeychainAccessible {
    /// `AFTER_FIRST_UNLOCK`: what `@clerk/expo`'s token cache passes (since clerk-expo
    /// 2.12.0, clerk/javascript PR #6025).
    #[default]
    AfterFirstUnlock,
    /// `WHEN_UNLOCKED`: expo-secure-store's default, for an app's own token cache.
    WhenUnlocked,
}

impl KeychainAccessible {
    pub fn as_str(self) -> &'static str {
        match self {
            KeychainAccessible::AfterFirstUnlock => "after_first_unlock",
            KeychainAccessible::WhenUnlocked => "when_unlocked",
        }
    }
}

/// What secure storage does with a value over the platform's item limit (iOS 2048 bytes,
/// Android about 4 KB on some devices).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum LargeValues {
    /// The value is cut to the limit and reads back corrupt (the seed article's iOS
    /// account of the 2048-byte limit).
    Truncate,
    /// The write rejects (expo/expo #2556: `setItemAsync` fails over 4072 characters on some
    /// Android devices).
    Throw,
    /// The write succeeds and every read of the value fails (expo/expo #1765).
    FailOnRead,
    /// Stored whole (expo-secure-store on iOS: only a warning up to 54.x, none since 55.0,
    /// expo/expo PR #40187).
    Store,
}

impl LargeValues {
    pub const ALL: [LargeValues; 4] =
        [LargeValues::Truncate, LargeValues::Throw, LargeValues::FailOnRead, LargeValues::Store];

    pub fn as_str(self) -> &'static str {
        match self {
            LargeValues::Truncate => "truncate",
            LargeValues::Throw => "throw",
            LargeValues::FailOnRead => "fail_on_read",
            LargeValues::Store => "store",
        }
    }

    /// The platform's behaviour when a setup names none: iOS cuts (the article), Android
    /// stores.
    pub fn platform_default(platform: Platform) -> LargeValues {
        match platform {
            Platform::Ios => LargeValues::Truncate,
            Platform::Android => LargeValues::Store,
        }
    }
}

/// The device as the environment shows it (not the SDK's belief).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DeviceView {
    pub running: bool,
    pub app_state: AppState,
    pub network: Network,
    #[serde(default, skip_serializing_if = "Protection::is_unlocked")]
    pub protection: Protection,
    /// Whether the SDK could read its stored credential now: no protection class in the
    /// way, no undecryptable item and no storage fault queued for it.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub storage_readable: bool,
    /// Whether JS runs in the background now (a background wake).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub awake: bool,
    /// The native layer, with the native module (`native: true`); `None` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native: Option<NativeView>,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
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
    /// Signed-in sessions the instance's token-reuse policy put out of the device's reach: the
    /// server refused the client token just before the current one, or no longer honours the
    /// superseded one in storage — what a device holds when answers carrying successors were
    /// lost. Losing them after
    /// such a loss is the server's doing, not the SDK's ([`Server::orphaned_sessions`]).
    ///
    /// [`Server::orphaned_sessions`]: crate::model::server::Server::orphaned_sessions
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orphaned: Vec<SessionId>,
}

impl ServerView {
    pub fn status_of(&self, id: SessionId) -> Option<SessionStatus> {
        self.sessions.iter().find(|(s, _)| *s == id).map(|(_, status)| *status)
    }
}
