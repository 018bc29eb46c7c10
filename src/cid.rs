//! `cid:` references in HTML (RFC 2392): the one place that reads and rewrites them, used by
//! `check` (every reference has an inline part) and by `render` (references point at the
//! Content-IDs written, and inline parts nobody references are left out).

/// Length of the Content-ID name at the start of `s` (what follows `cid:`): the characters of
/// an RFC 5322 dot-atom and `@`, so the name ends at a quote, `)`, `>`, a comma, a backtick,
/// white space or `{` (a templated name).
pub fn name_len(s: &str) -> usize {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || "-._@+~$%&=!*#/^|?".contains(c)))
        .unwrap_or(s.len());
    // A dot-atom never ends with `.`: `cid:logo.` at the end of a sentence names `logo`.
    s[..end].trim_end_matches('.').len()
}

/// Byte offsets just after each `cid:` (any case) in `html`. Runs once or more per message
/// on the whole HTML: it jumps from colon to colon (SIMD `memchr`) and looks back three bytes,
/// instead of comparing a window at every byte.
fn starts(html: &str) -> impl Iterator<Item = usize> + '_ {
    let bytes = html.as_bytes();
    memchr::memchr_iter(b':', bytes)
        .filter(move |&i| i >= 3 && bytes[i - 3..i].eq_ignore_ascii_case(b"cid"))
        .map(|i| i + 1)
}

/// Every `cid:NAME` in an HTML source, in order (names as [`name_len`] reads them).
pub fn references(html: &str) -> Vec<&str> {
    starts(html)
        .map(|at| &html[at..at + name_len(&html[at..])])
        .filter(|n| !n.is_empty())
        .collect()
}

/// Every `cid:` reference with whether a template expression follows the literal part of its
/// name (`cid:product-{{ item.sku }}` gives `("product-", true)`): read in template sources.
pub fn template_references(source: &str) -> Vec<(&str, bool)> {
    starts(source)
        .map(|at| {
            let end = at + name_len(&source[at..]);
            let rest = &source[end..];
            (
                &source[at..end],
                rest.starts_with("{{") || rest.starts_with("{%"),
            )
        })
        .filter(|(n, templated)| !n.is_empty() || *templated)
        .collect()
}

/// Points `cid:NAME` references at the Content-IDs actually written. Only names in `cids`
/// (`(name, content-id)`) are touched, and only whole names, so `cid:logo` never rewrites
/// inside `cid:logo-small`.
pub fn rewrite(html: String, cids: &[(String, String)]) -> String {
    if cids.is_empty() {
        return html;
    }
    let mut out = String::with_capacity(html.len() + 64);
    let mut copied = 0;
    for at in starts(&html) {
        let end = at + name_len(&html[at..]);
        if let Some((_, id)) = cids
            .iter()
            .find(|(name, _)| name.as_str() == &html[at..end])
        {
            out.push_str(&html[copied..at]);
            out.push_str(id);
            copied = end;
        }
    }
    out.push_str(&html[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_rewritten_exactly() {
        let map = vec![("logo".to_string(), "abc@x.example".to_string())];
        assert_eq!(
            rewrite(
                r#"<img src="cid:logo"><img src='CID:logo-small'>url(cid:logo) cid:logo"#.into(),
                &map
            ),
            r#"<img src="cid:abc@x.example"><img src='CID:logo-small'>url(cid:abc@x.example) cid:abc@x.example"#
        );
        assert_eq!(rewrite("no refs, cid:".into(), &map), "no refs, cid:");
        assert_eq!(rewrite("cid:logo".into(), &[]), "cid:logo");
        assert_eq!(references("cid:a Cid:b CID:c ci:d :e cid"), ["a", "b", "c"]);
        assert_eq!(
            references(r#"<img src="cid:logo"> `cid:logo`, cid:{{ x }} 'cid:a' cid:b.c."#),
            ["logo", "logo", "a", "b.c"]
        );
    }
}
