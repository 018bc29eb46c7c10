//! The MIME emitter: turns a fully resolved [`Message`] into the exact bytes sent over SMTP.
//!
//! **Input:** a [`Message`] whose strings are final text (templates already rendered), and
//! an opaque `seed` (the caller passes the spec digest and the record key).
//! **Output:** `Vec<u8>`, an RFC 5322 / MIME (RFC 2045-2049) message ready for `DATA`.
//!
//! The emitter is written by hand rather than built on `mail-builder` or `lettre`: those
//! pick boundaries from clocks and random numbers, insert `Date: now`, and may change
//! folding or encoding between releases. Deterministic bytes are this crate's core promise,
//! so every byte here is chosen by code in this module and pinned by its tests.
//!
//! # Invariants of every emitted message
//! - Lines end in CRLF, never a bare CR or LF; no line is longer than 998 octets
//!   (RFC 5322 §2.1.1); the message ends with CRLF.
//! - Headers are ASCII unless [`Message::smtputf8`] is set (RFC 6532). A control character
//!   in any header value is an error, never stripped.
//! - Bodies are 7bit, quoted-printable or base64; `8bit` only when a part asks for it.
//! - `Bcc` never appears: it is not part of [`Message`] and cannot be a custom header.
//!
//! # Determinism contract
//! - **No implicit inputs.** No clock, no hostname, no randomness, no environment: the date,
//!   the Message-ID and the seed all come from the caller.
//! - **Stable hash.** Identifiers derive from SHA-256 ([`ident::stable_hash`]), never from
//!   `std`'s `DefaultHasher`, whose algorithm may change between Rust releases.
//! - **Boundaries** are `=_` plus a hash of (seed, part path, attempt), all the same length.
//!   `=_` cannot occur in quoted-printable or base64 output; for 7bit/8bit content the
//!   emitter checks that `--boundary` occurs nowhere in the encoded children and bumps the
//!   attempt counter if it does.
//! - **Order.** Header fields are written in a fixed order: `Date`, `From`, `Sender`,
//!   `Reply-To`, `To`, `Cc`, `Subject`, `Message-ID`, `In-Reply-To`, `References`, the
//!   custom headers in the order given, `MIME-Version`, then the root part's `Content-*`.
//!   Part headers: `Content-Type`, `Content-Transfer-Encoding`, `Content-Disposition`,
//!   `Content-ID`, `Content-Description`. Only `Vec`s reach the output.
//! - **Same input, same bytes**, on every platform and every run.
//!
//! # Decisions
//! - Leaves always carry `Content-Transfer-Encoding`, `7bit` included: explicit is easier
//!   to read and to check. Multiparts never do (RFC 2045 §6.4 only allows identity values).
//! - `multipart/related` gets the `type` parameter RFC 2387 §3.1 requires, taken from its
//!   first (root) part.
//! - File names use RFC 2231 (`filename*=utf-8''…`) when they are not plain ASCII, both as
//!   `filename` on `Content-Disposition` and as `name` on `Content-Type` (which Outlook
//!   reads). RFC 2047 words inside a quoted parameter are forbidden by RFC 2047 §5 and
//!   reported as defects by strict parsers, and sending both `filename` and `filename*`
//!   makes readers disagree on which wins, so neither is done.
//! - A root leaf whose encoded body does not end with CRLF gets one, so the message ends
//!   with a complete line.

pub mod address;
pub mod encode;
pub mod header;
pub mod ident;

#[cfg(test)]
mod tests_prop;

pub use address::{AddrSpec, AddressError, Mailbox, parse_addr_spec, parse_mailbox_list};
pub use encode::{LineIssue, ParseTransferEncodingError, TransferEncoding};

use chrono::{DateTime, FixedOffset};

/// Deepest multipart nesting accepted; real messages use three or four levels.
pub const MAX_DEPTH: usize = 32;

/// How many boundary candidates are tried per multipart before giving up. Each collision
/// needs the content to contain a 26-character hash of the seed, so more than one attempt
/// only happens when content quotes the message's own boundary.
const MAX_BOUNDARY_ATTEMPTS: u32 = 64;

