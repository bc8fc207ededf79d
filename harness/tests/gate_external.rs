//! Issue 17: a third-party SDK gates on its own contract. The example Python adapter
//! (`adapters/python/`) is labelled by its hello, never by its command line, so the same SDK
//! run from two checkout paths gives byte-identical snapshots; it passes at L1 + L2 against
//! `documented`; a classic bug switched on fails the gate naming the invariant; and an
//! adapter without a hello fails at once with the hint about flushing stdout.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use session_harness::gate::{self, Conformance, ExternalSubject, Findings, Plan, Verdict};
use session_harness::scenario::{self, Scenario};
use session_harness::sdk::PortError;
use session_harness::sdk::external::{AdapterCommand, Timeouts, probe_hello};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("harness/ has a parent").to_path_buf()
}

fn scenarios(names: &[&str]) -> Vec<Scenario> {
    names
        .iter()
        .map(|name| {
            let file = format!("scenarios/{name}.yaml");
            scenario::load(&root().join(&file), &file).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

/// A copy of the example adapter under `dir`, and the gate subject that runs it from there.
fn checkout(dir: &Path, bugs: &str) -> ExternalSubject {
    let copy = dir.join("adapters").join("python");
    std::fs::create_dir_all(&copy).expect("a scratch folder");
    for file in ["adapter.py", "session_sdk.py"] {
        std::fs::copy(root().join("adapters/python").join(file), copy.join(file))
            .expect("copying the example adapter");
    }
    let command = AdapterCommand::cmd(
        &root(),
        &format!(
            "python3 {} {bugs}",
            shlex::try_quote(&copy.join("adapter.py").display().to_string()).expect("no NUL")
        ),
    );
    let (hello, _) = probe_hello(&command).expect("the example adapter says hello");
    let label = hello.label().expect("its hello names sdk and version");
    ExternalSubject::new(&label, command, Conformance::THIRD_PARTY)
}

fn scratch(name: &str) -> PathBuf {
    let dir =
        root().join("target/tmp").join(format!("gate-external-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn the_same_sdk_from_two_checkout_paths_gives_identical_snapshots_labelled_by_its_hello() {
    let library = scenarios(&["lifecycle/sign-out", "races/concurrent-get-token"]);
    let plan = Plan { scenarios: &library, cases: 0, seed: 1, steps_max: 30 };
    let findings = Findings::default();
    let (a, b) = (scratch("a"), scratch("b/deeper/path with space"));
    let mut texts = Vec::new();
    for dir in [&a, &b] {
        let subject = checkout(dir, "");
        let reports = gate::run(&subject, &plan, &findings, 2, &|_| {});
        assert!(
            reports.iter().all(|r| r.verdict == Verdict::Pass),
            "{}",
            gate::table("py", &reports)
        );
        let snaps: Vec<String> = reports
            .iter()
            .map(|r| r.snapshot.clone().expect("scenario cases keep snapshots"))
            .collect();
        for s in &snaps {
            assert!(s.contains("sdk: py-session-sdk@0.1.0"), "labelled by the hello: {s}");
            assert!(!s.contains("adapter.py") && !s.contains("cmd:"), "no command line: {s}");
        }
        texts.push(snaps);
    }
    assert_eq!(texts[0], texts[1], "snapshots differ between checkout paths");
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}

#[test]
fn a_classic_bug_fails_the_gate_naming_the_invariant() {
    let cases = [
        ("--bug offline-signs-out", "offline/get-token-throws", "transient-never-signs-out"),
        ("--bug parallel-get-token", "races/background-mid-request", "single-flight-refresh"),
    ];
    for (bug, scenario, invariant) in cases {
        let dir = scratch(&bug[6..]);
        let library = scenarios(&[scenario]);
        let plan = Plan { scenarios: &library, cases: 0, seed: 1, steps_max: 30 };
        let clean = gate::run(&checkout(&dir, ""), &plan, &Findings::default(), 1, &|_| {});
        assert!(clean.iter().all(|r| r.verdict == Verdict::Pass), "{}", gate::table("py", &clean));
        let buggy = gate::run(&checkout(&dir, bug), &plan, &Findings::default(), 1, &|_| {});
        let failed: Vec<_> = buggy.iter().filter(|r| r.verdict.is_fail()).collect();
        assert!(!failed.is_empty(), "{bug} passed:\n{}", gate::table("py", &buggy));
        for r in failed {
            assert!(
                r.verdict_text().contains(&format!("invariant `{invariant}` broken")),
                "{bug}: {}",
                r.verdict_text()
            );
        }
        let levels = gate::level_table(&Conformance::THIRD_PARTY, &Findings::default(), &buggy);
        let l1 = levels.lines().find(|l| l.trim_start().starts_with("L1 ")).expect("an L1 line");
        assert!(l1.contains("FAIL"), "{levels}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn an_adapter_without_a_hello_fails_at_once_with_the_flush_hint() {
    // Writes nothing and waits: what an adapter whose hello sits in a stdout buffer looks like.
    let command = AdapterCommand::cmd(&root(), "sleep 30")
        .with_timeouts(Timeouts { hello: Duration::from_millis(800), ..Timeouts::default() });
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let e = probe_hello(&command).expect_err("no hello");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert!(matches!(e, PortError::Hung { .. }), "{e}");
    assert!(e.to_string().contains("flush"), "{e}");
}
