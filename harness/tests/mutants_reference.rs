//! Tests written for mutants of the reference SDK (`harness/src/sdk/reference/**`) that
//! `cargo xtask mutants` found missed: each pins a behaviour of the reference SDK that no
//! lockstep run, scenario snapshot or defect hunt observed. Where the model makes the same
//! call, a test runs the reference SDK in lockstep with it and asserts what both do; a
//! defect's rendering is asserted against its row in `sdk/defects.rs`. The mutant each one
//! catches is named below its doc (file:line: mutation, as cargo-mutants prints it). The
//! calls and client rooms' tests are in `mutants_reference_calls.rs`, the load room's in
//! `mutants_reference_load.rs`, the native room's in `mutants_reference_native.rs`, the
//! token room's in `mutants_reference_tokens.rs`.
//!
//! `cargo xtask mutants` runs this binary with the others (every `harness/tests/mutants_*.rs`).

use std::sync::Arc;

use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
use session_harness::model::vocab::{
    AppState, AppStateFaultKind, AppStateFaultSpec, CallKind, CallResult, Defect, Endpoint, Event,
    FaultKind, FaultSpec, Happening, Network, Platform,
};
use session_harness::runner::lockstep;
use session_harness::sdk::reference::ReferenceSdk;
use session_harness::trace::TraceStep;

mod mutants_support;
use mutants_support::{refreshes, sent};

/// Dropping the reference SDK drops the tasks still waiting in its JS runtime, which hold
/// its core (`ReferenceSdk`'s `Drop`: "Tasks hold the core: drop them so the core goes
/// too"): nothing of the app outlives it, its emulator included. A `getToken({ skipCache })`
/// is left waiting on its request when the app is dropped.
///
/// Catches `sdk/reference/mod.rs: replace <impl Drop for ReferenceSdk>::drop with ()` and
/// `sdk/reference/js/mod.rs: replace Core::shutdown with ()`.
#[test]
fn dropping_the_reference_sdk_frees_its_core() {
    let rt = ReferenceSdk::runtime();
    let mut sdk = ReferenceSdk::new(Setup::new(Platform::Ios, ProfileId::Documented), &[]);
    let server = Arc::clone(sdk.fapi().server());
    rt.block_on(async {
        for event in [
            Event::ColdStart,
            Event::Advance { ms: 1_000 },
            Event::SignIn { task: None },
            Event::Advance { ms: 1_000 },
            Event::GetToken { skip_cache: true, template: None },
        ] {
            sdk.apply(&event).await;
        }
    });
    assert!(Arc::strong_count(&server) > 1, "the running app holds its emulator");
    drop(sdk);
    assert_eq!(Arc::strong_count(&server), 1, "the dropped app left nothing behind");
}

/// The instant (ms) the app first rendered signed in.
fn signed_in_at(steps: &[TraceStep]) -> u64 {
    steps
        .iter()
        .flat_map(|s| &s.obs.happenings)
        .find_map(|h| match h {
            Happening::Rendered { at, view } if view.is_signed_in == Some(true) => Some(at.ms()),
            _ => None,
        })
        .expect("the app signs in")
}

/// `refresh-stops-on-background-event` under `documented` (a recurring refresh every 45 s):
/// "an AppState `background` event stops the refresh … and only an `active` event starts it
/// again" (`sdk/defects.rs`). Heard in order, `background` then `active` restart the loop
/// from the `active` (the loop's timer that fell due meanwhile is skipped, stopped); an
/// `active` heard while the loop runs (its `background` dropped) starts nothing anew, so the
/// loop keeps the rhythm it had since the sign-in.
///
/// Catches `sdk/reference/js/lifecycle.rs: replace match guard
/// self.rt.borrow().refresh_stopped with false in Core::app_state_listener` (a stopped
/// refresh never restarts) and `… with true …` (every `active` restarts the loop).
#[test]
fn only_an_active_event_after_a_stop_restarts_the_refresh() {
    let setup = Setup::new(Platform::Ios, ProfileId::Documented);
    let defects = [Defect::RefreshStopsOnBackgroundEvent];
    let interval = 45_000;
    let signed_in = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
    ];

    // Background at 6 s, back at 606 s: the loop runs again from 606 s.
    let mut events = signed_in.to_vec();
    events.extend([
        Event::AppState { state: AppState::Background },
        Event::Advance { ms: 600_000 },
        Event::AppState { state: AppState::Active },
        Event::Advance { ms: 100_000 },
    ]);
    let trace = lockstep::run_sdk(setup, &defects, &events, None);
    assert_eq!(refreshes(&trace.steps[..6]), [] as [u64; 0], "stopped in the background");
    assert_eq!(
        refreshes(&trace.steps[6..]),
        [606_000 + interval, 606_000 + 2 * interval],
        "restarted by the `active` event"
    );

    // The `background` event is dropped: the loop never stopped, and the `active` at 20 s
    // leaves it alone.
    let mut events = signed_in.to_vec();
    events.extend([
        Event::AppStateFault(AppStateFaultSpec { kind: AppStateFaultKind::Drop, count: 1 }),
        Event::AppState { state: AppState::Background },
        Event::Advance { ms: 14_000 },
        Event::AppState { state: AppState::Active },
        Event::Advance { ms: 60_000 },
    ]);
    let trace = lockstep::run_sdk(setup, &defects, &events, None);
    let start = signed_in_at(&trace.steps);
    assert_eq!(
        refreshes(&trace.steps),
        [start + interval],
        "the loop armed at the sign-in ({start} ms) runs on"
    );
}

