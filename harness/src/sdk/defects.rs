//! The defect catalogue as switches of the reference SDK (DESIGN.md §6.2).
//!
//! Every [`Defect`] of the vocabulary is a faithful rendering of a real bug, off by default.
//! The rendering of each lives where the bug lives in the reference SDK (search
//! `Defect::<Name>` in `reference/js/`); this table says what each switch does there:
//!
//! | defect | what the switched-on reference SDK does |
//! | --- | --- |
//! | `ios-native-cache-wipe` | on an iOS cold start the 3.2.7 bootstrap configures the native layer with the JS client token, *in parallel* with the JS load: `syncTokenState` writes `clerkDeviceToken`, and since it differs from the native one it wipes the native cached client; `configure()` resolves before the native session loads; the JS bootstrap, which takes the native session as the truth, polls `getSession()` every 100 ms, gives up after 3 s and sets the session to null — the user lands on sign-in |
//! | `signout-while-loading` | `NativeSessionSync` runs native `signOut()` whenever `!isSignedIn`, and `isSignedIn` is `undefined` while loading: after a JS reload (native still configured) that revokes every session of the client server-side |
//! | `stale-timer-logout` | the background refresh has no headless guard and always carries the last session token; when the timer fires late (after a long background) the session minter refuses the expired origin token with a 401, and the refresh treats that 401 as a sign-out |
//! | `no-single-flight` | every `getToken` caller that misses the cache starts its own token request, even with one in flight |
//! | `redirect-before-loaded` | the route guard tests `isSignedIn === false` before `isLoaded`, so while loading (`undefined`) it renders the protected screen |
//! | `pending-to-sign-in` | the route guard sends a `pending` session to sign-in instead of its task screen |
//! | `revoked-ignored` | the terminal-status list forgets `revoked`: a revoked session in a client payload is kept as the current session |
//! | `retry-401-loop` | the API wrapper has no retry flag: on a 401 it calls plain `getToken()` (a cache hit) and retries again and again (up to [`RETRY_401_LOOP_ATTEMPTS_MAX`]); and calls queued behind a refresh that yields no token are never released |
//! | `memory-only-tokens` | the app's token cache answers `getToken` from memory only (it writes through to secure storage but never reads it), so every cold start sends no client token and lands signed out |
//! | `securestore-truncation` | values are written to expo-secure-store whole instead of chunked, so on iOS anything over 2048 bytes is cut |
//! | `null-offline-logout` | Core 2: `getToken` answers `null` at once while offline, and the app treats a `null` token as a sign-out (drops the session, deletes the client token) |
//! | `no-foreground-refresh` | no refresh on return to the foreground; the app's API wrapper reuses the last token it saw for the first call after resuming instead of asking for a fresh one |
//! | `token-cache-deletes-on-read-error` | the token cache deletes the client token on any keychain read that throws (`@clerk/expo`'s rule, whatever the profile) and sends no token |
//! | `locked-read-as-absent` | the token cache stores its items `when_unlocked` and answers a read that fails with "no token" (nothing deleted): the request goes out without a client token |
//! | `corrupt-read-stalls-load` | a stored value that does not parse escapes the token cache as an unhandled rejection: the request never goes out |
//! | `storage-read-no-timeout` | the token cache awaits a keychain read forever (no timeout) |
//! | `signout-keeps-credential` | a sign-out whose request fails clears the session on screen and the resource cache but leaves the client token stored |
//! | `offline-start-gives-up` | a failed load is final: `isLoaded` false for good, nothing retries |
//! | `refresh-loop-per-resume` | every return to the foreground arms one more background refresh loop (every refresh period) that nothing ever clears |
//! | `timer-only-expiry` | a cached token is a hit until its eviction timer removes it: the cache never compares `exp` with the wall clock |
//! | `no-request-timeout` | no request timeout of its own: on a network that hangs a request waits for the platform's (iOS 60 s), on Android for ever |
//! | `load-waits-for-online-edge` | the load goes out only once a connectivity listener says "online": at once when the listener reports the current state and the network is up, else at the next change to online heard while JS runs |
//! | `expiry-from-device-clock` | the token cache judges `exp` against the device's `Date.now()` (clerk-js-6's rule, whatever the profile): a clock behind keeps expired tokens fresh |
//! | `refresh-stops-on-background-event` | an AppState `background` event stops the refresh (the recurring loop, or each token's refresh timer) and only an `active` event starts it again: a dropped or late `active` leaves the foreground app without refreshes |
//! | `native-token-overwrites-js` | (`native: true`) once JS has loaded, the 3.4.5–3.7.7 native → JS sync reads the native device token and, when it differs from the JS one, saves it into the JS token cache and refetches the client with it, unguarded: a native layer on an anonymous client (after a JS-only sign-in) signs JS out silently (#9217) |
//! | `template-never-expires` | a JWT template's cached token has no expiry of its own: no eviction or refresh timer, `exp` never compared, so `getToken({ template })` answers it, expired or not, until the cache is cleared |
//! | `unauthenticated-adopts-native` | (`native: true`) `handleUnauthenticated` first saves the native device token into the JS token cache when it differs (3.4.5–4.0.2's patch, unguarded), so the client reload after any 401 carries the native client's token: a native layer on its own anonymous client signs JS out |
//! | `android-requires-native-module` | (Android, `native` off) the package's import throws for want of the `ClerkExpo` module: nothing of Clerk runs and the app's load never ends |
//! | `token-cache-unbound-methods` | the app's secure-store token cache is a class instance whose methods the request hooks call unbound: every read throws, the hook's promise rejects unhandled and no request goes out |
//! | `refresh-error-removes-session` | a background token refresh answered by a network error (dropped, timed out, offline) signs the user out: the session slot cleared and the client token deleted |
//! | `empty-client-clobber` | on return to the foreground the native layer pushes the device token it was configured with into JS, which stores it and reloads the client; an already-rotated (stale) token gets a new empty client, which JS stores and applies — a silent sign-out (#9217) |

