//! What can happen to a world: the events of a trace (time, lifecycle, network, user actions,
//! server-side events), the FAPI endpoints that requests and faults name, and the faults.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{AppPath, AppState, Network, StorageKey, TaskKey, TemplateName};

/// A FAPI endpoint, as the request log and fault targeting name it.
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FaultSpec {
    pub kind: FaultKind,
    pub count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<Endpoint>,
}

/// A secure-storage operation, as storage faults name them.
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
pub enum StorageOp {
    Read,
    Write,
    Delete,
}

impl StorageOp {
    pub const ALL: [StorageOp; 3] = [StorageOp::Read, StorageOp::Write, StorageOp::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            StorageOp::Read => "read",
            StorageOp::Write => "write",
            StorageOp::Delete => "delete",
        }
    }
}

/// What a scripted storage fault does to the operation it hits.
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
pub enum StorageFaultKind {
    /// The promise rejects (a keychain or keystore error); nothing changes.
    Throw,
    /// The promise never settles.
    Hang,
    /// A read returns bytes that do not parse; a write stores bytes that will not.
    Garbage,
}

impl StorageFaultKind {
    pub const ALL: [StorageFaultKind; 3] =
        [StorageFaultKind::Throw, StorageFaultKind::Hang, StorageFaultKind::Garbage];

    pub fn as_str(self) -> &'static str {
        match self {
            StorageFaultKind::Throw => "throw",
            StorageFaultKind::Hang => "hang",
            StorageFaultKind::Garbage => "garbage",
        }
    }
}

/// A fault for the SDK's next `count` storage operations of kind `op` (optionally only those
/// on one key). The device consumes it when the SDK performs such an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StorageFaultSpec {
    pub op: StorageOp,
    pub kind: StorageFaultKind,
    pub count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<StorageKey>,
}

/// What a scripted app-state fault does to the AppState event it hits: the OS state changes
/// (JS is suspended or resumed as always) but the `change` event JS listens to is dropped,
/// delivered twice, delivered late, or held until after the next one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum AppStateFaultKind {
    /// The listener never hears this change (react-native #18836, #50415).
    Drop,
    /// The listener hears it twice (react-native #25041).
    Duplicate,
    /// The listener hears it after the next change (react-native #34605, #18575).
    Reorder,
    /// The listener hears it `ms` late (while JS is suspended, on resume).
    Delay { ms: u64 },
}

impl AppStateFaultKind {
    pub fn name(self) -> &'static str {
        match self {
            AppStateFaultKind::Drop => "drop",
            AppStateFaultKind::Duplicate => "duplicate",
            AppStateFaultKind::Reorder => "reorder",
            AppStateFaultKind::Delay { .. } => "delay",
        }
    }
}

/// A fault for the next `count` AppState changes the device makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AppStateFaultSpec {
    pub kind: AppStateFaultKind,
    pub count: u32,
}

