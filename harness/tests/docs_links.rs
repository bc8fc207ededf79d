//! Issue 18: the docs link only inside the repository. Every relative Markdown link in
//! README.md, ARCHITECTURE.md and docs/ resolves to a file or folder of the repository, and
//! no page sends the reader to files a clone does not have (the design notes and references
//! kept beside the repository).

mod scenario_support;

use std::path::{Path, PathBuf};

use scenario_support::workspace_root;

fn pages() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut out = vec![root.join("README.md"), root.join("ARCHITECTURE.md")];
    let mut stack = vec![root.join("docs")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("a readable docs folder") {
            let path = entry.expect("a readable entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The targets of `[text](target)` links in `text`.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        if let Some(end) = rest.find(')') {
            out.push(rest[..end].to_string());
        }
    }
    out
}

#[test]
fn docs_link_only_inside_the_repository() {
    let root = workspace_root();
    let root = root.canonicalize().unwrap_or(root);
    let mut problems = Vec::new();
    for page in pages() {
        let rel = page.strip_prefix(&root).unwrap_or(&page).display().to_string();
        let text = std::fs::read_to_string(&page).expect("a readable page");
        for word in ["DESIGN.md", "../shared/", "STYLE.md"] {
            if text.contains(word) {
                problems.push(format!("{rel}: mentions `{word}`, which is not in the repository"));
            }
        }
        for target in links(&text) {
            if target.starts_with("http://") || target.starts_with("https://") {
                continue;
            }
            let path = target.split('#').next().unwrap_or("");
            if path.is_empty() {
                continue;
            }
            let base: &Path = page.parent().expect("a page has a folder");
            let resolved = base.join(path);
            match resolved.canonicalize() {
                Ok(p) if p.starts_with(&root) => {}
                Ok(_) => problems.push(format!("{rel}: `{target}` leaves the repository")),
                Err(_) => problems.push(format!("{rel}: `{target}` does not exist")),
            }
        }
    }
    assert!(problems.is_empty(), "docs links:\n{}", problems.join("\n"));
}
