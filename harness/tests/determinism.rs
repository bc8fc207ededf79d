//! Determinism: the same seed gives a byte-identical trace; different seeds differ.

use session_harness::generate::{self, TRACE_STEPS_DEFAULT};
use session_harness::model::profile::ProfileId;
use session_harness::runner;
use session_harness::sim::case_seed;

fn trace_bytes(profile: ProfileId, seed: u64) -> Vec<u8> {
    let case = generate::case_from_seed(profile, TRACE_STEPS_DEFAULT, seed);
    runner::run_case(&case, Some(seed)).trace.to_bytes()
}

#[test]
fn the_same_seed_gives_byte_identical_traces() {
    for profile in ProfileId::ALL {
        for index in 0..40 {
            let seed = case_seed(0xd37e_2d15, index);
            let first = trace_bytes(profile, seed);
            let second = trace_bytes(profile, seed);
            assert!(!first.is_empty());
            assert!(first == second, "seed {seed:#x} under {profile} replayed differently");
        }
    }
}

#[test]
fn different_seeds_give_different_traces() {
    let a = trace_bytes(ProfileId::Documented, case_seed(1, 0));
    let b = trace_bytes(ProfileId::Documented, case_seed(1, 1));
    assert_ne!(a, b);
}

#[test]
fn campaign_shards_cover_the_same_cases_as_one_run() {
    // Cases are a pure function of (campaign seed, index): two halves make the whole.
    let (whole, _) = runner::model_campaign(ProfileId::Documented, 77, 0..40, 20, |_| {});
    let (first, _) = runner::model_campaign(ProfileId::Documented, 77, 0..20, 20, |_| {});
    let (second, _) = runner::model_campaign(ProfileId::Documented, 77, 20..40, 20, |_| {});
    let mut halves = first.clone();
    halves.merge(&second);
    assert_eq!(whole.steps, halves.steps);
    assert_eq!(whole.pairs, halves.pairs);
    assert_eq!(whole.exercised, halves.exercised);
}
