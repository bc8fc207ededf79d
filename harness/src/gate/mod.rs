//! The gate: one verdict on one SDK build, for an SDK team's CI (`cargo xtask gate`).
//!
//! A [`Subject`] is an SDK the gate can run in lockstep with the model: the reference SDK
//! (with or without defects), or an external SDK behind the adapter protocol. The gate runs
//! every defect-free scenario variant ([`runs_variant`]: on an external SDK, not those that
//! name the reference SDK with `sdk: reference`) and a seeded fuzz campaign on it and gives
//! each case a [`Verdict`]:
//!
//! - `pass`: no divergence from the model, no violation beyond the profile's known
//!   deviations;
//! - `expected`: it failed only in ways a recorded finding accepts ([`findings`]);
//! - `fail`: anything else — a divergence, an unexpected violation, a broken adapter;
//! - `skipped`: the SDK cannot do one of the events (the adapter said `unsupported`).
//!
//! Each scenario run also renders a snapshot of the SDK's trace ([`snapshot_text`]); the
//! caller compares it with the committed one (`snapshots/sdk/<label>/`) so that any change
//! in behaviour is reviewed before it lands ([`SnapshotCheck`]). This module runs and
//! judges; reading and writing files is the caller's (`xtask/src/gate.rs`).

pub mod external;
pub mod findings;
pub mod junit;
pub mod level;
pub mod mechanism;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::model::profile::ProfileId;
use crate::model::settings::Setup;
use crate::model::vocab::{Defect, Event};
use crate::runner::Outcome;
use crate::runner::lockstep::{self, LockstepOutcome, Verdict as Lockstep};
use crate::runner::system::SdkChoice;
use crate::scenario::{Scenario, Variant, VariantRun};
use crate::sdk::PortError;

pub use external::ExternalSubject;
pub use findings::{Breakage, Finding, Findings};
pub use level::{Conformance, Level};

/// An SDK the gate can judge.
pub trait Subject: Sync {
    /// How reports and snapshot folders name it: `reference`, `clerk-js@6.40.0`.
    fn label(&self) -> String;

    /// The setup a scenario's `setup` runs under on this SDK. A real SDK has one behaviour,
    /// so an external SDK runs every scenario under the profile it is compared with.
    fn setup(&self, scenario: Setup) -> Setup;

    /// The profiles of its fuzz campaign.
    fn profiles(&self) -> Vec<ProfileId>;

    /// Whether its behaviour is reviewed through its own snapshots. The reference SDK's is
    /// not: its lockstep with the model is exact, and the model's snapshots (`harness/snapshots/`,
    /// checked by `cargo test`) already pin every observation.
    fn keeps_snapshots(&self) -> bool {
        true
    }

    /// Whether the profile's known deviations pass without a finding. The reference SDK
    /// implements the profile, deviations included; a real SDK's behaviour is evidence, so
    /// every invariant it breaks must be a recorded finding with the scenario that shows it.
    fn accepts_known_deviations(&self) -> bool {
        false
    }

    /// Whether `cargo xtask replay --seed S --sdk LABEL` can rerun a generated case. For an
    /// external SDK the gate exports the case as a scenario and prints how to rerun it.
    fn replays_by_seed(&self) -> bool {
        false
    }

    /// Whether its fuzz cases may hold device events (storage faults, lock state, wakes):
    /// the adapters answer them `unsupported` (docs/adapter-protocol.md §3), so external
    /// campaigns leave them out rather than skip most cases.
    fn device_events(&self) -> bool {
        false
    }

    /// Whether its fuzz cases may have the native module (`native: true`, `native_sign_in`):
    /// only an adapter whose `ClerkExpo` stub forwards to the harness (§11) takes them.
    fn native_module(&self) -> bool {
        false
    }

    /// The levels it is held to; `None`: exact lockstep with the model under every profile
    /// (the reference SDK, which implements the model's rules).
    fn conformance(&self) -> Option<Conformance> {
        None
    }

    /// Whether the invariants judge its trace (L1; always, unless a conformance leaves L1 out).
    fn judges_invariants(&self) -> bool {
        self.conformance().is_none_or(|c| c.invariants)
    }