use crate::model::vocab::Defect;

/// `retry-401-loop`: how many backend attempts the loop makes before giving up, so a run
/// with the defect still terminates.
pub const RETRY_401_LOOP_ATTEMPTS_MAX: u8 = 4;

/// A set of switched-on defects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Defects(u32);

impl Defects {
    pub const NONE: Defects = Defects(0);

    pub fn of(defects: &[Defect]) -> Defects {
        Defects(defects.iter().fold(0, |bits, d| bits | Self::bit(*d)))
    }

    fn bit(defect: Defect) -> u32 {
        let index = Defect::ALL.iter().position(|d| *d == defect).expect("every defect is in ALL");
        1 << index
    }

    pub fn has(self, defect: Defect) -> bool {
        self.0 & Self::bit(defect) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The switched-on defects, in catalogue order.
    pub fn list(self) -> Vec<Defect> {
        Defect::ALL.into_iter().filter(|d| self.has(*d)).collect()
    }

    /// `reference` or `reference+a+b`, as traces and `--sdk` name it.
    pub fn sdk_name(self) -> String {
        let mut name = "reference".to_string();
        for d in self.list() {
            name.push('+');
            name.push_str(d.as_str());
        }
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_round_trip_through_names() {
        assert_eq!(Defects::NONE.sdk_name(), "reference");
        let d = Defects::of(&[Defect::NoSingleFlight, Defect::IosNativeCacheWipe]);
        assert!(d.has(Defect::NoSingleFlight) && d.has(Defect::IosNativeCacheWipe));
        assert!(!d.has(Defect::RevokedIgnored));
        assert_eq!(d.sdk_name(), "reference+ios-native-cache-wipe+no-single-flight");
        assert_eq!(Defects::of(&Defect::ALL).list(), Defect::ALL.to_vec());
    }
}
