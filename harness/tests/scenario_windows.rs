//! `eventually`, `never`, `except` and the device fields of an inline check: each passes where
//! the run shows what it says and fails, with a message naming the moment, where it does not.

use session_harness::scenario::{self, ModelSystem};

const HEAD: &str = "\
schema_version: 1
name: checks/windows
description: inline checks over a window
setup:
  platform: ios
  profile: documented
variants:
  a: {}
  b: {}
steps:
  - cold_start: {}
  - advance: 1s
  - sign_in: {}
";

/// Runs `steps` after a sign-in on the model; the failures of variant `a` and `b`.
fn failures(steps: &str) -> (Vec<String>, Vec<String>) {
    let text = format!("{HEAD}{steps}");
    let s = scenario::parse("t.yaml", &text).unwrap_or_else(|e| panic!("{e}"));
    let run = |name: &str| {
        let v = s.variants.iter().find(|v| v.name == name).expect("the variant exists");
        scenario::run_variant(&s, v, &ModelSystem).expect("the model runs").failures
    };
    (run("a"), run("b"))
}

#[test]
fn eventually_sees_a_render_inside_a_long_advance() {
    // The sign-in lands 100 ms into the hour: only a render inside the step shows it.
    let (a, _) = failures("  - eventually: { within: 1s, route: protected }\n  - advance: 1h\n");
    assert!(a.is_empty(), "{a:?}");
}

#[test]
fn eventually_fails_when_nothing_in_the_window_matches() {
    let (a, _) = failures(
        "  - advance: 5s\n  - network: offline\n  - eventually: { within: 10s, route: sign_in }\n  - advance: 1m\n",
    );
    assert_eq!(a.len(), 1, "{a:?}");
    assert!(a[0].contains("nothing within 10s matched"), "{}", a[0]);
}

#[test]
fn never_fails_at_the_first_moment_that_matches_and_except_skips_a_variant() {
    let (a, b) =
        failures("  - never: { during: 5s, except: [b], route: protected }\n  - advance: 10s\n");
    assert_eq!(a.len(), 1, "{a:?}");
    assert!(a[0].contains("every field matched at t="), "{}", a[0]);
    assert!(b.is_empty(), "`except: [b]` skips b: {b:?}");
}

#[test]
fn device_fields_compare_the_stored_credential_and_storage() {
    let (a, _) = failures(
        "  - advance: 5s\n  - reboot: {}\n  - expect: { storage_readable: false, credential_restores: true }\n  - expect: { storage_readable: true }\n",
    );
    assert_eq!(a.len(), 1, "{a:?}");
    assert!(a[0].contains("storage_readable: expected true, observed false"), "{}", a[0]);
}
