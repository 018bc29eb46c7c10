//! Address templates into mailboxes. Structure (`,` `<` `>` `"`) counts only where the spec
//! author wrote it: values inserted by `{{ }}` are marked ([`DATA_OPEN`] … [`DATA_CLOSE`]) and
//! always literal, so a record can never add a recipient, a group or a comment.

use super::Renderer;
use crate::diag::Code;
use crate::error::Error;
use crate::mime::{self, Mailbox};
use crate::plan::AddressPlan;
use crate::template::{DATA_CLOSE, DATA_OPEN};

impl Renderer<'_> {
    /// Every mailbox of an address list; each bad item is a record error.
    pub(super) fn mailboxes(&mut self, list: &[AddressPlan]) -> Vec<Mailbox> {
        let smtputf8 = self.plan.smtputf8;
        let mut out = Vec::new();
        for item in list {
            match item {
                AddressPlan::List(t) => {
                    let Some(text) = self.eval(t, true) else {
                        continue;
                    };
                    match parse_marked(&text, smtputf8) {
                        Ok(list) => out.extend(list),
                        Err(e) => self.fail(
                            Error::new(
                                Code::DataAddress,
                                format!("`{}` is not a valid address: {e}", strip_marks(&text)),
                            )
                            .field(Self::field_of(t))
                            .at(&t.key),
                        ),
                    }
                }
                AddressPlan::Fixed(list) => out.extend_from_slice(list),
                AddressPlan::FromList(f) => out.extend(self.list_mailboxes(f)),
                AddressPlan::Parts { name, email } => {
                    let name = match name {
                        Some(n) => self.eval(n, true),
                        None => Some(String::new()),
                    };
                    let Some(addr) = self.eval(email, true) else {
                        continue;
                    };
                    // White space around an addr-spec is CFWS (RFC 5322 §3.4.1), not part of it.
                    match mime::parse_addr_spec(addr.trim(), smtputf8) {
                        Ok(a) => {
                            if let Some(name) = name {
                                out.push(Mailbox {
                                    name: Some(name).filter(|n| !n.is_empty()),
                                    addr: a,
                                });
                            }
                        }
                        Err(e) => self.fail(
                            Error::new(
                                Code::DataAddress,
                                format!("`{addr}` is not a valid address: {e}"),
                            )
                            .field(Self::field_of(email))
                            .at(&email.key),
                        ),
                    }
                }
            }
        }
        out
    }
}

impl Renderer<'_> {
    /// One mailbox per element of a list field: an address, or `{email, name}`. Every element
    /// is data: a name can never add an address, and each address must parse on its own.
    fn list_mailboxes(&mut self, f: &crate::plan::Keyed<String>) -> Vec<Mailbox> {
        let Some(serde_json::Value::Array(items)) = self.record.get(&f.value) else {
            return Vec::new();
        };
        let smtputf8 = self.plan.smtputf8;
        let mut out = Vec::new();
        for (i, v) in items.iter().enumerate() {
            let path = format!("{}.{i}", f.value);
            let (addr, name, addr_path) = match v {
                serde_json::Value::String(s) => (s.as_str(), None, path.clone()),
                serde_json::Value::Object(o) => (
                    o.get("email").and_then(|e| e.as_str()).unwrap_or(""),
                    o.get("name")
                        .and_then(|n| n.as_str())
                        .filter(|n| !n.is_empty()),
                    format!("{path}.email"),
                ),
                _ => ("", None, path.clone()),
            };
            if let Some(n) = name
                && let Some(c) = n.chars().find(|c| c.is_control() && *c != '\t')
            {
                self.fail(
                    Error::new(
                        Code::DataHeaderInjection,
                        format!(
                            "`{path}.name` contains the control character U+{:04X}",
                            c as u32
                        ),
                    )
                    .field(Some(format!("{path}.name")))
                    .at(&f.key),
                );
                continue;
            }
            match mime::parse_addr_spec(addr.trim(), smtputf8) {
                Ok(a) => out.push(Mailbox {
                    name: name.map(str::to_string),
                    addr: a,
                }),
                Err(e) => self.fail(
                    Error::new(
                        Code::DataAddress,
                        format!("`{addr}` is not a valid address: {e}"),
                    )
                    .field(Some(addr_path))
                    .at(&f.key),
                ),
            }
        }
        out
    }
}

/// Removes the data markers.
pub fn strip_marks(s: &str) -> String {
    s.chars()
        .filter(|c| *c != DATA_OPEN && *c != DATA_CLOSE)
        .collect()
}

