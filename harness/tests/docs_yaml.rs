//! Issue 18: every YAML block in README.md and docs/ runs, as a reader would paste it.
//!
//! A block is recognised by what it is: a scenario (`schema_version:`) is parsed and every
//! variant run, and must meet its own expectations; a dev-server settings file
//! (`session_token_ttl:`) must load as `cargo xtask serve --settings` loads it; a CI matrix
//! (`jobs:`) must be YAML whose `cargo xtask` commands are real commands; an entry of a
//! findings file (`- id:`) must parse as `findings.yaml` does. A block of any
//! other kind fails this test until a rule for it is added here, so no example goes
//! unchecked.

mod scenario_support;

use std::path::{Path, PathBuf};

use scenario_support::{system, workspace_root};
use session_harness::scenario;
use session_harness::serve::settings_file::parse_settings;

/// One fenced ```yaml block: where it starts and its text, dedented to its fence.
struct Block {
    place: String,
    text: String,
}

fn markdown_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("a readable docs folder") {
            let path = entry.expect("a readable entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    let root = workspace_root();
    let mut out = vec![root.join("README.md")];
    walk(&root.join("docs"), &mut out);
    out.sort();
    out
}

fn yaml_blocks(path: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(path).expect("a readable markdown file");
    let rel = path.strip_prefix(workspace_root()).unwrap_or(path).display().to_string();
    let mut blocks = Vec::new();
    let mut open: Option<(usize, usize, Vec<String>)> = None;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match &mut open {
            None if trimmed == "```yaml" || trimmed == "```yml" => {
                open = Some((n + 1, indent, vec![]))
            }
            Some((start, fence, lines)) => {
                if trimmed.starts_with("```") {
                    blocks.push(Block {
                        place: format!("{rel}:{start}"),
                        text: lines.join("\n") + "\n",
                    });
                    open = None;
                } else {
                    let cut = line.char_indices().nth(*fence).map_or(line.len(), |(i, _)| i);
                    let cut = if line[..cut].trim().is_empty() { cut } else { 0 };
                    lines.push(line[cut..].to_string());
                }
            }
            None => {}
        }
    }
    assert!(open.is_none(), "{rel}: a ```yaml block is never closed");
    blocks
}

/// The `cargo xtask` commands that exist (xtask/src/main.rs), for CI examples.
const XTASK_COMMANDS: &[&str] = &[
    "check",
    "fuzz",
    "gate",
    "determinism",
    "replay",
    "timeline",
    "report",
    "schema",
    "serve",
    "defects",
    "mutants",
    "bench",
];

fn check_block(block: &Block) -> Result<&'static str, String> {
    let text = &block.text;
    if text.contains("schema_version:") {
        let sc = scenario::parse(&block.place, text).map_err(|e| e.to_string())?;
        let mut failures = Vec::new();
        for variant in &sc.variants {
            let run = scenario::run_variant(&sc, variant, system())
                .map_err(|e| format!("[{}]: {e}", variant.name))?;
            failures.extend(run.failures.iter().map(|f| format!("[{}]: {f}", variant.name)));
        }
        if failures.is_empty() { Ok("scenario") } else { Err(failures.join("\n")) }
    } else if text.contains("session_token_ttl:") {
        parse_settings(&block.place, text).map(|_| "settings").map_err(|e| e.to_string())
    } else if text.trim_start().starts_with("- id:") && text.contains("\n    sdk:") {
        // One entry of a findings file (docs/findings.md): it must parse as findings.yaml does.
        let file = format!("findings:\n{text}");
        session_harness::gate::Findings::parse(&block.place, &file)
            .map(|_| "finding")
            .map_err(|e| e.to_string())
    } else if text.contains("jobs:") {
        let value: serde_json::Value =
            serde_saphyr::from_str(text).map_err(|e| format!("not YAML: {e}"))?;
        let mut commands = 0;
        let mut stack = vec![&value];
        while let Some(v) = stack.pop() {
            match v {
                serde_json::Value::Object(map) => {
                    if let Some(serde_json::Value::String(run)) = map.get("run") {
                        for part in run.split("cargo xtask ").skip(1) {
                            let command = part.split_whitespace().next().unwrap_or("");
                            if !XTASK_COMMANDS.contains(&command) {
                                return Err(format!("`cargo xtask {command}` is not a command"));
                            }
                            commands += 1;
                        }
                    }
                    stack.extend(map.values());
                }
                serde_json::Value::Array(items) => stack.extend(items),
                _ => {}
            }
        }
        if commands == 0 {
            Err("a CI example that runs no cargo xtask command".into())
        } else {
            Ok("ci")
        }
    } else {
        Err("a YAML block of no known kind: add a rule for it in harness/tests/docs_yaml.rs".into())
    }
}

#[test]
fn every_yaml_block_in_the_readme_and_docs_runs() {
    let mut checked = Vec::new();
    let mut failures = Vec::new();
    for path in markdown_files() {
        for block in yaml_blocks(&path) {
            match check_block(&block) {
                Ok(kind) => checked.push(format!("{} ({kind})", block.place)),
                Err(e) => failures.push(format!("{}: {e}", block.place)),
            }
        }
    }
    assert!(failures.is_empty(), "YAML blocks that do not run as pasted:\n{}", failures.join("\n"));
    // README's seed scenario, docs/scenarios.md's format example, the dev server's settings
    // and the CI matrix at least.
    assert!(checked.len() >= 4, "only {} YAML blocks found: {checked:?}", checked.len());
}
