//! Rendering: one typed record through a compiled spec into a [`mime::Message`] and its SMTP
//! envelope, then into bytes.
//!
//! Input: a [`CompiledSpec`] and a record checked by [`crate::data::coerce`]. Output: an
//! [`EmittedMessage`], or every problem with that record, each naming the field concerned.
//! Pure: no clock, no environment; the date comes from the record or from [`RenderOptions`].

use std::path::PathBuf;

use chrono::{DateTime, FixedOffset};
use minijinja::Value as JValue;
use serde_json::{Map, Value};

use crate::diag::Code;
use crate::mime::{self, AddrSpec, Mailbox};
use crate::spec::CompiledSpec;
use crate::spec::model::{
    AddressItem, Addresses, Content, DispositionSpec, Part, TransferEncodingSpec,
};
use crate::template::{DATA_CLOSE, DATA_OPEN, Flavor, resolve_confined};

/// Largest attachment or static file read, by default.
pub const DEFAULT_MAX_ATTACHMENT: u64 = 25 << 20;

/// Largest emitted message, by default (most providers refuse more than 25–50 MB).
pub const DEFAULT_MAX_MESSAGE: u64 = 50 << 20;

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
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            date: None,
            max_attachment: DEFAULT_MAX_ATTACHMENT,
            max_message: DEFAULT_MAX_MESSAGE,
            max_field: crate::data::MAX_FIELD_BYTES,
        }
    }
}

/// A problem with one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Stable code.
    pub code: Code,
    /// The record field concerned, when one is.
    pub field: Option<String>,
    /// The spec key concerned (`message.subject`), when one is.
    pub at: Option<String>,
    /// Lower-case message.
    pub message: String,
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}", self.code, self.message)?;
        if let Some(field) = &self.field {
            write!(f, " (field `{field}`)")?;
        }
        if let Some(at) = &self.at {
            write!(f, " (in `{at}`)")?;
        }
        Ok(())
    }
}

/// The SMTP envelope: the only place Bcc recipients live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// MAIL FROM (empty for the null reverse-path).
    pub from: Option<AddrSpec>,
    /// RCPT TO, deduplicated, in order.
    pub to: Vec<AddrSpec>,
    /// The message needs the SMTPUTF8 extension (RFC 6531): UTF-8 in addresses or raw UTF-8
    /// headers (RFC 6532). A sender must use `MAIL FROM:<...> SMTPUTF8` or refuse to send.
    pub smtputf8: bool,
}

/// A message ready for a sink.
#[derive(Debug, Clone)]
pub struct EmittedMessage {
    /// The record key (or its 1-based index when the spec has no key field).
    pub key: String,
    /// The Message-ID, without brackets.
    pub message_id: String,
    /// The envelope.
    pub envelope: Envelope,
    /// The Date header's instant.
    pub date: DateTime<FixedOffset>,
    /// Wire bytes: CRLF line ends, no line over 998 octets.
    pub bytes: Vec<u8>,
}

fn key_of(ptr: &str) -> String {
    ptr.trim_start_matches('/')
        .replace('/', ".")
        .replace("~1", "/")
        .replace("~0", "~")
}

struct Renderer<'a> {
    c: &'a CompiledSpec,
    record: &'a Map<String, Value>,
    ctx: JValue,
    opts: &'a RenderOptions,
    errors: Vec<RecordError>,
    /// `cid:` names in the spec → the Content-IDs written (stable hashes at the message's
    /// domain, so they are globally unique as RFC 2045 §7 asks, yet deterministic).
    cids: Vec<(String, String)>,
}

