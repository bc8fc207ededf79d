//! `cargo xtask fuzz`: a seeded fuzz campaign at any scale.
//!
//! `--cases N --seed S --sdk SPEC [--profile P] [--shard K/N] [--jobs J] [--json]`. Case `i`
//! of a campaign is a pure function of (seed, i), so `--shard K/N` runs the K-th of N
//! contiguous slices and N shards on N machines cover exactly the cases of one run. `--jobs`
//! threads pull case indices from a shared counter; results are reported in index order, so
//! the output does not depend on scheduling. A progress bar on stderr shows cases,
//! violations and rate.
//!
//! Every failing case is shrunk (the hunt's shrinker, [`runner::shrink`]) and exported the
//! moment it is found, atomically, as a scenario file
//! `target/fuzz-failures/<sdk>/<what broke>-<profile>-<case seed>.yaml` (or under
//! `--export DIR`): a killed campaign keeps every failure found so far. The file's
//! `source:` is the command that reruns the case as found (sdk, profile, steps); the summary
//! prints the shrunk case, its length and the original one, and both replay commands.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use session_harness::generate::{self, TRACE_STEPS_DEFAULT};
use session_harness::model::profile::ProfileId;
use session_harness::model::vocab::Defect;
use session_harness::runner::lockstep::Fidelity;
use session_harness::runner::shrink::{self, Shrunk, Target};
use session_harness::runner::spec::SdkSpec;
use session_harness::runner::{self, Coverage};
use session_harness::scenario;
use session_harness::sim::{case_seed, format_seed, parse_seed};
use session_harness::trace;

/// `K/N`: the K-th (1-based) of N shards (`fuzz` and `mutants`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

pub fn parse_shard(text: &str) -> Result<Shard, String> {
    let bad = || format!("bad shard `{text}`: expected K/N with 1 <= K <= N, e.g. 2/4");
    let (k, n) = text.split_once('/').ok_or_else(bad)?;
    let index: u64 = k.trim().parse().map_err(|_| bad())?;
    let count: u64 = n.trim().parse().map_err(|_| bad())?;
    if count == 0 || index == 0 || index > count {
        return Err(bad());
    }
    Ok(Shard { index, count })
}

impl Shard {
    /// The case indices of this shard among `cases`: contiguous, and all shards together
    /// cover `0..cases` exactly once.
    pub fn range(self, cases: u64) -> std::ops::Range<u64> {
        // In u128: `cases * index` must not overflow for any shard a user can type.
        let at = |k: u64| (cases as u128 * k as u128 / self.count as u128) as u64;
        at(self.index - 1)..at(self.index)
    }
}

/// The profiles a campaign runs (a newtype, so clap takes it as one value).
#[derive(Clone, Debug)]
pub struct Profiles(pub Vec<ProfileId>);

