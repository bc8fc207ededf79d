//! The defect matrix in `cargo test`: with a fixed seed, the fuzzer catches every defect of
//! the catalogue unaided — median time to catch under a second, every shrunk counterexample
//! at most eight steps. A defect that stops being caught fails here.
//!
//! `cargo xtask defects [--json]` prints the same matrix; `DEFECTS_SEED=<seed>` tries
//! another seed here.

use std::time::{Duration, Instant};

use session_harness::model::vocab::Defect;
use session_harness::sdk::hunt::{self, SHRUNK_STEPS_GOOD};
use session_harness::sim::{format_seed, parse_seed};

/// The fixed seed CI hunts with.
const SEED: u64 = 0xdefec7;
/// Cases one defect may take before it counts as not caught (as `cargo xtask defects`).
const CASES_MAX: u64 = 20_000;

#[test]
#[allow(clippy::disallowed_methods, reason = "the time to catch is what this measures")]
fn every_defect_is_caught_quickly_with_a_short_counterexample() {
    let seed = std::env::var("DEFECTS_SEED")
        .ok()
        .map(|s| parse_seed(&s).expect("DEFECTS_SEED is a seed"))
        .unwrap_or(SEED);
    eprintln!("defect matrix: seed {}", format_seed(seed));
    let mut times = Vec::new();
    let mut problems = Vec::new();
    for defect in Defect::ALL {
        let started = Instant::now();
        let mut caught_after = None;
        let catch = hunt::hunt_observed(defect, seed, CASES_MAX, &mut |_| {
            caught_after = Some(started.elapsed());
        });
        let time = caught_after.unwrap_or(Duration::MAX);
        eprintln!(
            "{:<24} caught={} cases={:>5} time={:>6}ms shrunk={} invariants={:?}\n    {}",
            defect.as_str(),
            catch.caught,
            catch.cases,
            time.as_millis(),
            catch.shrunk_steps(),
            catch.invariants.iter().map(|i| i.as_str()).collect::<Vec<_>>(),
            catch.shrunk.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", "),
        );
        if !catch.caught {
            problems.push(format!("{defect} not caught in {CASES_MAX} cases"));
        } else {
            assert!(!catch.invariants.is_empty(), "{defect}: a catch names its invariants");
            if catch.shrunk_steps() > SHRUNK_STEPS_GOOD {
                problems.push(format!(
                    "{defect}: shrunk counterexample has {} steps (at most {SHRUNK_STEPS_GOOD})",
                    catch.shrunk_steps()
                ));
            }
        }
        times.push(time);
    }
    times.sort();
    let median = times[times.len() / 2];
    eprintln!("median time to catch: {} ms", median.as_millis());
    if median >= Duration::from_secs(1) {
        problems.push(format!("median time to catch is {} ms (under 1000 ms)", median.as_millis()));
    }
    assert!(
        problems.is_empty(),
        "{}\n  replay: DEFECTS_SEED={} cargo test --test defects_matrix",
        problems.join("\n"),
        format_seed(seed)
    );
}
