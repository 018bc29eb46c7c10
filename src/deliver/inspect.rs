//! What hurts delivery, read from an emitted message: the findings of `mailspec check
//! --strict`.
//!
//! Input: the wire bytes of one message. Output: [`Finding`]s, each with a kind and a message.
//! These are warnings, never errors: the message is valid MIME, it is just less likely to reach
//! an inbox or to be read in full.

use mail_parser::{HeaderValue, MessageParser, MimeHeaders, PartType};

/// Gmail shows "[Message clipped]" and hides the rest when a message's HTML is larger than
/// about 102 KB.
pub const HTML_CLIP_BYTES: usize = 102 * 1024;

/// Fewer visible words than this, with at least one image, makes an HTML body "image-only":
/// filters score a body they cannot read as spam, and blocked images leave it blank.
pub const IMAGE_ONLY_WORDS: usize = 20;

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FindingKind {
    /// The message has HTML and no `text/plain` alternative.
    NoTextPart,
    /// The HTML body is only images (or almost no text).
    ImageOnlyHtml,
    /// The Message-ID's domain differs from the From domain.
    MessageIdDomain,
    /// The HTML body is over [`HTML_CLIP_BYTES`].
    HtmlTooLarge,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What it is about.
    pub kind: FindingKind,
    /// Lower case, no trailing period.
    pub message: String,
}

fn domain_of(addr: &str) -> Option<String> {
    addr.trim_matches(['<', '>', ' '])
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
}

/// Visible words of an HTML document: no markup, no `<head>`, `<style>`, `<script>` or
/// comments, no image alt texts.
pub fn visible_words(html: &str) -> usize {
    let lower = html.to_ascii_lowercase();
    let mut text = String::with_capacity(html.len());
    let mut i = 0;
    while i < html.len() {
        let rest = &lower[i..];
        let skip_to = |open: &str, close: &str| -> Option<usize> {
            rest.starts_with(open).then(|| {
                rest.find(close)
                    .map_or(lower.len(), |e| i + e + close.len())
            })
        };
        if let Some(end) = skip_to("<!--", "-->")
            .or_else(|| skip_to("<head", "</head>"))
            .or_else(|| skip_to("<style", "</style>"))
            .or_else(|| skip_to("<script", "</script>"))
        {
            i = end;
        } else if rest.starts_with('<') {
            i += rest.find('>').map_or(rest.len(), |e| e + 1);
            text.push(' ');
        } else {
            let next = rest.find('<').unwrap_or(rest.len());
            text.push_str(&html[i..i + next]);
            i += next;
        }
    }
    text.replace("&nbsp;", " ")
        .replace("&#160;", " ")
        .split(|c: char| c.is_whitespace() || c == '\u{a0}')
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .count()
}

