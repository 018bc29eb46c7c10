//! A rendered message taken apart for display: its parts (with their decoded bytes), the HTML
//! and text bodies, `cid:` references resolved to URLs, and remote resources counted.
//!
//! The message is read back with mail-parser, as [`crate::review`] does, so the page shows what
//! a mail client reads, not what the renderer meant to write.

use mail_parser::{MessagePart, MimeHeaders, PartType};

use crate::review;

/// One MIME part, flattened in mail-parser's order (the part number is its index).
#[derive(Debug, Clone)]
pub struct Part {
    /// Depth in the tree (0 for the root).
    pub depth: usize,
    /// IMAP-style section number (`1.2`), empty for a multipart root.
    pub number: String,
    /// `type/subtype`, lowercase.
    pub mime_type: String,
    /// Content-Type parameters other than `boundary`, as `name=value`.
    pub params: Vec<String>,
    /// Content-Transfer-Encoding, if any.
    pub encoding: Option<String>,
    /// Content-Disposition type, if any.
    pub disposition: Option<String>,
    /// The attachment's file name, if any.
    pub filename: Option<String>,
    /// The Content-ID without `<>`, if any.
    pub content_id: Option<String>,
    /// Whether it is a multipart container.
    pub multipart: bool,
    /// The decoded body (empty for a multipart).
    pub body: Vec<u8>,
}

/// A message taken apart.
#[derive(Debug, Clone, Default)]
pub struct Decoded {
    /// Every part, in mail-parser's order; index = part id.
    pub parts: Vec<Part>,
    /// Decoded top-level headers (name as written, value decoded).
    pub headers: Vec<(String, String)>,
    /// The subject, decoded.
    pub subject: Option<String>,
    /// Part id of the first `text/html` leaf.
    pub html: Option<usize>,
    /// Part id of the first `text/plain` leaf.
    pub text: Option<usize>,
}

impl Decoded {
    /// Takes `bytes` apart. A message mail-parser cannot read gives an empty [`Decoded`].
    pub fn new(bytes: &[u8]) -> Decoded {
        let Some(msg) = review::message_parser().parse(bytes) else {
            return Decoded::default();
        };
        let mut parts: Vec<Option<Part>> = vec![None; msg.parts.len()];
        walk(&msg, 0, String::new(), 0, &mut parts);
        let parts: Vec<Part> = parts
            .into_iter()
            .map(|p| {
                p.unwrap_or_else(|| Part {
                    depth: 0,
                    number: "?".into(),
                    mime_type: "application/octet-stream".into(),
                    params: Vec::new(),
                    encoding: None,
                    disposition: None,
                    filename: None,
                    content_id: None,
                    multipart: false,
                    body: Vec::new(),
                })
            })
            .collect();
        let is_body = |p: &Part, t: &str| {
            p.mime_type == t && p.disposition.as_deref().is_none_or(|d| d != "attachment")
        };
        let html = parts.iter().position(|p| is_body(p, "text/html"));
        let text = parts.iter().position(|p| is_body(p, "text/plain"));
        Decoded {
            headers: review::decoded_headers(bytes),
            subject: msg.subject().map(str::to_string),
            parts,
            html,
            text,
        }
    }

    /// The decoded text of a part (lossy UTF-8: mail-parser has already decoded the charset).
    pub fn text_of(&self, id: usize) -> Option<String> {
        self.parts
            .get(id)
            .map(|p| String::from_utf8_lossy(&p.body).into_owned())
    }

    /// Attachments and inline files (every non-multipart part that is not a body text).
    pub fn files(&self) -> impl Iterator<Item = (usize, &Part)> {
        self.parts
            .iter()
            .enumerate()
            .filter(move |(i, p)| !p.multipart && Some(*i) != self.html && Some(*i) != self.text)
    }

    /// The part whose Content-ID is `cid` (compared without `<>`, case-sensitively for the
    /// local part as RFC 2392 compares them after URL-decoding).
    pub fn part_by_cid(&self, cid: &str) -> Option<usize> {
        self.parts
            .iter()
            .position(|p| p.content_id.as_deref() == Some(cid))
    }
}

