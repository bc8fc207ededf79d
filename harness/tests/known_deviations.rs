//! The `clerk-js-6` profile's known deviations, shown one by one: each event sequence breaks
//! the named invariant under `clerk-js-6` and keeps it under `documented`. Together with
//! `runner::KNOWN_DEVIATIONS` this is the list the property test allows, so a deviation that
//! stops happening (or a new one) is noticed.

use session_harness::invariants::InvariantId;
use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
use session_harness::model::time::{MINUTE_MS, SECOND_MS};
use session_harness::model::vocab::*;
use session_harness::runner::{self, KNOWN_DEVIATIONS};

fn advance(ms: u64) -> Event {
    Event::Advance { ms }
}

fn fault(kind: FaultKind, on: Option<Endpoint>) -> Event {
    Event::Fault(FaultSpec { kind, count: 1, on })
}

fn signed_in(task: Option<TaskKey>) -> Vec<Event> {
    vec![Event::ColdStart, advance(SECOND_MS), Event::SignIn { task }, advance(SECOND_MS)]
}

/// Runs `events` under both profiles: `id` must break under clerk-js-6 only.
fn check(id: InvariantId, setup: impl Fn(ProfileId) -> Setup, events: &[Event]) {
    let documented = runner::run_model(setup(ProfileId::Documented), events, None);
    assert!(
        documented.report.violations.is_empty(),
        "documented must hold every invariant: {:#?}",
        documented.report.violations
    );
    let clerk = runner::run_model(setup(ProfileId::ClerkJs6), events, None);
    assert!(
        clerk.report.broken().contains(&id),
        "clerk-js-6 should break `{id}`, broke {:?}",
        clerk.report.broken()
    );
    assert!(runner::only_known_deviations(ProfileId::ClerkJs6, &clerk.report));
}

fn ios(profile: ProfileId) -> Setup {
    Setup::new(Platform::Ios, profile)
}

#[test]
fn a_failed_load_leaves_get_token_hanging() {
    let events = [
        fault(FaultKind::ServerError { status: 500 }, Some(Endpoint::Environment)),
        Event::ColdStart,
        Event::GetToken { skip_cache: false, template: None },
        advance(30 * MINUTE_MS),
    ];
    check(InvariantId::CallsSettle, ios, &events);
}

#[test]
fn a_clock_ahead_of_the_server_refreshes_every_few_seconds() {
    let mut events = vec![Event::ColdStart, advance(SECOND_MS), Event::ClockSkew { ms: 33_000 }];
    events.extend([Event::SignIn { task: None }, advance(MINUTE_MS)]);
    check(InvariantId::OneRefreshSchedule, ios, &events);
}

#[test]
fn a_clock_behind_the_server_serves_expired_tokens() {
    let mut events = signed_in(None);
    events.extend([
        Event::ClockSkew { ms: -5 * MINUTE_MS as i64 },
        // The next refresh's token looks good for 5 more minutes on the device.
        advance(2 * MINUTE_MS),
        Event::GetToken { skip_cache: false, template: None },
        advance(SECOND_MS),
    ]);
    check(InvariantId::FreshTokenOnly, ios, &events);
}

#[test]
fn an_offline_start_is_never_retried() {
    let mut events = signed_in(None);
    events.extend([
        Event::Kill,
        Event::Network { state: Network::Offline },
        Event::ColdStart,
        advance(5 * MINUTE_MS),
        Event::Network { state: Network::Online },
        advance(3 * MINUTE_MS),
    ]);
    check(InvariantId::EventuallySignedIn, ios, &events);
}

#[test]
fn concurrent_skip_cache_calls_each_send_a_request() {
    let mut events = signed_in(None);
    events.extend([
        Event::GetToken { skip_cache: true, template: None },
        Event::GetToken { skip_cache: true, template: None },
        advance(SECOND_MS),
    ]);
    check(InvariantId::SingleFlightRefresh, ios, &events);
}

