//! Records: reading them from CSV, JSON, JSONL or YAML, and checking each against the spec's
//! field declarations.
//!
//! Input: a data source. Output: an iterator of [`RawRecord`]s (streaming for CSV and JSONL:
//! memory does not grow with the number of records), then [`coerce`] turns one into a typed
//! record or a list of field errors. A bad record never stops the others.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use chrono::{DateTime, NaiveDate};
use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::diag::Code;
use crate::spec::model::{Field, FieldType};

/// Largest single value (cell, string) accepted in a record.
pub const MAX_FIELD_BYTES: usize = 1 << 20;
/// Largest single record (a CSV row, a JSONL line).
pub const MAX_RECORD_BYTES: usize = 8 << 20;

/// The format of a data source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header row (RFC 4180).
    Csv,
    /// A JSON array of objects.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// A YAML sequence of mappings.
    Yaml,
}

impl Format {
    /// The format a file name implies.
    pub fn from_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "yaml" | "yml" => Some(Format::Yaml),
            _ => None,
        }
    }

    /// Parses a `--data-format` value.
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "yaml" | "yml" => Some(Format::Yaml),
            _ => None,
        }
    }
}

/// A record as read, before type checks.
#[derive(Debug, Clone)]
pub struct RawRecord {
    /// 1-based position in the source.
    pub index: usize,
    /// 1-based line in the data file where the record starts, when known.
    pub line: Option<u64>,
    /// The values. CSV cells are strings (and may hold JSON for list/object fields).
    pub values: Map<String, Value>,
    /// Whether values are CSV text that must be converted to the declared types.
    pub from_text: bool,
}

/// A problem with a whole data source or one record of it.
#[derive(Debug, Clone)]
pub struct DataError {
    /// Stable code.
    pub code: Code,
    /// The field concerned, dotted for nested fields (`items.2.qty`).
    pub field: Option<String>,
    /// Lower-case message.
    pub message: String,
}

impl DataError {
    fn new(code: Code, field: Option<String>, message: impl Into<String>) -> Self {
        DataError {
            code,
            field,
            message: message.into(),
        }
    }
}

/// One item of a data source: a record, or an error at a position (the batch goes on).
pub type Item = Result<RawRecord, (usize, Option<u64>, DataError)>;

/// How to read a data source: what the spec declares about its records, and the CSV delimiter.
/// The default reads any source without knowing the spec (no header checks, commas).
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions<'a> {
    /// The spec's `data.fields`. With them a CSV header is checked once, for the whole source:
    /// a required field with no column is one error (not one per row), an undeclared column a
    /// warning.
    pub fields: Option<&'a IndexMap<String, Field>>,
    /// The spec's `data.key`: the field whose value groups consecutive rows into one record
    /// when the header has `[]` columns (`items[].sku`).
    pub key: Option<&'a str>,
    /// The CSV delimiter (one ASCII byte). `None`: a comma, or the semicolon or tab the header
    /// row plainly uses (see [`read_with`]).
    pub delimiter: Option<u8>,
}

/// An opened data source: its records, and what the user should hear once about the source
/// as a whole.
pub struct Opened {
    /// The records, streamed.
    pub items: Box<dyn Iterator<Item = Item>>,
    /// Problems that do not stop the source (a column no field declares), each to print once.
    pub warnings: Vec<DataError>,
    /// Plain notices (the delimiter that was detected), each to print once.
    pub notes: Vec<String>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("warnings", &self.warnings)
            .field("notes", &self.notes)
            .finish_non_exhaustive()
    }
}

/// The result of checking a CSV header against the spec: errors refuse the whole source (every
/// record would fail the same way), warnings do not.
#[derive(Debug, Clone, Default)]
pub struct HeaderCheck {
    /// Problems that refuse the source.
    pub errors: Vec<DataError>,
    /// Problems worth telling once.
    pub warnings: Vec<DataError>,
}

/// Opens a data source as a streaming iterator of records, without the spec's declarations
/// (see [`read_with`]).
///
/// # Errors
/// When the source as a whole cannot be read (not UTF-8 JSON, not an array, a CSV header whose
/// columns conflict...). Several header problems are joined into one message.
pub fn read(
    reader: Box<dyn Read + Send>,
    format: Format,
) -> Result<Box<dyn Iterator<Item = Item>>, DataError> {
    match read_with(reader, format, &ReadOptions::default()) {
        Ok(o) => Ok(o.items),
        Err(errors) => Err(join_errors(errors)),
    }
}

/// Opens a data source as a streaming iterator of records.
///
/// CSV columns are paths: `carrier.name` and `carrier.url` build the object
/// `{"carrier": {"name": .., "url": ..}}`, and `items[].sku`, `items[].qty` make `items` a list
/// with one element per row, consecutive rows with the same `opts.key` value forming one
/// record (the other columns must repeat the same value on each of its rows). With
/// `opts.fields`, the header is checked against the declarations ([`check_csv_header`]), and
/// when no delimiter is given and the header is one comma-free column that splits on `;` (or a
/// tab) into columns naming every required field, that delimiter is used and a note says so.
///
/// # Errors
/// Every problem with the source as a whole: unreadable, not the expected shape, or a CSV
/// header that cannot give valid records (conflicting columns, a required field with no
/// column, `[]` columns without a key).
pub fn read_with(
    reader: Box<dyn Read + Send>,
    format: Format,
    opts: &ReadOptions<'_>,
) -> Result<Opened, Vec<DataError>> {
    if format != Format::Csv && opts.delimiter.is_some() {
        return Err(vec![DataError::new(
            Code::DataParse,
            None,
            "a delimiter applies to CSV data only",
        )]);
    }
    let items: Box<dyn Iterator<Item = Item>> = match format {
        Format::Csv => return read_csv(reader, opts),
        Format::Jsonl => Box::new(read_jsonl(reader)),
        Format::Json => read_json(reader).map_err(|e| vec![e])?,
        Format::Yaml => read_yaml(reader).map_err(|e| vec![e])?,
    };
    Ok(Opened {
        items,
        warnings: Vec::new(),
        notes: Vec::new(),
    })
}

/// One error standing for several, for callers that take one.
pub(crate) fn join_errors(errors: Vec<DataError>) -> DataError {
    let code = errors.first().map_or(Code::DataParse, |e| e.code);
    let field = match errors.as_slice() {
        [one] => one.field.clone(),
        _ => None,
    };
    let message = errors
        .into_iter()
        .map(|e| e.message)
        .collect::<Vec<_>>()
        .join("; ");
    DataError::new(code, field, message)
}

/// Reads CRLF as LF. The csv crate reports a record's line one too low after CRLF line ends
/// (the LF of the previous row is still unread when the record starts), and `file:line` in
/// errors must be right. Line ends inside quoted cells become LF too, which changes nothing
/// downstream: bodies are normalised to CRLF when encoded, and headers refuse line breaks.
struct CrlfToLf<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    pending_cr: bool,
    eof: bool,
}

impl<R: Read> CrlfToLf<R> {
    fn new(inner: R) -> Self {
        CrlfToLf {
            inner,
            buf: vec![0; 64 << 10],
            pos: 0,
            len: 0,
            pending_cr: false,
            eof: false,
        }
    }
}

impl<R: Read> Read for CrlfToLf<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let mut w = 0;
        while w < out.len() {
            if self.pos == self.len {
                if self.eof || w > 0 {
                    break;
                }
                self.len = self.inner.read(&mut self.buf)?;
                self.pos = 0;
                if self.len == 0 {
                    self.eof = true;
                    if self.pending_cr {
                        // A lone CR at the very end stays as it was.
                        self.pending_cr = false;
                        out[w] = b'\r';
                        w += 1;
                    }
                    break;
                }
            }
            if self.pending_cr {
                self.pending_cr = false;
                if self.buf[self.pos] != b'\n' {
                    // A lone CR stays; the byte after it is read next (unless `out` is full).
                    out[w] = b'\r';
                    w += 1;
                    continue;
                }
            }
            // Copy up to the next CR (memchr: a byte at a time was a tenth of reading a row).
            let avail = &self.buf[self.pos..self.len];
            let take = avail.len().min(out.len() - w);
            let run = memchr::memchr(b'\r', &avail[..take]).unwrap_or(take);
            out[w..w + run].copy_from_slice(&avail[..run]);
            w += run;
            self.pos += run;
            if run < take {
                self.pos += 1;
                self.pending_cr = true;
            }
        }
        Ok(w)
    }
}

/// The list marker in a column path: the column `items[].sku` is the path `items`, `[]`, `sku`.
const LIST: &str = "[]";

/// What the header row says about every record: where each column goes.
#[derive(Debug)]
struct Plan {
    /// Each column's path in the record; `None` for a column that is ignored (no name, or a
    /// header error, which refuses the source anyway).
    paths: Vec<Option<Vec<String>>>,
    /// With `[]` columns: how rows are grouped into records.
    group: Option<Grouping>,
}

#[derive(Debug)]
struct Grouping {
    /// Path of the list the `[]` columns fill (`items`).
    list: Vec<String>,
    /// The column holding the record key.
    key_col: usize,
}

/// The tree of column paths. It finds conflicts (`carrier` and `carrier.name`) and drives the
/// checks against the declared fields.
#[derive(Debug, Default)]
struct Node {
    column: Option<usize>,
    children: IndexMap<String, Node>,
}

impl Node {
    fn first_column(&self) -> Option<usize> {
        self.column
            .or_else(|| self.children.values().find_map(Node::first_column))
    }

    fn columns(&self, out: &mut Vec<usize>) {
        out.extend(self.column);
        for c in self.children.values() {
            c.columns(out);
        }
    }

    /// The column that `path` would clash with: one giving a prefix of it, one built from parts
    /// of it, the same path, or a list and an object at the same place.
    fn clash(&self, path: &[String]) -> Option<usize> {
        let mut node = self;
        for seg in path {
            if node.column.is_some() {
                return node.column;
            }
            let other_shape = node
                .children
                .iter()
                .find(|(k, _)| (k.as_str() == LIST) != (seg == LIST));
            if let Some((_, n)) = other_shape {
                return n.first_column();
            }
            match node.children.get(seg) {
                Some(n) => node = n,
                None => return None,
            }
        }
        node.first_column()
    }

