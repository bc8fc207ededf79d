//! Settings of a world: the Clerk instance, the SDK's configuration, the transport, and the
//! setup that picks platform and profile. Every limit is checked by [`InstanceSettings::validate`]
//! and friends, so bad input is an error with a reason, never a surprising run.

use serde::{Deserialize, Serialize};

use super::templates::Templates;
use super::time::{DAY_MS, MINUTE_MS, SECOND_MS};
use super::vocab::{KeychainAccessible, LargeValues, Platform};

/// The instance's session options (Dashboard → Sessions), article §"Configuring session
/// lifetime and inactivity timeout".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InstanceSettings {
    /// Session-token lifetime. Default 60 s (reference §4.5: an instance setting, not an SDK
    /// constant). At most 1 h.
    pub session_token_ttl_ms: u64,
    /// Maximum session lifetime: `expired` after this. Default 7 d; 5 min ..= 10 y; `None` off.
    pub max_lifetime_ms: Option<u64>,
    /// Inactivity timeout, measured from the last token or touch: `abandoned` after this.
    /// Default off. At least one of the two must be on.
    pub inactivity_timeout_ms: Option<u64>,
    /// Multi-session mode: a second sign-in adds a session instead of failing.
    pub multi_session: bool,
    /// `auth_config.session_minter`: token requests carry the last session token, and the
    /// server refuses to re-mint from one that has already expired unless `force_origin`.
    pub session_minter: bool,
    /// What the server does with a superseded client token: how long it honours one, and what
    /// it answers once the grace is over. Default: Clerk's ([`TokenReuse::CLERK`]).
    #[serde(skip_serializing_if = "TokenReuse::is_clerk")]
    pub token_reuse: TokenReuse,
    /// JWT templates `getToken({ template })` can name; none by default.
    #[serde(skip_serializing_if = "Templates::is_empty")]
    pub templates: Templates,
}

/// The server's client-token reuse policy: a superseded token (one the server has rotated
/// past) within `grace` is honoured like the current one; outside it, `policy` decides.
///
/// Clerk's behaviour, as far as the public record goes: the client JWT "rotates on every FAPI
/// call" and a stale rotated token is answered `200` with a new, empty client — the silent
/// sign-out of clerk/javascript #9217 (reference/clerk-js-behaviour.md §3.1 "Rotation" and
/// open questions 1–2). How long a superseded value stays accepted is not documented (open
/// question 2); the default grace of 64 rotations is this model's assumption, chosen so that
/// concurrent requests and answers lost in flight do not strand a device while a token kept
/// aside for long (the native layer's) is refused. The other settings are not Clerk's: a grace
/// measured in time, and family revocation as refresh-token reuse detection does elsewhere
/// (supabase/auth-js #201, supabase/auth #1072, auth0/react-native-auth0 #1374).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenReuse {
    pub policy: ReusePolicy,
    pub grace: ReuseGrace,
}

/// How many rotations old a client token may be and still be accepted under Clerk's default
/// reuse policy ([`TokenReuse::CLERK`]).
pub const CLIENT_TOKEN_GRACE_VERSIONS: u32 = 64;

/// The answer to a superseded client token outside the grace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReusePolicy {
    /// Treat it as unknown: `GET /v1/client` creates a new, empty client, other requests get
    /// a 401. The client and its sessions live on, out of the device's reach (Clerk, #9217).
    NewClient,
    /// Reuse detection: revoke every signed-in session of the client and the client itself,
    /// so no token of it (not even the current one) is honoured again; then answer as
    /// `new_client` does.
    RevokeFamily,
}

/// How far behind the current client token a superseded one may be and still be honoured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReuseGrace {
    /// At most this many rotations old.
    Versions(u32),
    /// Presented at most this long after its successor was minted.
    WindowMs(u64),
}

impl TokenReuse {
    /// Clerk's behaviour as this model states it: 64 rotations of grace, then a new client.
    pub const CLERK: TokenReuse = TokenReuse {
        policy: ReusePolicy::NewClient,
        grace: ReuseGrace::Versions(CLIENT_TOKEN_GRACE_VERSIONS),
    };

