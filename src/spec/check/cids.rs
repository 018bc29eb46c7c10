//! `cid:` references in the HTML (its layouts and includes too) against the inline parts.

use super::Checker;
use super::templates::template_closure;
use crate::diag::{Code, Diagnostic, did_you_mean};
use crate::spec::model::Part;

impl Checker<'_> {
    pub(super) fn cids(&mut self) {
        let m = self.c.spec.message.clone();
        let mut html_sources: Vec<String> = Vec::new();
        let mut cids: Vec<(String, String)> = Vec::new();
        let roots = self.c.roots();
        // A template and everything it extends, includes or imports: a `cid:` in a layout
        // counts as much as one in the page.
        let read = |t: &str| Some(closure_text(&roots, None, Some(t))).filter(|s| !s.is_empty());
        if let Some(h) = &m.html {
            if let Some(c) = &h.content {
                html_sources.push(closure_text(&roots, Some(c), None));
            }
            if let Some(t) = &h.template {
                html_sources.extend(read(t));
            }
        }
        for (i, p) in m.inline.iter().enumerate() {
            if let Some(c) = &p.cid {
                cids.push((c.clone(), format!("/message/inline/{i}/cid")));
            }
        }
        fn walk(
            p: &Part,
            ptr: &str,
            html: &mut Vec<String>,
            cids: &mut Vec<(String, String)>,
            read: &dyn Fn(&str) -> Option<String>,
            inline: &dyn Fn(&str) -> String,
        ) {
            if p.media_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("text/html"))
            {
                html.extend(p.content.as_deref().map(inline));
                html.extend(p.template.as_deref().and_then(read));
            }
            if let Some(c) = &p.cid {
                cids.push((c.clone(), format!("{ptr}/cid")));
            }
            for (i, c) in p.parts.iter().enumerate() {
                walk(c, &format!("{ptr}/parts/{i}"), html, cids, read, inline);
            }
        }
        if let Some(b) = &m.body {
            let inline = |c: &str| closure_text(&roots, Some(c), None);
            walk(
                b,
                "/message/body",
                &mut html_sources,
                &mut cids,
                &read,
                &inline,
            );
        }
        let mut referenced = Vec::new();
        for src in &html_sources {
            referenced.extend(crate::cid::references(src).into_iter().map(str::to_string));
        }
        let html_ptr = if m.html.is_some() {
            "/message/html"
        } else {
            "/message/body"
        };
        for r in &referenced {
            if r.contains("{{") || r.contains("{%") {
                continue;
            }
            if !cids.iter().any(|(c, _)| c == r) {
                let hint =
                    did_you_mean(r, cids.iter().map(|(c, _)| c.as_str())).map(str::to_string);
                let d = self.err_key(
                    Code::SpecMissingCid,
                    html_ptr,
                    format!("the HTML references `cid:{r}` but no inline part has `cid: {r}`"),
                    "HTML here",
                );
                if let Some(h) = hint {
                    d.help.push(format!("did you mean `cid:{h}`?"));
                } else {
                    d.help
                        .push(format!("add `inline: [{{ cid: {r}, file: ... }}]`"));
                }
            }
        }
        for (c, ptr) in cids {
            let dynamic = html_sources.iter().any(|s| s.contains("cid:{{"));
            if !referenced.contains(&c) && !dynamic && !html_sources.is_empty() {
                let span = self.c.map.value_span(&ptr);
                self.out.push(
                    Diagnostic::warning(
                        Code::SpecUnusedInline,
                        format!("inline part `{c}` is never referenced from the HTML"),
                    )
                    .at(self.c.file, span)
                    .label("unused")
                    .help(format!(
                        "reference it as `<img src=\"cid:{c}\">`, or make it an attachment"
                    )),
                );
            }
        }
    }
}

/// [`template_closure`]'s texts, joined.
fn closure_text(roots: &[std::path::PathBuf], source: Option<&str>, name: Option<&str>) -> String {
    template_closure(roots, source, name)
        .into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join("\n")
}
