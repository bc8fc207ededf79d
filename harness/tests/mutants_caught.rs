//! Tests written for mutants that `cargo xtask mutants` found missed: each pins a behaviour
//! of the model or the reference SDK that no other test observed. The mutant each one
//! catches is named above it (file:line: mutation, as cargo-mutants prints it).
//!
//! `cargo xtask mutants` runs this binary with the others (every `harness/tests/mutants_*.rs`).

use session_harness::model::profile::ProfileId;
use session_harness::model::server::{
    FapiRequest, ReplyBody, Server, TEST_USER_IDENTIFIER, TEST_USER_PASSWORD,
};
use session_harness::model::settings::{InstanceSettings, SettingsError, Setup};
use session_harness::model::time::{DAY_MS, DurationError, MINUTE_MS, VTime, parse_duration};
use session_harness::model::vocab::{
    AppPath, CallResult, Endpoint, Event, FaultKind, FaultSpec, Happening, Platform, SessionId,
    SessionStatus,
};
use session_harness::trace::run_model;

/// The Expo resource-cache recovery backoff (shared/reference/clerk-js-behaviour.md, table
/// of timings): base 2000 ms after a network error, 10000 ms after another non-4xx failure,
/// doubled per attempt up to exponent 4, capped at 30000 ms — under both profiles.
///
/// Catches `profile.rs: replace * with + ` in the `10 * SECOND_MS` base and
/// `replace Profile::resource_retry_delay_ms -> u64 with 1`.
#[test]
fn resource_cache_recovery_backs_off_as_expo_does() {
    for id in ProfileId::ALL {
        let p = id.rules();
        let network: Vec<u64> = (0..7).map(|n| p.resource_retry_delay_ms(n, true)).collect();
        let other: Vec<u64> = (0..7).map(|n| p.resource_retry_delay_ms(n, false)).collect();
        assert_eq!(
            network,
            [2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000],
            "{id}: network-error backoff"
        );
        assert_eq!(
            other,
            [10_000, 20_000, 30_000, 30_000, 30_000, 30_000, 30_000],
            "{id}: other-failure backoff"
        );
        assert_eq!(p.resource_retry_first_ms, 3_000, "{id}: first retry");
    }
}

/// A signed-in server with one client: its token and the session.
fn signed_in() -> (Server, session_harness::model::server::ClientToken, SessionId) {
    signed_in_with(InstanceSettings::default())
}

/// A removed session leaves its client's list (`Client::sessions`: "`removed` sessions
/// leave this list"), whichever way it is removed, and the client payload stops carrying it.
///
/// Catches `server.rs: replace != with == in Server::detach`.
#[test]
fn a_removed_session_leaves_its_clients_list() {
    // `DELETE /v1/client/sessions/{sid}` …
    let (mut server, token, sid) = signed_in();
    let client = server.resolve_client(Some(token)).expect("the token is current");
    assert_eq!(server.client(client).unwrap().sessions, vec![sid], "signed in: listed");
    let reply = server.handle(Some(token), &FapiRequest::Remove { sid }, VTime(20));
    assert!(reply.is_ok(), "{reply:?}");
    assert!(server.client(client).unwrap().sessions.is_empty(), "removed: off the list");
    assert!(server.client_view(client, VTime(30)).sessions.is_empty(), "and off the payload");

    // … sign-out of every session (`DELETE /v1/client/sessions`) …
    let (mut server, token, _) = signed_in();
    let client = server.resolve_client(Some(token)).unwrap();
    let reply = server.handle(Some(token), &FapiRequest::RemoveSessions, VTime(20));
    assert!(reply.is_ok(), "{reply:?}");
    assert!(server.client(client).unwrap().sessions.is_empty(), "signed out: off the list");

    // … and a removal on the dashboard, which says whether it removed anything.
    //
    // Also catches `server.rs: replace Server::remove_session -> bool with true`.
    let (mut server, token, sid) = signed_in();
    let client = server.resolve_client(Some(token)).unwrap();
    assert!(server.remove_session(sid, VTime(20)), "a signed-in session is removed");
    assert!(server.client(client).unwrap().sessions.is_empty(), "dashboard: off the list");
    assert_eq!(server.status_of(sid, VTime(30)), Some(SessionStatus::Removed));
    assert!(!server.remove_session(sid, VTime(40)), "a removed session is not removed twice");
}

/// The longest duration anything accepts is ten years (DESIGN.md §5: the longest session
/// lifetime an instance may configure), to the millisecond: in scenario durations and in
/// instance settings.
///
/// Catches `time.rs: replace * with +` in `DURATION_MS_MAX` (the limit would be 365 days
/// and 10 ms) and the same mutants of `MAX_LIFETIME_MS_MAX`.
#[test]
fn ten_years_is_the_limit_to_the_millisecond() {
    let ten_years = 3650 * DAY_MS;
    assert_eq!(parse_duration("3650d"), Ok(ten_years));
    assert!(matches!(parse_duration("3650d1ms"), Err(DurationError::TooLong { .. })));

    let with = |life: Option<u64>, idle: Option<u64>| InstanceSettings {
        max_lifetime_ms: life,
        inactivity_timeout_ms: idle,
        ..InstanceSettings::default()
    };
    assert_eq!(with(Some(ten_years), None).validate(), Ok(()), "a 10-year lifetime");
    assert_eq!(with(None, Some(ten_years)).validate(), Ok(()), "a 10-year inactivity timeout");
    for (field, settings) in [
        ("max_lifetime_ms", with(Some(ten_years + 1), None)),
        ("inactivity_timeout_ms", with(None, Some(ten_years + 1))),
    ] {
        match settings.validate() {
            Err(SettingsError::OutOfRange { field: f, value, .. }) => {
                assert_eq!((f, value), (field, ten_years + 1));
            }
            other => panic!("{field} of 10 years and 1 ms is refused, got {other:?}"),
        }
    }
}

