//! Tests written for mutants that `cargo xtask mutants` found missed in the model's shared
//! vocabulary and its clock: `model/vocab/**` (ids, events, happenings, their wire names and
//! `Display`) and `model/time.rs` (instants, the duration syntax). Each pins a behaviour no
//! other test observed and names the mutants it catches (file:line: mutation, as
//! cargo-mutants prints it).
//!
//! `cargo xtask mutants` runs this binary with the others (every `harness/tests/mutants_*.rs`).

use session_harness::model::server::ClientToken;
use session_harness::model::time::{DurationError, EPOCH_UNIX_MS, VTime, parse_duration};
use session_harness::model::vocab::{
    AppPath, AppState, AppStateFaultKind, AppStateFaultSpec, CallId, CallKind, ClientId, Event,
    FaultKind, FaultSpec, Happening, Network, StorageFaultKind, StorageFaultSpec, StorageKey,
    StorageOp, TEMPLATE_NAME_LEN_MAX, TEMPLATE_NAME_PATTERN, TaskKey, TemplateName,
    TemplateNameError,
};

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

/// One event of every kind (the `instance` wrapper left out).
fn one_of_each_event() -> Vec<Event> {
    let template = Some(TemplateName::parse("supabase").unwrap());
    let events = vec![
        Event::Advance { ms: 1_000 },
        Event::ColdStart,
        Event::Kill,
        Event::JsReload,
        Event::Reinstall,
        Event::AppState { state: AppState::Background },
        Event::Network { state: Network::Offline },
        Event::Network { state: Network::Hanging },
        Event::SignIn { task: Some(TaskKey::SetupMfa) },
        Event::NativeSignIn,
        Event::CompleteTask,
        Event::GetToken { skip_cache: true, template },
        Event::ApiCall { path: AppPath::home() },
        Event::Navigate { path: AppPath::home() },
        Event::SessionEnd,
        Event::SessionRemove,
        Event::SignOut,
        Event::SetActive,
        Event::Revoke,
        Event::ExpireNow,
        Event::AbandonNow,
        Event::Replace,
        Event::Fault(FaultSpec { kind: FaultKind::Unauthorized, count: 1, on: None }),
        Event::StorageFault(StorageFaultSpec {
            op: StorageOp::Read,
            kind: StorageFaultKind::Throw,
            count: 1,
            key: None,
        }),
        Event::ClearFaults,
        Event::LockDevice,
        Event::UnlockDevice,
        Event::Reboot,
        Event::BackgroundWake { ms: 1_000 },
        Event::RestoreBackup,
        Event::DeviceSleep { ms: 1_000 },
        Event::ClockSkew { ms: -1_000 },
        Event::AppStateFault(AppStateFaultSpec { kind: AppStateFaultKind::Drop, count: 1 }),
    ];
    let names: std::collections::BTreeSet<&str> = events.iter().map(|e| e.name()).collect();
    assert_eq!(names.len() + 1, Event::NAMES.len(), "every kind but `instance`");
    events
}

/// Only an SDK instance's own calls may be addressed to a headless instance: the
/// `Event::ADDRESSABLE` ones (sign-in, tasks, tokens, API calls, session end and removal,
/// sign-out, setActive); "navigation and the native layer belong to the app", and so do the
/// device, the server and the clock.
///
/// Catches `vocab/events.rs:426:9: replace Event::is_addressable -> bool with true`.
#[test]
fn only_an_sdk_instances_own_calls_are_addressable() {
    let addressable = [
        "sign_in",
        "complete_task",
        "get_token",
        "api_call",
        "session_end",
        "session_remove",
        "sign_out",
        "set_active",
    ];
    assert_eq!(Event::ADDRESSABLE, addressable);
    for event in one_of_each_event() {
        assert_eq!(event.is_addressable(), addressable.contains(&event.name()), "{event}");
    }
    let wrapped = Event::Instance { n: 1, step: Box::new(Event::SignOut) };
    assert!(!wrapped.is_addressable(), "an instance event is not itself addressable");
}

