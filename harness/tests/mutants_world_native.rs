//! Tests written for mutants of the model's JS side of the native module
//! (`harness/src/model/world/native.rs`) that `cargo xtask mutants` found missed: each runs
//! a short event list on the model with `native: true` and pins a behaviour no scenario
//! observed. The mutant each one catches is named above it (file: mutation, as cargo-mutants
//! prints it).

use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
use session_harness::model::vocab::{
    Endpoint, Event, FaultKind, FaultSpec, Happening, Platform, SessionId,
};
use session_harness::trace::run_model;

/// Two native sign-ins heard in a row on iOS (a multi-session instance) each run their own
/// adoption (shared/reference/clerk-expo-behaviour.md §4: on `onAuthStateChange`,
/// `__internal_reloadInitialResources()` when the client lacks the session, then
/// `setActive` to it): two reloads in flight at once, each `Promise.all` of its own two GETs
/// (`Adopt`, one per group), so both end in their `setActive`, `sess_1`'s then `sess_2`'s,
/// and the app shows the last. Under clerk-js-6, where a reload's client payload is applied
/// whenever it was sent (the documented contract drops the second reload's payload as
/// stale once `sess_1` is current, so only `sess_1` is touched there).
///
/// Catches `world/native.rs: replace += with *= in World::adopt_native_session` (both
/// reloads in one group: the second's answers find it gone and `sess_2` is never activated).
#[test]
fn two_native_sign_ins_in_flight_are_each_adopted() {
    let mut setup = Setup::new(Platform::Ios, ProfileId::ClerkJs6);
    setup.sdk.native = true;
    setup.instance.multi_session = true;
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 5_000 },
        Event::NativeSignIn,
        Event::NativeSignIn,
        Event::Advance { ms: 1_000 },
    ];
    let trace = run_model(setup, &events, None);
    let signed: Vec<Option<SessionId>> = trace.steps[2..4]
        .iter()
        .flat_map(|s| &s.obs.happenings)
        .filter_map(|h| match h {
            Happening::NativeSignedIn { session, .. } => Some(*session),
            _ => None,
        })
        .collect();
    assert_eq!(signed, [Some(SessionId(1)), Some(SessionId(2))], "two native sign-ins");
    let reloads = trace.steps[2..4]
        .iter()
        .flat_map(|s| &s.obs.happenings)
        .filter(|h| matches!(h, Happening::RequestSent { endpoint: Endpoint::GetClient, .. }))
        .count();
    assert_eq!(reloads, 2, "each reloads the client, which lacks its session");
    let last = &trace.steps[4];
    let touched: Vec<Option<SessionId>> = last
        .obs
        .happenings
        .iter()
        .filter_map(|h| match h {
            Happening::RequestSent { endpoint: Endpoint::Touch, sid, .. } => Some(*sid),
            _ => None,
        })
        .collect();
    assert_eq!(touched, [Some(SessionId(1)), Some(SessionId(2))], "{:?}", last.obs.happenings);
    assert_eq!(last.obs.view.session.map(|s| s.id), Some(SessionId(2)), "the last one shown");
}

/// An iOS native sign-in on a multi-session instance while JS shows another session: JS
/// adopts the native session (clerk-expo-behaviour.md §4: `setActive` to it after the
/// client reload), so the app switches to it once the touch answers, the documented contract
/// included (the touch's answer is not stale: no sign-out came between).
///
/// Catches `world/native.rs: replace && with || in World::native_activated` and
/// `world/native.rs: replace != with == in World::native_activated` (either takes the
/// documented touch's answer for stale, and the app stays on the JS session).
#[test]
fn a_native_sign_in_switches_from_the_js_session() {
    for profile in ProfileId::ALL {
        let mut setup = Setup::new(Platform::Ios, profile);
        setup.sdk.native = true;
        setup.instance.multi_session = true;
        let events = [
            Event::ColdStart,
            Event::Advance { ms: 5_000 },
            Event::SignIn { task: None },
            Event::Advance { ms: 1_000 },
            Event::NativeSignIn,
            Event::Advance { ms: 1_000 },
        ];
        let trace = run_model(setup, &events, None);
        let shown = |i: usize| trace.steps[i].obs.view.session.map(|s| s.id);
        assert_eq!(shown(3), Some(SessionId(1)), "{profile}: JS's own sign-in");
        assert_eq!(shown(5), Some(SessionId(2)), "{profile}: the native session adopted");
    }
}

/// A native sign-in heard on iOS under clerk-js 6, whose `setActive` touch fails otherwise
/// than 401 (a 500): JS stays as it was, signed out (`World::native_activated`: "another
/// failure leaves JS as it was"; clerk-js 6 selects no session from a payload once it holds
/// a client, so only `setActive` could show it). With the touch answered, it is shown.
///
/// Catches `world/native.rs: replace || with && in World::native_activated` (the failed
/// touch's session made current).
#[test]
fn a_failed_native_touch_leaves_js_signed_out() {
    let run = |touch_fails: bool| {
        let mut setup = Setup::new(Platform::Ios, ProfileId::ClerkJs6);
        setup.sdk.native = true;
        let mut events = vec![Event::ColdStart, Event::Advance { ms: 5_000 }];
        if touch_fails {
            events.push(Event::Fault(FaultSpec {
                kind: FaultKind::ServerError { status: 500 },
                count: 1,
                on: Some(Endpoint::Touch),
            }));
        }
        events.extend([Event::NativeSignIn, Event::Advance { ms: 1_000 }]);
        run_model(setup, &events, None)
    };
    let trace = run(false);
    let last = trace.steps.last().unwrap();
    assert_eq!(last.obs.view.session.map(|s| s.id), Some(SessionId(1)), "touched: shown");

    let trace = run(true);
    let last = trace.steps.last().unwrap();
    let touched = last.obs.happenings.iter().any(|h| {
        matches!(h, Happening::RequestDone { endpoint: Endpoint::Touch, fault: Some(_), .. })
    });
    assert!(touched, "the touch failed: {:?}", last.obs.happenings);
    assert_eq!(last.obs.view.is_signed_in, Some(false), "{:?}", last.obs.happenings);
}

