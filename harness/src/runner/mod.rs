//! Running traces and judging them: the model run, the metamorphic twin, known deviations,
//! coverage, and campaigns.
//!
//! An [`Outcome`] is a trace together with its invariant [`Report`]; a failed check is data
//! here, never an `Err` (DESIGN.md §4). [`Coverage`] counts invariant exercise and which
//! (status, event) pairs were reached, and fails a campaign that left a declared-reachable
//! pair or an invariant untouched.

pub mod divergence;
pub mod lockstep;
pub mod shrink;
pub mod spec;
pub mod system;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::generate::{self, Case};
use crate::invariants::{self, InvariantId, Report};
use crate::model::profile::ProfileId;
use crate::model::settings::Setup;
use crate::model::vocab::{Event, SessionId, SessionStatus};
use crate::sim::case_seed;
use crate::trace::{self, Trace};

/// A run and its verdict.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub trace: Trace,
    pub report: Report,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.report.violations.is_empty()
    }
}

/// Runs events through the model and checks every invariant, including the metamorphic
/// `revoked-like-expired` twin when the trace revokes.
pub fn run_model(setup: Setup, events: &[Event], seed: Option<u64>) -> Outcome {
    let trace = trace::run_model(setup, events, seed);
    judge(trace, |events| trace::run_model(setup, events, seed))
}

/// [`run_model`], refusing a run with a step over the model's work budget.
pub fn try_run_model(
    setup: Setup,
    events: &[Event],
    seed: Option<u64>,
) -> Result<Outcome, trace::WorkBudgetExceeded> {
    let trace = trace::try_run_model(setup, events, seed)?;
    Ok(judge(trace, |events| trace::run_model(setup, events, seed)))
}

/// Checks a trace; `rerun` replays an event list on the same system (for the twin).
pub fn judge(trace: Trace, rerun: impl Fn(&[Event]) -> Trace) -> Outcome {
    let mut report = invariants::check(&trace);
    let events = trace.events();
    if events.iter().any(|e| matches!(e, Event::Revoke)) {
        let twin = rerun(&invariants::expired_twin(&events));
        report.merge(invariants::check_revoked_like_expired(&trace, &twin));
    } else {
        report.exercised.entry(InvariantId::RevokedLikeExpired).or_default();
    }
    Outcome { trace, report }
}

/// A generated case, run on the model.
pub fn run_case(case: &Case, seed: Option<u64>) -> Outcome {
    let trace = generate::interpret(case, seed);
    let setup = case.setup;
    judge(trace, |events| trace::run_model(setup, events, seed))
}

/// A place where a profile knowingly breaks an invariant the `documented` contract keeps.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct KnownDeviation {
    pub profile: ProfileId,
    pub invariant: InvariantId,
    pub why: &'static str,
}

