//! The header fields of bulk mail: `List-Unsubscribe` (RFC 2369 §3.2), `List-Unsubscribe-Post`
//! (RFC 8058), `List-Id` (RFC 2919) and `Feedback-ID` (Gmail's feedback loop).
//!
//! Each function returns a complete header field, folded, ending in CRLF, or says why the
//! (usually per-recipient, rendered) value cannot go into one. Values are refused, never
//! changed: a URL is a recipient's key to their subscription, and a silently altered one
//! unsubscribes nobody.
//!
//! Folding: `List-Unsubscribe` is a structured list, `<url>, <mailto>`. It is folded only
//! between elements, never inside a URL (RFC 2369 §2: white space inside the angle brackets
//! is ignored by readers, but DKIM relaxed canonicalisation and real-world parsers treat it
//! differently; Nodemailer #1654 broke signatures by folding inside the URL).

use crate::mime::header::Folder;

/// The one value `List-Unsubscribe-Post` may have (RFC 8058 §3.1).
pub const ONE_CLICK: &str = "List-Unsubscribe=One-Click";

/// Longest URL accepted in `List-Unsubscribe`: with `<>`, the field name and the folding
/// white space it still fits a 998-octet line (RFC 5322 §2.1.1).
pub const MAX_URL: usize = 900;

/// Why a value cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ListError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, ListError> {
    Err(ListError(msg.into()))
}

/// Characters a URL in angle brackets cannot hold as they are (RFC 2369 §2: white space and
/// angle brackets must be escaped; RFC 3986 §2: only ASCII).
fn bad_url_char(c: char) -> bool {
    !c.is_ascii() || c.is_ascii_control() || c == ' ' || c == '<' || c == '>' || c == '"'
}

fn check_url_text(url: &str, what: &str) -> Result<(), ListError> {
    if url.len() > MAX_URL {
        return err(format!(
            "the {what} is {} characters long; at most {MAX_URL} fit in a header line",
            url.len()
        ));
    }
    if let Some(c) = url.chars().find(|c| bad_url_char(*c)) {
        return err(format!(
            "the {what} `{}` contains {}: percent-encode it (RFC 3986 §2.1)",
            url.escape_debug(),
            match c {
                ' ' => "a space".to_string(),
                c if c.is_ascii_control() => format!("the control character U+{:04X}", c as u32),
                c => format!("`{c}`"),
            }
        ));
    }
    Ok(())
}

/// Checks a one-click unsubscribe URL: absolute `https:` with a host (RFC 8058 §3.1: the
/// field MUST contain one HTTPS URI; the receiver POSTs to it).
///
/// # Errors
/// Names what is wrong with the URL.
pub fn check_https(url: &str) -> Result<(), ListError> {
    check_url_text(url, "unsubscribe URL")?;
    let Some(rest) = url
        .get(..8)
        .filter(|s| s.eq_ignore_ascii_case("https://"))
        .map(|_| &url[8..])
    else {
        return err(format!(
            "the unsubscribe URL `{url}` is not https: one-click unsubscribe (RFC 8058 §3.1) needs an HTTPS URI"
        ));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return err(format!("the unsubscribe URL `{url}` has no host"));
    }
    Ok(())
}

/// Checks a `mailto:` unsubscribe URL (RFC 6068): `mailto:` then an address.
///
/// # Errors
/// Names what is wrong with the URL.
pub fn check_mailto(url: &str) -> Result<(), ListError> {
    check_url_text(url, "unsubscribe mailto")?;
    let Some(rest) = url
        .get(..7)
        .filter(|s| s.eq_ignore_ascii_case("mailto:"))
        .map(|_| &url[7..])
    else {
        return err(format!("`{url}` is not a mailto: URL"));
    };
    let to = rest.split('?').next().unwrap_or_default();
    match to.rsplit_once('@') {
        Some((l, d)) if !l.is_empty() && d.contains('.') && !d.ends_with('.') => Ok(()),
        _ => err(format!("the mailto URL `{url}` has no address")),
    }
}

