//! `cargo xtask check`: the main job on the embedded default.
//!
//! Runs a seeded campaign of generated traces on the model under both profiles, and the same
//! cases (a prefix of them) on the defect-free reference SDK in lockstep with the model.
//! Prints the verdict table (cases, violations, known deviations, divergences) and the
//! coverage tables, and fails when a violation is not a known deviation of its profile, when
//! the reference SDK diverges from the model, when an invariant was never exercised, or when
//! a declared-reachable (status, event) pair was never reached by the model campaign.
//! Failures are shrunk before they are printed; too few `--cases` to reach everything gets a
//! hint naming the default. Both campaigns show a progress bar on a terminal.

use std::time::Instant;

use anyhow::Result;
use session_harness::generate::TRACE_STEPS_DEFAULT;
use session_harness::model::profile::ProfileId;
use session_harness::runner::shrink::{self, Shrunk, Target};
use session_harness::runner::{self, Coverage, lockstep};
use session_harness::trace;

use crate::term;
use session_harness::sim::{format_seed, parse_seed};

/// Cases per profile by default: enough to reach every declared pair, quick on 2 cores.
pub const DEFAULT_CASES: u64 = 5_000;
/// Cases per profile on the reference SDK: the lockstep run costs ~10x a model run.
pub const DEFAULT_REFERENCE_CASES: u64 = 1_000;

#[derive(clap::Args)]
pub struct Args {
    /// Campaign seed (hex `0x…` or decimal).
    #[arg(long, value_parser = parse_seed, default_value = "0x5eed0001")]
    seed: u64,
    /// Cases per profile.
    #[arg(long, default_value_t = DEFAULT_CASES, value_parser = crate::counts::parse_cases)]
    cases: u64,
    /// Cases per profile run on the reference SDK in lockstep with the model.
    #[arg(long, default_value_t = DEFAULT_REFERENCE_CASES, value_parser = crate::counts::parse_cases)]
    reference_cases: u64,
    /// Longest generated trace, in events.
    #[arg(long, default_value_t = TRACE_STEPS_DEFAULT, value_parser = crate::counts::parse_steps)]
    steps: usize,
}

/// Runs `campaign` for every profile, one thread each: both cores work, and each profile's
/// cases stay in order. Returns (profile, coverage, failures, wall time) per profile.
fn per_profile<F: Send>(
    campaign: impl Fn(ProfileId) -> (Coverage, Vec<F>) + Sync,
) -> Vec<(ProfileId, Coverage, Vec<F>, std::time::Duration)> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = ProfileId::ALL
            .map(|profile| {
                let campaign = &campaign;
                scope.spawn(move || {
                    let started = Instant::now();
                    let (coverage, failures) = campaign(profile);
                    (profile, coverage, failures, started.elapsed())
                })
            })
            .into_iter()
            .collect();
        handles.into_iter().map(|h| h.join().expect("campaign threads do not panic")).collect()
    })
}

