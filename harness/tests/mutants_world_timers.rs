//! Tests written for mutants of the model's agenda (`harness/src/model/world/lifecycle.rs`:
//! `device_sleep`, `JsJob::is_timer`) that `cargo xtask mutants` found missed:
//! each runs a short event list on the model and pins when a job's effect shows. The mutant
//! each one catches is named above it (file: mutation, as cargo-mutants prints it).

use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
use session_harness::model::vocab::{
    AppPath, CallKind, CallResult, Event, Happening, Network, Platform,
};
use session_harness::trace::{Trace, run_model};

/// Cold start, a sign-in one second later, one more second, then `tail`.
fn signed_in(profile: ProfileId, tail: &[Event]) -> Trace {
    let mut events = vec![
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 1_000 },
    ];
    events.extend_from_slice(tail);
    run_model(Setup::new(Platform::Ios, profile), &events, None)
}

/// A device sleep moves JS's timers (`setTimeout` runs on the monotonic clock, which stops),
/// not the network: an API call whose fetch hangs fails when the request timeout is up on
/// the wall clock (documented: 7 s), during the sleep, and JS, held while asleep, sees that
/// failure the instant the device wakes (`World::device_sleep`: "JS is held while the wall
/// clock and the network run on, and on wake the answers that arrived meanwhile run at
/// once"; `JsJob::is_timer`: a refresh, eviction or retry timer only).
///
/// Catches `world/lifecycle.rs: replace JsJob::is_timer -> bool with true` (the fetch's
/// failure moved 20 s later with the timers, after the wake).
#[test]
fn a_device_sleep_does_not_move_a_fetchs_timeout() {
    let trace = signed_in(
        ProfileId::Documented,
        &[
            Event::Network { state: Network::Hanging },
            Event::ApiCall { path: AppPath::new("/api/data") },
            Event::Advance { ms: 1_000 },
            Event::DeviceSleep { ms: 20_000 },
            Event::Advance { ms: 30_000 },
        ],
    );
    let call_at = trace.steps[5].at;
    let api = trace.steps[5].obs.happenings.iter().find_map(|h| match h {
        Happening::CallStarted { call, kind: CallKind::ApiCall, .. } => Some(*call),
        _ => None,
    });
    let api = api.expect("the API call starts");
    let sleep = &trace.steps[7];
    let wake = sleep.end();
    assert_eq!(wake, call_at.plus(21_000));
    let settled = sleep.obs.happenings.iter().find_map(|h| match h {
        Happening::CallSettled { at, call, result, .. } if *call == api => Some((*at, result)),
        _ => None,
    });
    assert_eq!(
        settled,
        Some((wake, &CallResult::Error { status: 0, code: "network_error".into() })),
        "the fetch timed out during the sleep; JS sees it on wake: {:?}",
        sleep.obs.happenings
    );
}
