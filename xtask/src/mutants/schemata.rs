//! Mutant schemata: one source file with every mutant of it switchable at run time.
//!
//! cargo-mutants says which mutants exist (file, span, replacement text, genre); this module
//! rewrites a file so that each mutant's site becomes a choice made by
//! `crate::__mutant(ID)` (true only for the one mutant the run activates), and the original
//! code runs when no mutant of the site is active. The sites are syntax nodes found with
//! `syn` (spans with line and column, proc-macro2 `span-locations`):
//!
//! | genre | site | schema |
//! | --- | --- | --- |
//! | `FnValue` (replace a fn body) | the fn's body block | `{ if m(ID) { REPLACEMENT } else ORIGINAL }` |
//! | `BinaryOperator` (span: the operator only) | the enclosing binary expression | `(if m(ID) { MUTATED } else { ORIGINAL })` |
//! | `UnaryOperator` (delete `!` / `-`) | the enclosing unary expression | same |
//! | `MatchArmGuard` (guard to true / false) | the guard expression | same |
//! | `MatchArm` (delete an arm) | the arm's guard | an extra guard `if !m(ID)`, or `!m(ID) && (GUARD)` |
//! | `StructField` (delete a field of `S { f: v, ..base }`) | the struct expression | as for operators |
//!
//! `MUTATED` is the site's original text with exactly that mutant applied (cargo-mutants'
//! own replacement at its own span), so a mutant behaves as cargo-mutants would build it.
//! Sites nest (a body replacement around operator mutants, a guard replacement and an
//! operator on the same expression): the `ORIGINAL` branch carries the inner sites'
//! schemata, a `MUTATED` branch is plain (only one mutant is active at a time), and
//! mutants on the same node share one `if … else if … else` chain.
//!
//! The generated file records, per mutant, the byte range of its `MUTATED` text, so that a
//! compiler error there names the mutant as unviable ([`Schema::mutant_at`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Context, Result, bail};
use proc_macro2::{LineColumn, Span};
use serde::Deserialize;
use syn::spanned::Spanned;
use syn::visit::Visit;

/// The function the schemata call; injected into the crate root of the copy.
pub const SWITCH_FN: &str = "__mutant";

/// The panic of a match left with no arm for its value: the mutant deleted the only arm
/// for it, which cargo-mutants' build would refuse (non-exhaustive), so it is unviable.
pub const NO_ARM_LEFT: &str = "mutant schemata: the deleted arm was the only one left";

/// One mutant as `cargo mutants --list --json` (27.x) describes it, plus our id.
#[derive(Clone, Debug, Deserialize)]
pub struct ListedMutant {
    pub file: String,
    pub span: SpanJson,
    pub replacement: String,
    pub genre: String,
    /// cargo-mutants' name: `FILE:LINE:COL: replace … in FUNCTION`.
    pub name: String,
    /// Filled in by the engine (1-based; 0 means "no mutant").
    #[serde(skip)]
    pub id: u32,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub struct SpanJson {
    pub start: LineColJson,
    pub end: LineColJson,
}

/// cargo-mutants' positions: 1-based line, 1-based column in characters.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub struct LineColJson {
    pub line: usize,
    pub column: usize,
}

/// The genres this module knows how to switch (every genre cargo-mutants 27.1 emitted over
/// the scope when this was written).
pub const GENRES: [&str; 6] =
    ["FnValue", "BinaryOperator", "UnaryOperator", "MatchArm", "MatchArmGuard", "StructField"];

/// A rewritten file.
#[derive(Debug)]
pub struct Schema {
    pub text: String,
    /// Per mutant id: the byte range of its mutated text in `text`.
    pub mutated_ranges: BTreeMap<u32, (usize, usize)>,
    /// Per mutant id: the byte range of the whole site it switches, in `text`.
    pub site_ranges: BTreeMap<u32, (usize, usize)>,
}

