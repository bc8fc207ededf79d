//! Refresh-race fuzzing and the defect hunt: traces built to put several token and API calls
//! in flight at once, and the loop that finds, unaided, the invariant each defect breaks.
//!
//! A race case ([`RaceCase`]) is a setup and raw choices; [`race_events`] turns them into
//! events after a fixed warm-up (launch, sign in): `get_token` (with and without
//! `skipCache`) and API calls issued in bursts, latency faults drawn from the choices so
//! responses complete out of order, 401s and other faults, app state and network flipping
//! mid-flight, short waits and long ones (timers that fire hours late on return). No model
//! is consulted, so the same choices are the same events: same seed, same interleaving.
//! proptest shrinks the choices; [`shrink`] then tidies the events themselves.
//!
//! [`hunt`] runs cases from one seed against the reference SDK with a defect switched on,
//! alternating the two profiles and two generators (this one, and the model-guided
//! [`generate`] one), until a case breaks an invariant that is not a known deviation of its
//! profile; then it shrinks that case. [`Catch`] is one row of the defect matrix.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::generate;
use crate::invariants::InvariantId;
use crate::model::profile::ProfileId;
use crate::model::settings::Setup;
use crate::model::time::{HOUR_MS, MINUTE_MS};
use crate::model::vocab::{
    AppPath, AppState, Defect, Endpoint, Event, FaultKind, FaultSpec, Network,
};
use crate::runner::is_known;
use crate::runner::lockstep::judge_reference;
use crate::sim::{SeedRng, case_seed};

/// Latencies a race case draws for its latency faults: from quick to past a token's life,
/// so answers overtake each other.
pub const RACE_LATENCIES_MS: [u64; 8] = [20, 60, 150, 400, 1_200, 5_000, 20_000, 70_000];

/// Longest choice list of a race case.
pub const RACE_CHOICES_MAX: usize = 24;

/// Steps of the general generator's cases in a hunt (kept short: short cases shrink fast).
pub const HUNT_STEPS_MAX: usize = 30;

/// One raw choice: which kind of event, and a parameter for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RaceChoice {
    pub kind: u8,
    pub param: u32,
}

/// A generated race case before interpretation.
#[derive(Clone, Debug)]
pub struct RaceCase {
    pub setup: Setup,
    pub choices: Vec<RaceChoice>,
}

/// The strategy of race cases for `profile`.
pub fn race_strategy(profile: ProfileId) -> impl Strategy<Value = RaceCase> {
    let choice = (any::<u8>(), any::<u32>()).prop_map(|(kind, param)| RaceChoice { kind, param });
    (generate::setup_strategy(profile), prop::collection::vec(choice, 1..=RACE_CHOICES_MAX))
        .prop_map(|(setup, choices)| RaceCase { setup, choices })
}

/// The race case a seed gives, without proptest's runner loop.
pub fn race_case_from_seed(profile: ProfileId, seed: u64) -> RaceCase {
    let bytes = SeedRng::new(seed).fork("race.case").seed_bytes();
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    );
    race_strategy(profile).new_tree(&mut runner).expect("the race strategy never rejects").current()
}

/// Log-uniform from 1 ms to 2^`exponents` ms, integers only.
fn log_uniform(param: u32, exponents: u32) -> u64 {
    let exponent = param % exponents;
    let base = 1u64 << exponent;
    base + (param as u64 >> 5) % base
}

/// The warm-up every race case starts with: launch, wait for load, sign in, wait.
pub fn warm_up() -> Vec<Event> {
    vec![
        Event::ColdStart,
        Event::Advance { ms: 200 },
        Event::SignIn { task: None },
        Event::Advance { ms: 200 },
    ]
}

/// The events of a race case: the warm-up, then one event per choice.
pub fn race_events(case: &RaceCase) -> Vec<Event> {
    let mut events = warm_up();
    events.extend(case.choices.iter().map(|c| race_event(*c)));
    events
}

