//! Located diagnostics: every problem a user can fix is reported with a file, a line and a
//! column, a stable code, the source line underlined and, where it helps, a hint.
//!
//! Input: problems found by any stage. Output: text for a terminal (via `codespan-reporting`,
//! which does the underlining) or one JSON object per diagnostic for editors and CI.

use std::fmt;
use std::ops::Range;

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term;
use serde::Serialize;

/// How bad a problem is. Errors fail `mailspec check`; warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a look, does not fail a check.
    Warning,
    /// The spec, template or record cannot be used.
    Error,
}

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident => $text:literal,)*) => {
        /// A stable diagnostic code, `area/kebab-case`. Codes never change meaning once released.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Code { $($(#[$doc])* $variant,)* }
        impl Code {
            /// Every code, in documentation order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];
            /// The code as written in diagnostics, e.g. `schema/unknown-key`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $text,)* }
            }
        }
    };
}

codes! {
    /// The file could not be read (missing, unreadable, not UTF-8).
    IoRead => "io/read",
    /// The YAML is malformed.
    YamlSyntax => "yaml/syntax",
    /// A key appears twice in one mapping.
    YamlDuplicateKey => "yaml/duplicate-key",
    /// Anchors, aliases and tags are not part of the spec language (this also rules out
    /// "billion laughs" alias bombs).
    YamlUnsupported => "yaml/unsupported",
    /// The document nests deeper, or is larger, than any spec needs.
    YamlLimit => "yaml/limit",
    /// A key that the spec language does not have.
    SchemaUnknownKey => "schema/unknown-key",
    /// A required key is missing.
    SchemaMissingKey => "schema/missing-key",
    /// A value has the wrong type (a list where a string is expected, ...).
    SchemaType => "schema/type",
    /// A value is not one of the allowed ones.
    SchemaValue => "schema/invalid-value",
    /// The `mailspec` version is not supported by this build.
    SpecVersion => "spec/version",
    /// The body is missing, or both the shorthand and an explicit `body` are given.
    SpecBody => "spec/body",
    /// A part or content gives none, or more than one, of `template`, `content`, `file`.
    SpecContentSource => "spec/content-source",
    /// A part mixes multipart and leaf keys, or has an invalid media type or parameter.
    SpecPart => "spec/part",
    /// A literal address does not parse.
    SpecAddress => "spec/address",
    /// A custom header name is invalid or reserved.
    SpecHeader => "spec/header",
    /// A data field declaration is inconsistent (list without `items`, bad default, unknown key field).
    SpecField => "spec/field",
    /// A referenced file does not exist.
    SpecFileNotFound => "spec/file-not-found",
    /// A path leaves the spec's directory or template roots.
    SpecPathEscape => "spec/path-escape",
    /// The HTML references `cid:x` and no inline part has that Content-ID.
    SpecMissingCid => "spec/missing-cid",
    /// An inline part is never referenced from the HTML.
    SpecUnusedInline => "spec/unused-inline",
    /// A charset other than `utf-8` or `us-ascii`.
    SpecCharset => "spec/charset",
    /// A bulk spec without `unsubscribe`; `unsubscribe` or `list_id` in a spec that is not
    /// bulk; a literal unsubscribe URL that is not `https` (RFC 8058) or a bad `mailto`.
    SpecUnsubscribe => "spec/unsubscribe",
    /// An invalid `list_id` (RFC 2919) or literal `feedback_id`.
    SpecListHeader => "spec/list-header",
    /// Invalid `dkim` settings: a domain or selector that is not a DNS name, a key file that
    /// holds no usable key.
    SpecDkim => "spec/dkim",
    /// The DKIM domain does not align with the From domain (DMARC, RFC 7489 §3.1.1).
    SpecDkimAlignment => "spec/dkim-alignment",
    /// A template does not parse.
    TemplateSyntax => "template/syntax",
    /// A template uses a variable that `data.fields` does not declare.
    TemplateUndefinedVariable => "template/undefined-variable",
    /// A template includes or extends a template that does not exist.
    TemplateNotFound => "template/not-found",
    /// A template uses a filter or function that does not exist.
    TemplateUnknownFilter => "template/unknown-filter",
    /// A filter is given a literal argument it cannot take (an unsupported locale or currency,
    /// an unknown time zone).
    TemplateArgument => "template/invalid-argument",
    /// Rendering a template failed for a record.
    TemplateRender => "template/render",
    /// A data file cannot be parsed (bad CSV, JSON that is not an array, ...).
    DataParse => "data/parse",
    /// A record lacks a required field.
    DataMissingField => "data/missing-field",
    /// A record field has the wrong type or an invalid value.
    DataType => "data/type",
    /// Two records have the same key.
    DataDuplicateKey => "data/duplicate-key",
    /// A record value bound into a header contains a control character.
    DataHeaderInjection => "data/header-injection",
    /// A rendered address is invalid.
    DataAddress => "data/address",
    /// A file named by a record (a templated path) is missing or not allowed.
    DataFile => "data/file",
    /// A size limit was exceeded.
    DataLimit => "data/limit",
    /// A rendered unsubscribe URL or `Feedback-ID` is invalid for a record.
    DataListHeader => "data/list-header",
    /// The message could not be encoded.
    MimeEmit => "mime/emit",
    /// (`check --strict`) A message with HTML and no text/plain part.
    DeliverNoText => "deliver/no-text",
    /// (`check --strict`) An HTML body that is images with almost no text.
    DeliverImageOnly => "deliver/image-only",
    /// (`check --strict`) A Message-ID domain other than the From domain.
    DeliverMessageIdDomain => "deliver/message-id-domain",
    /// (`check --strict`) An HTML body over 102 KB, which Gmail clips.
    DeliverHtmlSize => "deliver/html-size",
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Index of a file in [`Sources`].
pub type FileId = usize;

/// Where a diagnostic points: a byte range in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub file: FileId,
    /// Byte range of the offending text.
    pub span: Range<usize>,
}