fn parse_profiles(text: &str) -> Result<Profiles, String> {
    match text {
        "both" => Ok(Profiles(ProfileId::ALL.to_vec())),
        other => ProfileId::parse(other).map(|p| Profiles(vec![p])).ok_or_else(|| {
            format!("unknown profile `{other}`; accepted: documented, clerk-js-6, both")
        }),
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// Cases per profile.
    #[arg(long, default_value_t = 10_000, value_parser = crate::counts::parse_cases)]
    cases: u64,
    /// Campaign seed (hex `0x…` or decimal).
    #[arg(long, value_parser = parse_seed, default_value = "0x5eed0001")]
    seed: u64,
    /// System under test: model, reference, reference+DEFECT, clerk-js@VERSION, cmd:COMMAND.
    #[arg(long, default_value = "model")]
    sdk: SdkSpec,
    /// documented, clerk-js-6 or both.
    #[arg(long, value_parser = parse_profiles, default_value = "both")]
    profile: Profiles,
    /// Run only the K-th of N slices of the cases (1-based), e.g. `--shard 2/4`.
    #[arg(long, value_parser = parse_shard)]
    shard: Option<Shard>,
    /// Worker threads (default: every core).
    #[arg(long)]
    jobs: Option<usize>,
    /// Longest generated trace, in events.
    #[arg(long, default_value_t = TRACE_STEPS_DEFAULT, value_parser = crate::counts::parse_steps)]
    steps: usize,
    /// Print one JSON object with the verdict on stdout instead of tables.
    #[arg(long)]
    json: bool,
    /// Where every failing case is written as a scenario file (default:
    /// `target/fuzz-failures/<sdk>/` in the workspace).
    #[arg(long, value_name = "DIR")]
    export: Option<PathBuf>,
    /// For `clerk-js@VERSION` and `cmd:…`: the lockstep fidelity the SDK is held to
    /// (`observable`, `requests`, `exact`; default: what its adapter declares).
    #[arg(long)]
    fidelity: Option<Fidelity>,
}

/// One unexpected failure, shrunk, with what it takes to replay it.
struct Failure {
    profile: ProfileId,
    index: u64,
    case_seed: u64,
    /// The shrunk case's run (its outcome and divergence), its events and the original length.
    shrunk: Shrunk,
    /// Where it was exported, the moment it was found.
    exported: PathBuf,
}

impl Failure {
    /// The first divergence from the model, in the scenario format's words.
    fn divergence(&self) -> Option<String> {
        self.shrunk.run.divergence.as_ref().map(|d| d.to_string())
    }
}

/// The command that reruns case `case_seed` of a campaign as it was found (unshrunk).
fn replay_command(sdk: &SdkSpec, profile: ProfileId, case_seed: u64, steps: usize) -> String {
    format!(
        "cargo xtask replay --seed {} --profile {profile} --sdk {sdk} --steps {steps}",
        format_seed(case_seed)
    )
}

/// The command that reruns an exported file the way it failed: a divergence needs the
/// reference SDK in lockstep (the gate); anything else replays as a scenario.
fn rerun_file_command(f: &Failure) -> String {
    if f.shrunk.run.divergence.is_some() {
        format!("cargo xtask gate --sdk reference --scenarios {} --cases 0", shown(&f.exported))
    } else {
        format!("cargo xtask replay {}", shown(&f.exported))
    }
}

pub fn run(args: Args) -> Result<bool> {
    let profiles: Vec<ProfileId> = args.profile.0.clone();
    if args.cases == 0 {
        bail!("--cases must be at least 1");
    }
    if !(1..=10_000).contains(&args.steps) {
        bail!("--steps must be in 1..=10000, got {}", args.steps);
    }
    let jobs =
        args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if !(1..=256).contains(&jobs) {
        bail!("--jobs must be in 1..=256, got {jobs}");
    }
    let range = args.shard.map_or(0..args.cases, |s| s.range(args.cases));
    let shard_text =
        args.shard.map(|s| format!("{}/{}", s.index, s.count)).unwrap_or_else(|| "1/1".into());
    let export_dir = args.export.clone().unwrap_or_else(|| default_export_dir(&args.sdk));
    let defects = match &args.sdk {
        SdkSpec::Model => None,
        SdkSpec::Reference { defects } => Some(defects.clone()),
        SdkSpec::Npm { .. } | SdkSpec::Command { .. } => {
            let campaign = crate::fuzz_external::Campaign {
                sdk: args.sdk.clone(),
                seed: args.seed,
                cases: args.cases,
                range,
                shard_text,
                steps: args.steps,
                jobs: args.jobs,
                json: args.json,
                export_dir,
                fidelity: args.fidelity,
                documented_only: profiles == [ProfileId::Documented],
            };
            return crate::fuzz_external::run(campaign, &workspace_root());
        }
    };
    if args.fidelity.is_some() {
        bail!(
            "--fidelity applies to external SDKs (clerk-js@VERSION, clerk-expo@VERSION, cmd:…); `{}` is compared \
             exactly",
            args.sdk
        );
    }
    let target = match &defects {
        None => Target::Model,
        Some(d) if d.is_empty() => Target::Lockstep,
        Some(d) => Target::Reference(d),
    };
    // The seed comes first, before anything can fail.
    eprintln!(
        "seed: {}  sdk: {}  cases {}..{} of {} per profile  shard: {shard_text}  jobs: {jobs}",
        format_seed(args.seed),
        args.sdk,
        range.start,
        range.end,
        args.cases
    );
    // Temporary files of an earlier campaign that was killed mid-write.
    scenario::files::remove_stale_temporaries(&export_dir)
        .with_context(|| format!("cleaning {}", export_dir.display()))?;
    let total = (range.end - range.start) * profiles.len() as u64;
    let bar = crate::term::progress(total, "cases");
    let started = Instant::now();
    let next = AtomicU64::new(0);
    let violations = AtomicU64::new(0);
    let merged = Mutex::new((Coverage::default(), Vec::<Failure>::new()));
    let export_error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let width = range.end - range.start;
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                let mut coverage = Coverage::default();
                let mut failures = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        break;
                    }
                    let profile = profiles[(n / width) as usize];
                    let index = range.start + n % width;
                    let seed = case_seed(args.seed, index);
                    let case = generate::case_from_seed(profile, args.steps, seed);
                    let found = match target {
                        Target::Model => shrink::Run {
                            outcome: runner::run_case(&case, Some(seed)),
                            divergence: None,
                        },
                        // The same events the model campaign would run, on the SDK.
                        _ => {
                            let events = generate::interpret(&case, None).events();
                            shrink::run(target, case.setup, &events, Some(seed))
                        }
                    };
                    coverage.add(&found.outcome);
                    if found.fails() {
                        let v = violations.fetch_add(1, Ordering::Relaxed) + 1;
                        bar.set_message(format!("{v} failing, shrinking"));
                        let events = found.outcome.trace.events();
                        let shrunk =
                            shrink::shrink_failure(target, case.setup, &events, Some(seed));
                        let command = replay_command(&args.sdk, profile, seed, args.steps);
                        // Written the moment it is found: a killed campaign keeps what it
                        // found so far.
                        let defects = defects.as_deref().unwrap_or(&[]);
                        match export_failure(&shrunk, defects, &command, &export_dir) {
                            Ok(exported) => failures.push(Failure {
                                profile,
                                index,
                                case_seed: seed,
                                shrunk,
                                exported,
                            }),
                            Err(e) => {
                                let mut slot = export_error.lock().expect("no panics under lock");
                                slot.get_or_insert(
                                    e.context(format!("exporting case {index} ({profile})")),
                                );
                            }
                        }
                        bar.set_message(format!("{v} failing"));
                    }
                    bar.inc(1);
                }
                let mut all = merged.lock().expect("no worker panics while holding the lock");
                all.0.merge(&coverage);
                all.1.extend(failures);
            });
        }
    });
    bar.finish_and_clear();
    if let Some(e) = export_error.into_inner().expect("workers are done") {
        return Err(e);
    }
    let (coverage, mut failures) = merged.into_inner().expect("workers are done");
    failures.sort_by_key(|f| (f.profile, f.index));
    let elapsed = started.elapsed().as_secs_f64();
    if args.json {
        let failures_json: Vec<_> = failures
            .iter()
            .map(|f| {
                serde_json::json!({
                    "profile": f.profile.as_str(),
                    "case": f.index,
                    "case_seed": format_seed(f.case_seed),
                    "invariants": f.shrunk.run.unexpected().iter().map(|i| i.as_str()).collect::<Vec<_>>(),
                    "steps": f.shrunk.events.len(),
                    "steps_found": f.shrunk.original_steps,
                    "divergence": f.divergence(),
                    "replay": replay_command(&args.sdk, f.profile, f.case_seed, args.steps),
                    "exported": shown(&f.exported),
                    "replay_file": rerun_file_command(f),
                })
            })
            .collect();
        let object = serde_json::json!({
            "schema_version": crate::JSON_SCHEMA_VERSION,
            "seed": format_seed(args.seed),
            "sdk": args.sdk.to_string(),
            "shard": shard_text,
            "cases": total,
            "steps": coverage.steps,
            "failures": failures_json,
            "seconds": (elapsed * 1000.0).round() / 1000.0,
            "cases_per_sec": (total as f64 / elapsed).round(),
            "passed": failures.is_empty(),
        });
        println!("{object}");
    } else {
        println!(
            "{total} cases ({} steps) in {elapsed:.1}s, {:.0} cases/s: {} unexpected failure(s)",
            coverage.steps,
            total as f64 / elapsed,
            failures.len()
        );
        for (n, f) in failures.iter().enumerate().take(FAILURES_SHOWN_MAX) {
            let run = &f.shrunk.run;
            let first = run
                .outcome
                .report
                .violations
                .iter()
                .find(|v| !runner::is_known(f.profile, v.invariant));
            println!();
            match (&run.divergence, first) {
                (Some(d), _) => println!("{} {d}", crate::term::fail("FAIL")),
                (None, Some(v)) => println!("{} {v}", crate::term::fail("FAIL")),
                (None, None) => println!("case {} failed without a report", f.index),
            }
            println!(
                "  sdk: {}  profile: {}  case: {}  case seed: {}",
                args.sdk,
                f.profile,
                f.index,
                format_seed(f.case_seed)
            );
            println!(
                "  shrunk: {} steps (found with {})",
                f.shrunk.events.len(),
                f.shrunk.original_steps
            );
            // The shrunk case itself, for the first few: short enough to read.
            if n < TABLES_SHOWN_MAX {
                let table = trace::step_table(&run.outcome.trace, &run.outcome.report, false);
                for line in table.lines() {
                    println!("    {line}");
                }
            }
            println!("  exported: {}", shown(&f.exported));
            println!("  rerun:    {}", rerun_file_command(f));
            println!(
                "  found by: {}",
                replay_command(&args.sdk, f.profile, f.case_seed, args.steps)
            );
        }
        if failures.len() > FAILURES_SHOWN_MAX {
            println!("\n… and {} more", failures.len() - FAILURES_SHOWN_MAX);
        }
        if !failures.is_empty() {
            println!(
                "\n{} failing case(s) exported, shrunk, as scenarios under {}",
                failures.len(),
                shown(&export_dir)
            );
        }
        println!(
            "verdict: {}",
            if failures.is_empty() { crate::term::pass("pass") } else { crate::term::fail("FAIL") }
        );
    }
    Ok(failures.is_empty())
}

