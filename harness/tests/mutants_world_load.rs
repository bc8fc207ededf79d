//! Tests written for mutants of the model's `Clerk.load()` and the resource cache's recovery
//! reload (`harness/src/model/world/load.rs`, and their jobs in `lifecycle.rs`) that
//! `cargo xtask mutants` found missed: each runs a short event list on the model and pins a
//! behaviour no scenario observed. The mutant each one catches is named above it (file:
//! mutation, as cargo-mutants prints it).

use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
use session_harness::model::time::VTime;
use session_harness::model::vocab::{
    CallKind, Endpoint, Event, FaultKind, FaultSpec, Happening, Network, Platform,
    StorageFaultKind, StorageFaultSpec, StorageKey, StorageOp,
};
use session_harness::trace::{Trace, run_model};

/// A fault on the next request to `on`.
fn fault(kind: FaultKind, on: Endpoint) -> Event {
    Event::Fault(FaultSpec { kind, count: 1, on: Some(on) })
}

/// Every happening of the trace, in order.
fn happenings(trace: &Trace) -> impl Iterator<Item = &Happening> {
    trace.steps.iter().flat_map(|s| &s.obs.happenings)
}

/// The requests sent to `endpoint`, by instant.
fn sent(trace: &Trace, endpoint: Endpoint) -> Vec<VTime> {
    happenings(trace)
        .filter_map(|h| match h {
            Happening::RequestSent { at, endpoint: e, .. } if *e == endpoint => Some(*at),
            _ => None,
        })
        .collect()
}

/// The documented contract: `load()` is `Promise.all([environment, client])`, which rejects
/// at the first failure; a GET of that failed load whose fetch threw is not tried again
/// (`Profile::load_get_outlives_load` is false: only clerk-js 6 keeps retrying it), and the
/// load's own retry (3 s later) sends both GETs anew.
///
/// Catches `world/lifecycle.rs: replace && with || in World::run_js` (the `GetRetry` of the
/// failed attempt sent while the app still loads).
#[test]
fn a_failed_loads_other_get_is_not_retried() {
    let events = [
        fault(FaultKind::DropBeforeCommit, Endpoint::Environment),
        fault(FaultKind::ServerError { status: 500 }, Endpoint::GetClient),
        Event::ColdStart,
        Event::Advance { ms: 4_000 },
    ];
    let trace = run_model(Setup::new(Platform::Ios, ProfileId::Documented), &events, None);
    // The first try at 0 (its fetch throws at 50 ms, while the client GET's 500 fails the
    // load), the load's retry at 3.050 s.
    assert_eq!(sent(&trace, Endpoint::Environment), [VTime(0), VTime(3_050)]);
    assert_eq!(sent(&trace, Endpoint::GetClient), [VTime(0), VTime(3_050)]);
}

/// The resource cache's recovery reload is `Promise.all` too, and each retry a new one
/// (shared/reference/clerk-expo-behaviour.md §5.4: retries of
/// `__internal_reloadInitialResources` on `network_error` or non-4xx): a client answer of an
/// earlier reload, whose environment GET failed, is not taken for a later reload's. Here the
/// load fails (500), reload 1 (3.050 s) loses its environment GET and its client GET takes
/// 5 s, reload 2 (5.100 s) has its environment at once and its client 10 s later: the
/// recovery completes, and writes the client to the cache, when reload 2's client answers,
/// not when reload 1's does.
///
/// Catches `world/lifecycle.rs: replace += with -= in World::run_js` and
/// `world/load.rs: replace += with -= in World::reload_answer` (either gives reload 2
/// reload 1's attempt number, and reload 1's late client completes it).
#[test]
fn a_later_recovery_reload_ignores_an_earlier_ones_answer() {
    for profile in ProfileId::ALL {
        let mut setup = Setup::new(Platform::Ios, profile);
        setup.sdk.resource_cache = true;
        let events = [
            fault(FaultKind::ServerError { status: 500 }, Endpoint::Environment),
            Event::ColdStart,
            fault(FaultKind::DropBeforeCommit, Endpoint::Environment),
            fault(FaultKind::Latency { ms: 5_000 }, Endpoint::GetClient),
            fault(FaultKind::Latency { ms: 10_000 }, Endpoint::GetClient),
            Event::Advance { ms: 20_000 },
        ];
        let trace = run_model(setup, &events, None);
        assert_eq!(
            sent(&trace, Endpoint::GetClient),
            [VTime(0), VTime(3_050), VTime(5_100)],
            "{profile}: the load and two reloads"
        );
        let done: Vec<VTime> = happenings(&trace)
            .filter_map(|h| match h {
                Happening::RequestDone { at, endpoint: Endpoint::GetClient, .. } => Some(*at),
                _ => None,
            })
            .collect();
        assert_eq!(done, [VTime(50), VTime(8_050), VTime(15_100)], "{profile}");
        let cached: Vec<VTime> = happenings(&trace)
            .filter_map(|h| match h {
                Happening::StorageWritten { at, key: StorageKey::CachedClient, .. } => Some(*at),
                _ => None,
            })
            .collect();
        assert_eq!(cached, [VTime(15_100)], "{profile}: recovered with reload 2's own client");
    }
}

