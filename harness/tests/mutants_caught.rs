//! Tests written for mutants that `cargo xtask mutants` found missed: each pins a behaviour
//! of the model or the reference SDK that no other test observed. The mutant each one
//! catches is named above it (file:line: mutation, as cargo-mutants prints it).
//!
//! `cargo xtask mutants` runs this binary with the others (every `harness/tests/mutants_*.rs`).

use session_harness::model::profile::ProfileId;
use session_harness::model::server::{
    FapiRequest, ReplyBody, Server, TEST_USER_IDENTIFIER, TEST_USER_PASSWORD,
};
use session_harness::model::settings::{InstanceSettings, SettingsError};
use session_harness::model::time::{DAY_MS, DurationError, VTime, parse_duration};
use session_harness::model::vocab::{AppPath, SessionId, SessionStatus};

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
    let mut server = Server::new(InstanceSettings::default());
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
/// Catches `time.rs: replace * with +` in `DURATION_MS_MAX` and `settings.rs: replace * with +`
/// in `MAX_LIFETIME_MS_MAX` (each would make the limit 365 days and 10 ms).
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
