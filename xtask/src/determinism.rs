//! `cargo xtask determinism`: run a seed sweep twice and compare the trace bytes.
//!
//! Each case is generated from its seed and run to a byte-stable trace (`Trace::to_bytes`);
//! the second pass runs the cases in reverse order on another thread, so hidden state shared
//! between runs (statics, allocation order, thread-local caches) would show as a difference.
//!
//! `--digest` prints a SHA-256 over the model's traces of the sweep and one over the reference
//! SDK's traces of the same cases, so two builds (before and after a refactor) can be compared
//! by two lines of output instead of gigabytes of traces.

use anyhow::{Result, bail};
use session_harness::generate::{self, TRACE_STEPS_DEFAULT};
use session_harness::model::profile::ProfileId;
use session_harness::runner;
use session_harness::runner::lockstep::run_sdk;
use session_harness::sim::{case_seed, format_seed, parse_seed};
use sha2::{Digest, Sha256};

#[derive(clap::Args)]
pub struct Args {
    /// Sweep seed (hex `0x…` or decimal).
    #[arg(long, value_parser = parse_seed, default_value = "0xde7e2a15")]
    seed: u64,
    /// Seeds per profile.
    #[arg(long, default_value_t = 300)]
    cases: u64,
    /// Also print SHA-256 digests of the model's and the reference SDK's traces of the sweep.
    #[arg(long)]
    digest: bool,
}

/// SHA-256 over the model's traces (from `first`) and over the reference SDK's traces of the
/// same cases, in (profile, case) order, each trace prefixed by its length so that no two
/// different sequences of traces hash alike.
fn digests(seed: u64, cases: u64, first: &[(ProfileId, u64, Vec<u8>)]) -> (String, String) {
    let mut model = Sha256::new();
    for (_, _, bytes) in first {
        model.update((bytes.len() as u64).to_le_bytes());
        model.update(bytes);
    }
    let mut sdk = Sha256::new();
    for profile in ProfileId::ALL {
        for i in 0..cases {
            let s = case_seed(seed, i);
            let case = generate::case_from_seed(profile, TRACE_STEPS_DEFAULT, s);
            let events = generate::interpret(&case, Some(s)).events();
            let bytes = run_sdk(case.setup, &[], &events, Some(s)).to_bytes();
            sdk.update((bytes.len() as u64).to_le_bytes());
            sdk.update(&bytes);
        }
    }
    let hex = |d: Sha256| d.finalize().iter().map(|b| format!("{b:02x}")).collect::<String>();
    (hex(model), hex(sdk))
}

fn sweep(seed: u64, cases: u64, reverse: bool) -> Vec<(ProfileId, u64, Vec<u8>)> {
    let mut out = Vec::new();
    for profile in ProfileId::ALL {
        let mut indices: Vec<u64> = (0..cases).collect();
        if reverse {
            indices.reverse();
        }
        for i in indices {
            let s = case_seed(seed, i);
            let case = generate::case_from_seed(profile, TRACE_STEPS_DEFAULT, s);
            out.push((profile, i, runner::run_case(&case, Some(s)).trace.to_bytes()));
        }
    }
    out.sort_by_key(|(p, i, _)| (*p, *i));
    out
}

pub fn run(args: Args) -> Result<bool> {
    println!("seed: {}", format_seed(args.seed));
    if args.cases == 0 {
        bail!("--cases must be at least 1");
    }
    let first = sweep(args.seed, args.cases, false);
    let second = std::thread::scope(|s| {
        s.spawn(|| sweep(args.seed, args.cases, true)).join().expect("the sweep does not panic")
    });
    let bytes: usize = first.iter().map(|(_, _, b)| b.len()).sum();
    let mut differing = 0;
    for ((profile, index, a), (_, _, b)) in first.iter().zip(&second) {
        if a != b {
            differing += 1;
            let at =
                a.iter().zip(b.iter()).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
            println!(
                "DIFFERENT: profile {profile}, case {index} (seed {}): first difference at byte {at}",
                format_seed(case_seed(args.seed, *index))
            );
        }
    }
    println!("{} traces ({} bytes) run twice: {} differ", first.len(), bytes, differing);
    if args.digest {
        let (model, sdk) = digests(args.seed, args.cases, &first);
        println!("model traces sha256: {model}");
        println!("reference SDK traces sha256: {sdk}");
    }
    println!("verdict: {}", if differing == 0 { "deterministic" } else { "NOT deterministic" });
    Ok(differing == 0)
}