impl Schema {
    /// The mutants whose mutated text holds the byte offset `at` (innermost first), else the
    /// mutants of the innermost site around it.
    pub fn mutants_at(&self, at: usize) -> (Vec<u32>, bool) {
        let inside = |r: &(usize, usize)| r.0 <= at && at < r.1.max(r.0 + 1);
        let mut direct: Vec<(usize, u32)> = self
            .mutated_ranges
            .iter()
            .filter(|(_, r)| inside(r))
            .map(|(id, r)| (r.1 - r.0, *id))
            .collect();
        if !direct.is_empty() {
            direct.sort();
            return (vec![direct[0].1], true);
        }
        let mut sites: Vec<(usize, u32)> = self
            .site_ranges
            .iter()
            .filter(|(_, r)| inside(r))
            .map(|(id, r)| (r.1 - r.0, *id))
            .collect();
        sites.sort();
        let Some(&(len, _)) = sites.first() else { return (vec![], false) };
        (sites.iter().take_while(|(l, _)| *l == len).map(|(_, id)| *id).collect(), false)
    }
}

/// Byte offsets of the starts of lines.
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines { text, starts }
    }

    /// Byte offset of a 1-based line and a 0-based column in characters.
    fn offset(&self, line: usize, column_chars: usize) -> Option<usize> {
        let start = *self.starts.get(line.checked_sub(1)?)?;
        let rest = &self.text[start..];
        let mut chars = rest.char_indices();
        let mut at = 0;
        for _ in 0..column_chars {
            let (i, c) = chars.next()?;
            at = i + c.len_utf8();
        }
        if column_chars == 0 {
            at = 0;
        }
        Some(start + at)
    }

    fn of(&self, lc: LineColumn) -> usize {
        self.offset(lc.line, lc.column).expect("syn spans lie inside the parsed text")
    }

    fn range(&self, span: Span) -> (usize, usize) {
        (self.of(span.start()), self.of(span.end()))
    }

    fn json(&self, span: &SpanJson) -> Option<(usize, usize)> {
        let start = self.offset(span.start.line, span.start.column.checked_sub(1)?)?;
        let end = self.offset(span.end.line, span.end.column.checked_sub(1)?)?;
        (start <= end).then_some((start, end))
    }
}

/// Syntax nodes a mutant can sit on.
#[derive(Default)]
#[allow(clippy::type_complexity)]
struct Nodes {
    /// (operator range, expression range)
    binary: Vec<((usize, usize), (usize, usize))>,
    unary: Vec<((usize, usize), (usize, usize))>,
    /// fn body blocks
    bodies: Vec<(usize, usize)>,
    /// (arm range, guard expression range if any, `=>` offset)
    arms: Vec<((usize, usize), Option<(usize, usize)>, usize)>,
    /// Matches: (arm ranges, offset of the closing brace, whether the last arm has a comma,
    /// the arms that match anything without a guard)
    matches: Vec<(Vec<(usize, usize)>, usize, bool, Vec<(usize, usize)>)>,
    /// Fields of struct expressions with a base: (field start, struct expression range)
    fields: Vec<(usize, (usize, usize))>,
}

struct Collect<'a> {
    lines: &'a Lines<'a>,
    nodes: Nodes,
}