/// One input to the world (DESIGN.md §5). Events that start work (`get_token`, `api_call`,
/// `sign_in`, …) return at once; the work settles later, so several calls issued at the same
/// instant are in flight together.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// The native sign-in UI (`<AuthView>`, ClerkKit's / clerk-android's auth flow) completes:
    /// the native layer signs the test user in on its own client and tells JS (iOS: the
    /// `onAuthStateChange` module event; Android: the view's `onAuthEvent`). Needs the native
    /// module (`native: true` in the setup); without it nothing happens.
    NativeSignIn,
    /// Complete the current session's first task.
    CompleteTask,
    /// `useAuth().getToken({ skipCache, template })`.
    GetToken {
        #[serde(default)]
        skip_cache: bool,
        /// A token of this JWT template instead of the session token (cached apart).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        template: Option<TemplateName>,
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
    /// Script a fault for the SDK's upcoming secure-storage operations.
    StorageFault(StorageFaultSpec),
    /// Drop every scripted FAPI and storage fault not yet consumed.
    ClearFaults,
    /// The user locks the device: a foreground app goes to the background, and items of
    /// the `when_unlocked` class become unreadable (iOS).
    LockDevice,
    /// The user unlocks the device (the first unlock after a reboot included).
    UnlockDevice,
    /// The device restarts: the app dies, and until the first unlock every keychain item is
    /// unreadable (iOS "before first unlock").
    Reboot,
    /// The OS runs the app's JS in the background for `ms` (background fetch, a push, iOS
    /// prewarming), launching the process if it is not running; the device may be locked.
    BackgroundWake {
        ms: u64,
    },
    /// The app's data comes back from a backup or a device migration: the app is
    /// reinstalled with its stored items, but on Android the keystore key that encrypted them
    /// is gone, so every item is undecryptable until it is deleted or written again.
    RestoreBackup,
    /// The device sleeps for `ms`: the wall clock (`Date.now()`, the server) runs on, JS and
    /// its timers stop. On wake a timer resumes where it stopped, so every pending timer
    /// fires late by the sleep's length, even in the foreground; answers that arrived
    /// meanwhile run at once.
    DeviceSleep {
        ms: u64,
    },
    /// The device clock is set `ms` ahead of the server's (behind when negative) from now on:
    /// the user set the time by hand, or automatic time is off and the clock drifted.
    /// Everything the SDK reads from `Date.now()` moves; the server keeps its time, and JS
    /// timers (monotonic) are untouched.
    ClockSkew {
        ms: i64,
    },
    /// Script a fault for the AppState events of the device's next app-state changes: the
    /// OS state is the truth, the events JS hears differ.
    AppStateFault(AppStateFaultSpec),
    /// An SDK-facing event (`step`: one of [`Event::ADDRESSABLE`]) addressed to the app's SDK
    /// instance `n` (`instances: N` in the setup): 0 is the app's UI, the one every plain
    /// event reaches; 1 and up are headless (a second provider, a share extension, a
    /// background task) with their own cache, timers and requests over the same storage.
    Instance {
        n: u8,
        step: Box<Event>,
    },
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
            Event::NativeSignIn => "native_sign_in",
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
            Event::StorageFault(_) => "storage_fault",
            Event::ClearFaults => "clear_faults",
            Event::LockDevice => "lock_device",
            Event::UnlockDevice => "unlock_device",
            Event::Reboot => "reboot",
            Event::BackgroundWake { .. } => "background_wake",
            Event::RestoreBackup => "restore_backup",
            Event::DeviceSleep { .. } => "device_sleep",
            Event::ClockSkew { .. } => "clock_skew",
            Event::AppStateFault(_) => "app_state_fault",
            Event::Instance { .. } => "instance",
        }
    }

    /// The events an [`Event::Instance`] may carry: what an SDK instance's own code does.
    /// Navigation and the native layer belong to the app (instance 0), not to an instance.
    pub const ADDRESSABLE: [&'static str; 8] = [
        "sign_in",
        "complete_task",
        "get_token",
        "api_call",
        "session_end",
        "session_remove",
        "sign_out",
        "set_active",
    ];

    /// What the event asks of whichever SDK instance it reaches: the step an
    /// [`Event::Instance`] carries, else the event itself (a user's sign-out is one in any
    /// instance).
    pub fn addressed(&self) -> &Event {
        match self {
            Event::Instance { step, .. } => step,
            other => other,
        }
    }

    /// Whether this event may be addressed to an instance ([`Event::ADDRESSABLE`]).
    pub fn is_addressable(&self) -> bool {
        Event::ADDRESSABLE.contains(&self.name())
    }

    /// The name coverage counts the event under: its [`Event::name`], and for an event
    /// addressed to a headless instance `instance:` and the event's name, so the (status,
    /// event) pairs of headless instances are tracked apart from the UI's.
    pub fn coverage_name(&self) -> &'static str {
        match self {
            Event::Instance { step, .. } => match step.name() {
                "sign_in" => "instance:sign_in",
                "complete_task" => "instance:complete_task",
                "get_token" => "instance:get_token",
                "api_call" => "instance:api_call",
                "session_end" => "instance:session_end",
                "session_remove" => "instance:session_remove",
                "sign_out" => "instance:sign_out",
                "set_active" => "instance:set_active",
                _ => "instance",
            },
            other => other.name(),
        }
    }

    pub const NAMES: [&'static str; 33] = [
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
        "storage_fault",
        "clear_faults",
        "lock_device",
        "unlock_device",
        "reboot",
        "background_wake",
        "restore_backup",
        "device_sleep",
        "clock_skew",
        "app_state_fault",
        "native_sign_in",
        "instance",
    ];

    /// The names coverage counts events under ([`Event::coverage_name`]): every event but
    /// `instance` itself, then each addressable event as a headless instance's.
    pub const COVERAGE_NAMES: [&'static str; 40] = {
        let mut out = [""; 40];
        let mut i = 0;
        while i < 32 {
            out[i] = Event::NAMES[i];
            i += 1;
        }
        out[32] = "instance:sign_in";
        out[33] = "instance:complete_task";
        out[34] = "instance:get_token";
        out[35] = "instance:api_call";
        out[36] = "instance:session_end";
        out[37] = "instance:session_remove";
        out[38] = "instance:sign_out";
        out[39] = "instance:set_active";
        out
    };

    /// Events after which the app process is gone (its JS runtime with it).
    pub fn ends_process(&self) -> bool {
        matches!(self, Event::Kill | Event::Reinstall | Event::Reboot | Event::RestoreBackup)
    }

    /// Events of the device itself (storage, protection, OS wakes, a hanging network): the
    /// harness's device part, which an external adapter must implement or refuse as
    /// `unsupported`.
    pub fn is_device(&self) -> bool {
        matches!(
            self,
            Event::StorageFault(_)
                | Event::Network { state: Network::Hanging }
                | Event::LockDevice
                | Event::UnlockDevice
                | Event::Reboot
                | Event::BackgroundWake { .. }
                | Event::RestoreBackup
                | Event::DeviceSleep { .. }
                | Event::ClockSkew { .. }
                | Event::AppStateFault(_)
        )
    }

    /// How much virtual time the event itself lets pass.
    pub fn elapses_ms(&self) -> u64 {
        match self {
            Event::Advance { ms } | Event::BackgroundWake { ms } | Event::DeviceSleep { ms } => *ms,
            _ => 0,
        }
    }
}