/// An event addressed to an SDK instance the app lacks, or one no instance performs (a
/// device or process event), does nothing (`js/instances.rs`, `Core::on_instance`: "one the
/// app lacks, or an event no instance performs, does nothing"), on the reference SDK as on
/// the model: no call starts, no request goes out, and the next step is the same.
///
/// Catches `sdk/reference/js/instances.rs: replace || with && in Core::on_instance`.
#[test]
fn an_event_for_a_missing_instance_or_no_instance_does_nothing() {
    let mut setup = Setup::new(Platform::Android, ProfileId::ClerkJs6);
    setup.sdk.instances = 2;
    let to = |n: u8, step: Event| Event::Instance { n, step: Box::new(step) };
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        // Instance 2 does not exist: neither its sign-out nor its `getToken` happens.
        to(2, Event::SignOut),
        to(3, Event::GetToken { skip_cache: true, template: None }),
        // No instance performs a kill or a network change.
        to(1, Event::Kill),
        to(0, Event::Network { state: Network::Offline }),
        Event::Advance { ms: 5_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    for step in &run.sdk.steps[4..] {
        assert!(step.obs.happenings.is_empty(), "step {}: {:?}", step.index, step.obs.happenings);
        assert_eq!(step.obs.view, run.sdk.steps[3].obs.view, "step {}", step.index);
    }
    let device = &run.sdk.steps.last().unwrap().obs.device;
    assert_eq!(device.network, Network::Online, "{device:?}");
}

/// The executor is empty only once every task has finished: a task waiting on a promise
/// keeps it busy until the promise resolves and the task runs to its end (`exec.rs`,
/// `Executor::is_empty`, which the tests of the microtask queue read).
///
/// Catches `sdk/reference/exec.rs: replace Executor::is_empty -> bool with true`.
#[test]
fn the_executor_is_empty_only_when_every_task_has_finished() {
    use session_harness::sdk::reference::exec::{Executor, Promise};
    let exec = Executor::default();
    assert!(exec.is_empty(), "nothing spawned");
    let promise: Promise<u32> = Promise::new();
    let waiting = promise.clone();
    exec.spawn(async move {
        waiting.wait().await;
    });
    assert!(!exec.is_empty(), "spawned, not yet run");
    assert!(exec.run());
    assert!(!exec.is_empty(), "waiting on the promise");
    assert_eq!(exec.len(), 1);
    promise.resolve(1);
    assert!(exec.run());
    assert!(exec.is_empty(), "finished");
}

/// While the device sleeps only JS timers stop (`JsJob::is_timer`: "a `setTimeout`: it runs
/// on the monotonic clock, which stops while the device sleeps"): an AppState event on its
/// way to JS is the OS's, on the wall clock, so an `active` heard 2 s late (the
/// `app_state_delay_ms` setting) that falls due during a one-minute sleep reaches JS when the
/// device wakes, and the app shell's foreground refresh starts then, not 2 s after. In
/// lockstep with the model.
///
/// Catches `sdk/reference/js/mod.rs: replace JsJob::is_timer -> bool with true`.
#[test]
fn a_late_app_state_event_is_no_timer_and_runs_when_the_device_wakes() {
    let mut setup = Setup::new(Platform::Ios, ProfileId::Documented);
    setup.sdk.app_state_delay_ms = 2_000;
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        Event::AppState { state: AppState::Background },
        Event::Advance { ms: 10_000 },
        Event::AppState { state: AppState::Active },
        Event::DeviceSleep { ms: 60_000 },
        Event::Advance { ms: 5_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    let woke = run.sdk.steps[7].at.ms() + 60_000;
    let refresh = run.sdk.steps[7..].iter().flat_map(|s| &s.obs.happenings).find_map(|h| match h {
        Happening::CallStarted { at, kind: CallKind::ForegroundRefresh, .. } => Some(at.ms()),
        _ => None,
    });
    assert_eq!(refresh, Some(woke), "the foreground refresh starts at the wake");
}

/// clerk-js-6's legacy retry (`Profile::retries_missing_expired_token`): a token request
/// answered 422 `missing_expired_token` is sent once more with `expired_token=`, and the
/// retry takes over what the first request was (`js/tokens.rs`, `fetch_answer`; `js/
/// transport.rs`, `dispatch`): for a `getToken({ skipCache })`, the pending fetch, whose
/// answer is then cached and arms the token's refresh timer; for a background refresh, the
/// one refresh in progress, which ends with the retry's answer, so the next timer refreshes
/// again. In lockstep with the model.
///
/// Catches `sdk/reference/js/tokens.rs: replace == with != in Core::fetch_answer` and
/// `sdk/reference/js/transport.rs: replace == with != in Core::dispatch` (`rt.bg.get(&key) ==
/// Some(&id)`).
#[test]
fn the_legacy_expired_token_retry_takes_over_its_fetch_or_refresh() {
    let setup = Setup::new(Platform::Android, ProfileId::ClerkJs6);
    let missing = Event::Fault(FaultSpec {
        kind: FaultKind::MissingExpiredToken,
        count: 1,
        on: Some(Endpoint::Tokens),
    });
    let signed_in = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
    ];
    let tokens_sent = |steps: &[TraceStep]| -> usize {
        steps.iter().map(|s| sent(s).iter().filter(|e| **e == Endpoint::Tokens).count()).sum()
    };

    // getToken({ skipCache }): 422, the retry, then the fetched token's refresh at 43 s.
    let mut events = signed_in.to_vec();
    events.extend([
        missing.clone(),
        Event::GetToken { skip_cache: true, template: None },
        Event::Advance { ms: 1_000 },
        Event::Advance { ms: 50_000 },
    ]);
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    assert_eq!(tokens_sent(&run.sdk.steps[5..7]), 2, "the request and its retry");
    assert_eq!(refreshes(&run.sdk.steps[7..]).len(), 1, "the fetched token refreshes");
    assert_eq!(tokens_sent(&run.sdk.steps[7..]), 1, "with a request");

    // The background refresh at 43 s: 422, the retry; the next refresh 43 s after it.
    let mut events = signed_in.to_vec();
    events.extend([missing, Event::Advance { ms: 50_000 }, Event::Advance { ms: 50_000 }]);
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    assert_eq!(tokens_sent(&run.sdk.steps[5..6]), 2, "the refresh and its retry");
    assert_eq!(refreshes(&run.sdk.steps[6..]).len(), 1, "the next refresh");
    assert_eq!(tokens_sent(&run.sdk.steps[6..]), 1, "goes out");
}

/// Under `documented` the token cache holds one session's token (`per_session_cache`
/// off): a token that arrives for a session no longer current, and no longer cached, is
/// dropped (`js/tokens.rs`, `token_resolved`), so it cannot take the slot of the current
/// session's. Two sessions (multi-session): `setActive` goes for the other session, and a
/// `getToken` right after it, still for the current one (minted after the touch's payload,
/// so fresher than any token it carries), is answered a second late, after the switch
/// cached the other session's payload token; the next `getToken()` is a hit on that token.
/// In lockstep with the model.
///
/// Catches, in `sdk/reference/js/tokens.rs` `Core::token_resolved`, `delete !` and `replace
/// != with ==` in `current != Some(token.sid) && !refreshing`.
#[test]
fn a_token_for_a_session_switched_away_from_is_dropped() {
    let mut setup = Setup::new(Platform::Android, ProfileId::Documented);
    setup.instance.multi_session = true;
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        Event::Fault(FaultSpec {
            kind: FaultKind::Latency { ms: 1_000 },
            count: 1,
            on: Some(Endpoint::Tokens),
        }),
        Event::SetActive,
        Event::GetToken { skip_cache: true, template: None },
        Event::Advance { ms: 5_000 },
        Event::GetToken { skip_cache: false, template: None },
        Event::Advance { ms: 1_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    let (first, second) =
        (run.sdk.steps[3].obs.view.session.map(|s| s.id), run.sdk.steps[5].obs.view.session);
    let second = second.map(|s| s.id);
    assert_ne!(first, second, "two sessions");
    assert_eq!(run.sdk.steps[9].obs.view.session.map(|s| s.id), first, "switched back");
    let last = &run.sdk.steps[10];
    assert_eq!(sent(last), [], "a cache hit");
    let token = last.obs.happenings.iter().find_map(|h| match h {
        Happening::CallSettled { result: CallResult::Token { token }, .. } => Some(token.sid),
        _ => None,
    });
    assert_eq!(token, first, "the current session's token: {:?}", last.obs.happenings);
}
