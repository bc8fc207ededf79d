//! `cargo xtask bisect`: which release of a real SDK changed a verdict.
//!
//! `--sdk clerk-js|clerk-expo --from A --to B`, and one case to judge: a scenario file
//! (`--scenario FILE [--variant NAME]`) or one generated case of a campaign (`--seed S --case
//! N [--steps K]`). It lists the releases of the package that the npm registry publishes in
//! [A, B] (pre-releases, versions with a `-`, left out; ordered numerically), gives A and B a
//! verdict, and when the two differ binary-searches the first release whose verdict differs
//! from A's. Every run prints one line (`[k/m] VERSION  verdict  (seconds)`), then the answer;
//! `--json` prints one object instead (docs/json-outputs.md).
//!
//! What this file owns: the range ([`releases_in`]), the search ([`bisect`], pure, over any
//! verdict function: tested here with plain values), and the verdict of one release
//! ([`VersionVerdict`]). What it borrows: installing and running a release is the gate's
//! (`gate::subject`, so `npm_sdk::install` reuses a pinned folder or an installed
//! `target/gate/<label>/`, and `session_harness::gate::run` runs the scenario's variants in
//! lockstep with the `clerk-js-6` model); a generated case is `gate::campaign_case`, the
//! same case N as `gate` and `fuzz --sdk` build; the registry's list is `npm_sdk::published`.
//!
//! A verdict is what the release does, not what the gate makes of it: findings.yaml is not
//! consulted, because a finding names the majors it was shown on (`clerk-js@6`), so the
//! gate's `expected` would turn into `FAIL` at a major boundary by bookkeeping alone. A
//! verdict per variant is `pass`, `fail (…)` with what broke (the divergence's field, then
//! every invariant the release's trace breaks), `skipped (…)` (the adapter cannot do an
//! event) or `broken (…)` (the adapter crashed, hung or garbled).
//!
//! A binary search assumes one change: with a verdict that changes and changes back inside
//! the range it finds one release where the verdict differs from its predecessor's, not
//! necessarily the first; and equal verdicts at A and B do not prove nothing changed between.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use session_harness::gate::{self, Conformance, ExternalSubject, Findings, Plan};
use session_harness::generate::TRACE_STEPS_DEFAULT;
use session_harness::model::profile::ProfileId;
use session_harness::runner::lockstep::{LockstepOutcome, Verdict as Lockstep};
use session_harness::runner::spec::{NpmSdk, SdkSpec};
use session_harness::scenario::{self, Scenario};
use session_harness::sdk::PortError;
use session_harness::sim::{format_seed, parse_seed};

use crate::npm_sdk::version_key;

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("judged").required(true).args(["scenario", "seed"])))]
pub struct Args {
    /// The package: `clerk-js` (@clerk/clerk-js) or `clerk-expo` (@clerk/expo).
    #[arg(long)]
    sdk: String,
    /// The oldest release of the range; a change is a verdict other than this one's.
    #[arg(long)]
    from: String,
    /// The newest release of the range (inclusive).
    #[arg(long)]
    to: String,
    /// The scenario file to judge each release by: every variant a real SDK runs.
    #[arg(long, conflicts_with = "seed")]
    scenario: Option<PathBuf>,
    /// Only this variant of the scenario.
    #[arg(long, requires = "scenario")]
    variant: Option<String>,
    /// The campaign seed of the generated case to judge each release by (with --case).
    #[arg(long, value_parser = parse_seed, requires = "case")]
    seed: Option<u64>,
    /// The generated case's index in the campaign, as `fuzz` and `gate` number them.
    #[arg(long, requires = "seed", value_parser = parse_case)]
    case: Option<u64>,
    /// Steps of the generated case: the fuzz campaign's default (the gate's campaign uses 30).
    #[arg(long, default_value_t = TRACE_STEPS_DEFAULT, value_parser = crate::counts::parse_steps)]
    steps: usize,
    /// Worker threads for a scenario's variants (each runs Node).
    #[arg(long, default_value_t = crate::gate::default_jobs())]
    jobs: usize,
    /// Print one JSON object on stdout (the steps go to stderr).
    #[arg(long)]
    json: bool,
}

/// `--case N`: an index below the campaign's case limit.
fn parse_case(text: &str) -> Result<u64, String> {
    let max = crate::counts::CASES_MAX;
    match text.trim().parse::<u64>() {
        Ok(n) if n < max => Ok(n),
        _ => Err(format!("bad case index `{text}`: expected a whole number in 0..{max}")),
    }
}

