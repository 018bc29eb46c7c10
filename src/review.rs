//! Snapshot review: a readable, decoded view of rendered messages, and the snapshot files that
//! hold it.
//!
//! Input: the [`EmittedMessage`]s of one fixture (a named record set in `data.fixtures`).
//! Output: a text view ([`view`]) and the content of its snapshot file
//! `snapshots/<spec>@<fixture>.snap` ([`snapshot_file`]), in insta's `.snap` format, so that two
//! doors check the same files: insta in `cargo test`, and `mailspec test` for spec authors who
//! have no Rust toolchain.
//!
//! The view is for a reviewer: headers decoded, text and HTML decoded, attachments reduced to
//! name, type, size and SHA-256. What decoding hides (transfer encodings, folding, line ends,
//! boundaries) is still caught by a SHA-256 digest of the exact bytes on each message's first
//! line: any byte that moves changes the view.
//!
//! The message is parsed back with `mail-parser`, an independent parser, so the view shows
//! what a mail client would read, not what the renderer meant to write.
//!
//! Invariants of a view (what makes insta and `mailspec test` compare the same thing: insta
//! trims the end of a snapshot and turns CRLF into LF, and editors strip trailing spaces):
//! - `\n` line ends only, no `\r` anywhere;
//! - no line ends in whitespace: trailing spaces of decoded text are shown as `␠`, trailing
//!   tabs as `␉`, other trailing white space as `⟨U+XXXX⟩`;
//! - control characters (other than a tab inside a line) are shown as `⟨U+XXXX⟩`;
//! - a text whose last line has no line end gets a `⟨no newline at end⟩` line;
//! - the view ends with a `== end` line, never with white space, so trimming changes nothing.
//!
//! Everything here is pure except [`render_fixture`] (which reads fixture data files, as
//! [`crate::batch`] does) and [`discover_specs`] (which lists a directory).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use mail_parser::{
    Addr, Address, ContentType, Header, HeaderName, HeaderValue, Message, MessageParser,
    MessagePart, MimeHeaders, PartType,
};
use sha2::{Digest, Sha256};

use crate::batch::{self, BatchOptions, RecordReport};
use crate::data::DataError;
use crate::render::{EmittedMessage, RenderOptions};
use crate::sink::Sink;
use crate::spec::CompiledSpec;
use crate::spec::model::Records;

/// The Date of fixture messages whose spec does not take it from the record (`message.date`):
/// fixed, so that a snapshot does not change with the clock.
pub const FIXTURE_DATE: &str = "2024-01-01T00:00:00Z";

/// The folder, relative to the repository root, that holds the snapshot files.
pub const SNAPSHOT_DIR: &str = "snapshots";

/// [`FIXTURE_DATE`] as a date.
pub fn fixture_date() -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(FIXTURE_DATE).ok()
}

/// Why a fixture could not be rendered.
#[derive(Debug)]
pub enum FixtureError {
    /// The record set could not be opened or parsed as a whole.
    Open(DataError),
    /// Some records failed; one report per failed record, in order.
    Records(Vec<RecordReport>),
    /// An I/O error while rendering.
    Io(std::io::Error),
}

/// Keeps every message, in record order.
struct Collect(Vec<EmittedMessage>);

impl Sink for Collect {
    fn accept(&mut self, _: usize, m: &EmittedMessage) -> std::io::Result<String> {
        self.0.push(m.clone());
        Ok(String::new())
    }
}

