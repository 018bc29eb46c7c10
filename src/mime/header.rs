//! Header fields: folding, RFC 2047 encoded-words, address lists, message ids, dates and
//! MIME parameters (RFC 2231).
//!
//! **Input:** final header text (templates already rendered) and the message's `smtputf8`
//! flag. **Output:** complete header fields, `Name: value` plus CRLF, folded.
//!
//! **Invariants**
//! - A value containing CR, LF, NUL or any other control character except TAB is an error,
//!   never silently stripped: a stray line break in a template is how header injection
//!   happens (`Subject: hi\r\nBcc: …`).
//! - Lines are folded at white space to at most 78 characters where the content allows
//!   (RFC 5322 §2.1.1) and never exceed 998 octets: a word that could not be folded under
//!   that limit is written as encoded-words, and [`Folder::finish`] checks the result.
//! - Folding only ever inserts CRLF *before* existing white space (RFC 5322 §2.2.3), so
//!   unfolding gives back the exact text; in structured fields the emitter adds the white
//!   space itself where the grammar allows CFWS. Unstructured text is folded only at single
//!   spaces, the one kind of white space every reader keeps exactly across a fold.
//! - Encoded-words (RFC 2047) use the `utf-8` charset, hold whole characters only, are at
//!   most 75 characters long, and each line holding one is at most 76 characters (§2). Q or
//!   B is chosen per word, whichever is shorter, with the restricted Q alphabet of §5(3) so
//!   the same words are valid in phrases and in text.
//! - Without `smtputf8`, headers are pure ASCII. With it, UTF-8 is written raw (RFC 6532),
//!   but text that looks like an encoded-word (`=?`) is still encoded, so a reader shows
//!   the literal instead of decoding it.
//! - Leading and trailing white space of unstructured values and display names is dropped:
//!   readers strip it anyway, and keeping it would produce lines ending in white space.

use chrono::{DateTime, Datelike, FixedOffset};

use super::EmitError;
use super::address::{self, Mailbox, is_atext, is_control, is_phrase_of_atoms, quote};

/// Preferred maximum line length, CRLF excluded (RFC 5322 §2.1.1).
pub const SOFT_LINE: usize = 78;
/// Maximum length of a line that contains an encoded-word (RFC 2047 §2).
pub const EW_LINE: usize = 76;
/// Maximum length of one encoded-word (RFC 2047 §2).
pub const EW_MAX: usize = 75;
/// Hard maximum line length in octets, CRLF excluded (RFC 5322 §2.1.1).
pub const MAX_LINE: usize = 998;
/// Maximum length of a custom header field name: a name that long still leaves room for
/// a value on a 78-character first line.
pub const MAX_NAME: usize = 76;

/// `=?utf-8?q?` + `?=`: the fixed part of every encoded-word.
const EW_OVERHEAD: usize = 12;
/// Longest unbreakable segment written unencoded in an unstructured value. With the
/// header name (≤ 76) and the folding space it keeps every line under 998 octets.
const MAX_PLAIN_TOKEN: usize = 900;
/// Longest display-name word or quoted display name written as-is; longer ones are
/// encoded-words, which can be folded.
const MAX_PLAIN_NAME: usize = 70;
/// Longest message id accepted; `Message-ID: <id>` must fit in a 998-octet line.
const MAX_MSG_ID: usize = 900;

/// Builds one header field, folding before white space when a line would get too long.
#[derive(Debug)]
pub struct Folder {
    name: String,
    out: String,
    /// Length of the current line in octets.
    col: usize,
    /// Whether the current line holds an encoded-word (then its limit is 76, RFC 2047 §2).
    line_has_ew: bool,
    /// Whether the current line holds anything after the field name or folding white space.
    has_content: bool,
}

impl Folder {
    /// Starts the field `name:`. The name is not validated here (see [`check_custom_name`]).
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            out: format!("{name}:"),
            col: name.len() + 1,
            line_has_ew: false,
            has_content: false,
        }
    }

    fn fold(&mut self) {
        self.out.push_str("\r\n");
        self.col = 0;
        self.line_has_ew = false;
        self.has_content = false;
    }

    fn push(&mut self, sep: &str, token: &str, ew: bool) {
        let limit = if ew || self.line_has_ew {
            EW_LINE
        } else {
            SOFT_LINE
        };
        // Folding means inserting CRLF before white space; without `sep` there is none.
        if self.has_content && !sep.is_empty() && self.col + sep.len() + token.len() > limit {
            self.fold();
        }
        self.out.push_str(sep);
        self.out.push_str(token);
        self.col += sep.len() + token.len();
        self.line_has_ew |= ew;
        self.has_content = true;
    }

    /// Appends `token` after the white space `sep` (`" "` in structured fields; the original
    /// white space in unstructured ones), folding before `sep` if the line would pass 78.
    pub fn word(&mut self, sep: &str, token: &str) {
        self.push(sep, token, false);
    }

    /// Appends `text` as one or more encoded-words. The first is preceded by `sep`; the
    /// following ones by a single space, which RFC 2047 §6.2 says readers drop between
    /// adjacent encoded-words, so `text` (including its spaces) decodes exactly. Each word
    /// is sized to the room left on the line, so the line stays within 76 characters.
    pub fn encoded(&mut self, sep: &str, text: &str) {
        let mut rest = text;
        let mut sep = sep;
        while let Some(first) = rest.chars().next() {
            let mut room = EW_LINE.saturating_sub(self.col + sep.len()).min(EW_MAX);
            if self.has_content && room < EW_OVERHEAD + min_char_cost(first) {
                self.fold();
                room = EW_LINE.saturating_sub(sep.len()).min(EW_MAX);
            }
            let (used, word) = next_encoded_word(rest, room);
            // `push` would never fold here: the word was sized to fit.
            self.out.push_str(sep);
            self.out.push_str(&word);
            self.col += sep.len() + word.len();
            self.line_has_ew = true;
            self.has_content = true;
            rest = &rest[used..];
            sep = " ";
        }
    }

    /// Finishes the field with CRLF.
    ///
    /// # Errors
    /// [`EmitError::LineTooLong`] if a line exceeds 998 octets. The encoders make that
    /// impossible; the check keeps the guarantee independent of them.
    pub fn finish(mut self) -> Result<String, EmitError> {
        if self.out.split("\r\n").any(|line| line.len() > MAX_LINE) {
            return Err(EmitError::LineTooLong(self.name));
        }
        self.out.push_str("\r\n");
        Ok(self.out)
    }
}

