//! `data`: field declarations, the key field, sample and fixture files.

use super::{Checker, escape, is_identifier};
use crate::diag::{Code, did_you_mean};
use crate::spec::model::{Field, FieldType, Records};

impl Checker<'_> {
    pub(super) fn data(&mut self) {
        let fields = self.c.spec.data.fields.clone();
        for (name, f) in &fields {
            self.field(&format!("/data/fields/{}", escape(name)), name, f);
        }
        if let Some(key) = self.c.spec.data.key.clone() {
            self.key_field(&key, &fields);
        }
        if let Some(Records::File(p)) = self.c.spec.data.sample.clone() {
            self.file_exists("/data/sample", &p);
        }
        for (name, r) in self.c.spec.data.fixtures.clone() {
            if let Records::File(p) = r {
                self.file_exists(&format!("/data/fixtures/{}", escape(&name)), &p);
            }
        }
    }

    fn key_field(&mut self, key: &str, fields: &indexmap::IndexMap<String, Field>) {
        match fields.get(key) {
            None => {
                let hint = did_you_mean(key, fields.keys().map(String::as_str)).map(str::to_string);
                let d = self.err_value(
                    Code::SpecField,
                    "/data/key",
                    format!("key field `{key}` is not declared in `data.fields`"),
                    "not a declared field",
                );
                if let Some(h) = hint {
                    d.help.push(format!("did you mean `{h}`?"));
                }
            }
            Some(f) if matches!(f.kind, FieldType::List | FieldType::Object) => {
                self.err_value(
                    Code::SpecField,
                    "/data/key",
                    format!(
                        "key field `{key}` must be a scalar, not a {}",
                        f.kind.as_str()
                    ),
                    "not a scalar",
                );
            }
            _ => {}
        }
    }

    fn field(&mut self, ptr: &str, name: &str, f: &Field) {
        if !is_identifier(name) {
            self.err_key(
                Code::SpecField,
                ptr,
                format!("field name `{name}` cannot be used in templates"),
                "not an identifier",
            )
            .help
            .push("use letters, digits and `_`, starting with a letter or `_`".into());
        }
        self.field_shape(ptr, name, f);
        if f.required == Some(true) && f.default.is_some() {
            self.err_key(
                Code::SpecField,
                &format!("{ptr}/default"),
                format!("field `{name}` is required and has a default"),
                "a default makes the field optional",
            );
        }
        if let Some(d) = &f.default
            && !d.is_null()
            && let Err(e) =
                crate::data::coerce_value(f, d, false, &crate::data::FieldPath::Top(name))
        {
            let msg = e.first().map(|e| e.message.clone()).unwrap_or_default();
            self.err_value(
                Code::SpecField,
                &format!("{ptr}/default"),
                format!("default does not match the field's type: {msg}"),
                "wrong type",
            );
        }
        if let Some(items) = &f.items {
            self.field(&format!("{ptr}/items"), name, items);
        }
        if let Some(fields) = &f.fields {
            for (n, sub) in fields {
                self.field(&format!("{ptr}/fields/{}", escape(n)), n, sub);
            }
        }
    }

    /// `items` only on lists (and required there), `fields` only on objects (and required).
    fn field_shape(&mut self, ptr: &str, name: &str, f: &Field) {
        match f.kind {
            FieldType::List if f.items.is_none() => {
                self.err_key(
                    Code::SpecField,
                    ptr,
                    format!("list field `{name}` needs `items` (the type of each element)"),
                    "list without `items`",
                );
            }
            FieldType::Object if f.fields.is_none() => {
                self.err_key(
                    Code::SpecField,
                    ptr,
                    format!("object field `{name}` needs `fields`"),
                    "object without `fields`",
                );
            }
            k if k != FieldType::List && f.items.is_some() => {
                self.err_key(
                    Code::SpecField,
                    &format!("{ptr}/items"),
                    format!(
                        "`items` only applies to `list` fields, `{name}` is a {}",
                        k.as_str()
                    ),
                    "not a list",
                );
            }
            k if k != FieldType::Object && f.fields.is_some() => {
                self.err_key(
                    Code::SpecField,
                    &format!("{ptr}/fields"),
                    format!(
                        "`fields` only applies to `object` fields, `{name}` is a {}",
                        k.as_str()
                    ),
                    "not an object",
                );
            }
            _ => {}
        }
    }
}
