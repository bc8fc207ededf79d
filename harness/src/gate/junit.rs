//! The gate's verdicts as JUnit XML, the format every CI system shows as a test report.
//!
//! One test suite per part of the gate (`scenarios`, `fuzz`) and one per snapshot review:
//! a case is a scenario variant or a generated case; `fail` is a failure with the reason and
//! the replay command, `skipped` is skipped, `expected` passes with the findings that
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
                    s.set_description(format!("{why}\nreplay: {}", r.replay));
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
            if let Verdict::Expected(ids) = &r.verdict {
                case.set_system_out(format!("accepted by findings: {}", ids.join(", ")));
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
