//! A strict parser for email addresses and mailbox lists (RFC 5322 §3.4, RFC 6532).
//!
//! **Input:** address text written by a person in a spec (`Ada <ada@example.com>, bob@x.org`).
//! **Output:** [`AddrSpec`] / [`Mailbox`] values whose domain is already ASCII (IDNA, UTS #46)
//! and whose local part and display name are the *decoded* text (no quotes, no escapes).
//!
//! **Invariants**
//! - Parsing is a single left-to-right pass per component: linear time, no backtracking.
//! - Anything that is legal but dangerous or obsolete is rejected with a precise message
//!   rather than passed on: comments, groups, source routes, IP literals, encoded-words in
//!   addresses, control characters, and invisible or bidirectional-override characters in
//!   domains and local parts (spoofing).
//! - An address may start with `-` (`-oQ/tmp@example.com`): RFC 5322 `atext` allows it and it
//!   is harmless on the SMTP wire. The one place it could be read as an option, a sendmail
//!   command line, makes it safe there (`src/send/sendmail.rs`) instead of refusing the
//!   customer (issue 11).
//! - Display names in the input are plain Unicode text. `=?...?=` in a display name is kept
//!   as literal text; the emitter encodes it so a reader sees the same literal.
//! - `AddrSpec`'s `Display` output re-parses to the same value.
//!
//! **Decisions**
//! - A domain must contain a dot, except `localhost` (handy for local test servers). A
//!   dotless domain is almost always a typo (`ada@example`), and RFC 5321 §2.3.5 wants
//!   fully-qualified names.
//! - A domain whose last label is all digits is rejected: it is an IP address in disguise.
//! - Domains are normalised by UTS #46 (lower case, punycode); local parts are kept as
//!   written, because only the receiving system may interpret their case (RFC 5321 §2.4).
//! - Unquoted `.` is accepted in display names (`J. R. Doe <jrd@x.org>`, RFC 5322 §4.1
//!   obs-phrase) because people write it all the time.

use std::fmt;

/// Maximum local-part length in octets (RFC 5321 §4.5.3.1.1).
const MAX_LOCAL: usize = 64;
/// Maximum domain length in octets (RFC 5321 §4.5.3.1.2).
const MAX_DOMAIN: usize = 255;
/// Maximum DNS label length in octets (RFC 1035 §2.3.4).
const MAX_LABEL: usize = 63;
/// Longest input quoted back in an error message.
const SHOW_MAX: usize = 120;

/// An `addr-spec`: `local@domain`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AddrSpec {
    /// The local part, unquoted (`"a b"@x.org` has local part `a b`).
    pub local: String,
    /// The domain in ASCII: lower case, internationalized labels as punycode (`xn--…`).
    pub domain: String,
}

/// A mailbox: an optional display name and an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mailbox {
    /// The display name as Unicode text, unquoted; `None` when absent or empty.
    pub name: Option<String>,
    /// The address.
    pub addr: AddrSpec,
}

impl Mailbox {
    /// A mailbox without a display name.
    pub fn new(addr: AddrSpec) -> Self {
        Self { name: None, addr }
    }
}