/// Renders every record of a record set (a fixture) with the fixture date.
///
/// # Errors
/// When the records cannot be opened, or when any record fails (a fixture is a test: one bad
/// record fails it, and its reports say why).
pub fn render_fixture(
    c: &CompiledSpec,
    records: &Records,
) -> Result<Vec<EmittedMessage>, FixtureError> {
    let items = c.open_records(records).map_err(FixtureError::Open)?;
    let opts = BatchOptions {
        render: RenderOptions {
            date: fixture_date(),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut sink = Collect(Vec::new());
    let mut failed = Vec::new();
    let assets = crate::assets::DirLoader::new(c.dir.clone());
    batch::run(c, items, &opts, &assets, &mut sink, &mut |r| {
        if r.status != batch::Status::Ok {
            failed.push(r.clone());
        }
    })
    .map_err(FixtureError::Io)?;
    if failed.is_empty() {
        Ok(sink.0)
    } else {
        Err(FixtureError::Records(failed))
    }
}

/// Every spec under `dir` (normally `specs/`), sorted: each `.yaml` or `.yml` file with a
/// top-level `mailspec:` key, at most three folders deep, except under `dir/invalid/` (specs
/// that must fail) and hidden folders. Record files (CSV, JSON, YAML data) have no `mailspec:`
/// key, so they are never mistaken for specs.
///
/// # Errors
/// When `dir` or a folder under it cannot be read.
pub fn discover_specs(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, depth: usize, top: bool, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if path.is_dir() {
                let skip = name.starts_with('.') || (top && name == "invalid");
                if !skip && depth < 3 {
                    walk(&path, depth + 1, false, out)?;
                }
            } else if (name.ends_with(".yaml") || name.ends_with(".yml")) && is_spec(&path) {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, 0, true, &mut out)?;
    out.sort();
    Ok(out)
}

/// Whether the file has a top-level `mailspec:` key (unreadable files are not specs).
fn is_spec(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| {
        String::from_utf8_lossy(&b)
            .lines()
            .any(|l| l.starts_with("mailspec:"))
    })
}

// ---------------------------------------------------------------------------------------------
// Snapshot files
// ---------------------------------------------------------------------------------------------

/// A readable file-name-safe form of a spec or fixture name (names the spec author chose, so
/// readability beats the output files' collision-proof encoding): ASCII letters, digits, `.`,
/// `_`, `-`, `+` kept, anything else `_`, at most 100 characters, never starting with `.`.
fn name_slug(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if out.starts_with('.') || out.is_empty() {
        out.insert(0, '_');
    }
    out
}

/// The snapshot name of a fixture: `<spec>@<fixture>`, both slugged. The file is this name plus
/// `.snap`; insta's `assert_snapshot!(name, …)` uses the same name.
pub fn snapshot_name(spec: &str, fixture: &str) -> String {
    format!("{}@{}", name_slug(spec), name_slug(fixture))
}

/// The snapshot file name of a fixture: `<spec>@<fixture>.snap`.
pub fn snapshot_file_name(spec: &str, fixture: &str) -> String {
    format!("{}.snap", snapshot_name(spec, fixture))
}

/// When `file_name` is a snapshot file of `spec` (`<spec>@<something>.snap`), the fixture part
/// (slugged, as in the name).
pub fn fixture_of_file_name<'a>(spec: &str, file_name: &'a str) -> Option<&'a str> {
    let stem = file_name.strip_suffix(".snap")?;
    let (s, fixture) = stem.split_once('@')?;
    (s == name_slug(spec)).then_some(fixture)
}

/// The `description` written in a snapshot file's header: `spec NAME, fixture NAME`. It also
/// tells [`parse_snapshot_file`]'s callers which spec a file belongs to.
pub fn description(spec: &str, fixture: &str) -> String {
    format!("spec {spec}, fixture {fixture}")
}

/// A snapshot file in insta's format: a YAML header between `---` lines (`source`, the file
/// the snapshot comes from, and `description`), then the view and one `\n`.
///
/// insta writes the same format (with `source` naming the test file instead); neither door
/// compares headers, only contents.
pub fn snapshot_file(source: &str, description: &str, view: &str) -> String {
    format!(
        "---\nsource: {}\ndescription: {}\n---\n{}\n",
        yaml_scalar(source),
        yaml_scalar(description),
        normalize(view)
    )
}

/// A parsed snapshot file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFile<'a> {
    /// The header's `description`, when it has one.
    pub description: Option<String>,
    /// The contents, normalised as insta compares them (see [`normalize`]).
    pub contents: Cow<'a, str>,
}

