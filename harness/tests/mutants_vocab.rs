//! Tests written for mutants that `cargo xtask mutants` found missed in the model's shared
//! vocabulary and its clock: `model/vocab/**` (ids, events, happenings, their wire names and
//! `Display`) and `model/time.rs` (instants, the duration syntax). Each pins a behaviour no
//! other test observed and names the mutants it catches (file:line: mutation, as
//! cargo-mutants prints it).
//!
//! `cargo xtask mutants` runs this binary with the others (every `harness/tests/mutants_*.rs`).

use session_harness::model::server::ClientToken;
use session_harness::model::time::{DurationError, EPOCH_UNIX_MS, VTime, parse_duration};
use session_harness::model::vocab::ClientId;

/// A Unix-milliseconds reading (the dev server's wall clock, its admin API's `unix_ms`) is
/// the virtual instant that many milliseconds after the virtual epoch, and a reading before
/// the epoch is the epoch (`VTime::from_unix_ms`, the inverse of `VTime::unix_ms`).
///
/// Catches `time.rs:68:9: replace VTime::from_unix_ms -> VTime with Default::default()`.
#[test]
fn a_unix_millisecond_reading_is_the_instant_after_the_epoch() {
    assert_eq!(VTime::from_unix_ms(EPOCH_UNIX_MS + 1_500), VTime(1_500));
    for at in [VTime::ZERO, VTime(1), VTime(86_400_123)] {
        assert_eq!(VTime::from_unix_ms(at.unix_ms()), at, "round trip of {at}");
    }
    assert_eq!(VTime::from_unix_ms(EPOCH_UNIX_MS - 1), VTime::ZERO);
    assert_eq!(VTime::from_unix_ms(0), VTime::ZERO);
}

/// A decimal duration has one point: a number with a second one is a bad decimal number,
/// even where the digits read before it (at most nine fraction digits are read) would make
/// a whole number of milliseconds (`parse_duration`'s doc: `1.5s` is the decimal form).
///
/// Catches `time.rs:179:52: replace || with && in parse_duration` (`1.0000000001.5s` would
/// read as `1.000000000s`, and `1.1234567891.5s` be refused for another reason).
#[test]
fn a_second_decimal_point_is_a_bad_decimal_number() {
    for bad in ["1.0000000001.5s", "1.1234567891.5s", "1.2.3s", "2.000000000.0m"] {
        match parse_duration(bad) {
            Err(DurationError::Malformed { input, reason }) => {
                assert_eq!((input.as_str(), reason.as_str()), (bad, "bad decimal number"));
            }
            other => panic!("{bad}: malformed expected, got {other:?}"),
        }
    }
    assert_eq!(parse_duration("1.000000000s"), Ok(1_000), "nine fraction digits read");
}

/// A client token as a trace names it (`ClientTokenTag`, the message of
/// `superseded-token-never-presented`) prints its client, epoch and version.
///
/// Catches `vocab/mod.rs:338:9: replace <impl fmt::Display for ClientTokenTag>::fmt ->
/// fmt::Result with Ok(Default::default())`.
#[test]
fn a_client_token_tag_prints_its_client_epoch_and_version() {
    let token = ClientToken { client: ClientId(3), epoch: 2, version: 9 };
    assert_eq!(token.tag().to_string(), "client_3 e2 v9");
    let next = ClientToken { version: 10, ..token };
    assert_eq!(next.tag().to_string(), "client_3 e2 v10");
}