impl<'ast> Visit<'ast> for Collect<'_> {
    fn visit_expr_binary(&mut self, e: &'ast syn::ExprBinary) {
        let op = self.lines.range(e.op.span());
        let whole = (self.lines.range(e.left.span()).0, self.lines.range(e.right.span()).1);
        self.nodes.binary.push((op, whole));
        syn::visit::visit_expr_binary(self, e);
    }

    fn visit_expr_unary(&mut self, e: &'ast syn::ExprUnary) {
        let op = self.lines.range(e.op.span());
        let whole = (op.0, self.lines.range(e.expr.span()).1);
        self.nodes.unary.push((op, whole));
        syn::visit::visit_expr_unary(self, e);
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.nodes.bodies.push(self.lines.range(f.block.span()));
        syn::visit::visit_item_fn(self, f);
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.nodes.bodies.push(self.lines.range(f.block.span()));
        syn::visit::visit_impl_item_fn(self, f);
    }

    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        if let Some(block) = &f.default {
            self.nodes.bodies.push(self.lines.range(block.span()));
        }
        syn::visit::visit_trait_item_fn(self, f);
    }

    fn visit_expr_struct(&mut self, e: &'ast syn::ExprStruct) {
        if e.rest.is_some() {
            let whole = self.lines.range(e.span());
            for field in &e.fields {
                let start = self.lines.range(field.member.span()).0;
                self.nodes.fields.push((start, whole));
            }
        }
        syn::visit::visit_expr_struct(self, e);
    }

    fn visit_expr_match(&mut self, m: &'ast syn::ExprMatch) {
        let mut arms = Vec::new();
        let mut catch_all = Vec::new();
        for arm in &m.arms {
            let start = arm
                .attrs
                .first()
                .map(|a| self.lines.range(a.span()).0)
                .unwrap_or_else(|| self.lines.range(arm.pat.span()).0);
            let end = match &arm.comma {
                Some(comma) => self.lines.range(comma.span()).1,
                None => self.lines.range(arm.body.span()).1,
            };
            arms.push((start, end));
            // `_` or a lowercase binding, unguarded: matches whatever the arms above left.
            let anything = match &arm.pat {
                syn::Pat::Wild(_) => true,
                syn::Pat::Ident(p) => {
                    p.subpat.is_none()
                        && p.ident.to_string().starts_with(|c: char| c.is_lowercase())
                }
                _ => false,
            };
            if anything && arm.guard.is_none() {
                catch_all.push((start, end));
            }
        }
        let close = self.lines.range(m.brace_token.span.close()).0;
        let comma = m
            .arms
            .last()
            .is_none_or(|a| a.comma.is_some() || matches!(*a.body, syn::Expr::Block(_)));
        self.nodes.matches.push((arms, close, comma, catch_all));
        syn::visit::visit_expr_match(self, m);
    }

    fn visit_arm(&mut self, arm: &'ast syn::Arm) {
        let start = arm
            .attrs
            .first()
            .map(|a| self.lines.range(a.span()).0)
            .unwrap_or_else(|| self.lines.range(arm.pat.span()).0);
        let mut end = self.lines.range(arm.body.span()).1;
        if let Some(comma) = &arm.comma {
            end = self.lines.range(comma.span()).1;
        }
        let guard = arm.guard.as_ref().map(|(_, g)| {
            // `g.span()` of a guard: from its first to its last token.
            let r = self.lines.range(g.span());
            (r.0, r.1)
        });
        let arrow = self.lines.range(arm.fat_arrow_token.spans[0]).0;
        self.nodes.arms.push(((start, end), guard, arrow));
        syn::visit::visit_arm(self, arm);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    /// An expression switched with `(if … else { ORIGINAL })`.
    Expr,
    /// A fn body block switched with `{ if … else ORIGINAL }`.
    Block,
    /// A guard with an arm-deletion switch around it.
    GuardDelete,
    /// Zero-width: an inserted guard before `=>`.
    InsertGuard,
    /// Zero-width: a last arm `_ => panic!(NO_ARM_LEFT)` in a match with a deletable arm.
    FallbackArm,
}

struct Site {
    range: (usize, usize),
    layers: BTreeMap<Layer, Vec<u32>>,
}

/// What [`rewrite`] left out of the schema, one entry per mutant.
#[derive(Debug, Default)]
pub struct Left {
    /// Mutants it could not place (an unknown genre, a span on no node of its genre).
    pub unplaced: Vec<(u32, String)>,
    /// Mutants known not to build, with the reason.
    pub unviable: Vec<(u32, String)>,
}

