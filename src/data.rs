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

/// Opens a data source as a streaming iterator of records.
///
/// # Errors
/// When the source as a whole cannot be read (not UTF-8 JSON, not an array...).
pub fn read(
    reader: Box<dyn Read + Send>,
    format: Format,
) -> Result<Box<dyn Iterator<Item = Item>>, DataError> {
    match format {
        Format::Csv => Ok(Box::new(read_csv(reader)?)),
        Format::Jsonl => Ok(Box::new(read_jsonl(reader))),
        Format::Json => read_json(reader),
        Format::Yaml => read_yaml(reader),
    }
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
            let b = self.buf[self.pos];
            self.pos += 1;
            if self.pending_cr {
                self.pending_cr = false;
                if b != b'\n' {
                    out[w] = b'\r';
                    w += 1;
                    if w == out.len() {
                        // No room for `b`: put it back.
                        self.pos -= 1;
                        break;
                    }
                }
            }
            if b == b'\r' {
                self.pending_cr = true;
                continue;
            }
            out[w] = b;
            w += 1;
        }
        Ok(w)
    }
}

fn read_csv(reader: Box<dyn Read + Send>) -> Result<impl Iterator<Item = Item>, DataError> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(CrlfToLf::new(reader));
    let headers = rdr
        .headers()
        .map_err(|e| {
            DataError::new(
                Code::DataParse,
                None,
                format!("cannot read the CSV header row: {e}"),
            )
        })?
        .clone();
    let names: Vec<String> = headers
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    let mut index = 0usize;
    let mut record = csv::StringRecord::new();
    let mut done = false;
    Ok(std::iter::from_fn(move || {
        loop {
            if done {
                return None;
            }
            index += 1;
            match rdr.read_record(&mut record) {
                Ok(false) => return None,
                Ok(true) => {
                    let line = record.position().map(|p| p.line());
                    if record.len() == 1
                        && record.get(0).is_some_and(str::is_empty)
                        && names.len() > 1
                    {
                        // A blank line: not a record.
                        index -= 1;
                        continue;
                    }
                    if record.len() != names.len() {
                        return Some(Err((
                            index,
                            line,
                            DataError::new(
                                Code::DataParse,
                                None,
                                format!(
                                    "row has {} cells, the header has {}",
                                    record.len(),
                                    names.len()
                                ),
                            ),
                        )));
                    }
                    if record.as_slice().len() > MAX_RECORD_BYTES {
                        return Some(Err((
                            index,
                            line,
                            DataError::new(
                                Code::DataLimit,
                                None,
                                format!("row is larger than {MAX_RECORD_BYTES} bytes"),
                            ),
                        )));
                    }
                    let mut values = Map::new();
                    for (name, cell) in names.iter().zip(record.iter()) {
                        values.insert(name.clone(), Value::String(cell.to_string()));
                    }
                    return Some(Ok(RawRecord {
                        index,
                        line,
                        values,
                        from_text: true,
                    }));
                }
                Err(e) => {
                    let line = e.position().map(|p| p.line());
                    let msg = match e.kind() {
                        csv::ErrorKind::Utf8 { .. } => "row is not valid UTF-8".to_string(),
                        _ => format!("cannot parse CSV: {e}"),
                    };
                    // An I/O error ends the source; a bad row does not.
                    done = matches!(e.kind(), csv::ErrorKind::Io(_));
                    return Some(Err((
                        index,
                        line,
                        DataError::new(Code::DataParse, None, msg),
                    )));
                }
            }
        }
    }))
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
        "",
        &mut out,
        &mut errors,
    );
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn coerce_fields(
    fields: &IndexMap<String, Field>,
    values: &Map<String, Value>,
    from_text: bool,
    prefix: &str,
    out: &mut Map<String, Value>,
    errors: &mut Vec<DataError>,
) {
    for (name, field) in fields {
        let path = format!("{prefix}{name}");
        // An empty CSV cell is a missing value: a blank first name must fail loudly (or take
        // the default), never render as "Hello ,".
        let value = values
            .get(name)
            .filter(|v| !(v.is_null() || from_text && v.as_str() == Some("")));
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
                        Some(path.clone()),
                        format!("missing required field `{path}`"),
                    ));
                }
            }
        }
    }
}

/// Converts one value to the field's type.
pub fn coerce_value(
    field: &Field,
    v: &Value,
    from_text: bool,
    path: &str,
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
            let v = match v {
                Value::String(s) if from_text => {
                    parsed = serde_json::from_str::<Value>(s).map_err(|e| {
                        bad(format!("`{path}` must be a JSON list in the cell: {e}"))
                    })?;
                    &parsed
                }
                v => v,
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
                        let p = format!("{path}.{i}");
                        match &field.items {
                            Some(f) => match coerce_value(f, item, false, &p) {
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
            let v = match v {
                Value::String(s) if from_text => {
                    parsed = serde_json::from_str::<Value>(s).map_err(|e| {
                        bad(format!("`{path}` must be a JSON object in the cell: {e}"))
                    })?;
                    &parsed
                }
                v => v,
            };
            match (v, &field.fields) {
                (Value::Object(m), Some(fields)) => {
                    let mut out = Map::new();
                    let mut errs = Vec::new();
                    coerce_fields(fields, m, false, &format!("{path}."), &mut out, &mut errs);
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
        let mut r = CrlfToLf::new(input);
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

    #[test]
    fn crlf_to_lf_in_any_chunk_size() {
        for chunk in [1, 2, 3, 7, 4096] {
            assert_eq!(crlf(b"a\r\nb\r\n", chunk), b"a\nb\n");
            assert_eq!(crlf(b"a\rb\r", chunk), b"a\rb\r");
            assert_eq!(crlf(b"\r\r\n\n", chunk), b"\r\n\n");
            assert_eq!(crlf(b"", chunk), b"");
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
}