/// The `clerk-js-6` profile's known deviations, each shown by a test in
/// `harness/tests/known_deviations.rs`.
pub const KNOWN_DEVIATIONS: &[KnownDeviation] = &[
    KnownDeviation {
        profile: ProfileId::ClerkJs6,
        invariant: InvariantId::CallsSettle,
        why: "a failed load without the resource cache leaves isLoaded false for good, so \
              getToken (which awaits load) never settles; the token cache awaits a keychain \
              read with no timeout, so a read that hangs holds its request forever; and no \
              request has a timeout of its own, so on Android (no platform timeout) a request \
              on a network that hangs never settles",
    },
    KnownDeviation {
        profile: ProfileId::ClerkJs6,
        invariant: InvariantId::SingleFlightRefresh,
        why: "every getToken({skipCache}) starts its own token request, and the background \
              refresh is kept out of the cache, so a miss during it sends a second one",
    },
    KnownDeviation {
        profile: ProfileId::ClerkJs6,
        invariant: InvariantId::RetryDiscipline,
        why: "getToken's retry() ignores Retry-After: a 429 is retried after 3 s whatever \
              the server asked",
    },
    KnownDeviation {
        profile: ProfileId::ClerkJs6,
        invariant: InvariantId::TransientNeverSignsOut,
        why: "handleUnauthenticated signs out when its GET /client answers 5xx, a response \
              carrying a stale client token is stored and then answered with a new empty \
              client (#9217), @clerk/expo's token cache deletes the client token when a \
              keychain read throws (a locked device, a transient error), and a native \
              sign-in racing a JS sign-in answers the native setActive's touch with the \
              native client, which lacks the JS session; on Android the bootstrap's \
              setActive names a native session on another client, which clerk-js takes as \
              null and signs JS out",
    },
    KnownDeviation {
        profile: ProfileId::ClerkJs6,
        invariant: InvariantId::FreshTokenOnly,
        why: "a token fetched before the app was suspended reaches JS expired on return and is \
              returned as it is; with the resource cache, Expo's useAuth returns the cached \
              session token on a network error even when it has expired; and the token cache \
              compares exp with the device clock, so with the clock behind the server it \
              returns tokens that have expired",
    },
    KnownDeviation {
        profile: ProfileId::ClerkJs6,
        invariant: InvariantId::SignoutIsFinal,
        why: "after a sign-out that could not reach the server (offline), a late answer to a \
              request sent before it stores its rotated client token again: Expo saves every \
              Authorization header, and the server still honours that token; with the \
              resource cache the failed removeSessions is swallowed and the token cache, \
              cleared only on success, keeps the client token",
    },
    KnownDeviation {
        profile: ProfileId::ClerkJs6,
        invariant: InvariantId::SignoutSettles,
        why: "signOut sets the session to undefined before it asks the server and rethrows a \
              failed removeSessions: the app stays loading with its credential stored and its \
              refresh timer running; with the resource cache an offline failure is swallowed: \
              signed out on screen, the credential still stored; and signOut returns at once \
              when the client JS holds lists no session, clearing nothing (a native client \
              token JS just saved still restores its session)",
    },
    KnownDeviation {
        profile: ProfileId::ClerkJs6,
        invariant: InvariantId::NothingDestructiveWhileLoading,
        why: "after a failed signOut the app is still loading (session undefined) when the \
              next refreshed token re-renders it as signed out",
    },
    KnownDeviation {
        profile: ProfileId::ClerkJs6,
        invariant: InvariantId::EventuallySignedIn,
        why: "a failed load without the resource cache leaves isLoaded false for good (nothing \
              retries, not even once the network is back); and @clerk/expo's token cache \
              deletes the client token when a keychain read throws, so a locked device signs \
              the user out",
    },
    KnownDeviation {
        profile: ProfileId::ClerkJs6,
        invariant: InvariantId::OneRefreshSchedule,
        why: "each token's refresh timer is set from the device clock (exp − Date.now() − 17 s), \
              so with the clock ahead of the server one schedule refreshes every few seconds \
              (clerk/javascript #865, a refresh loop fixed by syncing the clock)",
    },
    KnownDeviation {
        profile: ProfileId::ClerkJs6,
        invariant: InvariantId::SupersededTokenNeverPresented,
        why: "Expo's after-response hook stores whatever client token the last answer carried: \
              an answer that arrives late (a slow response, or one to a request sent before \
              a sign-out) writes an older token over a newer one, and the next request \
              presents it, which a grace measured in time may no longer cover",
    },
    KnownDeviation {
        profile: ProfileId::ClerkJs6,
        invariant: InvariantId::OneWriterPerCredential,
        why: "Expo's after-response hook stores every answer's client token: an answer to a \
              request sent on the old client that arrives after JS adopted the native \
              layer's client (a native sign-in) stores the old client's token over the one \
              that restores the session; and NativeSessionSync counts a pending session as \
              signed out, so switching JS to one calls the native signOut(), which removes \
              the native layer's session and replaces its device token",
    },
    KnownDeviation {
        profile: ProfileId::ClerkJs6,
        invariant: InvariantId::LayersAgree,
        why: "@clerk/expo's token cache deletes the client token when a keychain read throws, \
              so JS signs out while the native layer keeps the session it signed in with \
              (NativeSessionSync signs native out only when isSignedIn changes)",
    },
    KnownDeviation {
        profile: ProfileId::ClerkJs6,
        invariant: InvariantId::TerminalIsFinal,
        why: "no poller on native: once the refresh timer was skipped (token already expired) \
              nothing asks the server until the app calls getToken",
    },
];

/// Whether every violation in `report` is a known deviation of `profile`.
pub fn only_known_deviations(profile: ProfileId, report: &Report) -> bool {
    report.violations.iter().all(|v| is_known(profile, v.invariant))
}

pub fn is_known(profile: ProfileId, id: InvariantId) -> bool {
    KNOWN_DEVIATIONS.iter().any(|d| d.profile == profile && d.invariant == id)
}

/// The status column of the coverage table: the server's status of the session the SDK last
/// showed, or `none` before any session.
pub fn status_key(status: Option<SessionStatus>) -> &'static str {
    status.map(|s| s.as_str()).unwrap_or("none")
}

/// The (status, event) pairs the model declares reachable: every event in every status, and
/// before any session. Events are inputs, so each can arrive in any state; the campaign
/// must show each pair actually happens. Events addressed to a headless SDK instance count
/// apart (`instance:get_token`, [`Event::coverage_name`]), so each needs its own pairs too.
pub fn declared_reachable() -> BTreeSet<(&'static str, &'static str)> {
    let statuses = std::iter::once("none").chain(SessionStatus::ALL.iter().map(|s| s.as_str()));
    statuses.flat_map(|s| Event::COVERAGE_NAMES.iter().map(move |e| (s, *e))).collect()
}

