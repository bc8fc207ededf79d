//! `cargo xtask gate --sdk SPEC`: the CI gate for one SDK build.
//!
//! Runs every defect-free scenario variant and a seeded fuzz campaign on the SDK in lockstep
//! with the model, judges each case against `findings.yaml`, compares the SDK's trace
//! snapshots with the committed ones under `snapshots/sdk/<label>/`, prints the verdict
//! table and the behaviour diff, writes JUnit XML with `--junit FILE`, exports every failing
//! generated case as a scenario file, and exits non-zero on any failure or unreviewed
//! snapshot. `--accept` records the new snapshots (and removes stale ones) after review.
//!
//! `clerk-js@VERSION` uses the pinned install in `adapters/clerk-js/` when the version is the
//! pinned one, and otherwise installs that version with npm into a scratch folder under
//! `target/gate/`, next to the same driver. The library does the running and judging
//! (`session_harness::gate`); this file reads and writes the files.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use session_harness::gate::{self, CaseReport, Findings, Plan, SnapshotCheck, Subject, Suite};
use session_harness::runner::lockstep::Fidelity;
use session_harness::runner::spec::SdkSpec;
use session_harness::scenario;
use session_harness::sim::{format_seed, parse_seed};

#[derive(clap::Args)]
pub struct Args {
    /// The SDK: `reference`, `reference+DEFECT`, `clerk-js@VERSION` or `cmd:COMMAND`.
    #[arg(long, required_unless_present = "findings_table")]
    sdk: Option<String>,
    /// Print the README's findings table rendered from findings.yaml, and exit.
    #[arg(long)]
    findings_table: bool,
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
    #[arg(long)]
    only: Option<String>,
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

/// The subject a spec names, installing what it needs; an external SDK is held to
/// `fidelity`, or to the one its adapter declares (`fuzz` uses this too).
pub(crate) fn subject(
    spec: &SdkSpec,
    root: &Path,
    fidelity: Option<Fidelity>,
) -> Result<Box<dyn Subject>> {
    match spec {
        SdkSpec::Model => bail!(
            "`model` is the oracle the gate compares against; gate an SDK: `reference`, \
             `reference+DEFECT`, `clerk-js@VERSION` or `cmd:COMMAND`"
        ),
        SdkSpec::Reference { defects } => {
            Ok(Box::new(gate::ReferenceSubject { defects: defects.clone() }))
        }
        SdkSpec::ClerkJs { version } => {
            let dir = clerk_js_install(root, version)?;
            external::clerk_js(root, &dir, version, fidelity)
        }
        SdkSpec::Command { command } => external::command(root, command, fidelity),
    }
}

/// The version `adapters/clerk-js/package.json` pins.
fn pinned_clerk_js(root: &Path) -> Result<String> {
    let path = root.join("adapters/clerk-js/package.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    json["dependencies"]["@clerk/clerk-js"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("{} pins no @clerk/clerk-js", path.display()))
}

/// The folder whose `node_modules` holds `@clerk/clerk-js@version`, installing it if needed.
fn clerk_js_install(root: &Path, version: &str) -> Result<PathBuf> {
    let adapter = root.join("adapters/clerk-js");
    if pinned_clerk_js(root)? == version {
        if !adapter.join("node_modules/@clerk/clerk-js/package.json").exists() {
            eprintln!("installing the pinned adapter dependencies (npm ci) …");
            npm(&adapter, &["ci", "--ignore-scripts", "--no-audit", "--no-fund"])?;
        }
        return Ok(adapter);
    }
    let scratch = root.join("target/gate").join(format!("clerk-js@{version}"));
    let installed = scratch.join("node_modules/@clerk/clerk-js/package.json");
    if installed.exists() {
        let text = std::fs::read_to_string(&installed)?;
        let json: serde_json::Value = serde_json::from_str(&text)?;
        if json["version"].as_str() == Some(version) {
            return Ok(scratch);
        }
    }
    std::fs::create_dir_all(&scratch)?;
    // The fake-timer library stays at the adapter's pinned version: only clerk-js changes.
    let adapter_pkg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(adapter.join("package.json")).context("adapter package.json")?,
    )?;
    let timers = adapter_pkg["dependencies"]["@sinonjs/fake-timers"]
        .as_str()
        .context("the adapter pins @sinonjs/fake-timers")?;
    let manifest = serde_json::json!({
        "name": "session-harness-gate-scratch",
        "private": true,
        "dependencies": { "@clerk/clerk-js": version, "@sinonjs/fake-timers": timers },
    });
    scenario::write_atomic(
        &scratch.join("package.json"),
        &serde_json::to_string_pretty(&manifest)?,
    )?;
    eprintln!("installing @clerk/clerk-js@{version} into {} …", scratch.display());
    npm(&scratch, &["install", "--ignore-scripts", "--no-audit", "--no-fund"]).with_context(
        || format!("installing @clerk/clerk-js@{version}: is that a published version?"),
    )?;
    Ok(scratch)
}

fn npm(dir: &Path, args: &[&str]) -> Result<()> {
    let status = Command::new("npm")
        .args(args)
        .current_dir(dir)
        .status()
        .context("running npm: is Node.js (20 or later) with npm installed?")?;
    if !status.success() {
        bail!("`npm {}` in {} failed ({status})", args.join(" "), dir.display());
    }
    Ok(())
}

/// Subjects behind the adapter protocol.
mod external {
    use super::*;
    use session_harness::model::profile::ProfileId;
    use session_harness::model::settings::Setup;
    use session_harness::model::vocab::Event;
    use session_harness::runner::lockstep::{self, LockstepOutcome};
    use session_harness::sdk::external::AdapterCommand;

