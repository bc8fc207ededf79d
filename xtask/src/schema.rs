//! `cargo xtask schema`: regenerates `schema/scenario.schema.json` from the scenario types,
//! so editors complete and check scenario files. `--check` fails when the committed schema
//! is stale (CI runs it; `harness/tests/scenario_schema.rs` checks the same).

use std::path::PathBuf;

use anyhow::{Context, Result};

/// Where the schema lives, relative to the workspace root; scenarios reference it as
/// `../../schema/scenario.schema.json`.
pub const SCHEMA_PATH: &str = "schema/scenario.schema.json";

#[derive(clap::Args)]
pub struct Args {
    /// Do not write: fail if the committed schema differs from the generated one.
    #[arg(long)]
    check: bool,
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask/ has a parent").into()
}

/// Returns whether the schema is (now) up to date.
pub fn run(args: Args) -> Result<bool> {
    let path = workspace_root().join(SCHEMA_PATH);
    let generated = session_harness::scenario::json_schema();
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if args.check {
        if committed == generated {
            println!("{SCHEMA_PATH} is up to date");
            return Ok(true);
        }
        eprintln!("{SCHEMA_PATH} is stale; regenerate it with `cargo xtask schema`");
        return Ok(false);
    }
    if committed == generated {
        println!("{SCHEMA_PATH} unchanged");
        return Ok(true);
    }
    session_harness::scenario::write_atomic(&path, &generated)
        .with_context(|| format!("writing {SCHEMA_PATH}"))?;
    println!("wrote {SCHEMA_PATH}");
    Ok(true)
}
