//! Checks the JSON Schema cannot express, and the [`Plan`] they produce.
//!
//! Input: a parsed spec ([`Compiling`]). Output: the message plan and every problem, located
//! in the YAML or in the template file it concerns. Each spec key is read here and nowhere
//! else: `render` reads only the plan.
//!
//! - [`fields`]: `data.fields`, `data.key`, sample and fixture files;
//! - [`message`]: addresses, headers, ids, date, envelope;
//! - [`parts`]: the body, its parts and their content (static files are read here, once);
//! - [`templates`]: compiling templates, their variables, and where their errors are;
//! - [`cids`]: `cid:` references against inline parts.

mod cids;
mod deliver;
mod fields;
mod message;
mod parts;
mod templates;

use std::path::PathBuf;

use super::model::Spec;
use super::yaml::{SourceMap, push_pointer};
use crate::diag::{Code, Diagnostic, FileId, Sources};
use crate::plan::{Keyed, Plan, Text, key_of};
use crate::template::Templates;

pub use templates::{nearest_file, template_closure};

/// A spec on its way to being compiled: what the checks read and add to.
#[derive(Debug)]
pub struct Compiling {
    /// The spec file as given.
    pub path: PathBuf,
    /// The spec's folder (canonical).
    pub dir: PathBuf,
    /// The spec's name.
    pub name: String,
    /// The parsed spec.
    pub spec: Spec,
    /// Template environments; templates are compiled into them as they are checked.
    pub templates: Templates,
    /// Source texts for diagnostics.
    pub sources: Sources,
    /// The spec's file id in `sources`.
    pub file: FileId,
    /// Where each node of the spec is.
    pub map: SourceMap,
}

impl Compiling {
    /// The template roots.
    pub fn roots(&self) -> Vec<PathBuf> {
        roots(&self.dir, &self.spec.templates)
    }
}

/// The template roots: the declared `templates` folders, else the spec's folder.
pub fn roots(dir: &std::path::Path, templates: &[String]) -> Vec<PathBuf> {
    if templates.is_empty() {
        vec![dir.to_path_buf()]
    } else {
        templates.iter().map(|t| dir.join(t)).collect()
    }
}

/// Runs every check and builds the plan. The plan is only meaningful when no diagnostic is an
/// error.
pub fn check(c: &mut Compiling) -> (Plan, Vec<Diagnostic>) {
    let mut ck = Checker {
        c,
        out: Vec::new(),
        locals: Vec::new(),
    };
    ck.data();
    let plan = ck.message();
    ck.cids(&plan);
    // The same template can be reached twice (a layout shared by text and HTML): say it once.
    let mut out: Vec<Diagnostic> = Vec::new();
    for d in ck.out {
        if !out
            .iter()
            .any(|o| o.code == d.code && o.message == d.message && o.location == d.location)
        {
            out.push(d);
        }
    }
    (plan, out)
}

struct Checker<'a> {
    c: &'a mut Compiling,
    out: Vec<Diagnostic>,
    /// Names a template may read besides the fields: the element of a `for_each` part and
    /// `loop`, while that part is checked.
    locals: Vec<String>,
}

impl Checker<'_> {
    fn err_value(&mut self, code: Code, ptr: &str, msg: String, label: &str) -> &mut Diagnostic {
        let span = self.c.map.value_span(ptr);
        self.push(
            Diagnostic::error(code, msg)
                .at(self.c.file, span)
                .label(label),
        )
    }

    fn err_key(&mut self, code: Code, ptr: &str, msg: String, label: &str) -> &mut Diagnostic {
        let span = self.c.map.key_span(ptr);
        self.push(
            Diagnostic::error(code, msg)
                .at(self.c.file, span)
                .label(label),
        )
    }

    fn push(&mut self, d: Diagnostic) -> &mut Diagnostic {
        self.out.push(d);
        let n = self.out.len() - 1;
        &mut self.out[n]
    }

    /// A value that may be a template, with its spec key.
    fn text(&mut self, ptr: &str, s: &str, flavor: crate::template::Flavor) -> Keyed<Text> {
        let value = if Templates::is_template(s) {
            match self.inline_template(ptr, s, flavor) {
                Some(t) => Text::Template(t),
                None => Text::Literal(s.to_string()),
            }
        } else {
            Text::Literal(s.to_string())
        };
        Keyed {
            key: key_of(ptr),
            value,
        }
    }
}

/// A JSON Pointer segment for a mapping key.
fn escape(key: &str) -> String {
    push_pointer("", key)[1..].to_string()
}

/// A template-usable name: letters, digits and `_`, not starting with a digit.
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
