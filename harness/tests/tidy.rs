//! Tidy checks as ordinary tests (in the manner of rust-analyzer's `xtask/src/tidy.rs`):
//! every Rust file opens with a `//!` doc saying what it owns; the pure model imports no
//! runtime, clock, randomness or I/O; no test is `#[ignore]`d; no stray debug output; the
//! README's profile table is the model's.

use std::path::PathBuf;

mod tidy_support;
use tidy_support::{rust_files, workspace};

fn all_sources() -> Vec<(PathBuf, String)> {
    let root = workspace();
    let mut files = Vec::new();
    for dir in ["harness/src", "harness/tests", "harness/examples", "xtask/src"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 20, "found only {} Rust files: wrong root?", files.len());
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("sources are readable UTF-8");
            (p.strip_prefix(&root).expect("under the root").to_path_buf(), text)
        })
        .collect()
}

#[test]
fn every_file_opens_with_a_module_doc() {
    let missing: Vec<String> = all_sources()
        .into_iter()
        .filter(|(_, text)| !text.trim_start().starts_with("//!"))
        .map(|(p, _)| p.display().to_string())
        .collect();
    assert!(missing.is_empty(), "files without a `//!` module doc: {missing:#?}");
}

#[test]
fn the_model_is_pure() {
    // DESIGN.md §4: no tokio, no I/O, no system time, no randomness inside `model/`.
    let forbidden = [
        "tokio",
        "std::time",
        "Instant",
        "SystemTime",
        "rand",
        "std::fs",
        "std::net",
        "std::io",
        "HashMap",
        "HashSet",
        "crate::fapi",
        "crate::sdk",
        "crate::sim",
        "thread::",
    ];
    let mut offences = Vec::new();
    for (path, text) in all_sources() {
        if !path.starts_with("harness/src/model") {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in forbidden {
                if code.contains(word) {
                    offences.push(format!(
                        "{}:{}: `{word}` in `{}`",
                        path.display(),
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(offences.is_empty(), "the model must stay pure:\n{}", offences.join("\n"));
}

#[test]
fn no_test_is_ignored_and_no_debug_output_is_left() {
    let mut offences = Vec::new();
    for (path, text) in all_sources() {
        for (n, line) in text.lines().enumerate() {
            let t = line.trim_start();
            if t.starts_with("//") {
                continue;
            }
            let ignore = ["#[", "ignore]"].concat();
            let dbg = ["dbg", "!("].concat();
            if t.starts_with(&ignore) || t.contains(&dbg) {
                offences.push(format!("{}:{}: {}", path.display(), n + 1, t));
            }
        }
    }
    assert!(offences.is_empty(), "{}", offences.join("\n"));
}

/// The README's profile table is `PROFILE_DIFFERENCES`, row for row: a profile change that
/// forgets the README fails here.
#[test]
fn the_readme_profile_table_is_profile_differences() {
    let readme = std::fs::read_to_string(workspace().join("README.md")).expect("README.md");
    let mut table = String::from("| topic | documented | clerk-js-6 |\n| --- | --- | --- |\n");
    for d in session_harness::model::profile::PROFILE_DIFFERENCES {
        table.push_str(&format!("| {} | {} | {} |\n", d.topic, d.documented, d.clerk_js_6));
    }
    assert!(
        readme.contains(&table),
        "README.md's profile table differs from PROFILE_DIFFERENCES; it should read:\n{table}"
    );
}
