//! `cargo xtask …`: the commands a person runs. One module per command; every command
//! prints its seed before it starts, and exits non-zero when its verdict is "fail".

// Commands measure wall time for benchmarks, rates and progress bars; nothing they time
// reaches a trace, so the workspace's clock guard (clippy.toml) does not apply here.
#![allow(clippy::disallowed_methods)]

/// Every command allocates per step (happenings, views, FAPI requests and answers); mimalloc
/// serves those small, short-lived blocks faster than the system allocator. Output does not
/// depend on it: nothing reads an address. Built without transparent huge pages (the
/// workspace's `Cargo.toml` says why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod adapter_check;
mod bench;
mod bench_clerk_js;
mod bench_fapi;
mod bench_sdk;
mod bisect;
mod check;
mod counts;
mod defects;
mod determinism;
mod fuzz;
mod fuzz_external;
mod gate;
mod mutants;
mod npm_sdk;
mod replay;
mod report;
mod schema;
mod serve;
mod term;
mod timeline;

use anyhow::Result;

/// The version of every `--json` output's format (`schema_version`, docs/json-outputs.md):
/// raised when a field changes meaning or goes away; new fields keep it.
pub const JSON_SCHEMA_VERSION: u32 = 1;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "session-harness commands", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The main job: a seeded fuzz campaign under both profiles, the verdict and coverage
    /// tables; fails on any unexpected violation or unreached coverage.
    Check(check::Args),
    /// A seeded fuzz campaign at any scale, sharded across machines and cores.
    Fuzz(fuzz::Args),
    /// The CI gate for one SDK: every scenario and a fuzz campaign in lockstep with the
    /// model, findings, snapshot review, JUnit XML; fails on any violation or unreviewed
    /// change.
    Gate(gate::Args),
    /// Run a seed sweep twice and compare the trace bytes.
    Determinism(determinism::Args),
    /// Rerun one scenario (or a generated case) and print the step table and the report.
    Replay(replay::Args),
    /// Draw a scenario's (or a generated case's) trace as an SVG timeline.
    Timeline(timeline::Args),
    /// Write one HTML report: verdicts, coverage, differences, findings, timelines.
    Report(report::Args),
    /// Regenerate schema/scenario.schema.json; `--check` fails if it is stale.
    Schema(schema::Args),
    /// Runs the FAPI emulator and backend as a local dev server on 127.0.0.1
    /// (docs/emulator-dev-server.md).
    Serve(serve::Args),
    /// The defect matrix: every defect hunted by the fuzzer; `--json` prints one JSON object.
    Defects(defects::Args),
    /// The mutation score of the model and the reference SDK (cargo-mutants): caught / viable.
    Mutants(mutants::Args),
    /// Speed figures (model steps per second, …); `--json` prints one JSON object.
    Bench(bench::Args),
    /// Conformance level L0 for an adapter in seconds: its hello (fails fast when there is
    /// none), then a short session with every line checked against the protocol schema.
    AdapterCheck(adapter_check::Args),
    /// Which release of @clerk/clerk-js or @clerk/expo changed a verdict: binary search over
    /// the published releases in [--from, --to], judged by a scenario or one generated case.
    Bisect(bisect::Args),
}

fn main() {
    let cli = Cli::parse();
    let result: Result<bool> = match cli.command {
        Command::Check(args) => check::run(args),
        Command::Bench(args) => bench::run(args).map(|()| true),
        Command::Mutants(args) => mutants::run(args),
        Command::Fuzz(args) => fuzz::run(args),
        Command::Gate(args) => gate::run(args),
        Command::Defects(args) => defects::run(args),
        Command::Determinism(args) => determinism::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Timeline(args) => timeline::run(args),
        Command::Report(args) => report::run(args),
        Command::AdapterCheck(args) => adapter_check::run(args),
        Command::Bisect(args) => bisect::run(args),
    };
    match result {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::exit(2);
        }
    }
}