    /// An external SDK: every case runs under `clerk-js-6`, the profile that describes the
    /// real clerk-js, so the model it is compared with is the one the SDK should match.
    struct External {
        label: String,
        command: AdapterCommand,
        /// Forced by `--fidelity`; `None`: what the adapter's hello declares.
        fidelity: Option<Fidelity>,
    }

    impl Subject for External {
        fn label(&self) -> String {
            self.label.clone()
        }

        fn setup(&self, scenario: Setup) -> Setup {
            Setup { profile: ProfileId::ClerkJs6, ..scenario }
        }

        fn profiles(&self) -> Vec<ProfileId> {
            vec![ProfileId::ClerkJs6]
        }

        fn run(&self, setup: Setup, events: &[Event], seed: Option<u64>) -> LockstepOutcome {
            lockstep::run_external_at(setup, &self.command, events, seed, self.fidelity)
        }
    }

    pub fn clerk_js(
        root: &Path,
        dir: &Path,
        version: &str,
        fidelity: Option<Fidelity>,
    ) -> Result<Box<dyn Subject>> {
        Ok(Box::new(External {
            label: format!("clerk-js@{version}"),
            command: AdapterCommand::clerk_js(root, dir, version),
            fidelity,
        }))
    }

    pub fn command(
        root: &Path,
        command: &str,
        fidelity: Option<Fidelity>,
    ) -> Result<Box<dyn Subject>> {
        Ok(Box::new(External {
            label: "cmd".to_string(),
            command: AdapterCommand::cmd(root, command),
            fidelity,
        }))
    }
}

pub fn run(args: Args) -> Result<bool> {
    let root = workspace_root();
    let findings_path = root.join("findings.yaml");
    let findings = Findings::parse(
        "findings.yaml",
        &std::fs::read_to_string(&findings_path)
            .with_context(|| format!("reading {}", findings_path.display()))?,
    )?;
    if args.findings_table {
        print!("{}", findings.readme_table());
        return Ok(true);
    }
    let sdk_text = args.sdk.clone().unwrap_or_default();
    let spec = SdkSpec::parse(&sdk_text)?;
    println!("seed: {}", format_seed(args.seed));
    if args.fidelity.is_some() && matches!(spec, SdkSpec::Reference { .. }) {
        bail!("--fidelity applies to external SDKs; the reference SDK is always held to `exact`");
    }
    let subject = subject(&spec, &root, args.fidelity)?;
    let label = subject.label();

    let scenarios_dir = if args.scenarios.is_absolute() {
        args.scenarios.clone()
    } else {
        root.join(&args.scenarios)
    };
    // Snapshots belong to the library; other scenarios (exported failures) are only judged.
    let library = scenarios_dir == root.join("scenarios");
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
        if args.only.as_deref().is_none_or(|p| sc.name.starts_with(p)) {
            scenarios.push(sc);
        }
    }
    if scenarios.is_empty() {
        bail!("no scenario matches `--only {}`", args.only.as_deref().unwrap_or(""));
    }
    let cases = if args.only.is_some() { 0 } else { args.cases };
    let plan = Plan { scenarios: &scenarios, cases, seed: args.seed, steps_max: args.steps };
    let variants: u64 = scenarios
        .iter()
        .map(|s| s.variants.iter().filter(|v| v.defects.is_empty()).count() as u64)
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