/// The recovery reload's client seeds the token cache like any client payload (clerk-js
/// `updateClient` / `#hydrateCache`: the selected session's `lastActiveToken`): after a
/// load that failed offline, with the cached client unreadable, the reload signs the user
/// back in and the next `getToken()` is answered from the cache, without a request.
///
/// Catches `world/load.rs: delete ! in World::reload_answer` (the documented profile's
/// reload seeding nothing).
#[test]
fn the_recovery_reload_seeds_the_token_cache() {
    let mut setup = Setup::new(Platform::Ios, ProfileId::Documented);
    setup.sdk.resource_cache = true;
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 1_000 },
        Event::Kill,
        Event::StorageFault(StorageFaultSpec {
            op: StorageOp::Read,
            kind: StorageFaultKind::Throw,
            count: 1,
            key: Some(StorageKey::CachedClient),
        }),
        Event::Network { state: Network::Offline },
        Event::ColdStart,
        Event::Advance { ms: 2_500 },
        Event::Network { state: Network::Online },
        Event::Advance { ms: 5_000 },
        Event::GetToken { skip_cache: false, template: None },
        Event::Advance { ms: 1_000 },
    ];
    let trace = run_model(setup, &events, None);
    let degraded = &trace.steps[8].obs.view;
    assert_eq!(degraded.is_signed_in, Some(false), "loaded from nothing: signed out");
    let recovered = &trace.steps[10].obs.view;
    assert_eq!(recovered.is_signed_in, Some(true), "the reload signs the user back in");
    let call = &trace.steps[11].obs.happenings;
    assert!(
        call.iter().any(|h| matches!(h, Happening::CallSettled { kind: CallKind::GetToken, .. })),
        "answered at once: {call:?}"
    );
    let tail: Vec<&Happening> = trace.steps[11..].iter().flat_map(|s| &s.obs.happenings).collect();
    assert!(
        !tail
            .iter()
            .any(|h| matches!(h, Happening::RequestSent { endpoint: Endpoint::Tokens, .. })),
        "from the cache: {tail:?}"
    );
}

/// Whoever waited for `load()` goes on, once it is loaded, in the order they began waiting
/// (`World::finish_load`: "the calls, and the native bootstrap's `addOnLoaded` at its place
/// among them"; shared/reference/clerk-expo-behaviour.md §4: the 3.x bootstrap's poll found
/// a session, then waits for JS to load before its `setActive`). With a slow client GET, a
/// sign-in tapped before the bootstrap's poll finds the native session sends its request
/// before the bootstrap's touch; one tapped after, after it. Only where the bootstrap waits
/// for the load (`boot_waits_for_load`: documented; 3.2.x's bootstrap under clerk-js-6 sets
/// the session active at once, since clerk-js has no `addOnLoaded`).
///
/// Catches `world/load.rs: replace <= with > in World::finish_load` (the bootstrap's place
/// taken before the calls it came after, and after those it came before).
#[test]
fn load_waiters_go_on_in_the_order_they_began_waiting() {
    let waiting: Vec<ProfileId> =
        ProfileId::ALL.into_iter().filter(|p| p.rules().boot_waits_for_load).collect();
    assert!(!waiting.is_empty(), "a profile whose bootstrap waits for the load");
    for profile in waiting {
        for (tap_at, order) in
            [(20, [Endpoint::SignIn, Endpoint::Touch]), (200, [Endpoint::Touch, Endpoint::SignIn])]
        {
            let mut setup = Setup::new(Platform::Ios, profile);
            setup.sdk.native = true;
            let events = [
                // A native sign-in in a first process: the keychain keeps its client.
                Event::ColdStart,
                Event::Advance { ms: 1_000 },
                Event::NativeSignIn,
                Event::Advance { ms: 1_000 },
                Event::Kill,
                // The next start's client GET takes a second; the bootstrap's second poll
                // (100 ms) finds the native session meanwhile.
                fault(FaultKind::Latency { ms: 1_000 }, Endpoint::GetClient),
                Event::ColdStart,
                Event::Advance { ms: tap_at },
                Event::SignIn { task: None },
                Event::Advance { ms: 2_000 },
            ];
            let trace = run_model(setup, &events, None);
            let sent: Vec<Endpoint> = trace.steps[9]
                .obs
                .happenings
                .iter()
                .filter_map(|h| match h {
                    Happening::RequestSent { endpoint, .. }
                        if matches!(endpoint, Endpoint::SignIn | Endpoint::Touch) =>
                    {
                        Some(*endpoint)
                    }
                    _ => None,
                })
                .collect();
            assert_eq!(sent, order, "{profile}, sign-in tapped at +{tap_at} ms");
        }
    }
}
