//! `mailspec check --strict`: the deliverability warnings, for a compiled spec.
//!
//! Input: a [`CompiledSpec`] without errors. Output: warnings located in the spec. The spec's
//! sample records and fixtures are rendered (with the fixture date, unsigned) and each
//! message is read back with [`inspect`]; each kind of finding is reported once, at the spec
//! key it concerns, naming the first record that shows it.

use super::inspect::{FindingKind, inspect};
use crate::diag::{Code, Diagnostic};
use crate::spec::CompiledSpec;

fn code(kind: FindingKind) -> Code {
    match kind {
        FindingKind::NoTextPart => Code::DeliverNoText,
        FindingKind::ImageOnlyHtml => Code::DeliverImageOnly,
        FindingKind::MessageIdDomain => Code::DeliverMessageIdDomain,
        FindingKind::HtmlTooLarge => Code::DeliverHtmlSize,
    }
}

/// The spec key a finding points at.
fn pointer(c: &CompiledSpec, kind: FindingKind) -> &'static str {
    let m = &c.spec.message;
    match kind {
        FindingKind::MessageIdDomain if m.message_id.is_some() => "/message/message_id/domain",
        FindingKind::MessageIdDomain => "/message/from",
        // The key that turned the derived text off is what to change.
        FindingKind::NoTextPart if m.derive_text == Some(false) => "/message/derive_text",
        _ if m.body.is_some() => "/message/body",
        _ if m.html.is_some() => "/message/html",
        _ => "/message",
    }
}

/// The `--strict` warnings for `c`. Records that fail to render are left to the ordinary
/// checks, which report them.
pub fn warnings(c: &CompiledSpec) -> Vec<Diagnostic> {
    let mut sets: Vec<_> = c.spec.data.sample.iter().cloned().collect();
    sets.extend(c.spec.data.fixtures.values().cloned());
    if sets.is_empty() {
        // A spec without data: one message rendered from an empty record, if it can be.
        sets.push(crate::spec::model::Records::Inline(
            vec![Default::default()],
        ));
    }
    let mut seen: Vec<FindingKind> = Vec::new();
    let mut out = Vec::new();
    for records in &sets {
        let Ok(messages) = crate::review::render_fixture(c, records) else {
            continue;
        };
        for m in messages {
            for f in inspect(&m.bytes) {
                if seen.contains(&f.kind) {
                    continue;
                }
                seen.push(f.kind);
                let ptr = pointer(c, f.kind);
                // A whole part tree underlined says nothing: point at its key.
                let span = if f.kind == FindingKind::MessageIdDomain {
                    c.map.value_span(ptr)
                } else {
                    c.map.key_span(ptr)
                };
                out.push(
                    Diagnostic::warning(code(f.kind), f.message)
                        .at(c.file, span)
                        .label("hurts delivery")
                        .note(format!("first seen in record `{}`", m.key)),
                );
            }
        }
    }
    out
}