/// Rewrites `source` (the text of one file) so that every mutant in `mutants` (all of that
/// file) is switched at run time. Mutants it cannot place, or knows not to build, are
/// returned and left out of the schema.
pub fn rewrite(source: &str, mutants: &[ListedMutant]) -> Result<(Schema, Left)> {
    let file = syn::parse_file(source).context("parsing the file with syn")?;
    let lines = Lines::new(source);
    let mut collect = Collect { lines: &lines, nodes: Nodes::default() };
    collect.visit_file(&file);
    let nodes = collect.nodes;

    let mut sites: BTreeMap<(usize, usize), Site> = BTreeMap::new();
    let mut mutant_span: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
    let mut failed = Vec::new();
    let mut unviable = Vec::new();
    let mut fallbacks: BTreeMap<usize, bool> = BTreeMap::new();
    let by_id: BTreeMap<u32, &ListedMutant> = mutants.iter().map(|m| (m.id, m)).collect();
    for m in mutants {
        let Some(span) = lines.json(&m.span) else {
            failed.push((m.id, format!("span {:?} is outside the file", m.span)));
            continue;
        };
        let placed = match m.genre.as_str() {
            "BinaryOperator" => nodes
                .binary
                .iter()
                .find(|(op, _)| *op == span)
                .map(|(_, whole)| (*whole, Layer::Expr)),
            "UnaryOperator" => {
                nodes.unary.iter().find(|(op, _)| *op == span).map(|(_, w)| (*w, Layer::Expr))
            }
            "FnValue" => nodes
                .bodies
                .iter()
                .filter(|b| b.0 <= span.0 && span.1 <= b.1)
                .min_by_key(|b| b.1 - b.0)
                .map(|b| (*b, Layer::Block)),
            "MatchArmGuard" => nodes
                .arms
                .iter()
                .filter_map(|(_, g, _)| *g)
                .find(|g| *g == span)
                .map(|g| (g, Layer::Expr)),
            "MatchArm" => {
                nodes.arms.iter().find(|(arm, _, _)| *arm == span).map(|(_, g, arrow)| {
                    // With a guard on an arm, the match no longer counts as exhaustive: a last
                    // arm keeps it so (and names the mutant unviable if it is ever reached).
                    if let Some((_, close, comma, _)) =
                        nodes.matches.iter().find(|(arms, ..)| arms.contains(&span))
                    {
                        fallbacks.insert(*close, *comma);
                    }
                    match g {
                        Some(g) => (*g, Layer::GuardDelete),
                        None => ((*arrow, *arrow), Layer::InsertGuard),
                    }
                })
            }
            // The span runs from the member to the value's end, with the comma if any.
            "StructField" => {
                nodes.fields.iter().find(|(f, _)| *f == span.0).map(|(_, s)| (*s, Layer::Expr))
            }
            other => {
                failed.push((m.id, format!("genre `{other}` is not handled")));
                continue;
            }
        };
        if m.genre == "MatchArm" {
            // cargo-mutants deletes arms of matches with a `_` arm, guarded or not; with no
            // unguarded catch-all left, its build refuses the non-exhaustive match.
            let left = nodes.matches.iter().find(|(arms, ..)| arms.contains(&span));
            if let Some((_, _, _, catch_all)) = left
                && !catch_all.iter().any(|a| *a != span)
            {
                unviable.push((
                    m.id,
                    "deleting the arm leaves the match without an unguarded catch-all arm"
                        .to_string(),
                ));
                continue;
            }
        }
        let Some((range, layer)) = placed else {
            failed.push((m.id, format!("no {} node at {:?}", m.genre, m.span)));
            continue;
        };
        mutant_span.insert(m.id, span);
        sites
            .entry(range)
            .or_insert_with(|| Site { range, layers: BTreeMap::new() })
            .layers
            .entry(layer)
            .or_default()
            .push(m.id);
    }

    for (close, comma) in fallbacks {
        let site = sites
            .entry((close, close))
            .or_insert_with(|| Site { range: (close, close), layers: BTreeMap::new() });
        site.layers.insert(Layer::FallbackArm, vec![if comma { 1 } else { 0 }]);
    }
    // Sites nest like the syntax they come from: sort outer first, then emit recursively.
    let mut order: Vec<&Site> = sites.values().collect();
    order.sort_by_key(|s| (s.range.0, std::cmp::Reverse(s.range.1)));
    let mut out = Emitter {
        source,
        by_id: &by_id,
        mutant_span: &mutant_span,
        text: String::with_capacity(source.len() * 2),
        mutated_ranges: BTreeMap::new(),
        site_ranges: BTreeMap::new(),
    };
    let mut i = 0;
    out.emit_range((0, source.len()), &order, &mut i);
    if i != order.len() {
        bail!("internal: {} of {} sites emitted", i, order.len());
    }
    Ok((
        Schema { text: out.text, mutated_ranges: out.mutated_ranges, site_ranges: out.site_ranges },
        Left { unplaced: failed, unviable },
    ))
}

