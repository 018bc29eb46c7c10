//! Deliverability at render time, in pipeline order: CSS inlining of each HTML part and the
//! text derived from it (after template expansion, before MIME assembly), the header fields of
//! the message class (before emitting), the DKIM signature (after emitting).

use super::Renderer;
use crate::deliver::{css, dkim, list, text};
use crate::diag::Code;
use crate::error::Error;
use crate::mime;
use crate::plan::{Keyed, LeafPlan, Source, Text};
use crate::spec::model::MessageClass;

/// RFC 3834 §5.1: written by an automatic process, not a reply; responders must not answer
/// it (§2). Both classes are written by a program, for one recipient at a time.
const AUTO_SUBMITTED: &str = "Auto-Submitted: auto-generated\r\n";

/// Not standard (RFC 2076 §3.9 lists it), but honoured by auto-responders (RFC 3834 §3.1.8
/// tells them not to answer `bulk`) and expected of bulk mail by mailbox providers.
const PRECEDENCE_BULK: &str = "Precedence: bulk\r\n";

impl Renderer<'_> {
    /// The header fields of the message class, in the order written.
    pub(super) fn list_headers(&mut self) -> Vec<String> {
        let d = &self.plan.deliver;
        let mut out = Vec::new();
        if d.class == Some(MessageClass::Bulk) {
            out.extend(d.list_id.clone());
            if let Some(u) = &d.unsubscribe {
                let url = self.eval(&u.url, true);
                let mailto = match &u.mailto {
                    Some(m) => self.eval(m, true).map(Some),
                    None => Some(None),
                };
                if let (Some(url), Some(mailto)) = (url, mailto) {
                    let bad =
                        list::check_https(&url)
                            .map_err(|e| (e, &u.url))
                            .and_then(|()| match (&mailto, &u.mailto) {
                                (Some(m), Some(k)) => list::check_mailto(m).map_err(|e| (e, k)),
                                _ => Ok(()),
                            });
                    match bad.and_then(|()| {
                        list::list_unsubscribe(&url, mailto.as_deref()).map_err(|e| (e, &u.url))
                    }) {
                        Ok(field) => {
                            out.push(field);
                            // RFC 8058 §3.1: the one value, always with List-Unsubscribe.
                            out.push(list::list_unsubscribe_post());
                        }
                        Err((e, k)) => self.list_error(e, k),
                    }
                }
            }
        }
        if let Some(f) = &d.feedback_id
            && let Some(v) = self.eval(f, true)
        {
            match list::feedback_id(&v) {
                Ok(field) => out.push(field),
                Err(e) => self.list_error(e, f),
            }
        }
        match d.class {
            Some(MessageClass::Bulk) => {
                out.push(PRECEDENCE_BULK.into());
                out.push(AUTO_SUBMITTED.into());
            }
            Some(MessageClass::Transactional) => out.push(AUTO_SUBMITTED.into()),
            None => {}
        }
        out
    }

    fn list_error(&mut self, e: list::ListError, k: &Keyed<Text>) {
        self.fail(
            Error::new(Code::DataListHeader, e.0)
                .field(Self::field_of(k))
                .at(&k.key),
        );
    }

    /// The HTML of a part after template expansion: its CSS inlined, unless the spec turns
    /// that off or the part is a file sent as it is.
    pub(super) fn finish_html(&mut self, l: &LeafPlan, html: String) -> Option<String> {
        let from_file = matches!(l.source, Source::Asset(_) | Source::File(_));
        // Nothing to inline without a `<style>`: the HTML moves on without a copy.
        if !self.plan.deliver.inline_css || from_file || !css::has_style(&html) {
            return Some(html);
        }
        match css::inline(&html) {
            Ok(h) => Some(h),
            Err(e) => {
                self.fail(Error::new(Code::TemplateRender, e.to_string()).at(&l.key));
                None
            }
        }
    }

    /// The body with a `text/plain` alternative derived for each HTML part that has none,
    /// unless the spec says `derive_text: false`. The one place that decides, for the shorthand
    /// and for a `body` tree alike; `key` is the spec key errors point at.
    ///
    /// RFC 2046 §5.1.4: alternatives go in increasing faithfulness, so the text goes first.
    /// - an HTML leaf on its own (the body, or a child of `multipart/mixed`) becomes
    ///   `alternative[text, html]`;
    /// - a `multipart/related` whose root (its first part, RFC 2387 §3.2) is HTML becomes
    ///   `alternative[text, related[html, ...]]`: the text references none of the related
    ///   parts, so a reader that picks the text never sees the images as attachments;
    /// - a `multipart/alternative` without a `text/plain` child gets one first, derived from
    ///   its last HTML child (the one a client shows);
    /// - attachments and the children of other multipart subtypes (`signed`, `report`, ...),
    ///   whose structure means something else, are left as they are.
    pub(super) fn with_text(&mut self, part: mime::Part, key: &str) -> Option<mime::Part> {
        if !self.plan.deliver.derive_text {
            return Some(part);
        }
        self.add_text(part, key)
    }

    fn add_text(&mut self, part: mime::Part, key: &str) -> Option<mime::Part> {
        let mut m = match part {
            mime::Part::Leaf(l) if shows_html(&l) => {
                let text = self.derived_text(&l, key)?;
                return Some(alternative(text, mime::Part::Leaf(l)));
            }
            mime::Part::Multipart(m) => m,
            leaf => return Some(leaf),
        };
        let subtype = m.subtype.to_ascii_lowercase();
        match subtype.as_str() {
            "alternative" if !m.parts.iter().any(is_plain_text) => {
                if let Some(html) = m.parts.iter().rev().find_map(html_of) {
                    let text = self.derived_text(html, key)?;
                    m.parts.insert(0, mime::Part::Leaf(text));
                }
            }
            "related" => {
                if let Some(html) = m.parts.first().and_then(html_of) {
                    let text = self.derived_text(html, key)?;
                    return Some(alternative(text, mime::Part::Multipart(m)));
                }
                // A root that is itself a container (`related[alternative[...], images]`).
                let mut parts = std::mem::take(&mut m.parts).into_iter();
                if let Some(root) = parts.next() {
                    m.parts.push(self.add_text(root, key)?);
                }
                m.parts.extend(parts);
            }
            "mixed" => {
                let children = std::mem::take(&mut m.parts);
                let done: Vec<Option<mime::Part>> = children
                    .into_iter()
                    .map(|c| self.add_text(c, key))
                    .collect();
                m.parts = done.into_iter().collect::<Option<_>>()?;
            }
            _ => {}
        }
        Some(mime::Part::Multipart(m))
    }

    /// A `text/plain` part derived from the final HTML (RFC 2046 §5.1.4: the plainest
    /// alternative goes first).
    fn derived_text(&mut self, html: &mime::Leaf, key: &str) -> Option<mime::Leaf> {
        let source = std::str::from_utf8(&html.body).unwrap_or_default();
        match text::from_html(source) {
            Ok(t) => {
                let mut leaf = mime::Leaf::new("text/plain", t.replace('\n', "\r\n"));
                leaf.charset = Some("utf-8".into());
                Some(leaf)
            }
            Err(e) => {
                self.fail(Error::new(Code::TemplateRender, e.to_string()).at(key));
                None
            }
        }
    }
}

