//! The body: the part tree, each leaf's content, type, file name and `cid:` references.

use super::Renderer;
use crate::assets::AssetError;
use crate::diag::Code;
use crate::error::Error;
use crate::mime::{self, encode::normalize_line_endings};
use crate::plan::{
    Body, Keyed, LeafPlan, MediaType, Node, Repeat, Source, Tmpl, file_name_of, guess_type,
};
use crate::spec::model::{DispositionSpec, TransferEncodingSpec};

impl Renderer<'_> {
    pub(super) fn body(&mut self) -> Option<mime::Part> {
        match &self.plan.body {
            Body::Tree(n) => {
                let mut parts = self.node(n)?;
                if parts.len() != 1 {
                    self.fail(Error::new(
                        Code::SpecPart,
                        "a `for_each` part must be inside a multipart container",
                    ));
                    return None;
                }
                let body = parts.pop()?;
                self.with_text(body, "message.body")
            }
            Body::Shorthand {
                text,
                html,
                inline,
                attachments,
            } => self.shorthand(text.as_deref(), html.as_deref(), inline, attachments),
        }
    }

    /// A node as parts: one, or one per element for a `for_each` leaf.
    fn node(&mut self, n: &Node) -> Option<Vec<mime::Part>> {
        match n {
            Node::Leaf(l) => Some(
                self.leaves(l, &|_| true)?
                    .into_iter()
                    .map(mime::Part::Leaf)
                    .collect(),
            ),
            Node::Multipart { subtype, parts } => {
                // Every child is rendered, so every problem of the record is reported at once.
                let children: Vec<Option<Vec<mime::Part>>> =
                    parts.iter().map(|p| self.node(p)).collect();
                let parts: Option<Vec<Vec<mime::Part>>> = children.into_iter().collect();
                Some(vec![mime::Part::Multipart(mime::Multipart {
                    subtype: subtype.clone(),
                    parts: parts?.into_iter().flatten().collect(),
                })])
            }
        }
    }

    /// A leaf rendered once, or once per element of its `for_each` list; `keep` decides by
    /// Content-ID whether a part goes in (inline parts nobody references stay out, before
    /// anything of theirs is rendered or read).
    fn leaves(
        &mut self,
        l: &LeafPlan,
        keep: &dyn Fn(Option<&str>) -> bool,
    ) -> Option<Vec<mime::Leaf>> {
        let Some(rep) = &l.repeat else {
            let id = l.cid.as_ref().map(|c| self.content_id(c));
            if !keep(id.as_deref()) {
                return Some(Vec::new());
            }
            return Some(vec![self.leaf(l, id)?]);
        };
        let elements = self.elements(rep, &l.key)?;
        let saved = self.ctx.clone();
        let (mut out, mut ok, mut ids) = (Vec::new(), true, Vec::new());
        for (i, el) in elements.iter().enumerate() {
            self.ctx = self.element_ctx(rep, el, i, elements.len());
            // The names were rendered once, before the HTML (`repeated_cids`).
            let id = match &rep.cid {
                Some(_) => match self.element_cid(&l.key, i) {
                    Some(name) => Some(self.content_id(&name)),
                    None => {
                        ok = false;
                        continue;
                    }
                },
                None => None,
            };
            // Elements that give the same Content-ID are one part: the HTML cannot tell them
            // apart (two lines of the same product show one picture).
            if !keep(id.as_deref()) || id.as_ref().is_some_and(|i| ids.contains(i)) {
                continue;
            }
            ids.extend(id.clone());
            match self.leaf(l, id) {
                Some(x) => out.push(x),
                None => ok = false,
            }
        }
        self.ctx = saved;
        ok.then_some(out)
    }

    /// The elements of a `for_each` list field (absent or null: none).
    fn elements(&mut self, rep: &Repeat, key: &str) -> Option<Vec<serde_json::Value>> {
        match self.record.get(&rep.field) {
            Some(serde_json::Value::Array(a)) => Some(a.clone()),
            None | Some(serde_json::Value::Null) => Some(Vec::new()),
            Some(_) => {
                self.fail(
                    Error::new(Code::DataType, format!("`{}` is not a list", rep.field))
                        .field(Some(rep.field.clone()))
                        .at(key),
                );
                None
            }
        }
    }

    /// The template context for one element: the record, the element under its name, and
    /// `loop` (`index` from 1, `index0`, `first`, `last`, `length`).
    fn element_ctx(
        &self,
        rep: &Repeat,
        el: &serde_json::Value,
        i: usize,
        n: usize,
    ) -> minijinja::Value {
        let mut m = self.record.clone();
        m.insert(rep.var.clone(), el.clone());
        m.insert(
            "loop".into(),
            serde_json::json!({
                "index": i + 1, "index0": i, "first": i == 0, "last": i + 1 == n, "length": n
            }),
        );
        minijinja::Value::from(minijinja::value::Serde(m))
    }

    /// The Content-IDs of every element of every `for_each` part, known before the HTML is
    /// rendered so its `cid:` references can point at them.
    pub(super) fn repeated_cids(&mut self, seed: &[u8], domain: &str) {
        let plan = self.plan;
        for l in plan.body.leaves() {
            let Some(rep) = &l.repeat else { continue };
            let Some(c) = &rep.cid else { continue };
            let Some(elements) = self.elements(rep, &l.key) else {
                continue;
            };
            let saved = self.ctx.clone();
            let mut names = Vec::with_capacity(elements.len());
            for (i, el) in elements.iter().enumerate() {
                self.ctx = self.element_ctx(rep, el, i, elements.len());
                let name = self.eval(c, true);
                if let Some(name) = &name
                    && !self.cids.iter().any(|(n, _)| n == name)
                {
                    let id = mime::ident::content_id(seed, name, domain);
                    self.cids.push((name.clone(), id));
                }
                names.push(name);
            }
            self.ctx = saved;
            self.element_cids.push((l.key.clone(), names));
        }
    }

    /// The cid name rendered for element `i` of the `for_each` leaf `key` (`None` when its
    /// template failed, already reported).
    fn element_cid(&self, key: &str, i: usize) -> Option<String> {
        self.element_cids
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, names)| names.get(i).cloned().flatten())
    }

    fn shorthand(
        &mut self,
        text: Option<&LeafPlan>,
        html: Option<&LeafPlan>,
        inline: &[LeafPlan],
        attachments: &[LeafPlan],
    ) -> Option<mime::Part> {
        let rendered: Vec<Option<mime::Leaf>> = [text, html]
            .into_iter()
            .flatten()
            .map(|l| self.leaf(l, None))
            .collect();
        let mut alternatives: Vec<mime::Leaf> = rendered.into_iter().collect::<Option<_>>()?;
        // The Content-IDs this message's HTML actually references: an inline part nobody looks
        // at (a product picture for an item not in this cart) is left out of this message.
        let referenced: Vec<String> = alternatives
            .iter()
            .filter(|l| l.media_type.eq_ignore_ascii_case("text/html"))
            .flat_map(|l| crate::cid::references(std::str::from_utf8(&l.body).unwrap_or("")))
            .map(str::to_string)
            .collect();
        let mut body = match alternatives.len() {
            1 => mime::Part::Leaf(alternatives.pop()?),
            _ => mime::Part::Multipart(mime::Multipart {
                subtype: "alternative".into(),
                parts: alternatives.into_iter().map(mime::Part::Leaf).collect(),
            }),
        };
        // HTML without `text` gets a text alternative derived from the final HTML.
        if let Some(h) = html {
            body = self.with_text(body, &h.key)?;
        }
        let keep = |id: Option<&str>| id.is_none_or(|id| referenced.iter().any(|r| r == id));
        let used = self.all_leaves(inline, &keep)?;
        if !used.is_empty() {
            // RFC 2387: the HTML and the images it references travel together in
            // multipart/related; when there is a text alternative, the whole alternative goes in,
            // which is what clients render best.
            body = wrap("related", body, used);
        }
        let files = self.all_leaves(attachments, &|_| true)?;
        if !files.is_empty() {
            body = wrap("mixed", body, files);
        }
        Some(body)
    }

    /// Every part of a list of leaves (repeated ones expanded), all rendered so every problem
    /// is reported.
    fn all_leaves(
        &mut self,
        list: &[LeafPlan],
        keep: &dyn Fn(Option<&str>) -> bool,
    ) -> Option<Vec<mime::Leaf>> {
        let rendered: Vec<Option<Vec<mime::Leaf>>> =
            list.iter().map(|l| self.leaves(l, keep)).collect();
        let all: Option<Vec<Vec<mime::Leaf>>> = rendered.into_iter().collect();
        Some(all?.into_iter().flatten().collect())
    }

    /// One part; `content_id` is the Content-ID written (for a `for_each` element, its own).
    fn leaf(&mut self, l: &LeafPlan, content_id: Option<String>) -> Option<mime::Leaf> {
        let (body, file_name) = self.content(l)?;
        let filename = match &l.filename {
            Some(f) => Some(self.filename(f)?),
            None if l.filename_from_file => file_name.clone(),
            None => None,
        };
        let media_type = match &l.media_type {
            MediaType::Given(t) => t.clone(),
            MediaType::FromName => {
                guess_type(filename.as_deref().or(file_name.as_deref()).unwrap_or("")).to_string()
            }
        };
        let description = match &l.description {
            Some(d) => Some(self.eval(d, true)?),
            None => None,
        };
        let mut params = Vec::new();
        for (name, value) in &l.params {
            params.push((name.clone(), self.eval(value, true)?));
        }
        let lower = media_type.to_ascii_lowercase();
        let is_text = lower.starts_with("text/");
        // A static file that is not text is encoded once for every message; anything else
        // (text is checked and normalised, message/* has its own rules) goes as bytes.
        let (body, encoded) = match &l.source {
            Source::Asset(a)
                if !is_text && !lower.starts_with("message/") && l.transfer_encoding.is_none() =>
            {
                (Vec::new(), Some(a.encoded()))
            }
            Source::Asset(a) => (a.bytes.to_vec(), None),
            // Text written in the spec or made by a template gets CRLF line ends whatever its
            // declared type (an `application/ics` part is lines of text too); the emitter
            // already does this for `text/*`, so it is done here only for the others.
            Source::Template(_) | Source::Choice(_) | Source::Literal(_) if !is_text => {
                (normalize_line_endings(&body).into_owned(), None)
            }
            _ => (body, None),
        };
        let body = self.text_checks(l, &media_type, is_text, body)?;
        Some(mime::Leaf {
            encoded,
            params,
            charset: is_text.then(|| {
                l.charset
                    .clone()
                    .unwrap_or_else(|| "utf-8".into())
                    .to_ascii_lowercase()
            }),
            disposition: l.disposition.map(|d| mime::Disposition {
                kind: match d {
                    DispositionSpec::Inline => mime::DispositionKind::Inline,
                    DispositionSpec::Attachment => mime::DispositionKind::Attachment,
                },
                filename,
            }),
            content_id,
            transfer_encoding: l
                .transfer_encoding
                .map(transfer_encoding)
                .filter(|e| !(self.opts.seven_bit && *e == mime::TransferEncoding::EightBit)),
            description,
            body,
            media_type,
        })
    }

    fn content_id(&self, name: &str) -> String {
        self.cids
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| id.clone())
            .unwrap_or_else(|| name.to_string())
    }

    /// The file name the recipient sees, checked as the emitter will check it, so a refused
    /// name names the field it came from.
    fn filename(&mut self, f: &Keyed<crate::plan::Text>) -> Option<String> {
        let name = self.eval(f, true)?;
        if let Err(e) = mime::check_filename(&name) {
            self.fail(
                Error::new(Code::DataType, e.to_string())
                    .field(Self::field_of(f))
                    .at(&f.key),
            );
            return None;
        }
        Some(name)
    }

    /// The leaf's bytes and, for a file, its own name (line ends are settled in `leaf`, RFC
    /// 5322 §2.3 and RFC 2046 §4.1.1; files are sent as they are).
    fn content(&mut self, l: &LeafPlan) -> Option<(Vec<u8>, Option<String>)> {
        match &l.source {
            Source::Template(t) => {
                let s = self.run(&t.key, &t.value)?;
                Some((s.into_bytes(), None))
            }
            Source::Choice(c) => {
                let t = self.choose(c)?;
                let s = self.run(&c.key, t)?;
                Some((s.into_bytes(), None))
            }
            Source::Literal(s) => Some((s.clone().into_bytes(), None)),
            Source::Asset(a) => {
                if a.bytes.len() as u64 > self.opts.max_attachment {
                    let e = AssetError::TooLarge {
                        path: a.path.clone(),
                        size: a.bytes.len() as u64,
                        limit: self.opts.max_attachment,
                    };
                    self.fail(Error::new(Code::DataLimit, e.to_string()).at(&l.key));
                    return None;
                }
                // The bytes are copied only when needed (see `leaf`).
                Some((Vec::new(), Some(a.file_name().to_string())))
            }
            Source::File(t) => self.load(t),
        }
    }

    /// The case for the record's value of the `by` field, else the default.
    fn choose<'c>(&mut self, c: &'c Keyed<crate::plan::Choice>) -> Option<&'c Tmpl> {
        let by = &c.value.by;
        let value = match self.record.get(by) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Null) | None => String::new(),
            Some(v) => v.to_string(),
        };
        let case = c.value.cases.iter().find(|(v, _)| *v == value);
        if let Some(t) = case.map(|(_, t)| t).or(c.value.default.as_ref()) {
            return Some(t);
        }
        let known: Vec<&str> = c.value.cases.iter().map(|(v, _)| v.as_str()).collect();
        self.fail(
            Error::new(
                Code::DataType,
                format!(
                    "`{by}` is `{value}`, which has no template (cases: {}; add `default` for other values)",
                    known.join(", ")
                ),
            )
            .field(Some(by.clone()))
            .at(&c.key),
        );
        None
    }

    /// A file whose path is a template, through the asset loader.
    fn load(&mut self, t: &Keyed<Tmpl>) -> Option<(Vec<u8>, Option<String>)> {
        let path = self.run(&t.key, &t.value)?;
        match self.assets.load(&path, self.opts.max_attachment) {
            Ok(bytes) => Some((bytes.to_vec(), Some(file_name_of(&path).to_string()))),
            Err(e) => {
                let code = match e {
                    AssetError::TooLarge { .. } => Code::DataLimit,
                    _ => Code::DataFile,
                };
                self.fail(
                    Error::new(code, e.to_string())
                        .field(self.failing_field(&t.value, None))
                        .at(&t.key),
                );
                None
            }
        }
    }

    /// Text must be UTF-8 (or ASCII when it says so); HTML `cid:` references point at the
    /// Content-IDs written, and each must have an inline part in this message.
    fn text_checks(
        &mut self,
        l: &LeafPlan,
        media_type: &str,
        is_text: bool,
        body: Vec<u8>,
    ) -> Option<Vec<u8>> {
        // Checked before anything reads the text: the `cid:` rewrite below must never see (or
        // silently repair) bytes that are not UTF-8.
        let not_utf8 = |r: &mut Self| {
            r.fail(Error::new(Code::DataFile, "text content is not valid UTF-8").at(&l.key));
            None
        };
        let is_html = media_type.eq_ignore_ascii_case("text/html");
        if is_text && !is_html && std::str::from_utf8(&body).is_err() {
            return not_utf8(self);
        }
        let body = if is_html {
            // One validation, the conversion's own.
            let Ok(html) = String::from_utf8(body) else {
                return not_utf8(self);
            };
            let html = crate::cid::rewrite(html, &self.cids);
            // A `cid:` that no inline part answers is a broken image for this recipient
            // (typically a name built from data, `cid:{{ item.image }}`).
            if let Some(missing) = crate::cid::references(&html)
                .into_iter()
                .find(|r| !self.cids.iter().any(|(_, id)| id == r))
            {
                self.fail(Error::new(
                    Code::SpecMissingCid,
                    format!("the HTML references `cid:{missing}` but no inline part has `cid: {missing}`"),
                ).at(&l.key));
                return None;
            }
            self.finish_html(l, html)?.into_bytes()
        } else {
            body
        };
        if l.charset
            .as_deref()
            .is_some_and(|cs| cs.eq_ignore_ascii_case("us-ascii"))
            && !body.is_ascii()
        {
            self.fail(
                Error::new(
                    Code::DataType,
                    "content is not ASCII but the part declares `charset: us-ascii`",
                )
                .at(&l.key),
            );
            return None;
        }
        Some(body)
    }
}

/// `multipart/<subtype>` of `first` followed by the leaves.
fn wrap(subtype: &str, first: mime::Part, leaves: Vec<mime::Leaf>) -> mime::Part {
    let mut parts = vec![first];
    parts.extend(leaves.into_iter().map(mime::Part::Leaf));
    mime::Part::Multipart(mime::Multipart {
        subtype: subtype.into(),
        parts,
    })
}

fn transfer_encoding(t: TransferEncodingSpec) -> mime::TransferEncoding {
    match t {
        TransferEncodingSpec::SevenBit => mime::TransferEncoding::SevenBit,
        TransferEncodingSpec::EightBit => mime::TransferEncoding::EightBit,
        TransferEncodingSpec::QuotedPrintable => mime::TransferEncoding::QuotedPrintable,
        TransferEncodingSpec::Base64 => mime::TransferEncoding::Base64,
    }
}
