//! Refresh races on the reference SDK.
//!
//! - The race invariants (`single-flight-refresh`, `retry-discipline`, `calls-settle`), each
//!   shown broken by a defect and held without it, on the same events.
//! - Refresh-race fuzzing: several `getToken` and API calls in flight, completion order from
//!   seeded latency faults, 401s, app state and network flipping mid-flight, timers hours
//!   late — the defect-free SDK agrees with the model and keeps every invariant. Failures
//!   shrink and print the seed and the replay command.
//! - Same seed, same interleaving: a race trace replays byte for byte.
//! - A step is a future: `tokio_test`'s task harness steps one `advance` while answers are on
//!   the wire.
//!
//! Replay a fuzz failure: `RACES_SEED=<seed> cargo test --test races`; run longer with
//! `RACES_CASES=<n>`.

use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use session_harness::invariants::InvariantId;
use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
use session_harness::model::time::{MINUTE_MS, SECOND_MS};
use session_harness::model::vocab::{
    AppPath, Defect, Endpoint, Event, FaultKind, FaultSpec, Happening, Platform,
};
use session_harness::runner::is_known;
use session_harness::runner::lockstep::{judge_reference, run_reference, run_sdk};
use session_harness::sdk::hunt::{RaceCase, race_events, race_strategy, warm_up};
use session_harness::sdk::{ReferenceSdk, SdkPort};
use session_harness::sim::{SeedRng, format_seed, parse_seed};
use tokio_test::{assert_pending, assert_ready};

fn setup(profile: ProfileId) -> Setup {
    Setup::new(Platform::Android, profile)
}

fn api() -> Event {
    Event::ApiCall { path: AppPath::new("/checkout") }
}

/// Runs `events` with `defect` and without; asserts `invariant` breaks with it, and that
/// without it nothing breaks beyond the profile's known deviations — and never `invariant`.
fn broken_with_held_without(
    setup: Setup,
    defect: Defect,
    events: &[Event],
    invariant: InvariantId,
) {
    let broken = |defects: &[Defect]| judge_reference(setup, defects, events, None).report.broken();
    let with = broken(&[defect]);
    assert!(with.contains(&invariant), "{invariant} holds with {defect}: broke {with:?}");
    let without = broken(&[]);
    assert!(!without.contains(&invariant), "{invariant} breaks without {defect}");
    let unexpected: Vec<_> = without.iter().filter(|id| !is_known(setup.profile, **id)).collect();
    assert!(unexpected.is_empty(), "without {defect}: {unexpected:?}");
}

#[test]
fn single_flight_refresh_is_broken_by_no_single_flight_and_held_without() {
    // Two `getToken({skipCache: true})` callers at one instant: one token request, shared.
    let mut events = warm_up();
    events.extend([
        Event::GetToken { skip_cache: true, template: None },
        Event::GetToken { skip_cache: true, template: None },
        Event::Advance { ms: SECOND_MS },
    ]);
    let documented = setup(ProfileId::Documented);
    broken_with_held_without(
        documented,
        Defect::NoSingleFlight,
        &events,
        InvariantId::SingleFlightRefresh,
    );
    // And the calls really shared one request without the defect.
    let trace = run_sdk(setup(ProfileId::Documented), &[], &events, None);
    let token_requests = trace
        .steps
        .iter()
        .flat_map(|s| &s.obs.happenings)
        .filter(|h| matches!(h, Happening::RequestSent { endpoint: Endpoint::Tokens, .. }))
        .count();
    assert_eq!(token_requests, 1);
}

#[test]
fn retry_discipline_is_broken_by_retry_401_loop_and_held_without() {
    // The session is revoked while its token is cached: the API call's 401 must lead to one
    // refresh with a fresh token (which fails), never to a retry with the same token.
    let mut events = warm_up();
    events.extend([Event::Revoke, api(), Event::Advance { ms: SECOND_MS }]);
    let documented = setup(ProfileId::Documented);
    broken_with_held_without(
        documented,
        Defect::Retry401Loop,
        &events,
        InvariantId::RetryDiscipline,
    );
}

#[test]
fn calls_settle_is_broken_by_retry_401_loop_and_held_without() {
    // Under clerk-js-6 a plain `getToken()` joins a token request already in flight. The
    // session is revoked with two API calls out; a slow skip-cache `getToken` is in flight
    // when their 401s come back. The first leads the refresh (joining that request), the
    // second queues behind it. The refresh fails; every queued call must still settle.
    let mut events = warm_up();
    events.extend([
        Event::Revoke,
        api(),
        api(),
        Event::Fault(FaultSpec {
            kind: FaultKind::Latency { ms: SECOND_MS },
            count: 1,
            on: Some(Endpoint::Tokens),
        }),
        Event::GetToken { skip_cache: true, template: None },
        Event::Advance { ms: 10 * MINUTE_MS },
    ]);
    let clerk_js = setup(ProfileId::ClerkJs6);
    broken_with_held_without(clerk_js, Defect::Retry401Loop, &events, InvariantId::CallsSettle);
}