    pub fn is_clerk(&self) -> bool {
        *self == TokenReuse::CLERK
    }
}

impl Default for TokenReuse {
    fn default() -> Self {
        TokenReuse::CLERK
    }
}

impl ReusePolicy {
    pub const ALL: [ReusePolicy; 2] = [ReusePolicy::NewClient, ReusePolicy::RevokeFamily];

    pub fn as_str(self) -> &'static str {
        match self {
            ReusePolicy::NewClient => "new_client",
            ReusePolicy::RevokeFamily => "revoke_family",
        }
    }
}

impl Default for InstanceSettings {
    fn default() -> Self {
        InstanceSettings {
            session_token_ttl_ms: 60 * SECOND_MS,
            max_lifetime_ms: Some(7 * DAY_MS),
            inactivity_timeout_ms: None,
            multi_session: false,
            session_minter: false,
            token_reuse: TokenReuse::CLERK,
            templates: Templates::default(),
        }
    }
}

/// Limits on instance settings, as the Clerk Dashboard enforces them.
pub const MAX_LIFETIME_MS_MIN: u64 = 5 * MINUTE_MS;
pub const MAX_LIFETIME_MS_MAX: u64 = 10 * 365 * DAY_MS;
pub const SESSION_TOKEN_TTL_MS_MIN: u64 = SECOND_MS;
pub const SESSION_TOKEN_TTL_MS_MAX: u64 = 60 * MINUTE_MS;
pub const INACTIVITY_TIMEOUT_MS_MIN: u64 = MINUTE_MS;
/// Limits on the client-token reuse grace (this harness's, not Clerk's: beyond them a grace
/// is no longer a grace).
pub const REUSE_GRACE_VERSIONS_MAX: u32 = 1024;
pub const REUSE_GRACE_WINDOW_MS_MAX: u64 = 60 * MINUTE_MS;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("`{field}` = {value} ms is out of range; accepted: {accepted}")]
    OutOfRange { field: &'static str, value: u64, accepted: &'static str },
    #[error(
        "at least one of `max_lifetime_ms` and `inactivity_timeout_ms` must be on \
         (Clerk refuses an instance with neither)"
    )]
    NoLifetimeLimit,
    #[error(
        "`token_reuse.grace` = {value} rotations is out of range; accepted: 0 ..= {max} \
         (or a duration such as `30s`)",
        max = REUSE_GRACE_VERSIONS_MAX
    )]
    ReuseGraceVersions { value: u32 },
    #[error(
        "`instances` = {value} is out of range; accepted: 1 ..= {max} (SDK instances in the app)",
        max = INSTANCES_MAX
    )]
    Instances { value: u32 },
}

impl InstanceSettings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        let ttl = self.session_token_ttl_ms;
        if !(SESSION_TOKEN_TTL_MS_MIN..=SESSION_TOKEN_TTL_MS_MAX).contains(&ttl) {
            return Err(SettingsError::OutOfRange {
                field: "session_token_ttl_ms",
                value: ttl,
                accepted: "1s ..= 1h",
            });
        }
        if let Some(life) = self.max_lifetime_ms
            && !(MAX_LIFETIME_MS_MIN..=MAX_LIFETIME_MS_MAX).contains(&life)
        {
            return Err(SettingsError::OutOfRange {
                field: "max_lifetime_ms",
                value: life,
                accepted: "5m ..= 10 years",
            });
        }
        if let Some(idle) = self.inactivity_timeout_ms
            && !(INACTIVITY_TIMEOUT_MS_MIN..=MAX_LIFETIME_MS_MAX).contains(&idle)
        {
            return Err(SettingsError::OutOfRange {
                field: "inactivity_timeout_ms",
                value: idle,
                accepted: "1m ..= 10 years",
            });
        }
        if self.max_lifetime_ms.is_none() && self.inactivity_timeout_ms.is_none() {
            return Err(SettingsError::NoLifetimeLimit);
        }
        match self.token_reuse.grace {
            ReuseGrace::Versions(value) if value > REUSE_GRACE_VERSIONS_MAX => {
                return Err(SettingsError::ReuseGraceVersions { value });
            }
            ReuseGrace::WindowMs(value) if value > REUSE_GRACE_WINDOW_MS_MAX => {
                return Err(SettingsError::OutOfRange {
                    field: "token_reuse.grace",
                    value,
                    accepted: "0s ..= 1h (or a number of rotations)",
                });
            }
            _ => {}
        }
        Ok(())
    }
}

