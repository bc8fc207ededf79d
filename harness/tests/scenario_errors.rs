//! Broken scenario files: each is rejected with file, line, column and what would be
//! accepted, and none panics. One table, one `check` helper (matklad, "How to Test").

use session_harness::scenario;
use session_harness::scenario::run::SdkChoice;

const BASE: &str = "\
schema_version: 1
name: errors/table
description: a broken file
setup:
  platform: ios
  profile: clerk-js-6
steps:
  - cold_start: {}
";

/// Parses `text` and asserts the error starts with `t.yaml:LINE:COL: ` and contains every
/// fragment.
fn check(text: &str, at: (u64, u64), fragments: &[&str]) {
    let err = scenario::parse("t.yaml", text).expect_err("a broken file must not parse");
    let message = err.to_string();
    let prefix = format!("t.yaml:{}:{}: ", at.0, at.1);
    assert!(message.starts_with(&prefix), "expected `{prefix}…`, got `{message}`");
    for f in fragments {
        assert!(message.contains(f), "`{message}` lacks `{f}`");
    }
    // Lowercase, no trailing period: our error style.
    let body = &message[prefix.len()..];
    assert!(!body.ends_with('.'), "`{body}` ends with a period");
    assert!(!body.starts_with(char::is_uppercase), "`{body}` starts uppercase");
}

fn with_setup(extra: &str) -> String {
    BASE.replace("  profile: clerk-js-6\n", &format!("  profile: clerk-js-6\n{extra}"))
}

fn with_steps(extra: &str) -> String {
    format!("{BASE}{extra}")
}

/// Issue 18: variants run in the order the file lists them, not alphabetically.
#[test]
fn variants_keep_the_files_order() {
    let text = BASE.replace(
        "steps:",
        "variants:\n  zulu: {}\n  alpha: { platform: android }\n  mike: {}\nsteps:",
    );
    let s = scenario::parse("t.yaml", &text).expect("a valid file");
    let names: Vec<&str> = s.variants.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["zulu", "alpha", "mike"]);
}

/// `sdk:` names the SDK of a defect-free variant; the compiled variant says which, and
/// whether a divergence from the model fails it.
#[test]
fn a_variant_names_its_sdk() {
    let text = with_setup("  defects: [no-single-flight]\n").replace(
        "steps:",
        "variants:\n  with: {}\n  fixed: { sdk: reference, defects: [] }\n  \
         oracle: { defects: [], sdk: model }\n  plain: { defects: [] }\nsteps:",
    );
    let s = scenario::parse("t.yaml", &text).expect("a valid file");
    let of = |name: &str| s.variants.iter().find(|v| v.name == name).expect("the variant");
    let sdk = |name: &str| (of(name).sdk, of(name).on_reference(), of(name).divergence_fails());
    assert_eq!(sdk("with"), (SdkChoice::Model, true, false), "defects: the reference SDK");
    assert_eq!(sdk("fixed"), (SdkChoice::Reference, true, true));
    assert_eq!(sdk("oracle"), (SdkChoice::Model, false, false));
    assert_eq!(sdk("plain"), (SdkChoice::Model, false, false), "the model by default");
}

/// One row: what is broken, the file, where the error points, fragments of its message.
type Case<'a> = (&'a str, String, (u64, u64), Vec<&'a str>);

#[test]
fn the_base_file_parses() {
    let s = scenario::parse("t.yaml", BASE).expect("the table's base file is valid");
    assert_eq!(s.events.len(), 1);
    assert_eq!(s.variants.len(), 1);
    assert_eq!(s.variants[0].name, scenario::DEFAULT_VARIANT);
}

