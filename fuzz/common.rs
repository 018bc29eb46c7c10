//! The checks behind the fuzz targets, shared with `tests/fuzz_regressions.rs`.
//!
//! Each public function takes the fuzzer's raw bytes, feeds them to one part of mailspec and
//! panics when a property fails. A panic in mailspec itself is a bug too: every input must give
//! a result or an error, never a crash. The fuzz targets are one-line wrappers around these
//! functions, and the regression test replays every kept input through them, so a failure
//! found by the fuzzer stays a plain `cargo test` failure once it is saved.
//!
//! Inputs are bytes, not `arbitrary` structures, so that a saved input is a readable file
//! (a YAML spec, an address, a record) and needs no extra crate in `cargo test`. Where a target
//! needs several strings, they are separated by U+001F (the ASCII unit separator, `\x1f`); the
//! first byte of the address and header inputs holds flags.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{DateTime, FixedOffset};
use mail_parser::{HeaderName, HeaderValue, MessageParser};
use mailspec::diag::{Diagnostic, Sources};
use mailspec::mime::header::{address_list, unstructured};
use mailspec::mime::{
    AddrSpec, EmitError, Leaf, Mailbox, Message, Part, emit, parse_addr_spec, parse_mailbox_list,
};
use mailspec::render::{RenderOptions, parse_marked, render};
use mailspec::spec::{CompiledSpec, compile_source};
use mailspec::template::{DATA_CLOSE, DATA_OPEN};
use serde_json::{Map, Value};

/// Separates the strings of one input.
const SEP: char = '\u{1F}';
/// RFC 5322 §2.1.1: at most 998 octets per line, CRLF excluded.
const MAX_LINE: usize = 998;

// ---------------------------------------------------------------------------------------------
// Shared assertions

/// Wire-format invariants of every emitted message or header field: lines end in CRLF (no bare
/// CR or LF), no line is longer than 998 octets, no NUL.
pub fn assert_wire(bytes: &[u8]) {
    let mut line_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            0 => panic!("NUL octet at offset {i}"),
            b'\r' => assert_eq!(bytes.get(i + 1), Some(&b'\n'), "bare CR at offset {i}"),
            b'\n' => {
                assert!(i > 0 && bytes[i - 1] == b'\r', "bare LF at offset {i}");
                let len = i - 1 - line_start;
                assert!(
                    len <= MAX_LINE,
                    "line of {len} octets at offset {line_start}"
                );
                line_start = i + 1;
            }
            _ => {}
        }
    }
    let len = bytes.len() - line_start;
    assert!(len <= MAX_LINE, "last line of {len} octets");
}

/// One header field as the encoders return it: `Name:` first, CRLF at the end, continuation
/// lines starting with white space (folding only ever inserts CRLF before white space), ASCII
/// unless SMTPUTF8 is on.
fn assert_field(field: &str, name: &str, smtputf8: bool) {
    assert_wire(field.as_bytes());
    assert!(
        field.starts_with(name) && field[name.len()..].starts_with(':'),
        "field does not start with `{name}:`: {field:?}"
    );
    assert!(field.ends_with("\r\n"), "field does not end with CRLF");
    for line in field.trim_end_matches("\r\n").split("\r\n").skip(1) {
        assert!(
            line.starts_with([' ', '\t']),
            "continuation line does not start with white space: {line:?}"
        );
    }
    if !smtputf8 {
        assert!(field.is_ascii(), "non-ASCII header without smtputf8");
    }
}

/// What a reader shows for header text: exactly the text, blanks at its ends included (the
/// encoders carry them in encoded-words or a quoted-string, never drop them).
fn header_text(s: &str) -> &str {
    s
}

