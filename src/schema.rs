//! The JSON Schema of the spec language, derived from [`crate::spec::model`] with `schemars`,
//! and validation of a loaded [`Document`] against it.
//!
//! Input: a [`Document`]. Output: every schema violation at once, each located through the
//! document's source map: an unknown key points at the key, a missing key at the mapping's key,
//! a wrong type or value at the value.

use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use crate::diag::{Code, Diagnostic, did_you_mean};
use crate::spec::model::Spec;
use crate::spec::yaml::{Document, push_pointer};

/// The schema as pretty JSON with a trailing newline: what `mailspec schema` prints and what is
/// checked in at `schema/mailspec.schema.json`.
pub fn schema_json() -> String {
    let mut s = serde_json::to_string_pretty(schema_value()).unwrap_or_default();
    s.push('\n');
    s
}

/// The schema, generated once: validation and "did you mean" hints both read it.
fn schema_value() -> &'static Value {
    static S: OnceLock<Value> = OnceLock::new();
    S.get_or_init(|| {
        let mut schema = serde_json::to_value(schemars::schema_for!(Spec)).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut schema {
            map.insert(
                "$id".into(),
                Value::String("https://mailspec.dev/schema/mailspec.schema.json".into()),
            );
        }
        schema
    })
}

fn validator() -> Option<&'static jsonschema::Validator> {
    static V: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    V.get_or_init(|| {
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(schema_value())
            .ok()
    })
    .as_ref()
}

/// Validates `doc` against the schema.
///
/// # Errors
/// One diagnostic per violation, located in the YAML.
pub fn validate(doc: &Document) -> Result<(), Vec<Diagnostic>> {
    let Some(v) = validator() else {
        return Err(vec![Diagnostic::error(
            Code::SchemaType,
            "internal error: the built-in schema does not compile",
        )]);
    };
    let errors: Vec<_> = v.iter_errors(&doc.value).collect();
    if errors.is_empty() {
        return Ok(());
    }
    let mut out = Vec::new();
    for e in &errors {
        describe(doc, e, &mut out);
    }
    // `subjet:` yields both "unknown key `subjet`" (did you mean `subject`?) and "missing key
    // `subject`": one mistake, so keep only the first, which points at the typo.
    let suggested: Vec<String> = out
        .iter()
        .filter(|d| d.code == Code::SchemaUnknownKey)
        .flat_map(|d| {
            d.help.iter().filter_map(|h| {
                h.strip_prefix("did you mean `")?
                    .strip_suffix("`?")
                    .map(str::to_string)
            })
        })
        .collect();
    out.retain(|d| {
        d.code != Code::SchemaMissingKey
            || !suggested
                .iter()
                .any(|s| d.message.starts_with(&format!("missing key `{s}`")))
    });
    out.sort_by_key(|d| d.location.as_ref().map(|l| l.span.start));
    out.dedup_by(|a, b| a.message == b.message && a.location == b.location);
    Err(out)
}

