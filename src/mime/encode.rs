//! Content-Transfer-Encoding: choosing one, quoted-printable, base64 and line-ending
//! normalisation.
//!
//! **Input:** the raw bytes of one leaf body and whether it is text (`text/*`).
//! **Output:** the encoded body as it goes on the wire, without a trailing CRLF of its own
//! unless the content ended with a line break (the multipart delimiter or the end of the
//! message supplies the final CRLF, RFC 2046 §5.1.1).
//!
//! **Invariants**
//! - Text is normalised to CRLF line endings (lone LF, lone CR and CRLF all become CRLF)
//!   *before* encoding: CRLF is the canonical form of text (RFC 2046 §4.1.1), so a decoded
//!   base64 or quoted-printable text body also has CRLF line breaks.
//! - Encoded output contains CRLF only, never a bare CR or LF, never a NUL.
//! - Quoted-printable and base64 lines are at most 76 characters (RFC 2045 §6.7 rule 5,
//!   §6.8); 7bit and 8bit lines at most 998 octets (RFC 5322 §2.1.1, RFC 2045 §2.7-2.8).
//! - `8bit` is never chosen automatically: it needs the 8BITMIME extension on the way, so it
//!   is used only when asked for.
//! - Every function is pure: the same bytes always give the same output.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use base64::Engine as _;

/// Maximum length of a line in octets, excluding the CRLF (RFC 5322 §2.1.1).
pub const MAX_LINE: usize = 998;

/// Maximum length of a quoted-printable or base64 line (RFC 2045 §6.7 rule 5, §6.8).
pub const ENCODED_LINE: usize = 76;

/// A `Content-Transfer-Encoding` (RFC 2045 §6). `binary` is deliberately absent: it cannot
/// travel over SMTP without the BINARYMIME extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferEncoding {
    /// `7bit`: US-ASCII lines of at most 998 octets, no NUL, CR and LF only as CRLF.
    SevenBit,
    /// `8bit`: like `7bit` but octets above 127 are allowed (needs 8BITMIME).
    EightBit,
    /// `quoted-printable` (RFC 2045 §6.7).
    QuotedPrintable,
    /// `base64` (RFC 2045 §6.8).
    Base64,
}

impl TransferEncoding {
    /// The header value, in the lower case RFC 2045 uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SevenBit => "7bit",
            Self::EightBit => "8bit",
            Self::QuotedPrintable => "quoted-printable",
            Self::Base64 => "base64",
        }
    }
}

impl fmt::Display for TransferEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error returned by [`TransferEncoding::from_str`] for an unknown name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown transfer encoding `{0}`; expected `7bit`, `8bit`, `quoted-printable` or `base64`")]
pub struct ParseTransferEncodingError(pub String);

impl FromStr for TransferEncoding {
    type Err = ParseTransferEncodingError;

    /// Parses `7bit`, `8bit`, `quoted-printable` or `base64`, ignoring ASCII case
    /// (RFC 2045 §6.1: the values are not case sensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const NAMES: [(&str, TransferEncoding); 4] = [
            ("7bit", TransferEncoding::SevenBit),
            ("8bit", TransferEncoding::EightBit),
            ("quoted-printable", TransferEncoding::QuotedPrintable),
            ("base64", TransferEncoding::Base64),
        ];
        NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map(|&(_, enc)| enc)
            .ok_or_else(|| ParseTransferEncodingError(s.escape_debug().to_string()))
    }
}

/// Why a body cannot be sent unencoded as `7bit` or `8bit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineIssue {
    /// An octet above 127 (only `8bit` allows them).
    NonAscii {
        /// Byte offset in the (normalised) body.
        offset: usize,
    },
    /// A NUL octet (RFC 2045 §2.7-2.8 forbid it in both).
    Nul {
        /// Byte offset in the (normalised) body.
        offset: usize,
    },
    /// A line longer than 998 octets (RFC 5322 §2.1.1).
    LineTooLong {
        /// 1-based line number.
        line: usize,
        /// Length in octets, without the CRLF.
        len: usize,
    },
    /// A CR or LF that is not part of a CRLF pair (non-text bodies are never normalised).
    BareLineBreak {
        /// Byte offset in the body.
        offset: usize,
    },
}

