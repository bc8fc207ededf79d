//! `cargo xtask gate --sdk SPEC`: the CI gate for one SDK build.
//!
//! Runs every defect-free scenario variant and a seeded fuzz campaign on the SDK in lockstep
//! with the model, judges each case against `findings.yaml`, compares the SDK's trace
//! snapshots with the committed ones under `snapshots/sdk/<label>/`, prints the verdict
//! table and the behaviour diff, writes JUnit XML with `--junit FILE`, exports every failing
//! generated case as a scenario file, and exits non-zero on any failure or unreviewed
//! snapshot. `--accept` records the new snapshots (and removes stale ones) after review.
//!
//! Conformance levels (`--level`, `session_harness::gate::level`): an external SDK is held
//! to L0 (protocol) and, by default, L1 + L2 against a contract: `clerk-js-6` for clerk-js
//! (its long-standing strictness), `documented` for a `cmd:` SDK. A `cmd:` SDK is labelled by
//! the `sdk@version` its adapter's hello announces (probed once, first: an adapter with no
//! hello fails the gate at once, with the hint about flushing stdout), and keeps its
//! findings and snapshots wherever `--findings FILE` and `--snapshots DIR` say. Every command
//! printed (replay, rerun, accept) is shell-quoted and runs as printed.
//!
//! `clerk-js@VERSION` and `clerk-expo@VERSION` use a pinned install under `adapters/` when
//! the version is a pinned one, and otherwise install that version with npm into a scratch
//! folder under `target/gate/`, next to the same driver (`npm_sdk.rs`, one path for both).
//! The library does the running and judging (`session_harness::gate`); this file reads and
//! writes the files.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use session_harness::gate::{
    self, CaseReport, Conformance, ExternalSubject, Findings, Plan, SnapshotCheck, Subject, Suite,
};
use session_harness::runner::lockstep::Fidelity;
use session_harness::runner::spec::SdkSpec;
use session_harness::scenario;
use session_harness::sdk::external::command::HELLO_TIMEOUT_ENV;
use session_harness::sdk::external::{AdapterCommand, Timeouts, probe_hello};

/// The hello limit of the gate's first probe of a `cmd:` adapter, unless
/// `SESSION_HARNESS_ADAPTER_HELLO_TIMEOUT_MS` sets one.
const HELLO_PROBE_DEFAULT: std::time::Duration = std::time::Duration::from_secs(10);
use session_harness::sim::{format_seed, parse_seed};

#[derive(clap::Args)]
pub struct Args {
    /// The SDK: `reference`, `reference+DEFECT`, `clerk-js@VERSION`, `clerk-expo@VERSION` or
    /// `cmd:COMMAND`.
    #[arg(long, required_unless_present = "findings_table")]
    sdk: Option<String>,
    /// Print the README's findings table rendered from the findings file, and exit.
    #[arg(long)]
    findings_table: bool,
    /// The levels an external SDK is held to: L0, L1, L2-documented, L2-clerk-js-6, L3,
    /// joined with `+`. Default: L1+L2-clerk-js-6 for clerk-js and clerk-expo,
    /// L1+L2-documented for `cmd:`.
    #[arg(long)]
    level: Option<String>,
    /// The findings file that accepts this SDK's known failures (default: findings.yaml);
    /// relative paths are from the repository root.
    #[arg(long)]
    findings: Option<PathBuf>,
    /// The folder holding this SDK's snapshot folder `<DIR>/<label>/` (default: snapshots/sdk);
    /// relative paths are from the repository root.
    #[arg(long)]
    snapshots: Option<PathBuf>,
    /// Generated cases per profile in the fuzz campaign.
    #[arg(long, default_value_t = 24, value_parser = crate::counts::parse_cases)]
    cases: u64,
    /// The fuzz campaign's seed.
    #[arg(long, default_value = "0x6a7e0001", value_parser = parse_seed)]
    seed: u64,
    /// Steps per generated case.
    #[arg(long, default_value_t = 30, value_parser = crate::counts::parse_steps)]
    steps: usize,
    /// Worker threads (each runs one case at a time).
    #[arg(long, default_value_t = default_jobs())]
    jobs: usize,
    /// Only scenarios whose name starts with this (no fuzz campaign, no stale-snapshot check).
    #[arg(long, conflicts_with = "fuzz_only")]
    only: Option<String>,
    /// Only the fuzz campaign: no scenario runs, no snapshot review.
    #[arg(long)]
    fuzz_only: bool,
    /// Write the verdicts as JUnit XML to this file.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Record new and changed snapshots and remove stale ones (after reviewing the diff).
    #[arg(long)]
    accept: bool,
    /// Compare this SDK's scenario snapshots with the committed ones of another label (e.g.
    /// `clerk-js@6.40.0`) and write the behaviour differences as Markdown to `--report`.
    #[arg(long, requires = "report")]
    compare: Option<String>,
    /// Where `--compare` writes its report.
    #[arg(long, requires = "compare")]
    report: Option<PathBuf>,
    /// The lockstep fidelity the SDK is held to: `observable`, `requests` or `exact`
    /// (default: what the adapter's hello declares; `observable` if it declares none).
    #[arg(long)]
    fidelity: Option<Fidelity>,
    /// The scenarios to run: the library (default, snapshots reviewed), or another folder or
    /// one file, e.g. a failure the gate exported (no snapshot review).
    #[arg(long, default_value = "scenarios")]
    scenarios: PathBuf,
}

