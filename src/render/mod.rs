//! Rendering: one typed record through a compiled [`Plan`] into a message, its SMTP envelope
//! and its record id.
//!
//! Input: a [`CompiledSpec`] (its plan and sealed templates), a record checked by
//! [`crate::data::coerce`], and an [`AssetLoader`] for files whose path depends on the record.
//! Output: an [`EmittedMessage`], or every problem with that record, each naming the field
//! concerned. Pure: no file system (templates and static files were read at compile time), no
//! clock (the date comes from the record or from [`RenderOptions`]), no environment, no locks.
//!
//! - [`address`]: address templates into mailboxes (record data can never add a recipient);
//! - [`headers`]: the header fields, the date, the ids and the envelope;
//! - [`body`]: the part tree, content, file names and `cid:` references.

mod address;
mod body;
mod deliver;
mod headers;

use chrono::{DateTime, FixedOffset};
use minijinja::Value as JValue;
use serde::Serialize;
use serde_json::{Map, Value};

pub use address::{parse_marked, strip_marks};

use crate::assets::AssetLoader;
use crate::diag::Code;
use crate::error::Error;
use crate::mime::AddrSpec;
use crate::plan::{Keyed, Plan, Text, Tmpl};
use crate::spec::CompiledSpec;
use crate::template::{DATA_CLOSE, DATA_OPEN, Templates};

/// Largest attachment or static file read, by default.
pub const DEFAULT_MAX_ATTACHMENT: u64 = 25 << 20;

/// Largest emitted message, by default (most providers refuse more than 25–50 MB).
pub const DEFAULT_MAX_MESSAGE: u64 = 50 << 20;

/// A problem with one record.
pub type RecordError = Error;

/// Settings that are not in the spec.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// The Date when the spec does not take it from the record.
    pub date: Option<DateTime<FixedOffset>>,
    /// Largest file attached or inlined.
    pub max_attachment: u64,
    /// Largest message, encoded.
    pub max_message: u64,
    /// Largest single record value, in bytes.
    pub max_field: usize,
    /// Sign each message with DKIM after emitting it (`render --dkim`); `None` leaves it
    /// unsigned (snapshots and tests: a signature holds the signing time).
    pub dkim: Option<crate::deliver::dkim::Signer>,
    /// The path to the server lacks 8BITMIME (RFC 6152): a part whose spec asks for `8bit`
    /// gets quoted-printable or base64 instead, chosen as for a part that names no encoding.
    /// The decoded content is the same (`send` uses it for such a server, issue 11).
    pub seven_bit: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            date: None,
            max_attachment: DEFAULT_MAX_ATTACHMENT,
            max_message: DEFAULT_MAX_MESSAGE,
            max_field: crate::data::MAX_FIELD_BYTES,
            dkim: None,
            seven_bit: false,
        }
    }
}

/// The SMTP envelope: the only place Bcc recipients live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Envelope {
    /// MAIL FROM (`None` for the null reverse-path `<>`).
    #[serde(rename = "mail_from", serialize_with = "ser_addr")]
    pub from: Option<AddrSpec>,
    /// RCPT TO, deduplicated, in order.
    #[serde(rename = "rcpt_to", serialize_with = "ser_addrs")]
    pub to: Vec<AddrSpec>,
    /// The message needs the SMTPUTF8 extension (RFC 6531): UTF-8 in addresses or raw UTF-8
    /// headers (RFC 6532). A sender must use `MAIL FROM:<...> SMTPUTF8` or refuse to send.
    pub smtputf8: bool,
}

fn ser_addr<S: serde::Serializer>(a: &Option<AddrSpec>, s: S) -> Result<S::Ok, S::Error> {
    // The null reverse-path is written as the empty string.
    s.serialize_str(&a.as_ref().map(ToString::to_string).unwrap_or_default())
}

fn ser_addrs<S: serde::Serializer>(a: &[AddrSpec], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(a.iter().map(ToString::to_string))
}

