//! `cargo xtask bench [--json]`: speed figures, measured in an optimised build.
//!
//! With `--json`, stdout carries exactly one JSON object of numeric figures and nothing else
//! (progress goes to stderr), so CI can parse it.

use std::time::Instant;

use anyhow::Result;
use session_harness::generate;
use session_harness::model::World;
use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
use session_harness::model::vocab::Event;
use session_harness::sim::case_seed;

#[derive(clap::Args)]
pub struct Args {
    /// Print one JSON object of figures on stdout.
    #[arg(long)]
    json: bool,
}

/// Generated traces for the model benches: both profiles, 200 cases each.
fn bench_traces(clamp_ms: Option<u64>) -> Vec<(Setup, Vec<Event>)> {
    (0..200)
        .flat_map(|i| {
            ProfileId::ALL.map(|p| {
                let case = generate::case_from_seed(
                    p,
                    generate::TRACE_STEPS_DEFAULT,
                    case_seed(0xbe4c, i),
                );
                let events = generate::interpret(&case, None)
                    .events()
                    .into_iter()
                    .map(|e| match (e, clamp_ms) {
                        (Event::Advance { ms }, Some(max)) => Event::Advance { ms: ms.min(max) },
                        (e, _) => e,
                    })
                    .collect();
                (case.setup, events)
            })
        })
        .collect()
}

/// Pure model steps per second: traces replayed through `World::step` alone.
fn model_steps_per_sec(traces: &[(Setup, Vec<Event>)]) -> f64 {
    let mut steps = 0u64;
    let started = Instant::now();
    while started.elapsed().as_secs_f64() < 1.5 {
        for (setup, events) in traces {
            let mut world = World::new(*setup);
            for event in events {
                std::hint::black_box(world.step(event));
            }
            steps += events.len() as u64;
        }
    }
    steps as f64 / started.elapsed().as_secs_f64()
}

pub fn run(args: Args) -> Result<()> {
    let mut figures: Vec<(&str, f64)> = Vec::new();
    // The race-fuzzing mix: generated traces with every wait clamped to 5 s, so a step is
    // one event and what falls due within seconds of it.
    eprintln!("bench: model_steps_per_sec (race mix) …");
    figures.push(("model_steps_per_sec", model_steps_per_sec(&bench_traces(Some(5_000)))));
    // The default campaign mix: waits up to weeks, so one `advance` may run hundreds of
    // refresh round trips.
    eprintln!("bench: model_campaign_steps_per_sec (campaign mix) …");
    figures.push(("model_campaign_steps_per_sec", model_steps_per_sec(&bench_traces(None))));
    eprintln!("bench: FAPI emulator and JWT signing …");
    figures.extend(crate::bench_fapi::figures()?);
    eprintln!("bench: reference SDK in lockstep, seven-day soak …");
    figures.extend(crate::bench_sdk::figures()?);
    eprintln!("bench: the real clerk-js against the reference SDK on the scenario library …");
    figures.extend(crate::bench_clerk_js::figures()?);
    if args.json {
        let mut object: serde_json::Map<String, serde_json::Value> = figures
            .iter()
            .map(|(k, v)| ((*k).to_string(), serde_json::json!((v * 10.0).round() / 10.0)))
            .collect();
        // docs/json-outputs.md: raised when a field changes meaning or goes away.
        object.insert("schema_version".into(), serde_json::json!(crate::JSON_SCHEMA_VERSION));
        println!("{}", serde_json::Value::Object(object));
    } else {
        for (k, v) in figures {
            println!("{k:<40} {v:>14.1}");
        }
    }
    Ok(())
}