/// Rejects control characters (everything but TAB in C0, DEL, and C1) in a header value.
///
/// # Errors
/// [`EmitError::ControlChar`] naming `header` and the character.
pub fn check_text(header: &str, value: &str) -> Result<(), EmitError> {
    match value.chars().find(|&c| c != '\t' && is_control(c)) {
        Some(c) => Err(EmitError::ControlChar {
            header: header.to_owned(),
            ch: format!("U+{:04X}", u32::from(c)),
        }),
        None => Ok(()),
    }
}

/// Header names a spec cannot set in `headers`, each with what to do instead. This is the one
/// table: `mailspec check` refuses these names with the hint, and the emitter refuses them too,
/// so a header `check` accepts never fails at render.
///
/// `Bcc`/`Resent-Bcc` would leak the blind copies; trace fields (`Return-Path`, `Received`,
/// `Delivered-To`) are added by the servers that relay and deliver the message (RFC 5321 §4.4)
/// and a forged one misleads them; `Content-Length` belongs to mail stores, not to messages.
/// Other `Content-*` fields (`Content-Language`, RFC 3282) are ordinary headers.
const RESERVED: &[(&str, &str)] = &[
    ("date", "use `message.date`"),
    ("from", "use `message.from`"),
    ("sender", "use `message.sender`"),
    ("reply-to", "use `message.reply_to`"),
    ("to", "use `message.to`"),
    ("cc", "use `message.cc`"),
    ("bcc", "use `message.bcc`"),
    ("subject", "use `message.subject`"),
    ("message-id", "use `message.message_id`"),
    ("in-reply-to", "use `message.in_reply_to`"),
    ("references", "use `message.references`"),
    ("mime-version", "mailspec writes this header itself"),
    (
        "content-type",
        "mailspec writes this header itself; set a part's `type`",
    ),
    (
        "content-transfer-encoding",
        "mailspec writes this header itself; set a part's `transfer_encoding`",
    ),
    (
        "content-disposition",
        "mailspec writes this header itself; set a part's `disposition`",
    ),
    (
        "content-id",
        "mailspec writes this header itself; set a part's `cid`",
    ),
    (
        "content-description",
        "mailspec writes this header itself; set a part's `description`",
    ),
    (
        "content-length",
        "mail stores add it; a message does not carry it",
    ),
    ("resent-bcc", "it would show the blind copies"),
    (
        "return-path",
        "the delivering server adds it (RFC 5321 §4.4); set `message.envelope.from`",
    ),
    ("received", "each relaying server adds it (RFC 5321 §4.4)"),
    ("delivered-to", "the delivering server adds it"),
    (
        "list-unsubscribe",
        "set `message.unsubscribe` in a `class: bulk` spec: mailspec writes it, checked and folded only between URLs (RFC 2369, RFC 8058)",
    ),
    (
        "list-unsubscribe-post",
        "mailspec writes `List-Unsubscribe=One-Click` in every `class: bulk` spec (RFC 8058)",
    ),
    (
        "list-id",
        "set `message.list_id` in a `class: bulk` spec (RFC 2919)",
    ),
    ("feedback-id", "set `message.feedback_id`"),
    (
        "precedence",
        "set `message.class`: `bulk` writes `Precedence: bulk`",
    ),
    (
        "auto-submitted",
        "set `message.class`: `transactional` and `bulk` write `Auto-Submitted: auto-generated` (RFC 3834)",
    ),
    (
        "dkim-signature",
        "mailspec signs with the spec's `dkim` settings (`render --dkim`)",
    ),
];

/// Checks a complete header field built elsewhere: `Name:` with an `ftext` name, CRLF line
/// ends, every continuation line starting with white space (RFC 5322 §2.2.3), no line over
/// 998 octets (§2.1.1), no other control character, and a final CRLF.
///
/// # Errors
/// [`EmitError::BadHeaderName`], [`EmitError::ControlChar`] or [`EmitError::LineTooLong`].
pub fn check_field(field: &str) -> Result<(), EmitError> {
    let name = field.split(':').next().unwrap_or_default();
    if name.is_empty()
        || name.len() > MAX_NAME
        || !name.bytes().all(|b| (33..=126).contains(&b))
        || !field.contains(':')
    {
        return Err(EmitError::BadHeaderName(address::show(name)));
    }
    let Some(body) = field.strip_suffix("\r\n") else {
        return Err(EmitError::ControlChar {
            header: name.to_owned(),
            ch: "a missing final CRLF".into(),
        });
    };
    for (i, line) in body.split("\r\n").enumerate() {
        if line.len() > MAX_LINE {
            return Err(EmitError::LineTooLong(name.to_owned()));
        }
        if i > 0 && !line.starts_with([' ', '\t']) {
            return Err(EmitError::ControlChar {
                header: name.to_owned(),
                ch: "a line break not followed by white space".into(),
            });
        }
        check_text(name, line)?;
    }
    Ok(())
}

/// Why `name` cannot be a custom header (case-insensitive), as a hint for the spec author.
pub fn reserved_header(name: &str) -> Option<&'static str> {
    RESERVED
        .iter()
        .find(|(r, _)| r.eq_ignore_ascii_case(name))
        .map(|(_, hint)| *hint)
}

