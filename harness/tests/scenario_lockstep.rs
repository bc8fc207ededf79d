//! Issue 14, item 8: scenario variants on the reference SDK run in lockstep with the model.
//! A variant with defects reports where it first departs from the model, apart from its
//! violations, and still passes on its expectations; a variant that names the defect-free
//! reference SDK (`sdk: reference`) fails on a divergence.

mod scenario_support;

use scenario_support::workspace_root;
use session_harness::model::settings::Setup;
use session_harness::model::time::VTime;
use session_harness::model::vocab::{Defect, Event};
use session_harness::runner::lockstep;
use session_harness::scenario::run::{SdkChoice, SystemRun};
use session_harness::scenario::{self, FnSystem, Scenario, SystemError};

fn library(name: &str) -> Scenario {
    let rel = format!("scenarios/{name}.yaml");
    scenario::load(&workspace_root().join(&rel), &rel).unwrap_or_else(|e| panic!("{e}"))
}

fn run(scenario: &Scenario, variant: &str, system: &dyn scenario::System) -> scenario::VariantRun {
    let v = scenario.variants.iter().find(|v| v.name == variant).expect("the variant exists");
    scenario::run_variant(scenario, v, system).unwrap_or_else(|e| panic!("[{variant}]: {e}"))
}

/// `defects/no-single-flight`: three concurrent `getToken({skipCache})` calls, steps 5 to 7.
/// On the model the second caller joins the first's token request; on the defective SDK it
/// sends its own (step 6), and that is the first thing that differs.
#[test]
fn a_defect_variant_reports_where_it_departs_from_the_model_and_passes_on_its_expectations() {
    let sc = library("defects/no-single-flight");
    let with = run(&sc, "with", scenario::default_system());
    assert!(with.passed(), "the divergence is no failure of a defect variant: {:?}", with.failures);
    assert_eq!(with.sdk, "reference+no-single-flight");
    let d = with.divergence.as_ref().expect("the defective SDK departs from the model");
    assert_eq!((d.step, d.field), (6, "happenings"));
    assert_eq!(d.event, Event::GetToken { skip_cache: true, template: None });
    assert_eq!(d.at, VTime::ZERO.plus(2 * 60_000 + 6_000));
    assert!(d.sdk.contains("req_8 → tokens sess_1 for call_4"), "{}", d.sdk);
    assert!(!d.model.contains("req_8"), "the model sends no second request: {}", d.model);

    // The trace judged and snapshotted is the SDK's, judged as the SDK alone judges it.
    let variant = &sc.variants[0];
    assert_eq!(variant.name, "with");
    let alone = lockstep::judge_reference(variant.setup, &variant.defects, &sc.events, sc.seed);
    assert_eq!(with.outcome.trace.sdk, "reference+no-single-flight");
    assert_eq!(with.outcome.report.violations, alone.report.violations);
    assert!(with.outcome.report.broken().iter().any(|i| i.as_str() == "single-flight-refresh"));

    // Its own item in the report and the snapshot, apart from the violations.
    let report = scenario::run::report(&with, variant, "cargo xtask replay …");
    assert!(
        report.contains(
            "departs from the model at step 6 (t=2m6.000s, `get_token skip_cache`) in happenings \
             (expected: the defects [no-single-flight] depart from it by design)"
        ),
        "{report}"
    );
    assert!(report.contains("verdict: as expected"), "{report}");
    let doc = scenario::snapshot(&sc, &with);
    let departs = doc.departs_from_model.as_ref().expect("the snapshot shows the departure");
    assert_eq!(departs.at, "step 6 (t=2m6.000s, `get_token skip_cache`)");
    assert_eq!(departs.field, "happenings");

    // The defect-free variant runs on the model: nothing to depart from.
    let without = run(&sc, "without", scenario::default_system());
    assert!(without.passed(), "{:?}", without.failures);
    assert_eq!(without.sdk, "model");
    assert!(without.divergence.is_none());
    assert!(scenario::snapshot(&sc, &without).departs_from_model.is_none());
}

/// An iOS-only defect on Android never shows: the reference SDK with it switched on follows
/// the model at every step, so no departure is reported.
#[test]
fn a_defect_that_never_shows_reports_no_departure() {
    let sc = library("regressions/ios-cold-start-not-restored");
    let android = run(&sc, "android", scenario::default_system());
    assert_eq!(android.defects, [Defect::IosNativeCacheWipe]);
    assert!(android.passed(), "{:?}", android.failures);
    assert!(android.divergence.is_none(), "{:?}", android.divergence);
    let buggy = run(&sc, "buggy", scenario::default_system());
    assert!(buggy.passed(), "{:?}", buggy.failures);
    assert!(buggy.divergence.is_some(), "on iOS the wipe departs from the model");
}

