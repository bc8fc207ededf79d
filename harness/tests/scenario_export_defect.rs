//! A fuzz failure with a defect switched on, exported as a scenario file, replays without the
//! generator to the same violation — on the defective reference SDK the scenario names.

use session_harness::model::vocab::Defect;
use session_harness::runner::lockstep;
use session_harness::scenario;
use session_harness::sdk::hunt;

#[test]
fn a_defect_found_by_the_fuzzer_exports_and_replays_to_the_same_violation() {
    for defect in [Defect::NoSingleFlight, Defect::StaleTimerLogout] {
        let catch = hunt::hunt(defect, 0xdefec7, 2_000);
        assert!(catch.caught, "{defect} is caught by the fuzzer");
        let setup = catch.setup.expect("a catch has its setup");
        let outcome =
            lockstep::judge_reference(setup, &[defect], &catch.shrunk, Some(catch.case_seed));
        assert!(!outcome.passed(), "the shrunk trace still breaks an invariant");

        let exported = scenario::export(&outcome.trace, &outcome.report, &[defect]);
        assert!(exported.name.starts_with("regressions/"), "{}", exported.name);
        assert!(exported.yaml.contains(defect.as_str()), "the file names its defect");

        let dir =
            std::env::temp_dir().join(format!("export-defect-{}-{defect}", std::process::id()));
        let path = dir.join("counterexample.yaml");
        scenario::write_atomic(&path, &exported.yaml).expect("the temp dir is writable");
        let replayed = scenario::load(&path, "counterexample.yaml")
            .unwrap_or_else(|e| panic!("the exported file parses: {e}\n{}", exported.yaml));
        let _ = std::fs::remove_dir_all(&dir);

        assert_eq!(replayed.events, catch.shrunk, "the steps are the shrunk events");
        let variant = &replayed.variants[0];
        assert_eq!(variant.defects, vec![defect]);
        let run = scenario::run_variant(&replayed, variant, scenario::default_system())
            .expect("the default system runs defect variants on the reference SDK");
        let first = |r: &session_harness::invariants::Report| {
            r.violations.first().map(|v| (v.invariant, v.step, v.at))
        };
        assert_eq!(
            first(&run.outcome.report),
            first(&outcome.report),
            "{defect}: same first violation"
        );
        assert!(run.passed(), "{defect}: the exported expectation holds: {:?}", run.failures);
    }
}