/// A signed duration as scenarios write it: `5m` ahead, `-5m` behind.
pub fn format_skew(ms: i64) -> String {
    let magnitude = crate::model::time::format_duration(ms.unsigned_abs());
    if ms < 0 { format!("-{magnitude}") } else { magnitude }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Advance { ms } => {
                write!(f, "advance {}", crate::model::time::format_duration(*ms))
            }
            // The scenario format's words (`app_state: background`), so a step reads the way
            // it is written in a scenario.
            Event::AppState { state } => write!(f, "app_state: {}", state.as_str()),
            Event::Network { state } => write!(f, "network: {}", state.as_str()),
            Event::SignIn { task: Some(t) } => write!(f, "sign_in (task {})", t.as_str()),
            // A plain `get_token` (no template, no skip_cache) is just its name.
            Event::GetToken { skip_cache, template } => {
                f.write_str("get_token")?;
                if let Some(t) = template {
                    write!(f, " template={t}")?;
                }
                if *skip_cache {
                    f.write_str(" skip_cache")?;
                }
                Ok(())
            }
            Event::ApiCall { path } => write!(f, "api_call {path}"),
            Event::Navigate { path } => write!(f, "navigate {path}"),
            Event::Fault(spec) => {
                write!(f, "fault {} x{}", spec.kind.name(), spec.count)?;
                if let Some(on) = spec.on {
                    write!(f, " on {}", on.as_str())?;
                }
                Ok(())
            }
            Event::StorageFault(spec) => {
                write!(
                    f,
                    "storage_fault {} {} x{}",
                    spec.op.as_str(),
                    spec.kind.as_str(),
                    spec.count
                )?;
                if let Some(key) = spec.key {
                    write!(f, " on {}", key.as_str())?;
                }
                Ok(())
            }
            Event::BackgroundWake { ms } => {
                write!(f, "background_wake {}", crate::model::time::format_duration(*ms))
            }
            Event::DeviceSleep { ms } => {
                write!(f, "device_sleep {}", crate::model::time::format_duration(*ms))
            }
            Event::ClockSkew { ms } => write!(f, "clock_skew {}", format_skew(*ms)),
            Event::AppStateFault(spec) => {
                write!(f, "app_state_fault {}", spec.kind.name())?;
                if let AppStateFaultKind::Delay { ms } = spec.kind {
                    write!(f, " {}", crate::model::time::format_duration(ms))?;
                }
                write!(f, " x{}", spec.count)
            }
            Event::Instance { n, step } => write!(f, "instance {n}: {step}"),
            other => f.write_str(other.name()),
        }
    }
}