    fn insert(&mut self, path: &[String], column: usize) {
        let mut node = self;
        for seg in path {
            node = node.children.entry(seg.clone()).or_default();
        }
        node.column = Some(column);
    }
}

/// A column name as a path: `carrier.name` → `carrier`, `name`; `items[].sku` → `items`, `[]`,
/// `sku`.
fn parse_column(
    name: &str,
    fields: Option<&IndexMap<String, Field>>,
) -> Result<Vec<String>, String> {
    let mut path: Vec<String> = Vec::new();
    for piece in name.split('.') {
        let (seg, list) = match piece.strip_suffix(LIST) {
            Some(s) => (s, true),
            None => (piece, false),
        };
        if seg.is_empty() {
            return Err(format!(
                "column `{name}` has an empty name between dots; nested fields are written \
                 `carrier.name`, and one list element per row `items[].sku`"
            ));
        }
        // `items.0.sku` would be a list position: positions depend on how many elements a
        // record has, so they are refused rather than guessed; a numeric name is fine where
        // the spec declares it as an object's field.
        if seg.bytes().all(|b| b.is_ascii_digit()) && !declares(fields, &path, seg) {
            return Err(format!(
                "column `{name}`: `{seg}` looks like a list position, and positions cannot be \
                 columns; write one row per element with `[]` columns (`items[].sku`), or the \
                 whole list as JSON in one column"
            ));
        }
        path.push(seg.to_string());
        if list {
            path.push(LIST.to_string());
        }
    }
    if path.iter().filter(|s| *s == LIST).count() > 1 {
        return Err(format!(
            "column `{name}` has more than one `[]`: only one list can take one element per \
             row; give deeper lists as JSON in one column"
        ));
    }
    Ok(path)
}

/// Whether the spec declares `name` as a field of the object at `parent`.
fn declares(fields: Option<&IndexMap<String, Field>>, parent: &[String], name: &str) -> bool {
    let mut level = fields;
    let mut field: Option<&Field> = None;
    for seg in parent {
        field = if seg == LIST {
            field.and_then(|f| f.items.as_deref())
        } else {
            level.and_then(|m| m.get(seg))
        };
        level = field.and_then(|f| f.fields.as_ref());
    }
    level.is_some_and(|m| m.contains_key(name))
}

fn is_required(f: &Field) -> bool {
    f.default.is_none() && f.required != Some(false)
}

/// Spreadsheet headers drift in spacing, case and hyphens (`First Name`, `first-name`);
/// compared this way they still point at `first_name`.
fn normalise(s: &str) -> String {
    s.trim()
        .to_lowercase()
        .chars()
        .map(|c| if c == ' ' || c == '-' { '_' } else { c })
        .collect()
}

/// The candidate `name` most likely meant, for "did you mean" hints.
fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let n = normalise(name);
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let score = if normalise(c) == n {
            2.0
        } else {
            strsim::jaro_winkler(&n, &normalise(c))
        };
        if score > 0.85 && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Checks a CSV header against the spec's declared fields and `data.key`, once for the whole
/// source: conflicting or malformed column names, `[]` columns without a key, and required
/// fields with no column are errors (every record would fail the same way); a column no field
/// declares is a warning (its values are ignored), with a did-you-mean hint.
pub fn check_csv_header(
    fields: &IndexMap<String, Field>,
    key: Option<&str>,
    header: &[&str],
) -> HeaderCheck {
    let names: Vec<String> = header.iter().map(|h| clean_name(h)).collect();
    plan_header(&names, key, Some(fields)).1
}

/// A header cell as a name: no byte-order mark, no surrounding spaces.
fn clean_name(h: &str) -> String {
    h.trim_start_matches('\u{feff}').trim().to_string()
}

fn plan_header(
    names: &[String],
    key: Option<&str>,
    fields: Option<&IndexMap<String, Field>>,
) -> (Plan, HeaderCheck) {
    let mut check = HeaderCheck::default();
    let mut root = Node::default();
    let mut paths = Vec::with_capacity(names.len());
    let mut list: Option<(usize, Vec<String>)> = None;
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() {
            check.warnings.push(DataError::new(
                Code::DataParse,
                None,
                format!("column {} has no name, so its values are ignored", i + 1),
            ));
            paths.push(None);
            continue;
        }
        let path = match parse_column(name, fields) {
            Ok(p) => p,
            Err(m) => {
                check
                    .errors
                    .push(DataError::new(Code::DataParse, Some(name.clone()), m));
                paths.push(None);
                continue;
            }
        };
        if let Some(other) = root.clash(&path) {
            let first = names.get(other).map_or("", String::as_str);
            let message = if first == name {
                format!(
                    "column `{name}` appears twice (columns {} and {}): which value a record \
                     has would be a guess",
                    other + 1,
                    i + 1
                )
            } else {
                format!(
                    "columns `{first}` and `{name}` conflict: one place in the record cannot be \
                     both a single value and built from other columns, or both a list and an \
                     object; keep one of them"
                )
            };
            check
                .errors
                .push(DataError::new(Code::DataParse, Some(name.clone()), message));
            paths.push(None);
            continue;
        }
        if let Some(at) = path.iter().position(|s| s == LIST) {
            let head = path[..at].to_vec();
            match &list {
                Some((first, h)) if *h != head => {
                    let first = names.get(*first).map_or("", String::as_str);
                    check.errors.push(DataError::new(
                        Code::DataParse,
                        Some(name.clone()),
                        format!(
                            "columns `{first}` and `{name}` fill two different lists, and rows \
                             can fill only one list a file; give the other as JSON in one column"
                        ),
                    ));
                    paths.push(None);
                    continue;
                }
                Some(_) => {}
                None => list = Some((i, head)),
            }
        }
        root.insert(&path, i);
        paths.push(Some(path));
    }
    let group = match list {
        None => None,
        Some((first, head)) => {
            let first = names.get(first).map_or("", String::as_str);
            match key {
                None => {
                    check.errors.push(DataError::new(
                        Code::DataParse,
                        Some(first.to_string()),
                        format!(
                            "column `{first}` puts one list element on each row, and the rows of \
                             one record are grouped by its key, so a key is needed: set \
                             `data.key` in the spec"
                        ),
                    ));
                    None
                }
                Some(k) => {
                    let key_col = paths
                        .iter()
                        .position(|p| p.as_deref().is_some_and(|p| p.len() == 1 && p[0] == k));
                    match key_col {
                        Some(key_col) => Some(Grouping {
                            list: head,
                            key_col,
                        }),
                        None => {
                            check.errors.push(DataError::new(
                                Code::DataParse,
                                Some(k.to_string()),
                                format!(
                                    "column `{first}` puts one list element on each row, and the \
                                     rows of one record are grouped by the key `{k}`, but the \
                                     header has no `{k}` column"
                                ),
                            ));
                            None
                        }
                    }
                }
            }
        }
    };
    if let Some(fields) = fields
        && !names.is_empty()
    {
        let mut unknown = Vec::new();
        check_declared(fields, &root, "", key, names, &mut check, &mut unknown);
        warn_unknown(unknown, &mut check);
    }
    (Plan { paths, group }, check)
}

/// Column indexes no field declares, with the declared name each probably meant.
type Unknown = Vec<(String, Option<String>)>;

fn check_declared(
    fields: &IndexMap<String, Field>,
    node: &Node,
    prefix: &str,
    key: Option<&str>,
    names: &[String],
    check: &mut HeaderCheck,
    unknown: &mut Unknown,
) {
    for (name, f) in fields {
        let path = format!("{prefix}{name}");
        match node.children.get(name) {
            None if is_required(f) => {
                let mut message =
                    format!("the header has no column `{path}`, and every record needs it");
                if let Some(h) = closest(&path, names.iter().map(String::as_str)) {
                    message.push_str(&format!(" (the header has `{h}`: rename it to `{path}`)"));
                }
                check
                    .errors
                    .push(DataError::new(Code::DataMissingField, Some(path), message));
            }
            None => {}
            Some(child) => check_field(f, child, &path, names, check, unknown),
        }
    }
    let declared: Vec<String> = fields.keys().map(|k| format!("{prefix}{k}")).collect();
    for (seg, child) in &node.children {
        if fields.contains_key(seg) || (prefix.is_empty() && key == Some(seg.as_str())) {
            continue;
        }
        let mut cols = Vec::new();
        child.columns(&mut cols);
        for c in cols {
            let written = names.get(c).map_or("", String::as_str);
            let hint = closest(written, declared.iter().map(String::as_str)).map(str::to_string);
            unknown.push((written.to_string(), hint));
        }
    }
}

/// Checks the columns under one declared field: their shape must be one the field's type can
/// take, and its required parts must have columns.
fn check_field(
    f: &Field,
    node: &Node,
    path: &str,
    names: &[String],
    check: &mut HeaderCheck,
    unknown: &mut Unknown,
) {
    if node.column.is_some() {
        // One column with the whole value (a JSON list or object for those types).
        return;
    }
    let mut shape_error = |what: String| {
        check
            .errors
            .push(DataError::new(Code::DataType, Some(path.to_string()), what));
    };
    if let Some(element) = node.children.get(LIST) {
        if f.kind != FieldType::List {
            shape_error(format!(
                "the `{path}[]` columns make `{path}` a list, but `data.fields` declares it as {}",
                f.kind.as_str()
            ));
            return;
        }
        if element.children.is_empty() {
            return;
        }
        match f.items.as_deref() {
            Some(items) if items.kind == FieldType::Object => {
                if let Some(fs) = &items.fields {
                    check_declared(
                        fs,
                        element,
                        &format!("{path}[]."),
                        None,
                        names,
                        check,
                        unknown,
                    );
                }
            }
            Some(items) => shape_error(format!(
                "the `{path}[].…` columns make each element of `{path}` an object, but its \
                 elements are declared as {}",
                items.kind.as_str()
            )),
            None => {}
        }
        return;
    }
    if f.kind != FieldType::Object {
        shape_error(format!(
            "the `{path}.…` columns build an object, but `data.fields` declares `{path}` as {}",
            f.kind.as_str()
        ));
        return;
    }
    if let Some(fs) = &f.fields {
        check_declared(fs, node, &format!("{path}."), None, names, check, unknown);
    }
}

