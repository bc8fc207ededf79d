//! Tests written for mutants of the model's token cache (`harness/src/model/world/
//! tokens.rs`) that `cargo xtask mutants` found missed: each runs a short event list on the
//! model and pins a behaviour no scenario observed. The mutant each one catches is named
//! above it (file: mutation, as cargo-mutants prints it).

use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
use session_harness::model::time::VTime;
use session_harness::model::vocab::{
    CallKind, CallResult, Endpoint, Event, FaultKind, FaultSpec, Happening, Platform,
};
use session_harness::trace::run_model;

/// A cached token whose `exp` is now has expired (RFC 7519 §4.1.4: a JWT must not be
/// accepted on or after its `exp`): the documented stale-while-revalidate cache returns a
/// cached token only while it has time left (`remaining > 0`), so `getToken()` at that very
/// millisecond fetches a fresh one. The token minted at the sign-in (t = 1 s, 60 s) expires
/// at t = 61 s; its recurring refresh (45 s later) failed (500), and the documented cache
/// arms no eviction timer, so the entry still holds it when `getToken()` runs at 61 s.
///
/// Catches `world/tokens.rs: replace > with >= in World::token_begin` (the expired token
/// returned from the cache).
#[test]
fn a_token_at_its_exp_is_not_served_from_the_cache() {
    let setup = Setup::new(Platform::Ios, ProfileId::Documented);
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 19_000 },
        Event::Fault(FaultSpec {
            kind: FaultKind::ServerError { status: 500 },
            count: 1,
            on: Some(Endpoint::Tokens),
        }),
        Event::Advance { ms: 41_000 },
        Event::GetToken { skip_cache: false, template: None },
        Event::Advance { ms: 1_000 },
    ];
    let trace = run_model(setup, &events, None);
    let call = &trace.steps[6];
    assert_eq!(call.at, VTime(61_000));
    let expiry_s = VTime(61_000).unix_s();
    let sent = call.obs.happenings.iter().any(|h| {
        matches!(h, Happening::RequestSent { endpoint: Endpoint::Tokens, call: Some(_), .. })
    });
    assert!(sent, "a fetch for the call: {:?}", call.obs.happenings);
    let results: Vec<&CallResult> = trace.steps[6..]
        .iter()
        .flat_map(|s| &s.obs.happenings)
        .filter_map(|h| match h {
            Happening::CallSettled { kind: CallKind::GetToken, result, .. } => Some(result),
            _ => None,
        })
        .collect();
    match results.as_slice() {
        [CallResult::Token { token }] => assert!(token.exp > expiry_s, "a fresh token: {token:?}"),
        other => panic!("one token for the call, got {other:?}"),
    }
}
