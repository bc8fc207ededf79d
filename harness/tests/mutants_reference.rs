//! Tests written for mutants of the reference SDK (`harness/src/sdk/reference/**`) that
//! `cargo xtask mutants` found missed: each pins a behaviour of the reference SDK that no
//! lockstep run, scenario snapshot or defect hunt observed. Where the model makes the same
//! call, a test runs the reference SDK in lockstep with it and asserts what both do; a
//! defect's rendering is asserted against its row in `sdk/defects.rs`. The mutant each one
//! catches is named below its doc (file:line: mutation, as cargo-mutants prints it). The
//! native room's tests are in `mutants_reference_native.rs`.
//!
//! `cargo xtask mutants` runs this binary with the others (every `harness/tests/mutants_*.rs`).

use std::sync::Arc;

use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
use session_harness::model::vocab::{
    AppPath, AppState, AppStateFaultKind, AppStateFaultSpec, CallKind, CallResult, Defect,
    Endpoint, Event, FaultKind, FaultSpec, Happening, Network, Platform, RequestOutcome, SessionId,
    SignOutCause, TimerKind,
};
use session_harness::runner::lockstep;
use session_harness::sdk::reference::ReferenceSdk;
use session_harness::trace::TraceStep;

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

/// The FAPI requests a step sent, by endpoint.
fn sent(step: &TraceStep) -> Vec<Endpoint> {
    step.obs
        .happenings
        .iter()
        .filter_map(|h| match h {
            Happening::RequestSent { endpoint, .. } => Some(*endpoint),
            _ => None,
        })
        .collect()
}

/// `load-waits-for-online-edge` (`sdk/defects.rs`): "the load goes out only once a
/// connectivity listener says 'online': at once when the listener reports the current state
/// and the network is up, else at the next change to online heard while JS runs". With a
/// listener that reports the current state, an online launch loads at once and an offline
/// one waits for the network; with one that reports changes only, a change to a hanging
/// network is no "online", and the change from there to online is.
///
/// Catches `sdk/reference/js/load.rs: replace != with == in Core::start_load` (the network
/// test of `heard`), and in `sdk/reference/js/mod.rs` `Core::apply`'s `Event::Network` arm:
/// `replace == with !=` and `replace && with ||` in `edge`, `replace != with ==` in `before
/// != Network::Online`, `replace && with ||` in `edge && js_runs()`.
#[test]
fn a_load_waiting_for_the_online_edge_goes_out_on_a_change_to_online_only() {
    let defects = [Defect::LoadWaitsForOnlineEdge];
    let launch = |initial: bool, network: Network| {
        let mut setup = Setup::new(Platform::Android, ProfileId::Documented);
        setup.net.connectivity_initial = initial;
        let events = [
            Event::Network { state: network },
            Event::ColdStart,
            Event::Advance { ms: 1_000 },
            Event::Network { state: Network::Hanging },
            Event::Advance { ms: 1_000 },
            Event::Network { state: Network::Online },
            Event::Advance { ms: 1_000 },
        ];
        lockstep::run_sdk(setup, &defects, &events, None)
    };
    let loads = [Endpoint::Environment, Endpoint::GetClient];

    // The listener reports the state it subscribed to: online, the load goes out at once.
    let online = launch(true, Network::Online);
    assert_eq!(sent(&online.steps[1]), loads, "an online launch loads at once");
    assert!(online.steps[2].obs.view.is_loaded, "{:?}", online.steps[2].obs.view);

    // Offline at launch (and a listener that reports changes only, alike): nothing goes out
    // until the network changes to online, a change to a hanging network included.
    for initial in [true, false] {
        let offline = launch(initial, Network::Offline);
        for step in &offline.steps[1..5] {
            assert!(sent(step).is_empty(), "initial {initial}, step {}: {step:?}", step.index);
        }
        assert!(!offline.steps[4].obs.view.is_loaded);
        assert_eq!(sent(&offline.steps[5]), loads, "initial {initial}: online, at last");
        assert!(offline.steps[6].obs.view.is_loaded, "{:?}", offline.steps[6].obs.view);
    }
}