/// The package `--sdk` names: the harness's prefix (`clerk-js`) or the npm name.
fn parse_sdk(text: &str) -> Result<NpmSdk> {
    let text = text.trim();
    NpmSdk::ALL.into_iter().find(|s| text == s.prefix() || text == s.package()).with_context(|| {
        let known: Vec<String> =
            NpmSdk::ALL.iter().map(|s| format!("`{}` ({})", s.prefix(), s.package())).collect();
        format!("unknown package `{text}`; bisect knows {}", known.join(" and "))
    })
}

// ---------------------------------------------------------------------------------------
// The range

/// A release version: dot-separated whole numbers (`6.40.0`), no pre-release tag.
fn is_release(version: &str) -> bool {
    !version.is_empty()
        && version.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether both ends are release versions, the older first (checked before the registry is
/// asked).
fn check_ends(from: &str, to: &str) -> Result<()> {
    for (flag, v) in [("--from", from), ("--to", to)] {
        if v.contains('-') && is_release(v.split('-').next().unwrap_or("")) {
            bail!("{flag} {v} is a pre-release; bisect walks releases only (e.g. `6.40.0`)");
        }
        if !is_release(v) {
            bail!("{flag} `{v}` is not a release version; write it as e.g. `6.40.0`");
        }
    }
    if version_key(from) > version_key(to) {
        bail!("--from {from} is newer than --to {to}: the range runs from the older release");
    }
    Ok(())
}

/// The releases of `published` in [from, to], oldest first: pre-releases (a `-`) left out,
/// ordered numerically (`3.2.10` after `3.2.9`). Both ends must be published releases.
pub fn releases_in(
    package: &str,
    published: &[String],
    from: &str,
    to: &str,
) -> Result<Vec<String>> {
    check_ends(from, to)?;
    let mut releases: Vec<String> = published.iter().filter(|v| is_release(v)).cloned().collect();
    releases.sort_by_key(|v| version_key(v));
    releases.dedup();
    for v in [from, to] {
        if !releases.iter().any(|r| r == v) {
            let before = releases.iter().rev().find(|r| version_key(r) < version_key(v));
            let after = releases.iter().find(|r| version_key(r) > version_key(v));
            let nearest = match (before, after) {
                (Some(b), Some(a)) => format!("; the nearest releases are {b} and {a}"),
                (Some(b), None) => format!("; the newest release is {b}"),
                (None, Some(a)) => format!("; the oldest release is {a}"),
                (None, None) => String::new(),
            };
            bail!("{package}@{v} is not a published release{nearest}");
        }
    }
    Ok(releases
        .into_iter()
        .filter(|v| version_key(v) >= version_key(from) && version_key(v) <= version_key(to))
        .collect())
}

// ---------------------------------------------------------------------------------------
// The search

/// What the search found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Search<V> {
    /// The first and the last version have the same verdict.
    NoChange { verdict: V },
    /// `index` has a verdict other than the first version's, and `index - 1` has the first
    /// version's.
    Changed { first: V, index: usize, verdict: V },
}

/// The search's answer and the versions it ran, in the order it ran them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bisection<V> {
    pub search: Search<V>,
    pub evaluated: Vec<usize>,
}

/// The most versions [`bisect`] runs over `count` versions: the two ends, then one per
/// halving of the gap between them.
pub fn runs_max(count: usize) -> usize {
    match count {
        0 | 1 => count,
        _ => {
            let gap = count - 1;
            2 + (usize::BITS - (gap - 1).leading_zeros()) as usize
        }
    }
}

/// Binary-searches `count` versions (oldest first) for the first whose verdict differs from
/// the first version's: runs the first and the last, stops if they agree, and otherwise
/// halves the gap between the last version known to agree and the first known to differ.
/// `verdict_of` is called at most [`runs_max`]`(count)` times, never twice for one index; its
/// first error stops the search.
pub fn bisect<V: PartialEq, E>(
    count: usize,
    mut verdict_of: impl FnMut(usize) -> Result<V, E>,
) -> Result<Bisection<V>, E> {
    assert!(count > 0, "a range always holds its first version");
    let mut evaluated = Vec::new();
    let mut run = |i: usize| {
        evaluated.push(i);
        verdict_of(i)
    };
    let first = run(0)?;
    if count == 1 {
        return Ok(Bisection { search: Search::NoChange { verdict: first }, evaluated });
    }
    let last = run(count - 1)?;
    if last == first {
        return Ok(Bisection { search: Search::NoChange { verdict: first }, evaluated });
    }
    // Invariant: `same` has the first verdict, `changed` another one (`changed_verdict`).
    let (mut same, mut changed, mut changed_verdict) = (0, count - 1, last);
    while changed - same > 1 {
        let mid = same + (changed - same) / 2;
        let verdict = run(mid)?;
        if verdict == first {
            same = mid;
        } else {
            changed = mid;
            changed_verdict = verdict;
        }
    }
    Ok(Bisection {
        search: Search::Changed { first, index: changed, verdict: changed_verdict },
        evaluated,
    })
}