pub fn run(args: Args) -> Result<bool> {
    println!("seed: {}", format_seed(args.seed));
    anyhow::ensure!(args.cases > 0, "--cases must be at least 1");
    anyhow::ensure!((1..=10_000).contains(&args.steps), "--steps must be in 1..=10000");
    let mut ok = true;
    let mut total = Coverage::default();
    println!(
        "\n{:<12} {:>8} {:>10} {:>12} {:>10} {:>9}",
        "profile", "cases", "steps", "unexpected", "known", "time"
    );
    let mut rows = Vec::new();
    let mut failures_all = Vec::new();
    let bar = term::progress(
        (args.cases + args.reference_cases) * ProfileId::ALL.len() as u64,
        "cases (model, then reference SDK)",
    );
    let results = per_profile(|profile| {
        runner::model_campaign(profile, args.seed, 0..args.cases, args.steps, |_| bar.inc(1))
    });
    // The reference SDK in lockstep with the model, on the first cases of the same campaign.
    let reference = per_profile(|profile| {
        lockstep::reference_campaign(
            profile,
            args.seed,
            0..args.reference_cases,
            args.steps,
            |_| bar.inc(1),
        )
    });
    bar.finish_and_clear();
    for (profile, coverage, failures, elapsed) in results {
        let known: u64 = coverage.violated.values().sum::<u64>()
            - failures.iter().map(|f| f.outcome.report.violations.len() as u64).sum::<u64>();
        rows.push(format!(
            "{:<12} {:>8} {:>10} {:>12} {:>10} {:>8.1}s",
            profile.as_str(),
            coverage.cases,
            coverage.steps,
            failures.len(),
            known,
            elapsed.as_secs_f64()
        ));
        total.merge(&coverage);
        failures_all.extend(failures.into_iter().map(|f| (profile, f)));
    }
    let mut reference_total = Coverage::default();
    let mut reference_failures = Vec::new();
    for (profile, coverage, failures, elapsed) in reference {
        let known: u64 = coverage.violated.values().sum::<u64>();
        rows.push(format!(
            "{:<12} {:>8} {:>10} {:>12} {:>10} {:>8.1}s   reference SDK, lockstep",
            profile.as_str(),
            coverage.cases,
            coverage.steps,
            failures.len(),
            known,
            elapsed.as_secs_f64()
        ));
        reference_total.merge(&coverage);
        reference_failures.extend(failures.into_iter().map(|f| (profile, f)));
    }
    for row in rows {
        println!("{row}");
    }
    println!("\ncoverage of the model campaign (both profiles):\n{}", total.table());
    println!(
        "\ncoverage of the reference SDK's traces (both profiles):\n{}",
        reference_total.table()
    );
    // Failures are shrunk before they are shown (the hunt's shrinker): the shrunk case, its
    // length and the original length, and the commands that rerun it.
    for (profile, failure) in reference_failures.iter().take(FAILURES_SHOWN_MAX) {
        ok = false;
        let events = failure.outcome.sdk.events();
        let setup = failure.outcome.sdk.setup;
        let shrunk = shrink::shrink_failure(Target::Lockstep, setup, &events, Some(failure.seed));
        show_failure(&shrunk, "reference", *profile, failure.seed, args.steps);
    }
    for (profile, failure) in failures_all.iter().take(FAILURES_SHOWN_MAX) {
        ok = false;
        let events = failure.outcome.trace.events();
        let setup = failure.outcome.trace.setup;
        let shrunk = shrink::shrink_failure(Target::Model, setup, &events, Some(failure.seed));
        show_failure(&shrunk, "model", *profile, failure.seed, args.steps);
        println!(
            "  in the campaign: cargo xtask check --seed {} --cases {}  (case {})",
            format_seed(args.seed),
            failure.index + 1,
            failure.index
        );
    }
    let unshown = failures_all.len().saturating_sub(FAILURES_SHOWN_MAX)
        + reference_failures.len().saturating_sub(FAILURES_SHOWN_MAX);
    if unshown > 0 {
        println!("… and {unshown} more unexpected failures");
    }
    let missing = total.missing_pairs();
    if !missing.is_empty() {
        ok = false;
        println!("unreached (status, event) pairs ({}):", missing.len());
        for (s, e) in missing.iter().take(40) {
            println!("  ({s}, {e})");
        }
    }
    let unexercised = total.unexercised();
    if !unexercised.is_empty() {
        ok = false;
        let names: Vec<&str> = unexercised.iter().map(|i| i.as_str()).collect();
        println!("invariants never exercised: {}", names.join(", "));
    }
    if (!missing.is_empty() || !unexercised.is_empty()) && args.cases < DEFAULT_CASES {
        println!(
            "{}",
            term::hint(&format!(
                "hint: {} cases per profile are too few to reach everything; the default, \
                 {DEFAULT_CASES}, reaches every declared pair and invariant: \
                 cargo xtask check --seed {} --cases {DEFAULT_CASES}",
                args.cases,
                format_seed(args.seed)
            ))
        );
    }
    println!("\nverdict: {}", if ok { term::pass("pass") } else { term::fail("FAIL") });
    Ok(ok)
}

/// Failures shown in full per campaign (every one is counted).
const FAILURES_SHOWN_MAX: usize = 5;

/// One shrunk failure: what broke, the system, the lengths, the shrunk step table and the
/// command that reruns the case as found.
fn show_failure(shrunk: &Shrunk, sdk: &str, profile: ProfileId, case_seed: u64, steps: usize) {
    let run = &shrunk.run;
    println!();
    match (
        &run.divergence,
        run.outcome.report.violations.iter().find(|v| !runner::is_known(profile, v.invariant)),
    ) {
        (Some(d), _) => println!("{} {d}", term::fail("FAIL")),
        (None, Some(v)) => println!("{} {v}", term::fail("FAIL")),
        (None, None) => println!("{} the case no longer fails when rerun", term::fail("FAIL")),
    }
    println!("  sdk: {sdk}  profile: {profile}  case seed: {}", format_seed(case_seed));
    println!("  shrunk: {} steps (found with {})", shrunk.events.len(), shrunk.original_steps);
    for line in trace::step_table(&run.outcome.trace, &run.outcome.report, false).lines() {
        println!("    {line}");
    }
    println!(
        "  replay: cargo xtask replay --seed {} --profile {profile} --sdk {sdk} --steps {steps}",
        format_seed(case_seed)
    );
}
