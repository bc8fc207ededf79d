//! The defect catalogue's names: switchable bugs of the reference SDK (DESIGN.md §6.2). What
//! each switch does lives in `sdk/defects.rs`.

use std::fmt;

use serde::{Deserialize, Serialize};

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
    /// A keychain read that throws (a locked device, a transient error) makes the token cache
    /// delete the client token and send none: FAPI mints an anonymous client, the user is
    /// signed out. Source: `@clerk/expo`'s token cache (clerk/javascript
    /// `packages/expo/src/token-cache/index.ts`, every version);
    /// <https://github.com/supabase/auth-js/issues/141>;
    /// <https://github.com/aws-amplify/amplify-swift/issues/3972>.
    TokenCacheDeletesOnReadError,
    /// An app's own token cache: expo-secure-store's default `WHEN_UNLOCKED` class, and a read
    /// error read as "no token". Woken in the background while the device is locked, the
    /// load goes out without a client token, and the anonymous client it gets replaces the
    /// credential. Source: <https://github.com/better-auth/better-auth/issues/10382>;
    /// <https://github.com/firebase/firebase-ios-sdk/issues/9869>.
    LockedReadAsAbsent,
    /// A stored value that does not parse throws out of the token cache as an unhandled
    /// rejection: the request waiting on it never goes out, and a load stays loading.
    /// Source: <https://github.com/supabase/supabase-js/issues/2494>.
    CorruptReadStallsLoad,
    /// The token cache awaits a keychain read with no timeout: a read that never settles
    /// holds its request, and whoever waits on it, forever. Source:
    /// <https://github.com/expo/expo/issues/6179>;
    /// <https://github.com/react-native-async-storage/async-storage/issues/11>.
    StorageReadNoTimeout,
    /// A sign-out whose request fails (offline, 5xx) clears the session on screen but leaves
    /// the client token stored: the next launch signs the user back in. Source:
    /// <https://github.com/clerk-community/clerk-sdk-flutter/issues/401>;
    /// <https://github.com/supabase/supabase-js/issues/2501>.
    SignoutKeepsCredential,
    /// A load that fails (offline at launch) is never tried again, not even once the network
    /// returns. Source: <https://github.com/clerk/clerk-android/issues/853>;
    /// <https://github.com/clerk/javascript/issues/3563>.
    OfflineStartGivesUp,
    /// Every return to the foreground arms another refresh loop and never clears the old
    /// one, so loops pile up, each refreshing on its own. Source:
    /// <https://github.com/manfredsteyer/angular-oauth2-oidc/issues/1509>;
    /// <https://github.com/supabase/auth-js/issues/213>.
    RefreshLoopPerResume,
    /// The token cache trusts its timers: a cached token is fresh until its eviction timer
    /// removes it, never checked against the wall clock. Timers stop while the device sleeps,
    /// so after a sleep `getToken` returns a token that has expired. Source:
    /// <https://github.com/okta/okta-auth-js/issues/557>;
    /// <https://github.com/hypothesis/client/pull/384>.
    TimerOnlyExpiry,
    /// No request timeout of its own: on a network that hangs (a captive portal, a dead
    /// pooled connection) a request lasts as long as the platform lets it, for ever on
    /// Android, and every caller waiting on it waits as long. Source:
    /// <https://github.com/facebook/react-native/issues/5010>;
    /// <https://github.com/facebook/react-native/issues/17483>;
    /// <https://github.com/firebase/firebase-js-sdk/issues/8490>.
    NoRequestTimeout,
    /// The load waits for a connectivity listener to report "online" before it goes out. A
    /// listener that reports changes only never does on a network that is already up, so the
    /// app stays loading until the network changes. Source:
    /// <https://github.com/clerk/javascript/issues/8968>;
    /// <https://github.com/react-native-netinfo/react-native-netinfo/issues/254>.
    LoadWaitsForOnlineEdge,
    /// The token cache judges `exp` against the device's `Date.now()`: with the clock behind
    /// the server a cached token stays fresh after it expired, and `getToken` returns it.
    /// Source: <https://github.com/clerk/javascript/pull/672>;
    /// <https://github.com/openid/AppAuth-iOS/issues/443>;
    /// <https://github.com/supabase/auth-js/issues/926>.
    ExpiryFromDeviceClock,
    /// The refresh is stopped on an AppState `background` event and started again only on an
    /// `active` one (the pattern supabase-js recommends for React Native). When the `active`
    /// event never reaches JS, or comes late, the app is in the foreground with no refresh:
    /// a session revoked on the server stays on screen. Source:
    /// <https://github.com/facebook/react-native/issues/18836>;
    /// <https://github.com/facebook/react-native/issues/50415>;
    /// <https://github.com/supabase/supabase-js/issues/1203>.
    RefreshStopsOnBackgroundEvent,
    /// @clerk/expo 3.4.5–3.7.7's unconditional native → JS sync: once JS has loaded it takes
    /// the native device token as the truth, saves it into the JS token cache and refetches
    /// the client, with no guard. A native layer on another client (an anonymous one after a
    /// JS-only sign-in) replaces the JS credential: FAPI answers 200 with an empty client, a
    /// silent sign-out. The native half of the same era comes with it: the native refresh
    /// presents its in-memory client's stale token (`NativeVariant::StaleTokenRefresh`, the
    /// race #9589's maintainers describe as fixed by 4.0.3's guard and 4.2.8). Source:
    /// <https://github.com/clerk/javascript/issues/9217>;
    /// <https://github.com/clerk/javascript/pull/9222> (the guards of 4.0.3);
    /// shared/reference/clerk-expo-behaviour.md §2.3, §7.3.
    NativeTokenOverwritesJs,
    /// The token cache keeps a JWT template's token with no expiry of its own: no eviction
    /// timer, its `exp` never read, so `getToken({ template })` answers the same token, expired
    /// or not, until something clears the cache. Source:
    /// <https://github.com/clerk/javascript/issues/923> (`getToken({ template: "supabase" })`
    /// answers the same one-minute JWT later in the session, after it expired).
    TemplateNeverExpires,
    /// @clerk/expo 3.4.5–4.0.2's patched `handleUnauthenticated`: on a 401 JS first refreshes
    /// its client from the native layer's state — the native device token saved into the JS
    /// token cache, the client refetched with it — with no check that the native client is the
    /// one JS was signed in on. A native layer on its own anonymous client signs JS out on any
    /// 401. Source: <https://github.com/clerk/javascript/pull/8879> (the patch);
    /// <https://github.com/clerk/javascript/issues/9217>;
    /// <https://github.com/clerk/javascript/pull/9222> (its review: the 401 recovery path
    /// still reproduces the bug); shared/reference/clerk-expo-behaviour.md §7.3, §7.4.
    UnauthenticatedAdoptsNative,
    /// @clerk/expo 3.4.0–3.7.8 on Android requires the `ClerkExpo` native module at import time
    /// (`requireNativeModule`, which throws) although the rest of the package degrades to JS
    /// only without it: where the module is absent (Expo Go), importing `ClerkProvider` throws
    /// and Clerk never loads. Source: <https://github.com/clerk/javascript/issues/9197>.
    AndroidRequiresNativeModule,
    /// @clerk/expo ≤ 3.3.0 passes the app's token cache methods on unbound
    /// (`const getToken = tokenCache.getToken`): a token cache written as a class instance,
    /// whose methods use `this`, throws on every call, so the request hooks reject, no request
    /// goes out and the app stays loading for good ("stuck loading forever on
    /// `<ClerkLoaded>`"). Source: <https://github.com/clerk/javascript/pull/8713>.
    TokenCacheUnboundMethods,
    /// A background token refresh that fails with a network error (a dropped connection, a
    /// timeout) is taken as the end of the session: the session is removed and the client
    /// token deleted, although the device was only briefly unreachable. Source:
    /// <https://github.com/supabase/auth-js/pull/710> ("if `_callRefreshToken` failed with a
    /// network error, the session would have been removed").
    RefreshErrorRemovesSession,
}