pub(crate) fn default_jobs() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(4)
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask/ has a parent").into()
}

/// The subject a spec names, installing what it needs (and, for a `cmd:` SDK, asking its
/// hello for its label). An external SDK is held to `level` (default: its own, see the
/// module doc) and its lockstep compares at `fidelity`, or at the one its adapter declares
/// (`fuzz` uses this too).
pub(crate) fn subject(
    spec: &SdkSpec,
    root: &Path,
    level: Option<Conformance>,
    fidelity: Option<Fidelity>,
) -> Result<Box<dyn Subject>> {
    match spec {
        SdkSpec::Model => bail!(
            "`model` is the oracle the gate compares against; gate an SDK: `reference`, \
             `reference+DEFECT`, `clerk-js@VERSION`, `clerk-expo@VERSION` or `cmd:COMMAND`"
        ),
        SdkSpec::Reference { defects } => {
            if fidelity.is_some() {
                bail!(
                    "--fidelity applies to external SDKs; the reference SDK is always held to \
                     `exact`"
                );
            }
            if level.is_some() {
                bail!(
                    "the reference SDK is held to exact lockstep with the model under every \
                     profile; --level applies to external SDKs (clerk-js@VERSION, \
                     clerk-expo@VERSION, cmd:COMMAND)"
                );
            }
            Ok(Box::new(gate::ReferenceSubject { defects: defects.clone() }))
        }
        SdkSpec::Npm { sdk, version } => {
            let dir = crate::npm_sdk::install(root, *sdk, version)?;
            let command = crate::npm_sdk::command(root, *sdk, &dir, version);
            let label = sdk.label(version);
            // Both run clerk-js 6 inside: held to its contract by default.
            let conformance = level.unwrap_or(Conformance::CLERK_JS);
            // The clerk-expo driver forwards 3.x's native module (docs/adapter-protocol.md §11).
            let native = crate::npm_sdk::forwards_native_module(*sdk, version);
            Ok(Box::new(
                ExternalSubject::new(&label, command, conformance)
                    .at(fidelity)
                    .with_native_module(native),
            ))
        }
        SdkSpec::Command { command } => {
            let command = AdapterCommand::cmd(root, command);
            let label = cmd_label(&command)?;
            let conformance = level.unwrap_or(Conformance::THIRD_PARTY);
            Ok(Box::new(ExternalSubject::new(&label, command, conformance).at(fidelity)))
        }
    }
}