    /// Whether it is the reference SDK, so that it also runs the scenario variants that name
    /// it (`sdk: reference`). Any other SDK leaves them out, as it leaves out variants with
    /// defects: they name the reference SDK, not the one under the gate.
    fn is_reference(&self) -> bool {
        false
    }

    /// Runs `events` in lockstep with the model.
    fn run(&self, setup: Setup, events: &[Event], seed: Option<u64>) -> LockstepOutcome;
}

/// Whether the gate runs `variant` on `subject`: every variant without defects, except, on
/// an SDK other than the reference one, a variant that names the reference SDK
/// (`sdk: reference`).
pub fn runs_variant(subject: &dyn Subject, variant: &Variant) -> bool {
    variant.defects.is_empty() && (variant.sdk == SdkChoice::Model || subject.is_reference())
}

/// The reference SDK, with `defects` switched on.
#[derive(Clone, Debug, Default)]
pub struct ReferenceSubject {
    pub defects: Vec<Defect>,
}

impl Subject for ReferenceSubject {
    fn label(&self) -> String {
        crate::sdk::defects::Defects::of(&self.defects).sdk_name()
    }

    fn setup(&self, scenario: Setup) -> Setup {
        scenario
    }

    fn profiles(&self) -> Vec<ProfileId> {
        ProfileId::ALL.to_vec()
    }

    fn run(&self, setup: Setup, events: &[Event], seed: Option<u64>) -> LockstepOutcome {
        lockstep::run_reference(setup, &self.defects, events, seed)
    }

    fn keeps_snapshots(&self) -> bool {
        false
    }

    fn replays_by_seed(&self) -> bool {
        true
    }

    fn device_events(&self) -> bool {
        true
    }

    fn native_module(&self) -> bool {
        true
    }

    fn accepts_known_deviations(&self) -> bool {
        true
    }

    fn is_reference(&self) -> bool {
        true
    }
}

/// How one case came out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Failed only in ways these findings (ids) accept.
    Expected(Vec<String>),
    Fail(String),
    Skipped(String),
}

impl Verdict {
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Expected(_) => "expected",
            Verdict::Fail(_) => "FAIL",
            Verdict::Skipped(_) => "skipped",
        }
    }

    pub fn is_fail(&self) -> bool {
        matches!(self, Verdict::Fail(_))
    }
}

/// The committed snapshot against the new one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotCheck {
    Same,
    /// No snapshot committed for this case.
    New,
    /// Committed, and different: the unified diff, committed → now.
    Changed(String),
}

impl SnapshotCheck {
    pub fn word(&self) -> &'static str {
        match self {
            SnapshotCheck::Same => "same",
            SnapshotCheck::New => "NEW",
            SnapshotCheck::Changed(_) => "CHANGED",
        }
    }

    /// Compares the committed text (if any) with the new one.
    pub fn of(committed: Option<&str>, now: &str) -> SnapshotCheck {
        match committed {
            None => SnapshotCheck::New,
            Some(old) if old == now => SnapshotCheck::Same,
            Some(old) => SnapshotCheck::Changed(diff(old, now)),
        }
    }
}

/// Which part of the gate a case belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Suite {
    Scenarios,
    Fuzz,
}

impl Suite {
    pub fn as_str(self) -> &'static str {
        match self {
            Suite::Scenarios => "scenarios",
            Suite::Fuzz => "fuzz",
        }
    }
}

/// One judged case.
#[derive(Clone, Debug)]
pub struct CaseReport {
    pub suite: Suite,
    /// The scenario name, or `fuzz/<profile>` for a generated case.
    pub scenario: String,
    /// The variant, or `case N` for a generated case.
    pub variant: String,
    pub verdict: Verdict,
    pub wall: Duration,
    /// The snapshot of the SDK's trace (scenario cases only) and, once the caller compared
    /// it, the check.
    pub snapshot: Option<String>,
    pub snapshot_check: Option<SnapshotCheck>,
    /// The command that reruns this case.
    pub replay: String,
    /// The profile the scenario variant (or generated case) names; the run's own profile is
    /// `outcome.sdk.setup.profile` (they differ when a contract forces one).
    pub named_profile: ProfileId,
    /// The scenario file (scenario cases) and the seed the case ran with.
    pub file: Option<String>,
    pub seed: Option<u64>,
    /// Further commands for this case (the gate's rerun, the exported file), shown after the
    /// replay line in the report and in JUnit.
    pub more: Vec<(String, String)>,
    /// The run, for exporting and reporting.
    pub outcome: LockstepOutcome,
    /// Every event of the case (a broken run's trace stops before the step that broke it).
    pub events: Vec<Event>,
}