    if !library {
        for r in reports.iter_mut().filter(|r| r.suite == Suite::Scenarios) {
            if let Some(sc) = scenarios.iter().find(|s| s.name == r.scenario) {
                r.replay =
                    format!("cargo xtask gate --sdk {sdk_text} --scenarios {} --cases 0", sc.file);
            }
        }
    }

    // Snapshots: compare, and record with --accept.
    let snap_dir = root.join("snapshots/sdk").join(&label);
    let mut expected_files = std::collections::BTreeSet::new();
    for r in reports.iter_mut().filter(|r| library && r.suite == Suite::Scenarios) {
        let Some(text) = &r.snapshot else { continue };
        let name = gate::snapshot_file_name(&r.scenario, &r.variant);
        let path = snap_dir.join(&name);
        expected_files.insert(name);
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

    print!("{}", gate::table(&label, &reports));
    for r in reports.iter().filter(|r| r.verdict.is_fail()) {
        println!(
            "\nFAIL {} [{}]\n  {}",
            r.scenario,
            r.variant,
            r.verdict_text().replace('\n', "\n  ")
        );
        if r.suite != Suite::Fuzz || subject.replays_by_seed() {
            println!("  replay: {}", r.replay);
        }
        if r.suite == Suite::Fuzz {
            // Shrunk before it is exported (the hunt's shrinker), on the same SDK.
            let tries = if subject.replays_by_seed() {
                session_harness::runner::shrink::SHRINK_TRIES_MAX
            } else {
                gate::SHRINK_TRIES_EXTERNAL_MAX
            };
            let shrunk = gate::shrink(subject.as_ref(), &findings, r, tries);
            let index = r.variant.trim_start_matches("case ");
            let found = if subject.replays_by_seed() {
                r.replay.clone()
            } else {
                format!(
                    "cargo xtask gate --sdk {sdk_text} --seed {} --cases {} --steps {}  ({}, {})",
                    format_seed(args.seed),
                    index.parse::<u64>().map_or(0, |i| i + 1),
                    args.steps,
                    r.scenario,
                    r.variant
                )
            };
            let exported = gate::export_found(&shrunk, &found, r.events.len());
            println!("  shrunk: {} steps (found with {})", shrunk.events.len(), r.events.len());
            let path = root
                .join("target/gate")
                .join(&label)
                .join("failures")
                .join(format!("{}.yaml", exported.name.trim_start_matches("regressions/")));
            scenario::write_atomic(&path, &exported.yaml)?;
            let shown = path.strip_prefix(&root).unwrap_or(&path).display().to_string();
            println!("  exported: {shown}");
            println!("  rerun:    cargo xtask gate --sdk {sdk_text} --scenarios {shown} --cases 0");
        }
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
    if !pass
        && reports.iter().any(|r| {
            matches!(r.snapshot_check, Some(SnapshotCheck::New | SnapshotCheck::Changed(_)))
        })
    {
        println!("review the diff, then record it: cargo xtask gate --sdk {} --accept", sdk_text);
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