struct Emitter<'a> {
    source: &'a str,
    by_id: &'a BTreeMap<u32, &'a ListedMutant>,
    mutant_span: &'a BTreeMap<u32, (usize, usize)>,
    text: String,
    mutated_ranges: BTreeMap<u32, (usize, usize)>,
    site_ranges: BTreeMap<u32, (usize, usize)>,
}

fn contains(outer: (usize, usize), inner: (usize, usize)) -> bool {
    if inner.0 == inner.1 {
        // A zero-width insertion belongs to a site that holds it strictly inside.
        return outer.0 < inner.0 && inner.0 < outer.1;
    }
    outer.0 <= inner.0 && inner.1 <= outer.1
}

impl Emitter<'_> {
    /// Emits `range` of the source with every site inside it (from `order[*i..]`) switched.
    fn emit_range(&mut self, range: (usize, usize), order: &[&Site], i: &mut usize) {
        let mut at = range.0;
        // The caller has stepped past the site being emitted: what follows inside is inner.
        while *i < order.len() && contains(range, order[*i].range) {
            let site = order[*i];
            if site.range.0 < at {
                // Overlapping but not nested: cannot happen with syntax nodes.
                *i += 1;
                continue;
            }
            self.text.push_str(&self.source[at..site.range.0]);
            *i += 1;
            self.emit_site(site, order, i);
            at = site.range.1;
        }
        self.text.push_str(&self.source[at..range.1]);
    }

    fn emit_site(&mut self, site: &Site, order: &[&Site], i: &mut usize) {
        let site_start = self.text.len();
        if let Some(comma) = site.layers.get(&Layer::FallbackArm) {
            let comma = if comma[0] == 1 { "" } else { "," };
            let _ = write!(
                self.text,
                "{comma} #[allow(unreachable_patterns)] _ => ::core::panic!(\"{NO_ARM_LEFT}\"), "
            );
            return;
        }
        let ids: Vec<u32> = site.layers.values().flatten().copied().collect();
        // The layers wrap one another inside out: Expr/Block, then GuardDelete.
        let mut closers: Vec<String> = Vec::new();
        if let Some(guard_ids) = site.layers.get(&Layer::GuardDelete) {
            for id in guard_ids {
                let _ = write!(self.text, "(!crate::{SWITCH_FN}({id}) && (");
                closers.push("))".into());
            }
        }
        if let Some(insert_ids) = site.layers.get(&Layer::InsertGuard) {
            let conds: Vec<String> =
                insert_ids.iter().map(|id| format!("!crate::{SWITCH_FN}({id})")).collect();
            let _ = write!(self.text, " if {} ", conds.join(" && "));
            // A zero-width site has no inner text.
        }
        let expr_ids = site.layers.get(&Layer::Expr);
        let block_ids = site.layers.get(&Layer::Block);
        if let Some(ids) = expr_ids {
            self.text.push('(');
            for id in ids {
                let _ = write!(self.text, "if crate::{SWITCH_FN}({id}) {{ ");
                self.push_mutated(*id, site.range);
                self.text.push_str(" } else ");
            }
            self.text.push_str("{ ");
            self.emit_range(site.range, order, i);
            self.text.push_str(" })");
        } else if let Some(ids) = block_ids {
            self.text.push_str("{ ");
            for id in ids {
                let _ = write!(self.text, "if crate::{SWITCH_FN}({id}) ");
                self.push_mutated(*id, site.range);
                self.text.push_str(" else ");
            }
            self.emit_range(site.range, order, i);
            self.text.push_str(" }");
        } else if site.range.0 != site.range.1 {
            self.emit_range(site.range, order, i);
        }
        for c in closers.iter().rev() {
            self.text.push_str(c);
        }
        let site_end = self.text.len();
        for id in ids {
            self.site_ranges.insert(id, (site_start, site_end));
        }
    }

    /// The site's original text with mutant `id` applied.
    fn push_mutated(&mut self, id: u32, site: (usize, usize)) {
        let span = self.mutant_span[&id];
        let m = self.by_id[&id];
        let start = self.text.len();
        self.text.push_str(&self.source[site.0..span.0]);
        self.text.push_str(&m.replacement);
        self.text.push_str(&self.source[span.1..site.1]);
        self.mutated_ranges.insert(id, (start, self.text.len()));
    }
}

