//! The lockstep property: the defect-free reference SDK and the model agree at every step of
//! generated traces, under both profiles, and the SDK's traces break no invariant beyond the
//! profile's known deviations.
//!
//! Replay a failure: `LOCKSTEP_SEED=<seed> cargo test --test lockstep_reference`; run longer
//! with `LOCKSTEP_CASES=<n>` (default 64 per profile).

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use session_harness::generate::{self, Case};
use session_harness::model::profile::ProfileId;
use session_harness::runner::lockstep::run_reference;
use session_harness::sim::{SeedRng, format_seed, parse_seed};

/// Cases per profile: modest, so `cargo test` stays quick; campaigns run from xtask.
const CASES_DEFAULT: u32 = 64;
const STEPS_MAX: usize = 40;

fn check(profile: ProfileId, case: &Case, seed: u64) -> Result<(), TestCaseError> {
    let events = generate::interpret(case, None).events();
    let outcome = run_reference(case.setup, &[], &events, Some(seed));
    prop_assert!(
        outcome.passed(),
        "{}\n  events: {:?}\n  replay: LOCKSTEP_SEED={} cargo test --test lockstep_reference {}",
        outcome.summary(),
        events.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        format_seed(seed),
        match profile {
            ProfileId::Documented => "documented",
            ProfileId::ClerkJs6 => "clerk_js_6",
        }
    );
    Ok(())
}

fn property(profile: ProfileId, fallback_seed: u64) {
    let seed = std::env::var("LOCKSTEP_SEED")
        .ok()
        .map(|s| parse_seed(&s).expect("LOCKSTEP_SEED is a seed"))
        .unwrap_or(fallback_seed);
    let cases = std::env::var("LOCKSTEP_CASES")
        .ok()
        .map(|n| n.parse().expect("LOCKSTEP_CASES is a number"))
        .unwrap_or(CASES_DEFAULT);
    eprintln!("lockstep {profile}: seed {}, {cases} cases", format_seed(seed));
    let bytes = SeedRng::new(seed).fork("lockstep").seed_bytes();
    let mut runner = TestRunner::new_with_rng(
        Config { cases, failure_persistence: None, ..Config::default() },
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    );
    let result = runner
        .run(&generate::case_strategy(profile, STEPS_MAX), |case| check(profile, &case, seed));
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn documented() {
    property(ProfileId::Documented, 0x10c5_7e90_0001);
}

#[test]
fn clerk_js_6() {
    property(ProfileId::ClerkJs6, 0x10c5_7e90_0002);
}

#[test]
fn the_reference_campaign_counts_coverage_on_the_sdk() {
    use session_harness::runner::lockstep::reference_campaign;
    for profile in ProfileId::ALL {
        let mut seen = 0;
        let (coverage, failures) = reference_campaign(profile, 0xc0ffee, 0..24, 30, |_| seen += 1);
        assert_eq!(seen, 24);
        assert_eq!(coverage.cases, 24);
        assert!(coverage.steps > 24, "{profile}: the cases have steps");
        assert!(
            failures.is_empty(),
            "{profile}: {}",
            failures.iter().map(|f| f.outcome.summary()).collect::<Vec<_>>().join("\n")
        );
        let exercised = coverage.exercised.values().filter(|n| **n > 0).count();
        assert!(exercised >= 8, "{profile}: only {exercised} invariants exercised");
    }
}