/// Why an address or mailbox list was rejected. Messages quote the offending input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// The input is empty or white space only.
    #[error("empty address")]
    Empty,
    /// No `@` separates a local part from a domain.
    #[error("`{0}` is not an address: missing `@`")]
    MissingAt(String),
    /// More than one `@` outside a quoted local part.
    #[error("address `{0}` has more than one unquoted `@`")]
    MultipleAt(String),
    /// Nothing before the `@`.
    #[error("address `{0}` has an empty local part")]
    EmptyLocal(String),
    /// Nothing after the `@`.
    #[error("address `{0}` has an empty domain")]
    EmptyDomain(String),
    /// A control character (C0, DEL or C1) anywhere.
    #[error("control character {ch} in `{input}`")]
    Control {
        /// The input, with controls escaped.
        input: String,
        /// The character as `U+XXXX`.
        ch: String,
    },
    /// White space outside a quoted string inside an address.
    #[error("white space outside quotes in address `{0}`")]
    Whitespace(String),
    /// An RFC 5322 comment `( … )`.
    #[error("comments are not supported: `{0}`")]
    Comment(String),
    /// An obsolete source route `@a,@b:user@c`.
    #[error("source routes are not supported: `{0}`")]
    Route(String),
    /// `=?` in an address: encoded-words are never allowed there (RFC 2047 §5).
    #[error("encoded-words (`=?`) are not allowed in an address: `{0}`")]
    EncodedWord(String),
    /// A domain literal such as `[192.0.2.1]`.
    #[error("IP-literal domains are not supported: `{0}`")]
    IpLiteral(String),
    /// A character outside `atext` in an unquoted local part.
    #[error("character `{ch}` is not allowed in the local part of `{addr}`")]
    LocalChar {
        /// The address.
        addr: String,
        /// The character.
        ch: char,
    },
    /// A leading, trailing or doubled `.` in an unquoted local part.
    #[error(
        "local part of `{0}` has an empty dot-separated segment (leading, trailing or doubled `.`)"
    )]
    LocalDots(String),
    /// A `"` without its closing partner.
    #[error("unterminated quoted string in `{0}`")]
    UnterminatedQuote(String),
    /// A non-ASCII local part while SMTPUTF8 (RFC 6531) is off.
    #[error("local part of `{0}` contains non-ASCII characters, which requires smtputf8")]
    NonAsciiLocal(String),
    /// The local part is longer than 64 octets.
    #[error("local part of `{addr}` is {len} octets long; the limit is 64 (RFC 5321 §4.5.3.1.1)")]
    LocalTooLong {
        /// The address.
        addr: String,
        /// Its local part's length in octets, as written on the wire.
        len: usize,
    },
    /// An ASCII character other than letters, digits, `-` and `.` in a domain.
    #[error("character `{ch}` is not allowed in the domain of `{addr}`")]
    DomainChar {
        /// The address.
        addr: String,
        /// The character.
        ch: char,
    },
    /// A leading, trailing or doubled `.` in a domain.
    #[error("domain of `{0}` has an empty label (leading, trailing or doubled `.`)")]
    EmptyLabel(String),
    /// Zero-width, soft-hyphen or bidirectional-control characters.
    #[error("invisible or bidirectional control character {ch} in `{addr}`")]
    InvisibleChar {
        /// The address.
        addr: String,
        /// The character as `U+XXXX`.
        ch: String,
    },
    /// UTS #46 processing failed (disallowed code point, bad hyphens, bad punycode, …).
    #[error("domain of `{0}` is not a valid internationalized domain name (UTS #46)")]
    Idna(String),
    /// The ASCII domain is longer than 255 octets.
    #[error("domain `{domain}` is {len} octets long; the limit is 255")]
    DomainTooLong {
        /// The domain (shortened).
        domain: String,
        /// Its length in octets.
        len: usize,
    },
    /// A domain label is longer than 63 octets.
    #[error("domain label `{label}` is {len} octets long; the limit is 63")]
    LabelTooLong {
        /// The label (shortened).
        label: String,
        /// Its length in octets.
        len: usize,
    },
    /// A domain without a dot other than `localhost`.
    #[error("domain `{0}` has no `.`; only `localhost` may be used without one")]
    DotlessDomain(String),
    /// The last label is all digits.
    #[error("domain `{0}` ends in a numeric label; IP addresses are not supported")]
    NumericDomain(String),
    /// Group syntax `name: a@x, b@y;`.
    #[error("groups are not supported: `{0}`")]
    Group(String),
    /// A special character in an unquoted display name.
    #[error("character `{ch}` in display name `{name}` must be quoted")]
    NameChar {
        /// The display name as written.
        name: String,
        /// The character.
        ch: char,
    },
    /// `<` without a closing `>`.
    #[error("missing `>` after `<` in `{0}`")]
    UnclosedAngle(String),
    /// Text after the closing `>`.
    #[error("unexpected `{rest}` after `>` in `{input}`")]
    TrailingText {
        /// The mailbox as written.
        input: String,
        /// What follows `>`.
        rest: String,
    },
    /// Two commas in a row, or a leading or trailing comma.
    #[error("empty entry in address list `{0}`")]
    EmptyEntry(String),
    /// A display name with an unquoted comma split a mailbox in two.
    #[error("`{0}` is not an address; a display name that contains `,` must be quoted")]
    UnquotedComma(String),
}

