//! What mailbox providers check besides MIME, on every example: the text part says what the HTML
//! says (every link, the same words), the HTML carries its CSS inline.

use std::collections::BTreeSet;

use mail_parser::{MessageParser, MimeHeaders, PartType};
use mailspec::deliver::inspect::visible_words;
use mailspec::deliver::text::{self, links};
use mailspec::render::EmittedMessage;

use crate::util::{example_specs, rel};

/// How much of the HTML's vocabulary a hand-written text part must carry: it may leave out
/// what only makes sense in HTML ("if the button is not working, paste this link into your
/// browser", table column headings). A derived text part carries all of it.
const GIVEN_TEXT_WORDS: f64 = 0.85;

/// Every message of every fixture and sample of every example, with whether its text part is
/// derived from the HTML (the spec gives `html` and no `text`).
fn example_messages() -> Vec<(String, bool, EmittedMessage)> {
    let mut out = Vec::new();
    for path in example_specs() {
        let c = match mailspec::spec::compile_path(&path) {
            Ok(c) => c,
            Err((s, d)) => panic!("{} does not compile:\n{}", rel(&path), s.render(&d)),
        };
        let derived = c.spec.message.text.is_none() && c.spec.message.html.is_some();
        let mut sets: Vec<_> = c.spec.data.fixtures.values().cloned().collect();
        sets.extend(c.spec.data.sample.clone());
        for records in &sets {
            let messages = mailspec::review::render_fixture(&c, records)
                .unwrap_or_else(|e| panic!("{}: {e:?}", rel(&path)));
            out.extend(
                messages
                    .into_iter()
                    .map(|m| (format!("{} {}", rel(&path), m.key), derived, m)),
            );
        }
    }
    assert!(out.len() >= 10, "only {} example messages", out.len());
    out
}

/// The decoded text/plain and text/html bodies that are not attachments.
fn bodies(bytes: &[u8]) -> (Vec<String>, Vec<String>) {
    let m = MessageParser::default().parse(bytes).expect("parses");
    let (mut text, mut html) = (Vec::new(), Vec::new());
    for part in &m.parts {
        if part
            .content_disposition()
            .is_some_and(|d| d.ctype().eq_ignore_ascii_case("attachment"))
        {
            continue;
        }
        let ct = part.content_type();
        let sub = ct.and_then(|c| c.subtype()).unwrap_or("plain");
        match &part.body {
            PartType::Html(h) => html.push(h.to_string()),
            PartType::Text(t) if sub.eq_ignore_ascii_case("plain") => text.push(t.to_string()),
            _ => {}
        }
    }
    (text, html)
}

/// Lower-case words of letters and digits (punctuation, symbols and URLs' pieces aside).
fn words(s: &str) -> BTreeSet<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().any(char::is_alphabetic) && w.chars().count() > 2)
        .map(str::to_lowercase)
        .collect()
}

/// The words a reader sees in the HTML: html2text's rendering without the footnote URLs.
fn html_words(html: &str) -> BTreeSet<String> {
    let t = text::from_html(html).expect("html2text");
    let prose: String = t
        .lines()
        .filter(|l| !(l.starts_with('[') && l.contains("]: ")))
        .collect::<Vec<_>>()
        .join("\n");
    words(&prose)
}

#[test]
fn every_example_text_part_carries_every_link_and_the_same_words() {
    let mut failures = Vec::new();
    let mut derived_seen = 0;
    for (what, derived, m) in example_messages() {
        let (texts, htmls) = bodies(&m.bytes);
        derived_seen += usize::from(derived);
        if htmls.is_empty() {
            continue;
        }
        if texts.is_empty() {
            failures.push(format!("{what}: HTML without a text part"));
            continue;
        }
        let text = texts.join("\n");
        let text_words = words(&text);
        for html in &htmls {
            for link in links(html) {
                // A mailto link is carried by its address.
                let shown = match link.strip_prefix("mailto:") {
                    Some(m) => m.split('?').next().unwrap_or(m).to_string(),
                    None => link.clone(),
                };
                if !text.contains(&shown) {
                    failures.push(format!("{what}: the text part lacks the link {link}"));
                }
            }
            let all = html_words(html);
            let missing: Vec<_> = all.iter().filter(|w| !text_words.contains(*w)).collect();
            let carried = 1.0 - missing.len() as f64 / all.len().max(1) as f64;
            let need = if derived { 1.0 } else { GIVEN_TEXT_WORDS };
            if carried < need {
                failures.push(format!(
                    "{what}: the text part carries {:.0} % of the HTML's words (needs {:.0} %); missing: {missing:?}",
                    carried * 100.0,
                    need * 100.0
                ));
            }
        }
    }
    assert!(
        derived_seen > 0,
        "no example derives its text part from the HTML"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_example_html_has_its_css_inline() {
    for (what, _, m) in example_messages() {
        let (_, htmls) = bodies(&m.bytes);
        for html in htmls {
            // What is left in <style> blocks is at-rules only (media queries and the like).
            // Conditional comments (`<!--[if mso]><style>`) are for Outlook alone: left as they are.
            let lower = strip_comments(&html.to_ascii_lowercase());
            let mut rest = lower.as_str();
            while let Some(i) = rest.find("<style") {
                let block = &rest[i..];
                let end = block.find("</style>").unwrap_or(block.len());
                let css = &block[block.find('>').map_or(0, |g| g + 1)..end];
                let outside_at_rules = strip_at_rules(css);
                assert!(
                    !outside_at_rules.contains('{'),
                    "{what}: a <style> block still has plain rules: {outside_at_rules}"
                );
                rest = &block[end..];
            }
            if lower.contains("<body") {
                assert!(visible_words(&html) > 0, "{what}: empty HTML");
            }
        }
    }
}

fn strip_comments(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(i) = rest.find("<!--") {
        out.push_str(&rest[..i]);
        rest = rest[i..].find("-->").map_or("", |e| &rest[i + e + 3..]);
    }
    out.push_str(rest);
    out
}

/// The CSS with every `@rule { ... }` block (nested braces included) removed.
fn strip_at_rules(css: &str) -> String {
    let mut out = String::new();
    let mut chars = css.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '@' {
            let mut depth = 0;
            for c in chars.by_ref() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ';' if depth == 0 => break,
                    _ => {}
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `check --strict` finds nothing that hurts delivery in the examples, and does find it in
/// `specs/invalid/strict_html_only_images.yaml`.
#[test]
fn check_strict_on_the_command_line() {
    let bin = env!("CARGO_BIN_EXE_mailspec");
    let specs: Vec<String> = example_specs()
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| p.display().to_string())
        .collect();
    let out = std::process::Command::new(bin)
        .arg("check")
        .arg("--strict")
        .args(&specs)
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("deliver/"), "{err}");
    let bad = crate::util::root().join("specs/invalid/strict_html_only_images.yaml");
    let out = std::process::Command::new(bin)
        .args(["check", "--strict"])
        .arg(&bad)
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    // The sample record fails; the fixture's message is still inspected.
    for code in [
        "deliver/no-text",
        "deliver/image-only",
        "deliver/html-size",
        "deliver/message-id-domain",
    ] {
        assert!(err.contains(code), "{code} missing:\n{err}");
    }
}
