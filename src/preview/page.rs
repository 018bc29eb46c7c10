//! The preview's HTML pages, written by hand: every value that comes from a spec, a record or
//! a message goes through [`esc`], and no message HTML is ever put into these pages (it is
//! only served, under its own Content-Security-Policy, as the content of a sandboxed iframe).

use std::fmt::Write as _;

use super::mail::{self, Decoded};
use super::{RecordResult, RecordSet, SnapshotStatus, SpecEntry, SpecState, Workspace};

/// HTML-escapes text for element content and double-quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a URL path segment (everything but RFC 3986 unreserved characters).
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The page style, shared by the preview and the static review pages.
pub const STYLE: &str = r#"
:root { color-scheme: light; --line: #d8dbe0; --muted: #5b6270; --bg2: #f5f6f8; --accent: #1f5fbf; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2430; }
header.top { display: flex; gap: 1em; align-items: center; padding: .5em 1em; border-bottom: 1px solid var(--line); background: var(--bg2); flex-wrap: wrap; }
header.top a { color: var(--accent); text-decoration: none; }
header.top .brand { font-weight: 600; }
#live { margin-left: auto; font-size: 12px; color: var(--muted); }
#live.on::before { content: "● "; color: #2a9d3a; }
#live.off::before { content: "● "; color: #b53; }
.layout { display: flex; align-items: flex-start; }
nav.sets { flex: 0 0 220px; padding: .5em 1em; border-right: 1px solid var(--line); min-height: calc(100vh - 40px); font-size: 13px; }
nav.sets h3 { margin: .8em 0 .2em; font-size: 12px; text-transform: uppercase; color: var(--muted); letter-spacing: .04em; }
nav.sets ul { list-style: none; margin: 0; padding: 0; }
nav.sets li a { display: block; padding: 2px 6px; border-radius: 4px; color: inherit; text-decoration: none; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
nav.sets li a.current { background: var(--accent); color: white; }
nav.sets li a.bad { color: #b3261e; }
main { flex: 1; min-width: 0; padding: .5em 1.2em 3em; }
h1 { font-size: 20px; margin: .4em 0; word-break: break-word; }
h2 { font-size: 15px; margin: 1.4em 0 .4em; border-bottom: 1px solid var(--line); padding-bottom: .2em; }
.meta { color: var(--muted); margin: 0 0 .6em; }
.meta b { color: #1d2430; font-weight: 500; }
.frames { display: flex; gap: 16px; flex-wrap: wrap; align-items: flex-start; }
.frame { border: 1px solid var(--line); border-radius: 6px; overflow: hidden; background: white; }
.frame .cap { font-size: 12px; color: var(--muted); padding: 2px 8px; background: var(--bg2); border-bottom: 1px solid var(--line); }
.frame iframe { display: block; border: 0; height: 640px; background: white; }
.frame.desktop iframe { width: 800px; max-width: calc(100vw - 40px); }
.frame.mobile iframe { width: 375px; max-width: calc(100vw - 40px); }
.notice { background: #fff6d6; border: 1px solid #e8d48a; padding: .4em .8em; border-radius: 6px; margin: .5em 0; }
.notice a { color: var(--accent); }
pre { background: var(--bg2); border: 1px solid var(--line); border-radius: 6px; padding: .6em .8em; overflow: auto; font: 12.5px/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, monospace; white-space: pre-wrap; word-break: break-word; }
pre.diag { background: #fff2f0; border-color: #f0b8b0; }
pre.warn { background: #fffbea; border-color: #eedc9a; }
table.kv { border-collapse: collapse; width: 100%; font-size: 13px; }
table.kv td, table.kv th { border-bottom: 1px solid var(--line); padding: 3px 8px 3px 0; vertical-align: top; text-align: left; word-break: break-word; }
table.kv th { white-space: nowrap; color: var(--muted); font-weight: 500; width: 1%; }
.tree { font: 12.5px/1.6 ui-monospace, "DejaVu Sans Mono", Menlo, monospace; }
.tree div { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.tree .t { font-weight: 600; }
.tree .d { color: var(--muted); }
.diff .add { background: #e6ffec; display: block; }
.diff .del { background: #ffebe9; display: block; }
.diff .hunk { color: #6f42c1; display: block; }
.ok { color: #2a7d3a; }
.bad { color: #b3261e; }
ul.specs { list-style: none; padding: 0; }
ul.specs > li { border: 1px solid var(--line); border-radius: 6px; padding: .6em .9em; margin: .6em 0; }
ul.specs .sets a { margin-right: .6em; }
a { color: var(--accent); }
.side { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.side > div { min-width: 0; }
.side iframe { width: 100%; height: 640px; border: 1px solid var(--line); border-radius: 6px; background: white; }
@media (max-width: 700px) {
  .layout { display: block; }
  nav.sets { border-right: 0; border-bottom: 1px solid var(--line); min-height: 0; }
  .side { grid-template-columns: 1fr; }
}
"#;

/// The script of the preview pages (served at `/app.js`, allowed by the pages' CSP): listen for
/// rebuilds over server-sent events and reload, keeping the scroll position. Message HTML never
/// runs it: the iframe is sandboxed without scripts.
pub const APP_JS: &str = r#"(function () {
  var gen = document.body.getAttribute("data-generation");
  var live = document.getElementById("live");
  var key = "mailspec-scroll:" + location.pathname + location.search;
  try {
    var y = sessionStorage.getItem(key);
    if (y !== null) { sessionStorage.removeItem(key); window.scrollTo(0, parseInt(y, 10) || 0); }
  } catch (e) {}
  function connect() {
    var es = new EventSource("/events");
    es.addEventListener("open", function () { if (live) { live.className = "on"; live.textContent = "live"; } });
    es.addEventListener("error", function () { if (live) { live.className = "off"; live.textContent = "reconnecting"; } });
    es.addEventListener("generation", function (ev) {
      if (ev.data !== gen) {
        try { sessionStorage.setItem(key, String(window.scrollY)); } catch (e) {}
        location.reload();
      }
    });
  }
  connect();
})();
"#;

fn head(out: &mut String, title: &str, generation: u64, live: bool) {
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head>\
         <body data-generation=\"{generation}\">",
        esc(title)
    );
    let _ = write!(
        out,
        "<header class=\"top\"><a class=\"brand\" href=\"/\">mailspec preview</a>{}</header>",
        if live {
            "<span id=\"live\">connecting</span>"
        } else {
            ""
        }
    );
}

fn foot(out: &mut String) {
    out.push_str("<script src=\"/app.js\"></script></body></html>\n");
}

/// The URL of a message page.
pub fn message_url(spec: usize, set: &str, n: usize) -> String {
    format!("/spec/{spec}/{}/{n}", seg(set))
}

/// The index: every spec, its record sets and their records.
pub fn index(ws: &Workspace) -> String {
    let mut out = String::new();
    head(&mut out, "mailspec preview", ws.generation, true);
    out.push_str("<main><h1>Specs</h1>");
    if ws.specs.is_empty() {
        out.push_str("<p>No spec found.</p>");
    }
    out.push_str("<ul class=\"specs\">");
    for (i, s) in ws.specs.iter().enumerate() {
        let _ = write!(out, "<li class=\"spec\" id=\"spec-{i}\">");
        match &s.state {
            SpecState::Failed { .. } => {
                let _ = write!(
                    out,
                    "<a href=\"/spec/{i}\"><b>{}</b></a> <span class=\"bad\">has errors</span>",
                    esc(&s.shown)
                );
            }
            SpecState::Ready(r) => {
                let _ = write!(
                    out,
                    "<a href=\"/spec/{i}\"><b>{}</b></a> <span class=\"meta\">{}</span>",
                    esc(&r.name),
                    esc(&s.shown)
                );
                if let Some(d) = &r.description {
                    let _ = write!(out, "<div class=\"meta\">{}</div>", esc(d));
                }
                if r.sets.is_empty() {
                    out.push_str("<div class=\"meta\">no sample records and no fixtures</div>");
                }
                for set in &r.sets {
                    let _ = write!(
                        out,
                        "<div class=\"sets\">{}{}: ",
                        esc(&set.label),
                        snapshot_badge(set)
                    );
                    match &set.records {
                        Err(e) => {
                            let _ = write!(out, "<span class=\"bad\">{}</span>", esc(e));
                        }
                        Ok(records) => {
                            for r in records {
                                let _ = write!(
                                    out,
                                    "<a href=\"{}\"{}>{}</a>",
                                    message_url(i, &set.id, r.index),
                                    if r.message.is_err() {
                                        " class=\"bad\""
                                    } else {
                                        ""
                                    },
                                    esc(&record_label(r))
                                );
                            }
                            if set.truncated {
                                let _ = write!(
                                    out,
                                    "<span class=\"meta\">(first {} shown)</span>",
                                    super::MAX_RECORDS
                                );
                            }
                        }
                    }
                    out.push_str("</div>");
                }
            }
        }
        out.push_str("</li>");
    }
    out.push_str("</ul></main>");
    foot(&mut out);
    out
}

fn snapshot_badge(set: &RecordSet) -> &'static str {
    match &set.snapshot {
        None => "",
        Some(SnapshotStatus::Matches) => " <span class=\"ok\">(snapshot matches)</span>",
        Some(SnapshotStatus::Differs { .. }) => " <span class=\"bad\">(snapshot differs)</span>",
        Some(SnapshotStatus::Missing { .. }) => " <span class=\"bad\">(no snapshot)</span>",
        Some(SnapshotStatus::NotRendered) => " <span class=\"bad\">(record errors)</span>",
        Some(SnapshotStatus::Unreadable { .. }) => {
            " <span class=\"bad\">(snapshot unreadable)</span>"
        }
    }
}

fn record_label(r: &RecordResult) -> String {
    match &r.key {
        Some(k) if *k != r.index.to_string() => format!("#{} {k}", r.index),
        _ => format!("#{}", r.index),
    }
}

/// The left column of a spec's pages: its record sets and records.
fn sets_nav(out: &mut String, spec: usize, entry: &SpecEntry, current: Option<(&str, usize)>) {
    out.push_str("<nav class=\"sets\">");
    let _ = write!(out, "<h3>spec</h3><div>{}</div>", esc(&entry.shown));
    if let SpecState::Ready(r) = &entry.state {
        for set in &r.sets {
            let _ = write!(out, "<h3>{}</h3><ul>", esc(&set.label));
            if let Ok(records) = &set.records {
                for rec in records {
                    let here = current == Some((set.id.as_str(), rec.index));
                    let mut class = Vec::new();
                    if here {
                        class.push("current");
                    }
                    if rec.message.is_err() {
                        class.push("bad");
                    }
                    let _ = write!(
                        out,
                        "<li><a href=\"{}\" class=\"{}\">{}</a></li>",
                        message_url(spec, &set.id, rec.index),
                        class.join(" "),
                        esc(&record_label(rec))
                    );
                }
            }
            out.push_str("</ul>");
        }
    }
    out.push_str("</nav>");
}

/// The page of a spec that does not compile: its diagnostics, as `mailspec check` prints them.
pub fn failed_spec(ws: &Workspace, spec: usize, entry: &SpecEntry, diagnostics: &str) -> String {
    let mut out = String::new();
    head(
        &mut out,
        &format!("{} — errors", entry.shown),
        ws.generation,
        true,
    );
    out.push_str("<div class=\"layout\">");
    sets_nav(&mut out, spec, entry, None);
    let _ = write!(
        out,
        "<main><h1 class=\"bad\">{} has errors</h1>\
         <p class=\"meta\">Fix the spec and save: this page updates by itself.</p>\
         <pre class=\"diag\" id=\"diagnostics\">{}</pre></main></div>",
        esc(&entry.shown),
        esc(diagnostics)
    );
    foot(&mut out);
    out
}

/// The page of a record set that could not be opened (a data file that does not parse).
pub fn failed_set(
    ws: &Workspace,
    spec: usize,
    entry: &SpecEntry,
    set: &RecordSet,
    problem: &str,
) -> String {
    let mut out = String::new();
    head(
        &mut out,
        &format!("{} — {}", entry.shown, set.label),
        ws.generation,
        true,
    );
    out.push_str("<div class=\"layout\">");
    sets_nav(&mut out, spec, entry, None);
    let _ = write!(
        out,
        "<main><h1 class=\"bad\">The records of {} cannot be read</h1>\
         <p class=\"meta\">Fix the data and save: this page updates by itself.</p>\
         <pre class=\"diag\" id=\"diagnostics\">{}</pre></main></div>",
        esc(&set.label),
        esc(problem)
    );
    foot(&mut out);
    out
}

/// A page saying that something asked for does not exist (any more).
pub fn not_found(ws: &Workspace, what: &str) -> String {
    let mut out = String::new();
    head(&mut out, "not found", ws.generation, true);
    let _ = write!(
        out,
        "<main><h1>Not found</h1><p>{}</p><p><a href=\"/\">All specs</a></p></main>",
        esc(what)
    );
    foot(&mut out);
    out
}

/// What the message page needs to know about where it is.
pub struct Here<'a> {
    /// Spec index.
    pub spec: usize,
    /// The spec.
    pub entry: &'a SpecEntry,
    /// The record set.
    pub set: &'a RecordSet,
    /// The record.
    pub record: &'a RecordResult,
    /// Whether remote images are allowed.
    pub remote: bool,
}

/// The message page: rendered HTML at two widths, text, headers, envelope, MIME tree,
/// attachments, raw bytes and the snapshot diff.
pub fn message(ws: &Workspace, h: &Here<'_>) -> String {
    let mut out = String::new();
    let base = format!("{}/{}/{}", h.spec, seg(&h.set.id), h.record.index);
    let title = format!("{} — {}", h.entry.shown, record_label(h.record));
    head(&mut out, &title, ws.generation, true);
    out.push_str("<div class=\"layout\">");
    sets_nav(&mut out, h.spec, h.entry, Some((&h.set.id, h.record.index)));
    out.push_str("<main>");
    if let SpecState::Ready(r) = &h.entry.state
        && !r.warnings.is_empty()
    {
        let _ = write!(out, "<pre class=\"warn\">{}</pre>", esc(&r.warnings));
    }
    let m = match &h.record.message {
        Ok(m) => m,
        Err(problems) => {
            let _ = write!(
                out,
                "<h1 class=\"bad\">{} of {} failed</h1><pre class=\"diag\" id=\"diagnostics\">{}</pre>",
                esc(&record_label(h.record)),
                esc(&h.set.label),
                esc(&problems.join("\n"))
            );
            out.push_str("</main></div>");
            foot(&mut out);
            return out;
        }
    };
    let d = Decoded::new(&m.bytes);
    let _ = write!(
        out,
        "<h1 id=\"subject\">{}</h1>",
        esc(d.subject.as_deref().unwrap_or("(no subject)"))
    );
    let from = m
        .envelope
        .from
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let to: Vec<String> = m.envelope.to.iter().map(ToString::to_string).collect();
    let _ = write!(
        out,
        "<p class=\"meta\">{} · record <b>{}</b> · MAIL FROM <b>{}</b> · RCPT TO <b>{}</b> · {} bytes · <a href=\"/raw/{base}?download=1\">download .eml</a></p>",
        esc(&h.set.label),
        esc(&record_label(h.record)),
        esc(&from),
        esc(&to.join(", ")),
        m.bytes.len()
    );
    if let Some(html_id) = d.html {
        let html = d.text_of(html_id).unwrap_or_default();
        let remote = mail::count_remote(&html);
        let q = if h.remote { "?remote=1" } else { "" };
        if remote > 0 && !h.remote {
            let _ = write!(
                out,
                "<div class=\"notice\" id=\"remote-notice\">{remote} remote image(s) blocked \
                 (they could be tracking pixels). <a id=\"allow-remote\" href=\"/spec/{base}?remote=1\">Load remote images</a></div>"
            );
        } else if h.remote {
            let _ = write!(
                out,
                "<div class=\"notice\">Remote images are loaded. <a href=\"/spec/{base}\">Block them again</a></div>"
            );
        }
        let _ = write!(
            out,
            "<div class=\"frames\">\
             <div class=\"frame desktop\"><div class=\"cap\">desktop · 800 px</div>\
             <iframe id=\"html-desktop\" title=\"HTML part at desktop width\" sandbox=\"\" referrerpolicy=\"no-referrer\" src=\"/frame/{base}{q}\"></iframe></div>\
             <div class=\"frame mobile\"><div class=\"cap\">mobile · 375 px</div>\
             <iframe id=\"html-mobile\" title=\"HTML part at mobile width\" sandbox=\"\" referrerpolicy=\"no-referrer\" src=\"/frame/{base}{q}\"></iframe></div>\
             </div>"
        );
    } else {
        out.push_str("<p class=\"meta\">This message has no HTML part.</p>");
    }
    if let Some(text_id) = d.text {
        let _ = write!(
            out,
            "<h2>Text part</h2><pre id=\"text-part\">{}</pre>",
            esc(&d.text_of(text_id).unwrap_or_default())
        );
    }
    // Snapshot status first among the details: it is what a reviewer acts on.
    if let Some(s) = &h.set.snapshot {
        snapshot_section(&mut out, s);
    }
    out.push_str("<h2>Headers</h2><table class=\"kv\" id=\"headers\">");
    for (name, value) in &d.headers {
        let _ = write!(
            out,
            "<tr><th>{}</th><td>{}</td></tr>",
            esc(name),
            esc(value)
        );
    }
    out.push_str("</table><h2>Envelope</h2><table class=\"kv\" id=\"envelope\">");
    let _ = write!(
        out,
        "<tr><th>MAIL FROM</th><td>&lt;{}&gt;</td></tr>",
        esc(&from)
    );
    for t in &to {
        let _ = write!(out, "<tr><th>RCPT TO</th><td>&lt;{}&gt;</td></tr>", esc(t));
    }
    if m.envelope.smtputf8 {
        out.push_str("<tr><th>SMTPUTF8</th><td>required</td></tr>");
    }
    out.push_str("</table><h2>MIME tree</h2><div class=\"tree\" id=\"mime-tree\">");
    for (i, p) in d.parts.iter().enumerate() {
        let mut bits = vec![p.mime_type.clone()];
        bits.extend(p.params.iter().cloned());
        let mut details = Vec::new();
        if let Some(e) = &p.encoding {
            details.push(e.clone());
        }
        if let Some(disp) = &p.disposition {
            details.push(disp.clone());
        }
        if let Some(f) = &p.filename {
            details.push(format!("\"{f}\""));
        }
        if let Some(c) = &p.content_id {
            details.push(format!("cid <{c}>"));
        }
        if !p.multipart {
            details.push(format!("{} bytes", p.body.len()));
        }
        let link = if p.multipart {
            String::new()
        } else {
            format!(" <a href=\"/part/{base}/{i}\">open</a>")
        };
        let _ = write!(
            out,
            "<div style=\"padding-left:{}em\">{} <span class=\"t\">{}</span> <span class=\"d\">{}</span>{link}</div>",
            p.depth * 2,
            esc(&p.number),
            esc(&bits.join("; ")),
            esc(&details.join(" · ")),
        );
    }
    out.push_str("</div>");
    let files: Vec<_> = d.files().collect();
    if !files.is_empty() {
        out.push_str(
            "<h2>Attachments and inline files</h2><table class=\"kv\" id=\"attachments\">",
        );
        for (i, p) in files {
            let name = p
                .filename
                .clone()
                .or_else(|| p.content_id.clone())
                .unwrap_or_else(|| format!("part {}", p.number));
            let _ = write!(
                out,
                "<tr><th>{}</th><td><a href=\"/part/{base}/{i}?download=1\">{}</a> · {} · {} bytes · sha256 {}</td></tr>",
                esc(&p.number),
                esc(&name),
                esc(&p.mime_type),
                p.body.len(),
                esc(&crate::review::sha256_of(&p.body))
            );
        }
        out.push_str("</table>");
    }
    let _ = write!(
        out,
        "<h2>Raw message</h2><details><summary>{} bytes (CRLF line ends) · <a href=\"/raw/{base}\">open</a></summary><pre id=\"raw\">{}</pre></details>",
        m.bytes.len(),
        esc(&String::from_utf8_lossy(&m.bytes))
    );
    out.push_str("</main></div>");
    foot(&mut out);
    out
}

fn snapshot_section(out: &mut String, s: &SnapshotStatus) {
    out.push_str("<h2>Snapshot</h2><div id=\"snapshot\">");
    match s {
        SnapshotStatus::Matches => {
            out.push_str("<p class=\"ok\">The committed snapshot matches.</p>");
        }
        SnapshotStatus::Missing { file } => {
            let _ = write!(
                out,
                "<p class=\"bad\">No committed snapshot {}: <code>mailspec test --accept</code> writes it.</p>",
                esc(file)
            );
        }
        SnapshotStatus::NotRendered => {
            out.push_str(
                "<p class=\"bad\">A record of this fixture failed: nothing to compare.</p>",
            );
        }
        SnapshotStatus::Unreadable { reason } => {
            let _ = write!(out, "<p class=\"bad\">{}</p>", esc(reason));
        }
        SnapshotStatus::Differs { file, diff } => {
            let _ = write!(
                out,
                "<p class=\"bad\">Differs from {} (the whole fixture; <code>mailspec test --accept</code> accepts it):</p>",
                esc(file)
            );
            diff_pre(out, diff);
        }
    }
    out.push_str("</div>");
}

/// A unified diff, lines coloured by kind.
pub fn diff_pre(out: &mut String, diff: &str) {
    out.push_str("<pre class=\"diff\">");
    for line in diff.lines() {
        let class = if line.starts_with("+++") || line.starts_with("---") {
            ""
        } else if line.starts_with('+') {
            "add"
        } else if line.starts_with('-') {
            "del"
        } else if line.starts_with("@@") {
            "hunk"
        } else {
            ""
        };
        if class.is_empty() {
            let _ = writeln!(out, "{}", esc(line));
        } else {
            let _ = write!(out, "<span class=\"{class}\">{}</span>", esc(line));
        }
    }
    out.push_str("</pre>");
}

/// The Content-Security-Policy of message HTML: nothing runs, nothing loads but inline styles,
/// `data:` images and the message's own `cid:` parts (served under `cid_prefix`); remote images
/// only when `remote`. `sandbox` also applies when the frame URL is opened on its own.
pub fn frame_csp(cid_prefix: &str, remote: bool) -> String {
    let remote = if remote { " http: https:" } else { "" };
    format!(
        "default-src 'none'; img-src data: {cid_prefix}{remote}; style-src 'unsafe-inline'; \
         font-src data:; sandbox; \
         frame-ancestors 'self'; form-action 'none'; base-uri 'none'"
    )
}
