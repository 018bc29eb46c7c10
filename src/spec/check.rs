//! Checks the JSON Schema cannot express, and template compilation.
//!
//! Input: a parsed spec inside a [`CompiledSpec`] under construction. Output: every problem,
//! located in the YAML or in the template file it concerns; as a side effect, every templated
//! value is compiled and registered as a [`Slot`].

use std::path::Path;

use minijinja::ErrorKind;

use super::model::{AddressItem, Addresses, Content, Field, FieldType, Part};
use super::yaml::push_pointer;
use super::{CompiledSpec, Slot};
use crate::diag::{Code, Diagnostic, did_you_mean};
use crate::template::{Flavor, Templates, resolve_confined};

/// Header names the spec sets through dedicated keys, or that only the emitter writes.
const RESERVED_HEADERS: &[&str] = &[
    "from",
    "sender",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "content-id",
    "return-path",
    "received",
];

/// Runs every check; compiles and registers templates as it goes.
pub fn check(c: &mut CompiledSpec) -> Vec<Diagnostic> {
    let mut ck = Checker { c, out: Vec::new() };
    ck.data();
    ck.message();
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
    out
}

struct Checker<'a> {
    c: &'a mut CompiledSpec,
    out: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn err_value(&mut self, code: Code, ptr: &str, msg: String, label: &str) -> &mut Diagnostic {
        let span = self.c.map.value_span(ptr);
        self.out.push(
            Diagnostic::error(code, msg)
                .at(self.c.file, span)
                .label(label),
        );
        let n = self.out.len() - 1;
        &mut self.out[n]
    }

    fn err_key(&mut self, code: Code, ptr: &str, msg: String, label: &str) -> &mut Diagnostic {
        let span = self.c.map.key_span(ptr);
        self.out.push(
            Diagnostic::error(code, msg)
                .at(self.c.file, span)
                .label(label),
        );
        let n = self.out.len() - 1;
        &mut self.out[n]
    }

    // ---- data ----------------------------------------------------------------------------

    fn data(&mut self) {
        let fields = self.c.spec.data.fields.clone();
        for (name, f) in &fields {
            self.field(&format!("/data/fields/{}", escape(name)), name, f);
        }
        if let Some(key) = self.c.spec.data.key.clone() {
            match fields.get(&key) {
                None => {
                    let hint =
                        did_you_mean(&key, fields.keys().map(String::as_str)).map(str::to_string);
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
                            kind_word(f.kind)
                        ),
                        "not a scalar",
                    );
                }
                _ => {}
            }
        }
        let sample = self.c.spec.data.sample.clone();
        if let Some(super::model::Records::File(p)) = &sample {
            self.static_file("/data/sample", p);
        }
        for (name, r) in self.c.spec.data.fixtures.clone() {
            if let super::model::Records::File(p) = r {
                self.static_file(&format!("/data/fixtures/{}", escape(&name)), &p);
            }
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
                        kind_word(k)
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
                        kind_word(k)
                    ),
                    "not an object",
                );
            }
            _ => {}
        }
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
            && let Err(e) = crate::data::coerce_value(f, d, false, name)
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

    // ---- message -------------------------------------------------------------------------

    fn message(&mut self) {
        let m = self.c.spec.message.clone();
        let smtputf8 = m.smtputf8;
        self.addresses("/message/from", &m.from, smtputf8);
        for (key, v) in [
            ("sender", &m.sender),
            ("to", &m.to),
            ("cc", &m.cc),
            ("bcc", &m.bcc),
            ("reply_to", &m.reply_to),
        ] {
            if let Some(v) = v {
                self.addresses(&format!("/message/{key}"), v, smtputf8);
            }
        }
        if m.to.is_none()
            && m.cc.is_none()
            && m.bcc.is_none()
            && m.envelope.as_ref().and_then(|e| e.to.as_ref()).is_none()
        {
            self.out.push(
                Diagnostic::error(Code::SchemaMissingKey, "the message has no recipients")
                    .at(self.c.file, self.c.map.key_span("/message"))
                    .label("add `to`, `cc`, `bcc` or `envelope.to`"),
            );
        }
        self.text_slot("/message/subject", &m.subject, Flavor::Text);
        for (key, v) in [
            ("in_reply_to", &m.in_reply_to),
            ("references", &m.references),
        ] {
            if let Some(v) = v {
                let items = v.items();
                let single = items.len() == 1 && matches!(v, super::model::StringOrList::One(_));
                for (i, s) in items.into_iter().enumerate() {
                    let p = if single {
                        format!("/message/{key}")
                    } else {
                        format!("/message/{key}/{i}")
                    };
                    self.text_slot(&p, s, Flavor::Text);
                }
            }
        }
        for (name, value) in &m.headers {
            let p = format!("/message/headers/{}", escape(name));
            let lower = name.to_ascii_lowercase();
            if name.is_empty() || !name.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
                self.err_key(
                    Code::SpecHeader,
                    &p,
                    format!("`{name}` is not a valid header name"),
                    "printable ASCII without `:` or spaces (RFC 5322 §2.2)",
                );
            } else if RESERVED_HEADERS.contains(&lower.as_str()) {
                let key = lower.replace('-', "_");
                let d = self.err_key(
                    Code::SpecHeader,
                    &p,
                    format!("header `{name}` cannot be set in `headers`"),
                    "reserved",
                );
                if [
                    "sender",
                    "to",
                    "cc",
                    "bcc",
                    "reply_to",
                    "subject",
                    "date",
                    "in_reply_to",
                    "references",
                    "from",
                ]
                .contains(&key.as_str())
                {
                    d.help.push(format!("use `message.{key}`"));
                } else {
                    d.help.push("mailspec writes this header itself".into());
                }
            }
            self.text_slot(&p, value, Flavor::Text);
        }
        if let Some(d) = &m.date {
            self.text_slot("/message/date", d, Flavor::Text);
            if !Templates::is_template(d) && chrono::DateTime::parse_from_rfc3339(d).is_err() {
                self.err_value(
                    Code::SchemaValue,
                    "/message/date",
                    format!("`{d}` is not an RFC 3339 date and time"),
                    "expected e.g. `2024-06-15T13:15:07+01:00` or `{{ order_date }}`",
                );
            }
        }
        if let Some(mid) = &m.message_id
            && crate::mime::parse_addr_spec(&format!("x@{}", mid.domain), false).is_err()
        {
            self.err_value(
                Code::SpecAddress,
                "/message/message_id/domain",
                format!("`{}` is not a valid domain", mid.domain),
                "invalid domain",
            );
        }
        if let Some(env) = &m.envelope {
            if let Some(f) = &env.from {
                self.text_slot("/message/envelope/from", f, Flavor::Text);
                if !Templates::is_template(f)
                    && !f.is_empty()
                    && let Err(e) = crate::mime::parse_addr_spec(f, smtputf8)
                {
                    self.err_value(
                        Code::SpecAddress,
                        "/message/envelope/from",
                        format!("invalid return path `{f}`: {e}"),
                        "invalid address",
                    );
                }
            }
            if let Some(to) = &env.to {
                self.addresses("/message/envelope/to", to, smtputf8);
            }
        }

        let shorthand = m.text.is_some()
            || m.html.is_some()
            || !m.inline.is_empty()
            || !m.attachments.is_empty();
        match (&m.body, shorthand) {
            (Some(_), true) => {
                let which = [
                    ("text", m.text.is_some()),
                    ("html", m.html.is_some()),
                    ("inline", !m.inline.is_empty()),
                    ("attachments", !m.attachments.is_empty()),
                ]
                .iter()
                .find(|(_, b)| *b)
                .map(|(k, _)| *k)
                .unwrap_or("text");
                self.err_key(Code::SpecBody, &format!("/message/{which}"), format!("`{which}` cannot be combined with an explicit `body`"), "shorthand here")
                    .help.push("put every part inside `body`, or remove `body` and use `text`, `html`, `inline` and `attachments`".into());
            }
            (None, false) => {
                self.out.push(
                    Diagnostic::error(Code::SpecBody, "the message has no body")
                        .at(self.c.file, self.c.map.key_span("/message"))
                        .label("add `text`, `html` or `body`"),
                );
            }
            _ => {}
        }
        if !m.inline.is_empty() && m.html.is_none() {
            self.err_key(
                Code::SpecBody,
                "/message/inline",
                "`inline` parts need an `html` body that references them".into(),
                "no `html`",
            );
        }
        if let Some(t) = &m.text {
            self.content("/message/text", t, Flavor::Text);
        }
        if let Some(h) = &m.html {
            self.content("/message/html", h, Flavor::Html);
        }
        for (i, p) in m.inline.iter().enumerate() {
            let ptr = format!("/message/inline/{i}");
            self.leaf_only(&ptr, p);
            if p.cid.is_none() {
                self.err_key(
                    Code::SpecPart,
                    &ptr,
                    "an `inline` part needs a `cid`".into(),
                    "no `cid`",
                )
                .help
                .push("reference it from the HTML as `<img src=\"cid:NAME\">`".into());
            }
            self.part(&ptr, p);
        }
        for (i, p) in m.attachments.iter().enumerate() {
            let ptr = format!("/message/attachments/{i}");
            self.leaf_only(&ptr, p);
            self.part(&ptr, p);
        }
        if let Some(b) = &m.body {
            self.part("/message/body", b);
        }
        self.cids();
    }

    fn leaf_only(&mut self, ptr: &str, p: &Part) {
        if p.multipart.is_some() {
            self.err_key(
                Code::SpecPart,
                &format!("{ptr}/multipart"),
                "shorthand parts cannot be multipart containers".into(),
                "use `body` for a part tree",
            );
        }
    }

    fn addresses(&mut self, ptr: &str, a: &Addresses, smtputf8: bool) {
        for (p, item) in a.items(ptr) {
            match item {
                AddressItem::Text(s) => {
                    self.text_slot(&p, s, Flavor::Address);
                    if !Templates::is_template(s)
                        && let Err(e) = crate::mime::parse_mailbox_list(s, smtputf8)
                    {
                        self.err_value(
                            Code::SpecAddress,
                            &p,
                            format!("invalid address `{s}`: {e}"),
                            "invalid address",
                        );
                    }
                }
                AddressItem::Parts(parts) => {
                    if let Some(n) = &parts.name {
                        self.text_slot(&format!("{p}/name"), n, Flavor::Text);
                    }
                    self.text_slot(&format!("{p}/email"), &parts.email, Flavor::Text);
                    if !Templates::is_template(&parts.email)
                        && let Err(e) = crate::mime::parse_addr_spec(&parts.email, smtputf8)
                    {
                        self.err_value(
                            Code::SpecAddress,
                            &format!("{p}/email"),
                            format!("invalid address `{}`: {e}", parts.email),
                            "invalid address",
                        );
                    }
                }
            }
        }
    }

    fn content(&mut self, ptr: &str, c: &Content, flavor: Flavor) {
        let n = [c.template.is_some(), c.content.is_some(), c.file.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if n != 1 {
            self.source_count_error(ptr, n);
            return;
        }
        self.charset(ptr, c.charset.as_deref());
        self.sources(
            ptr,
            c.template.as_deref(),
            c.content.as_deref(),
            c.file.as_deref(),
            flavor,
        );
    }

    fn source_count_error(&mut self, ptr: &str, n: usize) {
        let msg = if n == 0 {
            "no content: give one of `template`, `content` or `file`"
        } else {
            "give only one of `template`, `content` or `file`"
        };
        self.err_key(
            Code::SpecContentSource,
            ptr,
            msg.into(),
            if n == 0 {
                "no content source"
            } else {
                "several content sources"
            },
        );
    }

    fn charset(&mut self, ptr: &str, cs: Option<&str>) {
        if let Some(cs) = cs
            && !cs.eq_ignore_ascii_case("utf-8")
            && !cs.eq_ignore_ascii_case("us-ascii")
        {
            self.err_value(
                Code::SpecCharset,
                &format!("{ptr}/charset"),
                format!("charset `{cs}` is not supported"),
                "use `utf-8` or `us-ascii`",
            );
        }
    }

    fn sources(
        &mut self,
        ptr: &str,
        template: Option<&str>,
        content: Option<&str>,
        file: Option<&str>,
        flavor: Flavor,
    ) {
        if let Some(t) = template {
            self.file_template(&format!("{ptr}/template"), t, flavor);
        }
        if let Some(s) = content {
            self.inline_template(&format!("{ptr}/content"), s, flavor);
        }
        if let Some(f) = file {
            let p = format!("{ptr}/file");
            self.text_slot(&p, f, Flavor::Text);
            if !Templates::is_template(f) {
                self.static_file(&p, f);
            }
        }
    }

    fn part(&mut self, ptr: &str, p: &Part) {
        let leaf_keys = p.media_type.is_some()
            || p.template.is_some()
            || p.content.is_some()
            || p.file.is_some();
        if let Some(sub) = &p.multipart {
            if leaf_keys {
                self.err_key(Code::SpecPart, &format!("{ptr}/multipart"), "a part is either a `multipart` container or a leaf with `type` and content, not both".into(), "container");
            }
            if !is_token(sub) {
                self.err_value(
                    Code::SpecPart,
                    &format!("{ptr}/multipart"),
                    format!("`{sub}` is not a valid multipart subtype"),
                    "expected e.g. `mixed`, `alternative`, `related`",
                );
            }
            if p.parts.is_empty() {
                self.err_key(
                    Code::SpecPart,
                    &format!("{ptr}/multipart"),
                    "a multipart container needs `parts`".into(),
                    "no parts",
                );
            }
            for (i, child) in p.parts.iter().enumerate() {
                self.part(&format!("{ptr}/parts/{i}"), child);
            }
            return;
        }
        if !p.parts.is_empty() {
            self.err_key(
                Code::SpecPart,
                &format!("{ptr}/parts"),
                "`parts` needs `multipart` (the container's subtype)".into(),
                "parts of a leaf",
            );
        }
        let n = [p.template.is_some(), p.content.is_some(), p.file.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if n != 1 {
            self.source_count_error(ptr, n);
        }
        let media = p.media_type.clone();
        if let Some(t) = &media {
            let valid = t
                .split_once('/')
                .is_some_and(|(a, b)| is_token(a) && is_token(b));
            if !valid {
                self.err_value(
                    Code::SpecPart,
                    &format!("{ptr}/type"),
                    format!("`{t}` is not a valid media type"),
                    "expected `type/subtype`, e.g. `application/pdf`",
                );
            } else if t.to_ascii_lowercase().starts_with("multipart/") {
                self.err_value(
                    Code::SpecPart,
                    &format!("{ptr}/type"),
                    "use `multipart:` for containers".into(),
                    "multipart type on a leaf",
                );
            }
        } else if p.file.is_none() {
            // A template or inline content with no type is text/plain; that is fine.
        }
        for (k, v) in &p.params {
            if !is_token(k)
                || k.eq_ignore_ascii_case("charset")
                || k.eq_ignore_ascii_case("boundary")
                || v.chars().any(char::is_control)
            {
                self.err_key(
                    Code::SpecPart,
                    &format!("{ptr}/params/{}", escape(k)),
                    format!("invalid parameter `{k}`"),
                    "parameter names are tokens; `charset` has its own key",
                );
            }
        }
        self.charset(ptr, p.charset.as_deref());
        let flavor = if media
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case("text/html"))
        {
            Flavor::Html
        } else {
            Flavor::Text
        };
        if n == 1 {
            self.sources(
                ptr,
                p.template.as_deref(),
                p.content.as_deref(),
                p.file.as_deref(),
                flavor,
            );
        }
        if let Some(f) = &p.filename {
            self.text_slot(&format!("{ptr}/filename"), f, Flavor::Text);
        }
        if let Some(d) = &p.description {
            self.text_slot(&format!("{ptr}/description"), d, Flavor::Text);
        }
        if let Some(cid) = &p.cid
            && (cid.is_empty()
                || cid
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || "<>\"".contains(c)))
        {
            self.err_value(
                Code::SpecPart,
                &format!("{ptr}/cid"),
                format!("`{cid}` is not a valid Content-ID"),
                "no spaces, quotes or angle brackets",
            );
        }
    }

    // ---- files and templates -------------------------------------------------------------

    fn static_file(&mut self, ptr: &str, rel: &str) {
        let dir = self.c.dir.clone();
        match resolve_confined(std::slice::from_ref(&dir), rel) {
            Ok(Some(_)) => {}
            Ok(None) => {
                self.err_value(
                    Code::SpecFileNotFound,
                    ptr,
                    format!("file `{rel}` not found"),
                    "no such file (paths are relative to the spec)",
                );
            }
            Err(msg) => {
                self.err_value(
                    Code::SpecPathEscape,
                    ptr,
                    msg,
                    "outside the spec's directory",
                );
            }
        }
    }

    fn text_slot(&mut self, ptr: &str, s: &str, flavor: Flavor) {
        if Templates::is_template(s) {
            self.inline_template(ptr, s, flavor);
        }
    }

    fn inline_template(&mut self, ptr: &str, source: &str, flavor: Flavor) {
        let name = ptr.to_string();
        if let Err(e) = self.c.templates.add(flavor, &name, source) {
            let d = self.template_error(&e, Some(ptr));
            self.out.push(d);
            return;
        }
        self.register(ptr, name, flavor, Some(source));
    }

    fn file_template(&mut self, ptr: &str, rel: &str, flavor: Flavor) {
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
                self.err_value(
                    Code::TemplateNotFound,
                    ptr,
                    format!("template `{rel}` not found"),
                    &format!("looked in {roots}"),
                );
                return;
            }
            Err(msg) => {
                self.err_value(Code::SpecPathEscape, ptr, msg, "outside the template roots");
                return;
            }
        }
        self.register(ptr, rel.to_string(), flavor, None);
    }

    /// Compiles the slot's template, records its variables and checks them against the fields.
    fn register(&mut self, ptr: &str, name: String, flavor: Flavor, source: Option<&str>) {
        let vars = match self.c.templates.variables(flavor, &name) {
            Ok(v) => v,
            Err(e) => {
                let d = self.template_error(&e, Some(ptr));
                self.out.push(d);
                return;
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
        let declared: Vec<String> = self.c.spec.data.fields.keys().cloned().collect();
        for v in &vars {
            if !declared.contains(v) {
                let mut d = Diagnostic::error(
                    Code::TemplateUndefinedVariable,
                    format!("template uses `{v}`, which `data.fields` does not declare"),
                );
                let located = std::iter::once(name.clone())
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
        self.c.slots.insert(
            ptr.to_string(),
            Slot {
                flavor,
                name,
                variables: vars,
            },
        );
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
            ErrorKind::InvalidOperation
                if e.detail()
                    .is_some_and(|d| d.contains("outside") || d.contains("relative path")) =>
            {
                Code::SpecPathEscape
            }
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
                        ptr_to_key(ptr),
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

    // ---- cid: references -----------------------------------------------------------------

    fn cids(&mut self) {
        let m = self.c.spec.message.clone();
        let mut html_sources: Vec<String> = Vec::new();
        let mut cids: Vec<(String, String)> = Vec::new();
        let roots = self.c.roots();
        // A template and everything it extends, includes or imports: a `cid:` in a layout
        // counts as much as one in the page.
        let read = |t: &str| Some(closure_text(&roots, None, Some(t))).filter(|s| !s.is_empty());
        if let Some(h) = &m.html {
            if let Some(c) = &h.content {
                html_sources.push(closure_text(&roots, Some(c), None));
            }
            if let Some(t) = &h.template {
                html_sources.extend(read(t));
            }
        }
        for (i, p) in m.inline.iter().enumerate() {
            if let Some(c) = &p.cid {
                cids.push((c.clone(), format!("/message/inline/{i}/cid")));
            }
        }
        fn walk(
            p: &Part,
            ptr: &str,
            html: &mut Vec<String>,
            cids: &mut Vec<(String, String)>,
            read: &dyn Fn(&str) -> Option<String>,
            inline: &dyn Fn(&str) -> String,
        ) {
            if p.media_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("text/html"))
            {
                html.extend(p.content.as_deref().map(inline));
                html.extend(p.template.as_deref().and_then(read));
            }
            if let Some(c) = &p.cid {
                cids.push((c.clone(), format!("{ptr}/cid")));
            }
            for (i, c) in p.parts.iter().enumerate() {
                walk(c, &format!("{ptr}/parts/{i}"), html, cids, read, inline);
            }
        }
        if let Some(b) = &m.body {
            let inline = |c: &str| closure_text(&roots, Some(c), None);
            walk(
                b,
                "/message/body",
                &mut html_sources,
                &mut cids,
                &read,
                &inline,
            );
        }
        let mut referenced = Vec::new();
        for src in &html_sources {
            referenced.extend(cid_references(src));
        }
        let html_ptr = if m.html.is_some() {
            "/message/html"
        } else {
            "/message/body"
        };
        for r in &referenced {
            if r.contains("{{") || r.contains("{%") {
                continue;
            }
            if !cids.iter().any(|(c, _)| c == r) {
                let hint =
                    did_you_mean(r, cids.iter().map(|(c, _)| c.as_str())).map(str::to_string);
                let d = self.err_key(
                    Code::SpecMissingCid,
                    html_ptr,
                    format!("the HTML references `cid:{r}` but no inline part has `cid: {r}`"),
                    "HTML here",
                );
                if let Some(h) = hint {
                    d.help.push(format!("did you mean `cid:{h}`?"));
                } else {
                    d.help
                        .push(format!("add `inline: [{{ cid: {r}, file: ... }}]`"));
                }
            }
        }
        for (c, ptr) in cids {
            let dynamic = html_sources.iter().any(|s| s.contains("cid:{{"));
            if !referenced.contains(&c) && !dynamic && !html_sources.is_empty() {
                let span = self.c.map.value_span(&ptr);
                self.out.push(
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

/// [`template_closure`]'s texts, joined.
fn closure_text(roots: &[std::path::PathBuf], source: Option<&str>, name: Option<&str>) -> String {
    template_closure(roots, source, name)
        .into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join("\n")
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

/// Every `cid:NAME` in an HTML source (names as [`crate::render::cid_name_len`] reads them).
pub fn cid_references(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest
        .as_bytes()
        .windows(4)
        .position(|w| w.eq_ignore_ascii_case(b"cid:"))
    {
        rest = &rest[i + 4..];
        let end = crate::render::cid_name_len(rest);
        if end > 0 {
            out.push(rest[..end].to_string());
        }
        rest = &rest[end..];
    }
    out
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

fn ptr_to_key(ptr: &str) -> String {
    ptr.trim_start_matches('/')
        .replace('/', ".")
        .replace("~1", "/")
        .replace("~0", "~")
}

fn escape(key: &str) -> String {
    push_pointer("", key)[1..].to_string()
}

fn kind_word(k: FieldType) -> &'static str {
    match k {
        FieldType::String => "string",
        FieldType::Email => "email",
        FieldType::Integer => "integer",
        FieldType::Decimal => "decimal",
        FieldType::Boolean => "boolean",
        FieldType::Date => "date",
        FieldType::Datetime => "datetime",
        FieldType::Url => "url",
        FieldType::List => "list",
        FieldType::Object => "object",
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// RFC 2045 §5.1 token.
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
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
        assert_eq!(
            cid_references(r#"<img src="cid:logo"> `cid:logo`, cid:{{ x }}"#),
            ["logo", "logo"]
        );
    }
}
