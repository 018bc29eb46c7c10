//! The body: shorthand or explicit tree, each part's content source, type, parameters and
//! names. Files whose path is literal are read here, once, for every message.

use std::sync::Arc;

use super::{Checker, escape};
use crate::assets::{AssetError, AssetLoader, DirLoader};
use crate::diag::{Code, Diagnostic};
use crate::mime::header::is_token;
use crate::plan::{Asset, Body, Choice, Keyed, LeafPlan, MediaType, Node, Source, key_of};
use crate::spec::model::{Content, DispositionSpec, FieldType, MessageSpec, Part, TemplateRef};
use crate::template::{Confine, Flavor, Templates, resolve_confined};

/// Largest file read at compile time. Render applies its own (usually smaller) limit to each
/// message; this one only keeps `check` from reading a runaway file into memory.
const MAX_STATIC_FILE: u64 = 1 << 30;

impl Checker<'_> {
    pub(super) fn body(&mut self, m: &MessageSpec) -> Body {
        self.body_shape(m);
        let text = m
            .text
            .as_ref()
            .and_then(|t| self.content("/message/text", t, "text/plain"))
            .map(Box::new);
        let html = m
            .html
            .as_ref()
            .and_then(|h| self.content("/message/html", h, "text/html"))
            .map(Box::new);
        let mut inline = Vec::new();
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
            inline.extend(self.leaf(&ptr, p, Some(DispositionSpec::Inline)));
        }
        let mut attachments = Vec::new();
        for (i, p) in m.attachments.iter().enumerate() {
            let ptr = format!("/message/attachments/{i}");
            self.leaf_only(&ptr, p);
            attachments.extend(self.leaf(&ptr, p, Some(DispositionSpec::Attachment)));
        }
        match &m.body {
            Some(b) => Body::Tree(self.node("/message/body", b).unwrap_or(Node::Multipart {
                subtype: "mixed".into(),
                parts: Vec::new(),
            })),
            None => Body::Shorthand {
                text,
                html,
                inline,
                attachments,
            },
        }
    }

    /// Shorthand or `body`, not both and not neither; `inline` needs `html`.
    fn body_shape(&mut self, m: &MessageSpec) {
        let used = [
            ("text", m.text.is_some()),
            ("html", m.html.is_some()),
            ("inline", !m.inline.is_empty()),
            ("attachments", !m.attachments.is_empty()),
        ];
        let shorthand = used.iter().find(|(_, b)| *b).map(|(k, _)| *k);
        match (&m.body, shorthand) {
            (Some(_), Some(which)) => {
                self.err_key(Code::SpecBody, &format!("/message/{which}"), format!("`{which}` cannot be combined with an explicit `body`"), "shorthand here")
                    .help.push("put every part inside `body`, or remove `body` and use `text`, `html`, `inline` and `attachments`".into());
            }
            (None, None) => {
                let d = Diagnostic::error(Code::SpecBody, "the message has no body")
                    .at(self.c.file, self.c.map.key_span("/message"))
                    .label("add `text`, `html` or `body`");
                self.push(d);
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

    /// `text` or `html`: a leaf of a fixed type.
    fn content(&mut self, ptr: &str, c: &Content, media: &str) -> Option<LeafPlan> {
        let n = [c.template.is_some(), c.content.is_some(), c.file.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if n != 1 {
            self.source_count_error(ptr, n);
            return None;
        }
        self.charset(ptr, c.charset.as_deref());
        let flavor = flavor_of(media);
        let source = self.source(
            ptr,
            c.template.as_ref(),
            c.content.as_deref(),
            c.file.as_deref(),
            flavor,
        )?;
        Some(LeafPlan {
            key: key_of(ptr),
            pointer: ptr.to_string(),
            media_type: MediaType::Given(media.into()),
            params: Vec::new(),
            source,
            charset: c.charset.clone(),
            disposition: None,
            filename: None,
            filename_from_file: false,
            cid: None,
            description: None,
            transfer_encoding: c.transfer_encoding,
            repeat: None,
        })
    }

    fn source_count_error(&mut self, ptr: &str, n: usize) {
        let msg = if n == 0 {
            "no content: give one of `template`, `content` or `file`"
        } else {
            "give only one of `template`, `content` or `file`"
        };
        let label = if n == 0 {
            "no content source"
        } else {
            "several content sources"
        };
        self.err_key(Code::SpecContentSource, ptr, msg.into(), label);
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

    /// The one content source of a leaf (the caller checked there is exactly one).
    fn source(
        &mut self,
        ptr: &str,
        template: Option<&TemplateRef>,
        content: Option<&str>,
        file: Option<&str>,
        flavor: Flavor,
    ) -> Option<Source> {
        if let Some(t) = template {
            return self.template_source(&format!("{ptr}/template"), t, flavor);
        }
        if let Some(s) = content {
            let p = format!("{ptr}/content");
            if !Templates::is_template(s) {
                return Some(Source::Literal(s.to_string()));
            }
            let t = self.inline_template(&p, s, flavor)?;
            return Some(Source::Template(Keyed {
                key: key_of(&p),
                value: t,
            }));
        }
        let f = file?;
        let p = format!("{ptr}/file");
        if Templates::is_template(f) {
            let t = self.inline_template(&p, f, Flavor::Text)?;
            return Some(Source::File(Keyed {
                key: key_of(&p),
                value: t,
            }));
        }
        self.static_file(&p, f).map(Source::Asset)
    }

    /// `template:` a file, or a choice of files by a field's value (each compiled now).
    fn template_source(&mut self, p: &str, t: &TemplateRef, flavor: Flavor) -> Option<Source> {
        let c = match t {
            TemplateRef::Path(path) => {
                let t = self.file_template(p, path, flavor)?;
                return Some(Source::Template(Keyed {
                    key: key_of(p),
                    value: t,
                }));
            }
            TemplateRef::Choice(c) => c,
        };
        self.choice_field(&format!("{p}/by"), &c.by);
        let mut cases = Vec::new();
        for (value, path) in &c.cases {
            let cp = format!("{p}/cases/{}", escape(value));
            cases.extend(
                self.file_template(&cp, path, flavor)
                    .map(|t| (value.clone(), t)),
            );
        }
        let default = match &c.default {
            Some(d) => Some(self.file_template(&format!("{p}/default"), d, flavor)?),
            None => None,
        };
        if cases.len() != c.cases.len() {
            return None;
        }
        Some(Source::Choice(Keyed {
            key: key_of(p),
            value: Choice {
                by: c.by.clone(),
                cases,
                default,
            },
        }))
    }

    /// `by:` names a declared scalar field.
    fn choice_field(&mut self, ptr: &str, by: &str) {
        let fields = &self.c.spec.data.fields;
        let problem = match fields.get(by) {
            None => Some(format!("`{by}` is not a declared field")),
            Some(f) if matches!(f.kind, FieldType::List | FieldType::Object) => Some(format!(
                "`{by}` is a list or object; a choice needs a scalar field"
            )),
            Some(_) => None,
        };
        if let Some(msg) = problem {
            let hint = crate::diag::did_you_mean(by, fields.keys().map(String::as_str))
                .map(str::to_string);
            let d = self.err_value(
                Code::SpecField,
                ptr,
                msg,
                "the field that picks the template",
            );
            if let Some(h) = hint {
                d.help.push(format!("did you mean `{h}`?"));
            }
        }
    }

    fn node(&mut self, ptr: &str, p: &Part) -> Option<Node> {
        let Some(sub) = &p.multipart else {
            return self.leaf(ptr, p, None).map(|l| Node::Leaf(Box::new(l)));
        };
        let leaf_keys = p.media_type.is_some()
            || p.template.is_some()
            || p.content.is_some()
            || p.file.is_some();
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
        let mut parts = Vec::new();
        for (i, child) in p.parts.iter().enumerate() {
            parts.extend(self.node(&format!("{ptr}/parts/{i}"), child));
        }
        Some(Node::Multipart {
            subtype: sub.to_ascii_lowercase(),
            parts,
        })
    }

    /// A part with content. `default` is the disposition its place gives it (`inline`,
    /// `attachments`). With `for_each`, its templates may read the element and `loop`.
    fn leaf(&mut self, ptr: &str, p: &Part, default: Option<DispositionSpec>) -> Option<LeafPlan> {
        let repeat_var = self.repeat_var(ptr, p);
        self.locals = repeat_var
            .iter()
            .flat_map(|v| [v.clone(), "loop".to_string()])
            .collect();
        let leaf = self.leaf_body(ptr, p, default);
        let repeat = match (repeat_var, &p.for_each) {
            (Some(var), Some(field)) => Some(self.repeat(ptr, p, field, var)),
            _ => None,
        };
        self.locals.clear();
        let mut leaf = leaf?;
        if repeat.is_some() {
            leaf.cid = None;
        }
        leaf.repeat = repeat;
        Some(leaf)
    }

    /// The element's name of a `for_each` part, once its list field is checked.
    fn repeat_var(&mut self, ptr: &str, p: &Part) -> Option<String> {
        let field = p.for_each.as_deref()?;
        let var = p.as_name.clone().unwrap_or_else(|| "item".into());
        let fields = &self.c.spec.data.fields;
        let msg = match fields.get(field) {
            None => Some(format!("`{field}` is not a declared field")),
            Some(f) if f.kind != FieldType::List => Some(format!("`{field}` is not a list field")),
            Some(_) if fields.contains_key(&var) || !super::is_identifier(&var) => Some(format!(
                "the element's name `{var}` must be an identifier that is not a field (set `as:`)"
            )),
            Some(_) => None,
        };
        if let Some(m) = msg {
            let hint = crate::diag::did_you_mean(field, fields.keys().map(String::as_str))
                .map(str::to_string);
            let d = self.err_value(Code::SpecField, &format!("{ptr}/for_each"), m, "for_each");
            if let Some(h) = hint.filter(|h| h != field) {
                d.help.push(format!("did you mean `{h}`?"));
            }
        }
        Some(var)
    }

    /// The per-element Content-ID template of a `for_each` part.
    fn repeat(&mut self, ptr: &str, p: &Part, field: &str, var: String) -> crate::plan::Repeat {
        let cid = p.cid.as_ref().map(|c| {
            let cp = format!("{ptr}/cid");
            if !Templates::is_template(c) {
                self.err_value(
                    Code::SpecPart,
                    &cp,
                    format!("every element would get the Content-ID `{c}`"),
                    "a `for_each` part's cid is a template",
                )
                .help
                .push(format!("e.g. `cid: \"{c}-{{{{ loop.index }}}}\"`"));
            }
            self.text(&cp, c, Flavor::Text)
        });
        crate::plan::Repeat {
            field: field.to_string(),
            var,
            cid,
        }
    }

    fn leaf_body(
        &mut self,
        ptr: &str,
        p: &Part,
        default: Option<DispositionSpec>,
    ) -> Option<LeafPlan> {
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
        self.media_type(ptr, p.media_type.as_deref());
        let params = self.params(ptr, p);
        self.charset(ptr, p.charset.as_deref());
        let flavor = p.media_type.as_deref().map_or(Flavor::Text, flavor_of);
        let source = if n == 1 {
            self.source(
                ptr,
                p.template.as_ref(),
                p.content.as_deref(),
                p.file.as_deref(),
                flavor,
            )
        } else {
            None
        };
        let filename = p
            .filename
            .as_ref()
            .map(|f| self.text(&format!("{ptr}/filename"), f, Flavor::Text));
        let description = p
            .description
            .as_ref()
            .map(|d| self.text(&format!("{ptr}/description"), d, Flavor::Text));
        if p.for_each.is_none() {
            self.cid(ptr, p.cid.as_deref());
        }
        let media_type = self.leaf_media_type(ptr, p);
        Some(LeafPlan {
            key: key_of(ptr),
            pointer: ptr.to_string(),
            media_type,
            params,
            source: source?,
            charset: p.charset.clone(),
            disposition: p
                .disposition
                .or(default)
                .or(p.filename.as_ref().map(|_| DispositionSpec::Attachment)),
            filename,
            filename_from_file: p.filename.is_none()
                && (default.is_some() || p.disposition.is_some()),
            cid: p.cid.clone(),
            description,
            transfer_encoding: p.transfer_encoding,
            repeat: None,
        })
    }

    fn media_type(&mut self, ptr: &str, t: Option<&str>) {
        let Some(t) = t else { return };
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
    }

    /// The type: given, `text/plain` for text, or guessed from the name the recipient sees
    /// (per record, since that name may be a template). A warning when no literal extension
    /// tells what the type will be.
    fn leaf_media_type(&mut self, ptr: &str, p: &Part) -> MediaType {
        if let Some(t) = &p.media_type {
            return MediaType::Given(t.clone());
        }
        let (name, name_ptr) = match (&p.filename, &p.file) {
            (Some(f), _) => (f, format!("{ptr}/filename")),
            (None, Some(f)) => (f, format!("{ptr}/file")),
            (None, None) => return MediaType::Given("text/plain".into()),
        };
        if !Templates::is_template(name) {
            return MediaType::Given(crate::plan::guess_type(name).to_string());
        }
        let tail = name.rsplit("}}").next().unwrap_or(name);
        if !tail.contains('.')
            || mime_guess::from_path(format!("x{tail}"))
                .first_raw()
                .is_none()
        {
            let d = Diagnostic::warning(
                Code::SpecPart,
                format!("the type of this part depends on the record: `{name}` has no literal extension"),
            )
            .at(self.c.file, self.c.map.value_span(&name_ptr))
            .label("no extension after the last `}}`")
            .help("add `type:` (e.g. `type: application/pdf`); otherwise it is guessed from each record's file name, `application/octet-stream` when unknown");
            self.push(d);
        }
        MediaType::FromName
    }

    /// Content-Type parameters: names are RFC 2045 tokens (not `charset` or `boundary`, which
    /// have their own keys), values may be templates.
    fn params(&mut self, ptr: &str, p: &Part) -> Vec<(String, Keyed<crate::plan::Text>)> {
        let mut out = Vec::new();
        for (k, v) in &p.params {
            let pp = format!("{ptr}/params/{}", escape(k));
            if !is_token(k)
                || k.eq_ignore_ascii_case("charset")
                || k.eq_ignore_ascii_case("boundary")
                || v.chars().any(char::is_control)
            {
                self.err_key(
                    Code::SpecPart,
                    &pp,
                    format!("invalid parameter `{k}`"),
                    "parameter names are tokens; `charset` has its own key",
                );
            }
            let t = self.text(&pp, v, Flavor::Text);
            out.push((k.clone(), t));
        }
        out
    }

    fn cid(&mut self, ptr: &str, cid: Option<&str>) {
        if let Some(cid) = cid
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

    /// A file path given literally: it must exist inside the spec's folder.
    pub(super) fn file_exists(&mut self, ptr: &str, rel: &str) -> bool {
        let dir = self.c.dir.clone();
        match resolve_confined(std::slice::from_ref(&dir), rel) {
            Ok(Some(_)) => true,
            Ok(None) => {
                self.err_value(
                    Code::SpecFileNotFound,
                    ptr,
                    format!("file `{rel}` not found"),
                    "no such file (paths are relative to the spec)",
                );
                false
            }
            Err(Confine(msg)) => {
                self.err_value(
                    Code::SpecPathEscape,
                    ptr,
                    msg,
                    "outside the spec's directory",
                );
                false
            }
        }
    }

    /// Reads a file whose path is literal: once, for every message.
    fn static_file(&mut self, ptr: &str, rel: &str) -> Option<Arc<Asset>> {
        if !self.file_exists(ptr, rel) {
            return None;
        }
        match DirLoader::new(self.c.dir.clone()).load(rel, MAX_STATIC_FILE) {
            Ok(bytes) => Some(Arc::new(Asset::new(rel.to_string(), bytes))),
            Err(e) => {
                let code = match e {
                    AssetError::TooLarge { .. } => Code::DataLimit,
                    _ => Code::IoRead,
                };
                self.err_value(code, ptr, e.to_string(), "cannot be read");
                None
            }
        }
    }
}

fn flavor_of(media: &str) -> Flavor {
    if media.eq_ignore_ascii_case("text/html") {
        Flavor::Html
    } else {
        Flavor::Text
    }
}
