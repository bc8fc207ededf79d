//! `cargo xtask fuzz --sdk clerk-js@VERSION` (or `cmd:COMMAND`): a fuzz campaign on an SDK
//! behind the adapter protocol, judged like the gate's generated cases.
//!
//! Case `i` is the gate's and the reference campaign's case `i` (a pure function of seed and
//! index, so `--shard K/N` composes), run in lockstep with the model under `clerk-js-6` (the
//! profile a real SDK is compared with) at the fidelity the adapter declares or `--fidelity`
//! forces. Each case is judged against `findings.yaml` as the gate judges it (`gate::judge`,
//! scenario `fuzz`): `pass`, `expected` (accepted by the findings it names), `FAIL` (a
//! divergence from the model in one field, or an invariant no finding accepts) or `skipped`
//! (the adapter cannot do an event). Cases run on `--jobs` workers (default: the gate's,
//! two on a two-core machine), each starting its own adapter processes; results are reported
//! in index order, so the same seed gives the same cases and the same verdicts.
//!
//! Every failing case is shrunk on the same SDK (the hunt's shrinker, keeping only smaller
//! cases that fail in the same class, within a deterministic budget that counts each run and
//! the virtual time it spans: see [`SHRINK_COST_MAX`]) and written the moment it is found, atomically, as a scenario under
//! `target/fuzz-failures/<sdk>/` (or `--export DIR`) that `cargo xtask gate --sdk SPEC
//! --scenarios FILE --cases 0` replays. The summary classifies every case that did not pass.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use session_harness::gate::{self, Breakage, CaseReport, Findings, Suite, Verdict};
use session_harness::model::profile::ProfileId;
use session_harness::model::vocab::Event;
use session_harness::runner::lockstep::{Fidelity, LockstepOutcome, Verdict as Lockstep};
use session_harness::runner::spec::SdkSpec;
use session_harness::scenario;
use session_harness::sdk::hunt;
use session_harness::sim::format_seed;

/// What the campaign was asked for (the `fuzz` arguments that apply to an external SDK).
pub struct Campaign {
    pub sdk: SdkSpec,
    pub seed: u64,
    pub cases: u64,
    pub range: std::ops::Range<u64>,
    pub shard_text: String,
    pub steps: usize,
    pub jobs: Option<usize>,
    pub json: bool,
    pub export_dir: PathBuf,
    pub fidelity: Option<Fidelity>,
    /// Whether `--profile` asked for `documented` alone (refused: a real SDK is compared
    /// with `clerk-js-6`).
    pub documented_only: bool,
}

/// One judged case, in the terms the summary classifies it by.
struct Judged {
    index: u64,
    case_seed: u64,
    verdict: Verdict,
    /// `divergence in requests`, `invariant calls-settle`, `accepted by clerk-js-…`, `pass`.
    class: String,
    /// The first line of why it failed (FAIL only).
    why: String,
    exported: Option<PathBuf>,
    shrunk_steps: Option<(usize, usize)>,
    wall: Duration,
}

/// How a verdict is counted: what broke first, in the vocabulary of findings.
fn classify(findings: &Findings, label: &str, report: &CaseReport) -> String {
    classify_run(findings, label, &report.variant, &report.verdict, &report.outcome)
}

fn classify_run(
    findings: &Findings,
    label: &str,
    variant: &str,
    verdict: &Verdict,
    outcome: &LockstepOutcome,
) -> String {
    match verdict {
        Verdict::Pass => "pass".to_string(),
        Verdict::Expected(ids) => format!("accepted by {}", ids.join(" + ")),
        Verdict::Skipped(why) => format!("skipped: {why}"),
        Verdict::Fail(_) => match &outcome.verdict {
            Lockstep::Diverged(d) => format!("divergence in {}", d.field),
            Lockstep::Broken(_) => "broken adapter".to_string(),
            _ => {
                // The invariants no finding accepts (the verdict's reason names the first).
                let mut ids: Vec<&str> = outcome
                    .report
                    .violations
                    .iter()
                    .filter(|v| {
                        findings
                            .accepting(
                                label,
                                "fuzz",
                                variant,
                                &Breakage::Invariant(v.invariant),
                                outcome,
                            )
                            .is_none()
                    })
                    .map(|v| v.invariant.as_str())
                    .collect();
                ids.sort();
                ids.dedup();
                format!("invariant {}", ids.join(" + "))
            }
        },
    }
}