fn walk(
    msg: &mail_parser::Message<'_>,
    id: u32,
    number: String,
    depth: usize,
    out: &mut Vec<Option<Part>>,
) {
    let Some(part) = msg.parts.get(id as usize) else {
        return;
    };
    // A malformed tree must not recurse forever (the view uses the same bound).
    if depth > 64 {
        return;
    }
    let multipart = matches!(part.body, PartType::Multipart(_));
    let shown = if number.is_empty() && !multipart {
        "1".to_string()
    } else {
        number.clone()
    };
    if let Some(slot) = out.get_mut(id as usize) {
        *slot = Some(describe(part, depth, shown));
    }
    if let PartType::Multipart(children) = &part.body {
        for (i, child) in children.iter().enumerate() {
            let n = if number.is_empty() {
                (i + 1).to_string()
            } else {
                format!("{number}.{}", i + 1)
            };
            walk(msg, *child, n, depth + 1, out);
        }
    }
}

fn describe(part: &MessagePart<'_>, depth: usize, number: String) -> Part {
    let (mime_type, params) = match part.content_type() {
        Some(ct) => {
            let t = match ct.subtype() {
                Some(sub) => format!("{}/{sub}", ct.ctype()),
                None => ct.ctype().to_string(),
            };
            let params = ct
                .attributes()
                .unwrap_or_default()
                .iter()
                .filter(|a| !a.name.eq_ignore_ascii_case("boundary"))
                .map(|a| format!("{}={}", a.name, a.value))
                .collect();
            (t.to_ascii_lowercase(), params)
        }
        None => ("text/plain".to_string(), Vec::new()),
    };
    let body = match &part.body {
        PartType::Text(t) | PartType::Html(t) => t.as_bytes().to_vec(),
        PartType::Binary(b) | PartType::InlineBinary(b) => b.to_vec(),
        PartType::Message(m) => m.raw_message().to_vec(),
        PartType::Multipart(_) => Vec::new(),
    };
    Part {
        depth,
        number,
        mime_type,
        params,
        encoding: part
            .content_transfer_encoding()
            .map(|e| e.trim().to_string()),
        disposition: part
            .content_disposition()
            .map(|d| d.ctype().to_ascii_lowercase()),
        filename: part.attachment_name().map(str::to_string),
        content_id: part
            .content_id()
            .map(|c| c.trim_start_matches('<').trim_end_matches('>').to_string()),
        multipart: matches!(part.body, PartType::Multipart(_)),
        body,
    }
}

/// Rewrites every `cid:NAME` reference in `html` with `url(part id)` when the message has a
/// part with that Content-ID; references to missing parts are left as they are (the browser
/// shows a broken image, which is the truth).
pub fn resolve_cids(html: &str, decoded: &Decoded, url: &dyn Fn(usize) -> String) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(pos) = find_ascii_ci(rest, "cid:") {
        let (before, after) = rest.split_at(pos);
        out.push_str(before);
        let tail = &after[4..];
        let end = tail
            .find(|c: char| c == '"' || c == '\'' || c == ')' || c == '>' || c.is_whitespace())
            .unwrap_or(tail.len());
        let name = percent_decode(&tail[..end]);
        match decoded.part_by_cid(&name) {
            Some(id) => out.push_str(&url(id)),
            None => out.push_str(&after[..4 + end]),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// How many remote resources (`http:`/`https:` URLs in `src`, `srcset`, `background` or CSS
/// `url(...)`) the HTML would load. Links (`href` of `<a>`) are not loads and do not count.
pub fn count_remote(html: &str) -> usize {
    let lower = html.to_ascii_lowercase();
    let mut n = 0;
    for attr in ["src=", "srcset=", "background=", "url("] {
        let mut from = 0;
        while let Some(i) = lower[from..].find(attr) {
            let at = from + i;
            let start = at + attr.len();
            let v = lower[start..].trim_start_matches(['"', '\'', ' ']);
            // An attribute counts only inside a tag: `src='http…` in text (escaped data, a
            // message about HTML) loads nothing. CSS `url(` counts wherever it is.
            let before = &lower[..at];
            let in_tag = attr == "url(" || before.rfind('<') > before.rfind('>');
            if in_tag && (v.starts_with("http:") || v.starts_with("https:") || v.starts_with("//"))
            {
                n += 1;
            }
            from = start;
        }
    }
    n
}

/// The byte position of the first ASCII-case-insensitive match of `needle` (ASCII) in `hay`.
pub(crate) fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    let n = needle.len();
    hay.as_bytes()
        .windows(n)
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// `%XX` decoding (RFC 2392: a `cid:` URL is URL-encoded); invalid escapes stay as written.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
        {
            // Two hex digits are at most 0xFF.
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_remote_loads_not_links() {
        let html = r#"<a href="https://x.example">x</a><img src="https://t.example/p.gif">
            <img src='cid:logo'><td background="http://b.example/bg.png">
            <div style="background:url(https://c.example/x.png)">"#;
        assert_eq!(count_remote(html), 3);
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%40b"), "a@b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