/// The same address list with its display name quoted, for a hint when an unquoted comma
/// split it: `Tienda, S.L. <a@b.example>` → `"Tienda, S.L." <a@b.example>`.
pub fn quote_display_name(s: &str) -> Option<String> {
    let open = s.rfind('<')?;
    let name = s[..open].trim_matches([' ', '\t']);
    if name.is_empty() || name.starts_with('"') {
        return None;
    }
    let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
    Some(format!("\"{quoted}\" {}", s[open..].trim_end()))
}

/// Quotes user input back in an error message: control characters escaped, long input
/// shortened, so the message itself is always one printable line.
pub(crate) fn show(s: &str) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n == SHOW_MAX {
            out.push('…');
            break;
        }
        if is_control(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

fn codepoint(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// C0 controls, DEL and C1 controls (U+0080-U+009F, which some software treats as line
/// breaks, e.g. NEL).
pub(crate) fn is_control(c: char) -> bool {
    c.is_control()
}

/// RFC 5322 §3.2.3 `atext` (ASCII part; RFC 6532 §3.2 adds all non-ASCII UTF-8).
pub(crate) fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

/// Characters that render as nothing or reorder text: soft hyphen, combining grapheme
/// joiner, Arabic letter mark, Mongolian vowel separator, zero-width and directional marks
/// (U+200B-U+200F), bidi embeddings and overrides (U+202A-U+202E), word joiner and invisible
/// operators (U+2060-U+2064), bidi isolates (U+2066-U+2069), variation selectors and the
/// BOM/zero-width no-break space. UTS #46 silently drops some of them, which is exactly
/// what makes them useful for spoofing, so they are rejected before IDNA sees them.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
    )
}

/// True when `local` can be written without quotes: a dot-atom (RFC 5322 §3.2.3), with
/// non-ASCII allowed as `atext` (RFC 6532 §3.2).
fn is_dot_atom(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|seg| !seg.is_empty() && seg.chars().all(|c| is_atext(c) || !c.is_ascii()))
}

/// Writes `s` as a quoted-string, escaping `"` and `\` (RFC 5322 §3.2.4).
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

impl AddrSpec {
    /// The local part as written on the wire: as-is when it is a dot-atom, otherwise quoted.
    pub fn local_wire(&self) -> String {
        if is_dot_atom(&self.local) {
            self.local.clone()
        } else {
            quote(&self.local)
        }
    }
}

impl fmt::Display for AddrSpec {
    /// `local@domain`, quoting the local part when it is not a dot-atom (RFC 5322 §3.4.1).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local_wire(), self.domain)
    }
}

impl fmt::Display for Mailbox {
    /// A human-readable form, `Name <local@domain>` (the name quoted when needed, never
    /// RFC 2047-encoded: header encoding is the emitter's job).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) if is_phrase_of_atoms(name) => write!(f, "{name} <{}>", self.addr),
            Some(name) => write!(f, "{} <{}>", quote(name), self.addr),
            None => write!(f, "{}", self.addr),
        }
    }
}

/// True when `name` is words of `atext` (non-ASCII allowed) separated by single spaces, so it
/// can be written without quotes.
pub(crate) fn is_phrase_of_atoms(name: &str) -> bool {
    !name.is_empty()
        && name
            .split(' ')
            .all(|w| !w.is_empty() && w.chars().all(|c| is_atext(c) || !c.is_ascii()))
}

/// Parses a bare `addr-spec` such as `ada@example.com` or `"a b"@example.com`.
///
/// The local part is a dot-atom or a quoted-string; the domain is a dot-atom that goes
/// through UTS #46 (`bücher.example` → `xn--bcher-kva.example`). With `smtputf8` the local
/// part may contain non-ASCII characters (RFC 6532).
///
/// # Errors
/// See [`AddressError`]: everything obsolete, ambiguous or dangerous is rejected.
pub fn parse_addr_spec(s: &str, smtputf8: bool) -> Result<AddrSpec, AddressError> {
    if s.is_empty() {
        return Err(AddressError::Empty);
    }
    for c in s.chars() {
        if c == ' ' || c == '\t' {
            // Reported below with its position in the grammar, unless inside quotes.
            continue;
        }
        if is_control(c) {
            return Err(AddressError::Control {
                input: show(s),
                ch: codepoint(c),
            });
        }
    }
    if s.contains("=?") {
        return Err(AddressError::EncodedWord(show(s)));
    }
    if s.starts_with('@') {
        return Err(if s.contains(':') {
            AddressError::Route(show(s))
        } else {
            AddressError::EmptyLocal(show(s))
        });
    }

    let (local, domain) = split_local(s)?;
    if local.is_empty() {
        return Err(AddressError::EmptyLocal(show(s)));
    }
    if let Some(c) = local.chars().find(|&c| is_invisible(c)) {
        return Err(AddressError::InvisibleChar {
            addr: show(s),
            ch: codepoint(c),
        });
    }
    if !local.is_ascii() && !smtputf8 {
        return Err(AddressError::NonAsciiLocal(show(s)));
    }
    let domain = parse_domain(s, domain)?;
    let spec = AddrSpec { local, domain };
    let len = spec.local_wire().len();
    if len > MAX_LOCAL {
        return Err(AddressError::LocalTooLong { addr: show(s), len });
    }
    Ok(spec)
}