/// Race cases per profile in `cargo test`.
const RACE_CASES_DEFAULT: u32 = 96;

fn race_property(profile: ProfileId, fallback_seed: u64) {
    let seed = std::env::var("RACES_SEED")
        .ok()
        .map(|s| parse_seed(&s).expect("RACES_SEED is a seed"))
        .unwrap_or(fallback_seed);
    let cases = std::env::var("RACES_CASES")
        .ok()
        .map(|n| n.parse().expect("RACES_CASES is a number"))
        .unwrap_or(RACE_CASES_DEFAULT);
    eprintln!("races {profile}: seed {}, {cases} cases", format_seed(seed));
    let bytes = SeedRng::new(seed).fork("races").seed_bytes();
    let mut runner = TestRunner::new_with_rng(
        Config { cases, failure_persistence: None, ..Config::default() },
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    );
    let result = runner.run(&race_strategy(profile), |case: RaceCase| {
        let events = race_events(&case);
        let outcome = run_reference(case.setup, &[], &events, Some(seed));
        proptest::prop_assert!(
            outcome.passed(),
            "{}\n  events: {}\n  replay: RACES_SEED={} cargo test --test races {}",
            outcome.summary(),
            serde_json::to_string(&events).expect("events serialise"),
            format_seed(seed),
            match profile {
                ProfileId::Documented => "races_documented",
                ProfileId::ClerkJs6 => "races_clerk_js_6",
            }
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn races_documented() {
    race_property(ProfileId::Documented, 0x4ace_0001);
}

#[test]
fn races_clerk_js_6() {
    race_property(ProfileId::ClerkJs6, 0x4ace_0002);
}

/// A burst that keeps three token requests and two API calls in flight, answers completing
/// out of order, with the app going to the background mid-flight.
fn burst() -> Vec<Event> {
    let latency = |ms| {
        Event::Fault(FaultSpec {
            kind: FaultKind::Latency { ms },
            count: 1,
            on: Some(Endpoint::Tokens),
        })
    };
    let mut events = warm_up();
    events.extend([
        latency(900),
        Event::GetToken { skip_cache: true, template: None },
        latency(80),
        api(),
        Event::Fault(FaultSpec { kind: FaultKind::Unauthorized, count: 1, on: None }),
        Event::GetToken { skip_cache: true, template: None },
        api(),
        Event::Advance { ms: 40 },
        Event::AppState { state: session_harness::model::vocab::AppState::Background },
        Event::Advance { ms: 3 * MINUTE_MS },
        Event::AppState { state: session_harness::model::vocab::AppState::Active },
        Event::Advance { ms: 5 * SECOND_MS },
    ]);
    events
}

#[test]
fn the_same_seed_gives_the_same_interleaving() {
    for profile in ProfileId::ALL {
        let events = burst();
        let a = run_sdk(setup(profile), &[], &events, Some(7)).to_bytes();
        let b = run_sdk(setup(profile), &[], &events, Some(7)).to_bytes();
        assert_eq!(a, b, "{profile}: two runs of the same trace differ");
        let outcome = run_reference(setup(profile), &[], &events, Some(7));
        assert!(outcome.passed(), "{}", outcome.summary());
    }
}

#[test]
fn a_step_is_a_future_that_waits_out_the_wire() {
    // The SDK's `advance` is pending while an answer is on the wire and ready once virtual
    // time has passed its arrival: stepped by hand with tokio-test's task harness.
    let rt = ReferenceSdk::runtime();
    rt.block_on(async {
        let mut sdk = ReferenceSdk::new(setup(ProfileId::Documented), &[]);
        for event in warm_up() {
            sdk.step(&event).await.expect("the reference SDK never breaks");
        }
        let slow = FaultSpec { kind: FaultKind::Latency { ms: 1_000 }, count: 1, on: None };
        sdk.step(&Event::Fault(slow)).await.expect("fault");
        let obs = sdk
            .step(&Event::GetToken { skip_cache: true, template: None })
            .await
            .expect("get_token");
        assert_eq!(obs.open_calls, 1, "the call waits on the token request");
        let advance = Event::Advance { ms: 2_000 };
        let mut step = tokio_test::task::spawn(sdk.step(&advance));
        assert_pending!(step.poll(), "the answer is still on the wire");
        tokio::time::advance(std::time::Duration::from_millis(1_000)).await;
        assert!(step.is_woken(), "the answer's arrival wakes the step");
        assert_pending!(step.poll(), "arrived at 1 s; the advance runs to 2 s");
        tokio::time::advance(std::time::Duration::from_millis(1_000)).await;
        let obs = assert_ready!(step.poll()).expect("advance");
        let settled = obs.happenings.iter().any(|h| {
            matches!(
                h,
                Happening::CallSettled {
                    result: session_harness::model::vocab::CallResult::Token { .. },
                    ..
                }
            )
        });
        assert!(settled, "the getToken call settled with a token: {:?}", obs.happenings);
        assert_eq!(obs.open_calls, 0);
    });
}