#[test]
fn retry_after_is_ignored() {
    let mut events = signed_in(None);
    events.extend([
        fault(FaultKind::RateLimited { retry_after_ms: 30 * SECOND_MS }, Some(Endpoint::Tokens)),
        Event::GetToken { skip_cache: true, template: None },
        advance(MINUTE_MS),
    ]);
    check(InvariantId::RetryDiscipline, ios, &events);
}

#[test]
fn a_5xx_on_the_unauthenticated_reload_signs_out() {
    let mut events = signed_in(None);
    events.extend([
        fault(FaultKind::Unauthorized, Some(Endpoint::Tokens)),
        fault(FaultKind::ServerError { status: 500 }, Some(Endpoint::GetClient)),
        Event::GetToken { skip_cache: true, template: None },
        advance(SECOND_MS),
    ]);
    check(InvariantId::TransientNeverSignsOut, ios, &events);
}

#[test]
fn offline_with_the_resource_cache_returns_an_expired_token() {
    let mut events = signed_in(None);
    events.extend([
        Event::Network { state: Network::Offline },
        advance(2 * MINUTE_MS),
        Event::GetToken { skip_cache: false, template: None },
        advance(5 * MINUTE_MS),
    ]);
    let setup = |p| {
        let mut s = ios(p);
        s.sdk.resource_cache = true;
        s
    };
    check(InvariantId::FreshTokenOnly, setup, &events);
}

#[test]
fn a_late_answer_after_an_offline_sign_out_writes_the_credential_back() {
    let mut events = signed_in(None);
    events.extend([
        Event::GetToken { skip_cache: true, template: None },
        Event::Network { state: Network::Offline },
        Event::SignOut,
        advance(SECOND_MS),
    ]);
    // With the resource cache the offline sign-out's network error is swallowed: signed out
    // locally (without it, the sign-out fails and the app stays loading, signout-settles).
    let setup = |p| {
        let mut s = ios(p);
        s.sdk.resource_cache = true;
        s
    };
    check(InvariantId::SignoutIsFinal, setup, &events);
}

#[test]
fn a_pending_session_ended_in_the_background_is_never_noticed() {
    let mut events = signed_in(Some(TaskKey::ChooseOrganization));
    events.extend([
        Event::AppState { state: AppState::Background },
        advance(2 * MINUTE_MS),
        Event::Revoke,
        Event::AppState { state: AppState::Active },
        advance(5 * MINUTE_MS),
    ]);
    check(InvariantId::TerminalIsFinal, ios, &events);
}

#[test]
fn a_failed_sign_out_leaves_the_app_loading_with_its_credential() {
    let mut events = signed_in(None);
    events.extend([
        fault(FaultKind::ServerError { status: 503 }, Some(Endpoint::RemoveSessions)),
        Event::SignOut,
        advance(SECOND_MS),
    ]);
    check(InvariantId::SignoutSettles, ios, &events);
}

#[test]
fn a_refresh_after_a_failed_sign_out_signs_out_while_loading() {
    let mut events = signed_in(None);
    events.extend([Event::Network { state: Network::Offline }, Event::SignOut, advance(SECOND_MS)]);
    events.extend([Event::Network { state: Network::Online }, advance(MINUTE_MS)]);
    check(InvariantId::NothingDestructiveWhileLoading, ios, &events);
}

#[test]
fn a_late_answer_stores_a_superseded_client_token() {
    // Two token requests in flight, the first answered 5 s late: clerk-js-6 stores its older
    // rotated client token last and presents it 20 s on, outside a 10 s grace.
    let mut events = signed_in(None);
    events.extend([
        fault(FaultKind::Latency { ms: 5 * SECOND_MS }, Some(Endpoint::Tokens)),
        Event::GetToken { skip_cache: true, template: None },
        Event::GetToken { skip_cache: true, template: None },
        advance(20 * SECOND_MS),
        Event::GetToken { skip_cache: true, template: None },
        advance(SECOND_MS),
    ]);
    let setup = |p| {
        let mut s = ios(p);
        s.instance.token_reuse.grace =
            session_harness::model::settings::ReuseGrace::WindowMs(10 * SECOND_MS);
        s
    };
    check(InvariantId::SupersededTokenNeverPresented, setup, &events);
}