/// Splits `s` into the decoded local part and the text after the separating `@`.
fn split_local(s: &str) -> Result<(String, &str), AddressError> {
    let mut local = String::new();
    let mut chars = s.char_indices();
    if s.starts_with('"') {
        chars.next();
        let mut closed = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    closed = Some(i);
                    break;
                }
                // RFC 5322 §3.2.1 quoted-pair: any VCHAR or WSP may be escaped. An escaped TAB
                // is refused like a bare one: it would print as a bare TAB, which this parser
                // (rightly, for headers) refuses, so the address would not survive a round trip.
                '\\' => match chars.next() {
                    Some((_, '\t')) => {
                        return Err(AddressError::Control {
                            input: show(s),
                            ch: codepoint('\t'),
                        });
                    }
                    Some((_, e)) => local.push(e),
                    None => return Err(AddressError::UnterminatedQuote(show(s))),
                },
                '\t' => {
                    return Err(AddressError::Control {
                        input: show(s),
                        ch: codepoint(c),
                    });
                }
                _ => local.push(c),
            }
        }
        let Some(close) = closed else {
            return Err(AddressError::UnterminatedQuote(show(s)));
        };
        let rest = &s[close + 1..];
        return match rest.chars().next() {
            Some('@') => Ok((local, &rest[1..])),
            Some(' ' | '\t') => Err(AddressError::Whitespace(show(s))),
            Some('(') => Err(AddressError::Comment(show(s))),
            Some(ch) => Err(AddressError::LocalChar { addr: show(s), ch }),
            None => Err(AddressError::MissingAt(show(s))),
        };
    }
    for (i, c) in chars {
        match c {
            '@' => {
                if !is_dot_atom(&local) {
                    return Err(AddressError::LocalDots(show(s)));
                }
                return Ok((local, &s[i + 1..]));
            }
            ' ' | '\t' => return Err(AddressError::Whitespace(show(s))),
            '(' => return Err(AddressError::Comment(show(s))),
            c if c == '.' || is_atext(c) || !c.is_ascii() => local.push(c),
            ch => return Err(AddressError::LocalChar { addr: show(s), ch }),
        }
    }
    Err(AddressError::MissingAt(show(s)))
}

/// Validates the domain syntax and converts it to ASCII with UTS #46.
fn parse_domain(addr: &str, domain: &str) -> Result<String, AddressError> {
    if domain.is_empty() {
        return Err(AddressError::EmptyDomain(show(addr)));
    }
    if domain.starts_with('[') {
        return Err(AddressError::IpLiteral(show(addr)));
    }
    for c in domain.chars() {
        match c {
            '@' => return Err(AddressError::MultipleAt(show(addr))),
            ' ' | '\t' => return Err(AddressError::Whitespace(show(addr))),
            '(' => return Err(AddressError::Comment(show(addr))),
            c if is_invisible(c) => {
                return Err(AddressError::InvisibleChar {
                    addr: show(addr),
                    ch: codepoint(c),
                });
            }
            c if c.is_ascii() && !(c.is_ascii_alphanumeric() || c == '-' || c == '.') => {
                return Err(AddressError::DomainChar {
                    addr: show(addr),
                    ch: c,
                });
            }
            _ => {}
        }
    }
    if domain.split('.').any(str::is_empty) {
        return Err(AddressError::EmptyLabel(show(addr)));
    }
    // STD3 rules (letters, digits, hyphen), hyphen placement checks; lengths are checked
    // below so the error can say which limit was hit.
    let ascii = idna::uts46::Uts46::new()
        .to_ascii(
            domain.as_bytes(),
            idna::uts46::AsciiDenyList::STD3,
            idna::uts46::Hyphens::Check,
            idna::uts46::DnsLength::Ignore,
        )
        .map_err(|_| AddressError::Idna(show(addr)))?
        .into_owned();
    // UTS #46 maps ideographic full stops to `.`, so labels are checked again afterwards.
    if ascii.split('.').any(str::is_empty) {
        return Err(AddressError::EmptyLabel(show(addr)));
    }
    if ascii.len() > MAX_DOMAIN {
        return Err(AddressError::DomainTooLong {
            domain: show(&ascii),
            len: ascii.len(),
        });
    }
    if let Some(label) = ascii.split('.').find(|l| l.len() > MAX_LABEL) {
        return Err(AddressError::LabelTooLong {
            label: show(label),
            len: label.len(),
        });
    }
    if !ascii.contains('.') && ascii != "localhost" {
        return Err(AddressError::DotlessDomain(show(&ascii)));
    }
    let tld = ascii.rsplit('.').next().unwrap_or_default();
    if tld.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AddressError::NumericDomain(show(&ascii)));
    }
    Ok(ascii)
}