/// Undeclared columns are unusual, not unsafe: a warning, once. A likely typo gets its own
/// warning with the hint; the others are listed together, so a wide export with many unused
/// columns gives one line.
fn warn_unknown(unknown: Unknown, check: &mut HeaderCheck) {
    let mut plain = Vec::new();
    for (name, hint) in unknown {
        match hint {
            Some(h) => check.warnings.push(DataError::new(
                Code::DataParse,
                Some(name.clone()),
                format!(
                    "column `{name}` is not declared in `data.fields`, so its values are \
                     ignored; did you mean `{h}`?"
                ),
            )),
            None => plain.push(format!("`{name}`")),
        }
    }
    const SHOWN: usize = 10;
    let message = match plain.len() {
        0 => return,
        1 => format!(
            "column {} is not declared in `data.fields`, so its values are ignored",
            plain[0]
        ),
        n if n <= SHOWN => format!(
            "columns {} are not declared in `data.fields`, so their values are ignored",
            plain.join(", ")
        ),
        n => format!(
            "columns {} and {} more are not declared in `data.fields`, so their values are \
             ignored",
            plain[..SHOWN].join(", "),
            n - SHOWN
        ),
    };
    check
        .warnings
        .push(DataError::new(Code::DataParse, None, message));
}

/// The cells of one header line split on `delimiter`, for choosing the delimiter only.
fn header_cells(line: &[u8], delimiter: u8) -> Vec<String> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(line);
    let mut rec = csv::ByteRecord::new();
    match r.read_byte_record(&mut rec) {
        Ok(true) => rec
            .iter()
            .map(|c| clean_name(&String::from_utf8_lossy(c)))
            .collect(),
        _ => Vec::new(),
    }
}

/// Chooses the delimiter when none was given, from the header line alone. Spreadsheets in
/// many locales export `nombre;email`; read with commas that is one column and every record
/// would fail. The switch is made only when it is unambiguous: the comma split gives one
/// column that is not a declared field, exactly one of `;` and tab splits it, and the columns
/// it gives then name every required field (and at least one declared field).
fn choose_delimiter(
    line: &[u8],
    fields: &IndexMap<String, Field>,
) -> Result<(u8, Option<String>), Vec<DataError>> {
    let comma = header_cells(line, b',');
    let [only] = comma.as_slice() else {
        return Ok((b',', None));
    };
    if !only.contains([';', '\t']) || fields.contains_key(only.as_str()) {
        return Ok((b',', None));
    }
    let options: Vec<(u8, &str, &str, Vec<String>)> =
        [(b';', "semicolon", "';'"), (b'\t', "tab", "tab")]
            .into_iter()
            .map(|(d, what, arg)| (d, what, arg, header_cells(line, d)))
            .filter(|(_, _, _, cells)| cells.len() > 1)
            .collect();
    let shown = truncate(only, 60);
    match options.as_slice() {
        [] => Ok((b',', None)),
        [(d, what, arg, cells)] => {
            let heads: Vec<&str> = cells
                .iter()
                .map(|c| {
                    let first = c.split('.').next().unwrap_or(c);
                    first.strip_suffix(LIST).unwrap_or(first)
                })
                .collect();
            let all_required = fields
                .iter()
                .filter(|(_, f)| is_required(f))
                .all(|(n, _)| heads.contains(&n.as_str()));
            let any = fields.keys().any(|n| heads.contains(&n.as_str()));
            if all_required && any {
                Ok((
                    *d,
                    Some(format!(
                        "the header row is one comma-free column that splits on {what}s into \
                         the declared fields, so the file is read as {what}-separated (pass \
                         --delimiter {arg} to say so)"
                    )),
                ))
            } else if fields.values().any(is_required) {
                Err(vec![DataError::new(
                    Code::DataParse,
                    None,
                    format!(
                        "the header row is one column, `{shown}`: this looks \
                         {what}-separated; use --delimiter {arg}"
                    ),
                )])
            } else {
                Ok((b',', None))
            }
        }
        _ => Err(vec![DataError::new(
            Code::DataParse,
            None,
            format!(
                "the header row is one column, `{shown}`: this looks semicolon- or \
                 tab-separated; use --delimiter ';' or --delimiter tab"
            ),
        )]),
    }
}

fn read_csv(
    reader: Box<dyn Read + Send>,
    opts: &ReadOptions<'_>,
) -> Result<Opened, Vec<DataError>> {
    let mut input = BufReader::new(CrlfToLf::new(reader));
    // The header line is read ahead, to choose the delimiter, then put back in front.
    let mut first = Vec::new();
    (&mut input)
        .take(MAX_RECORD_BYTES as u64)
        .read_until(b'\n', &mut first)
        .map_err(|e| {
            vec![DataError::new(
                Code::DataParse,
                None,
                format!("cannot read the CSV header row: {e}"),
            )]
        })?;
    let mut notes = Vec::new();
    let delimiter = match (opts.delimiter, opts.fields) {
        (Some(d), _) => d,
        (None, Some(fields)) => {
            let (d, note) = choose_delimiter(&first, fields)?;
            notes.extend(note);
            d
        }
        (None, None) => b',',
    };
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(BlankLines::new(std::io::Cursor::new(first).chain(input)));
    let header = rdr.byte_headers().map_err(|e| {
        vec![DataError::new(
            Code::DataParse,
            None,
            format!("cannot read the CSV header row: {e}"),
        )]
    })?;
    let names = header
        .iter()
        .map(|h| std::str::from_utf8(h).map(clean_name))
        .collect::<Result<Vec<String>, _>>()
        .map_err(|_| {
            vec![DataError::new(
                Code::DataParse,
                None,
                "the CSV header row is not valid UTF-8",
            )]
        })?;
    let (plan, check) = plan_header(&names, opts.key, opts.fields);
    if !check.errors.is_empty() {
        return Err(check.errors);
    }
    Ok(Opened {
        items: Box::new(CsvRows {
            rdr,
            rec: csv::ByteRecord::new(),
            width: names.len(),
            plan,
            index: 0,
            done: false,
            ready: std::collections::VecDeque::new(),
            group: None,
        }),
        warnings: check.warnings,
        notes,
    })
}

/// Notes where blank lines are in the stream under the csv reader. The csv crate skips blank
/// lines between records but gives the next record the position where they began, so its line
/// would be too low by the number skipped; `file:line` in errors must point at the row.
struct BlankLines<R> {
    inner: R,
    /// Bytes read so far.
    offset: u64,
    /// Whether the last byte read was a line feed.
    after_lf: bool,
    /// Runs of blank lines not yet passed by a record: (offset of the first, how many).
    /// Those behind the current record are dropped, so this holds at most what the csv reader
    /// has buffered ahead.
    runs: std::collections::VecDeque<(u64, u64)>,
}

impl<R: Read> BlankLines<R> {
    fn new(inner: R) -> Self {
        BlankLines {
            inner,
            offset: 0,
            after_lf: false,
            runs: std::collections::VecDeque::new(),
        }
    }

    /// How many blank lines start at `offset` (where a record's position points). Line feeds
    /// in a row inside a quoted cell are noted too, but no record starts there.
    fn skipped_at(&mut self, offset: u64) -> u64 {
        while self.runs.front().is_some_and(|&(start, _)| start < offset) {
            self.runs.pop_front();
        }
        match self.runs.front() {
            Some(&(start, n)) if start == offset => n,
            _ => 0,
        }
    }
}

impl<R: Read> Read for BlankLines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let data = &buf[..n];
        for i in memchr::memchr_iter(b'\n', data) {
            let after_lf = if i == 0 {
                self.after_lf
            } else {
                data[i - 1] == b'\n'
            };
            if after_lf {
                let at = self.offset + i as u64;
                match self.runs.back_mut() {
                    Some((start, count)) if *start + *count == at => *count += 1,
                    _ => self.runs.push_back((at, 1)),
                }
            }
        }
        if let Some(&last) = data.last() {
            self.after_lf = last == b'\n';
        }
        self.offset += n as u64;
        Ok(n)
    }
}

/// One row as read.
enum Row {
    Good {
        line: Option<u64>,
        cells: Vec<String>,
        bytes: usize,
    },
    Bad {
        line: Option<u64>,
        /// The row's key, when it can be trusted: which record a bad row belongs to decides
        /// whether that record is refused with it.
        key: Option<String>,
        error: DataError,
    },
    Blank,
    End,
}

/// The rows of one record being grouped: one group in memory at a time.
struct Group {
    key: String,
    line: Option<u64>,
    bytes: usize,
    rows: usize,
    /// The first row's cells, to check that the other rows repeat the columns outside the list.
    first: Vec<String>,
    /// The record without its list.
    values: Map<String, Value>,
    elements: Vec<Value>,
    /// Whether every list cell of the first row is empty.
    first_blank: bool,
    /// Columns outside the list that differ from the first row: (column, line, value).
    differ: Vec<(usize, Option<u64>, String)>,
    /// Why the record is refused, when it is.
    failure: Option<DataError>,
}

struct CsvRows<R: Read> {
    rdr: csv::Reader<BlankLines<R>>,
    rec: csv::ByteRecord,
    width: usize,
    plan: Plan,
    index: usize,
    done: bool,
    ready: std::collections::VecDeque<Item>,
    group: Option<Group>,
}

/// Puts `v` at `path` inside `map`, making the objects on the way. False if a value is already
/// in the way, which the header checks rule out.
fn insert_path(map: &mut Map<String, Value>, path: &[String], v: Value) -> bool {
    match path {
        [] => false,
        [last] => map.insert(last.clone(), v).is_none(),
        [first, rest @ ..] => match map
            .entry(first.clone())
            .or_insert_with(|| Value::Object(Map::new()))
        {
            Value::Object(m) => insert_path(m, rest, v),
            _ => false,
        },
    }
}

fn line_text(line: Option<u64>) -> String {
    line.map_or_else(|| "a row".to_string(), |l| format!("line {l}"))
}