/// Splits a marked address template into mailboxes at structural commas; each character
/// carries whether the spec author wrote it (`true`) or it came from a record.
fn split_marked(s: &str) -> Result<Vec<Vec<(char, bool)>>, String> {
    let mut boxes: Vec<Vec<(char, bool)>> = vec![Vec::new()];
    let (mut data, mut quoted, mut angle) = (false, false, false);
    for c in s.chars() {
        let structural = !data;
        match c {
            DATA_OPEN => {
                data = true;
                continue;
            }
            DATA_CLOSE => {
                data = false;
                continue;
            }
            '"' if structural && !angle => quoted = !quoted,
            '<' if structural && !quoted => angle = true,
            '>' if structural && !quoted => angle = false,
            ',' if structural && !quoted && !angle => {
                boxes.push(Vec::new());
                continue;
            }
            _ => {}
        }
        if let Some(b) = boxes.last_mut() {
            b.push((c, structural));
        }
    }
    if quoted {
        return Err("unclosed quote".into());
    }
    Ok(boxes)
}

/// Parses a rendered address template (see the module documentation): a name like
/// `Eve <eve@evil.example>, x` that came from a record stays a display name (the class of
/// CVE-2025-13033 and friends).
pub fn parse_marked(s: &str, smtputf8: bool) -> Result<Vec<Mailbox>, String> {
    let mut out = Vec::new();
    for b in split_marked(s)? {
        let structural = |c: char| b.iter().position(|&(x, s)| s && x == c);
        let text: String = b.iter().map(|(c, _)| *c).collect();
        if text.trim().is_empty() {
            continue;
        }
        match (structural('<'), structural('>')) {
            (Some(open), Some(close)) if open < close => {
                if b[close + 1..].iter().any(|(c, _)| !c.is_whitespace()) {
                    return Err("text after `>`".into());
                }
                let addr: String = b[open + 1..close].iter().map(|(c, _)| *c).collect();
                let addr =
                    mime::parse_addr_spec(addr.trim(), smtputf8).map_err(|e| e.to_string())?;
                let name = display_name(&b[..open]);
                out.push(Mailbox {
                    name: (!name.is_empty()).then_some(name),
                    addr,
                });
            }
            (None, None) => {
                let addr =
                    mime::parse_addr_spec(text.trim(), smtputf8).map_err(|e| e.to_string())?;
                out.push(Mailbox { name: None, addr });
            }
            _ => return Err("unbalanced `<` `>`".into()),
        }
    }
    if out.is_empty() && !s.trim().is_empty() && !strip_marks(s).trim().is_empty() {
        return Err("no address".into());
    }
    Ok(out)
}

/// The display name before `<`: structural quotes dropped, and white space the spec author
/// wrote around it trimmed; white space that came from the record is kept exactly.
fn display_name(chars: &[(char, bool)]) -> String {
    let kept: Vec<(char, bool)> = chars
        .iter()
        .copied()
        .filter(|&(c, s)| !(s && c == '"'))
        .collect();
    let layout = |&(c, s): &(char, bool)| s && c.is_whitespace();
    let start = kept.iter().position(|x| !layout(x)).unwrap_or(kept.len());
    let end = kept
        .iter()
        .rposition(|x| !layout(x))
        .map_or(start, |i| i + 1);
    kept[start..end].iter().map(|(c, _)| *c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_addresses_keep_data_literal() {
        let m = |s: &str| s.replace('[', "\u{e000}").replace(']', "\u{e001}");
        let one = parse_marked(&m("[Eve <e@evil.example>, x] <[ana@example.com]>"), false)
            .expect("parses");
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].name.as_deref(), Some("Eve <e@evil.example>, x"));
        assert_eq!(one[0].addr.to_string(), "ana@example.com");
        assert!(parse_marked(&m("<[a@example.com, b@example.com]>"), false).is_err());
        let two = parse_marked("A <a@example.com>, b@example.com", false).expect("parses");
        assert_eq!(two.len(), 2);
        assert_eq!(
            parse_marked(&m("\"[Quoted]\" <q@example.com>"), false).expect("ok")[0]
                .name
                .as_deref(),
            Some("Quoted")
        );
    }

    #[test]
    fn white_space_from_the_record_is_kept_in_display_names() {
        let m = |s: &str| s.replace('[', "\u{e000}").replace(']', "\u{e001}");
        let one = parse_marked(&m("  [ Ana ]  <[a@example.com]>"), false).expect("parses");
        assert_eq!(one[0].name.as_deref(), Some(" Ana "));
    }
}
