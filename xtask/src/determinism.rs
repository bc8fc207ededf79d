//! `cargo xtask determinism`: run a seed sweep twice and compare the trace bytes.
//!
//! Each case is generated from its seed and run to a byte-stable trace (`Trace::to_bytes`);
//! the second pass runs the cases in reverse order on another thread, so hidden state shared
//! between runs (statics, allocation order, thread-local caches) would show as a difference.
//!
//! Memory is bounded whatever `--cases` is: the first pass keeps a 16-byte digest per case,
//! the second compares each trace with its digest as soon as it is made.
//!
//! `--digest` prints a SHA-256 over the model's traces of the sweep and one over the reference
//! SDK's traces of the same cases, so two builds (before and after a refactor) can be compared
//! by two lines of output instead of gigabytes of traces. Both are computed as traces are made.

use anyhow::{Result, bail};
use session_harness::generate::{self, TRACE_STEPS_DEFAULT};
use session_harness::model::profile::ProfileId;
use session_harness::runner;
use session_harness::runner::lockstep::run_sdk;
use session_harness::sim::{case_seed, format_seed, parse_seed};
use sha2::{Digest as _, Sha256};

#[derive(clap::Args)]
pub struct Args {
    /// Sweep seed (hex `0x…` or decimal).
    #[arg(long, value_parser = parse_seed, default_value = "0xde7e2a15")]
    seed: u64,
    /// Seeds per profile.
    #[arg(long, default_value_t = 300, value_parser = crate::counts::parse_cases)]
    cases: u64,
    /// Also print SHA-256 digests of the model's and the reference SDK's traces of the sweep.
    #[arg(long)]
    digest: bool,
}

/// Adds one trace to a sweep's SHA-256, prefixed by its length so that no two different
/// sequences of traces hash alike.
fn hash_trace(sha: &mut Sha256, bytes: &[u8]) {
    sha.update((bytes.len() as u64).to_le_bytes());
    sha.update(bytes);
}

fn hex(sha: Sha256) -> String {
    sha.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 over the reference SDK's traces of the sweep's cases, in (profile, case) order.
fn sdk_digest(seed: u64, cases: u64) -> String {
    let mut sdk = Sha256::new();
    for profile in ProfileId::ALL {
        for i in 0..cases {
            let s = case_seed(seed, i);
            let case = generate::case_from_seed(profile, TRACE_STEPS_DEFAULT, s);
            let events = generate::interpret(&case, Some(s)).events();
            hash_trace(&mut sdk, &run_sdk(case.setup, &[], &events, Some(s)).to_bytes());
        }
    }
    hex(sdk)
}

/// One case's trace, kept as a digest and a length: a sweep's memory does not grow with the
/// traces (the bytes of 10,000 cases were tens of GB).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Digest {
    hash: u64,
    len: usize,
}

/// FNV-1a over the trace bytes: stable across runs and machines (unlike `DefaultHasher`,
/// whose algorithm is unspecified), and plenty to tell two traces apart.
fn digest(bytes: &[u8]) -> Digest {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    Digest { hash, len: bytes.len() }
}

fn trace_bytes(seed: u64, profile: ProfileId, index: u64) -> Vec<u8> {
    let s = case_seed(seed, index);
    let case = generate::case_from_seed(profile, TRACE_STEPS_DEFAULT, s);
    runner::run_case(&case, Some(s)).trace.to_bytes()
}

/// The first pass: every case's digest, in (profile, index) order, and the SHA-256 of them
/// all in that order.
fn first_pass(seed: u64, cases: u64) -> (Vec<Digest>, String) {
    let mut out = Vec::new();
    let mut model = Sha256::new();
    for profile in ProfileId::ALL {
        for i in 0..cases {
            let bytes = trace_bytes(seed, profile, i);
            hash_trace(&mut model, &bytes);
            out.push(digest(&bytes));
        }
    }
    (out, hex(model))
}

pub fn run(args: Args) -> Result<bool> {
    println!("seed: {}", format_seed(args.seed));
    if args.cases == 0 {
        bail!("--cases must be at least 1");
    }
    let (first, model_sha) = first_pass(args.seed, args.cases);
    let bytes: usize = first.iter().map(|d| d.len).sum();
    // The second pass runs in reverse on another thread and compares as it goes.
    let differing = std::thread::scope(|s| {
        s.spawn(|| {
            let mut differing = 0u64;
            for (p, profile) in ProfileId::ALL.into_iter().enumerate() {
                for index in (0..args.cases).rev() {
                    let second = trace_bytes(args.seed, profile, index);
                    let at = p * args.cases as usize + index as usize;
                    if digest(&second) == first[at] {
                        continue;
                    }
                    differing += 1;
                    // Only a difference is worth the bytes: run the case once more to say where.
                    let again = trace_bytes(args.seed, profile, index);
                    let byte = again
                        .iter()
                        .zip(&second)
                        .position(|(x, y)| x != y)
                        .unwrap_or(again.len().min(second.len()));
                    println!(
                        "DIFFERENT: profile {profile}, case {index} (seed {}): digests differ; \
                         a third run differs from the second at byte {byte}",
                        format_seed(case_seed(args.seed, index))
                    );
                }
            }
            differing
        })
        .join()
        .expect("the sweep does not panic")
    });
    println!("{} traces ({} bytes) run twice: {} differ", first.len(), bytes, differing);
    if args.digest {
        println!("model traces sha256: {model_sha}");
        println!("reference SDK traces sha256: {}", sdk_digest(args.seed, args.cases));
    }
    println!("verdict: {}", if differing == 0 { "deterministic" } else { "NOT deterministic" });
    Ok(differing == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_tell_traces_apart_and_agree_on_equal_ones() {
        assert_eq!(digest(b"trace"), digest(b"trace"));
        assert_ne!(digest(b"trace"), digest(b"tracf"));
        assert_ne!(digest(b"ab"), digest(b"ba"));
        // The FNV-1a test vector: the digest is the published algorithm, stable everywhere.
        assert_eq!(digest(b"a").hash, 0xaf63_dc4c_8601_ec8c);
    }
}