/// A fully resolved message: every string is final text (templates already rendered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Authors; at least one (RFC 5322 §3.6.2).
    pub from: Vec<Mailbox>,
    /// The agent that sent the message; required when `from` has several mailboxes.
    pub sender: Option<Mailbox>,
    /// Primary recipients (may be empty).
    pub to: Vec<Mailbox>,
    /// Carbon-copy recipients (may be empty). Bcc is never part of a message: it lives only
    /// in the SMTP envelope.
    pub cc: Vec<Mailbox>,
    /// Where replies should go (may be empty).
    pub reply_to: Vec<Mailbox>,
    /// The subject, if any.
    pub subject: Option<String>,
    /// The origination date.
    pub date: DateTime<FixedOffset>,
    /// The Message-ID, `local@domain` without angle brackets.
    pub message_id: String,
    /// Ids of the messages this one replies to, without brackets.
    pub in_reply_to: Vec<String>,
    /// Ids of the thread, without brackets.
    pub references: Vec<String>,
    /// Custom unstructured headers in spec order. Names must be RFC 5322 `ftext` and not
    /// one the compiler writes (see [`header::check_custom_name`]).
    pub extra_headers: Vec<(String, String)>,
    /// Header fields mailspec derives from the spec's message class (`Auto-Submitted`,
    /// `Precedence`, `List-Unsubscribe`, `List-Unsubscribe-Post`, `List-Id`, `Feedback-ID`):
    /// complete, folded, each ending in CRLF (see [`crate::deliver::list`]). Written after the
    /// custom headers, and re-checked ([`header::check_field`]).
    pub list_headers: Vec<String>,
    /// RFC 6532: allow UTF-8 in headers and local parts. The message then needs an
    /// SMTPUTF8-capable path (RFC 6531).
    pub smtputf8: bool,
    /// The body: one leaf or a tree of multiparts.
    pub body: Part,
}

/// A MIME entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// A `multipart/*` container.
    Multipart(Multipart),
    /// A part with content.
    Leaf(Leaf),
}

/// A `multipart/*` entity (RFC 2046 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multipart {
    /// The subtype: `mixed`, `alternative`, `related`, …
    pub subtype: String,
    /// The body parts, in order; at least one.
    pub parts: Vec<Part>,
}

/// A part with content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    /// `type/subtype`, e.g. `text/plain`, `image/png`, `message/rfc822`.
    pub media_type: String,
    /// Extra `Content-Type` parameters, e.g. `("method", "REQUEST")`. Not `charset`
    /// (see [`Leaf::charset`]), `boundary`, or `name` when a filename is set.
    pub params: Vec<(String, String)>,
    /// The `charset` parameter; `utf-8` for `text/*` when `None`.
    pub charset: Option<String>,
    /// `Content-Disposition`, if any.
    pub disposition: Option<Disposition>,
    /// `Content-ID` without angle brackets.
    pub content_id: Option<String>,
    /// The transfer encoding; `None` chooses one from the content
    /// ([`encode::choose_encoding`]).
    pub transfer_encoding: Option<TransferEncoding>,
    /// `Content-Description`, if any.
    pub description: Option<String>,
    /// The content. Text line endings may be LF, CR or CRLF: they are normalised to CRLF.
    pub body: Vec<u8>,
    /// The content already encoded, for a part that is the same in every message (a static
    /// PDF): used instead of `body`, which may then be empty. Only for non-text, non-message
    /// types, encoded by [`encode::encode_body`] with the same requested encoding.
    pub encoded: Option<std::sync::Arc<Encoded>>,
}

/// Content encoded once and shared by every message that carries it (a static attachment).
#[derive(Debug)]
pub struct Encoded {
    /// The transfer encoding the bytes are in.
    pub encoding: TransferEncoding,
    /// The encoded bytes, CRLF line ends.
    pub bytes: Vec<u8>,
    /// One form of the bytes that a sink derives once rather than per message (the mbox
    /// sink's LF lines).
    derived: std::sync::OnceLock<Vec<u8>>,
}

