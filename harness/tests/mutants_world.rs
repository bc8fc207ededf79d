//! Tests written for mutants of the model's world (`harness/src/model/world/**`) that
//! `cargo xtask mutants` found missed: each runs a short event list on the model and pins
//! a behaviour no scenario observed. The mutant each one catches is named above it (file:
//! mutation, as cargo-mutants prints it).

use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
use session_harness::model::vocab::{
    AppPath, CallKind, CallResult, Endpoint, Event, FaultKind, FaultSpec, Happening, Platform,
    SessionId,
};
use session_harness::trace::{Trace, run_model};

/// The sessions each step's `setActive` touched (`POST …/sessions/{sid}/touch`), in order.
fn touched(trace: &Trace) -> Vec<SessionId> {
    trace
        .steps
        .iter()
        .filter(|s| matches!(s.event, Event::SetActive))
        .flat_map(|s| &s.obs.happenings)
        .filter_map(|h| match h {
            Happening::RequestSent { endpoint: Endpoint::Touch, sid, .. } => *sid,
            _ => None,
        })
        .collect()
}

/// A multi-session app with two sign-ins (`sess_1`, then `sess_2`, which is active), under
/// `profile`, then `tail`.
fn two_sessions_then(profile: ProfileId, tail: &[Event]) -> Trace {
    let mut setup = Setup::new(Platform::Ios, profile);
    setup.instance.multi_session = true;
    let mut events = vec![
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 1_000 },
    ];
    events.extend_from_slice(tail);
    run_model(setup, &events, None)
}

/// The app's switch (`setActive` to "the other session") goes to a signed-in session other
/// than the one shown: with two, each switch goes to the other one, back and forth.
///
/// Catches `world/mod.rs: delete match arm Slot::Some(v) in World::apply` (with the shown
/// session forgotten, the second switch picks the first signed-in session, the one shown).
#[test]
fn each_switch_goes_to_the_other_signed_in_session() {
    let switch = [Event::SetActive, Event::Advance { ms: 1_000 }];
    for profile in ProfileId::ALL {
        let trace = two_sessions_then(profile, &[switch.clone(), switch.clone()].concat());
        assert_eq!(touched(&trace), [SessionId(1), SessionId(2)], "{profile}");
        let shown = trace.steps.last().unwrap().obs.view.session.map(|s| s.id);
        assert_eq!(shown, Some(SessionId(2)), "{profile}: back on the second session");
    }
}

/// A switch never goes to an ended session: with the first session revoked, the only
/// signed-in one left is the one to activate (documented: the app stays on it; clerk-js-6,
/// which signed out when the revoked session's token refresh failed, activates it again).
///
/// Catches `world/mod.rs: replace && with || in World::apply` (the switch's choice of "a
/// signed-in session other than the shown one" taking any session other than the shown one).
#[test]
fn a_switch_skips_ended_sessions() {
    let tail = [
        Event::SetActive,
        Event::Advance { ms: 1_000 },
        Event::Revoke,
        Event::Advance { ms: 70_000 },
        Event::SetActive,
        Event::Advance { ms: 1_000 },
    ];
    for profile in ProfileId::ALL {
        let trace = two_sessions_then(profile, &tail);
        assert_eq!(touched(&trace), [SessionId(1), SessionId(2)], "{profile}");
        let shown = trace.steps.last().unwrap().obs.view.session.map(|s| s.id);
        assert_eq!(shown, Some(SessionId(2)), "{profile}: on the session left");
    }
}

/// The calls of `kind` that settled in `trace`, with their results, in order.
fn settled(trace: &Trace, kind: CallKind) -> Vec<CallResult> {
    trace
        .steps
        .iter()
        .flat_map(|s| &s.obs.happenings)
        .filter_map(|h| match h {
            Happening::CallSettled { kind: k, result, .. } if *k == kind => Some(result.clone()),
            _ => None,
        })
        .collect()
}

/// A scripted fault: `kind` on `on`, `count` times.
fn fault(kind: FaultKind, on: Endpoint, count: u32) -> Event {
    Event::Fault(FaultSpec { kind, count, on: Some(on) })
}