/// `List-Unsubscribe: <https://...>, <mailto:...>` (RFC 2369 §3.2; the HTTPS URI first, as
/// RFC 8058 §3.1's examples have it), folded only between the elements.
///
/// # Errors
/// An invalid URL (see [`check_https`], [`check_mailto`]).
pub fn list_unsubscribe(https: &str, mailto: Option<&str>) -> Result<String, ListError> {
    check_https(https)?;
    let mut f = Folder::new("List-Unsubscribe");
    match mailto {
        Some(m) => {
            check_mailto(m)?;
            f.word(" ", &format!("<{https}>,"));
            f.word(" ", &format!("<{m}>"));
        }
        None => f.word(" ", &format!("<{https}>")),
    }
    f.finish().map_err(|e| ListError(e.to_string()))
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058 §3.1).
pub fn list_unsubscribe_post() -> String {
    format!("List-Unsubscribe-Post: {ONE_CLICK}\r\n")
}

/// Checks a list identifier (RFC 2919 §2): `list-label.namespace`, a dot-atom of letters,
/// digits and hyphens whose namespace is a domain the sender controls, at most 255 octets.
///
/// # Errors
/// Names what is wrong with the identifier.
pub fn check_list_id(id: &str) -> Result<(), ListError> {
    let labels: Vec<&str> = id.split('.').collect();
    let ok_label = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if id.len() > 255 || labels.len() < 3 || !labels.iter().all(ok_label) {
        return err(format!(
            "`{id}` is not a list id: a label and a domain you control, like `newsletter.example.com` (RFC 2919 §2)"
        ));
    }
    Ok(())
}

/// `List-Id: Description <id>` (RFC 2919 §2). The description is a phrase: written as it is
/// when it is ASCII words, else as encoded-words (RFC 2047 §5(3)).
///
/// # Errors
/// An invalid id (see [`check_list_id`]) or a description with control characters.
pub fn list_id(description: Option<&str>, id: &str) -> Result<String, ListError> {
    check_list_id(id)?;
    let mut f = Folder::new("List-Id");
    if let Some(d) = description.map(str::trim).filter(|d| !d.is_empty()) {
        if d.chars().any(char::is_control) {
            return err("the list description contains a control character");
        }
        let atoms = d.split(' ').all(|w| {
            !w.is_empty()
                && w.len() <= 70
                && w.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b))
        });
        if atoms && !d.contains("=?") {
            for w in d.split(' ') {
                f.word(" ", w);
            }
        } else {
            f.encoded(" ", d);
        }
    }
    f.word(" ", &format!("<{id}>"));
    f.finish().map_err(|e| ListError(e.to_string()))
}

/// Checks a `Feedback-ID` value: up to four colon-separated fields of printable ASCII without
/// spaces, the last one identifying the sender (Gmail's Feedback Loop format
/// `campaign:customer:type:sender`).
///
/// # Errors
/// Names what is wrong with the value.
pub fn check_feedback_id(value: &str) -> Result<(), ListError> {
    let fields: Vec<&str> = value.split(':').collect();
    if value.len() > 200
        || fields.len() > 4
        || fields
            .iter()
            .any(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_graphic() && b != b':'))
    {
        return err(format!(
            "`{}` is not a Feedback-ID: up to four non-empty fields separated by `:`, printable ASCII without spaces, the sender last (`campaign:customer:type:sender`)",
            value.escape_debug()
        ));
    }
    Ok(())
}