impl fmt::Display for LineIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NonAscii { offset } => write!(f, "non-ASCII octet at offset {offset}"),
            Self::Nul { offset } => write!(f, "NUL octet at offset {offset}"),
            Self::LineTooLong { line, len } => {
                write!(f, "line {line} is {len} octets long (limit {MAX_LINE})")
            }
            Self::BareLineBreak { offset } => {
                write!(f, "CR or LF outside a CRLF pair at offset {offset}")
            }
        }
    }
}

/// Converts every line ending (CRLF, lone LF, lone CR) to CRLF.
///
/// Borrows the input when it already uses CRLF only.
pub fn normalize_line_endings(input: &[u8]) -> Cow<'_, [u8]> {
    if !has_bare_line_break(input) {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len() + input.len() / 32 + 2);
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                // A CR directly followed by LF is one line break, not two.
                if input.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(out)
}

fn has_bare_line_break(data: &[u8]) -> bool {
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'\r' if data.get(i + 1) == Some(&b'\n') => i += 2,
            b'\r' | b'\n' => return true,
            _ => i += 1,
        }
    }
    false
}

/// Returns the first reason `data` is not valid unencoded content: NUL, bare CR/LF, a line
/// over 998 octets, or (unless `allow_8bit`) an octet above 127.
fn first_issue(data: &[u8], allow_8bit: bool) -> Option<LineIssue> {
    let mut line_start = 0;
    let mut line = 1;
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            0 => return Some(LineIssue::Nul { offset: i }),
            b'\r' if data.get(i + 1) == Some(&b'\n') => {
                let len = i - line_start;
                if len > MAX_LINE {
                    return Some(LineIssue::LineTooLong { line, len });
                }
                i += 2;
                line_start = i;
                line += 1;
                continue;
            }
            b'\r' | b'\n' => return Some(LineIssue::BareLineBreak { offset: i }),
            b if b > 127 && !allow_8bit => return Some(LineIssue::NonAscii { offset: i }),
            _ => {}
        }
        i += 1;
    }
    let len = data.len() - line_start;
    (len > MAX_LINE).then_some(LineIssue::LineTooLong { line, len })
}

/// Checks that `data` is valid `7bit` content (RFC 2045 §2.7). Text must be normalised first.
///
/// # Errors
/// The first [`LineIssue`] found.
pub fn check_7bit(data: &[u8]) -> Result<(), LineIssue> {
    first_issue(data, false).map_or(Ok(()), Err)
}

/// Checks that `data` is valid `8bit` content (RFC 2045 §2.8). Text must be normalised first.
///
/// # Errors
/// The first [`LineIssue`] found.
pub fn check_8bit(data: &[u8]) -> Result<(), LineIssue> {
    first_issue(data, true).map_or(Ok(()), Err)
}

/// True for bytes a non-text body may contain and still be sent as `7bit`: printable ASCII,
/// TAB, and CR/LF (pairing is checked separately). Other controls push binary data to base64
/// even though RFC 2045 would tolerate them, because such a body is not really text.
fn is_text_like(b: u8) -> bool {
    matches!(b, b'\t' | b'\r' | b'\n' | 0x20..=0x7e)
}

/// Chooses a transfer encoding for `body` (never `8bit`, see the module docs).
///
/// - Text (`is_text`) is normalised to CRLF first. It is `7bit` when that is valid and no line
///   starts with `.` or `From `, otherwise
///   quoted-printable unless base64 would be shorter (roughly, when more than a sixth of the
///   octets are non-ASCII).
/// - Anything else is `7bit` only when it is already CRLF-delimited printable ASCII with
///   lines of at most 998 octets; otherwise base64, which preserves the bytes exactly.
pub fn choose_encoding(body: &[u8], is_text: bool) -> TransferEncoding {
    auto_encode(body, is_text).0
}