/// The renderers accept every diagnostic, and each one points inside its file at character
/// boundaries (a span outside its file loses the underlined source line).
fn assert_diagnostics(sources: &Sources, diags: &[Diagnostic]) {
    // Rendering first: a panic there is the worse bug.
    let rendered = sources.render(diags);
    assert!(diags.is_empty() || !rendered.is_empty());
    // Output linear in the input: each diagnostic shows a few hundred bytes besides its source
    // line, so 100 bytes of output per byte of input leaves a wide margin.
    let input: usize = diags
        .iter()
        .filter_map(|d| d.location.as_ref())
        .map(|l| sources.text(l.file).len())
        .max()
        .unwrap_or(0);
    assert!(
        rendered.len() <= 100 * input + (1 << 16),
        "{} bytes of diagnostics for a {input}-byte input",
        rendered.len()
    );
    let json = sources.render_json(diags);
    assert_eq!(json.lines().count(), diags.len());
    for d in diags {
        assert!(!d.message.is_empty(), "diagnostic without a message: {d:?}");
        if let Some(loc) = &d.location {
            let text = sources.text(loc.file);
            let (a, b) = (loc.span.start, loc.span.end);
            assert!(
                a <= b && b <= text.len(),
                "span {a}..{b} outside its file ({} bytes): {d:?}",
                text.len()
            );
            assert!(
                text.is_char_boundary(a) && text.is_char_boundary(b),
                "span {a}..{b} splits a character: {d:?}"
            );
        }
    }
}

/// Splits the input into strings at [`SEP`]; invalid UTF-8 becomes U+FFFD (every API under
/// test takes `&str`).
fn fields(data: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(data)
        .split(SEP)
        .map(str::to_owned)
        .collect()
}

/// The repository root: the fuzz crate is `fuzz/`, the integration tests run from the root.
fn repo_root() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    if dir.ends_with("fuzz") {
        dir.parent().unwrap_or(dir).to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

fn fixed_date() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2024-06-15T13:15:07+01:00").expect("valid date")
}

// ---------------------------------------------------------------------------------------------
// spec_loader

