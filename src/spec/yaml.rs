//! YAML → (JSON value, source map), keeping the position of every node.
//!
//! Input: the spec's text. Output: a [`Document`]: the `serde_json::Value` that the JSON Schema
//! and serde see, and a [`SourceMap`] from JSON Pointer (RFC 6901) to the byte spans of each
//! node's key and value, so any later stage can point at the exact text.
//!
//! Limits (a spec is hand-written and small; anything beyond these is an attack or a mistake):
//! anchors, aliases and tags are refused outright, which rules out "billion laughs" expansion;
//! nesting is capped at [`MAX_DEPTH`] and the file at [`MAX_SPEC_BYTES`]. The depth is checked
//! on the event stream *before* a tree is built, so a deeply nested file never reaches the
//! recursive parts (tree building, conversion, drop).

use std::collections::HashMap;
use std::ops::Range;

use marked_yaml::{LoadError, LoaderOptions, Node};
use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, Parser};

use crate::diag::{Code, Diagnostic, FileId, Sources};

/// Deepest nesting of mappings and sequences accepted in a spec.
pub const MAX_DEPTH: usize = 32;
/// Largest spec file accepted.
pub const MAX_SPEC_BYTES: usize = 1 << 20;

/// Byte spans of one node.
#[derive(Debug, Clone)]
pub struct NodeSpans {
    /// The key that introduced the node, when it is a mapping value.
    pub key: Option<Range<usize>>,
    /// The node itself.
    pub value: Range<usize>,
}

/// JSON Pointer → spans.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    map: HashMap<String, NodeSpans>,
}

impl SourceMap {
    /// Spans of the node at `pointer`, or of its nearest ancestor that has some.
    pub fn locate(&self, pointer: &str) -> Option<&NodeSpans> {
        let mut p = pointer;
        loop {
            if let Some(s) = self.map.get(p) {
                return Some(s);
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return None,
            }
        }
    }

    /// Span of the value at `pointer` (or its nearest ancestor).
    pub fn value_span(&self, pointer: &str) -> Range<usize> {
        self.locate(pointer)
            .map(|s| s.value.clone())
            .unwrap_or(0..0)
    }

    /// Span of the key at `pointer`, falling back to the value.
    pub fn key_span(&self, pointer: &str) -> Range<usize> {
        self.locate(pointer)
            .map(|s| s.key.clone().unwrap_or_else(|| s.value.clone()))
            .unwrap_or(0..0)
    }
}

/// A loaded YAML document.
#[derive(Debug, Clone)]
pub struct Document {
    /// The file it came from.
    pub file: FileId,
    /// The data, as JSON.
    pub value: Value,
    /// Where each node is.
    pub map: SourceMap,
}

/// Appends a key to a JSON Pointer, escaping `~` and `/` (RFC 6901 §3).
pub fn push_pointer(base: &str, key: &str) -> String {
    format!("{base}/{}", key.replace('~', "~0").replace('/', "~1"))
}

/// Parses `file` (already in `sources`) into a [`Document`].
///
/// # Errors
/// Located diagnostics for syntax errors, duplicate keys, anchors/aliases/tags and limits.
pub fn load(sources: &Sources, file: FileId) -> Result<Document, Vec<Diagnostic>> {
    load_with(sources, file, LoaderOptions::default().toplevel_mapping())
}

/// Parses a YAML data file whose top level is a sequence, with the same limits as specs.
///
/// # Errors
/// As [`load`].
pub fn load_any(sources: &Sources, file: FileId) -> Result<Value, Vec<Diagnostic>> {
    load_with(sources, file, LoaderOptions::default().toplevel_sequence()).map(|d| d.value)
}

fn load_with(
    sources: &Sources,
    file: FileId,
    opts: LoaderOptions,
) -> Result<Document, Vec<Diagnostic>> {
    let text = sources.text(file);
    if text.len() > MAX_SPEC_BYTES {
        return Err(vec![
            Diagnostic::error(
                Code::YamlLimit,
                format!(
                    "spec is {} bytes, more than the limit of {MAX_SPEC_BYTES}",
                    text.len()
                ),
            )
            .at(file, 0..0),
        ]);
    }
    check_depth(sources, file)?;
    // `prevent_coercion` records which scalars were quoted: those stay strings (YAML 1.2).
    let opts = opts.error_on_duplicate_keys(true).prevent_coercion(true);
    let node = marked_yaml::parse_yaml_with_options(0, text, opts)
        .map_err(|e| vec![load_error(sources, file, e)])?;
    let mut map = SourceMap::default();
    let value = convert(sources, file, &node, String::new(), None, &mut map);
    Ok(Document { file, value, map })
}

