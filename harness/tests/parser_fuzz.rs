//! The parser fuzz target (issue 19): mutated scenario files, settings files and admin API
//! bodies never panic, and every refused scenario says where (a line and column).
//!
//! Inputs are the scenario library and the corpus in `tests/fixtures/parser-corpus/` (every
//! input that ever broke a parser, one per file, named for what it broke), mutated by
//! proptest from a fixed seed: values swapped for hostile tokens (huge numbers and durations,
//! bad seeds, YAML tags and aliases), lines deleted, duplicated, re-indented or moved, bytes
//! inserted, the text cut short. Each corpus file is also checked as it is.
//!
//! `cargo test` runs 3,000 scenario cases (and a tenth as many settings and admin cases);
//! `HARNESS_FUZZ_CASES=N` runs N (`.ci/run` runs 30,000; the note, 1,000,000). The
//! counts are printed. A failure prints the input; add it to the corpus.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use session_harness::fapi::HttpRequest;
use session_harness::model::settings::InstanceSettings;
use session_harness::model::time::VTime;
use session_harness::scenario::{self, ErrorKind, files};
use session_harness::serve::settings_file::parse_settings;
use session_harness::serve::{ClockMode, ServeState, admin, clock::Clock};

/// The fixed seed of every run (printed; change it to explore further).
const SEED: [u8; 32] = *b"session-harness parser fuzz 0001";
const CASES_DEFAULT: u32 = 3_000;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the harness is in a workspace").into()
}

fn corpus_dir() -> PathBuf {
    workspace().join("harness/tests/fixtures/parser-corpus")
}

fn cases() -> u32 {
    std::env::var("HARNESS_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(CASES_DEFAULT)
}

/// Every file under `dir` with one of `extensions`, sorted.
fn texts(dir: &Path, extensions: &[&str]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("a readable folder") {
            let path = entry.expect("a readable entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| extensions.iter().any(|x| e == *x)) {
                let text = files::read_bounded(&path, files::FILE_BYTES_MAX).expect("readable");
                out.push((path.display().to_string(), text));
            }
        }
    }
    out.sort();
    out
}

/// Hostile values: each once broke a parser, or sits on a limit.
const TOKENS: &[&str] = &[
    "1000000000000000000000000000000000000d",
    "340282366920938463463374607431768211456ms",
    "18446744073709551615",
    "18446744073709551616",
    "-1",
    "-0",
    "1e400",
    "NaN",
    ".inf",
    "3650d",
    "3650d1ms",
    "3651d",
    "1.0000000001s",
    "1.5ms",
    ".5s",
    "1..5s",
    "0x",
    "0xnope",
    "0xffffffffffffffffff",
    "~",
    "null",
    "[]",
    "{}",
    "[[[[[[[[[[[[[[[[",
    "{a: {b: {c: {d: {}}}}}",
    "&a 1",
    "*a",
    "*undefined",
    "!!binary aGVsbG8=",
    "!custom x",
    "<<: *a",
    "'",
    "\"",
    "\"\\u0000\"",
    "\u{feff}",
    "é",
    "|",
    ">-",
    "---",
    "...",
    "%YAML 1.2",
    "? complex",
    "- - -",
    "true",
    "on",
    "2026-01-01",
];

