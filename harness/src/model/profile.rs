//! Profiles: named sets of SDK behaviour rules and constants, selected per run.
//!
//! - [`ProfileId::Documented`]: the contract of the seed article ("How to Handle Session
//!   Expiry in a React Native App with Clerk", Core 3, `@clerk/expo` 3.x).
//! - [`ProfileId::ClerkJs6`]: what `@clerk/clerk-js` 6.40 and `@clerk/expo` really do, from
//!   the reference file's "Numbers a model needs".
//!
//! A profile is data, not code paths scattered through the model: the model reads these
//! fields, so every difference between the two is visible in one place ([`PROFILE_DIFFERENCES`]).

use serde::{Deserialize, Serialize};

use super::time::SECOND_MS;
use super::vocab::{SessionStatus, TokenInfo};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ProfileId {
    #[serde(rename = "documented")]
    Documented,
    #[serde(rename = "clerk-js-6")]
    ClerkJs6,
}

impl ProfileId {
    pub const ALL: [ProfileId; 2] = [ProfileId::Documented, ProfileId::ClerkJs6];

    pub fn as_str(self) -> &'static str {
        match self {
            ProfileId::Documented => "documented",
            ProfileId::ClerkJs6 => "clerk-js-6",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }

    pub fn rules(self) -> &'static Profile {
        match self {
            ProfileId::Documented => &DOCUMENTED,
            ProfileId::ClerkJs6 => &CLERK_JS_6,
        }
    }
}

impl std::fmt::Display for ProfileId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The clock a token cache judges a token's `exp` against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpiryClock {
    /// The server's time: the SDK measures the device clock's offset from each token's `iat`
    /// on receipt, so a skewed clock changes nothing (clerk/javascript PR #672, "Account for
    /// user clock skew"; supabase auth-js PR #735 warns of it).
    Server,
    /// The device's `Date.now()`: a clock behind keeps expired tokens fresh, a clock ahead
    /// by more than a token's lifetime drops every token at once (reference §4).
    Device,
}

/// How `getToken` treats a cached token near its expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CachePolicy {
    /// Return the cached token while more than `hit_min_remaining_ms` remain; otherwise drop
    /// it and fetch synchronously (clerk-js `tokenCache.get`, ≤ 5 s → miss).
    HitUntil,
    /// Stale-while-revalidate: within `swr_window_ms` of expiry return the cached token and
    /// start a background refresh; fetch synchronously only once it has expired (article,
    /// "Automatic token refresh").
    StaleWhileRevalidate,
}

/// What `getToken` does while the device is offline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OfflinePolicy {
    /// Throw `network_error` at once; with the resource cache, return the cached token if it
    /// is still valid (article, "Handling getToken() in Core 3").
    ThrowOrCached,
    /// React Native always counts as online (reference §1.4): the request is sent, fails as
    /// a network error and is retried like any other; with the resource cache, Expo's
    /// `useAuth` returns the cached token (even a stale one) after the retries give up.
    TreatAsOnline,
}

/// How background refresh is scheduled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshPolicy {
    /// One timer per cached token at `(exp − now) − lead_ms` after it resolves; skipped when
    /// the token already expired (headless guard, PR #8303). No other background activity.
    TimerBeforeExpiry { lead_ms: u64 },
    /// A recurring refresh every `interval_ms` while signed in ("on a recurring interval,
    /// approximately matching the 60-second token lifetime"), re-armed after failures too.
    Recurring { interval_ms: u64 },
}

/// What happens when `load()` fails and there is no resource cache to fall back on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadFailurePolicy {
    /// Status `error`, `isLoaded` false for good; nothing retries (reference §3.4 #8245 note,
    /// probe `env404`, `client500`, `clientDrop`).
    StuckUnloaded,
    /// Retry with the `getToken` schedule, then settle as loaded and signed out, keeping the
    /// credentials for the next launch.
    RetryThenSignedOut,
}