impl CaseReport {
    /// The verdict's reason, in full.
    pub fn verdict_text(&self) -> String {
        match &self.verdict {
            Verdict::Pass => "pass".to_string(),
            Verdict::Expected(ids) => format!("accepted by findings {}", ids.join(", ")),
            Verdict::Fail(why) | Verdict::Skipped(why) => why.clone(),
        }
    }

    /// The profile the case ran under.
    pub fn profile(&self) -> ProfileId {
        self.outcome.sdk.setup.profile
    }

    /// `[variant]`, with the profile it ran under when that is not the one it names.
    pub fn variant_label(&self) -> String {
        if self.profile() == self.named_profile {
            format!("[{}]", self.variant)
        } else {
            format!(
                "[{}] (names {}, ran under {})",
                self.variant,
                self.named_profile,
                self.profile()
            )
        }
    }

    /// Whether the SDK's adapter broke (crashed, hung, garbled): L0 failed on this case.
    pub fn broken(&self) -> bool {
        matches!(&self.outcome.verdict, Lockstep::Broken(e) if !matches!(e, PortError::Unsupported { .. }))
    }

    /// Fails the gate: a failing verdict, or a snapshot not reviewed.
    pub fn blocks(&self) -> bool {
        self.verdict.is_fail()
            || matches!(self.snapshot_check, Some(SnapshotCheck::New | SnapshotCheck::Changed(_)))
    }
}

/// Judges one lockstep outcome against the findings for `label`. With `known_accepted`, the
/// profile's known deviations pass on their own (the reference SDK); without, each invariant
/// the SDK breaks needs a finding too (a real SDK).
pub fn judge(
    findings: &Findings,
    label: &str,
    scenario: &str,
    variant: &str,
    outcome: &LockstepOutcome,
    known_accepted: bool,
) -> Verdict {
    judge_at(findings, label, scenario, variant, outcome, known_accepted, true)
}

/// [`judge`], with `invariants` false when the conformance leaves L1 out (violations are
/// then not judged; divergences and a broken adapter still are).
pub fn judge_at(
    findings: &Findings,
    label: &str,
    scenario: &str,
    variant: &str,
    outcome: &LockstepOutcome,
    known_accepted: bool,
    invariants: bool,
) -> Verdict {
    let mut breakages: Vec<Breakage> = match &outcome.verdict {
        Lockstep::Broken(PortError::Unsupported { event, .. }) => {
            return Verdict::Skipped(format!("the SDK does not support `{event}`"));
        }
        Lockstep::Broken(e) => return Verdict::Fail(format!("broken: {e}")),
        Lockstep::Diverged(d) => vec![Breakage::Divergence(d.field)],
        Lockstep::Passed | Lockstep::Violated(_) => Vec::new(),
    };
    // Violations are judged whatever the lockstep said first: past a divergence they still
    // count, and must be accepted too.
    let profile = outcome.sdk.setup.profile;
    for v in outcome.report.violations.iter().filter(|_| invariants) {
        let b = Breakage::Invariant(v.invariant);
        let known = known_accepted && crate::runner::is_known(profile, v.invariant);
        if !known && !breakages.contains(&b) {
            breakages.push(b);
        }
    }
    if breakages.is_empty() {
        return Verdict::Pass;
    }
    let mut accepted = Vec::new();
    // Every breakage no finding accepts is named, not only the first: a divergence and the
    // invariant the same bug breaks are both news to the SDK's author.
    let mut failures = Vec::new();
    for b in &breakages {
        match findings.accepting(label, scenario, variant, b, outcome) {
            Some(f) => {
                if !accepted.contains(&f.id) {
                    accepted.push(f.id.clone());
                }
            }
            None => {
                let why = match (b, &outcome.verdict) {
                    (Breakage::Divergence(_), Lockstep::Diverged(d)) => d.to_string(),
                    _ => vs_text(outcome, b).unwrap_or_else(|| b.to_string()),
                };
                failures.push(format!(
                    "{why}\n  no finding in {} accepts {b} for {label} in {scenario} \
                     [{variant}] (profile {profile})",
                    findings.file()
                ));
            }
        }
    }
    if !failures.is_empty() {
        return Verdict::Fail(failures.join("\n"));
    }
    Verdict::Expected(accepted)
}

