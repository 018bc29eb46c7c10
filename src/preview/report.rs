//! Static review pages for `mailspec test --html DIR`: for every snapshot that changed, the
//! committed version and the new rendering side by side (as rendered HTML and as text), and the
//! diff of the views; plus an `index.html` listing them. CI publishes the folder as an artifact
//! so that a reviewer sees the mail, not a diff of HTML source.
//!
//! The pages are self-contained files (no server, no script): message HTML goes into
//! sandboxed `srcdoc` frames that carry their own Content-Security-Policy (no script, no remote
//! load; images only as `data:` URLs). The committed side is rebuilt from the snapshot's
//! decoded view; its `cid:` images are taken from the new message when their SHA-256 is
//! unchanged, and shown as a placeholder otherwise (a snapshot keeps only the digest).

use std::fmt::Write as _;

use base64::Engine as _;

use super::mail::{self, Decoded};
use super::page::{STYLE, diff_pre, esc};
use crate::render::EmittedMessage;
use crate::review;

/// One changed snapshot.
pub struct Changed<'a> {
    /// The spec's name.
    pub spec: &'a str,
    /// The fixture's name.
    pub fixture: &'a str,
    /// The snapshot file, as shown.
    pub file: &'a str,
    /// The committed view, `None` when there was no snapshot.
    pub before: Option<&'a str>,
    /// The new view.
    pub after_view: &'a str,
    /// The new messages.
    pub after: &'a [EmittedMessage],
}

/// The file name of a changed snapshot's page: the snapshot name plus `.html`.
pub fn page_file_name(spec: &str, fixture: &str) -> String {
    format!("{}.html", review::snapshot_name(spec, fixture))
}

/// One line of the index.
pub struct IndexEntry {
    /// The snapshot name (`spec@fixture`).
    pub label: String,
    /// The page, relative to the index; `None` when there is none (a failure).
    pub page: Option<String>,
    /// `changed`, `new` or why it failed.
    pub status: String,
}

/// The Content-Security-Policy inside every message frame of a static page.
const FRAME_CSP: &str =
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:";

fn head(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data:; frame-src 'self' about: data:\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>\
         <header class=\"top\"><a class=\"brand\" href=\"index.html\">mailspec snapshot review</a></header>",
        esc(title)
    );
}

