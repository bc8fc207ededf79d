//! What a world records during a step: calls and their results, requests and their outcomes,
//! storage operations, sign-outs with their cause, timers, as timestamped happenings.

use serde::{Deserialize, Serialize};

use super::{
    AuthView, CallId, ClientTokenTag, Endpoint, FaultKind, RequestId, SessionId, StorageOp,
    TemplateName, TokenInfo,
};
use crate::model::time::VTime;

/// The kinds of work that are started by an event and settle later.
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
    pub const ALL: [StorageKey; 6] = [
        StorageKey::ClientJwt,
        StorageKey::CachedClient,
        StorageKey::CachedEnvironment,
        StorageKey::CachedSessionJwt,
        StorageKey::NativeDeviceToken,
        StorageKey::NativeCachedClient,
    ];

    /// The scenario format's name (`client_jwt`), as serde spells it.
    pub fn name(self) -> &'static str {
        match self {
            StorageKey::ClientJwt => "client_jwt",
            StorageKey::CachedClient => "cached_client",
            StorageKey::CachedEnvironment => "cached_environment",
            StorageKey::CachedSessionJwt => "cached_session_jwt",
            StorageKey::NativeDeviceToken => "native_device_token",
            StorageKey::NativeCachedClient => "native_cached_client",
        }
    }

    /// Items of the native layer (ClerkKit's keychain), not of the JS SDK.
    pub fn is_native(self) -> bool {
        matches!(self, StorageKey::NativeDeviceToken | StorageKey::NativeCachedClient)
    }

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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
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

fn is_ui(instance: &u8) -> bool {
    *instance == 0
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
        /// The SDK instance that made the call (`instances: N`): 0, the UI's, is left out.
        #[serde(default, skip_serializing_if = "is_ui")]
        instance: u8,
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
        /// The JWT template a token request is for (`/tokens/{template}`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        template: Option<TemplateName>,
        /// The SDK instance that sent it (`instances: N`): 0, the UI's, is left out.
        #[serde(default, skip_serializing_if = "is_ui")]
        instance: u8,
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
    /// JS called the `ClerkExpo` native module, and what the call settled with
    /// (`model/native.rs`).
    NativeCalled {
        at: VTime,
        call: super::NativeCallName,
        /// What the call settled with, in the trace's words (`ok`, `sess_2`, `none`,
        /// `client_1 v3`, `E_TIMEOUT`).
        answer: String,
    },
    /// The native SDK's own request to the Frontend API and its HTTP status (0: a network
    /// error). Native requests carry no request id: they are not the JS SDK's.
    NativeRequest {
        at: VTime,
        endpoint: Endpoint,
        status: u16,
    },
    /// The native SDK signed in through its own UI (`<AuthView>`): the session it made, if
    /// the flow could run.
    NativeSignedIn {
        at: VTime,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
    },
    /// The client token a JS SDK request presented as it left the device (read by
    /// `superseded-token-never-presented`; snapshots leave it out).
    ClientTokenPresented {
        at: VTime,
        req: RequestId,
        token: ClientTokenTag,
    },
    /// The rotated client token an answer carried to the JS SDK (its `Authorization` header),
    /// whether the SDK then stored it or not.
    ClientTokenReceived {
        at: VTime,
        req: RequestId,
        token: ClientTokenTag,
    },
    /// A secure-storage operation of the SDK failed (or never settled: `hung`).
    StorageFailed {
        at: VTime,
        op: StorageOp,
        key: StorageKey,
        error: StorageError,
    },
}

/// Why a secure-storage operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageError {
    /// The item's protection class forbids access now (iOS `errSecInteractionNotAllowed`):
    /// transient, it passes with the next unlock.
    Locked,
    /// A scripted rejection: transient.
    Thrown,
    /// The item survives but the key that decrypts it does not: permanent until the item is
    /// deleted or written again.
    Undecryptable,
    /// A read returned bytes that do not parse.
    Garbage,
    /// The operation never settled, and the SDK stopped waiting after its timeout.
    TimedOut,
    /// The operation never settles, and the SDK waits for it.
    Hung,
    /// The value is over the platform's item limit: the write was refused, or the stored
    /// value cannot be read back (`large_values`). Permanent for that value.
    TooLarge,
}

impl StorageError {
    /// A failure that passes by itself (the credential is still there): an SDK must not
    /// treat it as a missing credential.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            StorageError::Locked
                | StorageError::Thrown
                | StorageError::TimedOut
                | StorageError::Hung
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StorageError::Locked => "locked",
            StorageError::Thrown => "thrown",
            StorageError::Undecryptable => "undecryptable",
            StorageError::Garbage => "garbage",
            StorageError::TimedOut => "timed_out",
            StorageError::Hung => "hung",
            StorageError::TooLarge => "too_large",
        }
    }
}

impl Happening {
    pub fn at(&self) -> VTime {
        match self {
            Happening::Rendered { at, .. }
            | Happening::CallStarted { at, .. }
            | Happening::CallSettled { at, .. }
            | Happening::RequestSent { at, .. }
            | Happening::NativeCalled { at, .. }
            | Happening::NativeRequest { at, .. }
            | Happening::NativeSignedIn { at, .. }
            | Happening::ClientTokenPresented { at, .. }
            | Happening::ClientTokenReceived { at, .. }
            | Happening::RequestDone { at, .. }
            | Happening::BackendHit { at, .. }
            | Happening::RetryScheduled { at, .. }
            | Happening::StorageWritten { at, .. }
            | Happening::StorageRead { at, .. }
            | Happening::StorageDeleted { at, .. }
            | Happening::SignedOut { at, .. }
            | Happening::TimerFired { at, .. }
            | Happening::StorageFailed { at, .. } => *at,
        }
    }
}
