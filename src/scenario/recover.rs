//! Parsing that reports every data error of a file, not only the first.
//!
//! serde stops at the first unknown key or wrong type. To find the others, the text is read once
//! into a spanned TOML tree; then the tree is deserialized, and each error is located in the tree
//! by its span, reported, and the offending entry removed before deserializing again. Each round
//! takes one entry out, so the loop ends, after about one round per mistake.
//!
//! Key paths are those of the file as written: an element removed from an array does not renumber
//! the elements after it.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;

use serde::Deserialize;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use super::{diagnose_toml_error, missing_field_hint, syntax_hint, unknown_field, RawScenario};
use crate::diag::{Diagnostic, SourceFile};

/// Read the whole file, reporting every unknown key, wrong type and missing key.
pub(super) fn parse_all(src: &SourceFile) -> Result<RawScenario, Vec<Diagnostic>> {
    let root = DeTable::parse(&src.text).map_err(|e| vec![diagnose_toml_error(src, &e)])?;
    let span = root.span();
    let mut doc = Spanned::new(span, DeValue::Table(root.into_inner()));
    let written = Positions::of(&doc);
    let mut diags = Vec::new();
    // Entries taken out of a table, as (table path, key): a required key among them is then
    // reported missing by serde, which would say the same mistake twice.
    let mut gone = BTreeSet::new();
    loop {
        let e = match RawScenario::deserialize(ValueDeserializer::from(doc.clone())) {
            Ok(raw) if diags.is_empty() => return Ok(raw),
            Ok(_) => break,
            Err(e) => e,
        };
        let msg = e.message().trim();
        let found = e.span().and_then(|span| {
            locate(&doc, &span, wanted_kind(msg), &written).map(|node| (span, node))
        });
        let Some((span, node)) = found else {
            // Not a place in the tree: report it as it is, and stop.
            diags.push(diagnose_toml_error(src, &e));
            break;
        };
        if table_as_array(msg) {
            // serde reads a struct from an array element by element; what it said about the
            // elements only follows from the array being there at all.
            let inside = format!("{}[", node.path);
            diags.retain(|d: &Diagnostic| !d.key.starts_with(&inside));
        }
        if let Some(d) = diagnose(src, span, msg, &node, &mut gone) {
            diags.push(d);
        }
        if !remove(&mut doc, &node.steps) {
            // The root, or an error whose entry cannot be taken out: nothing more to learn.
            if diags.is_empty() {
                diags.push(diagnose_toml_error(src, &e));
            }
            break;
        }
        if let Some(name) = &node.name {
            gone.insert((node.parent.clone(), name.clone()));
        }
    }
    diags.sort_by_key(|d| (d.line, d.column));
    Err(diags)
}

/// The diagnostic for one data error at `node`, or `None` when it only repeats an earlier one.
fn diagnose(
    src: &SourceFile,
    span: Range<usize>,
    msg: &str,
    node: &Node,
    gone: &mut BTreeSet<(String, String)>,
) -> Option<Diagnostic> {
    if let Some((field, hint)) = missing_field_hint(msg) {
        // `node` is the table the key is missing from.
        if gone.contains(&(node.path.clone(), field.clone())) {
            return None;
        }
        let d = Diagnostic::error(src, span, join(&node.path, &field), msg);
        return Some(match hint {
            Some(h) => d.with_hint(h),
            None => d,
        });
    }
    if table_as_array(msg) {
        let d = Diagnostic::error(
            src,
            span,
            node.path.clone(),
            "expected a table, found an array",
        );
        return Some(d.with_hint(
            "one table is written [name] or name = { ... }; [[name]] and [ ... ] make lists",
        ));
    }
    if let Some((_, best, hint)) = unknown_field(msg) {
        // `capacty` for `capacity`: the missing `capacity` is the same mistake.
        if let Some(best) = best {
            gone.insert((node.parent.clone(), best));
        }
        return Some(Diagnostic::error(src, span, node.path.clone(), msg).with_hint(hint));
    }
    Some(Diagnostic::error(src, span, node.path.clone(), msg).with_hint(syntax_hint(msg)))
}

/// serde says "invalid length 0, expected struct RawMeta with 8 elements" when it was given an
/// array for a table.
fn table_as_array(msg: &str) -> bool {
    msg.starts_with("invalid length") && msg.contains("expected struct")
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Table,
    Array,
    Other,
}

