//! The floor plan as tests (DESIGN.md §4 "One floor plan", ARCHITECTURE.md "How to add …"):
//! the model and the reference SDK are split into rooms with the same names, no room under
//! `model/` or `sdk/reference/` is over 700 lines, the harness's files import one another
//! without a circle, and a new `Event` variant cannot be left out of a place that must know it.
//!
//! The import graph is read from the sources: every `crate::…`, `super::…` and `self::…` path
//! (in `use` declarations and in code) is resolved to the deepest file that holds it. An edge
//! from a file to one of its own ancestor modules is not counted: a child module (`impl World`
//! in `world/tokens.rs`) is part of its parent's room, not a neighbour of it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

mod tidy_support;
use tidy_support::{rust_files, workspace};

/// The module path of a file under `harness/src` (`model/world/mod.rs` → `["model", "world"]`).
fn module_of(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> =
        relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().expect("a file name");
    match last.as_str() {
        "lib.rs" | "mod.rs" => {}
        name => parts.push(name.trim_end_matches(".rs").to_string()),
    }
    parts
}

/// The source with comments removed (line comments only: the harness has no block comments
/// that hold paths), so a path named in a doc comment is no dependency.
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            // A `//` inside a string literal (a URL) is rare in paths; keep the line's code
            // up to the first comment marker that is not inside quotes.
            Some(i) if line[..i].matches('"').count() % 2 == 0 => &line[..i],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every module path a file names, absolute from the crate root, as segments. `use` groups
/// (`use crate::a::{b, c::d}`) are expanded one level deep, which is all the harness writes.
fn named_paths(module: &[String], code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < bytes.len() {
        if !code.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let rest = &code[i..];
        let start_ok = i == 0 || !is_ident(bytes[i - 1]) && bytes[i - 1] != b':';
        let root = ["crate::", "super::", "self::"].into_iter().find(|r| rest.starts_with(r));
        let (Some(root), true) = (root, start_ok) else {
            i += 1;
            continue;
        };
        // Read the path: segments joined by `::`, possibly ending in a `{…}` group.
        let mut j = i;
        let mut segments: Vec<String> = Vec::new();
        let mut group: Vec<String> = Vec::new();
        loop {
            let s = j;
            while j < bytes.len() && is_ident(bytes[j]) {
                j += 1;
            }
            if s < j {
                segments.push(code[s..j].to_string());
            }
            if code[j..].starts_with("::") {
                j += 2;
                if code[j..].starts_with('{') {
                    let end = code[j..].find('}').map_or(bytes.len(), |e| j + e);
                    group = code[j + 1..end]
                        .split(',')
                        .map(|g| g.trim().split("::").next().unwrap_or("").trim().to_string())
                        .filter(|g| !g.is_empty())
                        .collect();
                    j = end;
                    break;
                }
                continue;
            }
            break;
        }
        let mut base: Vec<String> = match root {
            "crate::" => Vec::new(),
            "self::" => module.to_vec(),
            _ => module[..module.len().saturating_sub(1)].to_vec(),
        };
        // `super::super::x`, `self::x`: drop the root keywords already applied.
        let mut segs = segments.into_iter().peekable();
        segs.next();
        while segs.peek().is_some_and(|s| s == "super") {
            segs.next();
            base.pop();
        }
        base.extend(segs);
        if group.is_empty() {
            out.push(base);
        } else {
            for g in group {
                let mut p = base.clone();
                p.push(g);
                out.push(p);
            }
        }
        i = j.max(i + 1);
    }
    out
}

struct Graph {
    /// File (as its module path joined by `::`) → the files it depends on.
    edges: BTreeMap<String, BTreeSet<String>>,
}

fn import_graph() -> Graph {
    let src = workspace().join("harness/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeMap<Vec<String>, String> = files
        .iter()
        .map(|p| {
            let rel = p.strip_prefix(&src).expect("under src");
            (module_of(rel), std::fs::read_to_string(p).expect("readable sources"))
        })
        .collect();
    let known: BTreeSet<Vec<String>> = modules.keys().cloned().collect();
    let mut edges = BTreeMap::new();
    for (module, text) in &modules {
        let mut to = BTreeSet::new();
        for path in named_paths(module, &code_of(text)) {
            // The deepest file that holds the path.
            let target = (0..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|p| known.contains(p))
                .unwrap_or_default();
            let ancestor = module.starts_with(&target);
            if !ancestor {
                to.insert(target.join("::"));
            }
        }
        edges.insert(module.join("::"), to);
    }
    Graph { edges }
}

/// The strongly connected components with more than one file (Tarjan's algorithm).
fn circles(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.edges.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in graph.edges.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.found
}

#[test]
fn no_import_circle_between_the_harness_files() {
    let graph = import_graph();
    assert!(graph.edges.len() > 60, "read only {} files: wrong root?", graph.edges.len());
    // The reader must see real edges, or an empty graph would pass.
    assert!(
        graph.edges["sdk::reference::js"].contains("sdk::reference::exec"),
        "the import reader missed `sdk::reference::js` → `exec`: {:?}",
        graph.edges["sdk::reference::js"]
    );
    let found = circles(&graph);
    let named: Vec<String> = found.iter().map(|c| c.join(" ↔ ")).collect();
    assert!(found.is_empty(), "import circles between the harness's files:\n{}", named.join("\n"));
}

#[test]
fn the_circle_finder_names_a_circle() {
    // The check above must be able to fail: a two-file circle and a three-file one.
    let mut edges = BTreeMap::new();
    let e = |to: &[&str]| to.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    edges.insert("a".to_string(), e(&["b"]));
    edges.insert("b".to_string(), e(&["a", "c"]));
    edges.insert("c".to_string(), e(&["d"]));
    edges.insert("d".to_string(), e(&["e"]));
    edges.insert("e".to_string(), e(&["c"]));
    edges.insert("f".to_string(), e(&["a"]));
    let found = circles(&Graph { edges });
    assert_eq!(
        found,
        vec![vec!["c".to_string(), "d".into(), "e".into()], vec!["a".to_string(), "b".into()]]
    );
}

#[test]
fn the_path_reader_resolves_groups_and_super() {
    let module = vec!["model".to_string(), "world".into(), "tokens".into()];
    let code = "use super::{Reply, World};\nuse crate::model::vocab::{CallId, Event};\n\
                let x = super::super::time::VTime::ZERO; self::inner::f();";
    let paths: Vec<String> = named_paths(&module, code).into_iter().map(|p| p.join("::")).collect();
    assert_eq!(
        paths,
        [
            "model::world::Reply",
            "model::world::World",
            "model::vocab::CallId",
            "model::vocab::Event",
            "model::time::VTime::ZERO",
            "model::world::tokens::inner::f",
        ]
    );
}

fn rooms(dir: &str) -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(&workspace().join(dir), &mut files);
    files.iter().map(|p| p.file_name().expect("a file").to_string_lossy().into_owned()).collect()
}