/// Failures printed in full; the rest are counted (every one is exported).
const FAILURES_SHOWN_MAX: usize = 10;
/// Failures whose shrunk step table is printed.
const TABLES_SHOWN_MAX: usize = 3;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask/ has a parent").into()
}

/// `target/fuzz-failures/<sdk>/` in the workspace: one folder per system, so campaigns on
/// different SDKs do not overwrite each other's cases.
fn default_export_dir(sdk: &SdkSpec) -> PathBuf {
    workspace_root().join("target/fuzz-failures").join(sdk.to_string())
}

/// A path as printed: relative to the workspace when it is inside it, so the printed replay
/// command works from the workspace root.
fn shown(path: &Path) -> String {
    path.strip_prefix(workspace_root()).unwrap_or(path).display().to_string()
}

/// Writes one shrunk failing case as a scenario file in `dir`, atomically (a reader never
/// sees half a file), named like the scenario: what broke, the profile, the case seed. Both
/// profiles run case `i` with the same case seed, hence the profile in the name.
fn export_failure(
    shrunk: &Shrunk,
    defects: &[Defect],
    command: &str,
    dir: &Path,
) -> Result<PathBuf> {
    let exported = scenario::export_shrunk(shrunk, defects, command);
    let file = exported.name.trim_start_matches("regressions/");
    let path = dir.join(format!("{file}.yaml"));
    scenario::write_atomic(&path, &exported.yaml)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_cases_exactly() {
        for cases in [1, 7, 100, 100_000] {
            for count in 1..=7 {
                let mut covered = Vec::new();
                for index in 1..=count {
                    covered.extend(Shard { index, count }.range(cases));
                }
                assert_eq!(
                    covered,
                    (0..cases).collect::<Vec<_>>(),
                    "{cases} cases, {count} shards"
                );
            }
        }
    }

    #[test]
    fn bad_shards_are_refused_with_the_accepted_form() {
        for bad in ["0/2", "3/2", "1/0", "x", "1-2"] {
            assert!(parse_shard(bad).unwrap_err().contains("expected K/N"), "{bad}");
        }
    }
}
