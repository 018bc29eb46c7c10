//! Templates: compiling them, the fields they read, and where their errors are.

use std::path::Path;

use minijinja::ErrorKind;

use super::{Checker, is_identifier};
use crate::diag::{Code, Diagnostic, did_you_mean};
use crate::plan::{Tmpl, key_of};
use crate::template::{Confine, Flavor, is_path_escape, resolve_confined};

impl Checker<'_> {
    /// Compiles inline template text (named by its JSON Pointer in the environment).
    pub(super) fn inline_template(
        &mut self,
        ptr: &str,
        source: &str,
        flavor: Flavor,
    ) -> Option<Tmpl> {
        let name = ptr.to_string();
        if let Err(e) = self.c.templates.add(flavor, &name, source) {
            let d = self.template_error(&e, Some(ptr));
            self.out.push(d);
            return None;
        }
        self.register(ptr, name, flavor, Some(source))
    }

    /// Compiles a template file (and what it extends, includes or imports).
    pub(super) fn file_template(&mut self, ptr: &str, rel: &str, flavor: Flavor) -> Option<Tmpl> {
        match resolve_confined(&self.c.roots(), rel) {
            Ok(Some(_)) => {}
            Ok(None) => {
                let roots = if self.c.spec.templates.is_empty() {
                    "the spec's folder".to_string()
                } else {
                    self.c
                        .spec
                        .templates
                        .iter()
                        .map(|r| format!("`{r}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let hint = nearest_file(&self.c.roots(), rel);
                let d = self.err_value(
                    Code::TemplateNotFound,
                    ptr,
                    format!("template `{rel}` not found"),
                    &format!("looked in {roots}"),
                );
                if let Some(h) = hint {
                    d.help.push(format!("did you mean `{h}`?"));
                }
                return None;
            }
            Err(Confine(msg)) => {
                self.err_value(Code::SpecPathEscape, ptr, msg, "outside the template roots");
                return None;
            }
        }
        self.register(ptr, rel.to_string(), flavor, None)
    }

    /// Compiles a template, finds its variables and checks them against the fields.
    fn register(
        &mut self,
        ptr: &str,
        name: String,
        flavor: Flavor,
        source: Option<&str>,
    ) -> Option<Tmpl> {
        let vars = match self.c.templates.variables(flavor, &name) {
            Ok(v) => v,
            Err(e) => {
                let d = self.template_error(&e, Some(ptr));
                self.out.push(d);
                return None;
            }
        };
        // Variables read by the layouts and includes the template pulls in count too, and
        // names the templates assign themselves (`{% set es = ... %}`, also inside an `if`,
        // which minijinja's static analysis does not see) are not record fields.
        let roots = self.c.roots();
        let closure = match source {
            Some(src) => template_closure(&roots, Some(src), None),
            None => template_closure(&roots, None, Some(&name)),
        };
        let assigned: Vec<String> = closure
            .iter()
            .flat_map(|(_, t)| assigned_names(t))
            .collect();
        let mut vars = vars;
        for (n, _) in &closure {
            if let Some(n) = n.as_ref().filter(|n| **n != name) {
                match self.c.templates.variables(flavor, n) {
                    Ok(more) => vars.extend(more),
                    Err(e) => {
                        let d = self.template_error(&e, Some(ptr));
                        self.out.push(d);
                    }
                }
            }
        }
        vars.sort();
        vars.dedup();
        vars.retain(|v| !assigned.contains(v));
        self.undeclared(ptr, &name, &closure, &vars);
        self.literal_arguments(ptr, &closure);
        self.missing_includes(ptr, &closure);
        Some(Tmpl {
            flavor,
            name,
            variables: vars,
        })
    }

    /// Filter arguments written as literals (`|date("xx-YY")`, `tz="Mars/Base"`) are checked
    /// now, at their line, instead of failing every record.
    fn literal_arguments(&mut self, ptr: &str, closure: &[(Option<String>, String)]) {
        for (name, text) in closure {
            for (range, msg) in crate::filters::literal_argument_problems(text) {
                let (file, span) = match name {
                    Some(n) => (self.file_id(n, text), range),
                    None => {
                        // Inline: find the literal in the YAML, after the value's start.
                        let at = self.c.map.value_span(ptr);
                        let yaml = self.c.sources.text(self.c.file);
                        let lit = &text[range];
                        let span = yaml
                            .get(at.start..)
                            .and_then(|rest| rest.find(lit))
                            .map(|i| at.start + i..at.start + i + lit.len())
                            .unwrap_or(at);
                        (self.c.file, span)
                    }
                };
                let d = Diagnostic::error(Code::TemplateArgument, msg)
                    .at(file, span)
                    .label("not accepted here");
                self.out.push(d);
            }
        }
    }

    /// Every template named literally by `extends`, `include` or `import` exists inside the
    /// template roots: rendering reads no file, so one that is not there now never will be.
    fn missing_includes(&mut self, ptr: &str, closure: &[(Option<String>, String)]) {
        let roots = self.c.roots();
        for (name, text) in closure {
            for target in referenced_templates(text) {
                let (code, msg, label) = match resolve_confined(&roots, &target) {
                    Ok(Some(_)) => continue,
                    Ok(None) => (
                        Code::TemplateNotFound,
                        format!("template `{target}` not found"),
                        "no such template in the template roots",
                    ),
                    Err(Confine(m)) => (Code::SpecPathEscape, m, "outside the template roots"),
                };
                let quoted = |q: char| format!("{q}{target}{q}");
                let (file, span) = match name {
                    Some(n) => {
                        let id = self.file_id(n, text);
                        let at = text.find(&quoted('"')).or_else(|| text.find(&quoted('\'')));
                        (id, at.map_or(0..0, |i| i..i + target.len() + 2))
                    }
                    None => (self.c.file, self.c.map.value_span(ptr)),
                };
                let mut d = Diagnostic::error(code, msg).at(file, span).label(label);
                if let Some(h) = nearest_file(&roots, &target) {
                    d = d.help(format!("did you mean `{h}`?"));
                }
                self.out.push(d);
            }
        }
    }

    /// Every variable the template reads must be a declared field.
    fn undeclared(
        &mut self,
        ptr: &str,
        name: &str,
        closure: &[(Option<String>, String)],
        vars: &[String],
    ) {
        let declared: Vec<String> = self.c.spec.data.fields.keys().cloned().collect();
        for v in vars {
            if !declared.contains(v) && !self.locals.contains(v) {
                let mut d = Diagnostic::error(
                    Code::TemplateUndefinedVariable,
                    format!("template uses `{v}`, which `data.fields` does not declare"),
                );
                let located = std::iter::once(name.to_string())
                    .chain(closure.iter().filter_map(|(n, _)| n.clone()))
                    .find_map(|n| self.locate_in_template(&n, ptr, v));
                d = match located {
                    Some((file, span)) => d.at(file, span),
                    None => d.at(self.c.file, self.c.map.value_span(ptr)),
                };
                d = d.label("undeclared variable");
                if let Some(h) = did_you_mean(v, declared.iter().map(String::as_str)) {
                    d = d.help(format!("did you mean `{h}`?"));
                } else {
                    d = d.help(format!(
                        "declare it under `data.fields`, e.g. `{v}: {{ type: string }}`"
                    ));
                }
                self.out.push(d);
            }
        }
    }

    /// Finds `{{ … var …` in the template text: in a template file, or in the YAML for inline.
    fn locate_in_template(
        &mut self,
        name: &str,
        ptr: &str,
        var: &str,
    ) -> Option<(usize, std::ops::Range<usize>)> {
        let (file, base, text) = if name.starts_with('/') {
            // Inline: search the YAML from the value's start (a block scalar runs past the span's
            // first line, so search to the end of the file and take the first hit).
            let span = self.c.map.value_span(ptr);
            let full = self
                .c
                .sources
                .text(self.c.file)
                .get(span.start..)?
                .to_string();
            (self.c.file, span.start, full)
        } else {
            let path = resolve_confined(&self.c.roots(), name).ok()??;
            let text = std::fs::read_to_string(path).ok()?;
            let id = self.file_id(name, &text);
            (id, 0, text)
        };
        let at = find_identifier(&text, var)?;
        Some((file, base + at..base + at + var.len()))
    }

    fn file_id(&mut self, name: &str, text: &str) -> usize {
        let shown = self.shown_template_path(name);
        match self.c.sources.find(&shown) {
            Some(id) => id,
            None => self.c.sources.add(shown, text.to_string()),
        }
    }

    fn shown_template_path(&self, name: &str) -> String {
        let spec_dir = self.c.path.parent().unwrap_or(Path::new(""));
        for (root_rel, root) in self
            .c
            .spec
            .templates
            .iter()
            .map(|t| (Some(t.as_str()), self.c.dir.join(t)))
            .chain(std::iter::once((None, self.c.dir.clone())))
        {
            if root.join(name).exists() {
                let rel = match root_rel {
                    Some(r) => Path::new(r).join(name),
                    None => Path::new(name).to_path_buf(),
                };
                return spec_dir.join(rel).display().to_string();
            }
        }
        name.to_string()
    }

    /// Turns a minijinja error into a diagnostic located in the template file or the YAML.
    fn template_error(&mut self, e: &minijinja::Error, ptr: Option<&str>) -> Diagnostic {
        let code = match e.kind() {
            ErrorKind::SyntaxError => Code::TemplateSyntax,
            ErrorKind::TemplateNotFound => Code::TemplateNotFound,
            ErrorKind::UnknownFilter | ErrorKind::UnknownFunction | ErrorKind::UnknownTest => {
                Code::TemplateUnknownFilter
            }
            ErrorKind::UndefinedError => Code::TemplateUndefinedVariable,
            ErrorKind::InvalidOperation if is_path_escape(e) => Code::SpecPathEscape,
            _ => Code::TemplateRender,
        };
        let detail = e.detail().unwrap_or("").to_string();
        let msg = match e.kind() {
            ErrorKind::SyntaxError => format!("template syntax error: {detail}"),
            _ if detail.is_empty() => e.kind().to_string(),
            _ => format!("{}: {detail}", e.kind()),
        };
        let mut d = Diagnostic::error(code, msg);
        let name = e.name().unwrap_or("").to_string();
        if name.starts_with('/') || name.is_empty() {
            // Inline template in the YAML. A block scalar's text starts on the line after its
            // indicator; map the template line onto the YAML line.
            let ptr = if name.is_empty() {
                ptr.unwrap_or("")
            } else {
                name.as_str()
            };
            let span = self.c.map.value_span(ptr);
            let yaml = self.c.sources.text(self.c.file);
            let is_block = yaml
                .get(span.start..)
                .is_some_and(|s| s.starts_with('|') || s.starts_with('>'));
            let located = match (is_block, e.line()) {
                (true, Some(line)) => {
                    let (l, _) = self.c.sources.line_col(self.c.file, span.start);
                    let start = self.c.sources.offset(self.c.file, l + line, 1);
                    let text = &yaml[start..];
                    let end = start + text.find('\n').unwrap_or(text.len());
                    let indent = text.len() - text.trim_start_matches(' ').len();
                    (start + indent.min(end - start))..end
                }
                _ => span,
            };
            d = d.at(self.c.file, located).label("in this template");
        } else if let Some(path) = resolve_confined(&self.c.roots(), &name).ok().flatten() {
            if let Ok(text) = std::fs::read_to_string(&path) {
                let id = self.file_id(&name, &text);
                let span = e
                    .range()
                    .filter(|r| r.end <= text.len())
                    .unwrap_or_else(|| {
                        let line = e.line().unwrap_or(1);
                        let s = self.c.sources.offset(id, line, 1);
                        let rest = &text[s..];
                        s..s + rest.find('\n').unwrap_or(rest.len())
                    });
                d = d.at(id, span).label("here");
                if let Some(ptr) = ptr {
                    d = d.note(format!(
                        "used by `{}` in {}",
                        key_of(ptr),
                        self.c.sources.name(self.c.file)
                    ));
                }
            }
        } else if let Some(ptr) = ptr {
            d = d
                .at(self.c.file, self.c.map.value_span(ptr))
                .label("in this template");
        }
        d
    }
}

/// The text of a template and of every template it extends, includes or imports, found by
/// their literal names (`{% extends "layout.html.j2" %}`); each read once, confined to `roots`.
/// `source` is an inline template's text, `name` a template file's name.
pub fn template_closure(
    roots: &[std::path::PathBuf],
    source: Option<&str>,
    name: Option<&str>,
) -> Vec<(Option<String>, String)> {
    let mut out: Vec<(Option<String>, String)> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut queue: Vec<String> = Vec::new();
    if let Some(s) = source {
        queue.extend(referenced_templates(s));
        out.push((None, s.to_string()));
    }
    queue.extend(name.map(str::to_string));
    while let Some(n) = queue.pop() {
        // A spec is small; 64 templates is far beyond any real one and bounds a cycle.
        if seen.contains(&n) || seen.len() >= 64 {
            continue;
        }
        seen.push(n.clone());
        let Some(text) = resolve_confined(roots, &n)
            .ok()
            .flatten()
            .and_then(|p| std::fs::read_to_string(p).ok())
        else {
            continue;
        };
        queue.extend(referenced_templates(&text));
        out.push((Some(n), text));
    }
    out
}

/// The file under `roots` whose relative path is closest to `wanted` (a did-you-mean for a
/// template name). Looks three folders deep and at most 2,000 files: a hint, not a search.
pub fn nearest_file(roots: &[std::path::PathBuf], wanted: &str) -> Option<String> {
    fn walk(dir: &Path, prefix: &str, depth: usize, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            if out.len() >= 2000 {
                return;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let rel = format!("{prefix}{name}");
            match e.file_type() {
                Ok(t) if t.is_dir() && depth < 3 => {
                    walk(&e.path(), &format!("{rel}/"), depth + 1, out)
                }
                Ok(t) if t.is_file() => out.push(rel),
                _ => {}
            }
        }
    }
    let mut files = Vec::new();
    for root in roots {
        walk(root, "", 0, &mut files);
    }
    // Edit distance, not Jaro-Winkler: paths share long prefixes and suffixes (`templates/`,
    // `.txt.j2`) that would make any two names look alike.
    // The file names must be close; the whole path breaks ties (a folder typo).
    let base = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
    files
        .into_iter()
        .map(|f| {
            let name = strsim::normalized_levenshtein(&base(wanted), &base(&f));
            (name, strsim::normalized_levenshtein(wanted, &f), f)
        })
        .filter(|(name, _, _)| *name >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)))
        .map(|(_, _, f)| f)
}