fn race_event(c: RaceChoice) -> Event {
    let p = c.param;
    let count = 1 + (p >> 16) % 3;
    let on_tokens = (p >> 20).is_multiple_of(2);
    let fault = |kind: FaultKind, on: Option<Endpoint>| Event::Fault(FaultSpec { kind, count, on });
    match c.kind % 32 {
        0..=3 => Event::GetToken { skip_cache: false, template: None },
        4..=5 => Event::GetToken { skip_cache: true, template: None },
        6..=9 => Event::ApiCall { path: AppPath::new(generate::PATHS[p as usize % 4]) },
        10..=11 => fault(
            FaultKind::Latency { ms: RACE_LATENCIES_MS[p as usize % RACE_LATENCIES_MS.len()] },
            Some(Endpoint::Tokens),
        ),
        12 => fault(
            FaultKind::Latency { ms: RACE_LATENCIES_MS[p as usize % RACE_LATENCIES_MS.len()] },
            None,
        ),
        13 => fault(FaultKind::Unauthorized, on_tokens.then_some(Endpoint::Tokens)),
        14 => {
            let kind = match p % 5 {
                0 => FaultKind::ServerError { status: 503 },
                1 => {
                    FaultKind::RateLimited { retry_after_ms: [1_000, 5_000][(p >> 3) as usize % 2] }
                }
                2 => FaultKind::DropBeforeCommit,
                3 => FaultKind::DropAfterCommit,
                _ => FaultKind::MissingExpiredToken,
            };
            let on =
                [Some(Endpoint::Tokens), Some(Endpoint::GetClient), None][(p >> 8) as usize % 3];
            fault(kind, on)
        }
        15..=18 => Event::Advance { ms: log_uniform(p, 13) },
        // Long waits: in the background they make timers fire hours late on return.
        19..=20 => Event::Advance { ms: MINUTE_MS + (p as u64 * 7_919) % (8 * HOUR_MS) },
        21..=22 => Event::AppState { state: AppState::Background },
        23..=24 => Event::AppState { state: AppState::Active },
        25 => Event::AppState { state: AppState::Inactive },
        26 => Event::Network { state: Network::Offline },
        27 => Event::Network { state: Network::Online },
        28 => [Event::Revoke, Event::ExpireNow, Event::AbandonNow][p as usize % 3].clone(),
        29..=30 => [Event::Kill, Event::ColdStart, Event::JsReload][p as usize % 3].clone(),
        31 => [
            Event::SignOut,
            Event::SignIn { task: None },
            Event::Navigate { path: AppPath::new(generate::PATHS[p as usize % 4]) },
        ][p as usize % 3]
            .clone(),
        _ => unreachable!("kind % 32 is covered"),
    }
}

/// Invariants broken on the reference SDK with `defects` that are not known deviations of
/// the profile.
pub fn unexpected(setup: Setup, defects: &[Defect], events: &[Event]) -> Vec<InvariantId> {
    let outcome = judge_reference(setup, defects, events, None);
    let mut broken: Vec<InvariantId> = outcome
        .report
        .violations
        .iter()
        .map(|v| v.invariant)
        .filter(|id| !is_known(setup.profile, *id))
        .collect();
    broken.sort();
    broken.dedup();
    broken
}

/// The invariants `events` break on the reference SDK with `defect` on and hold with it off:
/// a case that the defect-free SDK fails too catches nothing (it would "catch" every defect).
pub fn due_to(defect: Defect, setup: Setup, events: &[Event]) -> Vec<InvariantId> {
    let broken = unexpected(setup, &[defect], events);
    if broken.is_empty() {
        return broken;
    }
    let without = unexpected(setup, &[], events);
    broken.into_iter().filter(|id| !without.contains(id)).collect()
}

/// Shrinks `events` while `fails` holds: drops chunks, then single events, then shortens
/// waits, until nothing smaller fails. At most `tries_max` runs.
pub fn shrink(events: &[Event], tries_max: usize, fails: impl Fn(&[Event]) -> bool) -> Vec<Event> {
    let mut best = events.to_vec();
    let mut tries = 0;
    let mut progress = true;
    while progress && tries < tries_max {
        progress = false;
        let mut size = (best.len() / 2).max(1);
        loop {
            let mut start = 0;
            while start < best.len() && tries < tries_max {
                let end = (start + size).min(best.len());
                let mut candidate = best[..start].to_vec();
                candidate.extend_from_slice(&best[end..]);
                tries += 1;
                if !candidate.is_empty() && fails(&candidate) {
                    best = candidate;
                    progress = true;
                } else {
                    start += size;
                }
            }
            if size == 1 {
                break;
            }
            size /= 2;
        }
        // Merge neighbouring waits, then shorten them.
        let mut i = 0;
        while i + 1 < best.len() && tries < tries_max {
            if let (Event::Advance { ms: a }, Event::Advance { ms: b }) = (&best[i], &best[i + 1]) {
                let mut candidate = best.clone();
                candidate[i] = Event::Advance { ms: a + b };
                candidate.remove(i + 1);
                tries += 1;
                if fails(&candidate) {
                    best = candidate;
                    progress = true;
                    continue;
                }
            }
            i += 1;
        }
        for i in 0..best.len() {
            let Event::Advance { ms } = best[i] else { continue };
            for smaller in [ms / 10, ms / 2] {
                if smaller == 0 || tries >= tries_max {
                    continue;
                }
                let mut candidate = best.clone();
                candidate[i] = Event::Advance { ms: smaller };
                tries += 1;
                if fails(&candidate) {
                    best = candidate;
                    progress = true;
                    break;
                }
            }
        }
    }
    best
}