/// What a campaign reached.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Coverage {
    pub pairs: BTreeMap<(&'static str, &'static str), u64>,
    pub exercised: BTreeMap<InvariantId, u64>,
    pub violated: BTreeMap<InvariantId, u64>,
    pub cases: u64,
    pub steps: u64,
}

impl Coverage {
    pub fn add(&mut self, outcome: &Outcome) {
        self.cases += 1;
        self.steps += outcome.trace.steps.len() as u64;
        let mut focus: Option<SessionId> = None;
        let mut last_status: Option<SessionStatus> = None;
        for step in &outcome.trace.steps {
            *self
                .pairs
                .entry((status_key(last_status), step.event.coverage_name()))
                .or_default() += 1;
            if let Some(s) = step.obs.view.session {
                focus = Some(s.id);
            }
            if focus.is_none() {
                focus = step.obs.server.session.map(|(id, _)| id);
            }
            last_status = focus.and_then(|id| step.obs.server.status_of(id));
        }
        for (id, n) in &outcome.report.exercised {
            *self.exercised.entry(*id).or_default() += n;
        }
        for v in &outcome.report.violations {
            *self.violated.entry(v.invariant).or_default() += 1;
        }
    }

    pub fn merge(&mut self, other: &Coverage) {
        self.cases += other.cases;
        self.steps += other.steps;
        for (k, n) in &other.pairs {
            *self.pairs.entry(*k).or_default() += n;
        }
        for (k, n) in &other.exercised {
            *self.exercised.entry(*k).or_default() += n;
        }
        for (k, n) in &other.violated {
            *self.violated.entry(*k).or_default() += n;
        }
    }

    /// Declared-reachable pairs never reached.
    pub fn missing_pairs(&self) -> Vec<(&'static str, &'static str)> {
        declared_reachable().into_iter().filter(|p| !self.pairs.contains_key(p)).collect()
    }

    /// Invariants that never had a chance to fail.
    pub fn unexercised(&self) -> Vec<InvariantId> {
        InvariantId::ALL
            .iter()
            .copied()
            .filter(|id| self.exercised.get(id).copied().unwrap_or(0) == 0)
            .collect()
    }

    /// The coverage table: invariants exercised and violated, then statuses × events.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{:<36} {:>10} {:>10}", "invariant", "exercised", "violated");
        for id in InvariantId::ALL {
            let _ = writeln!(
                out,
                "{:<36} {:>10} {:>10}",
                id.as_str(),
                self.exercised.get(id).copied().unwrap_or(0),
                self.violated.get(id).copied().unwrap_or(0)
            );
        }
        let statuses: Vec<&str> =
            std::iter::once("none").chain(SessionStatus::ALL.iter().map(|s| s.as_str())).collect();
        let _ = write!(out, "\n{:<15}", "event \\ status");
        for s in &statuses {
            let _ = write!(out, " {:>9}", s);
        }
        out.push('\n');
        for e in Event::COVERAGE_NAMES {
            let _ = write!(out, "{e:<15}");
            for s in &statuses {
                let n = self.pairs.get(&(*s, e)).copied().unwrap_or(0);
                let _ = write!(out, " {:>9}", if n == 0 { "-".to_string() } else { n.to_string() });
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "\n{} cases, {} steps; {} of {} declared (status, event) pairs reached",
            self.cases,
            self.steps,
            self.pairs.len().min(declared_reachable().len()),
            declared_reachable().len()
        );
        out
    }
}

/// A campaign's unexpected failure: the case seed, its shrunk-free trace and the report.
#[derive(Clone, Debug)]
pub struct Failure {
    pub index: u64,
    pub seed: u64,
    pub outcome: Outcome,
}

/// Runs cases `range` of the campaign `seed` on the model under `profile`. Cases are a pure
/// function of (seed, index), so shards cover exactly the cases one run would.
pub fn model_campaign(
    profile: ProfileId,
    seed: u64,
    range: std::ops::Range<u64>,
    steps_max: usize,
    mut on_case: impl FnMut(u64),
) -> (Coverage, Vec<Failure>) {
    let mut coverage = Coverage::default();
    let mut failures = Vec::new();
    for index in range {
        let case_seed = case_seed(seed, index);
        let case = generate::case_from_seed(profile, steps_max, case_seed);
        let outcome = run_case(&case, Some(case_seed));
        coverage.add(&outcome);
        if !only_known_deviations(profile, &outcome.report) {
            failures.push(Failure { index, seed: case_seed, outcome });
        }
        on_case(index);
    }
    (coverage, failures)
}