/// An HTML part a reader sees as the message (not an attachment).
fn shows_html(l: &mime::Leaf) -> bool {
    l.media_type.eq_ignore_ascii_case("text/html")
        && l.disposition
            .as_ref()
            .is_none_or(|d| d.kind != mime::DispositionKind::Attachment)
}

/// A `text/plain` part that is not an attachment.
fn is_plain_text(p: &mime::Part) -> bool {
    matches!(p, mime::Part::Leaf(l) if l.media_type.eq_ignore_ascii_case("text/plain")
        && l.disposition.as_ref().is_none_or(|d| d.kind != mime::DispositionKind::Attachment))
}

/// The HTML a part shows: itself, or the root of a `multipart/related`.
fn html_of(p: &mime::Part) -> Option<&mime::Leaf> {
    match p {
        mime::Part::Leaf(l) if shows_html(l) => Some(l),
        mime::Part::Multipart(m) if m.subtype.eq_ignore_ascii_case("related") => {
            m.parts.first().and_then(html_of)
        }
        _ => None,
    }
}

/// `multipart/alternative` of the text and the part it renders in plain text.
fn alternative(text: mime::Leaf, richer: mime::Part) -> mime::Part {
    mime::Part::Multipart(mime::Multipart {
        subtype: "alternative".into(),
        parts: vec![mime::Part::Leaf(text), richer],
    })
}

/// Signs the emitted message: its `DKIM-Signature` goes before the other header fields
/// (RFC 6376 §5.6).
///
/// # Errors
/// When mail-auth cannot sign.
pub(super) fn sign(signer: &dkim::Signer, m: &mut super::EmittedMessage) -> Result<(), Error> {
    let field = signer
        .signature_header(&m.bytes)
        .map_err(|e| Error::new(Code::MimeEmit, format!("DKIM: {e}")))?;
    m.prepend(field.as_bytes());
    Ok(())
}