/// `Feedback-ID: a:b:c:sender`.
///
/// # Errors
/// See [`check_feedback_id`].
pub fn feedback_id(value: &str) -> Result<String, ListError> {
    check_feedback_id(value)?;
    Ok(format!("Feedback-ID: {value}\r\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_unsubscribe_folds_only_between_elements() {
        let https = format!("https://olivo.example/u/{}", "a".repeat(70));
        let h = list_unsubscribe(
            &https,
            Some("mailto:baja@olivo.example?subject=unsubscribe%20S-1"),
        )
        .unwrap();
        assert_eq!(
            h,
            format!(
                "List-Unsubscribe: <{https}>,\r\n <mailto:baja@olivo.example?subject=unsubscribe%20S-1>\r\n"
            )
        );
        let short = list_unsubscribe("https://o.example/u/1", Some("mailto:b@o.example")).unwrap();
        assert_eq!(
            short,
            "List-Unsubscribe: <https://o.example/u/1>, <mailto:b@o.example>\r\n"
        );
        // A URL longer than a line stays whole on its own line.
        let long = format!("https://olivo.example/u?t={}", "x".repeat(300));
        let h = list_unsubscribe(&long, None).unwrap();
        assert!(h.contains(&format!("<{long}>")), "{h}");
        assert_eq!(
            list_unsubscribe_post(),
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        );
    }

    proptest::proptest! {
        /// Whatever the URLs (valid ones, up to the limit), the field is well-formed, unfolds to
        /// exactly `<https>, <mailto>`, and breaks lines only between the two.
        #[test]
        fn list_unsubscribe_never_folds_inside_a_url(
            path in "[A-Za-z0-9._~%!$&'()*+,;=:@/?#-]{0,880}",
            tag in proptest::option::of("[A-Za-z0-9%.-]{1,60}"),
        ) {
            let https = format!("https://olivo.example/{path}");
            proptest::prop_assume!(https.len() <= MAX_URL);
            let mailto = tag.map(|t| format!("mailto:baja@olivo.example?subject={t}"));
            let field = list_unsubscribe(&https, mailto.as_deref()).unwrap();
            crate::mime::header::check_field(&field).unwrap();
            let want = match &mailto {
                Some(m) => format!("List-Unsubscribe: <{https}>, <{m}>\r\n"),
                None => format!("List-Unsubscribe: <{https}>\r\n"),
            };
            proptest::prop_assert_eq!(field.replace("\r\n ", " "), want);
            for line in field.split("\r\n").skip(1).filter(|l| !l.is_empty()) {
                proptest::prop_assert!(line.starts_with(" <"), "folded inside a URL: {:?}", line);
            }
        }
    }

    #[test]
    fn unsubscribe_urls_are_checked() {
        for (url, want) in [
            ("http://olivo.example/u", "not https"),
            ("mailto:a@b.example", "not https"),
            ("https:///u", "no host"),
            ("https://olivo.example/u?n=Ana López", "a space"),
            ("https://olivo.example/u?n=López", "`ó`"),
            ("https://olivo.example/u>, <https://evil.example", "`>`"),
            (
                "https://olivo.example/u\r\nBcc: x@y.example",
                "control character",
            ),
        ] {
            let e = check_https(url).unwrap_err();
            assert!(e.0.contains(want), "{url}: {e}");
        }
        assert!(check_https("HTTPS://olivo.example/u?id=S-1&t=abc,def").is_ok());
        assert!(check_mailto("mailto:baja@olivo.example?subject=x").is_ok());
        assert!(check_mailto("mailto:?subject=x").is_err());
        assert!(check_mailto("https://x.example").is_err());
        assert!(list_unsubscribe("https://a.example/u", Some("mailto:nobody")).is_err());
    }

    #[test]
    fn list_id_and_feedback_id() {
        assert_eq!(
            list_id(Some("Olivo newsletter"), "newsletter.olivo.example").unwrap(),
            "List-Id: Olivo newsletter <newsletter.olivo.example>\r\n"
        );
        assert_eq!(
            list_id(None, "news.olivo.example").unwrap(),
            "List-Id: <news.olivo.example>\r\n"
        );
        let h = list_id(Some("Boletín de Olivo"), "newsletter.olivo.example").unwrap();
        assert!(
            h.starts_with("List-Id: =?utf-8?q?Bolet=C3=ADn_de_Olivo?= <newsletter"),
            "{h}"
        );
        assert!(
            list_id(None, "olivo.example").is_err(),
            "needs a label and a domain"
        );
        assert!(list_id(None, "news letter.olivo.example").is_err());
        assert_eq!(
            feedback_id("verano-2024:newsletter:olivo").unwrap(),
            "Feedback-ID: verano-2024:newsletter:olivo\r\n"
        );
        for bad in ["", "a::b", "a:b:c:d:e", "a b:c", "a:b\r\nX: y"] {
            assert!(check_feedback_id(bad).is_err(), "{bad:?}");
        }
    }
}