/// Validates the name of a custom header: 1-76 characters of RFC 5322 `ftext` (printable
/// ASCII except `:`, §3.6.8), and none of the [`reserved_header`] names.
///
/// # Errors
/// [`EmitError::BadHeaderName`] or [`EmitError::ReservedHeader`].
pub fn check_custom_name(name: &str) -> Result<(), EmitError> {
    if name.is_empty()
        || name.len() > MAX_NAME
        || !name.bytes().all(|b| (33..=126).contains(&b) && b != b':')
    {
        return Err(EmitError::BadHeaderName(address::show(name)));
    }
    if reserved_header(name).is_some() {
        return Err(EmitError::ReservedHeader(name.to_owned()));
    }
    Ok(())
}

/// Q-encoding (RFC 2047 §4.2) restricted to the characters §5(3) allows in a phrase:
/// letters, digits and `!*+-/`. Space becomes `_`; everything else `=XX`.
fn q_literal(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'!' | b'*' | b'+' | b'-' | b'/')
}

fn q_cost(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .map(|&b| if q_literal(b) || b == b' ' { 1 } else { 3 })
        .sum()
}

fn b_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Encoded length of the cheaper encoding of one character.
fn min_char_cost(c: char) -> usize {
    let mut buf = [0; 4];
    let bytes = c.encode_utf8(&mut buf).as_bytes();
    q_cost(bytes).min(b_len(bytes.len()))
}

/// Takes the longest prefix of `text` (at least one character) whose encoded-word fits in
/// `max_len` characters, and returns its byte length with the encoded-word. Q or B is
/// chosen for the prefix, whichever is shorter (Q on a tie: it stays readable).
fn next_encoded_word(text: &str, max_len: usize) -> (usize, String) {
    let payload_max = max_len.saturating_sub(EW_OVERHEAD);
    let (mut end, mut q, mut n) = (0, 0, 0);
    for c in text.chars() {
        let mut buf = [0; 4];
        let bytes = c.encode_utf8(&mut buf).as_bytes();
        let (q2, n2) = (q + q_cost(bytes), n + bytes.len());
        if end > 0 && q2.min(b_len(n2)) > payload_max {
            break;
        }
        (end, q, n) = (end + c.len_utf8(), q2, n2);
    }
    let chunk = &text.as_bytes()[..end];
    let word = if q <= b_len(n) {
        let mut s = String::with_capacity(EW_OVERHEAD + q);
        s.push_str("=?utf-8?q?");
        for &b in chunk {
            if q_literal(b) {
                s.push(char::from(b));
            } else if b == b' ' {
                s.push('_');
            } else {
                s.push_str(&format!("={b:02X}"));
            }
        }
        s.push_str("?=");
        s
    } else {
        use base64::Engine as _;
        format!(
            "=?utf-8?b?{}?=",
            base64::engine::general_purpose::STANDARD.encode(chunk)
        )
    };
    (end, word)
}

/// Splits `text` into encoded-words of at most `max_len` characters each (`max_len` is
/// raised to 20 if smaller, enough for any one character). Concatenating the decoded words
/// gives `text` back; no UTF-8 character is split between words.
pub fn encoded_words(text: &str, max_len: usize) -> Vec<String> {
    let max_len = max_len.clamp(EW_OVERHEAD + 8, EW_MAX);
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (used, word) = next_encoded_word(rest, max_len);
        out.push(word);
        rest = &rest[used..];
    }
    out
}

/// A word of an unstructured value: the white space before it and the word itself.
struct Token<'a> {
    ws: &'a str,
    word: &'a str,
    /// Byte offset of `word` in the value.
    start: usize,
}

fn tokens(text: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let ws_start = i;
        while i < bytes.len() && matches!(bytes[i], b' ' | b'\t') {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && !matches!(bytes[i], b' ' | b'\t') {
            i += 1;
        }
        // Splitting at ASCII bytes always lands on UTF-8 character boundaries.
        out.push(Token {
            ws: &text[ws_start..start],
            word: &text[start..i],
            start,
        });
    }
    out
}

/// Writes an unstructured field (RFC 5322 §3.2.5) such as `Subject`, `Content-Description`
/// or a custom header.
///
/// The value is cut into *segments* at single spaces; these are the only fold points,
/// because readers keep a single space across a fold exactly, while several of them
/// (mail-parser among them) collapse longer runs or turn TAB into a space when they
/// unfold. A segment is written as it is when it is ASCII (or `smtputf8` is set), holds no
/// `=?`, and is at most 900 octets; otherwise it becomes encoded-words, and neighbouring
/// encoded segments share encoded-words, so every space between them is carried inside
/// the encoded text and decodes exactly (RFC 2047 §6.2 drops white space between adjacent
/// encoded-words).
///
/// # Errors
/// [`EmitError::ControlChar`] for control characters in `value`.
pub fn unstructured(name: &str, value: &str, smtputf8: bool) -> Result<String, EmitError> {
    check_text(name, value)?;
    let text = value;
    let core = value.trim_start_matches([' ', '\t']);
    let lead = value.len() - core.len();
    let core = core.trim_end_matches([' ', '\t']);
    let trail = value.len() - lead - core.len();
    // Segments as byte ranges of `text`: words joined by anything but a single space.
    let mut segments: Vec<(usize, usize)> = Vec::new();
    for (i, t) in tokens(core).iter().enumerate() {
        let (start, end) = (lead + t.start, lead + t.start + t.word.len());
        match segments.last_mut() {
            Some(seg) if i > 0 && t.ws != " " => seg.1 = end,
            _ => segments.push((start, end)),
        }
    }
    // White space at either end is part of the value, but a reader drops it around a field
    // body: carry it inside the first and last encoded-words so it survives exactly.
    if lead + trail > 0 && segments.is_empty() {
        segments.push((0, text.len()));
    }
    if let Some(first) = segments.first_mut() {
        first.0 = 0;
    }
    if let Some(last) = segments.last_mut() {
        last.1 = text.len();
    }
    let n = segments.len();
    let encode = |i: usize| {
        let (a, b) = segments[i];
        let seg = &text[a..b];
        (i == 0 && lead > 0)
            || (i + 1 == n && trail > 0)
            || (!smtputf8 && !seg.is_ascii())
            || seg.contains("=?")
            || seg.len() > MAX_PLAIN_TOKEN
    };
    let mut f = Folder::new(name);
    let mut i = 0;
    while i < n {
        let (start, mut end) = segments[i];
        if encode(i) {
            while i + 1 < n && encode(i + 1) {
                end = segments[i + 1].1;
                i += 1;
            }
            f.encoded(" ", &text[start..end]);
        } else {
            f.word(" ", &text[start..end]);
        }
        i += 1;
    }
    f.finish()
}

