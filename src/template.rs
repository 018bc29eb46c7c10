//! Template environments: minijinja set up for untrusted record data.
//!
//! Input: template sources (files under the spec's template roots, or inline text from the
//! YAML). Output: rendered strings, per record.
//!
//! Guarantees:
//! - undefined variables are errors (`UndefinedBehavior::Strict`), never an empty string, so no
//!   "Hello ," is ever sent;
//! - record values are data: they are inserted as values and never parsed as templates;
//! - HTML parts are rendered in an environment that escapes *every* template it loads, whatever
//!   the file is called (minijinja otherwise decides by file extension), and it leaves `/` alone
//!   so URLs stay readable;
//! - address templates mark every inserted value (see [`DATA_OPEN`]), so the address parser can
//!   tell structure written by the spec author from text that came from a record;
//! - execution is bounded by fuel and a recursion limit; there is no clock (`now()`) so output is
//!   deterministic;
//! - templates are read only from the declared roots: absolute paths, `..` and symlinks that
//!   leave a root are refused.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior, Value};

use crate::filters;

/// Marks the start of a value inserted into an address template (a private-use character that
/// record data may not contain).
pub const DATA_OPEN: char = '\u{E000}';
/// Marks the end of a value inserted into an address template.
pub const DATA_CLOSE: char = '\u{E001}';

/// Instructions a single render may execute. Generous for any real message, small enough that a
/// runaway loop over hostile data stops within milliseconds.
pub const FUEL: u64 = 5_000_000;
/// Largest template file read from disk.
pub const MAX_TEMPLATE_BYTES: u64 = 1 << 20;

/// How a template's output is used, which decides escaping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// Plain text: bodies, subjects, header values, file names. No escaping.
    Text,
    /// HTML bodies: every value is HTML-escaped.
    Html,
    /// Address fields: every value is wrapped in [`DATA_OPEN`]/[`DATA_CLOSE`].
    Address,
}

/// The three environments of one spec.
pub struct Templates {
    text: Environment<'static>,
    html: Environment<'static>,
    address: Environment<'static>,
    /// Set once the spec is compiled: from then on no template is read from disk, so
    /// rendering never touches the file system.
    sealed: Arc<AtomicBool>,
}

/// A path that leaves its allowed folders (absolute, `..`, or a symlink that points out).
/// Carried as the source of template errors so callers can tell it from other failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Confine(pub String);

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templates")
    }
}

/// Resolves `name` under one of `roots`, refusing anything that would leave them.
///
/// Returns `Ok(None)` when no root has the file.
///
/// # Errors
/// [`Confine`] when the path would leave the roots.
pub fn resolve_confined(roots: &[PathBuf], name: &str) -> Result<Option<PathBuf>, Confine> {
    let rel = Path::new(name);
    if rel.is_absolute()
        || rel
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(Confine(format!(
            "`{name}` must be a relative path without `..`"
        )));
    }
    for root in roots {
        let candidate = root.join(rel);
        if !candidate.exists() {
            continue;
        }
        let (Ok(real), Ok(real_root)) = (candidate.canonicalize(), root.canonicalize()) else {
            continue;
        };
        // A symlink inside the root may point outside it: compare the real paths.
        if !real.starts_with(&real_root) {
            return Err(Confine(format!(
                "`{name}` resolves outside `{}`",
                root.display()
            )));
        }
        return Ok(Some(real));
    }
    Ok(None)
}

fn html_formatter(
    out: &mut minijinja::Output,
    state: &mut minijinja::State,
    value: &Value,
) -> Result<(), Error> {
    if value.is_safe() || *state.auto_escape() == AutoEscape::None {
        return write!(out, "{value}").map_err(Error::from);
    }
    // minijinja's HTML escaping also encodes `/`, which bloats and obscures URLs in `href`;
    // these five are what HTML needs (text and double- or single-quoted attributes). Runs
    // between them are written as they are: no copy of a string value, no per-char pushes.
    let owned;
    let s = match value.as_str() {
        Some(s) => s,
        None => {
            owned = value.to_string();
            &owned
        }
    };
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        // The five are ASCII, so `i` is a character boundary.
        out.write_str(&s[plain..i]).map_err(Error::from)?;
        out.write_str(entity).map_err(Error::from)?;
        plain = i + 1;
    }
    out.write_str(&s[plain..]).map_err(Error::from)
}

fn address_formatter(
    out: &mut minijinja::Output,
    _: &mut minijinja::State,
    value: &Value,
) -> Result<(), Error> {
    write!(out, "{DATA_OPEN}{value}{DATA_CLOSE}").map_err(Error::from)
}

