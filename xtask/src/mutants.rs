//! `cargo xtask mutants`: the mutation score of the model and the reference SDK.
//!
//! cargo-mutants (installed through cargo at a pinned version when missing) says which
//! mutants exist in `harness/src/model/**` and `harness/src/sdk/reference/**` (exemptions,
//! equivalent mutants each with its reason, live in `.cargo/mutants.toml`, which it reads by
//! itself); the harness's own tests that exercise that code judge them. The score is caught
//! / viable, where viable = caught + missed (unviable = the mutant does not build; timeouts
//! are listed on their own: the tests hung, which a test timeout would catch, but no
//! assertion did), with every missed mutant. The verdict fails on a missed mutant.
//!
//! Two engines build the mutants:
//! - `schemata` (the default, `mutants/engine.rs` and `mutants/schemata.rs`): one copy of
//!   the workspace under `target/mutants-schemata/tree` with every mutant switched at run
//!   time (`SESSION_HARNESS_MUTANT=ID`), built once; the baseline records which tests reach
//!   which mutant, and each mutant runs only those, one process per test on two workers,
//!   stopping at the first failure. The whole scope fits one run on 2 cores.
//! - `cargo-mutants`: cargo-mutants itself, an incremental build per mutant (about 22 s
//!   each on 2 cores), kept for cross-checks. Only the test binaries that exercise the model
//!   and the SDK are built and run (`--cargo-arg` puts the target selection on the build
//!   *and* the test invocation), under nextest, which stops a mutant at its first failing
//!   test; it builds with the dev profile, already tuned for quick incremental builds and
//!   warm in every developer's target dir.
//!
//! `--shard K/N` takes every N-th mutant (round-robin, in cargo-mutants' order), so any one
//! shard is a fair sample of the scope, under either engine.
//!
//! The defect switches in the reference SDK are in scope: `defects_matrix` and the defect
//! variants in `scenarios` switch every defect on and require the fuzzer to catch it, so a
//! mutant inside a defect branch is caught only through them. A mutant there that survives
//! is exempted in `.cargo/mutants.toml` only with a reason, never wholesale.

mod engine;
mod schemata;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// The cargo-mutants release the command installs and expects (its output format and
/// options are read here, so it is pinned).
pub const CARGO_MUTANTS_VERSION: &str = "27.1.0";

/// The code under mutation: the pure model and the reference SDK.
pub const SCOPE: [&str; 2] = ["harness/src/model/**", "harness/src/sdk/reference/**"];

/// The test targets of `session-harness` that exercise the model and the reference SDK.
/// The others (FAPI emulator, wire, dev server, schema, tidy) never reach this code, or
/// reach it only through these, and would only slow every mutant down.
pub const TEST_TARGETS: [&str; 14] = [
    "--lib",
    "--test=properties",
    "--test=invariants_fail",
    "--test=known_deviations",
    "--test=lockstep_reference",
    "--test=races",
    "--test=defects_matrix",
    "--test=scenarios",
    "--test=templates",
    "--test=work_budget",
    "--test=lockstep_requests",
    "--test=scenario_lockstep",
    "--test=scenario_windows",
    "--test=determinism",
];

/// Test binaries added for mutants found missed (files named `mutants_*.rs` under
/// `harness/tests/`): run too whenever they exist.
const EXTRA_TEST_PREFIX: &str = "mutants_";

pub use crate::fuzz::{Shard, parse_shard};

/// How each mutant is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// Mutant schemata: one build of a rewritten copy, every mutant switched at run time
    /// (module `engine`); the whole scope fits one run.
    Schemata,
    /// cargo-mutants itself, one incremental build per mutant (for cross-checks).
    CargoMutants,
}

#[derive(clap::Args)]
pub struct Args {
    /// How mutants are built: once for all (schemata) or once each (cargo-mutants).
    #[arg(long, value_enum, default_value_t = Engine::Schemata)]
    engine: Engine,
    /// Test only the K-th of N shards of the mutants (1-based; every N-th mutant).
    #[arg(long, value_parser = parse_shard)]
    shard: Option<Shard>,
    /// Narrow the scope to files matching this glob (repeatable); each must lie under
    /// harness/src/model/ or harness/src/sdk/reference/.
    #[arg(long = "file", value_name = "GLOB")]
    files: Vec<String>,
    /// Only the mutants whose name matches this regex (repeatable; cargo-mutants' `--re`),
    /// e.g. to check that a new test catches the mutants it was written for.
    #[arg(long = "re", value_name = "REGEX")]
    names: Vec<String>,
    /// Longest test run of one mutant, in seconds (default: cargo-mutants' own, from the
    /// baseline's time).
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,
    /// Mutants built and tested at once (each needs its own copy of the tree;
    /// `--engine cargo-mutants` only).
    #[arg(long, default_value_t = 1)]
    jobs: u32,
    /// Mutate the work tree itself instead of a copy (for a disposable checkout only;
    /// saves rebuilding the workspace once; needs --jobs 1; `--engine cargo-mutants` only).
    #[arg(long)]
    in_place: bool,
    /// List the mutants in scope and exit.
    #[arg(long)]
    list: bool,
    /// Where the outcomes go (default: target/mutants-schemata, or target/mutants for
    /// cargo-mutants' `mutants.out/`).
    #[arg(long, value_name = "DIR")]
    output: Option<PathBuf>,
    /// Read the results of an earlier run from DIR/mutants.out instead of running.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["list", "shard", "files"])]
    score_only: Option<PathBuf>,
    /// Print one JSON object with the score on stdout instead of text.
    #[arg(long)]
    json: bool,
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask/ has a parent").into()
}