/// The switch injected at the end of the copy's crate root: reads `env` once. With no
/// mutant active and `trace_env` naming a file, it appends to that file each id it is asked
/// about for the first time: the sites a test reaches (ids below `ids_max`).
pub fn switch_source(env: &str, trace_env: &str, ids_max: u32) -> String {
    format!(
        r#"
/// Mutant schemata (`cargo xtask mutants`): true only for the mutant `{env}` names.
#[doc(hidden)]
#[inline]
pub fn {SWITCH_FN}(id: u32) -> bool {{
    static ACTIVE: ::std::sync::atomic::AtomicU32 = ::std::sync::atomic::AtomicU32::new(u32::MAX);
    let mut active = ACTIVE.load(::std::sync::atomic::Ordering::Relaxed);
    if active == u32::MAX {{
        active = ::std::env::var("{env}").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
        ACTIVE.store(active, ::std::sync::atomic::Ordering::Relaxed);
    }}
    if active == 0 {{
        {SWITCH_FN}_trace(id);
    }}
    active == id
}}

#[doc(hidden)]
fn {SWITCH_FN}_trace(id: u32) {{
    use ::std::sync::atomic::{{AtomicBool, AtomicU8, Ordering}};
    static TRACE: AtomicU8 = AtomicU8::new(0);
    static SEEN: [AtomicBool; {ids_max}] = [const {{ AtomicBool::new(false) }}; {ids_max}];
    let mut on = TRACE.load(Ordering::Relaxed);
    if on == 0 {{
        on = if ::std::env::var_os("{trace_env}").is_some() {{ 2 }} else {{ 1 }};
        TRACE.store(on, Ordering::Relaxed);
    }}
    if on == 1 || (id as usize) >= SEEN.len() || SEEN[id as usize].swap(true, Ordering::Relaxed) {{
        return;
    }}
    if let Some(path) = ::std::env::var_os("{trace_env}") {{
        use ::std::io::Write as _;
        if let Ok(mut f) = ::std::fs::OpenOptions::new().create(true).append(true).open(path) {{
            let _ = writeln!(f, "{{id}}");
        }}
    }}
}}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The span of the first `needle` in `source` (after `after`), as cargo-mutants writes it.
    fn span_of(source: &str, after: &str, needle: &str) -> SpanJson {
        let from = source.find(after).expect("anchor in source");
        let start = from + source[from..].find(needle).expect("needle after anchor");
        let pos = |at: usize| {
            let line = source[..at].matches('\n').count() + 1;
            let line_start = source[..at].rfind('\n').map_or(0, |i| i + 1);
            LineColJson { line, column: source[line_start..at].chars().count() + 1 }
        };
        SpanJson { start: pos(start), end: pos(start + needle.len()) }
    }

    fn mutant(id: u32, genre: &str, span: SpanJson, replacement: &str) -> ListedMutant {
        ListedMutant {
            file: "src/lib.rs".into(),
            span,
            replacement: replacement.into(),
            genre: genre.into(),
            name: format!("mutant {id}"),
            id,
        }
    }

    /// Rewrites, requires every mutant placed and the result to parse; returns the text
    /// with whitespace runs collapsed, for readable expectations.
    fn check(source: &str, mutants: &[ListedMutant]) -> (String, Schema) {
        let (schema, left) = rewrite(source, mutants).unwrap();
        assert!(left.unplaced.is_empty() && left.unviable.is_empty(), "{left:?}");
        syn::parse_file(&schema.text).unwrap_or_else(|e| panic!("{e}:\n{}", schema.text));
        let flat = schema.text.split_whitespace().collect::<Vec<_>>().join(" ");
        (flat, schema)
    }

    #[test]
    fn a_binary_operator_switches_its_whole_expression() {
        let src = "fn f(a: u32, b: u32) -> bool { a + b > 3 }\n";
        let (flat, schema) = check(
            src,
            &[
                mutant(1, "BinaryOperator", span_of(src, "a +", "+"), "-"),
                mutant(2, "BinaryOperator", span_of(src, "a +", "+"), "*"),
                mutant(3, "BinaryOperator", span_of(src, "b >", ">"), "<="),
            ],
        );
        assert!(
            flat.contains(
                "(if crate::__mutant(3) { a + b <= 3 } else { (if crate::__mutant(1) { a - b } \
                 else if crate::__mutant(2) { a * b } else { a + b }) > 3 })"
            ),
            "{flat}"
        );
        // A compiler error inside mutant 2's text names mutant 2 alone.
        let at = schema.text.find("a * b").unwrap();
        assert_eq!(schema.mutants_at(at), (vec![2], true));
        // An error in the original branch of the outer site, outside every mutated text:
        // the site's own mutant(s).
        let at = schema.text.rfind("> 3").unwrap();
        assert_eq!(schema.mutants_at(at), (vec![3], false));
    }

    #[test]
    fn a_body_replacement_wraps_the_operators_inside_it() {
        let src = "fn f(a: u32) -> u32 {\n    a + 1\n}\n";
        let (flat, _) = check(
            src,
            &[
                mutant(1, "FnValue", span_of(src, "a + 1", "a + 1"), "0"),
                mutant(2, "BinaryOperator", span_of(src, "a + 1", "+"), "*"),
            ],
        );
        assert_eq!(
            flat,
            "fn f(a: u32) -> u32 { if crate::__mutant(1) { 0 } else { (if crate::__mutant(2) \
             { a * 1 } else { a + 1 }) } }"
        );
    }

    #[test]
    fn a_unary_deletion_and_a_struct_field_deletion() {
        let src = "fn f(a: bool) -> S {\n    S { x: !a, ..S::new() }\n}\n";
        let (flat, _) = check(
            src,
            &[
                mutant(1, "UnaryOperator", span_of(src, "!a", "!"), ""),
                mutant(2, "StructField", span_of(src, "x:", "x: !a,"), ""),
            ],
        );
        assert!(
            flat.contains(
                "(if crate::__mutant(2) { S { ..S::new() } } else { S { x: (if \
                 crate::__mutant(1) { a } else { !a }), ..S::new() } })"
            ),
            "{flat}"
        );
    }

    #[test]
    fn match_arms_are_deleted_by_a_guard_and_guards_are_switched() {
        let src = "fn f(a: Option<u8>, b: bool) -> u8 {\n    match a {\n        \
                   Some(0) => 1,\n        Some(n) if b && n > 2 => n,\n        _ => 0\n    }\n}\n";
        let (flat, _) = check(
            src,
            &[
                mutant(1, "MatchArm", span_of(src, "Some(0)", "Some(0) => 1,"), ""),
                mutant(2, "MatchArm", span_of(src, "Some(n)", "Some(n) if b && n > 2 => n,"), ""),
                mutant(3, "MatchArmGuard", span_of(src, "if b", "b && n > 2"), "false"),
                mutant(4, "BinaryOperator", span_of(src, "b &&", "&&"), "||"),
            ],
        );
        assert!(flat.contains("Some(0) if !crate::__mutant(1) => 1,"), "{flat}");
        assert!(
            flat.contains(
                "Some(n) if (!crate::__mutant(2) && ((if crate::__mutant(3) { false } else if \
                 crate::__mutant(4) { b || n > 2 } else { b && n > 2 }))) => n,"
            ),
            "{flat}"
        );
        // The guards make the match non-exhaustive to the compiler: a last arm keeps it so,
        // and says so if a deletion ever leaves a value with no arm.
        assert!(
            flat.contains(&format!(
                "_ => 0 , #[allow(unreachable_patterns)] _ => ::core::panic!(\"{NO_ARM_LEFT}\"), }}"
            )),
            "{flat}"
        );
    }

    #[test]
    fn unknown_genres_and_lost_spans_are_reported_not_guessed() {
        let src = "fn f(a: u32) -> u32 { a + 1 }\n";
        let (schema, left) = rewrite(
            src,
            &[
                mutant(1, "SomethingNew", span_of(src, "a +", "+"), "-"),
                mutant(2, "BinaryOperator", span_of(src, "a +", "a"), "-"),
            ],
        )
        .unwrap();
        let failed = left.unplaced;
        assert_eq!(failed.len(), 2, "{failed:?}");
        assert!(failed[0].1.contains("genre `SomethingNew` is not handled"), "{failed:?}");
        assert!(failed[1].1.contains("no BinaryOperator node"), "{failed:?}");
        assert_eq!(schema.text, src, "nothing placed, nothing changed");
        for genre in GENRES {
            assert_ne!(genre, "SomethingNew");
        }
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let src = "fn f(a: u32) -> bool { let _s = \"é\"; a == 1 }\n";
        let (flat, _) =
            check(src, &[mutant(1, "BinaryOperator", span_of(src, "a ==", "=="), "!=")]);
        assert!(flat.contains("(if crate::__mutant(1) { a != 1 } else { a == 1 })"), "{flat}");
    }

    /// A match whose only `_` arm is guarded is not exhaustive without the arm
    /// cargo-mutants deletes: that mutant is unviable, as cargo-mutants' build finds.
    #[test]
    fn deleting_an_arm_of_a_match_with_only_a_guarded_wildcard_is_unviable() {
        let src = "fn f(a: Option<u8>, b: bool) -> u8 {\n    match a {\n        \
                   _ if b => 0,\n        Some(n) => n,\n        None => 1,\n    }\n}\n";
        let (schema, left) = rewrite(
            src,
            &[
                mutant(1, "MatchArm", span_of(src, "Some(n)", "Some(n) => n,"), ""),
                mutant(2, "MatchArm", span_of(src, "None", "None => 1,"), ""),
            ],
        )
        .unwrap();
        assert!(left.unplaced.is_empty(), "{left:?}");
        let ids: Vec<u32> = left.unviable.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, vec![1, 2], "{left:?}");
        assert!(!schema.text.contains("__mutant(1)"), "{}", schema.text);
    }
}