/// Walks the event stream and refuses documents nested deeper than [`MAX_DEPTH`].
fn check_depth(sources: &Sources, file: FileId) -> Result<(), Vec<Diagnostic>> {
    let mut parser = Parser::new_from_str(sources.text(file));
    let mut depth = 0usize;
    loop {
        match parser.next_token() {
            Ok((Event::MappingStart(..) | Event::SequenceStart(..), mark)) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    let at = sources.char_offset(file, mark.index());
                    return Err(vec![
                        Diagnostic::error(
                            Code::YamlLimit,
                            format!("nesting deeper than {MAX_DEPTH} levels"),
                        )
                        .at(file, at..at + char_len_at(sources.text(file), at))
                        .label("too deep"),
                    ]);
                }
            }
            Ok((Event::MappingEnd | Event::SequenceEnd, _)) => depth = depth.saturating_sub(1),
            Ok((Event::StreamEnd, _)) => return Ok(()),
            Ok(_) => {}
            // Syntax errors are reported by the full load, with its better positions.
            Err(_) => return Ok(()),
        }
    }
}

/// The byte offset of a marker, from its character index (line and column would need a scan of
/// the line, and the parser counts a lone CR as a line break where `Sources` does not).
fn marker_offset(sources: &Sources, file: FileId, m: &marked_yaml::Marker) -> usize {
    sources.char_offset(file, m.character())
}

/// The byte length of the character at `at` (at least 1 unless at the end), so that a
/// one-character span never cuts a UTF-8 sequence.
fn char_len_at(text: &str, at: usize) -> usize {
    text.get(at..)
        .and_then(|r| r.chars().next())
        .map_or(0, char::len_utf8)
}

fn load_error(sources: &Sources, file: FileId, e: LoadError) -> Diagnostic {
    let point = |m: &marked_yaml::Marker| {
        let at = marker_offset(sources, file, m);
        at..token_end(sources.text(file), at)
    };
    match e {
        LoadError::TopLevelMustBeMapping(m) => Diagnostic::error(
            Code::SchemaType,
            "a spec must be a mapping of keys to values",
        )
        .at(file, point(&m))
        .label("expected `mailspec: 1`, `message:` ..."),
        LoadError::TopLevelMustBeSequence(m) => {
            Diagnostic::error(Code::SchemaType, "expected a list").at(file, point(&m))
        }
        LoadError::UnexpectedAnchor(m) => Diagnostic::error(
            Code::YamlUnsupported,
            "anchors and aliases are not supported in specs",
        )
        .at(file, point(&m))
        .label("anchor or alias")
        .help("repeat the value, or move shared text into a template under `templates:`"),
        LoadError::UnexpectedTag(m) => Diagnostic::error(
            Code::YamlUnsupported,
            "YAML tags are not supported in specs",
        )
        .at(file, point(&m))
        .label("tag"),
        LoadError::MappingKeyMustBeScalar(m) => {
            Diagnostic::error(Code::YamlSyntax, "mapping keys must be plain strings")
                .at(file, point(&m))
        }
        LoadError::ScanError(m, se) => {
            let at = marker_offset(sources, file, &m);
            Diagnostic::error(Code::YamlSyntax, format!("invalid YAML: {}", se.info()))
                .at(file, at..at + char_len_at(sources.text(file), at))
                .label("here")
        }
        LoadError::DuplicateKey(inner) => {
            let key = inner.key.as_str().to_string();
            let at = inner
                .key
                .span()
                .start()
                .map(|m| marker_offset(sources, file, m))
                .unwrap_or(0);
            let prev = inner
                .prev_key
                .span()
                .start()
                .map(|m| sources.line_col(file, marker_offset(sources, file, m)).0)
                .unwrap_or(0);
            Diagnostic::error(Code::YamlDuplicateKey, format!("duplicate key `{key}`"))
                .at(file, at..key_end(sources.text(file), at, &key))
                .label(format!("already given on line {prev}"))
        }
    }
}