/// The spec loader, exactly as `mailspec check` runs it: YAML load (also as a data file),
/// schema, checks, compiled templates, then a dry run of the sample and fixture records.
///
/// The spec sits in the repository's `specs/` directory, so a spec that names the example
/// templates, data files and attachments reaches them (reading only: nothing is written).
///
/// Properties: no panic; a rejected spec has at least one error; every diagnostic is located
/// inside its file and renders. Time and memory bounds are enforced by libFuzzer's `-timeout`
/// and `-rss_limit_mb`.
pub fn spec_loader(data: &[u8]) {
    let text = String::from_utf8_lossy(data).into_owned();
    let mut sources = Sources::default();
    let id = sources.add("fuzz.yaml", text);

    if let Err(d) = mailspec::spec::yaml::load(&sources, id) {
        assert!(!d.is_empty(), "yaml::load failed without a diagnostic");
        assert_diagnostics(&sources, &d);
    }
    if let Err(d) = mailspec::spec::yaml::load_any(&sources, id) {
        assert!(!d.is_empty(), "yaml::load_any failed without a diagnostic");
        assert_diagnostics(&sources, &d);
    }

    let path = repo_root().join("specs").join("fuzz.yaml");
    match compile_source(&path, sources, id) {
        Ok(mut c) => {
            let mut diags = std::mem::take(&mut c.warnings);
            diags.extend(mailspec::batch::dry_run(&c));
            assert_diagnostics(&c.sources, &diags);
        }
        Err((sources, diags)) => {
            assert!(
                diags.iter().any(Diagnostic::is_error),
                "spec rejected without an error: {diags:?}"
            );
            assert_diagnostics(&sources, &diags);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// address

/// The address parsers. Input: one flag byte (bit 0: SMTPUTF8), then the text.
///
/// Properties:
/// - `parse_addr_spec`, `parse_mailbox_list`: what parses prints (Display) back to text that
///   parses to the same value; without SMTPUTF8 the printed form is ASCII.
/// - Parsed mailboxes go through the `To` header encoder without error or malformed lines.
/// - `parse_marked` (address templates): text between the data markers is literal. With the
///   text as a record's name in `{{ name }} <{{ email }}>`, the result is exactly one mailbox
///   with that name; as the email, or as the whole template, at most one mailbox. Record data
///   can never add a recipient.
pub fn address(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let smtputf8 = flags & 1 == 1;
    let s = String::from_utf8_lossy(rest);
    let s = s.as_ref();

    if let Ok(a) = parse_addr_spec(s, smtputf8) {
        assert_addr_round_trip(&a, smtputf8);
    }

    if let Ok(list) = parse_mailbox_list(s, smtputf8) {
        assert!(!list.is_empty(), "an accepted mailbox list is empty");
        for mb in &list {
            assert_addr_round_trip(&mb.addr, smtputf8);
            let shown = mb.to_string();
            assert_eq!(
                parse_mailbox_list(&shown, smtputf8).as_deref(),
                Ok(std::slice::from_ref(mb)),
                "mailbox {mb:?} printed as {shown:?} does not parse back"
            );
        }
        let shown: Vec<String> = list.iter().map(ToString::to_string).collect();
        assert_eq!(
            parse_mailbox_list(&shown.join(", "), smtputf8),
            Ok(list.clone()),
            "list printed as {shown:?} does not parse back"
        );
        match address_list("To", &list, smtputf8) {
            Ok(field) => assert_field(&field, "To", smtputf8),
            // Display names are plain text to the parser; control characters stop at the encoder.
            Err(EmitError::ControlChar { .. }) => {}
            Err(e) => panic!("parsed mailboxes {list:?} rejected by the encoder: {e}"),
        }
    }

    // Whatever the markers say, the marked parser must not panic.
    if let Ok(list) = parse_marked(s, smtputf8) {
        for mb in &list {
            assert_addr_round_trip(&mb.addr, smtputf8);
        }
    }

    // Record data never contains the markers (the renderer refuses it), so strip them.
    let value: String = s
        .chars()
        .filter(|&c| c != DATA_OPEN && c != DATA_CLOSE)
        .collect();
    let o = DATA_OPEN;
    let c = DATA_CLOSE;
    let as_name = format!("{o}{value}{c} <{o}ada@example.com{c}>");
    match parse_marked(&as_name, smtputf8) {
        Ok(list) => {
            assert_eq!(
                list.len(),
                1,
                "record name {value:?} changed the recipients"
            );
            assert_eq!(list[0].addr.to_string(), "ada@example.com");
            // Kept exactly, white space at the ends included (a record value is never changed).
            assert_eq!(
                list[0].name.as_deref(),
                (!value.is_empty()).then_some(value.as_str()),
                "record name {value:?} not kept as the display name"
            );
        }
        Err(e) => panic!("a literal display name {value:?} was rejected: {e}"),
    }
    let as_email = format!("{o}Ada{c} <{o}{value}{c}>");
    if let Ok(list) = parse_marked(&as_email, smtputf8) {
        assert_eq!(
            list.len(),
            1,
            "record email {value:?} changed the recipients"
        );
    }
    let whole = format!("{o}{value}{c}");
    if let Ok(list) = parse_marked(&whole, smtputf8) {
        assert!(list.len() <= 1, "record value {value:?} became {list:?}");
    }
}

fn assert_addr_round_trip(a: &AddrSpec, smtputf8: bool) {
    let shown = a.to_string();
    assert_eq!(
        parse_addr_spec(&shown, smtputf8).as_ref(),
        Ok(a),
        "address {a:?} printed as {shown:?} does not parse back"
    );
    assert!(!a.local.is_empty() && !a.domain.is_empty());
    assert!(a.domain.is_ascii(), "domain {:?} is not ASCII", a.domain);
    if !smtputf8 {
        assert!(
            shown.is_ascii(),
            "non-ASCII address {shown:?} without smtputf8"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// header

/// The header encoders and the emitter. Input: one flag byte (bit 0: SMTPUTF8), then up to
/// five strings separated by U+001F: subject, display name, address, custom header name,
/// custom header value.
///
/// Properties: the only errors are the documented ones for this input (control characters,
/// bad or reserved header names), never `LineTooLong`; fields and messages have CRLF line ends
/// only, no line over 998 octets, ASCII without SMTPUTF8; emitting twice gives the same bytes;
/// mail-parser reads back the same subject, display name, address and custom header value.
pub fn header(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let smtputf8 = flags & 1 == 1;
    let parts = fields(rest);
    let get = |i: usize| parts.get(i).map(String::as_str).unwrap_or("");
    let (subject, name, addr_text, custom_name, custom_value) =
        (get(0), get(1), get(2), get(3), get(4));

    match unstructured("Subject", subject, smtputf8) {
        Ok(field) => assert_field(&field, "Subject", smtputf8),
        Err(EmitError::ControlChar { .. }) => {}
        Err(e) => panic!("unstructured({subject:?}) failed: {e}"),
    }

    let addr = parse_addr_spec(addr_text, smtputf8)
        .unwrap_or_else(|_| parse_addr_spec("ada@example.com", false).expect("valid"));
    let mailbox = Mailbox {
        name: Some(name.to_owned()),
        addr: addr.clone(),
    };
    match address_list("To", std::slice::from_ref(&mailbox), smtputf8) {
        Ok(field) => assert_field(&field, "To", smtputf8),
        Err(EmitError::ControlChar { .. }) => {}
        Err(e) => panic!("address_list({mailbox:?}) failed: {e}"),
    }

    let msg = Message {
        from: vec![Mailbox::new(
            parse_addr_spec("shop@example.com", false).expect("valid"),
        )],
        sender: None,
        to: vec![mailbox],
        cc: Vec::new(),
        reply_to: Vec::new(),
        subject: Some(subject.to_owned()),
        date: fixed_date(),
        message_id: "fuzz.1@example.com".into(),
        in_reply_to: Vec::new(),
        references: Vec::new(),
        extra_headers: vec![(custom_name.to_owned(), custom_value.to_owned())],
        list_headers: Vec::new(),
        smtputf8,
        body: Part::Leaf(Leaf::new("text/plain", "body\n")),
    };
    let bytes = match emit(&msg, b"fuzz-seed") {
        Ok(b) => b,
        Err(
            EmitError::ControlChar { .. }
            | EmitError::BadHeaderName(_)
            | EmitError::ReservedHeader(_),
        ) => return,
        Err(e) => panic!("emit failed unexpectedly: {e}"),
    };
    assert_wire(&bytes);
    if !smtputf8 {
        assert!(bytes.is_ascii(), "non-ASCII message without smtputf8");
    }
    assert_eq!(
        emit(&msg, b"fuzz-seed").as_ref(),
        Ok(&bytes),
        "second emit differs"
    );

    let parsed = MessageParser::default()
        .parse(&bytes)
        .expect("mail-parser reads the message");
    assert_eq!(
        parsed.subject().unwrap_or(""),
        header_text(subject),
        "subject does not read back"
    );
    // mail-parser 0.11 misreads a bare addr-spec whose local part is quoted
    // (`"a b"@example.com` gives the name `a b` and the address `@example.com`): compare the
    // mailbox only when the local part needs no quotes.
    if addr.local_wire() == addr.local {
        let to = parsed.to().and_then(|a| a.first()).expect("a To address");
        let want_name = Some(header_text(name)).filter(|n| !n.is_empty());
        assert_eq!(to.name(), want_name, "display name does not read back");
        assert_eq!(
            to.address(),
            Some(addr.to_string().as_str()),
            "address does not read back"
        );
    }

    // A second parse reads the custom header as unstructured text (RFC 2047 decoded), the way
    // mailspec writes it; by default mail-parser keeps unknown headers raw. mail-parser does
    // not take every name RFC 5322 allows (`ftext` includes `<`, `@`, ...): those are skipped.
    let Some(custom_header) = HeaderName::parse(custom_name.to_owned()) else {
        return;
    };
    let parsed = MessageParser::new()
        .header_text(custom_header)
        .parse(&bytes)
        .expect("mail-parser reads the message");
    let custom = parsed.parts[0]
        .headers
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case(custom_name))
        .collect::<Vec<_>>();
    assert_eq!(
        custom.len(),
        1,
        "custom header {custom_name:?} not found once"
    );
    match custom[0].value() {
        HeaderValue::Text(t) => assert_eq!(
            t.as_ref(),
            header_text(custom_value),
            "custom header value does not read back"
        ),
        HeaderValue::Empty => assert_eq!(header_text(custom_value), ""),
        other => panic!("custom header parsed as {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// render_record

/// The spec every `render_record` input is rendered with: each kind of slot a record reaches
/// (address templates in both forms, subject, custom header, text and HTML bodies, a templated
/// attachment file name) and most field types.
pub const RENDER_SPEC: &str = r#"mailspec: 1
name: fuzz-render
data:
  key: id
  fields:
    id: { type: string }
    name: { type: string, default: "" }
    email: { type: email }
    topic: { type: string }
    note: { type: string, required: false }
    count: { type: integer, default: 0 }
    price: { type: decimal, default: "0.00" }
    vip: { type: boolean, default: false }
    items: { type: list, items: { type: string }, default: [] }
    when: { type: date, required: false }
    link: { type: url, required: false }
message:
  from: Fuzz Shop <shop@example.com>
  to: "{{ name }} <{{ email }}>"
  reply_to: { name: "{{ name }}", email: "{{ email }}" }
  subject: "Hello {{ name }}: {{ topic }}"
  headers:
    X-Fuzz-Note: "{{ note or '' }}"
  text:
    content: |
      Hello {{ name }},
      {% for i in items %}- {{ i }}
      {% endfor %}{% if vip %}VIP {% endif %}{{ count }} x {{ price }} on {{ when }}
      {{ note }}
  html:
    content: |
      <p>Hello {{ name }}</p>
      <ul>{% for i in items %}<li>{{ i }}</li>{% endfor %}</ul>
      <a href="{{ link }}">{{ topic }}</a>
  attachments:
    - content: "{{ note or topic }}"
      type: text/plain
      filename: "{{ topic }}.txt"
"#;

/// Field order for inputs given as separated strings (like a CSV row).
const RENDER_FIELDS: [&str; 11] = [
    "id", "name", "email", "topic", "note", "count", "price", "vip", "items", "when", "link",
];

/// Header fields the spec declares, and the ones the emitter adds (lower case).
const MESSAGE_HEADERS: [&str; 10] = [
    "date",
    "from",
    "reply-to",
    "to",
    "subject",
    "message-id",
    "x-fuzz-note",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
];
const PART_HEADERS: [&str; 5] = [
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "content-id",
    "content-description",
];

/// The spec, compiled once. Its path only decides the directory for files, and it names none.
pub fn render_spec() -> &'static CompiledSpec {
    static SPEC: OnceLock<CompiledSpec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let mut sources = Sources::default();
        let id = sources.add("render_record.yaml", RENDER_SPEC);
        let path = std::env::temp_dir().join("mailspec-fuzz-render_record.yaml");
        match compile_source(&path, sources, id) {
            Ok(c) => c,
            Err((s, d)) => panic!("the render_record spec does not compile:\n{}", s.render(&d)),
        }
    })
}

/// Turns the input into a raw record: a JSON object when the input is one (values keep their
/// JSON types), otherwise strings separated by U+001F for the fields in `RENDER_FIELDS`
/// order, read as text the way CSV cells are (`from_text`).
fn raw_record(data: &[u8]) -> mailspec::data::RawRecord {
    if data.first() == Some(&b'{')
        && let Ok(Value::Object(values)) = serde_json::from_slice::<Value>(data)
    {
        return mailspec::data::RawRecord {
            index: 1,
            line: None,
            values,
            from_text: false,
        };
    }
    let mut values = Map::new();
    for (name, value) in RENDER_FIELDS.iter().zip(fields(data)) {
        values.insert((*name).to_owned(), Value::String(value));
    }
    mailspec::data::RawRecord {
        index: 1,
        line: None,
        values,
        from_text: true,
    }
}

/// A whole record through the fixed spec: type checks, templates, addresses, emitter.
///
/// Properties of a rendered message: wire format (CRLF only, no line over 998 octets, no NUL,
/// ASCII since the spec has no SMTPUTF8); exactly one envelope recipient, the record's email;
/// exactly one `To` and one `Reply-To` address; only the declared header fields, each once;
/// the same MIME structure (five entities) whatever the data; the subject reads back; the
/// same bytes when rendered twice. A rejected record has at least one error.
pub fn render_record(data: &[u8]) {
    let c = render_spec();
    let raw = raw_record(data);
    let record = match mailspec::data::coerce(&c.spec.data.fields, &raw) {
        Ok(r) => r,
        Err(errors) => {
            assert!(!errors.is_empty(), "coerce failed without an error");
            return;
        }
    };
    let opts = RenderOptions {
        date: Some(fixed_date()),
        ..Default::default()
    };
    let assets = mailspec::assets::DirLoader::new(c.dir.clone());
    let m = match render(c, &record, 1, &assets, &opts) {
        Ok(m) => m,
        Err(errors) => {
            assert!(!errors.is_empty(), "render failed without an error");
            return;
        }
    };
    assert_wire(&m.bytes);
    assert!(m.bytes.is_ascii(), "non-ASCII message without smtputf8");

    let email = record["email"].as_str().expect("email is text");
    let want_rcpt = parse_addr_spec(email, false).expect("a rendered record's email parses");
    assert_eq!(m.envelope.to, vec![want_rcpt], "envelope recipients");

    let again = render(c, &record, 1, &assets, &opts).expect("rendered once already");
    assert_eq!(again.bytes, m.bytes, "second render differs");

    let parsed = MessageParser::default()
        .parse(&m.bytes)
        .expect("mail-parser reads the message");
    assert_eq!(
        parsed.parts.len(),
        5,
        "MIME structure changed: {} entities",
        parsed.parts.len()
    );
    for (i, part) in parsed.parts.iter().enumerate() {
        let allowed: &[&str] = if i == 0 {
            &MESSAGE_HEADERS
        } else {
            &PART_HEADERS
        };
        let mut seen: Vec<String> = Vec::new();
        for h in &part.headers {
            let name = h.name().to_ascii_lowercase();
            assert!(
                allowed.contains(&name.as_str()),
                "undeclared header `{name}` in entity {i}"
            );
            assert!(!seen.contains(&name), "header `{name}` twice in entity {i}");
            seen.push(name);
        }
    }
    assert_eq!(parsed.to().map(|a| a.iter().count()), Some(1), "To count");
    assert_eq!(
        parsed.reply_to().map(|a| a.iter().count()),
        Some(1),
        "Reply-To count"
    );
    let text = |k: &str| record.get(k).and_then(Value::as_str).unwrap_or("");
    let subject = format!("Hello {}: {}", text("name"), text("topic"));
    assert_eq!(
        parsed.subject().unwrap_or(""),
        header_text(&subject),
        "subject does not read back"
    );
}

/// `smtp_reply`: server replies fed in chunks to the reply and EHLO parsers the SMTP client
/// uses (smtp-proto, 4 KiB cap), each parsed reply described (one printable line, bounded)
/// and searched for a queue id; then the bytes as a message, dot-stuffed and un-stuffed back
/// unchanged. See `mailspec::send::reply::fuzz_check`.
pub fn smtp_reply(data: &[u8]) {
    mailspec::send::reply::fuzz_check(data);
}