/// The lower limits of instance settings, to the millisecond, as the Dashboard enforces
/// them: a maximum lifetime of at least 5 minutes, a token lifetime of 1 s ..= 1 h, an
/// inactivity timeout of at least 1 minute.
///
/// Catches `settings.rs:43:40: replace * with +` (`MAX_LIFETIME_MS_MIN` would be 60.005 s)
/// and its kin on the other limits.
#[test]
fn instance_settings_limits_hold_to_the_millisecond() {
    let base = InstanceSettings::default();
    let cases: [(&str, InstanceSettings, bool); 8] = [
        (
            "max_lifetime_ms",
            InstanceSettings { max_lifetime_ms: Some(5 * MINUTE_MS), ..base },
            true,
        ),
        (
            "max_lifetime_ms",
            InstanceSettings { max_lifetime_ms: Some(5 * MINUTE_MS - 1), ..base },
            false,
        ),
        ("session_token_ttl_ms", InstanceSettings { session_token_ttl_ms: 1_000, ..base }, true),
        ("session_token_ttl_ms", InstanceSettings { session_token_ttl_ms: 999, ..base }, false),
        (
            "session_token_ttl_ms",
            InstanceSettings { session_token_ttl_ms: 60 * MINUTE_MS, ..base },
            true,
        ),
        (
            "session_token_ttl_ms",
            InstanceSettings { session_token_ttl_ms: 60 * MINUTE_MS + 1, ..base },
            false,
        ),
        (
            "inactivity_timeout_ms",
            InstanceSettings { inactivity_timeout_ms: Some(MINUTE_MS), ..base },
            true,
        ),
        (
            "inactivity_timeout_ms",
            InstanceSettings { inactivity_timeout_ms: Some(MINUTE_MS - 1), ..base },
            false,
        ),
    ];
    for (field, settings, accepted) in cases {
        match (settings.validate(), accepted) {
            (Ok(()), true) => {}
            (Err(SettingsError::OutOfRange { field: f, .. }), false) => assert_eq!(f, field),
            (other, _) => panic!("{field}: accepted {accepted} expected, got {other:?}"),
        }
    }
}

/// Every session status reads back from its wire name (the dev server's admin API takes
/// statuses by name), and an unknown name is refused.
///
/// Catches `vocab.rs: replace SessionStatus::parse -> Option<Self> with None`.
#[test]
fn session_statuses_round_trip_through_their_names() {
    for status in SessionStatus::ALL {
        assert_eq!(SessionStatus::parse(status.as_str()), Some(status), "{status}");
    }
    assert_eq!(SessionStatus::parse("signed_in"), None);
    assert_eq!(SessionStatus::parse(""), None);
}

/// An app path reads back as written (violation reports name the `return_to` path by it).
///
/// Catches `vocab.rs: replace AppPath::as_str -> &str with ""`.
#[test]
fn an_app_path_reads_back_as_written() {
    for path in ["/home", "/checkout", "/settings/profile"] {
        assert_eq!(AppPath::new(path).as_str(), path);
    }
    assert_eq!(AppPath::home().as_str(), "/home");
}

/// `clerk-js-6` serves `getToken` from its cache only while *more than* 5 s of the token
/// remain (`hit_min_remaining_ms`): 5001 ms left is a cache hit, exactly 5000 ms left goes to
/// FAPI. The background refresh is failed with 503s so the cached token stays the one issued
/// at sign-in.
///
/// Catches `world.rs: replace > with >= in World::token_begin`.
#[test]
fn the_token_cache_hits_only_while_more_than_the_margin_remains() {
    let setup = Setup::new(Platform::Android, ProfileId::ClerkJs6);
    let mut events = vec![
        Event::ColdStart,
        Event::Advance { ms: 5_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        Event::Fault(FaultSpec {
            kind: FaultKind::ServerError { status: 503 },
            count: 1_000,
            on: Some(Endpoint::Tokens),
        }),
    ];
    // The token sign-in cached, as a getToken right away returns it.
    let token_of = |step: &session_harness::trace::TraceStep| {
        step.obs.happenings.iter().find_map(|h| match h {
            Happening::CallSettled { result: CallResult::Token { token }, .. } => Some(*token),
            _ => None,
        })
    };
    let mut probe = events.clone();
    probe.push(Event::GetToken { skip_cache: false, template: None });
    let probed = run_model(setup, &probe, None);
    let exp =
        token_of(probed.steps.last().unwrap()).expect("the signed-in session has a token").exp;
    let before = run_model(setup, &events, None);
    let now = before.end().unix_ms();
    let margin = ProfileId::ClerkJs6.rules().hit_min_remaining_ms;
    assert_eq!(margin, 5_000, "clerk-js-6 keeps a 5 s margin");
    events.push(Event::Advance { ms: 0 });
    for (left, hits) in [(margin + 1, true), (margin, false)] {
        let mut run = events.clone();
        *run.last_mut().unwrap() = Event::Advance { ms: exp * 1000 - left - now };
        run.push(Event::GetToken { skip_cache: false, template: None });
        let trace = run_model(setup, &run, None);
        let step = trace.steps.last().unwrap();
        let sent = step
            .obs
            .happenings
            .iter()
            .any(|h| matches!(h, Happening::RequestSent { endpoint: Endpoint::Tokens, .. }));
        let cached = token_of(step).is_some_and(|t| t.exp == exp);
        assert_eq!(
            (cached, sent),
            (hits, !hits),
            "{left} ms left: cache hit {hits}; happenings {:?}",
            step.obs.happenings
        );
    }
}

/// With the resource cache, a cold start whose `GET /v1/client` fails renders from the cache
/// and keeps retrying in the background until FAPI answers: the first retry after 3 s, then
/// 10 s × 2ⁿ after a 5xx (Expo's `RESOURCE_RETRY_*`), each failed retry scheduling the next.
///
/// Catches `world.rs: replace match guard a.is_ok() with true in World::reload_answer` (a
/// failed retry taken for an answer schedules no further retry).
#[test]
fn a_failed_resource_cache_reload_schedules_the_next_one() {
    let mut setup = Setup::new(Platform::Android, ProfileId::Documented);
    setup.sdk.resource_cache = true;
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 5_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        Event::Kill,
        Event::Fault(FaultSpec {
            kind: FaultKind::ServerError { status: 503 },
            count: 3,
            on: Some(Endpoint::GetClient),
        }),
        Event::ColdStart,
        Event::Advance { ms: 120_000 },
    ];
    let trace = run_model(setup, &events, None);
    let after_restart = || trace.steps[6..].iter().flat_map(|s| &s.obs.happenings);
    let sent: Vec<u64> = after_restart()
        .filter_map(|h| match h {
            Happening::RequestSent { at, endpoint: Endpoint::GetClient, .. } => Some(at.ms()),
            _ => None,
        })
        .collect();
    // Cold start at 10 s; each answer takes 50 ms.
    assert_eq!(sent, [10_000, 13_050, 23_100, 43_150], "load, then three background retries");
    let answers: Vec<String> = after_restart()
        .filter_map(|h| match h {
            Happening::RequestDone { endpoint: Endpoint::GetClient, outcome, .. } => {
                Some(format!("{outcome:?}"))
            }
            _ => None,
        })
        .collect();
    assert_eq!(answers.len(), 4, "{answers:?}");
    assert!(answers[3].contains("200"), "the fourth attempt is answered: {answers:?}");
    let view = &trace.steps.last().unwrap().obs.view;
    assert!(view.is_loaded && view.is_signed_in == Some(true), "{view:?}");
}