/// `no-single-flight` with one variant that names the reference SDK, and one defect
/// variant; neither expects any invariant to hold, so a divergence is all that can fail.
const NAMED: &str = "\
schema_version: 1
name: inline/reference-named
description: the reference SDK named, and a defective one
setup: { platform: ios, profile: documented }
variants:
  reference: { sdk: reference }
  with: { defects: [no-single-flight] }
steps:
  - cold_start: {}
  - advance: 1s
  - sign_in: {}
  - advance: 5s
  - advance: 2m
  - concurrently:
      - get_token: { skip_cache: true }
      - get_token: { skip_cache: true }
  - advance: 2s
expect:
  reference: { holds: [] }
  with: { holds: [] }
";

/// A stand-in for a reference SDK that broke: `sdk: reference` runs with `no-single-flight`
/// switched on (in lockstep, as the default system runs it); everything else as usual.
fn broken_reference(
    sdk: SdkChoice,
    setup: Setup,
    defects: &[Defect],
    events: &[Event],
    seed: Option<u64>,
) -> Result<SystemRun, SystemError> {
    if sdk != SdkChoice::Reference {
        return scenario::default_system().run(sdk, setup, defects, events, seed);
    }
    scenario::default_system().run(SdkChoice::Model, setup, &[Defect::NoSingleFlight], events, seed)
}

#[test]
fn a_variant_naming_the_reference_sdk_fails_when_it_departs_from_the_model() {
    let sc = scenario::parse("inline.yaml", NAMED).unwrap_or_else(|e| panic!("{e}"));

    // The real reference SDK follows the model: it passes, with nothing to report.
    let reference = run(&sc, "reference", scenario::default_system());
    assert_eq!(reference.sdk, "reference");
    assert_eq!(reference.outcome.trace.sdk, "reference", "the trace is the SDK's");
    assert!(reference.divergence.is_none(), "{:?}", reference.divergence);
    assert!(reference.passed(), "{:?}", reference.failures);

    // A reference SDK that departs from the model fails `sdk: reference`, naming where…
    let broken = FnSystem { label: |sdk, _| sdk.as_str().to_string(), run: broken_reference };
    let departed = run(&sc, "reference", &broken);
    let d = departed.divergence.as_ref().expect("it departs from the model");
    assert_eq!((d.step, d.field), (6, "happenings"));
    assert_eq!(departed.failures.len(), 1, "the divergence is the one failure");
    let failure = &departed.failures[0];
    assert!(
        failure.starts_with(
            "departs from the model at step 6 (t=2m6.000s, `get_token skip_cache`) in \
             happenings; `sdk: reference` must agree with the model at every step"
        ),
        "{failure}"
    );
    assert!(failure.contains("\n  model: ") && failure.contains("\n  sdk:   "), "{failure}");
    let variant = &sc.variants[0];
    let report = scenario::run::report(&departed, variant, "cargo xtask replay …");
    assert!(report.contains("(a failure: `sdk: reference` must agree"), "{report}");
    assert!(report.contains("verdict: NOT as expected"), "{report}");

    // …while the same departure on a variant with the defect is expected.
    let with = run(&sc, "with", &broken);
    assert_eq!(with.divergence, departed.divergence);
    assert!(with.passed(), "{:?}", with.failures);
}

/// The model is not the reference SDK: a system without it refuses the variant, saying why.
#[test]
fn the_model_alone_cannot_run_a_variant_naming_the_reference_sdk() {
    let sc = scenario::parse("inline.yaml", NAMED).unwrap_or_else(|e| panic!("{e}"));
    let err = scenario::run_variant(&sc, &sc.variants[0], &scenario::ModelSystem)
        .expect_err("the model cannot run the reference SDK");
    assert_eq!(
        err.to_string(),
        "`sdk: reference` variants need the reference SDK, which `model` cannot run"
    );
    let err = scenario::run_variant(&sc, &sc.variants[1], &scenario::ModelSystem)
        .expect_err("nor defects");
    assert_eq!(
        err.to_string(),
        "defects [no-single-flight] need the reference SDK, which `model` cannot run"
    );
}

/// The seed bug's `reference` variant: the fixed app on the reference SDK agrees with the
/// model at every step, so its trace shows what the model's `fixed` variant shows.
#[test]
fn the_seed_bugs_reference_variant_follows_the_model() {
    let sc = library("regressions/ios-cold-start-not-restored");
    let reference = run(&sc, "reference", scenario::default_system());
    assert_eq!(reference.sdk, "reference");
    assert!(reference.passed(), "{:?}", reference.failures);
    assert!(reference.divergence.is_none(), "{:?}", reference.divergence);
    let fixed = run(&sc, "fixed", scenario::default_system());
    assert_eq!(fixed.sdk, "model");
    let observations = |r: &scenario::VariantRun| {
        r.outcome.trace.steps.iter().map(|s| s.obs.clone()).collect::<Vec<_>>()
    };
    assert_eq!(observations(&reference), observations(&fixed));
}