/// The index page.
pub fn index_page(entries: &[IndexEntry], unchanged: usize) -> String {
    let mut out = String::new();
    head(&mut out, "snapshot review");
    out.push_str("<main><h1>Changed snapshots</h1>");
    if entries.is_empty() {
        out.push_str("<p class=\"ok\" id=\"none\">No snapshot changed.</p>");
    }
    out.push_str("<ul class=\"specs\" id=\"changed\">");
    for e in entries {
        match &e.page {
            Some(p) => {
                let _ = write!(
                    out,
                    "<li><a href=\"{}\"><b>{}</b></a> <span class=\"bad\">{}</span></li>",
                    esc(p),
                    esc(&e.label),
                    esc(&e.status)
                );
            }
            None => {
                let _ = write!(
                    out,
                    "<li><b>{}</b> <span class=\"bad\">{}</span></li>",
                    esc(&e.label),
                    esc(&e.status)
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "</ul><p class=\"meta\">{unchanged} snapshot(s) unchanged. Written by <code>mailspec test --html</code>.</p></main></body></html>"
    );
    out
}

/// The page of one changed snapshot.
pub fn changed_page(c: &Changed<'_>) -> String {
    let mut out = String::new();
    let label = review::snapshot_name(c.spec, c.fixture);
    head(&mut out, &format!("{label} — snapshot review"));
    let _ = write!(
        out,
        "<main><h1>spec {} · fixture {}</h1><p class=\"meta\">{} · {}</p>",
        esc(c.spec),
        esc(c.fixture),
        esc(c.file),
        if c.before.is_some() {
            "<span class=\"bad\">changed</span>"
        } else {
            "<span class=\"bad\">new: no committed snapshot</span>"
        }
    );
    let before = c.before.map(parse_view).unwrap_or_default();
    let after: Vec<Decoded> = c.after.iter().map(|m| Decoded::new(&m.bytes)).collect();
    let count = before.len().max(after.len());
    for i in 0..count {
        let b = before.get(i);
        let a = after.get(i);
        let subject = a
            .and_then(|d| d.subject.clone())
            .or_else(|| b.and_then(|v| v.subject.clone()))
            .unwrap_or_default();
        let _ = write!(
            out,
            "<h2>Message {} · {}</h2><div class=\"side\"><div><h3>before (committed)</h3>",
            i + 1,
            esc(&subject)
        );
        match b {
            None => out.push_str("<p class=\"meta\">(not in the committed snapshot)</p>"),
            Some(v) => {
                let resolve = |cid: &str| before_image(v, cid, a);
                side(
                    &mut out,
                    "before",
                    i,
                    v.html.as_deref(),
                    v.text.as_deref(),
                    &resolve,
                );
            }
        }
        out.push_str("</div><div><h3>after (rendered)</h3>");
        match a {
            None => out.push_str("<p class=\"meta\">(no longer rendered)</p>"),
            Some(d) => {
                let html = d.html.and_then(|id| d.text_of(id));
                let text = d.text.and_then(|id| d.text_of(id));
                let resolve = |cid: &str| d.part_by_cid(cid).map(|id| data_url(d, id));
                side(
                    &mut out,
                    "after",
                    i,
                    html.as_deref(),
                    text.as_deref(),
                    &resolve,
                );
            }
        }
        out.push_str("</div></div>");
    }
    out.push_str("<h2>Diff of the snapshot view</h2>");
    let old = c.before.map(|b| format!("{b}\n")).unwrap_or_default();
    let new = format!("{}\n", c.after_view);
    let diff = similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("{} (committed)", c.file), "rendered")
        .to_string();
    diff_pre(&mut out, &diff);
    out.push_str("</main></body></html>\n");
    out
}

/// One side: the HTML in a sandboxed frame, then the text part.
fn side(
    out: &mut String,
    which: &str,
    i: usize,
    html: Option<&str>,
    text: Option<&str>,
    resolve: &dyn Fn(&str) -> Option<String>,
) {
    if let Some(h) = html {
        let shown = with_csp(&resolve_cids(h, resolve));
        let _ = write!(
            out,
            "<iframe class=\"{which}\" id=\"{which}-{i}\" title=\"{which}: HTML part\" sandbox=\"\" srcdoc=\"{}\"></iframe>",
            esc(&shown)
        );
    }
    if let Some(t) = text {
        let _ = write!(out, "<pre class=\"text-{which}\">{}</pre>", esc(t));
    }
    if html.is_none() && text.is_none() {
        out.push_str("<p class=\"meta\">(no text or HTML part)</p>");
    }
}

/// Puts the frame's CSP `<meta>` where the browser honours it (inside `<head>`, which the
/// parser opens implicitly before the first content), without breaking a `<!doctype>`: a meta
/// before the doctype would drop the page into quirks mode.
fn with_csp(html: &str) -> String {
    let meta = format!("<meta http-equiv=\"Content-Security-Policy\" content=\"{FRAME_CSP}\">");
    let lower = html.to_ascii_lowercase();
    // The tag itself, not a longer name that starts the same (`<header>` is not `<head>`).
    let after_tag = |tag: &str| {
        lower
            .match_indices(tag)
            .find(|(i, _)| {
                lower[i + tag.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c == '>' || c.is_ascii_whitespace())
            })
            .and_then(|(i, _)| lower[i..].find('>').map(|j| i + j + 1))
    };
    let at = after_tag("<head")
        .or_else(|| after_tag("<html"))
        .or_else(|| {
            lower
                .trim_start()
                .starts_with("<!doctype")
                .then(|| after_tag("<!doctype"))
                .flatten()
        })
        .unwrap_or(0);
    let (a, b) = html.split_at(at);
    format!("{a}{meta}{b}")
}

/// `cid:` references resolved by `resolve`, the others replaced by a placeholder image.
fn resolve_cids(html: &str, resolve: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(pos) = mail::find_ascii_ci(rest, "cid:") {
        let (before, after) = rest.split_at(pos);
        out.push_str(before);
        let tail = &after[4..];
        let end = tail
            .find(|c: char| c == '"' || c == '\'' || c == ')' || c == '>' || c.is_whitespace())
            .unwrap_or(tail.len());
        out.push_str(&resolve(&tail[..end]).unwrap_or_else(|| PLACEHOLDER.to_string()));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// A grey "image not in the snapshot" placeholder, as a `data:` URL.
const PLACEHOLDER: &str = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='120' height='40'%3E%3Crect width='120' height='40' fill='%23ddd'/%3E%3Ctext x='60' y='24' font-size='10' text-anchor='middle' fill='%23666'%3Eimage changed%3C/text%3E%3C/svg%3E";

fn data_url(d: &Decoded, id: usize) -> String {
    let Some(p) = d.parts.get(id) else {
        return PLACEHOLDER.to_string();
    };
    format!(
        "data:{};base64,{}",
        p.mime_type,
        base64::engine::general_purpose::STANDARD.encode(&p.body)
    )
}

/// The committed side's image for `cid`: the new message's part with that Content-ID, when
/// the snapshot records the same SHA-256 for it.
fn before_image(v: &ViewMessage, cid: &str, after: Option<&Decoded>) -> Option<String> {
    let sha = v.cids.iter().find(|(c, _)| c == cid).map(|(_, s)| s)?;
    let d = after?;
    let id = d.part_by_cid(cid)?;
    let part = d.parts.get(id)?;
    (review::sha256_of(&part.body) == *sha).then(|| data_url(d, id))
}

/// What a static page needs from one message of a snapshot view.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ViewMessage {
    /// The decoded Subject.
    pub subject: Option<String>,
    /// The first `text/html` leaf, unescaped.
    pub html: Option<String>,
    /// The first `text/plain` leaf, unescaped.
    pub text: Option<String>,
    /// Content-ID → SHA-256 of the part, for non-text leaves.
    pub cids: Vec<(String, String)>,
}

/// Reads the messages back out of a view (the format of [`review::view`]): subject, the first
/// HTML and text leaves, and the digest of each part with a Content-ID. A text line that
/// happens to look like a section marker ends its section early: good enough for a picture of
/// the old version, and the diff below it is exact.
pub fn parse_view(view: &str) -> Vec<ViewMessage> {
    let mut out: Vec<ViewMessage> = Vec::new();
    let mut section = String::new();
    let mut leaf_type = String::new();
    let mut leaf_number = String::new();
    let mut buf: Vec<&str> = Vec::new();
    let mut cid_of: Vec<(String, String)> = Vec::new();
    let flush = |out: &mut Vec<ViewMessage>,
                 leaf_type: &str,
                 leaf_number: &str,
                 buf: &mut Vec<&str>,
                 cid_of: &[(String, String)]| {
        let Some(m) = out.last_mut() else {
            buf.clear();
            return;
        };
        if leaf_type == "text/html" && m.html.is_none() {
            m.html = Some(unvisible(buf));
        } else if leaf_type == "text/plain" && m.text.is_none() {
            m.text = Some(unvisible(buf));
        } else if !leaf_type.is_empty() && !leaf_type.starts_with("text/") {
            let sha = buf
                .first()
                .and_then(|l| l.rsplit_once("sha256 "))
                .map(|(_, s)| s.trim().to_string());
            if let (Some(sha), Some((_, cid))) =
                (sha, cid_of.iter().find(|(n, _)| n == leaf_number))
            {
                m.cids.push((cid.clone(), sha));
            }
        }
        buf.clear();
    };
    for line in view.lines() {
        if line.starts_with("== message ") || line.starts_with("== end") {
            flush(&mut out, &leaf_type, &leaf_number, &mut buf, &cid_of);
            leaf_type.clear();
            section.clear();
            cid_of.clear();
            if line.starts_with("== message ") {
                out.push(ViewMessage::default());
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("-- ") {
            let (first, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            let is_leaf =
                !first.is_empty() && first.chars().all(|c| c.is_ascii_digit() || c == '.');
            if is_leaf || matches!(rest, "envelope" | "headers" | "structure") {
                flush(&mut out, &leaf_type, &leaf_number, &mut buf, &cid_of);
                section = if is_leaf {
                    "leaf".into()
                } else {
                    rest.to_string()
                };
                leaf_type = if is_leaf {
                    tail.to_string()
                } else {
                    String::new()
                };
                leaf_number = if is_leaf {
                    first.to_string()
                } else {
                    String::new()
                };
                continue;
            }
        }
        match section.as_str() {
            "headers" => {
                if let (Some(v), Some(m)) = (line.strip_prefix("Subject: "), out.last_mut())
                    && m.subject.is_none()
                {
                    m.subject = Some(unvisible(&[v]).trim_end_matches('\n').to_string());
                }
            }
            "structure" => {
                let t = line.trim_start();
                if let (Some((number, _)), Some(i)) = (t.split_once(' '), t.find("cid <"))
                    && let Some(end) = t[i + 5..].find('>')
                {
                    cid_of.push((number.to_string(), t[i + 5..i + 5 + end].to_string()));
                }
            }
            "leaf" => buf.push(line),
            _ => {}
        }
    }
    flush(&mut out, &leaf_type, &leaf_number, &mut buf, &cid_of);
    out
}

/// Undoes the view's marking of white space and control characters (see [`crate::review`]),
/// joining lines with `\n`.
fn unvisible(lines: &[&str]) -> String {
    let mut out = String::new();
    for line in lines {
        match *line {
            "⟨no newline at end⟩" => {
                if out.ends_with('\n') {
                    out.pop();
                }
                continue;
            }
            "⟨empty⟩" => continue,
            _ => {}
        }
        let mut rest = *line;
        while let Some(i) = rest.find("⟨U+") {
            out.push_str(&rest[..i]);
            let after = &rest[i + "⟨U+".len()..];
            match after.split_once('⟩') {
                Some((hex, tail)) if hex.len() <= 6 => {
                    match u32::from_str_radix(hex, 16).ok().and_then(char::from_u32) {
                        Some(c) => out.push(c),
                        None => out.push_str(&rest[i..i + "⟨U+".len()]),
                    }
                    rest = tail;
                }
                _ => {
                    out.push_str("⟨U+");
                    rest = after;
                }
            }
        }
        out.push_str(&rest.replace('␠', " ").replace('␉', "\t"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_round_trip_of_the_parts_a_page_shows() {
        let view = "== message 1 · key 1 · 10 bytes · sha256 00\n-- envelope\nMAIL FROM:<a@x>\n\
-- headers\nSubject: Hi there\n-- structure\nmultipart/related\n  1 text/html; charset=utf-8 · 7bit\n  \
2 image/png · base64 · inline · \"l.png\" · cid <logo@x>\n-- 1 text/html\n<p>a␠\n<b>b</b>\n-- 2 image/png\n\
l.png · image/png · 3 bytes · sha256 abc\n== end · 1 message(s)";
        let m = parse_view(view);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].subject.as_deref(), Some("Hi there"));
        assert_eq!(m[0].html.as_deref(), Some("<p>a \n<b>b</b>\n"));
        assert_eq!(m[0].cids, vec![("logo@x".to_string(), "abc".to_string())]);
    }

    #[test]
    fn unvisible_marks() {
        assert_eq!(
            unvisible(&["a⟨U+000D⟩b␉", "x", "⟨no newline at end⟩"]),
            "a\rb\t\nx"
        );
    }

    #[test]
    fn csp_goes_into_head_after_doctype() {
        let s = with_csp("<!DOCTYPE html><html><head><title>t</title></head></html>");
        assert!(s.starts_with("<!DOCTYPE html><html><head><meta http-equiv"));
        let s = with_csp("<header>x</header>");
        assert!(s.starts_with("<meta http-equiv"), "{s}");
        let s = with_csp("<HTML lang=en><body>x");
        assert!(s.starts_with("<HTML lang=en><meta"), "{s}");
        let s = with_csp("<p>x</p>");
        assert!(s.starts_with("<meta http-equiv"));
        let s = with_csp("<!doctype html>\n<p>x</p>");
        assert!(s.starts_with("<!doctype html><meta"));
    }
}