/// When the JS runtime dies (kill, JS reload), the reference SDK's microtask queue drops
/// every task: a task waiting on a promise never resumes, even once the promise resolves.
///
/// Catches `exec.rs: replace Executor::clear with ()`.
#[test]
fn a_cleared_executor_never_resumes_its_tasks() {
    use session_harness::sdk::reference::exec::{Executor, Promise};
    use std::cell::RefCell;
    use std::rc::Rc;

    let exec = Executor::default();
    let promise: Promise<u32> = Promise::new();
    let resumed = Rc::new(RefCell::new(Vec::new()));
    for i in 0..3 {
        let (p, resumed) = (promise.clone(), resumed.clone());
        exec.spawn(async move {
            let v = p.wait().await;
            resumed.borrow_mut().push((i, v));
        });
    }
    assert!(exec.run(), "the tasks start");
    assert_eq!(exec.len(), 3, "and wait on the promise");
    exec.clear();
    assert!(exec.is_empty(), "the runtime died: no task is left");
    promise.resolve(7);
    assert!(!exec.run(), "nothing is left to run");
    assert!(resumed.borrow().is_empty(), "no task resumed after the runtime died");
}

/// Expo's `useAuth().getToken` wrapper (reference §1.5) is on only with the resource cache:
/// offline, once clerk-js gives up, it answers with the session token kept in storage
/// (expired or not); without the resource cache the call fails. Run on the reference SDK in
/// lockstep with the model.
///
/// Catches `js.rs: delete ! in Core::expo_use_auth`.
#[test]
fn offline_get_token_falls_back_to_the_stored_token_only_with_the_resource_cache() {
    use session_harness::model::vocab::Network;
    use session_harness::runner::lockstep;

    for resource_cache in [true, false] {
        let mut setup = Setup::new(Platform::Android, ProfileId::ClerkJs6);
        setup.sdk.resource_cache = resource_cache;
        let events = [
            Event::ColdStart,
            Event::Advance { ms: 5_000 },
            Event::SignIn { task: None },
            Event::Advance { ms: 5_000 },
            Event::Network { state: Network::Offline },
            Event::Advance { ms: 120_000 },
            Event::GetToken { skip_cache: false, template: None },
            // Long enough for every retry of the call.
            Event::Advance { ms: 600_000 },
        ];
        let run = lockstep::run_reference(setup, &[], &events, None);
        assert!(run.divergence().is_none(), "the reference SDK agrees with the model");
        let settled: Vec<&CallResult> = run.sdk.steps[6..]
            .iter()
            .flat_map(|s| &s.obs.happenings)
            .filter_map(|h| match h {
                Happening::CallSettled { result, .. } => Some(result),
                _ => None,
            })
            .collect();
        assert_eq!(settled.len(), 1, "resource cache {resource_cache}: {settled:?}");
        let got_token = matches!(settled[0], CallResult::Token { .. });
        assert_eq!(got_token, resource_cache, "resource cache {resource_cache}: {settled:?}");
    }
}

/// A stored value's size: only a corrupt (truncated or half-written) value is empty.
///
/// Catches `device.rs: replace Payload::is_empty -> bool with false`.
#[test]
fn only_a_corrupt_payload_is_empty() {
    use session_harness::model::device::{ENVIRONMENT_BYTES, Payload};

    assert!(Payload::Corrupt.is_empty());
    assert_eq!(Payload::Corrupt.len(), 0);
    assert!(!Payload::Environment.is_empty());
    assert_eq!(Payload::Environment.len(), ENVIRONMENT_BYTES);
}

