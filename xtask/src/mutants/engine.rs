//! The schemata engine of `cargo xtask mutants`: build once, switch mutants at run time.
//!
//! 1. `cargo mutants --list --json` (same scope, same `.cargo/mutants.toml` exclusions)
//!    says which mutants exist; each gets an id (1-based, in cargo-mutants' order).
//! 2. A copy of the workspace under `target/mutants-schemata/tree` gets every mutated file
//!    rewritten by [`super::schemata`], and `__mutant(id)` in its crate root, which reads
//!    `SESSION_HARNESS_MUTANT` once. The real sources are never touched.
//! 3. The copy's test targets are built once with the dev profile into the workspace's own
//!    target dir (so the registry dependencies are reused). A mutant whose schema does not
//!    compile is unviable: the compiler's error spans name it, its switch is dropped, and
//!    the copy is rebuilt, until it builds.
//! 4. The baseline (no mutant active) runs every test once and must pass, recording which
//!    mutants' sites each test reaches (`SESSION_HARNESS_MUTANT_TRACE`). Then each mutant
//!    runs the tests that reach its site (the harness is deterministic: a test that never
//!    reaches the site runs the same with the mutant), one process per test on two workers,
//!    the tests that caught most mutants so far first, until a test fails (caught) or every
//!    one passed (missed; at once when no test reaches it), or the mutant's time limit
//!    passed (timeout). A match left with no arm by a deleted arm panics with
//!    [`schemata::NO_ARM_LEFT`]: that mutant is unviable, as cargo-mutants' build would say.
//!
//! Each mutant's outcome is appended to `target/mutants-schemata/outcomes.jsonl` as it is
//! judged; at the end they all go to `outcomes.json` and `missed.txt`, `caught.txt`,
//! `unviable.txt`, `timeout.txt` next to it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::schemata::{self, ListedMutant, Schema};
use super::{Score, Shard};

/// The environment variable the schemata read: the id of the one active mutant.
pub const MUTANT_ENV: &str = "SESSION_HARNESS_MUTANT";

/// With no mutant active: the file where the schemata record the sites a test reaches.
pub const TRACE_ENV: &str = "SESSION_HARNESS_MUTANT_TRACE";

/// Rebuilds of the copy to drop unviable mutants before giving up.
const BUILD_ROUNDS_MAX: usize = 8;

/// Test processes run at once (the machine has two cores).
const WORKERS: usize = 2;

/// Lists the mutants in scope with cargo-mutants (the source of truth), names and numbers
/// them. `globs` are the `--file` globs, already checked; `names` are regexes on the
/// mutants' names (cargo-mutants' `--re`).
pub fn list(
    root: &Path,
    package: &str,
    globs: &[String],
    names: &[String],
) -> Result<Vec<ListedMutant>> {
    let mut command = Command::new("cargo");
    command.args(["mutants", "--list", "--json", "--package", package]);
    for glob in globs {
        command.arg(format!("--file={glob}"));
    }
    for re in names {
        command.arg(format!("--re={re}"));
    }
    let out = command.current_dir(root).output().context("running cargo mutants --list")?;
    if !out.status.success() {
        bail!(
            "`cargo mutants --list --json` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let mut mutants: Vec<ListedMutant> = serde_json::from_slice(&out.stdout)
        .context("reading `cargo mutants --list --json` (the format of cargo-mutants 27.1)")?;
    for (i, m) in mutants.iter_mut().enumerate() {
        m.id = u32::try_from(i + 1).expect("fewer than 4 billion mutants");
        if !schemata::GENRES.contains(&m.genre.as_str()) {
            bail!(
                "{}: genre `{}` is new to the schemata engine (known: {}); run it with \
                 --engine cargo-mutants, or teach xtask/src/mutants/schemata.rs the genre",
                m.name,
                m.genre,
                schemata::GENRES.join(", ")
            );
        }
    }
    Ok(mutants)
}

/// The files a copy of the workspace needs: everything git tracks or would track (outside
/// a git work tree: every file but `target/`).
fn workspace_files(root: &Path) -> Result<Vec<PathBuf>> {
    let out = Command::new("git")
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .current_dir(root)
        .output()
        .context("running git ls-files")?;
    if !out.status.success() || out.stdout.is_empty() {
        let mut files = Vec::new();
        walk(root, Path::new(""), &mut files)?;
        return Ok(files);
    }
    Ok(out
        .stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
        .filter(|p| !p.starts_with("target"))
        .collect())
}

fn walk(root: &Path, rel: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let dir = root.join(rel);
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let path = rel.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            if path != Path::new("target") && path != Path::new(".git") {
                walk(root, &path, files)?;
            }
        } else {
            files.push(path);
        }
    }
    Ok(())
}

