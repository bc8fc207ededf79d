//! `cargo xtask serve`: the FAPI emulator and the app's backend as a local dev server on
//! 127.0.0.1, for a real app to talk to. Prints the publishable key, proxy URL, test user and
//! JWKS URL, then serves until interrupted (Ctrl-C). docs/emulator-dev-server.md is the manual.

use std::path::PathBuf;

use anyhow::{Context, Result};
use session_harness::model::settings::InstanceSettings;
use session_harness::model::time::{VTime, parse_duration};
use session_harness::serve::settings_file::load_settings;
use session_harness::serve::{ClockMode, DEFAULT_PORT, DEFAULT_SEED, ServeConfig, start};
use session_harness::sim::parse_seed;

#[derive(clap::Args)]
pub struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// Interface to listen on; only loopback (`127.0.0.1`, `localhost`) is accepted.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Seed of the faults drawn by `POST /__harness/faults {"random": N}` (hex or decimal).
    #[arg(long, value_parser = parse_seed, default_value = "0x5eed0008")]
    seed: u64,
    /// Instance settings, YAML or JSON (session_token_ttl, max_lifetime, inactivity_timeout,
    /// multi_session, session_minter); Clerk's defaults when omitted.
    #[arg(long, value_name = "FILE")]
    settings: Option<PathBuf>,
    /// `manual` (moves only through the admin API) or `realtime[:SPEED]` (follows the wall
    /// clock, SPEED times faster).
    #[arg(long, default_value = "realtime", value_parser = parse_clock)]
    clock: ClockMode,
    /// The clock's first reading: `now` (the wall clock, so a device agrees with token times)
    /// or a duration after the harness epoch 2026-01-01T00:00:00Z (`0s` for reproducible
    /// scripts).
    #[arg(long, default_value = "now")]
    start: String,
}

fn parse_clock(text: &str) -> Result<ClockMode, String> {
    text.parse::<ClockMode>().map_err(|e| e.to_string())
}

pub fn run(args: Args) -> Result<bool> {
    debug_assert_eq!(DEFAULT_SEED, 0x5eed_0008, "the --seed default above names it");
    let settings = match &args.settings {
        Some(path) => load_settings(path)?,
        None => InstanceSettings::default(),
    };
    let start_at = match args.start.trim() {
        "now" => None,
        text => Some(VTime(parse_duration(text).with_context(|| {
            format!("bad --start `{text}`: expected `now` or a duration such as `0s`")
        })?)),
    };
    let config = ServeConfig {
        host: args.host,
        port: args.port,
        seed: args.seed,
        settings,
        clock: args.clock,
        start: start_at,
        ..ServeConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .context("building the tokio runtime")?;
    // A panic while answering becomes a 500 and one line on stderr (serve/front.rs prints
    // it); the default hook would add a message and, with RUST_BACKTRACE, a backtrace.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() != Some("session-harness-serve") {
            default_hook(info);
        }
    }));
    let served = runtime.block_on(start(config))?;
    println!("{}", served.banner());
    println!(
        "# admin API: curl {}/  (docs/emulator-dev-server.md); Ctrl-C stops",
        served.banner().admin_url
    );
    // The server runs on its own thread (serve/front.rs); this one only keeps it alive.
    loop {
        std::thread::park();
    }
}