/// What the token cache does when a read of the stored client token fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadFailurePolicy {
    /// The cache keeps the last token it was given in memory and sends it, reading storage
    /// only when memory is empty (a fresh runtime), so a failed write loses nothing. A
    /// transient read failure (locked, thrown, timed out) fails the request as a network
    /// error and keeps the item, so the caller's retries run and the credential survives; a
    /// permanent one (undecryptable, garbage) deletes the item and goes on without it (the
    /// harness's contract, DESIGN.md §8 "storage faults are transient").
    KeepTransient,
    /// `@clerk/expo`'s token cache: `try { getItemAsync } catch { deleteItemAsync; return
    /// null }` for every error, so the request goes out without a client token and FAPI
    /// mints an anonymous client (reference clerk-expo-behaviour §5.1, every version 3.0.1 –
    /// 4.6.6). A value that does not parse is sent as it is, which FAPI reads as no client.
    DeleteOnThrow,
}

/// A profile: every rule and constant the model's SDK and app shell read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profile {
    pub id: ProfileId,
    pub cache: CachePolicy,
    /// `HitUntil`: a cached token with at most this much left is a miss (clerk-js: 5 s,
    /// `POLLER_INTERVAL_IN_MS/1000`).
    pub hit_min_remaining_ms: u64,
    /// `StaleWhileRevalidate`: the window before expiry (article: 15 s).
    pub swr_window_ms: u64,
    pub refresh: RefreshPolicy,
    pub offline: OfflinePolicy,
    /// `getToken` retry: first delay (clerk-js: 3000 ms).
    pub retry_initial_ms: u64,
    /// Retry growth factor in thousandths (clerk-js: 1.55 → 1550).
    pub retry_factor_milli: u64,
    /// Cap on one delay (clerk-js: 50 000 ms).
    pub retry_cap_ms: u64,
    /// Most retries after the first try (clerk-js: 8 online).
    pub retries_max: u32,
    /// Whether a 429 waits at least its `Retry-After` (clerk-js's `retry()` ignores it).
    pub honours_retry_after: bool,
    /// Transport retries for GETs on a network error: tries in all (clerk-js: 4 online).
    pub get_tries_max: u32,
    /// First transport retry delay (clerk-js: 100 ms × [1,2); the model takes the low end).
    pub get_retry_first_ms: u64,
    /// Later transport retry delays: base × 2ᵏ, capped (clerk-js: 700 ms, cap 5000 ms).
    pub get_retry_base_ms: u64,
    pub get_retry_cap_ms: u64,
    pub load_failure: LoadFailurePolicy,
    /// Resource-cache recovery: first reload after falling back (Expo 4.x: 3000 ms).
    pub resource_retry_first_ms: u64,
    /// Resource-cache recovery backoff bases (Expo 4.x: 2000 ms network, 10 000 ms other).
    pub resource_retry_base_network_ms: u64,
    pub resource_retry_base_other_ms: u64,
    pub resource_retry_cap_ms: u64,
    pub resource_retry_exponent_max: u32,
    /// Whether the device keeps only the newest client token it has seen (by version);
    /// Expo stores whatever the last response carried.
    pub keeps_newest_client_token: bool,
    /// With the resource cache and a network error, return the cached session token even
    /// if it expired (Expo `useAuth` wrapper).
    pub offline_returns_stale: bool,
    /// Whether a client payload from a request sent before the latest sign-out is ignored
    /// (clerk-js applies every payload it receives, so a slow reload can sign a user back in);
    /// with it, a `setActive` asked for while the user signs out does nothing (the article is
    /// silent; nothing may bring the session back before the sign-out settles).
    pub ignores_stale_payloads: bool,
    /// Whether `handleUnauthenticated`'s `GET /client` answering 403 or 500 signs out
    /// (clerk.ts: "If /client answers 403 or 500, it calls setActive(null). Other errors are
    /// rethrown": `[403,500].includes(e.status)`, so a 502 or 503 leaves the session alone).
    pub unauth_reload_error_signs_out: bool,
    /// Whether a client payload in which the current session is no longer signed in leaves
    /// no session (clerk-js `updateClient`: `#getSessionFromClient(this.session.id)` looks the
    /// held session up by id in `signedInSessions` only; it never falls back to
    /// `last_active_session_id`, so a replaced session signs the app out). Otherwise the
    /// app moves to the client's last active session.
    pub keeps_current_session_only: bool,
    /// Whether `signOut()` on a client with no sessions at all (a sign-in still in flight, say)
    /// returns at once without a request (clerk-js `signOut`: `if (!this.client ||
    /// this.client.sessions.length === 0) return;`). Otherwise it always asks the server to
    /// remove the client's sessions, which also ends a sign-in in flight.
    pub signout_needs_sessions: bool,
    /// Whether every token request of a session shares one flight: `skipCache` callers and
    /// background refreshes join a fetch already in flight. clerk-js starts a new fetch for
    /// every `skipCache` call and keeps its background refresh out of the cache.
    pub single_flight_all: bool,
    /// Whether token requests carry `token=<last session token>` when the instance has the
    /// session minter on (clerk-js `Session.#createTokenResolver`).
    pub carries_last_token: bool,
    /// Whether a fetched token that has already expired when it reaches JS (held while the
    /// app was suspended) is fetched again instead of being returned.
    pub refetches_expired_delivery: bool,
    /// Whether a client payload selects a session only while no client is held yet (clerk-js
    /// `updateClient`: the initial `#defaultSession`; afterwards it only looks up the session
    /// it holds). A new session then becomes current only when its own `setActive` touch
    /// answers (touch, `getToken`, set). Otherwise a payload prefers the session being
    /// switched to and falls back to the client's last active session.
    pub payload_selects_initially_only: bool,
    /// Whether `setActive` (and a sign-in's activation) ends with `await session.getToken()`
    /// for the session it switches to: after the touch, whose 401 is swallowed and reloads
    /// the client once more un-awaited (clerk-js `#touchCurrentSession`), the token comes from
    /// the cache every payload seeds or is fetched on the normal retry schedule; a failure
    /// that outlives the retries fails `setActive`, otherwise the session is set. Measured on
    /// 6.40.0 (scenarios/profiles/set-active-token-fetch.yaml). Otherwise the touch's answer
    /// settles the call (a 401 fails it).
    pub set_active_awaits_token: bool,
    /// Whether `getToken`'s retries stay bound to the session its first attempt used (clerk-js:
    /// `retry(() => this._getToken())` on one `Session` object, so after a sign-out it keeps
    /// posting `/tokens` for the old session until a 4xx or the last retry). Otherwise every
    /// attempt reads the current session (the article is silent; the documented contract
    /// answers `null` once signed out).
    pub retry_keeps_session: bool,
    /// Whether `signOut()` always enters the transitive `undefined` state, held session or not
    /// (clerk-js `signOut` sets `session = undefined` and emits before removing the sessions).
    /// Otherwise only a held session enters it.
    pub signout_always_transitive: bool,
    /// Whether a 401 on any request makes its caller wait for `handleUnauthenticated`'s
    /// `GET /client` (its retries included) before it sees the error, one reload per 401
    /// (clerk-js `_baseFetch`: `401 === status && await clerk.handleUnauthenticated()`; a
    /// reload that fails with anything but 403/500 is rethrown, so the caller sees that
    /// failure instead). Otherwise (the article is silent; the documented contract keeps the
    /// simpler rule) one reload runs in the background and the caller sees its 401 at once.
    pub awaits_unauthenticated: bool,
    /// Whether a token request answered 404 (the client does not know the session: the
    /// server replaced the client the device holds) reloads the client as a 401 does, so the
    /// app learns the session is gone. clerk-js reloads on a 401 only (`_baseFetch`); the
    /// article is silent, and the documented contract must reach sign-in within a refresh
    /// cycle once its session is terminal (found by the reference campaign, seed 0x61915057:
    /// a sign-out killed in flight, then a cold start on the resource cache's client).
    pub token_not_found_reloads: bool,
    /// Whether a token request answered 422 `missing_expired_token` is sent once more with
    /// `expired_token=<last session token>` when the instance has no session minter and a
    /// last token exists (clerk-js `Session.#createTokenResolver`: `.catch(e => { if
    /// (MissingExpiredTokenError.is(e) && o) return Token.create(path, {...a}, {expired_token:
    /// o}) })`). The article is silent; the documented contract treats the 422 as final.
    pub retries_missing_expired_token: bool,
    /// Whether the call that started a token fetch hears its answer after the callers that
    /// joined it: clerk-js's starter awaits `s.then(…)` (`Session.#fetchToken`, one promise
    /// hop more) while a joiner awaits the cached resolver, so when both retry on a failure
    /// the joiner's timer is armed, and fires, first (measured on clerk-js@6.40.0: fuzz seed
    /// 0x9cf471e0 case 64, two API calls sharing a fetch answered 429). The documented
    /// contract settles waiters in the order they came.
    pub starter_settles_last: bool,
    /// Whether a load GET keeps its own network-error retries after the load has failed on
    /// the other GET: clerk-js's `Promise.all` rejects at the first failure but cancels
    /// nothing, so the other fetch's retry loop (up to `get_tries_max` tries) still sends its
    /// requests, whose answers nobody reads (measured on clerk-js@6.40.0: fuzz seed
    /// 0x7ccca00f case 12, the client GET retried twice after the environment's 429). The
    /// documented contract stops the other half with the load.
    pub load_get_outlives_load: bool,
    /// Whether a `signOut()` whose request fails leaves the app in the middle of signing out
    /// (clerk-js `signOut`: `#e3()` sets `session = undefined` first; `removeSessions()` clears
    /// the token cache only once it succeeds; any failure but a swallowed `network_error` is
    /// rethrown): loading, the credential stored, the cached token and its refresh timer
    /// running (a refresh's payload then shows the sign-in screen, and the timer keeps
    /// refreshing the old session), the server's session active. With the resource cache a
    /// network error is a `ClerkRuntimeError('network_error')`, swallowed: signed out
    /// locally, the credential kept. Measured on 6.40.0
    /// (scenarios/profiles/sign-out-fails.yaml). Otherwise (the article: signed out locally
    /// whatever the server said) the app signs out and wipes the credential.
    pub signout_failure_keeps_state: bool,
    /// Whether every session keeps its own cached token, pending fetch, background refresh and
    /// refresh timer, current or not, and a change of the current session leaves them all in
    /// place (clerk-js `SessionTokenCache` is keyed by tokenId = session id; every `Session`
    /// built from a client payload seeds it with its `last_active_token` (`#hydrateCache`);
    /// only `end()`, `remove()`, a successful `removeSessions()`/`destroy()` and `clearCache()`
    /// call `SessionTokenCache.clear()`; each session's `lastActiveToken` is its own). So a
    /// payload that signs a session out leaves its refresh timer running, and the timer posts
    /// `/tokens` for it once more. Otherwise (the article's one token: it is silent on other
    /// sessions, and the documented contract keeps the current session's token only) a
    /// change of session drops the cached token.
    pub per_session_cache: bool,
    /// What the token cache does when reading the client token fails.
    pub read_failure: ReadFailurePolicy,
    /// How long the token cache waits for a storage read before it counts as failed;
    /// `None` waits forever.
    pub storage_read_timeout_ms: Option<u64>,
    /// Whether the recovery reload (after a load fell back to the resource cache, or settled
    /// signed out) goes on after a 4xx refusal: the server's answer may change.
    pub recovery_outlasts_refusals: bool,
    /// The clock a cached token's expiry is judged against.
    pub expiry_clock: ExpiryClock,
    /// How long the SDK lets a request hang before it fails it as a network error; `None`
    /// leaves it to the platform ([`crate::model::device::Device::request_timeout_ms`]).
    pub request_timeout_ms: Option<u64>,
    /// Where JS saves the native client token it adopts after a native sign-in
    /// (`native: true`): into the token cache JS reads (documented), or into
    /// `tokenCache ?? defaultTokenCache` — the secure store even when the app runs on a memory
    /// cache, which JS then never reads (@clerk/expo 3.x, reference §4).
    pub native_adopts_into_own_cache: bool,
    /// Whether `NativeSessionSync` (`native: true`) counts a `pending` session as signed out,
    /// and so signs the native layer out when JS switches to one: @clerk/expo 3.x calls
    /// `useAuth()` with its default `treatPendingAsSignedOut: true` (reference §3), and the
    /// native `signOut()` then removes whatever session the native SDK holds on the server
    /// (after its foreground refresh, the pending session JS just switched to; before it,
    /// another). The documented contract counts any session JS shows as one: a session that
    /// still has tasks is not a reason to end the native layer's.
    pub sync_pending_as_signed_out: bool,
    /// Whether `setActive({ session: id })` for a session the held client does not list signs
    /// JS out (clerk-js goes on with `null`): the 3.x bootstrap on Android, whose native session
    /// lives on another client (scenarios/native/android-bootstrap-drops-js-session.yaml).
    pub set_active_unknown_signs_out: bool,
    /// Whether the 3.x native bootstrap waits for JS to load before it adopts a session its
    /// first polls find: 3.x's `addOnLoaded` wait resolves at once on clerk-js's `Clerk`,
    /// which has none (`dist/provider/ClerkProvider.js`, `waitForLoad`).
    pub boot_waits_for_load: bool,
}

