//! Tests written for mutants of the model's JS side of the native module
//! (`harness/src/model/world/native.rs`) that `cargo xtask mutants` found missed: each runs
//! a short event list on the model with `native: true` and pins a behaviour no scenario
//! observed. The mutant each one catches is named above it (file: mutation, as cargo-mutants
//! prints it).

use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
use session_harness::model::vocab::{Endpoint, Event, Happening, Platform, SessionId};
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