impl Encoded {
    /// Bytes already in `encoding`.
    pub fn new(encoding: TransferEncoding, bytes: Vec<u8>) -> Self {
        Encoded {
            encoding,
            bytes,
            derived: std::sync::OnceLock::new(),
        }
    }

    /// The form `make` derives from the bytes, made by the first caller. Every caller must
    /// pass the same function: only one form is kept.
    pub fn derived(&self, make: impl FnOnce(&[u8]) -> Vec<u8>) -> &[u8] {
        self.derived.get_or_init(|| make(&self.bytes))
    }
}

/// Equal content: the derived form is a cache.
impl PartialEq for Encoded {
    fn eq(&self, other: &Self) -> bool {
        self.encoding == other.encoding && self.bytes == other.bytes
    }
}

impl Eq for Encoded {}

/// Where in a message's bytes a shared [`Encoded`] body was copied: `bytes[at..]` starts
/// with `content.bytes`, at the start of a line.
#[derive(Debug, Clone)]
pub struct SharedSpan {
    /// The offset in the message.
    pub at: usize,
    /// The content.
    pub content: std::sync::Arc<Encoded>,
}

/// A message's wire bytes and where shared bodies sit in them.
#[derive(Debug)]
pub struct Emitted {
    /// CRLF line ends, no line over 998 octets.
    pub bytes: Vec<u8>,
    /// In the order they occur.
    pub shared: Vec<SharedSpan>,
}

impl Leaf {
    /// A leaf with the given media type and body and every optional field unset.
    pub fn new(media_type: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        Self {
            media_type: media_type.into(),
            params: Vec::new(),
            charset: None,
            disposition: None,
            content_id: None,
            transfer_encoding: None,
            description: None,
            body: body.into(),
            encoded: None,
        }
    }
}

/// A `Content-Disposition` (RFC 2183).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disposition {
    /// `inline` or `attachment`.
    pub kind: DispositionKind,
    /// The suggested file name (plain Unicode text; encoded as needed).
    pub filename: Option<String>,
}

/// The disposition type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DispositionKind {
    /// Shown as part of the message.
    Inline,
    /// Offered as a separate file.
    Attachment,
}

impl DispositionKind {
    /// The header value, `inline` or `attachment`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inline => "inline",
            Self::Attachment => "attachment",
        }
    }
}

