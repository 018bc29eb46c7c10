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
    out.push_str("MIME-Version: 1.0\r\n");

    let mut path = Vec::new();
    let root = render_part(&msg.body, seed, &mut path, utf8)?;
    out.push_str(&root.headers);
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&root.body);
    if !bytes.ends_with(b"\r\n") {
        bytes.extend_from_slice(b"\r\n");
    }
    Ok(bytes)
}

/// A part ready to be written: its header fields (each ending in CRLF) and its encoded
/// body (no trailing CRLF of its own unless the content ends with a line break).
struct Rendered {
    headers: String,
    body: Vec<u8>,
    /// The media type, for `multipart/related`'s `type` parameter.
    media_type: String,
}

fn render_part(
    part: &Part,
    seed: &[u8],
    path: &mut Vec<usize>,
    utf8: bool,
) -> Result<Rendered, EmitError> {
    match part {
        Part::Leaf(leaf) => render_leaf(leaf, utf8),
        Part::Multipart(mp) => render_multipart(mp, seed, path, utf8),
    }
}

fn render_multipart(
    mp: &Multipart,
    seed: &[u8],
    path: &mut Vec<usize>,
    utf8: bool,
) -> Result<Rendered, EmitError> {
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

    // RFC 2046 §5.1.1: no preamble; the CRLF before each delimiter belongs to it.
    let mut body = Vec::new();
    for (i, child) in children.iter().enumerate() {
        if i > 0 {
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--");
        body.extend_from_slice(boundary.as_bytes());
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(child.headers.as_bytes());
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(&child.body);
    }
    body.extend_from_slice(b"\r\n--");
    body.extend_from_slice(boundary.as_bytes());
    body.extend_from_slice(b"--");
    Ok(Rendered {
        headers,
        body,
        media_type,
    })
}

/// The first boundary candidate whose delimiter `--boundary` occurs nowhere in the
/// children (headers or bodies, nested multiparts included). Checking anywhere, not only
/// at line starts, is stricter than RFC 2046 requires and just as cheap.
fn pick_boundary(seed: &[u8], path: &[usize], children: &[Rendered]) -> Result<String, EmitError> {
    for attempt in 0..MAX_BOUNDARY_ATTEMPTS {
        let boundary = ident::boundary(seed, path, attempt);
        let delimiter = format!("--{boundary}");
        let collides = children
            .iter()
            .any(|c| c.headers.contains(&delimiter) || contains(&c.body, &delimiter));
        if !collides {
            return Ok(boundary);
        }
    }
    let shown: Vec<String> = path.iter().map(ToString::to_string).collect();
    Err(EmitError::BoundaryExhausted(shown.join(".")))
}

/// Whether the ASCII `needle` occurs in `haystack`. Going through `str` uses std's
/// substring search; the lossy conversion only replaces invalid UTF-8 with U+FFFD, which
/// can never be part of an ASCII match, so matches are exactly those of the raw bytes.
fn contains(haystack: &[u8], needle: &str) -> bool {
    String::from_utf8_lossy(haystack).contains(needle)
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

fn render_leaf(leaf: &Leaf, utf8: bool) -> Result<Rendered, EmitError> {
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

    check_charset(&leaf.body, charset.as_deref(), &full_type)?;
    let (encoding, body) = encode_leaf(leaf, &ty, &sub, &full_type, is_text)?;
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
mod tests {
    use super::*;

    pub(crate) fn mailbox(name: Option<&str>, addr: &str) -> Mailbox {
        Mailbox {
            name: name.map(Into::into),
            addr: parse_addr_spec(addr, true).expect(addr),
        }
    }

    pub(crate) fn base_message(body: Part) -> Message {
        Message {
            from: vec![mailbox(Some("News Desk"), "news@example.com")],
            sender: None,
            to: vec![mailbox(Some("Ada Lovelace"), "ada@example.org")],
            cc: Vec::new(),
            reply_to: Vec::new(),
            subject: Some("Hello".into()),
            date: DateTime::parse_from_rfc3339("2025-07-01T09:30:00+02:00").expect("valid date"),
            message_id: ident::message_id(b"seed", "example.com"),
            in_reply_to: Vec::new(),
            references: Vec::new(),
            extra_headers: Vec::new(),
            smtputf8: false,
            body,
        }
    }

    fn text(body: &str) -> Part {
        Part::Leaf(Leaf::new("text/plain", body.as_bytes()))
    }

    /// Wire-level invariants every emitted message must satisfy.
    pub(crate) fn assert_wire(bytes: &[u8]) {
        assert!(bytes.ends_with(b"\r\n"), "message must end with CRLF");
        assert!(!bytes.contains(&0), "NUL in message");
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' {
                assert!(i > 0 && bytes[i - 1] == b'\r', "bare LF at {i}");
            }
            if b == b'\r' {
                assert_eq!(bytes.get(i + 1), Some(&b'\n'), "bare CR at {i}");
            }
        }
        for line in bytes.split(|&b| b == b'\n') {
            assert!(line.len() <= 999, "line of {} octets", line.len() - 1);
        }
    }

    fn emit_str(msg: &Message) -> String {
        let bytes = emit(msg, b"seed").expect("emits");
        assert_wire(&bytes);
        String::from_utf8(bytes).expect("ASCII output")
    }

    #[test]
    fn simple_text_message_exact_bytes() {
        let msg = base_message(text("Hi Ada,\nsee you.\n"));
        let want = "Date: Tue, 01 Jul 2025 09:30:00 +0200\r\n\
                    From: News Desk <news@example.com>\r\n\
                    To: Ada Lovelace <ada@example.org>\r\n\
                    Subject: Hello\r\n\
                    Message-ID: <ml65tz4sjw2n4qxcxlzasvs3ec@example.com>\r\n\
                    MIME-Version: 1.0\r\n\
                    Content-Type: text/plain; charset=utf-8\r\n\
                    Content-Transfer-Encoding: 7bit\r\n\
                    \r\n\
                    Hi Ada,\r\nsee you.\r\n";
        assert_eq!(emit_str(&msg), want);
    }

    #[test]
    fn header_order_is_fixed() {
        let mut msg = base_message(text("x"));
        msg.sender = Some(mailbox(None, "bounce@example.com"));
        msg.reply_to = vec![mailbox(None, "reply@example.com")];
        msg.cc = vec![mailbox(None, "cc@example.com")];
        msg.in_reply_to = vec!["a@example.com".into()];
        msg.references = vec!["r1@example.com".into(), "a@example.com".into()];
        msg.extra_headers = vec![
            ("X-Campaign".into(), "summer".into()),
            ("List-Unsubscribe".into(), "<https://example.com/u>".into()),
        ];
        let out = emit_str(&msg);
        let names: Vec<&str> = out
            .split("\r\n")
            .take_while(|l| !l.is_empty())
            .filter(|l| !l.starts_with(' '))
            .filter_map(|l| l.split_once(':').map(|(n, _)| n))
            .collect();
        assert_eq!(
            names,
            [
                "Date",
                "From",
                "Sender",
                "Reply-To",
                "To",
                "Cc",
                "Subject",
                "Message-ID",
                "In-Reply-To",
                "References",
                "X-Campaign",
                "List-Unsubscribe",
                "MIME-Version",
                "Content-Type",
                "Content-Transfer-Encoding",
            ]
        );
        assert!(out.contains("References: <r1@example.com> <a@example.com>\r\n"));
    }

    #[test]
    fn deterministic_and_seed_dependent() {
        let body = Part::Multipart(Multipart {
            subtype: "alternative".into(),
            parts: vec![
                text("plain"),
                Part::Leaf(Leaf::new("text/html", "<p>html</p>")),
            ],
        });
        let msg = base_message(body);
        let a = emit(&msg, b"seed").expect("emits");
        assert_eq!(a, emit(&msg, b"seed").expect("emits"));
        assert_ne!(a, emit(&msg, b"other seed").expect("emits"));
    }

    #[test]
    fn multipart_structure() {
        let body = Part::Multipart(Multipart {
            subtype: "mixed".into(),
            parts: vec![
                Part::Multipart(Multipart {
                    subtype: "alternative".into(),
                    parts: vec![
                        text("plain"),
                        Part::Leaf(Leaf::new("text/html", "<p>x</p>")),
                    ],
                }),
                Part::Leaf(Leaf {
                    disposition: Some(Disposition {
                        kind: DispositionKind::Attachment,
                        filename: Some("data.bin".into()),
                    }),
                    ..Leaf::new("application/octet-stream", vec![0u8, 1, 2, 255])
                }),
            ],
        });
        let out = emit_str(&base_message(body));
        let outer = ident::boundary(b"seed", &[], 0);
        let inner = ident::boundary(b"seed", &[0], 0);
        assert!(out.contains(&format!(
            "Content-Type: multipart/mixed; boundary=\"{outer}\"\r\n\r\n--{outer}\r\n"
        )));
        assert!(out.contains(&format!("\r\n--{inner}--\r\n--{outer}\r\n")));
        assert!(out.ends_with(&format!("\r\n--{outer}--\r\n")));
        assert!(out.contains("Content-Type: application/octet-stream; name=data.bin\r\n"));
        assert!(out.contains(
            "Content-Transfer-Encoding: base64\r\n\
             Content-Disposition: attachment; filename=data.bin\r\n\r\nAAEC/w==\r\n"
        ));
        assert!(!out.contains("MIME-Version: 1.0\r\nContent-Transfer-Encoding"));
    }

    #[test]
    fn boundary_collision_bumps_attempt() {
        let first = ident::boundary(b"seed", &[], 0);
        let second = ident::boundary(b"seed", &[], 1);
        let body = Part::Multipart(Multipart {
            subtype: "mixed".into(),
            parts: vec![text(&format!("quoting --{first} here\n--{first}--\n"))],
        });
        let out = emit_str(&base_message(body));
        assert!(out.contains(&format!("boundary=\"{second}\"")));
        assert_eq!(out.matches(&format!("--{second}")).count(), 2);
    }

    #[test]
    fn related_gets_type_parameter() {
        let body = Part::Multipart(Multipart {
            subtype: "related".into(),
            parts: vec![
                Part::Leaf(Leaf::new("text/html", "<img src=\"cid:logo@example.com\">")),
                Part::Leaf(Leaf {
                    content_id: Some("logo@example.com".into()),
                    disposition: Some(Disposition {
                        kind: DispositionKind::Inline,
                        filename: Some("logo.png".into()),
                    }),
                    ..Leaf::new("image/png", b"\x89PNG\r\n\x1a\n".to_vec())
                }),
            ],
        });
        let out = emit_str(&base_message(body));
        assert!(out.contains("Content-Type: multipart/related; type=\"text/html\";\r\n boundary="));
        assert!(out.contains(
            "Content-Disposition: inline; filename=logo.png\r\nContent-ID: <logo@example.com>\r\n"
        ));
    }

    #[test]
    fn message_rfc822_encodings() {
        let inner = "Subject: inner\nFrom: a@example.com\n\nbody\n";
        let mut leaf = Leaf::new("message/rfc822", inner.as_bytes());
        let out = emit_str(&base_message(Part::Leaf(leaf.clone())));
        assert!(out.contains("Content-Transfer-Encoding: 7bit\r\n\r\nSubject: inner\r\nFrom:"));
        leaf.body = "Subject: é\n\nü\n".as_bytes().to_vec();
        let out = emit(&base_message(Part::Leaf(leaf.clone())), b"s").expect("8bit is fine");
        assert!(String::from_utf8_lossy(&out).contains("Content-Transfer-Encoding: 8bit\r\n"));
        for enc in [TransferEncoding::Base64, TransferEncoding::QuotedPrintable] {
            leaf.transfer_encoding = Some(enc);
            let err = emit(&base_message(Part::Leaf(leaf.clone())), b"s").expect_err("forbidden");
            assert!(
                err.to_string().contains("must use `7bit` or `8bit`"),
                "{err}"
            );
        }
        leaf.transfer_encoding = Some(TransferEncoding::SevenBit);
        let err = emit(&base_message(Part::Leaf(leaf)), b"s").expect_err("not 7bit");
        assert_eq!(
            err.to_string(),
            "`7bit` requested for `message/rfc822` but the content is not 7bit: non-ASCII octet at offset 9"
        );
    }

    #[test]
    fn emit_errors() {
        type Mutation = Box<dyn Fn(&mut Message)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (
                Box::new(|m| m.from.clear()),
                "header `From` needs at least one mailbox",
            ),
            (
                Box::new(|m| m.from.push(mailbox(None, "b@example.com"))),
                "header `Sender` is required",
            ),
            (
                Box::new(|m| m.subject = Some("hi\r\nBcc: evil@example.com".into())),
                "control character U+000D in header `Subject`",
            ),
            (
                Box::new(|m| m.extra_headers.push(("X-Bad Name".into(), "v".into()))),
                "invalid header name `X-Bad Name`",
            ),
            (
                Box::new(|m| m.extra_headers.push(("Bcc".into(), "x@example.com".into()))),
                "header `Bcc` cannot be set as a custom header",
            ),
            (
                Box::new(|m| {
                    m.extra_headers
                        .push(("Content-Type".into(), "text/html".into()))
                }),
                "cannot be set as a custom header",
            ),
            (
                Box::new(|m| m.extra_headers.push(("X-Note".into(), "a\nb".into()))),
                "control character U+000A in header `X-Note`",
            ),
            (
                Box::new(|m| m.message_id = "no-at-sign".into()),
                "invalid message id `no-at-sign` in header `Message-ID`",
            ),
            (
                Box::new(|m| m.in_reply_to = vec!["a@b>\r\nX: y".into()]),
                "invalid message id `a@b>\\u{d}\\u{a}X: y` in header `In-Reply-To`",
            ),
            (
                Box::new(|m| m.to = vec![mailbox(None, "josé@example.com")]),
                "invalid address in header `To`: local part of `josé@example.com` contains non-ASCII characters, which requires smtputf8",
            ),
            (
                Box::new(|m| m.body = Part::Leaf(Leaf::new("text", "x"))),
                "invalid media type `text`: expected `type/subtype`",
            ),
            (
                Box::new(|m| m.body = Part::Leaf(Leaf::new("multipart/mixed", "x"))),
                "a part with content cannot be a multipart",
            ),
            (
                Box::new(|m| {
                    m.body = Part::Multipart(Multipart {
                        subtype: "mixed".into(),
                        parts: vec![],
                    })
                }),
                "`multipart/mixed` has no parts",
            ),
            (
                Box::new(|m| {
                    m.body = Part::Leaf(Leaf {
                        transfer_encoding: Some(TransferEncoding::SevenBit),
                        ..Leaf::new("text/plain", "café")
                    })
                }),
                "`7bit` requested for `text/plain` but the content is not 7bit: non-ASCII octet at offset 3",
            ),
            (
                Box::new(|m| {
                    m.body = Part::Leaf(Leaf {
                        charset: Some("utf 8".into()),
                        ..Leaf::new("text/plain", "x")
                    })
                }),
                "invalid charset `utf 8`",
            ),
            (
                Box::new(|m| {
                    m.body = Part::Leaf(Leaf {
                        params: vec![("charset".into(), "latin1".into())],
                        ..Leaf::new("text/plain", "x")
                    })
                }),
                "invalid parameter `charset` on `text/plain`",
            ),
            (
                Box::new(|m| {
                    m.body = Part::Leaf(Leaf {
                        content_id: Some("<x@y.z>".into()),
                        ..Leaf::new("image/png", "x")
                    })
                }),
                "invalid content id `<x@y.z>`",
            ),
        ];
        for (mutate, want) in cases {
            let mut msg = base_message(text("body"));
            mutate(&mut msg);
            let err = emit(&msg, b"seed").expect_err(want);
            assert!(err.to_string().contains(want), "{err}");
        }
    }

    #[test]
    fn charset_is_checked() {
        let bad = Leaf::new("text/plain", b"caf\xe9".to_vec());
        let err = emit(&base_message(Part::Leaf(bad)), b"s").expect_err("latin-1 bytes");
        assert_eq!(
            err.to_string(),
            "body of `text/plain` is not valid `utf-8`: bad octet at offset 3"
        );
        let ascii = Leaf {
            charset: Some("US-ASCII".into()),
            ..Leaf::new("text/plain", "café")
        };
        assert!(emit(&base_message(Part::Leaf(ascii)), b"s").is_err());
        let latin1 = Leaf {
            charset: Some("iso-8859-1".into()),
            ..Leaf::new("text/plain", b"caf\xe9".to_vec())
        };
        let out = emit(&base_message(Part::Leaf(latin1)), b"s").expect("taken on trust");
        assert!(String::from_utf8_lossy(&out).contains("charset=iso-8859-1"));
    }

    #[test]
    fn header_injection_stays_literal() {
        use mail_parser::MessageParser;
        let attack = "=?utf-8?q?=0D=0ABcc:victim@example.com?=";
        let mut msg = base_message(text("x"));
        msg.subject = Some(format!("Hello {attack}"));
        msg.to = vec![mailbox(Some(attack), "ada@example.org")];
        msg.extra_headers = vec![("X-Note".into(), attack.into())];
        let bytes = emit(&msg, b"s").expect("emits");
        assert_wire(&bytes);
        let parsed = MessageParser::default().parse(&bytes).expect("parses");
        assert!(parsed.bcc().is_none());
        assert_eq!(parsed.subject(), msg.subject.as_deref());
        let to = parsed.to().and_then(|a| a.first()).expect("to");
        assert_eq!(to.name(), Some(attack));
        assert_eq!(to.address(), Some("ada@example.org"));
        let note = parsed.header_raw("X-Note").expect("x-note");
        assert!(!note.contains(attack));
    }

    #[test]
    fn filename_rejections() {
        let bad = [
            ("", "it is empty"),
            ("../etc/passwd", "path separator"),
            ("a\\b.txt", "path separator"),
            ("..", "names a directory"),
            ("a\nb.txt", "control character"),
            ("invoice\u{202E}gpj.exe", "invisible or bidirectional"),
            ("zero\u{200B}width.txt", "invisible or bidirectional"),
        ];
        let long = "x".repeat(256);
        for (name, want) in bad.iter().copied().chain([(long.as_str(), "255 octets")]) {
            let leaf = Leaf {
                disposition: Some(Disposition {
                    kind: DispositionKind::Attachment,
                    filename: Some(name.into()),
                }),
                ..Leaf::new("text/plain", "x")
            };
            let err = emit(&base_message(Part::Leaf(leaf)), b"s").expect_err(name);
            assert!(err.to_string().contains(want), "{name:?}: {err}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error() {
        let mut part = text("x");
        for _ in 0..=MAX_DEPTH {
            part = Part::Multipart(Multipart {
                subtype: "mixed".into(),
                parts: vec![part],
            });
        }
        let err = emit(&base_message(part), b"s").expect_err("too deep");
        assert_eq!(err.to_string(), "parts are nested more than 32 levels deep");
    }

    #[test]
    fn smtputf8_headers_are_raw() {
        let mut msg = base_message(text("x"));
        msg.smtputf8 = true;
        msg.subject = Some("Grüße".into());
        msg.to = vec![mailbox(Some("Zoë"), "zoë@bücher.example")];
        let out = String::from_utf8(emit(&msg, b"s").expect("emits")).expect("utf-8");
        assert!(out.contains("Subject: Grüße\r\n"));
        assert!(out.contains("To: Zoë <zoë@xn--bcher-kva.example>\r\n"));
    }

    /// The full round trip through an independent parser (mail-parser).
    #[test]
    fn mail_parser_round_trip() {
        use mail_parser::{MessageParser, MimeHeaders};
        let attachment = "Übersicht – Q3 2025 (final) 日本語 😀.pdf";
        let pdf: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        let html = "<p>Grüße, José! ✓</p>\n<p>Zweite Zeile</p>\n";
        let plain = "Grüße, José! ✓\nZweite Zeile\n";
        let body = Part::Multipart(Multipart {
            subtype: "mixed".into(),
            parts: vec![
                Part::Multipart(Multipart {
                    subtype: "alternative".into(),
                    parts: vec![text(plain), Part::Leaf(Leaf::new("text/html", html))],
                }),
                Part::Leaf(Leaf {
                    disposition: Some(Disposition {
                        kind: DispositionKind::Attachment,
                        filename: Some(attachment.into()),
                    }),
                    ..Leaf::new("application/pdf", pdf.clone())
                }),
            ],
        });
        let mut msg = base_message(body);
        msg.subject = Some("Ünïcödé subject with emoji 😀 and a long tail of words to fold".into());
        msg.from = vec![mailbox(Some("José Müller"), "jose@bücher.example")];
        msg.to = vec![
            mailbox(Some("O'Brien, Siobhán"), "siobhan@example.ie"),
            mailbox(None, "plain@example.org"),
        ];
        let bytes = emit(&msg, b"seed").expect("emits");
        assert_wire(&bytes);
        let parsed = MessageParser::default().parse(&bytes).expect("parses");
        assert_eq!(parsed.subject(), msg.subject.as_deref());
        let from = parsed.from().and_then(|a| a.first()).expect("from");
        assert_eq!(from.name(), Some("José Müller"));
        assert_eq!(from.address(), Some("jose@xn--bcher-kva.example"));
        let to: Vec<_> = parsed
            .to()
            .expect("to")
            .iter()
            .map(|a| (a.name().map(str::to_owned), a.address().map(str::to_owned)))
            .collect();
        assert_eq!(
            to,
            [
                (
                    Some("O'Brien, Siobhán".into()),
                    Some("siobhan@example.ie".into())
                ),
                (None, Some("plain@example.org".into())),
            ]
        );
        let norm = |s: &str| s.replace("\r\n", "\n").trim_end().to_owned();
        assert_eq!(norm(&parsed.body_text(0).expect("text")), norm(plain));
        assert_eq!(norm(&parsed.body_html(0).expect("html")), norm(html));
        let att = parsed.attachment(0).expect("attachment");
        assert_eq!(att.attachment_name(), Some(attachment));
        assert_eq!(att.contents(), pdf.as_slice());
        assert_eq!(parsed.message_id(), Some(msg.message_id.as_str()));
    }

    /// Writes sample messages to `/tmp/mimeout` for `check_eml.py`:
    /// `cargo test --lib mime::tests::write_samples -- --ignored`.
    #[test]
    #[ignore = "writes files for the external oracle"]
    fn write_samples() {
        let dir = std::path::Path::new("/tmp/mimeout");
        std::fs::create_dir_all(dir).expect("mkdir");
        for (name, msg) in samples() {
            let bytes = emit(&msg, name.as_bytes()).expect(name);
            std::fs::write(dir.join(format!("{name}.eml")), bytes).expect("write");
            std::fs::write(dir.join(format!("{name}.expect.json")), sidecar(&msg)).expect("write");
        }
    }

    /// JSON string literal (the expectations only hold printable text).
    fn json(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    /// `check_eml.py` expectations: decoded subject, addresses, attachment names, structure.
    pub(crate) fn sidecar(msg: &Message) -> String {
        fn walk(part: &Part, types: &mut Vec<String>, names: &mut Vec<String>) {
            match part {
                Part::Multipart(mp) => {
                    types.push(format!("multipart/{}", mp.subtype));
                    for p in &mp.parts {
                        walk(p, types, names);
                    }
                }
                Part::Leaf(leaf) => {
                    types.push(leaf.media_type.clone());
                    if let Some(d) = &leaf.disposition
                        && d.kind == DispositionKind::Attachment
                    {
                        names.push(d.filename.clone().unwrap_or_default());
                    }
                }
            }
        }
        let (mut types, mut names) = (Vec::new(), Vec::new());
        walk(&msg.body, &mut types, &mut names);
        let list = |v: &[String]| v.iter().map(|s| json(s)).collect::<Vec<_>>().join(", ");
        let addrs = |mbs: &[Mailbox]| {
            mbs.iter()
                .map(|m| {
                    let name = m.name.as_deref().unwrap_or("").trim();
                    format!("[{}, {}]", json(name), json(&m.addr.to_string()))
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut fields = vec![format!("\"smtputf8\": {}", msg.smtputf8)];
        // Python's parser walks into message/rfc822 parts; the walk above does not.
        if !types.iter().any(|t| t == "message/rfc822") {
            fields.push(format!("\"structure\": [{}]", list(&types)));
        }
        fields.extend([
            format!("\"attachment_filenames\": [{}]", list(&names)),
            format!(
                "\"addresses\": {{\"From\": [{}], \"To\": [{}]}}",
                addrs(&msg.from),
                addrs(&msg.to)
            ),
        ]);
        if let Some(subject) = &msg.subject {
            fields.push(format!(
                "\"headers\": {{\"Subject\": {}}}",
                json(subject.trim())
            ));
        }
        format!("{{\n  {}\n}}\n", fields.join(",\n  "))
    }

    pub(crate) fn samples() -> Vec<(&'static str, Message)> {
        let mut out = Vec::new();
        out.push(("plain", base_message(text("Hello\nworld\n.\nFrom here\n"))));

        let mut msg = base_message(Part::Multipart(Multipart {
            subtype: "mixed".into(),
            parts: vec![
                Part::Multipart(Multipart {
                    subtype: "alternative".into(),
                    parts: vec![
                        text(&"Grüße aus Köln! ".repeat(30)),
                        Part::Leaf(Leaf::new("text/html", "<p>Grüße 😀</p>".repeat(20))),
                    ],
                }),
                Part::Leaf(Leaf {
                    disposition: Some(Disposition {
                        kind: DispositionKind::Attachment,
                        filename: Some(
                            "Übersicht – Q3 2025 (final) 日本語 😀 and more words.pdf".into(),
                        ),
                    }),
                    description: Some("Quartalsübersicht".into()),
                    ..Leaf::new(
                        "application/pdf",
                        (0..=255u8).cycle().take(5000).collect::<Vec<u8>>(),
                    )
                }),
            ],
        }));
        msg.subject = Some("=?utf-8?q?=0D=0ABcc:victim@example.com?= Ünïcödé 😀 ".repeat(3));
        msg.from = vec![mailbox(Some("José Müller"), "jose@bücher.example")];
        msg.to = vec![
            mailbox(Some("O'Brien, Siobhán"), "siobhan@example.ie"),
            mailbox(Some("say \"hi\" \\o/"), "\"odd local\"@example.org"),
            mailbox(Some("=?utf-8?q?fake?="), "fake@example.org"),
        ];
        msg.cc = (0..8)
            .map(|i| mailbox(Some(&format!("Person {i}")), &format!("p{i}@example.net")))
            .collect();
        msg.extra_headers = vec![("X-Campaign".into(), "Sommer – 2025".into())];
        msg.in_reply_to = vec!["parent@example.com".into()];
        msg.references = (0..6)
            .map(|i| format!("ref{i}.aaaaaaaaaaaa@example.com"))
            .collect();
        out.push(("mixed", msg));

        let mut msg = base_message(Part::Multipart(Multipart {
            subtype: "related".into(),
            parts: vec![
                Part::Leaf(Leaf::new("text/html", "<img src=\"cid:logo@example.com\">")),
                Part::Leaf(Leaf {
                    content_id: Some("logo@example.com".into()),
                    disposition: Some(Disposition {
                        kind: DispositionKind::Inline,
                        filename: Some("logo.png".into()),
                    }),
                    ..Leaf::new("image/png", b"\x89PNG\r\n\x1a\n\0\0".to_vec())
                }),
            ],
        }));
        msg.subject = Some(format!("long {} word", "x".repeat(1500)));
        out.push(("related", msg));

        let mut msg = base_message(Part::Multipart(Multipart {
            subtype: "mixed".into(),
            parts: vec![
                text("see attached"),
                Part::Leaf(Leaf {
                    params: vec![("method".into(), "REQUEST".into())],
                    ..Leaf::new("text/calendar", "BEGIN:VCALENDAR\nEND:VCALENDAR\n")
                }),
                Part::Leaf(Leaf::new(
                    "message/rfc822",
                    "Subject: inner\nFrom: a@example.com\nMIME-Version: 1.0\n\
                     Content-Type: text/plain; charset=us-ascii\n\nbody\n",
                )),
            ],
        }));
        msg.smtputf8 = true;
        msg.subject = Some("Grüße 😀".into());
        msg.to = vec![mailbox(Some("Zoë"), "zoë@bücher.example")];
        out.push(("smtputf8", msg));

        let first = ident::boundary(b"collide", &[], 0);
        let msg = base_message(Part::Multipart(Multipart {
            subtype: "mixed".into(),
            parts: vec![text(&format!("--{first}\n--{first}--\n")), text("second")],
        }));
        out.push(("collide", msg));
        out
    }
}