#[test]
fn broken_files_are_rejected_with_place_and_remedy() {
    let table: Vec<Case> = vec![
        (
            "unknown top-level key",
            BASE.replace("name: errors/table", "name: errors/table\nbogus: 1"),
            (3, 1),
            vec!["unknown field `bogus`", "schema_version, name, description"],
        ),
        (
            "duplicate key",
            BASE.replace("name: errors/table", "name: errors/table\nname: again"),
            (3, 1),
            vec!["duplicate key `name`"],
        ),
        (
            "no SDK instance",
            with_setup("  instances: 0\n"),
            (7, 14),
            vec!["`instances` = 0 is out of range; accepted: 1 ..= 4"],
        ),
        (
            "too many SDK instances, beyond the field's width too",
            with_setup("  instances: 300\n"),
            (7, 14),
            vec!["`instances` = 300 is out of range; accepted: 1 ..= 4"],
        ),
        (
            "a step for an instance the setup lacks",
            with_steps("  - instance: { n: 1, step: { get_token: {} } }\n"),
            (9, 5),
            vec!["instance 1 does not exist in variant `default`", "`instances: 2` or more"],
        ),
        (
            "a step no instance performs",
            with_setup("  instances: 2\n")
                .replace("  - cold_start: {}\n", "  - instance: { n: 1, step: { kill: {} } }\n"),
            (9, 5),
            vec!["`instance` takes one SDK event, not `kill`", "accepted: sign_in"],
        ),
        (
            "unknown step kind",
            with_steps("  - fly: {}\n"),
            (9, 5),
            vec!["unknown step kind `fly`", "accepted: advance, cold_start"],
        ),
        (
            "duration without unit",
            with_steps("  - advance: 30\n"),
            (9, 14),
            vec!["bad duration `30`", "missing unit", "`30s`"],
        ),
        (
            "duration with an unknown unit",
            with_steps("  - advance: 30y\n"),
            (9, 14),
            vec!["bad duration `30y`", "unknown unit `y`", "ms, s, m, h, d"],
        ),
        (
            "unknown defect",
            with_setup("  defects: [ios-cache-wipe]\n"),
            (7, 13),
            vec!["unknown defect `ios-cache-wipe`", "accepted: ios-native-cache-wipe"],
        ),
        (
            "unknown invariant",
            with_steps("expect:\n  default: { violates: [restore-after-cold] }\n"),
            (10, 25),
            vec!["unknown invariant `restore-after-cold`", "restore-after-cold-start"],
        ),
        (
            "expectation for a missing variant",
            with_steps("expect:\n  buggy: { violates: [calls-settle] }\n"),
            (10, 10),
            vec!["missing variant `buggy`", "variants: default"],
        ),
        (
            "inline expect for a missing variant",
            with_steps("  - expect: { loaded: true, variants: [fixd] }\n"),
            (9, 5),
            vec!["missing variant `fixd`", "variants: default"],
        ),
        (
            "instance lifetime out of range",
            with_setup("  instance: { max_lifetime: 1m }\n"),
            (7, 13),
            vec!["invalid settings", "`max_lifetime` = 1m", "5m ..= 10 years"],
        ),
        (
            "no lifetime limit at all",
            with_setup("  instance: { max_lifetime: off, inactivity_timeout: off }\n"),
            (7, 13),
            vec!["at least one of `max_lifetime` and `inactivity_timeout`"],
        ),
        (
            "token-reuse grace in time out of range",
            with_setup("  instance: { token_reuse: { policy: revoke_family, grace: 2h } }\n"),
            (7, 13),
            vec!["invalid settings", "`token_reuse.grace` = 2h", "0s ..= 1h"],
        ),
        (
            "token-reuse grace in rotations out of range",
            with_setup("  instance: { token_reuse: { grace: 5000 } }\n"),
            (7, 13),
            vec!["invalid settings", "`token_reuse.grace` = 5000 rotations", "0 ..= 1024"],
        ),
        (
            "unknown token-reuse policy",
            with_setup("  instance: { token_reuse: { policy: refuse } }\n"),
            (7, 38),
            vec!["refuse", "new_client", "revoke_family"],
        ),
        (
            "token-reuse grace neither rotations nor duration",
            with_setup("  instance: { token_reuse: { grace: soon } }\n"),
            (7, 37),
            vec!["soon", "or a number of rotations such as `64`"],
        ),
        (
            "template claim the server sets itself",
            with_setup("  instance: { templates: { supabase: { claims: { sub: me } } } }\n"),
            (7, 26),
            vec!["template `supabase`", "claim `sub`", "reserved"],
        ),
        (
            "template lifetime below Clerk's 30 s",
            with_setup("  instance: { templates: { convex: { lifetime: 10s } } }\n"),
            (7, 26),
            vec!["template `convex`", "lifetime 10s", "30s ..= 10 years"],
        ),
        (
            "unknown template field",
            with_setup("  instance: { templates: { convex: { ttl: 1h } } }\n"),
            (7, 38),
            vec!["unknown field `ttl`", "lifetime", "claims"],
        ),
        (
            "template name that is no path segment",
            with_steps("  - get_token: { template: \"a/b\" }\n"),
            (9, 28),
            vec!["template name `a/b`", "A-Z a-z 0-9 _ -"],
        ),
        (
            "invalid settings in a variant",
            with_steps("variants:\n  short: { instance: { session_token_ttl: 2h } }\n"),
            (10, 22),
            vec!["invalid settings in variant `short`", "`session_token_ttl` = 2h", "1s ..= 1h"],
        ),
        (
            "unknown native variant",
            BASE.replace("platform: ios", "platform: ios\n  native_variant: clerk-ios-1.0.0"),
            (6, 19),
            vec![
                "unknown native variant `clerk-ios-1.0.0`",
                "accepted: current, stale_token_refresh, wiped_client_never_loads",
            ],
        ),
        (
            "unknown platform",
            BASE.replace("platform: ios", "platform: iphone"),
            (5, 13),
            vec!["unknown platform `iphone`", "accepted: ios, android"],
        ),
        (
            "unknown field in a step",
            with_steps("  - get_token: { skip_cach: true }\n"),
            (9, 18),
            vec!["unknown field `skip_cach`", "skip_cache"],
        ),
        (
            "bad signed_in value",
            with_steps("  - expect: { signed_in: maybe }\n"),
            (9, 26),
            vec!["bad `signed_in` value `maybe`", "`undefined`"],
        ),
        (
            "unsupported schema version",
            BASE.replace("schema_version: 1", "schema_version: 2"),
            (1, 17),
            vec!["unsupported schema_version 2", "accepted: 1"],
        ),
        (
            "fault status that is not a 5xx",
            with_steps("  - fault: { kind: server_error, status: 404 }\n"),
            (9, 5),
            vec!["bad fault", "status 404", "500 ..= 599"],
        ),
        (
            "fault parameter for another kind",
            with_steps("  - fault: { kind: unauthorized, retry_after: 30s }\n"),
            (9, 5),
            vec!["`retry_after` only applies to `rate_limited`"],
        ),
        (
            "rate limit without retry_after",
            with_steps("  - fault: { kind: rate_limited }\n"),
            (9, 5),
            vec!["`rate_limited` needs `retry_after`"],
        ),
        (
            "advance inside concurrently",
            with_steps("  - concurrently: [ {advance: 1s}, {get_token: {}} ]\n"),
            (9, 21),
            vec!["`advance` cannot be inside `concurrently`"],
        ),
        (
            "expect before any event",
            BASE.replace("  - cold_start: {}\n", "  - expect: { loaded: true }\n  - kill: {}\n"),
            (8, 5),
            vec!["`expect` before any event", "cold_start"],
        ),
        (
            "a path without a slash",
            with_steps("  - api_call: { path: orders }\n"),
            (9, 5),
            vec!["bad path `orders`", "starting with `/`"],
        ),
        (
            "contradictory expectation",
            with_steps("expect:\n  default: { violates: [calls-settle], holds: [calls-settle] }\n"),
            (10, 12),
            vec!["`calls-settle` is expected both to break and to hold"],
        ),
        (
            "a bare step without its mapping",
            with_steps("  - kill\n"),
            (10, 1),
            vec!["expected a mapping", "`- kill: {}`"],
        ),
        ("not yaml at all", "[1, 2".to_string(), (1, 1), vec!["unclosed bracket"]),
        (
            "missing required key",
            BASE.replace("description: a broken file\n", ""),
            (6, 1),
            vec!["missing field `description`"],
        ),
        (
            "no steps",
            BASE.replace("  - cold_start: {}\n", "").replace("steps:\n", "steps: []\n"),
            // Issue 19: was 0:0; an empty list points at its key.
            (7, 1),
            vec!["steps is empty"],
        ),
        (
            // Issue 19: this overflowed `parse_duration` (a panic in debug builds).
            "advance past any number",
            with_steps("  - advance: 1000000000000000000000000000000000000d\n"),
            (9, 14),
            vec!["longer than the limit of 10 years"],
        ),
        (
            // Issue 19: a bad seed was reported at line 0, column 0.
            "bad seed",
            BASE.replace("description: a broken file", "description: a broken file\nseed: 0xnope"),
            (4, 7),
            vec!["bad seed `0xnope`", "hex (0x5eed0001) or decimal"],
        ),
        (
            "an eventually without its window",
            with_steps("  - eventually: { route: protected }\n"),
            (9, 5),
            vec!["`eventually` needs `within`"],
        ),
        (
            "a window on a plain expect",
            with_steps("  - expect: { within: 30s, route: protected }\n"),
            (9, 5),
            vec!["`within` belongs to `eventually`"],
        ),
        (
            "variants and except together",
            with_steps("  - never: { variants: [default], except: [default], loaded: false }\n"),
            (9, 5),
            vec!["`variants` or `except`, not both"],
        ),
        (
            "an unknown storage fault kind",
            with_steps("  - storage_fault: { op: read, kind: explode }\n"),
            (9, 38),
            vec!["unknown storage fault kind `explode`", "throw, hang, garbage"],
        ),
        (
            "a background wake too long",
            with_steps("  - background_wake: 1h\n"),
            (9, 5),
            vec!["`background_wake: 1h` is out of range", "1ms ..= 10m"],
        ),
        (
            "a clock skew beyond a year",
            with_steps("  - clock_skew: -400d\n"),
            (9, 5),
            vec!["`clock_skew: -400d` is out of range", "-365d ..= 365d"],
        ),
        (
            "a clock skew without a unit",
            with_steps("  - clock_skew: 30\n"),
            (9, 17),
            vec!["bad duration `30`: missing unit"],
        ),
        (
            "a delayed app-state fault without its delay",
            with_steps("  - app_state_fault: { kind: delay }\n"),
            (9, 5),
            vec!["`kind: delay` needs `delay:`", "1ms ..= 10m"],
        ),
        (
            "a delay on an app-state fault that is not delay",
            with_steps("  - app_state_fault: { kind: drop, delay: 2s }\n"),
            (9, 5),
            vec!["`delay` belongs to `kind: delay` only, not `drop`"],
        ),
        (
            "an unknown app-state fault kind",
            with_steps("  - app_state_fault: { kind: lose }\n"),
            (9, 30),
            vec!["unknown app-state fault kind `lose`", "drop, duplicate, reorder, delay"],
        ),
        (
            "an unknown network state",
            with_steps("  - network: flaky\n"),
            (9, 14),
            vec!["unknown network state `flaky`", "online, offline, hanging"],
        ),
        (
            "an unknown sdk",
            with_setup("  sdk: production\n"),
            (7, 8),
            vec!["unknown sdk `production`", "accepted: model, reference"],
        ),
        (
            "a variant naming the reference sdk with defects",
            with_steps("variants:\n  buggy: { sdk: reference, defects: [no-single-flight] }\n"),
            (10, 17),
            vec![
                "`sdk: reference` with defects [no-single-flight] in variant `buggy`",
                "a variant with defects runs on the reference SDK with them switched on",
                "accepted: `sdk: model` or `sdk: reference` without defects",
                "or defects without `sdk`",
            ],
        ),
        (
            "a variant naming the reference sdk under the setup's defects",
            with_setup("  defects: [no-single-flight]\n")
                .replace("steps:", "variants:\n  with: {}\n  fixed: { sdk: reference }\nsteps:"),
            (10, 17),
            vec![
                "`sdk: reference` with defects [no-single-flight] (from the setup) in variant \
                 `fixed`",
                "`defects: []` drops the setup's",
            ],
        ),
        (
            "a variant with defects under the setup's sdk",
            with_setup("  sdk: reference\n").replace(
                "steps:",
                "variants:\n  clean: {}\n  buggy: { defects: [no-single-flight] }\nsteps:",
            ),
            (10, 10),
            vec![
                "`sdk: reference` (from the setup) with defects [no-single-flight] in variant `buggy`",
            ],
        ),
        (
            "the model with defects",
            with_setup("  sdk: model\n  defects: [no-single-flight]\n"),
            (7, 8),
            vec!["`sdk: model` with defects [no-single-flight]: a variant with defects"],
        ),
    ];
    assert!(table.len() >= 15, "the table must cover at least 15 kinds of bad input");
    for (what, text, at, fragments) in &table {
        let result = std::panic::catch_unwind(|| check(text, *at, fragments));
        assert!(result.is_ok(), "case `{what}` failed (see the panic above)");
    }
}