// ---------------------------------------------------------------------------------------
// The verdict

/// How one variant (or the generated case) came out on one release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaseVerdict {
    Pass,
    /// What broke: `divergence in <field>` first, then `invariant <id>` for each invariant
    /// broken, sorted, each once.
    Fail(Vec<String>),
    /// The adapter answered `unsupported` to this event.
    Skipped(String),
    /// The adapter crashed, hung or garbled: which, and at which step.
    Broken(String),
}

impl CaseVerdict {
    /// From what a lockstep run shows: the field of its first divergence, if any, and the
    /// invariants its trace breaks.
    pub fn from_parts<'a>(
        divergence: Option<&str>,
        invariants: impl IntoIterator<Item = &'a str>,
    ) -> CaseVerdict {
        let mut broke: Vec<String> =
            invariants.into_iter().map(|id| format!("invariant {id}")).collect();
        broke.sort();
        broke.dedup();
        if let Some(field) = divergence {
            broke.insert(0, format!("divergence in {field}"));
        }
        if broke.is_empty() { CaseVerdict::Pass } else { CaseVerdict::Fail(broke) }
    }

    /// The verdict of one lockstep run on a release.
    pub fn of(outcome: &LockstepOutcome) -> CaseVerdict {
        let divergence = match &outcome.verdict {
            Lockstep::Broken(e) => return CaseVerdict::of_port_error(e),
            Lockstep::Diverged(d) => Some(d.field),
            Lockstep::Passed | Lockstep::Violated(_) => None,
        };
        CaseVerdict::from_parts(
            divergence,
            outcome.report.violations.iter().map(|v| v.invariant.as_str()),
        )
    }

    /// A run that could not go on. The wording leaves out what varies from run to run (a
    /// crash's stderr, a timeout's length), so two releases that break alike compare equal.
    pub fn of_port_error(e: &PortError) -> CaseVerdict {
        match e {
            PortError::Unsupported { event, .. } => CaseVerdict::Skipped(event.clone()),
            PortError::Crashed { step, .. } => {
                CaseVerdict::Broken(format!("crashed at step {step}"))
            }
            PortError::Hung { step, .. } => CaseVerdict::Broken(format!("hung at step {step}")),
            PortError::Garbled { step, .. } => {
                CaseVerdict::Broken(format!("garbled output at step {step}"))
            }
        }
    }

    /// `pass`, `fail`, `skipped` or `broken`.
    pub fn word(&self) -> &'static str {
        match self {
            CaseVerdict::Pass => "pass",
            CaseVerdict::Fail(_) => "fail",
            CaseVerdict::Skipped(_) => "skipped",
            CaseVerdict::Broken(_) => "broken",
        }
    }

    fn json(&self, variant: &str) -> serde_json::Value {
        let (broke, why) = match self {
            CaseVerdict::Pass => (Vec::new(), None),
            CaseVerdict::Fail(broke) => (broke.clone(), None),
            CaseVerdict::Skipped(event) => (Vec::new(), Some(format!("unsupported `{event}`"))),
            CaseVerdict::Broken(how) => (Vec::new(), Some(how.clone())),
        };
        serde_json::json!({ "variant": variant, "verdict": self.word(), "broke": broke, "why": why })
    }
}

impl std::fmt::Display for CaseVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaseVerdict::Pass => write!(f, "pass"),
            CaseVerdict::Fail(broke) => write!(f, "fail ({})", broke.join(", ")),
            CaseVerdict::Skipped(event) => write!(f, "skipped (unsupported `{event}`)"),
            CaseVerdict::Broken(how) => write!(f, "broken ({how})"),
        }
    }
}

/// The verdict of one release: each variant's (or the generated case's), by name. Two
/// releases' verdicts are equal when every variant came out the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionVerdict(pub Vec<(String, CaseVerdict)>);