/// End of the token starting at `at`: a quoted string to its closing quote, else to the end of
/// the line (less a trailing comment and whitespace).
fn token_end(text: &str, at: usize) -> usize {
    let rest = text.get(at..).unwrap_or("");
    let line = &rest[..rest.find(['\n', '\r']).unwrap_or(rest.len())];
    let len = match line.chars().next() {
        Some(q @ ('"' | '\'')) => line[1..].find(q).map(|i| i + 2).unwrap_or(line.len()),
        _ => {
            let no_comment = line.find(" #").map(|i| &line[..i]).unwrap_or(line);
            no_comment.trim_end().len()
        }
    };
    if len == 0 {
        return at + char_len_at(text, at);
    }
    at + len.min(rest.len())
}

/// End of a mapping key starting at `at`: quoted keys include their quotes.
fn key_end(text: &str, at: usize, key: &str) -> usize {
    let rest = text.get(at..).unwrap_or("");
    match rest.chars().next() {
        Some('"' | '\'') => token_end(text, at),
        // A plain key as written: its own text. Otherwise (a key spread over lines, or one
        // the parser folded), up to the `:` or the end of the line, whichever comes first.
        _ if !key.is_empty() && rest.starts_with(key) => at + key.len(),
        _ => {
            let end = rest.find([':', '\n', '\r']).unwrap_or(rest.len());
            let end = rest[..end].trim_end().len();
            if end == 0 {
                at + char_len_at(text, at)
            } else {
                at + end
            }
        }
    }
}

fn span_of(sources: &Sources, file: FileId, node: &Node) -> Range<usize> {
    let span = node.span();
    let start = span
        .start()
        .map(|m| marker_offset(sources, file, m))
        .unwrap_or(0);
    let text = sources.text(file);
    let end = match (node, span.end()) {
        // A plain scalar written as is: exactly its text (in a flow mapping, the line goes on
        // with `, b: c }`, which must not be underlined).
        (Node::Scalar(s), _)
            if !s.as_str().is_empty()
                && text.get(start..).is_some_and(|t| t.starts_with(s.as_str())) =>
        {
            start + s.as_str().len()
        }
        (Node::Scalar(_), _) | (_, None) => token_end(text, start),
        (_, Some(m)) => marker_offset(sources, file, m).max(start),
    };
    start..end
}

fn convert(
    sources: &Sources,
    file: FileId,
    node: &Node,
    pointer: String,
    key: Option<Range<usize>>,
    map: &mut SourceMap,
) -> Value {
    let value_span = span_of(sources, file, node);
    // A block mapping's own span is reported from its first key; point errors about the whole
    // mapping at the key that introduced it instead, which reads better.
    let value = match node {
        Node::Scalar(s) => scalar(s),
        Node::Sequence(seq) => Value::Array(
            seq.iter()
                .enumerate()
                .map(|(i, n)| convert(sources, file, n, format!("{pointer}/{i}"), None, map))
                .collect(),
        ),
        Node::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m.iter() {
                let kstart = k
                    .span()
                    .start()
                    .map(|mk| marker_offset(sources, file, mk))
                    .unwrap_or(0);
                let kspan = kstart..key_end(sources.text(file), kstart, k.as_str());
                let child = push_pointer(&pointer, k.as_str());
                let v = convert(sources, file, v, child, Some(kspan), map);
                out.insert(k.as_str().to_string(), v);
            }
            Value::Object(out)
        }
    };
    map.map.insert(
        pointer,
        NodeSpans {
            key,
            value: value_span,
        },
    );
    value
}

/// YAML 1.2 core schema typing for plain scalars; quoted scalars stay strings.
fn scalar(s: &marked_yaml::types::MarkedScalarNode) -> Value {
    let text = s.as_str();
    if !s.may_coerce() {
        return Value::String(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && let Ok(i) = text.parse::<i64>()
    {
        return Value::Number(i.into());
    }
    let looks_float = digits.bytes().any(|b| b.is_ascii_digit())
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if looks_float && let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
        return Value::Number(n);
    }
    Value::String(text.to_string())
}
