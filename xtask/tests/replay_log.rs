//! `cargo xtask replay --log`: the full log of a replayed run is stamped with virtual time
//! and is byte-for-byte the same across two runs of the same seed.

use std::process::Command;

/// Runs the xtask binary with `args` and returns its stdout; fails the test on a non-zero
/// exit other than the verdict's (1).
fn xtask(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("the xtask binary runs");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "xtask {args:?} exited {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("xtask prints UTF-8")
}

/// `t=HH:MM:SS.mmm` or `t=Nd HH:MM:SS.mmm` (day count in front), then ` step N `.
fn stamped(line: &str) -> Option<(u64, u32)> {
    let rest = line.strip_prefix("t=")?;
    let (stamp, rest) = rest.split_once(' ')?;
    let (days, clock) = match stamp.split_once('d') {
        Some((d, c)) => (d.parse::<u64>().ok()?, c),
        None => (0, stamp),
    };
    let (hms, millis) = clock.split_once('.')?;
    let parts: Vec<u64> = hms.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    if parts.len() != 3 || millis.len() != 3 || parts[1] >= 60 || parts[2] >= 60 {
        return None;
    }
    let ms = (((days * 24 + parts[0]) * 60 + parts[1]) * 60 + parts[2]) * 1000
        + millis.parse::<u64>().ok()?;
    let step = rest.strip_prefix("step ")?.split(' ').next()?.parse().ok()?;
    Some((ms, step))
}

#[test]
fn the_log_is_stamped_with_virtual_time_and_repeats_exactly() {
    for (seed, sdk) in [("0x5eed0001", "model"), ("0x1234", "reference")] {
        let args = ["replay", "--seed", seed, "--profile", "documented", "--sdk", sdk, "--log"];
        let first = xtask(&args);
        let second = xtask(&args);
        assert_eq!(first, second, "seed {seed} on {sdk}: two replays log the same bytes");

        let log: Vec<&str> = first.lines().filter(|l| l.starts_with("t=")).collect();
        assert!(log.len() > 10, "seed {seed}: a real log, not {} lines:\n{first}", log.len());
        let mut last = (0, 0);
        for line in &log {
            let (ms, step) = stamped(line)
                .unwrap_or_else(|| panic!("not stamped `t=HH:MM:SS.mmm step N`: {line}"));
            assert!(step >= last.1, "steps never go back: {line}");
            // A violation is stamped with the instant it was judged at; everything else is
            // logged in the order virtual time passed.
            if !line.contains(" BROKEN ") {
                assert!(ms >= last.0, "virtual time never goes back: {line}");
                last.0 = ms;
            }
            last.1 = step;
        }
        // Every kind of line the log promises is there: events, happenings and observations.
        assert!(log.iter().any(|l| l.contains(" event ")), "events are logged");
        assert!(log.iter().any(|l| l.contains(" request_sent ")), "requests are logged");
        assert!(log.iter().any(|l| l.contains(" observed route=")), "observations are logged");
        // Virtual time advances over the run (generated traces always wait somewhere).
        assert!(last.0 > 0, "seed {seed}: the virtual clock moved");
        // The step table is replaced, not printed as well.
        assert!(!first.contains("signed_in session (sdk/server)"), "no step table with --log");
    }
}

#[test]
fn a_broken_invariant_is_logged_at_its_step() {
    // The iOS cold-start regression breaks an invariant on its `ios-wipe` variant.
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/regressions");
    let file = format!("{root}/ios-cold-start-not-restored.yaml");
    let out = xtask(&["replay", &file, "--log"]);
    let broken: Vec<&str> = out.lines().filter(|l| l.contains(" BROKEN ")).collect();
    assert!(!broken.is_empty(), "the regression's violation is in the log:\n{out}");
    for line in broken {
        assert!(stamped(line).is_some(), "violations are stamped too: {line}");
    }
}