/// [`choose_encoding`] and the encoded bytes: one scan of the data to choose, one pass to
/// encode (the line endings are normalised by the encoder itself, not by an extra copy).
pub fn auto_encode(body: &[u8], is_text: bool) -> (TransferEncoding, Vec<u8>) {
    if is_text {
        let scan = TextScan::of(body);
        if scan.fits_7bit() {
            return (
                TransferEncoding::SevenBit,
                normalize_line_endings(body).into_owned(),
            );
        }
        let qp = quoted_printable(body, true);
        if qp.len() <= base64_len(scan.normalized_len) {
            (TransferEncoding::QuotedPrintable, qp)
        } else {
            (
                TransferEncoding::Base64,
                encode_base64(&normalize_line_endings(body)),
            )
        }
    } else if body.iter().all(|&b| is_text_like(b)) && first_issue(body, false).is_none() {
        (TransferEncoding::SevenBit, body.to_vec())
    } else {
        (TransferEncoding::Base64, encode_base64(body))
    }
}

/// What one pass over a text body tells about it, as if its line endings were already CRLF
/// (a lone LF or CR is a line break too).
#[derive(Debug, Default)]
struct TextScan {
    /// The length once every line break is CRLF.
    normalized_len: usize,
    /// A NUL or an octet above 127: not `7bit` content.
    not_ascii: bool,
    /// A line over 998 octets.
    long_line: bool,
    /// A line starting with `.` (a lone `.` ends SMTP DATA; relays that forget to stuff it
    /// truncate the message, CVE-2023-51764 class) or with `From ` (mbox readers split or
    /// mangle it): such text goes quoted-printable, which writes those as `=2E` and `=46rom `.
    risky_line: bool,
}

impl TextScan {
    fn of(data: &[u8]) -> TextScan {
        let risky = |at: usize| data[at..].starts_with(b".") || data[at..].starts_with(b"From ");
        let mut scan = TextScan {
            normalized_len: data.len(),
            risky_line: risky(0),
            ..TextScan::default()
        };
        // Line by line (memchr finds the breaks, `is_ascii` checks a word at a time): a byte
        // at a time was 3.6 instructions per byte of every text body.
        let mut start = 0;
        loop {
            let end =
                memchr::memchr2(b'\r', b'\n', &data[start..]).map_or(data.len(), |k| start + k);
            let line = &data[start..end];
            scan.long_line |= line.len() > MAX_LINE;
            scan.not_ascii =
                scan.not_ascii || !line.is_ascii() || memchr::memchr(0, line).is_some();
            if end == data.len() {
                break;
            }
            start = if data[end] == b'\r' && data.get(end + 1) == Some(&b'\n') {
                end + 2
            } else {
                scan.normalized_len += 1;
                end + 1
            };
            scan.risky_line |= risky(start);
        }
        scan
    }

    fn fits_7bit(&self) -> bool {
        !(self.not_ascii || self.long_line || self.risky_line)
    }
}

/// Length of [`encode_base64`]'s output for `n` input bytes.
fn base64_len(n: usize) -> usize {
    let chars = n.div_ceil(3) * 4;
    let lines = chars.div_ceil(ENCODED_LINE);
    chars + 2 * lines.saturating_sub(1)
}

