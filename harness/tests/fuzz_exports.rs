//! Issue 18, "exports lie": a fuzz failure is shrunk before it is exported, and the exported
//! file is honest. For the campaign `cargo xtask fuzz --sdk reference+redirect-before-loaded`
//! runs (same seed, same cases, same shrinker and exporter), every failure found:
//! - shrinks to at most [`SHRUNK_STEPS_MAX`] steps and still breaks what it broke;
//! - is named by what broke, its profile and its case seed (unique per profile and case);
//! - replays as a scenario file to the same violation;
//! - carries in `source:` a command whose `--seed`, `--profile`, `--sdk` and `--steps` rerun
//!   the case as found, to the same violation.

use session_harness::generate;
use session_harness::invariants::InvariantId;
use session_harness::model::profile::ProfileId;
use session_harness::model::vocab::Defect;
use session_harness::runner::shrink::{self, Target};
use session_harness::runner::spec::SdkSpec;
use session_harness::scenario;
use session_harness::sim::{case_seed, parse_seed};

/// The bound on a shrunk fuzz failure.
const SHRUNK_STEPS_MAX: usize = 10;
/// `cargo xtask fuzz`'s defaults.
const CAMPAIGN_SEED: u64 = 0x5eed0001;
const STEPS: usize = 60;
/// Enough cases for several failures under both profiles.
const CASES: u64 = 64;

/// The value after `flag` in a command line.
fn arg<'a>(command: &'a str, flag: &str) -> &'a str {
    let mut words = command.split_whitespace();
    words.find(|w| *w == flag).and_then(|_| words.next()).unwrap_or_else(|| {
        panic!("`{command}` has no {flag}");
    })
}

#[test]
fn fuzz_failures_shrink_and_their_exports_replay_to_the_same_violation() {
    let defects = [Defect::RedirectBeforeLoaded];
    let sdk = "reference+redirect-before-loaded";
    let target = Target::Reference(&defects);
    let mut names = std::collections::BTreeSet::new();
    let mut failures = 0;
    for profile in ProfileId::ALL {
        for index in 0..CASES {
            let seed = case_seed(CAMPAIGN_SEED, index);
            let case = generate::case_from_seed(profile, STEPS, seed);
            let events = generate::interpret(&case, None).events();
            let found = shrink::run(target, case.setup, &events, Some(seed));
            if !found.fails() {
                continue;
            }
            failures += 1;
            let shrunk = shrink::shrink_failure(target, case.setup, &events, Some(seed));
            let broken: Vec<InvariantId> = shrunk.run.unexpected();
            assert!(
                broken.iter().any(|id| found.unexpected().contains(id)),
                "case {index}: the shrunk case breaks {broken:?}, the found one {:?}",
                found.unexpected()
            );
            assert!(
                shrunk.events.len() <= SHRUNK_STEPS_MAX,
                "case {index} ({profile}): shrunk to {} steps (found with {})",
                shrunk.events.len(),
                shrunk.original_steps
            );
            let command = format!(
                "cargo xtask replay --seed 0x{seed:016x} --profile {profile} --sdk {sdk} \
                 --steps {STEPS}"
            );
            let exported = scenario::export_shrunk(&shrunk, &defects, &command);
            let expected_name = format!("regressions/{}-{profile}-{seed:016x}", broken[0].as_str());
            assert_eq!(exported.name, expected_name, "named by what broke, profile and seed");
            assert!(names.insert(exported.name.clone()), "{} exported twice", exported.name);

            // The file replays to the same violation.
            let replayed = scenario::parse(&format!("{}.yaml", exported.name), &exported.yaml)
                .unwrap_or_else(|e| panic!("the export parses: {e}\n{}", exported.yaml));
            let variant = &replayed.variants[0];
            let run = scenario::run_variant(&replayed, variant, scenario::default_system())
                .expect("defect variants run on the reference SDK");
            assert!(run.failures.is_empty(), "the export's expectations hold: {:?}", run.failures);
            assert!(run.outcome.report.broken().contains(&broken[0]), "{}", exported.yaml);

            // Its source command reruns the case as found, to the same violation.
            let source = exported
                .yaml
                .lines()
                .find_map(|l| l.strip_prefix("source: "))
                .expect("an export has a source line");
            let source = source.trim_matches('"');
            let command = &source[source.find("cargo xtask replay").expect("a command")..];
            let seed_again = parse_seed(arg(command, "--seed")).expect("a seed");
            let profile_again = ProfileId::parse(arg(command, "--profile")).expect("a profile");
            let SdkSpec::Reference { defects: defects_again } =
                SdkSpec::parse(arg(command, "--sdk")).expect("an sdk")
            else {
                panic!("`{command}` names the reference SDK");
            };
            let steps_again: usize = arg(command, "--steps").parse().expect("a step count");
            let case_again = generate::case_from_seed(profile_again, steps_again, seed_again);
            let rerun = shrink::run(
                Target::Reference(&defects_again),
                case_again.setup,
                &generate::interpret(&case_again, None).events(),
                Some(seed_again),
            );
            assert!(
                rerun.unexpected().contains(&broken[0]),
                "`{command}` reruns case {index} to {:?}, not {:?}",
                rerun.unexpected(),
                broken[0]
            );
        }
    }
    assert!(failures >= 2, "the campaign found {failures} failures; the defect is easy to catch");
}
