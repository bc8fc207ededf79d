//! The gate's verdicts as JUnit XML, the format every CI system shows as a test report.
//!
//! One test suite per part of the gate (`scenarios`, `fuzz`) and one per snapshot review:
//! a case is a scenario variant or a generated case; `fail` is a failure with the reason, the
//! scenario file and seed, and every command that reruns it (shell-quoted, runnable as
//! printed), `skipped` is skipped, `expected` passes with the findings that
//! accepted it in its output; an unreviewed snapshot is a failure of the `snapshots` suite
//! with the diff.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{CaseReport, SnapshotCheck, Suite, Verdict};

/// Renders `reports` of the gate on `label` as JUnit XML.
pub fn render(label: &str, reports: &[CaseReport]) -> String {
    let mut report = Report::new(format!("session-harness gate {label}"));
    for suite in [Suite::Scenarios, Suite::Fuzz] {
        let mut ts = TestSuite::new(suite.as_str());
        for r in reports.iter().filter(|r| r.suite == suite) {
            let status = match &r.verdict {
                Verdict::Pass | Verdict::Expected(_) => TestCaseStatus::success(),
                Verdict::Fail(why) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(why.lines().next().unwrap_or_default().to_string());
                    s.set_description(format!("{why}\n{}", rerun_lines(r)));
                    s
                }
                Verdict::Skipped(why) => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(why.clone());
                    s
                }
            };
            let mut case = TestCase::new(r.variant.clone(), status);
            case.set_classname(format!("{label}.{}", r.scenario));
            case.set_time(r.wall);
            let mut out = Vec::new();
            if r.profile() != r.named_profile {
                out.push(format!(
                    "ran under profile {} (the case names {})",
                    r.profile(),
                    r.named_profile
                ));
            }
            if let Verdict::Expected(ids) = &r.verdict {
                out.push(format!("accepted by findings: {}", ids.join(", ")));
            }
            if !out.is_empty() {
                case.set_system_out(out.join("\n"));
            }
            ts.add_test_case(case);
        }
        if !ts.test_cases.is_empty() {
            report.add_test_suite(ts);
        }
    }
    let mut snapshots = TestSuite::new("snapshots");
    for r in reports.iter().filter(|r| r.snapshot_check.is_some()) {
        let status = match r.snapshot_check.as_ref() {
            Some(SnapshotCheck::Changed(diff)) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message("behaviour changed: the snapshot differs from the committed one");
                s.set_description(diff.clone());
                s
            }
            Some(SnapshotCheck::New) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message("no committed snapshot: review and accept with --accept");
                s
            }
            _ => TestCaseStatus::success(),
        };
        let mut case = TestCase::new(r.variant.clone(), status);
        case.set_classname(format!("{label}.snapshots.{}", r.scenario));
        snapshots.add_test_case(case);
    }
    if !snapshots.test_cases.is_empty() {
        report.add_test_suite(snapshots);
    }
    report.to_string().expect("a JUnit report of plain strings always serialises")
}

/// The file, seed and commands of a failing case, one per line.
pub fn rerun_lines(r: &CaseReport) -> String {
    let mut lines = Vec::new();
    let file = r.file.as_deref().unwrap_or("(generated)");
    let seed = r.seed.map(crate::sim::format_seed).unwrap_or_else(|| "none".to_string());
    lines.push(format!("file: {file}  seed: {seed}  profile: {}", r.profile()));
    lines.push(format!("replay: {}", r.replay));
    for (what, command) in &r.more {
        lines.push(format!("{what}: {command}"));
    }
    lines.join("\n")
}