/// One problem.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable code.
    pub code: Code,
    /// Lower-case, no trailing period, values in backticks.
    pub message: String,
    /// Where, when known.
    pub location: Option<Location>,
    /// Text under the underline.
    pub label: String,
    /// Hints ("did you mean `from`?").
    pub help: Vec<String>,
    /// Context ("while rendering record 3 (key `ES-1000002`)").
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error with no location yet.
    pub fn error(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            location: None,
            label: String::new(),
            help: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// A warning with no location yet.
    pub fn warning(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    /// Points the diagnostic at `span` in `file`.
    pub fn at(mut self, file: FileId, span: Range<usize>) -> Self {
        self.location = Some(Location { file, span });
        self
    }

    /// Sets the text shown under the underline.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Adds a hint.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help.push(help.into());
        self
    }

    /// Adds a note.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The text of every file a diagnostic may point into (specs, templates, data files).
#[derive(Debug, Default, Clone)]
pub struct Sources {
    files: Vec<(String, String, Vec<usize>)>,
    /// Per file, the byte offset of every [`CHAR_STRIDE`]th character, so that a character
    /// index (what the YAML parser reports) turns into a byte offset in constant time: scanning
    /// from the line start for every node made a long one-line spec load in quadratic time.
    char_marks: Vec<Vec<usize>>,
}

/// Distance between two recorded character positions in [`Sources`].
const CHAR_STRIDE: usize = 64;

/// Rendered diagnostics shown per call; the rest are counted. Each shows its whole source
/// line, so without a cap a one-line file with thousands of errors prints quadratic output.
pub const MAX_RENDERED: usize = 50;

impl Sources {
    /// Registers a file and returns its id.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        let text = text.into();
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let marks = text
            .char_indices()
            .step_by(CHAR_STRIDE)
            .map(|(i, _)| i)
            .collect();
        self.files.push((name.into(), text, starts));
        self.char_marks.push(marks);
        self.files.len() - 1
    }

    /// Byte offset of the `n`th character (0-based) of a file; the file's length past its end.
    pub fn char_offset(&self, id: FileId, n: usize) -> usize {
        let (Some((_, text, _)), Some(marks)) = (self.files.get(id), self.char_marks.get(id))
        else {
            return 0;
        };
        let Some(&base) = marks.get(n / CHAR_STRIDE) else {
            return text.len();
        };
        text[base..]
            .char_indices()
            .nth(n % CHAR_STRIDE)
            .map(|(i, _)| base + i)
            .unwrap_or(text.len())
    }

    /// The id of a file registered under `name`.
    pub fn find(&self, name: &str) -> Option<FileId> {
        self.files.iter().position(|f| f.0 == name)
    }

    /// The name a file was registered under.
    pub fn name(&self, id: FileId) -> &str {
        self.files.get(id).map(|f| f.0.as_str()).unwrap_or("")
    }

    /// The text of a file.
    pub fn text(&self, id: FileId) -> &str {
        self.files.get(id).map(|f| f.1.as_str()).unwrap_or("")
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, id: FileId, offset: usize) -> (usize, usize) {
        let Some((_, text, starts)) = self.files.get(id) else {
            return (1, 1);
        };
        let offset = offset.min(text.len());
        let line = starts.partition_point(|&s| s <= offset).max(1) - 1;
        let start = starts[line];
        let col = text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(0);
        (line + 1, col + 1)
    }

    /// Byte offset of a 1-based line and character column.
    pub fn offset(&self, id: FileId, line: usize, column: usize) -> usize {
        let Some((_, text, starts)) = self.files.get(id) else {
            return 0;
        };
        let Some(&start) = starts.get(line.saturating_sub(1)) else {
            return text.len();
        };
        let rest = &text[start..];
        let end_of_line = rest.find('\n').unwrap_or(rest.len());
        start
            + rest[..end_of_line]
                .char_indices()
                .nth(column.saturating_sub(1))
                .map(|(i, _)| i)
                .unwrap_or(end_of_line)
    }

    /// Renders diagnostics as plain text, source lines underlined, no colour.
    pub fn render(&self, diagnostics: &[Diagnostic]) -> String {
        let mut files = SimpleFiles::new();
        for (name, text, _) in &self.files {
            files.add(name.as_str(), text.as_str());
        }
        let config = term::Config::default();
        let mut out = String::new();
        for d in diagnostics.iter().take(MAX_RENDERED) {
            let severity = match d.severity {
                Severity::Error => cs::Severity::Error,
                Severity::Warning => cs::Severity::Warning,
            };
            let mut c = cs::Diagnostic::new(severity)
                .with_code(d.code.as_str())
                .with_message(&d.message);
            if let Some(loc) = &d.location {
                c = c.with_labels(vec![
                    cs::Label::primary(loc.file, loc.span.clone()).with_message(&d.label),
                ]);
            }
            let mut notes: Vec<String> = d.help.iter().map(|h| format!("help: {h}")).collect();
            notes.extend(d.notes.iter().map(|n| format!("note: {n}")));
            c = c.with_notes(notes);
            match term::emit_into_string(&config, &files, &c) {
                Ok(s) => out.push_str(&s),
                // A span outside its file is our bug, but the user still deserves the message.
                Err(_) => out.push_str(&format!(
                    "{}[{}]: {}\n",
                    severity_word(d),
                    d.code,
                    d.message
                )),
            }
        }
        if diagnostics.len() > MAX_RENDERED {
            out.push_str(&format!(
                "... and {} more (`--format json` lists them all)\n",
                diagnostics.len() - MAX_RENDERED
            ));
        }
        out
    }

    /// One JSON object per diagnostic (file, line, column, end, code, severity, message, help).
    pub fn render_json(&self, diagnostics: &[Diagnostic]) -> String {
        let mut out = String::new();
        for d in diagnostics {
            let (file, line, column, end_line, end_column) = match &d.location {
                Some(loc) => {
                    let (l, c) = self.line_col(loc.file, loc.span.start);
                    let (el, ec) = self.line_col(loc.file, loc.span.end);
                    (
                        Some(self.name(loc.file)),
                        Some(l),
                        Some(c),
                        Some(el),
                        Some(ec),
                    )
                }
                None => (None, None, None, None, None),
            };
            let v = serde_json::json!({
                "file": file, "line": line, "column": column,
                "end_line": end_line, "end_column": end_column,
                "code": d.code, "severity": d.severity, "message": d.message,
                "help": d.help, "notes": d.notes,
            });
            out.push_str(&v.to_string());
            out.push('\n');
        }
        out
    }

    /// `file:line:col` of a diagnostic, for short messages and tests.
    pub fn position(&self, d: &Diagnostic) -> Option<(String, usize, usize)> {
        let loc = d.location.as_ref()?;
        let (l, c) = self.line_col(loc.file, loc.span.start);
        Some((self.name(loc.file).to_string(), l, c))
    }
}

fn severity_word(d: &Diagnostic) -> &'static str {
    match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// The closest candidate to a misspelled name, for "did you mean" hints.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