/// Coverage counts an event under its name, and an event addressed to a headless instance
/// under `instance:` and the name of the event it carries (`Event::coverage_name`), so
/// headless instances are tracked apart from the UI; every such name is one of
/// `Event::COVERAGE_NAMES`.
///
/// Catches both constant replacements of `vocab/events.rs:433:9: Event::coverage_name`, and
/// each `delete match arm "…"` in it (`sign_in`, `complete_task`, `get_token`, `api_call`,
/// `session_end`, `session_remove`, `sign_out`, `set_active`).
#[test]
fn coverage_names_tell_headless_instances_apart() {
    for event in one_of_each_event() {
        assert_eq!(event.coverage_name(), event.name(), "{event}");
        assert!(Event::COVERAGE_NAMES.contains(&event.coverage_name()), "{event}");
        let addressed = Event::Instance { n: 1, step: Box::new(event.clone()) };
        let expected = if event.is_addressable() {
            format!("instance:{}", event.name())
        } else {
            "instance".to_string()
        };
        assert_eq!(addressed.coverage_name(), expected, "{addressed}");
    }
    let headless: Vec<&str> =
        Event::COVERAGE_NAMES.iter().copied().filter(|n| n.starts_with("instance:")).collect();
    assert_eq!(headless.len(), Event::ADDRESSABLE.len());
}

/// The device's own events, the part an external adapter must implement or refuse as
/// `unsupported` (`Event::is_device`): storage faults, a hanging network, lock, unlock,
/// reboot, background wakes, a backup restored, sleep, clock skew and AppState faults. An
/// app's or user's event, the server's, and the plain network states are not.
///
/// Catches `vocab/events.rs:514:9: replace Event::is_device -> bool with true` / `with
/// false`.
#[test]
fn the_device_events_are_the_devices_part() {
    let device = [
        "storage_fault",
        "lock_device",
        "unlock_device",
        "reboot",
        "background_wake",
        "restore_backup",
        "device_sleep",
        "clock_skew",
        "app_state_fault",
    ];
    for event in one_of_each_event() {
        let expected = match &event {
            Event::Network { state } => *state == Network::Hanging,
            other => device.contains(&other.name()),
        };
        assert_eq!(event.is_device(), expected, "{event}");
    }
}

/// A `get_token` step prints as the scenario writes it: its name, then its template and
/// `skip_cache` when given (a plain one is just `get_token`).
#[test]
fn a_get_token_step_prints_its_template_and_skip_cache() {
    let template = Some(TemplateName::parse("supabase").unwrap());
    let cases = [
        (false, None, "get_token"),
        (true, None, "get_token skip_cache"),
        (false, template, "get_token template=supabase"),
        (true, template, "get_token template=supabase skip_cache"),
    ];
    for (skip_cache, template, printed) in cases {
        assert_eq!(Event::GetToken { skip_cache, template }.to_string(), printed);
    }
}

/// The native layer's keychain items (`clerkDeviceToken`, `cachedClient`) are ClerkKit's,
/// written `AfterFirstUnlockThisDeviceOnly` whatever class the JS token cache uses
/// (reference/clerk-expo-behaviour.md §6.2, "Keychain"): on a locked iPhone they stay
/// readable where a `when_unlocked` item of the JS SDK is refused (`StorageKey::is_native`).
///
/// Catches `vocab/happenings.rs:138:9: replace StorageKey::is_native -> bool with false`.
#[test]
fn the_native_layers_items_stay_readable_on_a_locked_iphone() {
    use session_harness::model::device::{Access, Device, Payload};
    use session_harness::model::vocab::{KeychainAccessible, Platform, StorageError};
    let native: Vec<StorageKey> = StorageKey::ALL.into_iter().filter(|k| k.is_native()).collect();
    assert_eq!(native, [StorageKey::NativeDeviceToken, StorageKey::NativeCachedClient]);

    let mut device = Device::with_class(Platform::Ios, KeychainAccessible::WhenUnlocked);
    for key in StorageKey::ALL {
        device.write_native(key, Payload::Environment);
    }
    device.lock();
    for key in StorageKey::ALL {
        let read = device.sdk_read(key);
        if key.is_native() {
            assert!(matches!(read, Access::Done(Some(_))), "{key:?}: {read:?}");
        } else {
            assert_eq!(read, Access::Failed(StorageError::Locked), "{key:?}");
        }
    }
}