/// The spec's value without the keys the schema does not know (`subjet:`), when those are its
/// only schema problems: the rest of the spec can then still be checked, so a typo in one key
/// does not hide the template errors of another. `None` when anything else is wrong.
pub fn without_unknown_keys(doc: &Document) -> Option<Value> {
    let v = validator()?;
    let mut value = doc.value.clone();
    for e in v.iter_errors(&doc.value) {
        let ValidationErrorKind::AdditionalProperties { unexpected } = e.kind() else {
            return None;
        };
        let obj = value
            .pointer_mut(e.instance_path().as_str())?
            .as_object_mut()?;
        for key in unexpected {
            obj.remove(key);
        }
    }
    v.is_valid(&value).then_some(value)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Known keys of the mapping at `pointer`, read from the schema, for "did you mean" hints.
fn known_keys(schema_error: &jsonschema::ValidationError<'_>) -> Vec<String> {
    // The schema path ends in `/additionalProperties`; its sibling `properties` lists the keys.
    let path = schema_error.schema_path().as_str();
    let Some(base) = path.strip_suffix("/additionalProperties") else {
        return Vec::new();
    };
    let schema = schema_value();
    let mut node = schema;
    for seg in base.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        node = match node {
            Value::Object(m) => match m.get(&seg) {
                Some(n) => n,
                None => return Vec::new(),
            },
            Value::Array(a) => match seg.parse::<usize>().ok().and_then(|i| a.get(i)) {
                Some(n) => n,
                None => return Vec::new(),
            },
            _ => return Vec::new(),
        };
    }
    // Follow a `$ref` to `#/$defs/X` when the path went through one.
    if let Some(Value::String(r)) = node.get("$ref")
        && let Some(name) = r.strip_prefix("#/$defs/")
        && let Some(n) = schema.get("$defs").and_then(|d| d.get(name))
    {
        node = n;
    }
    node.get("properties")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn describe(doc: &Document, e: &jsonschema::ValidationError<'_>, out: &mut Vec<Diagnostic>) {
    let ptr = e.instance_path().as_str().to_string();
    let file = doc.file;
    let instance = e.instance();
    match e.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let known = known_keys(e);
            for key in unexpected {
                let kp = push_pointer(&ptr, key);
                let mut d =
                    Diagnostic::error(Code::SchemaUnknownKey, format!("unknown key `{key}`"))
                        .at(file, doc.map.key_span(&kp))
                        .label("not allowed here");
                if let Some(s) = did_you_mean(key, known.iter().map(String::as_str)) {
                    d = d.help(format!("did you mean `{s}`?"));
                } else if !known.is_empty() {
                    d = d.help(format!(
                        "allowed keys: {}",
                        known
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                out.push(d);
            }
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or("?");
            let where_ = if ptr.is_empty() {
                "the spec".to_string()
            } else {
                format!("`{}`", ptr.rsplit('/').next().unwrap_or(""))
            };
            out.push(
                Diagnostic::error(
                    Code::SchemaMissingKey,
                    format!("missing key `{name}` in {where_}"),
                )
                .at(
                    file,
                    if ptr.is_empty() {
                        0..0
                    } else {
                        doc.map.key_span(&ptr)
                    },
                )
                .label(format!("`{name}` is required here")),
            );
        }
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                jsonschema::error::TypeKind::Single(t) => describe_type(&t.to_string()),
                jsonschema::error::TypeKind::Multiple(ts) => ts
                    .iter()
                    .map(|t| describe_type(&t.to_string()))
                    .collect::<Vec<_>>()
                    .join(" or "),
            };
            out.push(type_error(doc, &ptr, &expected, instance));
        }
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context }
            if context
                .iter()
                .flatten()
                .all(|e| matches!(e.kind(), ValidationErrorKind::Constant { .. })) =>
        {
            // An enum written as `oneOf` of documented constants (schemars does this so each
            // value keeps its description): report it as one "expected one of" error.
            let options: Vec<Value> = context
                .iter()
                .flatten()
                .filter_map(|e| match e.kind() {
                    ValidationErrorKind::Constant { expected_value } => {
                        Some((**expected_value).clone())
                    }
                    _ => None,
                })
                .collect();
            out.push(enum_error(doc, &ptr, instance, &options));
        }
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            // Report the branch that got furthest: the one whose errors are deepest in the
            // document. If every branch failed on the type of this very value, say what types
            // would do.
            let depth = |errs: &Vec<jsonschema::ValidationError<'static>>| {
                errs.iter()
                    .map(|e| {
                        let deeper = e.instance_path().as_str().len() > ptr.len();
                        let not_type = !matches!(
                            e.kind(),
                            ValidationErrorKind::Type { .. } | ValidationErrorKind::AnyOf { .. }
                        );
                        (deeper as u8) * 2 + not_type as u8
                    })
                    .min()
                    .unwrap_or(0)
            };
            let best = context
                .iter()
                .max_by_key(|errs| (depth(errs), usize::MAX - errs.len()));
            match best {
                Some(errs) if depth(errs) > 0 => {
                    for e in errs {
                        describe(doc, e, out);
                    }
                }
                _ => {
                    let expected = expected_shapes(&ptr);
                    out.push(type_error(doc, &ptr, &expected, instance));
                }
            }
        }
        ValidationErrorKind::Enum { options } => {
            let options: Vec<Value> = options.as_array().cloned().unwrap_or_default();
            out.push(enum_error(doc, &ptr, instance, &options));
        }
        _ => {
            out.push(
                Diagnostic::error(Code::SchemaValue, format!("invalid value: {e}"))
                    .at(file, doc.map.value_span(&ptr))
                    .label("invalid"),
            );
        }
    }
}

fn enum_error(doc: &Document, ptr: &str, instance: &Value, options: &[Value]) -> Diagnostic {
    let shown = |v: &Value| {
        v.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string())
    };
    let opts = options
        .iter()
        .map(|v| format!("`{}`", shown(v)))
        .collect::<Vec<_>>()
        .join(", ");
    let mut d = Diagnostic::error(
        Code::SchemaValue,
        format!("invalid value `{}`", shown(instance)),
    )
    .at(doc.file, doc.map.value_span(ptr))
    .label(format!("expected one of {opts}"));
    if let Some(s) = instance
        .as_str()
        .and_then(|g| did_you_mean(g, options.iter().filter_map(Value::as_str)))
    {
        d = d.help(format!("did you mean `{s}`?"));
    }
    d
}

fn expected_shapes(ptr: &str) -> String {
    let last = ptr.rsplit('/').next().unwrap_or("");
    match last {
        "from" | "to" | "cc" | "bcc" | "reply_to" | "sender" => {
            "an address string, a mapping with `name` and `email`, or a list of them".into()
        }
        "sample" => "a file path or a list of records".into(),
        "in_reply_to" | "references" => "a string or a list of strings".into(),
        _ => "a different type".into(),
    }
}

fn describe_type(t: &str) -> String {
    match t {
        "string" => "a string",
        "array" => "a list",
        "object" => "a mapping",
        "integer" => "a whole number",
        "number" => "a number",
        "boolean" => "`true` or `false`",
        "null" => "nothing",
        other => other,
    }
    .to_string()
}

fn type_error(doc: &Document, ptr: &str, expected: &str, instance: &Value) -> Diagnostic {
    let key = ptr.rsplit('/').next().unwrap_or("");
    let what = if key.is_empty() {
        "the spec".to_string()
    } else {
        format!("`{key}`")
    };
    Diagnostic::error(
        Code::SchemaType,
        format!("{what} must be {expected}, found {}", type_name(instance)),
    )
    .at(doc.file, doc.map.value_span(ptr))
    .label(format!("expected {expected}"))
}