/// Why a message could not be emitted. Messages are lower case and quote values in
/// backticks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// A control character (CR, LF, NUL, …; TAB is allowed) in a header value.
    #[error("control character {ch} in header `{header}`")]
    ControlChar {
        /// The header name.
        header: String,
        /// The character as `U+XXXX`.
        ch: String,
    },
    /// A custom header name that is not RFC 5322 `ftext` or is too long.
    #[error("invalid header name `{0}`: use 1 to 76 printable ASCII characters other than `:`")]
    BadHeaderName(String),
    /// A custom header that the compiler writes itself or that must not be set.
    #[error("header `{0}` cannot be set as a custom header")]
    ReservedHeader(String),
    /// An address that does not validate.
    #[error("invalid address in header `{header}`: {source}")]
    Address {
        /// The header name.
        header: String,
        /// What is wrong with it.
        #[source]
        source: AddressError,
    },
    /// `From` is empty.
    #[error("header `From` needs at least one mailbox")]
    NoFrom,
    /// Several `From` mailboxes and no `Sender`.
    #[error("header `Sender` is required when `From` has more than one mailbox (RFC 5322 §3.6.2)")]
    NoSender,
    /// A message id that is not `local@domain` in dot-atom form.
    #[error(
        "invalid message id `{id}` in header `{header}`: expected `local@domain` in dot-atom form"
    )]
    BadMessageId {
        /// The header name.
        header: String,
        /// The id.
        id: String,
    },
    /// A date RFC 5322 cannot express.
    #[error("date `{date}` cannot be written as an RFC 5322 date: {reason}")]
    BadDate {
        /// The date in RFC 3339 form.
        date: String,
        /// Why.
        reason: &'static str,
    },
    /// A media type that is not `type/subtype` of RFC 2045 tokens, or unusable for a leaf.
    #[error("invalid media type `{media_type}`: {reason}")]
    BadMediaType {
        /// The media type.
        media_type: String,
        /// Why.
        reason: &'static str,
    },
    /// A multipart subtype that is not an RFC 2045 token.
    #[error("invalid multipart subtype `{0}`")]
    BadMultipartSubtype(String),
    /// A multipart without parts (RFC 2046 §5.1.1 requires at least one).
    #[error("`multipart/{0}` has no parts")]
    EmptyMultipart(String),
    /// Multiparts nested deeper than [`MAX_DEPTH`].
    #[error("parts are nested more than {0} levels deep")]
    TooDeep(usize),
    /// A bad `Content-Type` parameter.
    #[error("invalid parameter `{name}` on `{media_type}`: {reason}")]
    BadParam {
        /// The media type.
        media_type: String,
        /// The parameter name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// A charset that is not an RFC 2045 token.
    #[error("invalid charset `{0}`")]
    BadCharset(String),
    /// A body that is not valid in the charset it is labelled with (checked for `utf-8`
    /// and `us-ascii`; a reader would show replacement characters).
    #[error("body of `{media_type}` is not valid `{charset}`: bad octet at offset {offset}")]
    CharsetMismatch {
        /// The media type.
        media_type: String,
        /// The declared charset.
        charset: String,
        /// Offset of the first invalid octet.
        offset: usize,
    },
    /// Content that cannot be sent with the requested `7bit`/`8bit` encoding.
    #[error("`{encoding}` requested for `{media_type}` but the content is not {encoding}: {issue}")]
    BadContent {
        /// The media type.
        media_type: String,
        /// The requested encoding.
        encoding: TransferEncoding,
        /// The first problem found.
        issue: LineIssue,
    },
    /// `message/*` with an encoding RFC 2046 §5.2 forbids.
    #[error(
        "`{media_type}` parts must use `7bit` or `8bit` transfer encoding, not `{encoding}` (RFC 2046 §5.2)"
    )]
    MessageEncoding {
        /// The media type.
        media_type: String,
        /// The requested encoding.
        encoding: TransferEncoding,
    },
    /// A file name that is empty, too long, a path, or has control or invisible characters.
    #[error("invalid filename `{filename}`: {reason}")]
    BadFilename {
        /// The file name (control characters escaped).
        filename: String,
        /// Why.
        reason: &'static str,
    },
    /// A Content-ID that is not `local@domain` in dot-atom form.
    #[error("invalid content id `{0}`: expected `local@domain` in dot-atom form")]
    BadContentId(String),
    /// A header line would exceed 998 octets (an internal safety net).
    #[error("header `{0}` would have a line longer than 998 octets")]
    LineTooLong(String),
    /// No boundary candidate avoided the content.
    #[error("no boundary avoids the content of the multipart at part path `{0}`")]
    BoundaryExhausted(String),
}

/// Emits the wire bytes of `msg`. `seed` is an opaque stable byte string (spec digest plus
/// record key); boundaries derive from it, so the same inputs always give the same bytes.
///
/// # Errors
/// Any [`EmitError`]: invalid header text, names, ids, addresses, media types, parameters,
/// file names, or content that cannot be sent with the requested encoding.
pub fn emit(msg: &Message, seed: &[u8]) -> Result<Vec<u8>, EmitError> {
    emit_shared(msg, seed).map(|e| e.bytes)
}

