//! CSS inlining of rendered HTML, with css-inline.
//!
//! Input: one HTML part, after template expansion (so the inliner never sees template syntax,
//! which CSS inliners are known to mangle: juice #140, #257). Output: the same document with
//! the rules of its `<style>` blocks copied into `style` attributes, because many mail clients
//! drop `<style>` (and `<link>`) entirely.
//!
//! - At-rules (`@media`, `@font-face`, `@supports`) cannot live in a `style` attribute: they are
//!   kept in one `<style>` block for the clients that honour it (responsive layouts).
//! - A `<style data-css-inline="keep">` block is kept as it is; `data-css-inline="ignore"` on
//!   an element or a `<style>` skips it (css-inline's own attributes).
//! - Nothing is fetched: `<link rel="stylesheet">` tags are left alone, never loaded (no
//!   network, no file access at render time).
//! - Deterministic: the same HTML gives the same bytes.

/// Why the HTML could not be inlined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CSS inlining failed: {0}")]
pub struct InlineError(pub String);

/// Whether the HTML has anything to inline: a `<style` element (matched without regard to
/// case). Without one the document is returned untouched, byte for byte.
pub fn has_style(html: &str) -> bool {
    let b = html.as_bytes();
    // From `<` to `<` (SIMD memchr), not a comparison at every byte: runs on every message.
    memchr::memchr_iter(b'<', b).any(|i| {
        b.get(i + 1..i + 6)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"style"))
    })
}

/// Inlines the CSS of `html`'s `<style>` blocks into `style` attributes, keeping at-rules in a
/// `<style>` block. An HTML document without `<style>` is returned as it is.
///
/// # Errors
/// [`InlineError`] when css-inline refuses the document (a stylesheet it cannot parse).
pub fn inline(html: &str) -> Result<String, InlineError> {
    if !has_style(html) {
        return Ok(html.to_owned());
    }
    css_inline::CSSInliner::options()
        .keep_at_rules(true)
        .keep_link_tags(true)
        .load_remote_stylesheets(false)
        .build()
        .inline(html)
        .map_err(|e| InlineError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_rules_into_style_attributes_and_keeps_media_queries() {
        let html = r#"<html><head><style>
p.note { color: #333; }
a { color: #0a6; text-decoration: none; }
@media (max-width: 600px) { p.note { font-size: 18px !important; } }
</style></head><body><p class="note">Hola <a href="https://olivo.example/?a=1&amp;b=2">tienda</a></p></body></html>"#;
        let out = inline(html).unwrap();
        assert!(
            out.contains(r#"<p class="note" style="color: #333;">"#),
            "{out}"
        );
        assert!(out.contains("color: #0a6;text-decoration: none;"), "{out}");
        assert!(out.contains("@media (max-width: 600px)"), "{out}");
        assert!(
            out.contains("<style>"),
            "a style block stays for @media: {out}"
        );
        // Attribute values stay escaped, links unchanged.
        assert!(out.contains("https://olivo.example/?a=1&amp;b=2"), "{out}");
        assert_eq!(inline(html).unwrap(), out, "deterministic");
    }

    #[test]
    fn keep_and_ignore_markers_are_honoured() {
        let html = r#"<html><head><style data-css-inline="keep">h1 { color: red }</style>
<style>h2 { color: blue }</style></head><body><h1>a</h1><h2 data-css-inline="ignore">b</h2></body></html>"#;
        let out = inline(html).unwrap();
        assert!(out.contains("h1 { color: red }"), "{out}");
        assert!(!out.contains("color: blue"), "{out}");
    }

    #[test]
    fn html_without_style_is_untouched() {
        let html = "<p>Hola&nbsp;<b>Ana</b></p>\n";
        assert_eq!(inline(html).unwrap(), html);
        assert!(has_style("<STYLE>p{}</STYLE>"));
    }

    #[test]
    fn link_tags_are_never_fetched() {
        let html = r#"<html><head><link rel="stylesheet" href="https://cdn.example/x.css"><style>p{color:red}</style></head><body><p>x</p></body></html>"#;
        let out = inline(html).unwrap();
        assert!(out.contains(r#"<p style="color: red;">"#), "{out}");
    }
}