/// A fault queued for every endpoint applies only where it can: a 401 never answers
/// `GET /v1/client` (clerk-js would recurse, reference §1.4) and `missing_expired_token`
/// answers only token requests; the fault waits for the next request it fits.
///
/// Catches `server.rs: replace fault_applies -> bool with true`.
#[test]
fn a_fault_waits_for_an_endpoint_it_applies_to() {
    for (kind, refused, fits) in [
        (FaultKind::Unauthorized, Endpoint::GetClient, Endpoint::Tokens),
        (FaultKind::MissingExpiredToken, Endpoint::GetClient, Endpoint::Tokens),
        (FaultKind::MissingExpiredToken, Endpoint::Touch, Endpoint::Tokens),
    ] {
        let mut server = Server::new(InstanceSettings::default());
        server.push_fault(FaultSpec { kind, count: 1, on: None });
        assert_eq!(server.take_fault(refused), None, "{kind:?} never answers {refused:?}");
        assert_eq!(server.take_fault(fits), Some(kind), "{kind:?} answers {fits:?}");
        assert_eq!(server.take_fault(fits), None, "a count of 1 is spent");
    }
    // Any other fault answers whatever request comes next.
    let mut server = Server::new(InstanceSettings::default());
    server.push_fault(FaultSpec { kind: FaultKind::DropBeforeCommit, count: 1, on: None });
    assert_eq!(server.take_fault(Endpoint::GetClient), Some(FaultKind::DropBeforeCommit));
}

/// A request's outcome has an HTTP status only when it was answered.
///
/// Catches `vocab.rs: replace RequestOutcome::status -> Option<u16> with None`.
#[test]
fn only_an_answered_request_has_a_status() {
    use session_harness::model::vocab::RequestOutcome;

    let answered = RequestOutcome::Answered { status: 503, retry_after_ms: None };
    assert_eq!(answered.status(), Some(503));
    assert_eq!(RequestOutcome::NetworkError { committed: true }.status(), None);
}

/// After a failed cold-start load, the resource cache restores the environment too, so the
/// SDK still knows the instance is a session minter: under `clerk-js-6` its next token request
/// carries the last session token, which expired while the app was closed, and the server
/// refuses to re-mint from it (401). The reference SDK agrees with the model step by step.
///
/// Catches `js.rs: delete match arm Some(Payload::Environment) in Core::load_failed` (without
/// the environment the SDK would send no token and get a fresh one).
#[test]
fn a_degraded_load_keeps_the_cached_environment() {
    use session_harness::runner::lockstep;

    let mut setup = Setup::new(Platform::Android, ProfileId::ClerkJs6);
    setup.sdk.resource_cache = true;
    setup.instance.session_minter = true;
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 5_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        Event::GetToken { skip_cache: false, template: None },
        Event::Advance { ms: 1_000 },
        Event::Kill,
        // Closed for two minutes: the 60 s session token expires.
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
    assert!(run.divergence().is_none(), "the reference SDK agrees with the model");
    let last = run.sdk.steps.last().unwrap();
    let tokens: Vec<String> = last
        .obs
        .happenings
        .iter()
        .filter_map(|h| match h {
            Happening::RequestDone { endpoint: Endpoint::Tokens, outcome, .. } => {
                Some(format!("{outcome:?}"))
            }
            _ => None,
        })
        .collect();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert!(tokens[0].contains("401"), "the expired carried token is refused: {tokens:?}");
    let settled = last.obs.happenings.iter().find_map(|h| match h {
        Happening::CallSettled { result, .. } => Some(result),
        _ => None,
    });
    assert!(
        matches!(settled, Some(CallResult::Error { status: 401, .. })),
        "getToken fails with the 401: {settled:?}"
    );
}