/// The article's contract.
pub const DOCUMENTED: Profile = Profile {
    id: ProfileId::Documented,
    cache: CachePolicy::StaleWhileRevalidate,
    hit_min_remaining_ms: 0,
    swr_window_ms: 15 * SECOND_MS,
    refresh: RefreshPolicy::Recurring { interval_ms: 45 * SECOND_MS },
    offline: OfflinePolicy::ThrowOrCached,
    retry_initial_ms: 3 * SECOND_MS,
    retry_factor_milli: 1550,
    retry_cap_ms: 50 * SECOND_MS,
    retries_max: 8,
    honours_retry_after: true,
    get_tries_max: 4,
    get_retry_first_ms: 100,
    get_retry_base_ms: 700,
    get_retry_cap_ms: 5 * SECOND_MS,
    load_failure: LoadFailurePolicy::RetryThenSignedOut,
    resource_retry_first_ms: 3 * SECOND_MS,
    resource_retry_base_network_ms: 2 * SECOND_MS,
    resource_retry_base_other_ms: 10 * SECOND_MS,
    resource_retry_cap_ms: 30 * SECOND_MS,
    resource_retry_exponent_max: 4,
    keeps_newest_client_token: true,
    offline_returns_stale: false,
    ignores_stale_payloads: true,
    unauth_reload_error_signs_out: false,
    keeps_current_session_only: false,
    signout_needs_sessions: false,
    single_flight_all: true,
    carries_last_token: false,
    refetches_expired_delivery: true,
    payload_selects_initially_only: false,
    set_active_awaits_token: false,
    retry_keeps_session: false,
    signout_always_transitive: false,
    awaits_unauthenticated: false,
    token_not_found_reloads: true,
    retries_missing_expired_token: false,
    starter_settles_last: false,
    load_get_outlives_load: false,
    signout_failure_keeps_state: false,
    per_session_cache: false,
    read_failure: ReadFailurePolicy::KeepTransient,
    // `@clerk/expo` 4.x races its token-cache read against 1000 ms
    // (`nativeClientSync.tsx` `tokenCacheReadTimeoutMs`): the documented contract does so for
    // every read.
    storage_read_timeout_ms: Some(1_000),
    recovery_outlasts_refusals: true,
    // clerk-js gives its browser `/client` load up after 7 s (reference §7,
    // `INITIALIZATION_TIMEOUT_MS`); the documented contract bounds every request so.
    request_timeout_ms: Some(7_000),
    native_adopts_into_own_cache: true,
    sync_pending_as_signed_out: false,
    set_active_unknown_signs_out: false,
    boot_waits_for_load: true,
    expiry_clock: ExpiryClock::Server,
};