#[test]
fn the_model_and_the_reference_sdk_have_the_same_rooms() {
    let model = rooms("harness/src/model/world");
    let sdk = rooms("harness/src/sdk/reference/js");
    assert!(model.len() >= 8, "the model's world has only {model:?}");
    assert_eq!(
        model, sdk,
        "harness/src/model/world/ and harness/src/sdk/reference/js/ must hold the same rooms, so \
         a rule is found in both by the same path"
    );
}

#[test]
fn no_room_of_the_model_or_the_reference_sdk_is_over_700_lines() {
    let mut files = Vec::new();
    rust_files(&workspace().join("harness/src/model"), &mut files);
    rust_files(&workspace().join("harness/src/sdk/reference"), &mut files);
    assert!(files.len() > 20, "found only {} files", files.len());
    let long: Vec<String> = files
        .iter()
        .filter_map(|p| {
            let lines = std::fs::read_to_string(p).expect("readable").lines().count();
            (lines > 700).then(|| format!("{} ({lines} lines)", p.display()))
        })
        .collect();
    assert!(long.is_empty(), "rooms over 700 lines: {long:#?}");
}

/// The places a new `Event` variant must reach (ARCHITECTURE.md "How to add an event"): the
/// Rust places name it as `Event::Variant`, the others by its scenario name.
const EVENT_PLACES: &[(&str, Naming)] = &[
    ("harness/src/model/vocab/events.rs", Naming::Rust),
    ("harness/src/model/world/mod.rs", Naming::Rust),
    ("harness/src/sdk/reference/js/mod.rs", Naming::Rust),
    ("harness/src/generate/mod.rs", Naming::Rust),
    ("harness/src/scenario/format.rs", Naming::Scenario),
    ("schema/scenario.schema.json", Naming::Scenario),
    ("docs/scenarios.md", Naming::Scenario),
    ("docs/adapter-protocol.md", Naming::Scenario),
    ("adapters/shared/protocol.mjs", Naming::Scenario),
];

#[derive(Clone, Copy)]
enum Naming {
    Rust,
    Scenario,
}

/// The variants of `pub enum Event`, read from its source.
fn event_variants() -> Vec<String> {
    let text = std::fs::read_to_string(workspace().join("harness/src/model/vocab/events.rs"))
        .expect("the events file is readable");
    let body = text.split("pub enum Event {").nth(1).expect("`pub enum Event` exists");
    let body = &body[..body.find("\n}").expect("the enum closes")];
    body.lines()
        .filter(|l| l.starts_with("    ") && !l.starts_with("     "))
        .map(str::trim)
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
        .map(|l| l.split(|c: char| !c.is_ascii_alphanumeric()).next().unwrap_or("").to_string())
        .collect()
}

fn snake(variant: &str) -> String {
    let mut out = String::new();
    for (i, c) in variant.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Whether `text` names `word` as a whole word (`kill` is not found in `skill`).
fn names(text: &str, word: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

/// `(place, event)` pairs where the place does not name the event.
fn missing_events(variants: &[String], places: &[(&str, Naming, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (path, naming, text) in places {
        for v in variants {
            let found = match naming {
                Naming::Rust => names(text, &format!("Event::{v}")),
                Naming::Scenario => names(text, &snake(v)),
            };
            if !found {
                out.push(format!("{path}: `{v}` ({})", snake(v)));
            }
        }
    }
    out
}

#[test]
fn every_event_reaches_every_place_that_must_know_it() {
    let variants = event_variants();
    assert!(variants.len() >= 20, "read only {variants:?} from `pub enum Event`");
    let places: Vec<(&str, Naming, String)> = EVENT_PLACES
        .iter()
        .map(|(path, naming)| {
            let text = std::fs::read_to_string(workspace().join(path))
                .unwrap_or_else(|e| panic!("{path}: {e}"));
            (*path, *naming, text)
        })
        .collect();
    let missing = missing_events(&variants, &places);
    assert!(
        missing.is_empty(),
        "events left out of a place that must know them (ARCHITECTURE.md, How to add an \
         event):\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_event_checklist_names_a_left_out_event() {
    let variants = vec!["ColdStart".to_string(), "JsReload".to_string()];
    let places = vec![
        ("gen.rs", Naming::Rust, "Event::ColdStart => 1, Event::JsReloadLater => 2".to_string()),
        ("schema.json", Naming::Scenario, "\"cold_start\", \"js_reload\"".to_string()),
    ];
    assert_eq!(missing_events(&variants, &places), ["gen.rs: `JsReload` (js_reload)"]);
}
