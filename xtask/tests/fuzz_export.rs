//! `cargo xtask fuzz` exports every failing case, shrunk, as a scenario file that parses and
//! replays to the same violation, and prints the file and its replay command next to the
//! failure.

use std::path::PathBuf;
use std::process::Command;

use session_harness::scenario;

#[test]
fn every_fuzz_failure_is_exported_and_replays_to_the_same_violation() {
    let dir = std::env::temp_dir().join(format!("xtask-fuzz-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = |json: bool| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
        command.args(["fuzz", "--sdk", "reference+no-single-flight", "--cases", "50"]);
        command.args(["--seed", "0x5eed0001", "--export"]).arg(&dir);
        if json {
            command.arg("--json");
        }
        command.output().expect("the xtask binary runs")
    };
    let out = run(true);
    assert_eq!(out.status.code(), Some(1), "a defect campaign fails: {out:?}");
    let verdict: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("--json prints one JSON object");
    let failures = verdict["failures"].as_array().expect("failures is an array");
    assert!(!failures.is_empty(), "no-single-flight is caught within 50 cases: {verdict}");

    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the export dir exists")
        .map(|e| e.expect("readable entry").path())
        .collect();
    assert_eq!(files.len(), failures.len(), "one file per failure, no temporary files left");

    for failure in failures {
        let path =
            PathBuf::from(failure["exported"].as_str().expect("each failure names its file"));
        assert!(path.starts_with(&dir), "exported under --export: {}", path.display());
        let replay = failure["replay_file"].as_str().expect("and its replay command");
        assert_eq!(replay, format!("cargo xtask replay {}", path.display()));

        let scenario = scenario::load(&path, &path.display().to_string())
            .unwrap_or_else(|e| panic!("{} parses: {e}", path.display()));
        let variant = &scenario.variants[0];
        assert_eq!(variant.defects.len(), 1, "the file names the defect it ran with");
        let replayed = scenario::run_variant(&scenario, variant, scenario::default_system())
            .expect("the default system runs defect variants");
        let mut broken: Vec<&str> =
            replayed.outcome.report.broken().iter().map(|i| i.as_str()).collect();
        let mut expected: Vec<&str> = failure["invariants"]
            .as_array()
            .expect("invariants is an array")
            .iter()
            .map(|i| i.as_str().expect("invariant names are strings"))
            .collect();
        broken.sort_unstable();
        expected.sort_unstable();
        assert!(!expected.is_empty(), "a defect failure breaks an invariant: {failure}");
        let (steps, found) = (failure["steps"].as_u64(), failure["steps_found"].as_u64());
        assert!(steps <= found, "shrunk, never grown: {failure}");
        assert_eq!(broken, expected, "{}: the same invariants break again", path.display());
        assert!(
            replayed.passed(),
            "{}: its expectation holds: {:?}",
            path.display(),
            replayed.failures
        );
    }

    // The text output prints, next to each failure, the file and the command to replay it.
    let text = String::from_utf8(run(false).stdout).expect("UTF-8");
    let first = failures[0]["exported"].as_str().expect("a path");
    assert!(text.contains(&format!("  exported: {first}")), "{text}");
    assert!(text.contains(&format!("  rerun:    cargo xtask replay {first}")), "{text}");
    assert!(text.contains("  shrunk: "), "the shrunk length is printed: {text}");
    let _ = std::fs::remove_dir_all(&dir);
}