/// The version the copy's package gets. Cargo names a workspace member's artifacts by its
/// path relative to the workspace root, name and version, so the copy (which shares the
/// workspace's target dir, to reuse the registry dependencies) would otherwise build over the
/// real package's artifacts, and either would run the other's tests.
pub const COPY_VERSION: &str = "0.0.0-mutants-schemata";

/// `manifest` with its package's version replaced by [`COPY_VERSION`].
fn distinct_version(manifest: &str) -> Option<String> {
    let mut out = String::with_capacity(manifest.len());
    let mut done = false;
    let mut in_package = false;
    for line in manifest.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with('[') {
            in_package = t.starts_with("[package]");
        }
        if in_package
            && !done
            && (t.starts_with("version ")
                || t.starts_with("version=")
                || t.starts_with("version.workspace"))
        {
            out.push_str(&format!("version = \"{COPY_VERSION}\"\n"));
            done = true;
            continue;
        }
        out.push_str(line);
    }
    done.then_some(out)
}

/// Writes `text` to `path` unless it already holds it (cargo rebuilds on a changed mtime).
fn write_if_changed(path: &Path, text: &[u8]) -> Result<()> {
    if std::fs::read(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// The copy: every workspace file, mutated files rewritten; returns the schema per file.
struct Tree {
    dir: PathBuf,
    schemas: BTreeMap<String, Schema>,
}

#[allow(clippy::too_many_arguments)]
fn write_tree(
    ids_max: u32,
    lib_rs: &str,
    root: &Path,
    dir: &Path,
    mutants: &[ListedMutant],
    dropped: &BTreeSet<u32>,
    unplaced: &mut BTreeMap<u32, String>,
    unviable: &mut BTreeMap<u32, String>,
) -> Result<Tree> {
    let mut by_file: BTreeMap<&str, Vec<ListedMutant>> = BTreeMap::new();
    for m in mutants.iter().filter(|m| !dropped.contains(&m.id)) {
        by_file.entry(m.file.as_str()).or_default().push(m.clone());
    }
    let mut schemas = BTreeMap::new();
    let manifest = lib_rs.replace("src/lib.rs", "Cargo.toml");
    for path in workspace_files(root)? {
        let rel = path.to_string_lossy().replace('\\', "/");
        let source = match std::fs::read(root.join(&path)) {
            Ok(bytes) => bytes,
            // Deleted but not yet committed: not part of the build.
            Err(_) => continue,
        };
        let mut text = source.clone();
        if let Some(ms) = by_file.get(rel.as_str()) {
            let source = String::from_utf8(source).with_context(|| format!("{rel}: not UTF-8"))?;
            let (schema, left) =
                schemata::rewrite(&source, ms).with_context(|| format!("rewriting {rel}"))?;
            unplaced.extend(left.unplaced);
            unviable.extend(left.unviable);
            text = schema.text.clone().into_bytes();
            schemas.insert(rel.clone(), schema);
        }
        if rel == manifest {
            text = distinct_version(&String::from_utf8_lossy(&text))
                .with_context(|| format!("{rel}: no `version` line in [package]"))?
                .into_bytes();
        }
        if rel == lib_rs {
            let mut lib = String::from("#![allow(warnings)]\n");
            lib.push_str(&String::from_utf8_lossy(&text));
            lib.push_str(&schemata::switch_source(MUTANT_ENV, TRACE_ENV, ids_max));
            text = lib.into_bytes();
        }
        write_if_changed(&dir.join(&path), &text)?;
    }
    Ok(Tree { dir: dir.to_path_buf(), schemas })
}

/// What one build of the copy gave.
struct Build {
    /// (file relative to the tree, byte offset, message) of every error.
    errors: Vec<(String, usize, String)>,
    /// Test binaries: (target name, executable).
    binaries: Vec<(String, PathBuf)>,
    ok: bool,
}

fn build(tree: &Tree, package: &str, target_dir: &Path, targets: &[String]) -> Result<Build> {
    let mut command = Command::new("cargo");
    command
        .args(["test", "--no-run", "--message-format=json", "--package", package])
        .args(targets)
        .current_dir(&tree.dir)
        .env("CARGO_TARGET_DIR", target_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = command.spawn().context("running cargo test --no-run in the copy")?;
    let stdout = child.stdout.take().expect("piped");
    let mut errors = Vec::new();
    let mut binaries = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading cargo's output")?;
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        match v["reason"].as_str() {
            Some("compiler-message") if v["message"]["level"] == "error" => {
                let text = v["message"]["rendered"].as_str().unwrap_or("").to_string();
                let spans = v["message"]["spans"].as_array().cloned().unwrap_or_default();
                let mut any = false;
                for s in spans.iter().filter(|s| s["is_primary"] == true) {
                    if let (Some(f), Some(b)) = (s["file_name"].as_str(), s["byte_start"].as_u64())
                    {
                        errors.push((f.to_string(), b as usize, text.clone()));
                        any = true;
                    }
                }
                if !any {
                    errors.push((String::new(), 0, text));
                }
            }
            Some("compiler-artifact") => {
                if let Some(exe) = v["executable"].as_str()
                    && v["profile"]["test"] == true
                {
                    let name = v["target"]["name"].as_str().unwrap_or("?").to_string();
                    binaries.push((name, PathBuf::from(exe)));
                }
            }
            _ => {}
        }
    }
    let status = child.wait().context("waiting for cargo")?;
    Ok(Build { errors, binaries, ok: status.success() })
}

/// One test: its binary and its name, and what it cost in the baseline.
#[derive(Clone)]
struct TestCase {
    binary: PathBuf,
    target: String,
    name: String,
    baseline: Duration,
    kills: u32,
}

impl TestCase {
    fn id(&self) -> String {
        format!("{} {}", self.target, self.name)
    }
}

fn list_tests(binaries: &[(String, PathBuf)], cwd: &Path) -> Result<Vec<TestCase>> {
    let mut tests = Vec::new();
    for (target, exe) in binaries {
        let out = Command::new(exe)
            .args(["--list", "--format", "terse"])
            .current_dir(cwd)
            .output()
            .with_context(|| format!("listing the tests of {}", exe.display()))?;
        if !out.status.success() {
            bail!("{} --list failed", exe.display());
        }
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(name) = line.strip_suffix(": test") {
                tests.push(TestCase {
                    binary: exe.clone(),
                    target: target.clone(),
                    name: name.to_string(),
                    baseline: Duration::ZERO,
                    kills: 0,
                });
            }
        }
    }
    Ok(tests)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Verdict {
    Caught,
    Missed,
    Timeout,
    Unviable,
}

/// The result of running the tests against one mutant (or none).
struct Run {
    verdict: Verdict,
    /// The failing test, when caught.
    failed: Option<usize>,
    /// Per test index, how long it took (tests that ran to the end).
    durations: Vec<(usize, Duration)>,
}

/// Runs `tests` in `order` with `mutant` active (0: none) on [`WORKERS`] processes at once;
/// stops at the first failure.
#[allow(clippy::too_many_arguments)]
fn run_tests(
    tests: &[TestCase],
    order: &[usize],
    mutant: u32,
    cwd: &Path,
    per_test: &(dyn Fn(&TestCase) -> Duration + Sync),
    limit: Duration,
    log_dir: &Path,
    trace_dir: Option<&Path>,
) -> Run {
    let no_arm_left = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(Mutex::new(None::<usize>));
    let timed_out = Arc::new(AtomicBool::new(false));
    let durations = Arc::new(Mutex::new(Vec::new()));
    let deadline = Instant::now() + limit;
    std::thread::scope(|scope| {
        for worker in 0..WORKERS {
            let (next, stop, failed, timed_out, durations) =
                (next.clone(), stop.clone(), failed.clone(), timed_out.clone(), durations.clone());
            let no_arm_left = no_arm_left.clone();
            let log = log_dir.join(format!("worker-{worker}.log"));
            scope.spawn(move || {
                loop {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&index) = order.get(k) else { return };
                    let test = &tests[index];
                    let started = Instant::now();
                    let test_deadline = deadline.min(started + per_test(test));
                    // The test's output (libtest prints a failure's panic there): read back
                    // only when it fails, to tell a match left with no arm.
                    let Ok(out) = std::fs::File::create(&log) else {
                        *failed.lock().expect("not poisoned") = Some(index);
                        stop.store(true, Ordering::SeqCst);
                        return;
                    };
                    let mut command = Command::new(&test.binary);
                    if let Some(dir) = trace_dir {
                        command.env(TRACE_ENV, dir.join(format!("{index}.ids")));
                    }
                    let child = command
                        .args([test.name.as_str(), "--exact", "--test-threads=1", "-q"])
                        .current_dir(cwd)
                        .env(MUTANT_ENV, mutant.to_string())
                        .env("INSTA_UPDATE", "no")
                        .env("PROPTEST_MAX_SHRINK_ITERS", "0")
                        .stdin(Stdio::null())
                        .stdout(out)
                        .stderr(Stdio::null())
                        .spawn();
                    let Ok(mut child) = child else {
                        *failed.lock().expect("not poisoned") = Some(index);
                        stop.store(true, Ordering::SeqCst);
                        return;
                    };
                    let status = loop {
                        match child.try_wait() {
                            Ok(Some(status)) => break Some(status),
                            Ok(None) => {}
                            Err(_) => break None,
                        }
                        if stop.load(Ordering::SeqCst) {
                            let _ = child.kill();
                            let _ = child.wait();
                            return;
                        }
                        if Instant::now() >= test_deadline {
                            let _ = child.kill();
                            let _ = child.wait();
                            timed_out.store(true, Ordering::SeqCst);
                            stop.store(true, Ordering::SeqCst);
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(2));
                    };
                    if status.is_some_and(|s| s.success()) {
                        durations.lock().expect("not poisoned").push((index, started.elapsed()));
                    } else {
                        let text = std::fs::read_to_string(&log).unwrap_or_default();
                        if text.contains(schemata::NO_ARM_LEFT) {
                            no_arm_left.store(true, Ordering::SeqCst);
                        }
                        let mut f = failed.lock().expect("not poisoned");
                        if f.is_none() {
                            *f = Some(index);
                        }
                        stop.store(true, Ordering::SeqCst);
                        return;
                    }
                }
            });
        }
    });
    let failed = *failed.lock().expect("not poisoned");
    let verdict = if no_arm_left.load(Ordering::SeqCst) {
        Verdict::Unviable
    } else if failed.is_some() {
        Verdict::Caught
    } else if timed_out.load(Ordering::SeqCst) {
        Verdict::Timeout
    } else {
        Verdict::Missed
    };
    let durations = std::mem::take(&mut *durations.lock().expect("not poisoned"));
    Run { verdict, failed, durations }
}

#[derive(Serialize)]
struct OutcomeJson<'a> {
    id: u32,
    name: &'a str,
    genre: &'a str,
    outcome: Verdict,
    seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    caught_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unviable_because: Option<String>,
    /// How many tests reach the mutant's site (only those run for it).
    #[serde(skip_serializing_if = "Option::is_none")]
    reached_by: Option<usize>,
}

