//! Tests written for mutants of the model's SDK instances (`harness/src/model/world/
//! instances.rs`) that `cargo xtask mutants` found missed: each runs a short event list on
//! the model and pins how an event addressed to an instance (`Event::Instance`) is taken.
//! The mutant each one catches is named above it (file: mutation, as cargo-mutants prints
//! it).

use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
use session_harness::model::vocab::{AppPath, Event, Happening, Platform, Route};
use session_harness::trace::run_model;

/// `Event::Instance { n, step }`.
fn to_instance(n: u8, step: Event) -> Event {
    Event::Instance { n, step: Box::new(step) }
}

/// An event addressed to an instance the app lacks does nothing, though the event is one an
/// instance performs; and an event no instance performs (the app's navigation, the process's
/// end) does nothing even addressed to an instance the app has (`World::on_instance`: "one
/// the app lacks, or an event no instance performs, does nothing (the trace still records
/// it)"; `Event::ADDRESSABLE`: "navigation and the native layer belong to the app").
///
/// Catches `world/instances.rs: replace || with && in World::on_instance` (the first would
/// run on the UI's instance, the others would navigate and kill the app).
#[test]
fn an_event_no_instance_can_take_does_nothing() {
    for profile in ProfileId::ALL {
        let mut setup = Setup::new(Platform::Ios, profile);
        setup.sdk.instances = 2;
        let events = [
            Event::ColdStart,
            Event::Advance { ms: 1_000 },
            Event::SignIn { task: None },
            Event::Advance { ms: 1_000 },
            // Instance 2 does not exist (two instances: 0 and 1).
            to_instance(2, Event::GetToken { skip_cache: true, template: None }),
            Event::Advance { ms: 1_000 },
            to_instance(1, Event::Navigate { path: AppPath::new("/settings") }),
            to_instance(0, Event::Navigate { path: AppPath::new("/settings") }),
            to_instance(1, Event::Kill),
            to_instance(0, Event::Kill),
            Event::Advance { ms: 1_000 },
        ];
        let trace = run_model(setup, &events, None);
        let signed_in = &trace.steps[3].obs.view;
        assert_eq!(signed_in.route, Route::Protected { path: AppPath::home() }, "{profile}");
        for step in &trace.steps[4..] {
            assert!(
                step.obs.happenings.is_empty(),
                "{profile}: `{}` did something: {:?}",
                step.event,
                step.obs.happenings
            );
            assert_eq!(&step.obs.view, signed_in, "{profile}: after `{}`", step.event);
        }
    }
}

/// The same events, each addressed to an instance that takes it, do something: the token
/// call of a headless instance is its own (`instance: 1` on its call), and the UI's instance
/// navigates. (Guards the test above against passing for a reason of its own.)
#[test]
fn the_same_events_addressed_right_are_taken() {
    let mut setup = Setup::new(Platform::Ios, ProfileId::Documented);
    setup.sdk.instances = 2;
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 1_000 },
        to_instance(1, Event::GetToken { skip_cache: true, template: None }),
        Event::Navigate { path: AppPath::new("/settings") },
    ];
    let trace = run_model(setup, &events, None);
    assert!(
        trace.steps[4]
            .obs
            .happenings
            .iter()
            .any(|h| matches!(h, Happening::CallStarted { instance: 1, .. })),
        "{:?}",
        trace.steps[4].obs.happenings
    );
    assert_eq!(trace.steps[5].obs.view.route, Route::Protected { path: AppPath::new("/settings") });
}