#[derive(Clone, Debug)]
enum Mutation {
    /// Replace the value after the `n`-th line's first `:` with a token.
    Value(usize, usize),
    /// Delete, duplicate or re-indent the `n`-th line.
    DeleteLine(usize),
    DuplicateLine(usize),
    Indent(usize, bool),
    /// Move a line from one place to another.
    MoveLine(usize, usize),
    /// Insert text at a byte offset (rounded down to a character boundary).
    Insert(usize, String),
    /// Cut the text at a byte offset.
    Truncate(usize),
    /// Repeat the `n`-th line many times (long lists, many steps).
    Repeat(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let n = any::<usize>();
    prop_oneof![
        4 => (n, 0..TOKENS.len()).prop_map(|(l, t)| Mutation::Value(l, t)),
        1 => n.prop_map(Mutation::DeleteLine),
        1 => n.prop_map(Mutation::DuplicateLine),
        1 => (n, any::<bool>()).prop_map(|(l, d)| Mutation::Indent(l, d)),
        1 => (n, n).prop_map(|(a, b)| Mutation::MoveLine(a, b)),
        2 => (n, "[ -~\t\n]{0,12}").prop_map(|(at, s)| Mutation::Insert(at, s)),
        1 => n.prop_map(Mutation::Truncate),
        1 => (n, 2usize..300).prop_map(|(l, k)| Mutation::Repeat(l, k)),
    ]
}

fn floor_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut text = text.to_string();
    for m in mutations {
        let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
        let count = lines.len().max(1);
        match m {
            Mutation::Value(l, t) => {
                let line = &mut lines[l % count];
                let head = match line.find(':') {
                    Some(at) => line[..=at].to_string() + " ",
                    None => line.clone() + " ",
                };
                *line = head + TOKENS[*t];
            }
            Mutation::DeleteLine(l) => {
                lines.remove(l % count);
            }
            Mutation::DuplicateLine(l) => {
                let line = lines[l % count].clone();
                lines.insert(l % count, line);
            }
            Mutation::Indent(l, deeper) => {
                let line = &mut lines[l % count];
                if *deeper {
                    line.insert_str(0, "  ");
                } else if let Some(rest) = line.strip_prefix("  ") {
                    *line = rest.to_string();
                }
            }
            Mutation::MoveLine(a, b) => {
                let line = lines.remove(a % count);
                let at = b % lines.len().max(1);
                lines.insert(at.min(lines.len()), line);
            }
            Mutation::Repeat(l, k) => {
                let line = lines[l % count].clone();
                for _ in 0..*k {
                    lines.insert(l % count, line.clone());
                }
            }
            Mutation::Insert(at, s) => {
                let at = floor_boundary(&text, *at % (text.len() + 1));
                text.insert_str(at, s);
                continue;
            }
            Mutation::Truncate(at) => {
                let at = floor_boundary(&text, *at % (text.len() + 1));
                text.truncate(at);
                continue;
            }
        }
        text = lines.join("\n");
    }
    text
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic".into())
}

/// Errors about the whole file have no line to point at.
fn whole_file(kind: &ErrorKind) -> bool {
    matches!(kind, ErrorKind::Io(_) | ErrorKind::TooLarge { .. })
}

#[derive(Default)]
struct Counts {
    cases: Cell<u64>,
    parsed: Cell<u64>,
    located: Cell<u64>,
}

impl Counts {
    fn bump(cell: &Cell<u64>) {
        cell.set(cell.get() + 1);
    }
}

/// One scenario text: parses, or is refused at a line and column; never panics.
fn check_scenario(text: &str, counts: &Counts) -> Result<(), String> {
    Counts::bump(&counts.cases);
    match catch_unwind(AssertUnwindSafe(|| scenario::parse("f.yaml", text))) {
        Err(panic) => Err(format!("the scenario parser panicked: {}", panic_text(&*panic))),
        Ok(Ok(_)) => {
            Counts::bump(&counts.parsed);
            Ok(())
        }
        Ok(Err(e)) if e.line == 0 && !whole_file(&e.kind) => {
            Err(format!("an error without a location: {e}"))
        }
        Ok(Err(e)) => {
            // A message may end in whatever the input said (a name ending in `.`), so only
            // its presence is checked here; scenario_errors.rs checks the style.
            if e.kind.to_string().trim().is_empty() {
                return Err(format!("an error without a message: {e}"));
            }
            Counts::bump(&counts.located);
            Ok(())
        }
    }
}

/// One settings text: parses or is refused; never panics. A refusal about the whole file
/// (limits between fields) has line 0 and names a field.
fn check_settings(text: &str, counts: &Counts) -> Result<(), String> {
    Counts::bump(&counts.cases);
    match catch_unwind(AssertUnwindSafe(|| parse_settings("s.yaml", text))) {
        Err(panic) => Err(format!("the settings parser panicked: {}", panic_text(&*panic))),
        Ok(Ok(_)) => {
            Counts::bump(&counts.parsed);
            Ok(())
        }
        Ok(Err(e)) if e.line == 0 && !e.message.contains('`') && !e.message.contains("file") => {
            Err(format!("a settings error naming nothing: {e}"))
        }
        Ok(Err(_)) => {
            Counts::bump(&counts.located);
            Ok(())
        }
    }
}

fn report(what: &str, counts: &Counts) {
    eprintln!(
        "parser fuzz ({what}): {} cases, {} parsed, {} refused with a location, 0 panics, 0 \
         errors without a location",
        counts.cases.get(),
        counts.parsed.get(),
        counts.located.get()
    );
}

fn runner(cases: u32) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        // Shrinking a text input is slow and the corpus wants the input as found.
        max_shrink_iters: 64,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &SEED))
}

