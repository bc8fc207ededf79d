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

/// Where a source text touches the native layer's keychain itself (a write or deletion of
/// `clerkDeviceToken` / `cachedClient`, or the native SDK's whole-item write): the rules of
/// `model/native.rs`, which nothing else may reimplement.
fn native_rule_uses(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let compact: String = text.split_whitespace().collect();
    for call in
        ["write_storage(", "delete_storage(", "write_raw(", "delete(", "sdk_write(", "sdk_delete("]
    {
        for key in ["StorageKey::NativeDeviceToken", "StorageKey::NativeCachedClient"] {
            if compact.contains(&format!("{call}{key}")) {
                found.push(format!("{call}{key}"));
            }
        }
    }
    if compact.contains(".write_native(") {
        found.push(".write_native(".into());
    }
    found
}

/// The native layer lives once (issue 15): neither the model, nor the reference SDK, nor the
/// external port writes or deletes the native keychain items; only `model/native.rs` does.
#[test]
fn the_native_layer_is_written_once() {
    // The check can fail: a reimplementation in any spelling is caught.
    assert!(!native_rule_uses("self.delete_storage(StorageKey::NativeCachedClient);").is_empty());
    assert!(!native_rule_uses("d.write_raw(\n  StorageKey::NativeDeviceToken, p)").is_empty());
    assert!(native_rule_uses("self.read_storage(StorageKey::NativeDeviceToken)").is_empty());
    let root = workspace();
    let allowed =
        [root.join("harness/src/model/native.rs"), root.join("harness/src/model/device.rs")];
    let mut offenders = Vec::new();
    let mut files = Vec::new();
    rust_files(&root.join("harness/src"), &mut files);
    for file in files {
        if allowed.contains(&file) {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("a source file");
        for hit in native_rule_uses(&text) {
            offenders.push(format!("{}: {hit}", file.display()));
        }
    }
    assert!(offenders.is_empty(), "native keychain rules outside model/native.rs:\n{offenders:#?}");
}