/// The findings for one emitted message. A message mail-parser cannot read gives none (the
/// emitter's own checks cover well-formedness).
pub fn inspect(bytes: &[u8]) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(m) = MessageParser::default().parse(bytes) else {
        return out;
    };
    let mut html: Vec<String> = Vec::new();
    let mut has_text = false;
    for part in &m.parts {
        let is_attachment = part
            .content_disposition()
            .is_some_and(|d| d.ctype().eq_ignore_ascii_case("attachment"));
        if is_attachment {
            continue;
        }
        match &part.body {
            PartType::Html(h) => html.push(h.to_string()),
            PartType::Text(_) => {
                let plain = part.content_type().is_none_or(|ct| {
                    ct.ctype().eq_ignore_ascii_case("text")
                        && ct.subtype().is_none_or(|s| s.eq_ignore_ascii_case("plain"))
                });
                has_text |= plain;
            }
            _ => {}
        }
    }
    if !html.is_empty() && !has_text {
        out.push(Finding {
            kind: FindingKind::NoTextPart,
            message: "the message has HTML and no text/plain part: mailbox providers score \
                      HTML-only mail as more likely spam, and some readers show only text"
                .into(),
        });
    }
    for h in &html {
        let words = visible_words(h);
        let has_img = h.to_ascii_lowercase().contains("<img");
        if has_img && words < IMAGE_ONLY_WORDS {
            out.push(Finding {
                kind: FindingKind::ImageOnlyHtml,
                message: format!(
                    "the HTML body is images with {words} words of text: filters cannot read \
                     it, and with images blocked it is blank"
                ),
            });
        }
        if h.len() > HTML_CLIP_BYTES {
            out.push(Finding {
                kind: FindingKind::HtmlTooLarge,
                message: format!(
                    "the HTML body is {} KB; Gmail clips HTML over 102 KB and hides the rest \
                     (with the unsubscribe link in the footer)",
                    h.len().div_ceil(1024)
                ),
            });
        }
    }
    let from_domain = m
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .and_then(domain_of);
    let id_domain = match m.header("Message-ID") {
        Some(HeaderValue::Text(id)) => domain_of(id),
        _ => None,
    };
    if let (Some(f), Some(i)) = (from_domain, id_domain)
        && f != i
    {
        out.push(Finding {
            kind: FindingKind::MessageIdDomain,
            message: format!(
                "the Message-ID's domain `{i}` is not the From domain `{f}`; some filters \
                 score the mismatch (set `message.message_id.domain: {f}`)"
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(from: &str, id: &str, body: &str) -> Vec<u8> {
        format!(
            "From: {from}\r\nTo: a@example.com\r\nSubject: x\r\nMessage-ID: <{id}>\r\n\
             MIME-Version: 1.0\r\n{body}"
        )
        .replace('\n', "\r\n")
        .replace("\r\r\n", "\r\n")
        .into_bytes()
    }

    fn kinds(bytes: &[u8]) -> Vec<FindingKind> {
        inspect(bytes).into_iter().map(|f| f.kind).collect()
    }

    const ALT: &str = "Content-Type: multipart/alternative; boundary=b\n\n--b\n\
Content-Type: text/plain\n\nHola\n--b\nContent-Type: text/html\n\n<p>Hola</p>\n--b--\n";

    #[test]
    fn a_good_message_has_no_findings() {
        assert_eq!(kinds(&msg("a@olivo.example", "1@olivo.example", ALT)), []);
    }

    #[test]
    fn html_without_text() {
        let m = msg(
            "a@olivo.example",
            "1@olivo.example",
            "Content-Type: text/html\n\n<p>Hola</p>\n",
        );
        assert_eq!(kinds(&m), [FindingKind::NoTextPart]);
    }

    #[test]
    fn image_only_html() {
        let html = "Content-Type: text/html\n\n<html><head><title>Big title words here</title>\
<style>p{}</style></head><body><img src=\"cid:x\" alt=\"Our summer sale\"><!-- a comment --><p>Buy now</p></body></html>\n";
        let m = msg("a@olivo.example", "1@olivo.example", html);
        assert_eq!(
            kinds(&m),
            [FindingKind::NoTextPart, FindingKind::ImageOnlyHtml]
        );
        assert_eq!(
            visible_words("<p>one two&nbsp;three</p><img alt=\"x y\">"),
            3
        );
    }

    #[test]
    fn message_id_domain() {
        let f = inspect(&msg("a@olivo.example", "1@esp.example", ALT));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].kind, FindingKind::MessageIdDomain);
        assert!(f[0].message.contains("`esp.example`"), "{}", f[0].message);
        assert_eq!(kinds(&msg("a@Olivo.Example", "1@olivo.example", ALT)), []);
    }

    #[test]
    fn large_html() {
        let big = format!(
            "Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\nx\n\
--b\nContent-Type: text/html\n\n<p>{}</p>\n--b--\n",
            "word ".repeat(HTML_CLIP_BYTES / 5 + 10)
        );
        assert_eq!(
            kinds(&msg("a@olivo.example", "1@olivo.example", &big)),
            [FindingKind::HtmlTooLarge]
        );
    }
}