#[test]
fn the_corpus_parses_or_is_refused_with_a_location() {
    let corpus = texts(&corpus_dir(), &["yaml"]);
    assert!(corpus.len() >= 5, "the corpus is in {}", corpus_dir().display());
    let counts = Counts::default();
    for (path, text) in &corpus {
        if path.contains("/settings/") {
            check_settings(text, &counts).unwrap_or_else(|e| panic!("{path}: {e}"));
        } else {
            check_scenario(text, &counts).unwrap_or_else(|e| panic!("{path}: {e}"));
        }
    }
    for (path, text) in texts(&corpus_dir(), &["json"]) {
        check_admin(&state(), &text).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
}

#[test]
fn mutated_scenarios_never_panic_and_every_error_is_located() {
    let mut seeds = texts(&workspace().join("scenarios"), &["yaml"]);
    seeds.extend(
        texts(&corpus_dir(), &["yaml"]).into_iter().filter(|(p, _)| !p.contains("/settings/")),
    );
    let counts = Counts::default();
    let strategy = (0..seeds.len(), prop::collection::vec(mutation(), 1..6));
    let result = runner(cases()).run(&strategy, |(seed, mutations)| {
        let text = apply(&seeds[seed].1, &mutations);
        check_scenario(&text, &counts).map_err(|e| {
            TestCaseError::fail(format!("{e}\n--- input (from {}):\n{text}", seeds[seed].0))
        })
    });
    report("scenarios", &counts);
    if let Err(e) = result {
        panic!("{e}\nadd the input to harness/tests/fixtures/parser-corpus/");
    }
}

#[test]
fn mutated_settings_never_panic() {
    let seeds = texts(&corpus_dir().join("settings"), &["yaml"]);
    let counts = Counts::default();
    let strategy = (0..seeds.len(), prop::collection::vec(mutation(), 1..6));
    let result = runner((cases() / 10).max(100)).run(&strategy, |(seed, mutations)| {
        let text = apply(&seeds[seed].1, &mutations);
        check_settings(&text, &counts).map_err(|e| TestCaseError::fail(format!("{e}\n---\n{text}")))
    });
    report("settings", &counts);
    if let Err(e) = result {
        panic!("{e}\nadd the input to harness/tests/fixtures/parser-corpus/settings/");
    }
}

fn state() -> ServeState {
    ServeState::new(InstanceSettings::default(), Clock::new(ClockMode::Manual, VTime(0)), 1, 4010)
}

const ADMIN_POSTS: &[&str] = &[
    "/clock/advance",
    "/clock/set",
    "/faults",
    "/sign-in-task",
    "/sessions/sess_1/status",
    "/sessions/sess_1/tasks",
    "/reset",
];

/// One admin body on every POST route: answered 200 or 4xx with a message; never a panic.
fn check_admin(state: &ServeState, body: &str) -> Result<(), String> {
    for route in ADMIN_POSTS {
        let request = HttpRequest {
            method: "POST".into(),
            path: format!("/__harness{route}"),
            query: String::new(),
            headers: vec![
                ("host".into(), "127.0.0.1:4010".into()),
                ("content-type".into(), "application/json".into()),
            ],
            body: body.as_bytes().to_vec(),
        };
        let answer = catch_unwind(AssertUnwindSafe(|| admin::handle(state, &request)))
            .map_err(|p| format!("POST {route} panicked: {}", panic_text(&*p)))?;
        let ok = answer.status == 200
            || ((400..500).contains(&answer.status)
                && answer.body["message"].as_str().is_some_and(|m| !m.is_empty()));
        if !ok {
            return Err(format!("POST {route}: {} {}", answer.status, answer.body));
        }
    }
    Ok(())
}

#[test]
fn mutated_admin_bodies_never_panic() {
    let seeds = texts(&corpus_dir().join("admin"), &["json"]);
    let state = state();
    let strategy = (0..seeds.len(), prop::collection::vec(mutation(), 0..4));
    let count = Cell::new(0u64);
    let result = runner((cases() / 10).max(100)).run(&strategy, |(seed, mutations)| {
        count.set(count.get() + 1);
        let text = apply(&seeds[seed].1, &mutations);
        check_admin(&state, &text).map_err(|e| TestCaseError::fail(format!("{e}\n---\n{text}")))
    });
    eprintln!(
        "parser fuzz (admin bodies): {} bodies on {} routes, 0 panics",
        count.get(),
        ADMIN_POSTS.len()
    );
    if let Err(e) = result {
        panic!("{e}\nadd the input to harness/tests/fixtures/parser-corpus/admin/");
    }
}