/// Where the SDK keeps the client token (`ClerkProvider tokenCache`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TokenCacheKind {
    /// `@clerk/expo/token-cache` on expo-secure-store: survives restarts.
    #[default]
    SecureStore,
    /// No `tokenCache` prop: `MemoryTokenCache`, lost with the process.
    Memory,
}

/// How the app configures the SDK.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SdkSettings {
    pub token_cache: TokenCacheKind,
    /// `__experimental_resourceCache`: persist client, environment and session token, load
    /// from them when the network fails.
    pub resource_cache: bool,
    /// The `ClerkExpo` native module is present (`@clerk/expo`'s config plugin): JS
    /// configures the native layer (`model/native.rs`) and hears its sign-ins.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub native: bool,
    /// `useAuth({ treatPendingAsSignedOut })`; default `true` as in Clerk.
    pub treat_pending_as_signed_out: bool,
    /// The keychain class the token cache stores its items with: `after_first_unlock`, what
    /// `@clerk/expo`'s token cache passes, or `when_unlocked`, expo-secure-store's default
    /// for an app that brings its own token cache.
    #[serde(skip_serializing_if = "is_default_class")]
    pub keychain_accessible: KeychainAccessible,
    /// How late the device delivers every AppState `change` event to JS (default 0: at
    /// once). The OS state itself changes on time; only what the listener hears is late.
    #[serde(skip_serializing_if = "is_zero")]
    pub app_state_delay_ms: u64,
    /// What secure storage does with a value over the platform's item limit; `None`: the
    /// platform's default ([`LargeValues::platform_default`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub large_values: Option<LargeValues>,
    /// How many SDK instances the app runs over the same secure storage (default 1): 0 is
    /// the app's UI, the others are headless (a second provider, a share extension, a
    /// background task), each with its own cache, timers and requests (`model/world/instances.rs`).
    #[serde(skip_serializing_if = "is_one")]
    pub instances: u8,
    /// Which build of the native layer runs (`native: true`): today's, or a named variant.
    #[serde(default, skip_serializing_if = "is_current")]
    pub native_variant: NativeVariant,
}

fn is_one(n: &u8) -> bool {
    *n == 1
}

/// Most SDK instances a setup may ask for: enough for the UI and a few headless ones; more
/// only multiplies the same races.
pub const INSTANCES_MAX: u8 = 4;

fn is_zero(ms: &u64) -> bool {
    *ms == 0
}

/// Longest `app_state_delay` a setup may ask for.
pub const APP_STATE_DELAY_MS_MAX: u64 = MINUTE_MS;

fn is_default_class(class: &KeychainAccessible) -> bool {
    *class == KeychainAccessible::default()
}

/// A native behaviour that differed in an older release, or was a bug, named so that a
/// scenario (`native_variant:` in a setup) or a defect can switch it on without a fork of
/// `model/native.rs`, whose rules read it.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum NativeVariant {
    /// clerk-ios and clerk-android as they are: every request carries the stored device token.
    #[default]
    Current,
    /// The 3.4.5–4.0.2 era's refresh with a stale token: a client refresh presents the token
    /// of the native SDK's in-memory client, not the one JS just stored, so a native layer
    /// still on its own (anonymous) client refetches that client and stores its token ("the
    /// native module refreshed the client … with a stale token, which minted a separate empty
    /// client that briefly replaced the JS one", clerk/javascript #9589; #9217). Switched on
    /// by the reference SDK's `native-token-overwrites-js`, the JS half of the same bug.
    StaleTokenRefresh,
    /// clerk-ios 1.0.0 under `@clerk/expo` 3.2.7 as the seed report (clerk/javascript #8441)
    /// diagnoses it: once `syncTokenState` has wiped the cached client, the client load that
    /// `Clerk.configure` starts never lands ("if that round-trip is slow or fails silently,
    /// `Clerk.shared.session` stays nil"; `getSession()` still answered none after 60 s of
    /// retries). Switched on by the reference SDK's `ios-native-cache-wipe` with the native
    /// module; Android has no wipe, so it changes nothing there.
    WipedClientNeverLoads,
}