/// Options of one schemata run.
pub struct Options<'a> {
    /// The package mutated and tested, and its directory in the workspace.
    pub package: &'a str,
    pub crate_dir: &'a str,
    pub globs: Vec<String>,
    /// Regexes on mutant names: only the mutants matching one (cargo-mutants' `--re`).
    pub names: Vec<String>,
    pub shard: Option<Shard>,
    pub timeout: Option<u64>,
    pub targets: Vec<String>,
    pub out_dir: &'a Path,
}

/// Runs the whole engine; returns the score.
pub fn run(root: &Path, opts: &Options) -> Result<Score> {
    let started = Instant::now();
    let all = list(root, opts.package, &opts.globs, &opts.names)?;
    let lib_rs = format!("{}/src/lib.rs", opts.crate_dir);
    let ids_max = u32::try_from(all.len() + 1).expect("fewer than 4 billion mutants");
    let mutants: Vec<ListedMutant> = match opts.shard {
        Some(shard) => all
            .into_iter()
            .enumerate()
            .filter(|(i, _)| *i as u64 % shard.count == shard.index - 1)
            .map(|(_, m)| m)
            .collect(),
        None => all,
    };
    let say = |text: String| eprintln!("{text}");
    say(format!("schemata: {} mutants in scope", mutants.len()));
    let tree_dir = opts.out_dir.join("tree");
    let target_dir = root.join("target");
    let mut dropped: BTreeSet<u32> = BTreeSet::new();
    let mut unviable: BTreeMap<u32, String> = BTreeMap::new();
    let build_started = Instant::now();
    let mut round = 0;
    let (tree, built) = loop {
        round += 1;
        let mut unplaced = BTreeMap::new();
        let mut known = BTreeMap::new();
        let tree = write_tree(
            ids_max,
            &lib_rs,
            root,
            &tree_dir,
            &mutants,
            &dropped,
            &mut unplaced,
            &mut known,
        )?;
        for (id, why) in known {
            dropped.insert(id);
            unviable.insert(id, why);
        }
        if let Some((id, why)) = unplaced.into_iter().next() {
            let name = mutants.iter().find(|m| m.id == id).map_or("?", |m| m.name.as_str());
            bail!("mutant {id} ({name}) has no schema: {why}");
        }
        say(format!(
            "schemata: building the copy (round {round}, {} mutants switched)",
            mutants.len() - dropped.len()
        ));
        let built = build(&tree, opts.package, &target_dir, &opts.targets)?;
        if built.ok && built.errors.is_empty() {
            break (tree, built);
        }
        let mut newly = 0;
        let mut stray = Vec::new();
        for (file, at, text) in &built.errors {
            let (ids, direct) =
                tree.schemas.get(file).map(|s| s.mutants_at(*at)).unwrap_or_default();
            if ids.is_empty() {
                stray.push(text.clone());
            }
            for id in ids {
                if dropped.insert(id) {
                    newly += 1;
                    let first = text.lines().next().unwrap_or("").to_string();
                    let place = if direct { "" } else { " (outside its mutated text)" };
                    unviable.insert(id, format!("{first}{place}"));
                }
            }
        }
        if newly == 0 {
            bail!(
                "the schematized copy does not build, and no error names a mutant:\n{}",
                stray.join("\n")
            );
        }
        if round >= BUILD_ROUNDS_MAX {
            bail!("the schematized copy still does not build after {round} rounds");
        }
        say(format!("schemata: {newly} mutants unviable (compile errors); rebuilding"));
    };
    let build_seconds = build_started.elapsed().as_secs_f64();
    say(format!("schemata: built in {build_seconds:.0}s ({} unviable)", unviable.len()));

    let cwd = tree.dir.join(opts.crate_dir);
    let mut tests = list_tests(&built.binaries, &cwd)?;
    // Baseline: every test, no mutant, no limits worth the name.
    let baseline_started = Instant::now();
    let order: Vec<usize> = (0..tests.len()).collect();
    std::fs::create_dir_all(opts.out_dir)?;
    // The baseline records which sites each test reaches: a test that never reaches a
    // mutant's site runs the same with it (the harness is deterministic), so only the tests
    // that reach it run for a mutant, and one no test reaches is missed without a run.
    let trace_dir = opts.out_dir.join("reached");
    let _ = std::fs::remove_dir_all(&trace_dir);
    std::fs::create_dir_all(&trace_dir)?;
    let base = run_tests(
        &tests,
        &order,
        0,
        &cwd,
        &|_| Duration::from_secs(600),
        Duration::from_secs(1800),
        opts.out_dir,
        Some(&trace_dir),
    );
    if base.verdict != Verdict::Missed {
        let which = base.failed.map(|i| tests[i].id()).unwrap_or_else(|| "a timeout".into());
        bail!("the baseline (no mutant) fails: {which}");
    }
    for (i, d) in base.durations {
        tests[i].baseline = d;
    }
    let mut reached_by: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for i in 0..tests.len() {
        let ids = std::fs::read_to_string(trace_dir.join(format!("{i}.ids"))).unwrap_or_default();
        for id in ids.lines().filter_map(|l| l.trim().parse::<u32>().ok()) {
            reached_by.entry(id).or_default().push(i);
        }
    }
    let baseline_wall = baseline_started.elapsed();
    let limit = opts
        .timeout
        .map(Duration::from_secs)
        .unwrap_or_else(|| baseline_wall * 3 + Duration::from_secs(20));
    say(format!(
        "schemata: baseline {} tests pass in {:.1}s; limit per mutant {:.0}s",
        tests.len(),
        baseline_wall.as_secs_f64(),
        limit.as_secs_f64()
    ));

    let mut outcomes: Vec<OutcomeJson> = Vec::new();
    // One JSON line per mutant as it is judged: a run stopped half-way keeps what it found.
    let progress_path = opts.out_dir.join("outcomes.jsonl");
    let mut progress = std::fs::File::create(&progress_path)
        .with_context(|| format!("creating {}", progress_path.display()))?;
    let mut score = Score::default();
    for m in &mutants {
        if let Some(why) = unviable.get(&m.id) {
            score.unviable.push(m.name.clone());
            outcomes.push(OutcomeJson {
                id: m.id,
                name: &m.name,
                genre: &m.genre,
                outcome: Verdict::Unviable,
                seconds: 0.0,
                caught_by: None,
                unviable_because: Some(why.clone()),
                reached_by: None,
            });
        }
    }
    let viable: Vec<&ListedMutant> =
        mutants.iter().filter(|m| !unviable.contains_key(&m.id)).collect();
    let total = viable.len();
    for (n, m) in viable.into_iter().enumerate() {
        // The tests that caught most so far first; then the quick ones.
        let mut order: Vec<usize> = reached_by.get(&m.id).cloned().unwrap_or_default();
        let tests_run = order.len();
        order.sort_by_key(|&i| (std::cmp::Reverse(tests[i].kills), tests[i].baseline));
        let t0 = Instant::now();
        let run = run_tests(
            &tests,
            &order,
            m.id,
            &cwd,
            &|t: &TestCase| t.baseline * 5 + Duration::from_secs(10),
            limit,
            opts.out_dir,
            None,
        );
        let seconds = t0.elapsed().as_secs_f64();
        score.mutant_seconds += seconds;
        let caught_by = run.failed.map(|i| {
            tests[i].kills += 1;
            tests[i].id()
        });
        match run.verdict {
            Verdict::Caught => score.caught.push(m.name.clone()),
            Verdict::Missed => score.missed.push(m.name.clone()),
            Verdict::Timeout => score.timeout.push(m.name.clone()),
            Verdict::Unviable => score.unviable.push(m.name.clone()),
        }
        {
            say(format!(
                "[{}/{total}] {:?} {} ({seconds:.1}s, {tests_run} tests reach it)",
                n + 1,
                run.verdict,
                m.name
            ));
        }
        outcomes.push(OutcomeJson {
            id: m.id,
            name: &m.name,
            genre: &m.genre,
            outcome: run.verdict,
            seconds,
            caught_by,
            unviable_because: None,
            reached_by: Some(tests_run),
        });
        if let Some(last) = outcomes.last() {
            use std::io::Write as _;
            let line = serde_json::to_string(last).expect("an outcome serialises");
            writeln!(progress, "{line}").context("writing outcomes.jsonl")?;
        }
    }
    let summary = serde_json::json!({
        "mutants": mutants.len(),
        "build_seconds": build_seconds,
        "build_rounds": round,
        "baseline_seconds": baseline_wall.as_secs_f64(),
        "wall_seconds": started.elapsed().as_secs_f64(),
        "outcomes": outcomes,
    });
    std::fs::create_dir_all(opts.out_dir)?;
    std::fs::write(opts.out_dir.join("outcomes.json"), serde_json::to_string_pretty(&summary)?)?;
    for (file, list) in [
        ("caught.txt", &score.caught),
        ("missed.txt", &score.missed),
        ("unviable.txt", &score.unviable),
        ("timeout.txt", &score.timeout),
    ] {
        let mut text = list.join("\n");
        text.push('\n');
        std::fs::write(opts.out_dir.join(file), text)?;
    }
    say(format!("schemata: wall time {:.0}s", started.elapsed().as_secs_f64()));
    Ok(score)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny crate whose tests miss some mutants on purpose (boundaries left untested), and
    /// with a fn whose return type has no default (its body replacement does not build).
    const FIXTURE_LIB: &str = r#"
pub fn clamp_add(a: u32, b: u32, max: u32) -> u32 {
    let sum = a + b;
    if sum > max { max } else { sum }
}

pub fn sign(x: i32) -> &'static str {
    match x {
        0 => "zero",
        n if n < 0 => "negative",
        _ => "positive",
    }
}