/// What a failing case broke that no finding accepts (empty when it passes or is expected).
fn unaccepted(
    findings: &Findings,
    label: &str,
    report: &CaseReport,
    outcome: &LockstepOutcome,
    known_accepted: bool,
    invariants: bool,
) -> Vec<Breakage> {
    let mut out = Vec::new();
    if let Lockstep::Diverged(d) = &outcome.verdict {
        out.push(Breakage::Divergence(d.field));
    }
    let profile = outcome.sdk.setup.profile;
    for v in outcome.report.violations.iter().filter(|_| invariants) {
        let b = Breakage::Invariant(v.invariant);
        let known = known_accepted && crate::runner::is_known(profile, v.invariant);
        if !known && !out.contains(&b) {
            out.push(b);
        }
    }
    let scenario = match report.suite {
        Suite::Scenarios => report.scenario.as_str(),
        Suite::Fuzz => "fuzz",
    };
    out.retain(|b| findings.accepting(label, scenario, &report.variant, b, outcome).is_none());
    out
}

/// Runs a shrinking step may spend on a failure of an SDK behind an adapter: each run starts
/// a process, so the budget is smaller than the in-process one.
pub const SHRINK_TRIES_EXTERNAL_MAX: usize = 60;

/// Shrinks a failing generated case (the hunt's shrinker) to a smaller one that still fails
/// the gate for one of the same reasons (an unaccepted invariant, or a divergence in the same
/// part). Returns the report of the shrunk case; a broken adapter or a passing case comes
/// back as it is.
pub fn shrink(
    subject: &dyn Subject,
    findings: &Findings,
    report: &CaseReport,
    tries_max: usize,
) -> CaseReport {
    let label = subject.label();
    let known = subject.accepts_known_deviations();
    let invariants = subject.judges_invariants();
    let broken = unaccepted(findings, &label, report, &report.outcome, known, invariants);
    if broken.is_empty() || matches!(report.outcome.verdict, Lockstep::Broken(_)) {
        return report.clone();
    }
    let setup = report.outcome.sdk.setup;
    let seed = report.outcome.sdk.seed;
    let shrunk = crate::sdk::hunt::shrink(&report.events, tries_max, |candidate| {
        let outcome = subject.run(setup, candidate, seed);
        !matches!(outcome.verdict, Lockstep::Broken(_))
            && unaccepted(findings, &label, report, &outcome, known, invariants)
                .iter()
                .any(|b| broken.contains(b))
    });
    let outcome = subject.run(setup, &shrunk, seed);
    let scenario = match report.suite {
        Suite::Scenarios => report.scenario.clone(),
        Suite::Fuzz => "fuzz".to_string(),
    };
    let verdict =
        judge_at(findings, &label, &scenario, &report.variant, &outcome, known, invariants);
    CaseReport { verdict, outcome, events: shrunk, ..report.clone() }
}

/// The case as a scenario file: its setup, seed and every event, with the first violation
/// of the SDK's trace as its description, or its divergence from the model.
/// `found` is the command that reruns the case as it was found, and `original_steps` its
/// length then (when `report` is its shrunk form).
pub fn export_found(
    report: &CaseReport,
    found: &str,
    original_steps: usize,
) -> crate::scenario::Exported {
    let o = &report.outcome;
    let origin = crate::scenario::Origin {
        command: Some(found.to_string()),
        original_steps: Some(original_steps),
        divergence: o.divergence(),
    };
    if o.sdk.steps.len() == report.events.len() {
        return crate::scenario::export_with(&o.sdk, &o.report, &[], &origin);
    }
    let full = crate::trace::run_model(o.sdk.setup, &report.events, o.sdk.seed);
    crate::scenario::export_with(&full, &o.report, &[], &origin)
}