/// The instants (ms) of the refresh timers that fired in `steps`.
fn refreshes(steps: &[TraceStep]) -> Vec<u64> {
    steps
        .iter()
        .flat_map(|s| &s.obs.happenings)
        .filter_map(|h| match h {
            Happening::TimerFired { at, timer: TimerKind::TokenRefresh, .. } => Some(at.ms()),
            _ => None,
        })
        .collect()
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

/// The sign-outs the app shell recorded in `steps`.
fn sign_outs(steps: &[TraceStep]) -> Vec<SignOutCause> {
    steps
        .iter()
        .flat_map(|s| &s.obs.happenings)
        .filter_map(|h| match h {
            Happening::SignedOut { cause, .. } => Some(*cause),
            _ => None,
        })
        .collect()
}

/// A second `signOut()` while the first is in flight keeps what the first left from
/// (`js/mod.rs`, `Event::SignOut`: "the app shell remembers a held session"): signed in,
/// two sign-outs end the session once, as the user's; signed out already (the revoked
/// session's payload ended it, the client still lists it, so clerk-js-6 sends the request
/// and goes `undefined`), two sign-outs end nothing. In lockstep with the model.
///
/// Catches, in `sdk/reference/js/mod.rs` `Core::apply`, `replace == with !=` and `replace &&
/// with ||` in `let was = rt.slot == Slot::Undefined && rt.transitive_from_session`.
#[test]
fn a_second_sign_out_in_flight_keeps_what_the_first_left_from() {
    let signed_in = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
    ];
    let twice = [Event::SignOut, Event::SignOut, Event::Advance { ms: 5_000 }];
    for profile in ProfileId::ALL {
        let setup = Setup::new(Platform::Android, profile);
        let events: Vec<Event> = signed_in.iter().chain(&twice).cloned().collect();
        let run = lockstep::run_reference(setup, &[], &events, None);
        assert!(run.divergence().is_none(), "{}", run.summary());
        assert_eq!(sign_outs(&run.sdk.steps), [SignOutCause::User], "{profile}: ended once");
        assert_eq!(run.sdk.steps.last().unwrap().obs.view.is_signed_in, Some(false));
    }

    let setup = Setup::new(Platform::Android, ProfileId::ClerkJs6);
    let mut events = signed_in.to_vec();
    events.extend([
        Event::Revoke,
        Event::GetToken { skip_cache: true, template: None },
        Event::Advance { ms: 5_000 },
    ]);
    let ended = events.len();
    events.extend(twice);
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    assert_eq!(sign_outs(&run.sdk.steps[..ended]), [SignOutCause::ClientPayload]);
    assert_eq!(run.sdk.steps[ended].obs.view.is_signed_in, None, "clerk-js-6 goes undefined");
    assert_eq!(sign_outs(&run.sdk.steps[ended..]), [], "nobody was signed in to sign out");
    assert_eq!(run.sdk.steps.last().unwrap().obs.view.is_signed_in, Some(false));
}

/// The article's API wrapper retries a call once after a 401, with a fresh token (its
/// `_retry` flag; the `retry-discipline` invariant): when the retry is refused too, the
/// call fails with that 401. Tokens of one second that reach the backend two seconds
/// later are refused every time. In lockstep with the model, under both profiles.
///
/// Catches `sdk/reference/js/calls.rs: replace && with || in Core::api_call` (`looping &&
/// attempt < RETRY_401_LOOP_ATTEMPTS_MAX`: a defect-free wrapper would retry again).
#[test]
fn an_api_call_retries_once_after_a_401() {
    for profile in ProfileId::ALL {
        let mut setup = Setup::new(Platform::Android, profile);
        setup.instance.session_token_ttl_ms = 1_000;
        setup.net.backend_latency_ms = 2_000;
        let events = [
            Event::ColdStart,
            Event::Advance { ms: 1_000 },
            Event::SignIn { task: None },
            Event::Advance { ms: 5_000 },
            Event::ApiCall { path: AppPath::new("/orders") },
            Event::Advance { ms: 30_000 },
        ];
        let run = lockstep::run_reference(setup, &[], &events, None);
        assert!(run.divergence().is_none(), "{}", run.summary());
        let after = &run.sdk.steps[4..];
        let hits: Vec<(u8, u16)> = after
            .iter()
            .flat_map(|s| &s.obs.happenings)
            .filter_map(|h| match h {
                Happening::BackendHit { attempt, status, .. } => Some((*attempt, *status)),
                _ => None,
            })
            .collect();
        assert_eq!(hits, [(1, 401), (2, 401)], "{profile}: one retry");
        let settled = after.iter().flat_map(|s| &s.obs.happenings).find_map(|h| match h {
            Happening::CallSettled { kind: CallKind::ApiCall, result, .. } => Some(result),
            _ => None,
        });
        assert!(
            matches!(settled, Some(CallResult::Error { status: 401, .. })),
            "{profile}: {settled:?}"
        );
    }
}