/// `@clerk/clerk-js` 6.40.0 with `@clerk/expo` 4.x on native.
pub const CLERK_JS_6: Profile = Profile {
    id: ProfileId::ClerkJs6,
    cache: CachePolicy::HitUntil,
    hit_min_remaining_ms: 5 * SECOND_MS,
    swr_window_ms: 0,
    // max(15, 5) + 2 = 17 s before expiry (tokenCache.ts).
    refresh: RefreshPolicy::TimerBeforeExpiry { lead_ms: 17 * SECOND_MS },
    offline: OfflinePolicy::TreatAsOnline,
    retry_initial_ms: 3 * SECOND_MS,
    retry_factor_milli: 1550,
    retry_cap_ms: 50 * SECOND_MS,
    retries_max: 8,
    honours_retry_after: false,
    get_tries_max: 4,
    get_retry_first_ms: 100,
    get_retry_base_ms: 700,
    get_retry_cap_ms: 5 * SECOND_MS,
    load_failure: LoadFailurePolicy::StuckUnloaded,
    resource_retry_first_ms: 3 * SECOND_MS,
    resource_retry_base_network_ms: 2 * SECOND_MS,
    resource_retry_base_other_ms: 10 * SECOND_MS,
    resource_retry_cap_ms: 30 * SECOND_MS,
    resource_retry_exponent_max: 4,
    keeps_newest_client_token: false,
    offline_returns_stale: true,
    ignores_stale_payloads: false,
    unauth_reload_error_signs_out: true,
    keeps_current_session_only: true,
    signout_needs_sessions: true,
    single_flight_all: false,
    carries_last_token: true,
    refetches_expired_delivery: false,
    payload_selects_initially_only: true,
    set_active_awaits_token: true,
    retry_keeps_session: true,
    signout_always_transitive: true,
    awaits_unauthenticated: true,
    token_not_found_reloads: false,
    retries_missing_expired_token: true,
    starter_settles_last: true,
    load_get_outlives_load: true,
    signout_failure_keeps_state: true,
    per_session_cache: true,
    read_failure: ReadFailurePolicy::DeleteOnThrow,
    // The 3.x token cache awaits `getItemAsync` with no timeout (§5.1).
    storage_read_timeout_ms: None,
    // `@clerk/expo`'s resource-cache recovery stops at a non-retryable status.
    recovery_outlasts_refusals: false,
    // No per-request timeout in non-standard mode (reference §7, open question 7): a request
    // lasts as long as the platform lets it.
    request_timeout_ms: None,
    native_adopts_into_own_cache: false,
    sync_pending_as_signed_out: true,
    set_active_unknown_signs_out: true,
    boot_waits_for_load: false,
    // `remaining = exp − nowSec` with the device's `Date.now()` (reference §4, "Clock skew").
    expiry_clock: ExpiryClock::Device,
};