/// One row of the defect matrix.
#[derive(Clone, Debug)]
pub struct Catch {
    pub defect: Defect,
    pub caught: bool,
    /// The invariants the first catching case broke (not known deviations).
    pub invariants: Vec<InvariantId>,
    /// Cases run until the catch (all of them when not caught).
    pub cases: u64,
    /// The catching case: its seed, setup, and the shrunk events.
    pub case_seed: u64,
    pub setup: Option<Setup>,
    pub shrunk: Vec<Event>,
}

impl Catch {
    pub fn shrunk_steps(&self) -> usize {
        self.shrunk.len()
    }
}

/// The events of hunt case `index` of `seed`: profiles alternate every case, generators every
/// two (the race generator, and the model-guided general one).
pub fn hunt_case(seed: u64, index: u64) -> (Setup, Vec<Event>, u64) {
    let profile = ProfileId::ALL[(index % 2) as usize];
    let case_seed = case_seed(seed, index);
    if (index / 2).is_multiple_of(2) {
        let case = race_case_from_seed(profile, case_seed);
        (case.setup, race_events(&case), case_seed)
    } else {
        let case = generate::case_from_seed(profile, HUNT_STEPS_MAX, case_seed);
        (case.setup, generate::interpret(&case, None).events(), case_seed)
    }
}

/// A shrunk catch this short is good enough to stop looking for a shorter one.
pub const SHRUNK_STEPS_GOOD: usize = 8;

/// Catches to shrink at most, looking for a counterexample of [`SHRUNK_STEPS_GOOD`] steps.
const CATCHES_MAX: usize = 4;

/// Hunts `defect` with cases of `seed` until caught or `cases_max` ran, and shrinks the catch.
/// A catch whose shrunk form is still long is kept looking for a shorter one: a few more
/// catches are shrunk (each greedy shrink finds *a* minimal trace, not the shortest), and
/// the shortest wins. `cases` counts the cases until the first catch.
pub fn hunt(defect: Defect, seed: u64, cases_max: u64) -> Catch {
    hunt_observed(defect, seed, cases_max, &mut |_| {})
}

/// [`hunt`], calling `on_first_catch(cases)` the moment the first case breaks an invariant
/// (before any shrinking), so a caller can time how long the catch itself took.
pub fn hunt_observed(
    defect: Defect,
    seed: u64,
    cases_max: u64,
    on_first_catch: &mut dyn FnMut(u64),
) -> Catch {
    let mut best: Option<Catch> = None;
    let mut catches = 0;
    for index in 0..cases_max {
        let (setup, events, case_seed) = hunt_case(seed, index);
        let broken = due_to(defect, setup, &events);
        if broken.is_empty() {
            continue;
        }
        if best.is_none() {
            on_first_catch(index + 1);
        }
        // Shrink towards the same invariants: a smaller trace that breaks something else
        // would explain a different story.
        let shrunk = shrink(&events, 400, |candidate| {
            due_to(defect, setup, candidate).iter().any(|id| broken.contains(id))
        });
        let invariants: Vec<InvariantId> =
            due_to(defect, setup, &shrunk).into_iter().filter(|id| broken.contains(id)).collect();
        catches += 1;
        let first_cases = best.as_ref().map_or(index + 1, |b| b.cases);
        let catch = Catch {
            defect,
            caught: true,
            invariants,
            cases: first_cases,
            case_seed,
            setup: Some(setup),
            shrunk,
        };
        if best.as_ref().is_none_or(|b| catch.shrunk.len() < b.shrunk.len()) {
            best = Some(catch);
        }
        let good = best.as_ref().is_some_and(|b| b.shrunk.len() <= SHRUNK_STEPS_GOOD);
        if good || catches >= CATCHES_MAX {
            break;
        }
    }
    best.unwrap_or(Catch {
        defect,
        caught: false,
        invariants: Vec::new(),
        cases: cases_max,
        case_seed: 0,
        setup: None,
        shrunk: Vec::new(),
    })
}
