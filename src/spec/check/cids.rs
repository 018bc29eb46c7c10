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
        let prefixes = self.repeated_prefixes(plan);
        // A name matches a `for_each` part whose cid template starts the same way.
        let repeated = |name: &str| {
            prefixes
                .iter()
                .any(|p| name.starts_with(p.as_str()) || p.starts_with(name))
        };
        let mut referenced: Vec<&str> = Vec::new();
        for (ptr, src) in &html {
            for (r, templated) in crate::cid::template_references(src) {
                referenced.push(r);
                let known = cids.iter().any(|(c, _)| *c == r && !templated);
                // A name computed entirely by the template (`cid:{{ x }}`) is checked per record.
                if known || (templated && r.is_empty()) || repeated(r) {
                    continue;
                }
                if templated {
                    self.missing_repeated_cid(ptr, r);
                } else {
                    self.missing_cid(ptr, r, cids.iter().map(|(c, _)| *c));
                }
            }
        }
        let dynamic = html
            .iter()
            .any(|(_, s)| crate::cid::template_references(s).iter().any(|(_, t)| *t));
        for (c, ptr) in &cids {
            if !referenced.contains(c) && !dynamic && !html.is_empty() {
                self.unused_inline(c, ptr);
            }
        }
    }

    /// The literal start of each `for_each` part's cid template (`product-` of
    /// `product-{{ item.sku }}`).
    fn repeated_prefixes(&self, plan: &Plan) -> Vec<String> {
        let mut out = Vec::new();
        for l in plan.body.leaves() {
            let Some(c) = l.repeat.as_ref().and_then(|r| r.cid.as_ref()) else {
                continue;
            };
            let src = match &c.value {
                crate::plan::Text::Literal(s) => Some(s.clone()),
                crate::plan::Text::Template(t) => self.c.templates.source(t.flavor, &t.name),
            };
            if let Some(src) = src {
                let end = src
                    .find("{{")
                    .or_else(|| src.find("{%"))
                    .unwrap_or(src.len());
                out.push(src[..end].to_string());
            }
        }
        out
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
                // Every case counts: a `cid:` in any of them must have its inline part.
                Source::Choice(c) => {
                    let all = c.value.cases.iter().map(|(_, t)| t).chain(&c.value.default);
                    all.map(|t| closure(None, Some(&t.name)))
                        .collect::<Vec<_>>()
                        .join("\n")
                }
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

    fn missing_repeated_cid(&mut self, ptr: &str, prefix: &str) {
        self.err_key(
            Code::SpecMissingCid,
            ptr,
            format!("the HTML references `cid:{prefix}{{{{…}}}}` but no `for_each` inline part makes cids starting `{prefix}`"),
            "HTML here",
        )
        .help
        .push(format!(
            "add `inline: [{{ for_each: LIST, cid: \"{prefix}{{{{ item.… }}}}\", file: ... }}]`"
        ));
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