/// Reads a snapshot file the way insta 1.x does (`Snapshot::from_file`): a header that starts
/// and ends with a `---` line (or, in insta's legacy format, `key: value` lines up to a blank
/// line), then the contents. `None` when the header is not closed.
pub fn parse_snapshot_file(text: &str) -> Option<SnapshotFile<'_>> {
    let mut rest = text;
    let first = next_line(&mut rest)?;
    let mut description = None;
    let mut header_line = |line: &str| {
        if let Some(v) = line.strip_prefix("description:") {
            description = Some(yaml_unscalar(v.trim()));
        }
    };
    if first.trim_end() == "---" {
        loop {
            let line = next_line(&mut rest)?;
            if line.trim_end() == "---" {
                break;
            }
            header_line(line);
        }
    } else {
        // Legacy format: the first line is already a header line.
        header_line(first);
        loop {
            match next_line(&mut rest) {
                None => break,
                Some(line) if line.trim_end().is_empty() => break,
                Some(line) => header_line(line),
            }
        }
    }
    Some(SnapshotFile {
        description,
        contents: normalize(rest),
    })
}

/// Takes one line (without its `\n`) off the front of `rest`; `None` at the end.
fn next_line<'a>(rest: &mut &'a str) -> Option<&'a str> {
    if rest.is_empty() {
        return None;
    }
    let (line, tail) = rest.split_once('\n').unwrap_or((rest, ""));
    *rest = tail;
    Some(line)
}

/// insta's normalisation of text snapshot contents: trailing white space of the whole text
/// trimmed, CRLF turned into LF. A [`view`] is already normal; snapshot files written by hand or
/// by another tool may not be.
pub fn normalize(contents: &str) -> Cow<'_, str> {
    let t = contents.trim_end();
    if t.contains("\r\n") {
        Cow::Owned(t.replace("\r\n", "\n"))
    } else {
        Cow::Borrowed(t)
    }
}

/// A string as a YAML scalar, quoted exactly when insta's YAML emitter quotes it (so a header
/// written here reads like one insta wrote), escaped the same way.
fn yaml_scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && !s.starts_with(' ')
        && !s.ends_with(' ')
        && !s.starts_with(['&', '*', '?', '|', '-', '<', '>', '=', '!', '%', '@', '.'])
        && !s.starts_with("0x")
        && !s.contains([':', '{', '}', '[', ']', ',', '#', '`', '"', '\'', '\\'])
        && !s.chars().any(|c| c.is_control())
        && ![
            "yes", "Yes", "YES", "no", "No", "NO", "True", "TRUE", "true", "False", "FALSE",
            "false", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~",
        ]
        .contains(&s)
        && s.parse::<f64>().is_err()
        && s.parse::<i64>().is_err();
    if plain {
        return s.to_string();
    }
    // JSON string escapes are valid YAML double-quoted escapes.
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{}\"", s.escape_default()))
}