/// The case as a scenario file: its setup, seed and every event, with the first violation
/// of the SDK's trace as its description.
pub fn export(report: &CaseReport) -> crate::scenario::Exported {
    let o = &report.outcome;
    if o.sdk.steps.len() == report.events.len() {
        return crate::scenario::export(&o.sdk, &o.report, &[]);
    }
    // The SDK stopped early (a broken adapter): the model's trace of every event carries the
    // step that broke it.
    let full = crate::trace::run_model(o.sdk.setup, &report.events, o.sdk.seed);
    crate::scenario::export(&full, &o.report, &[])
}

/// The first violation of `breakage`'s invariant, rendered, if it is one.
fn vs_text(outcome: &LockstepOutcome, breakage: &Breakage) -> Option<String> {
    let Breakage::Invariant(id) = breakage else { return None };
    outcome.report.violations.iter().find(|v| v.invariant == *id).map(|v| v.to_string())
}

/// The snapshot of one scenario variant's run on the SDK: the scenario library's snapshot
/// of the SDK's trace, as YAML.
pub fn snapshot_text(scenario: &Scenario, variant: &str, outcome: &LockstepOutcome) -> String {
    let mut shown = scenario.clone();
    // The snapshot names the setup the SDK really ran under.
    for v in shown.variants.iter_mut().filter(|v| v.name == variant) {
        v.setup = outcome.sdk.setup;
    }
    let run = VariantRun {
        variant: variant.to_string(),
        sdk: outcome.sdk.sdk.clone(),
        defects: Vec::new(),
        outcome: Outcome { trace: outcome.sdk.clone(), report: outcome.report.clone() },
        // The gate judges a divergence itself (a verdict, not a line of the snapshot).
        divergence: None,
        failures: Vec::new(),
        checks: Vec::new(),
    };
    let doc = crate::scenario::snapshot(&shown, &run);
    serde_saphyr::to_string(&doc).expect("snapshot documents always serialise")
}

/// Where a scenario variant's snapshot lives under `snapshots/sdk/<label>/`.
pub fn snapshot_file_name(scenario: &str, variant: &str) -> String {
    format!("{}@{variant}.yaml", scenario.replace('/', "__"))
}

/// A unified diff, committed → now, cut to 80 lines.
pub fn diff(old: &str, new: &str) -> String {
    let text = similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header("committed", "now")
        .to_string();
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= 80 {
        return text;
    }
    format!("{}\n… {} more lines\n", lines[..80].join("\n"), lines.len() - 80)
}

/// One runnable case of the plan.
struct Job<'a> {
    suite: Suite,
    scenario: Option<&'a Scenario>,
    name: String,
    variant: String,
    setup: Setup,
    events: std::borrow::Cow<'a, [Event]>,
    seed: Option<u64>,
    replay: String,
    named_profile: ProfileId,
}

/// What the gate runs.
pub struct Plan<'a> {
    pub scenarios: &'a [Scenario],
    /// Generated cases per fuzz profile.
    pub cases: u64,
    pub seed: u64,
    pub steps_max: usize,
}

/// Case `index` of the campaign at `seed` under `profile`, as `subject` runs it: the setup
/// (device settings left out unless the subject takes device events), the events, and the
/// case's own seed. The gate's generated cases, `cargo xtask fuzz --sdk` on an external SDK
/// and `cargo xtask bisect --seed S --case N` all build their case here, so case N is the
/// same case in each.
pub fn campaign_case(
    subject: &dyn Subject,
    profile: ProfileId,
    seed: u64,
    index: u64,
    steps_max: usize,
) -> (Setup, Vec<Event>, u64) {
    let case_seed = crate::sim::case_seed(seed, index);
    let case = crate::generate::case_from_seed(profile, steps_max, case_seed);
    let native = subject.native_module();
    let events =
        crate::generate::interpret_with(&case, None, subject.device_events(), native).events();
    let mut setup = subject.setup(if subject.device_events() {
        case.setup
    } else {
        crate::generate::without_device_settings(case.setup)
    });
    setup.sdk.native &= native;
    (setup, events, case_seed)
}

