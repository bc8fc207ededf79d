//! `cargo xtask replay FILE` reruns one scenario and prints, per variant, the readable step
//! table and the violation report; `cargo xtask replay --seed S --profile P` does the same
//! for a generated case, and `--export` writes that case out as a scenario under
//! `scenarios/regressions/` that replays without the generator.
//!
//! `--sdk SPEC` with a FILE replays every variant on that SDK (the reference SDK, clerk-js,
//! or any `cmd:` adapter) in lockstep with the model, under the variant's profile or the one
//! `--profile` names, and prints the SDK's steps side by side with the model's wherever they
//! differ, in the scenario vocabulary (`gate::side_by_side`). It fails when the SDK diverges
//! from the model or breaks an invariant (findings are the gate's business, not replay's).
//!
//! `--log` prints, instead of the step table, the full log of the run stamped with virtual
//! time: one line per event, per happening, per observation and per broken invariant
//! (`t=00:01:02.345 step 7 request_sent r3 → /v1/client/sessions/sess_1/tokens …`). The model
//! and the SDKs are pure and emit no `tracing` events; the log is rendered from the trace's
//! happenings here, so it is exactly as deterministic as the trace.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use session_harness::generate::{self, TRACE_STEPS_DEFAULT};
use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
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
    /// With --seed: the profile of the generated case (documented or clerk-js-6). With a
    /// FILE and --sdk: the profile every variant runs under (default: the variant's own).
    #[arg(long)]
    profile: Option<String>,
    /// Longest generated trace (as the fuzz campaign that found the seed used).
    #[arg(long, default_value_t = TRACE_STEPS_DEFAULT, value_parser = crate::counts::parse_steps)]
    steps: usize,
    /// Replay only this variant of the scenario.
    #[arg(long)]
    variant: Option<String>,
    /// List every happening under its step (with --sdk: the SDK's, then the model's where
    /// they differ).
    #[arg(long)]
    details: bool,
    /// The system to replay on: model (default), reference, reference+DEFECT, and with a
    /// FILE also clerk-js@VERSION or cmd:COMMAND (in lockstep, side by side with the model).
    #[arg(long, default_value = "model")]
    sdk: SdkSpec,
    /// With --seed: write the case out under scenarios/regressions/ (atomically).
    #[arg(long, requires = "seed")]
    export: bool,
    /// Print the full log of the run, stamped with virtual time, instead of the step table.
    #[arg(long)]
    log: bool,
}

/// A virtual instant as the log stamps it: `HH:MM:SS.mmm`, with a day count in front once
/// the run passes a day (`3d04:05:06.007`), so stamps line up and sort within a day.
pub fn stamp(ms: u64) -> String {
    const DAY_MS: u64 = 86_400_000;
    let (days, rest) = (ms / DAY_MS, ms % DAY_MS);
    let clock = format!(
        "{:02}:{:02}:{:02}.{:03}",
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000
    );
    if days > 0 { format!("{days}d{clock}") } else { clock }
}

/// The full log of a run: for every step, the event, each happening under its own virtual
/// instant and kind, the observation at the step's end, and the invariants broken there.
pub fn log(trace: &trace::Trace, report: &session_harness::invariants::Report) -> String {
    use std::fmt::Write as _;

    let mut out = String::new();
    for step in &trace.steps {
        let n = step.index;
        let _ = writeln!(out, "t={} step {n} event {}", stamp(step.at.ms()), step.event);
        for h in &step.obs.happenings {
            // The serde tag (`request_sent`, `storage_written`, …) names the kind stably.
            let kind = serde_json::to_value(h)
                .ok()
                .and_then(|v| v.get("what").and_then(|w| w.as_str()).map(str::to_string))
                .unwrap_or_else(|| "happening".to_string());
            let _ =
                writeln!(out, "t={} step {n} {kind} {}", stamp(h.at().ms()), trace::describe(h));
        }
        let o = &step.obs;
        let signed_in = match o.view.is_signed_in {
            Some(b) => b.to_string(),
            None => "undefined".to_string(),
        };
        let session = o
            .view
            .session
            .map(|s| format!("{}:{}", s.id, s.status.as_str()))
            .unwrap_or_else(|| "-".into());
        let server = o
            .server
            .session
            .map(|(id, st)| format!("{id}:{}", st.as_str()))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "t={} step {n} observed route={} loaded={} signed_in={signed_in} session={session} \
             server={server} in_flight={} open_calls={}",
            stamp(step.end().ms()),
            o.view.route,
            o.view.is_loaded,
            o.in_flight,
            o.open_calls
        );
        for v in report.violations.iter().filter(|v| v.step == n) {
            let _ = writeln!(
                out,
                "t={} step {n} BROKEN {}: expected {}, observed {}",
                stamp(v.at.ms()),
                v.invariant,
                v.expected,
                v.observed
            );
        }
    }
    out
}