impl Profile {
    /// Delay before `getToken` retry `n` (0-based): `min(initial × factorⁿ, cap)`.
    pub fn retry_delay_ms(&self, n: u32) -> u64 {
        // Exact integer arithmetic: initial × factorⁿ with no rounding between steps, floored
        // once, as JavaScript's float maths would give (3000 × 1.55³ = 11171.6 → 11171).
        let mut numerator = self.retry_initial_ms as u128;
        let mut denominator = 1u128;
        for _ in 0..n {
            numerator *= self.retry_factor_milli as u128;
            denominator *= 1000;
            if numerator / denominator >= self.retry_cap_ms as u128 {
                return self.retry_cap_ms;
            }
        }
        ((numerator / denominator) as u64).min(self.retry_cap_ms)
    }

    /// Delay before transport retry `k` (0-based) of a GET.
    pub fn get_retry_delay_ms(&self, k: u32) -> u64 {
        if k == 0 {
            self.get_retry_first_ms
        } else {
            (self.get_retry_base_ms << (k - 1).min(16)).min(self.get_retry_cap_ms)
        }
    }

    /// The timers a freshly cached token arms under [`RefreshPolicy::TimerBeforeExpiry`]:
    /// `(evict_in_ms, refresh_in_ms)`, or `None` when the token has already expired (the slot
    /// is dropped). clerk-js `tokenCache.setInternal` counts in whole seconds:
    /// `remaining = exp − ⌊now / 1000⌋`, eviction after `remaining` s, the refresh after
    /// `remaining − 17` s when that is positive. Measured on 6.40.0: a token with `exp` 61 s
    /// cached at 1.100 s is refreshed at 44.100 s, not at 44.000 s as a millisecond count
    /// would give.
    ///
    /// `unix_ms` is the clock the SDK judges expiry by ([`Profile::expiry_clock`]).
    pub fn token_timers(&self, token: &TokenInfo, unix_ms: u64) -> Option<(u64, Option<u64>)> {
        let remaining_s = token.exp as i128 - (unix_ms / SECOND_MS) as i128;
        // `exp − ⌊now / 1000⌋ ≤ 0` exactly when `exp·1000 − now ≤ 0`: one check says both.
        if remaining_s <= 0 {
            return None;
        }
        let remaining_ms = token.remaining_at(unix_ms);
        let lead_s = match self.refresh {
            RefreshPolicy::TimerBeforeExpiry { lead_ms } => (lead_ms / SECOND_MS) as i128,
            RefreshPolicy::Recurring { .. } => return Some((remaining_ms as u64, None)),
        };
        let to_ms = |s: i128| (s as u64).saturating_mul(SECOND_MS);
        let refresh = (remaining_s > lead_s).then(|| to_ms(remaining_s - lead_s));
        Some((to_ms(remaining_s), refresh))
    }