/// Offline under `documented` with the resource cache, `getToken` answers the cached session
/// token only while it has time left: one millisecond before its expiry it is returned, at
/// the expiry instant the call fails as a network error. Run on the reference SDK in lockstep
/// with the model.
///
/// Catches `sdk/reference/js/tokens.rs: replace > with >= in Core::token_next`.
#[test]
fn offline_a_cached_token_is_served_until_its_last_millisecond() {
    use session_harness::model::time::EPOCH_UNIX_MS;
    use session_harness::model::vocab::Network;
    use session_harness::runner::lockstep;

    let mut setup = Setup::new(Platform::Ios, ProfileId::Documented);
    setup.sdk.resource_cache = true;
    let start = [
        Event::ColdStart,
        Event::Advance { ms: 5_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        Event::GetToken { skip_cache: false, template: None },
        Event::Advance { ms: 1_000 },
        Event::Network { state: Network::Offline },
    ];
    let offline_at = 11_000;
    let tokens = |run: &lockstep::LockstepOutcome, from: usize| -> Vec<CallResult> {
        run.sdk.steps[from..]
            .iter()
            .flat_map(|s| &s.obs.happenings)
            .filter_map(|h| match h {
                Happening::CallSettled { result, .. } => Some(result.clone()),
                _ => None,
            })
            .collect()
    };
    let run = lockstep::run_reference(setup, &[], &start, None);
    let Some(CallResult::Token { token }) = tokens(&run, 4).first().cloned() else {
        panic!("the online getToken answers a token")
    };
    let expires_at = token.exp * 1_000 - EPOCH_UNIX_MS;
    assert!(expires_at > offline_at, "the token outlives the move offline");
    for (before_expiry, served) in [(1, true), (0, false)] {
        let mut events = start.to_vec();
        events.push(Event::Advance { ms: expires_at - offline_at - before_expiry });
        events.push(Event::GetToken { skip_cache: false, template: None });
        events.push(Event::Advance { ms: 1_000 });
        let run = lockstep::run_reference(setup, &[], &events, None);
        assert!(run.divergence().is_none(), "the reference SDK agrees with the model");
        let settled = tokens(&run, start.len() + 1);
        assert_eq!(settled.len(), 1, "{before_expiry} ms before expiry: {settled:?}");
        let got = matches!(&settled[0], CallResult::Token { token: t } if t.exp == token.exp);
        assert_eq!(got, served, "{before_expiry} ms before expiry: {settled:?}");
    }
}

/// The digest of a client snapshot tells client ids apart, also ids that share bits with
/// the snapshot tag (`2 ^ id`: ids 0 and 2 differ).
///
/// Catches `device.rs: replace ^ with | in Payload::digest` (the `2 ^ view.id.0` of a
/// client snapshot: `2 | 0 == 2 | 2`).
#[test]
fn client_snapshot_digests_tell_client_ids_apart() {
    use session_harness::model::device::Payload;
    use session_harness::model::server::ClientView;
    use session_harness::model::vocab::ClientId;
    use std::sync::Arc;
    let view = |id| {
        Payload::Client(Arc::new(ClientView {
            id: ClientId(id),
            sessions: vec![],
            last_active_session: None,
        }))
    };
    let digests: Vec<u64> = (0..4).map(|id| view(id).digest()).collect();
    for a in 0..4 {
        for b in a + 1..4 {
            assert_ne!(digests[a], digests[b], "clients {a} and {b}");
        }
    }
}

/// JS runs only in an app that is running: a device whose app is not running (fresh, or
/// killed) runs no JS, awake and in the foreground or not.
///
/// Catches `device.rs: replace && with || in Device::js_runs`.
#[test]
fn no_js_runs_in_an_app_that_is_not_running() {
    use session_harness::model::device::Device;
    for platform in [Platform::Ios, Platform::Android] {
        let mut device = Device::new(platform);
        assert!(!device.running);
        assert!(!device.js_runs(), "{platform:?}: not running");
        device.running = true;
        assert!(device.js_runs(), "{platform:?}: running in the foreground");
        device.asleep = true;
        assert!(!device.js_runs(), "{platform:?}: asleep");
    }
}

/// The stored credential is unreadable under a read fault on it (or on every key), and
/// readable under a write or delete fault, or a read fault on another key.
///
/// Catches `device.rs: replace && with ||`, and both `replace == with !=`, in
/// `Device::credential_readable`.
#[test]
fn only_a_read_fault_on_the_credential_makes_it_unreadable() {
    use session_harness::model::device::Device;
    use session_harness::model::vocab::{
        StorageFaultKind, StorageFaultSpec, StorageKey, StorageOp,
    };
    let fault = |op, key| StorageFaultSpec { op, kind: StorageFaultKind::Throw, count: 1, key };
    let cases = [
        (fault(StorageOp::Read, Some(StorageKey::ClientJwt)), false),
        (fault(StorageOp::Read, None), false),
        (fault(StorageOp::Write, Some(StorageKey::ClientJwt)), true),
        (fault(StorageOp::Delete, None), true),
        (fault(StorageOp::Read, Some(StorageKey::CachedClient)), true),
    ];
    for (spec, readable) in cases {
        let mut device = Device::new(Platform::Ios);
        assert!(device.credential_readable(), "no fault");
        device.storage_faults.push(spec);
        assert_eq!(device.credential_readable(), readable, "{spec:?}");
    }
}

/// Only an Android app before the first unlock may not run in the background (it is not
/// direct-boot aware); iOS may, and Android may once unlocked or locked again.
///
/// Catches `device.rs: replace Device::may_run_in_background -> bool with true` and
/// `replace == with !=` in it.
#[test]
fn only_android_before_the_first_unlock_keeps_the_app_from_running() {
    use session_harness::model::device::Device;
    use session_harness::model::vocab::Protection;
    for (platform, protection, may) in [
        (Platform::Android, Protection::BeforeFirstUnlock, false),
        (Platform::Android, Protection::Unlocked, true),
        (Platform::Android, Protection::Locked, true),
        (Platform::Ios, Protection::BeforeFirstUnlock, true),
        (Platform::Ios, Protection::Unlocked, true),
    ] {
        let mut device = Device::new(platform);
        device.protection = protection;
        assert_eq!(device.may_run_in_background(), may, "{platform:?} {protection:?}");
    }
}

/// A scripted fault with a count of zero does nothing: it is not queued (a queued one would
/// be consumed, and its count would underflow).
///
/// Catches `device.rs: replace > with >=` in `Device::push_app_state_fault` and in
/// `Device::push_storage_fault`.
#[test]
fn a_fault_scripted_zero_times_is_not_queued() {
    use session_harness::model::device::Device;
    use session_harness::model::vocab::{
        AppStateFaultKind, AppStateFaultSpec, StorageFaultKind, StorageFaultSpec, StorageOp,
    };
    let mut device = Device::new(Platform::Android);
    device.push_app_state_fault(AppStateFaultSpec { kind: AppStateFaultKind::Drop, count: 0 });
    device.push_storage_fault(StorageFaultSpec {
        op: StorageOp::Read,
        kind: StorageFaultKind::Throw,
        count: 0,
        key: None,
    });
    assert!(device.app_state_faults.is_empty());
    assert!(device.storage_faults.is_empty());
    device.push_app_state_fault(AppStateFaultSpec { kind: AppStateFaultKind::Drop, count: 1 });
    assert_eq!(device.app_state_faults.len(), 1, "a count of one is queued");
}

/// With no fault and no delay setting, JS hears an AppState change at once, not late.
///
/// Catches `device.rs: replace match guard self.app_state_delay_ms == 0 with false in
/// Device::deliver_app_state`.
#[test]
fn an_app_state_change_with_no_delay_is_heard_at_once() {
    use session_harness::model::device::{AppStateHeard, Device};
    use session_harness::model::vocab::AppState;
    let mut device = Device::new(Platform::Ios);
    let heard = device.deliver_app_state(AppState::Background);
    assert_eq!(heard, AppStateHeard { now: vec![AppState::Background], late: None });
    device.app_state_delay_ms = 250;
    let heard = device.deliver_app_state(AppState::Active);
    assert_eq!(heard, AppStateHeard { now: vec![], late: Some((250, AppState::Active)) });
}

/// A value written in chunks is cut into `CHUNK_BYTES` pieces, the last one holding the
/// rest, and the largest item is then a whole chunk (the head is a small metadata item).
///
/// Catches `device.rs: replace - with +`, `replace * with +` and `replace * with /` in
/// `Device::write_chunked`, and `replace Device::largest_item -> u32 with 0` / `with 1`.
#[test]
fn a_chunked_value_is_cut_into_whole_chunks_and_the_rest() {
    use session_harness::model::device::{CHUNK_BYTES, Device, METADATA_BYTES, Payload};
    use session_harness::model::server::ClientView;
    use session_harness::model::vocab::{ClientId, StorageKey};
    use std::sync::Arc;
    let mut device = Device::new(Platform::Ios);
    assert_eq!(device.largest_item(), 0, "nothing stored");
    let small = Payload::Client(Arc::new(ClientView {
        id: ClientId(1),
        sessions: vec![],
        last_active_session: None,
    }));
    device.write_chunked(StorageKey::CachedClient, small.clone());
    assert_eq!(device.largest_item(), small.len(), "one small item");
    // The environment (1,400 bytes) takes a whole chunk and a shorter last one.
    let big = Payload::Environment;
    let len = big.len();
    assert!(len > CHUNK_BYTES, "the environment is written in chunks");
    device.write_chunked(StorageKey::CachedEnvironment, big);
    let pieces: Vec<u32> = (1..)
        .map_while(|i| device.storage.get(&(StorageKey::CachedEnvironment, i)).map(|item| item.len))
        .collect();
    let whole = (len / CHUNK_BYTES) as usize;
    let mut expected = vec![CHUNK_BYTES; whole];
    if !len.is_multiple_of(CHUNK_BYTES) {
        expected.push(len % CHUNK_BYTES);
    }
    assert_eq!(pieces, expected, "{len} bytes in {CHUNK_BYTES}-byte chunks");
    assert_eq!(device.storage[&(StorageKey::CachedEnvironment, 0)].len, METADATA_BYTES);
    assert_eq!(device.largest_item(), CHUNK_BYTES.max(small.len()));
}

/// `signed_in`, on a server with `settings`.
fn signed_in_with(
    settings: InstanceSettings,
) -> (Server, session_harness::model::server::ClientToken, SessionId) {
    let mut server = Server::new(settings);
    let reply = server.handle(None, &FapiRequest::GetClient, VTime(0));
    let token = reply.client_token.expect("a new client gets a token");
    let reply = server.handle(
        Some(token),
        &FapiRequest::SignIn {
            identifier: TEST_USER_IDENTIFIER.into(),
            password: TEST_USER_PASSWORD.into(),
        },
        VTime(10),
    );
    let ReplyBody::SignIn { created_session } = reply.body else {
        panic!("the test user signs in: {reply:?}")
    };
    (server, reply.client_token.expect("sign-in rotates the token"), created_session)
}

/// A server's state serialises without the flags and counters that are unset (false, zero),
/// and with them once set, so a saved server reads back the same.
///
/// Catches `server/mod.rs: replace is_false -> bool with true` / `with false`, `delete ! in
/// is_false`, `replace is_zero -> bool with true` / `with false`, `replace == with != in
/// is_zero`.
#[test]
fn a_saved_server_keeps_set_flags_and_leaves_out_unset_ones() {
    let (mut server, _, _) = signed_in();
    let saved = serde_json::to_value(&server).unwrap();
    for field in ["clients_before", "sessions_before"] {
        assert!(saved.get(field).is_none(), "{field} unset: left out");
    }
    for field in ["revoked", "superseded_refused"] {
        assert!(saved["clients"][0].get(field).is_none(), "{field} unset: left out");
    }
    server.clients_before = 3;
    server.sessions_before = 4;
    server.clients[0].revoked = true;
    server.clients[0].superseded_refused = true;
    let saved = serde_json::to_value(&server).unwrap();
    assert_eq!(saved["clients_before"], 3);
    assert_eq!(saved["sessions_before"], 4);
    assert_eq!(saved["clients"][0]["revoked"], true);
    assert_eq!(saved["clients"][0]["superseded_refused"], true);
    let back: Server = serde_json::from_value(saved).unwrap();
    assert!(back.clients[0].revoked && back.clients[0].superseded_refused);
    assert_eq!((back.clients_before, back.sessions_before), (3, 4));
}

/// A client snapshot tells when each session would be abandoned: its last activity plus the
/// instance's inactivity timeout (none without one).
///
/// Catches `server/mod.rs: replace Session::abandon_at -> Option<VTime> with None` and
/// `with Some(Default::default())`.
#[test]
fn a_session_snapshot_carries_its_abandon_instant() {
    let idle = 10 * MINUTE_MS;
    let settings = InstanceSettings { inactivity_timeout_ms: Some(idle), ..Default::default() };
    let (mut server, token, _) = signed_in_with(settings);
    let client = server.resolve_client(Some(token)).unwrap();
    let view = server.client_view(client, VTime(20));
    let snap = &view.sessions[0];
    assert_eq!(snap.abandon_at, Some(snap.last_active_at.plus(idle)));
    assert!(snap.last_active_at >= VTime(10), "{snap:?}");
    let (mut server, token, _) = signed_in();
    let client = server.resolve_client(Some(token)).unwrap();
    assert_eq!(server.client_view(client, VTime(20)).sessions[0].abandon_at, None);
}

/// When both the maximum lifetime and the inactivity timeout have passed, the deadline that
/// came first decides the status; at a tie the session expired.
///
/// Catches `server/mod.rs: replace match guard a < e with true in Server::tick` and
/// `replace < with <= in Server::tick`.
#[test]
fn the_first_deadline_decides_between_expired_and_abandoned() {
    for (life, idle, status) in [
        (10, 5, SessionStatus::Abandoned),
        (10, 10, SessionStatus::Expired),
        (10, 20, SessionStatus::Expired),
    ] {
        let settings = InstanceSettings {
            max_lifetime_ms: Some(life * MINUTE_MS),
            inactivity_timeout_ms: Some(idle * MINUTE_MS),
            ..Default::default()
        };
        let (mut server, _, sid) = signed_in_with(settings);
        let later = VTime(DAY_MS);
        server.tick(later);
        assert_eq!(server.status_of(sid, later), Some(status), "lifetime {life}m, idle {idle}m");
    }
}

/// The upper limits of the reuse grace, of latencies and of the AppState delay hold to the
/// unit: the limit itself is accepted, one more is refused.
///
/// Catches `settings.rs: replace > with ==` / `with >=` and `replace match guard … with
/// false` in `InstanceSettings::validate` (both reuse-grace limits), the same operators in
/// `NetSettings::validate` and `Setup::validate`, and `replace NetSettings::validate ->
/// Result<(), SettingsError> with Ok(())` / `Setup::validate … with Ok(())`.
#[test]
fn upper_limits_of_grace_latency_and_app_state_delay_hold_to_the_unit() {
    use session_harness::model::settings::{
        APP_STATE_DELAY_MS_MAX, LATENCY_MS_MAX, NetSettings, REUSE_GRACE_VERSIONS_MAX,
        REUSE_GRACE_WINDOW_MS_MAX, ReuseGrace,
    };
    let grace = |grace| {
        let mut settings = InstanceSettings::default();
        settings.token_reuse.grace = grace;
        settings.validate()
    };
    assert_eq!(grace(ReuseGrace::Versions(REUSE_GRACE_VERSIONS_MAX)), Ok(()));
    assert_eq!(grace(ReuseGrace::Versions(REUSE_GRACE_VERSIONS_MAX - 1)), Ok(()));
    assert!(grace(ReuseGrace::Versions(REUSE_GRACE_VERSIONS_MAX + 1)).is_err());
    assert_eq!(grace(ReuseGrace::WindowMs(REUSE_GRACE_WINDOW_MS_MAX)), Ok(()));
    assert_eq!(grace(ReuseGrace::WindowMs(REUSE_GRACE_WINDOW_MS_MAX - 1)), Ok(()));
    assert!(grace(ReuseGrace::WindowMs(REUSE_GRACE_WINDOW_MS_MAX + 1)).is_err());

    for (fapi, backend, ok) in [
        (LATENCY_MS_MAX, LATENCY_MS_MAX, true),
        (LATENCY_MS_MAX - 1, 0, true),
        (LATENCY_MS_MAX + 1, 0, false),
        (0, LATENCY_MS_MAX + 1, false),
    ] {
        let net = NetSettings {
            fapi_latency_ms: fapi,
            backend_latency_ms: backend,
            ..Default::default()
        };
        assert_eq!(net.validate().is_ok(), ok, "latencies {fapi} / {backend}");
        let setup = Setup { net, ..Setup::new(Platform::Ios, ProfileId::ALL[0]) };
        assert_eq!(setup.validate().is_ok(), ok, "a setup with latencies {fapi} / {backend}");
    }
    for (delay, ok) in [
        (APP_STATE_DELAY_MS_MAX, true),
        (APP_STATE_DELAY_MS_MAX - 1, true),
        (APP_STATE_DELAY_MS_MAX + 1, false),
    ] {
        let mut setup = Setup::new(Platform::Android, ProfileId::ALL[0]);
        setup.sdk.app_state_delay_ms = delay;
        assert_eq!(setup.validate().is_ok(), ok, "app_state_delay_ms {delay}");
    }
}

/// SDK and network settings serialise without the fields left at their defaults, and with
/// every field set otherwise (setups are saved in scenario exports and reports).
///
/// Catches, in `settings.rs`, both constant replacements of `is_one`, `is_zero`,
/// `is_default_class`, `is_current` and `is_true`, and the `==` to `!=` of the first four.
#[test]
fn settings_serialise_only_what_differs_from_the_default() {
    use session_harness::model::settings::{NativeVariant, NetSettings, SdkSettings};
    use session_harness::model::vocab::KeychainAccessible;
    let fields = ["instances", "app_state_delay_ms", "keychain_accessible", "native_variant"];
    let saved = serde_json::to_value(SdkSettings::default()).unwrap();
    for field in fields {
        assert!(saved.get(field).is_none(), "{field} at its default: left out of {saved}");
    }
    let changed = SdkSettings {
        instances: 2,
        app_state_delay_ms: 5,
        keychain_accessible: KeychainAccessible::WhenUnlocked,
        native_variant: NativeVariant::StaleTokenRefresh,
        ..SdkSettings::default()
    };
    let saved = serde_json::to_value(changed).unwrap();
    for field in fields {
        assert!(saved.get(field).is_some(), "{field} changed: saved in {saved}");
    }
    assert_eq!(serde_json::from_value::<SdkSettings>(saved).unwrap(), changed);

    let saved = serde_json::to_value(NetSettings::default()).unwrap();
    assert!(saved.get("connectivity_initial").is_none(), "{saved}");
    let changed = NetSettings { connectivity_initial: false, ..NetSettings::default() };
    let saved = serde_json::to_value(changed).unwrap();
    assert_eq!(saved["connectivity_initial"], false, "{saved}");
}

/// A decimal duration needs digits on both sides of one point (`1.5s`); `.5s`, `1.s`,
/// `1.2.3s` and a second point after nine fraction digits are malformed, and a virtual
/// instant prints as the reports print it.
///
/// Catches `time.rs: replace || with &&` (both) in `parse_duration` and
/// `replace <impl fmt::Display for VTime>::fmt -> fmt::Result with Ok(Default::default())`.
#[test]
fn decimal_durations_need_digits_on_both_sides_of_one_point() {
    use session_harness::model::time::format_clock;
    assert_eq!(parse_duration("1.5s"), Ok(1_500));
    // The last: a second point past the nine fraction digits that are read.
    for bad in [".5s", "1.s", "1.2.3s", "1.1234567891.5s"] {
        assert!(
            matches!(parse_duration(bad), Err(DurationError::Malformed { .. })),
            "{bad}: {:?}",
            parse_duration(bad)
        );
    }
    let at = VTime(5 * MINUTE_MS + 30_000);
    assert_eq!(at.to_string(), format_clock(at.0));
    assert!(!at.to_string().is_empty());
}

/// A device view serialises `storage_readable` only when it is false, and reads it back as
/// true when absent.
///
/// Catches `vocab/mod.rs: replace yes -> bool with false` and both constant replacements of
/// `is_true`.
#[test]
fn a_device_view_saves_an_unreadable_credential_only() {
    use session_harness::model::device::Device;
    let mut view = Device::new(Platform::Ios).view();
    assert!(view.storage_readable);
    let saved = serde_json::to_value(view).unwrap();
    assert!(saved.get("storage_readable").is_none(), "{saved}");
    let back: session_harness::model::vocab::DeviceView = serde_json::from_value(saved).unwrap();
    assert!(back.storage_readable, "absent reads back as readable");
    view.storage_readable = false;
    let saved = serde_json::to_value(view).unwrap();
    assert_eq!(saved["storage_readable"], false, "{saved}");
}

/// The reference SDK names itself `reference`, with `+defect` for each defect switched on,
/// and reports the defects it was built with (reports and the gate label runs by them).
///
/// Catches `sdk/reference/mod.rs: replace <impl SdkPort for ReferenceSdk>::name -> String
/// with String::new()` / `with "xyzzy".into()` and `replace ReferenceSdk::defects ->
/// Defects with Default::default()`.
#[test]
fn the_reference_sdk_names_itself_and_its_defects() {
    use session_harness::model::settings::Setup;
    use session_harness::model::vocab::Defect;
    use session_harness::sdk::port::SdkPort;
    use session_harness::sdk::reference::ReferenceSdk;
    let setup = Setup::new(Platform::Ios, ProfileId::ALL[0]);
    let plain = ReferenceSdk::new(setup, &[]);
    assert_eq!(plain.name(), "reference");
    assert!(plain.defects().is_empty());
    let defect = Defect::ALL[0];
    let with = ReferenceSdk::new(setup, &[defect]);
    assert_eq!(with.name(), format!("reference+{}", defect.as_str()));
    assert!(with.defects().has(defect));
}

/// clerk-js getToken's retry schedule (reference §1.1: 3000, 4650, 7207.5, 11171.6, 17316,
/// 26840, 41602, 50000 ms; about 161.8 s in all) and the transport's GET retries.
#[test]
fn clerk_js_retry_schedules_match_the_reference() {
    let p = ProfileId::ClerkJs6.rules();
    let delays: Vec<u64> = (0..8).map(|n| p.retry_delay_ms(n)).collect();
    assert_eq!(delays, [3000, 4650, 7207, 11171, 17316, 26839, 41601, 50000]);
    let total = p.retry_budget_ms();
    assert!((161_000..=162_000).contains(&total), "≈161.8 s, got {total}");
    let gets: Vec<u64> = (0..5).map(|k| p.get_retry_delay_ms(k)).collect();
    assert_eq!(gets, [100, 700, 1400, 2800, 5000]);
}

/// clerk-js's token cache arms the refresh `remaining − 17` s ahead "when that is positive"
/// (`tokenCache.setInternal`, whole seconds): a token cached with exactly 17 s left gets an
/// eviction timer only, one with 18 s left a refresh after 1 s; an expired one no timers.
///
/// Catches `profile.rs: replace > with >= in Profile::token_timers`.
#[test]
fn a_token_with_the_refresh_lead_left_arms_no_refresh() {
    use session_harness::model::vocab::{TokenInfo, UserId};
    let rules = ProfileId::ClerkJs6.rules();
    let token = TokenInfo {
        sid: SessionId(1),
        sub: UserId(1),
        iat: 1_000,
        nbf: 990,
        exp: 1_060,
        pending: false,
        serial: 1,
        template: None,
    };
    // 1 043.400 s: ⌊now⌋ = 1 043, so 17 whole seconds are left.
    assert_eq!(rules.token_timers(&token, 1_043_400), Some((17_000, None)));
    assert_eq!(rules.token_timers(&token, 1_042_400), Some((18_000, Some(1_000))));
    assert_eq!(rules.token_timers(&token, 1_060_000), None, "expired: no timers");
}