/// `--file` globs must narrow the scope, never widen it.
fn check_globs(files: &[String]) -> Result<Vec<String>> {
    if files.is_empty() {
        return Ok(SCOPE.iter().map(|s| s.to_string()).collect());
    }
    for glob in files {
        let inside = SCOPE.iter().any(|s| glob.starts_with(s.trim_end_matches("**")));
        if !inside {
            bail!(
                "--file `{glob}` is outside the mutation scope; accepted: globs under {}",
                SCOPE.map(|s| s.trim_end_matches("**")).join(" or ")
            );
        }
    }
    Ok(files.to_vec())
}

/// The nextest release installed when `cargo nextest` is missing. Any release runs the
/// tests (cargo-mutants drives it through its stable `run` command), so one already there is
/// used as it is.
pub const CARGO_NEXTEST_VERSION: &str = "0.9.143";

/// The installed version of the cargo subcommand `tool` (`cargo TOOL --version` prints
/// `cargo-TOOL X.Y.Z …`), if any.
fn installed_version(tool: &str) -> Option<String> {
    let out = Command::new("cargo").args([tool, "--version"]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).split_whitespace().nth(1).map(str::to_string)
}

fn cargo_install(krate: &str, version: &str) -> Result<()> {
    let status = Command::new("cargo")
        .args(["install", krate, "--locked", "--version", version])
        .status()
        .with_context(|| format!("running `cargo install {krate}`"))?;
    if !status.success() {
        bail!("`cargo install {krate} --locked --version {version}` failed");
    }
    Ok(())
}

/// Installs the pinned cargo-mutants through cargo unless it is already there, and
/// cargo-nextest unless some release of it is.
fn ensure_installed() -> Result<()> {
    match installed_version("mutants") {
        Some(v) if v == CARGO_MUTANTS_VERSION => {}
        Some(v) => {
            eprintln!(
                "cargo-mutants {v} is installed; installing the pinned {CARGO_MUTANTS_VERSION}"
            );
            cargo_install("cargo-mutants", CARGO_MUTANTS_VERSION)?;
        }
        None => {
            eprintln!("cargo-mutants is missing; installing {CARGO_MUTANTS_VERSION}");
            cargo_install("cargo-mutants", CARGO_MUTANTS_VERSION)?;
        }
    }
    if installed_version("nextest").is_none() {
        eprintln!("cargo-nextest is missing; installing {CARGO_NEXTEST_VERSION}");
        cargo_install("cargo-nextest", CARGO_NEXTEST_VERSION)?;
    }
    Ok(())
}

/// The test targets to run: the fixed list plus every `harness/tests/mutants_*.rs`.
fn test_targets(root: &Path) -> Result<Vec<String>> {
    let mut targets: Vec<String> = TEST_TARGETS.iter().map(|s| s.to_string()).collect();
    let dir = root.join("harness/tests");
    let mut extra: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|name| name.starts_with(EXTRA_TEST_PREFIX) && name.ends_with(".rs"))
        .map(|name| format!("--test={}", name.trim_end_matches(".rs")))
        .collect();
    extra.sort();
    targets.extend(extra);
    Ok(targets)
}