    /// What `NativeSessionSync` takes for `isSignedIn` once JS shows a session of `status`
    /// (`None`: no session): an active one, or a pending one unless the profile counts pending
    /// as signed out.
    pub fn sync_signed_in(&self, loaded: bool, status: Option<SessionStatus>) -> bool {
        loaded
            && match status {
                Some(SessionStatus::Active) => true,
                Some(SessionStatus::Pending) => !self.sync_pending_as_signed_out,
                _ => false,
            }
    }

    /// Sum of every `getToken` retry delay: the longest a call may wait on retries alone.
    pub fn retry_budget_ms(&self) -> u64 {
        (0..self.retries_max).map(|n| self.retry_delay_ms(n)).sum()
    }

    /// Delay before resource-cache recovery attempt `n` after a failure of the given kind.
    pub fn resource_retry_delay_ms(&self, n: u32, network_error: bool) -> u64 {
        let base = if network_error {
            self.resource_retry_base_network_ms
        } else {
            self.resource_retry_base_other_ms
        };
        (base << n.min(self.resource_retry_exponent_max)).min(self.resource_retry_cap_ms)
    }
}

/// One row of the published table of where the two profiles disagree.
#[derive(Clone, Copy, Debug)]
pub struct ProfileDifference {
    pub topic: &'static str,
    pub documented: &'static str,
    pub clerk_js_6: &'static str,
}