/// Runs the plan on `subject` with `jobs` threads and judges every case; reports come back
/// in plan order (scenarios by name and variant, then fuzz cases by profile and index), so
/// the output does not depend on scheduling. `on_case` is called as cases finish.
pub fn run(
    subject: &dyn Subject,
    plan: &Plan<'_>,
    findings: &Findings,
    jobs: usize,
    on_case: &(dyn Fn(&CaseReport) + Sync),
) -> Vec<CaseReport> {
    let label = subject.label();
    let mut work: Vec<Job<'_>> = Vec::new();
    let mut sorted: Vec<&Scenario> = plan.scenarios.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for scenario in sorted {
        let mut variants: Vec<_> =
            scenario.variants.iter().filter(|v| runs_variant(subject, v)).collect();
        variants.sort_by(|a, b| a.name.cmp(&b.name));
        for variant in variants {
            work.push(Job {
                suite: Suite::Scenarios,
                scenario: Some(scenario),
                name: scenario.name.clone(),
                variant: variant.name.clone(),
                setup: subject.setup(variant.setup),
                events: std::borrow::Cow::Borrowed(&scenario.events),
                seed: scenario.seed,
                replay: format!("cargo xtask gate --sdk {label} --only {}", scenario.name),
                named_profile: variant.setup.profile,
            });
        }
    }
    for profile in subject.profiles() {
        for index in 0..plan.cases {
            let (setup, events, case_seed) =
                campaign_case(subject, profile, plan.seed, index, plan.steps_max);
            work.push(Job {
                suite: Suite::Fuzz,
                scenario: None,
                name: format!("fuzz/{profile}"),
                variant: format!("case {index}"),
                setup,
                events: std::borrow::Cow::Owned(events),
                seed: Some(case_seed),
                replay: if subject.replays_by_seed() {
                    format!(
                        "cargo xtask replay --seed {} --profile {profile} --sdk {label} \
                         --steps {}",
                        crate::sim::format_seed(case_seed),
                        plan.steps_max
                    )
                } else {
                    format!(
                        "cargo xtask gate --sdk {label} --scenarios <the exported file> --cases 0"
                    )
                },
                named_profile: profile,
            });
        }
    }

    // Variants that differ only in what the model expects (profiles forced equal, say) run
    // the same inputs: run each distinct input once.
    let key = |j: &Job<'_>| {
        serde_json::to_string(&(&j.setup, &*j.events, j.seed)).expect("inputs serialise")
    };
    let next = AtomicUsize::new(0);
    let results: Mutex<BTreeMap<usize, CaseReport>> = Mutex::new(BTreeMap::new());
    let done: Mutex<BTreeMap<String, (LockstepOutcome, Duration)>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = work.get(i) else { break };
                    let k = key(job);
                    let cached = done.lock().unwrap_or_else(|e| e.into_inner()).get(&k).cloned();
                    let (outcome, wall) = match cached {
                        Some(hit) => hit,
                        None => {
                            // Wall time for the report and JUnit only; it never reaches a
                            // trace, so the clock guard does not apply.
                            #[allow(clippy::disallowed_methods)]
                            let started = Instant::now();
                            let outcome = subject.run(job.setup, &job.events, job.seed);
                            let wall = started.elapsed();
                            done.lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .insert(k, (outcome.clone(), wall));
                            (outcome, wall)
                        }
                    };
                    let scenario_name = match job.suite {
                        Suite::Scenarios => job.name.clone(),
                        Suite::Fuzz => "fuzz".to_string(),
                    };
                    let verdict = judge_at(
                        findings,
                        &label,
                        &scenario_name,
                        &job.variant,
                        &outcome,
                        subject.accepts_known_deviations(),
                        subject.judges_invariants(),
                    );
                    let snapshot = job
                        .scenario
                        .filter(|_| subject.keeps_snapshots())
                        .map(|sc| snapshot_text(sc, &job.variant, &outcome));
                    let report = CaseReport {
                        suite: job.suite,
                        scenario: job.name.clone(),
                        variant: job.variant.clone(),
                        verdict,
                        wall,
                        snapshot,
                        snapshot_check: None,
                        replay: job.replay.clone(),
                        named_profile: job.named_profile,
                        file: job.scenario.map(|sc| sc.file.clone()),
                        seed: job.seed,
                        more: Vec::new(),
                        outcome,
                        events: job.events.to_vec(),
                    };
                    on_case(&report);
                    results.lock().unwrap_or_else(|e| e.into_inner()).insert(i, report);
                }
            });
        }
    });
    results.into_inner().unwrap_or_else(|e| e.into_inner()).into_values().collect()
}