/// How a display name is written.
enum Phrase {
    /// Space-separated atoms, written as they are.
    Atoms,
    /// One quoted-string.
    Quoted(String),
    /// Encoded-words (RFC 2047 §5(3)).
    Encoded,
}

fn phrase_form(name: &str, smtputf8: bool) -> Phrase {
    if (!smtputf8 && !name.is_ascii()) || name.contains("=?") {
        return Phrase::Encoded;
    }
    if is_phrase_of_atoms(name) && name.split(' ').all(|w| w.len() <= MAX_PLAIN_NAME) {
        return Phrase::Atoms;
    }
    let quoted = quote(name);
    if quoted.len() <= MAX_PLAIN_NAME {
        Phrase::Quoted(quoted)
    } else {
        Phrase::Encoded
    }
}

/// The address as written on the wire, re-validated: [`AddrSpec`](super::AddrSpec) has
/// public fields, so it may not come from the parser.
fn wire_addr(header: &str, addr: &super::AddrSpec, smtputf8: bool) -> Result<String, EmitError> {
    address::parse_addr_spec(&addr.to_string(), smtputf8)
        .map(|a| a.to_string())
        .map_err(|source| EmitError::Address {
            header: header.to_owned(),
            source,
        })
}

/// Writes an address field (`From`, `To`, …): mailboxes separated by `,`, folded between
/// mailboxes and between the words of display names. Display names are atoms when
/// possible, else a quoted-string, else (non-ASCII without `smtputf8`, `=?`, or very long)
/// encoded-words in phrase form. The addr-spec itself is never encoded (RFC 2047 §5).
///
/// # Errors
/// Control characters in a display name, or an address that does not re-validate (for
/// example a non-ASCII local part without `smtputf8`).
pub fn address_list(name: &str, list: &[Mailbox], smtputf8: bool) -> Result<String, EmitError> {
    let mut f = Folder::new(name);
    for (i, mb) in list.iter().enumerate() {
        let addr = wire_addr(name, &mb.addr, smtputf8)?;
        let comma = if i + 1 < list.len() { "," } else { "" };
        // The name is kept exactly, white space at its ends included (a quoted-string keeps
        // it); only an empty name means "no display name".
        let display = mb.name.as_deref().filter(|n| !n.is_empty());
        let Some(display) = display else {
            f.word(" ", &format!("{addr}{comma}"));
            continue;
        };
        check_text(name, display)?;
        match phrase_form(display, smtputf8) {
            Phrase::Atoms => display.split(' ').for_each(|w| f.word(" ", w)),
            Phrase::Quoted(q) => f.word(" ", &q),
            Phrase::Encoded => f.encoded(" ", display),
        }
        f.word(" ", &format!("<{addr}>{comma}"));
    }
    f.finish()
}

fn is_dot_atom_text(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|seg| !seg.is_empty() && seg.chars().all(is_atext))
}

/// True when `id` is a valid `id-left "@" id-right` (RFC 5322 §3.6.4) with both sides ASCII
/// dot-atom-text, at most 900 octets: the form this compiler generates and accepts.
pub fn is_valid_msg_id(id: &str) -> bool {
    id.len() <= MAX_MSG_ID
        && id
            .split_once('@')
            .is_some_and(|(l, r)| is_dot_atom_text(l) && is_dot_atom_text(r))
}

/// Writes `Message-ID`, `In-Reply-To` or `References`: each id in angle brackets, separated
/// by spaces, folded between ids.
///
/// # Errors
/// [`EmitError::BadMessageId`] for an id that is not `local@domain` in dot-atom form.
pub fn msg_id_list(name: &str, ids: &[String]) -> Result<String, EmitError> {
    let mut f = Folder::new(name);
    for id in ids {
        if !is_valid_msg_id(id) {
            return Err(EmitError::BadMessageId {
                header: name.to_owned(),
                id: address::show(id),
            });
        }
        f.word(" ", &format!("<{id}>"));
    }
    f.finish()
}

/// Writes a date field as `Tue, 01 Jul 2025 09:30:00 +0200` (RFC 5322 §3.3).
///
/// # Errors
/// [`EmitError::BadDate`] when the year is outside 1900-9999 (the grammar has four digits
/// and §4.3 treats earlier years as obsolete) or the UTC offset has seconds.
pub fn date(name: &str, dt: &DateTime<FixedOffset>) -> Result<String, EmitError> {
    let reason = if !(1900..=9999).contains(&dt.year()) {
        Some("the year must be between 1900 and 9999")
    } else if dt.offset().local_minus_utc() % 60 != 0 {
        Some("the UTC offset must be whole minutes")
    } else {
        None
    };
    if let Some(reason) = reason {
        return Err(EmitError::BadDate {
            date: dt.to_rfc3339(),
            reason,
        });
    }
    Ok(format!(
        "{name}: {}\r\n",
        dt.format("%a, %d %b %Y %H:%M:%S %z")
    ))
}