pub fn run(c: Campaign, root: &Path) -> Result<bool> {
    if c.documented_only {
        bail!(
            "`--sdk {}` is compared with the `clerk-js-6` profile (the one that describes a real \
             SDK); drop `--profile documented` or pass `--profile clerk-js-6`",
            c.sdk
        );
    }
    let jobs = c.jobs.unwrap_or_else(crate::gate::default_jobs);
    if !(1..=64).contains(&jobs) {
        bail!("--jobs must be in 1..=64 for an external SDK (each job runs Node), got {jobs}");
    }
    // The seed comes first, before anything can fail.
    eprintln!(
        "seed: {}  sdk: {}  cases {}..{} of {}  shard: {}  jobs: {jobs}  fidelity: {}",
        format_seed(c.seed),
        c.sdk,
        c.range.start,
        c.range.end,
        c.cases,
        c.shard_text,
        c.fidelity.map_or("declared by the adapter".to_string(), |f| f.to_string()),
    );
    let findings_path = root.join("findings.yaml");
    let findings = Findings::parse(
        "findings.yaml",
        &std::fs::read_to_string(&findings_path)
            .with_context(|| format!("reading {}", findings_path.display()))?,
    )?;
    let subject = crate::gate::subject(&c.sdk, root, None, c.fidelity)?;
    let label = subject.label();
    scenario::files::remove_stale_temporaries(&c.export_dir)
        .with_context(|| format!("cleaning {}", c.export_dir.display()))?;
    let profile = ProfileId::ClerkJs6;
    let total = c.range.end - c.range.start;
    let bar = crate::term::progress(total, "cases");
    let started = Instant::now();
    let next = AtomicU64::new(0);
    let failing = AtomicU64::new(0);
    let judged: Mutex<BTreeMap<u64, Judged>> = Mutex::new(BTreeMap::new());
    let export_error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let known = subject.accepts_known_deviations();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        break;
                    }
                    let index = c.range.start + n;
                    let (setup, events, seed) =
                        gate::campaign_case(subject.as_ref(), profile, c.seed, index, c.steps);
                    let case_started = Instant::now();
                    let outcome = subject.run(setup, &events, Some(seed));
                    let wall = case_started.elapsed();
                    let variant = format!("case {index}");
                    let verdict = gate::judge(&findings, &label, "fuzz", &variant, &outcome, known);
                    let found = found_command(&c, index);
                    let report = CaseReport {
                        suite: Suite::Fuzz,
                        scenario: format!("fuzz/{profile}"),
                        variant,
                        verdict,
                        wall,
                        snapshot: None,
                        snapshot_check: None,
                        replay: found.clone(),
                        named_profile: profile,
                        file: None,
                        seed: Some(seed),
                        more: Vec::new(),
                        outcome,
                        events,
                    };
                    let class = classify(&findings, &label, &report);
                    let mut j = Judged {
                        index,
                        case_seed: seed,
                        verdict: report.verdict.clone(),
                        class: class.clone(),
                        why: report.verdict_text().lines().next().unwrap_or_default().to_string(),
                        exported: None,
                        shrunk_steps: None,
                        wall,
                    };
                    if report.verdict.is_fail() {
                        let v = failing.fetch_add(1, Ordering::Relaxed) + 1;
                        bar.set_message(format!("{v} failing, shrinking"));
                        let shrunk = shrink(subject.as_ref(), &findings, &label, &report, &class);
                        let exported = gate::export_found(&shrunk, &found, report.events.len());
                        let file = exported.name.trim_start_matches("regressions/");
                        let path = c.export_dir.join(format!("{file}.yaml"));
                        // Written the moment it is found: a killed campaign keeps it.
                        match scenario::write_atomic(&path, &exported.yaml) {
                            Ok(()) => {
                                j.exported = Some(path);
                                j.shrunk_steps = Some((shrunk.events.len(), report.events.len()));
                            }
                            Err(e) => {
                                let mut slot = export_error.lock().expect("no panics under lock");
                                slot.get_or_insert(anyhow::Error::new(e).context(format!(
                                    "exporting case {index} to {}",
                                    path.display()
                                )));
                            }
                        }
                        bar.set_message(format!("{v} failing"));
                    }
                    let done = {
                        let mut all = judged.lock().expect("no panics under lock");
                        all.insert(index, j);
                        all.len() as u64
                    };
                    bar.inc(1);
                    // A real SDK takes seconds a case: off a terminal (CI, a log file), where
                    // the bar is hidden, say how far it got every tenth of the campaign.
                    if bar.is_hidden()
                        && (done * 10 / total.max(1)) > ((done - 1) * 10 / total.max(1))
                    {
                        eprintln!(
                            "{done}/{total} cases, {} failing, {:.0}s",
                            failing.load(Ordering::Relaxed),
                            started.elapsed().as_secs_f64()
                        );
                    }
                }
            });
        }
    });
    bar.finish_and_clear();
    if let Some(e) = export_error.into_inner().expect("workers are done") {
        return Err(e);
    }
    let judged: Vec<Judged> =
        judged.into_inner().expect("workers are done").into_values().collect();
    let elapsed = started.elapsed().as_secs_f64();
    let count = |f: &dyn Fn(&Judged) -> bool| judged.iter().filter(|j| f(j)).count();
    let skipped = count(&|j| matches!(j.verdict, Verdict::Skipped(_)));
    let failed = count(&|j| j.verdict.is_fail());
    let passed = count(&|j| j.verdict == Verdict::Pass);
    let expected = count(&|j| matches!(j.verdict, Verdict::Expected(_)));
    let ran = judged.len() - skipped;
    let agree_pct = if ran == 0 { 100.0 } else { (passed + expected) as f64 * 100.0 / ran as f64 };
    let mut classes: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for j in judged.iter().filter(|j| j.verdict != Verdict::Pass) {
        classes.entry(j.class.as_str()).or_default().push(j.index);
    }
    if c.json {
        let object = serde_json::json!({
            "schema_version": crate::JSON_SCHEMA_VERSION,
            "seed": format_seed(c.seed),
            "sdk": label,
            "fidelity": c.fidelity.map(|f| f.as_str()),
            "shard": c.shard_text,
            "cases": judged.len(),
            "pass": passed,
            "expected": expected,
            "fail": failed,
            "skipped": skipped,
            "agree_percent": (agree_pct * 10.0).round() / 10.0,
            "classes": classes.iter().map(|(k, v)| (k.to_string(), v.clone())).collect::<BTreeMap<_, _>>(),
            "failures": judged.iter().filter(|j| j.verdict.is_fail()).map(|j| serde_json::json!({
                "case": j.index,
                "case_seed": format_seed(j.case_seed),
                "class": j.class,
                "why": j.why,
                "steps": j.shrunk_steps.map(|s| s.0),
                "steps_found": j.shrunk_steps.map(|s| s.1),
                "exported": j.exported.as_deref().map(|p| shown(root, p)),
                "found_by": found_command(&c, j.index),
            })).collect::<Vec<_>>(),
            "seconds": (elapsed * 1000.0).round() / 1000.0,
            "passed": failed == 0,
        });
        println!("{object}");
        return Ok(failed == 0);
    }
    println!(
        "{} cases on {label} in {elapsed:.1}s ({:.2} cases/s): {passed} pass, {expected} expected \
         (findings), {failed} fail, {skipped} skipped; {agree_pct:.1} % of {ran} run cases agree",
        judged.len(),
        judged.len() as f64 / elapsed.max(0.001),
    );
    if !classes.is_empty() {
        println!("\nevery case that did not pass, by what it broke first:");
        for (class, cases) in &classes {
            let shown_cases: Vec<String> = cases.iter().take(12).map(|i| i.to_string()).collect();
            let more = if cases.len() > 12 {
                format!(" … {} more", cases.len() - 12)
            } else {
                String::new()
            };
            println!("  {:>4}  {class}  (cases {}{more})", cases.len(), shown_cases.join(", "));
        }
    }
    for j in judged.iter().filter(|j| j.verdict.is_fail()) {
        println!("\n{} case {} ({}): {}", crate::term::fail("FAIL"), j.index, j.class, j.why);
        println!(
            "  sdk: {label}  profile: {profile}  case seed: {}  wall: {} ms",
            format_seed(j.case_seed),
            j.wall.as_millis()
        );
        if let (Some(path), Some((steps, found))) = (&j.exported, j.shrunk_steps) {
            println!("  shrunk: {steps} steps (found with {found})");
            println!("  exported: {}", shown(root, path));
            println!(
                "  rerun:    cargo xtask gate --sdk {} --scenarios {} --cases 0",
                c.sdk,
                shown(root, path)
            );
        }
        println!("  found by: {}", found_command(&c, j.index));
    }
    println!(
        "verdict: {}",
        if failed == 0 { crate::term::pass("pass") } else { crate::term::fail("FAIL") }
    );
    Ok(failed == 0)
}