/// The cargo-mutants argument list for `args` (without the leading `cargo mutants`).
fn mutants_argv(args: &Args, root: &Path, output: &Path) -> Result<Vec<String>> {
    // nextest runs the tests of every selected binary in one pool, one process each, and
    // stops at the first failure: a caught mutant costs its first failing test, not the
    // binaries cargo test would run before it (the defect matrix alone takes 9 s).
    let mut argv: Vec<String> =
        vec!["--package".into(), "session-harness".into(), "--test-tool=nextest".into()];
    for glob in check_globs(&args.files)? {
        argv.push(format!("--file={glob}"));
    }
    for re in &args.names {
        argv.push(format!("--re={re}"));
    }
    if let Some(shard) = args.shard {
        // cargo-mutants counts shards from 0.
        argv.push(format!("--shard={}/{}", shard.index - 1, shard.count));
        argv.push("--sharding=round-robin".into());
    }
    if args.list {
        argv.push("--list".into());
        return Ok(argv);
    }
    if let Some(t) = args.timeout {
        argv.push(format!("--timeout={t}"));
    }
    if args.in_place {
        if args.jobs != 1 {
            bail!("--in-place needs --jobs 1 (one tree, one mutant at a time)");
        }
        argv.push("--in-place".into());
    } else {
        if !(1..=16).contains(&args.jobs) {
            bail!("--jobs must be in 1..=16, got {}", args.jobs);
        }
        argv.push(format!("--jobs={}", args.jobs));
        // Ignored files (node_modules, build output) are not needed to build the harness.
        argv.push("--gitignore=true".into());
    }
    argv.push(format!("--output={}", output.display()));
    for target in test_targets(root)? {
        argv.push(format!("--cargo-arg={target}"));
    }
    Ok(argv)
}

#[derive(Deserialize)]
struct Outcomes {
    outcomes: Vec<Outcome>,
}

#[derive(Deserialize)]
struct Outcome {
    scenario: serde_json::Value,
    summary: String,
    #[serde(default)]
    phase_results: Vec<PhaseResult>,
}

#[derive(Deserialize)]
struct PhaseResult {
    duration: f64,
}

/// What a run gave: per mutant, its name and outcome, and the time it took.
#[derive(Debug, Default, PartialEq)]
pub struct Score {
    pub caught: Vec<String>,
    pub missed: Vec<String>,
    pub unviable: Vec<String>,
    pub timeout: Vec<String>,
    /// Seconds spent on mutants (building and testing), baseline excluded.
    pub mutant_seconds: f64,
}

impl Score {
    pub fn viable(&self) -> usize {
        self.caught.len() + self.missed.len()
    }

    pub fn tested(&self) -> usize {
        self.viable() + self.unviable.len() + self.timeout.len()
    }
}

/// Reads `mutants.out/outcomes.json` (cargo-mutants' own record of a run).
pub fn read_score(mutants_out: &Path) -> Result<Score> {
    let path = mutants_out.join("outcomes.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let outcomes: Outcomes = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not the outcomes.json of cargo-mutants {CARGO_MUTANTS_VERSION}",
            path.display()
        )
    })?;
    let mut score = Score::default();
    for o in outcomes.outcomes {
        // The baseline is the string "Baseline"; mutants are {"Mutant": {"name": …}}.
        let Some(name) = o.scenario.pointer("/Mutant/name").and_then(|n| n.as_str()) else {
            continue;
        };
        score.mutant_seconds += o.phase_results.iter().map(|p| p.duration).sum::<f64>();
        let list = match o.summary.as_str() {
            "CaughtMutant" => &mut score.caught,
            "MissedMutant" => &mut score.missed,
            "Unviable" => &mut score.unviable,
            "Timeout" => &mut score.timeout,
            other => bail!("{}: unknown outcome `{other}` for `{name}`", path.display()),
        };
        list.push(name.to_string());
    }
    Ok(score)
}

fn print_score(score: &Score, json: bool) {
    let per_mutant =
        if score.tested() > 0 { score.mutant_seconds / score.tested() as f64 } else { 0.0 };
    if json {
        let object = serde_json::json!({
            "schema_version": crate::JSON_SCHEMA_VERSION,
            "scope": SCOPE,
            "caught": score.caught.len(),
            "missed": score.missed.len(),
            "viable": score.viable(),
            "unviable": score.unviable.len(),
            "timeout": score.timeout.len(),
            "seconds_per_mutant": (per_mutant * 10.0).round() / 10.0,
            "missed_mutants": score.missed,
            "timeout_mutants": score.timeout,
            "passed": score.missed.is_empty(),
        });
        println!("{object}");
        return;
    }
    println!(
        "mutation score: {}/{} viable mutants caught ({} unviable, {} timed out; {} tested, \
         {per_mutant:.0}s per mutant)",
        score.caught.len(),
        score.viable(),
        score.unviable.len(),
        score.timeout.len(),
        score.tested()
    );
    for name in &score.missed {
        println!("  MISSED  {name}");
    }
    for name in &score.timeout {
        println!("  TIMEOUT {name}  (the tests hung rather than failed)");
    }
    let verdict = if score.missed.is_empty() { "pass" } else { "FAIL" };
    println!("verdict: {verdict}");
}