/// Arbitrary bytes never panic the parser: they parse or give a located error.
#[test]
fn garbage_never_panics() {
    let samples = [
        "",
        "\0",
        "---\n---\n",
        "&a [*a]",
        "steps: !!binary xyz",
        "{{{{",
        "- - - -",
        "schema_version: 99999999999999999999",
        "name: [",
        "\u{feff}schema_version: 1",
    ];
    for text in samples {
        let _ = scenario::parse("g.yaml", text);
    }
    // Every prefix of a valid file, too: truncated files are the commonest broken input.
    for cut in 0..BASE.len() {
        if BASE.is_char_boundary(cut) {
            let _ = scenario::parse("g.yaml", &BASE[..cut]);
        }
    }
}

/// Issue 19 §8: `replay` read `/dev/zero` for gigabytes and blocked on a FIFO, because the
/// size check used the file's metadata. Neither is a regular file; both are refused at once.
#[test]
#[allow(clippy::disallowed_methods, reason = "wall time bounds the refusal, not a trace")]
fn devices_and_fifos_are_refused_without_reading() {
    let started = std::time::Instant::now();
    let err = scenario::load(std::path::Path::new("/dev/zero"), "/dev/zero")
        .expect_err("/dev/zero is not a scenario");
    assert!(err.to_string().contains("not a regular file"), "{err}");
    let fifo = std::env::temp_dir().join(format!("harness-fifo-{}.yaml", std::process::id()));
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        let err = scenario::load(&fifo, "fifo.yaml").expect_err("a FIFO is not a scenario");
        let _ = std::fs::remove_file(&fifo);
        assert!(err.to_string().starts_with("fifo.yaml:0:0: "), "{err}");
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