/// The verdict table: one line per case, then the totals.
pub fn table(label: &str, reports: &[CaseReport]) -> String {
    let mut out = format!("gate: {label}\n");
    let width =
        reports.iter().map(|r| r.scenario.len() + r.variant_label().len() + 1).max().unwrap_or(10);
    out.push_str(&format!(
        "{:<width$}  {:<8}  {:<8}  {:>7}  detail\n",
        "case", "verdict", "snapshot", "wall"
    ));
    for r in reports {
        let name = format!("{} {}", r.scenario, r.variant_label());
        let detail = match &r.verdict {
            Verdict::Pass => String::new(),
            Verdict::Expected(ids) => format!("finding {}", ids.join(", ")),
            Verdict::Fail(why) | Verdict::Skipped(why) => {
                why.lines().next().unwrap_or_default().to_string()
            }
        };
        out.push_str(&format!(
            "{name:<width$}  {:<8}  {:<8}  {:>5}ms  {detail}\n",
            r.verdict.word(),
            r.snapshot_check.as_ref().map(|c| c.word()).unwrap_or("-"),
            r.wall.as_millis(),
        ));
    }
    let count = |f: &dyn Fn(&CaseReport) -> bool| reports.iter().filter(|r| f(r)).count();
    out.push_str(&format!(
        "total {}: {} pass, {} expected (findings), {} fail, {} skipped; snapshots: {} new, {} changed\n",
        reports.len(),
        count(&|r| r.verdict == Verdict::Pass),
        count(&|r| matches!(r.verdict, Verdict::Expected(_))),
        count(&|r| r.verdict.is_fail()),
        count(&|r| matches!(r.verdict, Verdict::Skipped(_))),
        count(&|r| r.snapshot_check == Some(SnapshotCheck::New)),
        count(&|r| matches!(r.snapshot_check, Some(SnapshotCheck::Changed(_)))),
    ));
    out
}

/// How the run stands at each level it holds the SDK to: one line per level, with the cases
/// that fail it (a case fails L0 when its adapter broke; L1 when an invariant broke that no
/// finding accepts; L2/L3 when it diverged from the model and no finding accepts it).
pub fn level_table(
    conformance: &Conformance,
    findings: &Findings,
    reports: &[CaseReport],
) -> String {
    let mut out = format!("conformance: {conformance}\n");
    for level in conformance.levels() {
        let failing: Vec<&CaseReport> = reports
            .iter()
            .filter(|r| match level {
                Level::L0 => r.broken(),
                _ if !r.verdict.is_fail() || r.broken() => false,
                Level::L1 => fails_with(findings, r, |b| matches!(b, Breakage::Invariant(_))),
                Level::L2 | Level::L3 => {
                    fails_with(findings, r, |b| matches!(b, Breakage::Divergence(_)))
                }
            })
            .collect();
        let what = match (level, conformance.contract()) {
            (Level::L2 | Level::L3, Some(p)) => format!("{} against {p}", level.as_str()),
            _ => level.as_str().to_string(),
        };
        let verdict = if failing.is_empty() {
            "pass".to_string()
        } else {
            format!("FAIL ({} cases)", failing.len())
        };
        out.push_str(&format!("  {what:<26} {verdict:<16} {}\n", level.meaning()));
    }
    out
}