impl<R: Read> CsvRows<R> {
    fn read_row(&mut self) -> Row {
        match self.rdr.read_byte_record(&mut self.rec) {
            Ok(false) => Row::End,
            Ok(true) => {
                let rec = &self.rec;
                let line = rec.position().map(|p| {
                    let skipped = self.rdr.get_mut().skipped_at(p.byte());
                    p.line() + skipped
                });
                if rec.len() == 1 && rec.get(0).is_some_and(<[u8]>::is_empty) && self.width > 1 {
                    return Row::Blank;
                }
                let key_col = self.plan.group.as_ref().map(|g| g.key_col);
                // With too few or too many cells, a cell may have shifted: only the first
                // column still names the same thing.
                let aligned = rec.len() == self.width;
                let key = key_col
                    .filter(|&k| aligned || k == 0)
                    .and_then(|k| rec.get(k))
                    .and_then(|c| std::str::from_utf8(c).ok())
                    .map(str::to_string);
                if !aligned {
                    return Row::Bad {
                        line,
                        key,
                        error: DataError::new(
                            Code::DataParse,
                            None,
                            format!("row has {} cells, the header has {}", rec.len(), self.width),
                        ),
                    };
                }
                let bytes = rec.as_slice().len();
                if bytes > MAX_RECORD_BYTES {
                    return Row::Bad {
                        line,
                        key,
                        error: DataError::new(
                            Code::DataLimit,
                            None,
                            format!("row is larger than {MAX_RECORD_BYTES} bytes"),
                        ),
                    };
                }
                match rec
                    .iter()
                    .map(|c| std::str::from_utf8(c).map(str::to_string))
                    .collect::<Result<Vec<_>, _>>()
                {
                    Ok(cells) => Row::Good { line, cells, bytes },
                    Err(_) => Row::Bad {
                        line,
                        key,
                        error: DataError::new(Code::DataParse, None, "row is not valid UTF-8"),
                    },
                }
            }
            Err(e) => {
                let line = e.position().map(|p| p.line());
                // An I/O error ends the source; a bad row does not.
                self.done = matches!(e.kind(), csv::ErrorKind::Io(_));
                Row::Bad {
                    line,
                    key: None,
                    error: DataError::new(Code::DataParse, None, format!("cannot parse CSV: {e}")),
                }
            }
        }
    }

    fn push_error(&mut self, line: Option<u64>, error: DataError) {
        self.index += 1;
        self.ready.push_back(Err((self.index, line, error)));
    }

    /// A record from one row, without grouping.
    fn record(&mut self, line: Option<u64>, cells: Vec<String>) -> Item {
        self.index += 1;
        let mut values = Map::new();
        for (path, cell) in self.plan.paths.iter().zip(cells) {
            if let Some(p) = path
                && !insert_path(&mut values, p, Value::String(cell))
            {
                return Err((self.index, line, misplaced(p)));
            }
        }
        Ok(RawRecord {
            index: self.index,
            line,
            values,
            from_text: true,
        })
    }

    /// The list element a row gives, whether all its list cells are empty, and a placing
    /// failure (ruled out by the header checks).
    fn element(&self, cells: &[String]) -> (Value, bool, Option<DataError>) {
        let mut object = Map::new();
        let mut scalar = None;
        let mut blank = true;
        let mut failure = None;
        for (path, cell) in self.plan.paths.iter().zip(cells) {
            let Some(p) = path else { continue };
            let Some(at) = p.iter().position(|s| s == LIST) else {
                continue;
            };
            blank &= cell.is_empty();
            let tail = &p[at + 1..];
            if tail.is_empty() {
                scalar = Some(Value::String(cell.clone()));
            } else if !insert_path(&mut object, tail, Value::String(cell.clone())) {
                failure.get_or_insert_with(|| misplaced(p));
            }
        }
        (scalar.unwrap_or(Value::Object(object)), blank, failure)
    }

    /// Starts a group with its first row.
    fn start(&self, key: String, line: Option<u64>, cells: Vec<String>, bytes: usize) -> Group {
        let (element, first_blank, mut failure) = self.element(&cells);
        let mut values = Map::new();
        for (path, cell) in self.plan.paths.iter().zip(&cells) {
            let Some(p) = path else { continue };
            if !p.iter().any(|s| s == LIST)
                && !insert_path(&mut values, p, Value::String(cell.clone()))
            {
                failure.get_or_insert_with(|| misplaced(p));
            }
        }
        Group {
            key,
            line,
            bytes,
            rows: 1,
            first: cells,
            values,
            elements: vec![element],
            first_blank,
            differ: Vec::new(),
            failure,
        }
    }

    /// Adds a further row of the same key to the open group.
    fn extend(&mut self, line: Option<u64>, cells: Vec<String>, bytes: usize) {
        let Some(mut g) = self.group.take() else {
            return;
        };
        g.rows += 1;
        g.bytes = g.bytes.saturating_add(bytes);
        if g.failure.is_none() && g.bytes > MAX_RECORD_BYTES {
            g.failure = Some(DataError::new(
                Code::DataLimit,
                None,
                format!(
                    "the rows of key `{}` are larger than {MAX_RECORD_BYTES} bytes together",
                    truncate(&g.key, 60)
                ),
            ));
        }
        if g.failure.is_some() {
            // A refused record keeps nothing more.
            g.elements = Vec::new();
            g.values = Map::new();
        } else {
            let (element, _, failure) = self.element(&cells);
            g.failure = failure;
            g.elements.push(element);
            for (i, (path, cell)) in self.plan.paths.iter().zip(cells).enumerate() {
                let outside_list = path.as_ref().is_some_and(|p| !p.iter().any(|s| s == LIST));
                if outside_list
                    && g.first.get(i) != Some(&cell)
                    && !g.differ.iter().any(|d| d.0 == i)
                {
                    g.differ.push((i, line, cell));
                }
            }
        }
        self.group = Some(g);
    }

    /// Ends a group: its record, or why it is refused.
    fn close(&mut self, g: Group) {
        self.index += 1;
        let item = self.finish(self.index, g);
        self.ready.push_back(item);
    }

    fn finish(&self, index: usize, g: Group) -> Item {
        if let Some(f) = g.failure {
            return Err((index, g.line, f));
        }
        if let Some((col, line, value)) = g.differ.first() {
            let name = self.column_name(*col);
            let was = g.first.get(*col).map_or("", String::as_str);
            let mut message = format!(
                "the rows of key `{}` disagree on `{name}`: {} has `{}`, {} has `{}` (columns \
                 without `[]` must repeat the same value on every row of a record)",
                truncate(&g.key, 60),
                line_text(g.line),
                truncate(was, 60),
                line_text(*line),
                truncate(value, 60),
            );
            if g.differ.len() > 1 {
                let others: Vec<String> = g.differ[1..]
                    .iter()
                    .map(|(c, l, _)| format!("`{}` ({})", self.column_name(*c), line_text(*l)))
                    .collect();
                message.push_str(&format!("; they also disagree on {}", others.join(", ")));
            }
            return Err((
                index,
                g.line,
                DataError::new(Code::DataParse, Some(name), message),
            ));
        }
        let Some(grouping) = &self.plan.group else {
            return Err((index, g.line, misplaced(&[])));
        };
        let mut values = g.values;
        // A record's only row with every list cell empty is a record with no elements (an
        // order without items, as exports write it); among several rows, an empty element is
        // kept, and the type checks refuse it by name.
        let elements = if g.rows == 1 && g.first_blank {
            Vec::new()
        } else {
            g.elements
        };
        if !insert_path(&mut values, &grouping.list, Value::Array(elements)) {
            return Err((index, g.line, misplaced(&grouping.list)));
        }
        Ok(RawRecord {
            index,
            line: g.line,
            values,
            from_text: true,
        })
    }

    fn column_name(&self, col: usize) -> String {
        self.plan
            .paths
            .get(col)
            .and_then(Option::as_ref)
            .map(|p| p.join(".").replace(".[]", "[]"))
            .unwrap_or_default()
    }

    fn next_grouped(&mut self, key_col: usize) -> Option<Item> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(item);
            }
            if self.done {
                let g = self.group.take()?;
                self.close(g);
                continue;
            }
            match self.read_row() {
                Row::End => self.done = true,
                Row::Blank => {}
                Row::Bad { line, key, error } => match (self.group.as_mut(), key) {
                    (Some(g), Some(k)) if !k.is_empty() && k == g.key => {
                        g.rows += 1;
                        g.failure.get_or_insert_with(|| {
                            DataError::new(
                                error.code,
                                error.field.clone(),
                                format!(
                                    "{}, one of its rows, cannot be read: {}",
                                    line_text(line),
                                    error.message
                                ),
                            )
                        });
                    }
                    (Some(g), None) => {
                        // It may belong to this record: sending the record without it could
                        // drop an element, so the record is refused too. The row is reported
                        // now, before the record it interrupts, so nothing piles up in memory.
                        let key = truncate(&g.key, 60);
                        g.failure.get_or_insert_with(|| {
                            DataError::new(
                                error.code,
                                None,
                                format!(
                                    "{} cannot be read and may be one of the rows of key `{key}`",
                                    line_text(line)
                                ),
                            )
                        });
                        self.push_error(line, error);
                    }
                    (open, _) => {
                        if open.is_some()
                            && let Some(g) = self.group.take()
                        {
                            self.close(g);
                        }
                        self.push_error(line, error);
                    }
                },
                Row::Good { line, cells, bytes } => {
                    let key = cells.get(key_col).cloned().unwrap_or_default();
                    if self
                        .group
                        .as_ref()
                        .is_some_and(|g| !key.is_empty() && g.key == key)
                    {
                        self.extend(line, cells, bytes);
                        continue;
                    }
                    let next = self.start(key, line, cells, bytes);
                    if let Some(prev) = self.group.replace(next) {
                        self.close(prev);
                    }
                }
            }
        }
    }
}

/// An error for a column the header checks should have refused.
fn misplaced(path: &[String]) -> DataError {
    DataError::new(
        Code::DataParse,
        None,
        format!(
            "cannot place the column `{}` in the record",
            path.join(".").replace(".[]", "[]")
        ),
    )
}