/// RFC 2045 §5.1 `token` character: printable ASCII except SPACE and tspecials.
pub fn is_token_char(c: char) -> bool {
    c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?=".contains(c)
}

/// True when `s` is a non-empty RFC 2045 token.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_token_char)
}

/// RFC 2231 / RFC 5987 `attr-char`: written as itself in an extended parameter value.
fn is_attr_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b)
}

/// The text of one parameter, split into the tokens it is folded between (several for
/// RFC 2231 continuations). Each token is at most 76 characters where the name allows,
/// so a line with one token and its `;` stays within 78.
///
/// - a token value is written bare: `charset=utf-8`;
/// - other ASCII that fits is a quoted-string: `filename="my report.pdf"`;
/// - non-ASCII, TAB, `=?` or long values use RFC 2231 with the `utf-8` charset:
///   `filename*=utf-8''caf%C3%A9.pdf`, or `filename*0*=utf-8''…; filename*1*=…` with
///   continuations that each hold whole characters.
///
/// RFC 2047 encoded-words are never put in a parameter: §5 forbids them inside a
/// quoted-string, and strict parsers (Python's `email`) flag it as a defect.
pub fn param_tokens(name: &str, value: &str) -> Vec<String> {
    let room = EW_LINE.saturating_sub(name.len() + 1);
    // Many readers decode RFC 2047 words even inside parameters (against §5), so a value
    // that looks like one is percent-encoded to make them show the literal.
    let looks_encoded = value.contains("=?");
    if is_token(value) && value.len() <= room && !looks_encoded {
        return vec![format!("{name}={value}")];
    }
    if value.is_ascii() && !value.contains('\t') && !looks_encoded {
        let quoted = quote(value);
        if quoted.len() <= room {
            return vec![format!("{name}={quoted}")];
        }
    }
    let pieces: Vec<String> = value
        .chars()
        .map(|c| {
            let mut buf = [0; 4];
            c.encode_utf8(&mut buf)
                .bytes()
                .map(|b| {
                    if is_attr_char(b) {
                        char::from(b).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect()
        })
        .collect();
    const PREFIX: &str = "utf-8''";
    let total = PREFIX.len() + pieces.iter().map(String::len).sum::<usize>();
    if total + name.len() + 2 <= EW_LINE {
        return vec![format!("{name}*={PREFIX}{}", pieces.concat())];
    }
    // `name*NN*=`: two digits are enough for the 255-octet limit on values we write.
    let budget = EW_LINE.saturating_sub(name.len() + 5).max(EW_OVERHEAD);
    let mut segments = vec![String::from(PREFIX)];
    for piece in pieces {
        let last = segments.len() - 1;
        let current = &mut segments[last];
        let only_prefix = last == 0 && current.len() == PREFIX.len();
        if !current.is_empty() && !only_prefix && current.len() + piece.len() > budget {
            segments.push(piece);
        } else {
            current.push_str(&piece);
        }
    }
    segments
        .iter()
        .enumerate()
        .map(|(n, seg)| format!("{name}*{n}*={seg}"))
        .collect()
}

/// Writes a field with a value and parameters (`Content-Type: text/plain; charset=utf-8`),
/// folding between parameters and continuations. Names and `value` must already be
/// validated tokens; parameter values are encoded by [`param_tokens`].
///
/// # Errors
/// [`EmitError::ControlChar`] for control characters in a parameter value.
pub fn with_params(name: &str, value: &str, params: &[(&str, &str)]) -> Result<String, EmitError> {
    let mut toks = vec![value.to_owned()];
    for (pname, pvalue) in params {
        check_text(name, pvalue)?;
        toks.extend(param_tokens(pname, pvalue));
    }
    let mut f = Folder::new(name);
    let last = toks.len() - 1;
    for (n, tok) in toks.iter().enumerate() {
        // Every parameter, and every RFC 2231 continuation (a parameter of its own), is
        // introduced by `;`.
        if n < last {
            f.word(" ", &format!("{tok};"));
        } else {
            f.word(" ", tok);
        }
    }
    f.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::address::{AddrSpec, parse_mailbox_list};

    /// Independent RFC 2047 decoder for the tests: decodes encoded-words separated by
    /// white space, dropping that white space between adjacent encoded-words (§6.2).
    fn decode_2047(value: &str) -> String {
        use base64::Engine as _;
        let unfolded = value.replace("\r\n", "");
        let mut out = String::new();
        let mut prev_ew = false;
        let mut pending_ws = String::new();
        let mut rest = unfolded.as_str();
        while !rest.is_empty() {
            let ws_len = rest.len() - rest.trim_start_matches([' ', '\t']).len();
            pending_ws.push_str(&rest[..ws_len]);
            rest = &rest[ws_len..];
            let word_len = rest.find([' ', '\t']).unwrap_or(rest.len());
            let word = &rest[..word_len];
            rest = &rest[word_len..];
            if word.is_empty() {
                continue;
            }
            let decoded = word
                .strip_prefix("=?utf-8?")
                .and_then(|w| w.strip_suffix("?="))
                .and_then(|w| {
                    let (kind, payload) = w.split_at(2);
                    let bytes = match kind {
                        "q?" => {
                            let mut v = Vec::new();
                            let b = payload.as_bytes();
                            let mut i = 0;
                            while i < b.len() {
                                match b[i] {
                                    b'_' => v.push(b' '),
                                    b'=' => {
                                        let h = std::str::from_utf8(&b[i + 1..i + 3]).ok()?;
                                        v.push(u8::from_str_radix(h, 16).ok()?);
                                        i += 2;
                                    }
                                    c => v.push(c),
                                }
                                i += 1;
                            }
                            v
                        }
                        "b?" => base64::engine::general_purpose::STANDARD
                            .decode(payload)
                            .ok()?,
                        _ => return None,
                    };
                    String::from_utf8(bytes).ok()
                });
            match decoded {
                Some(text) => {
                    if !prev_ew {
                        out.push_str(&pending_ws);
                    }
                    out.push_str(&text);
                    prev_ew = true;
                }
                None => {
                    out.push_str(&pending_ws);
                    out.push_str(word);
                    prev_ew = false;
                }
            }
            pending_ws.clear();
        }
        out
    }

    fn body(field: &str) -> &str {
        let after = field.split_once(':').map_or("", |(_, v)| v);
        after
            .strip_suffix("\r\n")
            .unwrap_or(after)
            .trim_start_matches(' ')
    }

    fn assert_lines(field: &str, max: usize) {
        assert!(field.ends_with("\r\n"));
        let inner = &field[..field.len() - 2];
        assert!(!inner.contains('\n') || inner.split("\r\n").count() > 1);
        for line in inner.split("\r\n") {
            assert!(!line.contains(['\r', '\n']), "bare CR/LF in {field:?}");
            assert!(
                line.len() <= max,
                "line of {} > {max}: {line:?}",
                line.len()
            );
        }
        for line in inner.split("\r\n").skip(1) {
            assert!(
                line.starts_with([' ', '\t']),
                "continuation without WSP: {line:?}"
            );
            assert!(
                !line.trim().is_empty(),
                "white-space-only line in {field:?}"
            );
        }
    }

    fn ews(field: &str) -> Vec<&str> {
        field
            .split([' ', '\r', '\n', '"'])
            .filter(|w| w.starts_with("=?"))
            .collect()
    }

    #[test]
    fn unstructured_ascii_folds_at_spaces() {
        let subject = "The quick brown fox jumps over the lazy dog ".repeat(6);
        let field = unstructured("Subject", &subject, false).expect("valid");
        assert_lines(&field, SOFT_LINE);
        // Only the trailing space needs an encoded-word, so it survives unfolding.
        assert_eq!(ews(&field).len(), 1, "{field}");
        assert_eq!(decode_2047(body(&field)), subject);
    }

    #[test]
    fn unstructured_table() {
        let cases = [
            ("", "Subject:\r\n"),
            ("Hello", "Subject: Hello\r\n"),
            ("  padded\t", "Subject: =?utf-8?q?__padded=09?=\r\n"),
            (" lead", "Subject: =?utf-8?q?_lead?=\r\n"),
            ("trail ", "Subject: =?utf-8?q?trail_?=\r\n"),
            ("a b ", "Subject: a =?utf-8?q?b_?=\r\n"),
            ("   ", "Subject: =?utf-8?q?___?=\r\n"),
            ("a  b\tc", "Subject: a  b\tc\r\n"),
            ("Café", "Subject: =?utf-8?b?Q2Fmw6k=?=\r\n"),
            (
                "Hi Crème brûlée",
                "Subject: Hi =?utf-8?b?Q3LDqG1lIGJyw7tsw6ll?=\r\n",
            ),
            (
                "Kaffeehaus-Öffnungszeiten",
                "Subject: =?utf-8?q?Kaffeehaus-=C3=96ffnungszeiten?=\r\n",
            ),
            (
                "Hi Café au lait",
                "Subject: Hi =?utf-8?b?Q2Fmw6k=?= au lait\r\n",
            ),
            ("é ü", "Subject: =?utf-8?b?w6kgw7w=?=\r\n"),
            ("日本語", "Subject: =?utf-8?b?5pel5pys6Kqe?=\r\n"),
            ("a =?x?= b", "Subject: a =?utf-8?b?PT94Pz0=?= b\r\n"),
        ];
        for (value, want) in cases {
            assert_eq!(
                unstructured("Subject", value, false).as_deref(),
                Ok(want),
                "{value}"
            );
        }
    }

    #[test]
    fn smtputf8_writes_raw_utf8() {
        let field = unstructured("Subject", "Grüße aus Köln", true).expect("valid");
        assert_eq!(field, "Subject: Grüße aus Köln\r\n");
        // A literal encoded-word is still protected.
        let field = unstructured("Subject", "x =?utf-8?q?y?=", true).expect("valid");
        assert_eq!(decode_2047(body(&field)), "x =?utf-8?q?y?=");
        assert!(!field.contains(" =?utf-8?q?y?="));
    }

    #[test]
    fn unbreakable_words_stay_under_998() {
        for len in [100, 900, 997, 998, 2000, 5000] {
            let word = "x".repeat(len);
            let value = format!("start {word} end");
            let field = unstructured("Subject", &value, false).expect("valid");
            assert_lines(&field, MAX_LINE);
            assert_eq!(decode_2047(body(&field)), value, "len {len}");
        }
        let spaces = format!("a{}b", " ".repeat(2000));
        let field = unstructured("Subject", &spaces, false).expect("valid");
        assert_lines(&field, MAX_LINE);
        assert_eq!(decode_2047(body(&field)), spaces);
    }

    #[test]
    fn encoded_words_are_short_and_whole() {
        let text = "😀é日本語 mixed with ASCII and ünïcödé 😀😀😀 ".repeat(10);
        let field = unstructured("Subject", &text, false).expect("valid");
        assert_lines(&field, EW_LINE);
        for w in ews(&field) {
            assert!(w.len() <= EW_MAX, "{w}");
        }
        assert_eq!(decode_2047(body(&field)), text);
        // Every word decodes on its own to whole characters.
        for w in encoded_words(&"😀".repeat(40), 30) {
            assert!(w.len() <= 30);
            assert!(decode_2047(&w).chars().all(|c| c == '😀'), "{w}");
        }
    }

    #[test]
    fn q_or_b_whichever_is_shorter() {
        assert_eq!(
            encoded_words("Café au lait", 75),
            ["=?utf-8?q?Caf=C3=A9_au_lait?="]
        );
        assert_eq!(encoded_words("Café", 75), ["=?utf-8?b?Q2Fmw6k=?="]);
        assert_eq!(encoded_words("日本", 75), ["=?utf-8?b?5pel5pys?="]);
        // Ties go to Q.
        assert_eq!(encoded_words("a b", 75), ["=?utf-8?q?a_b?="]);
    }

    #[test]
    fn injected_encoded_word_is_literal() {
        let attack = "=?utf-8?q?=0D=0ABcc:victim@example.com?=";
        let field = unstructured("Subject", attack, false).expect("valid");
        assert_lines(&field, EW_LINE);
        assert!(!field.contains(attack));
        assert_eq!(
            field.matches("\r\n").count(),
            1 + field.matches("\r\n ").count()
        );
        assert_eq!(decode_2047(body(&field)), attack);
    }

    #[test]
    fn control_characters_are_errors() {
        for value in [
            "a\rb",
            "a\nb",
            "a\r\nBcc: x",
            "nul\0",
            "bell\u{7}",
            "del\u{7f}",
            "nel\u{85}",
        ] {
            let err = unstructured("Subject", value, false).expect_err(value);
            assert!(
                err.to_string().starts_with("control character U+"),
                "{value:?}: {err}"
            );
            assert!(err.to_string().ends_with("in header `Subject`"));
        }
        assert!(unstructured("Subject", "tab\tok", false).is_ok());
    }

    fn list(s: &str, utf8: bool) -> Vec<Mailbox> {
        parse_mailbox_list(s, utf8).expect(s)
    }

    #[test]
    fn address_formatting() {
        let cases = [
            ("ada@example.com", "To: ada@example.com\r\n"),
            (
                "Ada Lovelace <ada@example.com>",
                "To: Ada Lovelace <ada@example.com>\r\n",
            ),
            (
                "\"O'Brien, Jack\" <jo@example.ie>",
                "To: \"O'Brien, Jack\" <jo@example.ie>\r\n",
            ),
            (
                "\"say \\\"hi\\\" \\\\o/\" <a@example.com>",
                "To: \"say \\\"hi\\\" \\\\o/\" <a@example.com>\r\n",
            ),
            (
                "\"J. Doe\" <j@example.com>",
                "To: \"J. Doe\" <j@example.com>\r\n",
            ),
            (
                "\"O'Brien, José\" <jo@example.ie>",
                "To: =?utf-8?b?TydCcmllbiwgSm9zw6k=?= <jo@example.ie>\r\n",
            ),
            (
                "José <josé@bücher.example>",
                "To: José <josé@xn--bcher-kva.example>\r\n",
            ),
            (
                "a@example.com, B <b@example.com>",
                "To: a@example.com, B <b@example.com>\r\n",
            ),
            (
                "\"victim@example.org x\"@example.com",
                "To: \"victim@example.org x\"@example.com\r\n",
            ),
        ];
        for (input, want) in cases {
            let smtputf8 = input.contains("josé@");
            let field = address_list("To", &list(input, smtputf8), smtputf8).expect(input);
            assert_eq!(field, want, "{input}");
        }
    }

    #[test]
    fn non_ascii_local_part_needs_smtputf8_at_emit() {
        let mbs = list("josé@example.com", true);
        let err = address_list("To", &mbs, false).expect_err("needs smtputf8");
        assert!(err.to_string().contains("requires smtputf8"), "{err}");
        assert_eq!(
            address_list("To", &mbs, true).as_deref(),
            Ok("To: josé@example.com\r\n")
        );
    }

    #[test]
    fn smtputf8_display_names_are_raw() {
        let mbs = list(
            "\"Müller, Jürgen\" <j@example.de>, Zoë <z@example.de>",
            true,
        );
        assert_eq!(
            address_list("To", &mbs, true).as_deref(),
            Ok("To: \"Müller, Jürgen\" <j@example.de>, Zoë <z@example.de>\r\n")
        );
    }

    #[test]
    fn address_lists_fold_between_mailboxes() {
        let input: Vec<String> = (0..20)
            .map(|i| format!("Person Number {i} <person{i}@example.com>"))
            .collect();
        let mbs = list(&input.join(", "), false);
        let field = address_list("To", &mbs, false).expect("valid");
        assert_lines(&field, SOFT_LINE);
        let reparsed = list(body(&field).replace("\r\n", "").as_str(), false);
        assert_eq!(reparsed, mbs);
    }

    #[test]
    fn long_and_tricky_display_names() {
        let long = "Ünïcödé ".repeat(30);
        let tricky = ["=?utf-8?q?evil?=", "a\tb", &long, &"x".repeat(200), "  "];
        for name in tricky {
            let mb = Mailbox {
                name: Some(name.to_owned()),
                addr: AddrSpec {
                    local: "a".into(),
                    domain: "example.com".into(),
                },
            };
            let field = address_list("From", &[mb], false).expect(name);
            assert_lines(&field, SOFT_LINE);
            for w in ews(&field) {
                assert!(w.len() <= EW_MAX);
            }
            let b = body(&field);
            let (phrase, addr) = b.rsplit_once(' ').unwrap_or(("", b));
            assert_eq!(addr, "<a@example.com>");
            let phrase = phrase.trim();
            let decoded = if phrase.starts_with('"') {
                list(&format!("{phrase} <a@example.com>"), false)[0]
                    .name
                    .clone()
                    .unwrap_or_default()
            } else {
                decode_2047(phrase)
            };
            // Kept exactly, white space at the ends included.
            assert_eq!(decoded, name, "{field}");
        }
    }

    #[test]
    fn display_name_controls_are_errors() {
        let mb = Mailbox {
            name: Some("Eve\r\nBcc: x@example.com".into()),
            addr: AddrSpec {
                local: "e".into(),
                domain: "example.com".into(),
            },
        };
        let err = address_list("From", &[mb], false).expect_err("control");
        assert_eq!(err.to_string(), "control character U+000D in header `From`");
    }

    #[test]
    fn message_ids() {
        assert_eq!(
            msg_id_list("Message-ID", &["abc.def@example.com".into()]).as_deref(),
            Ok("Message-ID: <abc.def@example.com>\r\n")
        );
        let many: Vec<String> = (0..10)
            .map(|i| format!("id{i}.xxxxxxxx@example.com"))
            .collect();
        let field = msg_id_list("References", &many).expect("valid");
        assert_lines(&field, SOFT_LINE);
        for bad in [
            "",
            "no-at",
            "a@b@c",
            "<a@b>",
            "a b@c",
            "a@b\r\nBcc: x",
            "é@x.org",
            "a..b@x",
        ] {
            assert!(msg_id_list("In-Reply-To", &[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates() {
        let dt = DateTime::parse_from_rfc3339("2025-07-01T09:30:05+02:00").expect("valid");
        assert_eq!(
            date("Date", &dt).as_deref(),
            Ok("Date: Tue, 01 Jul 2025 09:30:05 +0200\r\n")
        );
        let dt = DateTime::parse_from_rfc3339("1999-12-31T23:59:59-09:30").expect("valid");
        assert_eq!(
            date("Date", &dt).as_deref(),
            Ok("Date: Fri, 31 Dec 1999 23:59:59 -0930\r\n")
        );
        let old = DateTime::parse_from_rfc3339("1850-01-01T00:00:00Z").expect("valid");
        assert!(date("Date", &old).is_err());
    }

    #[test]
    fn custom_header_names() {
        assert!(check_custom_name("X-Campaign").is_ok());
        // Written by mailspec from `message.class` and `message.unsubscribe` (RFC 8058).
        for reserved in [
            "List-Unsubscribe",
            "list-unsubscribe-post",
            "Precedence",
            "DKIM-Signature",
        ] {
            assert!(
                matches!(
                    check_custom_name(reserved),
                    Err(EmitError::ReservedHeader(_))
                ),
                "{reserved}"
            );
        }
        // RFC 3282: an ordinary header, not one of the MIME fields mailspec writes.
        assert!(check_custom_name("Content-Language").is_ok());
        for bad in ["", "X Campaign", "X:y", "Ünï", &"X".repeat(77)] {
            assert!(
                matches!(check_custom_name(bad), Err(EmitError::BadHeaderName(_))),
                "{bad}"
            );
        }
        for reserved in [
            "Subject",
            "bcc",
            "Content-Type",
            "MIME-Version",
            "Message-Id",
            "Return-Path",
            "Received",
            "content-transfer-encoding",
        ] {
            assert!(
                matches!(
                    check_custom_name(reserved),
                    Err(EmitError::ReservedHeader(_))
                ),
                "{reserved}"
            );
        }
    }

    #[test]
    fn parameters() {
        let cases: [(&str, &str, &[&str]); 7] = [
            ("charset", "utf-8", &["charset=utf-8"]),
            ("filename", "report.pdf", &["filename=report.pdf"]),
            (
                "filename",
                "my report (1).pdf",
                &["filename=\"my report (1).pdf\""],
            ),
            ("filename", "a\"b\\c", &["filename=\"a\\\"b\\\\c\""]),
            ("filename", "café.pdf", &["filename*=utf-8''caf%C3%A9.pdf"]),
            ("filename", "", &["filename=\"\""]),
            (
                "name",
                "=?utf-8?q?x?=",
                &["name*=utf-8''%3D%3Futf-8%3Fq%3Fx%3F%3D"],
            ),
        ];
        for (name, value, want) in cases {
            assert_eq!(param_tokens(name, value), want, "{value}");
        }
    }

    #[test]
    fn rfc2231_continuations() {
        let name = "Überweisungsbestätigung für das Geschäftsjahr 2025 – 日本語 😀.pdf";
        let toks = param_tokens("filename", name);
        assert!(toks.len() > 2, "{toks:?}");
        assert!(toks[0].starts_with("filename*0*=utf-8''"));
        let mut joined = String::new();
        for (n, t) in toks.iter().enumerate() {
            let prefix = format!("filename*{n}*=");
            assert!(t.starts_with(&prefix), "{t}");
            assert!(t.len() <= EW_LINE, "{t}");
            joined.push_str(&t[prefix.len()..]);
            // Each segment decodes to whole characters on its own.
            let seg = t[prefix.len()..].trim_start_matches("utf-8''");
            assert!(percent_decode(seg).is_ok(), "{t}");
        }
        let decoded = percent_decode(joined.trim_start_matches("utf-8''")).expect("utf-8");
        assert_eq!(decoded, name);
        let field =
            with_params("Content-Disposition", "attachment", &[("filename", name)]).expect("ok");
        assert_lines(&field, SOFT_LINE);
        assert!(field.contains(";\r\n filename*1*="), "{field}");
        // Long ASCII names get continuations too.
        let long = format!("{}.txt", "quarterly-report-".repeat(6));
        let field =
            with_params("Content-Disposition", "attachment", &[("filename", &long)]).expect("ok");
        assert_lines(&field, SOFT_LINE);
    }

    fn percent_decode(s: &str) -> Result<String, std::string::FromUtf8Error> {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                let h = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("00");
                out.push(u8::from_str_radix(h, 16).unwrap_or(0));
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out)
    }

    #[test]
    fn params_fold() {
        let field = with_params(
            "Content-Type",
            "text/calendar",
            &[
                ("charset", "utf-8"),
                ("method", "REQUEST"),
                ("component", "VEVENT"),
                ("name", "invitation to the quarterly planning meeting.ics"),
            ],
        )
        .expect("ok");
        assert_lines(&field, SOFT_LINE);
        assert_eq!(
            field,
            "Content-Type: text/calendar; charset=utf-8; method=REQUEST; component=VEVENT;\r\n \
             name=\"invitation to the quarterly planning meeting.ics\"\r\n"
        );
    }
}