/// The inside of every `{% ... %}` tag, without whitespace-control marks (`-`, `+`).
fn block_tags(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let i = rest.find("{%")?;
        rest = &rest[i + 2..];
        let end = rest.find("%}").unwrap_or(rest.len());
        let tag = rest[..end].trim_matches(['-', '+']).trim();
        rest = &rest[end..];
        Some(tag)
    })
}

/// Names in `{% extends "x" %}`, `{% include "x" %}`, `{% import "x" as y %}` and
/// `{% from "x" import y %}` tags (only literal names: a computed name cannot be followed).
fn referenced_templates(text: &str) -> Vec<String> {
    block_tags(text)
        .filter_map(|tag| {
            let mut words = tag.splitn(2, char::is_whitespace);
            let (Some("extends" | "include" | "import" | "from"), Some(arg)) =
                (words.next(), words.next())
            else {
                return None;
            };
            let arg = arg.trim_start();
            let q = arg.chars().next().filter(|c| *c == '"' || *c == '\'')?;
            let close = arg[1..].find(q)?;
            Some(arg[1..1 + close].to_string())
        })
        .collect()
}

/// Names a template assigns with `{% set NAME = ... %}` (or `{% set a, b = ... %}`).
fn assigned_names(text: &str) -> Vec<String> {
    block_tags(text)
        .filter_map(|tag| tag.strip_prefix("set "))
        .flat_map(|after| after.split('=').next().unwrap_or("").split(','))
        .map(|n| n.trim().to_string())
        .filter(|n| is_identifier(n))
        .collect()
}

