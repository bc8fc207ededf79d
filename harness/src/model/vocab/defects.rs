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