/// The label a `cmd:` adapter announces in its hello (`sdk@version`). Fails at once, before
/// any case runs, when the adapter gives no hello, a malformed one, or no label.
pub fn cmd_label(command: &AdapterCommand) -> Result<String> {
    // The probe waits less than a case would unless the limit is set: a `cmd:` adapter
    // prints its hello before loading anything heavy, and a missing one should cost seconds.
    let probe = if std::env::var_os(HELLO_TIMEOUT_ENV).is_some() {
        command.clone()
    } else {
        let hello = HELLO_PROBE_DEFAULT.min(command.timeouts.hello);
        command.clone().with_timeouts(Timeouts { hello, ..command.timeouts })
    };
    let (hello, _) =
        probe_hello(&probe).map_err(|e| anyhow::anyhow!("{e}")).with_context(|| {
            format!("the adapter's hello (L0), before any case runs: `{}`", command.display())
        })?;
    hello.label().map_err(anyhow::Error::msg)
}

/// The folder name of a label: `/` (a scoped package name) becomes `__`.
pub fn label_folder(label: &str) -> String {
    label.replace('/', "__")
}

/// A path the user gave, relative to the repository root unless absolute.
fn from_root(root: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() { path.to_path_buf() } else { root.join(path) }
}

/// The commands the gate prints, shell-quoted: they run as printed (from anywhere in the
/// repository: every path in them is relative to its root, as the gate resolves them).
pub struct Commands {
    sdk: String,
    level: Option<String>,
    fidelity: Option<String>,
    findings: Option<String>,
    snapshots: Option<String>,
}

impl Commands {
    /// `cargo xtask gate --sdk … [--level …] [--findings …] [--snapshots …] EXTRA…`.
    pub fn gate(&self, extra: &[&str]) -> String {
        let mut args = vec!["cargo", "xtask", "gate", "--sdk", self.sdk.as_str()];
        for (flag, value) in [
            ("--level", &self.level),
            ("--fidelity", &self.fidelity),
            ("--findings", &self.findings),
            ("--snapshots", &self.snapshots),
        ] {
            if let Some(v) = value {
                args.extend([flag, v.as_str()]);
            }
        }
        args.extend(extra);
        quote(&args)
    }

    /// `cargo xtask replay FILE [--variant V] --sdk … --profile P`.
    pub fn replay(&self, file: &str, variant: Option<&str>, profile: &str) -> String {
        let mut args = vec!["cargo", "xtask", "replay", file];
        if let Some(v) = variant {
            args.extend(["--variant", v]);
        }
        args.extend(["--sdk", self.sdk.as_str(), "--profile", profile]);
        quote(&args)
    }
}

