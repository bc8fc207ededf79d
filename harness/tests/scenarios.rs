//! Every scenario under `scenarios/`, every variant: run it, judge it against its
//! expectations, and snapshot the observed trace under `harness/snapshots/` (one file per
//! scenario and variant). The folder sits inside the `session-harness` package so that
//! `cargo insta pending-snapshots`, `review` and `accept` find the pending `.snap.new` files
//! (cargo-insta looks for snapshots inside packages only). With `CI=true` a missing or
//! changed snapshot fails; `cargo insta review` accepts changes. A snapshot no scenario
//! variant produces fails `snapshots_all_referenced`.

mod scenario_support;

use scenario_support::{relative, snapshot_file, snapshot_name, system};
use session_harness::scenario;

#[test]
fn scenarios() {
    let mut settings = insta::Settings::clone_current();
    // `harness/snapshots/`, relative to this file.
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    let mut failures: Vec<String> = Vec::new();
    // The default system runs every variant; one that cannot run a variant (defects or
    // `sdk: reference` on a system without the reference SDK) lists it, loudly, instead.
    let mut skipped: Vec<String> = Vec::new();
    let mut files = 0;
    settings.bind(|| {
        insta::glob!("../../scenarios", "**/*.yaml", |path| {
            files += 1;
            let rel = relative(path);
            let scenario = match scenario::load(path, &rel) {
                Ok(s) => s,
                Err(e) => {
                    failures.push(e.to_string());
                    return;
                }
            };
            let expected_name =
                rel.trim_start_matches("scenarios/").trim_end_matches(".yaml").to_string();
            if scenario.name != expected_name {
                failures.push(format!(
                    "{rel}: `name: {}` does not match the file's place; expected `name: {expected_name}`",
                    scenario.name
                ));
            }
            for variant in &scenario.variants {
                match scenario::run_variant(&scenario, variant, system()) {
                    Ok(run) => {
                        // The name already says scenario and variant; glob!'s file suffix
                        // would only repeat it.
                        let mut named = insta::Settings::clone_current();
                        named.remove_snapshot_suffix();
                        named.bind(|| {
                            insta::assert_yaml_snapshot!(
                                snapshot_name(&rel, &variant.name),
                                scenario::snapshot(&scenario, &run)
                            );
                        });
                        for f in &run.failures {
                            failures.push(format!(
                                "{rel} [{}]: {f}\n  replay: cargo xtask replay {rel}",
                                variant.name
                            ));
                        }
                    }
                    Err(e @ scenario::SystemError::NeedsReference(..)) => {
                        skipped.push(format!("{rel} [{}]: {e}", variant.name))
                    }
                    Err(e) => failures.push(format!("{rel} [{}]: {e}", variant.name)),
                }
            }
        });
    });
    if !skipped.is_empty() {
        eprintln!("skipped {} variants:\n{}", skipped.len(), skipped.join("\n"));
    }
    assert!(files > 0, "no scenario files found under scenarios/");
    assert!(failures.is_empty(), "{} scenario failures:\n{}", failures.len(), failures.join("\n"));
}

/// Every committed snapshot belongs to a scenario variant that exists, so a renamed or
/// deleted scenario cannot leave a stale snapshot behind. A pending `.snap.new` of a variant
/// that exists is insta's business (`cargo insta review` or `accept` settles it, and
/// `scenarios` fails on it under `CI=true`); one that no variant produces is stale too.
#[test]
fn snapshots_all_referenced() {
    let dir = scenario_support::snapshot_dir();
    let mut expected = std::collections::BTreeSet::new();
    for path in scenario_support::scenario_files() {
        let rel = relative(&path);
        // A scenario that does not load is reported by `scenarios` with its line and column;
        // here it only cannot vouch for its snapshots, which then show up as stale.
        let Ok(scenario) = scenario::load(&path, &rel) else { continue };
        for variant in &scenario.variants {
            expected.insert(snapshot_file(&rel, &variant.name));
        }
    }
    let mut stale = Vec::new();
    let mut seen = 0;
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the snapshot folder {}: {e}", dir.display()));
    for entry in entries {
        let name = entry.expect("a readable directory entry").file_name();
        let name = name.to_string_lossy().to_string();
        if name.ends_with(".snap") {
            seen += 1;
            if !expected.contains(&name) {
                stale.push(format!("{name} (delete it, or restore its scenario)"));
            }
        } else if let Some(snap) = name.strip_suffix(".new")
            && !expected.contains(snap)
        {
            stale.push(format!("{name} (pending for no scenario: `cargo insta reject`)"));
        }
    }
    assert!(seen > 0, "no snapshots found under {}", dir.display());
    assert!(
        stale.is_empty(),
        "snapshots under harness/snapshots/ that no scenario variant produces:\n{}",
        stale.join("\n")
    );
}