/// [`emit`], also saying where the shared bodies ([`Leaf::encoded`]) were copied, so that a
/// sink can use a form of them it prepared once.
///
/// # Errors
/// As [`emit`].
pub fn emit_shared(msg: &Message, seed: &[u8]) -> Result<Emitted, EmitError> {
    let utf8 = msg.smtputf8;
    if msg.from.is_empty() {
        return Err(EmitError::NoFrom);
    }
    if msg.from.len() > 1 && msg.sender.is_none() {
        return Err(EmitError::NoSender);
    }
    let mut out = String::new();
    out.push_str(&header::date("Date", &msg.date)?);
    out.push_str(&header::address_list("From", &msg.from, utf8)?);
    if let Some(sender) = &msg.sender {
        out.push_str(&header::address_list(
            "Sender",
            std::slice::from_ref(sender),
            utf8,
        )?);
    }
    for (name, list) in [
        ("Reply-To", &msg.reply_to),
        ("To", &msg.to),
        ("Cc", &msg.cc),
    ] {
        if !list.is_empty() {
            out.push_str(&header::address_list(name, list, utf8)?);
        }
    }
    if let Some(subject) = &msg.subject {
        out.push_str(&header::unstructured("Subject", subject, utf8)?);
    }
    out.push_str(&header::msg_id_list(
        "Message-ID",
        std::slice::from_ref(&msg.message_id),
    )?);
    for (name, ids) in [
        ("In-Reply-To", &msg.in_reply_to),
        ("References", &msg.references),
    ] {
        if !ids.is_empty() {
            out.push_str(&header::msg_id_list(name, ids)?);
        }
    }
    for (name, value) in &msg.extra_headers {
        header::check_custom_name(name)?;
        out.push_str(&header::unstructured(name, value, utf8)?);
    }
    for field in &msg.list_headers {
        header::check_field(field)?;
        out.push_str(field);
    }
    out.push_str("MIME-Version: 1.0\r\n");

    let mut path = Vec::new();
    let root = render_part(&msg.body, seed, &mut path, utf8)?;
    out.push_str(&root.headers);
    out.push_str("\r\n");
    let mut bytes = Vec::with_capacity(out.len() + root.body.len() + 2);
    bytes.extend_from_slice(out.as_bytes());
    let mut shared = Vec::new();
    root.body.write(&mut bytes, &mut shared);
    debug_assert_eq!(bytes.len(), out.len() + root.body.len());
    if !bytes.ends_with(b"\r\n") {
        bytes.extend_from_slice(b"\r\n");
    }
    Ok(Emitted { bytes, shared })
}

/// A part ready to be written: its header fields (each ending in CRLF) and its encoded
/// body (no trailing CRLF of its own unless the content ends with a line break).
struct Rendered<'a> {
    headers: String,
    body: Body<'a>,
    /// The body cannot hold a delimiter of ours: quoted-printable writes `=` only before two
    /// hex digits or a line break and base64 has no `-` or `_`, so `--=_…` never occurs in
    /// them (and a multipart made only of such parts has only its own random delimiters).
    /// Such bodies are not scanned when a boundary is picked.
    safe: bool,
    /// The media type, for `multipart/related`'s `type` parameter.
    media_type: String,
}

/// A body as a tree, written out once at the end: a multipart's body is not assembled on its
/// own first, so each leaf's bytes are copied once, into the message (they were copied once
/// per level of nesting).
enum Body<'a> {
    /// Encoded content.
    Leaf(Vec<u8>),
    /// Content encoded once for every message (a static attachment).
    Shared(&'a std::sync::Arc<Encoded>),
    /// RFC 2046 §5.1.1: no preamble, no epilogue; the CRLF before each delimiter belongs to it.
    Multipart {
        boundary: String,
        children: Vec<Rendered<'a>>,
    },
}