impl<R: Read> Iterator for CsvRows<R> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        if let Some(key_col) = self.plan.group.as_ref().map(|g| g.key_col) {
            return self.next_grouped(key_col);
        }
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(item);
            }
            if self.done {
                return None;
            }
            match self.read_row() {
                Row::End => {
                    self.done = true;
                    return None;
                }
                Row::Blank => {}
                Row::Bad { line, error, .. } => self.push_error(line, error),
                Row::Good { line, cells, .. } => return Some(self.record(line, cells)),
            }
        }
    }
}

fn read_jsonl(reader: Box<dyn Read + Send>) -> impl Iterator<Item = Item> {
    let mut lines = BufReader::new(reader);
    let mut index = 0usize;
    let mut line_no = 0u64;
    let mut buf = Vec::new();
    std::iter::from_fn(move || {
        loop {
            buf.clear();
            // Bounded read: a single line may not exceed the record limit.
            let n = match (&mut lines)
                .take(MAX_RECORD_BYTES as u64 + 1)
                .read_until(b'\n', &mut buf)
            {
                Ok(0) => return None,
                Ok(n) => n,
                Err(e) => {
                    index += 1;
                    return Some(Err((
                        index,
                        Some(line_no + 1),
                        DataError::new(Code::DataParse, None, format!("cannot read: {e}")),
                    )));
                }
            };
            line_no += 1;
            if n > MAX_RECORD_BYTES {
                index += 1;
                // Skip the rest of the oversized line.
                let mut sink = Vec::new();
                let _ = lines.read_until(b'\n', &mut sink);
                return Some(Err((
                    index,
                    Some(line_no),
                    DataError::new(
                        Code::DataLimit,
                        None,
                        format!("line is larger than {MAX_RECORD_BYTES} bytes"),
                    ),
                )));
            }
            let text = match std::str::from_utf8(&buf) {
                Ok(t) => t.trim(),
                Err(_) => {
                    index += 1;
                    return Some(Err((
                        index,
                        Some(line_no),
                        DataError::new(Code::DataParse, None, "line is not valid UTF-8"),
                    )));
                }
            };
            if text.is_empty() {
                continue;
            }
            index += 1;
            return Some(match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(values)) => Ok(RawRecord {
                    index,
                    line: Some(line_no),
                    values,
                    from_text: false,
                }),
                Ok(other) => Err((
                    index,
                    Some(line_no),
                    DataError::new(
                        Code::DataParse,
                        None,
                        format!("expected a JSON object, found {}", json_kind(&other)),
                    ),
                )),
                Err(e) => Err((
                    index,
                    Some(line_no),
                    DataError::new(Code::DataParse, None, format!("invalid JSON: {e}")),
                )),
            });
        }
    })
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn records_from_array(items: Vec<Value>) -> Box<dyn Iterator<Item = Item>> {
    Box::new(items.into_iter().enumerate().map(|(i, v)| match v {
        Value::Object(values) => Ok(RawRecord {
            index: i + 1,
            line: None,
            values,
            from_text: false,
        }),
        other => Err((
            i + 1,
            None,
            DataError::new(
                Code::DataParse,
                None,
                format!("expected an object, found {}", json_kind(&other)),
            ),
        )),
    }))
}

/// Streams the elements of a top-level JSON array, one at a time, so memory does not grow with
/// the number of records. serde_json has no pull parser for array elements, so a thread
/// deserializes the array with a visitor and hands each element over a small bounded channel.
fn read_json(reader: Box<dyn Read + Send>) -> Result<Box<dyn Iterator<Item = Item>>, DataError> {
    let mut reader = BufReader::new(reader);
    // Peek at the first significant byte: a file that is not an array is an error for the
    // whole source, not for "record 1".
    loop {
        let buf = reader
            .fill_buf()
            .map_err(|e| DataError::new(Code::DataParse, None, format!("cannot read JSON: {e}")))?;
        match buf
            .iter()
            .position(|b| !b.is_ascii_whitespace() && *b != 0xEF && *b != 0xBB && *b != 0xBF)
        {
            Some(i) => {
                let first = buf[i];
                reader.consume(i);
                if first != b'[' {
                    let what = match first {
                        b'{' => "an object",
                        b'"' => "a string",
                        _ => "something else",
                    };
                    return Err(DataError::new(
                        Code::DataParse,
                        None,
                        format!("expected a JSON array of objects, found {what}"),
                    ));
                }
                break;
            }
            None if buf.is_empty() => {
                return Err(DataError::new(
                    Code::DataParse,
                    None,
                    "the JSON file is empty",
                ));
            }
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    }
    let (tx, rx) = std::sync::mpsc::sync_channel::<Item>(64);
    std::thread::spawn(move || {
        let mut de = serde_json::Deserializer::from_reader(reader);
        let mut visitor = ArrayVisitor {
            tx: tx.clone(),
            index: 0,
        };
        let result = serde::Deserializer::deserialize_seq(&mut de, &mut visitor);
        if let Err(e) = result {
            // A syntax error ends the stream: the records after it cannot be found.
            let _ = tx.send(Err((
                visitor.index + 1,
                Some(e.line() as u64),
                DataError::new(Code::DataParse, None, format!("invalid JSON: {e}")),
            )));
        }
    });
    Ok(Box::new(rx.into_iter()))
}

struct ArrayVisitor {
    tx: std::sync::mpsc::SyncSender<Item>,
    index: usize,
}

impl<'de> serde::de::Visitor<'de> for &mut ArrayVisitor {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of objects")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<Value>()? {
            self.index += 1;
            let item = match v {
                Value::Object(values) => Ok(RawRecord {
                    index: self.index,
                    line: None,
                    values,
                    from_text: false,
                }),
                other => Err((
                    self.index,
                    None,
                    DataError::new(
                        Code::DataParse,
                        None,
                        format!("expected an object, found {}", json_kind(&other)),
                    ),
                )),
            };
            if self.tx.send(item).is_err() {
                // The reader stopped early (--limit, --fail-fast): nothing more to do.
                return Ok(());
            }
        }
        Ok(())
    }
}

fn read_yaml(
    mut reader: Box<dyn Read + Send>,
) -> Result<Box<dyn Iterator<Item = Item>>, DataError> {
    let mut text = String::new();
    reader
        .read_to_string(&mut text)
        .map_err(|e| DataError::new(Code::DataParse, None, format!("cannot read YAML: {e}")))?;
    let mut sources = crate::diag::Sources::default();
    let id = sources.add("data", text);
    // Data files share the spec loader's limits and typing; a sequence at the top is required.
    match crate::spec::yaml::load_any(&sources, id) {
        Ok(Value::Array(items)) => Ok(records_from_array(items)),
        Ok(other) => Err(DataError::new(
            Code::DataParse,
            None,
            format!(
                "expected a YAML list of mappings, found {}",
                json_kind(&other)
            ),
        )),
        Err(d) => Err(DataError::new(
            Code::DataParse,
            None,
            d.first().map(|d| d.message.clone()).unwrap_or_default(),
        )),
    }
}

/// Size checks on a raw record, before any conversion: every string value (at any depth) must
/// be at most `max_field` bytes. A 100 MB cell is refused here, by name, before a template
/// ever sees it.
pub fn check_limits(raw: &RawRecord, max_field: usize) -> Vec<DataError> {
    fn walk(v: &Value, path: &str, max: usize, out: &mut Vec<DataError>) {
        match v {
            Value::String(s) if s.len() > max => out.push(DataError::new(
                Code::DataLimit,
                Some(path.to_string()),
                format!(
                    "`{path}` is {} bytes, more than the limit of {max}",
                    s.len()
                ),
            )),
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(x, &format!("{path}.{i}"), max, out);
                }
            }
            Value::Object(m) => {
                for (k, x) in m {
                    walk(x, &format!("{path}.{k}"), max, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (k, v) in &raw.values {
        walk(v, k, max_field, &mut out);
    }
    out
}

/// Checks and converts one record against the declared fields, applying defaults.
/// Undeclared values are dropped (templates cannot use them anyway).
///
/// # Errors
/// Every problem with the record, one per field.
pub fn coerce(
    fields: &IndexMap<String, Field>,
    raw: &RawRecord,
) -> Result<Map<String, Value>, Vec<DataError>> {
    let mut out = Map::new();
    let mut errors = Vec::new();
    coerce_fields(
        fields,
        &raw.values,
        raw.from_text,
        None,
        &mut out,
        &mut errors,
    );
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Where a value sits in a record (`items.2.sku`), written out only when an error names it: a
/// valid record costs no string per field.
#[derive(Debug, Clone, Copy)]
pub enum FieldPath<'a> {
    /// A field of the record (or any name, as given).
    Top(&'a str),
    /// A field of an object.
    Field(&'a FieldPath<'a>, &'a str),
    /// An element of a list.
    Item(&'a FieldPath<'a>, usize),
}

impl std::fmt::Display for FieldPath<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FieldPath::Top(name) => f.write_str(name),
            FieldPath::Field(parent, name) => write!(f, "{parent}.{name}"),
            FieldPath::Item(parent, i) => write!(f, "{parent}.{i}"),
        }
    }
}

fn coerce_fields(
    fields: &IndexMap<String, Field>,
    values: &Map<String, Value>,
    from_text: bool,
    parent: Option<&FieldPath<'_>>,
    out: &mut Map<String, Value>,
    errors: &mut Vec<DataError>,
) {
    for (name, field) in fields {
        let path = match parent {
            None => FieldPath::Top(name),
            Some(p) => FieldPath::Field(p, name),
        };
        // An empty CSV cell is a missing value: a blank first name must fail loudly (or take
        // the default), never render as "Hello ,".
        let value = values.get(name).filter(|v| !is_blank(v, from_text));
        match value {
            Some(v) => match coerce_value(field, v, from_text, &path) {
                Ok(v) => {
                    out.insert(name.clone(), v);
                }
                Err(e) => errors.extend(e),
            },
            None => {
                if let Some(d) = &field.default {
                    out.insert(name.clone(), d.clone());
                } else if field.required == Some(false) {
                    out.insert(name.clone(), Value::Null);
                } else {
                    errors.push(DataError::new(
                        Code::DataMissingField,
                        Some(path.to_string()),
                        format!("missing required field `{path}`"),
                    ));
                }
            }
        }
    }
}

/// Whether a value counts as missing. In CSV an empty cell is missing, and so is an object built
/// from `carrier.*` columns that are all empty: an optional carrier left blank is no carrier,
/// and a required one is reported once, as missing, not once per part.
fn is_blank(v: &Value, from_text: bool) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => from_text && s.is_empty(),
        Value::Object(m) => from_text && m.values().all(|x| is_blank(x, true)),
        _ => false,
    }
}

