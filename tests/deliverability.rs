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

/// Every HTML part of every example has a `text/plain` alternative that carries every link of
/// the HTML and its words.
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
        // Not just a text part somewhere: a text/plain alternative of each HTML part.
        let missing = html_without_text_alternative(&m.bytes);
        if !missing.is_empty() || texts.is_empty() {
            failures.push(format!(
                "{what}: HTML without a text alternative: {missing:?}"
            ));
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
    let (status, err) = check_strict(&bad);
    assert_eq!(status, Some(1), "{err}");
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

/// `mailspec check --strict SPEC`: its exit status and stderr.
fn check_strict(spec: &std::path::Path) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailspec"))
        .args(["check", "--strict"])
        .arg(spec)
        .output()
        .expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The MIME structure of a parsed message, as `mixed[alternative[text/plain,text/html],...]`.
fn structure(m: &mail_parser::Message<'_>, id: usize) -> String {
    let p = &m.parts[id];
    let (t, s) = p
        .content_type()
        .map_or(("text".into(), "plain".into()), |c| {
            (
                c.ctype().to_ascii_lowercase(),
                c.subtype().unwrap_or("").to_ascii_lowercase(),
            )
        });
    match &p.body {
        PartType::Multipart(ids) => {
            let inner: Vec<String> = ids.iter().map(|i| structure(m, *i as usize)).collect();
            format!("{s}[{}]", inner.join(","))
        }
        _ => format!("{t}/{s}"),
    }
}

/// For every HTML part a reader sees, whether a `text/plain` alternative comes before it
/// (RFC 2046 §5.1.4): the HTML, or the `multipart/related` it is the root of (RFC 2387 §3.2),
/// is a child of a `multipart/alternative` with an earlier `text/plain` child. The problems,
/// one per HTML part without one.
fn html_without_text_alternative(bytes: &[u8]) -> Vec<String> {
    let m = MessageParser::default().parse(bytes).expect("parses");
    let parent_of = |child: usize| {
        m.parts.iter().enumerate().find_map(|(i, p)| match &p.body {
            PartType::Multipart(ids) => ids
                .iter()
                .position(|c| *c as usize == child)
                .map(|at| (i, at)),
            _ => None,
        })
    };
    let subtype = |i: usize| {
        m.parts[i]
            .content_type()
            .and_then(|c| c.subtype())
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    let is_plain = |i: usize| {
        matches!(m.parts[i].body, PartType::Text(_))
            && m.parts[i].content_type().is_none_or(|c| {
                c.ctype().eq_ignore_ascii_case("text")
                    && c.subtype().is_none_or(|s| s.eq_ignore_ascii_case("plain"))
            })
    };
    let mut problems = Vec::new();
    for (h, part) in m.parts.iter().enumerate() {
        let attachment = part
            .content_disposition()
            .is_some_and(|d| d.ctype().eq_ignore_ascii_case("attachment"));
        if !matches!(part.body, PartType::Html(_)) || attachment {
            continue;
        }
        let mut cur = h;
        let ok = loop {
            let Some((parent, at)) = parent_of(cur) else {
                break false;
            };
            match subtype(parent).as_str() {
                "alternative" => {
                    let PartType::Multipart(ids) = &m.parts[parent].body else {
                        break false;
                    };
                    break ids[..at].iter().any(|c| is_plain(*c as usize));
                }
                "related" if at == 0 => cur = parent,
                _ => break false,
            }
        };
        if !ok {
            problems.push(format!(
                "part {h} is HTML without a text/plain alternative before it"
            ));
        }
    }
    problems
}

/// A spec whose body is the tree `body` (YAML, indented under `body:`), with two sample
/// records; `extra` goes under `message`.
fn tree_spec(dir: &std::path::Path, body: &str, extra: &str) -> std::path::PathBuf {
    let write = |rel: &str, text: &[u8]| std::fs::write(dir.join(rel), text).expect("write");
    let html = r#"<html><head><style>p { color: #333 }</style></head><body>
<p>Hola {{ name }}, tu pedido&nbsp;est&aacute; &laquo;listo&raquo;.</p>
<p><a href="https://olivo.example/pedido/{{ id }}?a=1&amp;b=2">Ver pedido</a> o
<a href="mailto:ayuda@olivo.example">escr&iacute;benos</a>.</p>
IMG</body></html>
"#;
    write("mail.html.j2", html.replace("IMG", "").as_bytes());
    let img = r#"<img src="cid:logo" alt="Olivo">"#;
    write("logo.html.j2", html.replace("IMG", img).as_bytes());
    write(
        "item.html.j2",
        br#"<p>{{ item.name }}: <a href="https://olivo.example/p/{{ item.sku }}">ver {{ item.name }}</a></p>"#,
    );
    write(
        "invite.ics.j2",
        b"BEGIN:VCALENDAR\nVERSION:2.0\nEND:VCALENDAR\n",
    );
    write("given.txt.j2", b"Texto escrito a mano para {{ name }}.\n");
    write("logo.png", b"\x89PNG\r\n\x1a\nnot really");
    let body: String = body.lines().map(|l| format!("    {l}\n")).collect();
    let spec = format!(
        r#"mailspec: 1
data:
  key: id
  fields:
    id: {{ type: string }}
    email: {{ type: email }}
    name: {{ type: string }}
    items:
      type: list
      items: {{ type: object, fields: {{ sku: {{ type: string }}, name: {{ type: string }} }} }}
  sample:
    - {{ id: "1", email: ana@olivo.example, name: "Ana & Bob", items: [{{ sku: A1, name: Aceite }}, {{ sku: B2, name: Vinagre }}] }}
    - {{ id: "2", email: bo@olivo.example, name: Bo, items: [{{ sku: C3, name: Olivas }}] }}
message:
  from: Olivo <tienda@olivo.example>
  to: "{{{{ email }}}}"
  subject: Tu pedido
{extra}  body:
{body}"#
    );
    let path = dir.join("spec.yaml");
    std::fs::write(&path, spec).expect("write spec");
    path
}

/// Checks a derived text part against its HTML: present, every link and the reader's words
/// carried, no markup and no entity left.
fn assert_text_says_what_html_says(what: &str, text: &str, html: &str) {
    for link in links(html) {
        let shown = link.strip_prefix("mailto:").unwrap_or(&link);
        assert!(text.contains(shown), "{what}: no {link} in\n{text}");
    }
    let missing: Vec<_> = html_words(html).difference(&words(text)).cloned().collect();
    assert!(
        missing.is_empty(),
        "{what}: words {missing:?} missing from\n{text}"
    );
    for entity in ["&amp;", "&nbsp;", "&laquo;", "&#", "&lt;", "<p>", "<a "] {
        assert!(!text.contains(entity), "{what}: `{entity}` left in\n{text}");
    }
}

/// Every shape of `body` tree with HTML and no text alternative gets one, derived from the
/// HTML of each rendered record; trees that already have one, attachments and
/// `derive_text: false` are left alone. Read back with mail-parser; the messages are written to
/// `target/derived-text-out/` for `scripts/check_mime.py` (Python's email parser).
#[test]
fn body_trees_get_a_text_alternative_for_their_html() {
    const HTML: &str = "{ type: text/html, template: mail.html.j2 }";
    const LOGO_HTML: &str = "{ type: text/html, template: logo.html.j2 }";
    let logo = "{ type: image/png, file: logo.png, cid: logo, disposition: inline }";
    let csv = "{ type: text/csv, content: \"a,b\", disposition: attachment, filename: a.csv }";
    let ics = "{ type: text/calendar, params: { method: REQUEST }, template: invite.ics.j2 }";
    let given = "{ type: text/plain, template: given.txt.j2 }";
    let each = "{ type: text/html, for_each: items, template: item.html.j2 }";
    let html_file =
        "{ type: text/html, template: mail.html.j2, disposition: attachment, filename: p.html }";
    // (name, body, extra message keys, record 1's structure, text parts derived)
    let cases: Vec<(&str, String, &str, &str, usize)> = vec![
        (
            "lone",
            HTML.into(),
            "",
            "alternative[text/plain,text/html]",
            1,
        ),
        (
            "mixed",
            format!("multipart: mixed\nparts:\n  - {HTML}\n  - {csv}"),
            "",
            "mixed[alternative[text/plain,text/html],text/csv]",
            1,
        ),
        (
            "related",
            format!("multipart: related\nparts:\n  - {LOGO_HTML}\n  - {logo}"),
            "",
            "alternative[text/plain,related[text/html,image/png]]",
            1,
        ),
        (
            "mixed-related",
            format!(
                "multipart: mixed\nparts:\n  - multipart: related\n    parts: [{LOGO_HTML}, {logo}]\n  - {csv}"
            ),
            "",
            "mixed[alternative[text/plain,related[text/html,image/png]],text/csv]",
            1,
        ),
        (
            "related-alternative",
            format!(
                "multipart: related\nparts:\n  - multipart: alternative\n    parts: [{LOGO_HTML}]\n  - {logo}"
            ),
            "",
            "related[alternative[text/plain,text/html],image/png]",
            1,
        ),
        (
            "alternative",
            format!("multipart: alternative\nparts:\n  - {HTML}\n  - {ics}"),
            "",
            "alternative[text/plain,text/html,text/calendar]",
            1,
        ),
        (
            "for-each",
            format!("multipart: mixed\nparts:\n  - {each}"),
            "",
            "mixed[alternative[text/plain,text/html],alternative[text/plain,text/html]]",
            2,
        ),
        (
            "given-text",
            format!("multipart: alternative\nparts:\n  - {given}\n  - {HTML}"),
            "",
            "alternative[text/plain,text/html]",
            0,
        ),
        (
            "html-attachment",
            format!("multipart: mixed\nparts:\n  - {given}\n  - {html_file}"),
            "",
            "mixed[text/plain,text/html]",
            0,
        ),
        (
            "opt-out",
            HTML.into(),
            "  derive_text: false\n",
            "text/html",
            0,
        ),
    ];
    let out = crate::util::root().join("target/derived-text-out");
    let _ = std::fs::remove_dir_all(&out);
    for (name, body, extra, expected, derived) in cases {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tree_spec(tmp.path(), &body, extra);
        let c = mailspec::spec::compile_path(&path)
            .unwrap_or_else(|(s, d)| panic!("{name}: does not compile:\n{}", s.render(&d)));
        let records = c.spec.data.sample.clone().expect("sample");
        let messages = mailspec::review::render_fixture(&c, &records)
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(messages.len(), 2, "{name}");
        std::fs::create_dir_all(out.join(name)).expect("mkdir");
        for m in &messages {
            let what = format!("{name} record {}", m.key);
            crate::examples::assert_wire_format(&m.bytes, &what);
            std::fs::write(out.join(name).join(format!("{}.eml", m.key)), &m.bytes).expect("write");
            let p = MessageParser::default().parse(&m.bytes).expect("parses");
            if m.key == "1" {
                assert_eq!(structure(&p, 0), expected, "{what}");
            }
            let (texts, htmls) = bodies(&m.bytes);
            let html_leaves = htmls.len();
            if derived == 0 {
                continue;
            }
            // Each derived text is the one just before its HTML.
            let n_items = if name == "for-each" { html_leaves } else { 1 };
            assert_eq!(texts.len(), n_items, "{what}");
            for (t, h) in texts.iter().zip(&htmls) {
                assert_text_says_what_html_says(&what, t, h);
            }
            if m.key == "1" && name != "for-each" {
                let t = &texts[0];
                // `&nbsp;` stays a no-break space: the author asked for no line break there.
                assert!(
                    t.contains("Hola Ana & Bob, tu pedido\u{a0}está «listo»."),
                    "{what}:\n{t}"
                );
                assert!(t.contains("[Ver pedido][1]"), "{what}:\n{t}");
            }
            assert!(html_without_text_alternative(&m.bytes).is_empty(), "{what}");
        }
        // Per record: record 1 has two items, record 2 one.
        if name == "for-each" {
            let (t1, _) = bodies(&messages[0].bytes);
            let (t2, _) = bodies(&messages[1].bytes);
            assert_eq!((t1.len(), t2.len()), (derived, 1));
            assert!(
                t1[1].contains("Vinagre") && t2[0].contains("Olivas"),
                "{t1:?} {t2:?}"
            );
        }
        let (status, err) = check_strict(&path);
        assert_eq!(status, Some(0), "{name}: {err}");
        let warns = err.contains("deliver/no-text");
        assert_eq!(
            warns,
            name == "opt-out",
            "{name}: check --strict said:\n{err}"
        );
    }
}