impl Body<'_> {
    /// The length [`Body::write`] writes.
    fn len(&self) -> usize {
        match self {
            Body::Leaf(b) => b.len(),
            Body::Shared(e) => e.bytes.len(),
            Body::Multipart { boundary, children } => {
                let parts: usize = children
                    .iter()
                    .map(|c| c.headers.len() + c.body.len())
                    .sum();
                // Per child `CRLF` (but the first), `--b CRLF`, headers, `CRLF`, body; then
                // `CRLF --b--`.
                parts + children.len() * (boundary.len() + 8) - 2 + boundary.len() + 6
            }
        }
    }

    fn write(&self, out: &mut Vec<u8>, shared: &mut Vec<SharedSpan>) {
        match self {
            Body::Leaf(b) => out.extend_from_slice(b),
            Body::Shared(e) => {
                shared.push(SharedSpan {
                    at: out.len(),
                    content: std::sync::Arc::clone(e),
                });
                out.extend_from_slice(&e.bytes);
            }
            Body::Multipart { boundary, children } => {
                for (i, child) in children.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(b"\r\n");
                    }
                    out.extend_from_slice(b"--");
                    out.extend_from_slice(boundary.as_bytes());
                    out.extend_from_slice(b"\r\n");
                    out.extend_from_slice(child.headers.as_bytes());
                    out.extend_from_slice(b"\r\n");
                    child.body.write(out, shared);
                }
                out.extend_from_slice(b"\r\n--");
                out.extend_from_slice(boundary.as_bytes());
                out.extend_from_slice(b"--");
            }
        }
    }

    /// Whether `needle` occurs in the written body. It has no line break, and every join in
    /// a multipart's body is at a line break, so looking in each piece finds every occurrence.
    fn contains(&self, needle: &str) -> bool {
        match self {
            Body::Leaf(b) => contains(b, needle),
            Body::Shared(e) => contains(&e.bytes, needle),
            Body::Multipart { boundary, children } => {
                format!("--{boundary}--").contains(needle)
                    || children
                        .iter()
                        .any(|c| c.headers.contains(needle) || c.body.contains(needle))
            }
        }
    }
}

fn render_part<'a>(
    part: &'a Part,
    seed: &[u8],
    path: &mut Vec<usize>,
    utf8: bool,
) -> Result<Rendered<'a>, EmitError> {
    match part {
        Part::Leaf(leaf) => render_leaf(leaf, utf8),
        Part::Multipart(mp) => render_multipart(mp, seed, path, utf8),
    }
}

fn render_multipart<'a>(
    mp: &'a Multipart,
    seed: &[u8],
    path: &mut Vec<usize>,
    utf8: bool,
) -> Result<Rendered<'a>, EmitError> {
    if path.len() >= MAX_DEPTH {
        return Err(EmitError::TooDeep(MAX_DEPTH));
    }
    let subtype = mp.subtype.to_ascii_lowercase();
    if !header::is_token(&subtype) {
        return Err(EmitError::BadMultipartSubtype(address::show(&mp.subtype)));
    }
    if mp.parts.is_empty() {
        return Err(EmitError::EmptyMultipart(subtype));
    }
    let mut children = Vec::with_capacity(mp.parts.len());
    for (i, child) in mp.parts.iter().enumerate() {
        path.push(i);
        let rendered = render_part(child, seed, path, utf8);
        path.pop();
        children.push(rendered?);
    }
    let boundary = pick_boundary(seed, path, &children)?;
    let media_type = format!("multipart/{subtype}");
    let mut params = Vec::new();
    if let Some(root) = children.first().filter(|_| subtype == "related") {
        // RFC 2387 §3.1: `type` is required and names the root (first) part's type.
        params.push(("type", root.media_type.as_str()));
    }
    params.push(("boundary", boundary.as_str()));
    let headers = header::with_params("Content-Type", &media_type, &params)?;
    Ok(Rendered {
        headers,
        safe: children.iter().all(|c| c.safe),
        body: Body::Multipart { boundary, children },
        media_type,
    })
}