#[test]
fn a_late_answer_writes_a_sessionless_client_over_the_native_one() {
    // A token request for the first client answers 10 s late. Meanwhile the session is removed
    // and the user signs in natively: JS adopts the native client's token, which restores the
    // new session. The late answer's after-response hook then stores the first client's token
    // (no session) over it.
    let mut events = signed_in(None);
    events.extend([
        fault(FaultKind::Latency { ms: 10 * SECOND_MS }, Some(Endpoint::Tokens)),
        Event::GetToken { skip_cache: true, template: None },
        Event::SessionRemove,
        advance(SECOND_MS),
        Event::NativeSignIn,
        advance(10 * SECOND_MS),
    ]);
    let setup = |p| {
        let mut s = ios(p);
        s.sdk.native = true;
        s
    };
    check(InvariantId::OneWriterPerCredential, setup, &events);
}

/// A committed scenario's first variant under both profiles: `ids` must break under
/// clerk-js-6 only.
fn check_scenario(name: &str, text: &str, ids: &[InvariantId]) {
    let scenario = session_harness::scenario::parse(name, text).expect("the scenario parses");
    let base = scenario.variants[0].setup;
    for &id in ids {
        check(id, |p| Setup { profile: p, ..base }, &scenario.events);
    }
}

#[test]
fn a_throwing_keychain_read_signs_js_out_while_native_keeps_the_session() {
    // The scenario found by a reference campaign: its events and setup, under both profiles.
    check_scenario(
        "keychain-throws-after-native-sign-in.yaml",
        include_str!("../../scenarios/native/keychain-throws-after-native-sign-in.yaml"),
        &[InvariantId::LayersAgree],
    );
}

#[test]
fn a_switch_to_a_pending_session_signs_the_native_layer_out() {
    // The 3.x NativeSessionSync counts a pending session as signed out: its native signOut()
    // removes the session the native layer picked up on its foreground refresh.
    check_scenario(
        "pending-switch-signs-native-out.yaml",
        include_str!("../../scenarios/native/pending-switch-signs-native-out.yaml"),
        &[InvariantId::OneWriterPerCredential],
    );
}

#[test]
fn the_android_bootstrap_signs_js_out_of_its_own_session() {
    // Android sends JS no native sign-in event: the bootstrap's setActive names a session on
    // the native layer's own client, which the client JS holds does not list (clerk-js: null).
    check_scenario(
        "android-bootstrap-drops-js-session.yaml",
        include_str!("../../scenarios/native/android-bootstrap-drops-js-session.yaml"),
        &[InvariantId::TransientNeverSignsOut],
    );
}

#[test]
fn an_offline_sign_out_with_the_resource_cache_keeps_the_credential() {
    // The swallowed network_error: signed out on screen, the client token still stored.
    check_scenario(
        "sign-out-offline-resource-cache.yaml",
        include_str!("../../scenarios/profiles/sign-out-offline-resource-cache.yaml"),
        &[InvariantId::SignoutSettles, InvariantId::SignoutIsFinal],
    );
}

#[test]
fn a_sign_out_before_the_native_adoption_lands_keeps_the_credential() {
    // signOut returns at once while the client JS holds lists no session.
    check_scenario(
        "sign-out-before-native-adoption.yaml",
        include_str!("../../scenarios/native/sign-out-before-native-adoption.yaml"),
        &[InvariantId::SignoutSettles],
    );
}

#[test]
fn every_known_deviation_is_shown_here() {
    let source = include_str!("known_deviations.rs");
    for d in KNOWN_DEVIATIONS {
        let variant = format!("{:?}", d.invariant);
        assert!(
            [",", "]"].iter().any(|end| source.contains(&format!("InvariantId::{variant}{end}"))),
            "no test shows `{}`",
            d.invariant
        );
    }
}