impl Defect {
    pub const ALL: [Defect; 31] = [
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
        Defect::TokenCacheDeletesOnReadError,
        Defect::LockedReadAsAbsent,
        Defect::CorruptReadStallsLoad,
        Defect::StorageReadNoTimeout,
        Defect::SignoutKeepsCredential,
        Defect::OfflineStartGivesUp,
        Defect::RefreshLoopPerResume,
        Defect::TimerOnlyExpiry,
        Defect::NoRequestTimeout,
        Defect::LoadWaitsForOnlineEdge,
        Defect::ExpiryFromDeviceClock,
        Defect::RefreshStopsOnBackgroundEvent,
        Defect::NativeTokenOverwritesJs,
        Defect::TemplateNeverExpires,
        Defect::UnauthenticatedAdoptsNative,
        Defect::AndroidRequiresNativeModule,
        Defect::TokenCacheUnboundMethods,
        Defect::RefreshErrorRemovesSession,
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
            Defect::TokenCacheDeletesOnReadError => "token-cache-deletes-on-read-error",
            Defect::LockedReadAsAbsent => "locked-read-as-absent",
            Defect::CorruptReadStallsLoad => "corrupt-read-stalls-load",
            Defect::StorageReadNoTimeout => "storage-read-no-timeout",
            Defect::SignoutKeepsCredential => "signout-keeps-credential",
            Defect::OfflineStartGivesUp => "offline-start-gives-up",
            Defect::RefreshLoopPerResume => "refresh-loop-per-resume",
            Defect::TimerOnlyExpiry => "timer-only-expiry",
            Defect::NoRequestTimeout => "no-request-timeout",
            Defect::LoadWaitsForOnlineEdge => "load-waits-for-online-edge",
            Defect::ExpiryFromDeviceClock => "expiry-from-device-clock",
            Defect::RefreshStopsOnBackgroundEvent => "refresh-stops-on-background-event",
            Defect::NativeTokenOverwritesJs => "native-token-overwrites-js",
            Defect::TemplateNeverExpires => "template-never-expires",
            Defect::UnauthenticatedAdoptsNative => "unauthenticated-adopts-native",
            Defect::AndroidRequiresNativeModule => "android-requires-native-module",
            Defect::TokenCacheUnboundMethods => "token-cache-unbound-methods",
            Defect::RefreshErrorRemovesSession => "refresh-error-removes-session",
        }
    }

    pub fn parse(text: &str) -> Option<Defect> {
        Self::ALL.into_iter().find(|d| d.as_str() == text)
    }
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