/// The text of a YAML scalar written by [`yaml_scalar`] or insta (plain or double-quoted).
fn yaml_unscalar(s: &str) -> String {
    if s.starts_with('"') {
        serde_json::from_str::<String>(s).unwrap_or_else(|_| s.trim_matches('"').to_string())
    } else if let Some(inner) = s.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        inner.replace("''", "'")
    } else {
        s.to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// The view
// ---------------------------------------------------------------------------------------------

/// The decoded view of all messages of one fixture, in order.
///
/// Each message starts with `== message N · key K · SIZE bytes · sha256 HEX16`, then sections:
/// `-- envelope` (`MAIL FROM:<…>`, `RCPT TO:<…>`: where Bcc recipients show), `-- headers`
/// (in order, names as written, values decoded; Date, Message-ID and other structured fields
/// as written, unfolded), `-- structure` (the MIME tree: section number, content type and
/// parameters other than `boundary`, transfer encoding, disposition, filename, Content-ID),
/// then one section per leaf part: `-- 1.2 text/html` and its decoded text, or for a non-text
/// leaf `NAME · TYPE · SIZE bytes · sha256 HEX`. The view ends with `== end · N message(s)`.
/// See the module documentation for how white space and control characters are shown.
pub fn view(messages: &[EmittedMessage]) -> String {
    let mut out = String::new();
    let parser = parser();
    for (i, m) in messages.iter().enumerate() {
        message_view(&mut out, &parser, i + 1, m);
    }
    let _ = write!(out, "== end · {} message(s)", messages.len());
    out
}

/// A parser that decodes every header it can: RFC 2047 in unknown headers too (the default
/// leaves those raw), so an `X-` header reads as text.
fn parser() -> MessageParser {
    MessageParser::new()
        .with_mime_headers()
        .with_date_headers()
        .with_address_headers()
        .with_message_ids()
        .header_text(HeaderName::Subject)
        .header_text(HeaderName::Comments)
        .header_comma_separated(HeaderName::Keywords)
        .header_received(HeaderName::Received)
        .header_raw(HeaderName::MimeVersion)
        .default_header_text()
}

/// Lowercase hex of the SHA-256 of `bytes`.
fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn message_view(out: &mut String, parser: &MessageParser, n: usize, m: &EmittedMessage) {
    let digest = sha256_hex(&m.bytes);
    let _ = writeln!(
        out,
        "== message {n} · key {} · {} bytes · sha256 {}",
        visible(&m.key),
        m.bytes.len(),
        digest.get(..16).unwrap_or(&digest)
    );
    out.push_str("-- envelope\n");
    let from = m
        .envelope
        .from
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let _ = writeln!(out, "MAIL FROM:<{}>", visible(&from));
    for to in &m.envelope.to {
        let _ = writeln!(out, "RCPT TO:<{}>", visible(&to.to_string()));
    }
    let Some(msg) = parser.parse(&m.bytes) else {
        // Not expected from our emitter; say so rather than hide the message.
        out.push_str("-- headers\n⟨mail-parser could not parse this message⟩\n");
        return;
    };
    out.push_str("-- headers\n");
    for h in msg.root_part().headers() {
        header_line(out, &msg, h);
    }
    out.push_str("-- structure\n");
    let mut leaves = Vec::new();
    outline(out, &msg, 0, String::new(), 0, &mut leaves);
    for (number, id) in leaves {
        if let Some(part) = msg.parts.get(id as usize) {
            leaf_section(out, &number, part);
        }
    }
}

/// One `Name: value` line: the name as written, the value decoded when decoding helps a reader.
fn header_line(out: &mut String, msg: &Message<'_>, h: &Header<'_>) {
    let (name, value) = header_pair(msg, h);
    let _ = writeln!(out, "{}: {}", visible(&name), visible(&value));
}

/// The decoded headers of a message's top level, in order, as the view shows them (name as
/// written, value decoded when decoding helps a reader), before any marking of white space.
/// Empty when the bytes do not parse. The preview server shows them in a table.
pub fn decoded_headers(bytes: &[u8]) -> Vec<(String, String)> {
    let Some(msg) = parser().parse(bytes) else {
        return Vec::new();
    };
    msg.root_part()
        .headers()
        .iter()
        .map(|h| header_pair(&msg, h))
        .collect()
}

/// The parser the view uses (every header it can decoded), for callers that show the same
/// message another way.
pub fn message_parser() -> MessageParser {
    parser()
}

/// Lowercase hex of the SHA-256 of `bytes`, as the view writes it.
pub fn sha256_of(bytes: &[u8]) -> String {
    sha256_hex(bytes)
}

fn header_pair(msg: &Message<'_>, h: &Header<'_>) -> (String, String) {
    let raw = msg.raw_message();
    let name = raw
        .get(h.offset_field as usize..h.offset_start as usize)
        .map(|b| {
            String::from_utf8_lossy(b)
                .trim_end_matches(':')
                .trim()
                .to_string()
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| h.name().to_string());
    let decoded = match &h.name {
        HeaderName::Subject
        | HeaderName::Comments
        | HeaderName::ContentDescription
        | HeaderName::Keywords
        | HeaderName::Other(_) => match &h.value {
            HeaderValue::Text(t) => Some(t.to_string()),
            HeaderValue::TextList(l) => Some(l.join(", ")),
            _ => None,
        },
        _ => match &h.value {
            HeaderValue::Address(a) => Some(fmt_address(a)),
            HeaderValue::ContentType(ct) => Some(fmt_content_type(ct, true)),
            _ => None,
        },
    };
    // Dates, identifiers and anything the parser did not understand: as written, unfolded.
    let value = decoded.unwrap_or_else(|| raw_value(raw, h));
    (name, value)
}

/// The value as written: unfolded (RFC 5322 §2.2.3: remove the CRLF, keep the white space),
/// trimmed.
fn raw_value(raw: &[u8], h: &Header<'_>) -> String {
    let bytes = raw
        .get(h.offset_start as usize..h.offset_end as usize)
        .unwrap_or_default();
    String::from_utf8_lossy(bytes)
        .replace("\r\n", "")
        .replace('\n', "")
        .trim()
        .to_string()
}

/// `Name <addr>, addr`, groups as `Group: a, b;`.
fn fmt_address(a: &Address<'_>) -> String {
    match a {
        Address::List(list) => list.iter().map(fmt_addr).collect::<Vec<_>>().join(", "),
        Address::Group(groups) => groups
            .iter()
            .map(|g| {
                let members = g.addresses.iter().map(fmt_addr).collect::<Vec<_>>();
                match &g.name {
                    Some(name) => format!("{}: {};", quote_phrase(name), members.join(", ")),
                    None => members.join(", "),
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn fmt_addr(a: &Addr<'_>) -> String {
    match (a.name.as_deref(), a.address.as_deref()) {
        (Some(n), Some(e)) => format!("{} <{e}>", quote_phrase(n)),
        (None, Some(e)) => e.to_string(),
        (Some(n), None) => quote_phrase(n),
        (None, None) => String::new(),
    }
}

/// A decoded display name, quoted when it holds a character that would make the list
/// ambiguous to read (`,` `;` `<` `>` `"` `@` `:` `\`).
fn quote_phrase(name: &str) -> String {
    if name.contains([',', ';', '<', '>', '"', '@', ':', '\\']) {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        name.to_string()
    }
}

/// `type/subtype; name=value; …` with decoded parameter values (RFC 2231 continuations
/// joined), quoted when not a token. `boundary` is left out of the structure outline (the
/// digest covers it) but kept in the header list.
fn fmt_content_type(ct: &ContentType<'_>, with_boundary: bool) -> String {
    let mut s = ct.ctype().to_string();
    if let Some(sub) = ct.subtype() {
        s.push('/');
        s.push_str(sub);
    }
    for a in ct.attributes().unwrap_or_default() {
        if !with_boundary && a.name.eq_ignore_ascii_case("boundary") {
            continue;
        }
        let _ = write!(s, "; {}={}", a.name, quote_param(&a.value));
    }
    s
}

/// A parameter value as a token when it is one (RFC 2045 §5.1), else a quoted string.
fn quote_param(v: &str) -> String {
    let token = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?=".contains(c));
    if token {
        v.to_string()
    } else {
        format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// The MIME tree, one line per part, indented by depth, numbered like IMAP sections (a
/// single-part body is `1`; the children of a multipart are `1`, `2`, …, theirs `1.1`, …).
/// Collects the leaves, with their numbers, in order.
fn outline(
    out: &mut String,
    msg: &Message<'_>,
    id: u32,
    number: String,
    depth: usize,
    leaves: &mut Vec<(String, u32)>,
) {
    let Some(part) = msg.parts.get(id as usize) else {
        return;
    };
    // mail-parser gives every part a flat id; a multipart that contains itself cannot occur,
    // but a bound on depth keeps a malformed tree from recursing forever.
    if depth > 64 {
        return;
    }
    let indent = "  ".repeat(depth);
    let shown = if number.is_empty() && !matches!(part.body, PartType::Multipart(_)) {
        "1".to_string()
    } else {
        number.clone()
    };
    let mut line = String::new();
    if !shown.is_empty() {
        line.push_str(&shown);
        line.push(' ');
    }
    line.push_str(&part_summary(part));
    let _ = writeln!(out, "{indent}{}", visible(&line));
    // Headers of a body part that the summary does not show (a root's are in `-- headers`).
    if depth > 0 {
        for h in part.headers() {
            if !matches!(
                h.name,
                HeaderName::ContentType
                    | HeaderName::ContentTransferEncoding
                    | HeaderName::ContentDisposition
                    | HeaderName::ContentId
                    | HeaderName::ContentDescription
            ) {
                let mut s = String::new();
                header_line(&mut s, msg, h);
                let _ = write!(out, "{indent}  + {s}");
            }
        }
    }
    match &part.body {
        PartType::Multipart(children) => {
            for (i, child) in children.iter().enumerate() {
                let n = if number.is_empty() {
                    (i + 1).to_string()
                } else {
                    format!("{number}.{}", i + 1)
                };
                outline(out, msg, *child, n, depth + 1, leaves);
            }
        }
        _ => leaves.push((shown, id)),
    }
}

/// `text/html; charset=utf-8 · quoted-printable · inline · "logo.png" · cid <logo@x>`.
fn part_summary(part: &MessagePart<'_>) -> String {
    let mut bits = vec![match part.content_type() {
        Some(ct) => fmt_content_type(ct, false),
        None => "(no Content-Type: text/plain)".to_string(),
    }];
    if let Some(cte) = part.content_transfer_encoding() {
        bits.push(cte.trim().to_string());
    }
    if let Some(d) = part.content_disposition() {
        bits.push(d.ctype().to_string());
    }
    if let Some(name) = part.attachment_name() {
        bits.push(format!("\"{name}\""));
    }
    if let Some(cid) = part.content_id() {
        bits.push(format!("cid <{cid}>"));
    }
    if let Some(d) = part.content_description() {
        bits.push(format!("description \"{d}\""));
    }
    if part.is_encoding_problem {
        bits.push("⟨mail-parser reports an encoding problem⟩".to_string());
    }
    bits.join(" · ")
}

/// A leaf's section: its decoded text, or for anything else its name, type, size and digest.
fn leaf_section(out: &mut String, number: &str, part: &MessagePart<'_>) {
    let ctype = part
        .content_type()
        .map(|ct| match ct.subtype() {
            Some(sub) => format!("{}/{sub}", ct.ctype()),
            None => ct.ctype().to_string(),
        })
        .unwrap_or_else(|| "text/plain".to_string());
    let _ = writeln!(out, "-- {number} {}", visible(&ctype));
    match &part.body {
        PartType::Text(t) | PartType::Html(t) => text_lines(out, t),
        PartType::Binary(b) | PartType::InlineBinary(b) => binary_line(out, part, &ctype, b),
        PartType::Message(inner) => binary_line(out, part, &ctype, inner.raw_message()),
        // Not a leaf: `outline` never lists one here.
        PartType::Multipart(_) => {}
    }
}

fn binary_line(out: &mut String, part: &MessagePart<'_>, ctype: &str, bytes: &[u8]) {
    let name = part.attachment_name().unwrap_or("(no name)");
    let _ = writeln!(
        out,
        "{} · {} · {} bytes · sha256 {}",
        visible(name),
        visible(ctype),
        bytes.len(),
        sha256_hex(bytes)
    );
}

/// Decoded text, line by line; CRLF shown as a plain line end (the wire always uses CRLF).
fn text_lines(out: &mut String, text: &str) {
    if text.is_empty() {
        out.push_str("⟨empty⟩\n");
        return;
    }
    let text = text.replace("\r\n", "\n");
    let body = text.strip_suffix('\n');
    for line in body.unwrap_or(&text).split('\n') {
        out.push_str(&visible(line));
        out.push('\n');
    }
    if body.is_none() {
        out.push_str("⟨no newline at end⟩\n");
    }
}

/// One line made safe for a snapshot: control characters (and line or paragraph separators,
/// which editors break lines at) as `⟨U+XXXX⟩`, except a tab inside the line; trailing white
/// space as `␠` (space), `␉` (tab) or `⟨U+XXXX⟩`.
fn visible(line: &str) -> Cow<'_, str> {
    let trailing = line.len() - line.trim_end().len();
    let needs = trailing > 0 || line.chars().any(|c| shown_as_code(c) && c != '\t');
    if !needs {
        return Cow::Borrowed(line);
    }
    let (body, tail) = line.split_at(line.len() - trailing);
    let mut s = String::with_capacity(line.len() + 8);
    for c in body.chars() {
        if shown_as_code(c) && c != '\t' {
            let _ = write!(s, "⟨U+{:04X}⟩", c as u32);
        } else {
            s.push(c);
        }
    }
    for c in tail.chars() {
        match c {
            ' ' => s.push('␠'),
            '\t' => s.push('␉'),
            c => {
                let _ = write!(s, "⟨U+{:04X}⟩", c as u32);
            }
        }
    }
    Cow::Owned(s)
}

fn shown_as_code(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_marks_trailing_space_and_controls() {
        assert_eq!(visible("-- "), "--␠");
        assert_eq!(visible("a\tb\t"), "a\tb␉");
        assert_eq!(visible("a\rb"), "a⟨U+000D⟩b");
        assert_eq!(visible("a\u{a0}"), "a⟨U+00A0⟩");
        assert_eq!(visible("plain"), "plain");
    }

    #[test]
    fn text_lines_keep_blank_lines_and_missing_final_newline() {
        let mut s = String::new();
        text_lines(&mut s, "a\r\n\r\nb\r\n");
        assert_eq!(s, "a\n\nb\n");
        let mut s = String::new();
        text_lines(&mut s, "a\r\nb");
        assert_eq!(s, "a\nb\n⟨no newline at end⟩\n");
    }

    #[test]
    fn snapshot_file_round_trips() {
        let view = "== message 1\nline\n\nlast";
        let file = snapshot_file("specs/x.yaml", &description("x", "basic"), view);
        assert_eq!(
            file,
            "---\nsource: specs/x.yaml\ndescription: \"spec x, fixture basic\"\n---\n== message 1\nline\n\nlast\n"
        );
        let parsed = parse_snapshot_file(&file).expect("parses");
        assert_eq!(parsed.contents, view);
        assert_eq!(parsed.description.as_deref(), Some("spec x, fixture basic"));
        // What insta tolerates, we tolerate: CRLF files, trailing blank lines.
        let crlf = file.replace('\n', "\r\n") + "\r\n\r\n";
        assert_eq!(parse_snapshot_file(&crlf).expect("parses").contents, view);
        assert_eq!(parse_snapshot_file("---\nsource: x\n"), None);
    }

    #[test]
    fn yaml_scalars_quote_like_insta() {
        assert_eq!(yaml_scalar("tests/snapshots.rs"), "tests/snapshots.rs");
        assert_eq!(yaml_scalar("a: b"), "\"a: b\"");
        assert_eq!(yaml_scalar("yes"), "\"yes\"");
        assert_eq!(yaml_scalar("12"), "\"12\"");
        assert_eq!(yaml_unscalar("\"a \\\"b\\\"\""), "a \"b\"");
    }

    #[test]
    fn names() {
        assert_eq!(
            snapshot_file_name("order confirmation", "gift@x"),
            "order_confirmation@gift_x.snap"
        );
        assert_eq!(
            fixture_of_file_name("hello", "hello@basic.snap"),
            Some("basic")
        );
        assert_eq!(fixture_of_file_name("hello", "hello2@basic.snap"), None);
        assert_eq!(fixture_of_file_name("hello", "hello@basic.snap.new"), None);
    }
}