/// Converts one value to the field's type. `from_text`: the value is CSV text (a cell, or a
/// list or object built from cells), so `"3"` may be a number and `""` is missing.
pub fn coerce_value(
    field: &Field,
    v: &Value,
    from_text: bool,
    path: &FieldPath<'_>,
) -> Result<Value, Vec<DataError>> {
    let bad = |msg: String| vec![DataError::new(Code::DataType, Some(path.to_string()), msg)];
    let text = v.as_str();
    let shown = || match v {
        Value::String(s) => format!("`{}`", truncate(s, 60)),
        other => json_kind(other).to_string(),
    };
    let result = match field.kind {
        FieldType::String => match v {
            Value::String(_) => Ok(v.clone()),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err(bad(format!("`{path}` must be text, found {}", shown()))),
        },
        FieldType::Email => match text {
            Some(s) => match crate::mime::parse_addr_spec(s.trim(), true) {
                Ok(_) => Ok(Value::String(s.trim().to_string())),
                Err(e) => Err(vec![DataError::new(
                    Code::DataAddress,
                    Some(path.to_string()),
                    format!("`{path}` is not a valid email address: {e}"),
                )]),
            },
            None => Err(bad(format!(
                "`{path}` must be an email address, found {}",
                shown()
            ))),
        },
        FieldType::Integer => match v {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(v.clone()),
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(|i| Value::Number(i.into()))
                .map_err(|_| {
                    bad(format!(
                        "`{path}` must be a whole number, found {}",
                        shown()
                    ))
                }),
            _ => Err(bad(format!(
                "`{path}` must be a whole number, found {}",
                shown()
            ))),
        },
        FieldType::Decimal => {
            // Kept as text so no binary rounding ever touches a price.
            let s = match v {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.trim().to_string(),
                _ => String::new(),
            };
            if is_decimal(&s) {
                Ok(Value::String(s))
            } else {
                Err(bad(format!(
                    "`{path}` must be a decimal number like `1234.56`, found {}",
                    shown()
                )))
            }
        }
        FieldType::Boolean => match v {
            Value::Bool(_) => Ok(v.clone()),
            Value::String(s) if from_text => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Ok(Value::Bool(true)),
                "false" | "no" | "0" => Ok(Value::Bool(false)),
                _ => Err(bad(format!(
                    "`{path}` must be true or false, found {}",
                    shown()
                ))),
            },
            _ => Err(bad(format!(
                "`{path}` must be true or false, found {}",
                shown()
            ))),
        },
        FieldType::Date => match text.map(str::trim) {
            Some(s) if NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() => {
                Ok(Value::String(s.to_string()))
            }
            _ => Err(bad(format!(
                "`{path}` must be a date `YYYY-MM-DD`, found {}",
                shown()
            ))),
        },
        FieldType::Datetime => match text.map(str::trim) {
            Some(s) if DateTime::parse_from_rfc3339(s).is_ok() => Ok(Value::String(s.to_string())),
            _ => Err(bad(format!(
                "`{path}` must be an RFC 3339 date and time like `2024-06-15T13:15:07+01:00`, found {}",
                shown()
            ))),
        },
        FieldType::Url => match text.map(str::trim) {
            Some(s) if is_url(s) => Ok(Value::String(s.to_string())),
            _ => Err(bad(format!(
                "`{path}` must be an absolute http(s) URL, found {}",
                shown()
            ))),
        },
        FieldType::List => {
            let parsed;
            // A JSON cell holds JSON values; a list built from `[]` columns holds CSV text.
            let (v, inner_text) = match v {
                Value::String(s) if from_text => {
                    parsed = serde_json::from_str::<Value>(s).map_err(|e| {
                        bad(format!("`{path}` must be a JSON list in the cell: {e}"))
                    })?;
                    (&parsed, false)
                }
                v => (v, from_text),
            };
            match v {
                Value::Array(items) => {
                    if let Some(max) = field.max_length
                        && items.len() as u64 > max
                    {
                        return Err(vec![DataError::new(
                            Code::DataLimit,
                            Some(path.to_string()),
                            format!("`{path}` has {} elements, more than {max}", items.len()),
                        )]);
                    }
                    let mut out = Vec::with_capacity(items.len());
                    let mut errs = Vec::new();
                    for (i, item) in items.iter().enumerate() {
                        let p = FieldPath::Item(path, i);
                        match &field.items {
                            Some(f) => match coerce_value(f, item, inner_text, &p) {
                                Ok(v) => out.push(v),
                                Err(e) => errs.extend(e),
                            },
                            None => out.push(item.clone()),
                        }
                    }
                    if errs.is_empty() {
                        Ok(Value::Array(out))
                    } else {
                        Err(errs)
                    }
                }
                _ => Err(bad(format!(
                    "`{path}` must be a list, found {}",
                    json_kind(v)
                ))),
            }
        }
        FieldType::Object => {
            let parsed;
            // A JSON cell holds JSON values; an object built from `a.b` columns holds CSV text.
            let (v, inner_text) = match v {
                Value::String(s) if from_text => {
                    parsed = serde_json::from_str::<Value>(s).map_err(|e| {
                        bad(format!("`{path}` must be a JSON object in the cell: {e}"))
                    })?;
                    (&parsed, false)
                }
                v => (v, from_text),
            };
            match (v, &field.fields) {
                (Value::Object(m), Some(fields)) => {
                    let mut out = Map::new();
                    let mut errs = Vec::new();
                    coerce_fields(fields, m, inner_text, Some(path), &mut out, &mut errs);
                    if errs.is_empty() {
                        Ok(Value::Object(out))
                    } else {
                        Err(errs)
                    }
                }
                (Value::Object(_), None) => Ok(v.clone()),
                _ => Err(bad(format!(
                    "`{path}` must be an object, found {}",
                    json_kind(v)
                ))),
            }
        }
    }?;
    if let (Some(max), Value::String(s)) = (field.max_length, &result)
        && s.chars().count() as u64 > max
    {
        return Err(vec![DataError::new(
            Code::DataLimit,
            Some(path.to_string()),
            format!("`{path}` is longer than {max} characters"),
        )]);
    }
    Ok(result)
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

/// `-?digits(.digits)?`
pub fn is_decimal(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int, frac) = s.split_once('.').unwrap_or((s, "0"));
    !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