pub fn is_small(x: u32) -> bool {
    !(x >= 10)
}

pub struct Pair {
    pub a: u32,
    pub b: u32,
}

impl Default for Pair {
    fn default() -> Pair {
        Pair { a: 1, b: 2 }
    }
}

pub fn pair_with(a: u32) -> Pair {
    Pair { a, ..Pair::default() }
}

pub struct NoDefault(pub u32);

pub fn no_default(x: u32) -> NoDefault {
    NoDefault(x * 2)
}

#[cfg(test)]
mod tests {
    #[test]
    fn small() {
        assert!(super::is_small(3));
    }
}
"#;

    const FIXTURE_TEST: &str = r#"
use fx::*;

#[test]
fn adds_and_clamps() {
    assert_eq!(clamp_add(1, 2, 10), 3);
    assert_eq!(clamp_add(5, 6, 10), 10);
}

#[test]
fn signs() {
    assert_eq!(sign(0), "zero");
    assert_eq!(sign(-1), "negative");
}

#[test]
fn pairs() {
    assert_eq!(pair_with(7).a, 7);
    assert_eq!(no_default(2).0, 4);
}
"#;

    fn write_fixture(dir: &Path) {
        let files = [
            ("Cargo.toml", "[workspace]\nmembers = [\"fx\"]\nresolver = \"2\"\n"),
            (
                "fx/Cargo.toml",
                "[package]\nname = \"fx\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n",
            ),
            ("fx/src/lib.rs", FIXTURE_LIB),
            ("fx/tests/t.rs", FIXTURE_TEST),
        ];
        for (path, text) in files {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }

    /// The copy's package version differs from the real one, in the `[package]` table only.
    #[test]
    fn the_copy_gets_its_own_version() {
        let manifest = "[package]\nname = \"a\"\nversion.workspace = true\n\n\
                        [dependencies]\nversion = \"1\"\n";
        let copy = distinct_version(manifest).unwrap();
        assert_eq!(
            copy,
            format!(
                "[package]\nname = \"a\"\nversion = \"{COPY_VERSION}\"\n\n\
                 [dependencies]\nversion = \"1\"\n"
            )
        );
        assert_eq!(distinct_version("[package]\nname = \"a\"\n"), None);
    }

    /// The schemata engine and cargo-mutants itself (one build per mutant) give the same
    /// verdict for every mutant of the fixture: the same caught, missed and unviable names.
    /// Needs cargo-mutants (`cargo xtask mutants --list` installs it) and takes about a
    /// minute, so it runs when XTASK_MUTANTS_CROSSCHECK=1.
    #[test]
    fn schemata_and_cargo_mutants_agree_on_a_fixture() {
        if std::env::var("XTASK_MUTANTS_CROSSCHECK").as_deref() != Ok("1") {
            eprintln!("skipped: set XTASK_MUTANTS_CROSSCHECK=1 to compare with cargo-mutants");
            return;
        }
        let dir = std::env::temp_dir().join(format!("xtask-schemata-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        write_fixture(&dir);
        let targets = vec!["--lib".to_string(), "--test=t".to_string()];
        let out_dir = dir.join("target/mutants-schemata");
        let ours = run(
            &dir,
            &Options {
                package: "fx",
                crate_dir: "fx",
                globs: vec![],
                names: vec![],
                shard: None,
                timeout: Some(60),
                targets: targets.clone(),
                out_dir: &out_dir,
            },
        )
        .unwrap();
        let mut command = Command::new("cargo");
        command.args(["mutants", "--package", "fx", "--output"]).arg(dir.join("target"));
        for t in &targets {
            command.arg(format!("--cargo-arg={t}"));
        }
        let status = command.current_dir(&dir).stdout(Stdio::null()).status().unwrap();
        // cargo-mutants exits 2 when a mutant is missed, as it must be here.
        assert_eq!(status.code(), Some(2), "cargo mutants on the fixture");
        let theirs = super::super::read_score(&dir.join("target/mutants.out")).unwrap();
        let sorted = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort();
            v
        };
        assert!(!ours.missed.is_empty(), "the fixture misses mutants on purpose");
        assert!(!ours.unviable.is_empty(), "the fixture has an unviable mutant on purpose");
        assert_eq!(sorted(&ours.missed), sorted(&theirs.missed), "missed");
        assert_eq!(sorted(&ours.caught), sorted(&theirs.caught), "caught");
        assert_eq!(sorted(&ours.unviable), sorted(&theirs.unviable), "unviable");
        assert_eq!(ours.timeout, theirs.timeout, "timeout");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