/// A message ready for a sink.
#[derive(Debug, Clone)]
pub struct EmittedMessage {
    /// The record id: the value of the spec's `data.key` field, or the record's 1-based
    /// position when the spec has no key (which is only stable while the data keeps its order).
    pub key: String,
    /// The Message-ID, without brackets.
    pub message_id: String,
    /// The envelope.
    pub envelope: Envelope,
    /// The Date header's instant.
    pub date: DateTime<FixedOffset>,
    /// Wire bytes: CRLF line ends, no line over 998 octets. Never carries Bcc.
    pub bytes: Vec<u8>,
    /// Where bodies shared by every message (a static attachment) sit in `bytes`. Whatever
    /// changes `bytes` keeps them right (see [`EmittedMessage::prepend`]); a sink that uses
    /// them still checks them.
    pub shared: Vec<crate::mime::SharedSpan>,
}

impl EmittedMessage {
    /// Puts a header field (CRLF included) before the others, as a DKIM signature goes.
    pub fn prepend(&mut self, field: &[u8]) {
        let mut bytes = Vec::with_capacity(field.len() + self.bytes.len());
        bytes.extend_from_slice(field);
        bytes.extend_from_slice(&self.bytes);
        self.bytes = bytes;
        for span in &mut self.shared {
            span.at += field.len();
        }
    }
}

/// The record id: the key field's value, or the index.
pub fn record_key(plan: &Plan, record: &Map<String, Value>, index: usize) -> String {
    match plan.key_field.as_ref().and_then(|k| record.get(k)) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => index.to_string(),
        Some(v) => v.to_string(),
    }
}

/// Renders and emits one record.
///
/// # Errors
/// Every problem found with the record.
pub fn render(
    c: &CompiledSpec,
    record: &Map<String, Value>,
    index: usize,
    assets: &dyn AssetLoader,
    opts: &RenderOptions,
) -> Result<EmittedMessage, Vec<Error>> {
    let mut r = Renderer {
        plan: &c.plan,
        templates: &c.templates,
        record,
        ctx: JValue::from(minijinja::value::Serde(record)),
        opts,
        assets,
        errors: Vec::new(),
        cids: Vec::new(),
        element_cids: Vec::new(),
    };
    let key = record_key(&c.plan, record, index);
    match r.build(&key) {
        Some(mut m) if r.errors.is_empty() => {
            // RFC 6376 §5: the signature covers the final bytes; nothing changes after it.
            if let Some(signer) = &opts.dkim {
                deliver::sign(signer, &mut m).map_err(|e| vec![e])?;
            }
            Ok(m)
        }
        _ => {
            if r.errors.is_empty() {
                r.errors.push(Error::new(
                    Code::TemplateRender,
                    "the message could not be built",
                ));
            }
            Err(r.errors)
        }
    }
}

struct Renderer<'a> {
    plan: &'a Plan,
    templates: &'a Templates,
    record: &'a Map<String, Value>,
    ctx: JValue,
    opts: &'a RenderOptions,
    assets: &'a dyn AssetLoader,
    errors: Vec<Error>,
    /// `cid:` names in the spec → the Content-IDs written (stable hashes at the message's
    /// domain, so they are globally unique as RFC 2045 §7 asks, yet deterministic).
    cids: Vec<(String, String)>,
    /// Per `for_each` leaf (by spec key), the cid name of each element, rendered once.
    element_cids: Vec<(String, Vec<Option<String>>)>,
}

/// Characters that may not reach a header through record data: C0 controls except TAB, DEL,
/// and the two markers the address templates use.
fn bad_header_char(c: char) -> bool {
    (c.is_control() && c != '\t') || c == DATA_OPEN || c == DATA_CLOSE
}

/// The first bad header character in a record value, with the dotted path to it.
fn find_bad(v: &Value, path: &str) -> Option<(String, char)> {
    match v {
        Value::String(s) => s
            .chars()
            .find(|c| bad_header_char(*c))
            .map(|c| (path.to_string(), c)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_bad(v, &format!("{path}.{i}"))),
        Value::Object(m) => m
            .iter()
            .find_map(|(k, v)| find_bad(v, &format!("{path}.{k}"))),
        _ => None,
    }
}

fn describe_char(c: char) -> String {
    match c {
        '\r' => "a carriage return (CR)".into(),
        '\n' => "a line feed (LF)".into(),
        '\0' => "a NUL byte".into(),
        c => format!("the control character U+{:04X}", c as u32),
    }
}

