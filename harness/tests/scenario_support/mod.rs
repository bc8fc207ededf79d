//! Shared by the scenario tests: where the workspace is, which files are scenarios, how
//! insta names a scenario variant's snapshot, and which system runs scenarios.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use session_harness::scenario::{self, System};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("harness/ has a parent").to_path_buf()
}

/// A path relative to the workspace root, with `/` separators: how errors and replay
/// commands name a file.
pub fn relative(path: &Path) -> String {
    let root = workspace_root();
    let root = root.canonicalize().unwrap_or(root);
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    path.strip_prefix(&root)
        .unwrap_or(&path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// Every `.yaml` file under `scenarios/`, sorted.
pub fn scenario_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("a readable scenarios directory") {
            let path = entry.expect("a readable directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&workspace_root().join("scenarios"), &mut out);
    out.sort();
    out
}

/// `harness/snapshots/`: where insta keeps the scenario snapshots, inside the package so that
/// cargo-insta finds pending ones.
pub fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots")
}

/// The snapshot name of `variant` of the scenario at `rel` (`scenarios/a/b.yaml`):
/// `a__b@variant`, so snapshots sort by scenario and sit flat in `harness/snapshots/`.
pub fn snapshot_name(rel: &str, variant: &str) -> String {
    let stem = rel.trim_start_matches("scenarios/").trim_end_matches(".yaml").replace('/', "__");
    format!("{stem}@{variant}")
}

/// The file insta writes for [`snapshot_name`].
pub fn snapshot_file(rel: &str, variant: &str) -> String {
    format!("{}.snap", snapshot_name(rel, variant))
}

/// The system scenarios run on.
pub fn system() -> &'static dyn System {
    scenario::default_system()
}