/// The step table, or with `--log` the full log.
fn render(
    trace: &trace::Trace,
    report: &session_harness::invariants::Report,
    args: &Args,
) -> String {
    if args.log { log(trace, report) } else { trace::step_table(trace, report, args.details) }
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
    // A path relative to the repository root works from anywhere in it, as the gate prints it.
    let file = if file.exists() { file.to_path_buf() } else { workspace_root().join(file) };
    let scenario = scenario::load(&file, &display)?;
    if let Some(only) = &args.variant
        && !scenario.variants.iter().any(|v| &v.name == only)
    {
        let names: Vec<&str> = scenario.variants.iter().map(|v| v.name.as_str()).collect();
        bail!("no variant `{only}` in {display}; variants: {}", names.join(", "));
    }
    println!("scenario {} ({})", scenario.name, display);
    println!("  {}", scenario.description.trim());
    if args.sdk != SdkSpec::Model {
        return replay_file_on_sdk(&scenario, args);
    }
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
            system.label(variant.sdk, &variant.defects)
        );
        if let Some(description) = &variant.description {
            println!("   {description}");
        }
        match scenario::run_variant(&scenario, variant, system) {
            Ok(run) => {
                print!("{}", render(&run.outcome.trace, &run.outcome.report, args));
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
    print!("{}", render(&outcome.trace, &outcome.report, args));
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

/// Every variant of `scenario` on the SDK `--sdk` names, in lockstep with the model, the SDK's
/// steps beside the model's. Passes when no variant diverges, breaks or violates anything.
fn replay_file_on_sdk(scenario: &scenario::Scenario, args: &Args) -> Result<bool> {
    use session_harness::gate::{Conformance, ExternalSubject, Subject};
    use session_harness::sdk::external::AdapterCommand;

    let root = workspace_root();
    let profile = match &args.profile {
        None => None,
        Some(text) => Some(ProfileId::parse(text).with_context(|| {
            format!("unknown profile `{text}`; accepted: documented, clerk-js-6")
        })?),
    };
    let external: Option<ExternalSubject> = match &args.sdk {
        SdkSpec::Npm { sdk, version } => {
            let dir = crate::npm_sdk::install(&root, *sdk, version)?;
            let command = crate::npm_sdk::command(&root, *sdk, &dir, version);
            Some(ExternalSubject::new(&sdk.label(version), command, Conformance::CLERK_JS))
        }
        SdkSpec::Command { command } => {
            let command = AdapterCommand::cmd(&root, command);
            let label = crate::gate::cmd_label(&command)?;
            Some(ExternalSubject::new(&label, command, Conformance::THIRD_PARTY))
        }
        _ => None,
    };
    let mut all_ok = true;
    for variant in &scenario.variants {
        if args.variant.as_ref().is_some_and(|only| only != &variant.name) {
            continue;
        }
        let setup = Setup { profile: profile.unwrap_or(variant.setup.profile), ..variant.setup };
        let outcome = match (&args.sdk, &external) {
            (SdkSpec::Reference { defects }, _) => {
                let mut all = defects.clone();
                all.extend(variant.defects.iter().copied().filter(|d| !defects.contains(d)));
                lockstep::run_reference(setup, &all, &scenario.events, scenario.seed)
            }
            (_, Some(subject)) if session_harness::gate::runs_variant(subject, variant) => {
                subject.run(setup, &scenario.events, scenario.seed)
            }
            (_, Some(subject)) => {
                let why = if variant.defects.is_empty() {
                    "`sdk: reference` names the reference SDK, not"
                } else {
                    "its defects switch on bugs of the reference SDK, not of"
                };
                println!("\n== variant `{}`: skipped ({why} {})", variant.name, subject.label());
                continue;
            }
            _ => bail!("`--sdk {}` cannot replay a scenario", args.sdk),
        };
        println!(
            "\n== variant `{}` on {} under {} ({}), in lockstep with the model",
            variant.name,
            outcome.sdk.sdk,
            setup.profile,
            setup.platform.as_str()
        );
        if setup.profile != variant.setup.profile {
            println!(
                "   the variant names {}; it ran under {}",
                variant.setup.profile, setup.profile
            );
        }
        print!("{}", session_harness::gate::side_by_side(&outcome, args.details));
        if let Some(d) = outcome.divergence() {
            println!("DIVERGENCE {d}");
        }
        for v in &outcome.report.violations {
            println!("{v}");
        }
        let ok = match &outcome.verdict {
            lockstep::Verdict::Passed => external.is_none() || outcome.report.violations.is_empty(),
            _ => false,
        };
        println!("{}", if ok { "passed" } else { "FAILED" });
        all_ok &= ok;
    }
    Ok(all_ok)
}