impl NativeVariant {
    pub const ALL: [NativeVariant; 3] = [
        NativeVariant::Current,
        NativeVariant::StaleTokenRefresh,
        NativeVariant::WipedClientNeverLoads,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NativeVariant::Current => "current",
            NativeVariant::StaleTokenRefresh => "stale_token_refresh",
            NativeVariant::WipedClientNeverLoads => "wiped_client_never_loads",
        }
    }
}

fn is_current(v: &NativeVariant) -> bool {
    *v == NativeVariant::Current
}

impl Default for SdkSettings {
    fn default() -> Self {
        SdkSettings {
            token_cache: TokenCacheKind::SecureStore,
            resource_cache: false,
            native: false,
            treat_pending_as_signed_out: true,
            keychain_accessible: KeychainAccessible::default(),
            app_state_delay_ms: 0,
            large_values: None,
            instances: 1,
            native_variant: NativeVariant::Current,
        }
    }
}

/// Latencies of the wire when no fault says otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetSettings {
    /// Round trip of a FAPI request. Default 50 ms.
    pub fapi_latency_ms: u64,
    /// Round trip of a request to the app's backend. Default 50 ms.
    pub backend_latency_ms: u64,
    /// Whether a connectivity listener hears the current state when it subscribes (default
    /// true). `false`: it reports changes only, so a listener that waits for "online" on a
    /// network that is already up waits until the network changes (react-native-netinfo
    /// #254, #295; clerk/javascript #8968).
    #[serde(skip_serializing_if = "is_true")]
    pub connectivity_initial: bool,
}

fn is_true(b: &bool) -> bool {
    *b
}

/// Longest latency a fault or a setting may ask for: beyond this a run is testing nothing
/// but patience.
pub const LATENCY_MS_MAX: u64 = 10 * MINUTE_MS;

impl Default for NetSettings {
    fn default() -> Self {
        NetSettings { fapi_latency_ms: 50, backend_latency_ms: 50, connectivity_initial: true }
    }
}

impl NetSettings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        for (field, value) in [
            ("fapi_latency_ms", self.fapi_latency_ms),
            ("backend_latency_ms", self.backend_latency_ms),
        ] {
            if value > LATENCY_MS_MAX {
                return Err(SettingsError::OutOfRange { field, value, accepted: "0 ..= 10m" });
            }
        }
        Ok(())
    }
}

/// Everything fixed for the length of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Setup {
    pub platform: Platform,
    pub profile: super::profile::ProfileId,
    pub sdk: SdkSettings,
    pub instance: InstanceSettings,
    pub net: NetSettings,
}

impl Setup {
    pub fn new(platform: Platform, profile: super::profile::ProfileId) -> Self {
        Setup {
            platform,
            profile,
            sdk: SdkSettings::default(),
            instance: InstanceSettings::default(),
            net: NetSettings::default(),
        }
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        self.instance.validate()?;
        if self.sdk.app_state_delay_ms > APP_STATE_DELAY_MS_MAX {
            return Err(SettingsError::OutOfRange {
                field: "app_state_delay_ms",
                value: self.sdk.app_state_delay_ms,
                accepted: "0 ..= 1m",
            });
        }
        if !(1..=INSTANCES_MAX).contains(&self.sdk.instances) {
            return Err(SettingsError::Instances { value: u32::from(self.sdk.instances) });
        }
        self.net.validate()
    }
}
