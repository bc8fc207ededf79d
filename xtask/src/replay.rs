//! `cargo xtask replay FILE` reruns one scenario and prints, per variant, the readable step
//! table and the violation report; `cargo xtask replay --seed S --profile P` does the same
//! for a generated case, and `--export` writes that case out as a scenario under
//! `scenarios/regressions/` that replays without the generator.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use session_harness::generate::{self, TRACE_STEPS_DEFAULT};
use session_harness::model::profile::ProfileId;
use session_harness::model::vocab::Defect;
use session_harness::runner::lockstep;
use session_harness::runner::spec::SdkSpec;
use session_harness::scenario::{self, SystemError};
use session_harness::sim::{format_seed, parse_seed};
use session_harness::{runner, trace};

#[derive(clap::Args)]
pub struct Args {
    /// The scenario file to replay, e.g. scenarios/regressions/ios-cold-start-not-restored.yaml.
    file: Option<PathBuf>,
    /// Replay a generated case instead: its seed, as printed (`0x…`) or decimal.
    #[arg(long, conflicts_with = "file", requires = "profile")]
    seed: Option<String>,
    /// The profile of the generated case: documented or clerk-js-6.
    #[arg(long)]
    profile: Option<String>,
    /// Longest generated trace (as the fuzz campaign that found the seed used).
    #[arg(long, default_value_t = TRACE_STEPS_DEFAULT)]
    steps: usize,
    /// Replay only this variant of the scenario.
    #[arg(long)]
    variant: Option<String>,
    /// List every happening under its step.
    #[arg(long)]
    details: bool,
    /// With --seed: the system to replay on: model, reference or reference+DEFECT.
    #[arg(long, default_value = "model", requires = "seed")]
    sdk: SdkSpec,
    /// With --seed: write the case out under scenarios/regressions/ (atomically).
    #[arg(long, requires = "seed")]
    export: bool,
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask/ has a parent").into()
}

/// Returns whether every replayed variant did what its scenario expects.
pub fn run(args: Args) -> Result<bool> {
    match (&args.file, &args.seed) {
        (Some(file), _) => replay_file(file, &args),
        (None, Some(seed)) => replay_seed(seed, &args),
        (None, None) => bail!("give a scenario FILE, or --seed S --profile P"),
    }
}

fn replay_file(file: &Path, args: &Args) -> Result<bool> {
    let display = file.to_string_lossy().to_string();
    let scenario = scenario::load(file, &display)?;
    if let Some(only) = &args.variant
        && !scenario.variants.iter().any(|v| &v.name == only)
    {
        let names: Vec<&str> = scenario.variants.iter().map(|v| v.name.as_str()).collect();
        bail!("no variant `{only}` in {display}; variants: {}", names.join(", "));
    }
    println!("scenario {} ({})", scenario.name, display);
    println!("  {}", scenario.description.trim());
    let mut all_ok = true;
    for variant in &scenario.variants {
        if args.variant.as_ref().is_some_and(|only| only != &variant.name) {
            continue;
        }
        let system = scenario::default_system();
        println!(
            "\n== variant `{}`: {} on {}, sdk {}",
            variant.name,
            variant.setup.profile,
            variant.setup.platform.as_str(),
            system.label(&variant.defects)
        );
        if let Some(description) = &variant.description {
            println!("   {description}");
        }
        match scenario::run_variant(&scenario, variant, system) {
            Ok(run) => {
                print!(
                    "{}",
                    trace::step_table(&run.outcome.trace, &run.outcome.report, args.details)
                );
                let replay = format!("cargo xtask replay {display}");
                print!("{}", scenario::run::report(&run, variant, &replay));
                all_ok &= run.passed();
            }
            Err(e @ SystemError::NeedsReference(..)) => {
                println!("skipped: {e}");
                all_ok = false;
            }
            Err(e) => return Err(e).with_context(|| format!("variant `{}`", variant.name)),
        }
    }
    Ok(all_ok)
}

fn replay_seed(seed_text: &str, args: &Args) -> Result<bool> {
    let seed = parse_seed(seed_text).map_err(anyhow::Error::msg)?;
    let profile_text = args.profile.as_deref().unwrap_or_default();
    let profile = ProfileId::parse(profile_text).with_context(|| {
        format!("unknown profile `{profile_text}`; accepted: documented, clerk-js-6")
    })?;
    // Print the seed before the run (STYLE.md: a run prints its seed before it starts).
    println!("seed {}  profile {profile}  steps ≤ {}", format_seed(seed), args.steps);
    let case = generate::case_from_seed(profile, args.steps, seed);
    let defects: Vec<Defect> = match &args.sdk {
        SdkSpec::Model => Vec::new(),
        SdkSpec::Reference { defects } => defects.clone(),
        other => bail!(
            "`--sdk {other}` cannot replay here; accepted: model, reference, reference+DEFECT"
        ),
    };
    let outcome = match &args.sdk {
        SdkSpec::Model => runner::run_case(&case, Some(seed)),
        _ => {
            // The generated events, replayed on the reference SDK (in lockstep when defect-free).
            let events = generate::interpret(&case, None).events();
            if defects.is_empty() {
                let run = lockstep::run_reference(case.setup, &[], &events, Some(seed));
                if let Some(d) = run.divergence() {
                    println!(
                        "DIVERGENCE from the model at step {} (t={}, {}): `{}`\n  model: {}\n  sdk:   {}",
                        d.step, d.at, d.event, d.field, d.model, d.sdk
                    );
                }
                runner::Outcome { trace: run.sdk, report: run.report }
            } else {
                lockstep::judge_reference(case.setup, &defects, &events, Some(seed))
            }
        }
    };
    print!("{}", trace::step_table(&outcome.trace, &outcome.report, args.details));
    let replay = format!(
        "cargo xtask replay --seed {} --profile {profile} --sdk {}",
        format_seed(seed),
        args.sdk
    );
    for v in &outcome.report.violations {
        let known = if runner::is_known(profile, v.invariant) { " (known deviation)" } else { "" };
        println!("{v}{known}");
        println!("  sdk: {}  profile: {profile}  seed: {}", outcome.trace.sdk, format_seed(seed));
        println!("  replay: {replay}");
    }
    if outcome.passed() {
        println!("every invariant held ({} steps)", outcome.trace.steps.len());
    }
    if args.export {
        let exported = scenario::export(&outcome.trace, &outcome.report, &defects);
        let relative = format!("scenarios/{}.yaml", exported.name);
        scenario::write_atomic(&workspace_root().join(&relative), &exported.yaml)
            .with_context(|| format!("writing {relative}"))?;
        println!("exported: {relative}\n  replay: cargo xtask replay {relative}");
    }
    Ok(runner::only_known_deviations(profile, &outcome.report))
}