/// Encodes `body` with `encoding`, or with [`choose_encoding`]'s choice when `None`, and
/// returns the encoding used with the wire bytes. Text is normalised to CRLF first.
///
/// # Errors
/// When `7bit` or `8bit` is requested for content that is not valid as such.
pub fn encode_body(
    body: &[u8],
    encoding: Option<TransferEncoding>,
    is_text: bool,
) -> Result<(TransferEncoding, Vec<u8>), LineIssue> {
    let Some(encoding) = encoding else {
        return Ok(auto_encode(body, is_text));
    };
    let data = if is_text {
        normalize_line_endings(body)
    } else {
        Cow::Borrowed(body)
    };
    let out = match encoding {
        TransferEncoding::SevenBit => {
            check_7bit(&data)?;
            data.into_owned()
        }
        TransferEncoding::EightBit => {
            check_8bit(&data)?;
            data.into_owned()
        }
        TransferEncoding::QuotedPrintable => quoted_printable(&data, is_text),
        TransferEncoding::Base64 => encode_base64(&data),
    };
    Ok((encoding, out))
}

/// Encodes `input` as quoted-printable (RFC 2045 §6.7).
///
/// With `text`, line endings are normalised and become hard line breaks (CRLF); otherwise
/// CR and LF are data and are encoded as `=0D` / `=0A`, so binary content survives.
///
/// Beyond the RFC's rules, a `.` at the start of a line is written `=2E` and the `F` of a
/// line starting with `From ` as `=46`: both are legal encodings of the same bytes, and they
/// keep the body intact through SMTP servers that mishandle dot-stuffing and through mbox
/// files that would escape `From `.
pub fn encode_quoted_printable(input: &[u8], text: bool) -> Vec<u8> {
    quoted_printable(input, text)
}

/// Printable ASCII but `=`, and space and TAB: written as themselves anywhere but at the end
/// of a line (white space there must be encoded, rule 3) and, for `.` and `F`, at the start
/// of one.
const QP_PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 32;
    while b <= 126 {
        t[b] = b != b'=' as usize;
        b += 1;
    }
    t[b'\t' as usize] = true;
    t
};

/// Quoted-printable of `data`. With `text`, CRLF, a lone LF and a lone CR each end a line and
/// become a hard line break (CRLF): the same output as normalising first, without the copy.
/// Without `text`, CR and LF are data (`=0D`, `=0A`).
fn quoted_printable(data: &[u8], text: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 8 + 8);
    if !text {
        qp_line(data, &mut out);
        return out;
    }
    let mut start = 0;
    while let Some(k) = memchr::memchr2(b'\r', b'\n', &data[start..]) {
        let end = start + k;
        qp_line(&data[start..end], &mut out);
        out.extend_from_slice(b"\r\n");
        let crlf = data[end] == b'\r' && data.get(end + 1) == Some(&b'\n');
        start = end + if crlf { 2 } else { 1 };
    }
    qp_line(&data[start..], &mut out);
    out
}

