//! Tests written for mutants of the model's world (`harness/src/model/world/**`) that
//! `cargo xtask mutants` found missed: each runs a short event list on the model and pins
//! a behaviour no scenario observed. The mutant each one catches is named above it (file:
//! mutation, as cargo-mutants prints it).

use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
use session_harness::model::vocab::{Endpoint, Event, Happening, Platform, SessionId};
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
