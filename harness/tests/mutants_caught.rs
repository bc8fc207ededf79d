//! Tests written for mutants that `cargo xtask mutants` found missed: each pins a behaviour
//! of the model or the reference SDK that no other test observed. The mutant each one
//! catches is named above it (file:line: mutation, as cargo-mutants prints it).
//!
//! `cargo xtask mutants` runs this binary with the others (every `harness/tests/mutants_*.rs`).

use session_harness::model::profile::ProfileId;
use session_harness::model::server::{
    FapiRequest, ReplyBody, Server, TEST_USER_IDENTIFIER, TEST_USER_PASSWORD,
};
use session_harness::model::settings::InstanceSettings;
use session_harness::model::time::VTime;
use session_harness::model::vocab::SessionId;

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

    // … and a removal on the dashboard.
    let (mut server, token, sid) = signed_in();
    let client = server.resolve_client(Some(token)).unwrap();
    assert!(server.remove_session(sid, VTime(20)));
    assert!(server.client(client).unwrap().sessions.is_empty(), "dashboard: off the list");
}