/// Parses a comma-separated list of mailboxes: `addr-spec` or `[display-name] <addr-spec>`.
///
/// A display name is a sequence of atoms (any non-ASCII character counts as an atom
/// character, and `.` is tolerated) and quoted-strings; white space between words collapses
/// to one space, quoted text is kept exactly. `=?…?=` in a display name is literal text.
///
/// # Errors
/// An empty list or entry, groups, comments, and every error of [`parse_addr_spec`].
pub fn parse_mailbox_list(s: &str, smtputf8: bool) -> Result<Vec<Mailbox>, AddressError> {
    if s.trim_matches([' ', '\t']).is_empty() {
        return Err(AddressError::Empty);
    }
    let segments = split_top_level(s)?;
    let mut out = Vec::with_capacity(segments.len());
    for (n, seg) in segments.iter().enumerate() {
        match parse_mailbox(seg, smtputf8) {
            Ok(mb) => out.push(mb),
            // `Doe, Jane <jane@x.org>` splits into `Doe` and `Jane <…>`: say why (whatever
            // the first piece's own fault, a piece with no `@`, `<` or quote is a name).
            Err(_)
                if n + 1 < segments.len()
                    && !seg.contains(['<', '"', '@'])
                    && !seg.trim_matches([' ', '\t']).is_empty() =>
            {
                return Err(AddressError::UnquotedComma(show(seg.trim())));
            }
            Err(AddressError::EmptyEntry(_)) => return Err(AddressError::EmptyEntry(show(s))),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Splits at commas outside quoted strings and angle brackets, rejecting group syntax
/// (`:` at the top level) and comments on the way. One pass.
fn split_top_level(s: &str) -> Result<Vec<&str>, AddressError> {
    let mut out = Vec::new();
    let (mut in_quote, mut escaped, mut in_angle) = (false, false, false);
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quote => escaped = true,
            '"' => in_quote = !in_quote,
            _ if in_quote => {}
            '<' => in_angle = true,
            '>' => in_angle = false,
            ':' | ';' if !in_angle => return Err(AddressError::Group(show(s))),
            '(' => return Err(AddressError::Comment(show(s))),
            ',' if !in_angle => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    Ok(out)
}

/// Parses one list entry.
fn parse_mailbox(seg: &str, smtputf8: bool) -> Result<Mailbox, AddressError> {
    let entry = seg.trim_matches([' ', '\t']);
    if entry.is_empty() {
        return Err(AddressError::EmptyEntry(show(seg)));
    }
    let Some(open) = find_unquoted(entry, 0, '<') else {
        return Ok(Mailbox::new(parse_addr_spec(entry, smtputf8)?));
    };
    let name = parse_phrase(&entry[..open])?;
    let Some(close) = find_unquoted(entry, open + 1, '>') else {
        return Err(AddressError::UnclosedAngle(show(entry)));
    };
    let rest = entry[close + 1..].trim_matches([' ', '\t']);
    if !rest.is_empty() {
        return Err(AddressError::TrailingText {
            input: show(entry),
            rest: show(rest),
        });
    }
    let inner = &entry[open + 1..close];
    if inner.is_empty() {
        return Err(AddressError::Empty);
    }
    let addr = parse_addr_spec(inner, smtputf8)?;
    Ok(Mailbox { name, addr })
}

/// Byte index of the first `target` at or after `from` outside a quoted string.
fn find_unquoted(s: &str, from: usize, target: char) -> Option<usize> {
    let (mut in_quote, mut escaped) = (false, false);
    for (i, c) in s[from..].char_indices() {
        if escaped {
            escaped = false;
        } else if in_quote && c == '\\' {
            escaped = true;
        } else if c == '"' {
            in_quote = !in_quote;
        } else if !in_quote && c == target {
            return Some(from + i);
        }
    }
    None
}

/// Decodes a display name: atoms and quoted-strings, white space between words collapsed
/// to a single space (RFC 5322 §3.2.5 phrase; §4.1 tolerates `.`).
fn parse_phrase(p: &str) -> Result<Option<String>, AddressError> {
    let p = p.trim_matches([' ', '\t']);
    let mut out = String::new();
    let mut pending_space = false;
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => pending_space = true,
            '"' => {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                let mut closed = false;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next() {
                            Some(e) if is_control(e) && e != '\t' => {
                                return Err(AddressError::Control {
                                    input: show(p),
                                    ch: codepoint(e),
                                });
                            }
                            Some(e) => out.push(e),
                            None => break,
                        },
                        q if is_control(q) && q != '\t' => {
                            return Err(AddressError::Control {
                                input: show(p),
                                ch: codepoint(q),
                            });
                        }
                        q => out.push(q),
                    }
                }
                if !closed {
                    return Err(AddressError::UnterminatedQuote(show(p)));
                }
            }
            '(' => return Err(AddressError::Comment(show(p))),
            ':' | ';' => return Err(AddressError::Group(show(p))),
            c if is_control(c) => {
                return Err(AddressError::Control {
                    input: show(p),
                    ch: codepoint(c),
                });
            }
            c if is_atext(c) || c == '.' || !c.is_ascii() => {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                out.push(c);
            }
            ch => return Err(AddressError::NameChar { name: show(p), ch }),
        }
    }
    Ok((!out.is_empty()).then_some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(local: &str, domain: &str) -> AddrSpec {
        AddrSpec {
            local: local.into(),
            domain: domain.into(),
        }
    }

    #[test]
    fn valid_addr_specs() {
        let cases = [
            ("ada@example.com", false, addr("ada", "example.com")),
            (
                "Ada.Lovelace@Example.COM",
                false,
                addr("Ada.Lovelace", "example.com"),
            ),
            (
                "a+tag@sub.example.co.uk",
                false,
                addr("a+tag", "sub.example.co.uk"),
            ),
            ("user@localhost", false, addr("user", "localhost")),
            ("o'brien@example.ie", false, addr("o'brien", "example.ie")),
            ("\"a b\"@example.com", false, addr("a b", "example.com")),
            (
                "\"victim@example.org x\"@example.com",
                false,
                addr("victim@example.org x", "example.com"),
            ),
            (
                "\"q\\\"uote\"@example.com",
                false,
                addr("q\"uote", "example.com"),
            ),
            ("\"plain\"@example.com", false, addr("plain", "example.com")),
            (
                "josé@bücher.example",
                true,
                addr("josé", "xn--bcher-kva.example"),
            ),
            (
                "info@bücher.example",
                false,
                addr("info", "xn--bcher-kva.example"),
            ),
            (
                "a@xn--bcher-kva.example",
                false,
                addr("a", "xn--bcher-kva.example"),
            ),
            ("a@例え。テスト", false, addr("a", "xn--r8jz45g.xn--zckzah")),
            // RFC 5322 `atext` includes `-`, first character too (issue 11).
            ("-oQ/tmp@example.com", false, addr("-oQ/tmp", "example.com")),
            ("\"-x\"@example.com", false, addr("-x", "example.com")),
        ];
        for (input, utf8, want) in cases {
            assert_eq!(parse_addr_spec(input, utf8), Ok(want), "{input}");
        }
    }

    #[test]
    fn display_requotes_and_round_trips() {
        let cases = [
            ("ada@example.com", "ada@example.com"),
            (
                "\"victim@example.org x\"@example.com",
                "\"victim@example.org x\"@example.com",
            ),
            ("\"plain\"@example.com", "plain@example.com"),
            ("\"a\\\\b\"@example.com", "\"a\\\\b\"@example.com"),
            ("\"a..b\"@example.com", "\"a..b\"@example.com"),
            ("\"-x\"@example.com", "-x@example.com"),
        ];
        for (input, want) in cases {
            let spec = parse_addr_spec(input, false).expect(input);
            assert_eq!(spec.to_string(), want);
            assert_eq!(parse_addr_spec(&spec.to_string(), false), Ok(spec));
        }
    }

    #[test]
    fn rejected_addr_specs() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long_label = format!("a@{}.com", "b".repeat(64));
        let long_domain = format!("a@{}com", "abcdefghi.".repeat(26));
        let cases: Vec<(&str, bool, &str)> = vec![
            ("", false, "empty address"),
            ("ada", false, "`ada` is not an address: missing `@`"),
            (
                "@example.com",
                false,
                "address `@example.com` has an empty local part",
            ),
            ("ada@", false, "address `ada@` has an empty domain"),
            (
                "a@b@example.com",
                false,
                "address `a@b@example.com` has more than one unquoted `@`",
            ),
            (
                "a@[192.0.2.1]",
                false,
                "IP-literal domains are not supported: `a@[192.0.2.1]`",
            ),
            (
                "a(comment)@example.com",
                false,
                "comments are not supported",
            ),
            (
                "a@example.com(comment)",
                false,
                "comments are not supported",
            ),
            (
                "@relay.example:a@example.com",
                false,
                "source routes are not supported",
            ),
            (
                "=?utf-8?q?a?=@example.com",
                false,
                "encoded-words (`=?`) are not allowed",
            ),
            (
                "a\n@example.com",
                false,
                "control character U+000A in `a\\u{a}@example.com`",
            ),
            ("a\0@example.com", false, "control character U+0000"),
            (
                "a @example.com",
                false,
                "white space outside quotes in address `a @example.com`",
            ),
            ("a@exa mple.com", false, "white space outside quotes"),
            (
                "a@example",
                false,
                "domain `example` has no `.`; only `localhost` may be used without one",
            ),
            ("a@192.0.2.1", false, "ends in a numeric label"),
            (&long_local, false, "is 65 octets long; the limit is 64"),
            (&long_label, false, "is 64 octets long; the limit is 63"),
            (&long_domain, false, "octets long; the limit is 255"),
            ("josé@example.com", false, "requires smtputf8"),
            (
                "a@exa\u{200B}mple.com",
                false,
                "invisible or bidirectional control character U+200B",
            ),
            ("a@exa\u{202E}mple.com", false, "U+202E"),
            ("a@\u{FEFF}example.com", false, "U+FEFF"),
            ("a@exa\u{2067}mple.com", false, "U+2067"),
            ("a\u{200F}b@example.com", true, "U+200F"),
            ("a..b@example.com", false, "empty dot-separated segment"),
            (".a@example.com", false, "empty dot-separated segment"),
            ("a.@example.com", false, "empty dot-separated segment"),
            ("a@example..com", false, "has an empty label"),
            ("a@.example.com", false, "has an empty label"),
            ("a@example.com.", false, "has an empty label"),
            (
                "a@ex_ample.com",
                false,
                "character `_` is not allowed in the domain",
            ),
            (
                "a@-example.com",
                false,
                "not a valid internationalized domain name",
            ),
            (
                "a@xn--zz.com",
                false,
                "not a valid internationalized domain name",
            ),
            (
                "a<b@example.com",
                false,
                "character `<` is not allowed in the local part",
            ),
            (
                "\"unterminated@example.com",
                false,
                "unterminated quoted string",
            ),
            (
                "\"a\"b@example.com",
                false,
                "character `b` is not allowed in the local part",
            ),
            ("\"\"@example.com", false, "empty local part"),
        ];
        for (input, utf8, want) in cases {
            let err = parse_addr_spec(input, utf8).expect_err(input);
            assert!(err.to_string().contains(want), "{input}: {err}");
        }
    }

    #[test]
    fn non_ascii_local_part_needs_smtputf8() {
        assert!(parse_addr_spec("josé@example.com", false).is_err());
        assert_eq!(
            parse_addr_spec("josé@bücher.example", true),
            Ok(addr("josé", "xn--bcher-kva.example"))
        );
    }

    #[test]
    fn mailbox_lists() {
        let mb = |name: Option<&str>, a: AddrSpec| Mailbox {
            name: name.map(Into::into),
            addr: a,
        };
        let cases = [
            (
                "ada@example.com",
                vec![mb(None, addr("ada", "example.com"))],
            ),
            (
                "<ada@example.com>",
                vec![mb(None, addr("ada", "example.com"))],
            ),
            (
                "Ada  Lovelace <ada@example.com>",
                vec![mb(Some("Ada Lovelace"), addr("ada", "example.com"))],
            ),
            (
                "\"O'Brien, José\" <jo@example.ie>, bob@example.org",
                vec![
                    mb(Some("O'Brien, José"), addr("jo", "example.ie")),
                    mb(None, addr("bob", "example.org")),
                ],
            ),
            (
                "\"a \\\"quoted\\\" \\\\ name\" <a@example.com>",
                vec![mb(Some("a \"quoted\" \\ name"), addr("a", "example.com"))],
            ),
            (
                "J. R. Doe <jrd@example.org>",
                vec![mb(Some("J. R. Doe"), addr("jrd", "example.org"))],
            ),
            (
                "José Müller <jm@bücher.example>",
                vec![mb(Some("José Müller"), addr("jm", "xn--bcher-kva.example"))],
            ),
            (
                "=?utf-8?q?x?= <x@example.com>",
                vec![mb(Some("=?utf-8?q?x?="), addr("x", "example.com"))],
            ),
            (
                "\"\" <x@example.com>",
                vec![mb(None, addr("x", "example.com"))],
            ),
            (
                "<\"a,b\"@example.com>, \"<c>\" <c@example.com>",
                vec![
                    mb(None, addr("a,b", "example.com")),
                    mb(Some("<c>"), addr("c", "example.com")),
                ],
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse_mailbox_list(input, false), Ok(want), "{input}");
        }
    }

    #[test]
    fn rejected_mailbox_lists() {
        let cases = [
            ("", "empty address"),
            (
                "a@example.com,,b@example.com",
                "empty entry in address list",
            ),
            ("a@example.com,", "empty entry in address list"),
            ("team: a@example.com;", "groups are not supported"),
            ("undisclosed-recipients:;", "groups are not supported"),
            ("Ada (work) <a@example.com>", "comments are not supported"),
            (
                "Doe, Jane <jane@example.com>",
                "`Doe` is not an address; a display name that contains `,` must be quoted",
            ),
            ("Ada <a@example.com", "missing `>`"),
            ("Ada <a@example.com> x", "unexpected `x` after `>`"),
            ("Ada <>", "empty address"),
            (
                "a@example.com <b@example.com>",
                "character `@` in display name",
            ),
            ("Ada <\u{7}a@example.com>", "control character U+0007"),
            ("A\u{85}da <a@example.com>", "control character U+0085"),
            ("\"Ada <a@example.com>", "unterminated quoted string"),
            ("Ada <a @example.com>", "white space outside quotes"),
            ("Ada <=?utf-8?q?a?=@example.com>", "encoded-words"),
        ];
        for (input, want) in cases {
            let err = parse_mailbox_list(input, false).expect_err(input);
            assert!(err.to_string().contains(want), "{input}: {err}");
        }
    }

    #[test]
    fn mailbox_display() {
        let list = parse_mailbox_list("\"O'Brien, José\" <jo@example.ie>, Ada <a@x.org>", false)
            .expect("valid");
        let shown: Vec<String> = list.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["\"O'Brien, José\" <jo@example.ie>", "Ada <a@x.org>"]
        );
    }

    #[test]
    fn parsing_is_linear() {
        // Pathological inputs must finish quickly (no backtracking).
        let many_quotes = "\"".repeat(100_000);
        let many_angles = "<".repeat(100_000);
        let many_commas = format!("a@example.com{}", ",b@example.com".repeat(20_000));
        let start = std::time::Instant::now();
        let _ = parse_mailbox_list(&many_quotes, false);
        let _ = parse_mailbox_list(&many_angles, false);
        assert_eq!(
            parse_mailbox_list(&many_commas, false).map(|v| v.len()),
            Ok(20_001)
        );
        let _ = parse_addr_spec(&"a.".repeat(100_000), false);
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }
}