/// What shrinking one failure may cost, in runs of a short case: each candidate costs one,
/// plus one per [`SHRINK_VIRTUAL_MS_PER_UNIT`] of virtual time it spans (a real SDK's wall
/// time grows with the virtual time it lives through: an hour in the foreground is a hundred
/// refresh round trips). A deterministic bound: the same case shrinks the same way anywhere.
const SHRINK_COST_MAX: u64 = 60;
const SHRINK_VIRTUAL_MS_PER_UNIT: u64 = 30 * 60 * 1000;

fn shrink_cost(events: &[Event]) -> u64 {
    let virtual_ms: u64 = events
        .iter()
        .map(|e| match e {
            Event::Advance { ms } => *ms,
            _ => 0,
        })
        .fold(0, u64::saturating_add);
    1 + virtual_ms / SHRINK_VIRTUAL_MS_PER_UNIT
}

/// Shrinks a failing case (the hunt's shrinker, at most the gate's external tries and
/// [`SHRINK_COST_MAX`]) to a smaller one that fails the same way: same class (the same
/// divergence field, or the same invariants no finding accepts). Returns the shrunk case's
/// report, or the case as it is when nothing smaller fails so.
fn shrink(
    subject: &dyn gate::Subject,
    findings: &Findings,
    label: &str,
    report: &CaseReport,
    class: &str,
) -> CaseReport {
    let setup = report.outcome.sdk.setup;
    let seed = report.outcome.sdk.seed;
    let spent = std::cell::Cell::new(0u64);
    let shrunk = hunt::shrink(&report.events, gate::SHRINK_TRIES_EXTERNAL_MAX, |candidate| {
        let cost = shrink_cost(candidate);
        if spent.get() + cost > SHRINK_COST_MAX {
            return false;
        }
        spent.set(spent.get() + cost);
        let outcome = subject.run(setup, candidate, seed);
        let verdict = gate::judge(
            findings,
            label,
            "fuzz",
            &report.variant,
            &outcome,
            subject.accepts_known_deviations(),
        );
        verdict.is_fail()
            && classify_run(findings, label, &report.variant, &verdict, &outcome) == class
    });
    if shrunk.len() == report.events.len() {
        return report.clone();
    }
    let outcome = subject.run(setup, &shrunk, seed);
    let verdict = gate::judge(
        findings,
        label,
        "fuzz",
        &report.variant,
        &outcome,
        subject.accepts_known_deviations(),
    );
    CaseReport { verdict, outcome, events: shrunk, ..report.clone() }
}

/// The command that reruns case `index` of the campaign as it was found: a one-case shard.
fn found_command(c: &Campaign, index: u64) -> String {
    let fidelity = c.fidelity.map(|f| format!(" --fidelity {f}")).unwrap_or_default();
    format!(
        "cargo xtask fuzz --sdk {} --seed {} --steps {} --cases {} --shard {}/{}{fidelity}",
        c.sdk,
        format_seed(c.seed),
        c.steps,
        index + 1,
        index + 1,
        index + 1
    )
}

/// A path as printed: relative to the workspace when inside it.
fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}