/// Whether the case breaks something `pick` selects that no finding accepts.
fn fails_with(findings: &Findings, r: &CaseReport, pick: impl Fn(&Breakage) -> bool) -> bool {
    let label = r.outcome.sdk.sdk.as_str();
    unaccepted(findings, label, r, &r.outcome, false, true).iter().any(pick)
}

/// The SDK's steps beside the model's, in the scenario vocabulary (`route=sign_in
/// loaded=true signed_in=false session=none`): every step shows what the SDK showed, and
/// where the model showed something else (view, open calls, device or server) the model's
/// row follows, marked with what differs. Broken invariants are named on their step. With
/// `details`, every step also lists what happened on the SDK (requests, answers, calls,
/// storage), and the model's happenings where they differ from the SDK's: the first place
/// the two disagree is where a person starts reading.
pub fn side_by_side(outcome: &LockstepOutcome, details: bool) -> String {
    use crate::model::time::format_clock;
    use crate::trace::words;

    let mut out =
        format!("{:>4}  {:>14}  {:<26}  {:<5}  what it shows\n", "#", "t", "event", "who");
    for (i, step) in outcome.sdk.steps.iter().enumerate() {
        let o = &step.obs;
        let shows = |o: &crate::model::Observation| {
            format!("{} open_calls={}", words::view(&o.view), o.open_calls)
        };
        let broken: Vec<&str> = outcome
            .report
            .violations
            .iter()
            .filter(|v| v.step == step.index)
            .map(|v| v.invariant.as_str())
            .collect();
        let marks = if broken.is_empty() {
            String::new()
        } else {
            format!("  BROKEN {}", broken.join(", "))
        };
        out.push_str(&format!(
            "{:>4}  {:>14}  {:<26}  {:<5}  {}{marks}\n",
            step.index,
            format_clock(step.at.ms()),
            step.event.to_string(),
            "sdk",
            shows(o)
        ));
        let model_obs = outcome.model.steps.get(i).map(|s| &s.obs);
        if details {
            let lines = |hs: &[crate::model::vocab::Happening]| -> Vec<String> {
                hs.iter()
                    .map(|h| {
                        format!("{:>22}  {}", format_clock(h.at().ms()), crate::trace::describe(h))
                    })
                    .collect()
            };
            let mine = lines(&o.happenings);
            for line in &mine {
                out.push_str(&format!("  sdk  {line}\n"));
            }
            if let Some(m) = model_obs {
                let theirs = lines(&m.happenings);
                if theirs != mine {
                    for line in &theirs {
                        out.push_str(&format!("model {line}\n"));
                    }
                }
            }
        }
        let Some(m) = model_obs else { continue };
        let mut differ = Vec::new();
        if m.view != o.view {
            differ.push("view");
        }
        if m.open_calls != o.open_calls {
            differ.push("open_calls");
        }
        if m.device != o.device {
            differ.push("device");
        }
        if m.server != o.server {
            differ.push("server");
        }
        if differ.is_empty() {
            continue;
        }
        out.push_str(&format!("{:>4}  {:>14}  {:<26}  {:<5}  {}\n", "", "", "", "model", shows(m)));
        for part in differ.iter().filter(|p| matches!(**p, "device" | "server")) {
            let (mine, theirs) = match *part {
                "device" => (words::device(&o.device), words::device(&m.device)),
                _ => (words::server(&o.server), words::server(&m.server)),
            };
            out.push_str(&format!(
                "{:>4}  {:>14}  {:<26}  {:<5}  {part}: sdk {mine}; model {theirs}\n",
                "", "", "", ""
            ));
        }
        out.push_str(&format!(
            "{:>4}  {:>14}  {:<26}  {:<5}  ^ differs in {}\n",
            "",
            "",
            "",
            "",
            differ.join(", ")
        ));
    }
    if let Lockstep::Broken(e) = &outcome.verdict {
        out.push_str(&format!("broken after step {}: {e}\n", outcome.sdk.steps.len()));
    }
    out
}