/// A call or request of the UI's SDK instance is saved without an `instance` field, one of a
/// headless instance with it, and both read back the same (`Happening::CallStarted`: "0,
/// the UI's, is left out").
///
/// Catches both constant replacements of `vocab/happenings.rs:179:5: is_ui` and
/// `replace == with != in is_ui`.
#[test]
fn the_ui_instance_is_left_out_of_saved_happenings() {
    for instance in [0u8, 1, 2] {
        let started = Happening::CallStarted {
            at: VTime(5),
            call: CallId(7),
            kind: CallKind::GetToken,
            instance,
        };
        let saved = serde_json::to_value(&started).unwrap();
        assert_eq!(saved.get("instance").is_some(), instance != 0, "{saved}");
        if instance != 0 {
            assert_eq!(saved["instance"], instance);
        }
        let back: Happening = serde_json::from_value(saved).unwrap();
        assert_eq!(back, started);
    }
}

/// A template name longer than the limit is refused with the name cut a little past the
/// limit: enough to see where it runs over (more than the limit's 32 characters), not the
/// whole of an arbitrarily long input (at most 8 more).
///
/// Catches `vocab/template.rs:52:73: replace + with -` and `replace + with *` in
/// `TemplateName::parse`.
#[test]
fn a_long_template_name_is_shown_cut_a_little_past_the_limit() {
    let long: String = ('a'..='z').cycle().take(1_000).collect();
    match TemplateName::parse(&long) {
        Err(TemplateNameError::TooLong(shown)) => {
            assert!(long.starts_with(&shown), "{shown}");
            assert!(shown.len() > TEMPLATE_NAME_LEN_MAX, "{shown}");
            assert!(shown.len() <= TEMPLATE_NAME_LEN_MAX + 8, "{shown}");
        }
        other => panic!("too long expected, got {other:?}"),
    }
}

/// A template name debug-prints as the name it is, and its JSON Schema (the scenario and
/// the adapter protocol schemas, `schema/*.schema.json`, `$defs/TemplateName`) is a string
/// of `TEMPLATE_NAME_PATTERN`, which accepts exactly the names `TemplateName::parse`
/// accepts.
///
/// Catches `vocab/template.rs:77:9: replace <impl fmt::Debug for TemplateName>::fmt`, the
/// four replacements of `vocab/template.rs:99:9: schema_name` and `vocab/template.rs:103:9:
/// replace <impl schemars::JsonSchema for TemplateName>::json_schema -> schemars::Schema
/// with Default::default()`.
#[test]
fn a_template_name_debug_prints_and_has_its_schema() {
    let name = TemplateName::parse("supabase").unwrap();
    assert!(format!("{name:?}").contains("supabase"), "{name:?}");

    // Named `TemplateName` where another schema refers to it.
    let events = serde_json::to_value(schemars::schema_for!(Event)).unwrap();
    let def = &events["$defs"]["TemplateName"];
    assert_eq!(def["type"], "string", "{def}");
    assert_eq!(def["pattern"], TEMPLATE_NAME_PATTERN, "{def}");

    let schema = serde_json::to_value(schemars::schema_for!(TemplateName)).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let max = "x".repeat(TEMPLATE_NAME_LEN_MAX);
    let over = "x".repeat(TEMPLATE_NAME_LEN_MAX + 1);
    for text in ["supabase", "a-b_C9", max.as_str(), "", "a/b", "a b", "é", over.as_str()] {
        let valid = validator.is_valid(&serde_json::json!(text));
        assert_eq!(valid, TemplateName::parse(text).is_ok(), "`{text}`");
    }
    assert!(!validator.is_valid(&serde_json::json!(3)), "a name is a string");
}