/// Words joined into one shell command line, each quoted where the shell needs it.
pub fn quote(args: &[&str]) -> String {
    args.iter()
        .map(|a| {
            shlex::try_quote(a).map(|q| q.into_owned()).unwrap_or_else(|_| a.replace('\0', ""))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn run(args: Args) -> Result<bool> {
    let root = workspace_root();
    let findings_shown = args
        .findings
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "findings.yaml".to_string());
    let findings_path = from_root(&root, Path::new(&findings_shown));
    let findings = Findings::parse(
        &findings_shown,
        &std::fs::read_to_string(&findings_path)
            .with_context(|| format!("reading the findings file {}", findings_path.display()))?,
    )?;
    if args.findings_table {
        print!("{}", findings.readme_table());
        return Ok(true);
    }
    let sdk_text = args.sdk.clone().unwrap_or_default();
    let spec = SdkSpec::parse(&sdk_text)?;
    let level = args.level.as_deref().map(Conformance::parse).transpose()?;
    println!("seed: {}", format_seed(args.seed));
    let subject = subject(&spec, &root, level, args.fidelity)?;
    let label = subject.label();
    let conformance = subject.conformance();
    let commands = Commands {
        sdk: sdk_text.clone(),
        level: conformance.map(|c| c.text()),
        fidelity: args.fidelity.map(|f| f.to_string()),
        findings: args.findings.as_ref().map(|p| p.display().to_string()),
        snapshots: args.snapshots.as_ref().map(|p| p.display().to_string()),
    };
    if let Some(c) = &conformance {
        println!(
            "sdk: {label}  conformance: {c}  fidelity: {}  findings: {findings_shown}",
            args.fidelity
                .map_or("as the level and the adapter's hello say".to_string(), |f| f.to_string())
        );
    }

    let scenarios_dir = from_root(&root, &args.scenarios);
    // Snapshots belong to the library; other scenarios (exported failures) are only judged.
    let library = scenarios_dir == root.join("scenarios") && !args.fuzz_only;
    if args.accept && !library {
        bail!("--accept records snapshots of the scenario library only; drop --scenarios");
    }
    let paths = if scenarios_dir.is_file() {
        vec![scenarios_dir.clone()]
    } else {
        scenario::files::yaml_files(&scenarios_dir)
            .with_context(|| format!("reading {}", scenarios_dir.display()))?
    };
    let mut scenarios = Vec::new();
    for path in paths {
        let display = path.strip_prefix(&root).unwrap_or(&path).to_string_lossy().to_string();
        let sc = scenario::load(&path, &display)?;
        if args.only.as_deref().is_none_or(|p| sc.name.starts_with(p)) && !args.fuzz_only {
            scenarios.push(sc);
        }
    }
    if scenarios.is_empty() && !args.fuzz_only {
        bail!("no scenario matches `--only {}`", args.only.as_deref().unwrap_or(""));
    }
    let cases = if args.only.is_some() { 0 } else { args.cases };
    let plan = Plan { scenarios: &scenarios, cases, seed: args.seed, steps_max: args.steps };
    let variants: u64 = scenarios
        .iter()
        .map(|s| {
            s.variants.iter().filter(|v| gate::runs_variant(subject.as_ref(), v)).count() as u64
        })
        .sum();
    let total = variants + cases * subject.profiles().len() as u64;
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} cases {msg} ({per_sec}, eta {eta})")
            .expect("a valid progress template"),
    );
    let failing = std::sync::atomic::AtomicU64::new(0);
    let started = Instant::now();
    let mut reports =
        gate::run(subject.as_ref(), &plan, &findings, args.jobs, &|r: &CaseReport| {
            if r.verdict.is_fail() {
                failing.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            bar.set_message(format!(
                "{} failing",
                failing.load(std::sync::atomic::Ordering::Relaxed)
            ));
            bar.inc(1);
        });
    bar.finish_and_clear();
    let wall = started.elapsed();

    // The commands that rerun each scenario case, for the SDK as the user named it.
    for r in reports.iter_mut().filter(|r| r.suite == Suite::Scenarios) {
        let Some(file) = r.file.clone() else { continue };
        let rerun = if library {
            commands.gate(&["--only", &r.scenario])
        } else {
            commands.gate(&["--scenarios", &file, "--cases", "0"])
        };
        if conformance.is_some() {
            r.replay = commands.replay(&file, Some(&r.variant), r.profile().as_str());
            r.more.push(("rerun".to_string(), rerun));
        } else if !library {
            r.replay = rerun;
        }
    }

    // Snapshots: compare, and record with --accept. A case whose adapter broke is not
    // compared (its trace stops short) and never recorded.
    let snap_base = args
        .snapshots
        .as_ref()
        .map(|p| from_root(&root, p))
        .unwrap_or_else(|| root.join("snapshots/sdk"));
    let snap_dir = snap_base.join(label_folder(&label));
    let mut expected_files = std::collections::BTreeSet::new();
    for r in reports.iter_mut().filter(|r| library && r.suite == Suite::Scenarios) {
        let Some(text) = &r.snapshot else { continue };
        let name = gate::snapshot_file_name(&r.scenario, &r.variant);
        let path = snap_dir.join(&name);
        expected_files.insert(name);
        if r.broken() {
            continue;
        }
        let committed = std::fs::read_to_string(&path).ok();
        let check = SnapshotCheck::of(committed.as_deref(), text);
        if args.accept && check != SnapshotCheck::Same {
            scenario::write_atomic(&path, text)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        r.snapshot_check = Some(if args.accept { SnapshotCheck::Same } else { check });
    }
    let mut stale = Vec::new();
    if library && args.only.is_none() && subject.keeps_snapshots() && snap_dir.is_dir() {
        for entry in std::fs::read_dir(&snap_dir)? {
            let name = entry?.file_name().to_string_lossy().to_string();
            if !expected_files.contains(&name) {
                if args.accept {
                    std::fs::remove_file(snap_dir.join(&name))?;
                } else {
                    stale.push(name);
                }
            }
        }
    }

    // Failing generated cases: shrunk, exported, and their commands attached before anything
    // is printed or written, so the report and JUnit show the same lines.
    for r in reports.iter_mut().filter(|r| r.verdict.is_fail() && r.suite == Suite::Fuzz) {
        // A broken adapter (L0) is exported as found: shrinking would restart it per try.
        let tries = if subject.replays_by_seed() {
            session_harness::runner::shrink::SHRINK_TRIES_MAX
        } else if r.broken() {
            0
        } else {
            gate::SHRINK_TRIES_EXTERNAL_MAX
        };
        let shrunk = gate::shrink(subject.as_ref(), &findings, r, tries);
        let index = r.variant.trim_start_matches("case ");
        let cases_to_reach = index.parse::<u64>().map_or(0, |i| i + 1).to_string();
        let found = if subject.replays_by_seed() {
            r.replay.clone()
        } else {
            commands.gate(&[
                "--seed",
                &format_seed(args.seed),
                "--cases",
                &cases_to_reach,
                "--steps",
                &args.steps.to_string(),
                "--fuzz-only",
            ])
        };
        let exported = gate::export_found(&shrunk, &found, r.events.len());
        let path = root
            .join("target/gate")
            .join(label_folder(&label))
            .join("failures")
            .join(format!("{}.yaml", exported.name.trim_start_matches("regressions/")));
        scenario::write_atomic(&path, &exported.yaml)?;
        let shown = path.strip_prefix(&root).unwrap_or(&path).display().to_string();
        r.more.push((
            "shrunk".to_string(),
            format!("{} steps (found with {})", shrunk.events.len(), r.events.len()),
        ));
        r.more.push(("exported".to_string(), shown.clone()));
        let rerun = commands.gate(&["--scenarios", &shown, "--cases", "0"]);
        if subject.replays_by_seed() {
            r.more.push(("rerun".to_string(), rerun));
        } else {
            r.replay = commands.replay(&shown, None, r.profile().as_str());
            r.more.push(("rerun".to_string(), rerun));
            r.more.push(("found by".to_string(), found));
        }
    }

    print!("{}", gate::table(&label, &reports));
    if let Some(c) = &conformance {
        print!("{}", gate::level_table(c, &findings, &reports));
    }
    for r in reports.iter().filter(|r| r.verdict.is_fail()) {
        println!(
            "\nFAIL {} {}\n  {}\n  {}",
            r.scenario,
            r.variant_label(),
            r.verdict_text().replace('\n', "\n  "),
            gate::junit::rerun_lines(r).replace('\n', "\n  ")
        );
    }
    for r in &reports {
        if let Some(SnapshotCheck::Changed(diff)) = &r.snapshot_check {
            println!("\nbehaviour changed: {} [{}]\n{diff}", r.scenario, r.variant);
        }
    }
    if !stale.is_empty() {
        println!(
            "\nstale snapshots under {} (no case produces them; --accept removes them):\n  {}",
            snap_dir.strip_prefix(&root).unwrap_or(&snap_dir).display(),
            stale.join("\n  ")
        );
    }
    if let (Some(other), Some(path)) = (&args.compare, &args.report) {
        let text = compare_report(&root, &label, other, &sdk_text, &reports)?;
        scenario::write_atomic(path, &text)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("comparison with {other}: {}", path.display());
    }
    if let Some(path) = &args.junit {
        scenario::write_atomic(path, &gate::junit::render(&label, &reports))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("junit: {}", path.display());
    }
    let blocked = reports.iter().filter(|r| r.blocks()).count();
    let pass = blocked == 0 && stale.is_empty();
    println!(
        "gate {label}: {} in {:.1}s ({} cases){}",
        if pass { "pass" } else { "FAIL" },
        wall.as_secs_f64(),
        reports.len(),
        if pass { String::new() } else { format!(": {blocked} blocking, {} stale", stale.len()) }
    );
    // Recording is suggested only for behaviour that ran to its end: a crash, a hang or
    // garbage is fixed in the adapter, never accepted.
    let reviewable = reports
        .iter()
        .any(|r| matches!(r.snapshot_check, Some(SnapshotCheck::New | SnapshotCheck::Changed(_))));
    if !pass && (reviewable || !stale.is_empty()) {
        println!("review the diff, then record it: {}", commands.gate(&["--accept"]));
    }
    Ok(pass)
}

/// The behaviour differences between this run and the committed snapshots of `other`, as
/// Markdown: a summary, one row per scenario variant, and the diff of each that differs.
fn compare_report(
    root: &Path,
    label: &str,
    other: &str,
    spec: &str,
    reports: &[CaseReport],
) -> Result<String> {
    let other_dir = root.join("snapshots/sdk").join(other);
    if !other_dir.is_dir() {
        bail!(
            "no committed snapshots for `{other}` under {}; accepted labels are the folders there",
            other_dir.display()
        );
    }
    // The SDK's name inside a snapshot is the one thing certain to differ.
    let normalise = |text: &str, who: &str| text.replace(who, "SDK");
    let mut rows = String::new();
    let mut diffs = String::new();
    let (mut same, mut differ, mut missing) = (0, 0, 0);
    let mut shown: Vec<(String, String)> = Vec::new();
    for r in reports.iter().filter(|r| r.suite == Suite::Scenarios) {
        let Some(now) = &r.snapshot else { continue };
        let file = gate::snapshot_file_name(&r.scenario, &r.variant);
        let theirs = std::fs::read_to_string(other_dir.join(&file)).ok();
        let verdict = r.verdict.word();
        let status = match &theirs {
            None => {
                missing += 1;
                "not run on the other".to_string()
            }
            Some(t) if normalise(t, other) == normalise(now, label) => {
                same += 1;
                "same".to_string()
            }
            Some(t) => {
                differ += 1;
                let d = gate::diff(&normalise(t, other), &normalise(now, label));
                let first = d
                    .lines()
                    .find(|l| {
                        (l.starts_with('-') || l.starts_with('+'))
                            && !l.starts_with("---")
                            && !l.starts_with("+++")
                            // A bare key (`happened:`) says nothing about what changed.
                            && !l[1..].trim().ends_with(':')
                    })
                    .unwrap_or("")
                    .trim()
                    .replace('|', "\\|");
                // Variants that ran the same inputs differ the same way: show each diff once.
                let here = format!("{} [{}]", r.scenario, r.variant);
                match shown.iter().find(|(seen, _)| *seen == d) {
                    Some((_, first)) => diffs
                        .push_str(&format!("\n### {here}\n\nThe same difference as {first}.\n")),
                    None => {
                        diffs.push_str(&format!(
                            "\n### {here}\n\n`-` {other}, `+` {label}:\n\n```diff\n{d}```\n"
                        ));
                        shown.push((d.clone(), here));
                    }
                }
                format!("differs: `{}`", first.chars().take(110).collect::<String>())
            }
        };
        rows.push_str(&format!("| {} [{}] | {verdict} | {status} |\n", r.scenario, r.variant));
    }
    Ok(format!(
        "# {label} against {other}\n\n\
         Generated by `cargo xtask gate --sdk {spec} --compare {other} --report …`: every \
         defect-free scenario variant run on {label} under the `clerk-js-6` profile, its trace \
         snapshot compared with the committed snapshot of {other} \
         (`snapshots/sdk/{other}/`).\n\n\
         Of the variants both ran: {same} behave the same, {differ} differ; {missing} ran only \
         here.\n\n\
         | scenario [variant] | verdict on {label} | against {other} |\n|---|---|---|\n\
         {rows}\n## Differences\n{diffs}"
    ))
}
