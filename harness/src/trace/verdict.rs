//! The verdict vocabulary of a judged trace: the invariant ids with their one-sentence
//! statements ([`InvariantId`]), a broken invariant ([`Violation`]) and the result of checking
//! one trace ([`Report`]). The checks live in `invariants/`, which re-exports these; they sit
//! here, beside the trace they judge, so that the step table and the timeline can show a
//! verdict without importing the checks (no import circle between `trace` and `invariants`).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::time::{VTime, format_clock};

macro_rules! invariants {
    ($($variant:ident = $id:literal : $statement:literal,)*) => {
        /// The id of an invariant.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum InvariantId {
            $(#[doc = $statement] #[serde(rename = $id)] $variant,)*
        }

        impl InvariantId {
            pub const ALL: &'static [InvariantId] = &[$(InvariantId::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(InvariantId::$variant => $id,)* }
            }

            /// The one-sentence statement.
            pub fn statement(self) -> &'static str {
                match self { $(InvariantId::$variant => $statement,)* }
            }

            pub fn parse(text: &str) -> Option<InvariantId> {
                match text { $($id => Some(InvariantId::$variant),)* _ => None }
            }
        }
    };
}

invariants! {
    LoadedBeforeProtected = "loaded-before-protected":
        "no protected screen is rendered before `isLoaded`",
    PendingRoutesToTask = "pending-routes-to-task":
        "a pending session is never routed to sign-in; it goes to its task",
    RevokedLikeExpired = "revoked-like-expired":
        "a revoked session produces the same observations as an expired one",
    RestoreAfterColdStart = "restore-after-cold-start":
        "a valid persisted client token and an active server session restore the signed-in state within a deadline after `cold_start` or `js_reload`, on every platform",
    NothingDestructiveWhileLoading = "nothing-destructive-while-loading":
        "no sign-out, revoke or storage wipe is issued while auth state is unresolved",
    SingleFlightRefresh = "single-flight-refresh":
        "at most one token request per session and JWT template is in flight; concurrent callers share it",
    FreshTokenOnly = "fresh-token-only":
        "no token whose `exp` has passed is returned by `getToken` or reaches the backend",
    TransientNeverSignsOut = "transient-never-signs-out":
        "offline, timeouts, 5xx, 429, dropped responses, late timers and transient storage failures (a locked keychain, a read that throws or times out) never end a session or delete credentials",
    TerminalIsFinal = "terminal-is-final":
        "a session that reached a terminal status never becomes active again, and the app reaches sign-in within one refresh cycle once in the foreground (a failed request, or one answered slower than twice the network latency, restarts the cycle)",
    CallsSettle = "calls-settle":
        "every `getToken`, API call and load settles within the profile's retry budget",
    RetryDiscipline = "retry-discipline":
        "a 401 is retried at most once, with a fresh token; no retry on other 4xx; 429 waits at least `Retry-After`",
    SignoutIsFinal = "signout-is-final":
        "after sign-out no credential is persisted and no late response writes one back (ending one session of a multi-session client may keep the others)",
    StorageRoundTrips = "storage-round-trips":
        "what the SDK persists reads back whole after a cold start",
    ReturnToPreserved = "return-to-preserved":
        "after re-authentication the user lands where they were when the session ended",
    SignoutSettles = "signout-settles":
        "sign-out ends locally: when a sign-out call settles, whatever its request did, the app is signed out with no stored credential that restores the session, or still signed in with its session active on the server; never a half state",
    EventuallySignedIn = "eventually-signed-in":
        "with a stored credential the server honours, readable storage, the network up and the app in the foreground, the app is loaded and signed in within 90 s of the last event that changed the world (also after an offline start, once storage reads again, and after app-state changes)",
    OneRefreshSchedule = "one-refresh-schedule":
        "at most one refresh schedule per token (a session's, or one of its JWT templates'): background refreshes of a token are never closer than half the profile's refresh period, unless one retries the other",
    SupersededTokenNeverPresented = "superseded-token-never-presented":
        "no JS request presents a client token after JS received and stored a successor of it (a newer version, or a newer epoch, of the same client) that the instance's `token_reuse` grace no longer covers: a newer epoch, more rotations ahead than the grace, or minted longer before the presentation than the grace; a successor JS did not store (its write failed, an answer it ignored as stale, a memory token cache), storage the device replaced (a reinstall, a backup restore), and a client JS reconciled with by adopting the native layer's token (`getClientToken`) do not count",
    OneWriterPerCredential = "one-writer-per-credential":
        "a write to a stored client identity (JS's `__clerk_client_jwt`; the native layer's `clerkDeviceToken` when it restores a session JS has shown and the native SDK holds) that restored a signed-in session at the start of a step never leaves it restoring no session at the step's end, unless in that step the user signed in or out, ended a session or signed in natively (or such a call of theirs was still open), the server ended that session or put it out of the device's reach (reuse policy), the device reinstalled or restored a backup, or a storage operation on that item failed since it last stored a credential",
    LayersAgree = "layers-agree":
        "with the native module, whenever the app is settled (running in the foreground, online, awake, loaded, no call or request open), a session the native layer holds (`getSession`) that the server keeps signed in is the session JS shows (or JS shows a session: in multi-session mode, or when JS moved from one session to another without signing out in between, as `NativeSessionSync` syncs once per signed-in period), if JS has shown that session before (a native sign-in JS never adopted — Android sends JS no event; a failed adoption is swallowed — is not JS's to show) the native layer did not keep it through a `signOut()` (iOS keeps it when the removal fails, `E_SIGN_OUT_FAILED`, or when ClerkKit is not configured), and no JS sign-in of the user's raced it (a native sign-in made while a JS sign-in was in flight, or a session JS stopped showing while one was: the user signed in twice); and between two events other than advance, get_token, api_call and navigate, while none of the user's calls (sign-in, sign-out, session end or removal, setActive, task completion) is open or lands, the route moves between sign-in and a signed-in screen at most four times (no loop)",
}

impl fmt::Display for InvariantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One broken invariant: data, not an error.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Violation {
    pub invariant: InvariantId,
    pub step: u32,
    pub at: VTime,
    pub expected: String,
    pub observed: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invariant `{}` broken at step {} (t={})\n  expected {}, observed {}",
            self.invariant,
            self.step,
            format_clock(self.at.ms()),
            self.expected,
            self.observed
        )
    }
}

/// The result of checking one trace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub violations: Vec<Violation>,
    /// How often each invariant had a chance to fail.
    pub exercised: BTreeMap<InvariantId, u64>,
}

impl Report {
    pub fn broken(&self) -> Vec<InvariantId> {
        let mut ids: Vec<InvariantId> = self.violations.iter().map(|v| v.invariant).collect();
        ids.sort();
        ids.dedup();
        ids
    }

    pub fn first(&self, id: InvariantId) -> Option<&Violation> {
        self.violations.iter().find(|v| v.invariant == id)
    }

    pub(crate) fn exercise(&mut self, id: InvariantId, n: u64) {
        *self.exercised.entry(id).or_default() += n;
    }

    pub(crate) fn violate(
        &mut self,
        id: InvariantId,
        step: u32,
        at: VTime,
        expected: String,
        observed: String,
    ) {
        self.violations.push(Violation { invariant: id, step, at, expected, observed });
    }

    /// Adds another report's findings (the metamorphic twin's, for instance).
    pub fn merge(&mut self, other: Report) {
        self.violations.extend(other.violations);
        for (id, n) in other.exercised {
            self.exercise(id, n);
        }
    }
}