/// The record key: the key field's value, or the index.
pub fn record_key(c: &CompiledSpec, record: &Map<String, Value>, index: usize) -> String {
    match c.spec.data.key.as_ref().and_then(|k| record.get(k)) {
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
    opts: &RenderOptions,
) -> Result<EmittedMessage, Vec<RecordError>> {
    let mut r = Renderer {
        c,
        record,
        ctx: JValue::from(minijinja::value::Serde(record)),
        opts,
        errors: Vec::new(),
        cids: Vec::new(),
    };
    let key = record_key(c, record, index);
    let built = r.build(&key);
    match built {
        Some(m) if r.errors.is_empty() => Ok(m),
        _ => {
            if r.errors.is_empty() {
                r.errors.push(RecordError {
                    code: Code::TemplateRender,
                    field: None,
                    at: None,
                    message: "the message could not be built".into(),
                });
            }
            Err(r.errors)
        }
    }
}

/// Characters that may not reach a header through record data: C0 controls except TAB, DEL,
/// and the two markers the address templates use.
fn bad_header_char(c: char) -> bool {
    (c.is_control() && c != '\t') || c == DATA_OPEN || c == DATA_CLOSE
}

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

impl Renderer<'_> {
    fn fail(&mut self, code: Code, field: Option<String>, ptr: &str, message: String) {
        self.errors.push(RecordError {
            code,
            field,
            at: Some(key_of(ptr)),
            message,
        });
    }

    /// Renders a value that may be a template. `header` values are checked for control
    /// characters coming from record fields (header injection: RFC 5322 §2.2 forbids CR/LF in
    /// field bodies; we refuse rather than strip, so nothing is silently changed).
    fn eval(&mut self, ptr: &str, literal: &str, header: bool) -> Option<String> {
        let Some(slot) = self.c.slots.get(ptr) else {
            return Some(literal.to_string());
        };
        if header {
            for var in &slot.variables {
                if let Some(v) = self.record.get(var)
                    && let Some((field, ch)) = find_bad(v, var)
                {
                    self.fail(
                        Code::DataHeaderInjection,
                        Some(field.clone()),
                        ptr,
                        format!(
                            "field `{field}` contains {}, which cannot go into the `{}` header",
                            describe_char(ch),
                            key_of(ptr)
                        ),
                    );
                    return None;
                }
            }
        }
        match self.c.templates.render(slot.flavor, &slot.name, &self.ctx) {
            Ok(s) => {
                if header && let Some(ch) = s.chars().find(|c| c.is_control() && *c != '\t') {
                    self.fail(
                        Code::DataHeaderInjection,
                        None,
                        ptr,
                        format!(
                            "`{}` renders to text with {}",
                            key_of(ptr),
                            describe_char(ch)
                        ),
                    );
                    return None;
                }
                Some(s)
            }
            Err(e) => {
                let field = slot
                    .variables
                    .iter()
                    .find(|v| e.to_string().contains(v.as_str()))
                    .cloned();
                let detail = e
                    .detail()
                    .map(str::to_string)
                    .unwrap_or_else(|| e.kind().to_string());
                self.fail(
                    template_code(&e),
                    field,
                    ptr,
                    format!("template `{}` failed: {detail}", key_of(ptr)),
                );
                None
            }
        }
    }

    fn mailboxes(&mut self, ptr: &str, a: &Addresses) -> Vec<Mailbox> {
        let smtputf8 = self.c.spec.message.smtputf8;
        let mut out = Vec::new();
        for (p, item) in a.items(ptr) {
            match item {
                AddressItem::Text(s) => {
                    let Some(text) = self.eval(&p, s, true) else {
                        continue;
                    };
                    match parse_marked(&text, smtputf8) {
                        Ok(list) => out.extend(list),
                        Err(e) => {
                            let field = self
                                .c
                                .slots
                                .get(&p)
                                .and_then(|s| s.variables.first().cloned());
                            self.fail(
                                Code::DataAddress,
                                field,
                                &p,
                                format!("`{}` is not a valid address: {e}", strip_marks(&text)),
                            );
                        }
                    }
                }
                AddressItem::Parts(parts) => {
                    let name = match &parts.name {
                        Some(n) => self.eval(&format!("{p}/name"), n, true),
                        None => Some(String::new()),
                    };
                    let Some(email) = self.eval(&format!("{p}/email"), &parts.email, true) else {
                        continue;
                    };
                    match mime::parse_addr_spec(email.trim(), smtputf8) {
                        Ok(addr) => {
                            let name = name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
                            out.push(Mailbox { name, addr });
                        }
                        Err(e) => {
                            let field = self
                                .c
                                .slots
                                .get(&format!("{p}/email"))
                                .and_then(|s| s.variables.first().cloned());
                            self.fail(
                                Code::DataAddress,
                                field,
                                &format!("{p}/email"),
                                format!("`{email}` is not a valid address: {e}"),
                            );
                        }
                    }
                }
            }
        }
        out
    }

    fn build(&mut self, key: &str) -> Option<EmittedMessage> {
        let m = &self.c.spec.message;
        let smtputf8 = m.smtputf8;
        let from = self.mailboxes("/message/from", &m.from);
        let sender = m
            .sender
            .as_ref()
            .map(|a| self.mailboxes("/message/sender", a))
            .unwrap_or_default();
        let to =
            m.to.as_ref()
                .map(|a| self.mailboxes("/message/to", a))
                .unwrap_or_default();
        let cc =
            m.cc.as_ref()
                .map(|a| self.mailboxes("/message/cc", a))
                .unwrap_or_default();
        let bcc = m
            .bcc
            .as_ref()
            .map(|a| self.mailboxes("/message/bcc", a))
            .unwrap_or_default();
        let reply_to = m
            .reply_to
            .as_ref()
            .map(|a| self.mailboxes("/message/reply_to", a))
            .unwrap_or_default();
        if from.is_empty() && self.errors.is_empty() {
            self.fail(
                Code::DataAddress,
                None,
                "/message/from",
                "`from` rendered to no address".into(),
            );
        }
        if from.len() > 1 && sender.is_empty() {
            // RFC 5322 §3.6.2: several authors require a Sender.
            self.fail(
                Code::DataAddress,
                None,
                "/message/from",
                "several `from` addresses need a `sender`".into(),
            );
        }
        if sender.len() > 1 {
            self.fail(
                Code::DataAddress,
                None,
                "/message/sender",
                "`sender` must be one address".into(),
            );
        }
        let subject = self.eval("/message/subject", &m.subject, true);
        let ids = |this: &mut Self,
                   key: &str,
                   v: &Option<crate::spec::model::StringOrList>|
         -> Vec<String> {
            let Some(v) = v else { return Vec::new() };
            let items = v.items();
            let single = matches!(v, crate::spec::model::StringOrList::One(_));
            let mut out = Vec::new();
            for (i, s) in items.into_iter().enumerate() {
                let p = if single {
                    format!("/message/{key}")
                } else {
                    format!("/message/{key}/{i}")
                };
                if let Some(r) = this.eval(&p, s, true) {
                    for id in r.split_whitespace() {
                        let id = id.trim_start_matches('<').trim_end_matches('>');
                        if id.is_empty() {
                            continue;
                        }
                        if mime::parse_addr_spec(id, false).is_err() {
                            this.fail(
                                Code::DataType,
                                None,
                                &p,
                                format!("`{id}` is not a valid message id"),
                            );
                        } else {
                            out.push(id.to_string());
                        }
                    }
                }
            }
            out
        };
        let in_reply_to = ids(self, "in_reply_to", &m.in_reply_to);
        let references = ids(self, "references", &m.references);
        let mut extra = Vec::new();
        for (name, value) in &m.headers {
            let p = format!(
                "/message/headers/{}",
                crate::spec::yaml::push_pointer("", name).trim_start_matches('/')
            );
            if let Some(v) = self.eval(&p, value, true) {
                extra.push((name.clone(), v));
            }
        }
        let date = match &m.date {
            Some(d) => {
                self.eval("/message/date", d, true).and_then(
                    |s| match DateTime::parse_from_rfc3339(s.trim()) {
                        Ok(d) => Some(d),
                        Err(_) => {
                            let field = self
                                .c
                                .slots
                                .get("/message/date")
                                .and_then(|s| s.variables.first().cloned());
                            self.fail(
                                Code::DataType,
                                field,
                                "/message/date",
                                format!("`{s}` is not an RFC 3339 date and time"),
                            );
                            None
                        }
                    },
                )
            }
            None => match self.opts.date {
                Some(d) => Some(d),
                None => {
                    self.fail(Code::DataType, None, "/message/date", "no date: the spec has no `date` and none was given (`--date` or `SOURCE_DATE_EPOCH`)".into());
                    None
                }
            },
        };
        let domain = match &m.message_id {
            Some(mid) => mid.domain.clone(),
            None => from
                .first()
                .map(|f| f.addr.domain.clone())
                .unwrap_or_else(|| "localhost".into()),
        };
        let seed = crate::mime::ident::stable_hash(&[
            b"mailspec/1",
            self.c.name.as_bytes(),
            key.as_bytes(),
        ]);
        let message_id = crate::mime::ident::message_id(&seed, &domain);
        self.cids = declared_cids(m)
            .into_iter()
            .map(|name| {
                let id = crate::mime::ident::content_id(&seed, &name, &domain);
                (name, id)
            })
            .collect();

        let body = if let Some(b) = &m.body {
            self.part("/message/body", b, None)
        } else {
            self.shorthand()
        };

        // The envelope: RFC 5321 §4.1.1.2 reverse-path, §4.1.1.3 forward-paths.
        let envelope_from = match m.envelope.as_ref().and_then(|e| e.from.as_ref()) {
            Some(f) => self.eval("/message/envelope/from", f, true).and_then(|s| {
                let s = s
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string();
                if s.is_empty() {
                    return Some(None);
                }
                match mime::parse_addr_spec(&s, smtputf8) {
                    Ok(a) => Some(Some(a)),
                    Err(e) => {
                        self.fail(
                            Code::DataAddress,
                            None,
                            "/message/envelope/from",
                            format!("`{s}` is not a valid return path: {e}"),
                        );
                        None
                    }
                }
            }),
            None => Some(sender.first().or(from.first()).map(|m| m.addr.clone())),
        };
        let rcpt: Vec<AddrSpec> = match m.envelope.as_ref().and_then(|e| e.to.as_ref()) {
            Some(a) => self
                .mailboxes("/message/envelope/to", a)
                .into_iter()
                .map(|m| m.addr)
                .collect(),
            None => to
                .iter()
                .chain(&cc)
                .chain(&bcc)
                .map(|m| m.addr.clone())
                .collect(),
        };
        let mut rcpt_unique: Vec<AddrSpec> = Vec::new();
        for a in rcpt {
            if !rcpt_unique
                .iter()
                .any(|b| b.to_string().eq_ignore_ascii_case(&a.to_string()))
            {
                rcpt_unique.push(a);
            }
        }
        if rcpt_unique.is_empty() && self.errors.is_empty() {
            self.fail(
                Code::DataAddress,
                None,
                "/message/to",
                "the message has no recipients".into(),
            );
        }
        if !self.errors.is_empty() {
            return None;
        }
        let date = date?;
        let msg = mime::Message {
            from,
            sender: sender.into_iter().next(),
            to,
            cc,
            reply_to,
            subject,
            date,
            message_id: message_id.clone(),
            in_reply_to,
            references,
            extra_headers: extra,
            smtputf8,
            body: body?,
        };
        match mime::emit(&msg, &seed) {
            Ok(bytes) if bytes.len() as u64 > self.opts.max_message => {
                self.errors.push(RecordError {
                    code: Code::DataLimit,
                    field: None,
                    at: None,
                    message: format!(
                        "the message is {} bytes, more than the limit of {}",
                        bytes.len(),
                        self.opts.max_message
                    ),
                });
                None
            }
            Ok(bytes) => Some(EmittedMessage {
                key: key.to_string(),
                message_id,
                envelope: Envelope {
                    from: envelope_from.flatten(),
                    to: rcpt_unique,
                    smtputf8: smtputf8 && !bytes.is_ascii(),
                },
                date,
                bytes,
            }),
            Err(e) => {
                self.errors.push(RecordError {
                    code: Code::MimeEmit,
                    field: None,
                    at: None,
                    message: e.to_string(),
                });
                None
            }
        }
    }

    fn shorthand(&mut self) -> Option<mime::Part> {
        let m = &self.c.spec.message;
        let text = m
            .text
            .as_ref()
            .map(|c| self.content("/message/text", c, "text/plain"));
        let html = m
            .html
            .as_ref()
            .map(|c| self.content("/message/html", c, "text/html"));
        let mut alternatives = Vec::new();
        for p in [text, html].into_iter().flatten() {
            alternatives.push(p?);
        }
        // The Content-IDs this message's HTML actually references: an inline part nobody looks
        // at (a product picture for an item not in this cart) is left out of this message.
        let referenced: Vec<String> = alternatives
            .iter()
            .filter_map(|p| match p {
                mime::Part::Leaf(l) if l.media_type.eq_ignore_ascii_case("text/html") => Some(
                    crate::spec::check::cid_references(&String::from_utf8_lossy(&l.body)),
                ),
                _ => None,
            })
            .flatten()
            .collect();
        let mut body = if alternatives.len() == 1 {
            alternatives.pop()?
        } else {
            mime::Part::Multipart(mime::Multipart {
                subtype: "alternative".into(),
                parts: alternatives,
            })
        };
        let used: Vec<(usize, &Part)> = m
            .inline
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                p.cid.as_ref().is_none_or(|c| {
                    self.cids
                        .iter()
                        .any(|(name, id)| name == c && referenced.contains(id))
                })
            })
            .collect();
        if !used.is_empty() {
            // RFC 2387: the HTML and the images it references travel together in
            // multipart/related; when there is a text alternative, the whole alternative goes in,
            // which is what clients render best.
            let mut parts = vec![body];
            for (i, p) in used {
                parts.push(self.part(
                    &format!("/message/inline/{i}"),
                    p,
                    Some(DispositionSpec::Inline),
                )?);
            }
            body = mime::Part::Multipart(mime::Multipart {
                subtype: "related".into(),
                parts,
            });
        }
        if !m.attachments.is_empty() {
            let mut parts = vec![body];
            for (i, p) in m.attachments.iter().enumerate() {
                parts.push(self.part(
                    &format!("/message/attachments/{i}"),
                    p,
                    Some(DispositionSpec::Attachment),
                )?);
            }
            body = mime::Part::Multipart(mime::Multipart {
                subtype: "mixed".into(),
                parts,
            });
        }
        Some(body)
    }

    fn content(&mut self, ptr: &str, c: &Content, media: &str) -> Option<mime::Part> {
        let as_part = Part {
            media_type: Some(media.into()),
            template: c.template.clone(),
            content: c.content.clone(),
            file: c.file.clone(),
            charset: c.charset.clone(),
            transfer_encoding: c.transfer_encoding,
            ..Part::default()
        };
        self.part(ptr, &as_part, None)
    }

    fn part(
        &mut self,
        ptr: &str,
        p: &Part,
        default_disposition: Option<DispositionSpec>,
    ) -> Option<mime::Part> {
        if let Some(sub) = &p.multipart {
            let mut parts = Vec::new();
            let mut ok = true;
            for (i, c) in p.parts.iter().enumerate() {
                match self.part(&format!("{ptr}/parts/{i}"), c, None) {
                    Some(x) => parts.push(x),
                    None => ok = false,
                }
            }
            return ok.then(|| {
                mime::Part::Multipart(mime::Multipart {
                    subtype: sub.to_ascii_lowercase(),
                    parts,
                })
            });
        }
        let mut file_name: Option<String> = None;
        let body: Vec<u8> = if let Some(t) = &p.template {
            let slot_ptr = format!("{ptr}/template");
            let flavor = self
                .c
                .slots
                .get(&slot_ptr)
                .map(|s| s.flavor)
                .unwrap_or(Flavor::Text);
            match self.c.templates.render(flavor, t, &self.ctx) {
                Ok(s) => s.into_bytes(),
                Err(e) => {
                    let detail = e
                        .detail()
                        .map(str::to_string)
                        .unwrap_or_else(|| e.kind().to_string());
                    let line = e
                        .line()
                        .map(|l| format!(" at line {l}"))
                        .unwrap_or_default();
                    self.fail(
                        template_code(&e),
                        None,
                        &slot_ptr,
                        format!("template `{t}` failed{line}: {detail}"),
                    );
                    return None;
                }
            }
        } else if let Some(c) = &p.content {
            let slot_ptr = format!("{ptr}/content");
            match self.c.slots.get(&slot_ptr) {
                Some(_) => self.eval(&slot_ptr, c, false)?.into_bytes(),
                None => c.clone().into_bytes(),
            }
        } else if let Some(f) = &p.file {
            let fptr = format!("{ptr}/file");
            let rel = self.eval(&fptr, f, false)?;
            file_name = std::path::Path::new(&rel)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            self.read_file(&fptr, &rel)?
        } else {
            Vec::new()
        };
        let media_type = p.media_type.clone().unwrap_or_else(|| {
            let by_name = p.filename.as_deref().or(file_name.as_deref()).unwrap_or("");
            if p.file.is_some() || p.filename.is_some() {
                mime_guess::from_path(by_name)
                    .first_raw()
                    .unwrap_or("application/octet-stream")
                    .to_string()
            } else {
                "text/plain".to_string()
            }
        });
        let filename = match &p.filename {
            Some(f) => Some(self.eval(&format!("{ptr}/filename"), f, true)?),
            None if default_disposition.is_some() || p.disposition.is_some() => file_name,
            None => None,
        };
        let description = match &p.description {
            Some(d) => Some(self.eval(&format!("{ptr}/description"), d, true)?),
            None => None,
        };
        let disposition = p
            .disposition
            .or(default_disposition)
            .or(filename.as_ref().map(|_| DispositionSpec::Attachment));
        let is_text = media_type.to_ascii_lowercase().starts_with("text/");
        // Checked before anything reads the text: the `cid:` rewrite below must never see (or
        // silently repair) bytes that are not UTF-8.
        if is_text && std::str::from_utf8(&body).is_err() {
            self.fail(
                Code::DataFile,
                None,
                ptr,
                "text content is not valid UTF-8".into(),
            );
            return None;
        }
        let body = if media_type.eq_ignore_ascii_case("text/html") {
            let html = String::from_utf8(body).unwrap_or_default();
            let html = rewrite_cids(&html, &self.cids);
            // A `cid:` that no inline part answers is a broken image for this recipient
            // (typically a name built from data, `cid:{{ item.image }}`).
            if let Some(missing) = crate::spec::check::cid_references(&html)
                .into_iter()
                .find(|r| !self.cids.iter().any(|(_, id)| id == r))
            {
                self.fail(
                    Code::SpecMissingCid,
                    None,
                    ptr,
                    format!("the HTML references `cid:{missing}` but no inline part has `cid: {missing}`"),
                );
                return None;
            }
            html.into_bytes()
        } else {
            body
        };
        if let Some(cs) = &p.charset
            && cs.eq_ignore_ascii_case("us-ascii")
            && !body.is_ascii()
        {
            self.fail(
                Code::DataType,
                None,
                ptr,
                "content is not ASCII but the part declares `charset: us-ascii`".into(),
            );
            return None;
        }
        Some(mime::Part::Leaf(mime::Leaf {
            media_type,
            params: p
                .params
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            charset: if is_text {
                Some(
                    p.charset
                        .clone()
                        .unwrap_or_else(|| "utf-8".into())
                        .to_ascii_lowercase(),
                )
            } else {
                None
            },
            disposition: disposition.map(|d| mime::Disposition {
                kind: match d {
                    DispositionSpec::Inline => mime::DispositionKind::Inline,
                    DispositionSpec::Attachment => mime::DispositionKind::Attachment,
                },
                filename,
            }),
            content_id: p.cid.as_ref().map(|c| {
                self.cids
                    .iter()
                    .find(|(name, _)| name == c)
                    .map(|(_, id)| id.clone())
                    .unwrap_or_else(|| c.clone())
            }),
            transfer_encoding: p.transfer_encoding.map(|t| match t {
                TransferEncodingSpec::SevenBit => mime::TransferEncoding::SevenBit,
                TransferEncodingSpec::EightBit => mime::TransferEncoding::EightBit,
                TransferEncodingSpec::QuotedPrintable => mime::TransferEncoding::QuotedPrintable,
                TransferEncodingSpec::Base64 => mime::TransferEncoding::Base64,
            }),
            description,
            body,
        }))
    }

    fn read_file(&mut self, ptr: &str, rel: &str) -> Option<Vec<u8>> {
        // A path that is not a template names the same file for every record: read it once.
        let is_static = !self.c.slots.contains_key(ptr);
        if is_static
            && let Ok(cache) = self.c.static_files.lock()
            && let Some(bytes) = cache.get(rel)
            && bytes.len() as u64 <= self.opts.max_attachment
        {
            return Some(bytes.as_ref().clone());
        }
        let bytes = self.read_file_uncached(ptr, rel)?;
        if is_static && let Ok(mut cache) = self.c.static_files.lock() {
            cache.insert(rel.to_string(), std::sync::Arc::new(bytes.clone()));
        }
        Some(bytes)
    }

    fn read_file_uncached(&mut self, ptr: &str, rel: &str) -> Option<Vec<u8>> {
        let field = self
            .c
            .slots
            .get(ptr)
            .and_then(|s| s.variables.first().cloned());
        let path: PathBuf = match resolve_confined(std::slice::from_ref(&self.c.dir), rel.trim()) {
            Ok(Some(p)) => p,
            Ok(None) => {
                self.fail(
                    Code::DataFile,
                    field,
                    ptr,
                    format!("file `{rel}` not found"),
                );
                return None;
            }
            Err(msg) => {
                self.fail(Code::DataFile, field, ptr, msg);
                return None;
            }
        };
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                self.fail(
                    Code::DataFile,
                    field,
                    ptr,
                    format!("cannot read `{rel}`: {e}"),
                );
                return None;
            }
        };
        if !meta.is_file() {
            self.fail(Code::DataFile, field, ptr, format!("`{rel}` is not a file"));
            return None;
        }
        if meta.len() > self.opts.max_attachment {
            self.fail(
                Code::DataLimit,
                field,
                ptr,
                format!(
                    "`{rel}` is {} bytes, more than the limit of {}",
                    meta.len(),
                    self.opts.max_attachment
                ),
            );
            return None;
        }
        match std::fs::read(&path) {
            Ok(b) => Some(b),
            Err(e) => {
                self.fail(
                    Code::DataFile,
                    field,
                    ptr,
                    format!("cannot read `{rel}`: {e}"),
                );
                None
            }
        }
    }
}

