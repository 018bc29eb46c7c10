//! `cid:` references in the HTML (its layouts and includes too) against the inline parts,
//! read from the plan.

use super::Checker;
use super::templates::template_closure;
use crate::diag::{Code, Diagnostic, did_you_mean};
use crate::plan::{MediaType, Plan, Source};

impl Checker<'_> {
    pub(super) fn cids(&mut self, plan: &Plan) {
        let html = self.html_sources(plan);
        let leaves = plan.body.leaves();
        let cids: Vec<(&str, String)> = leaves
            .iter()
            .filter_map(|l| Some((l.cid.as_deref()?, format!("{}/cid", l.pointer))))
            .collect();
        let referenced: Vec<&str> = html
            .iter()
            .flat_map(|(_, src)| crate::cid::references(src))
            .collect();
        for (ptr, src) in &html {
            for r in crate::cid::references(src) {
                // A name built by the template (`cid:{{ x }}`) is checked per record.
                if r.contains("{{") || r.contains("{%") || cids.iter().any(|(c, _)| *c == r) {
                    continue;
                }
                self.missing_cid(ptr, r, cids.iter().map(|(c, _)| *c));
            }
        }
        let dynamic = html.iter().any(|(_, s)| s.contains("cid:{{"));
        for (c, ptr) in &cids {
            if !referenced.contains(c) && !dynamic && !html.is_empty() {
                self.unused_inline(c, ptr);
            }
        }
    }

    /// Each HTML part's pointer and the text of its template with everything it extends,
    /// includes or imports: a `cid:` in a layout counts as much as one in the page.
    fn html_sources(&self, plan: &Plan) -> Vec<(String, String)> {
        let roots = self.c.roots();
        let closure = |source: Option<&str>, name: Option<&str>| {
            template_closure(&roots, source, name)
                .into_iter()
                .map(|(_, t)| t)
                .collect::<Vec<_>>()
                .join("\n")
        };
        let mut out = Vec::new();
        for l in plan.body.leaves() {
            let is_html =
                matches!(&l.media_type, MediaType::Given(t) if t.eq_ignore_ascii_case("text/html"));
            let text = match &l.source {
                _ if !is_html => continue,
                Source::Literal(s) => s.clone(),
                Source::Template(t) if t.value.name.starts_with('/') => {
                    let src = self.c.templates.source(t.value.flavor, &t.value.name);
                    closure(src.as_deref(), None)
                }
                Source::Template(t) => closure(None, Some(&t.value.name)),
                Source::Asset(_) | Source::File(_) => continue,
            };
            out.push((l.pointer.clone(), text));
        }
        out
    }

    fn missing_cid<'a>(&mut self, ptr: &str, r: &str, known: impl Iterator<Item = &'a str>) {
        let hint = did_you_mean(r, known).map(str::to_string);
        let d = self.err_key(
            Code::SpecMissingCid,
            ptr,
            format!("the HTML references `cid:{r}` but no inline part has `cid: {r}`"),
            "HTML here",
        );
        match hint {
            Some(h) => d.help.push(format!("did you mean `cid:{h}`?")),
            None => d
                .help
                .push(format!("add `inline: [{{ cid: {r}, file: ... }}]`")),
        }
    }

    fn unused_inline(&mut self, c: &str, ptr: &str) {
        let span = self.c.map.value_span(ptr);
        self.push(
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