fn is_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(r) => {
            let host = r.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crlf(input: &[u8], chunk: usize) -> Vec<u8> {
        read_all(CrlfToLf::new(input), chunk)
    }

    #[test]
    fn crlf_to_lf_in_any_chunk_size() {
        for chunk in [1, 2, 3, 7, 4096] {
            assert_eq!(crlf(b"a\r\nb\r\n", chunk), b"a\nb\n");
            assert_eq!(crlf(b"a\rb\r", chunk), b"a\rb\r");
            assert_eq!(crlf(b"\r\r\n\n", chunk), b"\r\n\n");
            assert_eq!(crlf(b"", chunk), b"");
        }
    }

    /// A reader that hands out at most `most` bytes per call, so CRs fall at refill edges.
    struct Trickle<'a> {
        data: &'a [u8],
        most: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.data.len().min(self.most).min(buf.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn read_all(mut r: impl Read, chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = vec![0; chunk];
        loop {
            let n = r.read(&mut buf).expect("read");
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    proptest::proptest! {
        /// Every CRLF becomes LF and every other byte (a lone CR too) stays, whatever the
        /// sizes of the reads above and below; and the blank-line runs noted are those of the
        /// bytes read.
        #[test]
        fn crlf_to_lf_and_blank_lines_match_a_byte_at_a_time_reading(
            data in proptest::collection::vec(proptest::sample::select(b"a\r\n".to_vec()), 0..200),
            most in 1usize..9,
            chunk in 1usize..9,
        ) {
            let mut want = Vec::new();
            let mut i = 0;
            while i < data.len() {
                if data[i..].starts_with(b"\r\n") {
                    i += 1;
                }
                want.push(data[i]);
                i += 1;
            }
            let got = read_all(CrlfToLf::new(Trickle { data: &data, most }), chunk);
            proptest::prop_assert_eq!(&got, &want);

            let mut runs: Vec<(u64, u64)> = Vec::new();
            for (i, w) in want.windows(2).enumerate() {
                if w == b"\n\n" {
                    let at = i as u64 + 1;
                    match runs.last_mut() {
                        Some((start, count)) if *start + *count == at => *count += 1,
                        _ => runs.push((at, 1)),
                    }
                }
            }
            let mut blank = BlankLines::new(Trickle { data: &want, most });
            read_all(&mut blank, chunk);
            proptest::prop_assert_eq!(blank.runs.iter().copied().collect::<Vec<_>>(), runs);
        }
    }

    #[test]
    fn csv_lines_are_right_with_crlf() {
        let data = "id,name\r\n1,a\r\n2\r\n3,\"multi\r\nline\"\r\n4\r\n";
        let items: Vec<Item> = read(
            Box::new(std::io::Cursor::new(data.as_bytes().to_vec())),
            Format::Csv,
        )
        .expect("csv")
        .collect();
        let lines: Vec<Option<u64>> = items
            .iter()
            .map(|i| match i {
                Ok(r) => r.line,
                Err((_, l, _)) => *l,
            })
            .collect();
        assert_eq!(lines, [Some(2), Some(3), Some(4), Some(6)]);
    }

    fn fields(v: Value) -> IndexMap<String, Field> {
        serde_json::from_value(v).expect("field declarations")
    }

    fn open(
        csv: &str,
        fields: Option<&IndexMap<String, Field>>,
        key: Option<&str>,
        delimiter: Option<u8>,
    ) -> Result<Opened, Vec<DataError>> {
        read_with(
            Box::new(std::io::Cursor::new(csv.as_bytes().to_vec())),
            Format::Csv,
            &ReadOptions {
                fields,
                key,
                delimiter,
            },
        )
    }

    fn all(csv: &str, fields: Option<&IndexMap<String, Field>>, key: Option<&str>) -> Vec<Item> {
        open(csv, fields, key, None)
            .expect("the header is accepted")
            .items
            .collect()
    }

    fn header_errors(
        csv: &str,
        fields: Option<&IndexMap<String, Field>>,
        key: Option<&str>,
    ) -> Vec<DataError> {
        match open(csv, fields, key, None) {
            Ok(o) => panic!("expected header errors, got {o:?}"),
            Err(e) => e,
        }
    }

    fn ok(item: &Item) -> &RawRecord {
        match item {
            Ok(r) => r,
            Err(e) => panic!("expected a record, got {e:?}"),
        }
    }

    fn err(item: &Item) -> &(usize, Option<u64>, DataError) {
        match item {
            Ok(r) => panic!("expected an error, got {r:?}"),
            Err(e) => e,
        }
    }

    fn shipment_fields() -> IndexMap<String, Field> {
        fields(serde_json::json!({
            "shipment_id": { "type": "string" },
            "email": { "type": "email" },
            "carrier": { "type": "object", "fields": {
                "name": { "type": "string" },
                "url": { "type": "url", "required": false },
            }},
            "items": { "type": "list", "items": { "type": "object", "fields": {
                "sku": { "type": "string" },
                "qty": { "type": "integer" },
                "gift": { "type": "boolean", "default": false },
            }}},
        }))
    }

    #[test]
    fn dotted_columns_build_nested_objects_and_are_coerced_as_declared() {
        let f = fields(serde_json::json!({
            "id": { "type": "string" },
            "box": { "type": "object", "fields": {
                "qty": { "type": "integer" },
                "fragile": { "type": "boolean" },
                "size": { "type": "object", "fields": { "cm": { "type": "decimal" } } },
            }},
        }));
        let items = all(
            "id,box.qty,box.fragile,box.size.cm\n1,3,yes,10.5\n2,x,maybe,\n",
            Some(&f),
            None,
        );
        let first = ok(&items[0]);
        assert_eq!(
            Value::Object(first.values.clone()),
            serde_json::json!({"id": "1", "box": {"qty": "3", "fragile": "yes", "size": {"cm": "10.5"}}})
        );
        let typed = coerce(&f, first).expect("valid");
        assert_eq!(
            typed["box"],
            serde_json::json!({"qty": 3, "fragile": true, "size": {"cm": "10.5"}})
        );
        // Nested CSV text is checked as text: `yes` is a boolean, an empty cell is missing.
        let errs = coerce(&f, ok(&items[1])).expect_err("invalid");
        let fields_named: Vec<_> = errs.iter().filter_map(|e| e.field.as_deref()).collect();
        assert_eq!(fields_named, ["box.qty", "box.fragile", "box.size"]);
    }

    #[test]
    fn a_blank_dotted_object_is_missing_once() {
        let f = shipment_fields();
        let csv = "shipment_id,email,carrier.name,carrier.url,items\n\
                   1,a@example.com,,,[]\n\
                   2,a@example.com,,https://x.example,[]\n";
        let items = all(csv, Some(&f), None);
        let errs = coerce(&f, ok(&items[0])).expect_err("carrier is required");
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field.as_deref(), Some("carrier"));
        assert_eq!(errs[0].code, Code::DataMissingField);
        let errs = coerce(&f, ok(&items[1])).expect_err("carrier.name is required");
        assert_eq!(errs[0].field.as_deref(), Some("carrier.name"));

        let mut optional = f.clone();
        if let Some(c) = optional.get_mut("carrier") {
            c.required = Some(false);
        }
        let typed = coerce(&optional, ok(&items[0])).expect("an optional blank carrier");
        assert_eq!(typed["carrier"], Value::Null);
    }

    #[test]
    fn conflicting_or_malformed_columns_are_header_errors() {
        for (header, needle) in [
            (
                "carrier,carrier.name",
                "columns `carrier` and `carrier.name` conflict",
            ),
            (
                "carrier.name,carrier",
                "columns `carrier.name` and `carrier` conflict",
            ),
            ("a..b", "empty name"),
            (".a", "empty name"),
            ("a.", "empty name"),
            (
                "email,x,email",
                "column `email` appears twice (columns 1 and 3)",
            ),
            ("id,items[].sku,items.count", "conflict"),
            ("id,items,items[].sku", "conflict"),
            ("id,tags[],tags[].x", "conflict"),
            ("id,items[].tags[].x", "more than one `[]`"),
            ("id,items[].sku,boxes[].n", "two different lists"),
            ("[].x", "empty name"),
        ] {
            let errs = header_errors(&format!("{header}\n"), None, Some("id"));
            let text: Vec<&str> = errs.iter().map(|e| e.message.as_str()).collect();
            assert!(
                text.iter().any(|m| m.contains(needle)),
                "{header}: {text:?}"
            );
        }
    }

    #[test]
    fn numeric_path_segments_are_refused_unless_declared_as_object_fields() {
        let errs = header_errors("id,items.0.sku\n", None, None);
        assert!(
            errs[0].message.contains("`0` looks like a list position")
                && errs[0].message.contains("items[].sku"),
            "{errs:?}"
        );
        let f = fields(serde_json::json!({
            "totals": { "type": "object", "fields": { "2024": { "type": "decimal" } } },
        }));
        let items = all("totals.2024\n12.50\n", Some(&f), None);
        let typed = coerce(&f, ok(&items[0])).expect("valid");
        assert_eq!(typed["totals"]["2024"], "12.50");
    }

    #[test]
    fn grouped_rows_make_one_record_with_a_list() {
        let f = shipment_fields();
        let csv = "shipment_id,email,carrier.name,items[].sku,items[].qty\n\
                   S1,a@example.com,Correos,A,1\n\
                   S1,a@example.com,Correos,B,2\n\
                   S2,b@example.com,SEUR,C,3\n\
                   \n\
                   S3,c@example.com,SEUR,,\n";
        let items = all(csv, Some(&f), Some("shipment_id"));
        assert_eq!(items.len(), 3);
        let s1 = ok(&items[0]);
        assert_eq!((s1.index, s1.line), (1, Some(2)));
        assert_eq!(
            s1.values["items"],
            serde_json::json!([{"sku": "A", "qty": "1"}, {"sku": "B", "qty": "2"}])
        );
        let typed = coerce(&f, s1).expect("valid");
        assert_eq!(
            typed["items"],
            serde_json::json!([
                {"sku": "A", "qty": 1, "gift": false},
                {"sku": "B", "qty": 2, "gift": false}
            ])
        );
        assert_eq!(
            typed["carrier"],
            serde_json::json!({"name": "Correos", "url": null})
        );
        let s2 = ok(&items[1]);
        assert_eq!((s2.index, s2.line), (2, Some(4)));
        // A record's only row with every list cell empty: no elements.
        let s3 = ok(&items[2]);
        assert_eq!(s3.values["items"], serde_json::json!([]));
    }

    #[test]
    fn grouped_rows_that_disagree_refuse_only_their_record() {
        let f = shipment_fields();
        let csv = "shipment_id,email,carrier.name,items[].sku,items[].qty\n\
                   S1,a@example.com,Correos,A,1\n\
                   S1,z@example.com,Correos,B,2\n\
                   S1,a@example.com,DHL,C,2\n\
                   S2,b@example.com,SEUR,C,3\n";
        let items = all(csv, Some(&f), Some("shipment_id"));
        assert_eq!(items.len(), 2);
        let (index, line, e) = err(&items[0]);
        assert_eq!((*index, *line), (1, Some(2)));
        assert_eq!(e.field.as_deref(), Some("email"));
        assert!(
            e.message
                .contains("line 2 has `a@example.com`, line 3 has `z@example.com`")
                && e.message
                    .contains("also disagree on `carrier.name` (line 4)"),
            "{}",
            e.message
        );
        assert_eq!(ok(&items[1]).index, 2);
    }

    #[test]
    fn a_blank_element_among_several_rows_is_kept_and_refused_by_name() {
        let f = shipment_fields();
        let csv = "shipment_id,email,carrier.name,items[].sku,items[].qty\n\
                   S1,a@example.com,Correos,A,1\n\
                   S1,a@example.com,Correos,,\n";
        let items = all(csv, Some(&f), Some("shipment_id"));
        let errs = coerce(&f, ok(&items[0])).expect_err("the second item is empty");
        let named: Vec<_> = errs.iter().filter_map(|e| e.field.as_deref()).collect();
        assert_eq!(named, ["items.1.sku", "items.1.qty"]);
    }

    #[test]
    fn scalar_list_columns_and_keys_that_come_back() {
        let items = all("id,tags[]\n1,a\n1,b\n2,c\n1,d\n,e\n,f\n", None, Some("id"));
        let lists: Vec<Value> = items.iter().map(|i| ok(i).values["tags"].clone()).collect();
        assert_eq!(
            lists,
            [
                serde_json::json!(["a", "b"]),
                serde_json::json!(["c"]),
                // Not consecutive: a record of its own, which the batch refuses as a duplicate.
                serde_json::json!(["d"]),
                // An empty key never joins rows.
                serde_json::json!(["e"]),
                serde_json::json!(["f"]),
            ]
        );
    }

    #[test]
    fn list_columns_need_a_key_column() {
        let errs = header_errors("id,items[].sku\n", None, None);
        assert!(errs[0].message.contains("set `data.key`"), "{errs:?}");
        let errs = header_errors("id,items[].sku\n", None, Some("order_id"));
        assert!(
            errs[0]
                .message
                .contains("the header has no `order_id` column"),
            "{errs:?}"
        );
    }

    #[test]
    fn unreadable_rows_inside_a_group_refuse_the_group() {
        // Row 3 (same key, one cell short) belongs to S1: S1 is refused, not sent without it.
        let csv = "id,items[].sku\nS1,A\nS1\nS1,C\nS2,D\nS3,E\nS4,F\n";
        let items = all(csv, None, Some("id"));
        assert_eq!(items.len(), 4, "{items:?}");
        let (_, line, e) = err(&items[0]);
        assert_eq!(*line, Some(2));
        assert!(
            e.message
                .contains("line 3, one of its rows, cannot be read: row has 1 cells"),
            "{}",
            e.message
        );
        assert_eq!(
            ok(&items[1]).values["items"],
            serde_json::json!([{"sku": "D"}])
        );

        // A key in the second column of a short row may have shifted: membership is unknown,
        // so the open record is refused too; the row is reported as soon as it is read.
        let csv = "sku,id,items[].n\nA,S1,1\nB,S1\nC,S1,2\nD,S2,3\n";
        let items = all(csv, None, Some("id"));
        assert_eq!(items.len(), 3, "{items:?}");
        assert!(err(&items[0]).2.message.contains("row has 2 cells"));
        assert_eq!(err(&items[0]).1, Some(3));
        let (index, line, e) = err(&items[1]);
        assert_eq!((*index, *line), (2, Some(2)));
        assert!(
            e.message
                .contains("line 3 cannot be read and may be one of the rows of key `S1`")
        );
        assert_eq!(ok(&items[2]).index, 3);

        // Another key: the open record is complete.
        let csv = "id,items[].sku\nS1,A\nS2,B,extra\nS3,C\n";
        let items = all(csv, None, Some("id"));
        assert_eq!(
            ok(&items[0]).values["items"],
            serde_json::json!([{"sku": "A"}])
        );
        assert!(err(&items[1]).2.message.contains("row has 3 cells"));
        assert_eq!(ok(&items[2]).index, 3);
    }

    #[test]
    fn a_group_larger_than_a_record_is_refused() {
        let cell = "x".repeat(1 << 20);
        let mut csv = String::from("id,items[]\n");
        for _ in 0..9 {
            csv.push_str(&format!("1,{cell}\n"));
        }
        csv.push_str("2,y\n");
        let items = all(&csv, None, Some("id"));
        assert_eq!(items.len(), 2);
        assert_eq!(err(&items[0]).2.code, Code::DataLimit);
        assert_eq!(ok(&items[1]).values["items"], serde_json::json!(["y"]));
    }

    #[test]
    fn header_errors_name_missing_fields_once_with_a_hint() {
        let f = fields(serde_json::json!({
            "email": { "type": "email" },
            "first_name": { "type": "string" },
            "nickname": { "type": "string", "required": false },
            "locale": { "type": "string", "default": "es-ES" },
            "carrier": { "type": "object", "fields": {
                "name": { "type": "string" },
                "url": { "type": "url" },
            }},
        }));
        let check = check_csv_header(&f, None, &["Email", "First Name", "carrier.name"]);
        let errs: Vec<(Option<&str>, &str)> = check
            .errors
            .iter()
            .map(|e| (e.field.as_deref(), e.message.as_str()))
            .collect();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[0].1.contains("no column `email`") && errs[0].1.contains("`Email`"));
        assert_eq!(errs[1].0, Some("first_name"));
        assert!(
            errs[1]
                .1
                .contains("the header has `First Name`: rename it to `first_name`"),
            "{errs:?}"
        );
        assert_eq!(errs[2].0, Some("carrier.url"));
        assert!(
            check
                .errors
                .iter()
                .all(|e| e.code == Code::DataMissingField)
        );

        // Through the reader: one error for the source, before any row.
        let errs = header_errors(
            "Email,First Name,carrier.name\na,b,c\nd,e,f\n",
            Some(&f),
            None,
        );
        assert_eq!(errs.len(), 3);
    }

    #[test]
    fn undeclared_columns_are_warnings_with_hints() {
        let f = fields(serde_json::json!({
            "id": { "type": "string" },
            "name": { "type": "string" },
            "carrier": { "type": "object", "fields": { "name": { "type": "string" } } },
            "extra": { "type": "object" },
        }));
        let check = check_csv_header(
            &f,
            Some("id"),
            &[
                "id",
                "name",
                "nmae",
                "carrier.name",
                "carrier.nmae",
                "extra.anything",
                "zzz",
                "",
            ],
        );
        assert!(check.errors.is_empty(), "{:?}", check.errors);
        let w: Vec<&str> = check.warnings.iter().map(|e| e.message.as_str()).collect();
        assert!(
            w.iter().any(|m| m.contains("column 8 has no name")),
            "{w:?}"
        );
        assert!(
            w.iter()
                .any(|m| m.contains("`nmae`") && m.contains("did you mean `name`?"))
        );
        assert!(
            w.iter()
                .any(|m| m.contains("`carrier.nmae`") && m.contains("did you mean `carrier.name`?"))
        );
        assert!(w.iter().any(|m| m.contains("column `zzz` is not declared")));
        assert!(!w.iter().any(|m| m.contains("extra.anything")), "{w:?}");
        assert_eq!(w.len(), 4, "{w:?}");

        let many: Vec<String> = (0..15).map(|i| format!("unused{i}")).collect();
        let mut header: Vec<&str> = vec!["id", "name"];
        header.extend(many.iter().map(String::as_str));
        let check = check_csv_header(&f, Some("id"), &header);
        assert_eq!(check.warnings.len(), 1, "{:?}", check.warnings);
        assert!(check.warnings[0].message.contains("and 5 more"));
    }

    #[test]
    fn column_shapes_must_fit_the_declared_type() {
        let f = fields(serde_json::json!({
            "id": { "type": "string" },
            "carrier": { "type": "string" },
            "tags": { "type": "string", "required": false },
            "items": { "type": "list", "required": false, "items": { "type": "string" } },
        }));
        let check = check_csv_header(&f, Some("id"), &["id", "carrier.name", "tags[]"]);
        let msgs: Vec<&str> = check.errors.iter().map(|e| e.message.as_str()).collect();
        assert!(
            msgs.iter()
                .any(|m| m.contains("`carrier.…` columns build an object")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter().any(|m| m.contains("make `tags` a list")),
            "{msgs:?}"
        );
        let check = check_csv_header(&f, Some("id"), &["id", "carrier", "items[].sku"]);
        assert!(
            check.errors[0]
                .message
                .contains("elements are declared as string"),
            "{:?}",
            check.errors
        );
    }

    #[test]
    fn semicolon_headers_are_detected_only_when_unambiguous() {
        let f = fields(serde_json::json!({
            "nombre": { "type": "string" },
            "email": { "type": "email" },
        }));
        let o =
            open("nombre;email\nAna;ana@example.com\n", Some(&f), None, None).expect("detected");
        assert_eq!(o.notes.len(), 1);
        assert!(o.notes[0].contains("semicolon-separated"), "{:?}", o.notes);
        let items: Vec<Item> = o.items.collect();
        assert_eq!(ok(&items[0]).values["email"], "ana@example.com");

        // The split does not give the declared fields: an error with the way out.
        let errs = header_errors("name;mail\nAna;ana@example.com\n", Some(&f), None);
        assert!(
            errs[0]
                .message
                .contains("this looks semicolon-separated; use --delimiter ';'"),
            "{errs:?}"
        );
        // Both `;` and tab split it: ambiguous.
        let errs = header_errors("nombre;x\temail\n", Some(&f), None);
        assert!(errs[0].message.contains("--delimiter tab"), "{errs:?}");
        // Given explicitly, no guess and no note.
        let o = open(
            "nombre\temail\nAna\tana@example.com\n",
            Some(&f),
            None,
            Some(b'\t'),
        )
        .expect("tab");
        assert!(o.notes.is_empty());
        assert_eq!(ok(&o.items.collect::<Vec<_>>()[0]).values["nombre"], "Ana");
        // A comma-separated header is never second-guessed, nor is a source read without the spec.
        let o = open("nombre,email\nA;B,c@example.com\n", Some(&f), None, None).expect("commas");
        assert!(o.notes.is_empty());
        let items: Vec<Item> = read(
            Box::new(std::io::Cursor::new(b"nombre;email\nA;b\n".to_vec())),
            Format::Csv,
        )
        .expect("read")
        .collect();
        assert_eq!(ok(&items[0]).values["nombre;email"], "A;b");
    }

    #[test]
    fn read_without_the_spec_joins_header_errors() {
        let e = read(
            Box::new(std::io::Cursor::new(b"a..b,c,c\n".to_vec())),
            Format::Csv,
        )
        .map(|_| ())
        .expect_err("refused");
        assert!(
            e.message.contains("empty name") && e.message.contains("appears twice"),
            "{}",
            e.message
        );
        let e = read_with(
            Box::new(std::io::Cursor::new(b"[]".to_vec())),
            Format::Json,
            &ReadOptions {
                delimiter: Some(b';'),
                ..ReadOptions::default()
            },
        )
        .map(|_| ())
        .expect_err("refused");
        assert!(e[0].message.contains("CSV data only"));
    }

    #[test]
    fn csv_lines_are_right_after_blank_lines() {
        let lines = |data: &str| -> Vec<Option<u64>> {
            read(
                Box::new(std::io::Cursor::new(data.as_bytes().to_vec())),
                Format::Csv,
            )
            .expect("csv")
            .map(|i| match i {
                Ok(r) => r.line,
                Err((_, l, _)) => l,
            })
            .collect()
        };
        assert_eq!(
            lines("id,name\n1,a\n\n2,b\n\n\n3,c\n\n"),
            [Some(2), Some(4), Some(7)]
        );
        assert_eq!(lines("id,name\r\n\r\n1,a\r\n\r\n2\r\n"), [Some(3), Some(5)]);
        // Blank lines inside a quoted cell belong to the row; the next row's line is still right.
        assert_eq!(
            lines("id,name\n1,\"x\n\n\ny\"\n\n2,b\n"),
            [Some(2), Some(7)]
        );
        let grouped: Vec<Option<u64>> = read_with(
            Box::new(std::io::Cursor::new(
                b"id,t[]\n1,a\n\n1,b\n\n2,c\n".to_vec(),
            )),
            Format::Csv,
            &ReadOptions {
                key: Some("id"),
                ..ReadOptions::default()
            },
        )
        .expect("csv")
        .items
        .map(|i| i.ok().and_then(|r| r.line))
        .collect();
        assert_eq!(grouped, [Some(2), Some(6)]);
    }
}
