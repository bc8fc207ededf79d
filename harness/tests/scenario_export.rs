//! Counterexample export: a fuzz failure written as a scenario file replays, without the
//! generator, to the same violation at the same step.

mod scenario_support;

use session_harness::generate;
use session_harness::model::profile::ProfileId;
use session_harness::runner;
use session_harness::scenario::{self, ModelSystem};
use session_harness::sim::case_seed;

/// How many generated cases the search may try: clerk-js-6's known deviations are common
/// enough that a failure turns up within a few dozen.
const CASES_MAX: u64 = 2_000;

#[test]
fn a_fuzz_failure_exports_and_replays_to_the_same_violation() {
    // The model under clerk-js-6 knowingly breaks invariants the documented contract keeps
    // (runner::KNOWN_DEVIATIONS): a real generator failure, no crafted trace needed.
    let (seed, outcome) = (0..CASES_MAX)
        .map(|i| case_seed(0x5eed_0004, i))
        .find_map(|seed| {
            let case = generate::case_from_seed(ProfileId::ClerkJs6, 40, seed);
            let outcome = runner::run_case(&case, Some(seed));
            (!outcome.passed()).then_some((seed, outcome))
        })
        .expect("a clerk-js-6 case breaks an invariant within the search budget");
    let exported = scenario::export(&outcome.trace, &outcome.report, &[]);
    assert!(exported.name.starts_with("regressions/"), "{}", exported.name);
    assert!(exported.yaml.contains(&session_harness::sim::format_seed(seed)));

    // Written atomically, read back, replayed.
    let dir = std::env::temp_dir().join(format!("scenario-export-{}", std::process::id()));
    let path = dir.join("counterexample.yaml");
    scenario::write_atomic(&path, &exported.yaml).expect("the temp dir is writable");
    let replayed = scenario::load(&path, "counterexample.yaml")
        .unwrap_or_else(|e| panic!("the exported file parses: {e}\n{}", exported.yaml));
    let _ = std::fs::remove_dir_all(&dir);

    assert_eq!(replayed.seed, Some(seed));
    assert_eq!(replayed.events, outcome.trace.events(), "the steps are the trace's events");
    assert_eq!(replayed.variants.len(), 1);
    let variant = &replayed.variants[0];
    assert_eq!(variant.setup, outcome.trace.setup, "the setup round-trips exactly");
    let run = scenario::run_variant(&replayed, variant, &ModelSystem).expect("the model runs it");
    let first = |r: &session_harness::invariants::Report| {
        r.violations.first().map(|v| (v.invariant, v.step, v.at))
    };
    assert_eq!(first(&run.outcome.report), first(&outcome.report), "same first violation");
    assert_eq!(run.outcome.report.broken(), outcome.report.broken());
    assert!(run.passed(), "the exported expectation holds: {:?}", run.failures);
}

#[test]
fn write_atomic_replaces_whole_files_and_leaves_no_temporary() {
    let dir = std::env::temp_dir().join(format!("scenario-atomic-{}", std::process::id()));
    let path = dir.join("file.yaml");
    scenario::write_atomic(&path, "first\n").expect("writable");
    scenario::write_atomic(&path, "second\n").expect("writable");
    assert_eq!(std::fs::read_to_string(&path).expect("readable"), "second\n");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .expect("readable")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["file.yaml"], "no temporary file is left behind");
    let _ = std::fs::remove_dir_all(&dir);
}