/// `handleUnauthenticated()`'s `GET /v1/client` (`js/client.rs`, `unauthenticated_answer`):
/// a network error is retried like any GET, up to 4 tries on native, 100 ms and then 700 ms
/// × 2ᵏ after each failure (clerk-js `fapiClient`); and under clerk-js-6 a 403 or 500 answer
/// signs the user out (`[403, 500].includes(status)`), any other failure (a 503) does not,
/// nor does a 500 under `documented`. A 401 on a token request starts the reload. In
/// lockstep with the model.
///
/// Catches, in `sdk/reference/js/client.rs` `Core::unauthenticated_answer`: the three
/// mutants of `tries < self.rules.get_tries_max`, `replace - with +` / `with /` in the delay,
/// `replace + with -` / `with *` in the next try, and the four operator mutants of `(status
/// == 403 || status == 500) && self.rules.unauth_reload_error_signs_out`.
#[test]
fn the_unauthenticated_reload_retries_network_errors_and_signs_out_on_403_or_500() {
    let fault = |kind, count, on| Event::Fault(FaultSpec { kind, count, on: Some(on) });
    let signed_in = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        fault(FaultKind::Unauthorized, 1, Endpoint::Tokens),
    ];
    let gets = |steps: &[TraceStep]| -> (Vec<u64>, Vec<u64>) {
        let (mut sent, mut done) = (Vec::new(), Vec::new());
        for h in steps.iter().flat_map(|s| &s.obs.happenings) {
            match h {
                Happening::RequestSent { at, endpoint: Endpoint::GetClient, .. } => {
                    sent.push(at.ms())
                }
                Happening::RequestDone { at, endpoint: Endpoint::GetClient, .. } => {
                    done.push(at.ms())
                }
                _ => {}
            }
        }
        (sent, done)
    };

    // Five dropped answers queued: four tries, then it gives up.
    for profile in ProfileId::ALL {
        let setup = Setup::new(Platform::Android, profile);
        let mut events = signed_in.to_vec();
        events.extend([
            fault(FaultKind::DropBeforeCommit, 5, Endpoint::GetClient),
            Event::GetToken { skip_cache: true, template: None },
            Event::Advance { ms: 30_000 },
        ]);
        let run = lockstep::run_reference(setup, &[], &events, None);
        assert!(run.divergence().is_none(), "{}", run.summary());
        let (sent, done) = gets(&run.sdk.steps[signed_in.len()..]);
        assert_eq!(sent.len(), 4, "{profile}: four tries, {sent:?}");
        let waits: Vec<u64> = sent[1..].iter().zip(&done).map(|(s, d)| s - d).collect();
        assert_eq!(waits, [100, 700, 1_400], "{profile}: the GET retry schedule");
    }

    // An error answer: only clerk-js-6, and only a 403 or 500, signs out.
    for (profile, status, signs_out) in [
        (ProfileId::ClerkJs6, 500, true),
        (ProfileId::ClerkJs6, 403, true),
        (ProfileId::ClerkJs6, 503, false),
        (ProfileId::Documented, 500, false),
    ] {
        let setup = Setup::new(Platform::Android, profile);
        let mut events = signed_in.to_vec();
        events.extend([
            fault(FaultKind::ServerError { status }, 1, Endpoint::GetClient),
            Event::GetToken { skip_cache: true, template: None },
            Event::Advance { ms: 30_000 },
        ]);
        let run = lockstep::run_reference(setup, &[], &events, None);
        assert!(run.divergence().is_none(), "{}", run.summary());
        let ended = sign_outs(&run.sdk.steps[signed_in.len()..]);
        let expected: &[SignOutCause] = if signs_out { &[SignOutCause::Unauthorized] } else { &[] };
        assert_eq!(ended, expected, "{profile}, reload answered {status}");
    }
}

