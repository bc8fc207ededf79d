//! Issue 17: every command the gate prints for a failing `cmd:` case runs as printed and
//! reproduces the failure — the replay, the rerun, and the accept line (shell-quoted: the
//! adapter command has spaces and the snapshot folder is a path with one). And
//! `cargo xtask adapter-check` passes the example adapter and fails one that never flushes
//! its hello within 5 s, with the hint, also under `SESSION_HARNESS_ADAPTER_HELLO_TIMEOUT_MS`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask/ has a parent").to_path_buf()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Runs a printed `cargo xtask …` line through the shell, with this build's xtask binary
/// standing in for `cargo xtask` (the rest of the line exactly as printed).
fn run_printed(line: &str) -> Output {
    let rest = line.strip_prefix("cargo xtask ").unwrap_or_else(|| panic!("not a command: {line}"));
    let binary = shlex::try_quote(env!("CARGO_BIN_EXE_xtask")).expect("no NUL").into_owned();
    Command::new("sh")
        .arg("-c")
        .arg(format!("{binary} {rest}"))
        .current_dir(root().join("xtask"))
        .output()
        .expect("sh runs")
}

#[test]
fn every_command_the_gate_prints_for_a_failing_cmd_case_reproduces_it() {
    let scratch = root().join("target/tmp").join(format!("gate commands {}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).expect("a scratch folder");
    let snapshots = scratch.join("snapshots");
    let junit = scratch.join("gate.junit.xml");
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["gate", "--sdk", "cmd:python3 adapters/python/adapter.py --bug offline-signs-out"])
        .args(["--findings", "adapters/python/findings.yaml", "--snapshots"])
        .arg(&snapshots)
        .args(["--only", "offline/get-token-throws", "--junit"])
        .arg(&junit)
        .output()
        .expect("the xtask binary runs");
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(1), "the buggy SDK fails the gate:\n{printed}");
    assert!(printed.contains("transient-never-signs-out"), "names the invariant:\n{printed}");

    let commands: Vec<String> = printed
        .lines()
        .filter_map(|l| l.find("cargo xtask ").map(|i| l[i..].to_string()))
        .collect();
    for kind in ["cargo xtask replay ", "cargo xtask gate "] {
        assert!(commands.iter().any(|c| c.starts_with(kind)), "no `{kind}…` in:\n{printed}");
    }
    assert!(commands.iter().any(|c| c.ends_with(" --accept")), "no accept line:\n{printed}");
    for command in &commands {
        assert!(
            command.contains("'cmd:python3 adapters/python/adapter.py --bug offline-signs-out'"),
            "the SDK spec is quoted whole: {command}"
        );
        let rerun = run_printed(command);
        let shown = text(&rerun);
        assert_eq!(rerun.status.code(), Some(1), "`{command}` reproduces the failure:\n{shown}");
        assert!(
            shown.contains("transient-never-signs-out"),
            "`{command}` names the broken invariant:\n{shown}"
        );
    }
    // The accept line recorded the snapshots where --snapshots said, under the SDK's label.
    let recorded = snapshots.join("py-session-sdk@0.1.0");
    assert!(
        recorded.join("offline__get-token-throws@documented.yaml").is_file(),
        "accept wrote under {}",
        recorded.display()
    );
    // JUnit carries the file, the seed and the same replay line.
    let xml = std::fs::read_to_string(&junit).expect("the JUnit file");
    assert!(xml.contains("file: scenarios/offline/get-token-throws.yaml"), "{xml}");
    assert!(xml.contains("seed: "), "{xml}");
    assert!(xml.contains("classname=\"py-session-sdk@0.1.0.offline/get-token-throws\""), "{xml}");
    let _ = std::fs::remove_dir_all(&scratch);
}

#[test]
fn a_crash_is_never_offered_for_acceptance() {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["gate", "--sdk", "cmd:python3 adapters/python/adapter.py --crash-after 2"])
        .args(["--findings", "adapters/python/findings.yaml", "--only", "lifecycle/sign-out"])
        .args(["--snapshots", "target/tmp/never-written"])
        .current_dir(root())
        .output()
        .expect("the xtask binary runs");
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    assert!(printed.contains("crashed"), "{printed}");
    assert!(!printed.contains("--accept"), "a crash is fixed, never accepted:\n{printed}");
}

#[test]
fn adapter_check_passes_the_example_and_fails_a_hello_never_flushed_within_5_seconds() {
    let check = |sdk: &str, env: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
        command.args(["adapter-check", "--sdk", sdk]).current_dir(root());
        command.env_remove("SESSION_HARNESS_ADAPTER_HELLO_TIMEOUT_MS");
        if let Some(ms) = env {
            command.env("SESSION_HARNESS_ADAPTER_HELLO_TIMEOUT_MS", ms);
        }
        #[allow(clippy::disallowed_methods)]
        let started = Instant::now();
        let out = command.output().expect("the xtask binary runs");
        (out, started.elapsed())
    };
    let (out, _) = check("cmd:python3 adapters/python/adapter.py", None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("adapter-check py-session-sdk@0.1.0: pass"), "{}", text(&out));

    // Python buffers a pipe unless told not to: this adapter's hello never leaves it.
    let silent = "cmd:env -u PYTHONUNBUFFERED python3 -c 'import json,sys; \
                  print(json.dumps({\"hello\": \"session-harness-adapter\", \"protocol\": 1})); \
                  sys.stdin.read()'";
    let (out, took) = check(silent, None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(took < Duration::from_secs(5), "failed in {took:?}, not under 5 s");
    assert!(text(&out).contains("flush"), "the hint: {}", text(&out));
    let (out, took) = check(silent, Some("700"));
    assert!(text(&out).contains("within 700 ms"), "the variable sets the limit: {}", text(&out));
    assert!(took < Duration::from_secs(3), "took {took:?}");
}