/// The value an error is about: how to reach it, and what a diagnostic calls it.
#[derive(Debug)]
struct Node {
    steps: Vec<Step>,
    /// Key path such as `supplier[3].capacity`; empty for the root.
    path: String,
    /// The path of the table or array holding it.
    parent: String,
    /// Its key, when it is an entry of a table.
    name: Option<String>,
}

/// Where each array element stood in the file as written, by its span and depth, so that paths
/// keep the written numbering after earlier elements have been taken out.
struct Positions(HashMap<(usize, usize, usize), usize>);

impl Positions {
    fn of(doc: &Spanned<DeValue<'_>>) -> Positions {
        fn walk(
            v: &Spanned<DeValue<'_>>,
            depth: usize,
            out: &mut HashMap<(usize, usize, usize), usize>,
        ) {
            match v.get_ref() {
                DeValue::Table(t) => t.values().for_each(|c| walk(c, depth + 1, out)),
                DeValue::Array(a) => {
                    for (i, c) in a.iter().enumerate() {
                        let s = c.span();
                        out.insert((s.start, s.end, depth + 1), i);
                        walk(c, depth + 1, out);
                    }
                }
                _ => {}
            }
        }
        let mut out = HashMap::new();
        walk(doc, 0, &mut out);
        Positions(out)
    }

    fn index(&self, span: &Range<usize>, depth: usize, now: usize) -> usize {
        self.0
            .get(&(span.start, span.end, depth))
            .copied()
            .unwrap_or(now)
    }
}

/// A step while searching, borrowed from the tree.
#[derive(Clone, Copy)]
enum StepRef<'a> {
    Key(&'a str),
    Index(usize),
}