/// Returns whether every viable mutant was caught.
pub fn run(args: Args) -> Result<bool> {
    let root = workspace_root();
    if let Some(dir) = &args.score_only {
        let score = read_score(&dir.join("mutants.out"))?;
        print_score(&score, args.json);
        return Ok(score.missed.is_empty());
    }
    ensure_installed()?;
    if args.engine == Engine::Schemata && !args.list {
        if args.in_place || args.jobs != 1 {
            bail!("--in-place and --jobs are options of --engine cargo-mutants");
        }
        let out_dir = args.output.clone().unwrap_or_else(|| root.join("target/mutants-schemata"));
        // The tests run in the copy and write where they reached to files under it: an
        // absolute path, whatever directory the command was started from.
        let out_dir = std::path::absolute(&out_dir)
            .with_context(|| format!("resolving {}", out_dir.display()))?;
        let options = engine::Options {
            package: "session-harness",
            crate_dir: "harness",
            globs: check_globs(&args.files)?,
            names: args.names.clone(),
            shard: args.shard,
            timeout: args.timeout,
            targets: test_targets(&root)?,
            out_dir: &out_dir,
        };
        let score = engine::run(&root, &options)?;
        print_score(&score, args.json);
        return Ok(score.missed.is_empty());
    }
    let output = args.output.clone().unwrap_or_else(|| root.join("target/mutants"));
    let argv = mutants_argv(&args, &root, &output)?;
    eprintln!("cargo mutants {}", argv.join(" "));
    let mut command = Command::new("cargo");
    command.arg("mutants").args(&argv).current_dir(&root);
    if args.list || !args.json {
        // Progress and the list go straight to the terminal.
        let status = command.status().context("running cargo mutants")?;
        if args.list {
            return Ok(status.success());
        }
    } else {
        // stdout must carry the JSON object alone: send cargo-mutants' progress to stderr.
        let out = command.output().context("running cargo mutants")?;
        eprint!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
    }
    // cargo-mutants exits non-zero when a mutant is missed; the outcomes say why, unless
    // the run never got that far (a failing baseline, a bad option): then it is an error.
    let score = read_score(&output.join("mutants.out")).context(
        "cargo mutants wrote no outcomes (a failing baseline or a bad option: see its output)",
    )?;
    print_score(&score, args.json);
    Ok(score.missed.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_globs_may_only_narrow_the_scope() {
        assert_eq!(check_globs(&[]).unwrap(), SCOPE.to_vec());
        let narrow = vec!["harness/src/model/time.rs".to_string()];
        assert_eq!(check_globs(&narrow).unwrap(), narrow);
        let wide = check_globs(&["harness/src/fapi/**".to_string()]).unwrap_err();
        assert!(wide.to_string().contains("outside the mutation scope"), "{wide}");
    }

    #[test]
    fn the_score_counts_outcomes_and_skips_the_baseline() {
        let dir = std::env::temp_dir().join(format!("xtask-mutants-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mutant = |name: &str, summary: &str| {
            serde_json::json!({
                "scenario": {"Mutant": {"name": name}},
                "summary": summary,
                "phase_results": [{"duration": 10.0}, {"duration": 5.0}],
            })
        };
        let outcomes = serde_json::json!({"outcomes": [
            {"scenario": "Baseline", "summary": "Success", "phase_results": [{"duration": 99.0}]},
            mutant("a.rs:1:1: replace x", "CaughtMutant"),
            mutant("a.rs:2:1: replace y", "MissedMutant"),
            mutant("a.rs:3:1: replace z", "Unviable"),
            mutant("a.rs:4:1: replace w", "Timeout"),
            mutant("a.rs:5:1: replace v", "CaughtMutant"),
        ]});
        std::fs::write(dir.join("outcomes.json"), outcomes.to_string()).unwrap();
        let score = read_score(&dir).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(score.caught.len(), 2);
        assert_eq!(score.missed, vec!["a.rs:2:1: replace y".to_string()]);
        assert_eq!(score.viable(), 3);
        assert_eq!(score.tested(), 5);
        assert_eq!(score.timeout, vec!["a.rs:4:1: replace w".to_string()]);
        assert!((score.mutant_seconds - 75.0).abs() < 1e-9, "{}", score.mutant_seconds);
    }

    #[test]
    fn the_build_and_the_tests_see_the_same_targets() {
        let args = Args {
            engine: Engine::CargoMutants,
            shard: Some(Shard { index: 2, count: 12 }),
            files: vec![],
            names: vec![],
            timeout: Some(90),
            jobs: 1,
            in_place: false,
            list: false,
            output: None,
            score_only: None,
            json: false,
        };
        let root = workspace_root();
        let argv = mutants_argv(&args, &root, Path::new("out")).unwrap();
        assert!(argv.contains(&"--shard=1/12".to_string()), "0-based for cargo-mutants: {argv:?}");
        assert!(argv.contains(&"--cargo-arg=--test=properties".to_string()), "{argv:?}");
        assert!(argv.contains(&"--cargo-arg=--lib".to_string()), "{argv:?}");
        assert!(!argv.iter().any(|a| a == "--"), "no test-only arguments: {argv:?}");
        assert!(argv.contains(&"--test-tool=nextest".to_string()), "{argv:?}");
    }
}