/// The first boundary candidate whose delimiter `--boundary` occurs nowhere in the
/// children (headers or bodies, nested multiparts included). Checking anywhere, not only
/// at line starts, is stricter than RFC 2046 requires and just as cheap.
fn pick_boundary(
    seed: &[u8],
    path: &[usize],
    children: &[Rendered<'_>],
) -> Result<String, EmitError> {
    for attempt in 0..MAX_BOUNDARY_ATTEMPTS {
        let boundary = ident::boundary(seed, path, attempt);
        let delimiter = format!("--{boundary}");
        let collides = children
            .iter()
            .any(|c| c.headers.contains(&delimiter) || (!c.safe && c.body.contains(&delimiter)));
        if !collides {
            return Ok(boundary);
        }
    }
    let shown: Vec<String> = path.iter().map(ToString::to_string).collect();
    Err(EmitError::BoundaryExhausted(shown.join(".")))
}

/// Whether `needle` occurs in `haystack` (a SIMD substring search over the raw bytes).
fn contains(haystack: &[u8], needle: &str) -> bool {
    memchr::memmem::find(haystack, needle.as_bytes()).is_some()
}

/// Validates a `type/subtype` media type and returns it in lower case (media types are
/// case-insensitive, RFC 2045 §5.1; lower case keeps the output canonical).
fn media_type(raw: &str) -> Result<(String, String), EmitError> {
    let bad = |reason| EmitError::BadMediaType {
        media_type: address::show(raw),
        reason,
    };
    let lower = raw.to_ascii_lowercase();
    let Some((ty, sub)) = lower.split_once('/') else {
        return Err(bad("expected `type/subtype`"));
    };
    if !header::is_token(ty) || !header::is_token(sub) {
        return Err(bad("type and subtype must be RFC 2045 tokens"));
    }
    if ty == "multipart" {
        return Err(bad("a part with content cannot be a multipart"));
    }
    Ok((ty.to_owned(), sub.to_owned()))
}

/// Rejects file names that are unsafe to suggest to a mail client.
pub fn check_filename(name: &str) -> Result<(), EmitError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > 255 {
        Some("it is longer than 255 octets")
    } else if name == "." || name == ".." {
        Some("it names a directory")
    } else if name.contains(['/', '\\']) {
        Some("it contains a path separator")
    } else if name.chars().any(address::is_control) {
        Some("it contains a control character")
    } else if name.chars().any(address::is_invisible) {
        // Bidi overrides turn `gpj.exe` into `exe.jpg` on screen.
        Some("it contains an invisible or bidirectional control character")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(EmitError::BadFilename {
            filename: address::show(name),
            reason,
        }),
        None => Ok(()),
    }
}

fn render_leaf(leaf: &Leaf, utf8: bool) -> Result<Rendered<'_>, EmitError> {
    let (ty, sub) = media_type(&leaf.media_type)?;
    let full_type = format!("{ty}/{sub}");
    let is_text = ty == "text";
    let filename = leaf
        .disposition
        .as_ref()
        .and_then(|d| d.filename.as_deref());
    if let Some(name) = filename {
        check_filename(name)?;
    }

    // Content-Type parameters: charset, the caller's, then `name` for the file name.
    let charset = match (&leaf.charset, is_text) {
        (Some(c), _) => Some(c.to_ascii_lowercase()),
        (None, true) => Some(String::from("utf-8")),
        (None, false) => None,
    };
    let mut params: Vec<(&str, &str)> = Vec::new();
    if let Some(cs) = &charset {
        if !header::is_token(cs) {
            return Err(EmitError::BadCharset(address::show(cs)));
        }
        params.push(("charset", cs));
    }
    let mut seen: Vec<String> = params.iter().map(|(n, _)| n.to_string()).collect();
    for (name, value) in &leaf.params {
        let lower = name.to_ascii_lowercase();
        let bad = |reason| EmitError::BadParam {
            media_type: full_type.clone(),
            name: address::show(name),
            reason,
        };
        if !header::is_token(name) || name.contains('*') || name.len() > 60 {
            return Err(bad(
                "the name must be an RFC 2045 token of at most 60 characters, without `*`",
            ));
        }
        if lower == "charset" {
            return Err(bad("set the charset through the part's charset"));
        }
        if lower == "boundary" {
            return Err(bad("boundaries are generated"));
        }
        if lower == "name" && filename.is_some() {
            return Err(bad("`name` is generated from the filename"));
        }
        if seen.contains(&lower) {
            return Err(bad("the parameter is given twice"));
        }
        seen.push(lower);
        params.push((name, value));
    }
    if let Some(name) = filename {
        params.push(("name", name));
    }
    let mut headers = header::with_params("Content-Type", &full_type, &params)?;

    let (encoding, body) = match &leaf.encoded {
        Some(pre) if !is_text && ty != "message" => (pre.encoding, Body::Shared(pre)),
        _ => {
            check_charset(&leaf.body, charset.as_deref(), &full_type)?;
            let (encoding, body) = encode_leaf(leaf, &ty, &sub, &full_type, is_text)?;
            (encoding, Body::Leaf(body))
        }
    };
    headers.push_str(&format!("Content-Transfer-Encoding: {encoding}\r\n"));

    if let Some(disp) = &leaf.disposition {
        let fparams: Vec<(&str, &str)> = filename.map(|f| ("filename", f)).into_iter().collect();
        headers.push_str(&header::with_params(
            "Content-Disposition",
            disp.kind.as_str(),
            &fparams,
        )?);
    }
    if let Some(cid) = &leaf.content_id {
        if !header::is_valid_msg_id(cid) {
            return Err(EmitError::BadContentId(address::show(cid)));
        }
        headers.push_str(&format!("Content-ID: <{cid}>\r\n"));
    }
    if let Some(desc) = &leaf.description {
        headers.push_str(&header::unstructured("Content-Description", desc, utf8)?);
    }
    Ok(Rendered {
        headers,
        body,
        safe: matches!(
            encoding,
            TransferEncoding::QuotedPrintable | TransferEncoding::Base64
        ),
        media_type: full_type,
    })
}

