//! Work budgets (issue 19 §8): a scenario whose simulated work per step is past the model's
//! budget stops with an error naming the step, fast and in bounded memory, instead of
//! spending 24 s and 3 GB on one step; ordinary scenarios are far inside it.

// Wall time bounds how long a refusal may take; nothing timed reaches a trace.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use session_harness::model::world::JOBS_PER_STEP_MAX;
use session_harness::scenario::{self, ModelSystem};

/// Eight steps: signed in, offline, then two ten-year waits in the foreground (the documented
/// profile retries a failed refresh every few seconds, for ever).
const TEN_YEARS_OFFLINE: &str = "\
schema_version: 1
name: budget/ten-years-offline
description: offline in the foreground for twenty years
setup:
  platform: android
  profile: documented
steps:
  - cold_start: {}
  - advance: 1s
  - sign_in: {}
  - advance: 5s
  - network: offline
  - get_token: {}
  - advance: 3650d
  - advance: 3650d
";

#[test]
fn a_step_past_the_work_budget_fails_fast_naming_the_step() {
    let scenario = scenario::parse("ten-years.yaml", TEN_YEARS_OFFLINE).expect("the file parses");
    let started = Instant::now();
    let err = scenario::run_variant(&scenario, &scenario.variants[0], &ModelSystem)
        .expect_err("the twenty-year offline wait is over budget");
    let took = started.elapsed();
    let message = err.to_string();
    assert!(message.contains("step 6 (`advance 3650d` at t=6.000s)"), "{message}");
    assert!(message.contains(&format!("work budget of {JOBS_PER_STEP_MAX}")), "{message}");
    assert!(message.contains("shorter `advance` steps"), "says what to do: {message}");
    // Was 24.5 s; the budget is about a second of work even in a debug build.
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn the_same_wait_online_is_inside_the_budget() {
    let online = TEN_YEARS_OFFLINE.replace("  - network: offline\n", "");
    let scenario = scenario::parse("ten-years-online.yaml", &online).expect("the file parses");
    let run = scenario::run_variant(&scenario, &scenario.variants[0], &ModelSystem);
    assert!(run.is_ok(), "{:?}", run.err());
}

/// A defect variant runs on the reference SDK, which has no budget of its own: the model's
/// budget is checked first, before the reference SDK does any work (it took 29 s and 3 GB).
#[test]
fn a_defect_variant_past_the_budget_fails_before_the_reference_sdk_runs() {
    let text = TEN_YEARS_OFFLINE.replace(
        "  profile: documented\n",
        "  profile: documented\n  defects: [stale-timer-logout]\n",
    );
    let scenario = scenario::parse("ten-years-defect.yaml", &text).expect("the file parses");
    let started = Instant::now();
    let err = scenario::run_variant(&scenario, &scenario.variants[0], scenario::default_system())
        .expect_err("over budget");
    assert!(err.to_string().contains("step 6 (`advance 3650d`"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
}