fn find_identifier(text: &str, var: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut from = 0;
    while let Some(i) = text[from..].find(var) {
        let at = from + i;
        let before_ok = at == 0 || !is_ident(bytes[at - 1]);
        let after = at + var.len();
        let after_ok = after >= bytes.len() || !is_ident(bytes[after]);
        // Only inside a `{{ }}` or `{% %}`: look back for an opening delimiter on the same line.
        let line_start = text[..at].rfind('\n').map(|n| n + 1).unwrap_or(0);
        let in_tag = text[line_start..at]
            .rfind("{{")
            .or_else(|| text[line_start..at].rfind("{%"))
            .is_some();
        if before_ok && after_ok && in_tag {
            return Some(at);
        }
        from = at + var.len().max(1);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_tags_are_read_for_references_and_assignments() {
        let t = r#"{%- extends "layout.html.j2" -%}{% include 'ui.html.j2' %}{% from "m.j2" import b %}
{% if x %}{% set es = locale is startingwith("es") %}{% endif %}{%+ set a, b = 1, 2 +%}{% include name %}"#;
        assert_eq!(
            referenced_templates(t),
            ["layout.html.j2", "ui.html.j2", "m.j2"]
        );
        assert_eq!(assigned_names(t), ["es", "a", "b"]);
    }
}