/// Where `documented` and `clerk-js-6` disagree. Each row gets a scenario (scenarios issue).
pub const PROFILE_DIFFERENCES: &[ProfileDifference] = &[
    ProfileDifference {
        topic: "cached token near expiry",
        documented: "stale-while-revalidate within 15 s of expiry",
        clerk_js_6: "hit until 5 s before exp, then a blocking fetch",
    },
    ProfileDifference {
        topic: "background refresh",
        documented: "recurring every 45 s while signed in",
        clerk_js_6: "one timer at exp − 17 s per token; skipped once the token expired",
    },
    ProfileDifference {
        topic: "getToken offline",
        documented: "throws network_error at once (cached token with the resource cache)",
        clerk_js_6: "RN counts as online: retries 8 times (~162 s), then throws",
    },
    ProfileDifference {
        topic: "429 Retry-After",
        documented: "waits at least Retry-After",
        clerk_js_6: "ignores Retry-After (3 s × 1.55ⁿ schedule)",
    },
    ProfileDifference {
        topic: "failed load without resource cache",
        documented: "retries, then loaded and signed out, credentials kept; reloads in the \
                     background until the client loads",
        clerk_js_6: "status error, isLoaded false for good",
    },
    ProfileDifference {
        topic: "client token from out-of-order responses",
        documented: "keeps the newest token",
        clerk_js_6: "stores whichever response arrived last",
    },
    ProfileDifference {
        topic: "offline with resource cache, token expired",
        documented: "throws network_error",
        clerk_js_6: "returns the stale cached token",
    },
    ProfileDifference {
        topic: "answer to a request sent before a sign-out arrives after it",
        documented: "ignored: no token or client is taken from it",
        clerk_js_6: "applied: its rotated client token is stored again",
    },
    ProfileDifference {
        topic: "401, then GET /client answers 403 or 500",
        documented: "stays signed in",
        clerk_js_6: "setActive(null): signed out (any other status is rethrown: stays signed in)",
    },
    ProfileDifference {
        topic: "client payload in which the current session was replaced",
        documented: "moves to the client's last active session",
        clerk_js_6: "no session: signed out",
    },
    ProfileDifference {
        topic: "signOut while the client has no session yet (sign-in in flight)",
        documented: "asks the server to remove the client's sessions",
        clerk_js_6: "returns at once without a request; the sign-in completes",
    },
    ProfileDifference {
        topic: "concurrent skipCache calls, or a refresh while a fetch is in flight",
        documented: "share one token request",
        clerk_js_6: "each starts its own token request",
    },
    ProfileDifference {
        topic: "token fetched before a suspension, delivered expired on return",
        documented: "fetched again",
        clerk_js_6: "returned to the caller as it is",
    },
    ProfileDifference {
        topic: "token requests with the session minter on",
        documented: "never carry the last session token",
        clerk_js_6: "carry token=<last session token>; refused once it has expired",
    },
    ProfileDifference {
        topic: "client payload while a client is held",
        documented: "selects the session being switched to, else the last active one",
        clerk_js_6: "keeps the held session only; a new one is current once its setActive touch answers",
    },
    ProfileDifference {
        topic: "setActive touch answers 401",
        documented: "setActive fails",
        clerk_js_6: "swallowed; the client is reloaded and setActive still fetches the session's token",
    },
    ProfileDifference {
        topic: "signOut with sessions on the client but none held (setActive in flight)",
        documented: "the sign-in screen stays until the server answers",
        clerk_js_6: "loading (session undefined) until it ends; a later setActive signs in",
    },
    ProfileDifference {
        topic: "a getToken retry after a sign-out",
        documented: "reads the current session: null",
        clerk_js_6: "keeps posting /tokens for the old session until a 4xx or the last retry",
    },
    ProfileDifference {
        topic: "422 missing_expired_token without the session minter",
        documented: "final: the call fails",
        clerk_js_6: "sent once more with expired_token=<last token>",
    },
    ProfileDifference {
        topic: "signOut whose request fails (5xx, or offline without the resource cache)",
        documented: "signed out locally, the credential wiped",
        clerk_js_6: "left loading, the credential stored, refreshes running, the session active",
    },
    ProfileDifference {
        topic: "a request answered 401",
        documented: "the caller sees the 401 at once; one client reload in the background",
        clerk_js_6: "the caller waits for its own GET /client reload (retried on network errors)",
    },
    ProfileDifference {
        topic: "sessions other than the current one",
        documented: "no cached token; a change of session drops the cached token",
        clerk_js_6: "each session its own cached token and refresh timer, kept across changes",
    },
    ProfileDifference {
        topic: "a token request answered 404",
        documented: "the client is reloaded, as after a 401",
        clerk_js_6: "the fetch fails; nothing is reloaded",
    },
    ProfileDifference {
        topic: "callers that joined a token fetch, when it answers",
        documented: "every waiter hears it in the order it came",
        clerk_js_6: "the callers that joined hear it before the call that started it",
    },
    ProfileDifference {
        topic: "a load that fails on one GET while the other retries a network error",
        documented: "the other GET stops with the load",
        clerk_js_6: "the other GET keeps retrying; nobody reads its answers",
    },
    ProfileDifference {
        topic: "a keychain read of the client token that throws (a locked device, an error)",
        documented: "the request fails as a network error; the token is kept (and a token \
                     already in memory is sent without reading storage)",
        clerk_js_6: "the token cache deletes the item and sends no token: a new anonymous \
                     client, signed out",
    },
    ProfileDifference {
        topic: "a request on a network that hangs (captive portal, dead connection)",
        documented: "given up after 7 s as a network error",
        clerk_js_6: "waits for the platform: 60 s on iOS, for ever on Android",
    },
    ProfileDifference {
        topic: "a device clock ahead of or behind the server",
        documented: "changes nothing: expiry is judged on the server's time",
        clerk_js_6: "expiry judged by the device clock: behind, expired tokens are served; \
                     ahead by a token's lifetime, every token is dropped on arrival",
    },
    ProfileDifference {
        topic: "a keychain read that never settles",
        documented: "given up after 1 s, then as a read that threw",
        clerk_js_6: "awaited forever: the request is never sent",
    },
    ProfileDifference {
        topic: "a native sign-in adopted with a memory token cache",
        documented: "the native token goes into the cache JS reads",
        clerk_js_6: "the native token goes to the secure store, which JS never reads: the \
                     native session is not adopted",
    },
    ProfileDifference {
        topic: "JS switches to a pending session while the native layer holds a session",
        documented: "the native layer keeps its session",
        clerk_js_6: "NativeSessionSync counts pending as signed out and signs native out, \
                     which removes the session the native layer holds on the server",
    },
    ProfileDifference {
        topic: "the native bootstrap's setActive to a session JS's client does not list",
        documented: "JS keeps what it shows",
        clerk_js_6: "setActive goes on with null: JS signs out locally (then NativeSessionSync \
                     signs the native layer out)",
    },
    ProfileDifference {
        topic: "a native session the bootstrap finds while JS is still loading",
        documented: "adopted once JS has loaded",
        clerk_js_6: "adopted at once: the client reloaded, then setActive, while JS loads",
    },
];