fn environment(
    roots: Arc<Vec<PathBuf>>,
    sealed: Arc<AtomicBool>,
    flavor: Flavor,
) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(64);
    env.set_debug(true);
    let mut syntax = SyntaxConfig::builder();
    syntax
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true);
    if let Ok(s) = syntax.build() {
        env.set_syntax(s);
    }
    match flavor {
        Flavor::Text => {
            env.set_auto_escape_callback(|_| AutoEscape::None);
        }
        Flavor::Html => {
            env.set_auto_escape_callback(|_| AutoEscape::Html);
            env.set_formatter(html_formatter);
        }
        Flavor::Address => {
            env.set_auto_escape_callback(|_| AutoEscape::None);
            env.set_formatter(address_formatter);
        }
    }
    env.set_loader(move |name| {
        if sealed.load(Ordering::Relaxed) {
            return Err(Error::new(
                ErrorKind::TemplateNotFound,
                format!("template `{name}` was not loaded when the spec was compiled (only literal names in extends/include/import are followed)"),
            ));
        }
        let path = match resolve_confined(&roots, name) {
            Ok(Some(p)) => p,
            Ok(None) => return Ok(None),
            Err(c) => {
                return Err(Error::new(ErrorKind::InvalidOperation, c.0.clone()).with_source(c));
            }
        };
        let meta = std::fs::metadata(&path).map_err(|e| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("cannot read `{name}`: {e}"),
            )
        })?;
        if meta.len() > MAX_TEMPLATE_BYTES {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("template `{name}` is larger than {MAX_TEMPLATE_BYTES} bytes"),
            ));
        }
        std::fs::read_to_string(&path).map(Some).map_err(|e| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("cannot read `{name}`: {e}"),
            )
        })
    });
    // Jinja2's Python string methods (`name.startswith('es')`), and contrib's pure filters
    // (`truncate`, `pluralize`, `filesizeformat`...). The contrib crate is built without its
    // `datetime` and `rand` features, so there is no `now()` and no randomness.
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    minijinja_contrib::add_to_environment(&mut env);
    filters::register(&mut env);
    env
}

impl Templates {
    /// Environments that load templates from `roots` (absolute, existing directories).
    pub fn new(roots: Vec<PathBuf>) -> Self {
        let roots = Arc::new(roots);
        let sealed = Arc::new(AtomicBool::new(false));
        Templates {
            text: environment(roots.clone(), sealed.clone(), Flavor::Text),
            html: environment(roots.clone(), sealed.clone(), Flavor::Html),
            address: environment(roots, sealed.clone(), Flavor::Address),
            sealed,
        }
    }

    /// Stops reading templates from disk: every template a spec uses was loaded while it was
    /// compiled, and rendering must not depend on the file system.
    pub fn seal(&self) {
        self.sealed.store(true, Ordering::Relaxed);
    }

    fn env(&self, flavor: Flavor) -> &Environment<'static> {
        match flavor {
            Flavor::Text => &self.text,
            Flavor::Html => &self.html,
            Flavor::Address => &self.address,
        }
    }

    fn env_mut(&mut self, flavor: Flavor) -> &mut Environment<'static> {
        match flavor {
            Flavor::Text => &mut self.text,
            Flavor::Html => &mut self.html,
            Flavor::Address => &mut self.address,
        }
    }

    /// Compiles an inline template under `name`.
    ///
    /// # Errors
    /// The template's syntax error.
    pub fn add(&mut self, flavor: Flavor, name: &str, source: &str) -> Result<(), Error> {
        self.env_mut(flavor)
            .add_template_owned(name.to_string(), source.to_string())
    }

    /// Loads (and compiles) a template file by name, returning the variables it reads that it
    /// does not set itself (top level names only).
    ///
    /// # Errors
    /// Not found, unreadable or a syntax error (also in what it includes, when reached).
    pub fn variables(&self, flavor: Flavor, name: &str) -> Result<Vec<String>, Error> {
        let env = self.env(flavor);
        let t = env.get_template(name)?;
        let mut vars: Vec<String> = t
            .undeclared_variables(false)
            .into_iter()
            .filter(|v| env.globals().all(|(g, _)| g != v))
            .collect();
        vars.sort();
        Ok(vars)
    }

    /// Renders a compiled template with `ctx`.
    ///
    /// # Errors
    /// Undefined variables, fuel exhausted, filter errors...
    pub fn render(&self, flavor: Flavor, name: &str, ctx: &Value) -> Result<String, Error> {
        self.env(flavor).get_template(name)?.render(ctx)
    }

    /// The source text of a compiled template.
    pub fn source(&self, flavor: Flavor, name: &str) -> Option<String> {
        self.env(flavor)
            .get_template(name)
            .ok()
            .map(|t| t.source().to_string())
    }

    /// Whether a string needs templating at all (contains `{{`, `{%` or `{#`).
    pub fn is_template(s: &str) -> bool {
        s.contains("{{") || s.contains("{%") || s.contains("{#")
    }
}

/// Whether a template error, or one it wraps, is a path leaving the template roots.
pub fn is_path_escape(e: &Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.downcast_ref::<Confine>().is_some() {
            return true;
        }
        cur = err.source();
    }
    false
}