impl VersionVerdict {
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "text": self.to_string(),
            "variants": self.0.iter().map(|(v, c)| c.json(v)).collect::<Vec<_>>(),
        })
    }
}

impl std::fmt::Display for VersionVerdict {
    /// One verdict when every variant agrees (`pass`); otherwise each, `name: verdict; …`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_slice() {
            [] => write!(f, "no variant ran"),
            [(_, first), rest @ ..] if rest.iter().all(|(_, c)| c == first) => write!(f, "{first}"),
            all => {
                let parts: Vec<String> = all.iter().map(|(v, c)| format!("{v}: {c}")).collect();
                write!(f, "{}", parts.join("; "))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Running a release

/// What each release is judged by.
enum Judged {
    /// A scenario, cut to the variants a real SDK runs (or the one `--variant` names).
    Scenario { scenario: Box<Scenario>, shown: String },
    /// Case `index` of the campaign at `seed`, `steps` long.
    Case { seed: u64, index: u64, steps: usize },
}

impl Judged {
    /// The command that shows `label`'s run of this case step by step beside the model's.
    fn replay(&self, sdk: NpmSdk, version: &str, variant: Option<&str>) -> String {
        let label = sdk.label(version);
        match self {
            Judged::Scenario { shown, .. } => {
                let mut args = vec!["cargo", "xtask", "replay", shown.as_str()];
                if let Some(v) = variant {
                    args.extend(["--variant", v]);
                }
                args.extend(["--sdk", label.as_str()]);
                crate::gate::quote(&args)
            }
            Judged::Case { seed, index, steps } => format!(
                "cargo xtask fuzz --sdk {label} --seed {} --steps {steps} --cases {} --shard {}/{}",
                format_seed(*seed),
                index + 1,
                index + 1,
                index + 1
            ),
        }
    }
}

/// Loads the scenario and keeps the variants a release of `sdk` runs (the gate's rule:
/// defect-free, not naming `sdk: reference`), or only `--variant`.
fn load_scenario(
    root: &Path,
    file: &Path,
    variant: Option<&str>,
    sdk: NpmSdk,
    from: &str,
) -> Result<Judged> {
    let shown = file.to_string_lossy().to_string();
    // A path relative to the repository root works from anywhere in it, as in `replay`.
    let path = if file.exists() { file.to_path_buf() } else { root.join(file) };
    if !path.is_file() {
        bail!("scenario file {shown} does not exist (nor under the repository root)");
    }
    let mut sc = scenario::load(&path, &shown)?;
    // Which variants the gate runs depends only on the kind of SDK, not on its install: a
    // subject that is never run answers it.
    let probe = ExternalSubject::new(
        &sdk.label(from),
        crate::npm_sdk::command(root, sdk, root, from),
        Conformance::CLERK_JS,
    );
    let all: Vec<String> = sc.variants.iter().map(|v| v.name.clone()).collect();
    let runnable: Vec<String> = sc
        .variants
        .iter()
        .filter(|v| gate::runs_variant(&probe, v))
        .map(|v| v.name.clone())
        .collect();
    match variant {
        Some(name) if !all.iter().any(|v| v == name) => {
            bail!("{shown} has no variant `{name}`; its variants: {}", all.join(", "))
        }
        Some(name) if !runnable.iter().any(|v| v == name) => bail!(
            "variant `{name}` of {shown} runs on the reference SDK only (it switches on \
             defects or names `sdk: reference`); the variants a release runs: {}",
            if runnable.is_empty() { "none".to_string() } else { runnable.join(", ") }
        ),
        Some(name) => sc.variants.retain(|v| v.name == name),
        None if runnable.is_empty() => bail!(
            "no variant of {shown} runs on a real SDK: each switches on defects or names \
             `sdk: reference` ({})",
            all.join(", ")
        ),
        None => sc.variants.retain(|v| runnable.contains(&v.name)),
    }
    Ok(Judged::Scenario { scenario: Box::new(sc), shown })
}

/// What a broken run said, for the person reading (never compared): `variant: error`, its
/// first line cut to [`DETAIL_CHARS_MAX`] characters, once per distinct error.
fn broken_details<'a>(
    runs: impl IntoIterator<Item = (&'a str, &'a LockstepOutcome)>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (variant, outcome) in runs {
        let Lockstep::Broken(e) = &outcome.verdict else { continue };
        if matches!(e, PortError::Unsupported { .. }) {
            continue;
        }
        // The first line says what broke; a crash's last stderr line usually says why.
        let text = e.to_string();
        let lines: Vec<&str> = text.lines().collect();
        let first = lines.first().copied().unwrap_or("");
        let last = lines.iter().skip(1).rev().find(|l| !l.trim().is_empty());
        let joined = match last {
            Some(last) => format!("{first} … {}", last.trim()),
            None => first.to_string(),
        };
        let line: String = joined.chars().take(DETAIL_CHARS_MAX).collect();
        if !out.iter().any(|o| o.ends_with(&line)) {
            out.push(format!("{variant}: {line}"));
        }
    }
    out
}

/// How much of a broken run's error a step prints.
const DETAIL_CHARS_MAX: usize = 400;

/// Installs (or reuses) `version` and judges it; also returns what broken runs said.
fn verdict_at(
    root: &Path,
    sdk: NpmSdk,
    version: &str,
    judged: &Judged,
    jobs: usize,
) -> Result<(VersionVerdict, Vec<String>)> {
    let spec = SdkSpec::Npm { sdk, version: version.to_string() };
    let subject = crate::gate::subject(&spec, root, None, None)
        .with_context(|| format!("bisect stopped at {}@{version}", sdk.package()))?;
    Ok(match judged {
        Judged::Scenario { scenario, .. } => {
            // Findings are not consulted (module doc): the verdict is read off each outcome.
            let plan = Plan {
                scenarios: std::slice::from_ref(scenario.as_ref()),
                cases: 0,
                seed: 0,
                steps_max: 1,
            };
            let reports =
                gate::run(subject.as_ref(), &plan, &Findings::default(), jobs, &|_: &_| {});
            let details = broken_details(reports.iter().map(|r| (r.variant.as_str(), &r.outcome)));
            let verdict = VersionVerdict(
                reports.iter().map(|r| (r.variant.clone(), CaseVerdict::of(&r.outcome))).collect(),
            );
            (verdict, details)
        }
        Judged::Case { seed, index, steps } => {
            // The profile a real SDK is compared with, as `fuzz --sdk` and the gate run it.
            let (setup, events, case_seed) =
                gate::campaign_case(subject.as_ref(), ProfileId::ClerkJs6, *seed, *index, *steps);
            let outcome = subject.run(setup, &events, Some(case_seed));
            let variant = format!("case {index}");
            let details = broken_details([(variant.as_str(), &outcome)]);
            (VersionVerdict(vec![(variant, CaseVerdict::of(&outcome))]), details)
        }
    })
}

/// `1 release`, `61 releases`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask/ has a parent").into()
}