/// clerk-js 6's `setActive` for the native session awaits `session.getToken()` after its
/// touch when the cache has no token to hit (`Profile::set_active_awaits_token`, measured on
/// the real 3.2.8, see `World::native_activated`; a hit needs more than 5 s left,
/// `hit_min_remaining_ms`): here the touch takes 56 s, or 54.95 s, so that the cached token
/// (minted at 5 s, 60 s) has 3.95 s or exactly 5 s left when it answers, and its refresh
/// failed (500): a token request follows the touch and the native session is shown when it
/// answers.
///
/// Catches `world/native.rs: replace World::js_client_signs_in -> bool with false`,
/// `world/native.rs: replace == with != in World::js_client_signs_in` (shown at the touch,
/// with no token request), `world/native.rs: replace > with >= in World::native_activated`
/// (5 s left taken for a hit) and `world/native.rs: delete ! in
/// World::native_activation_token` (never shown); also `world/transport.rs: replace match
/// guard a.is_ok() with false in World::dispatch` and `world/transport.rs: delete match arm
/// ReplyBody::Token(token) in World::dispatch` (the token answer read as none: never shown).
#[test]
fn clerk_js_6_native_set_active_awaits_its_token() {
    for touch_ms in [56_000, 54_950] {
        let mut setup = Setup::new(Platform::Ios, ProfileId::ClerkJs6);
        setup.sdk.native = true;
        let fault = |kind, on| Event::Fault(FaultSpec { kind, count: 1, on: Some(on) });
        let events = [
            Event::ColdStart,
            Event::Advance { ms: 5_000 },
            fault(FaultKind::Latency { ms: touch_ms }, Endpoint::Touch),
            fault(FaultKind::ServerError { status: 500 }, Endpoint::Tokens),
            Event::NativeSignIn,
            Event::Advance { ms: 60_000 },
        ];
        let trace = run_model(setup, &events, None);
        let last = trace.steps.last().unwrap();
        let h = &last.obs.happenings;
        let touched = h
            .iter()
            .position(|h| matches!(h, Happening::RequestDone { endpoint: Endpoint::Touch, .. }));
        let touched = touched.expect("the touch answers");
        let token = h[touched..].iter().find_map(|h| match h {
            Happening::RequestSent { req, endpoint: Endpoint::Tokens, sid, .. } => {
                Some((*req, *sid))
            }
            _ => None,
        });
        let (req, sid) = token.expect("a token request after the touch");
        assert_eq!(sid, Some(SessionId(1)));
        let answered = h.iter().find_map(|h| match h {
            Happening::RequestDone { at, req: r, .. } if *r == req => Some(*at),
            _ => None,
        });
        let shown = h.iter().find_map(|h| match h {
            Happening::Rendered { at, view } if view.is_signed_in == Some(true) => Some(*at),
            _ => None,
        });
        assert!(answered.is_some());
        assert_eq!(shown, answered, "touch {touch_ms} ms: shown when the token answers: {h:?}");
        assert_eq!(last.obs.view.session.map(|s| s.id), Some(SessionId(1)));
    }
}

/// The native adoption's client reload is `Promise.all` of the environment and client GETs
/// (clerk-expo-behaviour.md §4, `__internal_reloadInitialResources()`): when the environment
/// GET fails (a 500) the promise rejects, the caller swallows it and `setActive` never runs,
/// though the client GET answered with the session (`World::native_adopt_answer`). Under
/// clerk-js 6, whose held client selects no session from a payload, JS stays signed out.
///
/// Catches `world/transport.rs: replace match guard a.is_ok() with true in World::dispatch`
/// (the failed environment GET counted as answered, and the native session touched).
#[test]
fn a_failed_environment_get_rejects_the_native_adoption() {
    let mut setup = Setup::new(Platform::Ios, ProfileId::ClerkJs6);
    setup.sdk.native = true;
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 5_000 },
        Event::Fault(FaultSpec {
            kind: FaultKind::ServerError { status: 500 },
            count: 1,
            on: Some(Endpoint::Environment),
        }),
        Event::NativeSignIn,
        Event::Advance { ms: 1_000 },
    ];
    let trace = run_model(setup, &events, None);
    let after: Vec<&Happening> = trace.steps[3..].iter().flat_map(|s| &s.obs.happenings).collect();
    let reloaded = after
        .iter()
        .filter(|h| {
            matches!(
                h,
                Happening::RequestDone {
                    endpoint: Endpoint::Environment | Endpoint::GetClient,
                    ..
                }
            )
        })
        .count();
    assert_eq!(reloaded, 2, "both GETs answered: {after:?}");
    assert!(
        !after
            .iter()
            .any(|h| matches!(h, Happening::RequestSent { endpoint: Endpoint::Touch, .. })),
        "no setActive: {after:?}"
    );
    assert_eq!(trace.steps[4].obs.view.is_signed_in, Some(false));
}