/// Every `cid` the spec declares, in the shorthand `inline` list or anywhere in `body`.
fn declared_cids(m: &crate::spec::model::MessageSpec) -> Vec<String> {
    fn walk(p: &Part, out: &mut Vec<String>) {
        out.extend(p.cid.clone());
        for c in &p.parts {
            walk(c, out);
        }
    }
    let mut out = Vec::new();
    for p in m.inline.iter().chain(&m.attachments) {
        walk(p, &mut out);
    }
    if let Some(b) = &m.body {
        walk(b, &mut out);
    }
    out
}

/// Length of the Content-ID name at the start of `s` (what follows `cid:`): the characters of
/// an RFC 5322 dot-atom and `@`, so the name ends at a quote, `)`, `>`, a comma, a backtick,
/// white space or `{` (a templated name).
pub fn cid_name_len(s: &str) -> usize {
    s.find(|c: char| !(c.is_ascii_alphanumeric() || "-._@+~$%&=!*#/^|?'".contains(c)) || c == '\'')
        .unwrap_or(s.len())
}

/// Points `cid:NAME` references in HTML at the Content-IDs actually written (RFC 2392: a `cid:`
/// URL names the Content-ID). Only names the spec declares are touched, and only whole names
/// ([`cid_name_len`]), so `cid:logo` never rewrites inside `cid:logo-small`.
pub fn rewrite_cids(html: &str, cids: &[(String, String)]) -> String {
    let mut out = String::with_capacity(html.len() + 64);
    let mut rest = html;
    while let Some(i) = rest
        .as_bytes()
        .windows(4)
        .position(|w| w.eq_ignore_ascii_case(b"cid:"))
    {
        out.push_str(&rest[..i + 4]);
        rest = &rest[i + 4..];
        let end = cid_name_len(rest);
        if let Some((_, id)) = cids.iter().find(|(name, _)| name == &rest[..end]) {
            out.push_str(id);
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
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

/// Removes the data markers.
pub fn strip_marks(s: &str) -> String {
    s.chars()
        .filter(|c| *c != DATA_OPEN && *c != DATA_CLOSE)
        .collect()
}

/// Parses a rendered address template. Structure (`,` `<` `>` `"`) counts only where the spec
/// author wrote it: text between [`DATA_OPEN`] and [`DATA_CLOSE`] came from a record and is
/// always literal, so a name like `Eve <eve@evil.example>, x` stays a display name and can never
/// add a recipient (the class of CVE-2025-13033 and friends).
pub fn parse_marked(s: &str, smtputf8: bool) -> Result<Vec<Mailbox>, String> {
    // Split into mailboxes on structural commas.
    let mut boxes: Vec<Vec<(char, bool)>> = vec![Vec::new()];
    let (mut data, mut quoted, mut angle) = (false, false, false);
    for c in s.chars() {
        match c {
            DATA_OPEN => data = true,
            DATA_CLOSE => data = false,
            '"' if !data && !angle => {
                quoted = !quoted;
                if let Some(b) = boxes.last_mut() {
                    b.push((c, true));
                }
            }
            '<' if !data && !quoted => {
                angle = true;
                if let Some(b) = boxes.last_mut() {
                    b.push((c, true));
                }
            }
            '>' if !data && !quoted => {
                angle = false;
                if let Some(b) = boxes.last_mut() {
                    b.push((c, true));
                }
            }
            ',' if !data && !quoted && !angle => boxes.push(Vec::new()),
            c => {
                if let Some(b) = boxes.last_mut() {
                    b.push((c, !data));
                }
            }
        }
    }
    if quoted {
        return Err("unclosed quote".into());
    }
    let mut out = Vec::new();
    for b in boxes {
        let structural = |c: char| b.iter().position(|&(x, s)| s && x == c);
        let text: String = b.iter().map(|(c, _)| *c).collect();
        if text.trim().is_empty() {
            continue;
        }
        match (structural('<'), structural('>')) {
            (Some(open), Some(close)) if open < close => {
                if b[close + 1..].iter().any(|(c, _)| !c.is_whitespace()) {
                    return Err("text after `>`".into());
                }
                let addr: String = b[open + 1..close].iter().map(|(c, _)| *c).collect();
                let mut name = String::new();
                for &(c, s) in &b[..open] {
                    if !(s && c == '"') {
                        name.push(c);
                    }
                }
                let name = name.trim().to_string();
                let addr =
                    mime::parse_addr_spec(addr.trim(), smtputf8).map_err(|e| e.to_string())?;
                out.push(Mailbox {
                    name: (!name.is_empty()).then_some(name),
                    addr,
                });
            }
            (None, None) => {
                let addr =
                    mime::parse_addr_spec(text.trim(), smtputf8).map_err(|e| e.to_string())?;
                out.push(Mailbox { name: None, addr });
            }
            _ => return Err("unbalanced `<` `>`".into()),
        }
    }
    if out.is_empty() && !s.trim().is_empty() && !strip_marks(s).trim().is_empty() {
        return Err("no address".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cid_references_are_rewritten_exactly() {
        let map = vec![("logo".to_string(), "abc@x.example".to_string())];
        assert_eq!(
            rewrite_cids(
                r#"<img src="cid:logo"><img src='CID:logo-small'>url(cid:logo) cid:logo"#,
                &map
            ),
            r#"<img src="cid:abc@x.example"><img src='CID:logo-small'>url(cid:abc@x.example) cid:abc@x.example"#
        );
        assert_eq!(rewrite_cids("no refs, cid:", &map), "no refs, cid:");
    }

    #[test]
    fn marked_addresses_keep_data_literal() {
        let m = |s: &str| s.replace('[', "\u{e000}").replace(']', "\u{e001}");
        let one = parse_marked(&m("[Eve <e@evil.example>, x] <[ana@example.com]>"), false)
            .expect("parses");
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].name.as_deref(), Some("Eve <e@evil.example>, x"));
        assert_eq!(one[0].addr.to_string(), "ana@example.com");
        assert!(parse_marked(&m("<[a@example.com, b@example.com]>"), false).is_err());
        let two = parse_marked("A <a@example.com>, b@example.com", false).expect("parses");
        assert_eq!(two.len(), 2);
        assert_eq!(
            parse_marked(&m("\"[Quoted]\" <q@example.com>"), false).expect("ok")[0]
                .name
                .as_deref(),
            Some("Quoted")
        );
    }
}