/// The diagnostic code for a template that failed while rendering.
fn template_code(e: &minijinja::Error) -> Code {
    match e.kind() {
        minijinja::ErrorKind::UnknownFilter
        | minijinja::ErrorKind::UnknownFunction
        | minijinja::ErrorKind::UnknownTest => Code::TemplateUnknownFilter,
        minijinja::ErrorKind::TemplateNotFound => Code::TemplateNotFound,
        _ => Code::TemplateRender,
    }
}

/// Identifiers in a piece of template source, in order.
fn identifiers(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.chars().next().is_some_and(|c| !c.is_ascii_digit()))
}

impl Renderer<'_> {
    fn fail(&mut self, e: Error) {
        self.errors.push(e);
    }

    /// The record field a template's failure concerns: its only variable, else the first
    /// variable in the expression the error points at (by position in the template source,
    /// never by matching the error text).
    fn failing_field(&self, t: &Tmpl, e: Option<&minijinja::Error>) -> Option<String> {
        use minijinja::ErrorKind as K;
        // These are the template's own mistakes, not a value's.
        if let Some(e) = e
            && matches!(
                e.kind(),
                K::TemplateNotFound
                    | K::SyntaxError
                    | K::UnknownFilter
                    | K::UnknownFunction
                    | K::UnknownTest
            )
        {
            return None;
        }
        if t.variables.len() == 1 {
            return t.variables.first().cloned();
        }
        let e = e?;
        let source = self
            .templates
            .source(t.flavor, e.name().unwrap_or(&t.name))?;
        let text = match e.range() {
            Some(r) => source.get(r)?.to_string(),
            None => source.lines().nth(e.line()?.checked_sub(1)?)?.to_string(),
        };
        identifiers(&text)
            .find(|w| t.variables.iter().any(|v| v == w))
            .map(str::to_string)
    }

    /// Renders a template; a failure becomes a record error naming the template, the line and
    /// the field.
    fn run(&mut self, key: &str, t: &Tmpl) -> Option<String> {
        match self.templates.render(t.flavor, &t.name, &self.ctx) {
            Ok(s) => Some(s),
            Err(e) => {
                let detail = e
                    .detail()
                    .map(str::to_string)
                    .unwrap_or_else(|| e.kind().to_string());
                let line = e
                    .line()
                    .map(|l| format!(" at line {l}"))
                    .unwrap_or_default();
                let shown = if t.name.starts_with('/') {
                    key
                } else {
                    &t.name
                };
                let field = self.failing_field(t, Some(&e));
                self.fail(
                    Error::new(
                        template_code(&e),
                        format!("template `{shown}` failed{line}: {detail}"),
                    )
                    .field(field)
                    .at(key),
                );
                None
            }
        }
    }

    /// Renders a value that may be a template. `header` values are checked for control
    /// characters coming from record fields (header injection: RFC 5322 §2.2 forbids CR/LF in
    /// field bodies; we refuse rather than strip, so nothing is silently changed).
    fn eval(&mut self, v: &Keyed<Text>, header: bool) -> Option<String> {
        let t = match &v.value {
            Text::Literal(s) => return Some(s.clone()),
            Text::Template(t) => t,
        };
        if header && !self.header_safe(&v.key, t) {
            return None;
        }
        let s = self.run(&v.key, t)?;
        if header && let Some(ch) = s.chars().find(|c| c.is_control() && *c != '\t') {
            self.fail(
                Error::new(
                    Code::DataHeaderInjection,
                    format!("`{}` renders to text with {}", v.key, describe_char(ch)),
                )
                .field(self.failing_field(t, None))
                .at(&v.key),
            );
            return None;
        }
        Some(s)
    }

    /// Every record value a header template reads is free of control characters.
    fn header_safe(&mut self, key: &str, t: &Tmpl) -> bool {
        for var in &t.variables {
            if let Some(v) = self.record.get(var)
                && let Some((field, ch)) = find_bad(v, var)
            {
                self.fail(
                    Error::new(
                        Code::DataHeaderInjection,
                        format!(
                            "field `{field}` contains {}, which cannot go into the `{key}` header",
                            describe_char(ch),
                        ),
                    )
                    .field(Some(field.clone()))
                    .at(key),
                );
                return false;
            }
        }
        true
    }

    /// The field a value's problem concerns: its template's only (or first) variable.
    fn field_of(v: &Keyed<Text>) -> Option<String> {
        v.value
            .template()
            .and_then(|t| t.variables.first().cloned())
    }
}
