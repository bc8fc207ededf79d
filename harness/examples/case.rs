//! Debug aid: print one generated case's trace with every happening.
//! `cargo run --example case -- <case-seed> <profile>`
use session_harness::{generate, model::profile::ProfileId, runner, sim::parse_seed, trace};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seed = parse_seed(&args[1]).expect("seed");
    let profile = ProfileId::parse(&args[2]).expect("profile");
    let case = generate::case_from_seed(profile, generate::TRACE_STEPS_DEFAULT, seed);
    println!("{:?}", case.setup);
    let outcome = runner::run_case(&case, Some(seed));
    print!("{}", trace::step_table(&outcome.trace, &outcome.report, true));
    for v in &outcome.report.violations {
        println!("{v}");
    }
}
