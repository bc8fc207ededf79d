//! `cargo xtask …`: the commands a person runs. One module per command; every command
//! prints its seed before it starts, and exits non-zero when its verdict is "fail".

mod bench;
mod bench_fapi;
mod check;

use anyhow::Result;
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
    /// Speed figures (model steps per second, …); `--json` prints one JSON object.
    Bench(bench::Args),
}

fn main() {
    let cli = Cli::parse();
    let result: Result<bool> = match cli.command {
        Command::Check(args) => check::run(args),
        Command::Bench(args) => bench::run(args).map(|()| true),
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
