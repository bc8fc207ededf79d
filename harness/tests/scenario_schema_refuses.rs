//! Issue 18: the scenario JSON Schema refuses what the tool refuses. The same bad files
//! (`harness/tests/fixtures/bad-scenarios/`, one mistake each, named for it) are fed to the
//! tool (`scenario::parse`, the check `cargo test` and `cargo xtask replay` run) and to the
//! committed schema an editor validates with; both must refuse every one. And both accept
//! every scenario of the library, so the schema is not simply refusing everything.

mod scenario_support;

use std::path::PathBuf;

use scenario_support::workspace_root;
use session_harness::scenario;

/// How many bad files there are: the issue asks for thirty at least.
const BAD_FILES_MIN: usize = 30;

fn validator() -> jsonschema::Validator {
    let path = workspace_root().join("schema/scenario.schema.json");
    let text = std::fs::read_to_string(&path).expect("the committed schema exists");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema")
}

/// A YAML file as the JSON value an editor's schema check sees.
fn as_json(text: &str) -> Result<serde_json::Value, String> {
    serde_saphyr::from_str(text).map_err(|e| e.to_string())
}

fn bad_files() -> Vec<PathBuf> {
    let dir = workspace_root().join("harness/tests/fixtures/bad-scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the bad scenarios folder exists")
        .map(|e| e.expect("a readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_schema_and_the_tool_refuse_the_same_bad_files() {
    let validator = validator();
    let files = bad_files();
    assert!(files.len() >= BAD_FILES_MIN, "{} bad files, expected {BAD_FILES_MIN}", files.len());
    let mut problems = Vec::new();
    for path in &files {
        let name = path.file_name().expect("a file name").to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).expect("a readable file");
        if let Ok(sc) = scenario::parse(&name, &text) {
            problems.push(format!("{name}: the tool accepts it ({} steps)", sc.events.len()));
        }
        match as_json(&text) {
            // Not even YAML: an editor refuses it too.
            Err(_) => {}
            Ok(value) => {
                if validator.is_valid(&value) {
                    problems.push(format!("{name}: the schema accepts it"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "bad files not refused by both:\n{}", problems.join("\n"));
}

#[test]
fn the_schema_and_the_tool_accept_every_library_scenario() {
    let validator = validator();
    let mut problems = Vec::new();
    for path in scenario_support::scenario_files() {
        let rel = scenario_support::relative(&path);
        let text = std::fs::read_to_string(&path).expect("a readable scenario");
        if let Err(e) = scenario::parse(&rel, &text) {
            problems.push(format!("{rel}: the tool refuses it: {e}"));
        }
        let value = as_json(&text).unwrap_or_else(|e| panic!("{rel} is YAML: {e}"));
        for error in validator.iter_errors(&value) {
            problems.push(format!(
                "{rel}: the schema refuses it: {error} at {}",
                error.instance_path()
            ));
        }
    }
    assert!(problems.is_empty(), "library scenarios refused:\n{}", problems.join("\n"));
}