/// The value (or table entry, by its key) an error's span points at. Among values sharing the
/// span, the kind the error is about; the innermost table for a table, else the outermost.
fn locate(
    doc: &Spanned<DeValue<'_>>,
    span: &Range<usize>,
    want: Option<Kind>,
    written: &Positions,
) -> Option<Node> {
    fn hits<'a>(
        v: &'a Spanned<DeValue<'_>>,
        key_span: Option<Range<usize>>,
        span: &Range<usize>,
        at: &mut Vec<StepRef<'a>>,
        out: &mut Vec<(Vec<StepRef<'a>>, Kind)>,
    ) {
        if v.span() == *span || key_span.as_ref() == Some(span) {
            out.push((at.clone(), kind(v.get_ref())));
        }
        match v.get_ref() {
            DeValue::Table(t) => {
                for (k, c) in t.iter() {
                    at.push(StepRef::Key(k.get_ref()));
                    hits(c, Some(k.span()), span, at, out);
                    at.pop();
                }
            }
            DeValue::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    at.push(StepRef::Index(i));
                    hits(c, None, span, at, out);
                    at.pop();
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    hits(doc, None, span, &mut Vec::new(), &mut found);
    if want.is_some_and(|k| found.iter().any(|(_, kind)| *kind == k)) {
        found.retain(|(_, kind)| Some(*kind) == want);
    }
    let (steps, _) = match want {
        Some(Kind::Table) => found.into_iter().max_by_key(|(s, _)| s.len()),
        _ => found.into_iter().min_by_key(|(s, _)| s.len()),
    }?;
    Some(describe(doc, &steps, written))
}

/// Name the value at `steps`.
fn describe(doc: &Spanned<DeValue<'_>>, steps: &[StepRef<'_>], written: &Positions) -> Node {
    let mut node = Node {
        steps: Vec::with_capacity(steps.len()),
        path: String::new(),
        parent: String::new(),
        name: None,
    };
    let mut v = doc;
    for step in steps {
        let parent = std::mem::take(&mut node.path);
        let child = match (v.get_ref(), *step) {
            (DeValue::Table(t), StepRef::Key(k)) => t.get(k),
            (DeValue::Array(a), StepRef::Index(now)) => a.get(now),
            _ => None,
        };
        let child = child.expect("a step found in the same tree");
        match *step {
            StepRef::Key(k) => {
                node.path = join(&parent, k);
                node.name = Some(k.to_owned());
                node.steps.push(Step::Key(k.to_owned()));
            }
            StepRef::Index(now) => {
                let i = written.index(&child.span(), node.steps.len() + 1, now);
                node.path = format!("{parent}[{i}]{}", strategy_id(&parent, child.get_ref()));
                node.name = None;
                node.steps.push(Step::Index(now));
            }
        }
        node.parent = parent;
        v = child;
    }
    node
}

/// `(expand)` after `strategy[0]`, as the strategy checks name a strategy.
fn strategy_id(path: &str, v: &DeValue<'_>) -> String {
    let id = match v {
        DeValue::Table(t) if path == "strategy" => t.get("id"),
        _ => None,
    };
    match id.and_then(|id| id.get_ref().as_str()) {
        Some(id) => format!("({id})"),
        None => String::new(),
    }
}

fn kind(v: &DeValue<'_>) -> Kind {
    match v {
        DeValue::Table(_) => Kind::Table,
        DeValue::Array(_) => Kind::Array,
        _ => Kind::Other,
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// What kind of value an error is about, when two values share a span: `[[supplier]]` is the
/// span of the array and of its first table; `a.b = 1` gives table `a` the span of its key.
fn wanted_kind(msg: &str) -> Option<Kind> {
    if msg.starts_with("missing field") || msg.starts_with("invalid type: map") {
        Some(Kind::Table)
    } else if msg.starts_with("invalid type: sequence") {
        Some(Kind::Array)
    } else {
        None
    }
}

/// Take the value at `steps` out of the tree; false for the root or a path no longer there.
fn remove(doc: &mut Spanned<DeValue<'_>>, steps: &[Step]) -> bool {
    let Some((last, parents)) = steps.split_last() else {
        return false;
    };
    let mut v = doc;
    for s in parents {
        let next = match (v.get_mut(), s) {
            (DeValue::Table(t), Step::Key(k)) => t.get_mut(k.as_str()),
            (DeValue::Array(a), Step::Index(i)) => a.get_mut(*i),
            _ => None,
        };
        match next {
            Some(n) => v = n,
            None => return false,
        }
    }
    match (v.get_mut(), last) {
        (DeValue::Table(t), Step::Key(k)) => t.remove(k.as_str()).is_some(),
        (DeValue::Array(a), Step::Index(i)) if *i < a.len() => {
            *a = a
                .iter()
                .enumerate()
                .filter(|(j, _)| j != i)
                .map(|(_, e)| e.clone())
                .collect();
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> Vec<String> {
        let src = SourceFile::new("t.toml", text.to_owned());
        match parse_all(&src) {
            Ok(_) => Vec::new(),
            Err(d) => d.into_iter().map(|d| d.key).collect(),
        }
    }

    #[test]
    fn a_removed_element_does_not_renumber_the_next() {
        let text = r#"[scenario]
name = "x"

[[supplier]]
id = "a"
region = "A"

[[supplier]]
id = "b"
region = "A"
material = "m"
capacity = 1
spaer = 0.1
"#;
        assert_eq!(
            keys(text),
            ["supplier[0].material", "supplier[1].spaer"],
            "the first supplier lacks material (serde names one missing key per table); the second has a typo"
        );
    }

    #[test]
    fn a_wrong_type_is_not_also_reported_missing() {
        let text = "[scenario]\nname = 5\n";
        assert_eq!(keys(text), ["scenario.name"]);
    }

    #[test]
    fn a_misspelt_table_is_not_also_reported_missing() {
        let text = "[scenaro]\nname = \"x\"\n";
        assert_eq!(keys(text), ["scenaro"]);
    }

    #[test]
    fn an_array_where_a_table_belongs_is_named_as_the_array() {
        for text in ["[[scenario]]\nname = \"x\"\n", "scenario = [\"x\"]\n"] {
            assert_eq!(keys(text), ["scenario"], "{text}");
        }
    }

    #[test]
    fn two_unknown_keys_in_one_inline_table_are_both_reported() {
        let text = r#"[scenario]
name = "x"

[[shock]]
id = "s"
kind = "capacity_loss"
target = { suplier = "a", regoin = "A" }
duration_days = { dist = "lognormal", medain = 20, p95 = 90 }
"#;
        assert_eq!(
            keys(text),
            [
                "shock[0].target.suplier",
                "shock[0].target.regoin",
                "shock[0].duration_days.medain"
            ]
        );
    }
}