/// One release run by the search.
struct Step {
    version: String,
    verdict: VersionVerdict,
    seconds: f64,
}

pub fn run(args: Args) -> Result<bool> {
    let root = workspace_root();
    let sdk = parse_sdk(&args.sdk)?;
    if !(1..=64).contains(&args.jobs) {
        bail!("--jobs must be in 1..=64 (each job runs Node), got {}", args.jobs);
    }
    // The range and the case are checked before the registry is asked or anything installed.
    check_ends(&args.from, &args.to)?;
    let judged = match (&args.scenario, args.seed, args.case) {
        (Some(file), _, _) => load_scenario(&root, file, args.variant.as_deref(), sdk, &args.from)?,
        (None, Some(seed), Some(index)) => Judged::Case { seed, index, steps: args.steps },
        _ => bail!("give the case to judge: --scenario FILE, or --seed S --case N"),
    };
    let published = crate::npm_sdk::published(sdk)?;
    let versions = releases_in(sdk.package(), &published, &args.from, &args.to)?;
    let runs = runs_max(versions.len());
    let what = match &judged {
        Judged::Scenario { scenario, shown } => {
            let names: Vec<&str> = scenario.variants.iter().map(|v| v.name.as_str()).collect();
            format!("{shown} [{}]", names.join(", "))
        }
        Judged::Case { seed, index, steps } => {
            format!("case {index} of the campaign at seed {} ({steps} steps)", format_seed(*seed))
        }
    };
    // The steps are the output in text mode, progress with --json.
    let say = |line: &str| {
        if args.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    say(&format!(
        "bisect {}: {} in [{}, {}] (pre-releases left out), at most {}\njudged by: {what}",
        sdk.package(),
        count(versions.len(), "release"),
        args.from,
        args.to,
        count(runs, "run"),
    ));
    let started = Instant::now();
    let mut steps: Vec<Step> = Vec::new();
    let bisection = bisect(versions.len(), |i| -> Result<VersionVerdict> {
        let version = &versions[i];
        let t = Instant::now();
        let (verdict, details) = verdict_at(&root, sdk, version, &judged, args.jobs)?;
        let seconds = t.elapsed().as_secs_f64();
        let end = match i {
            0 => " (from)",
            _ if i + 1 == versions.len() => " (to)",
            _ => "",
        };
        let shown = if verdict.0.iter().all(|(_, c)| *c == CaseVerdict::Pass) {
            crate::term::pass(&verdict.to_string())
        } else {
            verdict.to_string()
        };
        say(&format!("[{}/{runs}] {version}{end}  {shown}  ({seconds:.1}s)", steps.len() + 1));
        for d in &details {
            say(&format!("      {d}"));
        }
        steps.push(Step { version: version.clone(), verdict: verdict.clone(), seconds });
        Ok(verdict)
    })?;
    let ran = bisection.evaluated.len();
    let total = versions.len();
    let from = &versions[0];
    let variant = args.variant.as_deref();
    let (first_changed, last_same) = match &bisection.search {
        Search::NoChange { verdict } => {
            say(&format!(
                "no change between {from} and {}: both {verdict}; ran {ran} of {total} versions\n\
                 (a verdict that changes and changes back inside the range is not seen)",
                versions[total - 1]
            ));
            (None, None)
        }
        Search::Changed { first, index, verdict } => {
            let x = &versions[*index];
            let before = &versions[index - 1];
            say(&format!(
                "first version whose verdict changes: {x} (verdict at {from}: {first}, at {x}: \
                 {verdict}); ran {ran} of {total} versions"
            ));
            if *index > 1 {
                say(&format!("  the release before it, {before}, has {from}'s verdict"));
            }
            say(&format!(
                "  with more than one change in the range the search finds one of them\n  \
                 compare: {}\n           {}",
                judged.replay(sdk, before, variant),
                judged.replay(sdk, x, variant)
            ));
            if [first, verdict].iter().any(|v| v.0.iter().any(|(_, c)| c.word() == "broken")) {
                say("  a broken run (crashed, hung, garbled) is as often the install's or the \
                     adapter's doing as the release's: read its detail above before trusting it");
            }
            (Some(x.clone()), Some(before.clone()))
        }
    };
    if args.json {
        let (kind, judged_json) = match &judged {
            Judged::Scenario { scenario, shown } => (
                "scenario",
                serde_json::json!({
                    "scenario": shown,
                    "variants": scenario.variants.iter().map(|v| v.name.clone()).collect::<Vec<_>>(),
                }),
            ),
            Judged::Case { seed, index, steps } => (
                "case",
                serde_json::json!({ "seed": format_seed(*seed), "case": index, "steps": steps }),
            ),
        };
        let verdict_of = |v: &Option<String>| {
            v.as_ref()
                .and_then(|v| steps.iter().find(|s| &s.version == v))
                .map(|s| s.verdict.json())
        };
        let object = serde_json::json!({
            "schema_version": crate::JSON_SCHEMA_VERSION,
            "package": sdk.package(),
            "sdk": sdk.prefix(),
            "from": args.from,
            "to": args.to,
            "judged_by": kind,
            "judged": judged_json,
            "versions": versions,
            "steps": steps.iter().map(|s| serde_json::json!({
                "version": s.version,
                "verdict": s.verdict.json(),
                "seconds": (s.seconds * 10.0).round() / 10.0,
            })).collect::<Vec<_>>(),
            "changed": first_changed.is_some(),
            "first_changed": first_changed,
            "last_same": last_same,
            "verdict_from": steps.first().map(|s| s.verdict.json()),
            "verdict_changed": verdict_of(&first_changed),
            "ran": ran,
            "total": total,
            "seconds": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        });
        println!("{object}");
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// The verdicts of a list of versions, run through the search; returns what it found
    /// and the indices it ran.
    fn search(verdicts: &[char]) -> Bisection<char> {
        let result: Result<_, ()> = bisect(verdicts.len(), |i| Ok(verdicts[i]));
        result.expect("the verdict function never fails here")
    }

    #[test]
    fn the_range_is_the_releases_between_both_ends_in_numeric_order() {
        let published = strings(&[
            "3.2.9",
            "3.2.10",
            "3.2.8",
            "3.2.10-canary.0",
            "3.3.0-snapshot.1",
            "3.2.1",
            "4.0.0",
            "3.2.11",
        ]);
        let got = releases_in("@clerk/expo", &published, "3.2.8", "3.2.11").expect("a range");
        assert_eq!(got, strings(&["3.2.8", "3.2.9", "3.2.10", "3.2.11"]));
        let one = releases_in("@clerk/expo", &published, "3.2.10", "3.2.10").expect("one");
        assert_eq!(one, strings(&["3.2.10"]));
        let all = releases_in("@clerk/expo", &published, "3.2.1", "4.0.0").expect("all");
        assert_eq!(all.len(), 6, "{all:?}");
        assert!(all.iter().all(|v| !v.contains('-')), "{all:?}");
    }

    #[test]
    fn a_bad_range_is_refused_with_its_reason() {
        let published = strings(&["6.39.1", "6.40.0", "6.41.0-canary.3", "5.128.0"]);
        let err = |from: &str, to: &str| {
            releases_in("@clerk/clerk-js", &published, from, to).unwrap_err().to_string()
        };
        let e = err("6.40.0", "5.128.0");
        assert!(e.contains("--from 6.40.0 is newer than --to 5.128.0"), "{e}");
        let e = err("5.128.0", "6.39.0");
        assert!(e.contains("@clerk/clerk-js@6.39.0 is not a published release"), "{e}");
        assert!(e.contains("the nearest releases are 5.128.0 and 6.39.1"), "{e}");
        let e = err("5.128.0", "7.0.0");
        assert!(e.contains("the newest release is 6.40.0"), "{e}");
        let e = err("5.128.0", "6.41.0-canary.3");
        assert!(e.contains("--to 6.41.0-canary.3 is a pre-release"), "{e}");
        let e = err("latest", "6.40.0");
        assert!(e.contains("--from `latest` is not a release version"), "{e}");
        // Numeric, not textual: 6.9.0 is older than 6.10.0.
        let p = strings(&["6.9.0", "6.10.0"]);
        assert_eq!(releases_in("p", &p, "6.9.0", "6.10.0").expect("a range").len(), 2);
        assert!(releases_in("p", &p, "6.10.0", "6.9.0").is_err());
    }

    #[test]
    fn the_package_is_named_by_its_prefix_or_its_npm_name() {
        assert_eq!(parse_sdk("clerk-js").expect("known"), NpmSdk::ClerkJs);
        assert_eq!(parse_sdk("@clerk/expo").expect("known"), NpmSdk::ClerkExpo);
        let e = parse_sdk("clerk-react").unwrap_err().to_string();
        assert!(e.starts_with("unknown package `clerk-react`"), "{e}");
        assert!(e.contains("`clerk-expo` (@clerk/expo)"), "{e}");
    }

    #[test]
    fn a_change_at_the_first_step_is_the_second_version() {
        let b = search(&['a', 'b', 'b', 'b', 'b', 'b']);
        assert_eq!(b.search, Search::Changed { first: 'a', index: 1, verdict: 'b' });
        assert_eq!(b.evaluated[..2], [0, 5], "both ends run first");
    }

    #[test]
    fn a_change_at_the_last_step_is_the_last_version() {
        let b = search(&['a', 'a', 'a', 'a', 'a', 'b']);
        assert_eq!(b.search, Search::Changed { first: 'a', index: 5, verdict: 'b' });
    }

    #[test]
    fn equal_ends_stop_after_two_runs() {
        // A verdict that changes and changes back is not looked for: the ends agree.
        let b = search(&['a', 'b', 'b', 'a']);
        assert_eq!(b.search, Search::NoChange { verdict: 'a' });
        assert_eq!(b.evaluated, [0, 3]);
        let all_equal = search(&['a'; 9]);
        assert_eq!(all_equal.search, Search::NoChange { verdict: 'a' });
        assert_eq!(all_equal.evaluated, [0, 8]);
        let one = search(&['a']);
        assert_eq!(one.search, Search::NoChange { verdict: 'a' });
        assert_eq!(one.evaluated, [0]);
    }

    #[test]
    fn every_change_position_is_found_within_the_bound_and_no_version_runs_twice() {
        for count in 2..70 {
            for change in 1..count {
                let verdicts: Vec<char> =
                    (0..count).map(|i| if i < change { 'a' } else { 'b' }).collect();
                let b = search(&verdicts);
                assert_eq!(
                    b.search,
                    Search::Changed { first: 'a', index: change, verdict: 'b' },
                    "{count} versions, change at {change}"
                );
                assert!(b.evaluated.len() <= runs_max(count), "{count}/{change}: {b:?}");
                let mut seen = b.evaluated.clone();
                seen.sort();
                seen.dedup();
                assert_eq!(seen.len(), b.evaluated.len(), "a version ran twice: {b:?}");
            }
        }
        assert_eq!([runs_max(1), runs_max(2), runs_max(3), runs_max(61)], [1, 2, 3, 8]);
    }

    #[test]
    fn with_several_changes_it_finds_a_real_boundary() {
        // a → b → a → c: the answer differs from `a` and its predecessor has `a`.
        let verdicts = ['a', 'b', 'a', 'a', 'a', 'a', 'c'];
        let b = search(&verdicts);
        let Search::Changed { first, index, verdict } = b.search else { panic!("{b:?}") };
        assert_eq!(first, 'a');
        assert_eq!(verdicts[index], verdict);
        assert_ne!(verdict, 'a');
        assert_eq!(verdicts[index - 1], 'a');
        // A middle verdict that differs from both ends counts as changed too.
        let b = search(&['a', 'a', 'c', 'b', 'b']);
        assert_eq!(b.search, Search::Changed { first: 'a', index: 2, verdict: 'c' });
    }

    #[test]
    fn the_first_error_stops_the_search() {
        let mut asked = Vec::new();
        let r = bisect(9, |i| {
            asked.push(i);
            if i == 4 { Err(format!("installing version {i} failed")) } else { Ok(i >= 2) }
        });
        assert_eq!(r.unwrap_err(), "installing version 4 failed");
        assert_eq!(asked, [0, 8, 4]);
    }

    #[test]
    fn verdicts_compare_by_what_broke_not_by_order_or_repetition() {
        let a = CaseVerdict::from_parts(Some("view"), ["fresh-token-only", "calls-settle"]);
        let b = CaseVerdict::from_parts(
            Some("view"),
            ["calls-settle", "fresh-token-only", "calls-settle"],
        );
        assert_eq!(a, b);
        assert_eq!(
            a.to_string(),
            "fail (divergence in view, invariant calls-settle, invariant fresh-token-only)"
        );
        assert_ne!(
            a,
            CaseVerdict::from_parts(Some("open_calls"), ["fresh-token-only", "calls-settle"])
        );
        assert_ne!(a, CaseVerdict::from_parts(None, ["fresh-token-only", "calls-settle"]));
        assert_eq!(CaseVerdict::from_parts(None, []), CaseVerdict::Pass);
        assert_eq!(CaseVerdict::Pass.to_string(), "pass");
    }

    #[test]
    fn a_broken_adapter_is_a_verdict_without_what_varies_between_runs() {
        let crash = |detail: &str| PortError::Crashed {
            sdk: "clerk-js@4.0.0".into(),
            step: 0,
            detail: detail.into(),
        };
        let one = CaseVerdict::of_port_error(&crash("exit status 1: unsupported major 4"));
        let two = CaseVerdict::of_port_error(&crash("exit status 1 (another stderr)"));
        assert_eq!(one, two);
        assert_eq!(one.to_string(), "broken (crashed at step 0)");
        let hung =
            PortError::Hung { sdk: "s".into(), step: 3, event: "advance".into(), timeout_ms: 1 };
        assert_eq!(CaseVerdict::of_port_error(&hung).to_string(), "broken (hung at step 3)");
        let unsupported = PortError::Unsupported { sdk: "s".into(), event: "lock_device".into() };
        let skipped = CaseVerdict::of_port_error(&unsupported);
        assert_eq!(skipped.word(), "skipped");
        assert_eq!(skipped.to_string(), "skipped (unsupported `lock_device`)");
    }

    #[test]
    fn a_versions_verdict_reads_as_one_when_its_variants_agree() {
        let fail = CaseVerdict::from_parts(Some("view"), []);
        let same = VersionVerdict(vec![
            ("clerk-js-6".into(), CaseVerdict::Pass),
            ("documented".into(), CaseVerdict::Pass),
        ]);
        assert_eq!(same.to_string(), "pass");
        let mixed = VersionVerdict(vec![
            ("clerk-js-6".into(), CaseVerdict::Pass),
            ("documented".into(), fail.clone()),
        ]);
        assert_eq!(mixed.to_string(), "clerk-js-6: pass; documented: fail (divergence in view)");
        assert_ne!(same, mixed);
        let json = mixed.json();
        assert_eq!(json["variants"][1]["verdict"], "fail");
        assert_eq!(json["variants"][1]["broke"][0], "divergence in view");
        assert_eq!(json["text"], mixed.to_string());
    }
}