/// A switch the server refuses leaves the app where the server says it is (documented, whose
/// client payloads select the switch's target while one is asked for): the next client
/// payload, here `handleUnauthenticated`'s reload after a 401, keeps the session shown.
///
/// Catches `world/calls.rs: delete match arm CallKind::SetActive in World::call_answer`.
#[test]
fn a_refused_switch_leaves_no_preference_behind() {
    let tail = [
        fault(FaultKind::ServerError { status: 500 }, Endpoint::Touch, 1),
        Event::SetActive,
        Event::Advance { ms: 1_000 },
        fault(FaultKind::Unauthorized, Endpoint::Tokens, 1),
        Event::GetToken { skip_cache: true, template: None },
        Event::Advance { ms: 1_000 },
    ];
    let trace = two_sessions_then(ProfileId::Documented, &tail);
    assert!(
        matches!(settled(&trace, CallKind::SetActive)[..], [CallResult::Error { .. }]),
        "the switch is refused"
    );
    let reloaded = trace.steps[9..]
        .iter()
        .flat_map(|s| &s.obs.happenings)
        .any(|h| matches!(h, Happening::RequestSent { endpoint: Endpoint::GetClient, .. }));
    assert!(reloaded, "the 401 reloads the client");
    let shown = trace.steps.last().unwrap().obs.view.session.map(|s| s.id);
    assert_eq!(shown, Some(SessionId(2)), "still the session the server holds active");
}

/// The article's API wrapper retries a backend 401 once, after a forced token refresh; a
/// second 401 is the call's error (`api_error` 401), not another refresh. Here the backend
/// is slower than a session token's life, so every token has expired when it arrives.
///
/// Catches `world/calls.rs: replace match guard attempt == 1 with true in
/// World::api_backend_reply`.
#[test]
fn the_api_wrapper_retries_a_backend_401_once() {
    for profile in ProfileId::ALL {
        let mut setup = Setup::new(Platform::Ios, profile);
        setup.net.backend_latency_ms = 70_000;
        let events = [
            Event::ColdStart,
            Event::Advance { ms: 1_000 },
            Event::SignIn { task: None },
            Event::Advance { ms: 1_000 },
            Event::ApiCall { path: AppPath::home() },
            Event::Advance { ms: 600_000 },
        ];
        let trace = run_model(setup, &events, None);
        let hits: Vec<(u8, u16)> = trace
            .steps
            .iter()
            .flat_map(|s| &s.obs.happenings)
            .filter_map(|h| match h {
                Happening::BackendHit { attempt, status, .. } => Some((*attempt, *status)),
                _ => None,
            })
            .collect();
        assert_eq!(hits, [(1, 401), (2, 401)], "{profile}");
        assert!(
            matches!(&settled(&trace, CallKind::ApiCall)[..], [CallResult::Error { status: 401, code }] if code == "api_error"),
            "{profile}: {:?}",
            settled(&trace, CallKind::ApiCall)
        );
    }
}

/// `handleUnauthenticated`'s `GET /v1/client` is retried like any GET on native: 4 tries
/// (clerk-js `fapiClient`), then the failure is rethrown.
///
/// Catches `world/client.rs: replace match guard tries < self.rules.get_tries_max with true`
/// and `replace < with <=` in `World::unauthenticated_answer`.
#[test]
fn handle_unauthenticated_tries_its_client_reload_four_times() {
    for profile in ProfileId::ALL {
        assert_eq!(profile.rules().get_tries_max, 4, "{profile}");
        let setup = Setup::new(Platform::Ios, profile);
        let events = [
            Event::ColdStart,
            Event::Advance { ms: 1_000 },
            Event::SignIn { task: None },
            Event::Advance { ms: 1_000 },
            fault(FaultKind::Unauthorized, Endpoint::Tokens, 1),
            fault(FaultKind::DropBeforeCommit, Endpoint::GetClient, 10),
            Event::GetToken { skip_cache: true, template: None },
            Event::Advance { ms: 30_000 },
        ];
        let trace = run_model(setup, &events, None);
        let reloads = trace.steps[6..]
            .iter()
            .flat_map(|s| &s.obs.happenings)
            .filter(|h| matches!(h, Happening::RequestSent { endpoint: Endpoint::GetClient, .. }))
            .count();
        assert_eq!(reloads, 4, "{profile}");
    }
}
