//! The committed JSON Schema of scenario files is the one the types generate, and every
//! scenario file points its editor at it.

mod scenario_support;

use session_harness::scenario;

#[test]
fn committed_schema_is_current() {
    let path = scenario_support::workspace_root().join("schema/scenario.schema.json");
    let committed = std::fs::read_to_string(&path).expect("schema/scenario.schema.json exists");
    assert!(
        committed == scenario::json_schema(),
        "schema/scenario.schema.json is stale; regenerate it with `cargo xtask schema`"
    );
    // The schema is usable: it names every step kind and every defect.
    for word in ["cold_start", "concurrently", "ios-native-cache-wipe", "restore-after-cold-start"]
    {
        assert!(committed.contains(word), "the schema lacks `{word}`");
    }
}

#[test]
fn every_scenario_references_the_schema() {
    let header = "# yaml-language-server: $schema=../../schema/scenario.schema.json";
    let mut missing = Vec::new();
    for path in scenario_support::scenario_files() {
        let text = std::fs::read_to_string(&path).expect("a readable scenario");
        if text.lines().next() != Some(header) {
            missing.push(scenario_support::relative(&path));
        }
    }
    assert!(missing.is_empty(), "scenarios without the schema header:\n{}", missing.join("\n"));
}