/// Whether the app was shown signed in at some point of `steps`.
fn shown_signed_in(steps: &[TraceStep]) -> bool {
    steps
        .iter()
        .flat_map(|s| &s.obs.happenings)
        .any(|h| matches!(h, Happening::Rendered { view, .. } if view.is_signed_in == Some(true)))
}

/// The sessions the touch requests of `steps` were for.
fn touched(steps: &[TraceStep]) -> Vec<Option<SessionId>> {
    steps
        .iter()
        .flat_map(|s| &s.obs.happenings)
        .filter_map(|h| match h {
            Happening::RequestSent { endpoint: Endpoint::Touch, sid, .. } => Some(*sid),
            _ => None,
        })
        .collect()
}

/// The app's `setActive` (`js/mod.rs`, `Event::SetActive`) switches to another signed-in
/// session of the client, else touches the current one: a revoked session the client
/// still lists is no candidate. A switch that fails (its touch answered 500) is forgotten
/// (`finish_call`: `CallKind::SetActive => preferred = None`), so a later client payload
/// keeps the current session. In lockstep with the model, under `documented`.
///
/// Catches, in `sdk/reference/js/mod.rs` `Core::apply`'s `Event::SetActive` arm, `replace &&
/// with ||` in `ignores_stale_payloads && user_signing_out` and in the candidate's
/// `counts_signed_in(s.status) && Some(s.id) != current`, and `replace != with ==` there;
/// and `sdk/reference/js/calls.rs: delete match arm CallKind::SetActive in
/// Core::finish_call`.
#[test]
fn set_active_switches_to_another_signed_in_session_and_forgets_a_failed_switch() {
    let fault = |kind, on| Event::Fault(FaultSpec { kind, count: 1, on: Some(on) });
    let current = |step: &TraceStep| step.obs.view.session.map(|s| s.id);

    // sess_1 revoked (and shown signed out), sess_2 signed in: setActive touches sess_2.
    let setup = Setup::new(Platform::Android, ProfileId::Documented);
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        Event::Revoke,
        Event::GetToken { skip_cache: true, template: None },
        Event::Advance { ms: 5_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        Event::SetActive,
        Event::Advance { ms: 5_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    let second = current(&run.sdk.steps[8]).expect("signed in again");
    let first = current(&run.sdk.steps[3]).expect("signed in");
    assert_ne!(first, second);
    assert_eq!(touched(&run.sdk.steps[9..]), [Some(second)], "the current one, not {first}");
    assert_eq!(current(run.sdk.steps.last().unwrap()), Some(second));

    // Two signed-in sessions (multi-session): the switch to sess_1 fails, and a client
    // payload afterwards (the reload after a 401) keeps sess_2.
    let mut setup = Setup::new(Platform::Android, ProfileId::Documented);
    setup.instance.multi_session = true;
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        fault(FaultKind::ServerError { status: 500 }, Endpoint::Touch),
        Event::SetActive,
        Event::Advance { ms: 5_000 },
        fault(FaultKind::Unauthorized, Endpoint::Tokens),
        Event::GetToken { skip_cache: true, template: None },
        Event::Advance { ms: 5_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    let (first, second) = (current(&run.sdk.steps[3]), current(&run.sdk.steps[5]));
    assert_ne!(first, second, "two sessions");
    assert_eq!(touched(&run.sdk.steps[7..9]), [first], "the switch goes for the other one");
    let reloaded = run.sdk.steps[11].obs.happenings.iter().any(|h| {
        matches!(
            h,
            Happening::RequestDone {
                endpoint: Endpoint::GetClient,
                outcome: RequestOutcome::Answered { status: 200, .. },
                ..
            }
        )
    });
    assert!(reloaded, "a client payload arrives after the failed switch");
    assert_eq!(current(run.sdk.steps.last().unwrap()), second, "and keeps the current session");
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

/// A GET of `load()` that failed with a network error is retried (100 ms later) only while
/// its own load attempt is still the one running (`JsJob::GetRetry`); under `documented`
/// (no `load_get_outlives_load`) a GET whose attempt already failed — its sibling answered
/// 503, and the load retry is pending — sends nothing, and the load retry, 3 s later, sends
/// both GETs again. In lockstep with the model.
///
/// Catches `sdk/reference/js/lifecycle.rs: replace && with || in Core::run_js` (`attempt ==
/// rt.load_attempt && rt.status == LoadStatus::Loading`).
#[test]
fn a_get_of_a_failed_load_attempt_is_not_retried_under_documented() {
    let setup = Setup::new(Platform::Android, ProfileId::Documented);
    let fault = |kind, on| Event::Fault(FaultSpec { kind, count: 1, on: Some(on) });
    let events = [
        fault(FaultKind::DropBeforeCommit, Endpoint::Environment),
        fault(FaultKind::ServerError { status: 503 }, Endpoint::GetClient),
        Event::ColdStart,
        Event::Advance { ms: 2_000 },
        Event::Advance { ms: 10_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    assert_eq!(sent(&run.sdk.steps[2]), [Endpoint::Environment, Endpoint::GetClient]);
    assert_eq!(sent(&run.sdk.steps[3]), [], "the failed attempt's GET is not retried");
    let retried = run.sdk.steps[3]
        .obs
        .happenings
        .iter()
        .any(|h| matches!(h, Happening::TimerFired { timer: TimerKind::Retry, .. }));
    assert!(retried, "its retry timer fired: {:?}", run.sdk.steps[3].obs.happenings);
    assert_eq!(sent(&run.sdk.steps[4]), [Endpoint::Environment, Endpoint::GetClient]);
    assert!(run.sdk.steps[4].obs.view.is_loaded);
}

/// With the resource cache, a cold start whose client GET fails renders from the cached
/// client, and the recovery reload's client payload, once it lands, seeds the token cache
/// with the session's fresh `last_active_token` like any payload (`js/load.rs`,
/// `reload_answer`; under `documented` nothing hydrated it on arrival): the next
/// `getToken()` is a cache hit, with no token request. In lockstep with the model.
///
/// Catches `sdk/reference/js/load.rs: delete ! in Core::reload_answer` (the payload's
/// `seed`).
#[test]
fn the_recovery_reloads_payload_seeds_the_token_cache() {
    let mut setup = Setup::new(Platform::Android, ProfileId::Documented);
    setup.sdk.resource_cache = true;
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 5_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        Event::Kill,
        // Closed for two minutes: the cached client's session token expires.
        Event::Advance { ms: 120_000 },
        Event::Fault(FaultSpec {
            kind: FaultKind::ServerError { status: 503 },
            count: 1,
            on: Some(Endpoint::GetClient),
        }),
        Event::ColdStart,
        Event::Advance { ms: 5_000 },
        Event::GetToken { skip_cache: false, template: None },
        Event::Advance { ms: 1_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    let reload = &run.sdk.steps[8];
    assert_eq!(sent(reload), [Endpoint::Environment, Endpoint::GetClient], "the reload");
    assert_eq!(reload.obs.view.is_signed_in, Some(true));
    let call = &run.sdk.steps[9];
    assert_eq!(sent(call), [], "a cache hit sends nothing");
    let token = call.obs.happenings.iter().find_map(|h| match h {
        Happening::CallSettled { result: CallResult::Token { token }, .. } => Some(*token),
        _ => None,
    });
    assert!(token.is_some(), "answered from the cache: {:?}", call.obs.happenings);
}

/// A reinstall on iOS keeps the keychain (`Device::reinstall`), the resource cache's
/// environment included, so a degraded start after it still knows the instance is a
/// session minter: under `clerk-js-6` its token request carries the last session token,
/// which expired meanwhile, and the minter refuses it (401), as after a plain kill
/// (`mutants_caught.rs`, `a_degraded_load_keeps_the_cached_environment`). In lockstep with
/// the model.
///
/// Catches `sdk/reference/js/mod.rs: replace == with != in Core::apply` (the reinstall's
/// `device.platform == Platform::Android`: iOS would forget the cached environment).
#[test]
fn a_reinstall_on_ios_keeps_the_cached_environment() {
    let mut setup = Setup::new(Platform::Ios, ProfileId::ClerkJs6);
    setup.sdk.resource_cache = true;
    setup.instance.session_minter = true;
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 5_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        Event::GetToken { skip_cache: false, template: None },
        Event::Advance { ms: 1_000 },
        Event::Reinstall,
        Event::Advance { ms: 120_000 },
        Event::Fault(FaultSpec {
            kind: FaultKind::ServerError { status: 503 },
            count: 1,
            on: Some(Endpoint::GetClient),
        }),
        Event::ColdStart,
        Event::Advance { ms: 100 },
        Event::GetToken { skip_cache: false, template: None },
        Event::Advance { ms: 1_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    let last = &run.sdk.steps.last().unwrap().obs.happenings;
    let tokens: Vec<Option<u16>> = last
        .iter()
        .filter_map(|h| match h {
            Happening::RequestDone { endpoint: Endpoint::Tokens, outcome, .. } => {
                Some(outcome.status())
            }
            _ => None,
        })
        .collect();
    assert_eq!(tokens, [Some(401)], "the expired carried token is refused: {last:?}");
}

/// A sign-out starts a new sign-out epoch (`js/mod.rs`, `Event::SignOut`), and under
/// `documented` an answer to a request sent before it is stale (`ignores_stale_payloads`):
/// the client reload `handleUnauthenticated` sent after a 401, answered while the sign-out
/// is in flight, does not bring the session back. And under `clerk-js-6` a sign-out keeps
/// the token cache until it settles (`signout_failure_keeps_state`): while its request
/// hangs (no request timeout, Android's network hangs for ever) the cached token's refresh
/// timer still fires. In lockstep with the model.
///
/// Catches, in `sdk/reference/js/mod.rs` `Core::apply`: `replace += with *=` in the sign-out's
/// `rt.signout_epoch += 1`, and `delete !` in `!self.rules.signout_failure_keeps_state`.
#[test]
fn a_sign_out_starts_a_new_epoch_and_keeps_the_cache_where_the_profile_says() {
    let signed_in = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
    ];

    let setup = Setup::new(Platform::Android, ProfileId::Documented);
    let mut events = signed_in.to_vec();
    events.extend([
        Event::Fault(FaultSpec {
            kind: FaultKind::Unauthorized,
            count: 1,
            on: Some(Endpoint::Tokens),
        }),
        Event::GetToken { skip_cache: true, template: None },
        // The 401 lands at 50 ms and sends the reload, which answers at 100 ms.
        Event::Advance { ms: 60 },
        Event::SignOut,
        Event::Advance { ms: 5_000 },
    ]);
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    assert_eq!(sent(&run.sdk.steps[6]), [Endpoint::GetClient], "the reload is in flight");
    assert!(!shown_signed_in(&run.sdk.steps[7..]), "the reload's payload is stale");
    assert_eq!(sign_outs(&run.sdk.steps[7..]), [SignOutCause::User]);

    let setup = Setup::new(Platform::Android, ProfileId::ClerkJs6);
    let mut events = signed_in.to_vec();
    events.extend([
        Event::Network { state: Network::Hanging },
        Event::SignOut,
        Event::Advance { ms: 60_000 },
    ]);
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    assert_eq!(sent(&run.sdk.steps[5]), [Endpoint::RemoveSessions]);
    assert_eq!(refreshes(&run.sdk.steps[6..]).len(), 1, "the cached token's refresh timer");
    assert_eq!(sent(&run.sdk.steps[6]), [Endpoint::Tokens], "its background refresh");
}
