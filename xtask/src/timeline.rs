//! `cargo xtask timeline FILE [--variant V] -o trace.svg`: draw a scenario's trace (or a
//! generated case's, with `--seed S --profile P`) as lanes over virtual time, violations
//! marked. The file is written atomically: a failed run leaves no half-written picture.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use session_harness::generate::{self, TRACE_STEPS_DEFAULT};
use session_harness::model::profile::ProfileId;
use session_harness::runner;
use session_harness::scenario;
use session_harness::sim::{format_seed, parse_seed};
use session_harness::trace::timeline;

#[derive(clap::Args)]
pub struct Args {
    /// The scenario file to draw.
    file: Option<PathBuf>,
    /// The variant to draw (default: the first that broke an invariant, else the first).
    #[arg(long)]
    variant: Option<String>,
    /// Draw a generated case instead: its seed.
    #[arg(long, conflicts_with = "file", requires = "profile", value_parser = parse_seed)]
    seed: Option<u64>,
    /// The generated case's profile: documented or clerk-js-6.
    #[arg(long)]
    profile: Option<String>,
    /// Where to write the SVG.
    #[arg(short, long)]
    output: PathBuf,
}

pub fn run(args: Args) -> Result<bool> {
    let (svg, title) = match (&args.file, args.seed) {
        (Some(file), _) => {
            let display = file.to_string_lossy().to_string();
            let scenario = scenario::load(file, &display)?;
            let runs = scenario::run_all(&scenario, scenario::default_system());
            let mut chosen = None;
            for (name, run) in &runs {
                let Ok(run) = run else { continue };
                let wanted = match &args.variant {
                    Some(v) => v == name,
                    None => !run.outcome.report.violations.is_empty(),
                };
                if wanted {
                    chosen = Some(run);
                    break;
                }
            }
            if chosen.is_none() && args.variant.is_none() {
                chosen = runs.iter().find_map(|(_, r)| r.as_ref().ok());
            }
            let Some(run) = chosen else {
                let names: Vec<&str> = scenario.variants.iter().map(|v| v.name.as_str()).collect();
                bail!(
                    "no runnable variant {} in {display}; variants: {}",
                    args.variant.as_deref().map(|v| format!("`{v}`")).unwrap_or_default(),
                    names.join(", ")
                );
            };
            let title = format!("{} — variant {} ({})", scenario.name, run.variant, run.sdk);
            (timeline::svg(&run.outcome.trace, &run.outcome.report, &title), title)
        }
        (None, Some(seed)) => {
            let name = args.profile.as_deref().unwrap_or_default();
            let profile = ProfileId::parse(name).with_context(|| {
                format!("unknown profile `{name}`; accepted: documented, clerk-js-6")
            })?;
            let case = generate::case_from_seed(profile, TRACE_STEPS_DEFAULT, seed);
            let outcome = runner::run_case(&case, Some(seed));
            let title = format!("generated case {} ({profile})", format_seed(seed));
            (timeline::svg(&outcome.trace, &outcome.report, &title), title)
        }
        (None, None) => bail!("give a scenario FILE, or --seed S --profile P"),
    };
    scenario::write_atomic(&args.output, &svg)
        .with_context(|| format!("writing {}", args.output.display()))?;
    println!("wrote {} ({title})", args.output.display());
    Ok(true)
}
