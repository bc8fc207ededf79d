//! The real-SDK figures of `cargo xtask bench`: `clerk_js_events_per_sec` and
//! `reference_to_clerk_js_ratio`.
//!
//! Both SDKs run the same inputs in lockstep with the model: every defect-free variant of the
//! scenario library, under the `clerk-js-6` profile (the one the real SDK is compared with).
//! Throughput is events (scenario steps) per wall second, each SDK end to end — for
//! clerk-js that includes every launch (the first starts the Node process, later ones are
//! hand-overs to it, as in the gate: protocol 2's `end`), the HTTP emulator and the adapter's
//! pipe. The ratio is the reference SDK's throughput over clerk-js's. A run whose adapter
//! breaks (crash, hang, garbage) fails the bench rather than timing an error path.

use std::time::Instant;

use anyhow::Result;
use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
use session_harness::model::vocab::Event;
use session_harness::runner::lockstep::{self, Verdict};
use session_harness::scenario;
use session_harness::sdk::PortError;
use session_harness::sdk::external::{AdapterCommand, repo_root};

/// One run's input: setup, events, seed.
type Input = (Setup, Vec<Event>, Option<u64>);

/// The inputs: every defect-free scenario variant, profile forced to `clerk-js-6`, distinct.
fn inputs() -> Result<Vec<Input>> {
    let root = repo_root();
    let mut out: Vec<Input> = Vec::new();
    for path in scenario::files::yaml_files(&root.join("scenarios"))? {
        let display = path.strip_prefix(&root).unwrap_or(&path).to_string_lossy().to_string();
        let sc = scenario::load(&path, &display)?;
        for v in sc.variants.iter().filter(|v| v.defects.is_empty()) {
            let setup = Setup { profile: ProfileId::ClerkJs6, ..v.setup };
            let input = (setup, sc.events.clone(), sc.seed);
            if !out.contains(&input) {
                out.push(input);
            }
        }
    }
    Ok(out)
}

pub fn figures() -> Result<Vec<(&'static str, f64)>> {
    let inputs = inputs()?;
    let events: usize = inputs.iter().map(|(_, e, _)| e.len()).sum();

    let started = Instant::now();
    let mut rounds = 0u32;
    while rounds == 0 || started.elapsed().as_secs_f64() < 1.5 {
        for (setup, ev, seed) in &inputs {
            std::hint::black_box(lockstep::run_reference(*setup, &[], ev, *seed));
        }
        rounds += 1;
    }
    let reference = (events as f64 * rounds as f64) / started.elapsed().as_secs_f64();

    let adapter = repo_root().join("adapters/clerk-js");
    if !adapter.join("node_modules/@clerk/clerk-js/package.json").exists() {
        anyhow::bail!(
            "the clerk-js figures need the adapter installed: \
             cd adapters/clerk-js && npm ci --ignore-scripts --no-audit --no-fund"
        );
    }
    let command = AdapterCommand::clerk_js_pinned(&repo_root());
    let started = Instant::now();
    for (setup, ev, seed) in &inputs {
        let outcome = lockstep::run_external(*setup, &command, ev, *seed);
        // A broken port would time its error path, not the SDK: no figure then. A refusal
        // (`unsupported`, the resource cache) is the SDK's own answer and counts as run.
        if let Verdict::Broken(e) = &outcome.verdict
            && !matches!(e, PortError::Unsupported { .. })
        {
            anyhow::bail!("clerk-js broke on a bench input ({setup:?}, seed {seed:?}): {e}");
        }
        std::hint::black_box(&outcome);
    }
    let clerk = events as f64 / started.elapsed().as_secs_f64();
    eprintln!("bench: {} scenario inputs, {events} events on each SDK", inputs.len());
    Ok(vec![
        ("clerk_js_events_per_sec", clerk),
        ("reference_to_clerk_js_ratio", reference / clerk.max(f64::MIN_POSITIVE)),
    ])
}