/// Checks that a body labelled `utf-8` or `us-ascii` really is; other charsets are taken
/// on trust (the body is never transcoded).
fn check_charset(body: &[u8], charset: Option<&str>, media_type: &str) -> Result<(), EmitError> {
    let offset = match charset {
        Some("utf-8" | "utf8") => std::str::from_utf8(body).err().map(|e| e.valid_up_to()),
        Some("us-ascii") => body.iter().position(|b| !b.is_ascii()),
        _ => None,
    };
    match (offset, charset) {
        (Some(offset), Some(charset)) => Err(EmitError::CharsetMismatch {
            media_type: media_type.to_owned(),
            charset: charset.to_owned(),
            offset,
        }),
        _ => Ok(()),
    }
}

/// Encodes a leaf body, applying RFC 2046 §5.2's limits on `message/*`.
fn encode_leaf(
    leaf: &Leaf,
    ty: &str,
    sub: &str,
    full_type: &str,
    is_text: bool,
) -> Result<(TransferEncoding, Vec<u8>), EmitError> {
    let requested = leaf.transfer_encoding;
    let bad_content = |encoding, issue| EmitError::BadContent {
        media_type: full_type.to_owned(),
        encoding,
        issue,
    };
    if ty == "message" && matches!(sub, "rfc822" | "partial" | "external-body") {
        // §5.2.1: message/rfc822 may only be 7bit, 8bit or binary; §5.2.2-5.2.3: partial
        // and external-body only 7bit. A message is text-like: normalise to CRLF.
        let seven_only = sub != "rfc822";
        if let Some(enc @ (TransferEncoding::QuotedPrintable | TransferEncoding::Base64)) =
            requested
        {
            return Err(EmitError::MessageEncoding {
                media_type: full_type.to_owned(),
                encoding: enc,
            });
        }
        if seven_only && requested == Some(TransferEncoding::EightBit) {
            return Err(EmitError::MessageEncoding {
                media_type: full_type.to_owned(),
                encoding: TransferEncoding::EightBit,
            });
        }
        let data = encode::normalize_line_endings(&leaf.body).into_owned();
        let encoding = match requested {
            Some(enc) => enc,
            None if seven_only || encode::check_7bit(&data).is_ok() => TransferEncoding::SevenBit,
            None => TransferEncoding::EightBit,
        };
        let check = if encoding == TransferEncoding::SevenBit {
            encode::check_7bit(&data)
        } else {
            encode::check_8bit(&data)
        };
        check.map_err(|issue| bad_content(encoding, issue))?;
        return Ok((encoding, data));
    }
    encode::encode_body(&leaf.body, requested, is_text)
        .map_err(|issue| bad_content(requested.unwrap_or(TransferEncoding::SevenBit), issue))
}

#[cfg(test)]
mod tests;
