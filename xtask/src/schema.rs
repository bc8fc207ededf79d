//! `cargo xtask schema`: regenerates `schema/scenario.schema.json` from the scenario types,
//! so editors complete and check scenario files, and `schema/adapter-protocol.schema.json`
//! from the adapter protocol's message types, so SDK authors can check their adapter's lines.
//! `--check` fails when a committed schema is stale (`harness/tests/scenario_schema.rs` and
//! `harness/tests/protocol_schema.rs` check the same).

use std::path::PathBuf;

use anyhow::{Context, Result};

/// Where the schema lives, relative to the workspace root; scenarios reference it as
/// `../../schema/scenario.schema.json`.
pub const SCHEMA_PATH: &str = "schema/scenario.schema.json";

/// Where the adapter protocol's schema lives, relative to the workspace root.
pub const PROTOCOL_SCHEMA_PATH: &str = "schema/adapter-protocol.schema.json";

#[derive(clap::Args)]
pub struct Args {
    /// Do not write: fail if the committed schema differs from the generated one.
    #[arg(long)]
    check: bool,
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask/ has a parent").into()
}

/// Returns whether both schemas are (now) up to date.
pub fn run(args: Args) -> Result<bool> {
    let scenario = one(&args, SCHEMA_PATH, session_harness::scenario::json_schema())?;
    let protocol =
        one(&args, PROTOCOL_SCHEMA_PATH, session_harness::sdk::external::protocol::json_schema())?;
    Ok(scenario && protocol)
}

/// Checks or writes one schema file.
fn one(args: &Args, relative: &str, generated: String) -> Result<bool> {
    let path = workspace_root().join(relative);
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if args.check {
        if committed == generated {
            println!("{relative} is up to date");
            return Ok(true);
        }
        eprintln!("{relative} is stale; regenerate it with `cargo xtask schema`");
        return Ok(false);
    }
    if committed == generated {
        println!("{relative} unchanged");
        return Ok(true);
    }
    session_harness::scenario::write_atomic(&path, &generated)
        .with_context(|| format!("writing {relative}"))?;
    println!("wrote {relative}");
    Ok(true)
}