/// One line of quoted-printable (without its line break), soft-broken at 76 characters.
fn qp_line(line: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let n = line.len();
    let mut col = 0;
    let mut i = 0;
    while i < n {
        let b = line[i];
        let last = i + 1 == n;
        // Fast path, the common case: a run of plain bytes, none the last of the line, that
        // fits before the soft-break column, not starting with a `.` or `F` at column 0. The
        // general rules below would write each of them the same way.
        if !last
            && QP_PLAIN[usize::from(b)]
            && col < ENCODED_LINE - 1
            && (col != 0 || (b != b'.' && b != b'F'))
        {
            let stop = (n - 1).min(i + (ENCODED_LINE - 1 - col));
            let j = line[i + 1..stop]
                .iter()
                .position(|&c| !QP_PLAIN[usize::from(c)])
                .map_or(stop, |k| i + 1 + k);
            out.extend_from_slice(&line[i..j]);
            col += j - i;
            i = j;
            continue;
        }
        // Rule 3: white space at the end of an encoded line must be encoded.
        let literal_at = |col: usize| match b {
            b'=' => false,
            b' ' | b'\t' => !last,
            b'.' => col != 0,
            b'F' => col != 0 || !line[i..].starts_with(b"From "),
            33..=126 => true,
            _ => false,
        };
        let width = |col: usize| if literal_at(col) { 1 } else { 3 };
        // Rule 5: at most 76 characters per line; a line that continues needs room for
        // the soft break `=`, so its content stops at 75.
        let limit = if last { ENCODED_LINE } else { ENCODED_LINE - 1 };
        if col + width(col) > limit {
            out.extend_from_slice(b"=\r\n");
            col = 0;
        }
        if literal_at(col) {
            out.push(b);
            col += 1;
        } else {
            out.extend_from_slice(&[b'=', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            col += 3;
        }
        i += 1;
    }
}

/// Encodes `input` as base64 (RFC 2045 §6.8) in lines of 76 characters separated by CRLF,
/// without a trailing CRLF. Empty input gives empty output.
pub fn encode_base64(input: &[u8]) -> Vec<u8> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(input);
    let mut out = Vec::with_capacity(base64_len(input.len()));
    for (n, line) in encoded.as_bytes().chunks(ENCODED_LINE).enumerate() {
        if n > 0 {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(line);
    }
    out
}

/// The first quoted-printable encoder, kept as the reference the faster one is tested against
/// (same bytes for every input).
#[cfg(test)]
mod reference {
    use super::ENCODED_LINE;

    /// Quoted-printable of data whose line endings are already CRLF when `text` is set.
    pub(super) fn quoted_printable_normalized(data: &[u8], text: bool) -> Vec<u8> {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let is_crlf = |i: usize| data.get(i) == Some(&b'\r') && data.get(i + 1) == Some(&b'\n');
        let mut out = Vec::with_capacity(data.len() + data.len() / 8 + 8);
        let mut col = 0;
        let mut i = 0;
        while i < data.len() {
            if text && is_crlf(i) {
                out.extend_from_slice(b"\r\n");
                col = 0;
                i += 2;
                continue;
            }
            let b = data[i];
            // Fast path, the common case: a printable byte other than `=` that is not the last on
            // its line, is not a `.` or `F` at the start of a line, and fits before the soft-break
            // column. The general rules below would write it the same way.
            if (33..=126).contains(&b)
                && b != b'='
                && (col != 0 || (b != b'.' && b != b'F'))
                && col < ENCODED_LINE - 1
                && i + 1 < data.len()
                && !(text && is_crlf(i + 1))
            {
                out.push(b);
                col += 1;
                i += 1;
                continue;
            }
            // Rule 3: white space at the end of an encoded line must be encoded.
            let last_on_line = i + 1 == data.len() || (text && is_crlf(i + 1));
            let literal_at = |col: usize| match b {
                b'=' => false,
                b' ' | b'\t' => !last_on_line,
                b'.' => col != 0,
                b'F' => col != 0 || !data[i..].starts_with(b"From "),
                33..=126 => true,
                _ => false,
            };
            let width = |col: usize| if literal_at(col) { 1 } else { 3 };
            // Rule 5: at most 76 characters per line; a line that continues needs room for
            // the soft break `=`, so its content stops at 75.
            let limit = if last_on_line {
                ENCODED_LINE
            } else {
                ENCODED_LINE - 1
            };
            if col + width(col) > limit {
                out.extend_from_slice(b"=\r\n");
                col = 0;
            }
            if literal_at(col) {
                out.push(b);
                col += 1;
            } else {
                out.extend_from_slice(&[b'=', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
                col += 3;
            }
            i += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small independent quoted-printable decoder (RFC 2045 §6.7) for round trips.
    fn qp_decode(input: &[u8]) -> Vec<u8> {
        let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        let mut out = Vec::new();
        let mut i = 0;
        while i < input.len() {
            if input[i] == b'=' {
                if input[i + 1..].starts_with(b"\r\n") {
                    i += 3;
                    continue;
                }
                let hi = hex(input[i + 1]).expect("hex digit");
                let lo = hex(input[i + 2]).expect("hex digit");
                out.push(hi << 4 | lo);
                i += 3;
            } else {
                out.push(input[i]);
                i += 1;
            }
        }
        out
    }

    fn lines(data: &[u8]) -> Vec<&[u8]> {
        data.split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .collect()
    }

    fn assert_wire_ok(data: &[u8], max: usize) {
        assert!(!has_bare_line_break(data), "bare CR/LF in {data:?}");
        for l in lines(data) {
            assert!(l.len() <= max, "line of {} > {max}: {:?}", l.len(), l);
        }
    }

    #[test]
    fn parse_transfer_encoding() {
        let cases = [
            ("7bit", Some(TransferEncoding::SevenBit)),
            ("8BIT", Some(TransferEncoding::EightBit)),
            ("Quoted-Printable", Some(TransferEncoding::QuotedPrintable)),
            ("base64", Some(TransferEncoding::Base64)),
            ("binary", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(input.parse::<TransferEncoding>().ok(), want, "{input}");
        }
        let err = "x-uu".parse::<TransferEncoding>().map(|_| ()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown transfer encoding `x-uu`; expected `7bit`, `8bit`, `quoted-printable` or `base64`"
        );
        for enc in [
            TransferEncoding::SevenBit,
            TransferEncoding::EightBit,
            TransferEncoding::QuotedPrintable,
            TransferEncoding::Base64,
        ] {
            assert_eq!(enc.to_string().parse::<TransferEncoding>(), Ok(enc));
        }
    }

    #[test]
    fn line_endings_are_normalised() {
        let cases: [(&[u8], &[u8]); 7] = [
            (b"", b""),
            (b"a\r\nb", b"a\r\nb"),
            (b"a\nb", b"a\r\nb"),
            (b"a\rb", b"a\r\nb"),
            (b"a\r\r\nb", b"a\r\n\r\nb"),
            (b"\n\r", b"\r\n\r\n"),
            (b"a\n\nb\r", b"a\r\n\r\nb\r\n"),
        ];
        for (input, want) in cases {
            assert_eq!(&*normalize_line_endings(input), want, "{input:?}");
        }
        assert!(matches!(normalize_line_endings(b"x\r\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn quoted_printable_table() {
        let cases: [(&[u8], bool, &[u8]); 14] = [
            (b"", true, b""),
            (b"hello", true, b"hello"),
            (b"a=b", true, b"a=3Db"),
            (b"trailing ", true, b"trailing=20"),
            (b"tab\t\nnext", true, b"tab=09\r\nnext"),
            (b"in between", true, b"in between"),
            (b"caf\xc3\xa9", true, b"caf=C3=A9"),
            (b"lf\nonly", true, b"lf\r\nonly"),
            (b"cr\ronly", true, b"cr\r\nonly"),
            (b".dot\n.x", true, b"=2Edot\r\n=2Ex"),
            (b"From me\nFrom", true, b"=46rom me\r\nFrom"),
            (b"a.b", true, b"a.b"),
            (b"bin\r\n", false, b"bin=0D=0A"),
            (b"\x00\x7f\xff", false, b"=00=7F=FF"),
        ];
        for (input, text, want) in cases {
            let got = encode_quoted_printable(input, text);
            assert_eq!(
                got,
                want,
                "{:?} → {:?}",
                String::from_utf8_lossy(input),
                String::from_utf8_lossy(&got)
            );
        }
    }

    #[test]
    fn quoted_printable_soft_breaks_at_76() {
        // Exactly 76 characters fit on one line without a soft break.
        let line76 = vec![b'a'; 76];
        assert_eq!(encode_quoted_printable(&line76, true), line76);
        // 77 characters: 75 + "=" then the rest.
        let line77 = vec![b'a'; 77];
        let got = encode_quoted_printable(&line77, true);
        let want = [&[b'a'; 75][..], b"=\r\n", b"aa"].concat();
        assert_eq!(got, want);
        // An escape is never split by a soft break.
        let mut tricky = vec![b'a'; 74];
        tricky.extend_from_slice("é and more".as_bytes());
        let got = encode_quoted_printable(&tricky, true);
        assert!(got.starts_with(&[&[b'a'; 74][..], b"=\r\n=C3=A9"].concat()));
        // A trailing space pushed to the end of a 76-char line is still encoded.
        let mut spaced = vec![b'a'; 75];
        spaced.push(b' ');
        let got = encode_quoted_printable(&spaced, true);
        assert_eq!(got, [&[b'a'; 75][..], b"=\r\n=20"].concat());
    }

    #[test]
    fn quoted_printable_round_trips() {
        let emoji = "émoji 😀 and Ünïcödé ".repeat(20);
        let japanese = "長い日本語のテキスト".repeat(30);
        let inputs: [&[u8]; 6] = [
            b"plain text\r\nwith lines\r\n",
            emoji.as_bytes(),
            &[b'x'; 3000],
            b" leading and trailing \t\r\n\r\n",
            b"=====.....From From \r\n.\r\n",
            japanese.as_bytes(),
        ];
        for input in inputs {
            let enc = encode_quoted_printable(input, true);
            assert_wire_ok(&enc, ENCODED_LINE);
            assert_eq!(qp_decode(&enc), input);
            for l in lines(&enc) {
                assert!(!l.ends_with(b" ") && !l.ends_with(b"\t"));
                assert!(l.iter().all(|&c| c == b'\t' || (32..=126).contains(&c)));
            }
        }
        let binary: Vec<u8> = (0..=255u8).cycle().take(2000).collect();
        let enc = encode_quoted_printable(&binary, false);
        assert_wire_ok(&enc, ENCODED_LINE);
        assert_eq!(qp_decode(&enc), binary);
    }

    #[test]
    fn base64_wrapping() {
        assert_eq!(encode_base64(b""), b"");
        assert_eq!(encode_base64(b"abc"), b"YWJj");
        // 57 input bytes are exactly one 76-character line.
        let one = encode_base64(&[0u8; 57]);
        assert_eq!(one.len(), 76);
        assert!(!one.contains(&b'\r'));
        let two = encode_base64(&[0u8; 58]);
        assert_eq!(&two[76..78], b"\r\n");
        assert_eq!(two.len(), 76 + 2 + 4);
        for n in [0, 1, 56, 57, 58, 114, 1000] {
            let data = vec![0xa5u8; n];
            let enc = encode_base64(&data);
            assert_eq!(enc.len(), base64_len(n), "n = {n}");
            assert_wire_ok(&enc, ENCODED_LINE);
            let joined: Vec<u8> = enc
                .iter()
                .copied()
                .filter(|&b| b != b'\r' && b != b'\n')
                .collect();
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(&joined)
                .expect("valid base64");
            assert_eq!(decoded, data);
        }
    }

    #[test]
    fn choose_encoding_table() {
        use TransferEncoding::*;
        let long_line = vec![b'a'; 999];
        let cases: [(&[u8], bool, TransferEncoding); 12] = [
            (b"", true, SevenBit),
            (b"hello\nworld\n", true, SevenBit),
            (b"hello\rworld", true, SevenBit),
            (&long_line, true, QuotedPrintable),
            ("mostly ASCII with one é".as_bytes(), true, QuotedPrintable),
            ("ギリシャ語のテキスト".as_bytes(), true, Base64),
            (b"nul\x00byte", true, QuotedPrintable),
            (b"GIF89a\x00\x01", false, Base64),
            (b"a,b\r\nc,d\r\n", false, SevenBit),
            (b"a,b\nc,d\n", false, Base64),
            (b"\x1b[0m", false, Base64),
            (&long_line, false, Base64),
        ];
        for (input, is_text, want) in cases {
            assert_eq!(
                choose_encoding(input, is_text),
                want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn requested_encodings_are_checked() {
        use TransferEncoding::*;
        assert_eq!(
            encode_body("é".as_bytes(), Some(SevenBit), true),
            Err(LineIssue::NonAscii { offset: 0 })
        );
        assert_eq!(
            encode_body("a\né".as_bytes(), Some(EightBit), true),
            Ok((EightBit, "a\r\né".as_bytes().to_vec()))
        );
        assert_eq!(
            encode_body(b"a\x00", Some(EightBit), true),
            Err(LineIssue::Nul { offset: 1 })
        );
        assert_eq!(
            encode_body(&[b'x'; 1000], Some(EightBit), true),
            Err(LineIssue::LineTooLong { line: 1, len: 1000 })
        );
        assert_eq!(
            encode_body(b"a\nb", Some(SevenBit), false),
            Err(LineIssue::BareLineBreak { offset: 1 })
        );
        assert_eq!(
            encode_body(b"a\nb", Some(SevenBit), true),
            Ok((SevenBit, b"a\r\nb".to_vec()))
        );
        assert_eq!(
            LineIssue::LineTooLong { line: 3, len: 1200 }.to_string(),
            "line 3 is 1200 octets long (limit 998)"
        );
    }

    #[test]
    fn base64_text_is_normalised_first() {
        let (enc, out) =
            encode_body(b"a\nb", Some(TransferEncoding::Base64), true).expect("base64 never fails");
        assert_eq!(enc, TransferEncoding::Base64);
        assert_eq!(out, encode_base64(b"a\r\nb"));
        let (_, raw) = encode_body(b"a\nb", Some(TransferEncoding::Base64), false)
            .expect("base64 never fails");
        assert_eq!(raw, encode_base64(b"a\nb"));
    }

    /// The one-pass encoder gives the reference encoder's bytes, and the one-scan choice the
    /// reference choice, for bodies built from the pieces that steer them: every kind of line
    /// break, `.` and `From ` at line starts, `=`, trailing white space, NUL, non-ASCII, long
    /// runs that cross the 76-column soft break and the 998-octet line limit.
    mod same_as_reference {
        use super::super::*;
        use proptest::prelude::*;

        const PIECES: [&[u8]; 16] = [
            b"\r\n",
            b"\n",
            b"\r",
            b".",
            b"From ",
            b"F",
            b"=",
            b" ",
            b"\t",
            b"\0",
            "\u{f1}".as_bytes(),
            b"\xff",
            b"abc",
            b"x",
            b"0123456789012345678901234567890123456789012345678901234567890123456789012345",
            b"-",
        ];

        /// The choice `auto_encode` made before it scanned once (kept for this comparison).
        fn reference_auto(body: &[u8]) -> (TransferEncoding, Vec<u8>) {
            let data = normalize_line_endings(body);
            let risky = data
                .split(|&b| b == b'\n')
                .any(|l| l.starts_with(b".") || l.starts_with(b"From "));
            if first_issue(&data, false).is_none() && !risky {
                return (TransferEncoding::SevenBit, data.into_owned());
            }
            let qp = super::super::reference::quoted_printable_normalized(&data, true);
            if qp.len() <= base64_len(data.len()) {
                (TransferEncoding::QuotedPrintable, qp)
            } else {
                (TransferEncoding::Base64, encode_base64(&data))
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(
                std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2000)
            ))]
            #[test]
            fn qp_and_choice(picks in proptest::collection::vec((0..PIECES.len(), 1usize..30), 0..60)) {
                let mut body = Vec::new();
                for (p, n) in picks {
                    for _ in 0..n.min(if PIECES[p].len() > 10 { 15 } else { n }) {
                        body.extend_from_slice(PIECES[p]);
                    }
                }
                let normalized = normalize_line_endings(&body);
                prop_assert_eq!(
                    quoted_printable(&body, true),
                    super::super::reference::quoted_printable_normalized(&normalized, true)
                );
                prop_assert_eq!(
                    quoted_printable(&body, false),
                    super::super::reference::quoted_printable_normalized(&body, false)
                );
                prop_assert_eq!(auto_encode(&body, true), reference_auto(&body));
            }
        }
    }
}
